// Parity: the package decides and renders every shared vector exactly as the native core did.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";

import { Mailroom } from "mailroom-wasm";
import * as web from "mailroom-wasm/web";

import { loadCases, outcomeFor } from "./vectors.mjs";

const require = createRequire(import.meta.url);
const cases = loadCases();

test("the shared vectors are present, each with its native snapshot", () => {
  assert.ok(cases.length >= 10, `only ${cases.length} cases found`);
  for (const vector of cases) assert.ok(vector.expected, `${vector.name} has no snapshot`);
});

for (const vector of cases) {
  test(`${vector.name}: processEvent equals the native report`, () => {
    const mailroom = new Mailroom(vector.options);
    const report = mailroom.processEvent(vector.event, vector.now, vector.seed, vector.outcomes);
    assert.deepStrictEqual(report, vector.expected);
  });

  test(`${vector.name}: the host batch loop equals the native report`, () => {
    const mailroom = new Mailroom(vector.options);
    const batch = mailroom.startBatch(vector.event, vector.now, vector.seed);
    for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) {
      batch.completeSend(send.id, outcomeFor(vector, send.messageId));
    }
    assert.deepStrictEqual(batch.finish(), vector.expected);
  });

  test(`${vector.name}: decide agrees with the report, record by record`, () => {
    const mailroom = new Mailroom(vector.options);
    const records = vector.event.Records ?? [];
    const grouped = records.some((record) => (record.eventSourceARN ?? "").endsWith(".fifo"));
    // FIFO blocking and send outcomes are batch effects; a record alone is decided before sending.
    records.forEach((record, index) => {
      const decided = mailroom.decide(record, vector.now, vector.seed);
      const reported = vector.expected.records[index];
      assert.equal(decided.messageId, reported.messageId);
      if (decided.decision === "send" && reported.decision === "send") {
        assert.deepStrictEqual(decided.email, reported.email);
        assert.equal(decided.route, reported.route);
      } else if (!grouped && reported.decision !== "send" && decided.decision !== "send") {
        assert.deepStrictEqual(decided, reported);
      }
    });
  });
}

test("CommonJS require gives the same API and the same results as the ES module import", () => {
  const cjs = require("mailroom-wasm");
  const vector = cases.find((candidate) => candidate.name === "examples-quickstart") ?? cases[0];
  const report = new cjs.Mailroom(vector.options).processEvent(vector.event, vector.now, vector.seed, vector.outcomes);
  assert.deepStrictEqual(report, vector.expected);
  assert.equal(cjs.Mailroom, Mailroom);
});

test("the web build, initialized from bytes, gives the native reports too", () => {
  const bytes = fs.readFileSync(require.resolve("mailroom-wasm/web/mailroom_wasm_bg.wasm"));
  web.initSync(bytes);
  for (const vector of cases) {
    const report = new web.Mailroom(vector.options).processEvent(vector.event, vector.now, vector.seed, vector.outcomes);
    assert.deepStrictEqual(report, vector.expected, vector.name);
  }
});
