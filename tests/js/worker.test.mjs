// The Cloudflare Worker (worker/index.js) in real workerd via Miniflare's Node
// API, with the replay Durable Object. The Worker uses the real clock, so the
// assertions are minted here, fresh, with the vector keys.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAML2_BEARER, SAML_IDP, samlIssuerEntry, signSamlAssertion } from './xmlsec.mjs';
import {
  JWT_BEARER,
  ROOT,
  assertTokenResponseHeaders,
  basicAuth,
  endpointPaths,
  fromB64urlJson,
  importPkg,
  loadConfig,
  loadPrivateKeys,
  requireFile,
  signJwt,
  verifyAccessToken,
  mintDemoAssertion,
} from './helpers.mjs';
import { createMiniflare, tokenWorker } from './miniflare.mjs';

const IDP_ISSUER = 'https://idp.example.com';
const IDP_KID = 'idp-ec-1';
const CLIENT = ['basic-client', 'basic-secret'];
// In config.json, allowed only the saml2-bearer grant.
const LIMITED_CLIENT = ['limited-client', 'limited-secret'];

function miniflare({ bindings, logs }) {
  return createMiniflare(
    tokenWorker({
      bindings,
      handleStructuredLogs: (entry) => {
        logs.push(entry);
      },
    }),
  );
}

async function json(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    assert.fail(`not JSON (HTTP ${response.status}): ${text.slice(0, 500)}`);
  }
}

