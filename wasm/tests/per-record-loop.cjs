// The Node half of bench-cpu.sh: the raw module's processEvent on the order record, N times.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
// MAILROOM_WASM_GLUE: another build's wasm-bindgen glue (e.g. one built at a different opt-level).
const glue = process.env.MAILROOM_WASM_GLUE ?? path.join(path.dirname(require.resolve("mailroom-wasm/package.json")), "node/mailroom_wasm.js");
const raw = require(glue);

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
const mailroom = new raw.RawMailroom(JSON.stringify(templates), fs.readFileSync(path.join(examples, "templates", "routes.json"), "utf8"), "{}");
const event = fs.readFileSync(path.join(examples, "events/order-eventbridge.json"), "utf8");
const count = Number(process.argv[2] ?? 1000);
let bytes = 0;
for (let index = 0; index < count; index += 1) bytes += mailroom.processEvent(event, 1795428000000, 7n).length;
console.log(bytes);
