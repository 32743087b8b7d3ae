// The typed JavaScript API over the raw wasm-bindgen classes. This file is the shared body of
// the Node (CommonJS) and web (ES module) entries: build.sh wraps it with a prelude that binds
// `raw` (the wasm-bindgen glue) and an epilogue that exports the classes below.
//
// Arguments cross the boundary as JSON text and results come back as JSON text, serialized by
// the native core's own serde code, so what a service receives equals the native report. The
// large arguments (templates, events, records, data) go as UTF-8 bytes from `TextEncoder`: one
// native encode and one copy, where a string argument would be copied by wasm-bindgen's
// JavaScript loop, character by character (src/wasm.rs).

/** The one error class of the package; `kind` says which input (or our side) was at fault. */
class MailroomError extends Error {
  constructor(wire, options) {
    super(wire.message, options);
    this.name = "MailroomError";
    this.kind = wire.kind;
    if (wire.fault) {
      this.fault = wire.fault;
      this.template = wire.fault.template;
      this.line = wire.fault.line;
      this.column = wire.fault.column;
    }
    // A rendering that failed after its lookups were read says what each answered.
    if (Array.isArray(wire.lookups)) this.lookups = wire.lookups.map(previewLookup);
  }
}

/** A preview's lookup with its item as an object (the module gives the item's JSON text). */
function previewLookup(lookup) {
  return typeof lookup.item === "string" ? { ...lookup, item: JSON.parse(lookup.item) } : lookup;
}

const FOR_TEMPLATES = Symbol("mailroom.forTemplates");
const UTF8 = new TextEncoder();
const U64_LIMIT = 1n << 64n;

function inputError(argument, message) {
  return new MailroomError({ kind: "input", message: `${argument}: ${message}` });
}

/** Runs a raw call; a thrown error JSON becomes a MailroomError. */
function call(run) {
  try {
    return run();
  } catch (error) {
    if (typeof error === "string") {
      let wire;
      try {
        wire = JSON.parse(error);
      } catch {
        wire = { kind: "internal", message: error };
      }
      throw new MailroomError(wire);
    }
    if (typeof WebAssembly !== "undefined" && error instanceof WebAssembly.RuntimeError) {
      throw new MailroomError({ kind: "internal", message: `the WebAssembly module failed: ${error.message}` }, { cause: error });
    }
    throw error;
  }
}

/** JSON text of an argument: strings pass through (already JSON), values are stringified. */
function jsonArgument(argument, value, replacer) {
  if (typeof value === "string") return value;
  let text;
  try {
    text = JSON.stringify(value, replacer);
  } catch (error) {
    throw inputError(argument, `cannot be turned into JSON: ${error.message}`);
  }
  if (text === undefined) throw inputError(argument, `cannot be turned into JSON (it is ${typeof value})`);
  return text;
}

function objectArgument(argument, value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw inputError(argument, "must be an object");
  }
  return jsonArgument(argument, value);
}

/** The UTF-8 bytes of a JSON argument, for the raw calls that take them. */
const bytes = (text) => UTF8.encode(text);

function stringArgument(argument, value) {
  if (typeof value !== "string") throw inputError(argument, `must be a string, not ${typeof value}`);
  return value;
}

function timeArgument(value) {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw inputError("now", "must be a whole number of milliseconds since 1970 (Date.now())");
  }
  return value;
}

function seedArgument(value) {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "bigint" && value >= 0n && value < U64_LIMIT) return value;
  throw inputError("seed", "must be a non-negative safe integer or a bigint below 2^64");
}

function idArgument(value, from = "a send from nextSend()") {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) {
    throw inputError("id", `must be the id of ${from}`);
  }
  return value;
}

/** Standard base64 of bytes (DynamoDB JSON writes binary so). */
function base64(view) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let binary = "";
  for (let at = 0; at < bytes.length; at += 0x8000) binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(binary);
}

/**
 * JSON.stringify's replacer for DynamoDB items: the AWS SDK gives binary attributes (`B`, `BS`)
 * as Uint8Array, which JSON has no form for; DynamoDB JSON writes them as base64. The holder's
 * own value is read because a Buffer has already become `{type, data}` by its toJSON.
 */
function binaryAsBase64(key, value) {
  const original = this[key];
  return ArrayBuffer.isView(original) ? base64(original) : value;
}

