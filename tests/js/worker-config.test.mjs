// Where the Worker reads its configuration (worker/config-source.js,
// scripts/bundle-config.mjs, wrangler.toml [build] + [alias]):
//   AG_CONFIG_KV (key "config") > AG_CONFIG > ag.config.json > the demo.
//
// 1. ConfigSource in Node with a fake KV, a fake endpoint builder and a
//    clock passed in: precedence, refresh timing, single-flight reads,
//    invalid updates and read failures.
// 2. The generator: a module with the file's text (or undefined), and clear
//    errors for a file that is not JSON or that the core rejects.
// 3. The Worker in workerd (Miniflare): KV updates picked up (with
//    config_refresh_secs: 0, so no test sleeps), invalid updates leaving the
//    last good configuration serving, precedence, and ag.config.json bundled
//    both by the generated module and by a real `wrangler deploy --dry-run`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigSource, KV_KEY, redact, refreshSecsOf, secretsOf, staticConfig } from '../../worker/config-source.js';
import { JWT_BEARER, ROOT, basicAuth, endpointPaths, importPkg, loadConfig, loadPrivateKeys, requireFile, signJwt } from './helpers.mjs';
import { createMiniflare, moduleWorker, tokenWorker } from './miniflare.mjs';

// --- 1. ConfigSource ------------------------------------------------------

/** A KV namespace whose reads can be held (gate), made to fail, and counted. */
function fakeKv(value = null) {
  const kv = {
    value,
    reads: 0,
    failure: undefined,
    gate: undefined,
    async get(key, type) {
      assert.equal(key, KV_KEY);
      assert.equal(type, 'text');
      kv.reads++;
      if (kv.gate) await kv.gate;
      if (kv.failure) throw kv.failure;
      return kv.value;
    },
  };
  return kv;
}

function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A ConfigSource whose "endpoints" are {issuer, source}: the builder throws
 * like the core (an error with .path) for a document with a `bad` member
 * (naming the path) or for text that is not JSON.
 */
function harness() {
  let t = 1_000_000;
  const lines = [];
  const builds = [];
  const source = new ConfigSource({
    now: () => t,
    log: { error: (line) => lines.push(line) },
    build: async ({ configText, keyText, source: from }) => {
      builds.push(from);
      if (configText === undefined) return { issuer: 'demo', source: from, keyText };
      let doc;
      try {
        doc = JSON.parse(configText);
      } catch {
        throw Object.assign(new Error('configuration is not valid JSON: not well-formed JSON'), { path: '' });
      }
      if (doc.bad) throw Object.assign(new Error(doc.message ?? `${doc.bad}: wrong`), { path: doc.bad });
      return { issuer: doc.issuer, source: from, keyText };
    },
  });
  return {
    source,
    lines,
    builds,
    advance: (ms) => {
      t += ms;
    },
    issuer: async (env, options) => (await source.endpoint(env, options))?.issuer,
  };
}

const doc = (issuer, extra = {}) => JSON.stringify({ issuer, ...extra });

