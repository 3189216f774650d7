// assertion-grant Cloudflare Worker: the token endpoint, metadata and JWKS,
// with one-time use of assertion IDs enforced by a Durable Object per key.
//
// env.AG_CONFIG       configuration, JSON text (or an object from [vars])
// env.AG_SIGNING_KEY  secret: private EC P-256 JWK or {"keys":[...]}
// env.REPLAY          Durable Object namespace bound to ReplayGuard
import { DurableObject } from 'cloudflare:workers';
// The slim build (scripts/build-pkg.sh): WebCrypto verifies and signs, and the
// module carries no pure-Rust signature code (smaller, faster cold start).
import wasm from '../pkg/slim/assertion_grant_bg.wasm';
import { initSync, TokenEndpoint, demoConfig, errorResponse } from '../pkg/slim/index.js';

const REPLAY_MARGIN_SECS = 60;

const NO_STORE_JSON = {
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
  'Content-Type': 'application/json;charset=UTF-8',
};

/** The core's 500 (every error response comes from the core). */
function serverError() {
  try {
    initSync(wasm);
  } catch {
    // the core could not load: errorResponse answers a bare 500
  }
  return errorResponse('server_error');
}

/** Replay store backed by one ReplayGuard Durable Object per key. */
class DurableObjectReplayStore {
  #namespace;

  constructor(namespace) {
    this.#namespace = namespace;
  }

  // The partition (third argument) is not needed here: every key has its
  // own object, so no client can crowd out another's entries.
  async claim(key, expiresAt) {
    const stub = this.#namespace.get(this.#namespace.idFromName(key));
    return (await stub.claim(expiresAt)) === true;
  }

  async has(key) {
    const stub = this.#namespace.get(this.#namespace.idFromName(key));
    return (await stub.has()) === true;
  }
}

// One endpoint per isolate, rebuilt only if the configuration text changes.
let cached;
let demoWarned = false;

