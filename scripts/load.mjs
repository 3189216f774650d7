#!/usr/bin/env node
// Concurrency and load test of the Worker under the real `wrangler dev`.
//
//   node scripts/load.mjs [--requests 3000] [--concurrency 32] [--url http://127.0.0.1:8788]
//                         [--bursts 3] [--burst-size 50] [--verify-every 20] [--seed N]
//                         [--timeout 300] [--report out.json] [--state-dir DIR] [--print-config]
//
// Without --url it starts node_modules/.bin/wrangler dev on 127.0.0.1 (free
// ports, offline, a temporary --persist-to directory, serving a snapshot of
// wrangler.toml + worker/ + pkg/ so a rebuild during the run cannot reload
// the Worker under load) with AG_CONFIG =
// tests/vectors/jwt/config.json + the xmlsec1 SAML IdP and a fresh
// AG_SIGNING_KEY, waits for the metadata, runs the mix of tests/js/loadmix.mjs
// (valid JWT and SAML grants, invalid requests, replays, then 50-way bursts of
// one fresh JWT and one fresh SAML assertion), prints a summary and stops
// wrangler and every workerd under it — also on failure, timeout and Ctrl-C.
// With --url it loads a Worker you started yourself with the configuration
// that --print-config prints (loopback only).
//
// Notes from running it:
// - Replay keys live in 32 ReplayShard objects (worker/replay-shards.js), so
//   the state under --persist-to stays bounded (the summary prints it): 269
//   req/s on disk on the 2-core dev machine, where one object per key gave
//   ≈40 req/s (≈150 on tmpfs) and grew a SQLite file per exchange.
// - wrangler dev restarts the Worker when a file its bundler read changes;
//   the snapshot covers worker/ and pkg/, but wrangler's own templates in
//   node_modules/ are still watched (an `npm install` during the run). Such
//   reloads are detected in wrangler's log and reported as the cause.
// - Only loopback connections: metrics, error reports and request.cf are off,
//   and wrangler's hourly update check is pointed at a closed loopback port.
//
// Exit status: 0 all checks held; 1 a violation (5xx, wrong answer, a second
// token, a replay accepted …); 2 setup failure or hard timeout; 130 interrupted.
import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, endpointPaths, importPkg } from '../tests/js/helpers.mjs';
import { DEFAULTS, apportion, formatReport, presignSaml, runLoad, serverConfig } from '../tests/js/loadmix.mjs';

const USAGE = `usage: node scripts/load.mjs [--requests 3000] [--concurrency 32] [--url http://127.0.0.1:8788]
       [--bursts 3] [--burst-size 50] [--verify-every 20] [--seed N] [--timeout 300]
       [--report out.json] [--state-dir DIR] [--print-config]`;

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      requests: { type: 'string', default: String(DEFAULTS.requests) },
      concurrency: { type: 'string', default: String(DEFAULTS.concurrency) },
      url: { type: 'string' },
      bursts: { type: 'string', default: '3' },
      'burst-size': { type: 'string', default: String(DEFAULTS.burstSize) },
      'verify-every': { type: 'string', default: String(DEFAULTS.verifyEvery) },
      seed: { type: 'string' },
      timeout: { type: 'string', default: '300' },
      'print-config': { type: 'boolean', default: false },
      report: { type: 'string' },
      'state-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

