// ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant) + DPoP (RFC 9449)
// end to end: the Cloudflare Worker (worker/index.js) in real workerd through
// Miniflare, as the authorization server, and the package's
// verifyAccessToken() (pkg/index.js, js/resource.js) as the resource server.
//
// What it proves:
//   1. A real OAuth client that nobody here wrote (panva's oauth4webapi)
//      discovers the AS, runs the jwt-bearer grant with an ID-JAG,
//      authenticates with private_key_jwt, sends a DPoP proof, accepts the
//      answer (token_type DPoP), and then calls a resource server with the
//      same DPoP key; verifyAccessToken accepts that call and sees
//      cnf.jkt = the client key's RFC 7638 thumbprint.
//   2. With dpop.require_nonce, oauth4webapi's first request fails with
//      use_dpop_nonce (and a DPoP-Nonce header), and its retry (the nonce
//      cached by its DPoP handle) succeeds.
//   3. Proofs from another independent implementation (panva's `dpop`
//      package) with ES256 and PS256 keys are accepted; hand-made bad proofs
//      (jose's CompactSign, or raw base64url) are refused one rule at a time
//      with invalid_dpop_proof, after a control proof built the same way
//      was accepted.
//   4. One proof sent 50 times concurrently (fresh ID-JAG each): exactly one
//      token.
//   5. cnf.jkt in the ID-JAG binds the grant to one DPoP key; a client with
//      dpop_bound_access_tokens must send a proof.
//   6. verifyAccessToken's refusals (scheme downgrade, ath, replay, missing
//      credentials, audience) and its acceptance of a plain Bearer token.
//
// Independent tools (none of them the code under test): oauth4webapi (the
// client), dpop (proofs), jose (ID-JAGs, bad proofs, RFC 7638 thumbprints,
// and a second verification of every access token against the Worker's
// JWKS). The keys are the test-only private JWKs of tests/vectors/idjag/keys/,
// the configuration is tests/vectors/idjag/config.json (see its README). The
// Worker runs on the real clock, so every ID-JAG and proof is minted here,
// fresh, from Date.now(); nothing sleeps and nothing is timed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CompactSign, SignJWT, calculateJwkThumbprint, createLocalJWKSet, decodeJwt, importJWK, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { generateProof } from 'dpop';
import { ROOT, basicAuth, importPkg, requireFile } from './helpers.mjs';
import { createMiniflare, tokenWorker } from './miniflare.mjs';

const IDJAG = join(ROOT, 'tests/vectors/idjag');
const AS = 'https://as.example.com';
const TOKEN_URL = `${AS}/token`;
const JWKS_URL = `${AS}/.well-known/jwks.json`;
const API = 'https://api.example.com';
const IDP = 'https://idp.enterprise.example';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const AGENT_APP = ['agent-app', 'agent-secret'];
const DPOP_AGENT = ['dpop-agent', 'dpop-secret'];
// RFC 7638 thumbprints from tests/vectors/idjag/README.md (computed there by
// the Python generator): a cross-check of jose's computation.
const README_JKT = {
  'dpop-ec-1': 'ZIUNk4pjADsdOG_bnSrFu3nyjA3YO_1GYj1OBc4J5kU',
  'dpop-ec-2': 'gClZFAGv-vYvoVKbPSkDVZMhBpI6v5NW_qSmiCyf3VY',
  'dpop-rsa-1': 'BfPCRtxwcnMUdx_b1xanK7p7cvLiGG2Xo_LMW92qrxg',
};

const readKey = (kid) => JSON.parse(readFileSync(join(IDJAG, 'keys', `${kid}.json`), 'utf8'));
const nowSecs = () => Math.floor(Date.now() / 1000);
const b64urlJson = (value) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
const publicJwkOf = ({ kty, crv, x, y, n, e }) => (kty === 'EC' ? { kty, crv, x, y } : { kty, n, e });

let pkg; // the package under test (pkg/index.js), for verifyAccessToken
let signingKey; // one AS signing key for both Workers (verifyAccessToken caches the JWKS by URL)
let mf; // the Worker with config.json as it is
let jagKey; // the enterprise IdP's ES256 key (jag-idp-ec-1)
let jwks; // the Worker's published JWKS, for jose's second verification
/** DPoP keys of tests/vectors/idjag/keys as { kid, alg, privateJwk, publicJwk, privateKey, publicKey, jkt }. */
const dpopKeys = {};

