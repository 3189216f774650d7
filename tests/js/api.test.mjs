// The npm API (pkg/index.js) in Node, driven by the JWT test vectors with a
// fixed clock. Missing vectors or an unbuilt pkg/ fail the run; nothing is skipped.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT,
  assertTokenResponseHeaders,
  basicAuth,
  endpointPaths,
  fromB64urlJson,
  importPkg,
  loadConfig,
  loadInvalidConfigs,
  loadReplayScenarios,
  loadVectors,
  signJwt,
  vectorExchangeParams,
  vectorMismatch,
  vectorRequest,
  verifyAccessToken,
  mintDemoAssertion,
} from './helpers.mjs';

let pkg;
let config;
let now;
let vectors;
let paths;
let signingKey;

before(async () => {
  pkg = await importPkg();
  config = loadConfig();
  ({ now, vectors } = loadVectors());
  paths = endpointPaths(config);
  signingKey = pkg.generateSigningKey('test-signing-1');
});

function endpoint(options = {}, clock = now) {
  return new pkg.TokenEndpoint(config, { signingKeys: signingKey, now: () => clock, ...options });
}

const url = (path) => new URL(path, config.issuer).href;
const JWT_BEARER_URN = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

const successVector = () => {
  const v = vectors.find((x) => x.expect.status === 200 && x.client?.basic);
  assert.ok(v, 'vectors.json has no successful vector with a basic client');
  return v;
};

describe('JWT vectors through TokenEndpoint.handle()', () => {
  test('every vector gives the expected status, error, sub, scope and claims', async (t) => {
    // One store for all: every jti in vectors.json is unique.
    const store = new pkg.MemoryReplayStore({ now: () => now });
    for (const vector of vectors) {
      await t.test(vector.name, async () => {
        const clock = vector.now ?? now;
        const ep = endpoint({ replayStore: store }, clock);
        const response = await ep.handle(vectorRequest(vector, paths.tokenEndpoint));
        const body = await response.json();
        const context = `${vector.name}: ${JSON.stringify(body)}`;
        assert.equal(response.status, vector.expect.status, context);
        assertTokenResponseHeaders(response, vector.name);
        if (vector.expect.status === 200) {
          assert.equal(body.token_type, 'Bearer', context);
          assert.equal(typeof body.expires_in, 'number', context);
          assert.equal(typeof body.access_token, 'string', context);
          const { claims } = await verifyAccessToken(body.access_token, ep.jwks());
          assert.equal(claims.iss, config.issuer, context);
          assert.equal(claims.iat, clock, context);
          if (vector.expect.sub !== undefined) assert.equal(claims.sub, vector.expect.sub, context);
          if (vector.expect.scope !== undefined) {
            assert.equal(claims.scope ?? null, vector.expect.scope, `${context} (token scope claim)`);
            if (body.scope !== undefined) assert.equal(body.scope, vector.expect.scope, `${context} (response scope)`);
          }
          for (const [name, value] of Object.entries(vector.expect.claims ?? {})) {
            assert.deepEqual(claims[name], value, `${context} (claim ${name})`);
          }
        } else {
          assert.equal(vectorMismatch(vector.expect, { status: response.status, body }), undefined, context);
          if (response.status === 401 && vector.client?.basic) {
            assert.match(response.headers.get('www-authenticate') ?? '', /^Basic\b/i, `${context} WWW-Authenticate`);
          }
        }
      });
    }
  });

  test('the vectors cover every assertion/client error code', () => {
    const seen = new Set(vectors.map((v) => v.expect.error ?? 'ok'));
    for (const code of ['ok', 'invalid_request', 'invalid_client', 'invalid_grant', 'invalid_scope', 'unauthorized_client']) {
      assert.ok(seen.has(code), `no vector expects ${code}`);
    }
  });

  test('replay.json scenarios, each against one store: a reused jti fails', async (t) => {
    for (const scenario of loadReplayScenarios()) {
      await t.test(scenario.name, async () => {
        const ep = endpoint({}, scenario.now ?? now);
        for (const [i, request] of scenario.requests.entries()) {
          const response = await ep.handle(vectorRequest(request, paths.tokenEndpoint));
          const body = await response.json();
          const context = `${scenario.name} request ${i}: ${JSON.stringify(body)}`;
          assert.equal(vectorMismatch(request.expect, { status: response.status, body }), undefined, context);
          assertTokenResponseHeaders(response, context);
          if (request.expect.sub !== undefined) {
            const { claims } = await verifyAccessToken(body.access_token, ep.jwks());
            assert.equal(claims.sub, request.expect.sub, context);
          }
        }
      });
    }
  });
});