/** The JSON of a lookup answer (`LookupAnswer` in the types): an object, its items' binary as base64. */
function answerArgument(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw inputError("answer", "must be an object: {found}, {foundPlain}, {notFound: true} or {failed}");
  }
  return jsonArgument("answer", value, binaryAsBase64);
}

/** Parsed fixtures are kept here, out of reach of the callers that hold a LookupFixtures. */
const fixturesOf = new WeakMap();
let noFixtures;

/**
 * Runs `run(rawFixtures)` with the lookups argument as the module takes it: a LookupFixtures
 * as it is, fixtures JSON (object or text) parsed for this call only, none as "no fixtures"
 * (every read fails).
 */
function withFixtures(lookups, run) {
  if (lookups === undefined || lookups === null) {
    noFixtures ??= raw.RawLookupFixtures.none();
    return run(noFixtures);
  }
  if (lookups instanceof LookupFixtures) return run(lookups[RAW_FIXTURES]());
  const parsed = new LookupFixtures(lookups);
  try {
    return run(parsed[RAW_FIXTURES]());
  } finally {
    parsed.free();
  }
}

const RAW_FIXTURES = Symbol("mailroom.rawFixtures");

/**
 * Lookup answers from the core's fixtures format (a `lookups.json`): what hosts without DynamoDB
 * answer lookups with. Parse once, pass to any number of calls.
 */
class LookupFixtures {
  constructor(fixtures) {
    if (fixtures === null || (typeof fixtures !== "object" && typeof fixtures !== "string") || Array.isArray(fixtures)) {
      throw inputError("lookups", "must be lookup fixtures: an object of tables, or its JSON text");
    }
    const text = bytes(jsonArgument("lookups", fixtures));
    fixturesOf.set(this, call(() => new raw.RawLookupFixtures(text)));
  }

  /** Releases the parsed fixtures now rather than at garbage collection. */
  free() {
    fixturesOf.get(this)?.free();
    fixturesOf.delete(this);
  }

  [RAW_FIXTURES]() {
    const parsed = fixturesOf.get(this);
    if (parsed === undefined) throw new MailroomError({ kind: "input", message: "these LookupFixtures were freed" });
    return parsed;
  }
}

/**
 * Scratch space for the parts of an event: its bytes only live until the module has copied
 * them in, so one buffer serves every call and no call allocates (and zero-fills) a fresh one
 * three times the size of its bodies. Kept only up to SCRATCH_KEPT bytes; a larger event gets
 * buffers of its own, so a rare big batch does not pin megabytes.
 */
const SCRATCH_KEPT = 1 << 18;
let scratchBytes = new Uint8Array(0);
let scratchLengths = new Uint32Array(0);

function scratch(size, kept, make) {
  if (kept.length >= size) return kept;
  return make(size <= SCRATCH_KEPT ? Math.max(size, 2 * kept.length) : size);
}

/**
 * An event object in the parts the module reads fastest (src/aside.rs): its JSON with every
 * record's body empty, the bodies' UTF-8 bytes one after another, and their byte lengths. A
 * body is JSON text; sent inside the event's JSON it would be escaped here and unescaped there.
 * Undefined for anything else (event text, records without a string body): that goes whole.
 * The three are views of scratch buffers, valid until the next call.
 */
function eventParts(event) {
  if (event === null || typeof event !== "object" || !Array.isArray(event.Records)) return undefined;
  const records = event.Records;
  let units = 0;
  for (const record of records) {
    if (record === null || typeof record !== "object" || typeof record.body !== "string") return undefined;
    units += record.body.length;
  }
  const stripped = records.map((record) => ({ ...record, body: "" }));
  const skeleton = jsonArgument("event", { ...event, Records: stripped });
  // UTF-8 takes at most 3 bytes per UTF-16 unit: the bodies, then the skeleton.
  const size = 3 * (units + skeleton.length);
  const buffer = scratch(size, scratchBytes, (length) => new Uint8Array(length));
  const lengths = scratch(records.length, scratchLengths, (length) => new Uint32Array(length));
  if (size <= SCRATCH_KEPT) scratchBytes = buffer;
  if (records.length * 4 <= SCRATCH_KEPT) scratchLengths = lengths;
  let at = 0;
  for (let index = 0; index < records.length; index += 1) {
    const { written } = UTF8.encodeInto(records[index].body, buffer.subarray(at));
    lengths[index] = written;
    at += written;
  }
  const { written } = UTF8.encodeInto(skeleton, buffer.subarray(at));
  return { skeleton: buffer.subarray(at, at + written), bodies: buffer.subarray(0, at), lengths: lengths.subarray(0, records.length) };
}

