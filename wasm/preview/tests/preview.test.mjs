// The previewer in a real browser: Debian's Chromium, headless, driven by playwright-core,
// against the page served on 127.0.0.1 by a real server started here.
//
// PREVIEW_SERVER is the server command (its first output line containing http://127.0.0.1:PORT/
// is the page); by default the page's own static server. To test through the CLI instead:
//   PREVIEW_SERVER="mailroom preview examples/templates --port 0" node --test tests/
// CHROMIUM overrides /usr/bin/chromium; PREVIEW_ARTIFACTS the screenshot folder.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { EXAMPLE_EVENTS, EXAMPLE_TEMPLATES } from '../examples.js';
import { SERVER, launchBrowser, pageDir, repo, startServer, stopServer } from './harness.mjs';

const ARTIFACTS = resolve(process.env.PREVIEW_ARTIFACTS ?? join(pageDir, 'artifacts'));

let server;
let baseUrl;
let browser;

async function openPage(context = null) {
  const owner = context ?? (await browser.newContext({ viewport: { width: 1440, height: 900 } }));
  const page = await owner.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(baseUrl);
  await page.waitForSelector('body[data-ready]');
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', await page.textContent('#source-note'));
  return { page, context: owner, problems };
}

const frameBody = (page) => page.frameLocator('#frame').locator('body');

/** A share link as anyone can write one: `content` deflated into the fragment, as the page does. */
const craftedLink = (content) => `${baseUrl}#share=${deflateRawSync(Buffer.from(JSON.stringify({ v: 1, ...content }))).toString('base64url')}`;

/** The workspace the page keeps in local storage. */
const stored = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('mailroom-preview/v1')));

/** The shipped order confirmation as the page renders it for order-sns.json (through layout and footer). */
async function orderEmail(page) {
  await page.selectOption('#event-select', 'order-sns.json');
  assert.equal(await page.inputValue('#template-select'), 'orders/confirmation.html');
  await settled(page);
  await frameBody(page).getByText('Thank you for your order, Ana!').waitFor();
  return { html: await page.textContent('#view-source'), text: await page.textContent('#view-text') };
}

/** A shipped template without a text part, so what is typed is the whole email. */
const SCRATCH = 'welcome/enrollment-completed.html';

/** Replaces the whole template, subject and sample event, as an author pasting them would. */
async function author(page, { template, subject, event }) {
  if (template !== undefined) {
    if ((await page.inputValue('#template-select')) !== SCRATCH) await page.selectOption('#template-select', SCRATCH);
    await page.fill('#html-input', template);
  }
  if (subject !== undefined) await page.fill('#subject', subject);
  if (event !== undefined) await page.fill('#event-editor-input', typeof event === 'string' ? event : JSON.stringify(event, null, 2));
  await settled(page);
}

/** Waits until the page has rendered and decided what was typed (typing is debounced). */
async function settled(page) {
  await page.waitForSelector('body:not([data-pending])', { state: 'attached' });
}

