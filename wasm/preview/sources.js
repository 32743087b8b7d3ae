// Where templates, sample events and lookup results come from: the folder `mailroom preview DIR`
// serves as ./templates.json (and its lookup fixtures as ./lookups.json), else the shipped
// examples, plus files the author opens or drops.

import { EXAMPLE_EVENTS, EXAMPLE_LOOKUPS, EXAMPLE_TEMPLATES } from './examples.js';

const ROUTES_FILE = 'routes.json';

async function text(url) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

/**
 * Lookup fixtures at `url` as text, or null when there are none (404). Any other failure is the
 * folder's, and is shown.
 */
async function fixturesAt(url) {
  const response = await fetch(url, { cache: 'no-store' }).catch(() => null);
  if (!response || response.status === 404) return null;
  if (!response.ok) throw new Error(`the lookup fixtures cannot be read: ${(await response.text()).trim()}`);
  return response.text();
}

/**
 * The starting workspace: `{source, label, files, events, lookups}`; `files` maps template paths
 * (and routes.json) to sources, `events` maps names to sample event JSON text, `lookups` is the
 * lookup fixtures' JSON text (the core's format) or null.
 */
export async function loadStart() {
  const served = await fetch('./templates.json', { cache: 'no-store' }).catch(() => null);
  // 404: a plain static server, so the examples. Any other failure is the folder's, and is shown.
  if (served && !served.ok && served.status !== 404) {
    throw new Error(`the templates folder cannot be read: ${(await served.text()).trim()}`);
  }
  if (served?.ok) {
    const folder = await served.json();
    const files = { ...folder.templates };
    if (typeof folder.routes === 'string') files[ROUTES_FILE] = folder.routes;
    return {
      source: `folder:${folder.root}`,
      label: folder.root,
      files,
      events: folder.events ?? {},
      lookups: await fixturesAt('./lookups.json'),
    };
  }
  const files = {};
  const events = {};
  let lookups = null;
  await Promise.all([
    fixturesAt(`./examples/templates/${EXAMPLE_LOOKUPS}`).then((text) => {
      lookups = text;
    }),
    ...EXAMPLE_TEMPLATES.map(async (path) => {
      files[path] = await text(`./examples/templates/${path}`);
    }),
    text(`./examples/templates/${ROUTES_FILE}`).then((routes) => {
      files[ROUTES_FILE] = routes;
    }),
    ...EXAMPLE_EVENTS.map(async (name) => {
      events[name] = await text(`./examples/events/${name}`);
    }),
  ]);
  // Object key order decides menu order: keep the lists' order, not the fetch order.
  return {
    source: 'examples',
    label: 'the examples',
    files: Object.fromEntries(Object.keys(files).sort().map((path) => [path, files[path]])),
    events: Object.fromEntries(EXAMPLE_EVENTS.map((name) => [name, events[name]])),
    lookups,
  };
}

/**
 * The path an opened file takes: its own path when the workspace has it, else the one existing
 * template with the same file name (opening `confirmation.html` replaces
 * `orders/confirmation.html`), else its name as a new template.
 */
export function pathFor(name, existing) {
  if (name in existing) return name;
  const matches = Object.keys(existing).filter((path) => path.endsWith(`/${name}`));
  return matches.length === 1 ? matches[0] : name;
}

/**
 * Reads opened or dropped files: `{templates: {path: text}, routes?: text, lookups?: text,
 * events: {name: text}, skipped: [name]}`. JSON files are routes when named routes.json or
 * shaped like one, lookup results when named lookups.json, events otherwise.
 */
export async function readFiles(fileList, existing) {
  const result = { templates: {}, events: {}, skipped: [] };
  for (const file of Array.from(fileList)) {
    const name = file.webkitRelativePath || file.name;
    if (file.size > 5 * 1024 * 1024) {
      result.skipped.push(`${name} (larger than 5 MB)`);
      continue;
    }
    const content = await file.text();
    if (/(^|\/)lookups\.json$/i.test(name)) {
      result.lookups = content;
    } else if (/\.json$/i.test(name)) {
      let routes = /(^|\/)routes\.json$/i.test(name);
      if (!routes) {
        try {
          routes = Array.isArray(JSON.parse(content)?.routes);
        } catch {
          // not JSON: still an event, whose error the editor will show
        }
      }
      if (routes) result.routes = content;
      else result.events[file.name] = content;
    } else if (/\.(html?|txt|jinja|j2)$/i.test(name)) {
      result.templates[pathFor(name, existing)] = content;
    } else {
      result.skipped.push(name);
    }
  }
  return result;
}
