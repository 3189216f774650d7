/**
 * assertion-grant — an OAuth 2.0 token endpoint for assertion grants
 * (RFC 7521, RFC 7522 SAML 2.0 bearer, RFC 7523 JWT bearer) that issues
 * RFC 9068 JWT access tokens. The validation core is Rust compiled to
 * WebAssembly; this module is the JavaScript API around it.
 *
 * @example
 * import { ready, TokenEndpoint } from 'assertion-grant';
 *
 * await ready();
 * const endpoint = new TokenEndpoint(config, { signingKeys: process.env.AG_SIGNING_KEY });
 * // Any fetch-style server (Node 18+, Deno, Bun, Workers):
 * const response = await endpoint.handle(request);
 *
 * @packageDocumentation
 */

// ---------------------------------------------------------------------------
// Keys

/** JWS algorithms the core can verify. `none` and HMAC are never accepted. */
export type JwsAlgorithm = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256';

/** Fields every JWK may carry. */
export interface JwkCommon {
  /** Key ID; when present, a token's `kid` header selects among the keys. */
  kid?: string;
  /** Narrows the key to one algorithm. */
  alg?: JwsAlgorithm;
  /** Public key use; `"sig"` if present. */
  use?: 'sig';
  /** Other registered or private JWK members are allowed and ignored. */
  [member: string]: string | string[] | undefined;
}

/** An RSA public key (modulus at least 2048 bits). */
export interface RsaPublicJwk extends JwkCommon {
  kty: 'RSA';
  /** Modulus, base64url. */
  n: string;
  /** Public exponent, base64url. */
  e: string;
}

/** An EC P-256 public key. */
export interface EcPublicJwk extends JwkCommon {
  kty: 'EC';
  crv: 'P-256';
  /** X coordinate, base64url (32 bytes). */
  x: string;
  /** Y coordinate, base64url (32 bytes). */
  y: string;
}

/** A public verification key. */
export type PublicJwk = RsaPublicJwk | EcPublicJwk;

/** A JWK Set (RFC 7517 §5). */
export interface JwkSet<K extends JwkCommon = PublicJwk> {
  keys: K[];
}

/**
 * A private EC P-256 key for signing access tokens (ES256), as produced by
 * {@link generateSigningKey}. Keep it secret (e.g. `wrangler secret put AG_SIGNING_KEY`).
 */
export interface SigningJwk extends EcPublicJwk {
  /** Private scalar, base64url. */
  d: string;
}

// ---------------------------------------------------------------------------
// Configuration (JSON field names are snake_case, as on the wire)

/** Grant types a client may be allowed to use. */
export type GrantType =
  | 'urn:ietf:params:oauth:grant-type:jwt-bearer'
  | 'urn:ietf:params:oauth:grant-type:saml2-bearer'
  | 'refresh_token';

/** Client authentication methods (RFC 7591 `token_endpoint_auth_method`). */
export type TokenEndpointAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'saml2_bearer'
  | 'none';

/** What to do when a request asks for scope beyond what is allowed. */
export type ScopePolicy = 'reject' | 'narrow';

/** How access tokens are minted. */
export interface AccessTokenConfig {
  /** The `aud` claim of every access token: the resource server(s) that accept it. */
  audience: string;
  /** Token lifetime in seconds (`expires_in`). Default 3600. */
  lifetime_secs?: number;
  /**
   * Never let a token outlive the assertion it was exchanged for
   * (`exp` = min(now + lifetime, assertion exp)). Default false.
   */
  cap_at_assertion_expiry?: boolean;
  /** Longest `sub` (after `subject_prefix`), in bytes, 1–1024; longer is refused (`assertion.subject_too_long`). Default 255. */
  max_subject_bytes?: number;
  /** Most JSON the mapped `claims` may add to a token, in bytes, 0–8192; more is refused (`assertion.claims_too_large`). Default 2048. */
  max_claims_bytes?: number;
  /**
   * Further RFC 8707 resources a client may ask a token for (`resource`); the one asked for
   * becomes the token's `aud` instead of `audience`. Absolute URIs without a fragment. Default none.
   */
  resources?: string[];
}

/**
 * An identity provider whose assertions this server accepts.
 *
 * @example
 * const idp: TrustedIssuerConfig = {
 *   issuer: 'https://idp.example.com',
 *   format: 'jwt',
 *   jwks: { keys: [{ kty: 'EC', crv: 'P-256', kid: 'idp-ec-1', x: '…', y: '…' }] },
 *   scope: 'read write',
 *   claims: { email: 'email' },
 * };
 */
