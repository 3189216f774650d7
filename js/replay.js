// MemoryReplayStore: one-time use in memory, bounded per partition and in
// total, failing closed on a bad clock.


/**
 * In-memory one-time-use store for a single process. Entries live until their
 * expiry; expired entries are swept opportunistically (at most once per
 * `sweepIntervalSecs` of the store's clock, and whenever a bound is reached).
 *
 * Bounded twice: `maxEntries` in all, and `maxEntriesPerPartition` per
 * partition (the client a replay key is charged to, see `ReplayKeyClaim`), so
 * one client cannot fill the store for the others. When a bound is reached
 * with unexpired entries it throws rather than evicting (evicting would
 * re-open a replay window), and the endpoint answers 503 to that client only.
 * A clock that returns anything but a finite number also throws: it never
 * accepts a claim it cannot date.
 */
export class MemoryReplayStore {
  #entries = new Map(); // key -> { expiresAt, partition }
  #perPartition = new Map(); // partition -> live entry count
  #maxEntries;
  #maxEntriesPerPartition;
  #now;
  #sweepIntervalSecs;
  #lastSweep = -Infinity;
  #lastForcedSweep = Number.NaN;

  /**
   * @param {{ maxEntries?: number, maxEntriesPerPartition?: number, now?: () => number, sweepIntervalSecs?: number }} [options]
   */
  constructor({
    maxEntries = 100_000,
    maxEntriesPerPartition = 10_000,
    now = () => Date.now() / 1000,
    sweepIntervalSecs = 60,
  } = {}) {
    for (const [name, value] of [
      ['maxEntries', maxEntries],
      ['maxEntriesPerPartition', maxEntriesPerPartition],
    ]) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`MemoryReplayStore: ${name} must be a positive integer`);
      }
    }
    if (typeof now !== 'function') throw new TypeError('MemoryReplayStore: now must be a function');
    this.#maxEntries = maxEntries;
    this.#maxEntriesPerPartition = maxEntriesPerPartition;
    this.#now = now;
    this.#sweepIntervalSecs = sweepIntervalSecs;
  }

  #clock() {
    const now = this.#now();
    if (typeof now !== 'number' || !Number.isFinite(now)) {
      throw new TypeError('MemoryReplayStore: the clock returned a non-finite time; refusing to decide');
    }
    return now;
  }

  /**
   * Claim `key` until `expiresAt` (seconds since the epoch), charged to
   * `partition` (stores that do not bound partitions may ignore it).
   * @param {string} key
   * @param {number} expiresAt
   * @param {string} [partition]
   * @returns {boolean} true if the key was free (now claimed), false if already claimed
   */
  claim(key, expiresAt, partition = '') {
    if (typeof key !== 'string' || key.length === 0) {
      throw new TypeError('MemoryReplayStore: key must be a non-empty string');
    }
    if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) {
      throw new TypeError('MemoryReplayStore: expiresAt must be a finite number of seconds');
    }
    if (typeof partition !== 'string') throw new TypeError('MemoryReplayStore: partition must be a string');
    const now = this.#clock();
    if (now - this.#lastSweep >= this.#sweepIntervalSecs) this.#sweep(now);
    const existing = this.#entries.get(key);
    if (existing !== undefined && existing.expiresAt > now) return false;
    if (existing !== undefined) this.#sweep(now); // expired, not swept yet: keep the counts exact
    const full = () =>
      this.#entries.size >= this.#maxEntries ||
      (this.#perPartition.get(partition) ?? 0) >= this.#maxEntriesPerPartition;
    if (full()) {
      // A client sitting at its bound must not make every claim walk the
      // whole store: sweep on demand at most once per clock second.
      const second = Math.floor(now);
      if (second !== this.#lastForcedSweep) {
        this.#lastForcedSweep = second;
        this.#sweep(now);
      }
      if (full()) throw new Error('MemoryReplayStore: full of unexpired entries for this partition or in all');
    }
    this.#entries.set(key, { expiresAt, partition });
    this.#perPartition.set(partition, (this.#perPartition.get(partition) ?? 0) + 1);
    return true;
  }

  /**
   * Whether `key` is claimed and unexpired (a read; never claims).
   * @param {string} key
   * @returns {boolean}
   */
  has(key) {
    const now = this.#clock();
    const entry = this.#entries.get(key);
    return entry !== undefined && entry.expiresAt > now;
  }

  /** Number of entries held (expired ones included until the next sweep). */
  get size() {
    return this.#entries.size;
  }

  /** Remove every expired entry now. */
  sweep() {
    this.#sweep(this.#clock());
  }

  #sweep(now) {
    this.#lastSweep = now;
    for (const [key, { expiresAt, partition }] of this.#entries) {
      if (expiresAt > now) continue;
      this.#entries.delete(key);
      const left = (this.#perPartition.get(partition) ?? 1) - 1;
      if (left > 0) this.#perPartition.set(partition, left);
      else this.#perPartition.delete(partition);
    }
  }
}
