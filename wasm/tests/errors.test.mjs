// Bad input of every kind: each gives a clear MailroomError of the right kind, and the very next
// call on the same module (and the same Mailroom) still works.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Mailroom, MailroomError } from "mailroom-wasm";

const env = {
  SENDER: "Courses <courses@example.com>",
  SUBJECT: "New enrollment in {{ courseName }}",
  SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL: "enrollment.html",
};
const templates = {
  "enrollment.html": "<p>{{ studentName }} enrolled in {{ courseName }}.</p>",
  "broken.html": "<p>{% if studentName %}never closed</p>",
  "loop.html": "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
  "recursive.html": '{% include "recursive.html" %}',
};
const body = { mailto: "organizer@example.com", studentName: "Ana", courseName: "Rust" };
const record = (overrides = {}) => ({
  messageId: "m-1",
  receiptHandle: "r-1",
  body: JSON.stringify(body),
  attributes: { ApproximateReceiveCount: "1" },
  eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:enrollments",
  ...overrides,
});
const NOW = 1_795_428_000_000;

const mailroom = new Mailroom({ templates, env });

/** The call fails with a MailroomError of `kind` whose message mentions `pattern`; then everything still works. */
function rejects(kind, pattern, call) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof MailroomError, `not a MailroomError: ${error}`);
    assert.ok(error instanceof Error);
    assert.equal(error.name, "MailroomError");
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, pattern);
    return true;
  });
  stillWorks();
}

function stillWorks() {
  const decided = mailroom.decide(record(), NOW, 1);
  assert.equal(decided.decision, "send");
  assert.equal(decided.email.subject, "New enrollment in Rust");
  const fresh = new Mailroom({ templates: { "a.html": "{{ x }}" }, env: { ...env, SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL: "a.html" } });
  assert.equal(fresh.render("a.html", { x: "ok", courseName: "Go" }).html, "ok");
}

test("configuration errors name the variable or routes-file field", () => {
  rejects("config", /SENDER is not set/, () => new Mailroom({ templates, env: { ...env, SENDER: undefined } }));
  rejects("config", /SENDER is invalid/, () => new Mailroom({ templates, env: { ...env, SENDER: "not an address" } }));
  rejects("config", /SUBJECT/, () => new Mailroom({ templates, env: { ...env, SUBJECT: "{{ unclosed" } }));
  rejects("config", /routes file is invalid \(line 1, column \d+\)/, () => new Mailroom({ templates, env, routes: "{not json" }));
  rejects("config", /unknown field `rotues`/, () => new Mailroom({ templates, env, routes: { rotues: [] } }));
  rejects("config", /routes\[1\]\.name/, () =>
    new Mailroom({
      templates,
      env,
      routes: {
        routes: [
          { name: "a", events: ["*"], template: "enrollment.html", subject: "s", recipient: "mailto" },
          { name: "a", events: ["*"], template: "enrollment.html", subject: "s", recipient: "mailto" },
        ],
      },
    }),
  );
});

test("arguments of the wrong shape are input errors", () => {
  rejects("input", /options: must be an object/, () => new Mailroom(null));
  rejects("input", /templates: must be an object/, () => new Mailroom({ templates: "nope", env }));
  rejects("input", /templates: invalid type: integer/, () => new Mailroom({ templates: { "a.html": 42 }, env }));
  rejects("input", /env: invalid type/, () => new Mailroom({ templates, env: { SENDER: 1 } }));
  rejects("input", /now: must be a whole number/, () => mailroom.decide(record(), Number.NaN, 1));
  rejects("input", /now: must be a whole number/, () => mailroom.decide(record(), 1.5, 1));
  rejects("input", /now: must be a whole number/, () => mailroom.processEvent({ Records: [] }, "today", 1));
  rejects("input", /seed: must be/, () => mailroom.decide(record(), NOW, -1));
  rejects("input", /seed: must be/, () => mailroom.decide(record(), NOW, 1n << 64n));
  rejects("input", /seed: must be/, () => mailroom.decide(record(), NOW, 0.5));
  rejects("input", /record: must be an object/, () => mailroom.decide("m-1", NOW, 1));
  rejects("input", /template: must be a string/, () => mailroom.render(42, body));
  rejects("input", /data: cannot be turned into JSON/, () => mailroom.render("enrollment.html", { big: 1n }));
  const cycle = {};
  cycle.self = cycle;
  rejects("input", /event: cannot be turned into JSON/, () => mailroom.processEvent(cycle, NOW, 1));
  rejects("input", /outcomes: invalid type|outcomes: unknown variant/, () =>
    mailroom.processEvent({ Records: [record()] }, NOW, 1, { "m-1": { outcome: "delivered" } }),
  );
  rejects("input", /samples: must be/, () => mailroom.check("nope"));
});

