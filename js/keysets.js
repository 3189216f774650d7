// Remote key sets (`trusted_issuers[].jwks_uri`, `clients[].jwks_uri`,
// `trusted_issuers[].saml_metadata_url`): the host's half of the core's
// *key-set need* (DESIGN.md, "the core asks, the host answers").
//
// The host does I/O only: fetch with a timeout, a size limit and redirect
// rules (fetchKeySet); one fetch per source at a time, recorded in the core
// exactly once (KeySetHost); and, optionally, a cache shared with other
// isolates or processes. Every policy decision — whether a document is
// usable, how long it stays fresh, when to refetch, how long stale keys
// serve, when to answer 503 — is the core's (`Core.keySetFetched`).

import { concatBytes } from './http.js';
import { generation, stillCurrent } from './runtime.js';

const ACCEPT = Object.freeze({
  jwks: 'application/jwk-set+json, application/json',
  'saml-metadata': 'application/samlmetadata+xml, application/xml, text/xml',
});

/** Redirects followed (same origin only) before a fetch fails. */
export const MAX_KEY_SET_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_BYTES = 65536;

/** A failure with a short message for logs (never the body). */
class FetchFailure extends Error {}

const fail = (message) => {
  throw new FetchFailure(message);
};

/** A short, single-line description of what fetch() threw. */
function networkError(err) {
  const code = typeof err?.cause?.code === 'string' ? err.cause.code : undefined;
  const message = code ?? (typeof err?.message === 'string' && err.message !== '' ? err.message : String(err));
  return `network error: ${message.replace(/\s+/g, ' ').slice(0, 120)}`;
}

/** Drops a response's body unread (a redirect's, an error's). */
function discard(response) {
  try {
    response.body?.cancel().catch(() => {});
  } catch {
    // a locked or already consumed body: nothing to release
  }
}

const integerSecs = (secs) => Math.floor(secs);

/**
 * Fetches one key-set document (a JWK Set or SAML metadata) for the core.
 *
 * GET with an `Accept` for `kind`; redirects are followed by hand, at most
 * three and only within the URL's origin (scheme, host and port); only 200 is
 * a success; the timeout covers the whole exchange, body included; the body
 * is read as a stream and abandoned as soon as it passes `maxBytes` (a
 * declared `Content-Length` above it fails before reading); it must be UTF-8.
 * Never throws: a failure is `{ ok: false, error }` with a short message that
 * never contains the body.
 *
 * `fetchedAt` is the clock when the request was sent: the document is at
 * least that old (RFC 9111 §4.2.3 dates a response by its request time).
 *
 * @param {string} url
 * @param {{ kind?: 'jwks' | 'saml-metadata', timeoutMs?: number, maxBytes?: number, fetch?: typeof fetch, now?: () => number }} [options]
 * @returns {Promise<{ ok: true, body: string, cacheControl: string | null, fetchedAt: number } | { ok: false, error: string }>}
 */