export interface TrustedIssuerConfig {
  /** Exact `iss` (JWT) or `<Issuer>` (SAML) value. May be omitted when `saml_metadata` gives the entityID. */
  issuer?: string;
  /** The IdP's SAML metadata XML (EntityDescriptor): supplies the entityID and signing certificates (see {@link importSamlMetadata}). */
  saml_metadata?: string;
  /** Assertion format this issuer sends. */
  format: 'jwt' | 'saml2';
  /** Verification keys (JWT issuers). RSA ≥ 2048 bits or EC P-256. */
  jwks?: JwkSet<PublicJwk>;
  /**
   * JWT issuers: URL of the IdP's JWK Set, fetched and cached by the host
   * (see {@link KeyCacheConfig}, {@link KeySetOptions}). `https` (`http` for
   * localhost, 127.0.0.1, [::1] only). Instead of, or beside, `jwks`.
   * Whoever controls the URL (or its TLS) controls this issuer.
   */
  jwks_uri?: string;
  /** PEM or base64 DER certificates (SAML issuers). */
  x509_certificates?: string[];
  /**
   * SAML issuers: URL of the IdP's SAML metadata, fetched and cached by the
   * host; the signing certificates of the IDPSSODescriptor whose entityID is
   * `issuer` are trusted. `https` (`http` for localhost only).
   */
  saml_metadata_url?: string;
  /** Overrides of the global {@link Config.key_cache} for this issuer's URL. */
  key_cache?: KeyCacheConfig;
  /**
   * Prepended to this issuer's subjects in access tokens (`sub` = prefix + asserted subject),
   * e.g. `"okta|"`. Required for every issuer when two or more are trusted (unless
   * `dangerous.shared_subject_namespace`); prefixes may not be equal or start one another.
   */
  subject_prefix?: string;
  /** Allow-list of signature algorithms. Default: every algorithm fitting the key type (a JWK `alg` narrows it). */
  algorithms?: JwsAlgorithm[];
  /** Longest accepted assertion lifetime in seconds (exp − now, now − iat). Default 3600. */
  max_lifetime_secs?: number;
  /** Clock skew allowance for this issuer. Default: the global {@link Config.clock_skew_secs}. */
  clock_skew_secs?: number;
  /** @deprecated Use `dangerous.allow_missing_jti` (inverted). Default true. Turning it off disables replay protection for this issuer. */
  require_jti?: boolean;
  /** @deprecated Use `dangerous.allow_anonymous` (inverted). Require an identified client for grants from this issuer. Default true. */
  require_client?: boolean;
  /** Scope ceiling (space-separated) for tokens from this issuer. Absent: no ceiling. */
  scope?: string;
  /** Claim mapping: access-token claim name → assertion claim (JWT) or attribute (SAML) name. */
  claims?: Record<string, string>;
  /** Optional allow-list of subject (`sub` / NameID) values. */
  subjects?: string[];
  /** @deprecated Use `dangerous.allow_sha1`. Default false. */
  allow_sha1?: boolean;
  /** @deprecated Use `dangerous.allow_inclusive_c14n`. Default false. */
  allow_inclusive_c14n?: boolean;
  /**
   * JWT issuers: the assertion profiles this issuer may use — `'jwt-bearer'` (plain RFC 7523
   * assertions) and `'id-jag'` (Identity Assertion JWT Authorization Grants, `typ: oauth-id-jag+jwt`).
   * An ID-JAG is processed under the ID-JAG rules only, and only from an issuer listing `'id-jag'`.
   * Default `['jwt-bearer']`.
   */
  profiles?: Array<'jwt-bearer' | 'id-jag'>;
  /** Grants vouched for by this issuer may come with a refresh token (see {@link Config.refresh_token}). Default false. */
  allow_refresh_tokens?: boolean;
  /** Opt-ins that weaken a check (see docs/configuration.md). Leave out unless an IdP cannot work without one. */
  dangerous?: DangerousIssuerOptions;
}

/** `trusted_issuers[].dangerous`: every option that weakens a check. All default false. */
export interface DangerousIssuerOptions {
  /** saml2: accept SHA-1 signature and digest methods (collisions). */
  allow_sha1?: boolean;
  /** saml2: accept inclusive canonicalization (more room for signature wrapping). */
  allow_inclusive_c14n?: boolean;
  /** jwt: accept assertions without `jti` (no one-time-use check: replayable until they expire). */
  allow_missing_jti?: boolean;
  /** Serve callers that name no client (the assertion becomes the only credential). */
  allow_anonymous?: boolean;
  /** Trust a key (or `jwks_uri`) another trusted issuer also names (its holder mints for both). */
  allow_shared_keys?: boolean;
  /** With several trusted issuers, let this one's subjects in without a `subject_prefix` (two IdPs' `alice` become one user). */
  shared_subject_namespace?: boolean;
}

/**
 * A registered OAuth client.
 *
 * @example
 * const client: ClientConfig = {
 *   client_id: 'basic-client',
 *   token_endpoint_auth_method: 'client_secret_basic',
 *   client_secret_sha256: hashClientSecret('basic-secret'),
 *   scope: 'read',
 * };
 */
export interface ClientConfig {
  client_id: string;
  /** How the client authenticates. */
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  /** Lowercase hex SHA-256 of the client secret (see {@link hashClientSecret}); for the client_secret_* methods. */
  client_secret_sha256?: string;
  /** Public keys for `private_key_jwt` client assertions. */
  jwks?: JwkSet<PublicJwk>;
  /** `private_key_jwt`: URL of the client's JWK Set (RFC 7591 `jwks_uri`), fetched and cached by the host. */
  jwks_uri?: string;
  /** Overrides of the global {@link Config.key_cache} for this client's `jwks_uri`. */
  key_cache?: KeyCacheConfig;
  /** Grant types this client may use. Default: jwt-bearer and saml2-bearer. */
  grant_types?: GrantType[];
  /** Scope allowance and default scope (space-separated). Absent: none. */
  scope?: string;
  /** Issuers whose assertions this client may present. Absent: any trusted issuer. Required for `none` and `saml2_bearer` clients (for the latter: the IdPs that vouch for it). */
  trusted_issuers?: string[];
  /** `saml2_bearer` only: the NameID Format the client assertion's Subject must carry. Default `urn:oasis:names:tc:SAML:2.0:nameid-format:entity`. */
  saml_name_id_format?: string;
  /**
   * Weaker, for legacy `private_key_jwt` clients only: also accept the token
   * endpoint URL or an `audiences` alias as the client assertion's `aud`
   * (every entry must name this server). Default false: `aud` must be exactly
   * the issuer identifier, a string or a one-element array — accepting the
   * token endpoint lets a hostile authorization server that names our token
   * endpoint as its own collect client assertions it can replay here
   * (audience injection, draft-ietf-oauth-rfc7523bis).
   */
  legacy_client_assertion_audience?: boolean;
  /** Every token request of this client must carry a DPoP proof (RFC 9449 §5.2). Default false (a proof is still honoured). */
  dpop_bound_access_tokens?: boolean;
  /** May use the introspection endpoint (RFC 7662; a confidential client). Default false. */
  allow_introspection?: boolean;
}

