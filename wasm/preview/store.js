// Keeping work: the workspace in local storage (survives reloads), and a share link that
// carries one template and its sample event in the URL fragment.
//
// The fragment never reaches a server (browsers do not send it), so a shared link stays
// between the two people who have it. It is deflated and base64url-encoded to stay short.
//
// A link is written by anyone, so what it may change is fixed here, not by the link: one
// template (its HTML and its `.txt` part), that template's subject, the sample event and the
// results of the lookups that sample reads (sample data too; preview.js applies only those the
// shared sample asks for, by table and key). It never carries routes.json, nor a template other
// templates extend, include or import (a layout or partial), and what it carries beyond that is
// ignored (and named to the author).

const STORAGE_KEY = 'mailroom-preview/v1';
const FRAGMENT_KEY = 'share=';
const ROUTES_FILE = 'routes.json';
/** Largest link content once inflated, as for opened files: a short link cannot inflate to gigabytes. */
const SHARED_LIMIT = 5 * 1024 * 1024;

/** The text part of a template: `orders/confirmation.html` → `orders/confirmation.txt`. */
export const textPartOf = (path) => path.replace(/\.[^./]*$/, '') + '.txt';

/** Whether `path` may be a link's template: a template, not routes.json and not a text part. */
export const shareableName = (path) =>
  typeof path === 'string' && path !== '' && path.length <= 1024 && path !== ROUTES_FILE && !path.endsWith('.txt')
  && !path.endsWith('/') && !/[\u0000-\u001f]/.test(path);

// `{% extends "x" %}`, `{% include ["x", 'y'] %}`, `{% import "x" as m %}`, `{% from "x" import m %}`
const REFERENCE_TAG = /\{%[-+~]?\s*(?:extends|include|import|from)\b([\s\S]*?)[-+~]?%\}/g;
const QUOTED = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/g;

/**
 * The templates of `files` (other than `paths` themselves) that name one of `paths` in an
 * extends, include, import or from tag: a link may not replace what those render through.
 */
export function usedBy(paths, files) {
  const wanted = new Set(paths);
  const users = [];
  for (const [path, source] of Object.entries(files)) {
    if (wanted.has(path) || path === ROUTES_FILE || typeof source !== 'string') continue;
    const names = [...source.matchAll(REFERENCE_TAG)].flatMap((tag) => [...tag[1].matchAll(QUOTED)].map((q) => q[1] ?? q[2]));
    if (names.some((name) => wanted.has(name))) users.push(path);
  }
  return users;
}

/**
 * The saved workspace for `source` (the folder or example set it was loaded from), or null.
 * Saved state: `{source, base, files, selected, subjects, event, recordIndex, lookups,
 * lookupsEdited}` where `base` is the files as loaded and `files` as edited, and `lookups` the
 * lookup results (fixtures) as edited, kept over the served ones only when `lookupsEdited`.
 */
export function loadSaved(source) {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    return saved && saved.source === source ? saved : null;
  } catch {
    return null;
  }
}

/** Saves the workspace; a full or disabled storage only costs persistence, never the work. */
export function save(state) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    return true;
  } catch {
    return false;
  }
}

export function forget() {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing saved, nothing to forget
  }
}

/**
 * Files for a fresh load: the folder's files, except those edited in the page before (an edit
 * is kept; a file the page did not change follows the folder, so editing on disk and reloading
 * shows the disk version). Returns the merged files and the paths whose edits were kept.
 */
export function mergeEdits(fresh, saved) {
  if (!saved) return { files: { ...fresh }, kept: [] };
  const files = { ...fresh };
  const kept = [];
  for (const [path, text] of Object.entries(saved.files ?? {})) {
    if (saved.base?.[path] !== text) {
      files[path] = text;
      kept.push(path);
    }
  }
  return { files, kept };
}

async function pipe(bytes, stream, limit = Infinity) {
  const reader = new Blob([bytes]).stream().pipeThrough(stream).getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > limit) {
      await reader.cancel();
      throw new Error(`larger than ${limit / 1024 / 1024} MB`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function toBase64Url(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * A link to this page carrying `shared` (`{template, html, text?, subject, event, lookups?}`):
 * the template being edited, its text part when it has one, its subject, the sample event and
 * the fixture entries of the lookups it reads (`{table: [entry]}`).
 */
export async function shareLink({ template, html, text, subject, event, lookups }) {
  const files = { [template]: html };
  if (typeof text === 'string') files[textPartOf(template)] = text;
  const content = { v: 1, template, files, subject, event };
  if (lookups && Object.keys(lookups).length) content.lookups = lookups;
  const bytes = new TextEncoder().encode(JSON.stringify(content));
  const packed = await pipe(bytes, new CompressionStream('deflate-raw'));
  const url = new URL(window.location.href);
  url.hash = FRAGMENT_KEY + toBase64Url(packed);
  return url.toString();
}

/** The fixture entries a link carries, `{table: [entry]}` with object entries only; null when it has none. */
function sharedLookups(lookups) {
  if (typeof lookups !== 'object' || lookups === null || Array.isArray(lookups)) return null;
  const tables = {};
  for (const [table, entries] of Object.entries(lookups)) {
    if (!Array.isArray(entries)) continue;
    const kept = entries.filter((entry) => typeof entry === 'object' && entry !== null && !Array.isArray(entry) && typeof entry.key === 'object' && entry.key !== null);
    if (kept.length) tables[table] = kept;
  }
  return Object.keys(tables).length ? tables : null;
}

/**
 * What a share link may change, null when the fragment holds none, or `{error}` when it is
 * damaged or names no template a link may carry. Returns `{template, html?, text?, subject?,
 * event?, lookups?, ignored}`: `html` and `text` are the template's two parts (absent when the
 * link does not carry them), `subject`, `event` and `lookups` (fixture entries by table) are
 * absent when the link has none, and `ignored` names the other files the link carried, which
 * are never applied.
 */
export async function readShared(hash) {
  const at = hash.indexOf(FRAGMENT_KEY);
  if (at < 0) return null;
  let shared;
  try {
    const packed = fromBase64Url(hash.slice(at + FRAGMENT_KEY.length));
    const bytes = await pipe(packed, new DecompressionStream('deflate-raw'), SHARED_LIMIT);
    shared = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof shared !== 'object' || shared === null || typeof shared.template !== 'string') {
      throw new Error('not a preview link');
    }
  } catch (error) {
    return { error: `The link's preview could not be read (${error.message}); it may be cut short.` };
  }
  const { template } = shared;
  if (!shareableName(template)) {
    return { error: `The link names ${JSON.stringify(template.slice(0, 100))}, which is not a template a link can share; nothing was changed.` };
  }
  const files = typeof shared.files === 'object' && shared.files !== null && !Array.isArray(shared.files) ? shared.files : {};
  const textPath = textPartOf(template);
  const result = { template, ignored: [] };
  for (const [path, source] of Object.entries(files)) {
    if (path === template && typeof source === 'string') result.html = source;
    else if (path === textPath && textPath !== template && typeof source === 'string') result.text = source;
    else result.ignored.push(path);
  }
  if (typeof shared.subject === 'string') result.subject = shared.subject;
  if (typeof shared.event === 'string') result.event = shared.event;
  const lookups = sharedLookups(shared.lookups);
  if (lookups) result.lookups = lookups;
  return result;
}
