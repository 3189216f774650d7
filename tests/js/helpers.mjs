// Shared helpers for the JS tests: file locations, vector loading, JWT minting
// and access-token verification with WebCrypto (no dependencies).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PKG = join(ROOT, 'pkg');
export const VECTORS = join(ROOT, 'tests/vectors/jwt');

// Protocol constants from the core (js/constants.js is generated from src/protocol.rs).
import {
  CLIENT_ASSERTION_JWT_BEARER,
  CLIENT_ASSERTION_SAML2_BEARER,
  JWT_BEARER,
  SAML2_BEARER,
} from '../../js/constants.js';

export { JWT_BEARER, SAML2_BEARER };
export const CLIENT_ASSERTION_TYPE = CLIENT_ASSERTION_JWT_BEARER;
/** The vectors' fixed clock, unless vectors.json says otherwise. */
export const VECTOR_NOW = 1800000000;

/** Fail loudly (never skip) when a build product or vector file is missing. */
export function requireFile(path, hint) {
  if (!existsSync(path)) {
    throw new Error(`missing ${path}\n  ${hint}`);
  }
  return path;
}

export function readJson(path, hint = 'the JWT test vectors are generated into tests/vectors/jwt/ (see its README/script)') {
  requireFile(path, hint);
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** Import the built npm package (pkg/index.js); throws if it was not built. */
export async function importPkg() {
  requireFile(join(PKG, 'index.js'), 'build it first: npm run build:pkg');
  requireFile(join(PKG, 'assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
  const pkg = await import(new URL('../../pkg/index.js', import.meta.url).href);
  await pkg.ready();
  return pkg;
}

export function loadConfig() {
  return readJson(join(VECTORS, 'config.json'));
}

/** vectors.json: an array of vectors (or {now?, vectors: [...]}) → { now, vectors }. */
export function loadVectors() {
  const data = readJson(join(VECTORS, 'vectors.json'));
  const vectors = Array.isArray(data) ? data : data.vectors;
  assert.ok(Array.isArray(vectors) && vectors.length > 0, 'vectors.json holds no vectors');
  const now = !Array.isArray(data) && typeof data.now === 'number' ? data.now : VECTOR_NOW;
  return { now, vectors };
}

/** replay.json: scenarios [{name, description, now, requests: [{assertion, client, expect}]}]. */
export function loadReplayScenarios() {
  const data = readJson(join(VECTORS, 'replay.json'));
  assert.ok(Array.isArray(data) && data.length > 0, 'replay.json holds no scenarios');
  for (const scenario of data) {
    assert.ok(Array.isArray(scenario.requests) && scenario.requests.length >= 2, `replay.json: ${scenario.name} has < 2 requests`);
  }
  return data;
}

/** config_invalid/manifest.json: [{file, path_prefix, description}] with each file's config. */
export function loadInvalidConfigs() {
  const dir = join(VECTORS, 'config_invalid');
  return readJson(join(dir, 'manifest.json')).map((entry) => ({
    ...entry,
    config: readFileSync(requireFile(join(dir, entry.file), 'listed in config_invalid/manifest.json'), 'utf8'),
  }));
}

/** Every private JWK under tests/vectors/jwt/keys/, by kid. */
export function loadPrivateKeys() {
  const dir = requireFile(join(VECTORS, 'keys'), 'the JWT vector keys are generated with the vectors');
  const byKid = new Map();
  const add = (jwk) => {
    if (jwk && typeof jwk === 'object' && typeof jwk.kty === 'string' && typeof jwk.d === 'string' && jwk.kid) {
      byKid.set(jwk.kid, jwk);
    }
  };
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.json')) {
        let value;
        try {
          value = JSON.parse(readFileSync(path, 'utf8'));
        } catch {
          continue;
        }
        if (Array.isArray(value?.keys)) value.keys.forEach(add);
        else add(value);
      }
    }
  };
  walk(dir);
  return byKid;
}

export const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const b64urlJson = (value) => b64url(Buffer.from(JSON.stringify(value), 'utf8'));
export const fromB64urlJson = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

function algorithmFor(jwk, alg) {
  if (alg === 'ES256') return { import: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } };
  const hash = `SHA-${alg.slice(2)}`;
  if (alg.startsWith('RS')) return { import: { name: 'RSASSA-PKCS1-v1_5', hash }, sign: { name: 'RSASSA-PKCS1-v1_5' } };
  if (alg.startsWith('PS')) return { import: { name: 'RSA-PSS', hash }, sign: { name: 'RSA-PSS', saltLength: Number(alg.slice(2)) / 8 } };
  throw new Error(`unsupported alg ${alg} for ${jwk.kid}`);
}

