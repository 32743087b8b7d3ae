// The wasm benchmark: the whole per-record path of a Node service on the realistic order record
// (examples/events/order-eventbridge.json with examples/templates and its routes.json), next
// to Handlebars rendering the equivalent templates in the same process and, when
// MAILROOM_NATIVE_LOOP names the native loop (wasm/examples/per_record_loop.rs), the native core.
// `wasm/tests/bench-cpu.sh` builds that and runs this; the figures go to BENCHMARKS.md (## wasm).
//
// The contenders run interleaved, round after round, so a change of the machine's load hits all
// of them alike; each figure is the median over the rounds. The machine is shared, so the
// figures are CPU time, not wall time: of the whole process (what a Lambda's share of a vCPU
// pays for: the JavaScript engine's garbage collector works on helper threads) and of the main
// thread alone. Each round starts after a full collection, so no contender pays for another's
// garbage, and after a warm-up, so the wasm module's tier-up compilation is not counted.
//
//   MAILROOM_WASM_PKG=dir   another build's package folder   BENCH_ROUNDS=n   BENCH_ROUND_MS=ms
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

import { handlebarsPipeline } from "./bench/handlebars.mjs";
import { loadTemplates, repoRoot } from "./vectors.mjs";

const require = createRequire(import.meta.url);
const packageDir = path.resolve(process.env.MAILROOM_WASM_PKG ?? path.dirname(require.resolve("mailroom-wasm/package.json")));
const { Mailroom } = require(path.join(packageDir, "node/index.cjs"));

const examples = path.join(repoRoot, "examples");
const eventText = fs.readFileSync(path.join(examples, "events/order-eventbridge.json"), "utf8");
const routes = JSON.parse(fs.readFileSync(path.join(examples, "templates", "routes.json"), "utf8"));
const templates = loadTemplates(path.join(examples, "templates"));
const NOW = 1_795_428_000_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 600);

/** CPU time of this thread (the main one) in µs, from /proc: utime + stime in clock ticks. */
const TICK_US = 1e6 / Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);
function threadCpuUs() {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}

const processCpuUs = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
const collect = globalThis.gc ?? (() => {});

/** One round of `run` for at least ROUND_MS: µs per call, wall clock, process and thread CPU. */
function round(run) {
  collect();
  let calls = 0;
  const cpu = threadCpuUs();
  const all = processCpuUs();
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(ROUND_MS) * 1_000_000n) {
    for (let index = 0; index < 50; index += 1) run();
    calls += 50;
    elapsed = process.hrtime.bigint() - start;
  }
  return { wall: Number(elapsed) / 1000 / calls, process: (processCpuUs() - all) / calls, cpu: (threadCpuUs() - cpu) / calls };
}

// The native loop: a process of its own, so its CPU time is its rusage (N records minus 0).
const nativeLoop = process.env.MAILROOM_NATIVE_LOOP;
function nativeCpuUs(count) {
  const script = 'TIMEFORMAT="%3U %3S"; { time "$0" "$1" >/dev/null; } 2>&1';
  const answer = spawnSync("bash", ["-c", script, nativeLoop, String(count)], { encoding: "utf8" });
  if (answer.status !== 0) throw new Error(`${nativeLoop}: ${answer.stderr}`);
  const [user, system] = answer.stdout.trim().split(" ").map(Number);
  return (user + system) * 1e6;
}
const nativeBaseUs = nativeLoop ? Math.min(...[0, 1, 2].map(() => nativeCpuUs(0))) : 0;
const NATIVE_COUNT = 4000;
const nativeRound = () => {
  const cpu = (nativeCpuUs(NATIVE_COUNT) - nativeBaseUs) / NATIVE_COUNT;
  return { cpu, process: cpu, wall: NaN };
};

// ---------------------------------------------------------------- the contenders
const mailroom = new Mailroom({ templates, routes });
const contenders = {
  // As a Lambda receives it: the event object; as it answers: the report object.
  wasm: () => mailroom.processEvent(JSON.parse(eventText), NOW, 7),
  // The host loop of examples/node-lambda, without SES.
  wasmHostLoop: () => {
    const batch = mailroom.startBatch(JSON.parse(eventText), NOW, 7);
    for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) {
      batch.completeSend(send.id, { outcome: "accepted", messageId: `ses-${send.messageId}` });
    }
    return batch.finish();
  },
  // The same work in JavaScript: the event text parsed, the report object out.
  handlebars: () => handlebarsPipeline(eventText, NOW),
};
if (contenders.wasm().records[0]?.decision !== "send") throw new Error("the order record was not sent");
if (contenders.handlebars().records[0].email.html.length < 2000) throw new Error("the Handlebars rendering is incomplete");
for (const run of Object.values(contenders)) for (let index = 0; index < 2000; index += 1) run(); // warm-up: JIT, tier-up

const samples = Object.fromEntries([...Object.keys(contenders), ...(nativeLoop ? ["native"] : [])].map((name) => [name, []]));
const ratios = [];
for (let index = 0; index < ROUNDS; index += 1) {
  for (const [name, run] of Object.entries(contenders)) samples[name].push(round(run));
  if (nativeLoop) samples.native.push(nativeRound());
  const last = (name) => samples[name].at(-1).process;
  ratios.push(last("handlebars") / last("wasm"));
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
const fixed = (value, digits = 1) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : undefined);
/** Per contender: "median (min-max)" of one measure over the rounds. */
const figures = (measure) =>
  Object.fromEntries(
    Object.entries(samples).map(([name, rounds]) => {
      const values = rounds.map((r) => r[measure]);
      return [name, `${fixed(median(values))} (${fixed(Math.min(...values))}-${fixed(Math.max(...values))})`];
    }),
  );

const sizes = {};
for (const target of ["node", "web"]) {
  const file = path.join(packageDir, target, "mailroom_wasm_bg.wasm");
  if (!fs.existsSync(file)) continue;
  const bytes = fs.readFileSync(file);
  sizes[target] = {
    raw: bytes.length,
    gzip9: gzipSync(bytes, { level: 9 }).length,
    brotli11: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}
console.log(
  JSON.stringify(
    {
      node: process.version,
      package: packageDir,
      rounds: ROUNDS,
      perRecordProcessCpuUs: figures("process"),
      perRecordMainThreadCpuUs: figures("cpu"),
      perRecordWallUs: Object.fromEntries(Object.entries(contenders).map(([name]) => [name, fixed(median(samples[name].map((r) => r.wall)))])),
      handlebarsOverWasmProcessCpu: { median: fixed(median(ratios), 2), min: fixed(Math.min(...ratios), 2), max: fixed(Math.max(...ratios), 2) },
      moduleBytes: sizes,
    },
    null,
    2,
  ),
);
