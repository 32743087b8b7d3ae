// The example Lambda end to end: the compiled handler (dist/) with the real package, the real
// AWS SDK SES v2 and DynamoDB clients and moto's servers on 127.0.0.1. The lookups are read from
// a moto table holding the shipped fixtures; the batch response must equal the one the native
// core gives for the same event; the mail moto received must be, byte for byte, the MIME
// messages the Rust Lambda sends for the same records at the same time.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateEmailIdentityCommand, SESv2Client } from "@aws-sdk/client-sesv2";
import { marshall } from "@aws-sdk/util-dynamodb";
import { Mailroom } from "mailroom-wasm";

import { loadCases, loadGoldenMime } from "../../../wasm/tests/vectors.mjs";
import { loadTemplates, makeHandler } from "../dist/handler.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const examples = path.join(root, "examples");
const templates = loadTemplates(path.join(examples, "templates"));
const routes = fs.readFileSync(path.join(examples, "templates", "routes.json"), "utf8");
const quickstart = JSON.parse(fs.readFileSync(path.join(examples, "events/quickstart.json"), "utf8"));
// The shared vector of the shipped examples (the quickstart event with examples/templates/routes.json and
// examples/templates) and the native MIME bytes of its emails, pinned by wasm/src/tests.rs.
const vector = loadCases().find((candidate) => candidate.name === "examples-quickstart");
const golden = loadGoldenMime(vector.name);

let moto;
let endpoint;

function motoServer() {
  const candidates = [process.env.MAILROOM_TOOLS && path.join(process.env.MAILROOM_TOOLS, "python/bin/moto_server"), ...(process.env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir, "moto_server"))];
  const found = candidates.find((candidate) => candidate && fs.existsSync(candidate));
  if (!found) throw new Error("moto_server is not installed (scripts/steps/15-services.sh installs it)");
  return found;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

before(async () => {
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  moto = spawn(motoServer(), ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  for (let attempt = 0; ; attempt += 1) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 150) throw new Error("moto_server did not answer within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  Object.assign(process.env, { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" });
});

after(() => {
  if (moto?.pid) process.kill(moto.pid);
});

async function resetMoto() {
  await fetch(`${endpoint}/moto-api/reset`, { method: "POST" }).catch(() => undefined);
}