describe('Worker with AG_CONFIG (tests/vectors/jwt/config.json)', () => {
  let mf;
  let config;
  let paths;
  let idpKey;
  let clientScope;
  const logs = [];

  before(async () => {
    requireFile(join(ROOT, 'pkg/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
    const pkg = await importPkg();
    config = loadConfig();
    config.trusted_issuers.push(samlIssuerEntry());
    // A client that authenticates with a SAML assertion about itself (RFC 7522 §2.2).
    config.clients.push({ client_id: 'saml-client', token_endpoint_auth_method: 'saml2_bearer', trusted_issuers: [SAML_IDP], scope: 'read' });
    paths = endpointPaths(config);
    idpKey = loadPrivateKeys().get(IDP_KID);
    assert.ok(idpKey, `no private key with kid ${IDP_KID} under tests/vectors/jwt/keys/`);

    const basic = config.clients.find((c) => c.client_id === CLIENT[0]);
    assert.ok(basic, `config.json has no client ${CLIENT[0]}`);
    const idp = config.trusted_issuers.find((i) => i.issuer === IDP_ISSUER);
    assert.ok(idp, `config.json does not trust ${IDP_ISSUER}`);
    const ceiling = idp.scope?.split(' ');
    clientScope = (basic.scope ?? '').split(' ').find((s) => s && (!ceiling || ceiling.includes(s)));

    mf = miniflare({
      logs,
      bindings: { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: pkg.generateSigningKey('worker-test-1') },
    });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
  });

  const at = (path) => new URL(path, config.issuer).href;

  function subject() {
    const idp = config.trusted_issuers.find((i) => i.issuer === IDP_ISSUER);
    return idp.subjects?.[0] ?? 'alice';
  }

  async function mint(overrides = {}) {
    const t = Math.floor(Date.now() / 1000);
    return signJwt(idpKey, {
      iss: IDP_ISSUER,
      sub: subject(),
      aud: paths.tokenEndpoint,
      iat: t,
      exp: t + 120,
      jti: crypto.randomUUID(),
      ...overrides,
    });
  }

  function post(fields, { auth = basicAuth(...CLIENT) } = {}) {
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (auth) headers.Authorization = auth;
    return mf.dispatchFetch(at(paths.token), { method: 'POST', headers, body: new URLSearchParams(fields).toString() });
  }

  function grant(assertion, extra = {}) {
    const fields = { grant_type: JWT_BEARER, assertion };
    if (clientScope) fields.scope = clientScope;
    Object.assign(fields, extra);
    for (const [k, v] of Object.entries(fields)) if (v === undefined) delete fields[k];
    return fields;
  }

  async function expectError(response, status, error) {
    const body = await json(response);
    assert.equal(response.status, status, JSON.stringify(body));
    assert.equal(body.error, error, JSON.stringify(body));
    assert.equal(body.access_token, undefined);
    assertTokenResponseHeaders(response, error);
    return body;
  }

  test('success: the token verifies against the Worker JWKS', async () => {
    const response = await post(grant(await mint()));
    const body = await json(response);
    assert.equal(response.status, 200, JSON.stringify(body));
    assertTokenResponseHeaders(response);
    const jwksResponse = await mf.dispatchFetch(at(paths.jwks));
    assert.equal(jwksResponse.status, 200);
    const { header, claims } = await verifyAccessToken(body.access_token, await json(jwksResponse));
    assert.equal(header.kid, 'worker-test-1');
    assert.equal(claims.iss, config.issuer);
    assert.equal(claims.sub, subject());
    assert.equal(claims.client_id, CLIENT[0]);
    assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 60, 'the Worker uses the real clock');
  });

  test('SAML: an xmlsec1-signed assertion gets a token once; the second use is invalid_grant', async () => {
    const assertion = signSamlAssertion({ audience: config.issuer, recipient: paths.tokenEndpoint });
    const fields = { grant_type: SAML2_BEARER, assertion, scope: 'read' };
    const first = await post(fields);
    const body = await json(first);
    assert.equal(first.status, 200, JSON.stringify(body));
    assertTokenResponseHeaders(first);
    const jwks = await json(await mf.dispatchFetch(at(paths.jwks)));
    const { claims } = await verifyAccessToken(body.access_token, jwks);
    assert.equal(claims.sub, 'alice@example.com');
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.client_id, CLIENT[0]);
    await expectError(await post(fields), 400, 'invalid_grant');
  });

  test('SAML: a tampered NameID fails the signature', async () => {
    const signed = Buffer.from(signSamlAssertion({ audience: config.issuer, recipient: paths.tokenEndpoint }), 'base64url')
      .toString('utf8')
      .replace('alice@example.com</saml:NameID>', 'mallory@example.com</saml:NameID>');
    const body = await expectError(
      await post({ grant_type: SAML2_BEARER, assertion: Buffer.from(signed).toString('base64url') }),
      400,
      'invalid_grant',
    );
    assert.match(body.error_description, /signature/);
  });

  test('invalid_request: no assertion', async () => {
    await expectError(await post({ grant_type: JWT_BEARER }), 400, 'invalid_request');
  });

  test('invalid_client: wrong secret, 401 with WWW-Authenticate', async () => {
    const response = await post(grant(await mint()), { auth: basicAuth(CLIENT[0], 'wrong-secret') });
    await expectError(response, 401, 'invalid_client');
    assert.match(response.headers.get('www-authenticate') ?? '', /^Basic\b/i);
  });

  test('invalid_grant: expired assertion', async () => {
    const t = Math.floor(Date.now() / 1000);
    await expectError(await post(grant(await mint({ iat: t - 1000, exp: t - 600 }))), 400, 'invalid_grant');
  });

  test('invalid_grant: wrong audience', async () => {
    await expectError(await post(grant(await mint({ aud: 'https://elsewhere.example/token' }))), 400, 'invalid_grant');
  });

  test('unsupported_grant_type', async () => {
    await expectError(await post(grant(await mint(), { grant_type: 'urn:example:not-a-grant' })), 400, 'unsupported_grant_type');
  });

  test('invalid_scope', async () => {
    await expectError(await post(grant(await mint(), { scope: 'no-such-scope-anywhere' })), 400, 'invalid_scope');
  });

  test('unauthorized_client: client not allowed the jwt-bearer grant', async () => {
    const response = await post(grant(await mint(), { scope: undefined }), { auth: basicAuth(...LIMITED_CLIENT) });
    await expectError(response, 400, 'unauthorized_client');
  });

  test('405 on the token path with Allow: POST', async () => {
    const response = await mf.dispatchFetch(at(paths.token));
    assert.equal(response.status, 405);
    assert.match(response.headers.get('allow') ?? '', /\bPOST\b/);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    await response.arrayBuffer();
  });

  test('404 elsewhere', async () => {
    const response = await mf.dispatchFetch(at('/definitely/not/here'));
    assert.equal(response.status, 404);
    assert.equal(typeof (await json(response)).error, 'string');
  });

  test('metadata and JWKS', async () => {
    const metadata = await mf.dispatchFetch(at(paths.metadata));
    assert.equal(metadata.status, 200);
    assert.equal(metadata.headers.get('cache-control'), 'public, max-age=300');
    const doc = await json(metadata);
    assert.equal(doc.issuer, config.issuer);
    assert.equal(doc.token_endpoint, paths.tokenEndpoint);
    assert.equal(doc.jwks_uri, paths.jwksUri);

    const jwks = await mf.dispatchFetch(at(paths.jwks));
    assert.equal(jwks.status, 200);
    const keys = (await json(jwks)).keys;
    assert.deepEqual(keys.map((k) => [k.kty, k.crv, k.kid, k.d]), [['EC', 'P-256', 'worker-test-1', undefined]]);
  });

  test('replay: the second use of an assertion is invalid_grant', async () => {
    const fields = grant(await mint());
    const first = await post(fields);
    assert.equal(first.status, 200, JSON.stringify(await json(first.clone())));
    await first.arrayBuffer();
    await expectError(await post(fields), 400, 'invalid_grant');
  });

  test('50 concurrent submissions of one assertion: exactly one token', async () => {
    const fields = grant(await mint());
    const responses = await Promise.all(Array.from({ length: 50 }, () => post(fields)));
    const results = await Promise.all(responses.map(async (r) => [r.status, (await json(r)).error ?? 'ok']));
    const tally = {};
    for (const [status, error] of results) tally[`${status} ${error}`] = (tally[`${status} ${error}`] ?? 0) + 1;
    assert.deepEqual(tally, { '200 ok': 1, '400 invalid_grant': 49 });
  });

  test('ReplayGuard Durable Object: 50 concurrent claims of one key, exactly one wins', async () => {
    const ns = await mf.getDurableObjectNamespace('REPLAY');
    const t = Date.now() / 1000;
    const stub = ns.get(ns.idFromName(`probe-${crypto.randomUUID()}`));
    const results = await Promise.all(Array.from({ length: 50 }, () => stub.claim(t + 60)));
    assert.equal(results.filter((r) => r === true).length, 1);
    assert.equal(results.filter((r) => r === false).length, 49);

    // A claim blocks until a minute past its expiry (clock-disagreement
    // margin), then no longer; other keys are independent.
    const recent = ns.get(ns.idFromName(`probe-${crypto.randomUUID()}`));
    assert.equal(await recent.claim(t - 1), true);
    assert.equal(await recent.claim(t + 60), false, 'still inside the 60 s margin');
    const expired = ns.get(ns.idFromName(`probe-${crypto.randomUUID()}`));
    assert.equal(await expired.claim(t - 61), true);
    assert.equal(await expired.claim(t + 60), true);
    assert.equal(await expired.claim(t + 60), false);
    await assert.rejects(expired.claim('soon')); // not a number: TypeError in the object
  });

  // --- Findings of the independent security reviews (issue #11) -----------

  const CLIENT_ASSERTION_JWT = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
  const CLIENT_ASSERTION_SAML = 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer';

  function clientAssertion(claims = {}, header = {}) {
    const t = Math.floor(Date.now() / 1000);
    return signJwt(
      loadPrivateKeys().get('client-ec-1'),
      { iss: 'jwt-client', sub: 'jwt-client', aud: config.issuer, iat: t, exp: t + 60, jti: crypto.randomUUID(), ...claims },
      { kid: 'client-ec-1', ...header },
    );
  }

  const withClientAssertion = async (assertion, ca) =>
    post({ ...grant(assertion, { scope: 'read' }), client_assertion_type: CLIENT_ASSERTION_JWT, client_assertion: ca }, { auth: null });

  test('private_key_jwt: aud must be exactly our issuer (audience injection)', async () => {
    for (const aud of [paths.tokenEndpoint, [config.issuer, 'https://hostile-as.example'], ['https://hostile-as.example', paths.tokenEndpoint]]) {
      await expectError(await withClientAssertion(await mint(), await clientAssertion({ aud })), 401, 'invalid_client');
    }
    for (const [aud, header] of [[config.issuer, {}], [[config.issuer], { typ: 'client-authentication+jwt' }]]) {
      const r = await withClientAssertion(await mint(), await clientAssertion({ aud }, header));
      assert.equal(r.status, 200, JSON.stringify(await json(r.clone())));
      await r.arrayBuffer();
    }
  });

  test('a spent grant replayed with fresh client assertions: invalid_grant, and the client assertions stay unspent', async () => {
    const spent = await mint();
    const first = await withClientAssertion(spent, await clientAssertion());
    assert.equal(first.status, 200, JSON.stringify(await json(first.clone())));
    await first.arrayBuffer();
    const fresh = await clientAssertion();
    await expectError(await withClientAssertion(spent, fresh), 400, 'invalid_grant');
    // Had its key been claimed (and left behind), this would be invalid_client.
    const r = await withClientAssertion(await mint(), fresh);
    assert.equal(r.status, 200, JSON.stringify(await json(r.clone())));
    await r.arrayBuffer();
  });

  test('a public client learns nothing about an assertion from an issuer it is not bound to', async () => {
    // public-client is bound to idp.example.com only; other-idp is trusted.
    const t = Math.floor(Date.now() / 1000);
    const claims = { iss: 'https://other-idp.example.com', sub: 'alice', aud: paths.tokenEndpoint, iat: t, exp: t + 120 };
    const keys = loadPrivateKeys();
    const answers = [];
    for (const signer of ['other-ec-1', 'attacker-ec-1']) {
      const assertion = await signJwt(keys.get(signer), { ...claims, jti: crypto.randomUUID() }, { kid: 'other-ec-1' });
      const body = await expectError(await post({ ...grant(assertion, { scope: 'read' }), client_id: 'public-client' }, { auth: null }), 400, 'invalid_grant');
      answers.push(body);
    }
    assert.deepEqual(answers[0], answers[1], 'valid and forged assertions get the same answer');
  });

  test('SAML client authentication: a user whose NameID equals the client id is not the client', async () => {
    const saml = (options) => signSamlAssertion({ audience: config.issuer, recipient: paths.tokenEndpoint, ...options });
    // saml-client may present grants from the IdP that vouches for it.
    const samlGrant = () => ({ grant_type: SAML2_BEARER, assertion: saml({}), scope: 'read' });
    const asClient = async (clientAssertionXml) =>
      post({ ...samlGrant(), client_assertion_type: CLIENT_ASSERTION_SAML, client_assertion: clientAssertionXml }, { auth: null });
    const entity = 'urn:oasis:names:tc:SAML:2.0:nameid-format:entity';
    // The confirmed attack: no Format on the NameID, an attribute named like it.
    await expectError(
      await asClient(saml({ subject: 'saml-client', attributes: [['saml:NameID/@Format', entity]] })),
      401,
      'invalid_client',
    );
    // The client itself, with the entity Format on its NameID.
    const r = await asClient(saml({ subject: 'saml-client', nameIdFormat: entity }));
    assert.equal(r.status, 200, JSON.stringify(await json(r.clone())));
    assert.equal(fromB64urlJson((await r.json()).access_token.split('.')[1]).client_id, 'saml-client');
    // A body client_id that differs from the Subject: the same opaque answer.
    const mismatch = await expectError(
      await post(
        {
          ...samlGrant(),
          client_assertion_type: CLIENT_ASSERTION_SAML,
          client_assertion: saml({ subject: 'saml-client', nameIdFormat: entity }),
          client_id: 'basic-client',
        },
        { auth: null },
      ),
      401,
      'invalid_client',
    );
    assert.equal(mismatch.error_description, 'client authentication failed');
  });

  test('a repeated Authorization or Content-Type header is invalid_request, as on every host', async () => {
    const body = new URLSearchParams(grant(await mint())).toString();
    for (const headers of [
      [['content-type', 'application/x-www-form-urlencoded'], ['authorization', basicAuth(...CLIENT)], ['authorization', basicAuth(...CLIENT)]],
      [['content-type', 'application/x-www-form-urlencoded'], ['content-type', 'application/x-www-form-urlencoded'], ['authorization', basicAuth(...CLIENT)]],
    ]) {
      const r = await mf.dispatchFetch(at(paths.token), { method: 'POST', headers, body });
      const error = await expectError(r, 400, 'invalid_request');
      assert.match(error.error_description, /more than once/);
    }
  });

  test('a body over the limit is 413 invalid_request (the core\'s answer)', async () => {
    const big = `grant_type=x&assertion=${'a'.repeat(70 * 1024)}`;
    const declared = await mf.dispatchFetch(at(paths.token), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: big,
    });
    await expectError(declared, 413, 'invalid_request');
  });

  test('no secret ever reaches the logs', () => {
    const text = logs.map((l) => l.message).join('\n');
    assert.ok(!text.includes('basic-secret'));
    assert.ok(!text.includes(idpKey.d));
  });
});

