#!/usr/bin/env node
// A static file server for the previewer, on 127.0.0.1 only, with no dependencies.
//
//   node wasm/preview/serve.mjs [--port N] [--pkg DIR] [--examples DIR]
//
// It serves the same layout as `mailroom preview`: the page at /, the wasm web build at /pkg/,
// the examples at /examples/. Port 0 (the default) picks a free port. The first line on
// standard output is the page's URL, so scripts and tests can read it.

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ts': 'text/plain; charset=utf-8',
};

/** Parts of the page folder that are not the page. */
const PRIVATE = ['node_modules', 'tests', 'bench', 'artifacts', 'package.json', 'package-lock.json', 'serve.mjs'];

function parseArgs(argv) {
  const options = {
    port: 0,
    pkg: resolve(here, '..', 'pkg', 'web'),
    examples: resolve(here, '..', '..', 'examples'),
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${name} needs a value`);
    if (name === '--port') options.port = Number(value);
    else if (name === '--pkg') options.pkg = resolve(value);
    else if (name === '--examples') options.examples = resolve(value);
    else throw new Error(`unknown option ${name} (use --port, --pkg, --examples)`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new Error('--port must be a number from 0 to 65535');
  }
  return options;
}

/** The file a URL path names inside one of the mounts, or null; never a path outside them. */
export function locate(urlPath, mounts) {
  let path;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  if (path.endsWith('/')) path += 'index.html';
  for (const [prefix, root] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    if (prefix === '/' && PRIVATE.some((name) => rest === name || rest.startsWith(`${name}/`))) return null;
    const file = resolve(root, `.${sep}${rest}`);
    return file === root || file.startsWith(root + sep) ? file : null;
  }
  return null;
}

export function startServer({ port = 0, pkg, examples }) {
  const mounts = [
    ['/pkg/', pkg],
    ['/examples/', examples],
    ['/', here],
  ];
  const server = createServer(async (request, response) => {
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...headers, allow: 'GET, HEAD' }).end();
      return;
    }
    const file = locate(new URL(request.url, 'http://127.0.0.1').pathname, mounts);
    try {
      if (!file || !(await stat(file)).isFile()) throw new Error('not a file');
      const body = await readFile(file);
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      response.writeHead(200, { ...headers, 'content-type': type, 'content-length': body.length });
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch {
      response.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  });
  return new Promise((resolveStart, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveStart(server));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const options = parseArgs(process.argv.slice(2));
    const server = await startServer(options);
    console.log(`http://127.0.0.1:${server.address().port}/`);
    if (!(await stat(join(options.pkg, 'mailroom_wasm.js')).catch(() => null))) {
      console.error(`warning: no wasm web build in ${options.pkg} (scripts/steps/50-wasm.sh builds it)`);
    }
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
  } catch (error) {
    console.error(`serve: ${error.message}`);
    process.exit(2);
  }
}