before(async () => {
  requireFile(join(ROOT, 'pkg/slim/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
  pkg = await importPkg();
  signingKey = pkg.generateSigningKey('idjag-dpop-test');
  jagKey = await importJWK(readKey('jag-idp-ec-1'), 'ES256');
  for (const [kid, alg] of [['dpop-ec-1', 'ES256'], ['dpop-ec-2', 'ES256'], ['dpop-rsa-1', 'PS256'], ['attacker-ec-1', 'ES256']]) {
    const privateJwk = readKey(kid);
    const publicJwk = publicJwkOf(privateJwk);
    // extractable: the `dpop` package exports the public key into the proof header.
    const privateKey = await importJWK(privateJwk, alg);
    const publicKey = await importJWK(publicJwk, alg, { extractable: true });
    dpopKeys[kid] = { kid, alg, privateJwk, publicJwk, privateKey, publicKey, jkt: await calculateJwkThumbprint(publicJwk) };
  }
  mf = await startWorker(readConfig());
  const response = await mf.dispatchFetch(JWKS_URL);
  assert.equal(response.status, 200);
  jwks = await response.json();
});

after(async () => {
  await mf?.dispose();
});

function readConfig() {
  return JSON.parse(readFileSync(join(IDJAG, 'config.json'), 'utf8'));
}

async function startWorker(config, extraBindings = {}) {
  const worker = createMiniflare(
    tokenWorker({ bindings: { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: signingKey, ...extraBindings } }),
  );
  await worker.ready;
  return worker;
}

/** A fresh ID-JAG from the enterprise IdP (real clock, unique jti). */
function mintIdJag({ clientId = AGENT_APP[0], sub = 'alice', ...claims } = {}) {
  const t = nowSecs();
  return new SignJWT({ iss: IDP, sub, aud: AS, client_id: clientId, jti: crypto.randomUUID(), iat: t, exp: t + 300, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'jag-idp-ec-1', typ: 'oauth-id-jag+jwt' })
    .sign(jagKey);
}

/**
 * A DPoP proof made with jose: header {typ dpop+jwt, alg, jwk} and claims
 * {jti, htm POST, htu the token endpoint, iat now}; `header` / `claims`
 * override members (undefined removes one), `signWith` signs with another key.
 */
async function joseProof(key, { header = {}, claims = {}, signWith = key.privateKey } = {}) {
  const h = { typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...header };
  const c = { jti: crypto.randomUUID(), htm: 'POST', htu: TOKEN_URL, iat: nowSecs(), ...claims };
  for (const o of [h, c]) for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return new CompactSign(new TextEncoder().encode(JSON.stringify(c))).setProtectedHeader(h).sign(signWith);
}

/**
 * POST /token through Miniflare: jwt-bearer with `assertion`, the client
 * (`basic` [id, secret] by default, or `post`), `resource`s, and zero, one
 * or several DPoP headers. Resolves { status, body, headers }.
 */
async function tokenRequest(worker, { assertion, basic = AGENT_APP, post, resource, dpop } = {}) {
  const fields = new URLSearchParams({ grant_type: JWT_BEARER, assertion });
  for (const r of resource === undefined ? [] : [resource].flat()) fields.append('resource', r);
  const headers = [['Content-Type', 'application/x-www-form-urlencoded']];
  if (post) fields.append('client_id', post[0]), fields.append('client_secret', post[1]);
  else if (basic) headers.push(['Authorization', basicAuth(...basic)]);
  for (const proof of dpop === undefined ? [] : [dpop].flat()) headers.push(['DPoP', proof]);
  const response = await worker.dispatchFetch(TOKEN_URL, { method: 'POST', headers, body: fields.toString() });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`not JSON (HTTP ${response.status}): ${text.slice(0, 300)}`);
  }
  return { status: response.status, body, headers: response.headers };
}

const show = (answer) => `${answer.status} ${JSON.stringify(answer.body)}`;

/**
 * A 200 token response of `tokenType`; the access token verified a second
 * time with jose against the Worker's JWKS. Returns its claims.
 */
