// The same bytes as the Rust Lambda: for every email of the shared vector whose native MIME
// messages are pinned in tests/vectors/mime/, the package's rawMessage gives those bytes exactly.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Mailroom, MailroomError } from "mailroom-wasm";

import { answerLookups, loadCases, loadGoldenMime, outcomeFor } from "./vectors.mjs";

const vector = loadCases().find((candidate) => candidate.name === "examples-quickstart");
const golden = loadGoldenMime(vector.name);

test("rawMessage gives the native MIME bytes of every email, byte for byte", () => {
  const batch = new Mailroom(vector.options).startBatch(vector.event, vector.now, vector.seed);
  answerLookups(batch, vector);
  const seen = [];
  for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) {
    const bytes = batch.rawMessage(send.id, vector.now);
    assert.ok(bytes instanceof Uint8Array);
    const expected = golden.get(send.messageId);
    assert.ok(expected, `no golden message for ${send.messageId}`);
    // Buffer.equals rather than deepStrictEqual: a mismatch reports as text, which shows where.
    assert.ok(Buffer.from(bytes).equals(expected), `${send.messageId}:\n${Buffer.from(bytes).toString("utf8")}`);
    seen.push(send.messageId);
    batch.completeSend(send.id, outcomeFor(vector, send));
  }
  assert.deepStrictEqual(seen.sort(), [...golden.keys()].sort());
  batch.finish();
});

test("rawMessage is dated by its argument and refuses sends that are not in flight", () => {
  const batch = new Mailroom(vector.options).startBatch(vector.event, vector.now, vector.seed);
  const send = batch.nextSend();
  const later = Buffer.from(batch.rawMessage(send.id, vector.now + 86_400_000)).toString("utf8");
  assert.match(later, /^Date: Tue, 24 Nov 2026 10:00:00 \+0000\r$/m);
  assert.throws(() => batch.rawMessage(send.id, 1.5), { name: "MailroomError", kind: "input" });
  batch.completeSend(send.id, outcomeFor(vector, send));
  assert.throws(() => batch.rawMessage(send.id, vector.now), (error) => error instanceof MailroomError && error.kind === "input" && /not yet completed/.test(error.message));
  batch.finish();
  assert.throws(() => batch.rawMessage(send.id, vector.now), { name: "MailroomError", kind: "batch" });
});