describe('Worker without AG_CONFIG, with AG_DEMO=1 (demo mode, as npm start runs it)', () => {
  let mf;
  const logs = [];

  before(async () => {
    requireFile(join(ROOT, 'pkg/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
    mf = miniflare({ logs, bindings: { AG_DEMO: '1' } });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
  });

  test('serves the demo metadata', async () => {
    const response = await mf.dispatchFetch('http://127.0.0.1:8787/.well-known/oauth-authorization-server');
    assert.equal(response.status, 200);
    const doc = await json(response);
    assert.equal(doc.issuer, 'http://127.0.0.1:8787');
    assert.equal(doc.token_endpoint, 'http://127.0.0.1:8787/token');
  });

  test('a demo assertion gets a token, and the demo warning is logged once', async () => {
    const assertion = await mintDemoAssertion();
    const response = await mf.dispatchFetch('http://127.0.0.1:8787/token', {
      method: 'POST',
      headers: { Authorization: basicAuth('demo-client', 'demo-secret'), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, scope: 'read' }).toString(),
    });
    const body = await json(response);
    assert.equal(response.status, 200, JSON.stringify(body));
    const jwks = await json(await mf.dispatchFetch('http://127.0.0.1:8787/.well-known/jwks.json'));
    const { claims } = await verifyAccessToken(body.access_token, jwks);
    assert.equal(claims.sub, 'demo-idp|demo-user@example.com');
    assert.equal(claims.email, 'demo-user@example.com');
    assert.equal(claims.scope, 'read');

    const warnings = logs.filter((l) => /DEMO configuration/.test(l.message));
    assert.equal(warnings.length, 1, JSON.stringify(logs));
    assert.equal(warnings[0].level, 'warn');
  });
});

describe('Worker without any configuration and without AG_DEMO (a deployment by accident)', () => {
  test('500 and a log line naming AG_CONFIG and AG_DEMO; the demo trust gets no token', async () => {
    for (const bindings of [{}, { AG_DEMO: '0' }, { AG_DEMO: 'yes please' }]) {
      const logs = [];
      const mf = miniflare({ logs, bindings });
      try {
        const response = await mf.dispatchFetch('http://127.0.0.1:8787/token', {
          method: 'POST',
          headers: { Authorization: basicAuth('demo-client', 'demo-secret'), 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await mintDemoAssertion(), scope: 'read' }).toString(),
        });
        assert.equal(response.status, 500, JSON.stringify(bindings));
        assert.doesNotMatch(await response.text(), /access_token/);
        const metadata = await mf.dispatchFetch('http://127.0.0.1:8787/.well-known/oauth-authorization-server');
        assert.equal(metadata.status, 500);
        await metadata.arrayBuffer();
        assert.ok(logs.some((l) => l.level === 'error' && /AG_CONFIG.*AG_DEMO=1/.test(l.message)), JSON.stringify(logs));
        assert.ok(!logs.some((l) => /DEMO configuration/.test(l.message)));
      } finally {
        await mf.dispose();
      }
    }
  });
});

