#!/usr/bin/env node
// The two replay layouts of the Worker measured side by side in real workerd
// (Miniflare), with Durable Object state persisted to disk as `wrangler dev`
// persists it under .wrangler/state:
//   key    ReplayGuard (worker/index.js): one Durable Object per replay key
//   shard  ReplayShard (worker/replay-shards.js) through ShardedReplayStore
//
//   node bench/replay-layout.mjs [--claims 2000,5000,20000] [--layouts key,shard]
//        [--repeats 2] [--concurrency 16] [--batch 64] [--shards 32]
//        [--expires-in 300] [--rate N] [--dir /dev/shm] [--restart]
//        [--json out.json]
//
// For each repeat × size × layout: a new workerd with a new persistence
// directory (under --dir: a tmpfs by default, for speed — the files are the
// same on disk; --dir /tmp puts them on disk), then N claims of unique random
// 64-hex keys (the core's keys are hex SHA-256), expiresAt = the time the
// claim is sent + --expires-in (--expires-in=-55: kept 5 s, so alarms run during the run),
// at most --rate claims/s if given, sent in batches of --batch claims that the test Worker
// (tests/js/workers/replay-layout.worker.js) runs --concurrency at a time,
// one Durable Object call per claim, exactly as the token endpoint calls its
// replay store. Reported per layout:
//   CPU per claim   workerd's CPU time (all threads, /proc/<pid>/task/*/schedstat)
//                   over the run, minus the same batches with no store (layout
//                   "none": HTTP from Node, the Worker's loop), ÷ N
//   RSS             workerd's VmRSS before and after the run (and VmHWM)
//   state           files and bytes under the persistence directory
//   DO requests     claim calls (+ alarm invocations: one per key for ReplayGuard,
//                   by construction; counted by ReplayShard)
//   rows            SQLite rows written / read: ReplayShard counts its own
//                   statements' (cursor.rowsWritten / rowsRead) and its
//                   setAlarm calls; ReplayGuard's follow from its code and
//                   Cloudflare's rules (get = 1 read; put, setAlarm, the
//                   alarm's deleteAll of one key = 1 write each)
// then a replay check (100 of the keys again: every one refused unless it
// has expired) and, with --restart, a new workerd on the same directory: its
// RSS once ready and once the overdue alarms (if any: use --expires-in=-55)
// have run, then has() of 2,000 of the run's keys (replays and introspection
// after a restart) and RSS and state after.
//
// The test Worker imports worker/index.js (for ReplayGuard), which imports
// pkg/slim/; without a build there, the Worker is loaded from a temporary copy
// of worker/ with a stand-in pkg/slim/ (ReplayGuard does not use the core).
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from '../tests/js/helpers.mjs';
import { createMiniflare, moduleWorker } from '../tests/js/miniflare.mjs';
import { cpuNs, descendants, loadAvg, machine } from './lib/proc.mjs';

export const LAYOUT_WORKER = 'tests/js/workers/replay-layout.worker.js';

/**
 * The tree the test Worker is loaded from: the repository when pkg/slim/ is
 * built, else a temporary copy of worker/ and the test Worker with a
 * stand-in pkg/slim/ (only imported, never called by ReplayGuard).
 * Returns { root, stub, cleanup }.
 */
