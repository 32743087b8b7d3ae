// Parity in a real browser: the wasm *web* build (the page's /pkg/index.js, as the server under
// test serves it) runs every shared vector in Chromium, and each report must equal the native
// core's snapshot, as wasm/tests/vectors.test.mjs checks for the Node build.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCases } from '../../tests/vectors.mjs';
import { launchBrowser, startServer, stopServer } from './harness.mjs';

const cases = loadCases();
let server;
let browser;
let run;

before(async () => {
  const started = await startServer();
  server = started.child;
  browser = await launchBrowser();
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  const modules = [];
  page.on('response', (response) => {
    if (response.url().endsWith('.wasm')) modules.push({ url: new URL(response.url()).pathname, type: response.headers()['content-type'] });
  });
  // Any document of the server's origin will do; the package's own folder needs no page script.
  await page.goto(new URL('pkg/package.json', started.url).href);
  // Seeds are u64: they cross into the page as decimal text and become BigInts there.
  const inputs = cases.map(({ name, options, event, now, seed, outcomes }) => ({ name, options, event, now, seed: seed.toString(), outcomes }));
  const reports = await page.evaluate(async (vectors) => {
    const web = await import('/pkg/index.js');
    await web.default();
    return vectors.map((vector) => {
      try {
        return new web.Mailroom(vector.options).processEvent(vector.event, vector.now, BigInt(vector.seed), vector.outcomes);
      } catch (error) {
        return { thrown: `${error.name}: ${error.message}` };
      }
    });
  }, inputs);
  run = { reports, modules, problems };
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

test('the page ran the web build: its module came from /pkg/ as application/wasm', () => {
  assert.deepEqual(run.modules, [{ url: '/pkg/mailroom_wasm_bg.wasm', type: 'application/wasm' }]);
  assert.deepEqual(run.problems, []);
  assert.ok(cases.length >= 10, `only ${cases.length} cases found`);
});

cases.forEach((vector, index) => {
  test(`${vector.name}: the web build in Chromium gives the native report`, () => {
    assert.ok(vector.expected, `${vector.name} has no snapshot`);
    assert.deepStrictEqual(run.reports[index], vector.expected);
  });
});