/**
 * The server configuration.
 *
 * @example
 * const config: Config = {
 *   issuer: 'https://as.example.com',
 *   access_token: { audience: 'https://api.example.com', lifetime_secs: 600 },
 *   trusted_issuers: [idp],
 *   clients: [client],
 * };
 */
export interface Config {
  /** This authorization server's issuer identifier: https, or http on 127.0.0.1/localhost. */
  issuer: string;
  /** Token endpoint URL. Default `issuer + "/token"`. Its path is where `handle()` serves tokens. */
  token_endpoint?: string;
  /** JWKS URL. Default `issuer + "/.well-known/jwks.json"`. */
  jwks_uri?: string;
  /** Extra values accepted as grant assertion `aud` / SAML `Recipient` / `Audience`, beside the issuer and token endpoint (client assertions: see `legacy_client_assertion_audience`). */
  audiences?: string[];
  /** Allowed clock skew in seconds. Default 60. */
  clock_skew_secs?: number;
  /** Requested scope beyond the allowance: reject with invalid_scope (default) or narrow it. */
  scope_policy?: ScopePolicy;
  /** Access-token minting. */
  access_token: AccessTokenConfig;
  /** Identity providers whose assertions are accepted. */
  trusted_issuers: TrustedIssuerConfig[];
  /** Registered clients. */
  clients: ClientConfig[];
  /** How fetched key sets (`jwks_uri`, `saml_metadata_url`) are cached; each issuer or client may override members. */
  key_cache?: KeyCacheConfig;
  /** How often the Worker looks for a new configuration in `AG_CONFIG_KV` (seconds, 0–86400; 0: every request). Default 60. */
  config_refresh_secs?: number;
  /** DPoP (RFC 9449): how proofs are checked. A request with a valid proof always gets a DPoP-bound token. */
  dpop?: DpopConfig;
  /** Refresh tokens (RFC 6749 §6): rotated on every use, reuse revokes the family. Issued only by hosts that store families (the Worker with its `FAMILIES` binding; npm with {@link TokenEndpointOptions.refreshTokens}; Rust `handle_with_families`). */
  refresh_token?: RefreshTokenConfig;
}

/** `refresh_token`: how refresh-token families live. */
export interface RefreshTokenConfig {
  /** A family's absolute lifetime (seconds, 60–31536000). Default 2592000 (30 days). */
  lifetime_secs?: number;
  /** Longest time between two uses (seconds, 60–31536000). Default 1209600 (14 days). */
  idle_secs?: number;
  /** A family never outlives the assertion that started it. Default false. */
  cap_at_assertion_expiry?: boolean;
  /** Issue refresh tokens only when the granted scope includes `offline_access`. Default true. */
  require_offline_access?: boolean;
}

/** `dpop`: how DPoP proofs (RFC 9449 §4) are checked at the token endpoint. */
export interface DpopConfig {
  /** Accepted proof algorithms (asymmetric only). Default `['ES256', 'PS256', 'RS256']`; published as `dpop_signing_alg_values_supported`. */
  algorithms?: JwsAlgorithm[];
  /** How old a proof's `iat` may be (seconds, 1–3600), plus `clock_skew_secs`. Default 300. */
  max_age_secs?: number;
  /**
   * Require server nonces (RFC 9449 §8): a proof without the current nonce gets `use_dpop_nonce`
   * and a fresh `DPoP-Nonce`. Stateless (HMAC of the time window), so it needs a secret shared by
   * every instance: {@link TokenEndpointOptions.dpopNonceSecret}, the Worker's `AG_DPOP_NONCE_SECRET`.
   * Default false.
   */
  require_nonce?: boolean;
  /** Length of one nonce window (seconds, 10–3600); a nonce is good in its window and the next. Default 300. */
  nonce_lifetime_secs?: number;
}

/**
 * `key_cache`: the core's policy for fetched key sets (the host only
 * fetches). Globally, or per issuer / client (unset members: the global value).
 */
export interface KeyCacheConfig {
  /** Shortest use of a fetched set before refetching, whatever its `Cache-Control: max-age` says (seconds). Default 300. */
  min_cache_secs?: number;
  /** Longest use of a fetched set before refetching (seconds). Default 86400. */
  max_cache_secs?: number;
  /** An unknown `kid` refetches at most once per this many seconds per URL. Default 30. */
  refetch_cooldown_secs?: number;
  /** While fetching fails, the last good set keeps serving this long past its freshness (seconds). Default 86400. */
  max_stale_secs?: number;
  /** A failed fetch is not retried for this long (seconds). Default 30. */
  failure_cache_secs?: number;
  /** Timeout of one fetch, body included (milliseconds). Default 5000. */
  fetch_timeout_ms?: number;
}

// ---------------------------------------------------------------------------
// Responses and errors

/** A successful token response (RFC 6749 §5.1). */
export interface TokenResponse {
  /** An RFC 9068 JWT (ES256, `typ: at+jwt`). */
  access_token: string;
  /** `DPoP` when the request carried a DPoP proof (the token has `cnf.jkt`), else `Bearer`. */
  token_type: 'Bearer' | 'DPoP';
  /** Seconds until the access token expires. */
  expires_in: number;
  /** Granted scope; present when it differs from the request. */
  scope?: string;
  /** A refresh token (`agrt1.…`), when the grant may be refreshed (see the `refresh_token` configuration). */
  refresh_token?: string;
  /** The resource(s) the token is for, when the request (or its ID-JAG) named some (RFC 8707). */
  resource?: string | string[];
}

/** RFC 6749 §5.2 error codes, plus what the endpoint itself may answer. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_authorization_details'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'temporarily_unavailable'
  | 'server_error';

/**
 * An OAuth error answered by the endpoint; `exchange()` rejects with it.
 *
 * @example
 * try {
 *   await endpoint.exchange({ assertion, clientId, clientSecret });
 * } catch (err) {
 *   if (err instanceof OAuthError && err.code === 'invalid_grant') { … }
 * }
 */
