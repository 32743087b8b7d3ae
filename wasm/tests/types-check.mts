// Compiled with `tsc --strict` (never run): every API of the package used with its declared
// types, so a declaration that drifts from the JavaScript, or an `any`, fails the type check.
import {
  Batch,
  LookupFixtures,
  Mailroom,
  MailroomError,
  type AttributeValue,
  type LookupAnswer,
  type LookupFixturesFile,
  type LookupRequest,
  type PreviewLookup,
  type BatchReport,
  type BatchResponse,
  type Decided,
  type Diagnostic,
  type Email,
  type MailroomErrorKind,
  type MailroomOptions,
  type Reason,
  type RecordReport,
  type RejectedRecord,
  type Rendered,
  type RoutesFile,
  type SendOutcome,
  type SendRequest,
  type Sms,
  type SqsEvent,
  type SqsRecord,
  type TemplateFault,
} from "mailroom-wasm";
import init, { initSync, Mailroom as WebMailroom } from "mailroom-wasm/web";

const routes: RoutesFile = {
  sender: "Courses <courses@example.com>",
  routes: [
    { name: "orders", events: ["orders/paid"], template: "orders.html", subject: "Order {{ name }}", recipient: ["email", "customer.email"], tags: { category: "orders" } },
    {
      name: "welcome",
      events: ["EnrollmentCompleted"],
      template: "orders.html",
      subject: "Hi {{ lookup.student.firstName }}",
      recipient: "lookup.student.email",
      lookups: {
        student: { table: "enrollments", tableVariable: "ENROLLMENTS_TABLE", key: { PK: "STUDENT#{{ studentId }}", SK: "PROFILE" }, cacheSeconds: 60 },
        seat: { table: "seats", key: { n: { N: "{{ seat }}" } }, onMissing: "skip", consistentRead: false },
      },
    },
  ],
  retry: { baseSeconds: 30 },
  limits: { fuel: 100_000 },
};
const options: MailroomOptions = { templates: { "orders.html": "<p>{{ name }}</p>" }, routes, env: { REPLY_TO: "help@example.com" } };
const mailroom: Mailroom = new Mailroom(options);
const fromText: Mailroom = new Mailroom({ templates: {}, routes: JSON.stringify(routes) });
const forAuthors: Mailroom = Mailroom.forTemplates({ "a.html": "{{ a }}" });

const record: SqsRecord = { messageId: "m-1", body: "{}", attributes: { ApproximateReceiveCount: "1", MessageGroupId: "g" }, eventSourceARN: "arn:aws:sqs:us-east-1:1:q.fifo" };
const event: SqsEvent = { Records: [record] };

const rendered: Rendered = mailroom.render("orders.html", { name: "#1" });
const renderedWithSubject: Rendered = mailroom.render("orders.html", '{"name": "#1"}', "Hi {{ name }}", Date.now());
const names: string[] = [...rendered.variables, ...rendered.missing, renderedWithSubject.subject, rendered.html, rendered.text];

const decided: Decided = mailroom.decide(record, Date.now(), 7);
if (decided.decision === "send") {
  const email: Email = decided.email;
  names.push(email.subject, email.idempotencyKey, ...email.to, email.from, email.replyTo ?? "", ...email.tags.map((tag) => `${tag.name}=${tag.value}`));
  names.push(email.configurationSet ?? "");
} else if (decided.decision === "suppressed") {
  names.push(...decided.recipients);
} else {
  const reason: Reason = decided.reason;
  names.push(reason, decided.detail);
}

const outcomes: Record<string, SendOutcome> = {
  a: { outcome: "accepted", messageId: "ses-1" },
  b: { outcome: "alreadySent" },
  c: { outcome: "inProgressElsewhere" },
  d: { outcome: "failed", code: "TooManyRequestsException", message: "slow down", httpStatus: 429 },
};
const report: BatchReport = mailroom.processEvent(event, Date.now(), 7n, outcomes);
const reportFromText: BatchReport = mailroom.processEvent(JSON.stringify(event), Date.now(), 7);
for (const entry of [...report.records, ...reportFromText.records] satisfies RecordReport[]) {
  switch (entry.decision) {
    case "send":
      names.push(entry.email.html, entry.providerMessageId ?? "", String(entry.duplicate ?? false));
      break;
    case "retry":
      names.push(entry.reason, String(entry.retryAfterSeconds));
      break;
    case "reject":
      names.push(entry.reason, String(entry.parked ?? false));
      break;
    case "suppressed":
      names.push(...entry.recipients);
      break;
  }
}
const response: BatchResponse = report.batchResponse;
names.push(...response.batchItemFailures.map((failure) => failure.itemIdentifier));