export async function fetchKeySet(url, options = {}) {
  let controller;
  let timer;
  try {
    const {
      kind = 'jwks',
      timeoutMs = DEFAULT_TIMEOUT_MS,
      maxBytes = DEFAULT_MAX_BYTES,
      fetch: fetchFn = (input, init) => globalThis.fetch(input, init),
      now = () => Date.now() / 1000,
    } = options;
    if (typeof fetchFn !== 'function') fail('no fetch function');
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail('invalid timeout');
    if (!Number.isFinite(maxBytes) || maxBytes < 0) fail('invalid size limit');
    let fetchedAt;
    try {
      fetchedAt = integerSecs(now());
    } catch {
      fail('the clock failed');
    }
    if (!Number.isFinite(fetchedAt)) fail('the clock returned a non-finite time');

    controller = new AbortController();
    const state = { reader: undefined };
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        state.reader?.cancel().catch(() => {});
        reject(new FetchFailure(`timeout after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const attempt = fetchDocument(url, { kind, maxBytes, fetchFn, signal: controller.signal, state });
    // If the deadline wins, the attempt settles later (aborted): not an
    // unhandled rejection.
    attempt.catch(() => {});
    const { body, cacheControl } = await Promise.race([attempt, deadline]);
    return { ok: true, body, cacheControl, fetchedAt };
  } catch (err) {
    return { ok: false, error: err instanceof FetchFailure ? err.message : networkError(err) };
  } finally {
    clearTimeout(timer);
  }
}

async function fetchDocument(url, { kind, maxBytes, fetchFn, signal, state }) {
  let current;
  try {
    current = new URL(url);
  } catch {
    fail('not a URL');
  }
  if (current.protocol !== 'https:' && current.protocol !== 'http:') fail('not an http(s) URL');
  current.hash = '';
  const origin = current.origin;
  const visited = new Set([current.href]);
  const accept = Object.hasOwn(ACCEPT, kind) ? ACCEPT[kind] : ACCEPT.jwks;

  for (let redirects = 0; ; redirects += 1) {
    let response;
    try {
      response = await fetchFn(current.href, { method: 'GET', headers: { Accept: accept }, redirect: 'manual', signal });
    } catch (err) {
      if (signal.aborted) fail('aborted');
      fail(networkError(err));
    }
    if (REDIRECT_STATUSES.has(response.status)) {
      discard(response);
      const location = response.headers.get('location');
      if (location === null) fail(`HTTP ${response.status} without Location`);
      let next;
      try {
        next = new URL(location, current);
      } catch {
        fail('redirect to an invalid URL');
      }
      next.hash = '';
      if (next.origin !== origin) fail('redirect to another origin');
      if (visited.has(next.href)) fail('redirect loop');
      if (redirects >= MAX_KEY_SET_REDIRECTS) fail(`more than ${MAX_KEY_SET_REDIRECTS} redirects`);
      visited.add(next.href);
      current = next;
      continue;
    }
    if (response.type === 'opaqueredirect') fail('redirect not readable by this runtime');
    if (response.status !== 200) {
      discard(response);
      fail(`HTTP ${response.status}`);
    }
    const declared = response.headers.get('content-length');
    if (declared !== null && /^\s*\d+\s*$/.test(declared) && Number(declared) > maxBytes) {
      discard(response);
      fail(`larger than ${maxBytes} bytes`);
    }
    const bytes = await readLimited(response, maxBytes, state);
    let body;
    try {
      body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      fail('not valid UTF-8');
    }
    return { body, cacheControl: response.headers.get('cache-control') };
  }
}

/** The body, read as a stream and abandoned as soon as it passes `limit`. */
async function readLimited(response, limit, state) {
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  state.reader = reader;
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      reader.cancel().catch(() => {});
      fail(`larger than ${limit} bytes`);
    }
    chunks.push(value);
  }
  return concatBytes(chunks, total);
}

/** How long a shared-cache call may take: the fetch's own budget, at most 1 s. */
const cacheBudget = (need) => Math.min(Number.isFinite(need.timeoutMs) && need.timeoutMs > 0 ? need.timeoutMs : DEFAULT_TIMEOUT_MS, 1000);

const finite = (value) => typeof value === 'number' && Number.isFinite(value);

/** A shared-cache entry as `put` stored it, or undefined. */
function entryOf(value) {
  if (value === null || typeof value !== 'object') return undefined;
  const { body, cacheControl, fetchedAt, freshUntil, staleUntil } = value;
  if (typeof body !== 'string' || !finite(fetchedAt) || !finite(freshUntil)) return undefined;
  if (cacheControl !== undefined && cacheControl !== null && typeof cacheControl !== 'string') return undefined;
  return { body, cacheControl: cacheControl ?? null, fetchedAt, freshUntil, staleUntil: finite(staleUntil) ? staleUntil : freshUntil };
}

/** `promise`, or a rejection after `ms` (a shared cache must not hold a fetch up). */
function within(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve(promise), deadline]).finally(() => clearTimeout(timer));
}

const message = (err) => (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 200);

/**
 * Answers the core's key-set needs for one TokenEndpoint: one fetch per
 * source at a time (every exchange waiting on that source shares it), each
 * result recorded in the core exactly once (`keySetFetched`), and an optional
 * cache shared with other isolates or processes, consulted before the
 * network.
 */
export class KeySetHost {
  #fetch;
  #cache;
  #now;
  #onKeySet;
  #flights = new Map(); // source → { core, url, promise }

  /**
   * @param {{ fetch?: typeof fetch, cache?: { get(url: string): Promise<object | undefined>, put(url: string, entry: object): Promise<void> }, now?: () => number, onKeySet?: (report: object) => void }} [options]
   */
  constructor({ fetch: fetchFn, cache, now = () => Math.floor(Date.now() / 1000), onKeySet } = {}) {
    if (fetchFn !== undefined && typeof fetchFn !== 'function') {
      throw new TypeError('assertion-grant: keySets.fetch must be a function (url, init) => Promise<Response>');
    }
    if (cache !== undefined && cache !== null && (typeof cache.get !== 'function' || typeof cache.put !== 'function')) {
      throw new TypeError('assertion-grant: keySets.cache must have get(url) and put(url, entry) methods');
    }
    if (onKeySet !== undefined && typeof onKeySet !== 'function') {
      throw new TypeError('assertion-grant: keySets.onKeySet must be a function');
    }
    // Resolved at call time: a fetch installed (or mocked) later is used.
    this.#fetch = fetchFn ?? ((url, init) => globalThis.fetch(url, init));
    this.#cache = cache ?? undefined;
    this.#now = now;
    this.#onKeySet = onKeySet;
  }

  /**
   * Answers `need` (an Exchange's `keySetNeed`) in `core`: resolves with the
   * core's KeySetReport once the document (or the failure) is recorded.
   * Concurrent needs for one source share one fetch and one record.
   */
  provide(core, need) {
    const flight = this.#flights.get(need.source);
    if (flight !== undefined && flight.core === core && flight.url === need.url) return flight.promise;
    const promise = this.#run(core, need).finally(() => {
      if (this.#flights.get(need.source)?.promise === promise) this.#flights.delete(need.source);
    });
    this.#flights.set(need.source, { core, url: need.url, promise });
    return promise;
  }

  async #run(core, need) {
    const gen = generation;
    const { source, url } = need;
    const cacheErrors = [];
    if (this.#cache !== undefined) {
      let entry;
      try {
        entry = entryOf(await within(this.#cache.get(url), cacheBudget(need), 'shared cache get'));
      } catch (err) {
        cacheErrors.push(message(err).startsWith('shared cache') ? message(err) : `shared cache get failed: ${message(err)}`);
      }
      stillCurrent(gen);
      const now = this.#now();
      const have = need.haveFetchedAt ?? null;
      // Fresh, and newer than what the core holds: for a first use or an
      // expired set, another isolate's fetch; for an unknown kid, its refetch.
      if (entry !== undefined && entry.freshUntil > now && (have === null || entry.fetchedAt > have)) {
        const result = { ok: true, body: entry.body, cacheControl: entry.cacheControl, fetchedAt: entry.fetchedAt };
        const report = core.keySetFetched(source, result, now);
        if (report.accepted) return this.#notify(report, 'cache', cacheErrors);
        // The core refused what the cache held: ask the origin.
      }
    }
    const result = await fetchKeySet(url, {
      kind: need.kind,
      timeoutMs: need.timeoutMs,
      maxBytes: need.maxBytes,
      fetch: this.#fetch,
      now: this.#now,
    });
    stillCurrent(gen);
    const report = core.keySetFetched(source, result, this.#now());
    if (this.#cache !== undefined && result.ok && report.accepted) {
      const entry = {
        body: result.body,
        cacheControl: result.cacheControl,
        fetchedAt: result.fetchedAt,
        freshUntil: report.freshUntil,
        staleUntil: report.staleUntil,
      };
      try {
        await within(this.#cache.put(url, entry), cacheBudget(need), 'shared cache put');
      } catch (err) {
        cacheErrors.push(message(err).startsWith('shared cache') ? message(err) : `shared cache put failed: ${message(err)}`);
      }
    }
    return this.#notify(report, 'network', cacheErrors);
  }

  /** The core's report, with where the document came from and any shared-cache failure, to the hook. */
  #notify(coreReport, from, cacheErrors) {
    const report = { ...coreReport, from };
    if (cacheErrors.length > 0) report.cacheError = cacheErrors.join('; ');
    try {
      this.#onKeySet?.(report);
    } catch {
      // the hook must not change the answer
    }
    return report;
  }
}
