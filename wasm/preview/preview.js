// The template previewer: edit templates, subject and sample event; see the email and what
// mailroom decides, as you type. Everything runs here, in the browser, on mailroom's own
// WebAssembly build; nothing is sent anywhere.

import { createEditor } from './editor.js';
import { Workspace, classify, loadEngine } from './engine.js';
import { START } from './examples.js';
import { answers, entriesFor, lookupId, lookupsPanel, parseResult, withFixture, withResult } from './lookups.js';
import { loadStart, readFiles } from './sources.js';
import { forget, loadSaved, mergeEdits, readShared, save, shareLink, textPartOf, usedBy } from './store.js';
import { describeWhere, drawDecision, drawSms, drawVariables, el, jsonLocation, tabs } from './view.js';

const ROUTES_FILE = 'routes.json';
const $ = (id) => document.getElementById(id);

const state = {
  source: '',
  label: '',
  base: {}, // files as loaded
  files: {}, // files as edited
  selected: '',
  subjects: {}, // template path → subject template, once the author changed it
  event: '',
  recordIndex: 0,
  events: {}, // name → sample event text, for the menu
  lookups: {}, // lookup results, in the core's fixtures format (table → entries), as edited
  lookupsEdited: false, // whether the author changed them since they were loaded
  lookupsLabel: '', // where they came from
};

/** The lookups the preview shows now (the last rendering's), and editors' text that is not a result. */
let shownLookups = [];
const lookupProblems = new Map();

/**
 * A share link opened but not kept: what it replaced, as the author had it, so the author's
 * version is what local storage keeps (and what "Back to my version" restores) until they keep
 * the shared one. `{files: {path: text | undefined}, subject?: {had, value}, event?, selected,
 * recordIndex}`; a path with `undefined` did not exist before the link.
 */
let pendingShare = null;

let workspace = null;
let filesChanged = true;
let editingPart = 'html'; // which template tab the editor shows: html, text or routes
let lastFault = null;

const textSibling = textPartOf;
const isTemplate = (path) => path !== ROUTES_FILE && !path.endsWith('.txt');

const lookupsView = lookupsPanel($('lookups'), { onEdit: editLookup });

const editors = {
  html: createEditor($('html-editor'), { id: 'html-input', label: 'HTML template', onInput: (v) => edit(state.selected, v) }),
  text: createEditor($('text-editor'), { id: 'text-input', label: 'Text template', onInput: (v) => edit(textSibling(state.selected), v) }),
  routes: createEditor($('routes-editor'), { id: 'routes-input', label: 'routes.json', onInput: (v) => edit(ROUTES_FILE, v) }),
  event: createEditor($('event-editor'), { id: 'event-editor-input', label: 'Sample event JSON', onInput: editEvent }),
};

function note(message) {
  $('source-note').textContent = message;
}

// ---- State changes -------------------------------------------------------------------------

function edit(path, text) {
  state.files[path] = text;
  filesChanged = true;
  schedule();
}

function editEvent(text) {
  state.event = text;
  schedule();
}

/** The author typed a lookup's result: the item (an object), empty for not found. */
function editLookup(lookup, text) {
  const parsed = parseResult(text);
  const id = lookupId(lookup);
  if (parsed.error) {
    lookupProblems.set(id, parsed.error);
  } else {
    lookupProblems.delete(id);
    state.lookups = withResult(state.lookups, lookup.table, lookup.key, parsed.item);
    state.lookupsEdited = true;
  }
  schedule();
}

/** The lookup results as loaded: `{lookups, problem?}` from fixtures text (null: none). */
function readLookups(text, label) {
  if (text === null || text === undefined) return { lookups: {}, label: `no lookup results in ${label}: give each one below` };
  try {
    const lookups = JSON.parse(text);
    if (lookups && typeof lookups === 'object' && !Array.isArray(lookups)) return { lookups, label: `results from ${label}` };
    return { lookups: {}, label: `lookups.json of ${label}`, problem: 'lookups.json is not an object of tables; the results start empty' };
  } catch (error) {
    return { lookups: {}, label: `lookups.json of ${label}`, problem: `lookups.json is not JSON (${error.message}); the results start empty` };
  }
}

