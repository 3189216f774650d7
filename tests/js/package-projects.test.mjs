// The npm package as its users get it: `npm pack` of pkg/, installed from the
// tarball into fresh projects outside this repository (tests/projects/*,
// copied to a temporary directory), each run the way its kind of project runs:
//
//   node-esm/    a Node ESM script: test IdP, TokenEndpoint, one exchange
//   typescript/  NodeNext + strict tsc on the shipped .d.ts files; a file of
//                deliberate mistakes must fail with exactly the marked errors
//   hono/        a Hono app mounting endpoint.handle, run through app.fetch
//   browser/     a page bundled with esbuild, in headless Chromium
//   worker/      one's own Worker on `assertion-grant/worker`, under
//                `wrangler dev`; its bundle size, and this repository's
//                Worker's, from `wrangler deploy --dry-run`
//
// and what `npm publish` would ship (package.json fields, the file list).
//
// Nothing comes from a registry: the package has no dependencies, npm is
// pointed at a closed loopback port, and the tools a project needs
// (typescript, @types/node, hono, esbuild) are linked from this repository's
// node_modules (its devDependencies).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, posix } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { PKG, ROOT, basicAuth, requireFile, signJwt, verifyAccessToken } from './helpers.mjs';

const PROJECTS = join(ROOT, 'tests/projects');
const NODE_MODULES = join(ROOT, 'node_modules');
const WRANGLER = join(NODE_MODULES, '.bin/wrangler');
const TSC = join(NODE_MODULES, 'typescript/bin/tsc');
const CHROMIUM = '/usr/bin/chromium';

// What the fixture projects configure.
const ISSUER = 'https://as.example.com';
const API = 'https://api.example.com';
const IDP = 'https://test-idp.local';

// Cloudflare's Worker size limits. Until 2026-09-04: 3 MB (Workers Free) and
// 10 MB (Paid) after gzip, which wrangler 4.86 still reports against
// (MAX_GZIP_SIZE_BYTES = 3 MiB). Since then: 64 MiB uncompressed on every
// plan (developers.cloudflare.com/workers/platform/limits/). Both are held.
const MiB = 1024 * 1024;
const FREE_PLAN_GZIP_LIMIT = 3 * MiB;
const UNCOMPRESSED_LIMIT = 64 * MiB;

const PKG_HINT = 'build the npm package first: npm run build:pkg (bash scripts/build-pkg.sh)';
const DEV_HINT = 'npm ci (a devDependency of this repository)';

let tmp;
let tarball;
let packed; // npm pack --json: { filename, files: [{ path, size, mode }], … }
const children = new Set(); // long-running processes we started (wrangler dev)
const closers = []; // browsers, servers

// ---------------------------------------------------------------------------
// Processes

/** The environment for a child: ours without npm's and node --test's own variables. */
function childEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'NODE_TEST_CONTEXT' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return {
    ...env,
    // npm never reaches a registry (the package has no dependencies), and
    // neither does wrangler's "update available" check.
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_fetch_retries: '0',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_SEND_ERROR_REPORTS: 'false',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_LOG_PATH: join(tmp, 'wrangler-logs'),
    ...extra,
  };
}

