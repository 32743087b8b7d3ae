// Cold start of a Node service: fresh `node` processes, each loading the package and building a
// Mailroom from the shipped examples (examples/templates read from disk, with its routes.json),
// as examples/node-lambda does at init. Reports the median and p90 over the processes of:
//   * start → constructed: from the process's time origin (its start) to the constructed
//     Mailroom, as the process itself measures it (performance.now());
//   * of which load + construct: from the first line of the script (Node's own start-up done) to
//     the constructed Mailroom: reading the templates, loading and compiling the module, new Mailroom;
//   * of which load + construct, CPU: the process's CPU time over the same part, every thread
//     (V8 compiles on helper threads): on a shared machine the wall figures include waiting
//     for a core, this does not;
//   * of that, the package's load alone (require or import: read, compile and instantiate the
//     module) and the first `new Mailroom` alone (the templates are read in between);
//   * spawn → constructed: as this parent sees it, exec and Node's start-up included;
// and, for scale, Node's own start-up alone (an empty script) and the module's compilation alone
// (`new WebAssembly.Module` of the Node module's bytes, reading them not counted).
//
//   node load.mjs [N=25]     MAILROOM_WASM_PKG=dir measures another build's package folder
//                            MAILROOM_NODE_FLAGS="--flag ..." runs the children with V8 flags
//                            (diagnosis only: e.g. --no-wasm-lazy-compilation)
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { repoRoot } from "./vectors.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const count = Number(process.argv[2] ?? 25);
const pkg = process.env.MAILROOM_WASM_PKG ? path.resolve(process.env.MAILROOM_WASM_PKG) : undefined;
const examples = path.join(repoRoot, "examples");

// What a service does at init. `entry` is how it loads the package.
const child = (entry) => `
const scriptStart = performance.now();
const cpuStart = process.cpuUsage();
${entry}
const loaded = performance.now();
const fs = require("node:fs"), path = require("node:path");
const root = ${JSON.stringify(path.join(examples, "templates"))};
const templates = {};
const walk = (dir) => { for (const e of fs.readdirSync(dir, { withFileTypes: true })) { const full = path.join(dir, e.name); if (e.isDirectory()) walk(full); else templates[path.relative(root, full).split(path.sep).join("/")] = fs.readFileSync(full, "utf8"); } };
walk(root);
const read = performance.now();
const mailroom = new Mailroom({ templates, routes: fs.readFileSync(${JSON.stringify(path.join(examples, "templates", "routes.json"))}, "utf8") });
const done = performance.now();
const cpu = process.cpuUsage(cpuStart);
process.stdout.write(JSON.stringify({ done, work: done - scriptStart, cpu: (cpu.user + cpu.system) / 1000, load: loaded - scriptStart, construct: done - read }));`;
const target = JSON.stringify(pkg ? path.join(pkg, "node/index.mjs") : "mailroom-wasm");
const requireTarget = JSON.stringify(pkg ? path.join(pkg, "node/index.cjs") : "mailroom-wasm");
const variants = {
  "require (CommonJS)": ["-e", child(`const { Mailroom } = require(${requireTarget});`)],
  "import (ES module)": ["--input-type=module", "-e", `import { createRequire } from "node:module"; const require = createRequire(${JSON.stringify(path.join(here, "load.mjs"))}); ${child(`const { Mailroom } = await import(${target});`)}`],
  "compile the module alone": ["-e", `const bytes = require("node:fs").readFileSync(${JSON.stringify(path.join(pkg ?? path.join(here, "../pkg"), "node/mailroom_wasm_bg.wasm"))}); const scriptStart = performance.now(); const cpuStart = process.cpuUsage(); new WebAssembly.Module(bytes); const done = performance.now(); const cpu = process.cpuUsage(cpuStart); process.stdout.write(JSON.stringify({ done, work: done - scriptStart, cpu: (cpu.user + cpu.system) / 1000 }))`],
  "node alone (empty script)": ["-e", `process.stdout.write(JSON.stringify({ done: performance.now(), work: 0, cpu: 0 }))`],
};

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { median: Number(at(0.5).toFixed(1)), p90: Number(at(0.9).toFixed(1)), min: Number(sorted[0].toFixed(1)) };
};
const nodeFlags = (process.env.MAILROOM_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
// Interleaved, so the machine's load changes hit every variant alike.
for (let index = 0; index < count; index += 1) {
  for (const [name, args] of Object.entries(variants)) {
    const spawned = performance.now();
    const answer = spawnSync(process.execPath, [...nodeFlags, ...args], { cwd: here, encoding: "utf8" });
    const seen = performance.now() - spawned;
    if (answer.status !== 0) throw new Error(`${name}: ${answer.stderr}`);
    const { done, work, cpu, load, construct } = JSON.parse(answer.stdout);
    samples[name].push({ done, work, cpu, load, construct, seen });
  }
}
const report = { node: process.version, flags: nodeFlags, processes: count, ms: {} };
for (const [name, runs] of Object.entries(samples)) {
  report.ms[name] = {
    "start → constructed": stats(runs.map((run) => run.done)),
    "load + construct": stats(runs.map((run) => run.work)),
    "load + construct, CPU": stats(runs.map((run) => run.cpu)),
    // Only the variants that load the package and construct split their time so.
    ...(runs[0].load === undefined
      ? {}
      : {
          "of which load": stats(runs.map((run) => run.load)),
          "of which the first new Mailroom": stats(runs.map((run) => run.construct)),
        }),
    "spawn → constructed": stats(runs.map((run) => run.seen)),
  };
}
console.log(JSON.stringify(report, null, 2));