function routes() {
  try {
    const parsed = JSON.parse(state.files[ROUTES_FILE] ?? 'null');
    return Array.isArray(parsed?.routes) ? parsed.routes : [];
  } catch {
    return [];
  }
}

function subjectFor(path) {
  if (path in state.subjects) return state.subjects[path];
  return routes().find((route) => route.template === path)?.subject ?? '';
}

function select(path) {
  if (!(path in state.files)) return;
  state.selected = path;
  $('template-select').value = path;
  $('template-path').textContent = path;
  $('subject').value = subjectFor(path);
  fillEditors();
  filesChanged = true; // without routes.json, the configuration names the selected template
  update();
}

function fillEditors() {
  const sibling = textSibling(state.selected);
  editors.html.value = state.files[state.selected] ?? '';
  const hasText = sibling in state.files && sibling !== state.selected;
  editors.text.element.closest('.code').hidden = !hasText;
  $('no-text').hidden = hasText;
  editors.text.value = hasText ? state.files[sibling] : '';
  const hasRoutes = ROUTES_FILE in state.files;
  editors.routes.element.closest('.code').hidden = !hasRoutes;
  $('no-routes').hidden = hasRoutes;
  editors.routes.value = state.files[ROUTES_FILE] ?? '';
}

function fillTemplateMenu() {
  const menu = $('template-select');
  menu.replaceChildren(
    ...Object.keys(state.files).filter(isTemplate).map((path) => el('option', { text: path, attrs: { value: path } })),
  );
  menu.value = state.selected;
}

function fillEventMenu() {
  const menu = $('event-select');
  menu.replaceChildren(
    el('option', { text: 'Choose an example…', attrs: { value: '' } }),
    ...Object.keys(state.events).map((name) => el('option', { text: name, attrs: { value: name } })),
  );
}

function setEvent(text, { follow = false } = {}) {
  state.event = text;
  state.recordIndex = 0;
  editors.event.value = text;
  update();
  if (follow) followRoute();
}

/**
 * After the author picks an event or a record, open the template its route renders, so the
 * preview shows that record's email (typing never switches templates).
 */
function followRoute() {
  const sample = classify(state.event, state.recordIndex);
  if (sample.error || !workspace) return;
  const report = workspace.decide(sample, Date.now(), state.lookups).value?.[sample.index];
  const template = routes().find((route) => route.name === report?.route)?.template;
  if (template && template !== state.selected && template in state.files) select(template);
}

// ---- Rendering and deciding ------------------------------------------------------------------

let timer = 0;
function schedule() {
  clearTimeout(timer);
  document.body.dataset.pending = 'true'; // tests wait for it to go
  timer = setTimeout(update, 120);
}

function clearMarks() {
  for (const editor of Object.values(editors)) editor.markLine(null);
  $('subject').classList.remove('invalid');
  $('subject').removeAttribute('aria-invalid');
}

function showError(error) {
  clearMarks();
  lastFault = null;
  const box = $('error');
  box.classList.remove('warning');
  $('error-hint').textContent = 'The last good preview stays below.';
  if (!error) {
    box.hidden = true;
    return;
  }
  const fault = error.fault ?? error.location ?? null;
  $('error-where').textContent = fault ? describeWhere(fault) + ':' : error.kind === 'event' ? 'Sample event:' : '';
  $('error-message').textContent = fault?.message ?? error.message;
  $('error-line').textContent = fault?.sourceLine ?? '';
  $('error-line').hidden = !fault?.sourceLine;
  $('error-go').hidden = !fault?.line && fault?.template !== 'subject';
  box.hidden = false;
  if (!fault) return;
  lastFault = fault;
  const editor = editorFor(fault.template);
  if (editor) editor.markLine(fault.line);
  if (fault.template === 'subject') {
    $('subject').classList.add('invalid');
    $('subject').setAttribute('aria-invalid', 'true');
  }
}