function textOf(value) {
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Remove from `message` every long base64url run that occurs in the secret. */
function redact(message, secret) {
  if (secret === undefined) return message;
  return message.replace(/[A-Za-z0-9_-]{16,}/g, (run) => (secret.includes(run) ? '[redacted]' : run));
}

/**
 * The endpoint for this isolate (a promise: the signing key is imported into
 * WebCrypto, and the demo's ephemeral key generated there), rebuilt only when
 * the configuration text changes. Resolves to undefined when the
 * configuration is broken (logged once, by field path).
 */
function endpointFor(env) {
  const configText = textOf(env.AG_CONFIG);
  const keyText = textOf(env.AG_SIGNING_KEY);
  if (cached === undefined || cached.configText !== configText || cached.keyText !== keyText) {
    cached = { configText, keyText, endpoint: buildEndpoint(env, configText, keyText) };
  }
  return cached.endpoint;
}

async function buildEndpoint(env, configText, keyText) {
  try {
    if (env.REPLAY === undefined) {
      throw Object.assign(new Error('REPLAY: Durable Object binding missing (see wrangler.toml)'), { path: 'REPLAY' });
    }
    initSync(wasm);
    let config = configText;
    if (config === undefined && keyText !== undefined) {
      // A real signing key with the public demo trust (whose IdP key and
      // client secret are published) would let anyone mint tokens signed
      // by the production key: refuse.
      throw Object.assign(
        new Error('AG_CONFIG: not set while AG_SIGNING_KEY is; refusing to serve the demo configuration with a real key'),
        { path: 'AG_CONFIG' },
      );
    }
    if (config === undefined) {
      config = demoConfig();
      if (!demoWarned) {
        demoWarned = true;
        console.warn(
          'assertion-grant: AG_CONFIG is not set: serving the built-in DEMO configuration' +
            (keyText === undefined ? ' with an ephemeral signing key' : '') +
            '. Do not use this in production.',
        );
      }
    } else if (keyText === undefined) {
      // An ephemeral key per isolate would publish a different JWKS in every
      // isolate, so tokens would fail verification at random: refuse.
      throw Object.assign(new Error('AG_SIGNING_KEY: secret not set (wrangler secret put AG_SIGNING_KEY)'), {
        path: 'AG_SIGNING_KEY',
      });
    }
    const endpoint = new TokenEndpoint(config, {
      signingKeys: keyText ?? (await ephemeralSigningKey()),
      replayStore: new DurableObjectReplayStore(env.REPLAY),
      onError: (err) => console.error('assertion-grant: unexpected error:', err instanceof Error ? err.message : String(err)),
    });
    // A signing key WebCrypto refuses (or whose d does not match x, y) is a
    // configuration error too: found here, reported by path.
    await endpoint.ready();
    return endpoint;
  } catch (err) {
    // The path names the field; the message never contains the key material
    // (ConfigError messages are "<path>: <reason>").
    const path = typeof err?.path === 'string' && err.path !== '' ? err.path : 'unknown';
    const reason = redact(err instanceof Error ? err.message : String(err), keyText);
    console.error(`assertion-grant: configuration error at ${path}: ${reason}`);
    return undefined;
  }
}

/** The demo's per-isolate signing key, made by WebCrypto (local development only). */
async function ephemeralSigningKey() {
  const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', privateKey);
  // No kid: the thumbprint, different for every isolate's key.
  return { kty, crv, x, y, d, alg: 'ES256' };
}

/** Constant-time comparison of the presented admin token with the secret. */
async function adminTokenMatches(request, secret) {
  const header = request.headers.get('authorization') ?? '';
  const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
  const digest = async (text) => new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  const [a, b] = await Promise.all([digest(presented), digest(secret)]);
  let diff = presented.length === 0 ? 1 : 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

// Compared against when AG_ADMIN_TOKEN is unset or too short, so every
// unknown path costs the same two digests whether /explain exists or not.
const NO_ADMIN_TOKEN = 'assertion-grant: no admin token is configured';

/**
 * Whether this request may use /explain: POST, and the AG_ADMIN_TOKEN secret
 * (at least 16 characters) presented as a bearer token. Does the same work
 * whatever the answer.
 */
async function adminAuthorized(request, env) {
  const secret = typeof env.AG_ADMIN_TOKEN === 'string' && env.AG_ADMIN_TOKEN.length >= 16 ? env.AG_ADMIN_TOKEN : undefined;
  const matches = await adminTokenMatches(request, secret ?? NO_ADMIN_TOKEN);
  return secret !== undefined && matches && request.method === 'POST';
}

/**
 * POST /explain — operators only. Reached only when the AG_ADMIN_TOKEN secret
 * is set and the request carries it as a bearer token; otherwise the request
 * is answered exactly as any unknown path is (the endpoint's 404, same
 * headers, same work). The body is JSON describing the token request to
 * explain: {"body": "<form body>", "headers": {"authorization": "Basic …"},
 * "now"?: seconds}. It never consumes replay entries and never issues a token.
 */
async function explain(request, endpoint) {
  let input;
  try {
    input = await request.json();
  } catch {
    input = undefined;
  }
  if (input === null || typeof input !== 'object' || typeof input.body !== 'string') {
    return errorResponse('explain_input');
  }
  const headers = { 'content-type': 'application/x-www-form-urlencoded', ...(input.headers ?? {}) };
  const report = await endpoint.explain({ body: input.body, headers }, { now: typeof input.now === 'number' ? input.now : undefined });
  return new Response(JSON.stringify(report), { status: 200, headers: NO_STORE_JSON });
}

export default {
  async fetch(request, env) {
    const endpoint = await endpointFor(env);
    if (endpoint === undefined) return serverError();
    const path = new URL(request.url).pathname;
    const { token, metadata, jwks } = endpoint.paths;
    if (path === token || path === metadata || path === jwks) return endpoint.handle(request);
    // Every other path: the admin check runs (same cost everywhere); only an
    // authorized POST /explain is answered differently from an unknown path.
    if ((await adminAuthorized(request, env)) && path === '/explain') {
      try {
        return await explain(request, endpoint);
      } catch (err) {
        console.error('assertion-grant: explain failed:', err instanceof Error ? err.message : String(err));
        return serverError();
      }
    }
    return endpoint.handle(request);
  },
};

/**
 * One instance per replay key. A Durable Object processes one event at a time
 * and its storage calls hold the input gate, so get → put cannot interleave
 * with another claim of the same key: exactly one concurrent claim wins.
 */
export class ReplayGuard extends DurableObject {
  /**
   * @param {number} expiresAt seconds since the epoch
   * @returns {Promise<boolean>} true if the key was free and is now claimed
   */
  async claim(expiresAt) {
    if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) {
      throw new TypeError('ReplayGuard.claim: expiresAt must be seconds since the epoch');
    }
    const storage = this.ctx.storage;
    // Keep entries a minute past their expiry: the isolate that accepted the
    // assertion and this object may disagree slightly about the time.
    const keepUntil = expiresAt + REPLAY_MARGIN_SECS;
    const existing = await storage.get('keepUntil');
    if (existing !== undefined && existing > Date.now() / 1000) return false;
    await storage.put('keepUntil', keepUntil);
    await storage.setAlarm(keepUntil * 1000);
    return true;
  }

  /** Whether this key is claimed and unexpired (a read; never claims). */
  async has() {
    const keepUntil = await this.ctx.storage.get('keepUntil');
    return keepUntil !== undefined && keepUntil > Date.now() / 1000;
  }

  async alarm() {
    await this.ctx.storage.deleteAll();
  }
}
