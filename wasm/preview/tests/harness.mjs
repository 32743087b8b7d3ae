// What the browser tests share: the server under test (PREVIEW_SERVER) and Debian's Chromium,
// headless, driven by playwright-core (it never downloads a browser).
//
// PREVIEW_SERVER is the server command (its first output line containing http://127.0.0.1:PORT/
// is the page); by default the page's own static server. CHROMIUM overrides /usr/bin/chromium.

import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const pageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repo = resolve(pageDir, '..', '..');
export const SERVER = process.env.PREVIEW_SERVER ?? 'node serve.mjs --port 0';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Starts the server command, reads its URL, and waits until the page answers. */
export async function startServer() {
  const [command, ...args] = SERVER.split(/\s+/).filter(Boolean);
  const child = spawn(command, args, { cwd: command === 'node' ? pageDir : repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL from "${SERVER}" within 60 s:\n${output}`)), 60_000);
    const read = (chunk) => {
      output += chunk;
      const found = /http:\/\/127\.0\.0\.1:\d+\//.exec(output);
      if (found) {
        clearTimeout(timer);
        resolveUrl(found[0]);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.once('exit', (code) => reject(new Error(`"${SERVER}" exited with ${code}:\n${output}`)));
  });
  for (let attempt = 0; ; attempt += 1) {
    const answer = await fetch(url).catch(() => null);
    if (answer?.ok) break;
    if (attempt > 100) throw new Error(`${url} does not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url };
}

/** Stops a server from startServer. */
export async function stopServer(child) {
  if (child && child.exitCode === null) {
    process.kill(child.pid, 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}
