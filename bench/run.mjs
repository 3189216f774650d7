// The benchmark runner (`npm run bench` → scripts/bench.sh → this file).
//
// One run, bounded (≈2–4 minutes), loopback only, every process it starts is
// stopped by PID:
//   1. sizes of the .wasm and the Worker upload;
//   2. pre-generated one-time assertions (JWT and ID-JAG: WebCrypto; SAML: xmlsec1);
//   3. workerd (Miniflare): CPU per full token request for ours (worker/index.js
//      with an in-memory replay namespace) and the peers (jose; xml-crypto;
//      for ID-JAGs @cloudflare/workers-oauth-provider, with an in-memory KV
//      and with Miniflare's KV, and jose), measured as workerd's CPU time from
//      /proc minus an empty baseline; then end-to-end latency, ours with the
//      real Durable Object;
//   4. cold start: workerd start + first request, ours vs a hello-world Worker;
//   5. the same CPU measurement in Node (ours via the npm package, the peers);
//   6. where the time goes (V8 sampling profiler inside workerd);
//   7. with --native: `cargo bench --bench exchange` (criterion);
// then bench/results/latest.json, docs/bench.md and docs/bench.svg.
//
// Options: --quick (fewer rounds, smaller pools: a smoke test, not numbers to
// publish), --rounds N, --pool N, --skip node,cold,profile,latency,idjag (idjag:
// leave the ID-JAG row out), --native,
// --no-wait (do not wait for a quiet machine), --wait SECS (longest wait for
// the 1-min load average to fall below 1.0 before the first phase; later
// phases wait at most 60 s), --pkg DIR (measure another
// build of the npm package — e.g. one with a proposed optimisation — in place
// of pkg/; results go to bench/results/pkg-<name>.json, docs/ untouched).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../tests/js/helpers.mjs';
import { COMPATIBILITY_DATE, createMiniflare, moduleWorker, tokenWorker } from '../tests/js/miniflare.mjs';
import { Response as MiniflareResponse } from 'miniflare';
import { basicAuth } from '../tests/js/helpers.mjs';
import { AUTHORIZATION, PATHS as ALL_PATHS, TOKEN_URL, benchConfig, makePools, signIdJagPool } from './lib/assertions.mjs';
import { bundlePeerWorker } from './lib/bundle.mjs';
import { analyse, inspectorSession } from './lib/profile.mjs';
import { cpuNs, descendants, isAlive, loadAvg, machine, threadCpuNs, waitQuiet } from './lib/proc.mjs';
import { sizes } from './lib/size.mjs';
import { clamp, median, quantile, sleep, sum, summary } from './lib/stats.mjs';
import { packPool, runBatch, runEmpty } from './workerd/harness.js';
import { createJoseEndpoint } from './peers/jose-endpoint.mjs';
import { createXmlCryptoEndpoint } from './peers/xmlcrypto-endpoint.mjs';
import { jwksFor } from './peers/wop-options.mjs';
import { render, writeReadme } from './report.mjs';
import { stripNames } from '../scripts/wasm-strip-names.mjs';

// The module the Worker ships: the slim build (no pure-Rust signature code).
const WORKER_WASM = 'pkg/slim/assertion_grant_bg.wasm';
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    pool: { type: 'string' },
    skip: { type: 'string', default: '' },
    native: { type: 'boolean', default: false },
    'no-wait': { type: 'boolean', default: false },
    wait: { type: 'string', default: '180' },
    pkg: { type: 'string' },
  },
});
const ROUNDS = Number(opt.rounds ?? (opt.quick ? 3 : 15));
const POOL = Number(opt.pool ?? (opt.quick ? 60 : 200));
const SKIP = new Set(opt.skip.split(',').filter(Boolean));
// The paths measured (--skip idjag leaves the ID-JAG row out).
const PATHS = ALL_PATHS.filter((p) => !(p.kind === 'idjag' && SKIP.has('idjag')));
const IDJAG = PATHS.some((p) => p.kind === 'idjag');
const COLD_REPS = opt.quick ? 2 : 5;
const WARM_MS = opt.quick ? 500 : 1500;
// The tree our Worker is loaded from: the repository, or (--pkg) a temporary
// copy of worker/ and bench/workerd/ next to the other package build.
let TREE = ROOT;
if (opt.pkg !== undefined) {
  const dir = resolve(opt.pkg);
  for (const f of ['index.js', 'assertion_grant.js', 'assertion_grant_bg.wasm']) {
    if (!existsSync(join(dir, f))) throw new Error(`--pkg ${dir}: no ${f} (a complete pkg/ directory is needed)`);
  }
  TREE = mkdtempSync(join(tmpdir(), 'ag-bench-tree-'));
  cpSync(join(ROOT, 'worker'), join(TREE, 'worker'), { recursive: true });
  cpSync(join(ROOT, 'bench/workerd'), join(TREE, 'bench/workerd'), { recursive: true });
  cpSync(dir, join(TREE, 'pkg'), { recursive: true });
  process.on('exit', () => rmSync(TREE, { recursive: true, force: true }));
}

