// Remote key sets in the Cloudflare Worker (worker/index.js) inside real
// workerd through Miniflare, against the local key server
// (tests/js/keyserver.mjs): AG_CONFIG names http://127.0.0.1:<port>/… URLs
// (http is allowed for localhost only). The Worker runs on the real clock, so
// time-dependent policy (max-age, max_stale_secs, the 503 after it) is
// tested in keysets.test.mjs with an injected clock; the one case here that
// needs a set to expire gets its elapsed time from the fetch timeout of a
// key server that stopped answering, never from a sleep.
//
// Each scenario has its own trusted issuer and key-server path, so one
// Worker (one isolate, one endpoint) serves them all. Whether or not the
// Worker shares fetched documents through the Cache API
// (worker/keyset-cache.js), the counts asserted here are the same: one
// isolate, single-flight.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, basicAuth, importPkg, requireFile } from './helpers.mjs';
import { makeIdp, startKeyServer } from './keyserver.mjs';
import { createMiniflare, moduleWorker, tokenWorker } from './miniflare.mjs';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CLIENT_ASSERTION_JWT = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const AS = 'https://as.example.com';
const TOKEN_URL = `${AS}/token`;
const CLIENT = ['basic-client', 'basic-secret'];
const SCENARIOS = ['rot', 'conc', 'down', 'bad', 'away', 'moved', 'cli'];
const issuerOf = (name) => `https://${name}.idp.test`;
const jwksPath = (name) => `/${name}/jwks`;
// A key server that stops answering fails each fetch after this long: more
// than the 1 s max-age of the "down" set (the core: fresh while now < fetchedAt + 1).
const DOWN_TIMEOUT_MS = 1200;

let mf;
let server;
let idp;
let clientKeys;
const logs = [];