/** Run a command to its end: { status, signal, stdout, stderr }. Killed after `timeout` ms. */
function run(command, args, { cwd, env, input, timeout = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

const output = (r) => `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** The last JSON line a fixture script printed. */
function lastJson(r) {
  assert.equal(r.status, 0, output(r));
  const line = r.stdout.trim().split('\n').at(-1);
  try {
    return JSON.parse(line);
  } catch {
    assert.fail(`no JSON on the last line:\n${output(r)}`);
  }
}

/** Every process whose process group is `pgid` (from /proc). */
function processGroup(pgid) {
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** End a detached child's whole process group: TERM, then KILL what is left after a deadline. */
async function stopGroup(child) {
  children.delete(child);
  const pgid = child.pid;
  const signal = (sig) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // the group is gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + 10_000;
  while (processGroup(pgid).length > 0 && Date.now() < deadline) await delay(100);
  signal('SIGKILL');
}

// A crash of this process must not leave wrangler and workerd running.
process.on('exit', () => {
  for (const child of children) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// Projects

/**
 * tests/projects/<name> copied to a fresh directory, the packed tarball
 * installed into it with npm, and `links` (packages of this repository's
 * node_modules) linked into its node_modules.
 */
async function installProject(name, links = []) {
  const dir = join(tmp, name);
  cpSync(join(PROJECTS, name), dir, { recursive: true });
  const r = await run('npm', ['install', tarball, '--no-audit', '--no-fund'], { cwd: dir, timeout: 90_000 });
  assert.equal(r.status, 0, `npm install of the tarball in ${name}/:\n${output(r)}`);
  const installed = join(dir, 'node_modules/assertion-grant');
  assert.ok(lstatSync(installed).isDirectory(), 'the package is unpacked into node_modules, not linked');
  assert.equal(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).version, pkgJson().version);
  // After npm: a later npm install would prune these links.
  for (const link of links) {
    const source = requireFile(join(NODE_MODULES, link), DEV_HINT);
    mkdirSync(dirname(join(dir, 'node_modules', link)), { recursive: true });
    symlinkSync(source, join(dir, 'node_modules', link), 'dir');
  }
  return dir;
}

let workerProject; // one install for the wrangler dev and the size tests
const installWorkerProject = () => (workerProject ??= installProject('worker'));

const pkgJson = () => JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8'));
const sha256hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Access-token checks shared by every project: signature against the JWKS, then the claims. */
async function assertAccessToken(token, jwks, { sub, clientId, scope = 'read', lifetime = 600, idp = IDP }) {
  assert.equal(token.token_type, 'Bearer');
  assert.equal(token.expires_in, lifetime);
  assert.equal(typeof token.access_token, 'string');
  const { claims } = await verifyAccessToken(token.access_token, jwks);
  assert.equal(claims.iss, ISSUER);
  assert.deepEqual([claims.aud].flat(), [API]);
  assert.equal(claims.sub, sub);
  assert.equal(claims.client_id, clientId);
  assert.equal(claims.scope, scope);
  assert.equal(claims.idp, idp);
  assert.equal(claims.exp - claims.iat, lifetime);
  assert.equal(typeof claims.jti, 'string');
  return claims;
}

// ---------------------------------------------------------------------------

before(async () => {
  requireFile(join(PKG, 'package.json'), PKG_HINT);
  requireFile(join(PKG, 'index.js'), PKG_HINT);
  requireFile(join(PKG, 'assertion_grant_bg.wasm'), PKG_HINT);
  requireFile(join(PKG, 'slim/assertion_grant_bg.wasm'), PKG_HINT);
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'ag-projects-')));
  assert.ok(!tmp.startsWith(ROOT), 'the projects must live outside the repository');
  const r = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: PKG, timeout: 60_000 });
  assert.equal(r.status, 0, `npm pack in pkg/:\n${output(r)}`);
  [packed] = JSON.parse(r.stdout);
  tarball = join(tmp, packed.filename);
  requireFile(tarball, 'npm pack --json named a tarball it did not write');
});

after(async () => {
  for (const child of [...children]) await stopGroup(child);
  for (const close of closers.splice(0).reverse()) await close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// What would be published

/** Files the package must ship, and every file it may ship besides. */
function expectedFiles() {
  const core = ['assertion_grant_bg.wasm', 'assertion_grant.js', 'assertion_grant.d.ts'];
  const layer = readdirSync(join(ROOT, 'js')).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'));
  const required = [
    'package.json',
    ...core,
    'index.js',
    'index.d.ts',
    'constants.js',
    'constants.d.ts',
    'cli.js',
    'README.md',
    'LICENSE-MIT',
    'LICENSE-APACHE',
    ...['index.js', 'index.d.ts', 'constants.js', 'constants.d.ts', ...core].map((f) => `slim/${f}`),
  ];
  const allowed = new Set([
    ...required,
    'assertion_grant_bg.wasm.d.ts',
    ...layer,
    ...layer.filter((f) => f !== 'cli.js').map((f) => `slim/${f}`),
    'README.md',
    'LICENSE',
    'LICENSE-MIT',
    'LICENSE-APACHE',
  ]);
  return { required, allowed };
}

describe('what npm publish would ship (pkg/)', () => {
  test('package.json: name, version, metadata, exports (types first), engines, bin, files, sideEffects', () => {
    const pkg = pkgJson();
    const cargo = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8');
    assert.equal(pkg.name, 'assertion-grant');
    assert.equal(pkg.version, /^version = "([^"]+)"/m.exec(cargo)[1], 'the version is the crate version');
    assert.equal(pkg.type, 'module');
    for (const field of ['description', 'license']) assert.ok(typeof pkg[field] === 'string' && pkg[field].length > 0, field);
    assert.equal(pkg.license, /^license = "([^"]+)"/m.exec(cargo)[1]);
    assert.equal(pkg.repository?.type, 'git');
    assert.ok(typeof pkg.repository?.url === 'string' && pkg.repository.url.length > 0, 'repository.url');
    assert.ok(Array.isArray(pkg.keywords) && pkg.keywords.length >= 3 && pkg.keywords.every((k) => typeof k === 'string'), 'keywords');
    assert.deepEqual(pkg.engines, { node: '>=20.3.0' });
    assert.deepEqual(pkg.bin, { 'assertion-grant': 'cli.js' });
    assert.ok(pkg.sideEffects === false || Array.isArray(pkg.sideEffects), 'sideEffects');
    assert.ok(Array.isArray(pkg.files) && pkg.files.length > 0, 'files');
    assert.equal(pkg.types, './index.d.ts');

    assert.deepEqual(Object.keys(pkg.exports).sort(), [
      '.',
      './assertion_grant_bg.wasm',
      './core',
      './package.json',
      './worker',
      './worker/assertion_grant_bg.wasm',
    ]);
    const shipped = new Set(packed.files.map((f) => f.path));
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      const targets = typeof target === 'string' ? [target] : Object.values(target);
      if (typeof target !== 'string') {
        const conditions = Object.keys(target);
        assert.equal(conditions[0], 'types', `exports["${subpath}"]: types must come first (${conditions})`);
        assert.equal(conditions.at(-1), 'default', `exports["${subpath}"]: default must come last (${conditions})`);
      }
      for (const t of targets) {
        assert.ok(t.startsWith('./'), `exports["${subpath}"]: ${t} is not relative`);
        assert.ok(shipped.has(t.slice(2)), `exports["${subpath}"] → ${t}, which is not in the tarball`);
      }
    }
    assert.equal(pkg.exports['./worker'].types, './slim/index.d.ts');
    assert.equal(pkg.exports['./worker/assertion_grant_bg.wasm'], './slim/assertion_grant_bg.wasm');
  });

  test('npm publish --dry-run succeeds, without corrections, and lists exactly the package files', async () => {
    const r = await run('npm', ['publish', '--dry-run', '--json'], { cwd: PKG, timeout: 60_000 });
    assert.equal(r.status, 0, output(r));
    const report = JSON.parse(r.stdout)['assertion-grant'];
    assert.ok(report, `no report for assertion-grant:\n${r.stdout}`);
    assert.equal(report.version, pkgJson().version);
    // npm rewrites a malformed package.json on publish and says so; ours needs nothing.
    const warnings = r.stderr.split('\n').filter((l) => /npm (warn|WARN|error|ERR)/.test(l) && !/requires you to be logged in/.test(l));
    assert.deepEqual(warnings, [], r.stderr);

    const files = report.files.map((f) => f.path).sort();
    const { required, allowed } = expectedFiles();
    assert.deepEqual(required.filter((f) => !files.includes(f)), [], 'missing from the package');
    assert.deepEqual(files.filter((f) => !allowed.has(f)), [], 'stray files in the package');
    assert.deepEqual(files, packed.files.map((f) => f.path).sort(), 'npm pack and npm publish ship the same files');
    const wasm = report.files.find((f) => f.path === 'assertion_grant_bg.wasm');
    assert.equal(wasm.size, statSync(join(PKG, 'assertion_grant_bg.wasm')).size);

    const cli = report.files.find((f) => f.path === 'cli.js');
    assert.ok((cli.mode & 0o111) !== 0, `cli.js is not executable (mode ${cli.mode.toString(8)})`);
    assert.match(readFileSync(join(PKG, 'cli.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/, 'cli.js needs its shebang');
  });

  test('every relative import of the shipped JS and .d.ts files names a shipped file', () => {
    const shipped = new Set(packed.files.map((f) => f.path));
    const importRe = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
    const missing = [];
    let seen = 0;
    for (const file of shipped) {
      if (!/\.(js|d\.ts)$/.test(file)) continue;
      const text = readFileSync(join(PKG, file), 'utf8');
      for (const [, spec] of text.matchAll(importRe)) {
        seen += 1;
        let target = posix.normalize(posix.join(posix.dirname(file), spec));
        if (file.endsWith('.d.ts') && target.endsWith('.js')) target = target.replace(/\.js$/, '.d.ts');
        if (!shipped.has(target)) missing.push(`${file} → ${spec}`);
      }
    }
    assert.ok(seen > 20, `only ${seen} relative imports found: the scan is broken`);
    assert.deepEqual(missing, []);
  });
});

// ---------------------------------------------------------------------------
// Installed from the tarball

describe('installed from its tarball into fresh projects outside the repository', () => {
  test('Node ESM script: test IdP, TokenEndpoint, one exchange, then the replay refused', async () => {
    const dir = await installProject('node-esm');
    const out = lastJson(await run(process.execPath, ['exchange.mjs'], { cwd: dir }));
    assert.equal(out.resolved, `file://${join(dir, 'node_modules/assertion-grant/index.js')}`, 'resolved from the project');
    assert.equal(out.crypto, 'webcrypto');
    await assertAccessToken(out.token, out.jwks, { sub: `${IDP}|alice`, clientId: 'reporting-app' });
    assert.deepEqual(out.replay, { code: 'invalid_grant', status: 400 }, 'the same assertion twice');
  });

  test('the bin: npx assertion-grant from the installed package (hash-secret reads stdin)', async () => {
    const dir = join(tmp, 'node-esm');
    requireFile(join(dir, 'node_modules/assertion-grant'), 'the Node ESM test installs this project first');
    const bin = join(dir, 'node_modules/.bin/assertion-grant');
    assert.ok(lstatSync(bin).isSymbolicLink(), 'npm links the bin');
    assert.equal(realpathSync(bin), join(dir, 'node_modules/assertion-grant/cli.js'));
    const r = await run(bin, ['hash-secret', '--json'], { cwd: dir, input: 's3cret\n', timeout: 30_000 });
    assert.equal(r.status, 0, output(r));
    assert.deepEqual(JSON.parse(r.stdout), { client_secret_sha256: sha256hex('s3cret') });
  });

  test('TypeScript (NodeNext, strict): the shipped types check, and each marked mistake fails', async () => {
    const dir = await installProject('typescript', ['typescript', '@types/node']);
    requireFile(TSC, DEV_HINT);
    // One run over src/ (must be clean) and type-errors/ (exactly the marked errors).
    const r = await run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.errors.json'], { cwd: dir });
    assert.notEqual(r.status, 0, `tsc accepted the deliberate mistakes:\n${output(r)}`);
    const reported = [...r.stdout.matchAll(/^(\S+)\((\d+),\d+\): error (TS\d+):/gm)].map(([, file, line, code]) => `${file}:${line} ${code}`);
    const lines = readFileSync(join(dir, 'type-errors/errors.ts'), 'utf8').split('\n');
    const expected = lines.flatMap((l, i) => {
      const m = /\/\/ (TS\d+)$/.exec(l);
      return m ? [`type-errors/errors.ts:${i + 1} ${m[1]}`] : [];
    });
    assert.ok(expected.length >= 5, 'type-errors/errors.ts marks too few mistakes');
    // Nothing else: src/ (tsconfig.json's project, same options) is clean.
    assert.deepEqual(reported.sort(), expected.sort(), `tsc output:\n${r.stdout}`);
  });

  test('TypeScript: the types declare exactly the values the package exports (. and ./worker)', async () => {
    const dir = join(tmp, 'typescript');
    requireFile(join(dir, 'node_modules/assertion-grant'), 'the TypeScript test installs this project first');
    const { default: ts } = await import('typescript');
    const typed = (dts) => {
      const program = ts.createProgram([dts], { noLib: true, types: [], noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
      const checker = program.getTypeChecker();
      const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(dts));
      assert.ok(moduleSymbol, `${dts} is not a module`);
      return checker
        .getExportsOfModule(moduleSymbol)
        .filter((s) => ((s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s).flags & ts.SymbolFlags.Value) !== 0)
        .map((s) => s.name)
        .sort();
    };
    const script =
      "const main = await import('assertion-grant'); const worker = await import('assertion-grant/worker');" +
      'console.log(JSON.stringify({ main: Object.keys(main).sort(), worker: Object.keys(worker).sort() }));';
    const runtime = lastJson(await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir }));
    const installed = join(dir, 'node_modules/assertion-grant');
    assert.ok(runtime.main.includes('TokenEndpoint') && runtime.main.includes('ready'), JSON.stringify(runtime.main));
    assert.deepEqual(typed(join(installed, 'index.d.ts')), runtime.main, "'assertion-grant': index.d.ts vs index.js");
    assert.deepEqual(typed(join(installed, 'slim/index.d.ts')), runtime.worker, "'assertion-grant/worker': slim/index.d.ts vs slim/index.js");
  });

  test(
    'TypeScript: the Node API checks with @types/node and no DOM library',
    async () => {
      const dir = join(tmp, 'typescript');
      requireFile(join(dir, 'node_modules/typescript'), 'the TypeScript test installs this project first');
      const r = await run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.node-only.json'], { cwd: dir });
      assert.equal(r.status, 0, output(r));
    },
  );

  test('Hono app: endpoint.handle on /token and /.well-known/*, an API route on verifyAccessToken', async () => {
    const dir = await installProject('hono', ['hono']);
    const out = lastJson(await run(process.execPath, ['main.mjs'], { cwd: dir }));
    assert.equal(out.metadata.status, 200, JSON.stringify(out.metadata));
    assert.equal(out.metadata.body.issuer, ISSUER);
    assert.equal(out.metadata.body.token_endpoint, `${ISSUER}/token`);
    assert.equal(out.jwks.status, 200);
    assert.equal(out.token.status, 200, JSON.stringify(out.token));
    assert.equal(out.token.headers['cache-control'], 'no-store');
    await assertAccessToken(out.token.body, out.jwks.body, { sub: `${IDP}|carol`, clientId: 'reporting-app' });
    assert.equal(out.me.status, 200, JSON.stringify(out.me));
    assert.deepEqual(out.me.body, { sub: `${IDP}|carol`, scope: 'read', client_id: 'reporting-app' });
    assert.equal(out.anonymous.status, 401, JSON.stringify(out.anonymous));
    assert.match(out.anonymous.headers['www-authenticate'] ?? '', /^Bearer\b/);
    assert.equal(out.getToken.status, 405, 'GET /token reaches the endpoint, which allows POST only');
  });

  test('browser: a page bundled with esbuild runs explain, exchange and verifyAccessToken in headless Chromium', async () => {
    requireFile(CHROMIUM, "install Debian's chromium (scripts/ensure-tools.sh does)");
    requireFile(join(NODE_MODULES, 'playwright-core/package.json'), DEV_HINT);
    const dir = await installProject('browser', ['esbuild']);
    const build = await run(process.execPath, ['build.mjs'], { cwd: dir, timeout: 60_000 });
    assert.equal(build.status, 0, output(build));
    const dist = join(dir, 'dist');
    const wasmFiles = readdirSync(dist).filter((f) => f.endsWith('.wasm'));
    assert.equal(wasmFiles.length, 1, `dist/: ${readdirSync(dist)}`);
    assert.ok(readFileSync(join(dist, wasmFiles[0])).equals(readFileSync(join(PKG, 'assertion_grant_bg.wasm'))), 'the bundle ships the full build');

    const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.wasm': 'application/wasm' };
    const server = createServer((req, res) => {
      const name = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/$/, '/index.html').slice(1);
      const file = join(dist, name);
      if (name.includes('..') || name.includes('/') || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const origin = `http://127.0.0.1:${server.address().port}`;

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    closers.push(() => browser.close());
    const page = await browser.newPage();
    const offsite = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) return route.continue();
      offsite.push(url);
      return route.abort();
    });
    const errors = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') errors.push(`${msg.type()}: ${msg.text()}`);
    });
    await page.goto(`${origin}/`);
    await page.waitForSelector('#result[data-done="true"]', { timeout: 30_000 });
    const result = JSON.parse(await page.textContent('#result'));
    assert.equal(result.ok, true, result.error);
    assert.equal(result.crypto, 'webcrypto');
    assert.deepEqual(result.explain, { would_issue: true, failed: [] });
    const claims = await assertAccessToken(result.token, result.jwks, { sub: `${IDP}|bob`, clientId: 'spa-tester' });
    assert.deepEqual(result.claims, claims, "the page's verifyAccessToken saw the same claims");
    assert.deepEqual(result.replay, { code: 'invalid_grant', status: 400 });
    assert.deepEqual(errors, [], 'page errors and warnings');
    assert.deepEqual(offsite, [], 'the page reached beyond its origin');
  });

  test("one's own Worker (assertion-grant/worker) under wrangler dev: metadata, a token exchange over HTTP, the replay refused", async () => {
    requireFile(WRANGLER, DEV_HINT);
    const dir = await installWorkerProject();

    // The IdP and the server's signing key, made here (not by the package).
    const newKey = async (kid) => {
      const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', pair.privateKey);
      return { kty, crv, x, y, d, kid, alg: 'ES256' };
    };
    const idpKey = await newKey('idp-1');
    const { d: _d, ...idpPublic } = idpKey;
    const config = {
      issuer: ISSUER,
      access_token: { audience: API, lifetime_secs: 600 },
      trusted_issuers: [{ issuer: IDP, format: 'jwt', jwks: { keys: [idpPublic] }, scope: 'read write' }],
      clients: [
        { client_id: 'edge-app', token_endpoint_auth_method: 'client_secret_basic', client_secret_sha256: sha256hex('edge-secret'), scope: 'read' },
      ],
    };
    // Locally the Worker's variables come from .dev.vars (README: "Local development").
    writeFileSync(join(dir, '.dev.vars'), `AG_CONFIG='${JSON.stringify(config)}'\nAG_SIGNING_KEY='${JSON.stringify(await newKey('as-1'))}'\n`);

    const port = await freePort();
    const inspectorPort = await freePort();
    const logPath = join(tmp, 'wrangler-dev.log');
    const log = openSync(logPath, 'a');
    const child = spawn(
      WRANGLER,
      ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-ip', '127.0.0.1', '--inspector-port', String(inspectorPort),
        '--persist-to', join(tmp, 'wrangler-state'), '--show-interactive-dev-session=false'],
      { cwd: dir, env: childEnv(), stdio: ['ignore', log, log], detached: true },
    );
    closeSync(log);
    children.add(child);
    let exited;
    child.on('exit', (code, signal) => (exited = { code, signal }));
    const logTail = () => readFileSync(logPath, 'utf8').split('\n').slice(-30).join('\n');
    try {
      const base = `http://127.0.0.1:${port}`;
      // Ready when it answers at all (wrangler first bundles, then starts workerd).
      const deadline = Date.now() + 60_000;
      let metadata;
      while (metadata === undefined) {
        assert.equal(exited, undefined, `wrangler dev exited (${JSON.stringify(exited)}):\n${logTail()}`);
        assert.ok(Date.now() < deadline, `wrangler dev did not answer within 60 s:\n${logTail()}`);
        try {
          metadata = await fetch(`${base}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(5_000) });
        } catch {
          await delay(250);
        }
      }
      const metadataText = await metadata.text();
      assert.equal(metadata.status, 200, `${metadataText.slice(0, 300)}\n--- wrangler dev\n${logTail()}`);
      assert.equal(JSON.parse(metadataText).issuer, ISSUER);

      const t = Math.floor(Date.now() / 1000);
      const assertion = await signJwt(idpKey, { iss: IDP, sub: 'dave', aud: ISSUER, iat: t, exp: t + 300, jti: crypto.randomUUID() });
      const exchange = () =>
        fetch(`${base}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('edge-app', 'edge-secret') },
          body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion, scope: 'read' }),
        });
      const first = await exchange();
      const token = await first.json();
      assert.equal(first.status, 200, `${JSON.stringify(token)}\n--- wrangler dev\n${logTail()}`);
      const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json();
      await assertAccessToken(token, jwks, { sub: 'dave', clientId: 'edge-app' });
      const second = await exchange();
      assert.equal(second.status, 400);
      assert.equal((await second.json()).error, 'invalid_grant', 'the same assertion twice (one isolate: the in-memory replay store)');
    } finally {
      await stopGroup(child);
    }
    assert.deepEqual(processGroup(child.pid), [], 'wrangler dev left processes behind');
  });

  test('Worker bundle sizes (wrangler deploy --dry-run): this repository\'s Worker and one\'s own, below the free-plan limit', async (t) => {
    requireFile(WRANGLER, DEV_HINT);
    const own = await installWorkerProject();
    const measure = async (cwd, name) => {
      const outdir = join(tmp, `dry-run-${name}`);
      const r = await run(WRANGLER, ['deploy', '--dry-run', '--outdir', outdir], { cwd, timeout: 120_000 });
      assert.equal(r.status, 0, output(r));
      const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(r.stdout);
      assert.ok(m, `no "Total Upload" line:\n${output(r)}`);
      // The modules wrangler uploads: the bundle and the wasm (not its source map or README).
      const modules = readdirSync(outdir).filter((f) => f.endsWith('.js') || f.endsWith('.wasm')).sort();
      const contents = modules.map((f) => readFileSync(join(outdir, f)));
      const size = contents.reduce((n, c) => n + c.length, 0);
      const gzip = gzipSync(Buffer.concat(contents)).length;
      const wrangler = { size: Number(m[1]) * 1024, gzip: Number(m[2]) * 1024 };
      assert.ok(Math.abs(size - wrangler.size) <= 10, `modules ${modules}: ${size} B, wrangler says ${m[1]} KiB`);
      assert.ok(Math.abs(gzip - wrangler.gzip) <= wrangler.gzip * 0.02, `gzip ${gzip} B, wrangler says ${m[2]} KiB`);
      const wasm = modules.filter((f) => f.endsWith('.wasm'));
      assert.equal(wasm.length, 1, `one wasm module: ${modules}`);
      const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
      t.diagnostic(
        `${name}: ${kib(size)} (${kib(wrangler.size)} per wrangler), gzip ${kib(gzip)} (${kib(wrangler.gzip)}) = ` +
          `${((100 * wrangler.gzip) / FREE_PLAN_GZIP_LIMIT).toFixed(1)} % of 3 MiB; wasm ${kib(statSync(join(outdir, wasm[0])).size)}`,
      );
      assert.ok(wrangler.gzip < FREE_PLAN_GZIP_LIMIT, `${name}: gzip ${m[2]} KiB ≥ the Workers Free limit of 3 MiB`);
      assert.ok(Math.max(size, wrangler.size) < UNCOMPRESSED_LIMIT, `${name}: ${m[1]} KiB ≥ 64 MiB`);
      return { wasm: readFileSync(join(outdir, wasm[0])) };
    };
    const repo = await measure(ROOT, 'this repository\'s Worker (worker/index.js)');
    const user = await measure(own, 'own Worker (tests/projects/worker)');
    const slim = readFileSync(join(PKG, 'slim/assertion_grant_bg.wasm'));
    assert.ok(user.wasm.equals(slim), 'the own Worker ships the slim module (assertion-grant/worker)');
    assert.ok(repo.wasm.equals(slim), "this repository's Worker ships the slim module");
  });
});

// Keep the fixtures and the tests in step: every project folder is installed by a test.
test('every folder of tests/projects is a project these tests install', () => {
  const source = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const folders = readdirSync(PROJECTS).filter((f) => statSync(join(PROJECTS, f)).isDirectory());
  assert.ok(folders.length > 0, 'no fixture projects');
  assert.deepEqual(folders.filter((f) => !source.includes(`installProject('${f}'`)), []);
});