describe('token responses', () => {
  test('invalid_client over Basic is 401 with WWW-Authenticate', async () => {
    const v = successVector();
    const request = vectorRequest({ ...v, client: { basic: [v.client.basic[0], `${v.client.basic[1]}-wrong`] } }, paths.tokenEndpoint);
    const response = await endpoint().handle(request);
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Basic\b/i);
    assertTokenResponseHeaders(response);
    assert.equal((await response.json()).error, 'invalid_client');
  });

  test('access token: ES256, typ at+jwt, kid of the published key, RFC 9068 claims', async () => {
    const v = successVector();
    const ep = endpoint();
    const response = await ep.handle(vectorRequest(v, paths.tokenEndpoint));
    assert.equal(response.status, 200);
    const body = await response.json();
    const { header, claims } = await verifyAccessToken(body.access_token, ep.jwks());
    assert.equal(header.kid, 'test-signing-1');
    assert.equal(claims.iss, config.issuer);
    assert.equal(claims.aud, config.access_token.audience);
    assert.equal(claims.exp - claims.iat, body.expires_in);
    assert.equal(typeof claims.jti, 'string');
    assert.equal(claims.client_id, v.client.basic[0]);
  });

  test('a replayed assertion is invalid_grant the second time', async () => {
    const ep = endpoint();
    const request = () => vectorRequest(successVector(), paths.tokenEndpoint);
    assert.equal((await ep.handle(request())).status, 200);
    const second = await ep.handle(request());
    assert.equal(second.status, 400);
    assertTokenResponseHeaders(second);
    assert.equal((await second.json()).error, 'invalid_grant');
  });

  test('an unknown grant_type is unsupported_grant_type', async () => {
    const response = await endpoint().handle(
      vectorRequest({ ...successVector(), grant_type: 'urn:example:not-a-grant' }, paths.tokenEndpoint),
    );
    assert.equal(response.status, 400);
    assertTokenResponseHeaders(response);
    assert.equal((await response.json()).error, 'unsupported_grant_type');
  });

  test('a replay store that throws gives 503 temporarily_unavailable and no token', async () => {
    const v = successVector();
    for (const store of [
      { claim() { throw new Error('redis down'); } },
      { claim: async () => { throw new Error('redis down'); } },
    ]) {
      const response = await endpoint({ replayStore: store }).handle(vectorRequest(v, paths.tokenEndpoint));
      assert.equal(response.status, 503);
      assertTokenResponseHeaders(response);
      const body = await response.json();
      assert.equal(body.error, 'temporarily_unavailable');
      assert.equal(body.access_token, undefined);
    }
  });

  test('a replay store that refuses the claim gives invalid_grant', async () => {
    const v = successVector();
    const claimed = [];
    const store = { claim: async (key, expiresAt) => { claimed.push([key, expiresAt]); return false; } };
    const response = await endpoint({ replayStore: store }).handle(vectorRequest(v, paths.tokenEndpoint));
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error, 'invalid_grant');
    assert.ok(claimed.length >= 1);
    for (const [key, expiresAt] of claimed) {
      assert.match(key, /^[0-9a-f]{64}$/);
      assert.ok(expiresAt > now, 'replay keys must be kept until after now');
    }
  });

  test('a body over 64 KiB is refused with 413 invalid_request', async () => {
    const response = await endpoint().handle(
      new Request(paths.tokenEndpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `grant_type=x&assertion=${'a'.repeat(70 * 1024)}`,
      }),
    );
    assert.equal(response.status, 413);
    assertTokenResponseHeaders(response);
    assert.equal((await response.json()).error, 'invalid_request');
  });
});

