// The host-facing API beyond the shared vectors: the batch loop a Node Lambda runs, authoring
// helpers, and the package's shape (entries, declarations).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";

import { Batch, Mailroom, MailroomError } from "mailroom-wasm";

const require = createRequire(import.meta.url);
const NOW = 1_795_428_000_000;
const routes = {
  sender: "Académie <notify@académie.example>",
  replyTo: "Support <support@example.com>",
  routes: [
    { name: "notice", events: ["*"], template: "notice.html", subject: "Notice for {{ name }}", recipient: "mailto" },
  ],
};
const templates = { "notice.html": "<p>Hello {{ name }}</p>", "notice.txt": "Hello {{ name }}" };
const mailroom = new Mailroom({ templates, routes });

function record(messageId, body, extra = {}) {
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body: typeof body === "string" ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: "1", ...(extra.group ? { MessageGroupId: extra.group } : {}) },
    eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:notices${extra.group ? ".fifo" : ""}`,
  };
}
const reader = (name) => ({ mailto: `${name.toLowerCase()}@example.com`, name });

test("nextSend hands out everything that may go at once, with SES-ready header values", () => {
  const batch = mailroom.startBatch({ Records: [record("a", reader("Ana")), record("b", reader("Ben"))] }, NOW, 7);
  assert.ok(batch instanceof Batch);
  const first = batch.nextSend();
  const second = batch.nextSend();
  assert.equal(batch.nextSend(), undefined);
  assert.deepStrictEqual([first.id, first.messageId, second.messageId], [0, "a", "b"]);
  assert.equal(first.email.from, "Académie <notify@xn--acadmie-eya.example>");
  // Header values: the non-ASCII name RFC 2047-encoded, the domain in punycode.
  assert.match(first.headers.from, /^=\?utf-8\?[bBqQ]\?.+\?= <notify@xn--acadmie-eya\.example>$/i);
  assert.deepStrictEqual(first.headers.to, ["ana@example.com"]);
  assert.equal(first.headers.replyTo, "Support <support@example.com>");
  batch.completeSend(second.id, { outcome: "failed", code: "TooManyRequestsException", message: "slow down", httpStatus: 429 });
  batch.completeSend(first.id, { outcome: "accepted", messageId: "ses-a" });
  const report = batch.finish();
  assert.deepStrictEqual(report.records.map((r) => [r.messageId, r.decision, r.reason]), [["a", "send", undefined], ["b", "retry", "throttled"]]);
  assert.ok(report.records[1].retryAfterSeconds > 0);
  assert.deepStrictEqual(report.batchResponse, { batchItemFailures: [{ itemIdentifier: "b" }] });
});

test("FIFO groups go one at a time, and a failure blocks the rest of its group", () => {
  const event = { Records: [record("g1", reader("Ana"), { group: "g" }), record("g2", reader("Ben"), { group: "g" }), record("h1", reader("Cy"), { group: "h" })] };
  const batch = mailroom.startBatch(event, NOW, 7);
  const wave = [batch.nextSend(), batch.nextSend(), batch.nextSend()];
  assert.deepStrictEqual(wave.map((send) => send?.messageId), ["g1", "h1", undefined]);
  batch.completeSend(wave[0].id, { outcome: "failed", code: "InternalFailure", httpStatus: 500 });
  batch.completeSend(wave[1].id, { outcome: "accepted", messageId: "ses-h1" });
  assert.equal(batch.nextSend(), undefined);
  const report = batch.finish();
  assert.deepStrictEqual(report.records.map((r) => r.reason ?? r.decision), ["transient", "group_blocked", "send"]);
  assert.deepStrictEqual(report.batchResponse.batchItemFailures.map((f) => f.itemIdentifier), ["g1", "g2"]);
});

test("rejected records can be parked (moved to a DLQ by the host) and are then acknowledged", () => {
  const batch = mailroom.startBatch({ Records: [record("bad", "{oops"), record("none", { name: "No one" })] }, NOW, 7);
  const rejected = batch.rejected();
  assert.deepStrictEqual(rejected.map((r) => [r.id, r.messageId, r.reason]), [[0, "bad", "malformed_body"], [1, "none", "missing_recipient"]]);
  batch.markParked(rejected[0].id);
  const report = batch.finish();
  assert.equal(report.records[0].parked, true);
  assert.deepStrictEqual(report.batchResponse.batchItemFailures, [{ itemIdentifier: "none" }]);
});

test("expire retries what was not handed out; unreported sends are retried as transient", () => {
  const batch = mailroom.startBatch({ Records: [record("a", reader("Ana")), record("b", reader("Ben"))] }, NOW, 7);
  batch.nextSend();
  batch.expire();
  assert.equal(batch.nextSend(), undefined);
  const report = batch.finish();
  assert.deepStrictEqual(report.records.map((r) => r.reason), ["transient", "deadline"]);
});

test("decide gives the pre-send decision with the email, and no provider id", () => {
  const decided = mailroom.decide(record("a", reader("Ana")), NOW, 7);
  assert.equal(decided.decision, "send");
  assert.equal(decided.route, "notice");
  assert.equal(decided.email.subject, "Notice for Ana");
  assert.equal(decided.email.text, "Hello Ana");
  assert.equal(decided.providerMessageId, undefined);
  assert.equal(decided.duplicate, undefined);
  const same = mailroom.processEvent({ Records: [record("a", reader("Ana"))] }, NOW, 7).records[0];
  assert.deepStrictEqual(decided.email, same.email);
  const rejected = mailroom.decide(record("x", "[1]"), NOW, 7);
  assert.deepStrictEqual([rejected.decision, rejected.reason], ["reject", "malformed_body"]);
});

test("render gives subject, HTML, text and the variables the data lacks", () => {
  const rendered = mailroom.render("notice.html", { name: "<Ana>" });
  assert.deepStrictEqual(rendered, {
    route: "notice",
    subject: "Notice for <Ana>",
    html: "<p>Hello &lt;Ana&gt;</p>",
    text: "Hello <Ana>",
    variables: ["name"],
    missing: [],
  });
  assert.equal(mailroom.render("notice.html", '{"name": "Ben"}', "Hi {{ name }}").subject, "Hi Ben");
});

test("check lists broken templates and failing samples with their locations; variables lists names", () => {
  const authoring = Mailroom.forTemplates({
    "ok.html": "{{ greeting }}, {{ customer.name }}",
    "broken.html": "line one\n{% for x in items %}unclosed",
  });
  const diagnostics = authoring.check({ sample: record("s", { mailto: "a@example.com" }) }, NOW);
  const broken = diagnostics.find((d) => d.template === "broken.html");
  assert.equal(broken.kind, "syntax");
  assert.equal(broken.line, 2);
  assert.equal(typeof broken.column, "number");
  assert.equal(broken.sourceLine, "{% for x in items %}unclosed");
  assert.deepStrictEqual(authoring.variables("ok.html"), ["customer.name", "greeting"]);
  const withRoutes = mailroom.check([["missing name", record("m", { mailto: "a@example.com" })]], NOW);
  assert.deepStrictEqual(withRoutes.map((d) => [d.sample, d.route, d.kind, d.line]), [["missing name", "notice", "undefined", 1]]);
  assert.match(withRoutes[0].message, /`name` is undefined/);
  assert.deepStrictEqual(mailroom.check(), []);
});

test("the package declares every export, without `any`", () => {
  const declarations = fs.readFileSync(require.resolve("mailroom-wasm/package.json").replace("package.json", "index.d.ts"), "utf8");
  const code = declarations.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(code, /\bany\b/);
  for (const name of ["Mailroom", "Batch", "LookupFixtures", "MailroomError"]) assert.match(declarations, new RegExp(`export declare class ${name}\\b`));
  const cjs = require("mailroom-wasm");
  assert.deepStrictEqual(Object.keys(cjs).sort(), ["Batch", "LookupFixtures", "Mailroom", "MailroomError"]);
  assert.ok(new MailroomError({ kind: "input", message: "m" }) instanceof Error);
});

test("an event object's bodies cross intact whatever their sizes, one call after another", () => {
  // The parts of an event object reuse one scratch buffer up to 256 KB (js/api.js); bigger
  // events get their own. Each report must equal the report of the same event as text.
  const sizes = [1, 300_000, 12, 70_000, 0, 5];
  for (const size of sizes) {
    const event = {
      Records: [
        record("x", { ...reader("Ana"), pad: "é€📦".repeat(size) }),
        record("y", reader("Bo")),
        record("z", { ...reader("Cy"), name: "Núñez", pad: "a".repeat(size) }),
      ],
    };
    const fromObject = mailroom.processEvent(event, NOW, 7);
    assert.deepStrictEqual(fromObject, mailroom.processEvent(JSON.stringify(event), NOW, 7), `size ${size}`);
    assert.deepStrictEqual(fromObject.records.map((r) => r.decision), ["send", "send", "send"]);
    const batch = mailroom.startBatch(event, NOW, 7);
    const sent = [];
    for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) sent.push(send.email.to[0]);
    assert.deepStrictEqual(sent.sort(), ["ana@example.com", "bo@example.com", "cy@example.com"]);
    batch.free();
  }
});