const log = (...a) => console.error('[bench]', ...a);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;

// ---------------------------------------------------------------------------
// Process hygiene: every Miniflare is disposed and its workerd checked by PID.
// Miniflare options come from the tests' factory (tests/js/miniflare.mjs), so
// the bench loads the Worker exactly as the Worker tests do.

const live = new Set(); // { mf, pid }
async function stopWorkerd(entry) {
  live.delete(entry);
  try {
    await entry.mf.dispose();
  } catch {
    // fall through to the PID check
  }
  for (let i = 0; i < 50 && entry.pid !== undefined && isAlive(entry.pid); i++) await sleep(20);
  if (entry.pid !== undefined && isAlive(entry.pid)) {
    log(`workerd ${entry.pid} still running after dispose: SIGKILL`);
    try {
      process.kill(entry.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
async function stopAll() {
  for (const entry of [...live]) await stopWorkerd(entry);
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal}: stopping workerd processes`);
    stopAll().finally(() => process.exit(130));
  });
}

async function startWorkerd(options) {
  const before = new Set(descendants(process.pid, 'workerd').map((p) => p.pid));
  const t0 = process.hrtime.bigint();
  const mf = createMiniflare(options);
  const entry = { mf, pid: undefined };
  live.add(entry);
  await mf.ready;
  const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const fresh = descendants(process.pid, 'workerd').filter((p) => !before.has(p.pid));
  if (fresh.length !== 1) throw new Error(`bench: expected one new workerd process, found ${fresh.length}`);
  entry.pid = fresh[0].pid;
  return { ...entry, entry, readyMs };
}

// The peer Worker: one esbuild bundle (bench/lib/bundle.mjs), Node built-ins
// through nodejs_compat, Miniflare's default module rules.
const peerWorker = (peerBundle, options) => ({
  name: 'peer',
  modules: true,
  modulesRoot: peerBundle.dir,
  scriptPath: peerBundle.file,
  compatibilityDate: COMPATIBILITY_DATE,
  compatibilityFlags: ['nodejs_compat'],
  ...options,
});

// The workers-oauth-provider peer (ID-JAG): its own bundle and Worker, a KV
// namespace OAUTH_KV (Miniflare's simulator, in memory) and, for its one
// outbound fetch per isolate (the issuer's JWKS at the URL its trusted-issuer
// resolver names), an answer from here with the configured keys.
const wopWorker = (wopBundle, config, options) =>
  peerWorker(wopBundle, {
    name: 'wop',
    compatibilityFlags: [],
    kvNamespaces: ['OAUTH_KV'],
    outboundService: (request) => {
      const jwks = jwksFor(config, request.url);
      if (jwks === undefined) return new MiniflareResponse('bench: no such outbound resource', { status: 404 });
      return new MiniflareResponse(JSON.stringify(jwks), { headers: { 'Content-Type': 'application/json' } });
    },
    ...options,
  });

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// The measurement loop, shared by workerd and Node.

/**
 * `driver.batch(pair, start, k)` → { cpuNs, bgNs?, wallNs, ok, failed, firstError, insideMs }
 * (cpuNs: the thread that runs the isolate; bgNs: the process's other threads —
 * V8's background compiler and GC helpers); `driver.reset(pair)`;
 * pairs: [{ key, impl, path, host }], empties: [{ key, impl: 'empty', host }].
 */
async function measureCpu(driver, pairs, empties, { rounds, pool, warmMs = WARM_MS }) {
  const check = (pair, r, k) => {
    if (r.failed > 0 || r.ok !== k) throw new Error(`bench: ${pair.key}: ${r.failed} of ${k} requests failed: ${r.firstError}`);
  };
  // The fixed cost of one bench request (wall), to calibrate against.
  const fixed = {};
  for (const e of empties) {
    const ws = [];
    for (let b = 0; b < 5; b++) ws.push((await driver.batch(e, 0, 10)).wallNs / 1e6);
    fixed[e.host ?? 'node'] = median(ws);
  }
  // Warm-up, until V8 has tiered the code up: at least `warmMs` per series,
  // and on until V8's background threads (the optimizing compiler) have gone
  // quiet (< 2 % of the isolate thread's CPU over the last 10 batches), at most
  // 4 × `warmMs`. TurboFan takes several hundred requests to get through our
  // wasm; measured too early, a request costs up to 1.6× as much.
  // Then calibrate: the cost per request without the fixed part.
  for (const pair of pairs) {
    await driver.reset(pair);
    const per = [];
    const recent = [];
    let start = 0;
    let requests = 0;
    const t0 = Date.now();
    for (;;) {
      const spent = Date.now() - t0;
      const bg = sum(recent.map((r) => r.bgNs ?? 0)) / Math.max(1, sum(recent.map((r) => r.cpuNs)));
      if (spent >= 4 * warmMs || (spent >= warmMs && recent.length >= 10 && bg < 0.02)) break;
      if (start + 10 > pool) {
        await driver.reset(pair);
        start = 0;
      }
      const r = await driver.batch(pair, start, 10);
      check(pair, r, 10);
      per.push(Math.max(0.02, (r.wallNs / 1e6 - fixed[pair.host ?? 'node']) / 10));
      recent.push(r);
      if (recent.length > 10) recent.shift();
      start += 10;
      requests += 10;
    }
    const est = median(per.slice(-10)); // ms per request, warm
    // A batch of ≈ 40 ms (the fixed cost is then a few % of it); ≈ 250 ms per series per round.
    pair.k = clamp(Math.round(40 / est), 4, 60);
    pair.batches = clamp(Math.floor(250 / (pair.k * est)), 3, Math.floor(pool / pair.k));
    pair.estMs = est;
    pair.warmup = { requests, ms: Date.now() - t0 };
    pair.rounds = [];
  }
  for (const e of empties) {
    e.k = 10;
    e.batches = 5;
    e.rounds = [];
  }
  for (let round = 0; round < rounds; round++) {
    const emptyCpu = {};
    const emptyWall = {};
    for (const e of empties) {
      const rs = [];
      for (let b = 0; b < e.batches; b++) rs.push(await driver.batch(e, 0, e.k));
      emptyCpu[e.host ?? 'node'] = median(rs.map((r) => r.cpuNs));
      emptyWall[e.host ?? 'node'] = median(rs.map((r) => r.wallNs));
      e.rounds.push({ cpuNs: emptyCpu[e.host ?? 'node'], wallNs: emptyWall[e.host ?? 'node'] });
    }
    const order = pairs.map((_, i) => pairs[(i + round) % pairs.length]);
    for (const pair of order) {
      await driver.reset(pair);
      const rs = [];
      for (let b = 0; b < pair.batches; b++) {
        const r = await driver.batch(pair, b * pair.k, pair.k);
        check(pair, r, pair.k);
        rs.push(r);
      }
      const n = pair.batches * pair.k;
      const base = pair.host ?? 'node';
      pair.rounds.push({
        bgUs: sum(rs.map((r) => r.bgNs ?? 0)) / n / 1e3,
        cpuUs: (sum(rs.map((r) => r.cpuNs)) - pair.batches * emptyCpu[base]) / n / 1e3,
        wallUs: (sum(rs.map((r) => r.wallNs)) - pair.batches * emptyWall[base]) / n / 1e3,
        insideUs: (sum(rs.map((r) => r.insideMs)) / n) * 1e3,
      });
    }
    log(`  round ${round + 1}/${rounds} done (${elapsed()})`);
  }
  const out = {};
  for (const pair of pairs) {
    out[pair.key] = {
      impl: pair.impl,
      path: pair.path,
      k: pair.k,
      batchesPerRound: pair.batches,
      requestsPerRound: pair.k * pair.batches,
      cpuUs: summary(pair.rounds.map((r) => r.cpuUs)),
      wallUs: summary(pair.rounds.map((r) => r.wallUs)),
      insideUs: summary(pair.rounds.map((r) => r.insideUs)),
      perRoundCpuUs: pair.rounds.map((r) => Math.round(r.cpuUs * 10) / 10),
      backgroundUs: summary(pair.rounds.map((r) => r.bgUs)),
      warmup: pair.warmup,
    };
  }
  out.baseline = Object.fromEntries(
    empties.map((e) => [e.host ?? 'node', { cpuUs: summary(e.rounds.map((r) => r.cpuNs / 1e3)), wallUs: summary(e.rounds.map((r) => r.wallNs / 1e3)) }]),
  );
  return out;
}

// ---------------------------------------------------------------------------

const HOSTS = { ag: 'as.example.com', cpu: 'cpu.bench', peer: 'peer.bench', wop: 'wop.bench' };
// The peers of each path in workerd, the first the one the path is compared with.
const PEERS = {
  'jwt-es256': ['jose'],
  'jwt-rs256': ['jose'],
  'saml-rsa': ['xmlcrypto'],
  'saml-ecdsa': ['xmlcrypto'],
  'idjag-es256': ['wop', 'wop-kv', 'jose'],
};
// Where each peer runs (workerd host) and which run in Node too.
const PEER_HOST = { jose: HOSTS.peer, xmlcrypto: HOSTS.peer, wop: HOSTS.wop, 'wop-kv': HOSTS.wop };
const NODE_PEERS = new Set(['jose', 'xmlcrypto']);
const peerOf = (path) => PEERS[path][0];
const bodiesOf = (pools) => Object.fromEntries(Object.entries(pools).map(([k, v]) => [k, v.map((a) => a.body)]));

async function load(mf, host, payload) {
  const r = await mf.dispatchFetch(`http://${host}/__bench/load`, { method: 'POST', body: payload });
  if (r.status !== 200) throw new Error(`bench: load into ${host}: ${await r.text()}`);
  await r.arrayBuffer();
}

async function workerdPhase({ pools, generatedAt, config, signingKey, peerBundle, wopBundle }) {
  // AG_LOG off: the peers log nothing, and Miniflare ships every console.log
  // line to this process through workerd; the log line's own cost is reported
  // separately (docs/cost.md).
  const bindings = { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: signingKey, AG_LOG: 'off' };
  const wd = await startWorkerd({
    workers: [
      tokenWorker({ root: TREE, name: 'ag', routes: [`${HOSTS.ag}/*`], bindings }),
      moduleWorker('bench/workerd/ag-cpu.js', { root: TREE, name: 'ag-cpu', routes: [`${HOSTS.cpu}/*`], bindings }),
      peerWorker(peerBundle, { routes: [`${HOSTS.peer}/*`], bindings }),
      ...(IDJAG ? [wopWorker(wopBundle, config, { routes: [`${HOSTS.wop}/*`], bindings: { AG_CONFIG: bindings.AG_CONFIG } })] : []),
    ],
  });
  const { mf, pid } = wd;
  log(`workerd pid ${pid} ready in ${wd.readyMs.toFixed(0)} ms`);
  try {
    const payload = JSON.stringify({ pools: bodiesOf(pools), authorization: AUTHORIZATION, url: TOKEN_URL });
    for (const host of [HOSTS.cpu, HOSTS.peer]) await load(mf, host, payload);
    const info = await (await mf.dispatchFetch(`http://${HOSTS.peer}/__info`)).json();

    // workers-oauth-provider: the client it registered (OAuthHelpers.createClient:
    // generated id and secret) gets its own ID-JAGs, signed like ours' pool
    // (same issuer, key, claims and times; client_id = that id).
    const peerInputs = {};
    let wop;
    if (IDJAG) {
      const r = await mf.dispatchFetch(`http://${HOSTS.wop}/__wop/client`);
      if (r.status !== 200) throw new Error(`bench: wop peer: ${r.status} ${await r.text()}`);
      const client = await r.json();
      const path = PATHS.find((p) => p.kind === 'idjag');
      const pool = await signIdJagPool(path, POOL, generatedAt, { clientId: client.clientId });
      const authorization = basicAuth(client.clientId, client.clientSecret);
      await load(mf, HOSTS.wop, JSON.stringify({ pools: { [path.id]: pool.map((a) => a.body) }, authorization, url: TOKEN_URL }));
      peerInputs.wop = peerInputs['wop-kv'] = { pools: { [path.id]: pool }, authorization };
      wop = { clientAuth: client.method, clientIdBytes: client.clientId.length, assertionBytes: median(pool.map((a) => a.bytes)) };
      log(`wop peer: client ${client.clientId} (${client.method}) registered; ${pool.length} ID-JAGs for it`);
    }

    const driver = {
      async batch(pair, start, k) {
        const a0 = cpuNs(pid);
        const c0 = threadCpuNs(pid);
        const t0 = process.hrtime.bigint();
        const r = await mf.dispatchFetch(
          `http://${pair.host}/__bench/run?impl=${pair.impl}&path=${pair.path ?? ''}&start=${start}&k=${k}`,
          { method: 'POST' },
        );
        const body = await r.json();
        const t1 = process.hrtime.bigint();
        await sleep(2); // let workerd's thread go idle, so /proc has its final CPU time
        const c1 = threadCpuNs(pid);
        const a1 = cpuNs(pid);
        if (body.error) throw new Error(`bench: ${pair.key}: ${body.error}`);
        return { cpuNs: c1 - c0, bgNs: a1 - a0 - (c1 - c0), wallNs: Number(t1 - t0), ...body };
      },
      async reset(pair) {
        const r = await mf.dispatchFetch(`http://${pair.host}/__bench/reset?impl=${pair.impl}`, { method: 'POST' });
        await r.arrayBuffer();
      },
    };
    const pairs = [
      ...PATHS.map((p) => ({ key: `ours/${p.id}`, impl: 'ours', path: p.id, host: HOSTS.cpu })),
      ...PATHS.flatMap((p) => PEERS[p.id].map((peer) => ({ key: `${peer}/${p.id}`, impl: peer, path: p.id, host: PEER_HOST[peer] }))),
    ];
    const empties = [
      { key: 'empty/ag-cpu', impl: 'empty', host: HOSTS.cpu },
      { key: 'empty/peer', impl: 'empty', host: HOSTS.peer },
      ...(IDJAG ? [{ key: 'empty/wop', impl: 'empty', host: HOSTS.wop }] : []),
    ];
    log(`workerd CPU: ${pairs.length} series × ${ROUNDS} rounds (${elapsed()})`);
    const cpu = await measureCpu(driver, pairs, empties, { rounds: ROUNDS, pool: POOL });

    let latency;
    if (!SKIP.has('latency')) {
      log(`latency: sequential requests, with the Durable Object and without (${elapsed()})`);
      latency = await latencyPhase(mf, pid, pools, cpu, peerInputs);
    }
    return { cpu, latency, peerKey: info.xmlcryptoKey, pid, ...(wop ? { wop } : {}) };
  } finally {
    await stopWorkerd(wd.entry);
  }
}

async function latencyPhase(mf, pid, pools, cpu, peerInputs = {}) {
  const out = {};
  const post = (url, body, authorization = AUTHORIZATION) =>
    mf.dispatchFetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: authorization },
      body,
    });
  for (const p of PATHS) {
    const peer = peerOf(p.id);
    const peerMs = cpu[`${peer}/${p.id}`].wallUs.median / 1e3;
    // A peer with its own client (workers-oauth-provider) has its own pool and credentials.
    const own = peerInputs[peer];
    const variants = [
      { key: 'ours+DO', url: `http://${HOSTS.ag}/token`, n: Math.min(100, POOL - 2) },
      { key: 'ours', url: `http://${HOSTS.cpu}/token`, reset: `http://${HOSTS.cpu}/__bench/reset?impl=ours`, n: Math.min(100, POOL - 2) },
      {
        key: peer,
        url: `http://${PEER_HOST[peer]}/${peer}/token`,
        reset: `http://${PEER_HOST[peer]}/__bench/reset?impl=${peer}`,
        n: Math.min(100, POOL - 2, Math.max(10, Math.ceil(2500 / Math.max(peerMs, 0.1)))),
        pool: own?.pools[p.id],
        authorization: own?.authorization,
      },
    ];
    out[p.id] = {};
    for (const v of variants) {
      const pool = v.pool ?? pools[p.id];
      if (v.reset) await (await mf.dispatchFetch(v.reset, { method: 'POST' })).arrayBuffer();
      // two warm-up requests with assertions from the far end of the pool
      for (const i of [POOL - 1, POOL - 2]) await (await post(v.url, pool[i].body, v.authorization)).arrayBuffer();
      const wall = [];
      const cpuUs = [];
      for (let i = 0; i < v.n; i++) {
        const c0 = cpuNs(pid);
        const t0 = process.hrtime.bigint();
        const r = await post(v.url, pool[i].body, v.authorization);
        const text = await r.text();
        wall.push(Number(process.hrtime.bigint() - t0) / 1e3);
        await sleep(1);
        cpuUs.push((cpuNs(pid) - c0) / 1e3);
        if (r.status !== 200) throw new Error(`bench: latency ${v.key} ${p.id}: ${r.status} ${text.slice(0, 200)}`);
      }
      out[p.id][v.key] = {
        n: v.n,
        wallUs: { median: median(wall), p90: quantile(wall, 0.9), min: Math.min(...wall), max: Math.max(...wall) },
        workerdCpuUs: { median: median(cpuUs), p90: quantile(cpuUs, 0.9) },
      };
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Cold start: a fresh workerd with one Worker, then its first two requests.

async function coldPhase({ pools, config, signingKey, peerBundle }) {
  // AG_LOG off: the peers log nothing, and Miniflare ships every console.log
  // line to this process through workerd; the log line's own cost is reported
  // separately (docs/cost.md).
  const bindings = { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: signingKey, AG_LOG: 'off' };
  const variants = [
    {
      key: 'hello',
      worker: { name: 'hello', modules: true, script: 'export default { fetch() { return new Response("ok"); } };', compatibilityDate: COMPATIBILITY_DATE },
      request: () => ({ url: 'http://hello/', init: {} }),
    },
    {
      key: 'ours',
      worker: tokenWorker({ root: TREE, name: 'ag', bindings }),
      request: (i) => tokenRequest(`http://${HOSTS.ag}/token`, pools['jwt-es256'][POOL - 3 - i].body),
    },
    {
      key: 'jose',
      worker: peerWorker(peerBundle, { bindings }),
      request: (i) => tokenRequest(`http://${HOSTS.peer}/jose/token`, pools['jwt-es256'][POOL - 3 - i].body),
    },
  ];
  const out = {};
  for (const v of variants) {
    const reps = [];
    for (let rep = 0; rep < COLD_REPS; rep++) {
      const wd = await startWorkerd({ workers: [v.worker] });
      try {
        const cpuReady = cpuNs(wd.pid) / 1e6;
        const times = [];
        for (let i = 0; i < 2; i++) {
          const { url, init } = v.request(rep * 2 + i);
          await sleep(5);
          const c0 = cpuNs(wd.pid);
          const t0 = process.hrtime.bigint();
          const r = await wd.mf.dispatchFetch(url, init);
          const text = await r.text();
          const wall = Number(process.hrtime.bigint() - t0) / 1e6;
          await sleep(5);
          if (r.status !== 200) throw new Error(`bench: cold ${v.key}: ${r.status} ${text.slice(0, 200)}`);
          times.push({ wallMs: wall, cpuMs: (cpuNs(wd.pid) - c0) / 1e6 });
        }
        reps.push({ readyMs: wd.readyMs, cpuReadyMs: cpuReady, first: times[0], second: times[1] });
      } finally {
        await stopWorkerd(wd.entry);
      }
    }
    const m = (f) => summary(reps.map(f));
    out[v.key] = {
      reps: reps.length,
      readyMs: m((r) => r.readyMs),
      cpuReadyMs: m((r) => r.cpuReadyMs),
      firstWallMs: m((r) => r.first.wallMs),
      firstCpuMs: m((r) => r.first.cpuMs),
      secondWallMs: m((r) => r.second.wallMs),
      secondCpuMs: m((r) => r.second.cpuMs),
    };
    log(`  cold ${v.key}: ready ${out[v.key].readyMs.median.toFixed(0)} ms, first request ${out[v.key].firstWallMs.median.toFixed(1)} ms`);
  }
  return out;
}

function tokenRequest(url, body) {
  return {
    url,
    init: { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: AUTHORIZATION }, body },
  };
}

// ---------------------------------------------------------------------------
// Node: ours through the npm package, the peers, the same loop, in-process.

async function nodePhase({ pools, config, signingKey, pkg }) {
  let store = new pkg.MemoryReplayStore();
  const ours = new pkg.TokenEndpoint(config, {
    signingKeys: signingKey,
    replayStore: { claim: (k, e) => store.claim(k, e), has: (k) => store.has(k) },
  });
  const jose = await createJoseEndpoint(config, signingKey);
  const xmlcrypto = await createXmlCryptoEndpoint(config, signingKey);
  const targets = {
    ours: { fetch: (r) => ours.handle(r), reset: () => (store = new pkg.MemoryReplayStore()) },
    jose: { fetch: (r) => jose.handle(r), reset: () => jose.resetReplay() },
    xmlcrypto: { fetch: (r) => xmlcrypto.handle(r), reset: () => xmlcrypto.resetReplay() },
  };
  const bodies = Object.fromEntries(Object.entries(bodiesOf(pools)).map(([k, v]) => [k, packPool(v)]));
  const driver = {
    async batch(pair, start, k) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const r =
        pair.impl === 'empty'
          ? await runEmpty(k)
          : await runBatch(targets[pair.impl].fetch, bodies[pair.path], start, k, { authorization: AUTHORIZATION, url: TOKEN_URL });
      const wallNs = Number(process.hrtime.bigint() - t0);
      const c = process.cpuUsage(c0);
      return { cpuNs: (c.user + c.system) * 1e3, wallNs, ...r, insideMs: wallNs / 1e6 };
    },
    async reset(pair) {
      targets[pair.impl]?.reset();
    },
  };
  // workers-oauth-provider imports cloudflare:workers: workerd only.
  const pairs = [
    ...PATHS.map((p) => ({ key: `ours/${p.id}`, impl: 'ours', path: p.id })),
    ...PATHS.flatMap((p) => PEERS[p.id].filter((peer) => NODE_PEERS.has(peer)).map((peer) => ({ key: `${peer}/${p.id}`, impl: peer, path: p.id }))),
  ];
  const cpu = await measureCpu(driver, pairs, [{ key: 'empty/node', impl: 'empty' }], { rounds: ROUNDS, pool: POOL });

  // xml-crypto alone (parse + checkSignature + reference check), no token.
  const verifyOnly = {};
  for (const p of PATHS.filter((x) => x.kind === 'saml')) {
    const xmls = pools[p.id].map((a) => Buffer.from(new URLSearchParams(a.body).get('assertion'), 'base64url').toString('utf8'));
    for (let i = 0; i < 20; i++) xmlcrypto.verifyOnly(xmls[i % xmls.length]);
    const per = [];
    for (let round = 0; round < ROUNDS; round++) {
      const c0 = process.cpuUsage();
      const n = Math.min(xmls.length, 40);
      for (let i = 0; i < n; i++) xmlcrypto.verifyOnly(xmls[i]);
      const c = process.cpuUsage(c0);
      per.push((c.user + c.system) / n);
    }
    verifyOnly[p.id] = summary(per);
  }
  return { cpu, verifyOnly, xmlcryptoKey: xmlcrypto.keyKind };
}

// ---------------------------------------------------------------------------
// Profile inside workerd (separate instance with the inspector port open).

// pkg/ ships without the wasm `name` section (scripts/build-pkg.sh); the
// profiler needs function names, so it loads the named twin the build keeps,
// after checking that it is the same module once its names are removed.
function profilingTree() {
  const shipped = readFileSync(join(TREE, WORKER_WASM));
  if (WebAssembly.Module.customSections(new WebAssembly.Module(shipped), 'name').length > 0) return TREE;
  const named = join(ROOT, 'target/wasm-names', WORKER_WASM);
  if (!existsSync(named) || !stripNames(readFileSync(named)).equals(shipped)) {
    log('  profile: no named build of this .wasm (target/wasm-names/); functions will be unnamed');
    return TREE;
  }
  const tree = mkdtempSync(join(tmpdir(), 'ag-bench-profile-'));
  for (const d of ['worker', 'bench/workerd', 'pkg']) cpSync(join(TREE, d), join(tree, d), { recursive: true });
  cpSync(named, join(tree, WORKER_WASM));
  process.on('exit', () => rmSync(tree, { recursive: true, force: true }));
  return tree;
}

async function profilePhase({ pools, config, signingKey }) {
  const port = await freePort();
  // AG_LOG off: the peers log nothing, and Miniflare ships every console.log
  // line to this process through workerd; the log line's own cost is reported
  // separately (docs/cost.md).
  const bindings = { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: signingKey, AG_LOG: 'off' };
  const tree = profilingTree();
  const wd = await startWorkerd({
    inspectorPort: port,
    workers: [moduleWorker('bench/workerd/ag-cpu.js', { root: tree, name: 'ag-cpu', bindings })],
  });
  const { mf } = wd;
  const session = { close() {} };
  try {
    const payload = JSON.stringify({ pools: bodiesOf(pools), authorization: AUTHORIZATION, url: TOKEN_URL });
    await (await mf.dispatchFetch('http://cpu.bench/__bench/load', { method: 'POST', body: payload })).arrayBuffer();
    const run = async (path, start, k) => {
      const r = await (await mf.dispatchFetch(`http://cpu.bench/__bench/run?impl=ours&path=${path}&start=${start}&k=${k}`, { method: 'POST' })).json();
      if (r.failed || r.error) throw new Error(`bench: profile ${path}: ${r.firstError ?? r.error}`);
    };
    const reset = async () => (await mf.dispatchFetch('http://cpu.bench/__bench/reset?impl=ours', { method: 'POST' })).arrayBuffer();
    const s = await inspectorSession(port, 'core:user:ag-cpu');
    session.close = () => s.close();
    await s.send('Profiler.enable');
    await s.send('Profiler.setSamplingInterval', { interval: 50 });
    const out = {};
    for (const p of PATHS) {
      // warm (tiered up), as in the CPU phase
      for (const t0 = Date.now(); Date.now() - t0 < WARM_MS; ) {
        await reset();
        for (let start = 0; start + 20 <= POOL && Date.now() - t0 < WARM_MS; start += 20) await run(p.id, start, 20);
      }
      await reset();
      await s.send('Profiler.start');
      for (let start = 0; start + 20 <= POOL; start += 20) await run(p.id, start, 20);
      const { profile } = await s.send('Profiler.stop');
      out[p.id] = analyse(profile);
      log(`  profile ${p.id}: ${out[p.id].samples} samples`);
    }
    return out;
  } finally {
    session.close();
    await stopWorkerd(wd.entry);
  }
}

// ---------------------------------------------------------------------------
// Native criterion numbers (benches/exchange.rs).

function readCriterion() {
  const dir = join(ROOT, 'target/criterion');
  if (!existsSync(dir)) return undefined;
  const out = {};
  for (const name of readdirSync(dir)) {
    const file = join(dir, name, 'new/estimates.json');
    if (!existsSync(file)) continue;
    const e = JSON.parse(readFileSync(file, 'utf8'));
    out[name] = {
      medianNs: e.median.point_estimate,
      lowerNs: e.median.confidence_interval.lower_bound,
      upperNs: e.median.confidence_interval.upper_bound,
      measuredAt: statSync(file).mtime.toISOString(),
    };
  }
  return out;
}

async function runNative() {
  const q = opt['no-wait'] ? { waitedSecs: 0, load: loadAvg(), quiet: loadAvg()[0] < 1 } : await waitQuiet({ log, maxSecs: Math.min(60, Number(opt.wait)) });
  log(`cargo bench --bench exchange (load ${q.load[0]}) (${elapsed()})`);
  await new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '10', 'cargo', 'bench', '--bench', 'exchange'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cargo bench exited with ${code}`))));
  });
  return q;
}

// ---------------------------------------------------------------------------

function versionOf(pkgName) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkgName, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

function gitRev() {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'Cargo.toml', 'Cargo.lock', 'worker', 'js'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${rev} + uncommitted changes in src/worker/js` : rev;
  } catch {
    return 'unknown';
  }
}