function int(name, min, max) {
  const n = Number(opts[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be an integer in ${min}..${max}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
const requests = int('requests', 1, 100_000);
const concurrency = int('concurrency', 1, 512);
const bursts = int('bursts', 0, 20);
const burstSize = int('burst-size', 2, 500);
const verifyEvery = int('verify-every', 0, 1_000_000);
const timeoutSecs = int('timeout', 10, 3600);
const seed = opts.seed === undefined ? (Math.random() * 2 ** 32) >>> 0 : int('seed', 0, 2 ** 32 - 1);

if (opts['print-config']) {
  // For --url: the configuration the mix expects the Worker to serve.
  console.log(`AG_CONFIG='${JSON.stringify(serverConfig())}'`);
  process.exit(0);
}

const log = (msg) => console.log(`[load] ${msg}`);
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
const QUIET_ENV = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

// ---------------------------------------------------------------------------
// Process bookkeeping: every PID under the wrangler we started.

/** pid → ppid for every process, from /proc. */
function processTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), Number(fields[1]));
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

function descendants(rootPid) {
  const table = processTable();
  const out = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [pid, ppid] of table) {
      if (ppid === parent) {
        out.push(pid);
        queue.push(pid);
      }
    }
  }
  return out;
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/** Still running, and still one of ours (wrangler / workerd / node), not a reused PID. */
function ours(pid) {
  const cmd = cmdline(pid);
  return cmd !== undefined && /workerd|wrangler|node/.test(cmd);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let wrangler; // { child, pids: Set<number>, tmp, logPath, logFd, port }

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function logTail(lines = 40) {
  try {
    return readFileSync(wrangler.logPath, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no wrangler log)';
  }
}

/**
 * A private copy of what `wrangler dev` serves (wrangler.toml, worker/, pkg/):
 * wrangler watches its sources and reloads on any change, and a rebuild of
 * pkg/ during a run would answer 503 "worker restarted mid-request", cut
 * responses short, and — if the replay-key format changed — forget every
 * claim made so far. The copy also keeps .dev.vars and .wrangler/ out of it.
 */
function snapshotProject(tmp) {
  const dir = join(tmp, 'project');
  mkdirSync(dir);
  copyFileSync(join(ROOT, 'wrangler.toml'), join(dir, 'wrangler.toml'));
  for (const sub of ['worker', 'pkg']) cpSync(join(ROOT, sub), join(dir, sub), { recursive: true });
  // wrangler.toml's [build] command bundles ag.config.json with this script.
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(ROOT, 'scripts/bundle-config.mjs'), join(dir, 'scripts/bundle-config.mjs'));
  return dir;
}

