// The bridge to mailroom's WebAssembly build: the same core the Lambda runs, so a preview and a
// decision here are exactly what production would do.
//
// The package's web build (wasm/build.sh writes it to wasm/pkg/web/) is served under ./pkg/.
// Its `Mailroom` throws a `MailroomError` ({kind, message, fault?}); this module turns results
// and errors into `{value}` / `{error}` objects so the page never has to catch.

import init, { Mailroom, MailroomError } from './pkg/index.js';

/** A sender for decisions without routes.json: nothing is sent from the page. */
const PREVIEW_SENDER = 'mailroom preview <preview@mailroom.invalid>';
const ROUTES_FILE = 'routes.json';

let ready = null;
/** The configuration variables `mailroom preview` serves from its environment; {} elsewhere. */
let servedEnv = {};

/** Loads and instantiates the module once (mailroom_wasm_bg.wasm next to the glue). */
export function loadEngine() {
  ready ??= Promise.all([init(), loadServedEnv()]);
  return ready;
}

/** ./env.json from `mailroom preview`, so the page configures as `mailroom process` does. */
async function loadServedEnv() {
  const response = await fetch('./env.json', { cache: 'no-store' }).catch(() => null);
  if (response?.ok) servedEnv = await response.json();
}

function attempt(call) {
  try {
    return { value: call() };
  } catch (error) {
    if (error instanceof MailroomError) {
      return { error: { kind: error.kind, message: error.message, fault: error.fault, lookups: error.lookups } };
    }
    return { error: { kind: 'internal', message: String(error?.message ?? error) } };
  }
}

/** Template files only, by the core's rule (routes.json configures, it is not a template). */
export function templatesOf(files) {
  return Object.fromEntries(Object.entries(files).filter(([path]) => Mailroom.isTemplatePath(path)));
}

/**
 * A compiled template set with the configuration decisions need. Build a new one whenever a
 * file changes (compiling the examples takes a few milliseconds) and `free()` the old one.
 */
export class Workspace {
  /**
   * @param {Record<string, string>} files template path → source, plus optional routes.json
   * @param {{template: string, subject: string}} selected used when there is no routes.json
   */
  constructor(files, selected) {
    const templates = templatesOf(files);
    this.hasRoutes = typeof files[ROUTES_FILE] === 'string';
    this.renderer = attempt(() => Mailroom.forTemplates(templates));
    const routes = this.hasRoutes ? files[ROUTES_FILE] : undefined;
    // Without routes.json, configure as a Lambda set up by environment variables only.
    const defaults = this.hasRoutes
      ? { SENDER: PREVIEW_SENDER }
      : {
          SENDER: PREVIEW_SENDER,
          SUBJECT: selected.subject,
          SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL: selected.template,
        };
    // The served variables win, as they do for `mailroom process`.
    const env = { ...defaults, ...servedEnv };
    this.decider = attempt(() => new Mailroom({ templates, routes, env }));
  }

  /**
   * `{value: {subject, html, text, variables, missing, lookups?}}` or `{error}` (whose `lookups`
   * say what each lookup answered when the template failed after reading them). With
   * routes.json the route's configuration renders it, so its lookups are read (answered by
   * `lookups`, the fixtures object); without, the templates alone.
   */
  render(template, data, subject, now, lookups) {
    const mailroom = this.hasRoutes && this.decider.value ? this.decider : this.renderer;
    if (mailroom.error) return { error: mailroom.error };
    return attempt(() => mailroom.value.render(template, data, subject, now, lookups));
  }

  /** `{value: [dotted path]}`: the variables `template` reads, or `{error}`. */
  variables(template) {
    if (this.renderer.error) return { error: this.renderer.error };
    return attempt(() => this.renderer.value.variables(template));
  }

  /**
   * The decision for every record of `sample` (see `classify`), lookups answered by `lookups`
   * (the fixtures object): `{value: [record report]}` or `{error}`.
   */
  decide(sample, now, lookups) {
    if (this.decider.error) return { error: this.decider.error };
    const mailroom = this.decider.value;
    if (sample.shape === 'event') {
      const report = attempt(() => mailroom.processEvent(sample.text, now, 0, undefined, lookups));
      return 'error' in report ? report : { value: report.value.records };
    }
    const decided = attempt(() => mailroom.decide(sample.record, now, 0, lookups));
    return 'error' in decided ? decided : { value: [decided.value] };
  }

  free() {
    this.renderer.value?.free();
    this.decider.value?.free();
  }
}

/**
 * What the sample editor holds, and what to render and decide for it:
 * - a Lambda SQS event (`Records`): render the chosen record's body, decide every record;
 * - an SQS record (`body` with `messageId`): render its body, decide it;
 * - anything else (an event body, or an SNS / EventBridge envelope): render it, and decide it as
 *   the body of a record received once.
 * Returns `{error}` when the text is not JSON.
 */
export function classify(text, recordIndex = 0) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { error: { kind: 'event', message: `the sample event is not JSON: ${error.message}` } };
  }
  if (parsed && Array.isArray(parsed.Records)) {
    const records = parsed.Records;
    const index = Math.min(Math.max(recordIndex, 0), Math.max(records.length - 1, 0));
    const record = records[index];
    const data = typeof record?.body === 'string' ? record.body : JSON.stringify(record?.body ?? null);
    return { shape: 'event', text, records: records.map((r) => r?.messageId ?? ''), index, data };
  }
  if (parsed && typeof parsed === 'object' && typeof parsed.body === 'string' && 'messageId' in parsed) {
    return { shape: 'record', text, record: parsed, records: [parsed.messageId], index: 0, data: parsed.body };
  }
  const record = {
    messageId: 'preview-1',
    receiptHandle: 'preview',
    body: text,
    attributes: { ApproximateReceiveCount: '1' },
    eventSource: 'aws:sqs',
  };
  return { shape: 'body', text, record, records: ['preview-1'], index: 0, data: text };
}
