// assertion-grant Cloudflare Worker: the token endpoint, metadata and JWKS,
// with one-time use of assertion IDs enforced by a Durable Object per key.
//
// env.AG_CONFIG_KV    optional KV namespace: the configuration under the key
//                     "config", re-read every config_refresh_secs (default 60)
// env.AG_CONFIG       configuration, JSON text (or an object from [vars]);
//                     Cloudflare caps a variable at 5 KB
// ag.config.json      configuration bundled at deploy (./bundled-config.js,
//                     written by scripts/bundle-config.mjs; see wrangler.toml)
// env.AG_SIGNING_KEY  secret: private EC P-256 JWK or {"keys":[...]}
// env.REPLAY_SHARDS   Durable Object namespace bound to ReplayShard: the
//                     replay store, 32 objects holding many keys each
//                     (worker/replay-shards.js)
// env.REPLAY          Durable Object namespace bound to ReplayGuard, one object
//                     per key: the previous layout, read only during an
//                     upgrade (AG_REPLAY_TRANSITION_UNTIL)
// env.AG_REPLAY_TRANSITION_UNTIL  seconds since the epoch: until then, claims
//                     go to both layouts (see README, "Upgrading")
// env.AG_REPLAY_SHARD_SECRET  secret (≥ 32 characters): replay keys are placed
//                     in shards by HMAC under it, so no client can aim its
//                     keys at one shard (recommended; changing it moves keys)
// env.FAMILIES        Durable Object namespace bound to RefreshFamily: one object
//                     per refresh-token family (without it, no refresh tokens)
// env.AG_DPOP_NONCE_SECRET  secret (≥ 32 characters): the key of stateless DPoP
//                     server nonces; required when the configuration sets
//                     dpop.require_nonce (the same value on every isolate)
// env.AG_METRICS      optional Workers Analytics Engine dataset: one data point
//                     per token-endpoint request (see README, "Logs and metrics")
// env.AG_LOG          "off": no JSON log line per request (default: on)
// env.AG_DEMO         "1": serve the public demo configuration when no
//                     configuration is set (npm start sets it; a deployment
//                     must not: anyone can mint demo assertions)
//
// Precedence: AG_CONFIG_KV (bound, and the key present) > AG_CONFIG >
// ag.config.json > the built-in demo (only with AG_DEMO=1 when none is set,
// and never with a real AG_SIGNING_KEY). worker/config-source.js decides which one serves and
// when KV is read again: the request that finds a re-read due waits for it;
// requests arriving meanwhile are served by the current endpoint; a new KV
// value replaces the running configuration only once an endpoint is built
// from it — an invalid one is logged by field path and the last good one
// keeps serving.
import { DurableObject } from 'cloudflare:workers';
// The slim build (scripts/build-pkg.sh): WebCrypto verifies and signs, and the
// module carries no pure-Rust signature code (smaller, faster cold start).
import wasm from '../pkg/slim/assertion_grant_bg.wasm';
import { initSync, TokenEndpoint, demoConfig, errorResponse } from '../pkg/slim/index.js';
// ag.config.json's text, or undefined. This file is a stand-in exporting
// undefined; wrangler builds replace it (wrangler.toml [alias]) with the
// module scripts/bundle-config.mjs writes ([build] command).
import bundledConfig from './bundled-config.js';
import { ConfigSource, textOf } from './config-source.js';
import { cacheApiKeySetCache } from './keyset-cache.js';
import { writeMetric } from './metrics.js';
import { ReplayShard, ShardedReplayStore, TransitionReplayStore } from './replay-shards.js';

// The replay store's Durable Object class (wrangler.toml: REPLAY_SHARDS).
export { ReplayShard };

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
export class DurableObjectReplayStore {
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

/**
 * The replay store: the ReplayShard objects; during an upgrade from the
 * per-key layout (AG_REPLAY_TRANSITION_UNTIL in the future and REPLAY bound),
 * claims go to both, so a key claimed by the previous version is still
 * refused. Decided per call: the transition ends on time in a running isolate.
 */
function replayStoreOf(env) {
  const secret = textOf(env.AG_REPLAY_SHARD_SECRET);
  if (secret !== undefined && secret.length < 32) {
    throw Object.assign(new Error('AG_REPLAY_SHARD_SECRET: at least 32 characters (openssl rand -base64 48)'), { path: 'AG_REPLAY_SHARD_SECRET' });
  }
  const shards = new ShardedReplayStore(env.REPLAY_SHARDS, { secret });
  const untilText = textOf(env.AG_REPLAY_TRANSITION_UNTIL);
  if (untilText === undefined) return shards;
  const until = Number(untilText);
  // Seconds since the epoch, at most 30 days ahead: anything else is a typo
  // that would silently end (or never end) the transition.
  if (!/^\d{9,11}$/.test(untilText.trim()) || until > Date.now() / 1000 + 30 * 86400) {
    throw Object.assign(new Error('AG_REPLAY_TRANSITION_UNTIL: seconds since the epoch, at most 30 days ahead'), {
      path: 'AG_REPLAY_TRANSITION_UNTIL',
    });
  }
  if (env.REPLAY === undefined) {
    throw Object.assign(new Error('AG_REPLAY_TRANSITION_UNTIL: needs the REPLAY binding (the previous layout) in wrangler.toml'), {
      path: 'AG_REPLAY_TRANSITION_UNTIL',
    });
  }
  const both = new TransitionReplayStore(new DurableObjectReplayStore(env.REPLAY), shards);
  const current = () => (Date.now() / 1000 < until ? both : shards);
  return {
    claim: (key, expiresAt, partition) => current().claim(key, expiresAt, partition),
    has: (key) => current().has(key),
  };
}

/**
 * Refresh-token families, one Durable Object per family (the family id is the
 * object's name): reads, and compare-and-swap writes that the object runs
 * one at a time — so two isolates refreshing one token at once cannot both win.
 */
class DurableObjectFamilyStore {
  #namespace;

