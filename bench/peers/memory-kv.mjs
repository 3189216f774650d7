// An in-memory stand-in for a Workers KV namespace binding (get / put /
// delete / list, values kept as strings, expiration honoured on read), for
// the workers-oauth-provider peer: it plays the part the in-memory replay
// namespace plays for ours (bench/workerd/ag-cpu.js), so the CPU number is
// the library's own work and not the storage's. Values are stored as the
// library writes them (JSON text) and parsed again on every `get` with
// `type: 'json'`, as the binding does. Not a complete KV: no metadata, no
// cacheTtl, no streams.

const typeOf = (options) => (typeof options === 'string' ? options : options?.type ?? 'text');

export class MemoryKV {
  #map = new Map(); // key → { value: string, expiresAt?: seconds }

  #live(key) {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now() / 1000) {
      this.#map.delete(key);
      return undefined;
    }
    return entry;
  }

  async get(key, options) {
    const entry = this.#live(key);
    if (entry === undefined) return null;
    const type = typeOf(options);
    if (type === 'json') return JSON.parse(entry.value);
    if (type === 'text') return entry.value;
    const bytes = new TextEncoder().encode(entry.value);
    if (type === 'arrayBuffer') return bytes.buffer;
    throw new TypeError(`MemoryKV: get type ${type} not supported`);
  }

  async put(key, value, options = {}) {
    if (typeof value !== 'string') throw new TypeError('MemoryKV: only string values');
    let expiresAt;
    if (options.expiration !== undefined) expiresAt = options.expiration;
    else if (options.expirationTtl !== undefined) {
      if (options.expirationTtl < 60) throw new Error('MemoryKV: expirationTtl below 60 s (KV refuses it)');
      expiresAt = Date.now() / 1000 + options.expirationTtl;
    }
    this.#map.set(key, { value, expiresAt });
  }

  async delete(key) {
    this.#map.delete(key);
  }

  async list({ prefix = '', limit = 1000, cursor } = {}) {
    const names = [...this.#map.keys()].filter((k) => k.startsWith(prefix) && this.#live(k)).sort();
    const start = cursor ? Number(cursor) : 0;
    const page = names.slice(start, start + limit);
    const complete = start + limit >= names.length;
    return {
      keys: page.map((name) => ({ name, expiration: this.#map.get(name).expiresAt })),
      list_complete: complete,
      ...(complete ? {} : { cursor: String(start + limit) }),
    };
  }

  /** Bench only: drop every key that does not start with one of `keep`. */
  clearExcept(keep = []) {
    for (const key of [...this.#map.keys()]) if (!keep.some((p) => key.startsWith(p))) this.#map.delete(key);
  }

  get size() {
    return this.#map.size;
  }
}