describe('ConfigSource: precedence', () => {
  test('without KV: AG_CONFIG > bundled ag.config.json > demo; built once per text', async () => {
    const h = harness();
    assert.equal(await h.issuer({ AG_CONFIG: doc('env') }, { bundledText: doc('file') }), 'env');
    assert.equal(await h.issuer({ AG_CONFIG: doc('env') }, { bundledText: doc('file') }), 'env');
    assert.deepEqual(h.builds, ['AG_CONFIG']);
    assert.equal(await h.issuer({}, { bundledText: doc('file') }), 'file');
    assert.equal(h.source.source, 'ag.config.json');
    assert.equal(await h.issuer({ AG_CONFIG: '' }, {}), 'demo');
    // AG_CONFIG as an object from [vars]
    assert.equal(await h.issuer({ AG_CONFIG: { issuer: 'object' } }, {}), 'object');
    assert.deepEqual(h.builds, ['AG_CONFIG', 'ag.config.json', 'demo', 'AG_CONFIG']);
  });

  test('secretsOf / redact: secret members and private JWK members, never public ones', () => {
    const text = JSON.stringify({
      issuer: 'https://as.example.com',
      clients: [{ client_id: 'a-long-client-identifier', client_secret: 'plain-secret-value-0123456789' }],
      keys: [{ kty: 'EC', x: 'public-x-coordinate-value-0123', d: 'private-d-value-0123456789abcdef' }],
    });
    assert.deepEqual(secretsOf(text), ['plain-secret-value-0123456789', 'private-d-value-0123456789abcdef']);
    assert.deepEqual(secretsOf('{not json'), []);
    assert.equal(
      redact('x plain-secret-value-0123456789 y private-d-value-0123456789abcdef z a-long-client-identifier', secretsOf(text)),
      'x [redacted] y [redacted] z a-long-client-identifier',
    );
  });

  test('staticConfig names the source', () => {
    assert.deepEqual(staticConfig({ AG_CONFIG: 'a' }, 'b'), { text: 'a', source: 'AG_CONFIG' });
    assert.deepEqual(staticConfig({}, 'b'), { text: 'b', source: 'ag.config.json' });
    assert.deepEqual(staticConfig({}, undefined), { text: undefined, source: 'demo' });
  });

  test('with KV: the key wins over AG_CONFIG and the file; without the key, AG_CONFIG, then the file', async () => {
    let h = harness();
    assert.equal(await h.issuer({ AG_CONFIG_KV: fakeKv(doc('kv')), AG_CONFIG: doc('env') }, { bundledText: doc('file') }), 'kv');
    assert.equal(h.source.source, 'AG_CONFIG_KV');
    h = harness();
    assert.equal(await h.issuer({ AG_CONFIG_KV: fakeKv(null), AG_CONFIG: doc('env') }, { bundledText: doc('file') }), 'env');
    h = harness();
    assert.equal(await h.issuer({ AG_CONFIG_KV: fakeKv(null) }, { bundledText: doc('file') }), 'file');
    h = harness();
    assert.equal(await h.issuer({ AG_CONFIG_KV: fakeKv(null) }, {}), 'demo');
  });

  test('the key deleted from KV: back to AG_CONFIG', async () => {
    const h = harness();
    const kv = fakeKv(doc('kv', { config_refresh_secs: 0 }));
    const env = { AG_CONFIG_KV: kv, AG_CONFIG: doc('env') };
    assert.equal(await h.issuer(env), 'kv');
    kv.value = null;
    assert.equal(await h.issuer(env), 'env');
  });
});