function editorFor(template) {
  if (template === state.selected) return editors.html;
  if (template === textSibling(state.selected)) return editors.text;
  if (template === '#event') return editors.event;
  return null;
}

function showTab(part) {
  const tab = { html: 'tab-html-template', text: 'tab-text-template', routes: 'tab-routes' }[part];
  selectTemplateTab($(tab));
}

function goToFault() {
  const fault = lastFault;
  if (!fault) return;
  if (fault.template === 'subject') {
    $('subject').focus();
    return;
  }
  if (fault.template !== '#event' && editorFor(fault.template) === null && fault.template in state.files) {
    select(fault.template.endsWith('.txt') ? fault.template.replace(/\.txt$/, '.html') : fault.template);
  }
  const editor = editorFor(fault.template);
  if (!editor) return;
  if (editor === editors.text) showTab('text');
  if (editor === editors.html) showTab('html');
  editor.goTo(fault.line ?? 1, fault.column ?? 1);
}

function showPreview(preview) {
  $('frame').srcdoc = preview.html;
  $('view-text').textContent = preview.text;
  $('view-source').textContent = preview.html;
  $('subject-out').textContent = preview.subject || '(empty)';
  drawVariables($('variables'), $('vars-summary'), preview);
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered ?? 0) + 1);
}

/**
 * When the author preview fails but the Lambda sends this very record with this template, the
 * failure is the preview's, not the template's: the core's preview context lacks metadata the
 * Lambda has (`mailroom.idempotencyKey`, `mailroom.sentAt`). Show the email the Lambda renders,
 * and say so, rather than an empty frame.
 */
function showAsSent(decided, sample, routeTemplate) {
  const report = decided.value?.[sample.index];
  if (report?.decision !== 'send' || routeTemplate(report.route) !== state.selected) return;
  const { subject, html, text } = report.email;
  const variables = workspace.variables(state.selected).value ?? [];
  showPreview({ subject, html, text, variables, missing: [] });
  $('vars-summary').textContent = `${variables.length} used`;
  $('error').classList.add('warning');
  $('error-hint').textContent = `Below: the email as the Lambda renders it for this record (route ${report.route}), which succeeds.`;
}

function fillRecordMenu(sample) {
  const menu = $('record-select');
  const many = sample.shape === 'event' && sample.records.length > 1;
  menu.hidden = !many;
  if (!many) return;
  menu.replaceChildren(
    ...sample.records.map((id, index) => el('option', { text: `Record ${index + 1} of ${sample.records.length} (${id || 'no id'})`, attrs: { value: String(index) } })),
  );
  menu.value = String(sample.index);
}

function update() {
  clearTimeout(timer);
  if (filesChanged || !workspace) {
    workspace?.free();
    workspace = new Workspace(state.files, { template: state.selected, subject: $('subject').value });
    filesChanged = false;
  }
  const now = Date.now();
  const subject = $('subject').value || undefined;
  const sample = classify(state.event, state.recordIndex);
  if (sample.error) {
    const where = jsonLocation(sample.error.message, state.event);
    showError(where ? { ...sample.error, location: { template: '#event', ...where, message: sample.error.message } } : sample.error);
    if (where) $('error-where').textContent = `Sample event, line ${where.line}, column ${where.column}:`;
    drawDecision($('decision'), { error: { message: 'fix the sample event first' } }, sample, {});
    drawSms($('sms'), undefined);
    fillRecordMenu({ shape: 'none' });
  } else {
    fillRecordMenu(sample);
    const rendered = workspace.render(state.selected, sample.data, subject, now, state.lookups);
    const decided = workspace.decide(sample, now, state.lookups);
    // What the lookups answered, also when the template then failed (one it reads not found).
    shownLookups = rendered.value?.lookups ?? rendered.error?.lookups ?? [];
    lookupsView.draw(shownLookups, lookupProblems);
    const routeTemplate = (name) => routes().find((route) => route.name === name)?.template ?? (workspace.hasRoutes ? null : state.selected);
    showError(rendered.error ?? null);
    if (rendered.value) showPreview(rendered.value);
    else showAsSent(decided, sample, routeTemplate);
    drawSms($('sms'), decided.value?.[sample.index]);
    drawDecision($('decision'), decided, sample, {
      selected: state.selected,
      routeTemplate,
      onPick: (index) => {
        state.recordIndex = index;
        update();
        followRoute();
      },
      onOpen: (template) => select(template),
    });
  }
  persist();
  delete document.body.dataset.pending;
}

