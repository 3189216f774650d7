// Remote key sets through the npm package (pkg/index.js) in Node: fetchKeySet
// against a local key server (tests/js/keyserver.mjs), and TokenEndpoint
// with `jwks_uri` / `saml_metadata_url` issuers and a `jwks_uri` client under
// an injected clock — first use, rotation, max-age, stale serving and the
// 503 after it, refused documents, single-flight, a shared cache. The cache
// policy is the core's; these tests pin what a host sees of it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, basicAuth, importPkg } from './helpers.mjs';
import { makeIdp, startKeyServer } from './keyserver.mjs';
import { SAML2_BEARER, SAML_IDP, SAML_KEYS, signSamlAssertion } from './xmlsec.mjs';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const AS = 'https://as.example.com';
const TOKEN_URL = `${AS}/token`;
const IDP = 'https://idp.keys.test';
const T0 = 1_800_000_000;
const CLIENT = ['basic-client', 'basic-secret'];

let pkg;
let server;
let idp;
let clientKeys;
let signingKey;

before(async () => {
  pkg = await importPkg();
  server = await startKeyServer();
  idp = await makeIdp();
  await idp.addKey('k1');
  await idp.addKey('k2');
  clientKeys = await makeIdp();
  await clientKeys.addKey('c1');
  await clientKeys.addKey('c2');
  signingKey = pkg.generateSigningKey('keysets-test');
});

after(async () => {
  await server?.close();
});

// ---------------------------------------------------------------------------
// Helpers

let prefixes = 0;
/** A fresh path prefix per scenario: its own counts and behaviour. */
const freshPrefix = () => `/s${++prefixes}`;

function configFor(prefix, { keyCache = {}, issuerKeyCache, clientJwksUri = true } = {}) {
  return {
    issuer: AS,
    access_token: { audience: 'https://api.example.com', lifetime_secs: 600 },
    key_cache: {
      min_cache_secs: 60,
      max_cache_secs: 3600,
      refetch_cooldown_secs: 0,
      max_stale_secs: 600,
      failure_cache_secs: 0,
      fetch_timeout_ms: 1000,
      ...keyCache,
    },
    trusted_issuers: [
      {
        issuer: IDP,
        format: 'jwt',
        jwks_uri: server.url(`${prefix}/idp`),
        scope: 'read',
        ...(issuerKeyCache ? { key_cache: issuerKeyCache } : {}),
      },
    ],
    clients: [
      {
        client_id: CLIENT[0],
        token_endpoint_auth_method: 'client_secret_basic',
        client_secret_sha256: pkg.hashClientSecret(CLIENT[1]),
        scope: 'read',
      },
      ...(clientJwksUri
        ? [{ client_id: 'key-client', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: server.url(`${prefix}/client`), scope: 'read' }]
        : []),
    ],
  };
}

/**
 * An endpoint on a fixed clock (`clock.now`, seconds) whose IdP JWKS is
 * served at `<prefix>/idp` (k1 only, max-age 60, unless `idpRoute` says).
 */
