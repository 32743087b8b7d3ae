// Parity: the package decides and renders every shared vector exactly as the native core did.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";

import { LookupFixtures, Mailroom } from "mailroom-wasm";
import * as web from "mailroom-wasm/web";

import { answerLookups, loadCases, outcomeFor } from "./vectors.mjs";

const require = createRequire(import.meta.url);
const cases = loadCases();

test("the shared vectors are present, each with its native snapshot, some with lookups", () => {
  assert.ok(cases.length >= 10, `only ${cases.length} cases found`);
  for (const vector of cases) assert.ok(vector.expected, `${vector.name} has no snapshot`);
  const withLookups = cases.filter((vector) => vector.lookups !== undefined).map((vector) => vector.name);
  assert.ok(withLookups.includes("examples-quickstart"), withLookups.join(", "));
});

for (const vector of cases) {
  test(`${vector.name}: processEvent equals the native report`, () => {
    const mailroom = new Mailroom(vector.options);
    const report = mailroom.processEvent(vector.event, vector.now, vector.seed, vector.outcomes, vector.lookups);
    assert.deepStrictEqual(report, vector.expected);
  });

  test(`${vector.name}: the host batch loop, lookups answered round by round, equals the native report`, () => {
    const mailroom = new Mailroom(vector.options);
    const batch = mailroom.startBatch(vector.event, vector.now, vector.seed);
    const rounds = answerLookups(batch, vector);
    // Routes without lookups ask for none, unless a ledger table has every recipient checked;
    // the shipped examples' welcome route asks in two rounds (the instructor's key reads the
    // course).
    const checksSuppression = Boolean(vector.options.env?.LEDGER_TABLE);
    if (!JSON.stringify(vector.options.routes ?? {}).includes('"lookups"') && !checksSuppression) assert.deepStrictEqual(rounds, []);
    if (checksSuppression) assert.ok(rounds.flat().every((request) => request.lookup === "suppression"));
    if (vector.name === "examples-quickstart") assert.equal(rounds.length, 2);
    for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) {
      batch.completeSend(send.id, outcomeFor(vector, send));
    }
    assert.deepStrictEqual(batch.finish(), vector.expected);
  });

  test(`${vector.name}: decide agrees with the report, record by record`, () => {
    const mailroom = new Mailroom(vector.options);
    const records = vector.event.Records ?? [];
    const grouped = records.some((record) => (record.eventSourceARN ?? "").endsWith(".fifo"));
    // FIFO blocking and send outcomes are batch effects; a record alone is decided before sending.
    const fixtures = new LookupFixtures(vector.lookups ?? {});
    records.forEach((record, index) => {
      const decided = mailroom.decide(record, vector.now, vector.seed, fixtures);
      const reported = vector.expected.records[index];
      assert.equal(decided.messageId, reported.messageId);
      if (decided.decision === "send" && reported.decision === "send") {
        assert.deepStrictEqual(decided.email, reported.email);
        assert.equal(decided.route, reported.route);
      } else if (!grouped && reported.decision !== "send" && decided.decision !== "send") {
        assert.deepStrictEqual(decided, reported);
      }
    });
    fixtures.free();
  });
}

test("CommonJS require gives the same API and the same results as the ES module import", () => {
  const cjs = require("mailroom-wasm");
  const vector = cases.find((candidate) => candidate.name === "examples-quickstart") ?? cases[0];
  const report = new cjs.Mailroom(vector.options).processEvent(vector.event, vector.now, vector.seed, vector.outcomes, new cjs.LookupFixtures(vector.lookups));
  assert.deepStrictEqual(report, vector.expected);
  assert.equal(cjs.Mailroom, Mailroom);
  assert.equal(cjs.LookupFixtures, LookupFixtures);
});

test("the web build, initialized from bytes, gives the native reports too", () => {
  const bytes = fs.readFileSync(require.resolve("mailroom-wasm/web/mailroom_wasm_bg.wasm"));
  web.initSync(bytes);
  for (const vector of cases) {
    const mailroom = new web.Mailroom(vector.options);
    const report = mailroom.processEvent(vector.event, vector.now, vector.seed, vector.outcomes, vector.lookups);
    assert.deepStrictEqual(report, vector.expected, vector.name);
    // The web build's own loop, its own fixtures class.
    const batch = mailroom.startBatch(vector.event, vector.now, vector.seed);
    const fixtures = new web.LookupFixtures(vector.lookups ?? {});
    for (let round = batch.lookups(); round.length > 0; round = batch.lookups()) {
      for (const request of round) batch.answerLookupFrom(request.id, fixtures);
    }
    for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) batch.completeSend(send.id, outcomeFor(vector, send));
    assert.deepStrictEqual(batch.finish(), vector.expected, `${vector.name}: the web batch loop`);
  }
});