describe('ConfigSource: KV refresh', () => {
  test('refreshSecsOf: config_refresh_secs 0..=86400, else 60', () => {
    assert.equal(refreshSecsOf(undefined), 60);
    assert.equal(refreshSecsOf('{'), 60);
    assert.equal(refreshSecsOf(doc('x')), 60);
    assert.equal(refreshSecsOf(doc('x', { config_refresh_secs: 0 })), 0);
    assert.equal(refreshSecsOf(doc('x', { config_refresh_secs: 86400 })), 86400);
    for (const bad of [-1, 86401, 1.5, '5', null]) assert.equal(refreshSecsOf(doc('x', { config_refresh_secs: bad })), 60, String(bad));
  });

  test('default 60 s: no read before, one read after', async () => {
    const h = harness();
    const kv = fakeKv(doc('a'));
    const env = { AG_CONFIG_KV: kv };
    assert.equal(await h.issuer(env), 'a');
    kv.value = doc('b');
    h.advance(59_999);
    assert.equal(await h.issuer(env), 'a');
    assert.equal(await h.issuer(env), 'a');
    assert.equal(kv.reads, 1);
    h.advance(1);
    assert.equal(await h.issuer(env), 'b', 'the request that finds the re-read due is served by what it read');
    assert.equal(kv.reads, 2);
  });

  test('the interval is the running configuration\'s config_refresh_secs', async () => {
    const h = harness();
    const kv = fakeKv(doc('a', { config_refresh_secs: 5 }));
    const env = { AG_CONFIG_KV: kv };
    assert.equal(await h.issuer(env), 'a');
    kv.value = doc('b', { config_refresh_secs: 0 });
    h.advance(4_999);
    assert.equal(await h.issuer(env), 'a');
    h.advance(1);
    assert.equal(await h.issuer(env), 'b');
    kv.value = doc('c');
    assert.equal(await h.issuer(env), 'c', 'b has config_refresh_secs 0: read on every request');
    kv.value = doc('d');
    assert.equal(await h.issuer(env), 'c', 'c has the default 60 s');
  });

  test('config_refresh_secs 0: every request reads; an unchanged text is not rebuilt', async () => {
    const h = harness();
    const kv = fakeKv(doc('a', { config_refresh_secs: 0 }));
    const env = { AG_CONFIG_KV: kv };
    for (let i = 0; i < 3; i++) assert.equal(await h.issuer(env), 'a');
    assert.equal(kv.reads, 3);
    assert.deepEqual(h.builds, ['AG_CONFIG_KV']);
  });

  test('the AG_CONFIG fallback is re-checked against KV at the fallback\'s interval', async () => {
    const h = harness();
    const kv = fakeKv(null);
    const env = { AG_CONFIG_KV: kv, AG_CONFIG: doc('env') };
    assert.equal(await h.issuer(env), 'env');
    kv.value = doc('kv');
    h.advance(60_000);
    assert.equal(await h.issuer(env), 'kv');
  });

  test('an invalid update: the last good one keeps serving; one log line naming the path; not rebuilt again', async () => {
    const h = harness();
    const secret = 'client-secret-that-must-never-be-logged-0123456789';
    const kv = fakeKv(doc('good', { config_refresh_secs: 0 }));
    const env = { AG_CONFIG_KV: kv };
    assert.equal(await h.issuer(env), 'good');

    kv.value = '{"issuer": "half a document';
    for (let i = 0; i < 3; i++) assert.equal(await h.issuer(env), 'good');
    assert.equal(h.lines.length, 1, h.lines.join('\n'));
    assert.match(h.lines[0], /configuration error at unknown: configuration is not valid JSON.*AG_CONFIG_KV key "config".*still serving the last good configuration/);

    kv.value = doc('bad', {
      bad: 'clients[0].client_secret',
      clients: [{ client_secret: secret }],
      message: `clients[0].client_secret: ${secret} is not allowed here`,
    });
    for (let i = 0; i < 3; i++) assert.equal(await h.issuer(env), 'good');
    assert.equal(h.lines.length, 2, h.lines.join('\n'));
    assert.match(h.lines[1], /^assertion-grant: configuration error at clients\[0\]\.client_secret: .*still serving the last good configuration$/);
    assert.ok(!h.lines[1].includes(secret), h.lines[1]);
    assert.equal(h.builds.length, 3, 'each rejected text is built once');

    kv.value = doc('fixed', { config_refresh_secs: 0 });
    assert.equal(await h.issuer(env), 'fixed');
    assert.equal(h.lines.length, 2);
  });

  test('an invalid first configuration answers 500 (undefined), logged once, and a fix is picked up', async () => {
    const h = harness();
    const kv = fakeKv(doc('x', { bad: 'issuer', config_refresh_secs: 0 }));
    const env = { AG_CONFIG_KV: kv, AG_CONFIG: doc('env') };
    assert.equal(await h.issuer(env), undefined, 'a bad KV value never falls back to AG_CONFIG');
    assert.equal(await h.issuer(env), undefined);
    assert.equal(h.lines.length, 1);
    assert.match(h.lines[0], /at issuer: issuer: wrong \(AG_CONFIG_KV key "config"\)$/);
    kv.value = doc('ok');
    assert.equal(await h.issuer(env), 'ok');
  });

  test('a failed read keeps the last good one (logged once); with none yet, 500 and the next request reads again', async () => {
    const h = harness();
    const kv = fakeKv(doc('good', { config_refresh_secs: 0 }));
    kv.failure = new Error('KV GET failed: 503');
    const env = { AG_CONFIG_KV: kv, AG_CONFIG: doc('env') };
    assert.equal(await h.issuer(env), undefined, 'no fallback to AG_CONFIG while KV cannot be read');
    assert.equal(await h.issuer(env), undefined);
    assert.equal(kv.reads, 2);
    assert.equal(h.lines.length, 1);
    assert.match(h.lines[0], /AG_CONFIG_KV read failed: KV GET failed: 503; answering 500 until a read succeeds/);
    kv.failure = undefined;
    assert.equal(await h.issuer(env), 'good');
    kv.failure = new Error('KV GET failed: 503');
    kv.value = doc('new');
    assert.equal(await h.issuer(env), 'good');
    assert.equal(await h.issuer(env), 'good');
    assert.equal(h.lines.length, 2);
    assert.match(h.lines[1], /read failed.*still serving the last good configuration/);
    kv.failure = undefined;
    assert.equal(await h.issuer(env), 'new');
  });

  test('single flight: concurrent first requests share one read', async () => {
    const h = harness();
    const kv = fakeKv(doc('a'));
    const gate = deferred();
    kv.gate = gate.promise;
    const env = { AG_CONFIG_KV: kv };
    const pending = [h.issuer(env), h.issuer(env), h.issuer(env)];
    await new Promise((r) => setImmediate(r));
    assert.equal(kv.reads, 1);
    gate.resolve();
    assert.deepEqual(await Promise.all(pending), ['a', 'a', 'a']);
    assert.equal(kv.reads, 1);
  });

  test('a re-read in flight does not hold up requests that have a good endpoint', async () => {
    const h = harness();
    const kv = fakeKv(doc('a', { config_refresh_secs: 0 }));
    const env = { AG_CONFIG_KV: kv };
    const kept = [];
    assert.equal(await h.issuer(env, { waitUntil: (p) => kept.push(p) }), 'a');
    assert.equal(kept.length, 1, 'the read is handed to waitUntil');

    const gate = deferred();
    kv.gate = gate.promise;
    kv.value = doc('b', { config_refresh_secs: 0 });
    const first = h.issuer(env, { waitUntil: (p) => kept.push(p) });
    await new Promise((r) => setImmediate(r));
    assert.equal(kv.reads, 2);
    // Served at once by the current endpoint while the read waits.
    assert.deepEqual(await Promise.all([h.issuer(env), h.issuer(env)]), ['a', 'a']);
    assert.equal(kv.reads, 2, 'no second read while one is in flight');
    gate.resolve();
    assert.equal(await first, 'b');
    await Promise.all(kept);
  });
});