async function assertToken(answer, tokenType, context = '') {
  assert.equal(answer.status, 200, `${context} ${show(answer)}`);
  assert.equal(answer.body.token_type, tokenType, `${context} ${show(answer)}`);
  assert.equal(answer.headers.get('cache-control'), 'no-store', `${context} Cache-Control`);
  const { payload } = await jwtVerify(answer.body.access_token, createLocalJWKSet(jwks), {
    issuer: AS,
    typ: 'at+jwt',
    algorithms: ['ES256'],
  });
  return payload;
}

function assertRefused(answer, status, error, context = '') {
  assert.equal(answer.status, status, `${context} ${show(answer)}`);
  assert.equal(answer.body.error, error, `${context} ${show(answer)}`);
  assert.equal(answer.body.access_token, undefined, context);
  assert.equal(answer.headers.get('cache-control'), 'no-store', `${context} Cache-Control`);
}

/**
 * oauth4webapi's [customFetch] into a Miniflare Worker. Its AbortSignal is
 * left out (Miniflare's fetch is another realm's undici), the form body sent
 * as text; the answer is handed back as a global Response. Every answer is
 * also pushed onto `seen` (status, headers, body text) for the tests to inspect.
 */
function workerFetch(worker, seen = []) {
  return async (url, { signal: _signal, body, ...init } = {}) => {
    const response = await worker.dispatchFetch(url, { ...init, body: body instanceof URLSearchParams ? body.toString() : body });
    const bytes = await response.arrayBuffer();
    const copy = new Response(bytes, { status: response.status, headers: response.headers });
    seen.push({ url, status: copy.status, headers: copy.headers, text: Buffer.from(bytes).toString('utf8') });
    return copy;
  };
}

/**
 * The in-test resource server: verifyAccessToken (the package under test)
 * against the AS of `worker`; 200 with what it verified, or the
 * AccessTokenError's own response.
 */
function resourceServer(worker) {
  const jwksFetch = (url, init) => worker.dispatchFetch(url, init);
  return async (request) => {
    try {
      const result = await pkg.verifyAccessToken(request, { issuer: AS, audience: API, jwksUri: JWKS_URL, fetch: jwksFetch });
      return Response.json({ claims: result.claims, scheme: result.scheme, dpop: result.dpop ?? null });
    } catch (err) {
      if (err instanceof pkg.AccessTokenError) return err.response();
      throw err;
    }
  };
}

/** oauth4webapi's processGenericTokenEndpointResponse; a refusal rethrown with the server's error and description. */
async function processTokens(as, client, response) {
  try {
    return await oauth.processGenericTokenEndpointResponse(as, client, response);
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) err.message += `: ${err.status} ${err.error} (${err.error_description})`;
    throw err;
  }
}

/** The client's part shared by tests 1 and 2: discovery, grant, API call, with oauth4webapi. */
async function oauth4webapiClient(worker) {
  const seen = [];
  const fetchAs = workerFetch(worker, seen);
  const issuer = new URL(AS);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.customFetch]: fetchAs }),
  );
  assert.equal(as.issuer, AS);
  assert.equal(as.token_endpoint, TOKEN_URL);
  const client = { client_id: 'jwt-agent' };
  const clientKey = await importJWK(readKey('agent-client-ec-1'), 'ES256');
  const clientAuth = oauth.PrivateKeyJwt({ key: clientKey, kid: 'agent-client-ec-1' });
  const keyPair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const dpopHandle = oauth.DPoP(client, keyPair);
  const jkt = await calculateJwkThumbprint(await crypto.subtle.exportKey('jwk', keyPair.publicKey));
  assert.equal(await dpopHandle.calculateThumbprint(), jkt, 'oauth4webapi and jose agree on the thumbprint');
  const grant = (assertion) =>
    oauth.genericTokenEndpointRequest(as, client, clientAuth, JWT_BEARER, { assertion }, { DPoP: dpopHandle, [oauth.customFetch]: fetchAs });
  const callApi = (accessToken) =>
    oauth.protectedResourceRequest(accessToken, 'GET', new URL(`${API}/calendar/events`), undefined, undefined, {
      DPoP: dpopHandle,
      [oauth.customFetch]: async (url, init) => resourceServer(worker)(new Request(url, init)),
    });
  return { as, client, grant, callApi, jkt, seen };
}

