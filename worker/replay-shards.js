// Sharded replay store for the Worker: many replay keys per Durable Object.
//
// Why. ReplayGuard (worker/index.js) is one Durable Object per replay key:
// exact and never contended, but every exchange creates an object with its own
// SQLite database and an alarm. Locally (wrangler dev / workerd) that is three
// state files and ≈ 260 kB of workerd memory per exchange, never given back,
// and SQLITE_NOMEM (503) after ≈ 2,850 live objects in one workerd (measured
// by bench/replay-layout.mjs); on Cloudflare it is 3 rows written per claim
// (put, setAlarm, the alarm's deleteAll) and a second billed request (the
// alarm invocation). Here a fixed set of objects (shards) holds the keys as
// rows of one table: local state is bounded by the number of shards, and a
// claim is one request and two rows written (its insert, and its delete by a
// sweep), plus its share of one alarm per shard every two minutes.
//
// Layout.
//   ShardedReplayStore(namespace, { shards = 32 })  the host's replay store
//     (the interface of DurableObjectReplayStore: claim(key, expiresAt,
//     partition) → boolean, has(key) → boolean). A key's shard is a function
//     of the KEY ALONE: the first 8 hex digits of the key modulo `shards`
//     (the core's keys are 64 lowercase hex digits of SHA-256, so uniform);
//     any other string goes through FNV-1a. The object's name is
//     `replay/v1/<shards>/<index>`.
//   ReplayShard  the Durable Object class: table
//     replay(key TEXT PRIMARY KEY, keep_until INTEGER, partition TEXT)
//     WITHOUT ROWID (the key is the b-tree: one row written per claim, no
//     separate index to maintain).
//
// Why not the partition in the shard name. Exactness needs every claim of a
// key in one object. The same key arrives with different partitions (an
// assertion replayed by another client, or used once as a grant and once as a
// client assertion: the partition is the requesting client's), and has(key)
// is called without one. A shard chosen by partition would let a replay by a
// second client land in a second object and be accepted. The partition is
// stored instead, and bounds how much of a shard one client may hold.
//
// Claim. One synchronous transaction (transactionSync: nothing can interleave,
// and a Durable Object runs one event at a time anyway): select the key; live
// → false (a replay); expired → delete it; shard or partition at its bound →
// throw (fail closed: the endpoint answers 503 temporarily_unavailable, never
// evicts a live entry, which would reopen a replay window); insert → true.
// Entries are kept REPLAY_MARGIN_SECS (60) past expiresAt, as ReplayGuard
// does. A claim finding the shard full first sweeps expired rows (one batch,
// at most once a second) and checks again.
//
// Sweep. One alarm per shard, at the earliest keep_until + SWEEP_DELAY_SECS
// and never sooner than SWEEP_DELAY_SECS from now (120: deletions are
// batched, at most one alarm per shard per 2 minutes while traffic flows),
// deleting at most SWEEP_BATCH (1,000) expired rows per invocation and
// re-arming at once while more remain, else for the next expiry. Expired rows
// waiting for the sweep change no answer (claim and has compare keep_until
// with now). There is no index on keep_until: an index costs a row written
// per insert and per delete ($1.00/M each), while the sweep's scans cost
// ≈ 2 + 2 × retention / SWEEP_DELAY_SECS rows read per claim ($0.001/M
// each: 4.1 measured at 5 s retention; for 1-hour assertions ≈ 63 rows,
// $0.00006 per claim).
//
// Bounds (per shard; static fields, so a subclass can change them):
// MAX_ROWS 500,000 live entries (≈ 65 MB of SQLite; an object may hold
// 10 GB), MAX_ROWS_PER_PARTITION 125,000 (a quarter). A row lives for the
// assertion's lifetime + 60 s + up to 2 × SWEEP_DELAY_SECS, so one shard sustains
// MAX_ROWS / that many claims/s: ≈ 1,000/s for 5-minute assertions, ≈ 130/s
// for 1-hour ones (32 shards: ≈ 4,200/s). One client alone can hold a
// quarter of every shard. Unkeyed, a key's shard is public (its first hex
// digits), so clients that choose their jtis can aim at one shard: four
// partitions could fill it, or one could push it towards the per-object
// request limit. With a secret (AG_REPLAY_SHARD_SECRET) the shard is an HMAC
// of the key and cannot be aimed at: filling one means filling all. At a
// bound, a claim first deletes its own partition's expired rows, then one
// batch of anyone's (at most once a second), so expired entries never count.
// The counts live in memory, rebuilt by one scan when the object starts
// (≈ 200 bytes per distinct partition: a shard's partitions are bounded by
// its rows).
//
// Shard count: 32 by default. A Durable Object is single-threaded and
// Cloudflare's soft limit is 1,000 requests/s per object; a claim here is two
// or three SQLite statements (≈ 100–200 µs of workerd CPU per claim, measured
// locally, RPC included), so the soft limit, not CPU, binds. Planning at a
// quarter of it (250 claims/s per shard, so queueing adds little latency):
// 32 shards ≈ 8,000 claims/s ≈ 2,700–8,000 exchanges/s (1–3 claims each:
// the grant, a private_key_jwt client assertion, a DPoP proof), 32,000
// claims/s at the soft limit. Exactness needs all claims of a key in one
// object, so a hot key cannot be spread; keyed (or honest) keys are uniform,
// so load is.
// Locally (wrangler dev) 32 shards are at most 32 SQLite databases — each
// with a write-ahead log that grows to ≈ 4 MB before SQLite reuses it, so
// ≈ 130 MB of .wrangler/state at most, plus live rows — however many
// exchanges run. More shards raise the ceiling and the local footprint;
// fewer lower both. The cost of any shared store: a shard lives where it was
// first used, so claims from a far colo pay a round trip to it (a per-key
// object is created near its caller).
//
// Changing the shard count (or moving from ReplayGuard) changes where keys
// live: keys claimed before the change are invisible after it until they
// expire. Deploy such a change behind TransitionReplayStore(old, new) for the
// longest retention (max assertion lifetime + 60 s), then drop the old store.
import { DurableObject } from 'cloudflare:workers';