describe('Worker replay store settings (REPLAY_SHARDS, the upgrade from per-key objects)', () => {
  const post = (mf, assertion) =>
    mf.dispatchFetch('http://127.0.0.1:8787/token', {
      method: 'POST',
      headers: { Authorization: basicAuth('demo-client', 'demo-secret'), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, scope: 'read' }).toString(),
    });

  test('during AG_REPLAY_TRANSITION_UNTIL a key the previous version claimed (ReplayGuard) is refused; without it, not', async () => {
    const pkg = await importPkg();
    const config = pkg.demoConfig();
    const assertion = await mintDemoAssertion();
    // The grant's replay key, as the core derives it (the npm endpoint, same configuration).
    const keys = [];
    const probe = new pkg.TokenEndpoint(config, { replayStore: { claim: (key, expiresAt) => (keys.push([key, expiresAt]), true) } });
    await probe.exchange({ assertion, clientId: 'demo-client', clientSecret: 'demo-secret', scope: 'read' });
    const [[key, expiresAt]] = keys;
    const signingKey = pkg.generateSigningKey('transition-1');
    for (const [until, want] of [[String(Math.floor(Date.now() / 1000) + 600), 400], [undefined, 200]]) {
      const mf = miniflare({ logs: [], bindings: { AG_CONFIG: config, AG_SIGNING_KEY: signingKey, ...(until ? { AG_REPLAY_TRANSITION_UNTIL: until } : {}) } });
      try {
        const ns = await mf.getDurableObjectNamespace('REPLAY');
        // The previous version (one ReplayGuard per key) used the assertion.
        assert.equal(await ns.get(ns.idFromName(key)).claim(expiresAt), true);
        const response = await post(mf, assertion);
        const body = await json(response);
        assert.equal(response.status, want, `transition ${until ?? 'off'}: ${JSON.stringify(body)}`);
        if (want === 400) assert.equal(body.error, 'invalid_grant');
      } finally {
        await mf.dispose();
      }
    }
  });

  test('a malformed AG_REPLAY_TRANSITION_UNTIL or a short AG_REPLAY_SHARD_SECRET: 500, logged by name; a good secret serves', async () => {
    const pkg = await importPkg();
    const base = { AG_CONFIG: pkg.demoConfig(), AG_SIGNING_KEY: pkg.generateSigningKey('settings-1') };
    for (const [name, value] of [
      ['AG_REPLAY_TRANSITION_UNTIL', 'tomorrow'],
      ['AG_REPLAY_TRANSITION_UNTIL', String(Math.floor(Date.now() / 1000) + 90 * 86400)],
      ['AG_REPLAY_SHARD_SECRET', 'too-short'],
    ]) {
      const logs = [];
      const mf = miniflare({ logs, bindings: { ...base, [name]: value } });
      try {
        const response = await post(mf, await mintDemoAssertion());
        assert.equal(response.status, 500, `${name}=${value}`);
        await response.arrayBuffer();
        assert.ok(logs.some((l) => l.level === 'error' && l.message.includes(name)), JSON.stringify(logs));
      } finally {
        await mf.dispose();
      }
    }
    const mf = miniflare({ logs: [], bindings: { ...base, AG_REPLAY_SHARD_SECRET: 'a-good-shard-secret-of-at-least-32-characters' } });
    try {
      const assertion = await mintDemoAssertion();
      const first = await post(mf, assertion);
      assert.equal(first.status, 200);
      await first.arrayBuffer();
      const replay = await post(mf, assertion);
      assert.equal(replay.status, 400, 'keyed shards still refuse the replay');
      await replay.arrayBuffer();
    } finally {
      await mf.dispose();
    }
  });
});