describe('oauth4webapi as the client, verifyAccessToken as the resource server', () => {
  test('discovery, jwt-bearer with an ID-JAG, private_key_jwt, DPoP; then a DPoP-bound API call', async () => {
    const { as, client, grant, callApi, jkt, seen } = await oauth4webapiClient(mf);
    const tokens = await processTokens(as, client, await grant(await mintIdJag({ clientId: 'jwt-agent', sub: 'oauth4webapi-user' })));
    assert.equal(tokens.token_type, 'dpop'); // oauth4webapi lower-cases it
    const tokenAnswer = seen.findLast((s) => s.url === TOKEN_URL);
    assert.equal(tokenAnswer.status, 200);
    assert.equal(tokenAnswer.headers.get('cache-control'), 'no-store');
    const claims = decodeJwt(tokens.access_token);
    assert.deepEqual(claims.cnf, { jkt });
    assert.equal(claims.client_id, 'jwt-agent');

    const response = await callApi(tokens.access_token);
    assert.equal(response.status, 200);
    const seenByRs = await response.json();
    assert.equal(seenByRs.scheme, 'DPoP');
    assert.equal(seenByRs.claims.sub, 'ent|oauth4webapi-user');
    assert.equal(seenByRs.claims.iss, AS);
    assert.equal(seenByRs.claims.cnf.jkt, jkt);
    assert.deepEqual(seenByRs.dpop, { jkt });
  });

  describe('with dpop.require_nonce', () => {
    let nonceMf;

    before(async () => {
      const config = readConfig();
      config.dpop = { ...config.dpop, require_nonce: true };
      nonceMf = await startWorker(config, { AG_DPOP_NONCE_SECRET: randomBytes(36).toString('base64url') });
    });

    after(async () => {
      await nonceMf?.dispose();
    });

    test('the first request fails with use_dpop_nonce, the retry with the nonce succeeds', async () => {
      const { as, client, grant, callApi, jkt, seen } = await oauth4webapiClient(nonceMf);
      // A client retries the same request: the same ID-JAG.
      const assertion = await mintIdJag({ clientId: 'jwt-agent', sub: 'nonce-user' });
      const first = await grant(assertion);
      const error = await oauth.processGenericTokenEndpointResponse(as, client, first).then(
        (tokens) => assert.fail(`no use_dpop_nonce: got ${JSON.stringify(tokens)}`),
        (err) => err,
      );
      const refusal = seen.findLast((s) => s.url === TOKEN_URL);
      assert.ok(oauth.isDPoPNonceError(error), `not a DPoP nonce error: ${error} (${refusal.status} ${refusal.text})`);
      assert.equal(error.status, 400);
      assert.equal(refusal.status, 400);
      assert.equal(JSON.parse(refusal.text).error, 'use_dpop_nonce', refusal.text);
      assert.match(refusal.headers.get('dpop-nonce') ?? '', /^[\x21-\x7e]+$/, 'a DPoP-Nonce header (RFC 9449 §8)');
      assert.equal(refusal.headers.get('cache-control'), 'no-store');

      const tokens = await processTokens(as, client, await grant(assertion));
      assert.equal(tokens.token_type, 'dpop');
      assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });

      const response = await callApi(tokens.access_token);
      assert.equal(response.status, 200);
      assert.equal((await response.json()).claims.sub, 'ent|nonce-user');
    });
  });
});