function persist() {
  const { source, base } = state;
  let { files, selected, subjects, event, recordIndex, lookups, lookupsEdited } = state;
  if (pendingShare) {
    // What the link replaced is saved as the author had it; everything else as it is now.
    files = { ...files };
    for (const [path, before] of Object.entries(pendingShare.files)) {
      if (before === undefined) delete files[path];
      else files[path] = before;
    }
    if (pendingShare.subject) {
      subjects = { ...subjects };
      if (pendingShare.subject.had) subjects[pendingShare.template] = pendingShare.subject.value;
      else delete subjects[pendingShare.template];
    }
    if ('event' in pendingShare) ({ event, recordIndex } = pendingShare);
    if ('lookups' in pendingShare) ({ lookups, lookupsEdited } = pendingShare);
    if (!(selected in files)) selected = pendingShare.selected;
  }
  save({ source, base, files, selected, subjects, event, recordIndex, lookups, lookupsEdited });
}

// ---- Controls ------------------------------------------------------------------------------

const selectTemplateTab = tabs(document.querySelector('.pane-template .tabs'), (tab) => {
  editingPart = { 'tab-html-template': 'html', 'tab-text-template': 'text', 'tab-routes': 'routes' }[tab.id];
  $('html-editor').hidden = editingPart !== 'html';
  $('text-editor').hidden = editingPart !== 'text';
  $('routes-editor').hidden = editingPart !== 'routes';
});

tabs(document.querySelector('.result .tabs'), (tab) => {
  $('view-rendered').hidden = tab.id !== 'tab-rendered';
  $('view-text').hidden = tab.id !== 'tab-text';
  $('view-source').hidden = tab.id !== 'tab-source';
  document.querySelector('.widths').hidden = tab.id !== 'tab-rendered';
});

function setWidth(mobile) {
  $('frame').classList.toggle('mobile', mobile);
  $('frame').classList.toggle('desktop', !mobile);
  $('width-mobile').setAttribute('aria-pressed', String(mobile));
  $('width-desktop').setAttribute('aria-pressed', String(!mobile));
}
$('width-desktop').addEventListener('click', () => setWidth(false));
$('width-mobile').addEventListener('click', () => setWidth(true));

$('template-select').addEventListener('change', (event) => select(event.target.value));
$('event-select').addEventListener('change', (event) => {
  if (event.target.value) setEvent(state.events[event.target.value], { follow: true });
});
$('record-select').addEventListener('change', (event) => {
  state.recordIndex = Number(event.target.value);
  update();
  followRoute();
});
$('subject').addEventListener('input', (event) => {
  state.subjects[state.selected] = event.target.value;
  if (!workspace?.hasRoutes) filesChanged = true;
  schedule();
});
$('error-go').addEventListener('click', goToFault);
$('add-text').addEventListener('click', () => {
  const sibling = textSibling(state.selected);
  edit(sibling, state.files[sibling] ?? '');
  fillEditors();
  editors.text.element.focus();
});
$('add-routes').addEventListener('click', () => {
  edit(ROUTES_FILE, JSON.stringify({ sender: 'Example <hello@example.com>', routes: [{ name: 'default', events: ['*'], template: state.selected, subject: $('subject').value, recipient: 'mailto' }] }, null, 2));
  fillEditors();
  editors.routes.element.focus();
});

$('save-template').addEventListener('click', () => {
  const path = { html: state.selected, text: textSibling(state.selected), routes: ROUTES_FILE }[editingPart];
  if (!(path in state.files)) return;
  const link = el('a', { attrs: { download: path.split('/').pop() } });
  link.href = URL.createObjectURL(new Blob([state.files[path]], { type: 'text/plain' }));
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  note(`Saved ${path} to your downloads: copy it into the templates folder to keep it.`);
});