describe('Worker on *.workers.dev beside a custom-domain issuer', () => {
  test('404 on a workers.dev hostname (also with a trailing dot) that is not the issuer; 200 on the issuer; logged once', async () => {
    const pkg = await importPkg();
    const config = loadConfig();
    const logs = [];
    const mf = miniflare({ logs, bindings: { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: pkg.generateSigningKey('wd-1') } });
    try {
      const jwksPath = endpointPaths(config).jwks;
      for (const host of ['assertion-grant.acct.workers.dev', 'assertion-grant.acct.workers.dev.', 'v2-assertion-grant.acct.WORKERS.dev']) {
        const response = await mf.dispatchFetch(`https://${host}${jwksPath}`);
        assert.equal(response.status, 404, host);
        assert.equal((await json(response)).error, 'not_found');
      }
      const token = await mf.dispatchFetch(`https://assertion-grant.acct.workers.dev${endpointPaths(config).token}`, { method: 'POST', body: 'grant_type=x' });
      assert.equal(token.status, 404);
      await token.arrayBuffer();
      const ok = await mf.dispatchFetch(new URL(jwksPath, config.issuer).href);
      assert.equal(ok.status, 200);
      await ok.arrayBuffer();
      assert.equal(logs.filter((l) => /workers_dev_refused/.test(l.message)).length, 1, JSON.stringify(logs));
    } finally {
      await mf.dispose();
    }
    // An issuer on workers.dev is served there.
    const onDev = { ...config, issuer: 'https://assertion-grant.acct.workers.dev' };
    delete onDev.token_endpoint;
    delete onDev.jwks_uri;
    const dev = miniflare({ logs: [], bindings: { AG_CONFIG: JSON.stringify(onDev), AG_SIGNING_KEY: pkg.generateSigningKey('wd-2') } });
    try {
      const response = await dev.dispatchFetch('https://assertion-grant.acct.workers.dev/.well-known/jwks.json');
      assert.equal(response.status, 200);
      await response.arrayBuffer();
    } finally {
      await dev.dispose();
    }
  });
});

