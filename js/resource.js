// verifyAccessToken: the resource server's side. Checks one of our RFC 9068
// access tokens against our JWKS (WebCrypto), and for a DPoP-bound token
// (`cnf.jkt`) the request's DPoP proof (RFC 9449 §7) — its rules are the
// core's own (the wasm `DpopProofCheck`, the code the token endpoint runs),
// its signature is checked with WebCrypto.

import { assertReady, guarded, wasm } from './runtime.js';
import { MemoryReplayStore } from './replay.js';
import { ECDSA_P256, ECDSA_SHA256, SUBTLE, importProofKey, verifyWith, webCryptoAlgorithm } from './webcrypto.js';

const DEFAULT_DPOP_ALGORITHMS = Object.freeze(['ES256', 'PS256', 'RS256']);
/** A JWKS fetched from `jwksUri` is used this long before it is fetched again (seconds). */
const JWKS_FRESH_SECS = 300;
/** An unknown `kid` refetches the JWKS at most this often (seconds). */
const JWKS_REFETCH_COOLDOWN_SECS = 30;
/** Largest access token accepted (bytes). */
const MAX_TOKEN_BYTES = 16 * 1024;

/**
 * A refused access token (RFC 6750 §3.1, RFC 9449 §7.1): `status` 401 (or
 * 400/403), the `error` code (`invalid_token`, `invalid_request`,
 * `insufficient_scope`, `invalid_dpop_proof`, `use_dpop_nonce`; undefined
 * when the request had no credentials at all), and the `WWW-Authenticate`
 * value to answer with. `response()` builds that answer.
 */
export class AccessTokenError extends Error {
  constructor(status, error, description, wwwAuthenticate) {
    super(error === undefined ? description : `${error}: ${description}`);
    this.name = 'AccessTokenError';
    this.status = status;
    this.error = error;
    this.description = description;
    this.wwwAuthenticate = wwwAuthenticate;
  }

  /** The HTTP answer: status, `WWW-Authenticate`, `Cache-Control: no-store`, no body. */
  response() {
    return new Response(null, {
      status: this.status,
      headers: { 'WWW-Authenticate': this.wwwAuthenticate, 'Cache-Control': 'no-store' },
    });
  }
}

const jwksCache = new Map(); // jwksUri → { keys: Map<kid, jwk>, fetchedAt }
const defaultProofStore = new MemoryReplayStore();

function b64urlBytes(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function b64urlJson(text) {
  const bytes = b64urlBytes(text);
  if (bytes === undefined) return undefined;
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A quoted-string for WWW-Authenticate: printable ASCII only (no quote, backslash, CR, LF). */
function quoted(text) {
  return `"${String(text).replace(/[^\x20-\x7e]|["\\]/g, '?')}"`;
}

/** A non-negative finite number of seconds, or a TypeError: never a comparison that fails open. */
function seconds(value, name) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`assertion-grant: ${name} must be a non-negative number of seconds, got ${String(value)}`);
  }
  return value;
}

/**
 * Verifies the access token a request carries (`Authorization: Bearer …`
 * or `Authorization: DPoP …` with a `DPoP` proof) and resolves with its
 * claims; rejects with an {@link AccessTokenError}.
 *
 * @param {Request} request the request to the protected resource
 * @param {{
 *   issuer: string,
 *   audience: string,
 *   jwks?: { keys: object[] },
 *   jwksUri?: string,
 *   fetch?: typeof fetch,
 *   now?: () => number,
 *   clockSkewSecs?: number,
 *   requiredScope?: string | string[],
 *   url?: string,
 *   dpop?: { required?: boolean, maxAgeSecs?: number, algorithms?: string[], replayStore?: { claim(key: string, expiresAt: number, partition?: string): boolean | Promise<boolean> } },
 * }} options
 * @returns {Promise<{ claims: Record<string, unknown>, token: string, scheme: 'Bearer' | 'DPoP', dpop?: { jkt: string } }>}
 */