/** Seconds an entry is kept past expiresAt (the same as ReplayGuard's). */
export const REPLAY_MARGIN_SECS = 60;
/** Default number of shards (see the header). */
export const DEFAULT_SHARDS = 32;

const MAX_KEY_LENGTH = 512;
const MAX_PARTITION_LENGTH = 256;
// The latest expiresAt accepted, in seconds (the Date range; the core's are
// minutes or hours from now).
const MAX_TIME_SECS = 8.64e12;
// The latest alarm set (ms): far enough for any retention, inside the range
// the alarm API accepts (year 2100).
const MAX_ALARM_MS = Date.UTC(2100, 0, 1);

function checkKey(key, who) {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new TypeError(`${who}: key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`);
  }
}

function checkExpiresAt(expiresAt, who) {
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || Math.abs(expiresAt) > MAX_TIME_SECS) {
    throw new TypeError(`${who}: expiresAt must be seconds since the epoch`);
  }
}

function checkPartition(partition, who) {
  if (typeof partition !== 'string' || partition.length > MAX_PARTITION_LENGTH) {
    throw new TypeError(`${who}: partition must be a string of at most ${MAX_PARTITION_LENGTH} characters`);
  }
}

/**
 * Many replay keys in one SQLite-backed Durable Object (see the header).
 * RPC: claim(key, expiresAt, partition?) → boolean, has(key) → boolean,
 * stats() → counters. Limits are static fields.
 */
export class ReplayShard extends DurableObject {
  static MAX_ROWS = 500_000;
  static MAX_ROWS_PER_PARTITION = 125_000;
  static SWEEP_BATCH = 1_000;
  static SWEEP_DELAY_SECS = 120;