/** The `enrollments` table with the shipped fixtures' items, written as DynamoDB stores them. */
async function enrollmentsTable() {
  const dynamodb = new DynamoDBClient({});
  await dynamodb.send(
    new CreateTableCommand({
      TableName: "enrollments",
      KeySchema: [{ AttributeName: "PK", KeyType: "HASH" }, { AttributeName: "SK", KeyType: "RANGE" }],
      AttributeDefinitions: [{ AttributeName: "PK", AttributeType: "S" }, { AttributeName: "SK", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  const fixtures = JSON.parse(vector.lookups);
  const items = fixtures.enrollments.map((entry) => ({ ...(entry.Item ?? marshall(entry.item)), ...marshall(entry.key) }));
  await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { enrollments: items.map((Item) => ({ PutRequest: { Item } })) } }));
  return items.length;
}

async function received() {
  const data = await (await fetch(`${endpoint}/moto-api/data.json`)).json();
  // Raw content: moto keeps the whole MIME message, decoded to text.
  return data.ses?.RawMessage ?? [];
}

function handlerWith(mailroom, overrides = {}) {
  const lines = [];
  const handler = makeHandler({ mailroom, ses: new SESv2Client({}), dynamodb: new DynamoDBClient({}), maxConcurrentSends: 4, deadlineMarginMs: 1000, log: (line) => lines.push(JSON.parse(line)), ...overrides });
  return { handler, lines };
}

const plenty = { getRemainingTimeInMillis: () => 60_000 };

test("the quickstart event: lookups from DynamoDB, nine emails through SES, the Rust Lambda's bytes and its batch response", async () => {
  await resetMoto();
  const ses = new SESv2Client({});
  await ses.send(new CreateEmailIdentityCommand({ EmailIdentity: "academy.example.com" }));
  assert.equal(await enrollmentsTable(), 3);
  const mailroom = new Mailroom(vector.options);
  // The vector's clock: the batch's time and every message's Date header.
  const { handler, lines } = handlerWith(mailroom, { clock: () => vector.now });

  const response = await handler(vector.event, plenty);

  // What the native core reports with the same items answered from the fixtures file.
  const expected = mailroom.processEvent(vector.event, vector.now, 1, undefined, vector.lookups);
  assert.ok(expected.records.some((record) => record.route === "welcome" && record.decision === "send"));
  assert.deepStrictEqual(response, expected.batchResponse);
  assert.equal(response.batchItemFailures.length, 3);
  assert.deepStrictEqual(lines.map((line) => line.decision), expected.records.map((record) => record.decision));
  const mail = await received();
  const sent = expected.records.filter((record) => record.decision === "send");
  assert.equal(mail.length, 9);
  assert.equal(sent.length, 9);
  for (const record of sent) {
    // The idempotency key header tells which record a message is.
    const header = `X-Mailroom-Idempotency-Key: ${record.email.idempotencyKey}\r\n`;
    const message = mail.find((entry) => entry.raw_data.includes(header));
    assert.ok(message, `no message carries ${header}`);
    const bytes = Buffer.from(message.raw_data, "utf8");
    assert.ok(bytes.equals(golden.get(record.messageId)), `${record.messageId}: SES received other bytes than the Rust Lambda sends:\n${message.raw_data}`);
    assert.match(message.source, /^"Mailroom Academy" <notifications@academy\.example\.com>$/);
  }
  for (const line of lines.filter((entry) => entry.decision === "send")) assert.ok(line.providerMessageId, "SES message id logged");
});

test("a table DynamoDB does not have: the records that need it are retried (lookup_failed), the others are sent", async () => {
  await resetMoto();
  await new SESv2Client({}).send(new CreateEmailIdentityCommand({ EmailIdentity: "academy.example.com" }));
  const { handler, lines } = handlerWith(new Mailroom({ templates, routes, env: { ENROLLMENTS_TABLE: "no-such-table" } }));
  const welcome = quickstart.Records.find((record) => record.body.includes("EnrollmentCompleted"));
  const order = quickstart.Records.find((record) => record.body.includes('"order_number"'));
  const response = await handler({ Records: [welcome, order] }, plenty);
  assert.deepStrictEqual(response.batchItemFailures, [{ itemIdentifier: welcome.messageId }]);
  assert.deepStrictEqual(lines.map((line) => line.reason ?? line.decision), ["lookup_failed", "send"]);
  assert.match(lines[0].detail, /ResourceNotFoundException/);
  assert.equal((await received()).length, 1);
});

test("an SES refusal (unverified sender) rejects every record with ses_rejected", async () => {
  await resetMoto();
  const mailroom = new Mailroom({ templates, routes: { ...JSON.parse(routes), sender: "Nobody <nobody@unverified.example>" } });
  const { handler, lines } = handlerWith(mailroom);
  const event = { Records: quickstart.Records.slice(0, 3) };
  const response = await handler(event, plenty);
  assert.deepStrictEqual(response.batchItemFailures.map((failure) => failure.itemIdentifier), event.Records.map((record) => record.messageId));
  assert.deepStrictEqual(lines.map((line) => line.reason), ["ses_rejected", "ses_rejected", "ses_rejected"]);
  assert.deepStrictEqual(await received(), []);
});

test("too little time left: nothing is sent and every record is retried (deadline)", async () => {
  await resetMoto();
  const { handler, lines } = handlerWith(new Mailroom({ templates, routes }));
  const event = { Records: quickstart.Records.slice(0, 2) };
  const response = await handler(event, { getRemainingTimeInMillis: () => 500 });
  assert.equal(response.batchItemFailures.length, 2);
  assert.deepStrictEqual(lines.map((line) => line.reason), ["deadline", "deadline"]);
  assert.deepStrictEqual(await received(), []);
});

test("an unreadable event fails the invocation, so every record is retried", async () => {
  const { handler } = handlerWith(new Mailroom({ templates, routes }));
  await assert.rejects(handler({ Records: [{ body: "{}" }] }, plenty), { name: "MailroomError", kind: "event" });
});