export async function verifyAccessToken(request, options) {
  assertReady('verifyAccessToken()');
  const {
    issuer,
    audience,
    jwks,
    jwksUri,
    fetch: fetchFn = globalThis.fetch,
    now = () => Date.now() / 1000,
    clockSkewSecs = 60,
    requiredScope,
    url = request.url,
    dpop = {},
  } = options ?? {};
  if (typeof issuer !== 'string' || typeof audience !== 'string') {
    throw new TypeError('assertion-grant: verifyAccessToken needs options.issuer and options.audience (strings)');
  }
  if (jwks === undefined && jwksUri === undefined) {
    throw new TypeError('assertion-grant: verifyAccessToken needs options.jwks or options.jwksUri');
  }
  const algorithms = dpop.algorithms ?? DEFAULT_DPOP_ALGORITHMS;
  const maxAge = seconds(dpop.maxAgeSecs ?? 300, 'dpop.maxAgeSecs');
  const skew = seconds(clockSkewSecs, 'clockSkewSecs');
  const challenge = (scheme, error, description) => {
    const parts = [];
    if (scheme === 'DPoP') parts.push(`algs=${quoted(algorithms.join(' '))}`);
    if (error !== undefined) parts.push(`error=${quoted(error)}`, `error_description=${quoted(description)}`);
    return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
  };
  // Both schemes are offered when the request gave no usable credentials.
  const refuse = (status, error, description, scheme) => {
    const value =
      scheme === undefined
        ? `${challenge('Bearer', error, description)}, ${challenge('DPoP', error, description)}`
        : challenge(scheme, error, description);
    return new AccessTokenError(status, error, description, value);
  };

  const authorization = request.headers.get('authorization');
  if (authorization === null) throw refuse(401, undefined, 'no access token', undefined);
  const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
  if (match === null) throw refuse(400, 'invalid_request', 'the Authorization header is not a Bearer or DPoP access token', undefined);
  const scheme = match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
  const token = match[2];
  const invalid = (description) => refuse(401, 'invalid_token', description, scheme);

  // The token: an ES256 JWS, typ at+jwt (RFC 9068 §4), signed by a key of our JWKS.
  if (token.length > MAX_TOKEN_BYTES) throw invalid('the access token is too large');
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid('the access token is not a JWT');
  const header = b64urlJson(parts[0]);
  const claims = b64urlJson(parts[1]);
  const signature = b64urlBytes(parts[2]);
  if (header === undefined || claims === undefined || signature === undefined) throw invalid('the access token is not a JWT');
  if (header.alg !== 'ES256' || typeof header.kid !== 'string' || 'crit' in header) throw invalid('the access token is not signed as this server signs');
  if (typeof header.typ !== 'string' || !/^(application\/)?at\+jwt$/i.test(header.typ)) throw invalid('the token is not an RFC 9068 access token (typ at+jwt)');
  const clock = now();
  if (typeof clock !== 'number' || !Number.isFinite(clock)) throw new TypeError('assertion-grant: now() must return seconds since the epoch');
  let key;
  try {
    key = await signingKey(header.kid, { jwks, jwksUri, fetchFn, clock });
  } catch (err) {
    throw refuse(503, 'temporarily_unavailable', `the access-token keys could not be fetched: ${err?.message ?? err}`, scheme);
  }
  if (key === undefined) throw invalid('the access token is signed by an unknown key');
  const message = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  if (!(await verifyWith({ kty: 'EC', verifyAs: ECDSA_SHA256 }, key, message, signature))) throw invalid('the access token signature is invalid');

  // RFC 9068 §4: iss, aud, exp (and nbf, iat) on the verified claims.
  if (claims.iss !== issuer) throw invalid('the access token is from another issuer');
  const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!auds.includes(audience)) throw invalid('the access token is not for this resource');
  // Written to fail closed: a comparison with NaN refuses.
  if (typeof claims.exp !== 'number' || !(clock < claims.exp + skew)) throw invalid('the access token has expired');
  if (claims.nbf !== undefined && !(typeof claims.nbf === 'number' && claims.nbf - skew <= clock)) throw invalid('the access token is not valid yet');
  if (claims.iat !== undefined && !(typeof claims.iat === 'number' && claims.iat - skew <= clock)) throw invalid('the access token was issued in the future');
  if (typeof claims.sub !== 'string') throw invalid('the access token has no subject');

  // Sender constraint (RFC 9449 §7.1, §7.2).
  const jkt = claims.cnf !== null && typeof claims.cnf === 'object' ? claims.cnf.jkt : undefined;
  let bound;
  if (jkt !== undefined) {
    if (typeof jkt !== 'string') throw invalid('the access token has an unusable cnf');
    if (scheme !== 'DPoP') throw refuse(401, 'invalid_token', 'this access token is DPoP-bound: send it with the DPoP scheme and a proof', 'DPoP');
    // Proof jtis are charged to the token's client (else its subject), so
    // one client's keys cannot fill the store for every other client.
    const partition = typeof claims.client_id === 'string' ? `client:${claims.client_id}` : `sub:${claims.sub}`;
    bound = await checkProof(request, { url, token, jkt, clock, maxAge, skew, algorithms, store: dpop.replayStore ?? defaultProofStore, refuse, partition });
  } else if (scheme === 'DPoP') {
    throw invalid('this access token is not DPoP-bound: send it with the Bearer scheme');
  } else if (dpop.required) {
    throw refuse(401, 'invalid_token', 'this resource requires a DPoP-bound access token', 'DPoP');
  }

  if (requiredScope !== undefined) {
    const have = new Set(typeof claims.scope === 'string' ? claims.scope.split(' ') : []);
    const need = Array.isArray(requiredScope) ? requiredScope : requiredScope.split(' ').filter(Boolean);
    const missing = need.filter((s) => !have.has(s));
    if (missing.length > 0) {
      const e = refuse(403, 'insufficient_scope', `this resource needs scope ${need.join(' ')}`, scheme);
      e.wwwAuthenticate += `, scope=${quoted(need.join(' '))}`;
      throw e;
    }
  }
  return { claims, token, scheme, ...(bound === undefined ? {} : { dpop: { jkt: bound } }) };
}