  #rows = 0; // rows in the table (expired ones included until swept)
  #perPartition = new Map(); // partition → rows
  #alarmAt = null; // ms of the pending alarm, as this object last set or read it
  #lastForcedSweep = -Infinity; // seconds
  #rowsRead = 0;
  #rowsWritten = 0;
  #alarms = 0; // alarm invocations (each a billed request)
  #alarmsSet = 0; // setAlarm calls (each a billed row written)

  constructor(ctx, env) {
    super(ctx, env);
    this.#exec(
      'CREATE TABLE IF NOT EXISTS replay (key TEXT PRIMARY KEY, keep_until INTEGER NOT NULL, partition TEXT NOT NULL) WITHOUT ROWID',
    );
    // The counts live in memory, rebuilt from the table whenever the object
    // starts (one scan): counting per claim would cost a row written each.
    for (const { partition, n } of this.#exec('SELECT partition, COUNT(*) AS n FROM replay GROUP BY partition')) {
      this.#perPartition.set(partition, n);
      this.#rows += n;
    }
    ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** The clock, seconds since the epoch (a test subclass may override it). */
  now() {
    return Date.now() / 1000;
  }

  #clock() {
    const now = this.now();
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new TypeError('ReplayShard: the clock returned a non-finite time');
    return now;
  }

  /** Runs one statement to completion; counts SQLite's rows read / written. */
  #exec(query, ...bindings) {
    const cursor = this.ctx.storage.sql.exec(query, ...bindings);
    const rows = cursor.toArray();
    this.#rowsRead += cursor.rowsRead;
    this.#rowsWritten += cursor.rowsWritten;
    return rows;
  }

  #count(partition, delta) {
    const n = (this.#perPartition.get(partition) ?? 0) + delta;
    if (n > 0) this.#perPartition.set(partition, n);
    else this.#perPartition.delete(partition);
    this.#rows += delta;
  }

  #full(partition) {
    const { MAX_ROWS, MAX_ROWS_PER_PARTITION } = this.constructor;
    return this.#rows >= MAX_ROWS || (this.#perPartition.get(partition) ?? 0) >= MAX_ROWS_PER_PARTITION;
  }

  /**
   * Deletes `partition`'s expired rows (at most `limit`); returns how many.
   * Run at a bound, so a client whose own entries have expired is never
   * refused for them.
   */
  #sweepPartition(now, partition, limit) {
    const gone = this.#exec(
      'DELETE FROM replay WHERE key IN (SELECT key FROM replay WHERE partition = ? AND keep_until <= ? LIMIT ?) RETURNING partition',
      partition,
      now,
      limit,
    );
    for (const row of gone) this.#count(row.partition, -1);
    return gone.length;
  }

  /** Deletes at most `limit` rows expired at `now`; returns how many. */
  #sweep(now, limit) {
    const gone = this.#exec(
      'DELETE FROM replay WHERE key IN (SELECT key FROM replay WHERE keep_until <= ? LIMIT ?) RETURNING partition',
      now,
      limit,
    );
    for (const { partition } of gone) this.#count(partition, -1);
    return gone.length;
  }

  /** Sets the alarm to `at` (ms) unless one is already due no later than `at` + slack. */
  async #arm(at, slackMs = 0) {
    // setAlarm takes a Date-range time; no entry needs one past MAX_ALARM_MS.
    const when = Math.min(at, MAX_ALARM_MS);
    if (this.#alarmAt !== null && this.#alarmAt <= when + slackMs) return;
    this.#alarmsSet += 1;
    await this.ctx.storage.setAlarm(when);
    // Cached only once set: a failed call leaves the previous value.
    this.#alarmAt = when;
  }

  /**
   * @param {string} key
   * @param {number} expiresAt seconds since the epoch
   * @param {string} [partition] who the entry is charged to
   * @returns {Promise<boolean>} true if the key was free and is now claimed
   */
  async claim(key, expiresAt, partition = '') {
    checkKey(key, 'ReplayShard.claim');
    checkExpiresAt(expiresAt, 'ReplayShard.claim');
    checkPartition(partition, 'ReplayShard.claim');
    const now = this.#clock();
    // Kept a minute past expiry: the isolate that accepted the assertion and
    // this object may disagree slightly about the time.
    const keepUntil = Math.ceil(expiresAt) + REPLAY_MARGIN_SECS;
    if (this.#full(partition)) {
      // At a bound: make room from expired rows — this partition's own
      // first, then (one batch, once a second) anyone's.
      this.#sweepPartition(now, partition, this.constructor.SWEEP_BATCH);
      if (this.#full(partition) && now - this.#lastForcedSweep >= 1) {
        this.#lastForcedSweep = now;
        this.#sweep(now, this.constructor.SWEEP_BATCH);
      }
    }
    let replaced; // the partition of an expired row this claim replaced
    const claimed = this.ctx.storage.transactionSync(() => {
      const [existing] = this.#exec('SELECT keep_until, partition FROM replay WHERE key = ?', key);
      if (existing !== undefined && existing.keep_until > now) return false;
      if (existing !== undefined) {
        this.#exec('DELETE FROM replay WHERE key = ?', key);
        replaced = existing.partition;
        this.#count(replaced, -1);
      }
      if (this.#full(partition)) {
        // Throwing rolls the transaction back: restore the count too.
        if (replaced !== undefined) this.#count(replaced, +1);
        throw new Error('ReplayShard: full (this partition or the shard holds its maximum of entries not yet expired or swept); refusing to claim');
      }
      this.#exec('INSERT INTO replay (key, keep_until, partition) VALUES (?, ?, ?)', key, keepUntil, partition);
      this.#count(partition, +1);
      return true;
    });
    if (claimed) {
      // One alarm per shard: set it when none is pending, or when this entry
      // expires well before the pending one (then that alarm is moved). Never
      // sooner than SWEEP_DELAY_SECS from now, even for an entry already past
      // keep-until: claims must not drive one alarm each.
      const delay = this.constructor.SWEEP_DELAY_SECS;
      await this.#arm((Math.max(keepUntil, now) + delay) * 1000, delay * 1000);
    }
    return claimed;
  }

  /** Whether `key` is claimed and unexpired (a read; never claims). */
  async has(key) {
    checkKey(key, 'ReplayShard.has');
    const now = this.#clock();
    const [row] = this.#exec('SELECT keep_until FROM replay WHERE key = ?', key);
    return row !== undefined && row.keep_until > now;
  }

  /** Sweeps one batch of expired rows, then re-arms for what is left. */
  async alarm() {
    this.#alarmAt = null; // this alarm is spent
    this.#alarms += 1;
    const batch = this.constructor.SWEEP_BATCH;
    const now = this.#clock();
    const swept = this.#sweep(now, batch);
    if (swept >= batch) {
      await this.#arm(Date.now()); // more may be expired: next batch now
      return;
    }
    const [{ next }] = this.#exec('SELECT MIN(keep_until) AS next FROM replay');
    if (next !== null) await this.#arm((Math.max(next, now) + this.constructor.SWEEP_DELAY_SECS) * 1000);
  }

  /**
   * Counters since this object started, for operators and the measurement
   * harness (no storage access): rows held, partitions, the pending alarm,
   * SQLite rows read / written by its statements, alarm invocations, setAlarm
   * calls.
   */
  stats() {
    return {
      rows: this.#rows,
      partitions: this.#perPartition.size,
      alarmAt: this.#alarmAt,
      rowsRead: this.#rowsRead,
      rowsWritten: this.#rowsWritten,
      alarms: this.#alarms,
      alarmsSet: this.#alarmsSet,
    };
  }
}

