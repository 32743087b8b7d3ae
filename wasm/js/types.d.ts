// Types of mailroom-wasm. Hand-written once and checked by `tsc --strict` over a test that uses
// every API (wasm/tests/types-check.ts) and by the Node tests against real results.

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

// ---------------------------------------------------------------- configuration

/** A routes file (`routes.json`): several event types, each to its template. */
export interface RoutesFile {
  /** `Name <address>` or a bare address; falls back to the `SENDER` variable. */
  sender?: string | undefined;
  replyTo?: string | undefined;
  /** While set, every email goes to this address only. */
  sandboxRecipient?: string | undefined;
  /** The SMS sender id of texting routes that name none; falls back to `SMS_SENDER_ID`. */
  smsSenderId?: string | undefined;
  /** `Transactional` (the default) or `Promotional`; falls back to `SMS_TYPE`. */
  smsType?: "Transactional" | "Promotional" | undefined;
  /** In matching order; the first whose `events` has the event type (or `*`) wins. */
  routes: Route[];
  retry?: RetryPolicy | undefined;
  limits?: RenderLimits | undefined;
}

export interface Route {
  /** Used in tags, logs and the idempotency key. */
  name: string;
  /** Event types this route takes; `*` takes any. */
  events: string[];
  /** The HTML template path. */
  template: string;
  /** The text template path, when not the `.txt` sibling. */
  textTemplate?: string | undefined;
  /** The subject, itself a template. */
  subject: string;
  /** Dotted path(s) to the recipient field (`customer.email`); the first non-empty wins. */
  recipient: string | string[];
  replyTo?: string | undefined;
  /** Extra SES tags. */
  tags?: Record<string, string> | undefined;
  /** DynamoDB reads before rendering; templates see each result as `lookup.<name>`. */
  lookups?: Record<string, LookupDeclaration> | undefined;
  /** A text beside the email: its `.txt` template, the phone path(s), the limit and SNS settings. */
  sms?: SmsRoute | undefined;
}

/** A route's `sms` block. */
export interface SmsRoute {
  /** A `.txt` template. */
  template: string;
  /** Dotted path(s) to the E.164 number, in the event or `lookup.<name>`. */
  phone: string | string[];
  /** 1 to 10; default 3. Over it the record is rejected (`sms_too_long`). */
  maxSegments?: number | undefined;
  senderId?: string | undefined;
  smsType?: "Transactional" | "Promotional" | undefined;
}

/** One lookup of a route (the routes file's format; the core's `lookup` module documents it). */
export interface LookupDeclaration {
  /** The table; `tableVariable`, when that variable is set, wins. */
  table?: string | undefined;
  /** An environment variable holding the table's name. */
  tableVariable?: string | undefined;
  /** Key attribute → template over the event and `lookup.<name>` of other lookups; a string is `S`. */
  key: Record<string, string | { S: string } | { N: string }>;
  /** When no item has the key: reject (`lookup_missing`, the default), retry, or render without it. */
  onMissing?: "reject" | "retry" | "skip" | undefined;
  /** Strongly consistent reads (default true). */
  consistentRead?: boolean | undefined;
  /** A cached answer this old (seconds, at most 86,400) will do (default 0). */
  cacheSeconds?: number | undefined;
}

export interface RetryPolicy {
  baseSeconds?: number | undefined;
  maxSeconds?: number | undefined;
  slowSeconds?: number | undefined;
}

export interface RenderLimits {
  fuel?: number | undefined;
  maxOutputBytes?: number | undefined;
  maxRecursion?: number | undefined;
}

/** The variables a deployment sets (`SENDER`, `SUBJECT`, `SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL`, ...). */
export type Env = Record<string, string>;

export interface MailroomOptions {
  /** Template sources by path (`orders/confirmation.html`), partials and layouts included. */
  templates: Record<string, string>;
  /** The routes file, as an object or its JSON text. Without it, `env` alone describes one default route. */
  routes?: RoutesFile | string | undefined;
  /** Variables, as the native hosts read them from the environment. */
  env?: Env | undefined;
}

// ---------------------------------------------------------------- Lambda SQS event (input)

/** A Lambda SQS event. `SQSEvent` from `@types/aws-lambda` fits. */
export interface SqsEvent {
  Records: SqsRecord[];
}

export interface SqsRecord {
  messageId: string;
  receiptHandle?: string | undefined;
  body?: string | undefined;
  attributes?: SqsRecordAttributes | undefined;
  messageAttributes?: Record<string, SqsMessageAttribute> | undefined;
  /** FIFO queues end in `.fifo`. */
  eventSourceARN?: string | undefined;
  eventSource?: string | undefined;
  awsRegion?: string | undefined;
  md5OfBody?: string | undefined;
}

