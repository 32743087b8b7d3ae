// The lookup loop a Node host runs before sending: requests with DynamoDB keys, deduplicated
// across records and chained in rounds; answers in the shape @aws-sdk/client-dynamodb returns
// items (or plain JSON, not found, failed); fixtures for hosts without DynamoDB; and clear
// errors for answers the batch cannot take.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

import { LookupFixtures, Mailroom, MailroomError } from "mailroom-wasm";

import { loadCases, loadTemplates, outcomeFor, repoRoot } from "./vectors.mjs";

const NOW = 1_795_428_000_000;
const examples = path.join(repoRoot, "examples");
const routes = fs.readFileSync(path.join(examples, "templates/routes.json"), "utf8");
const fixturesFile = fs.readFileSync(path.join(examples, "templates/lookups.json"), "utf8");
const shipped = new Mailroom({ templates: loadTemplates(path.join(examples, "templates")), routes });
const quickstart = loadCases().find((vector) => vector.name === "examples-quickstart");

/** The shipped example items as DynamoDB returns them through the AWS SDK v3 (`BatchGetItem` Responses). */
const table = new Map([
  [
    "STUDENT#stu_81723",
    {
      PK: { S: "STUDENT#stu_81723" },
      SK: { S: "PROFILE" },
      firstName: { S: "Ana" },
      lastName: { S: "Núñez" },
      name: { S: "Ana Núñez" },
      email: { S: "ana.nunez@example.org" },
    },
  ],
  // The course is DynamoDB JSON in the fixtures file already.
  ["COURSE#rust-backend-101", JSON.parse(fixturesFile).enrollments.find((entry) => entry.key.PK === "COURSE#rust-backend-101").Item],
  ["INSTRUCTOR#ins_204", { name: { S: "Grace Okafor" }, title: { S: "Staff Engineer" } }],
]);

/** A host's read: the item for the request's key, as the SDK gives it, or not found. */
function read(request) {
  assert.equal(request.table, "enrollments");
  const item = table.get(request.key.PK.S);
  return item === undefined ? { notFound: true } : { found: item };
}