async function main() {
  const results = {
    meta: {
      date: new Date().toISOString(),
      machine: machine(),
      node: process.version,
      workerd: execFileSync(join(ROOT, 'node_modules/.bin/workerd'), ['--version'], { encoding: 'utf8' }).trim(),
      versions: Object.fromEntries(['miniflare', 'wrangler', 'jose', 'xml-crypto', '@xmldom/xmldom', '@cloudflare/workers-oauth-provider'].map((n) => [n, versionOf(n)])),
      git: gitRev(),
      compatibilityDate: COMPATIBILITY_DATE,
      rounds: ROUNDS,
      pool: POOL,
      quick: opt.quick,
      load: {},
    },
  };
  let firstWait = true;
  const quiet = async (phase) => {
    // The first phase waits up to --wait seconds (default 180); later ones up to 60 s.
    const maxSecs = firstWait ? Number(opt.wait) : Math.min(60, Number(opt.wait));
    firstWait = false;
    const q = opt['no-wait'] ? { waitedSecs: 0, load: loadAvg(), quiet: loadAvg()[0] < 1 } : await waitQuiet({ log, maxSecs });
    results.meta.load[phase] = { before: q.load, waitedSecs: q.waitedSecs, quiet: q.quiet };
    if (!q.quiet) log(`load still ${q.load[0]} after ${q.waitedSecs} s: measuring anyway (recorded)`);
    return q;
  };
  const endLoad = (phase) => {
    results.meta.load[phase].after = loadAvg();
  };

  // The per-crate breakdown needs function names: the named twin of pkg/'s
  // module, when it is that module (see profilingTree).
  const named = join(ROOT, 'target/wasm-names', WORKER_WASM);
  const shipped = readFileSync(join(TREE, WORKER_WASM));
  const twin = existsSync(named) && stripNames(readFileSync(named)).equals(shipped) ? named : undefined;
  results.size = sizes(TREE, twin);
  if (opt.pkg !== undefined) results.meta.pkg = resolve(opt.pkg);
  log(`wasm ${results.size.wasmRaw} B raw, ${results.size.wasmGzip} B gzip`);

  const pkg = await import(new URL(`file://${join(TREE, 'pkg/index.js')}`).href);
  await pkg.ready();
  const signingKey = pkg.generateSigningKey('bench');
  const config = benchConfig();
  log(`pre-generating ${POOL} one-time assertions per path (xmlsec1 for SAML) (${elapsed()})`);
  const { pools, generatedAt } = await makePools(POOL, { paths: PATHS });
  results.meta.assertions = Object.fromEntries(
    Object.entries(pools).map(([k, v]) => [k, { count: v.length, bytes: median(v.map((a) => a.bytes)) }]),
  );
  results.meta.assertionsGeneratedAt = generatedAt;
  const peerBundle = await bundlePeerWorker();
  results.size.peerBundleRaw = peerBundle.bytes;
  const wopBundle = IDJAG ? await bundlePeerWorker('bench/workerd/wop-entry.js') : undefined;
  if (wopBundle) results.size.wopBundleRaw = wopBundle.bytes;
  process.on('exit', () => {
    for (const b of [peerBundle, wopBundle]) if (b) rmSync(b.dir, { recursive: true, force: true });
  });
  const env = { pools, generatedAt, config, signingKey, peerBundle, wopBundle, pkg };

  await quiet('workerd');
  results.workerd = await workerdPhase(env);
  endLoad('workerd');

  if (!SKIP.has('cold')) {
    await quiet('cold');
    log(`cold start: ${COLD_REPS} fresh workerd per variant (${elapsed()})`);
    results.cold = await coldPhase(env);
    endLoad('cold');
  }
  if (!SKIP.has('node')) {
    await quiet('node');
    log(`Node: ours (npm package) and peers in-process (${elapsed()})`);
    results.node = await nodePhase(env);
    endLoad('node');
  }
  if (!SKIP.has('profile')) {
    await quiet('profile');
    log(`profile inside workerd (${elapsed()})`);
    results.profile = await profilePhase(env);
    endLoad('profile');
  }
  if (opt.native) {
    const q = await runNative();
    results.meta.load.native = { before: q.load, waitedSecs: q.waitedSecs, quiet: q.quiet, after: loadAvg() };
  }
  results.native = readCriterion();
  results.meta.durationSecs = Math.round((Date.now() - started) / 1000);

  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const name = opt.pkg !== undefined ? `alt-${basename(resolve(opt.pkg))}.json` : opt.quick ? 'quick.json' : 'latest.json';
  writeFileSync(join(dir, name), JSON.stringify(results, null, 2) + '\n');
  log(`wrote bench/results/${name}`);
  if (!opt.quick && opt.pkg === undefined) {
    const { md, svg } = render(results);
    writeFileSync(join(ROOT, 'docs/bench.md'), md);
    writeFileSync(join(ROOT, 'docs/bench.svg'), svg);
    const readme = writeReadme(results);
    log(`wrote docs/bench.md, docs/bench.svg${readme ? ' and the README summary' : ''}`);
  } else {
    log('docs/ left as they are (--quick or --pkg)');
  }
  log(`done in ${elapsed()}`);
}

main()
  .catch(async (err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll();
    const left = descendants(process.pid, 'workerd');
    if (left.length) log(`warning: workerd still running: ${left.map((p) => p.pid).join(', ')}`);
  });