export class OAuthError extends Error {
  constructor(code: OAuthErrorCode | string, description: string | undefined, status: number);
  readonly name: 'OAuthError';
  /** RFC 6749 error code. */
  readonly code: OAuthErrorCode | string;
  /** `error_description`, if the server sent one. */
  readonly description: string | undefined;
  /** HTTP status (400, 401, 503, …). */
  readonly status: number;
}

/**
 * The configuration or signing key was rejected.
 *
 * @example
 * try {
 *   new TokenEndpoint({ issuer: 'ftp://nope' });
 * } catch (err) {
 *   if (err instanceof ConfigError) console.error(err.path); // "issuer"
 * }
 */
export class ConfigError extends Error {
  readonly name: 'ConfigError';
  readonly code: 'invalid_config';
  /** Path of the offending field, e.g. `trusted_issuers[0].jwks.keys[1]`. */
  readonly path: string;
}

// ---------------------------------------------------------------------------
// Replay protection

/**
 * One-time-use store for assertion and client-assertion IDs.
 *
 * `claim` must be atomic: set `key` if absent (or expired), remember it until
 * `expiresAt` (seconds since the epoch), and return true; return false when the
 * key is already held. Throwing (or rejecting) makes the endpoint answer 503
 * `temporarily_unavailable`, issue no token, and pass the error to `onError`.
 *
 * `partition` (16 hex digits) names who the entry is charged to: the
 * requesting client, or the issuer for a grant without a client. A store
 * with bounded capacity should bound each partition (as
 * {@link MemoryReplayStore} does) so one client cannot fill it for all.
 *
 * @example
 * // Redis (node-redis v4): SET key 1 NX EXAT expiresAt
 * const redisStore: ReplayStore = {
 *   async claim(key, expiresAt) {
 *     const ok = await redis.set(`ag:replay:${key}`, '1', { NX: true, EXAT: Math.ceil(expiresAt) });
 *     return ok === 'OK';
 *   },
 * };
 */
export interface ReplayStore {
  claim(key: string, expiresAt: number, partition?: string): boolean | Promise<boolean>;
  /** Optional: whether `key` is claimed and unexpired (a read, never a claim); used by `explain()`. */
  has?(key: string): boolean | Promise<boolean>;
}

/** Options of {@link MemoryReplayStore}. */
export interface MemoryReplayStoreOptions {
  /** Most entries held. When full of unexpired entries, `claim` throws (→ 503) instead of evicting. Default 100 000. */
  maxEntries?: number;
  /** Most entries one partition (client) holds; past it, that client's claims throw (→ 503), others' do not. Default 10 000. */
  maxEntriesPerPartition?: number;
  /** Clock in seconds since the epoch; a non-finite value makes `claim` throw (fail closed). Default `Date.now() / 1000`. */
  now?: () => number;
  /** Expired entries are swept at most this often (in seconds of `now`), on `claim`. Default 60. */
  sweepIntervalSecs?: number;
}

/**
 * In-memory {@link ReplayStore} for one process. Not shared between processes
 * or workers: with more than one instance, use a shared store.
 *
 * @example
 * const store = new MemoryReplayStore({ maxEntries: 10_000 });
 * store.claim('k', 1800000060); // true
 * store.claim('k', 1800000060); // false until then
 */
export class MemoryReplayStore implements ReplayStore {
  constructor(options?: MemoryReplayStoreOptions);
  claim(key: string, expiresAt: number, partition?: string): boolean;
  /** Whether `key` is claimed and unexpired (never claims). */
  has(key: string): boolean;
  /** Entries held, expired ones included until the next sweep. */
  readonly size: number;
  /** Remove every expired entry now. */
  sweep(): void;
}

// ---------------------------------------------------------------------------
// The endpoint

/** Options of {@link TokenEndpoint}. */
export interface TokenEndpointOptions {
  /**
   * Access-token signing key(s): one private EC P-256 JWK, or a JWK Set whose
   * first key signs and all of which are published (rotation). Object or JSON text.
   * Absent: a fresh ephemeral key ({@link TokenEndpoint.ephemeralKey} is true).
   */
  signingKeys?: SigningJwk | JwkSet<SigningJwk> | string;
  /** One-time-use store. Default: a new {@link MemoryReplayStore}. */
  replayStore?: ReplayStore;
  /**
   * Which backend verifies signatures and signs access tokens:
   * `'webcrypto'` — the runtime's `crypto.subtle` (default wherever it
   * exists): verification keys are imported once per endpoint, and the
   * signing key becomes a non-extractable `CryptoKey` whose private scalar
   * never enters wasm memory; `'wasm'` — the pure-Rust code inside the
   * module (for runtimes without WebCrypto, and differential tests).
   * Without `signingKeys` the ephemeral key is generated and used in wasm.
   */
  crypto?: 'webcrypto' | 'wasm';
  /** Clock, seconds since the epoch. Default `Date.now() / 1000`. */
  now?: () => number;
  /**
   * Called with unexpected errors that `handle()` masks as 500 server_error
   * (a `WebAssembly.RuntimeError` among them: the wasm instance is then
   * re-instantiated before the next request), with replay-store
   * failures answered 503 `temporarily_unavailable`, and (unless
   * {@link KeySetOptions.onKeySet} is given) with key-set documents the
   * core did not accept.
   */
  onError?: (error: unknown) => void;
  /** Remote key sets (`jwks_uri`, `saml_metadata_url`): how they are fetched, shared and reported. */
  keySets?: KeySetOptions;
  /**
   * The secret of stateless DPoP server nonces (RFC 9449 §8): at least 32 bytes (a string is
   * taken as UTF-8), the same on every instance. Required when the configuration sets
   * `dpop.require_nonce` (the constructor throws a ConfigError at `dpop.require_nonce` without it).
   */
  dpopNonceSecret?: string | Uint8Array | ArrayBuffer;
  /**
   * Refresh-token families (issued only when the configuration asks for refresh tokens):
   * `{ store }` with a {@link FamilyStore} shared by every instance. Default `{}`: a
   * {@link MemoryFamilyStore} for this process (like the default replay store; with several
   * instances, a family only refreshes where it was made — pass a shared store). `false`: no refresh
   * tokens. Also serves revocation (`issuer + "/revoke"`, RFC 7009) and introspection
   * (`issuer + "/introspect"`, RFC 7662).
   */
  refreshTokens?: false | { store?: FamilyStore };
  /**
   * One structured log line per token, revocation and introspection request. `true`: each
   * {@link RequestLogEntry} as one JSON line on `console.log`; a function: receives each entry
   * (send it to your logger). Default: off. Never carries secrets, assertions, tokens or subjects.
   */
  log?: boolean | ((entry: RequestLogEntry) => void);
}

