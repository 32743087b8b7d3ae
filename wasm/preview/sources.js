// Where templates and sample events come from: the folder `mailroom preview DIR` serves as
// ./templates.json, else the shipped examples, plus files the author opens or drops.

import { EXAMPLE_EVENTS, EXAMPLE_TEMPLATES } from './examples.js';

const ROUTES_FILE = 'routes.json';

async function text(url) {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

/**
 * The starting workspace: `{source, label, files, events}`; `files` maps template paths (and
 * routes.json) to sources, `events` maps names to sample event JSON text.
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
    };
  }
  const files = {};
  const events = {};
  await Promise.all([
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
 * Reads opened or dropped files: `{templates: {path: text}, routes?: text, events: {name: text},
 * skipped: [name]}`. JSON files are routes when named routes.json or shaped like one, events
 * otherwise.
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
    if (/\.json$/i.test(name)) {
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
