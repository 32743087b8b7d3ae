// An SQS-triggered Node Lambda that sends email exactly as the Rust `bootstrap` does: mailroom's
// WebAssembly package decides and renders every record and builds its MIME message (the same
// bytes the Rust function builds), the routes' lookups are read from DynamoDB first
// (src/lookups.ts), SES v2 sends each message as raw content, and the Lambda returns the same
// partial batch response (`ReportBatchItemFailures`).
//
// Templates (and an optional routes.json) are bundled with the function in TEMPLATE_DIR and
// compiled once per container, at cold start. The other settings are the Rust function's
// variables: SENDER, SUBJECT, SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL, REPLY_TO,
// RECIPIENT_FIELD, SANDBOX_RECIPIENT, CONFIGURATION_SET, MAX_CONCURRENT_SENDS,
// DEADLINE_MARGIN_MS. Rejected records stay in batchItemFailures, so the queue's redrive policy
// moves them to the dead-letter queue.
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SESv2Client, SendEmailCommand, type SendEmailCommandInput } from "@aws-sdk/client-sesv2";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { Mailroom, type AnySendRequest, type Batch, type BatchReport, type SendOutcome, type SendRequest } from "mailroom-wasm";

/**
 * This example sends email only. A route with an `sms` block hands out texts too; they are
 * answered as a transient failure, so their records are retried (never lost, never
 * acknowledged unsent) until the function publishes texts through SNS, as the Rust Lambda does.
 */
const SMS_NOT_SENT: SendOutcome = { outcome: "failed", code: "SmsNotConfigured", message: "this function sends email only" };

import { readLookups } from "./lookups.js";

/** What the handler needs; `handler` below wires the real ones at cold start. */
export interface Dependencies {
  mailroom: Mailroom;
  ses: Pick<SESv2Client, "send">;
  /** Reads the routes' lookups (BatchGetItem). */
  dynamodb: Pick<DynamoDBClient, "send">;
  maxConcurrentSends: number;
  deadlineMarginMs: number;
  log?: (line: string) => void;
  /** Milliseconds since 1970 (default `Date.now`): the batch's time and each message's `Date`. */
  clock?: () => number;
}

/** Every template under `dir` (by the core's rule), keyed by its path relative to `dir` with `/` separators. */
export function loadTemplates(dir: string): Record<string, string> {
  const templates: Record<string, string> = {};
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      const name = relative(dir, full).split(sep).join("/");
      if (entry.isDirectory()) walk(full);
      else if (Mailroom.isTemplatePath(name)) templates[name] = readFileSync(full, "utf8");
    }
  };
  walk(dir);
  return templates;
}

/** The function's variables, as mailroom's configuration reads them. */
function environment(): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) variables[name] = value;
  return variables;
}

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  return value;
}

/** Builds everything once: a bad template set or configuration stops the function at init. */
export function fromEnvironment(): Dependencies {
  const templateDir = process.env.TEMPLATE_DIR ?? join(process.cwd(), "templates");
  const templates = loadTemplates(templateDir);
  const routesFile = process.env.ROUTES_FILE ?? join(templateDir, Mailroom.routesFile);
  const routes = routesFile !== "" && existsSync(routesFile) ? readFileSync(routesFile, "utf8") : undefined;
  const mailroom = new Mailroom(routes === undefined ? { templates, env: environment() } : { templates, routes, env: environment() });
  return {
    mailroom,
    ses: new SESv2Client({}),
    dynamodb: new DynamoDBClient({}),
    maxConcurrentSends: positiveInteger("MAX_CONCURRENT_SENDS", 10),
    deadlineMarginMs: positiveInteger("DEADLINE_MARGIN_MS", 2000),
  };
}

/**
 * The SES v2 request for one email, as the Rust function makes it: the MIME message (`raw`, from
 * `batch.rawMessage`) as raw content, so recipients get the very bytes the Rust function would
 * send (multipart text and HTML, the idempotency key in a header bounces carry back). SES reads
 * the recipients and reply-to from the message's headers; the sender is named again because
 * SES authorizes `FromEmailAddress`. Tags and the configuration set (mailroom's configuration
 * decides both, as for the Rust function) travel through the API, not the message.
 */
export function sendEmailInput(send: SendRequest, raw: Uint8Array): SendEmailCommandInput {
  const configurationSet = send.email.configurationSet;
  return {
    FromEmailAddress: send.headers.from,
    Content: { Raw: { Data: raw } },
    EmailTags: send.email.tags.map((tag) => ({ Name: tag.name, Value: tag.value })),
    ...(configurationSet ? { ConfigurationSetName: configurationSet } : {}),
  };
}