/**
 * What one token-endpoint request did, for an operator's log (option `log`).
 * `client_id` and `issuer` are the ones the request *names* (unverified), and only when the
 * configuration knows them: a made-up value never reaches a log or a metric.
 */
export interface RequestLogEntry {
  /** ISO 8601 time the request arrived. */
  time: string;
  event: 'token_endpoint';
  /** `cf-ray` on Cloudflare, else a safe `x-request-id`, else a random UUID. */
  request_id: string | undefined;
  route: 'token' | 'revoke' | 'introspect';
  status: number;
  /** `ok` (200), `refused` (4xx), `error` (5xx). */
  outcome: 'ok' | 'refused' | 'error';
  /** The RFC error code of a refusal (`invalid_grant`, …). */
  error?: string;
  /** The stable reason code of a refusal (docs/reasons.md; `assertion.expired`, …). */
  reason?: string;
  grant_type?: string;
  issuer?: string;
  client_id?: string;
  /** Whether the request carried a DPoP header. */
  dpop: boolean;
  /** Wall time from arrival to answer, in milliseconds (on Workers: I/O waits only). */
  latency_ms: number;
  /** Signatures verified in WebCrypto for this request (0 with `crypto: 'wasm'`). */
  signature_checks: number;
  /** Key sets fetched (or read from the cache) for this request. */
  key_set_fetches: number;
  /** One-time-use keys claimed in the replay store. */
  replay_claims: number;
}

// ---------------------------------------------------------------------------
// Remote key sets

/**
 * The result of one fetch of a key-set document, as the core takes it
 * (`Core.keySetFetched`). `fetchedAt`: seconds since the epoch when the
 * document left the origin (the request time; for a shared-cache hit, the
 * original fetch's).
 */
export type KeySetFetchResult =
  | { ok: true; body: string; cacheControl: string | null; fetchedAt: number }
  | { ok: false; error: string };

/**
 * Fetches one key-set document the way the endpoint does: GET with an
 * `Accept` for `kind`; at most 3 redirects, same origin only; only 200
 * succeeds; the timeout covers the body; a body over `maxBytes` fails as
 * soon as it passes the limit; UTF-8 only. Never throws: failures are
 * `{ ok: false, error }` with a short message (never the body).
 *
 * @example
 * const result = await fetchKeySet('https://idp.example.com/jwks.json', { timeoutMs: 5000, maxBytes: 65536 });
 * if (!result.ok) console.warn(result.error); // e.g. "HTTP 503", "redirect to another origin"
 */
export function fetchKeySet(
  url: string,
  options?: {
    kind?: 'jwks' | 'saml-metadata';
    /** Default 5000. */
    timeoutMs?: number;
    /** Default 65536. */
    maxBytes?: number;
    /** Default: the global `fetch`. */
    fetch?: (url: string, init: RequestInit) => Promise<Response>;
    /** Seconds since the epoch. Default `Date.now() / 1000`. */
    now?: () => number;
  },
): Promise<KeySetFetchResult>;

/** What the core made of one fetched (or cached) key-set document; passed to {@link KeySetOptions.onKeySet}. */
export interface KeySetReport {
  /** The core's number for this URL (its `keySources()` index). */
  source: number;
  url: string;
  /** Whether the document replaced the set in use. When false the core keeps its last good set (if any) and caches the failure briefly. */
  accepted: boolean;
  /** Usable keys in the document. */
  keys: number;
  /** One line per key the core could not use (type, size, `use: enc`, …). */
  skipped: string[];
  /** Why the fetch failed or the document was not accepted. */
  error?: string;
  fetchedAt?: number;
  /** Until when the set is used without refetching (seconds since the epoch). */
  freshUntil?: number;
  /** Until when the set may still serve while refetching fails. */
  staleUntil?: number;
  /** The core's generation of this source's set (fetched keys are named `f<source>.<generation>.<index>`). */
  generation?: number;
  /** Added by the host: where the document came from. */
  from?: 'network' | 'cache';
  /** Added by the host: the shared cache failed (the fetch went on without it). */
  cacheError?: string;
}

/** What a {@link KeySetCache} stores for one URL. */
export interface KeySetCacheEntry {
  body: string;
  cacheControl: string | null;
  /** When the document left the origin (seconds since the epoch). */
  fetchedAt: number;
  freshUntil: number;
  /** After this the entry can no longer serve: a cache may evict it. */
  staleUntil: number;
}

/**
 * A key-set cache shared between endpoints in different isolates or
 * processes (the Worker's: the Cache API, `worker/keyset-cache.js`), so a
 * document is fetched once, not once per instance. An optimisation only:
 * errors are reported (`cacheError`) and the network is used instead.
 * Entries are never trusted more than a fetch: the core parses and checks
 * each one.
 */
export interface KeySetCache {
  get(url: string): Promise<KeySetCacheEntry | undefined>;
  put(url: string, entry: KeySetCacheEntry): Promise<void>;
}

