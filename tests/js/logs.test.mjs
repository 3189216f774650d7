// One structured log line per token-endpoint request: the npm package's
// opt-in `log` option and the Worker (in workerd), plus the optional
// Analytics Engine data point. Asserts the fields for a success and for each
// RFC error code, and that no line carries an assertion, a client secret, a
// token or a subject.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basicAuth, importPkg, loadConfig, loadVectors, mintDemoAssertion, vectorMismatch, vectorParts, endpointPaths } from './helpers.mjs';
import { createMiniflare, tokenWorker } from './miniflare.mjs';
import { utf8Prefix, writeMetric } from '../../worker/metrics.js';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const FIELDS = ['time', 'event', 'request_id', 'route', 'status', 'outcome', 'dpop', 'latency_ms', 'signature_checks', 'key_set_fetches', 'replay_claims'];
const OPTIONAL = ['error', 'reason', 'grant_type', 'issuer', 'client_id'];

/** Every string a log must never contain, from a request body and headers and its answer. */
function secretsOf(body, headers, answer) {
  const out = [];
  const form = new URLSearchParams(body);
  for (const name of ['assertion', 'client_secret', 'client_assertion', 'refresh_token']) {
    const value = form.get(name);
    if (value) out.push(value.slice(0, 40), value.slice(-40));
  }
  const auth = headers.Authorization ?? headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const secret = decodeURIComponent(decoded.slice(decoded.indexOf(':') + 1).replace(/\+/g, ' '));
    if (secret.length >= 4) out.push(secret);
    out.push(auth.slice(6));
  }
  if (answer?.access_token) out.push(answer.access_token.slice(0, 40), answer.access_token.split('.')[2]);
  if (answer?.refresh_token) out.push(answer.refresh_token);
  return out;
}

function assertShape(entry, context) {
  for (const f of FIELDS) assert.ok(Object.hasOwn(entry, f), `${context}: ${f} missing in ${JSON.stringify(entry)}`);
  for (const f of Object.keys(entry)) assert.ok(FIELDS.includes(f) || OPTIONAL.includes(f), `${context}: unexpected field ${f}`);
  assert.equal(entry.event, 'token_endpoint');
  assert.ok(!Number.isNaN(Date.parse(entry.time)), context);
  assert.equal(typeof entry.latency_ms, 'number');
  assert.ok(entry.latency_ms >= 0);
}

