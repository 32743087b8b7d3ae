// mailroom-wasm for Node, ES module entry: the CommonJS build, so both share one module instance.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const api = require("./index.cjs");

export const Mailroom = api.Mailroom;
export const Batch = api.Batch;
export const LookupFixtures = api.LookupFixtures;
export const MailroomError = api.MailroomError;