/**
 * Options of {@link TokenEndpointOptions.keySets}. The host does the I/O
 * only; freshness, refetching, stale serving and 503s are the core's
 * ({@link KeyCacheConfig}).
 *
 * @example
 * new TokenEndpoint(config, {
 *   signingKeys,
 *   keySets: {
 *     fetch: (url, init) => fetch(url, { ...init, dispatcher: proxyAgent }),
 *     cache: { get: (url) => redisGetJson(`jwks:${url}`), put: (url, e) => redisSetJson(`jwks:${url}`, e, e.staleUntil) },
 *     onKeySet: (report) => metrics.keySet(report.url, report.accepted),
 *   },
 * });
 */
export interface KeySetOptions {
  /** Fetch function (called with `redirect: 'manual'` and an abort signal). Default: the global `fetch`. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /**
   * Shared cache. For a first use or an expired set, a fresh entry is used
   * instead of the network; for an unknown `kid`, only an entry newer than
   * the set the core holds. Accepted network fetches are put. Default: none.
   */
  cache?: KeySetCache;
  /**
   * Called with every report. Default: a document the core did not accept
   * (or a failing shared cache) is passed as an Error (name `KeySetError`,
   * `report` attached) to `onError` when one is given, else to `console.warn`.
   */
  onKeySet?: (report: KeySetReport) => void;
}

/** Client authentication for {@link TokenEndpoint.exchange} with a secret. */
export type ClientAuth = 'basic' | 'post';

/** Parameters of {@link TokenEndpoint.exchange}. */
export interface ExchangeParams {
  /** Default `urn:ietf:params:oauth:grant-type:jwt-bearer`. */
  grantType?: GrantType | string;
  /** The assertion: a compact JWS, or a base64url SAML assertion (not for a refresh). */
  assertion?: string;
  /** Requested scope, space-separated or as a list. */
  scope?: string | string[];
  clientId?: string;
  clientSecret?: string;
  /** How to send `clientSecret`: HTTP Basic (default) or in the form body. */
  clientAuth?: ClientAuth;
  /** A `private_key_jwt` client assertion (compact JWS). */
  clientAssertion?: string;
  /** Default `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`. */
  clientAssertionType?: string;
  /** RFC 8707 `resource`(s) the token is for. */
  resource?: string | string[];
  /** A DPoP proof (RFC 9449) for `POST` to the token endpoint: the token comes back DPoP-bound. */
  dpop?: string;
  /** The refresh token of a `grantType: 'refresh_token'` request (then no `assertion`). */
  refreshToken?: string;
}

/** RFC 8414 authorization server metadata as served by the endpoint. */
export interface AuthorizationServerMetadata {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  grant_types_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  token_endpoint_auth_signing_alg_values_supported?: string[];
  scopes_supported?: string[];
  [member: string]: string | string[] | boolean | undefined;
}

/**
 * The token endpoint, its metadata and JWKS.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { ready, TokenEndpoint } from 'assertion-grant';
 *
 * await ready();
 * const endpoint = new TokenEndpoint(JSON.parse(configText), { signingKeys: process.env.AG_SIGNING_KEY });
 * const result = await endpoint.exchange({ assertion, clientId: 'basic-client', clientSecret: 'basic-secret', scope: 'read' });
 * console.log(result.access_token);
 */
export class TokenEndpoint {
  /**
   * @throws {ConfigError} when the configuration or signing key is invalid
   * @throws {Error} when {@link ready} has not completed
   */
  constructor(config: Config | string, options?: TokenEndpointOptions);
  /**
   * Serve one request: `POST <token path>`, `GET|HEAD <metadata path>`,
   * `GET|HEAD <jwks path>`; 405 for other methods there, 404 elsewhere.
   *
   * @example
   * export default { fetch: (request) => endpoint.handle(request) };
   */
  handle(request: Request): Promise<Response>;
  /**
   * Run a token request as a client would. Resolves with the token response.
   * @throws {OAuthError} with the RFC 6749 code on any error response
   *
   * @example
   * const { access_token } = await endpoint.exchange({ assertion, clientId, clientSecret, clientAuth: 'post' });
   */
  exchange(params: ExchangeParams): Promise<TokenResponse>;
  /**
   * What the endpoint would do with a token request, check by check, without
   * consuming replay entries or signing (for operators; see {@link Explanation}).
   *
   * @example
   * const report = await endpoint.explain({ body: form.toString() });
   * console.table(report.checks);
   */
  explain(
    input: Request | { body: string | Uint8Array; headers?: Record<string, string> | Array<[string, string]>; method?: string },
    options?: { now?: number },
  ): Promise<Explanation>;
  /** RFC 8414 metadata (a copy). */
  metadata(): AuthorizationServerMetadata;
  /** Public JWK Set of the signing keys (a copy). */
  jwks(): JwkSet<EcPublicJwk>;
  /** True when the signing key was generated for this object and dies with it. */
  readonly ephemeralKey: boolean;
  /** The URL paths `handle()` answers (every other path: 404 `not_found`). */
  readonly paths: { token: string; metadata: string; jwks: string };
  /** The backend in use (see {@link TokenEndpointOptions.crypto}). */
  readonly crypto: 'webcrypto' | 'wasm';
  /**
   * Resolves once the signing keys are imported into WebCrypto; rejects with
   * a {@link ConfigError} (path `signing_key…`) if one is not a valid P-256
   * private key or its `d` does not match `x`, `y`. Until it settles, token
   * requests wait for the import; after a rejection they answer 500.
   */
  ready(): Promise<void>;
}

/** One signature to verify, as {@link verifySignature} takes it. */
export interface SignatureToVerify {
  /** JOSE name: RS256/384/512, PS256/384/512, ES256 (or RS1, SAML's opt-in SHA-1). */
  alg: string;
  /** Public JWK: RSA `n`, `e` or EC P-256 `x`, `y`. */
  key: PublicJwk;
  message: Uint8Array;
  /** RSA: exactly the modulus length; ECDSA: 64-byte r‖s. */
  signature: Uint8Array;
}