/** What the SDK reported, as mailroom's outcome: SES's error code, or `timeout` / `network` without an answer. */
export function outcomeOfError(error: unknown): SendOutcome {
  const failure = error instanceof Error ? error : new Error(String(error));
  const status = (failure as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status === undefined) {
    const timedOut = failure.name === "TimeoutError" || failure.name === "AbortError";
    return { outcome: "failed", code: timedOut ? "timeout" : "network", message: failure.message };
  }
  return { outcome: "failed", code: failure.name, message: failure.message, httpStatus: status };
}

async function send(dependencies: Dependencies, request: SendRequest, raw: Uint8Array): Promise<SendOutcome> {
  try {
    const answer = await dependencies.ses.send(new SendEmailCommand(sendEmailInput(request, raw)));
    return { outcome: "accepted", messageId: answer.MessageId ?? "" };
  } catch (error) {
    return outcomeOfError(error);
  }
}

/** One log line per record: what was decided and why. */
function logReport(report: BatchReport, log: (line: string) => void): void {
  for (const record of report.records) {
    const { messageId, eventType, route, decision } = record;
    const detail =
      record.decision === "send"
        ? { providerMessageId: record.providerMessageId, idempotencyKey: record.email.idempotencyKey }
        : record.decision === "suppressed"
          ? { suppressed: record.recipients.length }
          : { reason: record.reason, detail: record.detail, ...(record.decision === "retry" ? { retryAfterSeconds: record.retryAfterSeconds } : {}) };
    log(JSON.stringify({ messageId, eventType, route, decision, ...detail }));
  }
}

/**
 * Answers the batch's lookups round by round until it asks for none: each round is the batch's
 * reads deduplicated across its records; a lookup whose key reads another's result comes in a
 * later round. Ends early when the deadline is near (`expire` then retries what still waits).
 */
async function answerLookups(dependencies: Dependencies, batch: Batch, remainingMs: () => number): Promise<void> {
  for (let round = batch.lookups(); round.length > 0; round = batch.lookups()) {
    if (remainingMs() < dependencies.deadlineMarginMs) return;
    const answers = await readLookups({ dynamodb: dependencies.dynamodb, remainingMs: () => remainingMs() - dependencies.deadlineMarginMs }, round);
    for (const request of round) batch.answerLookup(request.id, answers.get(request.id) ?? { failed: "unavailable", detail: "not read" });
  }
}

/** The handler for given dependencies: read the lookups, decide, send what the batch hands out, report, repeat. */
export function makeHandler(dependencies: Dependencies) {
  const clock = dependencies.clock ?? Date.now;
  return async (event: SQSEvent, context: Pick<Context, "getRemainingTimeInMillis">): Promise<SQSBatchResponse> => {
    // An unreadable event throws: the invocation fails and every record is retried.
    const batch = dependencies.mailroom.startBatch(event, clock(), randomBytes(8).readBigUInt64LE());
    try {
      await answerLookups(dependencies, batch, () => context.getRemainingTimeInMillis());
      for (;;) {
        if (context.getRemainingTimeInMillis() < dependencies.deadlineMarginMs) {
          batch.expire();
          break;
        }
        const wave: AnySendRequest[] = [];
        for (let request = batch.nextSend(); request !== undefined; request = wave.length < dependencies.maxConcurrentSends ? batch.nextSend() : undefined) {
          wave.push(request);
          if (wave.length >= dependencies.maxConcurrentSends) break;
        }
        if (wave.length === 0) break;
        // Each message is dated when it goes, as the Rust function dates it.
        const outcomes = await Promise.all(
          wave.map((request) => (request.channel === "sms" ? Promise.resolve(SMS_NOT_SENT) : send(dependencies, request, batch.rawMessage(request.id, clock())))),
        );
        wave.forEach((request, index) => batch.completeSend(request.id, outcomes[index] ?? { outcome: "failed", code: "network" }));
      }
      const report = batch.finish();
      logReport(report, dependencies.log ?? console.log);
      return report.batchResponse;
    } finally {
      batch.free();
    }
  };
}

let coldStart: ReturnType<typeof makeHandler> | undefined;

/** The Lambda entry point (`dist/handler.handler`). */
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  coldStart ??= makeHandler(fromEnvironment());
  return coldStart(event, context);
};
