// Drawing results into the page. Everything from templates or data is inserted with
// textContent or as the sandboxed frame's srcdoc, never as HTML of this page.

/** Builds an element with text content and optional class. */
export function el(tag, { text, className, attrs } = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** "orders/confirmation.html, line 3, column 5" from a template fault. */
export function describeWhere(fault) {
  if (!fault) return '';
  const parts = [];
  if (fault.template) parts.push(fault.template === 'subject' ? 'Subject template' : fault.template);
  if (fault.line) parts.push(`line ${fault.line}`);
  if (fault.column) parts.push(`column ${fault.column}`);
  return parts.join(', ');
}

/** Line and column of a JSON.parse message ("… (line 3 column 5)" or "… at position 42"). */
export function jsonLocation(message, text) {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /position (\d+)/.exec(message);
  if (!position) return null;
  const before = text.slice(0, Number(position[1])).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** The variables list; those missing from the sample are marked in words, not only colour. */
export function drawVariables(list, summary, preview) {
  const missing = new Set(preview.missing);
  list.replaceChildren(
    ...preview.variables.map((name) => {
      const item = el('li', { className: missing.has(name) ? 'missing' : '' }, el('code', { text: name }));
      if (missing.has(name)) item.append(el('span', { className: 'tag', text: 'missing from the sample' }));
      return item;
    }),
  );
  if (preview.variables.length === 0) list.append(el('li', { className: 'none', text: 'This template reads no variables.' }));
  summary.textContent = missing.size
    ? `${preview.variables.length} used, ${missing.size} missing from the sample`
    : `${preview.variables.length} used, all in the sample`;
}

function recipients(email) {
  return (email.to ?? []).join(', ');
}

function badge(report) {
  const words = report.decision === 'send' || report.decision === 'suppressed' ? report.decision : `${report.decision} ${report.reason}`;
  return el('span', { className: `badge ${report.decision}`, text: words });
}

function detailsOf(report) {
  if (report.decision === 'send') {
    const email = report.email;
    const lines = [el('p', {}, el('span', { className: 'k', text: 'To ' }), document.createTextNode(recipients(email)))];
    if (email.replyTo) lines.push(el('p', {}, el('span', { className: 'k', text: 'Reply-To ' }), document.createTextNode(email.replyTo)));
    lines.push(el('p', {}, el('span', { className: 'k', text: 'Subject ' }), document.createTextNode(email.subject)));
    return lines;
  }
  if (report.decision === 'suppressed') {
    return [el('p', { text: `Every recipient is suppressed in the delivery ledger: ${report.recipients.join(', ')}.` }),
      el('p', { className: 'k', text: 'The record is acknowledged; nothing is sent.' })];
  }
  const lines = [el('p', { text: report.detail })];
  if (report.decision === 'retry') {
    lines.push(el('p', { className: 'k', text: `The record stays on the queue and is retried in ${report.retryAfterSeconds} s.` }));
  } else {
    lines.push(el('p', { className: 'k', text: 'The record goes to the dead-letter queue.' }));
  }
  return lines;
}

/**
 * The decision panel: one entry per record, the rendered one marked. `onPick(index)` selects
 * another record of a Lambda event; `onOpen(template)` opens the template a route uses.
 */
/**
 * The text a record sends beside its email, as the core made it (`report.sms`): number, text,
 * and its segment counter and encoding. Nothing is counted here; the core counted it.
 * Hidden when the record sends no text.
 */
export function drawSms(container, report) {
  const sms = report?.decision === 'send' ? report.sms : undefined;
  container.hidden = sms === undefined;
  if (sms === undefined) return;
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  container.querySelector('#sms-counter').textContent = `${plural(sms.segments, 'segment')} · ${sms.encoding} · ${plural(sms.characters, 'character')}`;
  container.querySelector('#sms-to').textContent = sms.to;
  container.querySelector('#sms-meta').textContent = [sms.smsType, sms.senderId && `from ${sms.senderId}`].filter(Boolean).join(' · ');
  container.querySelector('#sms-text').textContent = sms.text;
}

export function drawDecision(container, result, sample, { routeTemplate, selected, onPick, onOpen }) {
  container.replaceChildren();
  if (result.error) {
    container.append(
      el('p', { className: 'decision-error' }, el('span', { className: 'badge error', text: 'cannot decide' }), document.createTextNode(` ${result.error.message}`)),
    );
    return;
  }
  const heading = sample.shape === 'event'
    ? `What mailroom decides for this Lambda event (${result.value.length} record${result.value.length === 1 ? '' : 's'})`
    : 'What mailroom decides for this record';
  container.append(el('h2', { text: heading }));
  const list = el('ol', { className: 'records' });
  result.value.forEach((report, index) => {
    const current = index === sample.index;
    const head = el('div', { className: 'record-head' }, badge(report));
    if (report.route) head.append(el('span', { className: 'k', text: `route ${report.route}` }));
    if (report.eventType) head.append(el('span', { className: 'k', text: report.eventType }));
    if (result.value.length > 1) {
      const pick = el('button', { text: current ? 'Shown below' : 'Show this record', attrs: { type: 'button' } });
      pick.disabled = current;
      pick.addEventListener('click', () => onPick(index));
      head.append(pick);
    }
    const item = el('li', { className: current ? 'current' : '' }, head);
    if (current || result.value.length === 1) item.append(...detailsOf(report));
    else if (report.decision === 'retry' || report.decision === 'reject') item.append(el('p', { className: 'k', text: report.detail }));
    const template = report.route ? routeTemplate(report.route) : null;
    if (current && report.decision === 'send' && template && template !== selected) {
      const open = el('button', { text: `Open ${template}`, attrs: { type: 'button' } });
      open.addEventListener('click', () => onOpen(template));
      item.append(el('p', { className: 'k' }, document.createTextNode(`This record is rendered with ${template}. `), open));
    }
    if (current && result.value.length > 1) item.setAttribute('aria-current', 'true');
    list.append(item);
  });
  container.append(list);
}

/**
 * Makes a tab list keyboard-operable (arrows, Home, End) and calls `onSelect(tab)` when a tab
 * is chosen. Panels are shown by the caller.
 */
export function tabs(tablist, onSelect) {
  const all = () => Array.from(tablist.querySelectorAll('[role=tab]')).filter((tab) => !tab.hidden);
  const select = (tab) => {
    for (const other of all()) {
      const on = other === tab;
      other.setAttribute('aria-selected', String(on));
      other.tabIndex = on ? 0 : -1;
    }
    onSelect(tab);
  };
  for (const tab of all()) {
    tab.tabIndex = tab.getAttribute('aria-selected') === 'true' ? 0 : -1;
    tab.addEventListener('click', () => select(tab));
  }
  tablist.addEventListener('keydown', (event) => {
    const list = all();
    const at = list.indexOf(document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: list.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = list[(next + list.length) % list.length];
    tab.focus();
    select(tab);
  });
  return select;
}
