// TokenEndpoint: routing (token, metadata, JWKS), the exchange with the core
// (client check, grant check, replay claims, signing), and the exchange()
// client for tests and demos.

import { CLIENT_ASSERTION_JWT_BEARER, JWT_BEARER, MAX_BODY_BYTES, SAML2_BEARER } from './constants.js';
import { Core, assertReady, freeIfCurrent, generation, hasRustCrypto, hostError, recoverFromTrap, stillCurrent } from './runtime.js';
import { BodyTooLarge, PUBLIC_JSON_HEADERS, base64, coreHeaders, coreResponse, formUrlEncode, jsonResponse, readBody, refusalOf, toJsonText } from './http.js';
import { ConfigError, OAuthError, toConfigError } from './errors.js';
import { MemoryReplayStore } from './replay.js';
import { MemoryFamilyStore } from './families.js';
import { SUBTLE, WebCryptoSigner, WebCryptoVerifier, splitSigningKeys } from './webcrypto.js';
import { KeySetHost } from './keysets.js';

/**
 * Most key-set needs one exchange may raise (a grant issuer's set, a client's
 * set, each perhaps once more for an unknown kid): past it the exchange fails
 * as a server_error instead of looping.
 */
const MAX_KEY_SET_NEEDS = 8;

/**
 * The DPoP nonce secret as bytes: a string (its UTF-8; use ≥ 32 random
 * characters, e.g. `openssl rand -base64 48`) or bytes; undefined when none.
 */
function nonceSecretBytes(secret) {
  if (secret === undefined || secret === null || secret === '') return undefined;
  if (typeof secret === 'string') return new TextEncoder().encode(secret);
  if (secret instanceof Uint8Array) return secret;
  if (secret instanceof ArrayBuffer) return new Uint8Array(secret);
  throw new TypeError('assertion-grant: dpopNonceSecret must be a string or bytes');
}

/** A core with its nonce secret set; refuses a configuration that needs one it was not given. */
function newCore(configText, keysText, hostSigns, nonceSecret, refresh) {
  const core = new Core(configText, keysText, hostSigns);
  try {
    if (refresh) core.enableRefreshTokens();
    if (nonceSecret !== undefined) core.setDpopNonceSecret(nonceSecret);
    if (core.needsDpopNonceSecret) {
      throw new ConfigError(
        'dpop.require_nonce',
        'dpop.require_nonce: needs a nonce secret shared by every instance (option dpopNonceSecret; the Worker: AG_DPOP_NONCE_SECRET)',
      );
    }
  } catch (err) {
    core.free();
    throw err;
  }
  return core;
}

/**
 * An OAuth 2.0 token endpoint for assertion grants, plus its RFC 8414
 * metadata and JWKS documents.
 */
export class TokenEndpoint {
  #coreInstance;
  #coreGeneration;
  #configText;
  #keysText;
  #hostSigns;
  #verifier;
  #keysImported;
  #signer;
  #store;
  #now;
  #metadata;
  #jwks;
  #onError;
  #paths;
  #keySets;
  #dpopNonceSecret;
  #families;
  #log;

