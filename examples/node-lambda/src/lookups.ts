// A batch's lookups read from DynamoDB with BatchGetItem, as the Rust function reads them: one
// round at a time, up to 100 keys per call, keys DynamoDB leaves unprocessed asked again until
// the deadline, and each item handed to mailroom as the SDK returns it (mailroom converts
// DynamoDB's types itself, so there is no `unmarshall` here).
//
// `cacheSeconds` is not used: each invocation reads afresh. A cache across warm invocations is
// an optimisation the Rust function has; reading again is always correct.
import {
  BatchGetItemCommand,
  type AttributeValue,
  type BatchGetItemCommandOutput,
  type DynamoDBClient,
  type KeysAndAttributes,
} from "@aws-sdk/client-dynamodb";
import type { LookupAnswer, LookupRequest } from "mailroom-wasm";

/** BatchGetItem's limit of keys per call. */
const MAX_KEYS = 100;

/** Errors that mean "too fast": the read is retried later as throttled, not as broken. */
const THROTTLING = new Set(["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]);

/** What the reads need: a client (or anything with its `send`), and when to give up. */
export interface Reader {
  dynamodb: Pick<DynamoDBClient, "send">;
  /** Milliseconds left before the reads must end. */
  remainingMs: () => number;
  /** Pause before asking again for unprocessed keys. */
  backoffMs?: number;
}

/** A key's identity: its attributes' names, types and values, whichever object holds them. */
function keyOf(names: string[], item: Record<string, AttributeValue | { S: string } | { N: string }>): string {
  return JSON.stringify(names.map((name) => [name, item[name] ?? null]));
}

/**
 * The calls for one round: requests grouped by table and read consistency (BatchGetItem takes
 * one ConsistentRead per table), packed up to 100 keys per call, a table at most once a call.
 */
function callsFor(requests: LookupRequest[]): Map<string, LookupRequest[]>[] {
  const groups = new Map<string, LookupRequest[]>();
  for (const request of requests) {
    const group = `${request.consistentRead}\0${request.table}`;
    groups.set(group, [...(groups.get(group) ?? []), request]);
  }
  const calls: Map<string, LookupRequest[]>[] = [];
  for (const group of groups.values()) {
    for (let at = 0; at < group.length; at += MAX_KEYS) {
      const chunk = group.slice(at, at + MAX_KEYS);
      const table = chunk[0]?.table ?? "";
      const size = (call: Map<string, LookupRequest[]>) => [...call.values()].reduce((sum, list) => sum + list.length, 0);
      const call = calls.find((candidate) => !candidate.has(table) && size(candidate) + chunk.length <= MAX_KEYS);
      if (call) call.set(table, chunk);
      else calls.push(new Map([[table, chunk]]));
    }
  }
  return calls;
}

function failure(error: unknown): LookupAnswer {
  const failed = error instanceof Error ? error : new Error(String(error));
  return { failed: THROTTLING.has(failed.name) ? "throttled" : "unavailable", detail: `${failed.name}: ${failed.message}` };
}

/** Reads one call's keys, asking again for unprocessed ones; each request's answer by its id. */
async function readCall(reader: Reader, call: Map<string, LookupRequest[]>, answers: Map<number, LookupAnswer>): Promise<void> {
  let pending = call;
  for (let attempt = 0; pending.size > 0; attempt += 1) {
    const RequestItems: Record<string, KeysAndAttributes> = {};
    for (const [table, requests] of pending) {
      RequestItems[table] = { Keys: requests.map((request) => request.key), ConsistentRead: requests[0]?.consistentRead ?? true };
    }
    let output: BatchGetItemCommandOutput;
    try {
      output = await reader.dynamodb.send(new BatchGetItemCommand({ RequestItems }));
    } catch (error) {
      for (const requests of pending.values()) for (const request of requests) answers.set(request.id, failure(error));
      return;
    }
    const unprocessed = new Map<string, LookupRequest[]>();
    for (const [table, requests] of pending) {
      const names = Object.keys(requests[0]?.key ?? {});
      const found = new Map((output.Responses?.[table] ?? []).map((item) => [keyOf(names, item), item]));
      const left = new Set((output.UnprocessedKeys?.[table]?.Keys ?? []).map((key) => keyOf(names, key)));
      const again: LookupRequest[] = [];
      for (const request of requests) {
        const key = keyOf(names, request.key);
        const item = found.get(key);
        if (item) answers.set(request.id, { found: item });
        else if (left.has(key)) again.push(request);
        else answers.set(request.id, { notFound: true });
      }
      if (again.length > 0) unprocessed.set(table, again);
    }
    pending = unprocessed;
    const pause = (reader.backoffMs ?? 50) * 2 ** attempt;
    if (pending.size > 0 && reader.remainingMs() <= pause) {
      // Out of time: DynamoDB kept these back for throughput, so they are throttled reads.
      for (const requests of pending.values()) {
        for (const request of requests) answers.set(request.id, { failed: "throttled", detail: "keys left unprocessed until the deadline" });
      }
      return;
    }
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** The answers to one round of a batch's lookups, by request id. */
export async function readLookups(reader: Reader, requests: LookupRequest[]): Promise<Map<number, LookupAnswer>> {
  const answers = new Map<number, LookupAnswer>();
  await Promise.all(callsFor(requests).map((call) => readCall(reader, call, answers)));
  return answers;
}