export function layoutRoot() {
  const slim = join(ROOT, 'pkg/slim');
  if (existsSync(join(slim, 'index.js')) && existsSync(join(slim, 'assertion_grant_bg.wasm'))) {
    return { root: ROOT, stub: false, cleanup() {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'ag-replay-root-'));
  cpSync(join(ROOT, 'worker'), join(dir, 'worker'), { recursive: true });
  mkdirSync(join(dir, 'tests/js/workers'), { recursive: true });
  copyFileSync(join(ROOT, LAYOUT_WORKER), join(dir, LAYOUT_WORKER));
  mkdirSync(join(dir, 'pkg/slim'), { recursive: true });
  // The smallest valid wasm module (magic, version) and the names index.js imports.
  writeFileSync(join(dir, 'pkg/slim/assertion_grant_bg.wasm'), Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
  writeFileSync(
    join(dir, 'pkg/slim/index.js'),
    [
      '// Stand-in for the core (bench/replay-layout.mjs): pkg/slim/ is not built.',
      "export function initSync() { throw new Error('stand-in pkg/slim: no core'); }",
      'export class TokenEndpoint {}',
      'export function demoConfig() {}',
      'export function errorResponse() { return new Response(null, { status: 500 }); }',
      '',
    ].join('\n'),
  );
  return { root: dir, stub: true, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Miniflare options for the test Worker; `persist`: a directory for Durable Object state (else in memory). */
export function layoutWorker({ root, persist } = {}) {
  return moduleWorker(LAYOUT_WORKER, {
    root,
    durableObjects: {
      REPLAY: { className: 'ReplayGuard', useSQLite: true },
      SHARDS: { className: 'ReplayShard', useSQLite: true },
      TEST_SHARDS: { className: 'TestReplayShard', useSQLite: true },
    },
    ...(persist === undefined ? {} : { durableObjectsPersist: persist }),
  });
}

/** A fresh replay key as the core makes them: 64 lowercase hex digits. */
export const randomKey = () => randomBytes(32).toString('hex');

/** Files and bytes under `dir`, in all and by top-level subdirectory. */
export function stateFiles(dir) {
  const by = {};
  let files = 0;
  let bytes = 0;
  // workerd may delete files meanwhile (an object's deleteAll): skip those.
  const gone = (err) => {
    if (err?.code !== 'ENOENT') throw err;
  };
  const walk = (d, top) => {
    let entries = [];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (err) {
      gone(err);
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, top ?? e.name);
      else {
        let size;
        try {
          size = statSync(p).size;
        } catch (err) {
          gone(err);
          continue;
        }
        files += 1;
        bytes += size;
        const k = top ?? '.';
        by[k] ??= { files: 0, bytes: 0 };
        by[k].files += 1;
        by[k].bytes += size;
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return { files, bytes, by };
}

function status(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/** Starts a Miniflare and finds its workerd. Returns { mf, pid, post, readyMs, cpuToReadyNs }. */
async function start(options, env = {}) {
  const known = new Set(descendants(process.pid, 'workerd').map((p) => p.pid));
  const saved = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  const t0 = performance.now();
  let mf;
  try {
    mf = createMiniflare(options);
    await mf.ready;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const readyMs = performance.now() - t0;
  const fresh = descendants(process.pid, 'workerd').filter((p) => !known.has(p.pid));
  if (fresh.length !== 1) {
    await mf.dispose();
    throw new Error(`expected one new workerd, found ${fresh.length}`);
  }
  const pid = fresh[0].pid;
  const post = async (path, body) => {
    const response = await mf.dispatchFetch(`http://replay-layout${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (response.status !== 200) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  return { mf, pid, post, readyMs, cpuToReadyNs: cpuNs(pid) };
}

async function claimAll(post, layout, claims, { batch, concurrency, shards, rate }) {
  let latencyMs = 0;
  const results = [];
  const t0 = performance.now();
  for (let i = 0; i < claims.length; i += batch) {
    // --rate: batch i leaves no earlier than i / rate seconds after the start.
    const due = rate === undefined ? 0 : t0 + (i / rate) * 1000 - performance.now();
    if (due > 0) await new Promise((r) => setTimeout(r, due));
    // expiresAt = the time of sending + the claim's offset (a run may last minutes).
    const sent = Math.floor(Date.now() / 1000);
    const slice = claims.slice(i, i + batch).map(([key, expiresIn, partition]) => [key, sent + expiresIn, partition]);
    const r = await post('/claim', { layout, shards, claims: slice, concurrency });
    latencyMs += r.latencyMs;
    results.push(...r.results);
  }
  return { results, latencyMs };
}

// Answers counted; workerd's internal errors differ only by their reference id.
const tally = (results) =>
  results.reduce((t, r) => {
    const k = String(r).replace(/reference = \w+/, 'reference = …');
    t[k] = (t[k] ?? 0) + 1;
    return t;
  }, {});

/**
 * One measured run: a fresh workerd on a fresh directory, N claims on one
 * layout. Returns the numbers described in the header.
 */
export async function runLayout({ root, layout, claims: n, concurrency, batch, shards, expiresIn, rate, dir, restart, log }) {
  const persist = mkdtempSync(join(dir, `ag-replay-${layout}-`));
  const out = { layout, claims: n, concurrency, batch, shards: layout === 'shard' ? shards : undefined, expiresIn, rate, dir: persist };
  let w;
  try {
    w = await start(layoutWorker({ root, persist }));
    const { post, pid } = w;
    const batches = Math.ceil(n / batch);
    // Warm the Worker's loop (and JIT) with the no-store baseline, then measure it.
    const filler = Array.from({ length: batch }, () => [randomKey(), 0, '']);
    for (let i = 0; i < 20; i++) await post('/claim', { layout: 'none', claims: filler, concurrency });
    const b0 = cpuNs(pid);
    const baseBatches = Math.min(batches, 100);
    for (let i = 0; i < baseBatches; i++) await post('/claim', { layout: 'none', claims: filler, concurrency });
    const baselinePerBatchNs = (cpuNs(pid) - b0) / baseBatches;

    const claims = Array.from({ length: n }, (_, i) => [randomKey(), expiresIn, `p${i % 8}`]);
    const before = { ...status(pid), cpuNs: cpuNs(pid), state: stateFiles(persist) };
    const t0 = performance.now();
    const { results, latencyMs } = await claimAll(post, layout, claims, { batch, concurrency, shards, rate });
    const wallMs = performance.now() - t0;
    const after = { ...status(pid), cpuNs: cpuNs(pid), state: stateFiles(persist) };
    out.results = tally(results);
    // The first claim that did not answer true (all keys are fresh), if any.
    const firstError = results.findIndex((r) => r !== true);
    out.firstErrorAt = firstError === -1 ? null : firstError;
    out.wallMs = Math.round(wallMs);
    out.claimsPerSec = Math.round(n / (wallMs / 1000));
    out.meanLatencyMs = latencyMs / n;
    out.cpuRunNs = after.cpuNs - before.cpuNs;
    out.baselinePerBatchUs = baselinePerBatchNs / 1000;
    out.cpuPerClaimUs = (out.cpuRunNs - batches * baselinePerBatchNs) / n / 1000;
    out.rssBeforeKb = before.rssKb;
    out.rssAfterKb = after.rssKb;
    out.hwmKb = after.hwmKb;
    out.rssPerClaimB = ((after.rssKb - before.rssKb) * 1024) / n;
    out.state = after.state;
    if (layout === 'shard') {
      const st = await post('/stats', { layout: 'shard', shards });
      out.shardStats = st;
      out.rowsWrittenPerClaim = st.rowsWritten / n;
      out.rowsReadPerClaim = st.rowsRead / n;
      out.setAlarmPerClaim = st.alarmsSet / n;
      out.alarmsPerClaim = st.alarms / n;
      out.rowsDeleted = n - st.rows; // swept (the table held only this run's keys)
    }
    // Replays of 100 of the keys: every one must be refused.
    const again = await claimAll(post, layout, claims.slice(0, 100), { batch, concurrency, shards });
    out.replayCheck = tally(again.results);
    out.loadAvg = loadAvg();
    log?.(
      `${layout.padEnd(5)} n=${n}: ${out.cpuPerClaimUs.toFixed(0)} µs CPU/claim, ${out.claimsPerSec}/s, RSS ${mb(out.rssBeforeKb)} → ${mb(out.rssAfterKb)} MB, ` +
        `${out.state.files} files / ${mb(out.state.bytes / 1024)} MB, results ${JSON.stringify(out.results)}${out.firstErrorAt === null ? '' : ` (first failure at claim ${out.firstErrorAt})`}, replays ${JSON.stringify(out.replayCheck)}`,
    );
    await w.mf.dispose();
    w = undefined;
    const touch = { root, persist, log, layout, shards, keys: claims.slice(0, 2000).map(([k]) => k), concurrency, batch };
    if (restart) out.restart = await measureRestart(touch);
    out.stateAtEnd = stateFiles(persist);
  } finally {
    await w?.mf.dispose();
    rmSync(persist, { recursive: true, force: true });
  }
  return out;
}

/**
 * A new workerd on a run's directory: RSS once ready and once its files stop
 * changing (alarms that are overdue run at start); then has() of `keys` (as
 * replays and introspection would after a restart), and RSS and state once
 * the files stop changing again (3 s quiet, at most 60 s each).
 */
async function measureRestart({ root, persist, log, layout, shards, keys, concurrency, batch }) {
  const out = {};
  out.stateAtStart = stateFiles(persist);
  const w = await start(layoutWorker({ root, persist }));
  try {
    const ready = status(w.pid);
    Object.assign(out, { readyMs: Math.round(w.readyMs), rssReadyKb: ready.rssKb, cpuToReadyMs: w.cpuToReadyNs / 1e6 });
    const idle = await settle(w.pid, persist, 3000);
    out.rssIdleKb = idle.rssKb;
    out.stateIdle = idle.state.files;
    const t0 = performance.now();
    const cpu0 = cpuNs(w.pid);
    const seen = [];
    for (let i = 0; i < keys.length; i += batch) {
      const r = await w.post('/has', { layout, shards, keys: keys.slice(i, i + batch), concurrency });
      seen.push(...r.results);
    }
    out.touched = keys.length;
    out.touchedHeld = seen.filter((x) => x === true).length;
    const after = await settle(w.pid, persist, 3000);
    out.touchMs = Math.round(performance.now() - t0);
    out.touchCpuMs = (cpuNs(w.pid) - cpu0) / 1e6;
    out.rssTouchedKb = after.rssKb;
    out.rssPeakKb = after.hwmKb;
    out.stateTouched = after.state;
    log?.(
      `${layout.padEnd(5)} restart: ready in ${out.readyMs} ms, ` +
        `RSS ${mb(out.rssReadyKb)} MB at ready, ${mb(out.rssIdleKb)} MB 3 s later (files ${out.stateAtStart.files} → ${out.stateIdle}); ` +
        `has() of ${keys.length} keys (${out.touchedHeld} held): RSS ${mb(out.rssTouchedKb)} MB (peak ${mb(out.rssPeakKb)}), ` +
        `CPU ${out.touchCpuMs.toFixed(0)} ms, files → ${out.stateTouched.files} (${mb(out.stateTouched.bytes / 1024)} MB)`,
    );
    return out;
  } finally {
    await w.mf.dispose();
  }
}

/** Waits until the state files stop changing for `quietMs` (at most 60 s); returns RSS and state then. */
async function settle(pid, persist, quietMs) {
  const t0 = performance.now();
  let last = stateFiles(persist).files;
  let since = performance.now();
  while (performance.now() - t0 < 60_000 && performance.now() - since < quietMs) {
    await new Promise((r) => setTimeout(r, 250));
    const files = stateFiles(persist).files;
    if (files !== last) {
      last = files;
      since = performance.now();
    }
  }
  return { ...status(pid), state: stateFiles(persist) };
}

const mb = (kb) => (kb / 1024).toFixed(1);

async function main() {
  const { values: opt } = parseArgs({
    options: {
      claims: { type: 'string', default: '2000,5000,20000' },
      layouts: { type: 'string', default: 'key,shard' },
      repeats: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '16' },
      batch: { type: 'string', default: '64' },
      shards: { type: 'string', default: '32' },
      'expires-in': { type: 'string', default: '300' },
      rate: { type: 'string' },
      dir: { type: 'string', default: existsSync('/dev/shm') ? '/dev/shm' : tmpdir() },
      restart: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  const sizes = opt.claims.split(',').map(Number);
  const layouts = opt.layouts.split(',');
  const common = {
    concurrency: Number(opt.concurrency),
    batch: Number(opt.batch),
    shards: Number(opt.shards),
    expiresIn: Number(opt['expires-in']),
    rate: opt.rate === undefined ? undefined : Number(opt.rate),
    dir: opt.dir,
    restart: opt.restart,
    log: (m) => console.log(`[replay-layout] ${m}`),
  };
  const tree = layoutRoot();
  if (tree.stub) common.log('pkg/slim/ is not built: loading worker/ from a copy with a stand-in pkg/slim/ (ReplayGuard does not use the core)');
  const runs = [];
  try {
    for (let rep = 0; rep < Number(opt.repeats); rep++) {
      for (const n of sizes) {
        // Alternate the order, so neither layout always runs first.
        const order = (rep + sizes.indexOf(n)) % 2 === 0 ? layouts : [...layouts].reverse();
        for (const layout of order) runs.push({ repeat: rep, ...(await runLayout({ root: tree.root, layout, claims: n, ...common })) });
      }
    }
  } finally {
    tree.cleanup();
  }
  const report = { date: new Date().toISOString(), machine: machine(), node: process.version, stubPkg: tree.stub, options: { ...common, log: undefined }, runs };
  if (opt.json !== undefined) writeFileSync(opt.json, `${JSON.stringify(report, null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