describe('routing', () => {
  test('other methods on the token path: 405 with Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await endpoint().handle(new Request(url(paths.token), { method }));
      assert.equal(response.status, 405, method);
      assert.match(response.headers.get('allow') ?? '', /\bPOST\b/);
      assert.equal(response.headers.get('cache-control'), 'no-store');
    }
  });

  test('unknown paths: 404 JSON', async () => {
    const response = await endpoint().handle(new Request(url('/nope')));
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    assert.equal(typeof (await response.json()).error, 'string');
  });

  test('every error response a host sends is the core\'s: unknown path, document method, server error', async () => {
    const observe = async (r) => ({ status: r.status, headers: [...r.headers], body: await r.text() });
    const ep = endpoint();
    assert.deepEqual(await observe(await ep.handle(new Request(url('/nope')))), await observe(pkg.errorResponse('not_found')));
    assert.deepEqual(
      await observe(await ep.handle(new Request(url(paths.metadata), { method: 'POST' }))),
      await observe(pkg.errorResponse('document_method_not_allowed')),
    );
    const notFound = await pkg.errorResponse('not_found').json();
    assert.deepEqual(notFound, { error: 'not_found', error_description: 'no such endpoint' });
    const document405 = pkg.errorResponse('document_method_not_allowed');
    assert.equal(document405.status, 405);
    assert.equal(document405.headers.get('allow'), 'GET, HEAD');
    assert.equal(document405.headers.get('cache-control'), 'no-store');
    // An unknown kind is the core's server_error, never an exception (nor a
    // property every object has).
    for (const kind of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const r = pkg.errorResponse(kind);
      assert.equal(r.status, 500, kind);
      assert.equal((await r.json()).error, 'server_error', kind);
    }
    // A malformed header never turns the token path's 405 into anything else.
    for (const headers of [{ 'content-type': 'a, b' }, { authorization: 'Basic a, Basic b' }]) {
      const r = await ep.handle(new Request(url(paths.token), { method: 'GET', headers }));
      assert.equal(r.status, 405, JSON.stringify(headers));
      assert.equal(r.headers.get('allow'), 'POST');
    }
    const unknown = pkg.errorResponse('no-such-kind');
    assert.equal(unknown.status, 500);
    assert.deepEqual(await unknown.json(), {
      error: 'server_error',
      error_description: 'the server could not complete the request',
    });
  });

  test('metadata document (RFC 8414)', async () => {
    const ep = endpoint();
    const response = await ep.handle(new Request(url(paths.metadata)));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
    assert.match(response.headers.get('content-type'), /^application\/json/);
    const metadata = await response.json();
    assert.deepEqual(metadata, ep.metadata());
    assert.equal(metadata.issuer, config.issuer);
    assert.equal(metadata.token_endpoint, paths.tokenEndpoint);
    assert.equal(metadata.jwks_uri, paths.jwksUri);
    assert.ok(metadata.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:jwt-bearer'));
    assert.ok(Array.isArray(metadata.token_endpoint_auth_methods_supported));

    const head = await ep.handle(new Request(url(paths.metadata), { method: 'HEAD' }));
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('JWKS document publishes the public signing key only', async () => {
    const ep = endpoint();
    const response = await ep.handle(new Request(url(paths.jwks)));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=300');
    const jwks = await response.json();
    assert.deepEqual(jwks, ep.jwks());
    const secret = JSON.parse(signingKey);
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    assert.deepEqual(
      { kty: key.kty, crv: key.crv, x: key.x, y: key.y, kid: key.kid },
      { kty: 'EC', crv: 'P-256', x: secret.x, y: secret.y, kid: secret.kid },
    );
    assert.equal(key.d, undefined);
    assert.equal(ep.ephemeralKey, false);
  });

  test('a key set: the first key signs, all are published', async () => {
    const next = JSON.parse(pkg.generateSigningKey('next'));
    const old = JSON.parse(pkg.generateSigningKey('old'));
    const ep = endpoint({ signingKeys: { keys: [next, old] } });
    assert.deepEqual(ep.jwks().keys.map((k) => k.kid), ['next', 'old']);
    const body = await ep.exchange(vectorExchangeParams(successVector()));
    const { header } = await verifyAccessToken(body.access_token, ep.jwks());
    assert.equal(header.kid, 'next');
  });

  test('without signingKeys an ephemeral key is generated', () => {
    const ep = new pkg.TokenEndpoint(config, { now: () => now });
    assert.equal(ep.ephemeralKey, true);
    assert.equal(ep.jwks().keys.length, 1);
  });
});

describe('exchange()', () => {
  test('resolves with the token response', async () => {
    const v = successVector();
    const ep = endpoint();
    const result = await ep.exchange(vectorExchangeParams(v));
    assert.equal(result.token_type, 'Bearer');
    const { claims } = await verifyAccessToken(result.access_token, ep.jwks());
    if (v.expect.sub !== undefined) assert.equal(claims.sub, v.expect.sub);
  });

  test('runs every vector, resolving or rejecting with its OAuthError code', async () => {
    for (const v of vectors) {
      // exchange() cannot express malformed requests (duplicate params, odd headers).
      if (v.raw !== undefined || v.headers !== undefined) continue;
      const ep = endpoint();
      if (v.expect.status === 200) {
        const result = await ep.exchange(vectorExchangeParams(v));
        assert.equal(typeof result.access_token, 'string', v.name);
      } else {
        await assert.rejects(ep.exchange(vectorExchangeParams(v)), (err) => {
          assert.ok(err instanceof pkg.OAuthError, `${v.name}: ${err}`);
          assert.equal(err.code, v.expect.error, v.name);
          assert.equal(err.status, v.expect.status, v.name);
          return true;
        });
      }
    }
  });

  test('rejects with invalid_client (401) on a wrong secret, by Basic and by post', async () => {
    const v = successVector();
    for (const clientAuth of ['basic', 'post']) {
      const params = { ...vectorExchangeParams(v), clientSecret: 'wrong', clientAuth };
      await assert.rejects(endpoint().exchange(params), (err) => {
        assert.ok(err instanceof pkg.OAuthError);
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'OAuthError');
        assert.equal(err.code, 'invalid_client');
        assert.equal(err.status, 401);
        return true;
      });
    }
  });

  test('rejects with unsupported_grant_type for an unknown grant type', async () => {
    const params = { ...vectorExchangeParams(successVector()), grantType: 'urn:example:not-a-grant' };
    await assert.rejects(endpoint().exchange(params), { name: 'OAuthError', code: 'unsupported_grant_type', status: 400 });
  });

  test('rejects with invalid_grant when the assertion is reused', async () => {
    const ep = endpoint();
    const params = vectorExchangeParams(successVector());
    await ep.exchange(params);
    await assert.rejects(ep.exchange(params), { code: 'invalid_grant', status: 400 });
  });
});

describe('configuration', () => {
  test('every config_invalid/ file is a ConfigError at its path', async (t) => {
    for (const entry of loadInvalidConfigs()) {
      // An off-curve EC point has no single wrong coordinate: the manifest
      // names `.x`, the core may name `.y`; the key's path must match.
      const prefix = entry.file === 'ec_off_curve.json' ? entry.path_prefix.replace(/\.[xy]$/, '') : entry.path_prefix;
      await t.test(entry.file, () => {
        assert.throws(
          () => new pkg.TokenEndpoint(entry.config, { signingKeys: signingKey }),
          (err) => {
            assert.ok(err instanceof pkg.ConfigError, `${entry.file}: ${err}`);
            assert.equal(err.code, 'invalid_config');
            assert.ok(err.message.startsWith(prefix), `${entry.file}: message ${JSON.stringify(err.message)} does not start with ${prefix}`);
            assert.ok(err.path.startsWith(prefix), `${entry.file}: path ${JSON.stringify(err.path)}`);
            return true;
          },
        );
      });
    }
  });

  test('a broken configuration throws ConfigError with the field path', () => {
    const broken = structuredClone(config);
    broken.clients[0].token_endpoint_auth_method = 'carrier_pigeon';
    assert.throws(
      () => new pkg.TokenEndpoint(broken, { signingKeys: signingKey }),
      (err) => {
        assert.ok(err instanceof pkg.ConfigError, String(err));
        assert.equal(err.name, 'ConfigError');
        assert.equal(err.code, 'invalid_config');
        assert.match(err.path, /^clients(\[0\]|\.0)\.token_endpoint_auth_method$/);
        assert.ok(err.message.startsWith(`${err.path}: `), err.message);
        return true;
      },
    );
  });

  test('a bad issuer is reported at path "issuer"', () => {
    assert.throws(() => new pkg.TokenEndpoint({ ...config, issuer: 'ftp://as.example.com' }), {
      name: 'ConfigError',
      code: 'invalid_config',
      path: 'issuer',
    });
  });

  test('a config that is not JSON is a ConfigError', () => {
    assert.throws(() => new pkg.TokenEndpoint('{not json'), { name: 'ConfigError', code: 'invalid_config' });
  });

  test('a bad signing key is a ConfigError that does not echo the key', () => {
    const key = JSON.parse(pkg.generateSigningKey('k'));
    const bad = { ...key, crv: 'P-384' };
    assert.throws(
      () => new pkg.TokenEndpoint(config, { signingKeys: bad }),
      (err) => {
        assert.ok(err instanceof pkg.ConfigError, String(err));
        assert.ok(!err.message.includes(key.d), 'the error message contains the private key');
        return true;
      },
    );
  });
});