export interface SqsRecordAttributes {
  ApproximateReceiveCount?: string | undefined;
  SentTimestamp?: string | undefined;
  SenderId?: string | undefined;
  ApproximateFirstReceiveTimestamp?: string | undefined;
  MessageGroupId?: string | undefined;
  MessageDeduplicationId?: string | undefined;
  SequenceNumber?: string | undefined;
  AWSTraceHeader?: string | undefined;
  DeadLetterQueueSourceArn?: string | undefined;
}

export interface SqsMessageAttribute {
  dataType?: string | undefined;
  stringValue?: string | undefined;
  binaryValue?: string | undefined;
}

// ---------------------------------------------------------------- results

/** Why a record was retried. */
export type RetryReason =
  | "template_missing"
  | "template_error"
  | "throttled"
  | "transient"
  | "sender_not_ready"
  | "group_blocked"
  | "deadline"
  | "in_progress"
  /** A lookup read failed (or had no answer before the deadline); `throttled` when DynamoDB throttled it. */
  | "lookup_failed"
  /** A lookup with `onMissing: "retry"` found no item (yet). */
  | "lookup_missing";

/** Why a record was rejected (it can never succeed). */
export type RejectReason =
  | "malformed_body"
  | "no_route"
  | "missing_recipient"
  | "invalid_recipient"
  | "ses_rejected"
  /** A lookup's key reads a field the event lacks (or that is null or empty). */
  | "missing_field"
  /** A lookup's key rendered to nothing DynamoDB takes (empty, or not a number for `N`). */
  | "invalid_lookup_key"
  /** No item has a lookup's key (`onMissing: "reject"`, the default). */
  | "lookup_missing"
  /** The rendered SMS text is empty. */
  | "sms_empty"
  /** The SMS text takes more segments than its route's `maxSegments`. */
  | "sms_too_long"
  /** The phone number opted out of SMS (report a failed send with code `OptedOut`). */
  | "opted_out"
  /** SNS refused the text for good (`InvalidParameter`, ...). */
  | "sms_rejected";

export type Reason = RetryReason | RejectReason;

export interface Tag {
  name: string;
  value: string;
}

/** A rendered email. Mailboxes are in readable form (`Name <address>`); see `SendRequest.headers` for SES. */
export interface Email {
  from: string;
  to: string[];
  replyTo?: string;
  /** One line, header-safe. */
  subject: string;
  html: string;
  text: string;
  /** Stable across redeliveries of the same event for the same route. */
  idempotencyKey: string;
  /** Always present: `route`, `event_type`, `idempotency_key` (feedback finds the email by them), then the route's own. */
  tags: Tag[];
  /** The SES configuration set to send with (`CONFIGURATION_SET` or the routes file's `configurationSet`). */
  configurationSet?: string;
}

/** A rendered text message, for SNS `Publish`. */
export interface Sms {
  /** E.164: `+` and 8 to 15 digits. SNS `PhoneNumber`. */
  to: string;
  /** SNS `Message`. */
  text: string;
  encoding: "GSM-7" | "UCS-2";
  /** Segments it is sent (and billed) as: 160/153 GSM-7 characters, 70/67 UCS-2 units each. */
  segments: number;
  /** Unicode scalar values. */
  characters: number;
  /** The `AWS.SNS.SMS.SMSType` message attribute. */
  smsType: "Transactional" | "Promotional";
  /** The `AWS.SNS.SMS.SenderID` message attribute, when configured. */
  senderId?: string;
  /** The email's key with `:sms`: claim it before publishing, as the email's before sending. */
  idempotencyKey: string;
}

/** A text sent beside its record's email. */
export interface SentSms extends Sms {
  /** The id SNS returned, when known. */
  providerMessageId?: string;
  /** An earlier delivery already sent it. */
  duplicate?: true;
}

/** What a record carries whatever its decision. */
export interface RecordFacts {
  messageId: string;
  /** The event type, when the body could be read. */
  eventType?: string;
  /** The route taken, when one matched. */
  route?: string;
}

export interface Sent {
  decision: "send";
  email: Email;
  /** The id SES returned, when known. */
  providerMessageId?: string;
  /** An earlier delivery already sent it. */
  duplicate?: true;
  /** The text sent beside the email, for a route with an `sms` block. */
  sms?: SentSms;
}

export interface Retry {
  decision: "retry";
  reason: RetryReason;
  detail: string;
  /** The visibility timeout to set before the next attempt. */
  retryAfterSeconds: number;
}