describe('DPoP proofs at the token endpoint', () => {
  test('jose computes the README thumbprints of the DPoP keys', () => {
    for (const [kid, jkt] of Object.entries(README_JKT)) assert.equal(dpopKeys[kid].jkt, jkt, kid);
  });

  for (const [kid, alg] of [['dpop-ec-1', 'ES256'], ['dpop-rsa-1', 'PS256']]) {
    test(`a proof from the dpop package (${alg}, ${kid}) gets a DPoP-bound token`, async () => {
      const key = dpopKeys[kid];
      const proof = await generateProof({ privateKey: key.privateKey, publicKey: key.publicKey }, TOKEN_URL, 'POST');
      assert.equal(JSON.parse(Buffer.from(proof.split('.')[0], 'base64url')).alg, alg);
      const claims = await assertToken(await tokenRequest(mf, { assertion: await mintIdJag(), dpop: proof }), 'DPoP', kid);
      assert.deepEqual(claims.cnf, { jkt: README_JKT[kid] });
      assert.equal(claims.sub, 'ent|alice');
    });
  }

  test('control: a jose-made proof (the builder of the bad proofs below) is accepted', async () => {
    const claims = await assertToken(await tokenRequest(mf, { assertion: await mintIdJag(), dpop: await joseProof(dpopKeys['dpop-ec-1']) }), 'DPoP');
    assert.deepEqual(claims.cnf, { jkt: README_JKT['dpop-ec-1'] });
  });

  const A = () => dpopKeys['dpop-ec-1'];
  const badProofs = {
    'htm GET': () => joseProof(A(), { claims: { htm: 'GET' } }),
    'htu another path': () => joseProof(A(), { claims: { htu: `${AS}/other` } }),
    'iat 400 s old': () => joseProof(A(), { claims: { iat: nowSecs() - 400 } }),
    'iat 120 s in the future': () => joseProof(A(), { claims: { iat: nowSecs() + 120 } }),
    'alg none, unsigned': async () => {
      const t = nowSecs();
      return `${b64urlJson({ typ: 'dpop+jwt', alg: 'none', jwk: A().publicJwk })}.${b64urlJson({ jti: crypto.randomUUID(), htm: 'POST', htu: TOKEN_URL, iat: t })}.`;
    },
    'HS256 with a jwk header': () => joseProof(A(), { header: { alg: 'HS256' }, signWith: new Uint8Array(randomBytes(32)) }),
    'private d in the jwk': () => joseProof(A(), { header: { jwk: { ...A().publicJwk, d: A().privateJwk.d } } }),
    'typ JWT': () => joseProof(A(), { header: { typ: 'JWT' } }),
    "signed by another key under dpop-ec-1's jwk": () => joseProof(A(), { signWith: dpopKeys['attacker-ec-1'].privateKey }),
    'a corrupted signature': async () => {
      const [h, p, s] = (await joseProof(A())).split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[10] ^= 0x01;
      return `${h}.${p}.${sig.toString('base64url')}`;
    },
  };
  for (const [name, make] of Object.entries(badProofs)) {
    test(`refused: ${name} → 400 invalid_dpop_proof`, async () => {
      assertRefused(await tokenRequest(mf, { assertion: await mintIdJag(), dpop: await make() }), 400, 'invalid_dpop_proof', name);
    });
  }

  test('refused: two DPoP headers, both valid → 400 invalid_dpop_proof', async () => {
    const proofs = [await joseProof(A()), await joseProof(dpopKeys['dpop-ec-2'])];
    assertRefused(await tokenRequest(mf, { assertion: await mintIdJag(), dpop: proofs }), 400, 'invalid_dpop_proof');
  });

  test('a replayed proof: the same proof with two fresh ID-JAGs, 200 then 400 invalid_dpop_proof', async () => {
    const proof = await joseProof(A());
    await assertToken(await tokenRequest(mf, { assertion: await mintIdJag(), dpop: proof }), 'DPoP', 'first use');
    assertRefused(await tokenRequest(mf, { assertion: await mintIdJag(), dpop: proof }), 400, 'invalid_dpop_proof', 'second use');
  });

  test('50 concurrent requests reusing one proof (fresh ID-JAG each): exactly one token', async () => {
    const proof = await joseProof(dpopKeys['dpop-ec-2']);
    const assertions = await Promise.all(Array.from({ length: 50 }, () => mintIdJag()));
    const answers = await Promise.all(assertions.map((assertion) => tokenRequest(mf, { assertion, dpop: proof })));
    const tally = {};
    for (const a of answers) {
      const key = `${a.status} ${a.status === 200 ? a.body.token_type : a.body.error}`;
      tally[key] = (tally[key] ?? 0) + 1;
    }
    assert.deepEqual(tally, { '200 DPoP': 1, '400 invalid_dpop_proof': 49 });
  });
});