describe('helpers', () => {
  test('hashClientSecret is lowercase hex SHA-256', () => {
    assert.equal(pkg.hashClientSecret('demo-secret'), 'cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf');
  });

  test('generateSigningKey gives a private P-256 JWK with the kid asked for', () => {
    const key = JSON.parse(pkg.generateSigningKey('rotation-2025'));
    assert.equal(key.kty, 'EC');
    assert.equal(key.crv, 'P-256');
    assert.equal(key.kid, 'rotation-2025');
    for (const member of ['x', 'y', 'd']) assert.equal(Buffer.from(key[member], 'base64url').length, 32, member);
    const generated = JSON.parse(pkg.generateSigningKey());
    assert.equal(typeof generated.kid, 'string');
    assert.notEqual(generated.d, key.d);
  });

  test('ready() is idempotent', async () => {
    await Promise.all([pkg.ready(), pkg.ready()]);
  });

  test('demo configuration: the demo IdP key gets a token for demo-client', async () => {
    const demo = JSON.parse(pkg.demoConfig());
    assert.equal(demo.issuer, 'http://127.0.0.1:8787');
    const assertion = await mintDemoAssertion();
    const ep = new pkg.TokenEndpoint(pkg.demoConfig());
    assert.equal(ep.ephemeralKey, true);
    const result = await ep.exchange({ assertion, clientId: 'demo-client', clientSecret: 'demo-secret', scope: 'read' });
    const { claims } = await verifyAccessToken(result.access_token, ep.jwks());
    assert.equal(claims.sub, 'demo-idp|demo-user@example.com');
    assert.equal(claims.email, 'demo-user@example.com');
    assert.deepEqual(claims.groups, ['readers']);
    assert.equal(claims.scope, 'read');
    assert.equal(fromB64urlJson(result.access_token.split('.')[0]).typ, 'at+jwt');
  });

  test('Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1)', () => {
    assert.equal(basicAuth('a b', 'c:d'), `Basic ${Buffer.from('a+b:c%3Ad').toString('base64')}`);
  });
});

describe('MemoryReplayStore', () => {
  test('a key is held until it expires, by the injected clock', () => {
    let t = 1000;
    const store = new pkg.MemoryReplayStore({ now: () => t });
    assert.equal(store.claim('k', 1060), true);
    assert.equal(store.claim('k', 1060), false);
    t = 1059;
    assert.equal(store.claim('k', 1100), false);
    t = 1060;
    assert.equal(store.claim('k', 1200), true, 'expired keys can be claimed again');
    assert.equal(store.claim('k', 1200), false);
    assert.equal(store.claim('other', 1200), true);
  });

  test('expired entries are swept periodically', () => {
    let t = 0;
    const store = new pkg.MemoryReplayStore({ now: () => t, sweepIntervalSecs: 10 });
    for (let i = 0; i < 5; i++) store.claim(`k${i}`, 5);
    assert.equal(store.size, 5);
    t = 6;
    store.claim('x', 100); // within the sweep interval: nothing swept yet
    assert.equal(store.size, 6);
    t = 11;
    store.claim('y', 100);
    assert.equal(store.size, 2);
    t = 200;
    store.sweep();
    assert.equal(store.size, 0);
  });

  test('when full of unexpired entries it refuses (throws) instead of evicting', () => {
    let t = 0;
    const store = new pkg.MemoryReplayStore({ now: () => t, maxEntries: 2 });
    assert.equal(store.claim('a', 10), true);
    assert.equal(store.claim('b', 20), true);
    assert.throws(() => store.claim('c', 30), /full/);
    assert.equal(store.claim('a', 10), false, 'held keys stay held');
    t = 10;
    assert.equal(store.claim('c', 30), true, 'room once an entry expired');
  });

  test('rejects bad arguments', () => {
    const store = new pkg.MemoryReplayStore();
    assert.throws(() => store.claim('', 1), TypeError);
    assert.throws(() => store.claim('k', Number.NaN), TypeError);
    assert.throws(() => new pkg.MemoryReplayStore({ maxEntries: 0 }), RangeError);
  });

  test('as the endpoint store: a full store answers 503, never a token', async () => {
    let t = now;
    const store = new pkg.MemoryReplayStore({ now: () => t, maxEntries: 1 });
    store.claim('occupied', now + 3600);
    const response = await endpoint({ replayStore: store }).handle(vectorRequest(successVector(), paths.tokenEndpoint));
    assert.equal(response.status, 503);
    assert.equal((await response.json()).access_token, undefined);
  });
});

