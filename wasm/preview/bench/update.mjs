// What one preview update costs in the browser (Debian's Chromium, headless): compiling the
// workspace (every template and the routes, done on each template edit), rendering one
// template, and deciding an SQS record and an 11-record Lambda event. Also the time to a ready
// page. Run: node wasm/preview/bench/update.mjs [iterations]   (needs wasm/pkg/web and chromium)

import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const pageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const iterations = Number(process.argv[2] ?? 200);

const server = spawn('node', ['serve.mjs', '--port', '0'], { cwd: pageDir, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((found) => server.stdout.once('data', (chunk) => found(String(chunk).trim())));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
try {
  const page = await browser.newPage();
  const started = Date.now();
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  const ready = Date.now() - started;
  const figures = await page.evaluate(async (n) => {
    const { Workspace, classify } = await import('./engine.js');
    const { loadStart } = await import('./sources.js');
    const start = await loadStart();
    const order = classify(start.events['order-sns.json']);
    const quickstart = classify(start.events['quickstart.json']);
    const enrollment = classify(start.events['enrollment-raw.json']).data;
    const selected = { template: 'orders/confirmation.html', subject: '' };
    const mean = (run) => {
      run();
      const t = performance.now();
      for (let i = 0; i < n; i += 1) run();
      return (performance.now() - t) / n;
    };
    let workspace = new Workspace(start.files, selected);
    return {
      compile: mean(() => {
        workspace.free();
        workspace = new Workspace(start.files, selected);
      }),
      render: mean(() => workspace.render('enrollment/organizer.html', enrollment, 'Hi {{ studentName }}', Date.now())),
      decideRecord: mean(() => workspace.decide(order, Date.now())),
      decideEvent11: mean(() => workspace.decide(quickstart, Date.now())),
    };
  }, iterations);
  console.log(`page ready: ${ready} ms (first load in a new browser)`);
  for (const [name, ms] of Object.entries(figures)) console.log(`${name}: ${ms.toFixed(3)} ms (mean of ${iterations})`);
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