$('share').addEventListener('click', async () => {
  const sibling = textSibling(state.selected);
  const hasText = sibling in state.files && sibling !== state.selected;
  // A link never replaces a layout or partial where it is opened: say so here, not there.
  const users = usedBy(hasText ? [state.selected, sibling] : [state.selected], state.files);
  if (users.length) {
    $('share-box').hidden = true;
    note(`${state.selected} is used by ${listed(users)}: a link cannot carry a layout or partial. Save the template and send the file instead.`);
    return;
  }
  const url = await shareLink({
    template: state.selected,
    html: state.files[state.selected],
    text: hasText ? state.files[sibling] : undefined,
    subject: $('subject').value,
    event: state.event,
    // The results of the lookups this sample reads, not the whole fixtures file.
    lookups: entriesFor(state.lookups, shownLookups),
  });
  $('share-url').value = url;
  $('share-box').hidden = false;
  $('share-url').select();
  const copied = await navigator.clipboard?.writeText(url).then(() => true, () => false);
  note(copied
    ? `Link copied (${url.length} characters). It carries ${state.selected} and the sample event, not the other templates.`
    : 'Copy the link below. It carries this template and the sample event, not the other templates.');
});

$('reset').addEventListener('click', async () => {
  endShare();
  forget();
  history.replaceState(null, '', window.location.pathname);
  await start({ restore: false });
  note(`Started again from ${state.label}.`);
});

async function openFiles(fileList) {
  const opened = await readFiles(fileList, state.files);
  // An opened file is the author's own: it is saved, even where a link's version was.
  if (pendingShare) for (const path of Object.keys(opened.templates)) delete pendingShare.files[path];
  Object.assign(state.files, opened.templates);
  if (opened.routes !== undefined) state.files[ROUTES_FILE] = opened.routes;
  if (opened.lookups !== undefined) {
    const read = readLookups(opened.lookups, 'the opened lookups.json');
    if (pendingShare) delete pendingShare.lookups;
    Object.assign(state, { lookups: read.lookups, lookupsEdited: true });
    lookupProblems.clear();
    $('lookups-source').textContent = read.label;
    $('lookups-problem').textContent = read.problem ?? '';
    $('lookups-problem').hidden = !read.problem;
  }
  filesChanged = true;
  const names = Object.keys(opened.events);
  for (const name of names) state.events[`opened: ${name}`] = opened.events[name];
  fillTemplateMenu();
  fillEventMenu();
  const firstTemplate = Object.keys(opened.templates).find(isTemplate);
  if (firstTemplate) select(firstTemplate);
  else fillEditors();
  if (names.length) setEvent(opened.events[names[0]]);
  else update();
  const count = Object.keys(opened.templates).length + names.length + (opened.routes === undefined ? 0 : 1) + (opened.lookups === undefined ? 0 : 1);
  note(`Opened ${count} file${count === 1 ? '' : 's'}${opened.skipped.length ? `; skipped ${opened.skipped.join(', ')}` : ''}.`);
}

$('open-files').addEventListener('click', () => $('file-input').click());
$('file-input').addEventListener('change', (event) => {
  openFiles(event.target.files);
  event.target.value = '';
});

let dragDepth = 0;
window.addEventListener('dragenter', (event) => {
  if (!event.dataTransfer?.types.includes('Files')) return;
  dragDepth += 1;
  $('drop').hidden = false;
});
window.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) $('drop').hidden = true;
});
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => {
  event.preventDefault();
  dragDepth = 0;
  $('drop').hidden = true;
  if (event.dataTransfer?.files.length) openFiles(event.dataTransfer.files);
});

// ---- Start ---------------------------------------------------------------------------------

