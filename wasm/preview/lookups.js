// The lookups a sample needs, and the results the author gives them.
//
// Results live in the core's fixtures format (`lookups.json`: table → [{key, item | Item |
// failure}]), the same file `mailroom preview` serves and the CLI reads, so the wasm build
// answers them exactly as the CLI and the tests do. This module only edits that object: an
// edited result becomes the entry `{key, item}` of its table and key; an empty result removes
// the entry, so the lookup is not found. Which entry answers a request is the core's business.

import { createEditor } from './editor.js';
import { el } from './view.js';

/** `PK=STUDENT#42, SK=PROFILE`, as the core writes keys. */
export const keyText = (key) => Object.entries(key).map(([name, value]) => `${name}=${value}`).join(', ');

/** Whether fixture entry `entry` is the one for `key` (attribute → text): the same attributes, the same text. */
function sameKey(entry, key) {
  const names = Object.keys(key);
  const given = entry?.key && typeof entry.key === 'object' ? entry.key : {};
  return Object.keys(given).length === names.length && names.every((name) => name in given && String(given[name]) === key[name]);
}

/** The key of a fixture entry as text (fixtures may write a numeric key as a bare number). */
const entryKey = (entry) => Object.fromEntries(Object.entries(entry?.key ?? {}).map(([name, value]) => [name, String(value)]));

/** Whether fixture entry `entry` of `table` is the one that answers preview lookup `lookup`. */
export const answers = (table, entry, lookup) => table === lookup.table && sameKey(entry, lookup.key);

/**
 * Fixtures with `entry` as the one of its key in `table` (any other with that key removed);
 * a null entry only removes. Other entries are kept as they are.
 */
function withEntry(fixtures, table, key, entry) {
  const entries = (Array.isArray(fixtures[table]) ? fixtures[table] : []).filter((other) => !sameKey(other, key));
  if (entry !== null) entries.push(entry);
  const next = { ...fixtures };
  if (entries.length) next[table] = entries;
  else delete next[table];
  return next;
}

/**
 * Fixtures with the result of `table`/`key` replaced: `item` (a plain JSON object) becomes its
 * entry, `null` removes it (not found).
 */
export const withResult = (fixtures, table, key, item) => withEntry(fixtures, table, key, item === null ? null : { key: { ...key }, item });

/** Fixtures with a fixture entry (as a link carries it) in place of the one of its key. */
export const withFixture = (fixtures, table, entry) => withEntry(fixtures, table, entryKey(entry), entry);

/** The fixture entries of `fixtures` that answer `lookups` (preview lookups), for a share link. */
export function entriesFor(fixtures, lookups) {
  const picked = {};
  for (const lookup of lookups) {
    const entry = (Array.isArray(fixtures[lookup.table]) ? fixtures[lookup.table] : []).find((candidate) => sameKey(candidate, lookup.key));
    if (entry) (picked[lookup.table] ??= []).push(entry);
  }
  return picked;
}

/** Reads a result editor: `{item}` (null when empty: not found) or `{error}`. */
export function parseResult(text) {
  if (text.trim() === '') return { item: null };
  let item;
  try {
    item = JSON.parse(text);
  } catch (error) {
    return { error: `not JSON: ${error.message}` };
  }
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return { error: 'a result is a JSON object (or empty: not found)' };
  return { item };
}

const STATUS = { found: 'found', not_found: 'not found', failed: 'failed', unasked: 'not asked' };

/**
 * The lookups panel. `draw(lookups, problems)` shows the preview's lookups (name, table, key,
 * status and an editor with the result). Rows are kept by table and key, and the DOM is only
 * touched where the list changed, so the editor the author types in is never replaced or
 * blurred by the preview its typing causes (a changed course can change the instructor's key
 * below it). `onEdit(lookup, text)` is called as the author types; `problems` maps a lookup's
 * id to what is wrong with its editor's text, which is then left as typed.
 */
export function lookupsPanel(container, { onEdit }) {
  const list = container.querySelector('ol');
  const rows = new Map();
  let made = 0;

  function row(lookup) {
    const status = el('span', { className: 'badge' });
    const where = el('span', { className: 'k lookup-key' });
    const detail = el('p', { className: 'k lookup-detail' });
    const problem = el('p', { className: 'lookup-error', attrs: { role: 'alert' } });
    const name = el('code', { className: 'lookup-name' });
    const head = el('div', { className: 'lookup-head' }, name, status, where);
    const slot = el('div', { className: 'lookup-editor' });
    const item = el('li', { className: 'lookup' }, head, detail, slot, problem);
    const entry = { item, name, status, where, detail, problem, lookup };
    made += 1;
    entry.editor = createEditor(slot, {
      id: `lookup-input-${made}`,
      label: `Result of lookup ${lookup.name} (JSON; empty: not found)`,
      onInput: (text) => onEdit(entry.lookup, text),
    });
    return entry;
  }

  function fill(entry, lookup, problem) {
    entry.lookup = lookup;
    entry.item.dataset.lookup = lookup.name;
    entry.name.textContent = `lookup.${lookup.name}`;
    entry.where.textContent = `${lookup.table}: ${keyText(lookup.key) || 'no key'}`;
    entry.status.textContent = STATUS[lookup.status] ?? lookup.status;
    entry.status.className = `badge lookup-${lookup.status}`;
    entry.detail.textContent = lookup.detail ?? '';
    entry.detail.hidden = !lookup.detail;
    entry.problem.textContent = problem ?? '';
    entry.problem.hidden = !problem;
    entry.item.classList.toggle('invalid', Boolean(problem));
    // A lookup not asked has no key yet (it reads a result not given): nothing to answer.
    entry.editor.element.readOnly = lookup.status === 'unasked';
    // A result that cannot be read stays as typed; the one being typed is the author's.
    if (problem === undefined && document.activeElement !== entry.editor.element) {
      entry.editor.value = lookup.item === undefined ? '' : JSON.stringify(lookup.item, null, 2);
    }
  }

  return {
    draw(lookups, problems) {
      container.hidden = lookups.length === 0;
      const wanted = lookups.map((lookup) => [lookupId(lookup), lookup]);
      const ids = new Set(wanted.map(([id]) => id));
      for (const [id, entry] of rows) {
        if (!ids.has(id)) {
          entry.item.remove();
          rows.delete(id);
        }
      }
      wanted.forEach(([id, lookup], index) => {
        let entry = rows.get(id);
        if (!entry) rows.set(id, (entry = row(lookup)));
        if (list.children[index] !== entry.item) list.insertBefore(entry.item, list.children[index] ?? null);
        fill(entry, lookup, problems.get(id));
      });
    },
  };
}

/** A lookup's identity across previews: its table and key (what its result is stored under). */
export const lookupId = (lookup) => `${lookup.table}\u0000${keyText(lookup.key)}`;
