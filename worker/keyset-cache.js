// A key-set cache shared by every isolate of a Cloudflare colo, on the
// Workers Cache API: the TokenEndpoint option `keySets.cache`. An isolate
// that needs an IdP's JWK Set (or SAML metadata) first looks here; one that
// fetched it from the origin puts it here. So a colo fetches a key set about
// once per freshness period, not once per isolate.
//
// The Cache API is per colo and best effort (entries may be evicted early;
// on workers.dev it stores nothing): the core never trusts an entry more
// than a fetch — it parses and checks every document it is handed — and a
// miss or an error just means the origin is asked.
//
//   import { cacheApiKeySetCache } from './keyset-cache.js';
//   new TokenEndpoint(config, { …, keySets: { cache: cacheApiKeySetCache() } });

/** The internal URL an entry is stored under (never fetched: a cache key only). */
const KEY_PREFIX = 'https://assertion-grant.internal/keyset?url=';

const finite = (value) => typeof value === 'number' && Number.isFinite(value);

/**
 * @param {Cache} [cache] default `caches.default`
 * @param {{ now?: () => number }} [options] clock in seconds (default: Date.now)
 * @returns {{ get(url: string): Promise<object | undefined>, put(url: string, entry: object): Promise<void> }}
 */
export function cacheApiKeySetCache(cache = caches.default, { now = () => Date.now() / 1000 } = {}) {
  const keyFor = (url) => new Request(KEY_PREFIX + encodeURIComponent(url), { method: 'GET' });
  return {
    async get(url) {
      const response = await cache.match(keyFor(url));
      if (response === undefined || response === null) return undefined;
      let entry;
      try {
        entry = await response.json();
      } catch {
        return undefined;
      }
      if (entry === null || typeof entry !== 'object' || typeof entry.body !== 'string') return undefined;
      if (!finite(entry.fetchedAt) || !finite(entry.freshUntil)) return undefined;
      return entry;
    },

    async put(url, entry) {
      const { body, cacheControl = null, fetchedAt, freshUntil } = entry;
      const staleUntil = finite(entry.staleUntil) ? entry.staleUntil : freshUntil;
      if (typeof body !== 'string' || !finite(fetchedAt) || !finite(freshUntil)) return;
      // Evicted once it can no longer serve, even stale.
      const maxAge = Math.max(1, Math.ceil(staleUntil - now()));
      const value = JSON.stringify({ body, cacheControl, fetchedAt, freshUntil, staleUntil });
      await cache.put(
        keyFor(url),
        new Response(value, {
          headers: { 'Content-Type': 'application/json', 'Cache-Control': `max-age=${maxAge}` },
        }),
      );
    },
  };
}
