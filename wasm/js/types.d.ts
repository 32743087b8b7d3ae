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
  | "in_progress";

/** Why a record was rejected (it can never succeed). */
export type RejectReason = "malformed_body" | "no_route" | "missing_recipient" | "invalid_recipient" | "ses_rejected";

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
  tags: Tag[];
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

/** The final disposition of one record. */
export type RecordReport = RecordFacts & (Sent | Retry | Reject);

/** `decide`'s answer: the pre-send decision of one record. */
export type Decided = RecordFacts & ({ decision: "send"; email: Email } | Retry | Reject);

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

/** An email the host must send now. */
export interface SendRequest {
  /** Pass to `completeSend`. */
  id: number;
  /** The SQS message id of the record. */
  messageId: string;
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
  /** Those of `variables` the data lacks. */
  missing: string[];
}

/** What kind of template problem: compile, render and lookup failures, and sample problems in `check`. */
export type FaultKind = "syntax" | "undefined" | "limit" | "not_found" | "render" | "no_route" | "sample";

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
   * subject is `subject` (a template) or that of the first route using the template.
   * @throws MailroomError `template` (with `fault`) or `data`.
   */
  render(template: string, data: object | string, subject?: string, now?: Millis): Rendered;
  /** Decides one record without sending. */
  decide(record: SqsRecord, now: Millis, seed: Seed): Decided;
  /**
   * Runs a whole event without sending: each email counts as `outcomes[messageId]`, or as
   * accepted with provider id `ses-<messageId>`. Gives what the native core gives.
   * @throws MailroomError `event` when the event as a whole is unreadable.
   */
  processEvent(event: SqsEvent | string, now: Millis, seed: Seed, outcomes?: Record<string, SendOutcome>): BatchReport;
  /** Starts a batch for a host that sends itself. */
  startBatch(event: SqsEvent | string, now: Millis, seed: Seed): Batch;
  /** Every problem in the templates, and of each labelled sample record. */
  check(samples?: Record<string, SqsRecord> | [string, SqsRecord][], now?: Millis): Diagnostic[];
  /** The top-level variables a template reads, sorted. */
  variables(template: string): string[];
  /** Releases the compiled templates now rather than at garbage collection. */
  free(): void;
}

/**
 * A batch in progress: take every `nextSend()` (they may go concurrently), send them, report
 * each with `completeSend`, repeat until `nextSend()` gives `undefined`, then `finish()`.
 */
export declare class Batch {
  private constructor();
  /** The next email that may be sent now, or `undefined` (all done, or waiting on a FIFO group). */
  nextSend(): SendRequest | undefined;
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
  /** The deadline is near: whatever was not handed out is retried (`deadline`). */
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
