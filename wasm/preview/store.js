// Keeping work: the workspace in local storage (survives reloads), and a share link that
// carries one template and its sample event in the URL fragment.
//
// The fragment never reaches a server (browsers do not send it), so a shared link stays
// between the two people who have it. It is deflated and base64url-encoded to stay short.

const STORAGE_KEY = 'mailroom-preview/v1';
const FRAGMENT_KEY = 'share=';

/**
 * The saved workspace for `source` (the folder or example set it was loaded from), or null.
 * Saved state: `{source, base, files, selected, subjects, event, recordIndex}` where `base` is
 * the files as loaded and `files` as edited.
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

async function pipe(bytes, stream) {
  const response = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await response.arrayBuffer());
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

/** A link to this page carrying `shared` (`{template, files, subject, event}`). */
export async function shareLink(shared) {
  const bytes = new TextEncoder().encode(JSON.stringify({ v: 1, ...shared }));
  const packed = await pipe(bytes, new CompressionStream('deflate-raw'));
  const url = new URL(window.location.href);
  url.hash = FRAGMENT_KEY + toBase64Url(packed);
  return url.toString();
}

/** What a share link carries, null when the fragment holds none, or `{error}` when it is damaged. */
export async function readShared(hash) {
  const at = hash.indexOf(FRAGMENT_KEY);
  if (at < 0) return null;
  try {
    const bytes = await pipe(fromBase64Url(hash.slice(at + FRAGMENT_KEY.length)), new DecompressionStream('deflate-raw'));
    const shared = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof shared !== 'object' || shared === null || typeof shared.template !== 'string') {
      throw new Error('not a preview link');
    }
    return {
      template: shared.template,
      files: typeof shared.files === 'object' && shared.files ? shared.files : {},
      subject: typeof shared.subject === 'string' ? shared.subject : '',
      event: typeof shared.event === 'string' ? shared.event : '',
    };
  } catch (error) {
    return { error: `The link's preview could not be read (${error.message}); it may be cut short.` };
  }
}
