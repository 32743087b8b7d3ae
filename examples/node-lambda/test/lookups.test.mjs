// The BatchGetItem reader's own rules, where moto cannot help: DynamoDB leaving keys unprocessed
// (moto never does), calls packed to the 100-key limit and split by read consistency. A stand-in
// `send` answers like DynamoDB and records the calls; the end-to-end test reads from moto.
import { test } from "node:test";
import assert from "node:assert/strict";

import { readLookups } from "../dist/lookups.js";

const request = (id, pk, { table = "enrollments", consistentRead = true } = {}) => ({ id, table, key: { PK: { S: pk } }, consistentRead, cacheSeconds: 0, lookup: "student" });

/** A DynamoDB stand-in: `answer(input, call)` gives each call's output; every input is kept. */
function dynamodb(answer) {
  const calls = [];
  return {
    calls,
    send: async (command) => {
      calls.push(command.input);
      return answer(command.input, calls.length);
    },
  };
}

test("unprocessed keys are asked again; found, missing and unprocessed keys get their own answers", async () => {
  const fake = dynamodb((input, call) => {
    const keys = input.RequestItems.enrollments.Keys;
    if (call === 1) return { Responses: { enrollments: [{ PK: { S: "A" }, name: { S: "Ana" } }] }, UnprocessedKeys: { enrollments: { Keys: keys.filter((key) => key.PK.S === "B") } } };
    return { Responses: { enrollments: [{ PK: { S: "B" }, name: { S: "Ben" } }] }, UnprocessedKeys: {} };
  });
  const answers = await readLookups({ dynamodb: fake, remainingMs: () => 10_000, backoffMs: 1 }, [request(0, "A"), request(1, "B"), request(2, "C")]);
  assert.deepStrictEqual(Object.fromEntries(answers), {
    0: { found: { PK: { S: "A" }, name: { S: "Ana" } } },
    1: { found: { PK: { S: "B" }, name: { S: "Ben" } } },
    2: { notFound: true },
  });
  assert.deepStrictEqual(fake.calls[1].RequestItems.enrollments.Keys, [{ PK: { S: "B" } }]);
});

test("keys still unprocessed at the deadline are throttled reads; a failed call fails its keys", async () => {
  const stuck = dynamodb((input) => ({ Responses: {}, UnprocessedKeys: { enrollments: input.RequestItems.enrollments } }));
  const late = await readLookups({ dynamodb: stuck, remainingMs: () => 0 }, [request(0, "A")]);
  assert.deepStrictEqual(late.get(0), { failed: "throttled", detail: "keys left unprocessed until the deadline" });

  const throttled = Object.assign(new Error("Rate of requests exceeds the allowed throughput."), { name: "ProvisionedThroughputExceededException" });
  const slow = dynamodb(() => Promise.reject(throttled));
  assert.equal((await readLookups({ dynamodb: slow, remainingMs: () => 10_000 }, [request(0, "A")])).get(0).failed, "throttled");
  const denied = dynamodb(() => Promise.reject(Object.assign(new Error("no"), { name: "AccessDeniedException" })));
  assert.deepStrictEqual((await readLookups({ dynamodb: denied, remainingMs: () => 10_000 }, [request(0, "A")])).get(0), { failed: "unavailable", detail: "AccessDeniedException: no" });
});

test("a round goes in calls of at most 100 keys, one consistency per table and call", async () => {
  const fake = dynamodb(() => ({ Responses: {} }));
  const round = [
    ...Array.from({ length: 150 }, (_, index) => request(index, `K${index}`)),
    request(150, "E", { consistentRead: false }),
    request(151, "O", { table: "orders" }),
  ];
  const answers = await readLookups({ dynamodb: fake, remainingMs: () => 10_000 }, round);
  assert.equal(answers.size, 152);
  const shapes = fake.calls.map((input) => Object.entries(input.RequestItems).map(([table, items]) => [table, items.Keys.length, items.ConsistentRead]));
  // Packed greedily: the orders key joins the second call, the eventually consistent key needs its own.
  assert.deepStrictEqual(shapes, [[["enrollments", 100, true]], [["enrollments", 50, true], ["orders", 1, true]], [["enrollments", 1, false]]]);
  assert.deepStrictEqual(fake.calls[0].RequestItems.enrollments.Keys.slice(0, 2), [{ PK: { S: "K0" } }, { PK: { S: "K1" } }]);
  assert.ok([...answers.values()].every((answer) => answer.notFound === true));
});
