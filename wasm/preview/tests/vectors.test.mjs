// Parity in a real browser: the wasm *web* build (the page's /pkg/index.js, as the server under
// test serves it) runs every shared vector in Chromium, and each report must equal the native
// core's snapshot, as wasm/tests/vectors.test.mjs checks for the Node build: once through
// processEvent with the case's lookup fixtures, and once through the host loop, the lookups
// answered round by round from the core's fixtures (LookupFixtures), then the sends.

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
  const inputs = cases.map(({ name, options, event, now, seed, outcomes, lookups }) => ({ name, options, event, now, seed: seed.toString(), outcomes, lookups }));
  const results = await page.evaluate(async (vectors) => {
    const web = await import('/pkg/index.js');
    await web.default();
    const guarded = (run) => {
      try {
        return run();
      } catch (error) {
        return { thrown: `${error.name}: ${error.message}` };
      }
    };
    return vectors.map((vector) => {
      const mailroom = new web.Mailroom(vector.options);
      const seed = BigInt(vector.seed);
      const report = guarded(() => mailroom.processEvent(vector.event, vector.now, seed, vector.outcomes, vector.lookups));
      let rounds = 0;
      const looped = guarded(() => {
        const batch = mailroom.startBatch(vector.event, vector.now, seed);
        const fixtures = new web.LookupFixtures(vector.lookups ?? {});
        for (let round = batch.lookups(); round.length > 0; round = batch.lookups()) {
          rounds += 1;
          for (const request of round) batch.answerLookupFrom(request.id, fixtures);
        }
        fixtures.free();
        for (let send = batch.nextSend(); send !== undefined; send = batch.nextSend()) {
          // A case names a record's email by its message id, its text by `<messageId>/sms`.
          const sms = send.channel === 'sms';
          const key = sms ? `${send.messageId}/sms` : send.messageId;
          batch.completeSend(send.id, vector.outcomes[key] ?? { outcome: 'accepted', messageId: `${sms ? 'sns' : 'ses'}-${send.messageId}` });
        }
        return batch.finish();
      });
      return { report, looped, rounds };
    });
  }, inputs);
  run = { results, modules, problems };
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

test('the page ran the web build: its module came from /pkg/ as application/wasm', () => {
  assert.deepEqual(run.modules, [{ url: '/pkg/mailroom_wasm_bg.wasm', type: 'application/wasm' }]);
  assert.deepEqual(run.problems, []);
  assert.ok(cases.length >= 10, `only ${cases.length} cases found`);
  // The lookup vectors are among them, and their lookups were asked in the browser.
  const withLookups = cases.map((vector, index) => [vector, run.results[index]]).filter(([vector]) => vector.lookups !== undefined);
  assert.ok(withLookups.some(([vector]) => vector.name === 'examples-quickstart'));
  assert.equal(run.results[cases.findIndex((vector) => vector.name === 'examples-quickstart')].rounds, 2);
});

cases.forEach((vector, index) => {
  test(`${vector.name}: the web build in Chromium gives the native report`, () => {
    assert.ok(vector.expected, `${vector.name} has no snapshot`);
    assert.deepStrictEqual(run.results[index].report, vector.expected);
  });

  test(`${vector.name}: the web build's host loop in Chromium, lookups answered round by round, gives the native report`, () => {
    assert.deepStrictEqual(run.results[index].looped, vector.expected);
  });
});
