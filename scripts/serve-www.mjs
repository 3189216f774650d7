#!/usr/bin/env node
// npm run www: the assertion debugger (www/) and the npm package (pkg/) from a
// tiny static server on 127.0.0.1. No backend: the page runs the wasm core in
// the browser. Builds pkg/ first when it is missing.
//
//   npm run www                 http://127.0.0.1:8790/
//   PORT=9000 npm run www       another port (0: any free port)
//
// Also a module: `startServer({ port: 0 })` resolves with { url, port, server, close }.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WWW = join(ROOT, 'www');
const PKG = join(ROOT, 'pkg');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.xml': 'application/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

/** Build pkg/ with `bash scripts/build-pkg.sh --if-stale` when it is missing. */
export function ensurePkg({ log = console.error } = {}) {
  if (existsSync(join(PKG, 'index.js')) && existsSync(join(PKG, 'assertion_grant_bg.wasm'))) return;
  log('serve-www: pkg/ is missing; building it (bash scripts/build-pkg.sh --if-stale)…');
  const result = spawnSync('bash', ['scripts/build-pkg.sh', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`scripts/build-pkg.sh failed (exit ${result.status ?? result.signal})`);
  }
}

/** Map a URL path to a file under www/ or pkg/, or null (never outside them). */
function resolvePath(urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  let base = WWW;
  let rest = path;
  if (path === '/pkg' || path.startsWith('/pkg/')) {
    base = PKG;
    rest = path.slice('/pkg'.length);
  }
  if (rest === '' || rest.endsWith('/')) rest += 'index.html';
  const file = resolve(base, '.' + rest);
  if (file !== base && !file.startsWith(base + sep)) return null;
  return file;
}

async function serve(req, res) {
  const headers = {
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
    'Referrer-Policy': 'no-referrer',
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...headers, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('method not allowed\n');
    return;
  }
  const { pathname } = new URL(req.url, 'http://localhost');
  const file = resolvePath(pathname);
  let body;
  if (file) {
    try {
      if ((await stat(file)).isFile()) body = await readFile(file);
    } catch {
      // not found below
    }
  }
  if (!body) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
    return;
  }
  res.writeHead(200, {
    ...headers,
    'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': body.length,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Start the static server on 127.0.0.1.
 * @param {{ port?: number, host?: string, build?: boolean }} [options] port 0 picks a free port
 * @returns {Promise<{ url: string, port: number, server: import('node:http').Server, close: () => Promise<void> }>}
 */
export async function startServer({ port = 8790, host = '127.0.0.1', build = true } = {}) {
  if (build) ensurePkg();
  const server = createServer((req, res) => {
    serve(req, res).catch((err) => {
      console.error('serve-www:', err);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    });
  });
  await new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const actual = server.address().port;
  const url = `http://${host}:${actual}/`;
  const close = () =>
    new Promise((resolveClose) => {
      server.close(() => resolveClose());
      server.closeAllConnections?.();
    });
  return { url, port: actual, server, close };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = process.env.PORT === undefined || process.env.PORT === '' ? 8790 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve-www: PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
    process.exit(2);
  }
  try {
    const { url } = await startServer({ port });
    console.log(`assertion-grant debugger: ${url}  (www/ at /, pkg/ at /pkg/; Ctrl+C to stop)`);
  } catch (err) {
    console.error(`serve-www: ${err.message}`);
    process.exit(1);
  }
}
