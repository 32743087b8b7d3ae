// Loads the shared vectors (tests/vectors/cases/*.json) and the native core's snapshots of them
// (tests/vectors/snapshots/*.snap), so the package can be run on exactly what the native tests ran.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { LookupFixtures, Mailroom } from "mailroom-wasm";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const casesDir = path.join(repoRoot, "tests/vectors/cases");
const snapshotsDir = path.join(repoRoot, "tests/vectors/snapshots");
const mimeDir = path.join(repoRoot, "tests/vectors/mime");

/** Every template under `dir` (by the core's rule), keyed by its path relative to `dir` with `/` separators. */
export function loadTemplates(dir) {
  const templates = {};
  const walk = (current) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const name = path.relative(dir, full).split(path.sep).join("/");
      if (entry.isDirectory()) walk(full);
      else if (Mailroom.isTemplatePath(name)) templates[name] = fs.readFileSync(full, "utf8");
    }
  };
  walk(dir);
  return templates;
}

/** The JSON after the insta header (`---` ... `---`). */
export function parseSnapshot(text) {
  const lines = text.split("\n");
  if (lines[0] !== "---") throw new Error("snapshot without an insta header");
  const end = lines.indexOf("---", 1);
  if (end < 0) throw new Error("snapshot header is not closed");
  return JSON.parse(lines.slice(end + 1).join("\n"));
}

function snapshotFor(name) {
  const file = fs.readdirSync(snapshotsDir).find((entry) => entry.endsWith(`@${name}.json.snap`));
  return file === undefined ? undefined : parseSnapshot(fs.readFileSync(path.join(snapshotsDir, file), "utf8"));
}

/** Every case: its options for `new Mailroom`, its run arguments and the native report. */
export function loadCases() {
  return fs
    .readdirSync(casesDir)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => {
      const name = file.slice(0, -".json".length);
      const text = fs.readFileSync(path.join(casesDir, file), "utf8");
      const vector = JSON.parse(text);
      // The seed is a u64: read its digits, not a float that may have rounded them.
      const seed = BigInt(/"seed"\s*:\s*(\d+)/.exec(text)?.[1] ?? "0");
      const templates = vector.templates ?? (vector.templateDir ? loadTemplates(path.join(repoRoot, vector.templateDir)) : {});
      const options = { templates, env: vector.env ?? {} };
      if (vector.routes !== undefined) options.routes = vector.routes;
      // The lookup fixtures, as the harness reads them: inline, else its templateDir's lookups.json.
      const fixturesFile = vector.templateDir ? path.join(repoRoot, vector.templateDir, "lookups.json") : undefined;
      const lookups = vector.lookups ?? (fixturesFile && fs.existsSync(fixturesFile) ? fs.readFileSync(fixturesFile, "utf8") : undefined);
      return {
        name,
        description: vector.description,
        options,
        event: vector.event,
        now: vector.now,
        seed,
        outcomes: vector.outcomes ?? {},
        lookups,
        expected: snapshotFor(name),
      };
    });
}

/**
 * Answers every round of `batch`'s lookups from the case's fixtures, as every host's vector test
 * does before sending: through the core's own fixtures (LookupFixtures), not a matcher of ours.
 * Returns the requests of each round.
 */
export function answerLookups(batch, vector) {
  const fixtures = new LookupFixtures(vector.lookups ?? {});
  const rounds = [];
  try {
    for (let round = batch.lookups(); round.length > 0; round = batch.lookups()) {
      for (const request of round) batch.answerLookupFrom(request.id, fixtures);
      rounds.push(round);
    }
  } finally {
    fixtures.free();
  }
  return rounds;
}

/**
 * The outcome the vectors assume for a send: the case's, else accepted. A case names a record's
 * email by its message id and its text by `<messageId>/sms` (the core's `answer_key`).
 */
export function outcomeFor(vector, send) {
  const sms = send.channel === "sms";
  const key = sms ? `${send.messageId}/sms` : send.messageId;
  return vector.outcomes[key] ?? { outcome: "accepted", messageId: `${sms ? "sns" : "ses"}-${send.messageId}` };
}

/**
 * The MIME messages the native core and mailroom-mime give for case `name`'s emails, by SQS
 * message id: the bytes the Rust Lambda hands SES (pinned by wasm/src/tests.rs; only some cases
 * have them).
 */
export function loadGoldenMime(name) {
  const dir = path.join(mimeDir, name);
  return new Map(
    fs
      .readdirSync(dir)
      .filter((file) => file.endsWith(".eml"))
      .map((file) => [file.slice(0, -".eml".length), fs.readFileSync(path.join(dir, file))]),
  );
}