  constructor(namespace) {
    this.#namespace = namespace;
  }

  async get(family) {
    const stub = this.#namespace.get(this.#namespace.idFromName(family));
    const state = await stub.read();
    return typeof state === 'string' ? state : undefined;
  }

  async swap(write) {
    const stub = this.#namespace.get(this.#namespace.idFromName(write.family));
    return (await stub.swap(write.expectedVersion, write.version, write.state, write.forgetAt)) === true;
  }
}

let demoWarned = false;

// One endpoint per isolate, rebuilt only when the configuration (or key) text
// changes; with AG_CONFIG_KV, KV is re-read as config-source.js describes.
// Configuration errors are logged there, once, by field path (key material
// and secrets redacted).
const configs = new ConfigSource({ build: buildEndpoint });

/**
 * The endpoint for one configuration text (undefined: the demo) and signing
 * key text. Throws an error with `.path` when either is unusable.
 */
async function buildEndpoint({ env, configText, keyText }) {
  if (env.REPLAY_SHARDS === undefined) {
    throw Object.assign(new Error('REPLAY_SHARDS: Durable Object binding missing (see wrangler.toml)'), { path: 'REPLAY_SHARDS' });
  }
  initSync(wasm);
  let config = configText;
  if (config === undefined && keyText !== undefined) {
    // A real signing key with the public demo trust (whose IdP key and
    // client secret are published) would let anyone mint tokens signed
    // by the production key: refuse.
    throw Object.assign(
      new Error(
        'AG_CONFIG: not set (nor AG_CONFIG_KV, nor ag.config.json) while AG_SIGNING_KEY is; refusing to serve the demo configuration with a real key',
      ),
      { path: 'AG_CONFIG' },
    );
  }
  if (config === undefined && !demoOptIn(env)) {
    // An unconfigured deployment must not serve the public demo trust (its
    // IdP key and client secret are published): only `npm start` opts in.
    throw Object.assign(
      new Error(
        'AG_CONFIG: no configuration (set AG_CONFIG, AG_CONFIG_KV or ag.config.json; AG_DEMO=1 serves the public demo, for local development only)',
      ),
      { path: 'AG_CONFIG' },
    );
  }
  if (config === undefined) {
    config = demoConfig();
    if (!demoWarned) {
      demoWarned = true;
      console.warn(
        'assertion-grant: AG_CONFIG is not set (nor AG_CONFIG_KV, nor ag.config.json): serving the built-in DEMO configuration' +
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
    replayStore: replayStoreOf(env),
    dpopNonceSecret: typeof env.AG_DPOP_NONCE_SECRET === 'string' ? env.AG_DPOP_NONCE_SECRET : undefined,
    // Refresh tokens only with the FAMILIES binding: a per-isolate store would
    // let a rotated token live on in another isolate.
    refreshTokens: env.FAMILIES === undefined ? false : { store: new DurableObjectFamilyStore(env.FAMILIES) },
    onError: (err) => console.error('assertion-grant: unexpected error:', err instanceof Error ? err.message : String(err)),
    // One JSON line per token, revocation and introspection request (Workers
    // Logs / wrangler tail), and a data point when AG_METRICS is bound.
    log:
      env.AG_LOG === 'off' && env.AG_METRICS === undefined
        ? undefined
        : (entry) => {
            if (env.AG_LOG !== 'off') console.log(JSON.stringify(entry));
            writeMetric(env.AG_METRICS, entry);
          },
    // Key sets named by jwks_uri / saml_metadata_url: global fetch, cached per
    // isolate by the endpoint and shared across the colo's isolates through
    // the Cache API, so a colo fetches a key set once, not once per isolate.
    keySets: { cache: cacheApiKeySetCache(), onKeySet: logKeySet },
  });
  // A signing key WebCrypto refuses (or whose d does not match x, y) is a
  // configuration error too: found here, reported by path.
  await endpoint.ready();
  return endpoint;
}

/**
 * A key-set report worth an operator's attention (a document the core did not
 * accept, or a shared-cache failure) as one JSON log line; stale keys keep
 * serving meanwhile, so this line is how an IdP's broken key set is noticed.
 */
function logKeySet(report) {
  if (report.accepted && report.cacheError === undefined) return;
  const line = { event: 'key_set', url: report.url, accepted: Boolean(report.accepted) };
  if (report.error !== undefined) line.error = String(report.error);
  if (report.cacheError !== undefined) line.cache_error = String(report.cacheError);
  console.warn(JSON.stringify(line));
}

/** Whether the environment opts in to the public demo: AG_DEMO is "1" or "true". */
function demoOptIn(env) {
  const value = env.AG_DEMO;
  return value === '1' || value === 'true' || value === 1 || value === true;
}

/** The demo's per-isolate signing key, made by WebCrypto (local development only). */
async function ephemeralSigningKey() {
  const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', privateKey);
  // No kid: the thumbprint, different for every isolate's key.
  return { kty, crv, x, y, d, alg: 'ES256' };
}

const issuerHosts = new WeakMap();
let workersDevWarned = false;

/**
 * Whether `url` reaches the Worker on a *.workers.dev hostname (or preview
 * URL) while its issuer lives elsewhere (a custom domain): such requests get
 * the 404 of an unknown path. With `workers_dev = true` left on beside a
 * custom domain, production would otherwise answer on a second hostname
 * that bypasses the zone's WAF, rate limiting and access rules.
 */
function offIssuerWorkersDev(url, endpoint) {
  // A fully qualified name (trailing dot) is the same host.
  const hostname = url.hostname.toLowerCase().replace(/\.$/, '');
  if (!hostname.endsWith('.workers.dev')) return false;
  let host = issuerHosts.get(endpoint);
  if (host === undefined) {
    host = new URL(endpoint.metadata().issuer).hostname.toLowerCase().replace(/\.$/, '');
    issuerHosts.set(endpoint, host);
  }
  if (hostname === host) return false;
  if (!workersDevWarned) {
    workersDevWarned = true;
    console.warn(
      JSON.stringify({
        event: 'workers_dev_refused',
        message: `requests to ${url.hostname} get 404: the issuer is ${host}; set workers_dev = false in wrangler.toml`,
      }),
    );
  }
  return true;
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
  async fetch(request, env, ctx) {
    const endpoint = await configs.endpoint(env, { bundledText: bundledConfig, waitUntil: (p) => ctx?.waitUntil(p) });
    if (endpoint === undefined) return serverError();
    const url = new URL(request.url);
    if (offIssuerWorkersDev(url, endpoint)) return errorResponse('not_found');
    const path = url.pathname;
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
 * The previous replay layout: one instance per replay key (kept for upgrades,
 * see replayStoreOf; new deployments create none). A Durable Object processes one event at a time
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

/**
 * One refresh-token family: its record (JSON from the core), its version,
 * and an alarm that deletes it at `forgetAt`. A Durable Object runs one
 * request's storage calls without interleaving another's (input gates), so
 * read → compare → write is atomic: of concurrent swaps from one version,
 * exactly one succeeds.
 */
export class RefreshFamily extends DurableObject {
  /** @returns {Promise<string | undefined>} the record, unless expired */
  async read() {
    const forgetAt = await this.ctx.storage.get('forgetAt');
    if (forgetAt === undefined || forgetAt <= Date.now() / 1000) return undefined;
    return this.ctx.storage.get('state');
  }

  /**
   * Writes `state` (version `version`, kept until `forgetAt` seconds) if the
   * stored version is `expectedVersion` (0: nothing stored).
   * @returns {Promise<boolean>}
   */
  async swap(expectedVersion, version, state, forgetAt) {
    for (const [name, value] of [['expectedVersion', expectedVersion], ['version', version], ['forgetAt', forgetAt]]) {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`RefreshFamily.swap: ${name} must be a number`);
    }
    if (typeof state !== 'string' || state.length > 64 * 1024) throw new TypeError('RefreshFamily.swap: state must be a string of at most 64 KiB');
    const storage = this.ctx.storage;
    const storedForgetAt = await storage.get('forgetAt');
    const live = storedForgetAt !== undefined && storedForgetAt > Date.now() / 1000;
    const stored = live ? ((await storage.get('version')) ?? 0) : 0;
    if (stored !== expectedVersion) return false;
    await storage.put({ version, state, forgetAt });
    // Every record expires: the alarm deletes it (a minute late at most).
    await storage.setAlarm((forgetAt + REPLAY_MARGIN_SECS) * 1000);
    return true;
  }

  async alarm() {
    await this.ctx.storage.deleteAll();
  }
}