describe('binding: cnf.jkt in the ID-JAG, dpop_bound_access_tokens', () => {
  const cnfIdJag = () => mintIdJag({ cnf: { jkt: README_JKT['dpop-ec-1'] } });

  test('cnf.jkt of key A, a proof with key A → 200 DPoP bound to A', async () => {
    const claims = await assertToken(await tokenRequest(mf, { assertion: await cnfIdJag(), dpop: await joseProof(dpopKeys['dpop-ec-1']) }), 'DPoP');
    assert.deepEqual(claims.cnf, { jkt: README_JKT['dpop-ec-1'] });
  });

  test('cnf.jkt of key A, a proof with key B → 400 invalid_grant', async () => {
    assertRefused(await tokenRequest(mf, { assertion: await cnfIdJag(), dpop: await joseProof(dpopKeys['dpop-ec-2']) }), 400, 'invalid_grant');
  });

  test('cnf.jkt of key A, no proof → 400 invalid_grant', async () => {
    assertRefused(await tokenRequest(mf, { assertion: await cnfIdJag() }), 400, 'invalid_grant');
  });

  test('dpop-agent (dpop_bound_access_tokens) without a proof → 400 invalid_dpop_proof; with one → 200 DPoP', async () => {
    const idJag = () => mintIdJag({ clientId: DPOP_AGENT[0] });
    assertRefused(await tokenRequest(mf, { assertion: await idJag(), basic: undefined, post: DPOP_AGENT }), 400, 'invalid_dpop_proof');
    const claims = await assertToken(
      await tokenRequest(mf, { assertion: await idJag(), basic: undefined, post: DPOP_AGENT, dpop: await joseProof(dpopKeys['dpop-ec-2']) }),
      'DPoP',
    );
    assert.deepEqual(claims.cnf, { jkt: README_JKT['dpop-ec-2'] });
    assert.equal(claims.client_id, DPOP_AGENT[0]);
  });
});