/** Sign a compact JWS with a private JWK (ES256 gives 64-byte r||s, as JWS wants). */
export async function signJwt(privateJwk, claims, headerExtra = {}) {
  const alg = headerExtra.alg ?? privateJwk.alg ?? (privateJwk.kty === 'EC' ? 'ES256' : 'RS256');
  const header = { alg, typ: 'JWT', kid: privateJwk.kid, ...headerExtra };
  const algo = algorithmFor(privateJwk, alg);
  const { alg: _a, key_ops: _k, use: _u, ...jwk } = privateJwk;
  const key = await crypto.subtle.importKey('jwk', jwk, algo.import, false, ['sign']);
  const input = `${b64urlJson(header)}.${b64urlJson(claims)}`;
  const signature = await crypto.subtle.sign(algo.sign, key, Buffer.from(input, 'utf8'));
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/**
 * Verify an access token against a JWK Set with WebCrypto: ES256, typ at+jwt,
 * kid naming a published key. Returns { header, claims }.
 */
export async function verifyAccessToken(token, jwks) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, 'access token is not a compact JWS');
  const header = fromB64urlJson(parts[0]);
  const claims = fromB64urlJson(parts[1]);
  assert.equal(header.alg, 'ES256');
  assert.ok(['at+jwt', 'application/at+jwt'].includes(header.typ), `typ ${header.typ}`);
  assert.equal(typeof header.kid, 'string');
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} not in JWKS ${JSON.stringify(jwks.keys.map((k) => k.kid))}`);
  assert.equal(jwk.d, undefined, 'JWKS publishes a private key');
  const { alg: _a, key_ops: _k, use: _u, ...publicJwk } = jwk;
  const key = await crypto.subtle.importKey('jwk', publicJwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  const ok = await crypto.subtle.verify(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    Buffer.from(parts[2], 'base64url'),
    Buffer.from(`${parts[0]}.${parts[1]}`, 'utf8'),
  );
  assert.ok(ok, 'access token signature does not verify against the JWKS');
  return { header, claims };
}

const formEncode = (value) => new URLSearchParams([['', value]]).toString().slice(1);

export function basicAuth(id, secret) {
  return `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`, 'utf8').toString('base64')}`;
}

/**
 * Form fields and headers for a vector's `client` spec: `basic` / `post`
 * `[id, secret]`, `private_key_jwt` (+ `client_id`), `saml_client_assertion`
 * (XML, + `client_id`), `none` (a client_id) or `anonymous`.
 */
export function clientParts(client = { anonymous: true }) {
  const form = [];
  const headers = {};
  if (client.basic) headers.Authorization = basicAuth(client.basic[0], client.basic[1]);
  else if (client.post) form.push(['client_id', client.post[0]], ['client_secret', client.post[1]]);
  else if (client.private_key_jwt) {
    form.push(['client_assertion_type', CLIENT_ASSERTION_JWT_BEARER], ['client_assertion', client.private_key_jwt]);
    if (client.client_id !== undefined) form.push(['client_id', client.client_id]);
  } else if (client.saml_client_assertion) {
    form.push(
      ['client_assertion_type', CLIENT_ASSERTION_SAML2_BEARER],
      ['client_assertion', Buffer.from(client.saml_client_assertion, 'utf8').toString('base64url')],
    );
    if (client.client_id !== undefined) form.push(['client_id', client.client_id]);
  } else if (client.none) form.push(['client_id', client.none]);
  else if (!client.anonymous) throw new Error(`unknown client spec ${JSON.stringify(client)}`);
  return { form, headers };
}

/**
 * The one request builder of the JS tests: form body and headers for a
 * vector. A JWT vector carries `assertion` (and maybe `grant_type`); a SAML
 * vector carries `xml` (sent base64url) and defaults to the basic client.
 */