describe('host-layer review findings (issue #11)', () => {
  const byName = (name) => {
    const v = vectors.find((x) => x.name === name);
    assert.ok(v, `vectors.json has no ${name}`);
    return v;
  };

  test('a replay-store failure answers 503 with Retry-After and reaches onError', async () => {
    for (const store of [
      { claim() { throw new Error('redis down'); } },
      { claim: async () => { throw new Error('redis down'); } },
    ]) {
      const seen = [];
      const response = await endpoint({ replayStore: store, onError: (err) => seen.push(err) }).handle(
        vectorRequest(successVector(), paths.tokenEndpoint),
      );
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '1');
      assertTokenResponseHeaders(response);
      assert.equal((await response.json()).error, 'temporarily_unavailable');
      assert.equal(seen.length, 1);
      assert.match(String(seen[0]?.message), /redis down/);
    }
  });

  test('MemoryReplayStore fails closed when its clock is not a finite number', async () => {
    for (const bad of [Number.NaN, Infinity, undefined, '1800000000']) {
      const store = new pkg.MemoryReplayStore({ now: () => bad });
      assert.throws(() => store.claim('k', now + 60), TypeError, String(bad));
      assert.throws(() => store.claim('k', now + 60), TypeError, 'a replay is never accepted either');
      assert.throws(() => store.has('k'), TypeError);
      const response = await endpoint({ replayStore: store }).handle(vectorRequest(successVector(), paths.tokenEndpoint));
      assert.equal(response.status, 503, String(bad));
      assert.equal((await response.json()).access_token, undefined);
    }
  });

  test('the grant is claimed before the client assertion: a spent grant leaves no entry', async () => {
    const store = new pkg.MemoryReplayStore({ now: () => now });
    const claims = [];
    const spy = { claim: (key, expiresAt, partition) => { claims.push({ key, partition }); return store.claim(key, expiresAt, partition); } };
    const ep = endpoint({ replayStore: spy });
    const first = byName('valid-private-key-jwt-client');
    const fresh = byName('valid-client-assertion-aud-array-issuer');
    assert.equal((await ep.handle(vectorRequest(first, paths.tokenEndpoint))).status, 200);
    assert.equal(store.size, 2);
    assert.equal(claims[0].partition, claims[1].partition, 'both charged to the client');
    assert.match(claims[0].partition, /^[0-9a-f]{16}$/);
    // The spent grant with a fresh client assertion: refused at the grant's key.
    const replay = await ep.handle(vectorRequest({ ...first, client: fresh.client }, paths.tokenEndpoint));
    assert.equal(replay.status, 400);
    assert.equal((await replay.json()).error, 'invalid_grant');
    assert.equal(store.size, 2, 'no entry for the fresh client assertion');
    // …which therefore still works with its own grant.
    assert.equal((await ep.handle(vectorRequest(fresh, paths.tokenEndpoint))).status, 200);
  });

  test('MemoryReplayStore bounds each partition: one client filling it does not lock out the others', async () => {
    const store = new pkg.MemoryReplayStore({ now: () => now, maxEntriesPerPartition: 2 });
    const ep = endpoint({ replayStore: store });
    assert.equal((await ep.handle(vectorRequest(byName('valid-private-key-jwt-client'), paths.tokenEndpoint))).status, 200);
    const full = await ep.handle(vectorRequest(byName('valid-client-assertion-aud-array-issuer'), paths.tokenEndpoint));
    assert.equal(full.status, 503);
    assert.equal((await full.json()).error, 'temporarily_unavailable');
    assert.equal((await ep.handle(vectorRequest(successVector(), paths.tokenEndpoint))).status, 200, 'another client');
    assert.throws(() => new pkg.MemoryReplayStore({ maxEntriesPerPartition: 0 }), RangeError);
  });

  test('the body is read through the bounded reader even when Content-Length understates it', async () => {
    let pulled = 0;
    const body = new ReadableStream({
      pull(controller) {
        pulled += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024).fill(0x61));
        if (pulled > 4 * 1024 * 1024) controller.close();
      },
    });
    // A hand-made request (a constructed Request may carry any header).
    const request = {
      url: paths.tokenEndpoint,
      method: 'POST',
      headers: new Headers({ 'content-type': 'application/x-www-form-urlencoded', 'content-length': '10' }),
      body,
    };
    const response = await endpoint().handle(request);
    assert.equal(response.status, 413);
    assertTokenResponseHeaders(response);
    assert.equal((await response.json()).error, 'invalid_request');
    assert.ok(pulled <= 64 * 1024 + 3 * 16 * 1024, `read ${pulled} bytes past a 64 KiB limit`);
  });

  test('repeated Authorization or Content-Type headers reach the core and are refused', async () => {
    const v = successVector();
    const form = new URLSearchParams({ grant_type: JWT_BEARER_URN, assertion: v.assertion }).toString();
    for (const headers of [
      [['content-type', 'application/x-www-form-urlencoded'], ['authorization', basicAuth(...v.client.basic)], ['authorization', basicAuth(...v.client.basic)]],
      [['content-type', 'application/x-www-form-urlencoded'], ['content-type', 'application/x-www-form-urlencoded'], ['authorization', basicAuth(...v.client.basic)]],
      // A quote in one field must not hide the comma that joined two.
      [['content-type', 'application/x-www-form-urlencoded; a="'], ['content-type', 'application/json"'], ['authorization', basicAuth(...v.client.basic)]],
    ]) {
      const response = await endpoint().handle(new Request(paths.tokenEndpoint, { method: 'POST', headers, body: form }));
      assert.equal(response.status, 400);
      const body = await response.json();
      assert.equal(body.error, 'invalid_request');
      assert.match(body.error_description, /more than once/);
    }
    // explain() applies the same rule.
    const report = await endpoint().explain(
      new Request(paths.tokenEndpoint, {
        method: 'POST',
        headers: [['content-type', 'application/x-www-form-urlencoded'], ['authorization', 'Basic a'], ['authorization', 'Basic b']],
        body: form,
      }),
    );
    assert.equal(report.error.error, 'invalid_request');
  });

  test('after a wasm trap the instance is replaced, and the endpoint keeps issuing correct tokens', async () => {
    const core = await import(new URL('../../pkg/assertion_grant.js', import.meta.url).href);
    const seen = [];
    const ep = endpoint({ onError: (err) => seen.push(err), replayStore: new pkg.MemoryReplayStore({ now: () => now }) });
    const before = await ep.handle(vectorRequest(byName('valid-es256'), paths.tokenEndpoint));
    assert.equal(before.status, 200);
    const original = core.Core.prototype.begin;
    core.Core.prototype.begin = function trapping() {
      core.__trapForTests();
    };
    let trapped;
    try {
      trapped = await ep.handle(vectorRequest(successVector(), paths.tokenEndpoint));
    } finally {
      core.Core.prototype.begin = original;
    }
    assert.equal(trapped.status, 500);
    // The core's own 500, read before the trap: a trapped instance is never asked.
    assert.deepEqual(await trapped.json(), { error: 'server_error', error_description: 'the server could not complete the request' });
    assert.equal(seen.length, 1);
    assert.ok(seen[0] instanceof WebAssembly.RuntimeError, String(seen[0]));
    // The next requests run on a fresh instance, with a core rebuilt from the
    // same configuration and signing key.
    const after = await ep.handle(vectorRequest(successVector(), paths.tokenEndpoint));
    assert.equal(after.status, 200, JSON.stringify(await after.clone().json()));
    const { access_token: token } = await after.json();
    const { claims } = await verifyAccessToken(token, ep.jwks());
    assert.equal(claims.iss, config.issuer);
    // Another endpoint built before the trap also recovers.
    const other = endpoint();
    assert.equal((await other.handle(vectorRequest(byName('valid-rs256'), paths.tokenEndpoint))).status, 200);
  });

  test('a request in flight across a trap never touches the new instance with an old object', async () => {
    const core = await import(new URL('../../pkg/assertion_grant.js', import.meta.url).href);
    // Record the instance of every wasm object freed.
    const freed = [];
    const originals = new Map();
    for (const type of [core.Exchange, core.Prepared, core.UnsignedToken]) {
      const free = type.prototype.free;
      originals.set(type, free);
      type.prototype.free = function recordingFree() {
        freed.push(this.__wbg_inst);
        return free.call(this);
      };
    }
    const begin = core.Core.prototype.begin;
    let oldInstance;
    core.Core.prototype.begin = function recordingBegin(...args) {
      const exchange = begin.apply(this, args);
      oldInstance ??= exchange.__wbg_inst;
      return exchange;
    };
    try {
      // A: a slow replay store holds the request between prepare and issue.
      let reached;
      const atClaim = new Promise((resolve) => { reached = resolve; });
      let release;
      const gate = new Promise((resolve) => { release = resolve; });
      const errors = [];
      const a = endpoint({
        replayStore: { claim: async () => { reached(); await gate; return true; } },
        onError: (err) => errors.push(err),
      });
      const inFlight = a.handle(vectorRequest(successVector(), paths.tokenEndpoint));
      await atClaim;
      assert.ok(oldInstance !== undefined);
      // B traps meanwhile: the instance is replaced.
      core.Core.prototype.begin = function trapping() {
        core.__trapForTests();
      };
      const b = endpoint({ onError: () => {} });
      assert.equal((await b.handle(vectorRequest(successVector(), paths.tokenEndpoint))).status, 500);
      core.Core.prototype.begin = begin;
      freed.length = 0;
      release();
      const response = await inFlight;
      assert.equal(response.status, 500);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.name, 'InstanceReplaced');
      assert.ok(!freed.includes(oldInstance), 'an object of the old instance was freed into the new one');
      // The new instance is sound: more tokens, each verifying.
      const c = endpoint();
      for (const name of ['valid-es256', 'valid-rs256', 'valid-private-key-jwt-client']) {
        const r = await c.handle(vectorRequest(byName(name), paths.tokenEndpoint));
        assert.equal(r.status, 200, name);
        await verifyAccessToken((await r.json()).access_token, c.jwks());
      }
    } finally {
      core.Core.prototype.begin = begin;
      for (const [type, free] of originals) type.prototype.free = free;
    }
  });
});