async function start({ restore }) {
  const loaded = await loadStart();
  const saved = restore ? loadSaved(loaded.source) : null;
  const { files, kept } = mergeEdits(loaded.files, saved);
  Object.assign(state, {
    source: loaded.source,
    label: loaded.label,
    base: loaded.files,
    files,
    events: loaded.events,
    subjects: saved?.subjects ?? {},
    recordIndex: saved?.recordIndex ?? 0,
  });
  const loadedLookups = readLookups(loaded.lookups, loaded.label);
  const keepLookups = Boolean(saved?.lookupsEdited && saved.lookups && typeof saved.lookups === 'object');
  Object.assign(state, {
    lookups: keepLookups ? saved.lookups : loadedLookups.lookups,
    lookupsEdited: keepLookups,
    lookupsLabel: keepLookups ? 'your results (Reset discards them)' : loadedLookups.label,
  });
  lookupProblems.clear();
  $('lookups-source').textContent = state.lookupsLabel;
  $('lookups-problem').textContent = keepLookups ? '' : loadedLookups.problem ?? '';
  $('lookups-problem').hidden = keepLookups || !loadedLookups.problem;
  const first = Object.keys(files).find(isTemplate) ?? '';
  state.selected = saved?.selected in files ? saved.selected : START.template in files ? START.template : first;
  state.event = saved?.event ?? loaded.events[START.event] ?? Object.values(loaded.events)[0] ?? '{}';
  const edits = [...kept, ...(keepLookups ? ['the lookup results'] : [])];
  let message = edits.length
    ? `Templates from ${loaded.label}; your edits to ${listed(edits)} are kept (Reset discards them).`
    : `Templates from ${loaded.label}.`;

  endShare();
  const shared = restore ? await readShared(window.location.hash) : null;
  if (shared) {
    history.replaceState(null, '', window.location.pathname + window.location.search);
    message = shared.error ?? openShared(shared);
  }
  filesChanged = true;
  fillTemplateMenu();
  fillEventMenu();
  $('event-select').value = Object.keys(state.events).find((name) => state.events[name] === state.event) ?? '';
  editors.event.value = state.event;
  select(state.selected);
  note(message);
}

// ---- Share links ---------------------------------------------------------------------------