/**
 * A value from the module with its emails' bodies aside: its JSON, then the bodies as they are
 * (src/aside.rs): no escaping there, no unescaping here. `emailsOf(value)` lists the emails
 * whose `html` and `text` come back, in order; they become slices of the one returned string.
 */
function withBodies(out, emailsOf) {
  const jsonEnd = out.indexOf("\0");
  const lengthsEnd = out.indexOf("\0", jsonEnd + 1);
  const value = JSON.parse(out.slice(0, jsonEnd));
  const lengths = JSON.parse(out.slice(jsonEnd + 1, lengthsEnd));
  let at = lengthsEnd + 1;
  let index = 0;
  for (const email of emailsOf(value)) {
    email.html = out.slice(at, (at += lengths[index++]));
    email.text = out.slice(at, (at += lengths[index++]));
  }
  return value;
}

/** A report: the sent records' emails come back. */
const reportFrom = (out) => withBodies(out, (report) => report.records.filter((record) => record.decision === "send").map((record) => record.email));

/** Configuration plus compiled templates: build once, then decide and render any number of times. */
class Mailroom {
  #raw;

  constructor(options) {
    if (options === null || typeof options !== "object") throw inputError("options", "must be an object");
    const templates = bytes(objectArgument("templates", options.templates ?? {}));
    if (options[FOR_TEMPLATES]) {
      this.#raw = call(() => raw.RawMailroom.forTemplates(templates));
      return;
    }
    const routes = options.routes === undefined ? undefined : jsonArgument("routes", options.routes);
    const env = objectArgument("env", options.env ?? {});
    this.#raw = call(() => new raw.RawMailroom(templates, routes, env));
  }

  /** For authoring tools: templates only, no sender or routes. Render, check and variables work. */
  /** Whether the file at `path` of a template folder is a template (the core's rule). */
  static isTemplatePath(path) {
    return raw.isTemplatePath(String(path));
  }

  /** The routes file's name beside the templates. */
  static get routesFile() {
    return raw.routesFile();
  }

  static forTemplates(templates) {
    return new Mailroom({ templates, [FOR_TEMPLATES]: true });
  }

  render(template, data, subject, now, lookups) {
    stringArgument("template", template);
    const body = bytes(jsonArgument("data", data));
    if (subject !== undefined) stringArgument("subject", subject);
    const at = timeArgument(now ?? Date.now());
    const handle = this.#handle();
    const preview = JSON.parse(withFixtures(lookups, (fixtures) => call(() => handle.render(template, body, subject, at, fixtures))));
    if (preview.lookups) preview.lookups = preview.lookups.map(previewLookup);
    return preview;
  }

  decide(record, now, seed, lookups) {
    const text = bytes(objectArgument("record", record));
    const at = timeArgument(now);
    const bits = seedArgument(seed);
    const handle = this.#handle();
    return JSON.parse(withFixtures(lookups, (fixtures) => call(() => handle.decide(text, at, bits, fixtures))));
  }

  processEvent(event, now, seed, outcomes, lookups) {
    const parts = eventParts(event);
    const text = parts === undefined ? bytes(jsonArgument("event", event)) : undefined;
    const at = timeArgument(now);
    const bits = seedArgument(seed);
    const answers = outcomes === undefined || outcomes === null ? undefined : objectArgument("outcomes", outcomes);
    const handle = this.#handle();
    return reportFrom(
      withFixtures(lookups, (fixtures) =>
        call(() =>
          parts === undefined
            ? handle.processEvent(text, at, bits, answers, fixtures)
            : handle.processEventParts(parts.skeleton, parts.bodies, parts.lengths, at, bits, answers, fixtures),
        ),
      ),
    );
  }