describe('verifyAccessToken (the resource server) refusals', () => {
  const RS_URL = `${API}/calendar/events`;
  const jwksFetch = (url, init) => mf.dispatchFetch(url, init);
  const verify = (request, options = {}) =>
    pkg.verifyAccessToken(request, { issuer: AS, audience: API, jwksUri: JWKS_URL, fetch: jwksFetch, ...options });
  const rsRequest = (authorization, dpop) => {
    const headers = new Headers();
    if (authorization !== undefined) headers.set('Authorization', authorization);
    if (dpop !== undefined) headers.set('DPoP', dpop);
    return new Request(RS_URL, { method: 'GET', headers });
  };
  const key = () => dpopKeys['dpop-ec-1'];
  const keyPair = () => ({ privateKey: key().privateKey, publicKey: key().publicKey });
  const rsProof = (accessToken) => generateProof(keyPair(), RS_URL, 'GET', undefined, accessToken);

  /** A token bound to dpop-ec-1 (a proof at the AS), and one without (Bearer). */
  async function dpopToken() {
    const answer = await tokenRequest(mf, { assertion: await mintIdJag({ sub: 'rs-user' }), dpop: await joseProof(key()) });
    await assertToken(answer, 'DPoP');
    return answer.body.access_token;
  }
  async function bearerToken(resource) {
    const answer = await tokenRequest(mf, { assertion: await mintIdJag({ sub: 'rs-user' }), resource });
    await assertToken(answer, 'Bearer');
    return answer.body.access_token;
  }
  async function refusal(promise) {
    return promise.then(
      (result) => assert.fail(`accepted: ${JSON.stringify(result.claims)}`),
      (err) => {
        assert.ok(err instanceof pkg.AccessTokenError, `not an AccessTokenError: ${err}`);
        return err;
      },
    );
  }

  test('control: the DPoP-bound token with the DPoP scheme and a proof is accepted', async () => {
    const token = await dpopToken();
    const result = await verify(rsRequest(`DPoP ${token}`, await rsProof(token)));
    assert.equal(result.scheme, 'DPoP');
    assert.equal(result.claims.sub, 'ent|rs-user');
    assert.deepEqual(result.dpop, { jkt: README_JKT['dpop-ec-1'] });
  });

  test('a DPoP-bound token sent as Bearer → 401 invalid_token (with or without a proof)', async () => {
    const token = await dpopToken();
    for (const proof of [undefined, await rsProof(token)]) {
      const err = await refusal(verify(rsRequest(`Bearer ${token}`, proof)));
      assert.equal(err.status, 401, err.message);
      assert.equal(err.error, 'invalid_token', err.message);
    }
  });

  test("a proof whose ath is another token's → 401 invalid_dpop_proof", async () => {
    const token = await dpopToken();
    const other = await dpopToken();
    const err = await refusal(verify(rsRequest(`DPoP ${token}`, await rsProof(other))));
    assert.equal(err.status, 401, err.message);
    assert.equal(err.error, 'invalid_dpop_proof', err.message);
    assert.match(err.response().headers.get('www-authenticate') ?? '', /^DPoP\b.*error="invalid_dpop_proof"/);
  });

  test('a proof replayed at the resource server → 401 invalid_dpop_proof', async () => {
    const token = await dpopToken();
    const proof = await rsProof(token);
    assert.equal((await verify(rsRequest(`DPoP ${token}`, proof))).scheme, 'DPoP', 'first use');
    const err = await refusal(verify(rsRequest(`DPoP ${token}`, proof)));
    assert.equal(err.status, 401, err.message);
    assert.equal(err.error, 'invalid_dpop_proof', err.message);
  });

  test('no Authorization header → 401, WWW-Authenticate naming Bearer and DPoP', async () => {
    const err = await refusal(verify(rsRequest()));
    assert.equal(err.status, 401);
    const response = err.response();
    assert.equal(response.status, 401);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /(^|,\s*)Bearer\b/, challenge);
    assert.match(challenge, /(^|,\s*)DPoP\b/, challenge);
  });

  test('a token for another audience (resource https://calendar.example.com) → 401 invalid_token', async () => {
    const token = await bearerToken('https://calendar.example.com');
    assert.equal(decodeJwt(token).aud, 'https://calendar.example.com');
    const err = await refusal(verify(rsRequest(`Bearer ${token}`)));
    assert.equal(err.status, 401, err.message);
    assert.equal(err.error, 'invalid_token', err.message);
  });

  test('a Bearer token (no proof at the AS) sent as Bearer is accepted', async () => {
    const token = await bearerToken();
    assert.equal(decodeJwt(token).cnf, undefined);
    const result = await verify(rsRequest(`Bearer ${token}`));
    assert.equal(result.scheme, 'Bearer');
    assert.equal(result.claims.sub, 'ent|rs-user');
    assert.equal(result.dpop, undefined);
  });

  // Review fixes (December 2026).
  test('a non-number clock skew or proof age is a TypeError, never an expired token accepted', async () => {
    const token = await bearerToken();
    for (const bad of [{ clockSkewSecs: '60' }, { clockSkewSecs: Number.NaN }, { clockSkewSecs: -1 }, { dpop: { maxAgeSecs: '300' } }]) {
      await assert.rejects(verify(rsRequest(`Bearer ${token}`), bad), TypeError, JSON.stringify(bad));
    }
    // A year later, the token is expired whatever the (valid) skew.
    const later = () => nowSecs() + 365 * 86400;
    const err = await refusal(verify(rsRequest(`Bearer ${token}`), { now: later }));
    assert.equal(err.error, 'invalid_token');
  });

  test("proof jtis are charged to the token's client: another client's keys cannot fill its partition", async () => {
    const token = await dpopToken();
    const claims = [];
    const store = { claim: async (key, expiresAt, partition) => (claims.push(partition), true) };
    await verify(rsRequest(`DPoP ${token}`, await rsProof(token)), { dpop: { replayStore: store } });
    assert.deepEqual(claims, ['client:agent-app']);
  });

  test('a proof whose text is not printable ASCII still gets a sendable 401', async () => {
    const token = await dpopToken();
    const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC\r\nX-Injected: 1', crv: 'P-256€', x: 'AA', y: 'AA' } };
    const body = { htm: 'GET', htu: RS_URL, iat: nowSecs(), jti: crypto.randomUUID() };
    const proof = `${b64urlJson(header)}.${b64urlJson(body)}.${Buffer.alloc(64).toString('base64url')}`;
    const err = await refusal(verify(rsRequest(`DPoP ${token}`, proof)));
    assert.equal(err.error, 'invalid_dpop_proof');
    const response = err.response();
    assert.equal(response.status, 401);
    assert.doesNotMatch(response.headers.get('www-authenticate'), /[\r\n€]/);
  });

  test('a JWKS that cannot be fetched: 503 temporarily_unavailable, not a thrown Error', async () => {
    const token = await bearerToken();
    const failing = async () => new Response('down', { status: 502 });
    const err = await refusal(verify(rsRequest(`Bearer ${token}`), { jwksUri: 'https://unreachable.example/jwks', fetch: failing }));
    assert.equal(err.status, 503);
    assert.equal(err.error, 'temporarily_unavailable');
  });
});