describe('npm: TokenEndpoint({ log })', () => {
  let pkg;
  let config;
  let vectors;
  let now;
  let paths;

  before(async () => {
    pkg = await importPkg();
    config = loadConfig();
    ({ vectors, now } = loadVectors());
    paths = endpointPaths(config);
  });

  test('every JWT vector: one line, its error and reason match the answer; known client and issuer named; no secrets', async () => {
    const seenCodes = new Set();
    for (const vector of vectors) {
      const entries = [];
      const endpoint = new pkg.TokenEndpoint(config, { now: () => vector.now ?? now, log: (e) => entries.push(e) });
      const { body, headers } = vectorParts(vector);
      const response = await endpoint.handle(new Request(new URL(paths.token, config.issuer), { method: 'POST', headers, body }));
      const answer = await response.json();
      assert.equal(vectorMismatch(vector.expect, { status: response.status, body: answer }), undefined, vector.name);
      assert.equal(entries.length, 1, vector.name);
      const [entry] = entries;
      assertShape(entry, vector.name);
      assert.equal(entry.route, 'token');
      assert.equal(entry.status, response.status, vector.name);
      if (response.status === 200) {
        assert.equal(entry.outcome, 'ok');
        assert.equal(entry.error, undefined);
        assert.equal(entry.reason, undefined);
        assert.ok(entry.issuer !== undefined, `${vector.name}: a success names its issuer`);
        assert.ok(entry.signature_checks >= 1, vector.name);
        assert.ok(entry.replay_claims >= 1 || /no-?jti/.test(vector.name), `${vector.name}: ${entry.replay_claims}`);
      } else {
        assert.equal(entry.outcome, response.status >= 500 ? 'error' : 'refused');
        assert.equal(entry.error, answer.error, vector.name);
        assert.match(entry.reason, /^[a-z0-9_]+\.[a-z0-9_.]+$/, vector.name);
        seenCodes.add(entry.error);
      }
      // A client or issuer the configuration does not know is never logged.
      if (entry.client_id !== undefined) assert.ok(config.clients.some((c) => c.client_id === entry.client_id), vector.name);
      if (entry.issuer !== undefined) assert.ok(config.trusted_issuers.some((i) => i.issuer === entry.issuer), vector.name);
      const text = JSON.stringify(entry);
      for (const secret of secretsOf(body, headers, answer)) assert.ok(!text.includes(secret), `${vector.name}: the log carries ${secret.slice(0, 12)}…`);
      assert.ok(!/"sub"|@example\.com/.test(text), `${vector.name}: a subject in the log`);
    }
    for (const code of ['invalid_grant', 'invalid_client', 'invalid_request', 'invalid_scope', 'unauthorized_client']) assert.ok(seenCodes.has(code), code);
  });

  test('the other RFC codes: unsupported_grant_type, invalid_target, invalid_dpop_proof, 405, 413, 503, 500', async () => {
    const entries = [];
    const failing = { claim: () => Promise.reject(new Error('store down')) };
    const endpoint = new pkg.TokenEndpoint(pkg.demoConfig(), { log: (e) => entries.push(e), onError: () => {} });
    const down = new pkg.TokenEndpoint(pkg.demoConfig(), { log: (e) => entries.push(e), replayStore: failing, onError: () => {} });
    const broken = new pkg.TokenEndpoint(pkg.demoConfig(), { log: (e) => entries.push(e), now: () => Number.NaN, onError: () => {} });
    const url = 'http://127.0.0.1:8787/token';
    const form = (fields) => ({ method: 'POST', headers: { Authorization: basicAuth('demo-client', 'demo-secret'), 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    const assertion = await mintDemoAssertion();
    const cases = [
      [endpoint, new Request(url, form({ grant_type: 'password', username: 'a', password: 'b' })), 400, 'unsupported_grant_type'],
      [endpoint, new Request(url, form({ grant_type: JWT_BEARER, assertion, resource: 'https://elsewhere.example/api' })), 400, 'invalid_target'],
      [endpoint, new Request(url, { ...form({ grant_type: JWT_BEARER, assertion }), headers: { ...form({}).headers, DPoP: 'not.a.proof' } }), 400, 'invalid_dpop_proof'],
      [endpoint, new Request(url, { method: 'GET' }), 405, 'invalid_request'],
      [endpoint, new Request(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a='.padEnd(200_000, 'x') }), 413, 'invalid_request'],
      [down, new Request(url, form({ grant_type: JWT_BEARER, assertion })), 503, 'temporarily_unavailable'],
      [broken, new Request(url, form({ grant_type: JWT_BEARER, assertion })), 500, 'server_error'],
    ];
    for (const [ep, request, status, error] of cases) {
      entries.length = 0;
      const response = await ep.handle(request);
      const body = await response.json();
      assert.equal(response.status, status, `${error}: ${JSON.stringify(body)}`);
      assert.equal(body.error, error);
      assert.equal(entries.length, 1, error);
      assertShape(entries[0], error);
      assert.equal(entries[0].status, status);
      assert.equal(entries[0].error, error);
      assert.equal(typeof entries[0].reason, 'string', error);
      assert.equal(entries[0].outcome, status >= 500 ? 'error' : 'refused');
      assert.ok(!JSON.stringify(entries[0]).includes(assertion.slice(0, 40)));
    }
    // Metadata and JWKS are not token-endpoint requests: no line.
    entries.length = 0;
    await (await endpoint.handle(new Request('http://127.0.0.1:8787/.well-known/jwks.json'))).arrayBuffer();
    assert.equal(entries.length, 0);
  });

  test('a made-up client id or issuer never reaches the log; x-request-id is used only when safe', async () => {
    const entries = [];
    const endpoint = new pkg.TokenEndpoint(pkg.demoConfig(), { log: (e) => entries.push(e) });
    const made = 'attacker-\u202e-controlled';
    const response = await endpoint.handle(
      new Request('http://127.0.0.1:8787/token', {
        method: 'POST',
        headers: { Authorization: basicAuth(made, 'x'), 'Content-Type': 'application/x-www-form-urlencoded', 'x-request-id': 'req-42' },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9.c2ln' }).toString(),
      }),
    );
    assert.equal(response.status, 401);
    await response.arrayBuffer();
    assert.equal(entries[0].client_id, undefined);
    assert.equal(entries[0].issuer, undefined);
    assert.equal(entries[0].request_id, 'req-42');
    entries.length = 0;
    await (
      await endpoint.handle(new Request('http://127.0.0.1:8787/token', { method: 'POST', headers: { 'x-request-id': 'bad id with spaces' }, body: '' }))
    ).arrayBuffer();
    assert.match(entries[0].request_id, /^[0-9a-f-]{36}$/);
  });

  test('log: true writes one JSON line to console.log; a throwing hook never changes the answer; off by default', async () => {
    const lines = [];
    const original = console.log;
    console.log = (line) => lines.push(line);
    try {
      const endpoint = new pkg.TokenEndpoint(pkg.demoConfig(), { log: true });
      const response = await endpoint.exchange({ assertion: await mintDemoAssertion(), clientId: 'demo-client', clientSecret: 'demo-secret', scope: 'read' });
      assert.ok(response.access_token);
      const quiet = new pkg.TokenEndpoint(pkg.demoConfig());
      await quiet.exchange({ assertion: await mintDemoAssertion(), clientId: 'demo-client', clientSecret: 'demo-secret', scope: 'read' });
    } finally {
      console.log = original;
    }
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]);
    assert.equal(entry.outcome, 'ok');
    assert.equal(entry.client_id, 'demo-client');
    assert.equal(entry.grant_type, JWT_BEARER);

    const errors = [];
    const throwing = new pkg.TokenEndpoint(pkg.demoConfig(), { log: () => { throw new Error('logger down'); }, onError: (e) => errors.push(e) });
    const ok = await throwing.exchange({ assertion: await mintDemoAssertion(), clientId: 'demo-client', clientSecret: 'demo-secret', scope: 'read' });
    assert.ok(ok.access_token);
    assert.equal(errors.length, 1);
    assert.throws(() => new pkg.TokenEndpoint(pkg.demoConfig(), { log: 'yes' }), TypeError);

    // An async hook that rejects (a log backend down) is reported to onError,
    // never an unhandled rejection; an async onError that rejects neither.
    const reported = [];
    const rejecting = new pkg.TokenEndpoint(pkg.demoConfig(), {
      log: async () => {
        throw new Error('log backend down');
      },
      onError: async (e) => {
        reported.push(e.message);
        throw new Error('onError down too');
      },
    });
    let unhandled = 0;
    const onUnhandled = () => {
      unhandled += 1;
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const answer = await rejecting.exchange({ assertion: await mintDemoAssertion(), clientId: 'demo-client', clientSecret: 'demo-secret', scope: 'read' });
      assert.ok(answer.access_token);
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(reported, ['log backend down']);
    assert.equal(unhandled, 0);
  });
});

describe('Worker: one JSON log line per token request (workerd), metrics optional', () => {
  let mf;
  const logs = [];

  before(async () => {
    const pkg = await importPkg();
    mf = createMiniflare(
      tokenWorker({
        bindings: { AG_CONFIG: pkg.demoConfig(), AG_SIGNING_KEY: pkg.generateSigningKey('logs-1') },
        analyticsEngineDatasets: { AG_METRICS: { dataset: 'assertion_grant' } },
        handleStructuredLogs: (entry) => {
          logs.push(entry);
        },
      }),
    );
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
  });

  const tokenLines = () => logs.filter((l) => l.message.startsWith('{"time"')).map((l) => JSON.parse(l.message));

  test('a success and a refusal: fields, cf-ray as the request id, no secrets; the metrics binding breaks nothing', async () => {
    const assertion = await mintDemoAssertion();
    const post = (secret, ray) =>
      mf.dispatchFetch('http://127.0.0.1:8787/token', {
        method: 'POST',
        headers: { Authorization: basicAuth('demo-client', secret), 'Content-Type': 'application/x-www-form-urlencoded', 'cf-ray': ray },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, scope: 'read' }).toString(),
      });
    const good = await post('demo-secret', '8f1c2a7b3d9e4f10-AMS');
    const token = await good.json();
    assert.equal(good.status, 200);
    const replay = await post('demo-secret', '8f1c2a7b3d9e4f11-AMS');
    assert.equal(replay.status, 400);
    await replay.arrayBuffer();
    const lines = tokenLines();
    assert.equal(lines.length, 2, JSON.stringify(logs));
    for (const l of lines) assertShape(l, 'worker');
    assert.equal(lines[0].request_id, '8f1c2a7b3d9e4f10-AMS');
    assert.equal(lines[0].outcome, 'ok');
    assert.equal(lines[0].client_id, 'demo-client');
    assert.ok(lines[0].issuer);
    assert.equal(lines[1].reason, 'assertion.replayed');
    assert.equal(lines[1].error, 'invalid_grant');
    const all = logs.map((l) => l.message).join('\n');
    assert.ok(!all.includes(assertion.slice(0, 40)) && !all.includes(assertion.slice(-40)), 'assertion in the log');
    assert.ok(!all.includes('demo-secret'), 'client secret in the log');
    assert.ok(!all.includes(token.access_token.split('.')[2]), 'access token in the log');
    assert.ok(!logs.some((l) => /"event":"metrics"/.test(l.message)), 'a metrics write failed');
  });
});

describe('Analytics Engine data points (worker/metrics.js)', () => {
  test('one data point per entry: blobs, doubles and a ≤ 96-byte index; no binding, no write; a failing write is logged, not thrown', () => {
    const points = [];
    const dataset = { writeDataPoint: (p) => points.push(p) };
    const entry = { route: 'token', outcome: 'refused', error: 'invalid_grant', reason: 'assertion.expired', issuer: 'https://idp', client_id: 'é'.repeat(60), grant_type: JWT_BEARER, latency_ms: 3, signature_checks: 1, status: 400 };
    writeMetric(dataset, entry);
    assert.equal(points.length, 1);
    assert.deepEqual(points[0].blobs, ['token', 'refused', 'invalid_grant', 'assertion.expired', 'https://idp', 'é'.repeat(60), JWT_BEARER]);
    assert.deepEqual(points[0].doubles, [1, 3, 1, 400]);
    assert.equal(points[0].indexes[0], 'é'.repeat(48));
    assert.ok(new TextEncoder().encode(points[0].indexes[0]).length <= 96);
    writeMetric(undefined, entry);
    assert.equal(points.length, 1);
    const warned = [];
    const original = console.warn;
    console.warn = (l) => warned.push(l);
    try {
      writeMetric({ writeDataPoint: () => { throw new Error('quota'); } }, entry);
    } finally {
      console.warn = original;
    }
    assert.equal(warned.length, 1);
    assert.match(warned[0], /"event":"metrics"/);
    assert.equal(utf8Prefix('abc', 2), 'ab');
    assert.equal(utf8Prefix('aé', 2), 'a');
  });
});

describe('Worker with AG_LOG=off', () => {
  test('no per-request line; the answer is the same', async () => {
    const pkg = await importPkg();
    const logs = [];
    const mf = createMiniflare(
      tokenWorker({
        bindings: { AG_CONFIG: pkg.demoConfig(), AG_SIGNING_KEY: pkg.generateSigningKey('logs-off'), AG_LOG: 'off' },
        handleStructuredLogs: (entry) => {
          logs.push(entry);
        },
      }),
    );
    try {
      const response = await mf.dispatchFetch('http://127.0.0.1:8787/token', {
        method: 'POST',
        headers: { Authorization: basicAuth('demo-client', 'demo-secret'), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await mintDemoAssertion(), scope: 'read' }).toString(),
      });
      assert.equal(response.status, 200);
      await response.arrayBuffer();
      assert.ok(!logs.some((l) => l.message.includes('"event":"token_endpoint"')), JSON.stringify(logs));
    } finally {
      await mf.dispose();
    }
  });
});