describe('Worker with a broken AG_CONFIG', () => {
  let mf;
  let secret;
  const logs = [];

  before(async () => {
    const pkg = await importPkg();
    const config = loadConfig();
    config.clients[0].token_endpoint_auth_method = 'carrier_pigeon';
    secret = pkg.generateSigningKey('broken-1');
    mf = miniflare({ logs, bindings: { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: secret } });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
  });

  test('500 server_error, one console.error naming the path, never the secret', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await mf.dispatchFetch('http://localhost/token', { method: 'POST', body: 'grant_type=x' });
      assert.equal(response.status, 500);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await json(response), { error: 'server_error', error_description: 'the server could not complete the request' });
    }
    const errors = logs.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, JSON.stringify(logs));
    assert.match(errors[0].message, /token_endpoint_auth_method/);
    const text = logs.map((l) => l.message).join('\n');
    assert.ok(!text.includes(JSON.parse(secret).d), 'the signing key was logged');
  });

  test('AG_CONFIG without AG_SIGNING_KEY is refused (no per-isolate ephemeral key)', async () => {
    const local = [];
    const other = miniflare({ logs: local, bindings: { AG_CONFIG: JSON.stringify(loadConfig()) } });
    try {
      const response = await other.dispatchFetch('http://localhost/.well-known/jwks.json');
      assert.equal(response.status, 500);
      await response.arrayBuffer();
      assert.ok(local.some((l) => l.level === 'error' && /AG_SIGNING_KEY/.test(l.message)), JSON.stringify(local));
    } finally {
      await other.dispose();
    }
  });

  test('AG_SIGNING_KEY without AG_CONFIG is refused (never the public demo trust with a real key)', async () => {
    const local = [];
    const other = miniflare({ logs: local, bindings: { AG_SIGNING_KEY: (await importPkg()).generateSigningKey('real-key') } });
    try {
      const response = await other.dispatchFetch('http://127.0.0.1:8787/token', {
        method: 'POST',
        headers: { Authorization: basicAuth('demo-client', 'demo-secret'), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_BEARER, assertion: await mintDemoAssertion() }).toString(),
      });
      assert.equal(response.status, 500);
      assert.doesNotMatch(await response.text(), /access_token/);
      assert.ok(local.some((l) => l.level === 'error' && /AG_CONFIG/.test(l.message)), JSON.stringify(local));
    } finally {
      await other.dispose();
    }
  });
});