const batch: Batch = mailroom.startBatch(event, Date.now(), 7);
const fixturesFile: LookupFixturesFile = {
  enrollments: [
    { key: { PK: "STUDENT#1", SK: "PROFILE" }, item: { firstName: "Ana", email: "ana@example.com" } },
    { key: { PK: "STUDENT#2", SK: "PROFILE" }, Item: { firstName: { S: "Ben" }, avatar: { B: new Uint8Array([1]) } } },
    { key: { PK: "STUDENT#3", SK: "PROFILE" }, failure: "throttled" },
  ],
  seats: [{ key: { n: 7 }, item: { row: "A" } }],
};
const fixtures = new LookupFixtures(fixturesFile);
for (let round: LookupRequest[] = batch.lookups(); round.length > 0; round = batch.lookups()) {
  for (const request of round) {
    const partition = request.key["PK"];
    names.push(request.table, request.lookup, String(request.consistentRead), String(request.cacheSeconds), partition && "S" in partition ? partition.S : "");
    // What @aws-sdk/client-dynamodb returns for an item, binary as bytes.
    const item: Record<string, AttributeValue> = { firstName: { S: "Ana" }, age: { N: "36" }, tags: { SS: ["a"] }, avatar: { B: new Uint8Array([1, 2]) }, address: { M: { city: { S: "Lyon" } } }, gone: { NULL: true } };
    const answers: LookupAnswer[] = [{ found: item }, { foundPlain: { firstName: "Ana" } }, { notFound: true }, { failed: "throttled", detail: "slow" }, { failed: "unavailable" }];
    if (request.id % 2 === 0) batch.answerLookup(request.id, answers[request.id % answers.length] ?? { notFound: true });
    else batch.answerLookupFrom(request.id, fixtures);
  }
}
const inFlight: SendRequest[] = [];
for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) {
  if (send.channel === "sms") {
    const text: Sms = send.sms;
    names.push(text.to, text.text, text.encoding, String(text.segments), text.smsType, text.senderId ?? "", text.idempotencyKey);
    batch.completeSend(send.id, { outcome: "failed", code: "OptedOut" });
  } else inFlight.push(send);
}
for (const send of inFlight) {
  names.push(send.messageId, send.headers.from, ...send.headers.to, send.headers.replyTo ?? "", send.email.subject);
  const mime: Uint8Array = batch.rawMessage(send.id, Date.now());
  names.push(String(mime.byteLength));
  batch.completeSend(send.id, { outcome: "accepted", messageId: `ses-${send.messageId}` });
}
batch.expire();
const rejected: RejectedRecord[] = batch.rejected();
for (const entry of rejected) {
  names.push(entry.messageId, entry.reason, entry.detail);
  batch.markParked(entry.id);
}
const finished: BatchReport = batch.finish();
batch.free();

const previewed: Rendered = mailroom.render("orders.html", { studentId: "1" }, undefined, Date.now(), fixtures);
for (const lookup of previewed.lookups ?? ([] satisfies PreviewLookup[])) {
  names.push(lookup.name, lookup.table, lookup.status, ...Object.values(lookup.key), lookup.detail ?? "", JSON.stringify(lookup.item?.["firstName"] ?? null));
}
const decidedWithLookups: Decided = mailroom.decide(record, Date.now(), 7, fixturesFile);
const processedWithLookups: BatchReport = mailroom.processEvent(event, Date.now(), 7, undefined, JSON.stringify(fixturesFile));
names.push(decidedWithLookups.decision, String(processedWithLookups.records.length));
fixtures.free();

const diagnostics: Diagnostic[] = mailroom.check({ sample: record }, Date.now());
const fromPairs: Diagnostic[] = mailroom.check([["sample", record]]);
for (const diagnostic of [...diagnostics, ...fromPairs]) {
  const fault: TemplateFault = diagnostic;
  names.push(fault.kind, fault.message, fault.template ?? "", String(fault.line ?? 0), String(fault.column ?? 0), fault.sourceLine ?? "", diagnostic.sample ?? "", diagnostic.route ?? "");
}
names.push(...mailroom.variables("orders.html"), ...forAuthors.variables("a.html"));

try {
  mailroom.render("orders.html", {});
} catch (error) {
  if (error instanceof MailroomError) {
    const kind: MailroomErrorKind = error.kind;
    names.push(kind, error.message, error.template ?? "", String(error.line ?? 0), String(error.column ?? 0), error.fault?.kind ?? "", ...(error.lookups ?? []).map((lookup) => lookup.status));
  }
}
fromText.free();
mailroom.free();

// The web build: initialize once, then the same API.
await init();
await init(new URL("https://example.com/mailroom_wasm_bg.wasm"));
initSync(new Uint8Array(8));
const inBrowser: Rendered = new WebMailroom({ templates: { "a.html": "{{ a }}" } }).render("a.html", { a: 1 });
names.push(inBrowser.html, String(finished.records.length));
console.log(names.length);