/** FNV-1a (32 bits) over the UTF-16 code units of `text`. */
function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const HEX_PREFIX = /^[0-9a-f]{8}/;

/**
 * The Worker's replay store over ReplayShard objects: the interface of
 * DurableObjectReplayStore (worker/index.js). Wiring: bind a namespace to
 * ReplayShard (a new_sqlite_classes migration) and pass
 * `new ShardedReplayStore(env.REPLAY_SHARDS)` as `replayStore`.
 */
export class ShardedReplayStore {
  #namespace;
  #shards;
  #ids;
  #hmacKey;

  /**
   * @param {DurableObjectNamespace} namespace bound to ReplayShard
   * @param {{ shards?: number, secret?: string }} [options] number of shards
   *   (1…4096); `secret` (≥ 32 characters): shards chosen by HMAC-SHA-256
   *   under it, so a client cannot aim its keys at one shard. Changing either
   *   moves keys (see the header).
   */
  constructor(namespace, { shards = DEFAULT_SHARDS, secret } = {}) {
    if (namespace === undefined || typeof namespace.idFromName !== 'function') {
      throw new TypeError('ShardedReplayStore: a Durable Object namespace bound to ReplayShard is required');
    }
    if (!Number.isInteger(shards) || shards < 1 || shards > 4096) {
      throw new RangeError('ShardedReplayStore: shards must be an integer in 1…4096');
    }
    if (secret !== undefined && (typeof secret !== 'string' || secret.length < 32)) {
      throw new TypeError('ShardedReplayStore: secret must be a string of at least 32 characters');
    }
    this.#namespace = namespace;
    this.#shards = shards;
    this.#ids = new Array(shards); // ids are plain values: cached; stubs are made per call
    this.#hmacKey =
      secret === undefined
        ? undefined
        : crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    // An unhandled rejection here would be reported twice; the claim reports it.
    this.#hmacKey?.catch(() => {});
  }