/**
 * Verifies one signature exactly as the endpoint does, with either backend
 * (interop and differential tests; Wycheproof runs through it).
 */
export function verifySignature(check: SignatureToVerify, options?: { crypto?: 'webcrypto' | 'wasm' }): Promise<boolean>;

/** The kinds of {@link errorResponse}. */
export type HostErrorKind =
  | 'server_error'
  | 'not_found'
  | 'document_method_not_allowed'
  | 'replay_store_unavailable'
  | 'body_too_large'
  | 'explain_input';

/**
 * An error response built by the core, for a host's answers outside a token
 * request (a Worker's 500, an admin route's bad input, …): every error
 * response a host sends comes from the core. Before the core has loaded, a
 * bare `500 {"error":"server_error"}`.
 */
export function errorResponse(kind: HostErrorKind): Response;

/** A refresh-token family write: store `state` only if the stored version is `expectedVersion` (0: none). */
export interface FamilyWrite {
  family: string;
  expectedVersion: number;
  version: number;
  /** The family record (JSON). */
  state: string;
  /** Keep it until then (seconds since the epoch). */
  forgetAt: number;
}

/**
 * Where refresh-token families live: `get` returns the record last written (unless past its
 * `forgetAt`); `swap` writes only if the stored version is `write.expectedVersion`, atomically.
 */
export interface FamilyStore {
  get(family: string): string | undefined | Promise<string | undefined>;
  swap(write: FamilyWrite): boolean | Promise<boolean>;
}

/** Refresh-token families in memory, for one process; at most `maxFamilies` live ones. */
export class MemoryFamilyStore implements FamilyStore {
  constructor(options?: { maxFamilies?: number; now?: () => number });
  get(family: string): string | undefined;
  swap(write: FamilyWrite): boolean;
  readonly size: number;
}

/** What {@link verifyAccessToken} checks a request's access token against. */
export interface VerifyAccessTokenOptions {
  /** Our issuer identifier: the token's `iss` must be exactly this. */
  issuer: string;
  /** This resource server: the token's `aud` must be or contain it. */
  audience: string;
  /** Our JWK Set (the endpoint's `/.well-known/jwks.json`), or … */
  jwks?: { keys: object[] };
  /** … its URL: fetched, kept 300 s, refetched for an unknown `kid` at most every 30 s. */
  jwksUri?: string;
  /** The fetch used for `jwksUri`. Default: global fetch. */
  fetch?: typeof fetch;
  /** The clock, seconds since the epoch. Default: `Date.now() / 1000`. */
  now?: () => number;
  /** Clock tolerance in seconds. Default 60. */
  clockSkewSecs?: number;
  /** Scope the token must carry (all of it), else 403 `insufficient_scope`. */
  requiredScope?: string | string[];
  /** The request URL as the client addressed it (the proof's `htu`). Default `request.url` (behind a proxy, pass the public URL). */
  url?: string;
  dpop?: {
    /** Refuse tokens that are not DPoP-bound. Default false. */
    required?: boolean;
    /** How old a proof's `iat` may be (seconds). Default 300. */
    maxAgeSecs?: number;
    /** Accepted proof algorithms. Default `['ES256', 'PS256', 'RS256']`. */
    algorithms?: JwsAlgorithm[];
    /** Where proof `jti`s are claimed once. Default: one in-memory store per process (share one store across instances). */
    replayStore?: ReplayStore;
  };
}

/** A refused access token: answer with {@link AccessTokenError.response}. */
export class AccessTokenError extends Error {
  /** 401 (400 for a malformed Authorization header, 403 for `insufficient_scope`, 503 if the replay store failed). */
  status: number;
  /** `invalid_token`, `invalid_request`, `insufficient_scope`, `invalid_dpop_proof`, `use_dpop_nonce`; undefined when there were no credentials. */
  error: string | undefined;
  description: string;
  /** The `WWW-Authenticate` value (RFC 6750 §3, RFC 9449 §7.1). */
  wwwAuthenticate: string;
  /** The HTTP answer: the status, `WWW-Authenticate`, `Cache-Control: no-store`. */
  response(): Response;
}

/**
 * For resource servers: verifies the access token a request carries — one of ours (RFC 9068:
 * ES256, `typ: at+jwt`, signed by a key of our JWKS; `iss`, `aud`, `exp`, `nbf`, `iat`) — and for a
 * DPoP-bound token (`cnf.jkt`) the request's DPoP proof (RFC 9449 §7.1: the `DPoP` scheme, one
 * proof, `htm`/`htu`, `iat`, `ath`, the key's thumbprint, `jti` once). The proof's rules are the
 * token endpoint's own (the wasm core); signatures are checked with WebCrypto.
 *
 * @throws {AccessTokenError} when the token or proof is refused
 * @example
 * try {
 *   const { claims } = await verifyAccessToken(request, { issuer, audience: 'https://api.example.com', jwksUri });
 *   return Response.json({ hello: claims.sub });
 * } catch (err) {
 *   if (err instanceof AccessTokenError) return err.response();
 *   throw err;
 * }
 */
export function verifyAccessToken(
  request: Request,
  options: VerifyAccessTokenOptions,
): Promise<{ claims: Record<string, unknown> & { sub: string; cnf?: { jkt: string } }; token: string; scheme: 'Bearer' | 'DPoP'; dpop?: { jkt: string } }>;

// ---------------------------------------------------------------------------
// Initialisation and helpers

/**
 * A compiled `WebAssembly.Module` (what a Worker's `.wasm` import gives) or the module's bytes.
 * Typed without the DOM library's `WebAssembly` and `BufferSource`, so that Node-only TypeScript
 * projects (`@types/node`, no `"DOM"` in `lib`) check too.
 */
