// MemoryFamilyStore: refresh-token families in memory (one process), with
// the compare-and-swap write the core's family records need.

/**
 * Refresh-token families for a single process. A family store is
 * `{ get(family) → string | undefined, swap(write) → boolean }` (either may
 * return a Promise): `get` returns the record last written (JSON text) unless
 * past its `forgetAt`; `swap` writes `write.state` only if the stored
 * record's version is `write.expectedVersion` (0: none stored) — atomically —
 * and keeps it until `write.forgetAt` (seconds). With Redis: a Lua script
 * comparing the version, or `WATCH`/`MULTI`; the Worker uses one Durable
 * Object per family.
 *
 * Bounded: at most `maxFamilies` live records; beyond that `swap` throws
 * (the endpoint answers 503 and issues nothing) rather than dropping a live
 * family, which would re-open reuse.
 */
export class MemoryFamilyStore {
  #records = new Map(); // family → { version, state, forgetAt }
  #maxFamilies;
  #now;

  /** @param {{ maxFamilies?: number, now?: () => number }} [options] */
  constructor({ maxFamilies = 100_000, now = () => Date.now() / 1000 } = {}) {
    if (!Number.isSafeInteger(maxFamilies) || maxFamilies < 1) {
      throw new TypeError('assertion-grant: maxFamilies must be a positive integer');
    }
    this.#maxFamilies = maxFamilies;
    this.#now = now;
  }

  #clock() {
    const now = this.#now();
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new TypeError('assertion-grant: MemoryFamilyStore now() must return seconds since the epoch');
    }
    return now;
  }

  /** @param {string} family */
  get(family) {
    const record = this.#records.get(family);
    return record !== undefined && this.#clock() < record.forgetAt ? record.state : undefined;
  }

  /** @param {{ family: string, expectedVersion: number, version: number, state: string, forgetAt: number }} write */
  swap({ family, expectedVersion, version, state, forgetAt }) {
    const now = this.#clock();
    let record = this.#records.get(family);
    if (record !== undefined && now >= record.forgetAt) {
      this.#records.delete(family);
      record = undefined;
    }
    if ((record?.version ?? 0) !== expectedVersion) return false;
    if (record === undefined && this.#records.size >= this.#maxFamilies) {
      for (const [k, r] of this.#records) if (now >= r.forgetAt) this.#records.delete(k);
      if (this.#records.size >= this.#maxFamilies) throw new Error('assertion-grant: MemoryFamilyStore is full');
    }
    this.#records.set(family, { version, state, forgetAt });
    return true;
  }

  /** Live families (expired ones included until swept). */
  get size() {
    return this.#records.size;
  }
}