  /**
   * The unkeyed shard index of `key` (a store without `secret`): its first 8
   * hex digits (the core's keys are hex SHA-256), else FNV-1a.
   */
  shardOf(key) {
    checkKey(key, 'ShardedReplayStore');
    const h = HEX_PREFIX.test(key) ? parseInt(key.slice(0, 8), 16) : fnv1a(key);
    return h % this.#shards;
  }

  /** The shard index of `key` as this store chooses it (keyed when it has a secret). */
  async shardIndex(key) {
    if (this.#hmacKey === undefined) return this.shardOf(key);
    checkKey(key, 'ShardedReplayStore');
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await this.#hmacKey, new TextEncoder().encode(key)));
    return (((mac[0] << 24) | (mac[1] << 16) | (mac[2] << 8) | mac[3]) >>> 0) % this.#shards;
  }

  /** The Durable Object name of shard `index`. */
  shardName(index) {
    return `replay/v1/${this.#shards}/${index}`;
  }

  async #stub(key) {
    const index = await this.shardIndex(key);
    this.#ids[index] ??= this.#namespace.idFromName(this.shardName(index));
    return this.#namespace.get(this.#ids[index]);
  }

  async claim(key, expiresAt, partition = '') {
    checkExpiresAt(expiresAt, 'ShardedReplayStore.claim');
    checkPartition(partition, 'ShardedReplayStore.claim');
    return (await (await this.#stub(key)).claim(key, expiresAt, partition)) === true;
  }

  async has(key) {
    return (await (await this.#stub(key)).has(key)) === true;
  }
}

/**
 * For a change of replay layout (per-key objects → shards, or another shard
 * count): claims in both stores, so a key claimed before the change is still
 * refused after it, and Worker versions on either side of a gradual deploy
 * agree. Keep it for the longest retention after the last old version
 * stopped — the longest of: an assertion's lifetime + twice the clock skew,
 * an access token's lifetime (revocation marks), a DPoP proof's max age +
 * skew; plus 60 s — then use `next` alone.
 */
export class TransitionReplayStore {
  #old;
  #next;

  constructor(old, next) {
    this.#old = old;
    this.#next = next;
  }

  async claim(key, expiresAt, partition) {
    // The new store first: if it fails, nothing is written anywhere (503,
    // the key unspent); if the old one then fails, the key is spent in the
    // new store — never left only in the store that is going away.
    if ((await this.#next.claim(key, expiresAt, partition)) !== true) return false;
    return (await this.#old.claim(key, expiresAt, partition)) === true;
  }

  async has(key) {
    return (await this.#old.has(key)) === true || (await this.#next.has(key)) === true;
  }
}
