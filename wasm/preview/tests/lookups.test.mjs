// The previewer's lookups in a real browser (Debian's Chromium, headless, through
// playwright-core): the welcome example reads a student, a course and its instructor; the page
// shows each lookup with its result, the author edits a result and the email follows, a result
// left empty is "not found", and a share link carries the results its sample reads, no others.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { SERVER, launchBrowser, repo, startServer, stopServer } from './harness.mjs';

const WELCOME = 'welcome/enrollment-completed.html';
const fixtures = JSON.parse(readFileSync(join(repo, 'examples', 'templates', 'lookups.json'), 'utf8'));
const student = fixtures.enrollments.find((entry) => entry.key.PK.startsWith('STUDENT#')).item;

let server;
let baseUrl;
let browser;

before(async () => {
  ({ child: server, url: baseUrl } = await startServer());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

async function openPage({ url = baseUrl, context = null, prepare } = {}) {
  const owner = context ?? (await browser.newContext({ viewport: { width: 1440, height: 1000 } }));
  const page = await owner.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  if (prepare) await prepare(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready]');
  assert.equal(await page.getAttribute('body', 'data-ready'), 'true', await page.textContent('#source-note'));
  return { page, context: owner, problems };
}

const frameBody = (page) => page.frameLocator('#frame').locator('body');
const row = (page, name) => page.locator(`#lookups li[data-lookup="${name}"]`);
const editor = (page, name) => row(page, name).locator('textarea');
const settled = (page) => page.waitForSelector('body:not([data-pending])', { state: 'attached' });
const stored = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('mailroom-preview/v1')));

/** The welcome example: picking its event opens the template its route renders. */
async function welcome(page) {
  await page.selectOption('#event-select', 'welcome-sns.json');
  assert.equal(await page.inputValue('#template-select'), WELCOME);
  await settled(page);
  await row(page, 'student').waitFor();
}

async function rows(page) {
  return page.locator('#lookups li').evaluateAll((items) =>
    items.map((item) => ({
      name: item.querySelector('.lookup-name').textContent,
      status: item.querySelector('.badge').textContent,
      key: item.querySelector('.lookup-key').textContent,
    })),
  );
}