  /**
   * @param {object | string} config configuration (object or JSON text)
   * @param {import('./index.d.ts').TokenEndpointOptions} [options] (index.d.ts documents each: signingKeys, replayStore, now, onError, crypto, keySets, dpopNonceSecret, refreshTokens, log)
   */
  constructor(config, { signingKeys, replayStore, now, onError, crypto: backend, keySets = {}, dpopNonceSecret, refreshTokens = {}, log } = {}) {
    assertReady('new TokenEndpoint()');
    const configText = toJsonText(config, 'config');
    const keysText = signingKeys === undefined || signingKeys === null ? undefined : toJsonText(signingKeys, 'signingKeys');
    if (backend !== undefined && backend !== 'webcrypto' && backend !== 'wasm') {
      throw new TypeError(`assertion-grant: crypto must be 'webcrypto' or 'wasm', got ${String(backend)}`);
    }
    if (backend === 'webcrypto' && SUBTLE === undefined) {
      throw new TypeError('assertion-grant: crypto.subtle is not available here (use crypto: "wasm")');
    }
    if (!hasRustCrypto()) {
      // The slim build signs and verifies with WebCrypto only.
      if (backend === 'wasm' || SUBTLE === undefined) {
        throw new TypeError("assertion-grant: this build verifies with WebCrypto only (crypto: 'wasm' needs the full build)");
      }
      if (keysText === undefined) {
        throw new ConfigError('signing_key', 'signing_key: required by this build (it has no in-wasm key generation); pass signingKeys');
      }
    }
    const webcrypto = backend === 'webcrypto' || (backend === undefined && SUBTLE !== undefined);
    // With WebCrypto, the private signing key stays in JS as a
    // non-extractable CryptoKey: the core gets the public members only.
    const split = webcrypto && keysText !== undefined ? splitSigningKeys(keysText) : undefined;
    const coreKeysText = split?.publicText ?? keysText;
    const hostSigns = split !== undefined;
    this.#dpopNonceSecret = nonceSecretBytes(dpopNonceSecret);
    if (log !== undefined && log !== false && log !== true && typeof log !== 'function') {
      throw new TypeError('assertion-grant: log must be true, false or a function (entry) => void');
    }
    this.#log = log === true ? (entry) => console.log(JSON.stringify(entry)) : typeof log === 'function' ? log : undefined;
    if (refreshTokens !== false && (refreshTokens === null || typeof refreshTokens !== 'object')) {
      throw new TypeError('assertion-grant: refreshTokens must be false or { store? }');
    }
    this.#now = now ?? (() => Date.now() / 1000);
    if (refreshTokens !== false) {
      // The default store shares the endpoint's clock; like the default
      // replay store it is per process (several instances: pass a shared one).
      this.#families = refreshTokens.store ?? new MemoryFamilyStore({ now: this.#now });
      if (typeof this.#families.get !== 'function' || typeof this.#families.swap !== 'function') {
        throw new TypeError('assertion-grant: refreshTokens.store must have get(family) and swap(write) methods');
      }
    }
    try {
      this.#coreInstance = newCore(configText, coreKeysText, hostSigns, this.#dpopNonceSecret, this.#families !== undefined);
    } catch (err) {
      throw toConfigError(err);
    }
    this.#coreGeneration = generation;
    this.#configText = configText;
    this.#keysText = coreKeysText;
    this.#hostSigns = hostSigns;
    if (webcrypto) {
      this.#verifier = new WebCryptoVerifier(() => this.#core, (err) => this.#report(err));
      this.#keysImported = this.#verifier.prime();
    }
    if (hostSigns) {
      const kids = JSON.parse(this.#coreInstance.jwksJson()).keys.map((k) => k.kid);
      this.#signer = new WebCryptoSigner(split.privates, kids);
    }
    // The default store shares the endpoint's clock, so injected clocks agree.
    this.#store = replayStore ?? new MemoryReplayStore({ now: this.#now });
    if (typeof this.#store.claim !== 'function') {
      throw new TypeError('assertion-grant: replayStore must have a claim(key, expiresAt) method');
    }
    this.#onError = onError;
    if (keySets === null || typeof keySets !== 'object') {
      throw new TypeError('assertion-grant: keySets must be an object { fetch?, cache?, onKeySet? }');
    }
    this.#keySets = new KeySetHost({
      fetch: keySets.fetch,
      cache: keySets.cache,
      now: () => this.#nowSecs(),
      onKeySet: keySets.onKeySet ?? ((report) => this.#logKeySet(report)),
    });
    this.#metadata = JSON.parse(this.#core.metadataJson());
    this.#jwks = JSON.parse(this.#core.jwksJson());
    // Read once: each getter call copies a string out of wasm.
    const core = this.#core;
    this.#paths = {
      token: core.tokenPath,
      metadata: core.metadataPath,
      jwks: core.jwksPath,
      // RFC 7009 revocation, where refresh-token families are stored.
      revoke: this.#families === undefined ? undefined : core.revocationPath,
      // RFC 7662 introspection, beside it.
      introspect: this.#families === undefined ? undefined : core.introspectionPath,
    };
  }

  /**
   * The core for the current wasm instance: rebuilt from the same
   * configuration after a trap re-instantiated the module. (An ephemeral
   * signing key is regenerated with it: tokens it signed stop verifying,
   * as after a restart.)
   */
  get #core() {
    if (this.#coreGeneration !== generation) {
      this.#coreInstance = newCore(this.#configText, this.#keysText, this.#hostSigns, this.#dpopNonceSecret, this.#families !== undefined);
      this.#coreGeneration = generation;
      this.#jwks = JSON.parse(this.#coreInstance.jwksJson());
    }
    return this.#coreInstance;
  }

  /**
   * Which backend answers signature checks: 'webcrypto' (the runtime's
   * crypto.subtle, the default where it exists) or 'wasm' (pure Rust).
   */
  get crypto() {
    return this.#verifier === undefined ? 'wasm' : 'webcrypto';
  }

  /**
   * Resolves once the signing keys are imported into WebCrypto; rejects with
   * a ConfigError if one is not a valid P-256 private key or its `d` does not
   * match its `x`, `y`. (Requests fail with 500 and `onError` until then.)
   * @returns {Promise<void>}
   */
  async ready() {
    await Promise.all([this.#signer?.ready(), this.#keysImported]);
  }

  /** The paths this endpoint answers: token endpoint, RFC 8414 metadata, JWK Set. */
  get paths() {
    return { ...this.#paths };
  }

  /** true when no signing key was given and a fresh one was generated (tokens die with this object). */
  get ephemeralKey() {
    return this.#core.ephemeralKey;
  }

  /** RFC 8414 authorization server metadata (a fresh copy). */
  metadata() {
    return structuredClone(this.#metadata);
  }

  /** Public JWK Set of the access-token signing keys (a fresh copy). */
  jwks() {
    return structuredClone(this.#jwks);
  }

  /**
   * Answer one HTTP request: the token endpoint, metadata and JWKS.
   * @param {Request} request
   * @returns {Promise<Response>}
   */
  async handle(request) {
    const started = Date.now();
    // What the log line needs, filled in on the way (only when logging).
    const seen =
      this.#log === undefined
        ? undefined
        : { route: undefined, headers: undefined, body: undefined, labels: undefined, signatureChecks: 0, keySetFetches: 0, replayClaims: 0 };
    let response;
    try {
      response = await this.#route(request, seen);
    } catch (err) {
      // Unexpected failures (a bug, a broken clock, a wasm trap) are masked
      // as server_error; a trap also retires the wasm instance.
      recoverFromTrap(err);
      this.#report(err);
      response = coreResponse(hostError('server_error'));
    }
    if (seen !== undefined && seen.route !== undefined) this.#logRequest(request, response, seen, started);
    return response;
  }

  /**
   * One log line for a token, revocation or introspection request: what
   * happened and why, never a secret, an assertion, a token or a subject.
   * The client and issuer are named only when the configuration knows them.
   */
  #logRequest(request, response, seen, started) {
    try {
      const entry = {
        time: new Date(started).toISOString(),
        event: 'token_endpoint',
        request_id: requestId(request),
        route: seen.route,
        status: response.status,
        outcome: response.status === 200 ? 'ok' : response.status >= 500 ? 'error' : 'refused',
      };
      const refusal = refusalOf(response);
      if (refusal !== undefined) {
        if (refusal.error !== undefined) entry.error = refusal.error;
        entry.reason = refusal.reason;
      }
      if (seen.labels !== undefined) {
        // A token was issued: the verified issuer and client, as the core
        // decided them (no second parse).
        const grantType = grantTypeOf(seen.body);
        if (grantType !== undefined) entry.grant_type = grantType;
        entry.issuer = seen.labels.issuer;
        if (seen.labels.client_id !== undefined) entry.client_id = seen.labels.client_id;
      } else if (seen.body !== undefined) {
        // A refusal: what the request names, when the configuration knows it.
        const labels = this.#core.requestLabels(seen.route, seen.headers, seen.body);
        if (labels.grant_type !== undefined) entry.grant_type = labels.grant_type;
        if (labels.issuer !== undefined) entry.issuer = labels.issuer;
        if (labels.client_id !== undefined) entry.client_id = labels.client_id;
      }
      entry.dpop = seen.headers?.some(([name]) => name === 'dpop') ?? false;
      entry.latency_ms = Date.now() - started;
      entry.signature_checks = seen.signatureChecks;
      entry.key_set_fetches = seen.keySetFetches;
      entry.replay_claims = seen.replayClaims;
      const result = this.#log(entry);
      // An async hook that rejects (a log backend down) is reported, never
      // an unhandled rejection that would end the process.
      if (typeof result?.then === 'function') result.then(undefined, (err) => this.#report(err));
    } catch (err) {
      // A log hook (or a label) that fails never changes the answer.
      recoverFromTrap(err);
      this.#report(err);
    }
  }

  #report(err) {
    try {
      const result = this.#onError?.(err);
      // An async hook that rejects must not become an unhandled rejection.
      if (typeof result?.then === 'function') result.then(undefined, () => {});
    } catch {
      // the hook must not change the answer
    }
  }

  /**
   * The default `keySets.onKeySet`: a document the core did not accept, or
   * a shared cache that failed, is reported to `onError` when there is one,
   * else with console.warn (an operator must hear of an IdP's broken key
   * set while stale keys still hide it).
   */
  #logKeySet(report) {
    if (report.accepted && report.cacheError === undefined) return;
    const what = report.accepted ? report.cacheError : `not accepted: ${report.error ?? 'unknown error'}${report.cacheError ? `; ${report.cacheError}` : ''}`;
    const err = new Error(`assertion-grant: key set ${report.url}: ${what}`);
    err.name = 'KeySetError';
    err.report = report;
    if (this.#onError !== undefined) this.#report(err);
    else console.warn(err.message);
  }

  async #route(request, seen) {
    const path = new URL(request.url).pathname;
    const method = request.method.toUpperCase();
    const paths = this.#paths;

    if (path === paths.token || path === paths.revoke || path === paths.introspect) {
      if (seen !== undefined) seen.route = path === paths.token ? 'token' : path === paths.revoke ? 'revoke' : 'introspect';
      if (method !== 'POST') return this.#methodNotAllowed(method, request);
      let body;
      try {
        body = await readBody(request, MAX_BODY_BYTES);
      } catch (err) {
        if (err instanceof BodyTooLarge) return coreResponse(hostError('body_too_large'));
        throw err;
      }
      const headers = coreHeaders(request.headers);
      if (seen !== undefined) {
        seen.headers = headers;
        seen.body = body;
      }
      if (path === paths.token) return this.#token(method, headers, body, 0, seen);
      return this.#revoke(method, headers, body, path === paths.introspect, seen);
    }

    if (path === paths.metadata || path === paths.jwks) {
      if (method !== 'GET' && method !== 'HEAD') {
        return coreResponse(hostError('document_method_not_allowed'));
      }
      const document = path === paths.metadata ? this.#metadata : this.#jwks;
      return jsonResponse(200, method === 'HEAD' ? null : document, PUBLIC_JSON_HEADERS);
    }

    return coreResponse(hostError('not_found'));
  }

  /**
   * Run a token request from parameters, as a client would send it.
   * Resolves with the token response; rejects with an OAuthError.
   * @param {object} params see index.d.ts ExchangeParams
   */
  /**
   * Explains, check by check, what the endpoint would do with a token
   * request — without consuming a replay entry or signing anything. For
   * operators and the debugger page only: the report names values the token
   * endpoint never reveals.
   *
   * @param {Request | { body: string | Uint8Array, headers?: Record<string, string> | Array<[string, string]>, method?: string }} input
   * @param {{ now?: number }} [options] seconds since the epoch (default: the endpoint's clock)
   * @returns {Promise<import('./index.d.ts').Explanation>}
   * @example
   * const report = await endpoint.explain({ body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
   * for (const c of report.checks) console.log(c.outcome, c.check, c.spec, c.detail);
   */
  async explain(input, { now } = {}) {
    let method;
    let headers;
    let body;
    if (typeof Request !== 'undefined' && input instanceof Request) {
      method = input.method.toUpperCase();
      headers = coreHeaders(input.headers);
      body = await readBody(input, MAX_BODY_BYTES);
    } else {
      method = (input.method ?? 'POST').toUpperCase();
      const h = input.headers ?? { 'content-type': 'application/x-www-form-urlencoded' };
      headers = Array.isArray(h) ? h : Object.entries(h);
      body = typeof input.body === 'string' ? new TextEncoder().encode(input.body) : (input.body ?? new Uint8Array(0));
    }
    if (now !== undefined && (typeof now !== 'number' || !Number.isFinite(now))) {
      throw new TypeError('assertion-grant: explain() now must be a finite number of seconds');
    }
    const at = now ?? this.#nowSecs();
    const gen = generation;
    try {
      const core = this.#core;
      const exchange = core.beginExplain(method, headers, body, at);
      let used;
      try {
        await this.#answer(core, exchange, gen);
        // A refresh: its family, read (never written) from the store.
        const family = exchange.familyNeed;
        if (family !== undefined) {
          const stored = this.#families === undefined ? undefined : await this.#families.get(family);
          stillCurrent(gen);
          core.resumeFamily(exchange, typeof stored === 'string' ? stored : undefined);
        }
        used = [];
        for (const key of exchange.replayKeys) {
          if (typeof this.#store.has === 'function' && (await this.#store.has(key)) === true) used.push(key);
          stillCurrent(gen);
        }
      } catch (err) {
        recoverFromTrap(err);
        freeIfCurrent(exchange, gen);
        throw err;
      }
      return core.finishExplain(exchange, used);
    } catch (err) {
      recoverFromTrap(err);
      throw err;
    }
  }

  /**
   * Answers everything `exchange` stops on until it is decided: signature
   * checks (WebCrypto, or in wasm) and key-set needs (fetched by the
   * KeySetHost, recorded in the core, then the exchange resumes).
   */
  async #answer(core, exchange, gen, seen) {
    const verifier = this.#verifier;
    let check = verifier === undefined ? undefined : exchange.signatureCheck;
    for (let needs = 0; ; ) {
      if (verifier === undefined) {
        // Answers every check in wasm; stops when decided or a need appears.
        core.resumeInWasm(exchange);
      } else {
        while (check !== undefined) {
          if (seen !== undefined) seen.signatureChecks += 1;
          const verified = await verifier.verify(check);
          stillCurrent(gen);
          check = core.resume(exchange, verified);
        }
      }
      const need = exchange.keySetNeed;
      if (need === undefined) return;
      needs += 1;
      if (seen !== undefined) seen.keySetFetches += 1;
      if (needs > MAX_KEY_SET_NEEDS) {
        throw new Error(`assertion-grant: more than ${MAX_KEY_SET_NEEDS} key-set needs in one exchange (last: ${need.owner} ${need.url})`);
      }
      await this.#keySets.provide(core, need);
      stillCurrent(gen);
      core.resumeKeys(exchange);
      if (verifier !== undefined) check = exchange.signatureCheck;
    }
  }

  /** Runs every check of a token request; resolves with the core's `Prepared`. */
  async #decide(method, headers, body, now, gen, kind = 'token', seen = undefined) {
    const core = this.#core;
    const exchange =
      kind === 'revoke'
        ? core.beginRevocation(method, headers, body, now)
        : kind === 'introspect'
          ? core.beginIntrospection(method, headers, body, now)
          : core.begin(method, headers, body, now);
    try {
      await this.#answer(core, exchange, gen, seen);
      const family = exchange.familyNeed;
      if (family !== undefined) {
        // A refresh: read its family (without a store, it finds none).
        let stored;
        if (this.#families !== undefined) {
          try {
            stored = await this.#families.get(family);
          } catch (err) {
            // Fail closed, and tell the operator (as for the replay store).
            this.#report(err);
            freeIfCurrent(exchange, gen);
            return { response: hostError('replay_store_unavailable'), familyWrite: undefined, free() {} };
          }
          stillCurrent(gen);
        }
        core.resumeFamily(exchange, typeof stored === 'string' ? stored : undefined);
      }
      const revokedKey = exchange.revokedNeed;
      if (revokedKey !== undefined) {
        // Introspection of an access token: was it revoked? A store that
        // cannot say (no has()) or fails answers "revoked" (active: false).
        let held = true;
        try {
          if (typeof this.#store.has === 'function') held = (await this.#store.has(revokedKey)) === true;
        } catch (err) {
          this.#report(err);
        }
        stillCurrent(gen);
        core.resumeRevoked(exchange, held);
      }
    } catch (err) {
      recoverFromTrap(err);
      freeIfCurrent(exchange, gen);
      throw err;
    }
    return core.finishExchange(exchange);
  }

  /**
   * A revocation request (RFC 7009): the client authenticated as at the
   * token endpoint, then the family of one of its refresh tokens revoked
   * (compare and swap; a swap lost to a concurrent rotation is retried on the
   * family as it is now). The answer is the core's.
   */
  async #revoke(method, headers, body, introspection = false, seen = undefined) {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const gen = generation;
      const prepared = await this.#decide(method, headers, body, this.#nowSecs(), gen, introspection ? 'introspect' : 'revoke', seen);
      try {
        // An access token revoked: its mark in the replay store until exp.
        const mark = prepared.revocationMark;
        if (mark !== undefined) {
          try {
            await this.#store.claim(mark.key, mark.expiresAt, mark.partition);
          } catch (err) {
            this.#report(err);
            return coreResponse(hostError('replay_store_unavailable'));
          }
          stillCurrent(gen);
        }
        const write = prepared.familyWrite;
        if (write !== undefined) {
          let swapped;
          try {
            swapped = await this.#families.swap(write);
          } catch (err) {
            this.#report(err);
            return coreResponse(hostError('replay_store_unavailable'));
          }
          stillCurrent(gen);
          if (swapped !== true) continue;
        }
        const answer = prepared.response;
        return coreResponse(answer ?? hostError('server_error'));
      } finally {
        freeIfCurrent(prepared, gen);
      }
    }
    return coreResponse(hostError('replay_store_unavailable'));
  }

  /** Mints the token for `prepared` (its keys claimed): signed in wasm or with the WebCrypto key. */
  async #issue(prepared, gen) {
    const core = this.#core;
    if (!this.#hostSigns) return coreResponse(core.issue(prepared, this.#nowSecs()));
    const unsigned = core.tokenToSign(prepared, this.#nowSecs());
    let owned = true;
    try {
      const toSign = unsigned.toSign;
      if (toSign === undefined) return coreResponse(unsigned.response);
      const signature = await this.#signer.sign(toSign.kid, toSign.signingInput);
      stillCurrent(gen);
      owned = false; // finishToken() takes ownership
      return coreResponse(core.finishToken(unsigned, signature));
    } finally {
      if (owned) freeIfCurrent(unsigned, gen);
    }
  }

  async exchange(params = {}) {
    const {
      grantType = JWT_BEARER,
      assertion,
      scope,
      clientId,
      clientSecret,
      clientAuth,
      clientAssertion,
      clientAssertionType,
      resource,
      dpop,
      refreshToken,
    } = params;
    const form = new URLSearchParams();
    const headers = new Headers({ 'Content-Type': 'application/x-www-form-urlencoded' });
    form.set('grant_type', grantType);
    if (assertion !== undefined) form.set('assertion', assertion);
    if (refreshToken !== undefined) form.set('refresh_token', refreshToken);
    if (scope !== undefined) form.set('scope', Array.isArray(scope) ? scope.join(' ') : scope);
    for (const r of resource === undefined ? [] : Array.isArray(resource) ? resource : [resource]) form.append('resource', r);
    if (dpop !== undefined) headers.set('DPoP', dpop);
    if (clientSecret !== undefined) {
      if (clientId === undefined) throw new TypeError('assertion-grant: clientSecret needs clientId');
      const auth = clientAuth ?? 'basic';
      if (auth === 'basic') {
        headers.set('Authorization', `Basic ${base64(`${formUrlEncode(clientId)}:${formUrlEncode(clientSecret)}`)}`);
      } else if (auth === 'post') {
        form.set('client_id', clientId);
        form.set('client_secret', clientSecret);
      } else {
        throw new TypeError(`assertion-grant: clientAuth must be 'basic' or 'post', got ${String(auth)}`);
      }
    } else if (clientId !== undefined) {
      form.set('client_id', clientId);
    }
    if (clientAssertion !== undefined) {
      form.set('client_assertion_type', clientAssertionType ?? CLIENT_ASSERTION_JWT_BEARER);
      form.set('client_assertion', clientAssertion);
    }
    const url = new URL(this.#paths.token, 'http://localhost');
    const response = await this.handle(new Request(url, { method: 'POST', headers, body: form.toString() }));
    let body;
    try {
      body = await response.json();
    } catch {
      throw new OAuthError('server_error', 'response was not JSON', response.status);
    }
    if (response.status === 200) return body;
    throw new OAuthError(
      typeof body?.error === 'string' ? body.error : 'server_error',
      typeof body?.error_description === 'string' ? body.error_description : undefined,
      response.status,
    );
  }

  #methodNotAllowed(method, request) {
    let prepared;
    try {
      // The core refuses the method before any signature work: nothing to
      // answer. No headers: a malformed one must not turn the 405 into a 400.
      const core = this.#core;
      prepared = core.finishExchange(core.begin(method, [], new Uint8Array(0), this.#nowSecs()));
      const http = prepared.response;
      if (http !== undefined && http.status === 405) {
        const response = coreResponse(http);
        if (!response.headers.has('Allow')) response.headers.set('Allow', 'POST');
        return response;
      }
    } finally {
      if (prepared !== undefined) freeIfCurrent(prepared, generation);
    }
    // The core answers 405 itself; never fall through to issue.
    return coreResponse(hostError('token_method_not_allowed'));
  }

  async #token(method, headers, body, attempt = 0, seen = undefined) {
    const gen = generation;
    const now = this.#nowSecs();
    const prepared = await this.#decide(method, headers, body, now, gen, 'token', seen);
    let owned = true;
    try {
      const early = prepared.response;
      if (early !== undefined) {
        // A reused refresh token revokes its family before the refusal goes
        // out. If that write loses to a concurrent rotation, the request runs
        // again on the family as it is now (the reused token is still
        // remembered); if the store fails, 503 — never "revoked" unwritten.
        const write = prepared.familyWrite;
        if (write !== undefined && this.#families !== undefined) {
          let swapped;
          try {
            swapped = await this.#families.swap(write);
          } catch (err) {
            this.#report(err);
            return coreResponse(hostError('replay_store_unavailable'));
          }
          if (swapped !== true) {
            if (attempt < 2) {
              freeIfCurrent(prepared, gen);
              owned = false;
              return this.#token(method, headers, body, attempt + 1, seen);
            }
            return coreResponse(hostError('replay_store_unavailable'));
          }
        }
        return coreResponse(early);
      }
      if (seen !== undefined) seen.labels = prepared.labels;
      // A signing key WebCrypto refused fails here, before any replay key
      // is spent on a token that could not be signed.
      if (this.#signer !== undefined) {
        await this.#signer.ready();
        stillCurrent(gen);
      }

      // Claim in the order the core gives (a DPoP proof's key, the grant's,
      // then the client assertion's); stop at the first key already used, so
      // a spent grant never leaves an entry for a fresh client assertion.
      for (const { key, expiresAt, partition } of prepared.replayKeys) {
        let claimed;
        if (seen !== undefined) seen.replayClaims += 1;
        try {
          claimed = await this.#store.claim(key, expiresAt, partition);
        } catch (err) {
          // Fail closed, and tell the operator: an outage must leave a log line.
          this.#report(err);
          return coreResponse(hostError('replay_store_unavailable'));
        }
        stillCurrent(gen);
        if (claimed !== true) return coreResponse(this.#core.replayRejected(prepared, key));
      }
      // The token is minted and signed first, then the refresh-token family
      // written (compare and swap): a token that could not be signed never
      // costs the client its family; a lost swap (another request rotated or
      // revoked it first) discards the token and issues nothing.
      const write = prepared.familyWrite;
      owned = false; // issuing takes ownership of `prepared` (frees it in wasm)
      // The clock is read again: claiming may have taken a while.
      const response = await this.#issue(prepared, gen);
      if (write === undefined || response.status !== 200) return response;
      let swapped;
      try {
        swapped = this.#families === undefined ? false : await this.#families.swap(write);
      } catch (err) {
        this.#report(err);
        return coreResponse(hostError('replay_store_unavailable'));
      }
      if (swapped !== true) return coreResponse(hostError('refresh_conflict'));
      return response;
    } finally {
      if (owned) freeIfCurrent(prepared, gen);
    }
  }

  #nowSecs() {
    const now = this.#now();
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new TypeError('assertion-grant: now() must return seconds since the epoch');
    }
    return Math.floor(now);
  }
}

/**
 * The request's id for the log line: Cloudflare's `cf-ray`, else an
 * `x-request-id` of at most 64 safe characters, else a fresh UUID.
 */
function requestId(request) {
  for (const name of ['cf-ray', 'x-request-id']) {
    const value = request.headers.get(name);
    if (value !== null && /^[A-Za-z0-9._:-]{1,64}$/.test(value)) return value;
  }
  return typeof crypto?.randomUUID === 'function' ? crypto.randomUUID() : undefined;
}

const GRANT_TYPES = new Set([JWT_BEARER, SAML2_BEARER, 'refresh_token']);

/** The request's grant_type for the log line, when it is one the endpoint serves. */
function grantTypeOf(body) {
  const match = /(?:^|&)grant_type=([^&]*)/.exec(new TextDecoder().decode(body));
  if (match === null) return undefined;
  let value;
  try {
    value = decodeURIComponent(match[1].replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
  return GRANT_TYPES.has(value) ? value : undefined;
}