test("an unreadable event is an event error with its location; nothing is decided", () => {
  rejects("event", /not a Lambda SQS event \(line 1, column 2\)/, () => mailroom.processEvent("{oops", NOW, 1));
  rejects("event", /missing field `messageId`/, () => mailroom.processEvent({ Records: [{ body: "{}" }] }, NOW, 1));
  rejects("event", /empty messageId/, () => mailroom.startBatch({ Records: [record({ messageId: "" })] }, NOW, 1));
  rejects("event", /invalid type/, () => mailroom.processEvent({ Records: "all of them" }, NOW, 1));
  rejects("event", /missing field `messageId`/, () => mailroom.decide({ body: "{}" }, NOW, 1));
});

test("JSON nested deeper than any real event never overflows the stack", () => {
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  // Skipped as an unknown field.
  assert.deepStrictEqual(mailroom.processEvent(`{"Records": [], "extra": ${deep}}`, NOW, 1).records, []);
  // Inside a body: that record is rejected by the parser's depth limit.
  const report = mailroom.processEvent({ Records: [record({ body: `{"a": ${deep}}` })] }, NOW, 1);
  assert.equal(report.records[0].reason, "malformed_body");
  assert.match(report.records[0].detail, /recursion limit exceeded/);
  rejects("data", /recursion limit exceeded/, () => mailroom.render("enrollment.html", `{"a": ${deep}}`));
  stillWorks();
});

test("a bad record body is that record's decision, not an error", () => {
  const report = mailroom.processEvent({ Records: [record({ messageId: "bad", body: "{not json" }), record()] }, NOW, 1);
  assert.equal(report.records[0].decision, "reject");
  assert.equal(report.records[0].reason, "malformed_body");
  assert.equal(report.records[1].decision, "send");
  assert.deepStrictEqual(report.batchResponse, { batchItemFailures: [{ itemIdentifier: "bad" }] });
  stillWorks();
});

test("template errors carry kind, template, line and column", () => {
  const check = (call, faultKind, template, line) =>
    rejects("template", new RegExp(template.replace(".", "\\.")), () => {
      try {
        call();
      } catch (error) {
        assert.equal(error.fault.kind, faultKind, error.message);
        assert.equal(error.template, template);
        assert.equal(error.fault.template, template);
        if (line !== undefined) {
          assert.equal(error.line, line);
          assert.equal(typeof error.column, "number");
        }
        throw error;
      }
    });
  check(() => mailroom.render("enrollment.html", { studentName: "Ana" }), "undefined", "enrollment.html", 1);
  check(() => mailroom.render("broken.html", body), "syntax", "broken.html", 1);
  check(() => mailroom.render("loop.html", body), "limit", "loop.html");
  check(() => mailroom.render("recursive.html", body), "limit", "recursive.html");
  check(() => mailroom.render("missing.html", body), "not_found", "missing.html");
  check(() => mailroom.variables("broken.html"), "syntax", "broken.html", 1);
  rejects("template", /subject/, () => mailroom.render("enrollment.html", body, "{{ unclosed"));
});

test("unusable render data is a data error", () => {
  rejects("data", /^sample data: .*not JSON/, () => mailroom.render("enrollment.html", "{not json"));
  rejects("data", /^sample data: /, () => mailroom.render("enrollment.html", [1, 2, 3]));
});

test("a finished batch or a freed Mailroom refuses further calls clearly", () => {
  const batch = mailroom.startBatch({ Records: [record()] }, NOW, 1);
  const send = batch.nextSend();
  rejects("input", /outcome: missing field `messageId`/, () => batch.completeSend(send.id, { outcome: "accepted" }));
  rejects("input", /id: must be/, () => batch.completeSend(-1, { outcome: "inProgressElsewhere" }));
  batch.completeSend(send.id, { outcome: "accepted", messageId: "ses-1" });
  batch.finish();
  rejects("batch", /already finished/, () => batch.nextSend());
  rejects("batch", /already finished/, () => batch.finish());
  const doomed = new Mailroom({ templates, env });
  doomed.free();
  rejects("input", /freed/, () => doomed.variables("enrollment.html"));
});

test("hundreds of failures in a row leave the module usable", () => {
  for (let index = 0; index < 300; index += 1) {
    assert.throws(() => mailroom.render("enrollment.html", { studentName: `n${index}` }), MailroomError);
    assert.throws(() => mailroom.processEvent(`{"Records": [${index}`, NOW, index), MailroomError);
  }
  stillWorks();
});