async function startWrangler(config, signingKey) {
  const tmp = mkdtempSync(join(opts['state-dir'] ?? tmpdir(), 'ag-load-'));
  const project = snapshotProject(tmp);
  const logPath = join(tmp, 'wrangler.log');
  const logFd = openSync(logPath, 'a');
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    'dev',
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--inspector-ip', '127.0.0.1',
    '--inspector-port', String(inspectorPort),
    '--persist-to', join(tmp, 'state'),
    '--show-interactive-dev-session=false',
    // --var wins over a developer's .dev.vars, so the run is self-contained.
    '--var', `AG_CONFIG:${JSON.stringify(config)}`,
    '--var', `AG_SIGNING_KEY:${signingKey}`,
  ];
  // Own process group (detached) so nothing under it can outlive us.
  const child = spawn(WRANGLER, args, {
    cwd: project,
    env: {
      ...process.env,
      ...QUIET_ENV,
      // wrangler's own debug log goes to the temporary directory too
      WRANGLER_LOG_PATH: join(tmp, 'wrangler-debug-logs'),
      // wrangler's hourly "update available" check asks the npm registry;
      // point it at a closed loopback port so the run stays on loopback
      npm_config_registry: 'http://127.0.0.1:9/',
    },
    stdio: ['ignore', logFd, logFd],
    detached: true,
  });
  wrangler = { child, pids: new Set([child.pid]), tmp, logPath, logFd, port, exited: false };
  child.on('exit', () => {
    wrangler.exited = true;
  });
  // If this script dies without running its handlers (SIGKILL, OOM), a
  // watchdog ends the process group we created for wrangler; stopWrangler()
  // ends the watchdog first on every ordinary path.
  const watchdog = spawn(
    '/bin/sh',
    [
      '-c',
      `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
        `kill -TERM -${child.pid} 2>/dev/null; sleep 5; kill -KILL -${child.pid} 2>/dev/null`,
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  wrangler.watchdog = watchdog;
  log(`wrangler dev (pid ${child.pid}) on http://127.0.0.1:${port}, serving a copy of wrangler.toml, worker/, pkg/ in ${tmp}`);
  return `http://127.0.0.1:${port}`;
}

async function waitReady(base, metadataPath, ms = 90_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (wrangler?.exited) throw new Error(`wrangler exited during start-up:\n${logTail()}`);
    try {
      const response = await fetch(new URL(metadataPath, base), { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`no metadata from ${base} within ${ms / 1000} s:\n${logTail()}`);
}

/** Times (ISO) of "Reloading local server" in wrangler's debug log, after the first start. */
function wranglerReloads() {
  const dir = join(wrangler.tmp, 'wrangler-debug-logs');
  const times = [];
  try {
    for (const name of readdirSync(dir)) {
      const text = readFileSync(join(dir, name), 'utf8');
      for (const m of text.matchAll(/^--- (\S+) \w+\n[^\n]*Reloading local server/gm)) times.push(m[1]);
    }
  } catch {
    // no debug log: fall back to counting in the console log
    const n = (readFileSync(wrangler.logPath, 'utf8').match(/Reloading local server/g) ?? []).length;
    for (let i = 0; i < n; i++) times.push('?');
  }
  return times;
}

function remember() {
  if (!wrangler) return;
  for (const pid of descendants(wrangler.child.pid)) wrangler.pids.add(pid);
}

/** Stop wrangler, then make sure no process it started (workerd) is left. */
async function stopWrangler() {
  if (!wrangler || wrangler.stopped) return [];
  wrangler.stopped = true;
  try {
    if (wrangler.watchdog.exitCode === null) process.kill(wrangler.watchdog.pid, 'SIGKILL');
  } catch {
    // gone
  }
  remember(); // once wrangler is gone its children are re-parented and cannot be found by tree
  const { child, pids } = wrangler;
  if (!wrangler.exited) {
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    for (let i = 0; i < 50 && !wrangler.exited; i++) await sleep(100);
  }
  // Anything left — workerd in particular — first politely, then not.
  for (const signal of ['SIGTERM', 'SIGKILL']) {
    const left = [...pids].filter(ours);
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone meanwhile
      }
    }
    for (let i = 0; i < 30 && [...pids].some(ours); i++) await sleep(100);
  }
  try {
    process.kill(-child.pid, 'SIGKILL'); // the process group we created, if anything still holds it
  } catch {
    // empty group: fine
  }
  const leftovers = [...pids].filter(ours);
  try {
    closeSync(wrangler.logFd);
  } catch {
    // closed
  }
  return leftovers;
}

// ---------------------------------------------------------------------------
// Shutdown on every path: normal end, violation, error, hard timeout, signals.

const controller = new AbortController();
let shuttingDown;

async function shutdown(code, { keepTmp = code !== 0 } = {}) {
  if (shuttingDown) return shuttingDown;
  shuttingDown = (async () => {
    controller.abort(new Error(`shutting down (exit ${code})`));
    clearTimeout(hardTimer);
    if (wrangler) {
      const leftovers = await stopWrangler();
      if (leftovers.length > 0) {
        console.error(`[load] could not stop: ${leftovers.map((p) => `${p} ${cmdline(p)}`).join('; ')}`);
        code = code || 2;
      } else {
        log(`stopped wrangler and its ${wrangler.pids.size - 1} child processes (none left)`);
      }
      if (keepTmp) log(`kept ${wrangler.tmp} (wrangler.log, state) for inspection`);
      else rmSync(wrangler.tmp, { recursive: true, force: true });
    }
    process.exit(code);
  })();
  return shuttingDown;
}

const hardTimer = setTimeout(() => {
  console.error(`[load] hard timeout after ${timeoutSecs} s`);
  shutdown(2);
}, timeoutSecs * 1000);

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`[load] ${sig}: stopping`);
    shutdown(130);
  });
}
process.on('uncaughtException', (err) => {
  console.error('[load] error:', err?.stack ?? err);
  shutdown(2);
});
process.on('unhandledRejection', (err) => {
  console.error('[load] error:', err?.stack ?? err);
  shutdown(2);
});
// Last resort if the process exits some other way: kill our group synchronously.
process.on('exit', () => {
  if (wrangler && !wrangler.stopped) {
    try {
      process.kill(-wrangler.child.pid, 'SIGKILL');
    } catch {
      // gone
    }
    for (const pid of wrangler.pids) {
      try {
        if (ours(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
});

// ---------------------------------------------------------------------------

function loopbackOnly(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--url ${url}: not a URL`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host))) {
    throw new Error(`--url ${url}: loopback addresses only (127.0.0.0/8, ::1, localhost)`);
  }
  return u.origin;
}

async function main() {
  const t0 = Date.now();
  const pkg = await importPkg();
  const config = serverConfig();
  let base;
  let expectKid;
  const paths = endpointPaths(config);
  if (opts.url !== undefined) {
    base = loopbackOnly(opts.url);
    log(`target ${base} (started by you; it must serve the configuration --print-config prints)`);
  } else {
    expectKid = `load-${Date.now()}`;
    base = await startWrangler(config, pkg.generateSigningKey(expectKid));
  }

  // Sign the SAML pool while wrangler starts (xmlsec1 is slow).
  const saml = presignSaml({ config, valid: apportion(requests).saml + bursts, log });

  if (wrangler) {
    await waitReady(base, paths.metadata);
    remember();
    log(`wrangler ready after ${((Date.now() - t0) / 1000).toFixed(1)} s; processes: ${[...wrangler.pids].join(', ')}`);
  }

  const send = (path, init) => fetch(new URL(path, base), { ...init, signal: controller.signal });
  const report = await runLoad({
    send,
    config,
    saml,
    requests,
    concurrency,
    bursts,
    burstSize,
    verifyEvery,
    seed,
    expectKid,
    signal: controller.signal,
    log,
  });

  // The Worker's own complaints (onError, configuration errors, uncaught
  // exceptions), and reloads: wrangler dev rebuilds and restarts the Worker
  // whenever a file its bundler read changes — our snapshot cannot change,
  // but wrangler's own templates under node_modules/ can (an `npm install`
  // in the repo during the run). Requests in flight then get wrangler's 503
  // "Your worker restarted mid-request" or a cut-off body: not the Worker's
  // doing, but the run no longer measured it, so it is reported as such.
  let reloadNote;
  if (wrangler) {
    const bad = readFileSync(wrangler.logPath, 'utf8')
      .split('\n')
      .filter((line) => /assertion-grant:|Uncaught|\[ERROR\]|✘/.test(line));
    for (const line of bad.slice(0, 20)) {
      report.violations.push({ kind: 'worker log', cls: '-', input: 'wrangler log', expected: 'no errors', got: line.slice(0, 300) });
    }
    const reloads = wranglerReloads();
    if (reloads.length > 0) {
      reloadNote =
        `wrangler reloaded the Worker ${reloads.length} time(s) during the run, at ${reloads.join(', ')} ` +
        '(a file its bundler watches changed, e.g. npm install in the repo): 503 "worker restarted mid-request" ' +
        'and cut-off bodies around those times are wrangler dev artifacts; re-run on a quiet checkout';
      report.violations.push({ kind: 'wrangler reload', cls: '-', input: 'wrangler log', expected: 'no reload', got: reloadNote });
    }
  }

  // Local Durable Object state after the run: bounded by the shard count
  // (plus one object per refresh family), whatever the number of requests.
  if (wrangler) {
    let files = 0;
    let bytes = 0;
    const walk = (dir) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isDirectory()) walk(path);
        else {
          files += 1;
          bytes += statSync(path).size;
        }
      }
    };
    walk(join(wrangler.tmp, 'state'));
    report.state = { files, bytes };
  }

  if (opts.report !== undefined) {
    const { stats, histogram, ...rest } = report;
    writeFileSync(opts.report, JSON.stringify({ ...rest, histogram: Object.fromEntries(histogram) }, null, 1));
    log(`full report with every violation: ${opts.report}`);
  }
  console.log();
  console.log(formatReport(report));
  console.log(`total wall time ${((Date.now() - t0) / 1000).toFixed(1)} s (${wrangler ? 'wrangler dev' : base})`);
  if (report.state) console.log(`local state (--persist-to): ${report.state.files} files, ${(report.state.bytes / 1e6).toFixed(1)} MB`);
  if (reloadNote) console.log(`NOTE: ${reloadNote}`);
  const failed = report.violations.length > 0;
  console.log(failed ? '\nFAIL' : '\nPASS');
  await shutdown(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(`[load] ${err?.stack ?? err}`);
  shutdown(2);
});