function sqsRecord(body, messageId = 'm-1') {
  return {
    messageId,
    receiptHandle: `r-${messageId}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1795428000000' },
    messageAttributes: {},
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:mail',
    awsRegion: 'us-east-1',
  };
}

before(async () => {
  ({ child: server, url: baseUrl } = await startServer());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

test('the page lists every shipped example template and event', () => {
  const templates = readdirSync(join(repo, 'examples', 'templates'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.') && !/\.(json|md)$/i.test(entry.name))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name).slice(join(repo, 'examples', 'templates').length + 1));
  assert.deepEqual([...EXAMPLE_TEMPLATES].sort(), templates.sort());
  const events = readdirSync(join(repo, 'examples', 'events')).filter((name) => name.endsWith('.json'));
  assert.deepEqual([...EXAMPLE_EVENTS].sort(), events.sort());
});

describe('the previewer', () => {
  test('starts from the examples and decides the example event', async () => {
    const { page, context, problems } = await openPage();
    const menu = await page.locator('#template-select option').allTextContents();
    assert.ok(menu.includes('orders/confirmation.html'), menu.join(', '));
    assert.ok(menu.includes('enrollment/organizer.html'), menu.join(', '));
    assert.equal(await page.inputValue('#template-select'), 'orders/confirmation.html');
    assert.match(await page.inputValue('#html-input'), /extends "layout.html"/);
    // `mailroom preview DIR` serves the folder as templates.json; a plain server, the examples.
    const viaFolder = (await fetch(new URL('templates.json', baseUrl))).ok;
    assert.equal(viaFolder, /\bmailroom\b.*\bpreview\b/.test(SERVER));
    assert.match(await page.textContent('#source-note'), viaFolder ? /Templates from examples\/templates\./ : /Templates from the examples\./);
    // order-sns.json: an SNS-wrapped Shopify order, routed to the order confirmation.
    await page.locator('#decision .badge.send').waitFor();
    assert.match(await page.textContent('#decision'), /ana\.nunez@example\.org/);
    assert.match(await page.textContent('#decision'), /Order #1071 confirmed/);
    // The shipped example email is shown (as the author preview renders it, or, while that
    // lacks metadata the footer reads, as the Lambda renders it for this record).
    await frameBody(page).getByText('Thank you for your order, Ana!').waitFor();
    assert.equal(await page.textContent('#subject-out'), 'Order #1071 confirmed');
    const events = await page.locator('#event-select option').allTextContents();
    for (const name of ['order-sns.json', 'welcome-eventbridge.json', 'quickstart.json']) assert.ok(events.includes(name), name);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('renders what is typed into the sandboxed frame, with the variables it reads', async () => {
    const { page, context } = await openPage();
    // Undefined variables fail the rendering, as in the Lambda; `default` makes them optional.
    await author(page, { template: '<h1>Hello {{ name }}</h1>\n<p>Also {{ nickname | default("none") }}</p>', subject: 'Hi {{ name }}', event: { name: 'Ana' } });
    await page.locator('#html-input').pressSequentially('<p>Ref {{ ref | default("-") }}</p>', { delay: 5 });
    await settled(page);
    await frameBody(page).getByText('Hello Ana').waitFor();
    assert.match(await frameBody(page).textContent(), /Ref/);
    assert.equal(await page.textContent('#subject-out'), 'Hi Ana');
    const variables = await page.locator('#variables li').allTextContents();
    assert.ok(variables.some((v) => v.startsWith('name') && !v.includes('missing')), variables.join(' | '));
    assert.ok(variables.some((v) => v.startsWith("nickname") && v.includes('missing')), variables.join(' | '));
    assert.ok(variables.some((v) => v.startsWith('ref') && v.includes('missing')), variables.join(' | '));
    // The plain-text part and the HTML source, by keyboard on the tab list.
    await page.focus('#tab-rendered');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getAttribute('#tab-text', 'aria-selected'), 'true');
    assert.match(await page.textContent('#view-text'), /Hello Ana/);
    await page.keyboard.press('ArrowRight');
    assert.match(await page.textContent('#view-source'), /<h1>Hello Ana<\/h1>/);
    assert.equal(await page.getAttribute('#frame', 'sandbox'), '');
    // Without a text template the text part is derived from the HTML; with one, it is used.
    await page.click('#tab-text-template');
    assert.ok(await page.locator('#no-text').isVisible());
    await page.click('#add-text');
    await page.fill('#text-input', 'Plain {{ name }}, by hand');
    await settled(page);
    assert.equal(await page.textContent('#view-text'), 'Plain Ana, by hand');
    await context.close();
  });

  test('a syntax error shows its line and column, highlights it, and keeps the last preview', async () => {
    const { page, context } = await openPage();
    await author(page, { template: '<p>Good {{ name }}</p>', subject: 'Test', event: { name: 'Ana' } });
    await frameBody(page).getByText('Good Ana').waitFor();
    await page.fill('#html-input', '<p>Good {{ name }}</p>\n<p>fine</p>\n<p>{% if %}broken</p>');
    await settled(page);
    await page.locator('#error').waitFor({ state: 'visible' });
    const where = await page.textContent('#error-where');
    assert.match(where, /line 3/);
    assert.match(where, /column \d+/);
    assert.match(await page.textContent('#error-line'), /\{% if %\}broken/);
    // The highlighted line sits at line 3 of the editor, and the last good preview stays.
    assert.ok(await page.locator('#html-editor .mark').isVisible());
    const mark = await page.locator('#html-editor .mark').boundingBox();
    const area = await page.locator('#html-input').boundingBox();
    assert.equal(Math.round(mark.y - area.y), 8 + 2 * 20);
    assert.match(await frameBody(page).textContent(), /Good Ana/);
    // "Go to the line" puts the caret on it.
    await page.click('#error-go');
    const caret = await page.evaluate(() => {
      const input = document.getElementById('html-input');
      return input.value.slice(0, input.selectionStart).split('\n').length;
    });
    assert.equal(caret, 3);
    // Fixing it clears the error and renders again.
    await page.fill('#html-input', '<p>Fixed {{ name }}</p>');
    await settled(page);
    await frameBody(page).getByText('Fixed Ana').waitFor();
    assert.ok(await page.locator('#error').isHidden());
    await context.close();
  });

  test('markup from the template or the data never runs, in the frame or in the page', async () => {
    const { page, context } = await openPage();
    const attack = '<img src=x onerror="document.body.dataset.pwned=\'onerror\';window.parent.__pwned=true">'
      + '<script>document.body.dataset.pwned="script";window.parent.__pwned=true;</script>';
    await author(page, {
      template: '<p>Hello {{ name }}</p>\n{{ payload | safe }}\n<script>document.body.dataset.pwned="template"</script>\n<svg onload="document.body.dataset.pwned=\'svg\'"></svg>',
      subject: 'Hi {{ name }}',
      event: sqsRecord({ name: attack, payload: attack, studentName: attack, courseName: 'Rust', mailto: 'ana@example.com' }),
    });
    await frameBody(page).locator('p').first().waitFor();
    await page.waitForTimeout(300); // give any handler the chance to run
    // Two layers, each enough alone: the frame's sandbox allows nothing (no scripts), and the
    // page's policy, which the srcdoc frame inherits, allows no inline script.
    assert.equal(await page.getAttribute('#frame', 'sandbox'), '');
    const policy = await page.getAttribute('meta[http-equiv=Content-Security-Policy]', 'content');
    assert.match(policy, /script-src 'self' 'wasm-unsafe-eval';/);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.equal(await frameBody(page).getAttribute('data-pwned'), null);
    // The data reached the frame as markup (so the sandbox, not luck, stopped it) ...
    assert.equal(await page.frameLocator('#frame').locator('img[onerror]').count(), 1);
    // ... and the page itself shows it as text only.
    const subject = page.locator('#subject-out');
    assert.match(await subject.textContent(), /<img src=x onerror=/);
    assert.equal(await subject.evaluate((node) => node.children.length), 0);
    assert.match(await page.textContent('#decision'), /<script>/);
    assert.equal(await page.locator('#decision img, #decision script, #variables img').count(), 0);
    await context.close();
  });

  test('shows the text a record sends beside its email, with the segment counter and encoding the core computed', async () => {
    const { page, context, problems } = await openPage();
    // The native report of the same records: the page must show what every host decides.
    const snapshot = readFileSync(join(repo, 'tests', 'vectors', 'snapshots', 'report@examples-domain-events.json.snap'), 'utf8');
    const native = JSON.parse(snapshot.split('---\n').slice(2).join('---\n')).records;
    await page.selectOption('#event-select', 'domain-events.json');
    await settled(page);
    for (const [index, report] of native.entries()) {
      if (index > 0) {
        await page.selectOption('#record-select', String(index));
        await settled(page);
      }
      if (report.sms === undefined) {
        await page.locator('#sms').waitFor({ state: 'hidden' });
        continue;
      }
      const { segments, encoding, characters, to, text } = report.sms;
      const counter = `${segments} segment${segments === 1 ? '' : 's'} · ${encoding} · ${characters} characters`;
      await page.waitForFunction((expected) => document.querySelector('#sms-counter')?.textContent === expected, counter);
      assert.equal(await page.textContent('#sms-to'), to);
      assert.equal(await page.textContent('#sms-text'), text);
    }
    // Both encodings are among the examples: the payment's emoji makes it UCS-2.
    assert.deepEqual([...new Set(native.flatMap((report) => (report.sms ? [report.sms.encoding] : [])))].sort(), ['GSM-7', 'UCS-2']);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('decides pasted records as the Lambda does: SNS-wrapped sends, a malformed body is rejected', async () => {
    const { page, context } = await openPage();
    const sns = sqsRecord({
      Type: 'Notification',
      MessageId: 'sns-1',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:enrollments',
      Message: JSON.stringify({ mailto: 'Dana <dana@academy.example.com>', studentName: 'Ana', courseName: 'Rust' }),
      Timestamp: '2026-11-23T10:00:00.000Z',
    });
    await author(page, { event: sns });
    await page.locator('#decision .badge.send').waitFor();
    const decided = await page.textContent('#decision');
    assert.match(decided, /dana@academy\.example\.com/);
    assert.match(decided, /New enrollment: Ana joined Rust/);
    assert.match(decided, /route organizer-enrollment/);

    await author(page, { event: sqsRecord('{"mailto": "dana@academy.example.com", ') });
    await page.locator('#decision .badge.reject').waitFor();
    assert.equal(await page.textContent('#decision .badge'), 'reject malformed_body');
    assert.match(await page.textContent('#decision'), /dead-letter queue/);

    // A whole Lambda event: one decision per record; another record can be shown.
    const quickstart = readFileSync(join(repo, 'examples', 'events', 'quickstart.json'), 'utf8');
    await page.selectOption('#event-select', 'quickstart.json');
    assert.equal(await page.inputValue('#event-editor-input'), quickstart);
    const count = JSON.parse(quickstart).Records.length;
    await page.locator('#decision .records > li').nth(count - 1).waitFor();
    assert.equal(await page.locator('#decision .records > li').count(), count);
    assert.ok(await page.locator('#decision .badge.send').count() >= 9);
    // The organizer without an address, the malformed body, and the student no lookup finds.
    assert.equal(await page.locator('#decision .badge.reject').count(), 3);
    await context.close();
  });

  test('the mobile width narrows the frame', async () => {
    const { page, context } = await openPage();
    await author(page, { template: '<p>Width test</p>', subject: 'Test', event: {} });
    await frameBody(page).getByText('Width test').waitFor();
    const desktop = (await page.locator('#frame').boundingBox()).width;
    await page.click('#width-mobile');
    const mobile = (await page.locator('#frame').boundingBox()).width;
    assert.equal(Math.round(mobile), 375);
    assert.ok(desktop > 600, `desktop width ${desktop}`);
    assert.equal(await page.getAttribute('#width-mobile', 'aria-pressed'), 'true');
    await page.click('#width-desktop');
    assert.equal((await page.locator('#frame').boundingBox()).width, desktop);
    await context.close();
  });

  test('keeps work across reloads, and a link carries template and event to a colleague', async () => {
    const { page, context } = await openPage();
    await author(page, { template: '<p>Kept {{ who }}</p>', subject: 'For {{ who }}', event: { who: 'Bea' } });
    await frameBody(page).getByText('Kept Bea').waitFor();
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await page.inputValue('#html-input'), '<p>Kept {{ who }}</p>');
    assert.equal(await page.inputValue('#subject'), 'For {{ who }}');
    await frameBody(page).getByText('Kept Bea').waitFor();
    assert.match(await page.textContent('#source-note'), /welcome\/enrollment-completed\.html/);

    await page.click('#share');
    // The link is compressed asynchronously after the click.
    await page.waitForFunction(() => document.getElementById('share-url').value !== '');
    const link = await page.inputValue('#share-url');
    assert.match(link, /#share=[A-Za-z0-9_-]+$/);
    // A colleague: a fresh browser context, nothing stored.
    const colleague = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const other = await colleague.newPage();
    await other.goto(link);
    await other.waitForSelector('body[data-ready=true]');
    assert.equal(await other.inputValue('#html-input'), '<p>Kept {{ who }}</p>');
    assert.equal(await other.inputValue('#subject'), 'For {{ who }}');
    await frameBody(other).getByText('Kept Bea').waitFor();
    assert.equal(await other.textContent('#subject-out'), 'For Bea');
    // The colleague is told what the link replaced, and keeps it by choice.
    assert.ok(await other.locator('#shared-notice').isVisible());
    assert.equal(await other.textContent('#shared-changed'), 'welcome/enrollment-completed.html, the subject of welcome/enrollment-completed.html and the sample event');
    assert.ok(await other.locator('#shared-ignored').isHidden());
    await other.click('#shared-keep');
    assert.ok(await other.locator('#shared-notice').isHidden());
    await other.reload();
    await other.waitForSelector('body[data-ready=true]');
    assert.equal(await other.inputValue('#html-input'), '<p>Kept {{ who }}</p>');
    await frameBody(other).getByText('Kept Bea').waitFor();
    await colleague.close();

    // Reset goes back to the originals.
    await page.click('#reset');
    await page.waitForFunction(() => document.getElementById('html-input').value.includes('extends "layout.html"'));
    await context.close();
  });

  test('a share link changes only the shared template, subject and event, and nothing is saved until kept', async () => {
    const { page, context, problems } = await openPage();
    // The author's own work: an edited template, and the shipped order email through layout and footer.
    const email = await orderEmail(page);
    const routesFile = await page.inputValue('#routes-input');
    await author(page, { template: '<p>Mine {{ who }}</p>', subject: 'Mine {{ who }}', event: { who: 'Ana' } });
    await frameBody(page).getByText('Mine Ana').waitFor();
    const saved = await stored(page);
    assert.equal(saved.files[SCRATCH], '<p>Mine {{ who }}</p>');

    // A crafted link: the template it shares, plus a layout, a partial, routes.json and another template.
    const link = craftedLink({
      template: SCRATCH,
      files: {
        [SCRATCH]: '<p>Shared {{ who }}</p>',
        'layout.html': '<p>REPLACED layout</p>',
        'partials/footer.html': '<p>REPLACED footer</p>',
        'routes.json': '{"sender": "x@example.com", "routes": []}',
        'orders/confirmation.html': '<p>REPLACED order</p>',
      },
      subject: 'Shared {{ who }}',
      event: '{"who": "Bea"}',
    });
    const opened = await context.newPage();
    opened.on('pageerror', (error) => problems.push(error.message));
    await opened.goto(link);
    await opened.waitForSelector('body[data-ready=true]');
    // The shared template is shown, and the notice names what it replaced and what it ignored.
    assert.equal(await opened.inputValue('#template-select'), SCRATCH);
    assert.equal(await opened.inputValue('#html-input'), '<p>Shared {{ who }}</p>');
    await frameBody(opened).getByText('Shared Bea').waitFor();
    assert.ok(await opened.locator('#shared-notice').isVisible());
    assert.equal(await opened.textContent('#shared-changed'), `${SCRATCH}, the subject of ${SCRATCH} and the sample event`);
    const ignored = await opened.textContent('#shared-ignored');
    for (const path of ['layout.html', 'partials/footer.html', 'routes.json', 'orders/confirmation.html']) assert.ok(ignored.includes(path), ignored);
    // Layout, partial, routes and the other template are the author's: the same email, the same routes.
    assert.equal(await opened.inputValue('#routes-input'), routesFile);
    assert.deepEqual(await orderEmail(opened), email);
    assert.doesNotMatch(await opened.textContent('#view-source'), /REPLACED/);
    // Nothing the link carried is saved: storage holds the author's workspace, even after edits elsewhere.
    const during = await stored(opened);
    assert.deepEqual(during.files, saved.files);
    assert.deepEqual(during.subjects, saved.subjects);
    assert.equal(during.event, saved.event);

    // "Back to my version" restores the author's template, subject and event.
    await opened.selectOption('#template-select', SCRATCH);
    await opened.click('#shared-undo');
    assert.ok(await opened.locator('#shared-notice').isHidden());
    assert.equal(await opened.inputValue('#html-input'), '<p>Mine {{ who }}</p>');
    assert.equal(await opened.inputValue('#subject'), 'Mine {{ who }}');
    await frameBody(opened).getByText('Mine Ana').waitFor();
    assert.deepEqual((await stored(opened)).files, saved.files);

    // Reloading a link not kept goes back to the author's version too; keeping saves the shared
    // template only, never the files the link had no business changing.
    // (through about:blank: the same address with a new fragment would not load the page again)
    await opened.goto('about:blank');
    await opened.goto(link);
    await opened.waitForSelector('body[data-ready=true]');
    await frameBody(opened).getByText('Shared Bea').waitFor();
    await opened.reload();
    await opened.waitForSelector('body[data-ready=true]');
    assert.ok(await opened.locator('#shared-notice').isHidden());
    assert.equal(await opened.inputValue('#html-input'), '<p>Mine {{ who }}</p>');
    await opened.goto('about:blank');
    await opened.goto(link);
    await opened.waitForSelector('body[data-ready=true]');
    await opened.click('#shared-keep');
    const kept = await stored(opened);
    assert.equal(kept.files[SCRATCH], '<p>Shared {{ who }}</p>');
    assert.equal(kept.subjects[SCRATCH], 'Shared {{ who }}');
    assert.equal(kept.event, '{"who": "Bea"}');
    for (const path of ['layout.html', 'partials/footer.html', 'routes.json', 'orders/confirmation.html']) {
      assert.equal(kept.files[path], saved.files[path], path);
    }
    assert.deepEqual(await orderEmail(opened), email);
    await opened.close();

    // A link whose template is the layout (others extend it) or routes.json changes nothing.
    for (const [template, why] of [['layout.html', /a link never replaces a layout or partial, so nothing was changed/], ['routes.json', /not a template a link can share/]]) {
      const other = await context.newPage();
      await other.goto(craftedLink({ template, files: { [template]: '<p>REPLACED</p>' }, subject: 'x', event: '{}' }));
      await other.waitForSelector('body[data-ready=true]');
      assert.match(await other.textContent('#source-note'), why);
      assert.ok(await other.locator('#shared-notice').isHidden());
      assert.deepEqual((await stored(other)).files, kept.files);
      assert.deepEqual(await orderEmail(other), email);
      await other.close();
    }
    // And the page will not make a link for a layout.
    await page.selectOption('#template-select', 'layout.html');
    await page.click('#share');
    await page.waitForFunction(() => /cannot carry a layout/.test(document.getElementById('source-note').textContent));
    assert.ok(await page.locator('#share-box').isHidden());
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('opens templates and events from local files', async () => {
    const { page, context } = await openPage();
    // The welcome route's subject reads its lookups: the samples name a student and course the
    // example results have.
    const sample = (name) => JSON.stringify({ eventType: 'EnrollmentCompleted', name, studentId: 'stu_81723', courseId: 'rust-backend-101' });
    await page.setInputFiles('#file-input', [
      { name: 'enrollment-completed.html', mimeType: 'text/html', buffer: Buffer.from('<p>From disk {{ name }}</p>') },
      { name: 'sample.json', mimeType: 'application/json', buffer: Buffer.from(sample('#2002')) },
    ]);
    await settled(page);
    // The file replaces the one template of that name, welcome/enrollment-completed.html.
    await frameBody(page).getByText('From disk #2002').waitFor();
    assert.equal(await page.inputValue('#template-select'), SCRATCH);
    assert.match(await page.textContent('#source-note'), /Opened 2 files/);
    assert.ok((await page.locator('#event-select option').allTextContents()).includes('opened: sample.json'));
    // Dropping a file on the page opens it the same way.
    const dropped = await page.evaluateHandle((body) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([body], 'dropped.json', { type: 'application/json' }));
      return transfer;
    }, sample('#3003'));
    await page.dispatchEvent('body', 'drop', { dataTransfer: dropped });
    await frameBody(page).getByText('From disk #3003').waitFor();
    assert.match(await page.inputValue('#event-editor-input'), /#3003/);
    await context.close();
  });

  test('screenshot of the page as an author sees it', async () => {
    const { page, context } = await openPage();
    // Picking an example event opens the template its route renders.
    await page.selectOption('#template-select', 'orders/confirmation.html');
    await page.selectOption('#event-select', 'enrollment-sns.json');
    assert.equal(await page.inputValue('#template-select'), 'enrollment/organizer.html');
    await page.locator('#decision .badge').first().waitFor();
    await page.waitForTimeout(300);
    mkdirSync(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, 'preview.png');
    await page.screenshot({ path });
    assert.ok(readFileSync(path).length > 10_000);
    console.log(`screenshot: ${path}`);
    await context.close();
  });
});