export type WasmModuleOrBytes = object | ArrayBuffer | ArrayBufferView;

/** Anything {@link ready} can load the wasm from. */
export type WasmSource =
  | WasmModuleOrBytes
  | Response
  | Promise<Response>
  | URL
  | string;

/**
 * Load the WebAssembly core; once per process, safe to call repeatedly.
 * Node reads the `.wasm` beside this module; browsers and Deno fetch it; or
 * pass the module/bytes/URL yourself.
 *
 * @example
 * await ready();
 */
export function ready(wasmSource?: WasmSource): Promise<void>;

/**
 * Synchronous initialisation from a compiled module or bytes.
 *
 * @example
 * // Cloudflare Worker
 * import wasm from 'assertion-grant/assertion_grant_bg.wasm';
 * initSync(wasm);
 */
export function initSync(module: WasmModuleOrBytes | { module: WasmModuleOrBytes }): void;

/**
 * Generate a private EC P-256 JWK (JSON text) for access-token signing.
 *
 * @example
 * const key = generateSigningKey('2025-01'); // store as AG_SIGNING_KEY
 */
export function generateSigningKey(kid?: string): string;

/**
 * Lowercase hex SHA-256 of a client secret, for `client_secret_sha256`.
 *
 * @example
 * hashClientSecret('demo-secret'); // "cd577fe2…"
 */
export function hashClientSecret(secret: string): string;

/**
 * The built-in demo configuration (JSON text): issuer http://127.0.0.1:8787,
 * IdP https://demo-idp.example, client demo-client / demo-secret.
 *
 * @example
 * const endpoint = new TokenEndpoint(demoConfig());
 */
export function demoConfig(): string;

/**
 * Turns an IdP's SAML 2.0 metadata (an `EntityDescriptor` with an
 * `IDPSSODescriptor`) into a `trusted_issuers` entry: the entityID and the
 * signing certificates. Add `scope`, `claims` etc. before use. The
 * metadata's own signature is not checked: import only files you trust.
 * Throws an Error with `code === 'invalid_metadata'`.
 *
 * @example
 * const entry = importSamlMetadata(await readFile('idp-metadata.xml', 'utf8'));
 * config.trusted_issuers.push({ ...entry, scope: 'read', claims: { email: 'email' } });
 */
export function importSamlMetadata(xml: string): TrustedIssuerConfig;

/** One check of an explain report. */
export interface ExplainCheck {
  /** The check's stable id, e.g. `"assertion.audience"`. */
  id: CheckId;
  /** What was checked, in words, e.g. `"audience"`. */
  check: string;
  /** Where the rule comes from, e.g. `"RFC 7522 §3 item 2"`. */
  spec: string;
  outcome: 'pass' | 'fail' | 'skipped';
  /** The values involved (times, audiences, keys' counts …). */
  detail: string;
  /** Why the check failed (failed checks only). */
  reason?: ReasonCode;
}

/** What the endpoint would do with a request, check by check. */
export interface Explanation {
  checks: ExplainCheck[];
  would_issue: boolean;
  /** The answer the endpoint would give; `reason` is never part of a public response. */
  error?: { error: string; reason: ReasonCode; error_description: string; status: number };
  /** The access token's claims (not signed) when one would be issued. */
  token_claims?: Record<string, unknown>;
}

/** One configuration error: the field path (`clients[0].scope`) and what is wrong. */
export interface ConfigCheckError {
  path: string;
  reason: string;
}

/**
 * Validates a configuration completely (full build; what `assertion-grant check-config` runs):
 * every error with its field path — each trusted issuer, each client and the rest of the document
 * are checked separately — or, when valid, the effective configuration: the document with every
 * omitted field filled in with the value the server uses. Never throws on a bad document.
 */
export function checkConfig(config: Config | string): {
  valid: boolean;
  errors?: ConfigCheckError[];
  effective?: Config;
};

/** A test assertion for {@link mintTestAssertion}. */
export interface TestAssertionSpec {
  format: 'jwt' | 'saml2';
  issuer: string;
  subject: string;
  /** This server's issuer or token endpoint. */
  audience: string;
  /** SAML Recipient; default: `audience`. */
  recipient?: string;
  /** Issue time, seconds since the epoch. */
  now: number;
  lifetime_secs: number;
  attributes?: Record<string, string | string[]>;
}

/**
 * The debugger's built-in test IdP (never for production): a signed JWT, or
 * base64url SAML XML signed with ecdsa-sha256, ready for `assertion`. The
 * core builds it; WebCrypto signs (both builds).
 *
 * @example
 * const key = JSON.parse(await createSigningKey('test-idp'));
 * config.trusted_issuers.push(testIdpTrustEntry('saml2', 'https://test-idp.local', key));
 * const assertion = await mintTestAssertion({ format: 'saml2', issuer: 'https://test-idp.local', subject: 'alice',
 *   audience: config.issuer, now: Date.now() / 1000 | 0, lifetime_secs: 300 }, key);
 */
export function mintTestAssertion(spec: TestAssertionSpec, privateJwk: object | string): Promise<string>;

/**
 * A new private EC P-256 JWK (JSON text) made by WebCrypto, in both builds:
 * the asynchronous twin of {@link generateSigningKey} (full build only).
 */
export function createSigningKey(kid?: string): Promise<string>;

/** The `trusted_issuers` entry that trusts a test IdP key (its public part). */
export function testIdpTrustEntry(format: 'jwt' | 'saml2', issuer: string, privateJwk: object | string): TrustedIssuerConfig;

// Grant-type and client-assertion URNs, MAX_BODY_BYTES, RESERVED_CLAIMS,
// REASON_CODES, CHECK_IDS and their types: generated from the Rust core.
export * from './constants.js';
import type { CheckId, ReasonCode } from './constants.js';
