// The wasm benchmark: the whole per-record path of a Node service on the realistic order record
// (examples/events/order-eventbridge.json with examples/templates and its routes.json), next
// to Handlebars rendering the equivalent templates in the same process; plus the module load
// time and the template compilation a cold start pays. Run with `node bench.mjs` after
// wasm/build.sh; the figures go to BENCHMARKS.md (## wasm).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Mailroom } from "mailroom-wasm";

import { handlebarsPipeline } from "./bench/handlebars.mjs";
import { loadTemplates, repoRoot } from "./vectors.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const examples = path.join(repoRoot, "examples");
const eventText = fs.readFileSync(path.join(examples, "events/order-eventbridge.json"), "utf8");
const routes = JSON.parse(fs.readFileSync(path.join(examples, "templates", "routes.json"), "utf8"));
const templates = loadTemplates(path.join(examples, "templates"));
const NOW = 1_795_428_000_000;

/** Median time per call in microseconds over `rounds` rounds of at least `roundMs` each. */
function measure(run, { rounds = 7, roundMs = 400 } = {}) {
  for (let index = 0; index < 300; index += 1) run(); // warm-up: JIT and caches
  const perCall = [];
  for (let round = 0; round < rounds; round += 1) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0n;
    while (elapsed < BigInt(roundMs) * 1_000_000n) {
      for (let index = 0; index < 50; index += 1) run();
      calls += 50;
      elapsed = process.hrtime.bigint() - start;
    }
    perCall.push(Number(elapsed) / 1000 / calls);
  }
  perCall.sort((a, b) => a - b);
  return perCall[Math.floor(perCall.length / 2)];
}

// ---------------------------------------------------------------- mailroom-wasm
const mailroom = new Mailroom({ templates, routes });
const wasmPerRecord = () => {
  // As a Lambda receives it: the event object; as it answers: the report object.
  const event = JSON.parse(eventText);
  return mailroom.processEvent(event, NOW, 7);
};
const wasmHostLoop = () => {
  const batch = mailroom.startBatch(JSON.parse(eventText), NOW, 7);
  for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) {
    batch.completeSend(send.id, { outcome: "accepted", messageId: `ses-${send.messageId}` });
  }
  return batch.finish();
};
const report = wasmPerRecord();
if (report.records[0]?.decision !== "send") throw new Error(`the order record was not sent: ${JSON.stringify(report.records[0])}`);

// ---------------------------------------------------------------- Handlebars, the same work in JavaScript
const handlebarsPerRecord = () => handlebarsPipeline(eventText, NOW);
const handlebarsReport = handlebarsPerRecord();
if (handlebarsReport.records[0].email.html.length < 2000) throw new Error("the Handlebars rendering is incomplete");

// ---------------------------------------------------------------- load and cold start
const packageDir = path.dirname(fileURLToPath(import.meta.resolve("mailroom-wasm/package.json")));
function loadTime(code) {
  const samples = [];
  for (let index = 0; index < 9; index += 1) {
    samples.push(Number(execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: here, encoding: "utf8" }).trim()));
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}
const requireMs = loadTime(
  `import { createRequire } from "node:module"; const require = createRequire(${JSON.stringify(path.join(here, "bench.mjs"))});
   const start = performance.now(); require("mailroom-wasm"); console.log(performance.now() - start);`,
);
const importMs = loadTime(`const start = performance.now(); await import("mailroom-wasm"); console.log(performance.now() - start);`);
const compileMs = measure(() => new Mailroom({ templates, routes }).free(), { rounds: 5, roundMs: 300 }) / 1000;

const wasmFile = path.join(packageDir, "node/mailroom_wasm_bg.wasm");
const wasmBytes = fs.readFileSync(wasmFile);
const { brotliCompressSync, constants, gzipSync } = await import("node:zlib");

const figures = {
  node: process.version,
  wasmRawBytes: wasmBytes.length,
  wasmGzipBytes: gzipSync(wasmBytes, { level: 9 }).length,
  wasmBrotliBytes: brotliCompressSync(wasmBytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  requireMs: Number(requireMs.toFixed(2)),
  importMs: Number(importMs.toFixed(2)),
  compileExampleTemplatesMs: Number(compileMs.toFixed(3)),
  wasmPerRecordUs: Number(measure(wasmPerRecord).toFixed(2)),
  wasmHostLoopPerRecordUs: Number(measure(wasmHostLoop).toFixed(2)),
  handlebarsPerRecordUs: Number(measure(handlebarsPerRecord).toFixed(2)),
};
console.log(JSON.stringify(figures, null, 2));
