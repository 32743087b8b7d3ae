// The Handlebars counterpart of per-record-loop.cjs, to profile: the JavaScript per-record path, N times.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { handlebarsPipeline } from "./bench/handlebars.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const event = fs.readFileSync(path.join(here, "../../examples/events/order-eventbridge.json"), "utf8");
const count = Number(process.argv[2] ?? 1000);
let bytes = 0;
for (let index = 0; index < count; index += 1) bytes += handlebarsPipeline(event, 1795428000000).records[0].email.html.length;
console.log(bytes);