/** The DPoP proof of a request (RFC 9449 §4.3, §7.1): rules in the core, signature with WebCrypto, jti once. */
async function checkProof(request, { url, token, jkt, clock, maxAge, skew, algorithms, store, refuse, partition }) {
  const bad = (description, error = 'invalid_dpop_proof') => refuse(401, error, description, 'DPoP');
  const header = request.headers.get('dpop');
  if (header === null) throw bad('a DPoP proof is required');
  if (header.includes(',')) throw bad('send exactly one DPoP proof');
  const rules = { method: request.method, uri: url, accessToken: token, nowSecs: clock, maxAgeSecs: maxAge, skewSecs: skew, algorithms: [...algorithms] };
  const check = guarded(() => new wasm.DpopProofCheck(header.trim(), rules));
  let result;
  try {
    const sig = check.signatureCheck;
    let verified = false;
    if (sig !== undefined) {
      const spec = webCryptoAlgorithm(sig.alg);
      const key = spec === undefined ? null : await importProofKey(sig.jwk, spec);
      verified = key !== null && (await verifyWith(spec, key, sig.message, sig.signature));
    }
    result = guarded(() => check.finish(verified));
  } finally {
    check.free();
  }
  if (!result.ok) throw bad(result.refusal.description, result.refusal.error);
  const proof = result.proof;
  if (proof.jkt !== jkt) throw bad("the DPoP proof's key is not the one the access token is bound to");
  let claimed;
  try {
    claimed = await store.claim(proof.replayKey, proof.expiresAt, partition);
  } catch {
    throw refuse(503, 'temporarily_unavailable', 'the DPoP replay store is unavailable', 'DPoP');
  }
  if (claimed !== true) throw bad('the DPoP proof has already been used');
  return proof.jkt;
}

/** Our signing key with `kid`, as a WebCrypto key: from `jwks`, or `jwksUri` (cached; an unknown kid refetches at most every 30 s). */
async function signingKey(kid, { jwks, jwksUri, fetchFn, clock }) {
  let set;
  if (jwks !== undefined) {
    set = jwks;
  } else {
    let entry = jwksCache.get(jwksUri);
    const stale = entry === undefined || clock - entry.fetchedAt >= JWKS_FRESH_SECS;
    const unknown = entry !== undefined && !entry.set.keys?.some?.((k) => k?.kid === kid);
    if (stale || (unknown && clock - entry.fetchedAt >= JWKS_REFETCH_COOLDOWN_SECS)) {
      try {
        const response = await fetchFn(jwksUri, { headers: { accept: 'application/json' } });
        if (!response.ok) throw new Error(`${jwksUri} answered ${response.status}`);
        const set = await response.json();
        if (!Array.isArray(set?.keys)) throw new Error(`${jwksUri} is not a JWK Set`);
        entry = { set, fetchedAt: clock };
        jwksCache.set(jwksUri, entry);
      } catch (err) {
        // The last good set keeps serving (its keys still verify what they signed).
        if (entry === undefined) throw err;
      }
    }
    set = entry.set;
  }
  const jwk = Array.isArray(set?.keys) ? set.keys.find((k) => k?.kid === kid && k.kty === 'EC' && k.crv === 'P-256') : undefined;
  if (jwk === undefined) return undefined;
  try {
    return await SUBTLE.importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, ECDSA_P256, false, ['verify']);
  } catch {
    return undefined;
  }
}