export interface Reject {
  decision: "reject";
  reason: RejectReason;
  detail: string;
  /** The host moved it to the dead-letter queue itself. */
  parked?: true;
}

/** Every recipient is suppressed in the delivery ledger (`LEDGER_TABLE`): acknowledged, never sent. */
export interface Suppressed {
  decision: "suppressed";
  /** The suppressed recipients, normalized. */
  recipients: string[];
}

/** The final disposition of one record. */
export type RecordReport = RecordFacts & (Sent | Suppressed | Retry | Reject);

/** `decide`'s answer: the pre-send decision of one record. */
export type Decided = RecordFacts & ({ decision: "send"; email: Email; sms?: Sms } | Suppressed | Retry | Reject);

/** The Lambda partial batch response (`ReportBatchItemFailures`); `SQSBatchResponse` fits. */
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

export interface BatchReport {
  /** One per record, in event order. */
  records: RecordReport[];
  /** What the Lambda returns. */
  batchResponse: BatchResponse;
}

/** A text the host must send now (SNS `Publish`); answer it with `completeSend` as an email,
 * reporting an opted-out number as `{ outcome: "failed", code: "OptedOut" }`. */
export interface SmsSendRequest {
  /** Pass to `completeSend`. */
  id: number;
  /** The SQS message id of the record. */
  messageId: string;
  channel: "sms";
  sms: Sms;
}

/** Whatever `nextSend` hands out: an email or a text (`channel: "sms"`). */
export type AnySendRequest = SendRequest | SmsSendRequest;

/** An email the host must send now. */
export interface SendRequest {
  /** Pass to `completeSend`. */
  id: number;
  /** The SQS message id of the record. */
  messageId: string;
  /** Absent for an email; `"sms"` on an `SmsSendRequest`. */
  channel?: undefined;
  email: Email;
  /** Mailboxes as header values (RFC 2047 names, punycode domains): SES `FromEmailAddress`, `ToAddresses`, `ReplyToAddresses`. */
  headers: { from: string; to: string[]; replyTo?: string };
}

/** What happened to a send. */
export type SendOutcome =
  | { outcome: "accepted"; messageId: string }
  | { outcome: "alreadySent"; messageId?: string | null | undefined }
  | {
      outcome: "inProgressElsewhere";
      /** Seconds until the other holder's claim lapses, if known: the record is not retried sooner. */
      retryAfterSeconds?: number | null | undefined;
    }
  | {
      outcome: "failed";
      /** The SES error code (`TooManyRequestsException`, `MessageRejected`, ...), or `timeout` / `network`. */
      code: string;
      message?: string | undefined;
      httpStatus?: number | null | undefined;
    };

/** A rejected record the host may move to its dead-letter queue (then `markParked`). A FIFO
 * reject behind an earlier failure of its group is not offered: parking it would let it overtake. */
export interface RejectedRecord {
  /** Pass to `markParked` once the record is in the dead-letter queue. */
  id: number;
  /** The SQS message id of the record. */
  messageId: string;
  decision: "reject";
  reason: RejectReason;
  detail: string;
  /** The original body, for the dead-letter queue unchanged. */
  body: string;
  /** The queue it came from (`eventSourceARN`). */
  queueArn: string;
  /** Its FIFO message group, if any. */
  group?: string;
}

/** One rendering of a template. */
export interface Rendered {
  /** The route whose subject and text template were used, when one uses this template. */
  route?: string;
  subject: string;
  html: string;
  text: string;
  /** Top-level variables the template reads, sorted. */
  variables: string[];
  /** Those of `variables` the data (and the lookups' results) lacks. */
  missing: string[];
  /** The lookups the template's route read for this data, in the order asked; absent when it reads none. */
  lookups?: PreviewLookup[];
}

/** One lookup of a preview, as asked and answered. */
export interface PreviewLookup {
  /** `lookup.<name>` in templates. */
  name: string;
  table: string;
  /** The key, attribute → value as text. */
  key: Record<string, string>;
  /** `unasked` when its key could not be rendered (the detail says why). */
  status: "found" | "not_found" | "failed" | "unasked";
  /** The item as templates see it, when found. */
  item?: { [key: string]: JsonValue };
  /** Why it was not asked, not found or failed. */
  detail?: string;
}

// ---------------------------------------------------------------- lookups (the host's reads)

/**
 * A DynamoDB attribute value, as `@aws-sdk/client-dynamodb` returns them (`AttributeValue`):
 * binary as bytes (or base64 text), `NULL` always true. `$unknown` is the SDK's name for a type it does not know;
 * mailroom refuses it (`input`).
 */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { B: Uint8Array | string }
  | { BOOL: boolean }
  | { NULL: boolean }
  | { M: Record<string, AttributeValue> }
  | { L: AttributeValue[] }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: (Uint8Array | string)[] }
  | { $unknown: [string, unknown] };