describe('Worker POST /explain (operators only)', () => {
  const ADMIN = 'admin-token-for-tests-0123456789';
  let mf;
  let config;
  let idpKey;

  before(async () => {
    const pkg = await importPkg();
    config = loadConfig();
    idpKey = loadPrivateKeys().get('idp-ec-1');
    mf = miniflare({
      logs: [],
      bindings: { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: pkg.generateSigningKey('explain-1'), AG_ADMIN_TOKEN: ADMIN },
    });
    await mf.ready;
  });

  after(async () => {
    await mf?.dispose();
  });

  async function freshGrantBody() {
    const t = Math.floor(Date.now() / 1000);
    const assertion = await signJwt(idpKey, {
      iss: 'https://idp.example.com', sub: 'alice', aud: new URL('/token', config.issuer).href,
      iat: t, exp: t + 300, jti: crypto.randomUUID(),
    }, { kid: 'idp-ec-1' });
    return new URLSearchParams({ grant_type: JWT_BEARER, assertion, scope: 'read' }).toString();
  }

  const explainAt = (auth, payload) =>
    mf.dispatchFetch(new URL('/explain', config.issuer).href, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) },
      body: JSON.stringify(payload),
    });

  /** Status, every header and the body: what a caller can observe of a response. */
  async function observed(response) {
    return { status: response.status, headers: [...response.headers], body: await response.text() };
  }

  test('without the admin bearer token, or with a wrong one: exactly an unknown path', async () => {
    const body = await freshGrantBody();
    const unknown = await observed(
      await mf.dispatchFetch(new URL('/no-such-path', config.issuer).href, { method: 'POST', body: JSON.stringify({ body }) }),
    );
    assert.equal(unknown.status, 404);
    for (const auth of [undefined, 'Bearer wrong', `Basic ${ADMIN}`, `Bearer ${ADMIN}x`]) {
      assert.deepEqual(await observed(await explainAt(auth, { body })), unknown, String(auth));
    }
    // GET with the right token is not an explain request either.
    const get = await mf.dispatchFetch(new URL('/explain', config.issuer).href, { headers: { Authorization: `Bearer ${ADMIN}` } });
    assert.deepEqual(await observed(get), { ...unknown });
  });

  test('an explain request that is not {body, headers?, now?}: the core\'s 400 invalid_request', async () => {
    const r = await explainAt(`Bearer ${ADMIN}`, { nobody: true });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const body = await r.json();
    assert.equal(body.error, 'invalid_request');
    assert.match(body.error_description, /body \(the form body\)/);
  });

  test('an explain that throws answers 500 server_error JSON, not a runtime error page', async () => {
    // JSON.parse turns 1e400 into Infinity: a "number" the core refuses.
    const r = await mf.dispatchFetch(new URL('/explain', config.issuer).href, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN}` },
      body: `{"body": ${JSON.stringify(await freshGrantBody())}, "now": 1e400}`,
    });
    assert.equal(r.status, 500);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await r.json(), { error: 'server_error', error_description: 'the server could not complete the request' });
  });

  test('with the token: a report, and nothing consumed', async () => {
    const body = await freshGrantBody();
    const headers = { authorization: basicAuth('basic-client', 'basic-secret') };
    const r = await explainAt(`Bearer ${ADMIN}`, { body, headers });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const report = await r.json();
    assert.equal(report.would_issue, true, JSON.stringify(report));
    assert.ok(report.checks.some((c) => c.check === 'one-time use' && c.outcome === 'pass'));
    // The assertion is still unused: /token issues for it, and a second
    // explain now reports it as used.
    const token = await mf.dispatchFetch(new URL('/token', config.issuer).href, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
    assert.equal(token.status, 200);
    await token.arrayBuffer();
    const after = await (await explainAt(`Bearer ${ADMIN}`, { body, headers })).json();
    assert.equal(after.would_issue, false);
    assert.equal(after.checks.at(-1).check, 'one-time use');
  });

  test('without AG_ADMIN_TOKEN the path does not exist', async () => {
    const plain = miniflare({ logs: [], bindings: { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: (await importPkg()).generateSigningKey('k') } });
    try {
      const r = await plain.dispatchFetch(new URL('/explain', config.issuer).href, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN}` }, body: '{}' });
      const unknown = await plain.dispatchFetch(new URL('/elsewhere', config.issuer).href, { method: 'POST', body: '{}' });
      assert.equal(r.status, 404);
      assert.deepEqual(await observed(r), await observed(unknown));
    } finally {
      await plain.dispose();
    }
  });
});
