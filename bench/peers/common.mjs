// What the two peer token endpoints share: form and client_secret_basic
// parsing, a one-time jti/ID store, scope, and the access token — an RFC 9068
// JWT signed ES256 with `jose` (WebCrypto), with the same claims ours issues
// (iss sub aud exp iat jti client_id scope + mapped claims, typ at+jwt, kid).
// Deliberately minimal: it exists to be measured against, not to be used.
import { SignJWT, importJWK } from 'jose';

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache', 'Content-Type': 'application/json;charset=UTF-8' };

export class PeerError extends Error {
  constructor(code, status = 400, description = undefined) {
    super(description ?? code);
    this.code = code;
    this.status = status;
  }
}

const errorResponse = (err) =>
  new Response(JSON.stringify({ error: err.code, error_description: err.message }), { status: err.status, headers: NO_STORE });

/** A peer's `handle(request)`: runs `token(request)`; a PeerError becomes its OAuth error response. */
export function handleWith(token) {
  return async (request) => {
    try {
      return await token(request);
    } catch (err) {
      if (err instanceof PeerError) return errorResponse(err);
      throw err;
    }
  };
}

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The shared parts, built once per isolate from the same configuration and signing key as ours. */
export async function createCommon(config, signingJwk) {
  const { d, x, y, kty, crv, kid } = typeof signingJwk === 'string' ? JSON.parse(signingJwk) : signingJwk;
  const signingKey = await importJWK({ kty, crv, x, y, d }, 'ES256');
  const tokenEndpoint = config.token_endpoint ?? `${config.issuer}/token`;
  const audiences = [config.issuer, tokenEndpoint, ...(config.audiences ?? [])];
  const lifetime = config.access_token?.lifetime_secs ?? 3600;
  const skew = config.clock_skew_secs ?? 60;
  const clients = new Map(config.clients.map((c) => [c.client_id, c]));
  const used = new Map(); // one-time ids → expiry (seconds)

  return {
    tokenEndpoint,
    audiences,
    skew,

    /** POST + form body → URLSearchParams; rejects anything else. */
    async form(request) {
      if (request.method !== 'POST') throw new PeerError('invalid_request', 405);
      const type = request.headers.get('content-type') ?? '';
      if (!type.startsWith('application/x-www-form-urlencoded')) throw new PeerError('invalid_request');
      return new URLSearchParams(await request.text());
    },

    /** client_secret_basic against the configured SHA-256 of the secret. */
    async client(request) {
      const header = request.headers.get('authorization') ?? '';
      if (!header.startsWith('Basic ')) throw new PeerError('invalid_client', 401);
      const decoded = atob(header.slice(6));
      const colon = decoded.indexOf(':');
      const id = decodeURIComponent(decoded.slice(0, colon));
      const secret = decodeURIComponent(decoded.slice(colon + 1));
      const client = clients.get(id);
      const digest = hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret)));
      if (client === undefined || !constantTimeEqual(digest, client.client_secret_sha256 ?? '')) {
        throw new PeerError('invalid_client', 401);
      }
      return client;
    },

    /** Claim a one-time id until `expiresAt`; false if already used. */
    claim(key, expiresAt) {
      const now = Date.now() / 1000;
      const held = used.get(key);
      if (held !== undefined && held > now) return false;
      used.set(key, expiresAt);
      return true;
    },
    resetReplay() {
      used.clear();
    },

    /**
     * Requested ∩ client ∩ issuer ceiling (no request: client ∩ ceiling);
     * `assertionScope` (an ID-JAG's scope), when given, is one more ceiling.
     */
    scope(requested, client, issuer, assertionScope = undefined) {
      const ceiling = new Set((issuer.scope ?? '').split(' ').filter(Boolean));
      const granted = assertionScope === undefined ? undefined : new Set(assertionScope.split(' ').filter(Boolean));
      const allowed = (client.scope ?? '').split(' ').filter((s) => s && ceiling.has(s) && (granted === undefined || granted.has(s)));
      if (requested === null) return allowed.join(' ');
      const want = requested.split(' ').filter(Boolean);
      if (want.some((s) => !allowed.includes(s))) throw new PeerError('invalid_scope');
      return want.join(' ');
    },

    async issue({ sub, client, scope, claims }) {
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ ...claims, client_id: client.client_id, scope, jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .setIssuer(config.issuer)
        .setSubject(sub)
        .setAudience(config.access_token.audience)
        .setIssuedAt(now)
        .setExpirationTime(now + lifetime)
        .sign(signingKey);
      const body = { access_token: token, token_type: 'Bearer', expires_in: lifetime };
      if (scope) body.scope = scope;
      return new Response(JSON.stringify(body), { status: 200, headers: NO_STORE });
    },
  };
}

/** Copies mapped claims (access-token name ← assertion name) from a lookup. */
export function mapClaims(mapping = {}, lookup) {
  const out = {};
  for (const [to, from] of Object.entries(mapping)) {
    const v = lookup(from);
    if (v !== undefined) out[to] = v;
  }
  return out;
}