/** A key attribute: keys are strings or numbers. */
export type KeyAttributeValue = { S: string } | { N: string };

/** A read the batch needs; `key` goes to `BatchGetItem`'s `RequestItems[table].Keys` as it is. */
export interface LookupRequest {
  /** Pass to `answerLookup`. */
  id: number;
  table: string;
  /** The full primary key. */
  key: Record<string, KeyAttributeValue>;
  /** Read strongly consistent (`ConsistentRead`). */
  consistentRead: boolean;
  /** A cached answer at most this old (seconds) will do; 0: read the table. */
  cacheSeconds: number;
  /** The (first) lookup that asks for it, for logs. */
  lookup: string;
}

/**
 * What the host read for a `LookupRequest`:
 * - `found`: the item as DynamoDB returns it (an element of `BatchGetItem`'s `Responses[table]`,
 *   or `GetItem`'s `Item`), converted by mailroom as the Rust Lambda converts it;
 * - `foundPlain`: the item as plain JSON, as templates see it (a document client's `unmarshall`);
 * - `notFound`: no item has the key;
 * - `failed`: the read failed (`throttled`: throughput exceeded or keys left unprocessed;
 *   `unavailable`: anything else). The records that need it are retried.
 */
export type LookupAnswer =
  | { found: Record<string, AttributeValue> }
  | { foundPlain: { [key: string]: JsonValue } }
  | { notFound: true }
  | { failed: "throttled" | "unavailable"; detail?: string | undefined };

/** One fixture entry: a key (attribute → text) and the item (plain or DynamoDB JSON) or a failure. */
export type LookupFixture =
  | { key: Record<string, string | number>; item: { [key: string]: JsonValue } }
  | { key: Record<string, string | number>; Item: Record<string, AttributeValue> }
  | { key: Record<string, string | number>; failure: "throttled" | "unavailable" };

/** A lookup fixtures file (`lookups.json`): table → entries. A request no entry matches is not found. */
export type LookupFixturesFile = Record<string, LookupFixture[]>;

/** Fixtures as the calls take them: parsed (`LookupFixtures`), an object, or its JSON text. */
export type Lookups = LookupFixtures | LookupFixturesFile | string;

/** What kind of template problem: compile, render and lookup failures, and sample problems in `check`. */
export type FaultKind = "syntax" | "undefined" | "limit" | "not_found" | "render" | "no_route" | "sample" | "lookup";

/** A template problem with its location when known. */
export interface TemplateFault {
  kind: FaultKind;
  /** Without the location. */
  message: string;
  template?: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  column?: number;
  /** The offending source line. */
  sourceLine?: string;
}

/** One problem found by `check`. */
export interface Diagnostic extends TemplateFault {
  /** The sample it came from. */
  sample?: string;
  /** The route involved. */
  route?: string;
}

// ---------------------------------------------------------------- API

/**
 * Which input was at fault: `config` (routes file or variables), `event` (the Lambda event or
 * record), `data` (render data), `template` (see `fault`), `input` (an argument of the wrong
 * shape), `batch` (the batch is finished), `internal` (our side).
 */
export type MailroomErrorKind = "config" | "event" | "data" | "template" | "input" | "batch" | "internal";

export declare class MailroomError extends Error {
  readonly name: "MailroomError";
  readonly kind: MailroomErrorKind;
  /** For `template` errors: what and where. */
  readonly fault?: TemplateFault;
  readonly template?: string;
  readonly line?: number;
  readonly column?: number;
  /** For a `render` that failed after reading lookups: what each answered. */
  readonly lookups?: PreviewLookup[];
}

/** Lookup answers from the core's fixtures format, parsed once (hosts without DynamoDB, tests, previews). */
export declare class LookupFixtures {
  /** @throws MailroomError `input` when the fixtures are not the format (naming the entry). */
  constructor(fixtures: LookupFixturesFile | string);
  /** Releases the parsed fixtures now rather than at garbage collection. */
  free(): void;
}

/** A seed for the retry jitter: any value; a fixed one gives fixed back-offs. */
export type Seed = number | bigint;

/** Milliseconds since 1970, as `Date.now()` gives. */
export type Millis = number;

/**
 * Configuration plus compiled templates. Build once (at cold start) and reuse for every record.
 * Every method throws `MailroomError` on bad input and keeps working afterwards.
 */
