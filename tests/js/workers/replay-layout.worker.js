// Test-only Worker: the two replay layouts side by side, for
// tests/js/replay-layout.test.mjs and bench/replay-layout.mjs.
//   REPLAY       → ReplayGuard (worker/index.js): one object per key, used as
//                  worker/index.js's DurableObjectReplayStore uses it
//   SHARDS       → ReplayShard (worker/replay-shards.js) through ShardedReplayStore
//   TEST_SHARDS  → TestReplayShard: ReplayShard with a settable clock, small
//                  bounds (12 rows, 5 per partition, sweeps of 4, alarm 30 s
//                  after the earliest expiry) and hooks to run its alarm and
//                  count its rows
// Every route is POST with a JSON body:
//   /claim  {layout, shards?, claims: [[key, expiresAt, partition]], concurrency}
//           → {results: [true | false | "error: …"], latencyMs}
//           layout: "key" | "shard" | "test-shard" | "none" (no store: the
//           harness's baseline, same loop and answer)
//   /has    {layout, shards?, keys} → {results}
//   /stats  {layout: "shard" | "test-shard", shards} → ReplayShard stats summed over the shards
//   /shard  {shards, index, method, args} → what TEST_SHARDS' shard `index` answers to method(...args)
export { ReplayGuard } from '../../../worker/index.js';
// The previous layout as the Worker calls it: one ReplayGuard per key.
import { DurableObjectReplayStore as PerKeyReplayStore } from '../../../worker/index.js';
import { ReplayShard, ShardedReplayStore, TransitionReplayStore } from '../../../worker/replay-shards.js';

export { ReplayShard };

export class TestReplayShard extends ReplayShard {
  static MAX_ROWS = 12;
  static MAX_ROWS_PER_PARTITION = 5;
  static SWEEP_BATCH = 4;
  static SWEEP_DELAY_SECS = 30;

  #fakeNow;

  now() {
    return this.#fakeNow ?? super.now();
  }

  setNow(seconds) {
    this.#fakeNow = seconds;
  }

  /** Runs the alarm handler now; the rows before and after, read in the same event. */
  async fireAlarm() {
    const before = this.rowCount();
    await this.alarm();
    return { before, after: this.rowCount() };
  }

  rowCount() {
    return this.ctx.storage.sql.exec('SELECT COUNT(*) AS n FROM replay').one().n;
  }

  async alarmAt() {
    return this.ctx.storage.getAlarm();
  }
}

const KEYED_SECRET = 'replay-layout-test-secret-0123456789abcdef';

const NO_STORE = { claim: async () => true, has: async () => false };

function store(env, layout, shards) {
  if (layout === 'key') return new PerKeyReplayStore(env.REPLAY);
  if (layout === 'shard') return new ShardedReplayStore(env.SHARDS, shards === undefined ? {} : { shards });
  if (layout === 'test-shard') return new ShardedReplayStore(env.TEST_SHARDS, shards === undefined ? {} : { shards });
  if (layout === 'none') return NO_STORE;
  if (layout === 'keyed-shard') return new ShardedReplayStore(env.SHARDS, { shards, secret: KEYED_SECRET });
  // An upgrade from per-key objects to shards (worker/index.js replayStoreOf).
  if (layout === 'transition') return new TransitionReplayStore(new PerKeyReplayStore(env.REPLAY), new ShardedReplayStore(env.SHARDS));
  throw new Error(`unknown layout ${layout}`);
}

/** fn over items with at most `concurrency` in flight; a throw becomes "error: …". */
async function pool(items, concurrency, fn) {
  const results = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (err) {
        results[i] = `error: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
  });
  await Promise.all(lanes);
  return results;
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    const input = await request.json();
    if (path === '/claim') {
      const s = store(env, input.layout, input.shards);
      let latencyMs = 0;
      const results = await pool(input.claims, input.concurrency ?? 1, async ([key, expiresAt, partition]) => {
        const started = Date.now();
        try {
          return await s.claim(key, expiresAt, partition);
        } finally {
          latencyMs += Date.now() - started;
        }
      });
      return Response.json({ results, latencyMs });
    }
    if (path === '/has') {
      const s = store(env, input.layout, input.shards);
      return Response.json({ results: await pool(input.keys, input.concurrency ?? 1, (key) => s.has(key)) });
    }
    if (path === '/index') {
      // Shard indices as a store chooses them (keyed: by HMAC under the secret).
      const s = new ShardedReplayStore(env.SHARDS, { shards: input.shards, ...(input.secret ? { secret: input.secret } : {}) });
      return Response.json({ results: await Promise.all(input.keys.map((k) => s.shardIndex(k))) });
    }
    if (path === '/stats') {
      const namespace = input.layout === 'test-shard' ? env.TEST_SHARDS : env.SHARDS;
      const s = new ShardedReplayStore(namespace, { shards: input.shards });
      const each = await Promise.all(
        Array.from({ length: input.shards }, (_, i) => namespace.get(namespace.idFromName(s.shardName(i))).stats()),
      );
      const sum = { rows: 0, rowsRead: 0, rowsWritten: 0, alarms: 0, alarmsSet: 0, shards: each.length, maxRows: 0 };
      for (const st of each) {
        for (const k of ['rows', 'rowsRead', 'rowsWritten', 'alarms', 'alarmsSet']) sum[k] += st[k];
        sum.maxRows = Math.max(sum.maxRows, st.rows);
      }
      return Response.json(sum);
    }
    if (path === '/shard') {
      const s = new ShardedReplayStore(env.TEST_SHARDS, { shards: input.shards });
      const stub = env.TEST_SHARDS.get(env.TEST_SHARDS.idFromName(s.shardName(input.index)));
      try {
        return Response.json({ value: (await stub[input.method](...(input.args ?? []))) ?? null });
      } catch (err) {
        return Response.json({ error: err instanceof Error ? err.message : String(err) });
      }
    }
    return new Response('not found', { status: 404 });
  },
};