export function vectorParts(vector) {
  const saml = vector.xml !== undefined;
  const { form, headers } = clientParts(vector.client ?? (saml ? { basic: ['basic-client', 'basic-secret'] } : undefined));
  const body = new URLSearchParams([['grant_type', vector.grant_type ?? (saml ? SAML2_BEARER : JWT_BEARER)]]);
  const assertion = saml ? Buffer.from(vector.xml, 'utf8').toString('base64url') : vector.assertion;
  if (assertion !== undefined) body.append('assertion', assertion);
  if (vector.scope !== undefined) body.append('scope', vector.scope);
  for (const [k, v] of form) body.append(k, v);
  return { body: body.toString(), headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers } };
}

/**
 * The one vector check of the JS tests: what differs between a vector's (or
 * replay step's) `expect` and an answer `{ status, body }` (body parsed),
 * or undefined. Errors: the RFC code, the pinned description if any, and a
 * public body of exactly `error` and `error_description` (reason codes never
 * leave the core). Successes: a Bearer token (claims are checked by the
 * runners that can verify the token).
 */
export function vectorMismatch(expect, { status, body }) {
  const got = `got ${status} ${JSON.stringify(body).slice(0, 160)}`;
  if (status !== expect.status) return `status: expected ${expect.status}, ${got}`;
  if (status === 200) {
    return body?.token_type === 'Bearer' && body.access_token !== undefined ? undefined : `not a token response: ${got}`;
  }
  if (body?.error !== expect.error) return `error: expected ${expect.error}, ${got}`;
  const members = Object.keys(body ?? {}).sort().join(',');
  if (members !== 'error,error_description') return `public error members ${members}: ${got}`;
  if (expect.error_description !== undefined && body.error_description !== expect.error_description) {
    return `pinned description: expected ${JSON.stringify(expect.error_description)}, ${got}`;
  }
  return undefined;
}

/** A token request for a vector (see vectorParts): POST url. */
export function vectorRequest(vector, url) {
  const { body, headers } = vectorParts(vector);
  return new Request(url, { method: 'POST', headers, body });
}

/** exchange() parameters for a vector. */
export function vectorExchangeParams(vector) {
  const params = { assertion: vector.assertion };
  if (vector.grant_type !== undefined) params.grantType = vector.grant_type;
  if (vector.scope !== undefined) params.scope = vector.scope;
  const c = vector.client ?? { anonymous: true };
  if (c.basic) Object.assign(params, { clientId: c.basic[0], clientSecret: c.basic[1], clientAuth: 'basic' });
  else if (c.post) Object.assign(params, { clientId: c.post[0], clientSecret: c.post[1], clientAuth: 'post' });
  else if (c.private_key_jwt) {
    params.clientAssertion = c.private_key_jwt;
    if (c.client_id !== undefined) params.clientId = c.client_id;
  } else if (c.none) params.clientId = c.none;
  return params;
}

/** The three headers every token response (success or error) must carry. */
export function assertTokenResponseHeaders(response, context = '') {
  const h = response.headers;
  assert.equal(h.get('cache-control'), 'no-store', `${context} Cache-Control`);
  assert.equal(h.get('pragma'), 'no-cache', `${context} Pragma`);
  assert.match(h.get('content-type') ?? '', /^application\/json;\s*charset=utf-8$/i, `${context} Content-Type`);
}

/** Paths the endpoint serves for a configuration (same defaults as the core). */
export function endpointPaths(config) {
  const issuer = config.issuer.replace(/\/$/, '');
  const tokenEndpoint = config.token_endpoint ?? `${issuer}/token`;
  const jwksUri = config.jwks_uri ?? `${issuer}/.well-known/jwks.json`;
  const issuerPath = new URL(config.issuer).pathname.replace(/\/$/, '');
  return {
    tokenEndpoint,
    jwksUri,
    token: new URL(tokenEndpoint).pathname,
    jwks: new URL(jwksUri).pathname,
    metadata: `/.well-known/oauth-authorization-server${issuerPath}`,
  };
}

/** A fresh JWT assertion from the demo IdP (demo/demo-idp.private.jwk.json) for the demo config. */
export async function mintDemoAssertion() {
  const idpKey = JSON.parse(readFileSync(join(ROOT, 'demo/demo-idp.private.jwk.json'), 'utf8'));
  const t = Math.floor(Date.now() / 1000);
  return signJwt(idpKey, {
    iss: 'https://demo-idp.example',
    sub: 'demo-user@example.com',
    aud: 'http://127.0.0.1:8787/token',
    iat: t,
    exp: t + 300,
    jti: crypto.randomUUID(),
    email: 'demo-user@example.com',
    groups: ['readers'],
  });
}