function listed(items) {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/**
 * Applies what a link may change (store.js `readShared` decides what that is) to the page only:
 * the author's saved workspace keeps their version until they keep the shared one. Returns the
 * note for the page.
 */
function openShared(shared) {
  const { template } = shared;
  const textPath = textSibling(template);
  const parts = [[template, shared.html], [textPath, shared.text]].filter(([, text]) => text !== undefined);
  const users = usedBy(parts.length ? parts.map(([path]) => path) : [template], state.files);
  const names = shared.ignored.slice(0, 5).map((path) => (path.length > 80 ? `${path.slice(0, 80)}…` : path));
  if (shared.ignored.length > 5) names.push(`${shared.ignored.length - 5} more`);
  const carried = () => (names.length ? ` It also carried ${listed(names)}, which a link never changes.` : '');
  const ignored = carried();
  if (users.length) {
    return `The link shares ${template}, which ${listed(users)} use${users.length === 1 ? 's' : ''}: a link never replaces a layout or partial, so nothing was changed.${ignored}`;
  }
  if (!(template in state.files) && shared.html === undefined) {
    return `The link shares ${template}, which is not in ${state.label} and which the link does not carry; nothing was changed.`;
  }
  const pending = { template, files: {}, selected: state.selected, recordIndex: state.recordIndex };
  const changed = [];
  for (const [path, text] of parts) {
    if (state.files[path] === text) continue;
    changed.push(path in state.files ? path : `${path} (new)`);
    pending.files[path] = state.files[path];
    state.files[path] = text;
  }
  if (shared.subject !== undefined && shared.subject !== subjectFor(template)) {
    changed.push(`the subject of ${template}`);
    pending.subject = { had: template in state.subjects, value: state.subjects[template] };
    state.subjects[template] = shared.subject;
  }
  if (shared.event !== undefined && shared.event !== state.event) {
    changed.push('the sample event');
    Object.assign(pending, { event: state.event, recordIndex: state.recordIndex });
    state.event = shared.event;
    state.recordIndex = 0;
  }
  state.selected = template;
  if (shared.lookups) {
    const applied = applySharedLookups(shared.lookups);
    if (applied.changed.length) {
      changed.push(`the result${applied.changed.length === 1 ? '' : 's'} of lookup ${listed(applied.changed)}`);
      Object.assign(pending, { lookups: state.lookups, lookupsEdited: state.lookupsEdited });
      Object.assign(state, { lookups: applied.lookups, lookupsEdited: true });
    }
    if (applied.ignored) names.push(`${applied.ignored} lookup result${applied.ignored === 1 ? '' : 's'} this sample does not read`);
  }
  const ignoredAll = carried();
  if (!changed.length) return `Opened the shared preview of ${template}: it matches yours, nothing changed.${ignoredAll}`;
  pendingShare = pending;
  $('shared-changed').textContent = listed(changed);
  $('shared-ignored').textContent = ignoredAll.trim();
  $('shared-ignored').hidden = !ignoredAll;
  $('shared-notice').hidden = false;
  return `Opened the shared preview of ${template}.`;
}

/**
 * A link's lookup results, as far as the shared sample reads them: the shared template is
 * rendered with the shared event and every entry the link carries, and only the entries of the
 * lookups that rendering asks for (by table and key) are applied, so a link cannot change what
 * other samples read. Returns `{lookups, changed: [lookup name], ignored: count}`.
 */
function applySharedLookups(carried) {
  const entries = Object.entries(carried).flatMap(([table, list]) => list.map((entry) => [table, entry]));
  const trial = entries.reduce((fixtures, [table, entry]) => withFixture(fixtures, table, entry), state.lookups);
  const sample = classify(state.event, 0);
  let asked = [];
  if (!sample.error) {
    const scratch = new Workspace(state.files, { template: state.selected, subject: subjectFor(state.selected) });
    const rendered = scratch.render(state.selected, sample.data, subjectFor(state.selected) || undefined, Date.now(), trial);
    asked = rendered.value?.lookups ?? rendered.error?.lookups ?? [];
    scratch.free();
  }
  let lookups = state.lookups;
  const changed = [];
  let ignored = 0;
  for (const [table, entry] of entries) {
    const lookup = asked.find((candidate) => answers(table, entry, candidate));
    if (!lookup) {
      ignored += 1;
      continue;
    }
    const before = JSON.stringify(entriesFor(lookups, [lookup]));
    lookups = withFixture(lookups, table, entry);
    if (JSON.stringify(entriesFor(lookups, [lookup])) !== before) changed.push(lookup.name);
  }
  return { lookups, changed, ignored };
}

function endShare() {
  pendingShare = null;
  $('shared-notice').hidden = true;
}

$('shared-keep').addEventListener('click', () => {
  const kept = $('shared-changed').textContent;
  endShare();
  persist();
  note(`Kept the shared ${kept}; Reset discards them.`);
});

$('shared-undo').addEventListener('click', () => {
  const pending = pendingShare;
  if (!pending) return;
  endShare();
  for (const [path, before] of Object.entries(pending.files)) {
    if (before === undefined) delete state.files[path];
    else state.files[path] = before;
  }
  if (pending.subject) {
    if (pending.subject.had) state.subjects[pending.template] = pending.subject.value;
    else delete state.subjects[pending.template];
  }
  if ('lookups' in pending) {
    state.lookups = pending.lookups;
    state.lookupsEdited = pending.lookupsEdited;
  }
  if ('event' in pending) {
    state.event = pending.event;
    state.recordIndex = pending.recordIndex;
    editors.event.value = state.event;
    $('event-select').value = Object.keys(state.events).find((name) => state.events[name] === state.event) ?? '';
  }
  filesChanged = true;
  fillTemplateMenu();
  select(pending.selected in state.files ? pending.selected : state.selected in state.files ? state.selected : Object.keys(state.files).find(isTemplate) ?? '');
  note(`Back to your version of ${pending.template}.`);
});

try {
  await loadEngine();
  await start({ restore: true });
  document.body.dataset.ready = 'true';
} catch (error) {
  note(`The previewer could not start: ${error.message}`);
  document.body.dataset.ready = 'failed';
}
