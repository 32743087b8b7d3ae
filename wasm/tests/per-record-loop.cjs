// The package's processEvent on the order record, N times (the event's JSON text in, the report
// object out), a loop to profile: node --cpu-prof per-record-loop.cjs N. bench.mjs times the same path.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
// MAILROOM_WASM_PKG: another build's package folder (e.g. one built at a different opt-level).
const pkg = process.env.MAILROOM_WASM_PKG ?? path.dirname(require.resolve("mailroom-wasm/package.json"));
const { Mailroom } = require(path.join(path.resolve(pkg), "node/index.cjs"));

const examples = path.join(__dirname, "../../examples");
const templates = {};
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else templates[path.relative(path.join(examples, "templates"), full).split(path.sep).join("/")] = fs.readFileSync(full, "utf8");
  }
};
walk(path.join(examples, "templates"));
const mailroom = new Mailroom({ templates, routes: fs.readFileSync(path.join(examples, "templates", "routes.json"), "utf8") });
const event = fs.readFileSync(path.join(examples, "events/order-eventbridge.json"), "utf8");
const count = Number(process.argv[2] ?? 1000);
let bytes = 0;
for (let index = 0; index < count; index += 1) bytes += mailroom.processEvent(event, 1795428000000, 7).records[0].email.html.length;
console.log(bytes);