function welcome(messageId, studentId, courseId = "rust-backend-101") {
  const body = { eventType: "EnrollmentCompleted", studentId, courseId, enrollmentType: "free", enrolledAt: "2026-11-23T09:58:12Z", source: "auto" };
  return { messageId, receiptHandle: `r-${messageId}`, body: JSON.stringify(body), attributes: { ApproximateReceiveCount: "1" }, eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:mail" };
}

function rejects(kind, pattern, call) {
  assert.throws(call, (error) => {
    assert.ok(error instanceof MailroomError, `not a MailroomError: ${error}`);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

test("requests are deduplicated across records, carry DynamoDB keys, and chained lookups come a round later", () => {
  const batch = shipped.startBatch({ Records: [welcome("a", "stu_81723"), welcome("b", "stu_81723"), welcome("c", "stu_42")] }, NOW, 7);
  const first = batch.lookups();
  // Three records, two students, one course between them.
  assert.equal(first.length, 3);
  const student = first.find((request) => request.lookup === "student" && request.key.PK.S === "STUDENT#stu_81723");
  assert.deepStrictEqual(student, { id: student.id, table: "enrollments", key: { PK: { S: "STUDENT#stu_81723" }, SK: { S: "PROFILE" } }, consistentRead: true, cacheSeconds: 0, lookup: "student" });
  const course = first.find((request) => request.lookup === "course");
  assert.deepStrictEqual([course.key, course.cacheSeconds], [{ PK: { S: "COURSE#rust-backend-101" }, SK: { S: "METADATA" } }, 300]);
  assert.deepStrictEqual(first.map((request) => request.id).sort(), [0, 1, 2]);
  // Nothing is sent while lookups are unanswered, and a round is handed out once.
  assert.equal(batch.nextSend(), undefined);
  assert.deepStrictEqual(batch.lookups(), []);
  for (const request of first) batch.answerLookup(request.id, read(request));
  // The instructor's key reads the course's instructorId: asked now, once for both records.
  const second = batch.lookups();
  assert.deepStrictEqual(second, [{ id: 3, table: "enrollments", key: { PK: { S: "INSTRUCTOR#ins_204" }, SK: { S: "PROFILE" } }, consistentRead: true, cacheSeconds: 300, lookup: "instructor" }]);
  batch.answerLookup(3, read(second[0]));
  assert.deepStrictEqual(batch.lookups(), []);
  const sends = [];
  for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) sends.push(send);
  // The recipient is the student item itself (`"recipient": "lookup.student"`): name and email.
  assert.deepStrictEqual(sends.map((send) => [send.messageId, send.email.to[0], send.email.subject]), [
    ["a", "Ana Núñez <ana.nunez@example.org>", "Welcome to Rust for Backend Engineers, Ana"],
    ["b", "Ana Núñez <ana.nunez@example.org>", "Welcome to Rust for Backend Engineers, Ana"],
  ]);
  assert.match(sends[0].email.html, /Your instructor is Grace Okafor, Staff Engineer\./);
  for (const send of sends) batch.completeSend(send.id, { outcome: "accepted", messageId: `ses-${send.messageId}` });
  const report = batch.finish();
  assert.deepStrictEqual(report.records.map((record) => record.reason ?? record.decision), ["send", "send", "lookup_missing"]);
  assert.match(report.records[2].detail, /STUDENT#stu_42/);
});

test("items as the AWS SDK returns them give the native report of the shipped examples", () => {
  const batch = new Mailroom(quickstart.options).startBatch(quickstart.event, quickstart.now, quickstart.seed);
  let rounds = 0;
  for (let round = batch.lookups(); round.length > 0; round = batch.lookups()) {
    rounds += 1;
    for (const request of round) batch.answerLookup(request.id, read(request));
  }
  assert.equal(rounds, 2);
  for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) batch.completeSend(send.id, outcomeFor(quickstart, send));
  assert.deepStrictEqual(batch.finish(), quickstart.expected);
});

test("every DynamoDB type converts as the core converts it, binary from Uint8Array or Buffer as base64", () => {
  const mailroom = new Mailroom({
    templates: { "p.html": "{{ lookup.p | tojson }}" },
    routes: { sender: "a@example.com", routes: [{ name: "p", events: ["*"], template: "p.html", subject: "{{ lookup.p.name }}", recipient: "lookup.p.email", lookups: { p: { table: "people", key: { PK: "P#{{ id }}", n: { N: "{{ n }}" } } } } }] },
  });
  const batch = mailroom.startBatch({ Records: [{ messageId: "m", body: JSON.stringify({ id: "ada", n: 7 }) }] }, NOW, 1);
  const [request] = batch.lookups();
  assert.deepStrictEqual(request.key, { PK: { S: "P#ada" }, n: { N: "7" } });
  batch.answerLookup(request.id, {
    found: {
      name: { S: "Ada" },
      email: { S: "ada@example.com" },
      age: { N: "36" },
      price: { N: "1.50" },
      avatar: { B: new Uint8Array([104, 105]) },
      keys: { BS: [Buffer.from("hey"), new Uint8Array([0, 255]).subarray(1)] },
      active: { BOOL: true },
      gone: { NULL: true },
      address: { M: { city: { S: "Lyon" } } },
      list: { L: [{ N: "1" }, { S: "two" }] },
      roles: { SS: ["admin"] },
      scores: { NS: ["2.5"] },
    },
  });
  const send = batch.nextSend();
  assert.equal(send.email.subject, "Ada");
  assert.deepStrictEqual(JSON.parse(send.email.html.replaceAll("&quot;", '"')), {
    active: true,
    address: { city: "Lyon" },
    age: 36,
    avatar: "aGk=",
    email: "ada@example.com",
    gone: null,
    keys: ["aGV5", "/w=="],
    list: [1, "two"],
    name: "Ada",
    price: "1.50",
    roles: ["admin"],
    scores: [2.5],
  });
  batch.completeSend(send.id, { outcome: "accepted", messageId: "ses-m" });
  batch.finish();
});

test("a plain item, not found, and failed reads answer as documented", () => {
  const run = (answer) => {
    const batch = shipped.startBatch({ Records: [welcome("a", "stu_81723")] }, NOW, 7);
    for (let round = batch.lookups(); round.length > 0; round = batch.lookups()) {
      for (const request of round) batch.answerLookup(request.id, request.lookup === "student" ? answer : read(request));
    }
    const send = batch.nextSend();
    if (send) batch.completeSend(send.id, { outcome: "accepted", messageId: "ses-a" });
    return batch.finish().records[0];
  };
  const plain = run({ foundPlain: { firstName: "Bea", email: "bea@example.org" } });
  assert.deepStrictEqual([plain.decision, plain.email.subject, plain.email.to], ["send", "Welcome to Rust for Backend Engineers, Bea", ["bea@example.org"]]);
  assert.deepStrictEqual([run({ notFound: true }).decision, run({ notFound: true }).reason], ["reject", "lookup_missing"]);
  const throttled = run({ failed: "throttled", detail: "ProvisionedThroughputExceededException" });
  assert.deepStrictEqual([throttled.decision, throttled.reason], ["retry", "throttled"]);
  assert.match(throttled.detail, /ProvisionedThroughputExceededException/);
  assert.ok(throttled.retryAfterSeconds > 0);
  assert.deepStrictEqual([run({ failed: "unavailable" }).reason], ["lookup_failed"]);
});

test("bad answers are clear input errors that change nothing; ids not handed out or answered twice are batch errors", () => {
  const batch = shipped.startBatch({ Records: [welcome("a", "stu_81723")] }, NOW, 7);
  const [course, student] = batch.lookups();
  rejects("input", /answer: must be an object/, () => batch.answerLookup(course.id, "found"));
  rejects("input", /answer: give exactly one of found .* foundPlain .* notFound: true or failed/, () => batch.answerLookup(course.id, {}));
  rejects("input", /answer: give exactly one of found/, () => batch.answerLookup(course.id, { found: {}, notFound: true }));
  rejects("input", /answer: give exactly one of found/, () => batch.answerLookup(course.id, { notFound: false }));
  rejects("input", /answer: unknown field `Item`/, () => batch.answerLookup(course.id, { Item: {} }));
  rejects("input", /answer: unknown variant `X`/, () => batch.answerLookup(course.id, { found: { title: { X: "1" } } }));
  rejects("input", /answer: .*expected/, () => batch.answerLookup(course.id, { found: { title: "Rust" } }));
  rejects("input", /answer: foundPlain: the item must be a JSON object, not array/, () => batch.answerLookup(course.id, { foundPlain: [1] }));
  rejects("input", /answer: unknown variant `down`/, () => batch.answerLookup(course.id, { failed: "down" }));
  rejects("input", /answer: detail goes with failed only/, () => batch.answerLookup(course.id, { notFound: true, detail: "x" }));
  rejects("input", /id: must be the id of a lookup from lookups\(\)/, () => batch.answerLookup(-1, { notFound: true }));
  rejects("batch", /lookup id 9 was never handed out/, () => batch.answerLookup(9, { notFound: true }));
  // None of that changed anything: the course is still waiting for its answer.
  batch.answerLookup(course.id, read(course));
  rejects("batch", /lookup 0 \(table enrollments, PK=COURSE#rust-backend-101, SK=METADATA\) is answered already/, () => batch.answerLookup(course.id, read(course)));
  rejects("input", /fixtures: must be a LookupFixtures/, () => batch.answerLookupFrom(student.id, { enrollments: [] }));
  batch.answerLookup(student.id, read(student));
  const [instructor] = batch.lookups();
  batch.answerLookup(instructor.id, read(instructor));
  assert.equal(batch.nextSend().messageId, "a");
  batch.finish();
  rejects("batch", /already finished/, () => batch.lookups());
  rejects("batch", /already finished/, () => batch.answerLookup(instructor.id, { notFound: true }));
});

test("records still waiting for lookups at the deadline are retried as lookup_failed", () => {
  const batch = shipped.startBatch({ Records: [welcome("a", "stu_81723")] }, NOW, 7);
  const [course] = batch.lookups();
  batch.answerLookup(course.id, read(course));
  batch.expire();
  const [record] = batch.finish().records;
  assert.deepStrictEqual([record.decision, record.reason], ["retry", "lookup_failed"]);
  assert.match(record.detail, /student/);
});

test("decide, processEvent, render and check take fixtures as an object, its text or a LookupFixtures", () => {
  const record = welcome("a", "stu_81723");
  const parsed = new LookupFixtures(fixturesFile);
  const decided = [JSON.parse(fixturesFile), fixturesFile, parsed].map((lookups) => shipped.decide(record, NOW, 7, lookups));
  assert.equal(decided[0].decision, "send");
  assert.deepStrictEqual(decided[1], decided[0]);
  assert.deepStrictEqual(decided[2], decided[0]);
  const processed = shipped.processEvent({ Records: [record] }, NOW, 7, undefined, parsed).records[0];
  assert.deepStrictEqual(processed.email, decided[0].email);
  // Without fixtures nothing answers: the record waits for a retry rather than going without its data.
  const bare = shipped.decide(record, NOW, 7);
  assert.deepStrictEqual([bare.decision, bare.reason], ["retry", "lookup_failed"]);

  const rendered = shipped.render("welcome/enrollment-completed.html", record.body, undefined, NOW, parsed);
  assert.equal(rendered.subject, "Welcome to Rust for Backend Engineers, Ana");
  assert.deepStrictEqual(
    rendered.lookups.map((lookup) => [lookup.name, lookup.status, lookup.key.PK]),
    [["course", "found", "COURSE#rust-backend-101"], ["student", "found", "STUDENT#stu_81723"], ["instructor", "found", "INSTRUCTOR#ins_204"]],
  );
  // Items come back as objects, converted (the course's weeks were {"N": "6"}).
  assert.deepStrictEqual([rendered.lookups[0].item.weeks, rendered.lookups[1].item.firstName], [6, "Ana"]);
  assert.equal(rendered.html, decided[0].email.html);

  // A skipped lookup not found: the email renders, and says what the template then lacks.
  const noInstructor = JSON.parse(fixturesFile);
  noInstructor.enrollments = noInstructor.enrollments.filter((entry) => !entry.key.PK.startsWith("INSTRUCTOR#"));
  const partial = shipped.render("welcome/enrollment-completed.html", record.body, undefined, NOW, noInstructor);
  assert.deepStrictEqual(partial.lookups.map((lookup) => lookup.status), ["found", "found", "not_found"]);
  assert.ok(partial.missing.includes("lookup.instructor.name"), partial.missing.join(", "));
  assert.doesNotMatch(partial.html, /Your instructor/);

  // A lookup the template needs not found: the template error still says what each lookup answered.
  const noStudent = { enrollments: noInstructor.enrollments.filter((entry) => !entry.key.PK.startsWith("STUDENT#")) };
  assert.throws(
    () => shipped.render("welcome/enrollment-completed.html", record.body, undefined, NOW, noStudent),
    (error) => {
      assert.ok(error instanceof MailroomError);
      assert.equal(error.kind, "template");
      assert.equal(error.fault.kind, "undefined");
      assert.deepStrictEqual(error.lookups.map((lookup) => [lookup.name, lookup.status]), [["course", "found"], ["student", "not_found"], ["instructor", "not_found"]]);
      assert.equal(error.lookups[0].item.title, "Rust for Backend Engineers");
      return true;
    },
  );

  // check: a sample whose lookup no fixture answers is a lookup problem, naming the key.
  assert.deepStrictEqual(shipped.check({ known: record }, NOW, parsed), []);
  const problems = shipped.check({ unknown: welcome("u", "stu_00000") }, NOW, parsed);
  assert.deepStrictEqual(problems.map((problem) => [problem.sample, problem.route, problem.kind]), [["unknown", "welcome", "lookup"]]);
  assert.match(problems[0].message, /STUDENT#stu_00000/);
  parsed.free();
  rejects("input", /these LookupFixtures were freed/, () => shipped.decide(record, NOW, 7, parsed));
});

test("fixtures that are not the format are input errors naming the entry; the module stays usable", () => {
  rejects("input", /lookups: lookup fixture enrollments\[0\] is invalid: give exactly one of item, Item or failure/, () => new LookupFixtures({ enrollments: [{ key: { PK: "x" } }] }));
  rejects("input", /lookups: the lookup fixtures are invalid \(line 1, column \d+\)/, () => new LookupFixtures("{oops"));
  rejects("input", /lookups: must be lookup fixtures/, () => new LookupFixtures([1]));
  rejects("input", /lookups: lookup fixture t\[1\] is invalid: another entry of this table has the same key/, () =>
    shipped.decide(welcome("a", "stu_81723"), NOW, 7, { t: [{ key: { PK: "1" }, item: {} }, { key: { PK: "1" }, item: {} }] }),
  );
  assert.equal(shipped.decide(welcome("a", "stu_81723"), NOW, 7, fixturesFile).decision, "send");
});