function scenario({ crypto, keyCache, keySets, idpRoute, onError, issuerKeyCache } = {}) {
  const prefix = freshPrefix();
  server.route(`${prefix}/idp`, idpRoute ?? { json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=60' } });
  server.route(`${prefix}/client`, { json: clientKeys.jwks('c1'), headers: { 'Cache-Control': 'max-age=60' } });
  const clock = { now: T0 };
  const reports = [];
  const errors = [];
  const endpoint = new pkg.TokenEndpoint(configFor(prefix, { keyCache, issuerKeyCache }), {
    signingKeys: signingKey,
    now: () => clock.now,
    crypto,
    onError: onError ?? ((err) => errors.push(err)),
    keySets: { onKeySet: (report) => reports.push(report), ...keySets },
  });
  const idpPath = `${prefix}/idp`;
  return {
    prefix,
    clock,
    endpoint,
    reports,
    errors,
    idpPath,
    clientPath: `${prefix}/client`,
    /** Requests the IdP's JWKS path received. */
    fetches: () => server.count(idpPath),
    /** What the IdP's JWKS path does from now on. */
    serve: (behaviour) => server.route(idpPath, behaviour),
    /** A token request with an assertion signed by `kid`, at the scenario's clock. */
    grant: (kid, options) => grant(endpoint, clock.now, kid, options),
  };
}

async function assertion(kid, now, claims = {}) {
  return idp.sign(kid, { iss: IDP, sub: 'alice', aud: TOKEN_URL, iat: now, exp: now + 300, jti: crypto.randomUUID(), ...claims });
}

function tokenRequest(fields, headers = { Authorization: basicAuth(...CLIENT) }) {
  return new Request(TOKEN_URL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

async function grant(endpoint, now, kid) {
  const response = await endpoint.handle(tokenRequest({ grant_type: JWT_BEARER, assertion: await assertion(kid, now), scope: 'read' }));
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`not JSON (HTTP ${response.status}): ${text.slice(0, 300)}`);
  }
  return { status: response.status, body, headers: response.headers };
}

function assertIssued(answer, context = '') {
  assert.equal(answer.status, 200, `${context} ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.token_type, 'Bearer', context);
}

function assertError(answer, status, error, context = '') {
  assert.equal(answer.status, status, `${context} ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.error, error, `${context} ${JSON.stringify(answer.body)}`);
}

// ---------------------------------------------------------------------------
// fetchKeySet: the host's fetch, on its own

describe('fetchKeySet', () => {
  test('GET with the Accept of its kind; body, Cache-Control and fetchedAt = now()', async () => {
    const p = freshPrefix();
    server.route(`${p}/jwks`, { json: { keys: [] }, headers: { 'Cache-Control': 'max-age=120' } });
    server.route(`${p}/md`, { body: '<md:EntityDescriptor/>', headers: { 'Content-Type': 'application/samlmetadata+xml' } });
    const jwks = await pkg.fetchKeySet(server.url(`${p}/jwks`), { timeoutMs: 2000, maxBytes: 1000, now: () => T0 + 0.75 });
    assert.deepEqual(jwks, { ok: true, body: '{"keys":[]}', cacheControl: 'max-age=120', fetchedAt: T0 });
    const md = await pkg.fetchKeySet(server.url(`${p}/md`), { kind: 'saml-metadata', now: () => T0 });
    assert.deepEqual(md, { ok: true, body: '<md:EntityDescriptor/>', cacheControl: null, fetchedAt: T0 });
    const accepts = server.requests.filter((r) => r.path.startsWith(`${p}/`)).map((r) => [r.path, r.method, r.accept]);
    assert.deepEqual(accepts, [
      [`${p}/jwks`, 'GET', 'application/jwk-set+json, application/json'],
      [`${p}/md`, 'GET', 'application/samlmetadata+xml, application/xml, text/xml'],
    ]);
  });

  test('a server that never answers fails within the timeout', async () => {
    const p = freshPrefix();
    server.route(`${p}/hang`, { hang: true });
    const started = performance.now();
    const result = await pkg.fetchKeySet(server.url(`${p}/hang`), { timeoutMs: 200, maxBytes: 1000 });
    const elapsed = performance.now() - started;
    assert.deepEqual(result, { ok: false, error: 'timeout after 200 ms' });
    assert.ok(elapsed >= 150 && elapsed < 1500, `took ${elapsed} ms`);
  });

  test('the timeout covers the body: headers at once, a body that never finishes', async () => {
    const p = freshPrefix();
    server.route(`${p}/slow-body`, { json: { keys: [] }, bodyDelayMs: 5000 });
    const started = performance.now();
    const result = await pkg.fetchKeySet(server.url(`${p}/slow-body`), { timeoutMs: 200, maxBytes: 1000 });
    assert.deepEqual(result, { ok: false, error: 'timeout after 200 ms' });
    assert.ok(performance.now() - started < 1500);
  });

  test('oversize: a streamed body is abandoned once past the limit; a declared one is refused unread', async () => {
    const p = freshPrefix();
    server.route(`${p}/huge`, { huge: 50 * 1024 * 1024 });
    server.route(`${p}/declared`, { body: '{"keys":[]}', declaredLength: 70000 });
    const started = performance.now();
    assert.deepEqual(await pkg.fetchKeySet(server.url(`${p}/huge`), { timeoutMs: 5000, maxBytes: 65536 }), {
      ok: false,
      error: 'larger than 65536 bytes',
    });
    assert.deepEqual(await pkg.fetchKeySet(server.url(`${p}/declared`), { timeoutMs: 5000, maxBytes: 65536 }), {
      ok: false,
      error: 'larger than 65536 bytes',
    });
    assert.ok(performance.now() - started < 3000, 'neither waited for the whole body (nor the timeout)');
  });

  test('an HTML error page with 200 is fetched as it is (the core refuses it, see below)', async () => {
    const p = freshPrefix();
    server.route(`${p}/html`, { html: true });
    const result = await pkg.fetchKeySet(server.url(`${p}/html`), { now: () => T0 });
    assert.equal(result.ok, true);
    assert.match(result.body, /^<!doctype html>/);
  });

  test('redirects: same origin followed (at most 3), another origin or a loop refused', async () => {
    const p = freshPrefix();
    server.route(`${p}/ok`, { json: { keys: [] } });
    server.route(`${p}/moved`, { redirect: `${p}/ok`, status: 301 });
    server.route(`${p}/r1`, { redirect: server.url(`${p}/r2`) });
    server.route(`${p}/r2`, { redirect: `${p}/r3`, status: 307 });
    server.route(`${p}/r3`, { redirect: `${p}/ok`, status: 308 });
    server.route(`${p}/r0`, { redirect: `${p}/r1` });
    server.route(`${p}/away`, { redirect: server.otherOriginUrl(`${p}/ok`) });
    server.route(`${p}/https`, { redirect: `https://127.0.0.1:${server.port}${p}/ok` });
    server.route(`${p}/loop`, { redirect: `${p}/loop` });
    server.route(`${p}/ping`, { redirect: `${p}/pong` });
    server.route(`${p}/pong`, { redirect: `${p}/ping` });
    server.route(`${p}/nowhere`, { status: 302 });
    const fetchAt = (path) => pkg.fetchKeySet(server.url(path), { now: () => T0 });

    assert.deepEqual(await fetchAt(`${p}/moved`), { ok: true, body: '{"keys":[]}', cacheControl: null, fetchedAt: T0 });
    assert.equal((await fetchAt(`${p}/r1`)).ok, true, 'three redirects are followed');
    assert.deepEqual(await fetchAt(`${p}/r0`), { ok: false, error: 'more than 3 redirects' });
    const okBefore = server.count(`${p}/ok`);
    assert.deepEqual(await fetchAt(`${p}/away`), { ok: false, error: 'redirect to another origin' });
    assert.deepEqual(await fetchAt(`${p}/https`), { ok: false, error: 'redirect to another origin' });
    assert.equal(server.count(`${p}/ok`), okBefore, 'the other origin was never asked');
    assert.deepEqual(await fetchAt(`${p}/loop`), { ok: false, error: 'redirect loop' });
    assert.deepEqual(await fetchAt(`${p}/ping`), { ok: false, error: 'redirect loop' });
    assert.equal(server.count(`${p}/loop`), 1);
    assert.deepEqual(await fetchAt(`${p}/nowhere`), { ok: false, error: 'HTTP 302 without Location' });
  });

  test('only 200 succeeds; errors are short and never carry the body', async () => {
    const p = freshPrefix();
    server.route(`${p}/503`, { status: 503, body: 'SECRET-BODY-TEXT maintenance' });
    server.route(`${p}/204`, { status: 204 });
    server.route(`${p}/404`, { status: 404, body: 'SECRET-BODY-TEXT' });
    for (const [path, error] of [
      [`${p}/503`, 'HTTP 503'],
      [`${p}/204`, 'HTTP 204'],
      [`${p}/404`, 'HTTP 404'],
    ]) {
      assert.deepEqual(await pkg.fetchKeySet(server.url(path)), { ok: false, error });
    }
  });

  test('invalid UTF-8 fails; a reset connection or a throwing fetch fails without throwing', async () => {
    const p = freshPrefix();
    server.route(`${p}/latin1`, { bytes: [0x7b, 0x22, 0xe9, 0x22, 0x7d] });
    server.route(`${p}/reset`, { reset: true });
    assert.deepEqual(await pkg.fetchKeySet(server.url(`${p}/latin1`)), { ok: false, error: 'not valid UTF-8' });
    const reset = await pkg.fetchKeySet(server.url(`${p}/reset`));
    assert.equal(reset.ok, false);
    assert.match(reset.error, /^network error: /);
    assert.ok(reset.error.length < 150);
    const throwing = await pkg.fetchKeySet(server.url(`${p}/x`), {
      fetch: () => {
        throw new Error('boom\nwith a second line');
      },
    });
    assert.deepEqual(throwing, { ok: false, error: 'network error: boom with a second line' });
    assert.deepEqual(await pkg.fetchKeySet('not a url'), { ok: false, error: 'not a URL' });
    assert.deepEqual(await pkg.fetchKeySet('file:///etc/passwd'), { ok: false, error: 'not an http(s) URL' });
  });
});

// ---------------------------------------------------------------------------
// The endpoint with remote key sets (fixed clock)

for (const backend of ['webcrypto', 'wasm']) {
  describe(`TokenEndpoint with a jwks_uri issuer (${backend})`, () => {
    test('first use fetches once; later requests use the cached set', async () => {
      const s = scenario({ crypto: backend });
      assert.equal(s.fetches(), 0, 'nothing is fetched before it is needed');
      assertIssued(await s.grant('k1'));
      assert.equal(s.fetches(), 1);
      for (let i = 0; i < 3; i++) assertIssued(await s.grant('k1'));
      assert.equal(s.fetches(), 1);
      assert.equal(s.reports.length, 1);
      const [report] = s.reports;
      assert.equal(report.accepted, true, JSON.stringify(report));
      assert.equal(report.url, server.url(s.idpPath));
      assert.equal(report.keys, 1);
      assert.equal(report.fetchedAt, T0);
      assert.equal(report.freshUntil, T0 + 60);
      assert.equal(report.from, 'network');
    });

    test('rotation: a new kid causes exactly one refetch, and succeeds', async () => {
      const s = scenario({ crypto: backend });
      assertIssued(await s.grant('k1'));
      assert.equal(s.fetches(), 1);
      s.serve({ json: idp.jwks('k1', 'k2'), headers: { 'Cache-Control': 'max-age=60' } });
      s.clock.now += 5;
      assertIssued(await s.grant('k2'), 'first request with the new kid');
      assert.equal(s.fetches(), 2);
      assertIssued(await s.grant('k2'));
      assertIssued(await s.grant('k1'));
      assert.equal(s.fetches(), 2);
    });

    test('max-age is respected: no fetch before it passes, one after', async () => {
      const s = scenario({ crypto: backend, idpRoute: { json: idp.jwks('k1'), headers: { 'Cache-Control': 'public, max-age=120' } } });
      assertIssued(await s.grant('k1'));
      assert.equal(s.reports[0].freshUntil, T0 + 120);
      s.clock.now = T0 + 100;
      assertIssued(await s.grant('k1'));
      assert.equal(s.fetches(), 1, 'still fresh at +100 s');
      s.clock.now = T0 + 130;
      assertIssued(await s.grant('k1'));
      assert.equal(s.fetches(), 2, 'refetched after max-age');
      assert.equal(s.reports[1].fetchedAt, T0 + 130);
    });

    test('max-age is clamped to min_cache_secs and max_cache_secs', async () => {
      const low = scenario({ crypto: backend, idpRoute: { json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=1' } } });
      assertIssued(await low.grant('k1'));
      assert.equal(low.reports[0].freshUntil, T0 + 60);
      const high = scenario({ crypto: backend, idpRoute: { json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=999999' } } });
      assertIssued(await high.grant('k1'));
      assert.equal(high.reports[0].freshUntil, T0 + 3600);
    });

    test('server down: stale keys serve within max_stale_secs, then 503 temporarily_unavailable with Retry-After', async () => {
      const s = scenario({ crypto: backend });
      assertIssued(await s.grant('k1'));
      s.serve({ status: 503, body: 'down for maintenance' });
      s.clock.now = T0 + 100; // expired (fresh until +60)
      assertIssued(await s.grant('k1'), 'stale set at +100 s');
      assert.equal(s.fetches(), 2, 'the expired set was refetched (and that failed)');
      const failed = s.reports.at(-1);
      assert.equal(failed.accepted, false);
      assert.equal(failed.error, 'HTTP 503');
      s.clock.now = T0 + 650; // fresh until +60, stale until +660
      assertIssued(await s.grant('k1'), 'stale set at +650 s');
      s.clock.now = T0 + 700;
      const answer = await s.grant('k1');
      assertError(answer, 503, 'temporarily_unavailable', 'past max_stale_secs');
      assert.match(answer.headers.get('retry-after') ?? '', /^\d+$/, 'Retry-After');
      assert.equal(answer.headers.get('cache-control'), 'no-store');
      // The IdP comes back: the next request after the failure is no longer cached succeeds.
      s.serve({ json: idp.jwks('k1'), headers: { 'Cache-Control': 'max-age=60' } });
      s.clock.now = T0 + 800;
      assertIssued(await s.grant('k1'), 'after the IdP recovered');
    });

    test('nothing usable on first use: 503 temporarily_unavailable with Retry-After', async () => {
      const s = scenario({ crypto: backend, idpRoute: { reset: true } });
      const answer = await s.grant('k1');
      assertError(answer, 503, 'temporarily_unavailable');
      assert.match(answer.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(s.reports.length, 1);
      assert.equal(s.reports[0].accepted, false);
    });

    test('a garbage or oversized new document: the last good set is kept', async () => {
      const s = scenario({ crypto: backend });
      assertIssued(await s.grant('k1'));
      const bad = [
        ['an HTML page with 200', { html: true }],
        ['JSON that is no JWK Set', { json: { hello: 'world' } }],
        ['a JWK Set without a usable key', { json: { keys: [{ kty: 'oct', k: 'AAAA' }] } }],
        ['an oversized document', { huge: 4 * 1024 * 1024 }],
        ['a cross-origin redirect', { redirect: server.otherOriginUrl(s.clientPath) }],
      ];
      for (const [what, behaviour] of bad) {
        s.serve(behaviour);
        const before = s.fetches();
        s.clock.now += 1;
        const unknown = await s.grant('k2'); // unknown kid: refetch, refused
        assert.notEqual(unknown.status, 200, what);
        assert.equal(s.fetches(), before + 1, `${what}: refetched once`);
        const report = s.reports.at(-1);
        assert.equal(report.accepted, false, `${what}: ${JSON.stringify(report)}`);
        assert.equal(typeof report.error, 'string', what);
        assertIssued(await s.grant('k1'), `${what}: a good assertion still succeeds`);
      }
      // Also once the set has expired: refused refetch, stale set serves.
      s.serve({ html: true });
      s.clock.now += 100;
      assertIssued(await s.grant('k1'), 'expired set, refused refetch: stale serves');
    });

    test('50 concurrent requests with an unknown kid: one fetch, all succeed', async () => {
      const s = scenario({ crypto: backend });
      assertIssued(await s.grant('k1'));
      s.serve({ json: idp.jwks('k1', 'k2'), headers: { 'Cache-Control': 'max-age=60' }, delayMs: 50 });
      s.clock.now += 5;
      const answers = await Promise.all(Array.from({ length: 50 }, () => s.grant('k2')));
      answers.forEach((a, i) => assertIssued(a, `request ${i}`));
      assert.equal(s.fetches(), 2, 'one refetch for all 50');
      assert.equal(s.reports.length, 2, 'recorded in the core once');
    });

    test('50 concurrent first uses: one fetch', async () => {
      const s = scenario({ crypto: backend, idpRoute: { json: idp.jwks('k1'), delayMs: 50 } });
      const answers = await Promise.all(Array.from({ length: 50 }, () => s.grant('k1')));
      answers.forEach((a, i) => assertIssued(a, `request ${i}`));
      assert.equal(s.fetches(), 1);
    });

    test('a private_key_jwt client with clients[].jwks_uri (rotating its key too)', async () => {
      const s = scenario({ crypto: backend });
      const clientAssertion = (kid) =>
        clientKeys.sign(kid, { iss: 'key-client', sub: 'key-client', aud: AS, iat: s.clock.now, exp: s.clock.now + 120, jti: crypto.randomUUID() });
      const run = async (kid) => {
        try {
          return await s.endpoint.exchange({ assertion: await assertion('k1', s.clock.now), clientId: 'key-client', clientAssertion: await clientAssertion(kid), scope: 'read' });
        } catch (err) {
          return err;
        }
      };
      const first = await run('c1');
      assert.equal(first.token_type, 'Bearer', String(first));
      assert.equal(server.count(s.clientPath), 1);
      assert.equal(s.fetches(), 1);
      server.route(s.clientPath, { json: clientKeys.jwks('c2'), headers: { 'Cache-Control': 'max-age=60' } });
      s.clock.now += 5;
      const rotated = await run('c2');
      assert.equal(rotated.token_type, 'Bearer', String(rotated));
      assert.equal(server.count(s.clientPath), 2, 'one refetch of the client set');
      const stranger = await run('c-unknown');
      assert.equal(stranger.code, 'invalid_client', String(stranger));
    });

    test('explain() fetches through the same loop', async () => {
      const s = scenario({ crypto: backend });
      const body = new URLSearchParams({ grant_type: JWT_BEARER, assertion: await assertion('k1', T0), scope: 'read' }).toString();
      const report = await s.endpoint.explain({
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(...CLIENT) },
      });
      assert.equal(report.would_issue, true, JSON.stringify(report.error));
      assert.equal(s.fetches(), 1);
    });
  });
}

// ---------------------------------------------------------------------------
// Hooks: a shared cache, a custom fetch, the default report

/** An in-memory KeySetCache shared by endpoints (as isolates share the Cache API). */
function memoryCache() {
  const entries = new Map();
  return {
    entries,
    gets: 0,
    puts: 0,
    async get(url) {
      this.gets += 1;
      return entries.get(url);
    },
    async put(url, entry) {
      this.puts += 1;
      entries.set(url, structuredClone(entry));
    },
  };
}

describe('keySets hooks', () => {
  test('a shared cache: a second endpoint uses the first one\'s fetch; an unknown kid uses a newer entry only', async () => {
    const cache = memoryCache();
    const a = scenario({ keySets: { cache } });
    // b: another "isolate" with the same configuration and clock.
    const b = {
      endpoint: new pkg.TokenEndpoint(configFor(a.prefix), {
        signingKeys: signingKey,
        now: () => a.clock.now,
        keySets: { cache, onKeySet: (r) => b.reports.push(r) },
      }),
      reports: [],
    };
    assertIssued(await a.grant('k1'));
    assert.equal(a.fetches(), 1);
    assert.equal(cache.puts, 1);
    const entry = cache.entries.get(server.url(a.idpPath));
    assert.deepEqual(
      { ...entry, body: JSON.parse(entry.body) },
      { body: idp.jwks('k1'), cacheControl: 'max-age=60', fetchedAt: T0, freshUntil: T0 + 60, staleUntil: T0 + 660 },
    );

    assertIssued(await grant(b.endpoint, a.clock.now, 'k1'), 'b, first use');
    assert.equal(a.fetches(), 1, 'b used the shared entry');
    assert.equal(b.reports[0].from, 'cache');
    assert.equal(b.reports[0].fetchedAt, T0, 'the original fetch time');

    // Rotation seen by a: a refetches and shares the newer set.
    a.serve({ json: idp.jwks('k1', 'k2'), headers: { 'Cache-Control': 'max-age=60' } });
    a.clock.now = T0 + 10;
    assertIssued(await a.grant('k2'));
    assert.equal(a.fetches(), 2);
    assertIssued(await grant(b.endpoint, a.clock.now, 'k2'), 'b, the new kid');
    assert.equal(a.fetches(), 2, 'b took the newer entry instead of refetching');
    assert.equal(b.reports.at(-1).from, 'cache');

    // An unknown kid with nothing newer in the cache goes to the network.
    const before = a.fetches();
    assert.notEqual((await grant(b.endpoint, a.clock.now, 'k9')).status, 200);
    assert.equal(a.fetches(), before + 1);
  });

  test('an expired entry is not used; a failing cache is reported and bypassed', async () => {
    const cache = memoryCache();
    const a = scenario({ keySets: { cache } });
    assertIssued(await a.grant('k1'));
    a.clock.now = T0 + 61;
    // A new endpoint, first use, the shared entry is past freshUntil: network.
    const b = new pkg.TokenEndpoint(configFor(a.prefix), { signingKeys: signingKey, now: () => a.clock.now, keySets: { cache } });
    assertIssued(await grant(b, a.clock.now, 'k1'));
    assert.equal(a.fetches(), 2);

    const errors = [];
    const broken = {
      get: async () => {
        throw new Error('cache down');
      },
      put: async () => {
        throw new Error('cache full');
      },
    };
    const c = scenario({ keySets: { cache: broken, onKeySet: undefined }, onError: (err) => errors.push(err) });
    assertIssued(await c.grant('k1'), 'the cache is an optimisation only');
    assert.equal(c.fetches(), 1);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].name, 'KeySetError');
    assert.equal(errors[0].report.cacheError, 'shared cache get failed: cache down; shared cache put failed: cache full');
    assert.match(errors[0].message, /: shared cache get failed: cache down; shared cache put failed: cache full$/);
  });

  test('a shared cache that never answers holds no fetch up for long', async () => {
    const stuck = { get: () => new Promise(() => {}), put: () => new Promise(() => {}) };
    const s = scenario({ keySets: { cache: stuck }, keyCache: { fetch_timeout_ms: 200 } });
    const started = performance.now();
    assertIssued(await s.grant('k1'));
    assert.ok(performance.now() - started < 2000, 'bounded by the fetch timeout');
    assert.equal(s.fetches(), 1);
    assert.equal(s.reports[0].cacheError, 'shared cache get timed out after 200 ms; shared cache put timed out after 200 ms');
  });

  test('a custom fetch is used; the default report goes to onError, else console.warn', async (t) => {
    const seen = [];
    const myFetch = (url, init) => {
      seen.push({ url, redirect: init.redirect, hasSignal: init.signal instanceof AbortSignal });
      return fetch(url, init);
    };
    const errors = [];
    const s = scenario({ keySets: { fetch: myFetch, onKeySet: undefined }, onError: (err) => errors.push(err), idpRoute: { html: true } });
    assertError(await s.grant('k1'), 503, 'temporarily_unavailable');
    assert.deepEqual(seen, [{ url: server.url(s.idpPath), redirect: 'manual', hasSignal: true }]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].name, 'KeySetError');
    assert.match(errors[0].message, new RegExp(`key set ${server.url(s.idpPath).replace(/[.]/g, '\\.')}: not accepted: `));
    assert.equal(errors[0].report.accepted, false);
    assert.doesNotMatch(errors[0].message, /Bad Gateway/, 'never the body');

    const warn = t.mock.method(console, 'warn', () => {});
    const prefix = freshPrefix();
    server.route(`${prefix}/idp`, { status: 500 });
    const quiet = new pkg.TokenEndpoint(configFor(prefix, { clientJwksUri: false }), { signingKeys: signingKey, now: () => T0 });
    assertError(await grant(quiet, T0, 'k1'), 503, 'temporarily_unavailable');
    assert.equal(warn.mock.callCount(), 1);
    assert.match(warn.mock.calls[0].arguments[0], /not accepted: HTTP 500/);
  });

  test('keySets options are checked', () => {
    const config = configFor(freshPrefix());
    assert.throws(() => new pkg.TokenEndpoint(config, { signingKeys: signingKey, keySets: { fetch: 42 } }), TypeError);
    assert.throws(() => new pkg.TokenEndpoint(config, { signingKeys: signingKey, keySets: { cache: {} } }), TypeError);
    assert.throws(() => new pkg.TokenEndpoint(config, { signingKeys: signingKey, keySets: { onKeySet: 'log' } }), TypeError);
  });
});

// ---------------------------------------------------------------------------
// SAML metadata by URL (real clock: xmlsec1 signs with it)

describe('a saml2 issuer with saml_metadata_url', () => {
  test('the metadata is fetched once and its signing certificate verifies the assertion', async () => {
    const pem = readFileSync(join(SAML_KEYS, 'saml-idp.crt.pem'), 'utf8');
    const der = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    const metadata =
      `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${SAML_IDP}">` +
      '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing">' +
      `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${SAML_IDP}/sso"/>` +
      '</md:IDPSSODescriptor></md:EntityDescriptor>';
    const prefix = freshPrefix();
    server.route(`${prefix}/metadata`, { body: metadata, headers: { 'Content-Type': 'application/samlmetadata+xml', 'Cache-Control': 'max-age=600' } });
    const config = configFor(prefix, { clientJwksUri: false });
    config.trusted_issuers = [{ issuer: SAML_IDP, format: 'saml2', saml_metadata_url: server.url(`${prefix}/metadata`), scope: 'read', claims: { email: 'email' } }];
    const reports = [];
    const endpoint = new pkg.TokenEndpoint(config, { signingKeys: signingKey, keySets: { onKeySet: (r) => reports.push(r) } });
    for (let i = 0; i < 2; i++) {
      const samlAssertion = signSamlAssertion({ audience: AS, recipient: TOKEN_URL });
      const response = await endpoint.handle(tokenRequest({ grant_type: SAML2_BEARER, assertion: samlAssertion, scope: 'read' }));
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
    }
    assert.equal(server.count(`${prefix}/metadata`), 1);
    assert.equal(reports.length, 1);
    assert.equal(reports[0].accepted, true, JSON.stringify(reports[0]));
    assert.equal(server.requests.find((r) => r.path === `${prefix}/metadata`).accept, 'application/samlmetadata+xml, application/xml, text/xml');
  });
});

// ---------------------------------------------------------------------------
// The WebCrypto verifier's import cache under key rotation (white box)

describe('WebCryptoVerifier and fetched keys', () => {
  test('imports of generations older than the newest minus one are dropped; a new core drops them all', async () => {
    const { WebCryptoVerifier } = await import(new URL('../../pkg/webcrypto.js', import.meta.url).href);
    const jwk = JSON.stringify((({ kty, crv, x, y }) => ({ kty, crv, x, y }))(idp.jwks('k1').keys[0]));
    const asked = [];
    const fakeCore = () => ({ verificationKey: (id) => (asked.push(id), jwk) });
    let core = fakeCore();
    const verifier = new WebCryptoVerifier(() => core, () => {});
    const check = (id) => verifier.verify({ alg: 'ES256', keys: [id], message: new Uint8Array(8), signature: new Uint8Array(64) });
    for (const id of ['i0.0', 'f0.1.0', 'f0.1.1', 'f1.1.0', 'f0.2.0']) await check(id);
    assert.deepEqual(asked.splice(0), ['i0.0', 'f0.1.0', 'f0.1.1', 'f1.1.0', 'f0.2.0']);
    await check('f0.1.0'); // generation 1 = newest (2) − 1: still imported
    assert.deepEqual(asked.splice(0), []);
    await check('f0.3.0'); // source 0 at generation 3: generation 1 dropped, 2 kept
    await check('f0.2.0');
    await check('f1.1.0'); // another source: untouched
    await check('i0.0');
    assert.deepEqual(asked.splice(0), ['f0.3.0']);
    await check('f0.1.0');
    assert.deepEqual(asked.splice(0), ['f0.1.0'], 'generation 1 was imported again');
    core = fakeCore(); // rebuilt after a trap: fetched ids may name other keys now
    await check('f0.3.0');
    await check('f1.1.0');
    await check('i0.0');
    assert.deepEqual(asked.splice(0), ['f0.3.0', 'f1.1.0'], 'fetched imports dropped, configured kept');
  });
});