before(async () => {
  requireFile(join(ROOT, 'pkg/slim/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
  const pkg = await importPkg();
  server = await startKeyServer();
  idp = await makeIdp();
  await idp.addKey('k1');
  await idp.addKey('k2');
  clientKeys = await makeIdp();
  await clientKeys.addKey('c1');
  for (const name of SCENARIOS) {
    server.route(jwksPath(name), { json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=300' } });
  }
  server.route(jwksPath('moved'), { redirect: '/moved/real', status: 301 });
  server.route('/moved/real', { json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=300' } });
  server.route(jwksPath('away'), { redirect: server.otherOriginUrl('/away/real') });
  server.route('/away/real', { json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=300' } });
  server.route(jwksPath('down'), { json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=1' } });
  server.route('/client/jwks', { json: clientKeys.jwks('c1'), headers: { 'Cache-Control': 'max-age=300' } });

  const config = {
    issuer: AS,
    access_token: { audience: 'https://api.example.com', lifetime_secs: 600 },
    key_cache: { min_cache_secs: 60, refetch_cooldown_secs: 0, failure_cache_secs: 0, fetch_timeout_ms: 5000 },
    trusted_issuers: SCENARIOS.map((name) => ({
      issuer: issuerOf(name),
      format: 'jwt',
      jwks_uri: server.url(jwksPath(name)),
      scope: 'read',
      subject_prefix: `${name}|`,
      // "down": max-age 1 s honoured, the default max_stale_secs, and a
      // fetch timeout that lets the set expire while the server hangs.
      ...(name === 'down' ? { key_cache: { min_cache_secs: 1, fetch_timeout_ms: DOWN_TIMEOUT_MS } } : {}),
    })),
    clients: [
      {
        client_id: CLIENT[0],
        token_endpoint_auth_method: 'client_secret_basic',
        client_secret_sha256: pkg.hashClientSecret(CLIENT[1]),
        scope: 'read',
      },
      { client_id: 'key-client', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: server.url('/client/jwks'), scope: 'read' },
    ],
  };
  mf = createMiniflare(
    tokenWorker({
      bindings: { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: pkg.generateSigningKey('keysets-workerd') },
      handleStructuredLogs: (entry) => {
        logs.push(entry);
      },
    }),
  );
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
  await server?.close();
});

const nowSecs = () => Math.floor(Date.now() / 1000);

function assertion(name, kid, claims = {}) {
  const t = nowSecs();
  return idp.sign(kid, { iss: issuerOf(name), sub: 'alice', aud: TOKEN_URL, iat: t, exp: t + 300, jti: crypto.randomUUID(), ...claims });
}

async function post(fields, headers = { Authorization: basicAuth(...CLIENT) }) {
  const response = await mf.dispatchFetch(TOKEN_URL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`not JSON (HTTP ${response.status}): ${text.slice(0, 300)}`);
  }
  return { status: response.status, body, headers: response.headers };
}

async function grant(name, kid) {
  return post({ grant_type: JWT_BEARER, assertion: await assertion(name, kid), scope: 'read' });
}

function assertIssued(answer, context = '') {
  assert.equal(answer.status, 200, `${context} ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.token_type, 'Bearer', context);
}

const fetches = (name) => server.count(jwksPath(name));

describe('remote key sets in the Worker (workerd)', () => {
  test('first use fetches once; the IdP rotates to a new kid: exactly one refetch, and it succeeds', async () => {
    assertIssued(await grant('rot', 'k1'));
    assertIssued(await grant('rot', 'k1'));
    assert.equal(fetches('rot'), 1);
    server.route(jwksPath('rot'), { json: idp.jwks('k1', 'k2'), headers: { 'Cache-Control': 'max-age=300' } });
    assertIssued(await grant('rot', 'k2'), 'first request with the new kid');
    assert.equal(fetches('rot'), 2);
    assertIssued(await grant('rot', 'k2'));
    assertIssued(await grant('rot', 'k1'));
    assert.equal(fetches('rot'), 2);
  });

  test('50 concurrent requests with an unknown kid: one fetch, all succeed', async () => {
    assertIssued(await grant('conc', 'k1'));
    assert.equal(fetches('conc'), 1);
    server.route(jwksPath('conc'), { json: idp.jwks('k1', 'k2'), headers: { 'Cache-Control': 'max-age=300' }, delayMs: 100 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => grant('conc', 'k2')));
    answers.forEach((a, i) => assertIssued(a, `request ${i}`));
    assert.equal(fetches('conc'), 2);
  });

  test('server down: the last good set keeps serving, stale past its max-age', async () => {
    assertIssued(await grant('down', 'k1'));
    assert.equal(fetches('down'), 1);
    // The key server stops answering: every fetch now ends in the timeout.
    server.route(jwksPath('down'), { hang: true });
    // An unknown kid forces a refetch, which times out (> the 1 s max-age).
    const unknown = await grant('down', 'k2');
    assert.notEqual(unknown.status, 200, JSON.stringify(unknown.body));
    assert.equal(fetches('down'), 2);
    // The set has expired by now: refetched (timing out again), and the
    // stale set serves (default max_stale_secs).
    assertIssued(await grant('down', 'k1'), 'stale set');
    assert.equal(fetches('down'), 3, 'the expired set was refetched');
  });

  test('garbage or oversized responses: the last good set is kept', async () => {
    assertIssued(await grant('bad', 'k1'));
    assert.equal(fetches('bad'), 1);
    const bad = [
      ['an HTML page with 200', { html: true }],
      ['JSON that is no JWK Set', { json: { error: 'nope' } }],
      ['an oversized document', { huge: 8 * 1024 * 1024 }],
      ['an error status', { status: 500, body: 'oops' }],
    ];
    for (const [what, behaviour] of bad) {
      server.route(jwksPath('bad'), behaviour);
      const before = fetches('bad');
      const unknown = await grant('bad', 'k2');
      assert.notEqual(unknown.status, 200, `${what}: ${JSON.stringify(unknown.body)}`);
      assert.equal(fetches('bad'), before + 1, `${what}: one refetch`);
      assertIssued(await grant('bad', 'k1'), `${what}: a good assertion still succeeds`);
    }
  });

  test('a redirect to another origin is refused (nothing usable: 503); a same-origin one is followed', async () => {
    const answer = await grant('away', 'k1');
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.equal(answer.body.error, 'temporarily_unavailable');
    assert.match(answer.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(fetches('away'), 1);
    assert.equal(server.count('/away/real'), 0, 'the other origin was never asked');

    assertIssued(await grant('moved', 'k1'));
    assert.equal(fetches('moved'), 1);
    assert.equal(server.count('/moved/real'), 1);
  });

  test('a private_key_jwt client with clients[].jwks_uri', async () => {
    const t = nowSecs();
    const clientAssertion = await clientKeys.sign('c1', { iss: 'key-client', sub: 'key-client', aud: AS, iat: t, exp: t + 120, jti: crypto.randomUUID() });
    const answer = await post(
      {
        grant_type: JWT_BEARER,
        assertion: await assertion('cli', 'k1'),
        scope: 'read',
        client_id: 'key-client',
        client_assertion_type: CLIENT_ASSERTION_JWT,
        client_assertion: clientAssertion,
      },
      {},
    );
    assertIssued(answer);
    assert.equal(server.count('/client/jwks'), 1);
    assert.equal(fetches('cli'), 1);
  });
});

// The Cache API key-set cache (worker/keyset-cache.js) on its own, and two
// endpoints sharing it as two isolates of a colo would: the second one's
// first use is served from the Cache API, not the origin. (A Worker written
// here, in the tree beside worker/, so its imports resolve as the Worker's do.)
const PROBE_WORKER = `
import wasm from '../../pkg/slim/assertion_grant_bg.wasm';
import { initSync, TokenEndpoint } from '../../pkg/slim/index.js';
import { cacheApiKeySetCache } from '../../worker/keyset-cache.js';

const INTERNAL = 'https://assertion-grant.internal/keyset?url=';

export default {
  async fetch(request) {
    initSync(wasm);
    const input = await request.json();
    if (input.op === 'roundtrip') {
      const now = () => input.now;
      const cache = cacheApiKeySetCache(caches.default, { now });
      const before = await cache.get(input.url);
      await cache.put(input.url, input.entry);
      const after = await cache.get(input.url);
      const raw = await caches.default.match(new Request(INTERNAL + encodeURIComponent(input.url)));
      const other = await cache.get(input.url + '#other');
      return Response.json({ before: before ?? null, after, cacheControl: raw.headers.get('cache-control'), other: other ?? null });
    }
    if (input.op === 'two-isolates') {
      const reports = [];
      const make = (name) => new TokenEndpoint(input.config, {
        signingKeys: input.signingKey,
        keySets: { cache: cacheApiKeySetCache(), onKeySet: (r) => reports.push({ endpoint: name, from: r.from, accepted: r.accepted, cacheError: r.cacheError ?? null }) },
      });
      const endpoints = [make('a'), make('b')];
      const statuses = [];
      for (const [i, r] of input.requests.entries()) {
        const response = await endpoints[i].handle(new Request(input.config.issuer + '/token', { method: 'POST', headers: r.headers, body: r.body }));
        statuses.push(response.status);
      }
      return Response.json({ statuses, reports });
    }
    return new Response('not found', { status: 404 });
  },
};
`;

describe('worker/keyset-cache.js on the Cache API (workerd)', () => {
  let probe;

  before(async () => {
    probe = createMiniflare(moduleWorker('tests/js/keyset-cache.probe.js', { script: PROBE_WORKER }));
    await probe.ready;
  });

  after(async () => {
    await probe?.dispose();
  });

  async function call(payload) {
    const response = await probe.dispatchFetch('http://probe/', { method: 'POST', body: JSON.stringify(payload) });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return JSON.parse(text);
  }

  test('put then get round-trips an entry; Cache-Control max-age runs to staleUntil', async () => {
    const now = nowSecs();
    const entry = { body: '{"keys":[]}', cacheControl: 'max-age=60', fetchedAt: now, freshUntil: now + 60, staleUntil: now + 660 };
    const result = await call({ op: 'roundtrip', url: 'https://idp.example/jwks', now, entry });
    assert.equal(result.before, null);
    assert.deepEqual(result.after, entry);
    assert.equal(result.cacheControl, 'max-age=660');
    assert.equal(result.other, null, 'keyed by the exact URL');
  });

  test('two endpoints ("isolates") sharing it: the origin is asked once', async () => {
    const pkg = await importPkg();
    server.route('/shared/jwks', { json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=300' } });
    const config = {
      issuer: AS,
      access_token: { audience: 'https://api.example.com', lifetime_secs: 600 },
      trusted_issuers: [{ issuer: issuerOf('shared'), format: 'jwt', jwks_uri: server.url('/shared/jwks'), scope: 'read' }],
      clients: [{ client_id: CLIENT[0], token_endpoint_auth_method: 'client_secret_basic', client_secret_sha256: pkg.hashClientSecret(CLIENT[1]), scope: 'read' }],
    };
    const request = async () => ({
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(...CLIENT) },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion('shared', 'k1'), scope: 'read' }).toString(),
    });
    const result = await call({ op: 'two-isolates', config, signingKey: pkg.generateSigningKey('probe'), requests: [await request(), await request()] });
    assert.deepEqual(result.statuses, [200, 200]);
    assert.deepEqual(result.reports, [
      { endpoint: 'a', from: 'network', accepted: true, cacheError: null },
      { endpoint: 'b', from: 'cache', accepted: true, cacheError: null },
    ]);
    assert.equal(server.count('/shared/jwks'), 1);
  });
});