describe('lookups in the previewer', () => {
  test('the welcome example previews with the lookups its sample needs, answered by the example results', async () => {
    const { page, context, problems } = await openPage();
    // The order example reads no lookups: no panel.
    await frameBody(page).getByText('Thank you for your order, Ana!').waitFor();
    assert.ok(await page.locator('#lookups').isHidden());
    await welcome(page);
    assert.ok(await page.locator('#lookups').isVisible());
    assert.deepEqual(await rows(page), [
      { name: 'lookup.course', status: 'found', key: 'enrollments: PK=COURSE#rust-backend-101, SK=METADATA' },
      { name: 'lookup.student', status: 'found', key: 'enrollments: PK=STUDENT#stu_81723, SK=PROFILE' },
      { name: 'lookup.instructor', status: 'found', key: 'enrollments: PK=INSTRUCTOR#ins_204, SK=PROFILE' },
    ]);
    // Results are shown as templates see them: the course was DynamoDB JSON in lookups.json.
    assert.deepEqual(JSON.parse(await editor(page, 'student').inputValue()), student);
    assert.equal(JSON.parse(await editor(page, 'course').inputValue()).weeks, 6);
    // `mailroom preview` serves the folder's lookups.json; the static page, the examples'.
    const servedByCli = /\bmailroom\b.*\bpreview\b/.test(SERVER);
    assert.match(await page.textContent('#lookups-source'), servedByCli ? /^results from examples\/templates$/ : /^results from the examples$/);
    await frameBody(page).getByText('Hi Ana,').waitFor();
    assert.match(await frameBody(page).textContent(), /Your instructor is Grace Okafor, Staff Engineer\./);
    assert.equal(await page.textContent('#subject-out'), 'Welcome to Rust for Backend Engineers, Ana');
    assert.equal(await page.textContent('#decision .badge'), 'send');
    assert.match(await page.textContent('#decision'), /ana\.nunez@example\.org/);
    const missing = await page.locator('#variables li.missing').allTextContents();
    assert.ok(!missing.some((name) => name.startsWith('lookup.')), missing.join(' | '));
    assert.deepEqual(problems, []);
    await context.close();
  });

  test("editing the student's firstName changes the rendered email, the subject and the decision, and survives a reload", async () => {
    const { page, context } = await openPage();
    await welcome(page);
    await editor(page, 'student').fill(JSON.stringify({ ...student, firstName: 'Beatriz' }, null, 2));
    await settled(page);
    await frameBody(page).getByText('Hi Beatriz,').waitFor();
    assert.equal(await page.textContent('#subject-out'), 'Welcome to Rust for Backend Engineers, Beatriz');
    assert.match(await page.textContent('#decision'), /Welcome to Rust for Backend Engineers, Beatriz/);
    // Typing half a result: the page says what is wrong and keeps the last good email and the text.
    await editor(page, 'student').fill('{"firstName": "Car');
    await settled(page);
    assert.match(await row(page, 'student').locator('.lookup-error').textContent(), /not JSON/);
    assert.equal(await editor(page, 'student').inputValue(), '{"firstName": "Car');
    assert.match(await frameBody(page).textContent(), /Hi Beatriz,/);
    await editor(page, 'student').fill(JSON.stringify({ ...student, firstName: 'Carmen' }));
    await settled(page);
    await frameBody(page).getByText('Hi Carmen,').waitFor();
    assert.ok(await row(page, 'student').locator('.lookup-error').isHidden());
    // Kept in local storage as fixtures, and over the served results after a reload.
    const saved = await stored(page);
    assert.equal(saved.lookupsEdited, true);
    assert.equal(saved.lookups.enrollments.find((entry) => entry.key.PK === 'STUDENT#stu_81723').item.firstName, 'Carmen');
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    await row(page, 'student').waitFor();
    await frameBody(page).getByText('Hi Carmen,').waitFor();
    assert.match(await page.textContent('#source-note'), /the lookup results are kept/);
    // Reset goes back to the served results.
    await page.click('#reset');
    await page.waitForFunction(() => /^Started again/.test(document.getElementById('source-note').textContent));
    assert.equal((await stored(page)).lookupsEdited, false);
    await welcome(page);
    await frameBody(page).getByText('Hi Ana,').waitFor();
    await context.close();
  });

  test('a lookup left empty is not found: the preview lists what the template then lacks, or says why it cannot render', async () => {
    const { page, context } = await openPage();
    await welcome(page);
    // The instructor is optional (onMissing skip): the email renders without it.
    await editor(page, 'instructor').fill('');
    await settled(page);
    await page.waitForFunction(() => document.querySelector('#lookups li[data-lookup="instructor"] .badge').textContent === 'not found');
    await page.waitForFunction(() => !document.getElementById('frame').srcdoc.includes('Your instructor'));
    const missing = await page.locator('#variables li.missing code').allTextContents();
    assert.deepEqual(missing.filter((name) => name.startsWith('lookup.')).sort(), ['lookup.instructor', 'lookup.instructor.name', 'lookup.instructor.title']);
    assert.equal(await page.textContent('#decision .badge'), 'send');
    // The student is needed: not found, the template cannot render, and the record is rejected.
    await editor(page, 'student').fill('   ');
    await settled(page);
    await page.locator('#error').waitFor({ state: 'visible' });
    assert.equal(await row(page, 'student').locator('.badge').textContent(), 'not found');
    assert.equal(await page.textContent('#decision .badge'), 'reject lookup_missing');
    assert.match(await page.textContent('#decision'), /STUDENT#stu_81723/);
    // The panel stays, so the author can give the result back.
    await editor(page, 'student').fill(JSON.stringify({ firstName: 'Dana', email: 'dana@example.org' }));
    await settled(page);
    await frameBody(page).getByText('Hi Dana,').waitFor();
    assert.ok(await page.locator('#error').isHidden());
    assert.equal(await row(page, 'student').locator('.badge').textContent(), 'found');
    await context.close();
  });

  test('without lookup results (lookups.json answers 404) every lookup starts not found, and results can be given', async () => {
    const { page, context } = await openPage({
      prepare: (page) => page.route(/\/lookups\.json$/, (route) => route.fulfill({ status: 404, body: 'not found' })),
    });
    assert.match(await page.textContent('#lookups-source'), /^no lookup results in .*: give each one below$/);
    await page.selectOption('#event-select', 'welcome-sns.json');
    await settled(page);
    await row(page, 'student').waitFor();
    // The template cannot render without the student: the lookups it read are still listed (the
    // instructor's key reads the course's instructorId, so it is not read yet).
    assert.deepEqual((await rows(page)).map((lookup) => [lookup.name, lookup.status]), [['lookup.course', 'not found'], ['lookup.student', 'not found']]);
    await page.locator('#error').waitFor({ state: 'visible' });
    // A course without an instructorId: the email renders, and the instructor is not asked, saying why.
    await editor(page, 'student').fill('{"firstName": "Eve", "email": "eve@example.org"}');
    await editor(page, 'course').fill('{"title": "Go in Practice", "url": "https://academy.example.com/go"}');
    await settled(page);
    await row(page, 'instructor').waitFor();
    assert.equal(await row(page, 'instructor').locator('.badge').textContent(), 'not asked');
    assert.match(await row(page, 'instructor').locator('.lookup-detail').textContent(), /lookup\.course\.instructorId/);
    assert.equal(await editor(page, 'instructor').getAttribute('readonly'), '');
    await frameBody(page).getByText('Hi Eve,').waitFor();
    // With one, the instructor's key is asked (and not found: there are no results).
    await editor(page, 'course').fill('{"title": "Go in Practice", "url": "https://academy.example.com/go", "instructorId": "ins_1"}');
    await settled(page);
    await page.waitForFunction(() => /PK=INSTRUCTOR#ins_1, SK=PROFILE/.test(document.querySelector('#lookups li[data-lookup="instructor"] .lookup-key')?.textContent));
    assert.equal(await row(page, 'instructor').locator('.badge').textContent(), 'not found');
    assert.equal(await editor(page, 'instructor').getAttribute('readonly'), null);
    await frameBody(page).getByText('Hi Eve,').waitFor();
    assert.equal(await page.textContent('#subject-out'), 'Welcome to Go in Practice, Eve');
    // Opening a lookups.json replaces the results with its own.
    const opened = { enrollments: fixtures.enrollments.map((entry) => (entry.key.PK.startsWith('STUDENT#') ? { ...entry, item: { ...entry.item, firstName: 'Hana' } } : entry)) };
    await page.setInputFiles('#file-input', [{ name: 'lookups.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(opened)) }]);
    await frameBody(page).getByText('Hi Hana,').waitFor();
    assert.equal(await page.textContent('#lookups-source'), 'results from the opened lookups.json');
    assert.match(await page.textContent('#source-note'), /^Opened 1 file\./);
    assert.deepEqual((await rows(page)).map((lookup) => lookup.status), ['found', 'found', 'found']);
    await context.close();
  });

  test('a share link carries the results its sample reads; results for other keys are ignored', async () => {
    const { page, context, problems } = await openPage();
    await welcome(page);
    await editor(page, 'student').fill(JSON.stringify({ ...student, firstName: 'Farah' }));
    await settled(page);
    await frameBody(page).getByText('Hi Farah,').waitFor();
    await page.click('#share');
    await page.waitForFunction(() => document.getElementById('share-url').value !== '');
    const link = await page.inputValue('#share-url');

    const colleague = await openPage({ url: link });
    await frameBody(colleague.page).getByText('Hi Farah,').waitFor();
    assert.match(await colleague.page.textContent('#shared-changed'), /the result of lookup student/);
    // Not saved until kept.
    assert.equal((await stored(colleague.page)).lookupsEdited, false);
    await colleague.page.click('#shared-keep');
    assert.equal((await stored(colleague.page)).lookupsEdited, true);
    await colleague.context.close();

    // A crafted link: the student it reads, and a result for a key this sample never reads.
    const { files, subject, event } = JSON.parse(await page.evaluate(() => JSON.stringify({ files: {}, subject: document.getElementById('subject').value, event: document.getElementById('event-editor-input').value })));
    const crafted = {
      v: 1,
      template: WELCOME,
      files,
      subject,
      event,
      lookups: {
        enrollments: [{ key: { PK: 'STUDENT#stu_81723', SK: 'PROFILE' }, item: { firstName: 'Gil', email: 'gil@example.org' } }],
        orders: [{ key: { PK: 'ORDER#1' }, item: { total: 1 } }],
      },
    };
    const other = await openPage({ url: `${baseUrl}#share=${deflateRawSync(Buffer.from(JSON.stringify(crafted))).toString('base64url')}` });
    await frameBody(other.page).getByText('Hi Gil,').waitFor();
    assert.match(await other.page.textContent('#shared-ignored'), /1 lookup result this sample does not read/);
    // The author's results stay theirs: storage never had the link's, and "Back to my version" restores them.
    assert.deepEqual((await stored(other.page)).lookups, fixtures);
    await other.page.click('#shared-undo');
    assert.ok(await other.page.locator('#shared-notice').isHidden());
    assert.deepEqual((await stored(other.page)).lookups, fixtures);
    assert.equal((await stored(other.page)).lookupsEdited, false);
    assert.deepEqual([...problems, ...other.problems], []);
    await other.context.close();
    await context.close();
  });
});