describe('review of the seam (WebCrypto host)', () => {
  test('a trap while a wasm object is borrowed still retires the instance', async () => {
    const core = await import(new URL('../../pkg/assertion_grant.js', import.meta.url).href);
    const seen = [];
    const ep = endpoint({ onError: (err) => seen.push(err), replayStore: new pkg.MemoryReplayStore({ now: () => now }) });
    const resume = core.Core.prototype.resume;
    const free = core.Exchange.prototype.free;
    // What wasm-bindgen does when the instance trapped inside a method that
    // had the exchange borrowed: the trap, then free() throwing its own error.
    core.Core.prototype.resume = function trapping() {
      core.__trapForTests();
    };
    core.Exchange.prototype.free = function borrowed() {
      throw new Error('attempted to take ownership of Rust value while it was borrowed');
    };
    let trapped;
    try {
      trapped = await ep.handle(vectorRequest(successVector(), paths.tokenEndpoint));
    } finally {
      core.Core.prototype.resume = resume;
      core.Exchange.prototype.free = free;
    }
    assert.equal(trapped.status, 500);
    assert.equal(seen.length, 1);
    assert.ok(seen[0] instanceof WebAssembly.RuntimeError, `${seen[0]}`);
    const after = await ep.handle(vectorRequest(successVector(), paths.tokenEndpoint));
    assert.equal(after.status, 200);
  });

  test('mintTestAssertion in flight across a trap frees nothing into the new instance', async () => {
    const core = await import(new URL('../../pkg/assertion_grant.js', import.meta.url).href);
    const key = JSON.parse(await pkg.createSigningKey('idp-trap'));
    const freed = [];
    const free = core.UnsignedTestAssertion.prototype.free;
    core.UnsignedTestAssertion.prototype.free = function recordingFree() {
      freed.push(this.__wbg_inst);
      return free.call(this);
    };
    try {
      const spec = { format: 'jwt', issuer: 'https://t', subject: 's', audience: 'https://a', now, lifetime_secs: 60 };
      const inFlight = pkg.mintTestAssertion(spec, key);
      // Another call traps while the mint awaits WebCrypto.
      const begin = core.Core.prototype.begin;
      core.Core.prototype.begin = function trapping() {
        core.__trapForTests();
      };
      try {
        assert.equal((await endpoint({ onError: () => {} }).handle(vectorRequest(successVector(), paths.tokenEndpoint))).status, 500);
      } finally {
        core.Core.prototype.begin = begin;
      }
      await assert.rejects(inFlight, (err) => err?.name === 'InstanceReplaced');
      assert.deepEqual(freed, [], 'an old UnsignedTestAssertion was freed into the new instance');
      // And minting works on the new instance.
      assert.equal((await pkg.mintTestAssertion(spec, key)).split('.').length, 3);
    } finally {
      core.UnsignedTestAssertion.prototype.free = free;
    }
  });

  test('a signing key WebCrypto refuses fails before any replay key is spent', async () => {
    const good = JSON.parse(pkg.generateSigningKey('good'));
    const other = JSON.parse(pkg.generateSigningKey('other'));
    const claimed = [];
    const ep = endpoint({
      signingKeys: { ...good, d: other.d },
      replayStore: { claim: (key) => claimed.push(key) > 0 },
      onError: () => {},
    });
    const response = await ep.handle(vectorRequest(successVector(), paths.tokenEndpoint));
    assert.equal(response.status, 500);
    assert.deepEqual(claimed, []);
  });

  test('signing keys: only public members reach the core; malformed input is a ConfigError', () => {
    for (const [keys, path] of [
      ['not json', 'signing_key'],
      [{ keys: 'x' }, 'signing_key.keys'],
      [{ keys: [] }, 'signing_key.keys'],
      [{ keys: [null] }, 'signing_key.keys[0]'],
      [JSON.parse(pkg.generateSigningKey('no-d')), undefined],
    ]) {
      const jwk = typeof keys === 'object' && keys !== null && 'd' in keys ? (({ d: _d, ...rest }) => rest)(keys) : keys;
      assert.throws(() => endpoint({ signingKeys: jwk }), (err) => err instanceof pkg.ConfigError && (path === undefined || err.path === path), JSON.stringify(keys));
    }
    // An RSA private JWK: refused by the core by its kty, never by a private member it saw.
    const rsa = { kty: 'RSA', n: 'AQAB', e: 'AQAB', d: 'AQAB', p: 'AQAB', q: 'AQAB', dp: 'AQAB', dq: 'AQAB', qi: 'AQAB' };
    assert.throws(() => endpoint({ signingKeys: rsa }), (err) => err instanceof pkg.ConfigError && err.path === 'signing_key.kty');
  });

  test('verifySignature holds WebCrypto to the core key rules (a 1024-bit RSA key verifies nothing)', async () => {
    const pair = await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
    const message = new TextEncoder().encode('m');
    const signature = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', pair.privateKey, message));
    const { kty, n, e } = await crypto.subtle.exportKey('jwk', pair.publicKey);
    const check = { alg: 'RS256', key: { kty, n, e }, message, signature };
    assert.equal(await pkg.verifySignature(check, { crypto: 'webcrypto' }), false);
    assert.equal(await pkg.verifySignature(check, { crypto: 'wasm' }), false);
    assert.equal(await pkg.verifySignature({ ...check, alg: 'constructor' }), false);
  });
});