// --- 2. scripts/bundle-config.mjs ------------------------------------------

const GENERATOR = join(ROOT, 'scripts/bundle-config.mjs');

function runGenerator(args, { script = GENERATOR, env = {} } = {}) {
  const { AG_CONFIG_FILE: _ignored, ...inherited } = process.env;
  const result = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', env: { ...inherited, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function importFresh(path) {
  return (await import(`${pathToFileURL(path).href}?v=${Math.random()}`)).default;
}

describe('scripts/bundle-config.mjs', () => {
  let dir;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ag-bundle-config-'));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a valid file: a module exporting its text, exactly', async () => {
    const text = `${JSON.stringify(loadConfig(), null, 1)}\n`;
    writeFileSync(join(dir, 'good.json'), text);
    const out = join(dir, 'out/good.js');
    const r = runGenerator(['--config', join(dir, 'good.json'), '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /bundled .*good\.json/);
    assert.equal(await importFresh(out), text);
  });

  test('AG_CONFIG_FILE names the file when --config does not', async () => {
    writeFileSync(join(dir, 'env.json'), JSON.stringify(loadConfig()));
    const out = join(dir, 'env.js');
    const r = runGenerator(['--out', out], { env: { AG_CONFIG_FILE: join(dir, 'env.json') } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(await importFresh(out)).issuer, loadConfig().issuer);
  });

  test('no ag.config.json at the project root: a module exporting undefined', async () => {
    // A copy of the script in an empty tree: its project root has no file (and no pkg/).
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'scripts'), { recursive: true });
    cpSync(GENERATOR, join(tree, 'scripts/bundle-config.mjs'));
    const r = runGenerator([], { script: join(tree, 'scripts/bundle-config.mjs') });
    assert.equal(r.status, 0, r.stderr);
    const out = join(tree, 'worker/bundled-config.generated.js');
    assert.equal(await importFresh(out), undefined);
    assert.ok(existsSync(out));
  });

  test('a file that is not JSON: exit 1, the error names the file', () => {
    writeFileSync(join(dir, 'broken.json'), '{"issuer": "https://as.example.com",,}');
    const out = join(dir, 'broken.js');
    const r = runGenerator(['--config', join(dir, 'broken.json'), '--out', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bundle-config: .*broken\.json is not valid JSON: /);
    assert.ok(!existsSync(out), 'nothing written');
  });

  test('JSON that is not an object, or a named file that is absent: exit 1', () => {
    writeFileSync(join(dir, 'array.json'), '[]');
    let r = runGenerator(['--config', join(dir, 'array.json'), '--out', join(dir, 'array.js')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /array\.json: the configuration must be a JSON object/);
    r = runGenerator(['--config', join(dir, 'absent.json'), '--out', join(dir, 'absent.js')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /absent\.json: no such file/);
  });

  test('a configuration the core rejects: exit 1, the error names the field', () => {
    requireFile(join(ROOT, 'pkg/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
    const config = loadConfig();
    config.clients[0].token_endpoint_auth_method = 'carrier_pigeon';
    writeFileSync(join(dir, 'rejected.json'), JSON.stringify(config));
    const r = runGenerator(['--config', join(dir, 'rejected.json'), '--out', join(dir, 'rejected.js')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /rejected\.json: rejected at clients\[0\]\.token_endpoint_auth_method: /);
  });
});

// --- 3. The Worker in workerd ---------------------------------------------

const IDP_KID = 'idp-ec-1';

function worker(options, logs) {
  return createMiniflare({
    ...options,
    handleStructuredLogs: (entry) => {
      logs.push(entry);
    },
  });
}

async function metadataIssuer(mf, config) {
  const paths = endpointPaths(config);
  const response = await mf.dispatchFetch(new URL(paths.metadata, config.issuer).href);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text).issuer;
}

/** A fresh JWT-bearer token request of basic-client, as tests/js/worker.test.mjs makes them. */
async function tokenRequest(mf, config) {
  const paths = endpointPaths(config);
  const t = Math.floor(Date.now() / 1000);
  const assertion = await signJwt(loadPrivateKeys().get(IDP_KID), {
    iss: 'https://idp.example.com',
    sub: 'alice',
    aud: paths.tokenEndpoint,
    iat: t,
    exp: t + 120,
    jti: crypto.randomUUID(),
  });
  const response = await mf.dispatchFetch(new URL(paths.token, config.issuer).href, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basicAuth('basic-client', 'basic-secret') },
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, scope: 'read' }).toString(),
  });
  return { status: response.status, body: JSON.parse(await response.text()) };
}

/** A configuration of another issuer (as2.example.com) without basic-client. */
function configB(base) {
  return {
    ...base,
    issuer: 'https://as2.example.com',
    token_endpoint: 'https://as2.example.com/token',
    audiences: [],
    clients: base.clients.filter((c) => c.client_id !== 'basic-client'),
  };
}

describe('Worker with AG_CONFIG_KV', () => {
  let signingKey;
  let base;

  before(async () => {
    requireFile(join(ROOT, 'pkg/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
    signingKey = (await importPkg()).generateSigningKey('kv-test-1');
    base = loadConfig();
  });

  test('updates are picked up (config_refresh_secs: 0); invalid ones leave the last good one serving, logged by path', async () => {
    const logs = [];
    const mf = worker(tokenWorker({ bindings: { AG_SIGNING_KEY: signingKey }, kvNamespaces: ['AG_CONFIG_KV'] }), logs);
    try {
      const kv = await mf.getKVNamespace('AG_CONFIG_KV');
      const a = { ...base, config_refresh_secs: 0 };
      const b = { ...configB(base), config_refresh_secs: 0 };
      await kv.put(KV_KEY, JSON.stringify(a));
      let r = await tokenRequest(mf, a);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(await metadataIssuer(mf, a), a.issuer);

      await kv.put(KV_KEY, JSON.stringify(b));
      assert.equal(await metadataIssuer(mf, b), b.issuer, 'the next request sees B');
      r = await tokenRequest(mf, b);
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.error, 'invalid_client', 'B has no basic-client');

      await kv.put(KV_KEY, '{"issuer": "https://as3.example.com",');
      assert.equal(await metadataIssuer(mf, b), b.issuer);
      assert.equal(await metadataIssuer(mf, b), b.issuer);
      const wrongType = { ...b, clock_skew_secs: 'sixty' };
      await kv.put(KV_KEY, JSON.stringify(wrongType));
      assert.equal(await metadataIssuer(mf, b), b.issuer);
      assert.equal(await metadataIssuer(mf, b), b.issuer);

      const errors = logs.filter((l) => l.level === 'error').map((l) => l.message);
      assert.equal(errors.length, 2, JSON.stringify(logs));
      assert.match(errors[0], /configuration error at .*not valid JSON.*still serving the last good configuration/);
      assert.match(errors[1], /configuration error at clock_skew_secs: .*AG_CONFIG_KV key "config".*still serving the last good configuration/);
      assert.ok(!logs.some((l) => l.message.includes(JSON.parse(signingKey).d)), 'the signing key was logged');

      // Back to A: served again.
      await kv.put(KV_KEY, JSON.stringify(a));
      assert.equal(await metadataIssuer(mf, a), a.issuer);
    } finally {
      await mf.dispose();
    }
  });

  test('the key present: KV wins over AG_CONFIG', async () => {
    const logs = [];
    const b = configB(base);
    const mf = worker(
      tokenWorker({ bindings: { AG_CONFIG: JSON.stringify(base), AG_SIGNING_KEY: signingKey }, kvNamespaces: ['AG_CONFIG_KV'] }),
      logs,
    );
    try {
      await (await mf.getKVNamespace('AG_CONFIG_KV')).put(KV_KEY, JSON.stringify(b));
      assert.equal(await metadataIssuer(mf, b), b.issuer);
      const r = await tokenRequest(mf, b);
      assert.equal(r.body.error, 'invalid_client', JSON.stringify(r.body));
    } finally {
      await mf.dispose();
    }
  });

  test('the key absent: AG_CONFIG serves', async () => {
    const logs = [];
    const mf = worker(
      tokenWorker({ bindings: { AG_CONFIG: JSON.stringify(base), AG_SIGNING_KEY: signingKey }, kvNamespaces: ['AG_CONFIG_KV'] }),
      logs,
    );
    try {
      assert.equal(await metadataIssuer(mf, base), base.issuer);
      const r = await tokenRequest(mf, base);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    } finally {
      await mf.dispose();
    }
  });

  test('the key absent and nothing else set, with a real AG_SIGNING_KEY: refused as before (never the demo)', async () => {
    const logs = [];
    const mf = worker(tokenWorker({ bindings: { AG_SIGNING_KEY: signingKey }, kvNamespaces: ['AG_CONFIG_KV'] }), logs);
    try {
      const response = await mf.dispatchFetch('http://127.0.0.1:8787/.well-known/oauth-authorization-server');
      assert.equal(response.status, 500);
      await response.arrayBuffer();
      assert.ok(logs.some((l) => l.level === 'error' && /at AG_CONFIG: /.test(l.message)), JSON.stringify(logs));
    } finally {
      await mf.dispose();
    }
  });

  test('an invalid KV value with no good configuration yet: 500, the path logged once', async () => {
    const logs = [];
    const broken = { ...base, clients: [{ ...base.clients[0], token_endpoint_auth_method: 'carrier_pigeon' }] };
    const mf = worker(
      tokenWorker({ bindings: { AG_CONFIG: JSON.stringify(base), AG_SIGNING_KEY: signingKey }, kvNamespaces: ['AG_CONFIG_KV'] }),
      logs,
    );
    try {
      await (await mf.getKVNamespace('AG_CONFIG_KV')).put(KV_KEY, JSON.stringify(broken));
      for (let i = 0; i < 2; i++) {
        const response = await mf.dispatchFetch(new URL(endpointPaths(base).metadata, base.issuer).href);
        assert.equal(response.status, 500, 'never falls back to AG_CONFIG while KV holds a configuration');
        await response.arrayBuffer();
      }
      const errors = logs.filter((l) => l.level === 'error');
      assert.equal(errors.length, 1, JSON.stringify(logs));
      assert.match(errors[0].message, /at clients\[0\]\.token_endpoint_auth_method: .*\(AG_CONFIG_KV key "config"\)$/);
    } finally {
      await mf.dispose();
    }
  });
});

describe('Worker with ag.config.json', () => {
  let dir;
  let signingKey;
  let fileConfig;

  before(async () => {
    requireFile(join(ROOT, 'pkg/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
    signingKey = (await importPkg()).generateSigningKey('file-test-1');
    // A trust list over Cloudflare's 5 KB variable limit: what the file is for.
    fileConfig = configB(loadConfig());
    for (let n = 1; JSON.stringify(fileConfig).length <= 6 * 1024; n++) {
      const { publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
      fileConfig.trusted_issuers.push({
        issuer: `https://tenant-${n}.idp.example.com`,
        format: 'jwt',
        jwks: { keys: [{ kty, crv, x, y, kid: `tenant-${n}`, alg: 'ES256' }] },
        scope: 'read',
        subject_prefix: `tenant-${n}|`,
      });
    }
    dir = mkdtempSync(join(tmpdir(), 'ag-config-file-'));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A tree of worker/ (the stand-in replaced by the generated module) and pkg/ (a link). */
  function treeWithGeneratedModule(name, configFile) {
    const tree = join(dir, name);
    cpSync(join(ROOT, 'worker'), join(tree, 'worker'), { recursive: true });
    symlinkSync(join(ROOT, 'pkg'), join(tree, 'pkg'));
    const r = runGenerator(['--config', configFile, '--out', join(tree, 'worker/bundled-config.js')]);
    assert.equal(r.status, 0, r.stderr);
    return tree;
  }

  test('the generated module: served when AG_CONFIG is unset; AG_CONFIG and KV win over it', async () => {
    const file = join(dir, 'ag.config.json');
    writeFileSync(file, JSON.stringify(fileConfig, null, 2));
    const tree = treeWithGeneratedModule('generated', file);
    const base = loadConfig();

    let logs = [];
    let mf = worker(tokenWorker({ root: tree, bindings: { AG_SIGNING_KEY: signingKey } }), logs);
    try {
      assert.equal(await metadataIssuer(mf, fileConfig), fileConfig.issuer);
      assert.ok(!logs.some((l) => /DEMO/.test(l.message)), JSON.stringify(logs));
    } finally {
      await mf.dispose();
    }

    logs = [];
    mf = worker(
      tokenWorker({ root: tree, bindings: { AG_CONFIG: JSON.stringify(base), AG_SIGNING_KEY: signingKey }, kvNamespaces: ['AG_CONFIG_KV'] }),
      logs,
    );
    try {
      assert.equal(await metadataIssuer(mf, base), base.issuer, 'AG_CONFIG over the file');
    } finally {
      await mf.dispose();
    }

    logs = [];
    mf = worker(tokenWorker({ root: tree, bindings: { AG_SIGNING_KEY: signingKey }, kvNamespaces: ['AG_CONFIG_KV'] }), logs);
    try {
      await (await mf.getKVNamespace('AG_CONFIG_KV')).put(KV_KEY, JSON.stringify(base));
      assert.equal(await metadataIssuer(mf, base), base.issuer, 'KV over the file');
    } finally {
      await mf.dispose();
    }
  });

  test('the file without AG_SIGNING_KEY is refused like AG_CONFIG (no per-isolate key)', async () => {
    const file = join(dir, 'nokey.json');
    writeFileSync(file, JSON.stringify(fileConfig));
    const tree = treeWithGeneratedModule('nokey', file);
    const logs = [];
    const mf = worker(tokenWorker({ root: tree, bindings: {} }), logs);
    try {
      const response = await mf.dispatchFetch(new URL(endpointPaths(fileConfig).metadata, fileConfig.issuer).href);
      assert.equal(response.status, 500);
      await response.arrayBuffer();
      assert.ok(logs.some((l) => l.level === 'error' && /at AG_SIGNING_KEY: .*\(bundled ag\.config\.json\)/.test(l.message)), JSON.stringify(logs));
    } finally {
      await mf.dispose();
    }
  });

  test('wrangler deploy --dry-run bundles ag.config.json ([build] command + [alias]); the bundle serves it', async () => {
    const wrangler = requireFile(join(ROOT, 'node_modules/.bin/wrangler'), 'npm install');
    const project = join(dir, 'project');
    mkdirSync(join(project, 'scripts'), { recursive: true });
    cpSync(join(ROOT, 'wrangler.toml'), join(project, 'wrangler.toml'));
    cpSync(join(ROOT, 'worker'), join(project, 'worker'), { recursive: true });
    rmSync(join(project, 'worker/bundled-config.generated.js'), { force: true });
    cpSync(GENERATOR, join(project, 'scripts/bundle-config.mjs'));
    symlinkSync(join(ROOT, 'pkg'), join(project, 'pkg'));
    writeFileSync(join(project, 'ag.config.json'), JSON.stringify(fileConfig, null, 2));

    const out = join(dir, 'dist');
    const r = spawnSync(wrangler, ['deploy', '--dry-run', '--outdir', out], {
      cwd: project,
      encoding: 'utf8',
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_SEND_ERROR_REPORTS: 'false',
        WRANGLER_LOG_PATH: join(dir, 'wrangler-logs'),
        // wrangler's "update available" check: a closed loopback port, never the network
        npm_config_registry: 'http://127.0.0.1:9/',
      },
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /bundle-config: bundled ag\.config\.json/);
    assert.ok(readFileSync(join(out, 'index.js'), 'utf8').includes('as2.example.com'), 'the bundle does not carry the file');

    const logs = [];
    const mf = worker(
      moduleWorker('index.js', {
        root: out,
        bindings: { AG_SIGNING_KEY: signingKey },
        durableObjects: { REPLAY_SHARDS: { className: 'ReplayShard', useSQLite: true } },
      }),
      logs,
    );
    try {
      assert.equal(await metadataIssuer(mf, fileConfig), fileConfig.issuer);
    } finally {
      await mf.dispose();
    }
  });
});