export declare class Mailroom {
  /** @throws MailroomError `config` when the routes or variables are unusable. */
  constructor(options: MailroomOptions);
  /** For authoring tools: templates only, no sender or routes. `render`, `check` and `variables` work. */
  static forTemplates(templates: Record<string, string>): Mailroom;
  /** Whether the file at `path` of a template folder is a template: the core's one rule
   * (`.html`, `.htm`, `.txt`, `.j2`, `.jinja`, `.jinja2`; nothing hidden). */
  static isTemplatePath(path: string): boolean;
  /** The routes file's name beside the templates (`routes.json`). */
  static readonly routesFile: string;
  /**
   * Renders `template` with `data` (an event, any envelope around one, or its JSON text). The
   * subject is `subject` (a template) or that of the first route using the template. The
   * route's lookups are answered by `lookups` (without: every read fails); one not found or
   * failed is left out, and `missing` lists what the template then lacks.
   * @throws MailroomError `template` (with `fault`, and `lookups` when it read any) or `data`.
   */
  render(template: string, data: object | string, subject?: string, now?: Millis, lookups?: Lookups): Rendered;
  /** Decides one record without sending; its lookups are answered by `lookups` (without: every read fails, a retry). */
  decide(record: SqsRecord, now: Millis, seed: Seed, lookups?: Lookups): Decided;
  /**
   * Runs a whole event without sending: lookups answered by `lookups` round by round (without:
   * every read fails), then each email counts as `outcomes[messageId]`, or as accepted with
   * provider id `ses-<messageId>`. Gives what the native core gives.
   * @throws MailroomError `event` when the event as a whole is unreadable.
   */
  processEvent(event: SqsEvent | string, now: Millis, seed: Seed, outcomes?: Record<string, SendOutcome> | null, lookups?: Lookups): BatchReport;
  /** Starts a batch for a host that reads and sends itself. */
  startBatch(event: SqsEvent | string, now: Millis, seed: Seed): Batch;
  /** Every problem in the templates, and of each labelled sample record (its lookups answered by `lookups`; one unanswered is a `lookup` problem). */
  check(samples?: Record<string, SqsRecord> | [string, SqsRecord][], now?: Millis, lookups?: Lookups): Diagnostic[];
  /** The top-level variables a template reads, sorted. */
  variables(template: string): string[];
  /** Releases the compiled templates now rather than at garbage collection. */
  free(): void;
}

/**
 * A batch in progress. First its lookups: read every `lookups()` request, answer each with
 * `answerLookup`, repeat until `lookups()` is empty. Then its sends: take every `nextSend()`
 * (they may go concurrently), send them, report each with `completeSend`, repeat until
 * `nextSend()` gives `undefined`, then `finish()`.
 */
export declare class Batch {
  private constructor();
  /**
   * The reads the batch needs now, deduplicated across its records (one per table, key and
   * consistency). Answers can bring more (a key that reads another lookup's result): ask again
   * until empty. Records waiting for an answer are not sent.
   */
  lookups(): LookupRequest[];
  /**
   * Reports what was read for lookup `id`.
   * @throws MailroomError `input` for an answer of another shape (nothing changes, answer again),
   * `batch` for an id not handed out or answered already, or after `finish`.
   */
  answerLookup(id: number, answer: LookupAnswer): void;
  /** Answers lookup `id` from fixtures (their item or failure, else not found). */
  answerLookupFrom(id: number, fixtures: LookupFixtures): void;
  /** The next email that may be sent now, or `undefined` (all done, or waiting on a FIFO group). */
  nextSend(): AnySendRequest | undefined;
  /** Reports what happened to a send. */
  completeSend(id: number, outcome: SendOutcome): void;
  /**
   * The MIME message (RFC 5322) of send `id`, dated `now`: the very bytes the Rust Lambda hands
   * SES for the same email and time. Send it as SES v2 raw content, `Content: { Raw: { Data } }`.
   * Available from `nextSend` until `completeSend` of that id; in the Node build only (the web
   * build leaves the MIME builder out).
   * @throws MailroomError `input` for an id that is not in flight (or in the web build), `batch` after `finish`.
   */
  rawMessage(id: number, now: Millis): Uint8Array;
  /** The deadline is near: whatever was not handed out is retried (`deadline`; records still waiting for lookups: `lookup_failed`). */
  expire(): void;
  /** Rejected records not yet parked. */
  rejected(): RejectedRecord[];
  /** The host moved rejected record `id` to its dead-letter queue: acknowledge it. */
  markParked(id: number): void;
  /** Ends the batch; `batchResponse` is the Lambda's answer. Later calls throw `batch` errors. */
  finish(): BatchReport;
  /** Releases the batch without finishing it. */
  free(): void;
}