describe('SAML 2.0 bearer (RFC 7522) through the npm API', () => {
  const SAML_DIR = join(ROOT, 'tests/vectors/saml');
  const SAML2_BEARER = 'urn:ietf:params:oauth:grant-type:saml2-bearer';

  test('every base64url-encoded SAML vector gets its expected answer via exchange()', async () => {
    const config = readFileSync(join(SAML_DIR, 'config.json'), 'utf8');
    const vectors = JSON.parse(readFileSync(join(SAML_DIR, 'vectors.json'), 'utf8'));
    const plain = vectors.filter((v) => (v.encoding ?? 'base64url') === 'base64url' && !v.xml_charset && (!v.client || v.client.basic));
    assert.ok(plain.length >= 100, `only ${plain.length} plain vectors`);
    const failures = [];
    for (const v of plain) {
      const ep = new pkg.TokenEndpoint(config, { now: () => v.now });
      const params = {
        grantType: SAML2_BEARER,
        assertion: Buffer.from(v.xml, 'utf8').toString('base64url'),
        clientId: v.client?.basic?.[0] ?? 'basic-client',
        clientSecret: v.client?.basic?.[1] ?? 'basic-secret',
        ...(v.scope ? { scope: v.scope } : {}),
      };
      try {
        const token = await ep.exchange(params);
        if (v.expect.status !== 200) failures.push(`${v.name}: got a token, expected ${v.expect.error}`);
        const claims = JSON.parse(Buffer.from(token.access_token.split('.')[1], 'base64url'));
        if (v.expect.status === 200 && claims.sub !== v.expect.sub) failures.push(`${v.name}: sub ${claims.sub}`);
      } catch (err) {
        if (!(err instanceof pkg.OAuthError)) throw err;
        if (v.expect.status === 200 || err.code !== v.expect.error) failures.push(`${v.name}: ${err.code} ${err.description}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('importSamlMetadata() turns IdP metadata into a trusted issuer that works', async () => {
    const xml = readFileSync(join(SAML_DIR, 'metadata/idp-metadata.xml'), 'utf8');
    const entry = pkg.importSamlMetadata(xml);
    assert.equal(entry.issuer, 'https://saml-idp.example.com');
    assert.equal(entry.format, 'saml2');
    assert.equal(entry.x509_certificates.length, 2);
    assert.throws(
      () => pkg.importSamlMetadata(readFileSync(join(SAML_DIR, 'metadata/no-signing-key.xml'), 'utf8')),
      (err) => err.code === 'invalid_metadata' && /no signing certificate/.test(err.message),
    );
    const config = JSON.parse(readFileSync(join(SAML_DIR, 'config.json'), 'utf8'));
    config.trusted_issuers = config.trusted_issuers.map((i) =>
      // The metadata's rollover certificate is other-saml-idp's own: one
      // key under two issuers needs the explicit opt-in.
      i.issuer === entry.issuer ? { ...entry, scope: i.scope, claims: i.claims, dangerous: { allow_shared_keys: true } } : i,
    );
    const v = JSON.parse(readFileSync(join(SAML_DIR, 'vectors.json'), 'utf8')).find(
      (c) =>
        c.expect.status === 200 &&
        c.client?.basic?.[0] === 'basic-client' &&
        (c.encoding ?? 'base64url') === 'base64url' &&
        c.xml.includes('https://saml-idp.example.com</saml:Issuer>'),
    );
    const ep = new pkg.TokenEndpoint(config, { now: () => v.now });
    const token = await ep.exchange({
      grantType: SAML2_BEARER,
      assertion: Buffer.from(v.xml, 'utf8').toString('base64url'),
      clientId: 'basic-client',
      clientSecret: 'basic-secret',
    });
    assert.equal(token.token_type, 'Bearer');
  });
});

describe('explain() and the test IdP', () => {
  test('explain reports every check, reads the replay store without claiming, and agrees with handle()', async () => {
    const store = new pkg.MemoryReplayStore({ now: () => now });
    const ep = endpoint({ replayStore: store });
    const v = successVector();
    const report = await ep.explain(vectorRequest(v, paths.tokenEndpoint), { now });
    assert.equal(report.would_issue, true, JSON.stringify(report));
    assert.ok(report.checks.every((c) => c.outcome !== 'fail' && c.spec && c.check));
    assert.ok(report.checks.some((c) => c.check === 'signature' && c.outcome === 'pass'));
    assert.equal(report.token_claims.sub, v.expect.sub);
    assert.equal(store.size, 0, 'explain never claims');
    const response = await ep.handle(vectorRequest(v, paths.tokenEndpoint));
    assert.equal(response.status, 200);
    const again = await ep.explain(vectorRequest(v, paths.tokenEndpoint), { now });
    assert.equal(again.would_issue, false);
    assert.equal(again.error.error, 'invalid_grant');
    assert.deepEqual(again.checks.at(-1).check, 'one-time use');
    assert.equal(again.checks.at(-1).outcome, 'fail');
  });

  test('the test IdP mints JWT and SAML assertions (signed by WebCrypto) that both backends accept', async () => {
    // A WebCrypto key (createSigningKey) and one from the core (generateSigningKey, no kid: the thumbprint).
    const { kid: _kid, ...keyWithoutKid } = JSON.parse(pkg.generateSigningKey());
    for (const key of [JSON.parse(await pkg.createSigningKey('test-idp')), keyWithoutKid]) {
      for (const format of ['jwt', 'saml2']) {
        for (const crypto of ['webcrypto', 'wasm']) {
          const config = loadConfig();
          const issuer = `https://test-idp.local/${format}`;
          config.trusted_issuers.push(pkg.testIdpTrustEntry(format, issuer, key));
          const ep = new pkg.TokenEndpoint(config, { now: () => now, crypto });
          const assertion = await pkg.mintTestAssertion(
            { format, issuer, subject: 'alice', audience: config.issuer, recipient: paths.tokenEndpoint, now, lifetime_secs: 300, attributes: { email: 'alice@example.com' } },
            key,
          );
          const token = await ep.exchange({
            grantType: `urn:ietf:params:oauth:grant-type:${format === 'jwt' ? 'jwt-bearer' : 'saml2-bearer'}`,
            assertion,
            clientId: 'basic-client',
            clientSecret: 'basic-secret',
          });
          assert.equal(token.token_type, 'Bearer', `${format} ${crypto}`);
        }
      }
    }
    // createSigningKey gives what generateSigningKey gives: a private P-256 JWK with its kid.
    const made = JSON.parse(await pkg.createSigningKey('k-1'));
    assert.deepEqual(Object.keys(made).sort(), ['alg', 'crv', 'd', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(made.kid, 'k-1');
  });
});