  startBatch(event, now, seed) {
    const parts = eventParts(event);
    const text = parts === undefined ? bytes(jsonArgument("event", event)) : undefined;
    const at = timeArgument(now);
    const bits = seedArgument(seed);
    const handle = this.#handle();
    return new Batch(
      call(() =>
        parts === undefined ? handle.startBatch(text, at, bits) : handle.startBatchParts(parts.skeleton, parts.bodies, parts.lengths, at, bits),
      ),
    );
  }

  check(samples, now, lookups) {
    let pairs = [];
    if (samples !== undefined) {
      if (samples === null || typeof samples !== "object") throw inputError("samples", "must be an object or a list of [label, record] pairs");
      pairs = Array.isArray(samples) ? samples : Object.entries(samples);
    }
    const text = jsonArgument("samples", pairs);
    const at = timeArgument(now ?? Date.now());
    const handle = this.#handle();
    return JSON.parse(withFixtures(lookups, (fixtures) => call(() => handle.check(text, at, fixtures))));
  }

  variables(template) {
    stringArgument("template", template);
    return JSON.parse(call(() => this.#handle().variables(template)));
  }

  /** Releases the compiled templates now instead of at garbage collection. */
  free() {
    this.#raw?.free();
    this.#raw = undefined;
  }

  #handle() {
    if (this.#raw === undefined) throw new MailroomError({ kind: "input", message: "this Mailroom was freed" });
    return this.#raw;
  }
}

/** A batch being processed by a host that sends itself (see the README for the loop). */
class Batch {
  #raw;

  constructor(handle) {
    this.#raw = handle;
  }

  /**
   * The lookups the batch needs read now, deduplicated across its records. Answer each, then ask
   * again: answers can bring more (a key that reads another lookup's result). Send once empty.
   */
  lookups() {
    return JSON.parse(call(() => this.#handle().lookups()));
  }

  /** Reports what the host read for lookup `id` (a `LookupAnswer`). */
  answerLookup(id, answer) {
    const text = bytes(answerArgument(answer));
    const index = idArgument(id, "a lookup from lookups()");
    call(() => this.#handle().answerLookup(index, text));
  }

  /** Answers lookup `id` from fixtures, as the core's fixtures answer it (their item, their failure, else not found). */
  answerLookupFrom(id, fixtures) {
    if (!(fixtures instanceof LookupFixtures)) throw inputError("fixtures", "must be a LookupFixtures");
    const index = idArgument(id, "a lookup from lookups()");
    const parsed = fixtures[RAW_FIXTURES]();
    call(() => this.#handle().answerLookupFrom(index, parsed));
  }

  nextSend() {
    const text = call(() => this.#handle().nextSend());
    // A text (`channel: "sms"`) has no bodies aside.
    return text === undefined ? undefined : withBodies(text, (send) => (send.email === undefined ? [] : [send.email]));
  }

  completeSend(id, outcome) {
    const answer = objectArgument("outcome", outcome);
    const index = idArgument(id);
    call(() => this.#handle().completeSend(index, answer));
  }

  /**
   * The MIME message of send `id` (handed out by nextSend, not yet completed), dated `now`: the
   * bytes the Rust Lambda gives SES as raw content (`Content: { Raw: { Data } }`).
   */
  rawMessage(id, now) {
    const index = idArgument(id);
    const at = timeArgument(now);
    const handle = this.#handle();
    // The web build is made without the MIME builder (wasm/build.sh): say so rather than fail
    // with "not a function".
    if (typeof handle.rawMessage !== "function") {
      throw new MailroomError({ kind: "input", message: "rawMessage is in the Node build of mailroom-wasm only; the web build leaves the MIME builder out" });
    }
    return call(() => handle.rawMessage(index, at));
  }

  expire() {
    call(() => this.#handle().expire());
  }

  rejected() {
    return JSON.parse(call(() => this.#handle().rejected()));
  }

  markParked(id) {
    const index = idArgument(id);
    call(() => this.#handle().markParked(index));
  }

  finish() {
    const report = reportFrom(call(() => this.#handle().finish()));
    this.free();
    return report;
  }

  /** Releases the batch without finishing it (its records then count as never reported). */
  free() {
    this.#raw?.free();
    this.#raw = undefined;
  }

  #handle() {
    if (this.#raw === undefined) throw new MailroomError({ kind: "batch", message: "the batch is already finished" });
    return this.#raw;
  }
}
