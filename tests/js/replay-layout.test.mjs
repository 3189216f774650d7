// The Worker's two replay layouts in real workerd (Miniflare), through the
// test Worker tests/js/workers/replay-layout.worker.js:
//   key    ReplayGuard (worker/index.js), one Durable Object per key, called
//          as worker/index.js's DurableObjectReplayStore calls it
//   shard  ReplayShard + ShardedReplayStore (worker/replay-shards.js)
// Both: 50 concurrent claims of one key → exactly one true; the 60 s margin
// past expiresAt; expired entries claimable again; has() reads, never claims;
// a replay from another partition refused. The sharded layout alone (through
// TestReplayShard, with a settable clock and small bounds): the exact expiry
// boundary, the sweep alarm (batches, re-arming for the next expiry), and
// refusal when a shard or a partition is full. Measurements of both layouts
// are bench/replay-layout.mjs's job, not this file's.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PKG, loadConfig, loadVectors, vectorParts } from './helpers.mjs';
import { createMiniflare } from './miniflare.mjs';
import { layoutRoot, layoutWorker, randomKey } from '../../bench/replay-layout.mjs';

let mf;
let tree;

before(async () => {
  tree = layoutRoot();
  mf = createMiniflare(layoutWorker({ root: tree.root }));
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
  tree?.cleanup();
});

async function post(path, body) {
  const response = await mf.dispatchFetch(`http://replay-layout${path}`, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

const nowSecs = () => Math.floor(Date.now() / 1000);
const claim = async (layout, claims, { concurrency = 1, shards } = {}) =>
  (await post('/claim', { layout, shards, claims, concurrency })).results;
const has = async (layout, keys, shards) => (await post('/has', { layout, shards, keys })).results;
const tally = (results) => results.reduce((t, r) => ((t[String(r)] = (t[String(r)] ?? 0) + 1), t), {});

for (const layout of ['key', 'shard', 'keyed-shard']) {
  describe(`layout "${layout}" in workerd`, () => {
    test('50 concurrent claims of one key: exactly one wins; 20 keys × 50 interleaved: one each', async () => {
      const key = randomKey();
      const one = await claim(layout, Array.from({ length: 50 }, (_, i) => [key, nowSecs() + 300, `p${i % 3}`]), { concurrency: 50 });
      assert.deepEqual(tally(one), { true: 1, false: 49 });
      const keys = Array.from({ length: 20 }, randomKey);
      const claims = Array.from({ length: 1000 }, (_, i) => [keys[i % 20], nowSecs() + 300, `p${i % 7}`]);
      const results = await claim(layout, claims, { concurrency: 64 });
      const wins = keys.map((k) => results.filter((r, i) => r === true && claims[i][0] === k).length);
      assert.deepEqual(wins, Array(20).fill(1));
      assert.deepEqual(tally(results), { true: 20, false: 980 });
    });

    test('has(): false for a fresh key (and does not claim it), true once claimed', async () => {
      const key = randomKey();
      assert.deepEqual(await has(layout, [key, key]), [false, false]);
      assert.deepEqual(await claim(layout, [[key, nowSecs() + 300, 'a']]), [true]);
      assert.deepEqual(await has(layout, [key]), [true]);
      assert.deepEqual(await claim(layout, [[key, nowSecs() + 300, 'a']]), [false]);
    });

    test('kept 60 s past expiresAt; once past that, claimable again', async () => {
      // expiresAt 30 s ago: still inside the margin, so a replay is refused.
      const recent = randomKey();
      assert.deepEqual(await claim(layout, [[recent, nowSecs() - 30, 'a']]), [true]);
      assert.deepEqual(await claim(layout, [[recent, nowSecs() - 30, 'a']]), [false]);
      assert.deepEqual(await has(layout, [recent]), [true]);
      // expiresAt 70 s ago: its entry is already past keep-until.
      const old = randomKey();
      assert.deepEqual(await claim(layout, [[old, nowSecs() - 70, 'a']]), [true]);
      assert.deepEqual(await has(layout, [old]), [false]);
      assert.deepEqual(await claim(layout, [[old, nowSecs() + 300, 'a']]), [true]);
      assert.deepEqual(await claim(layout, [[old, nowSecs() + 300, 'a']]), [false]);
    });

    test('a replay from another partition (another client) is refused', async () => {
      const key = randomKey();
      assert.deepEqual(await claim(layout, [[key, nowSecs() + 300, '0123456789abcdef']]), [true]);
      assert.deepEqual(await claim(layout, [[key, nowSecs() + 300, 'fedcba9876543210']]), [false]);
      assert.deepEqual(await claim(layout, [[key, nowSecs() + 300, '']]), [false]);
    });

    test('a non-numeric expiresAt is refused (the endpoint answers 503)', async () => {
      const [bad] = await claim(layout, [[randomKey(), 'soon', 'a']]);
      assert.match(String(bad), /^error: .*expiresAt/);
      const [inf] = await claim(layout, [[randomKey(), Infinity, 'a']]); // JSON: null
      assert.match(String(inf), /^error: .*expiresAt/);
    });
  });
}

describe('ShardedReplayStore: keys to shards', () => {
  test('spread evenly over the shards by key; every claim lands where has() looks', async () => {
    const keys = Array.from({ length: 1600 }, randomKey);
    const results = await claim('shard', keys.map((k, i) => [k, nowSecs() + 300, `p${i % 5}`]), { concurrency: 32, shards: 16 });
    assert.deepEqual(tally(results), { true: 1600 });
    assert.deepEqual(tally(await has('shard', keys, 16)), { true: 1600 });
    const stats = await post('/stats', { layout: 'shard', shards: 16 });
    assert.equal(stats.rows, 1600);
    // 100 per shard expected (sd ≈ 10): 160 is 6 sd away.
    assert.ok(stats.maxRows < 160, JSON.stringify(stats));
    // One row written per claim, and one setAlarm per shard.
    assert.equal(stats.alarmsSet, 16);
    assert.ok(stats.rowsWritten >= 1600 && stats.rowsWritten < 1600 + 16 * 4, JSON.stringify(stats));
  });

  test('keys that are not hex digests still map (FNV-1a) and stay exact', async () => {
    const key = `not-hex:${randomKey()}`;
    const results = await claim('shard', Array.from({ length: 50 }, () => [key, nowSecs() + 300, 'a']), { concurrency: 50, shards: 16 });
    assert.deepEqual(tally(results), { true: 1, false: 49 });
    assert.deepEqual(await has('shard', [key], 16), [true]);
    const [empty] = await claim('shard', [['', nowSecs() + 300, 'a']], { shards: 16 });
    assert.match(String(empty), /^error: .*key/);
  });
});

describe('ReplayShard with a settable clock (TestReplayShard: 12 rows, 5 per partition, sweeps of 4)', () => {
  // A key whose first 8 hex digits are 0: shard 0 whatever the shard count.
  // Each test uses its own shard count, hence its own object.
  const shardKey = () => `00000000${randomKey().slice(8)}`;
  const T = 2_000_000_000;
  const call = async (shards, method, ...args) => {
    const r = await post('/shard', { shards, index: 0, method, args });
    if (r.error !== undefined) return { error: r.error };
    return r.value;
  };
  const claimAt = (shards, key, expiresAt, partition) => call(shards, 'claim', key, expiresAt, partition);

  test('an entry is held until exactly expiresAt + 60 s, then claimable again (replaced, not duplicated)', async () => {
    const S = 101;
    await call(S, 'setNow', T);
    const key = shardKey();
    assert.equal(await claimAt(S, key, T + 100, 'a'), true);
    await call(S, 'setNow', T + 159);
    assert.equal(await call(S, 'has', key), true);
    assert.equal(await claimAt(S, key, T + 100, 'b'), false);
    await call(S, 'setNow', T + 160);
    assert.equal(await call(S, 'has', key), false);
    assert.equal(await claimAt(S, key, T + 400, 'b'), true);
    assert.equal(await call(S, 'rowCount'), 1);
    assert.equal(await claimAt(S, key, T + 400, 'a'), false);
  });

  test('one alarm per shard at the earliest keep-until + 30 s; sweeps expired rows in batches, then re-arms for the next', async () => {
    const S = 102;
    await call(S, 'setNow', T);
    const soon = Array.from({ length: 6 }, shardKey);
    const later = Array.from({ length: 4 }, shardKey);
    // Later entries first: the alarm follows the earliest expiry.
    for (const [i, k] of later.entries()) assert.equal(await claimAt(S, k, T + 20_000, `l${i}`), true);
    assert.equal(await call(S, 'alarmAt'), (T + 20_000 + 60 + 30) * 1000);
    for (const [i, k] of soon.entries()) assert.equal(await claimAt(S, k, T + 100 + i, `s${i % 3}`), true);
    assert.equal(await call(S, 'alarmAt'), (T + 100 + 60 + 30) * 1000);
    assert.equal(await call(S, 'rowCount'), 10);
    // An hour on: the six are expired (still stored until swept), the four are not.
    await call(S, 'setNow', T + 3600);
    assert.deepEqual(await Promise.all(soon.map((k) => call(S, 'has', k))), Array(6).fill(false));
    assert.equal(await call(S, 'rowCount'), 10);
    assert.deepEqual(await call(S, 'fireAlarm'), { before: 10, after: 6 }, 'one batch (4) swept');
    // More may be due: re-armed at once (and that alarm may run on its own).
    assert.ok((await call(S, 'alarmAt')) <= Date.now() + 1000 || (await call(S, 'rowCount')) === 4);
    for (let i = 0; i < 5 && (await call(S, 'rowCount')) > 4; i++) await call(S, 'fireAlarm');
    assert.equal(await call(S, 'rowCount'), 4);
    assert.deepEqual(await Promise.all(later.map((k) => call(S, 'has', k))), Array(4).fill(true));
    assert.equal(await call(S, 'alarmAt'), (T + 20_000 + 60 + 30) * 1000);
    const stats = await call(S, 'stats');
    assert.equal(stats.rows, 4);
    assert.equal(stats.partitions, 4);
  });

  test('an entry claimed already past keep-until arms the alarm no sooner than 30 s from now (no alarm per claim)', async () => {
    const S = 105;
    await call(S, 'setNow', T);
    assert.equal(await claimAt(S, shardKey(), T - 1000, 'a'), true);
    assert.equal(await call(S, 'alarmAt'), (T + 30) * 1000);
    await call(S, 'setNow', T + 10);
    assert.equal(await claimAt(S, shardKey(), T - 500, 'a'), true);
    assert.equal(await call(S, 'alarmAt'), (T + 30) * 1000);
    // The sweep finds both expired, and leaves no alarm behind for an empty shard.
    assert.deepEqual(await call(S, 'fireAlarm'), { before: 2, after: 0 });
    assert.equal((await call(S, 'stats')).alarmAt, null);
  });

  test('full: a partition at its bound, then the shard, fail closed; replays still answer false; expired rows make room', async () => {
    const S = 103;
    await call(S, 'setNow', T);
    for (let i = 0; i < 5; i++) assert.equal(await claimAt(S, shardKey(), T + 100, 'a'), true);
    const refused = await claimAt(S, shardKey(), T + 100, 'a');
    assert.match(refused.error ?? '', /full/);
    const kept = [];
    for (let i = 0; i < 5; i++) kept.push(shardKey());
    for (const k of kept) assert.equal(await claimAt(S, k, T + 100, 'b'), true);
    for (let i = 0; i < 2; i++) assert.equal(await claimAt(S, shardKey(), T + 100, 'c'), true);
    assert.equal(await call(S, 'rowCount'), 12);
    assert.match((await claimAt(S, shardKey(), T + 100, 'd')).error ?? '', /full/);
    assert.equal(await claimAt(S, kept[0], T + 100, 'd'), false, 'a replay is a replay, full or not');
    assert.equal(await call(S, 'rowCount'), 12);
    // The same refusal through ShardedReplayStore, as the endpoint sees it.
    const [viaStore] = await claim('test-shard', [[shardKey(), T + 100, 'd']], { shards: S });
    assert.match(String(viaStore), /^error: .*full/);
    // Past keep-until every row is free: the next claim sweeps and succeeds.
    await call(S, 'setNow', T + 161);
    assert.equal(await claimAt(S, shardKey(), T + 500, 'd'), true);
    assert.ok((await call(S, 'rowCount')) <= 12 - 4 + 1);
    assert.equal(await claimAt(S, kept[0], T + 500, 'a'), true);
  });

  test("at a bound, the client's own expired rows make room first (whatever else has expired)", async () => {
    const S = 105;
    await call(S, 'setNow', T);
    // Others' rows, expiring first (the shard-wide sweep of 4 would take them first) …
    for (let i = 0; i < 7; i++) assert.equal(await claimAt(S, shardKey(), T + 10, `o${i % 2}`), true);
    // … then partition a at its bound of 5, expiring a little later.
    for (let i = 0; i < 5; i++) assert.equal(await claimAt(S, shardKey(), T + 20, 'a'), true);
    assert.match((await claimAt(S, shardKey(), T + 100, 'a')).error ?? '', /full/);
    // Past a's keep-until, every row has expired: a's next claim succeeds at once,
    // even though a one-batch shard-wide sweep would only have freed others' rows.
    await call(S, 'setNow', T + 81);
    assert.equal(await claimAt(S, shardKey(), T + 200, 'a'), true);
    assert.equal(await claimAt(S, shardKey(), T + 200, 'a'), true);
  });

  test('input validation', async () => {
    const S = 104;
    for (const [key, expiresAt, partition] of [
      ['', T, 'a'],
      [42, T, 'a'],
      ['x'.repeat(513), T, 'a'],
      [shardKey(), 'soon', 'a'],
      [shardKey(), NaN, 'a'],
      [shardKey(), 1e13, 'a'],
      [shardKey(), T, 7],
      [shardKey(), T, 'p'.repeat(257)],
    ]) {
      const r = await claimAt(S, key, expiresAt, partition);
      assert.match(r?.error ?? '', /must be/, JSON.stringify([typeof key, expiresAt, partition]));
    }
    assert.match((await call(S, 'has', '')).error ?? '', /must be/);
    assert.equal(await call(S, 'rowCount'), 0);
  });
});

describe('the replay keys the core produces (what the shard mapping assumes)', () => {
  test('64 lowercase hex digits; partitions 16 hex digits (or empty)', async (t) => {
    if (!existsSync(join(PKG, 'index.js')) || !existsSync(join(PKG, 'assertion_grant_bg.wasm'))) {
      t.skip('pkg/ is not built (npm run build:pkg)');
      return;
    }
    const pkg = await import(new URL('../../pkg/index.js', import.meta.url).href);
    await pkg.ready();
    const seen = [];
    const replayStore = {
      claim(key, expiresAt, partition) {
        seen.push({ key, expiresAt, partition });
        return true;
      },
    };
    const config = loadConfig();
    const { now, vectors } = loadVectors();
    const endpoint = new pkg.TokenEndpoint(config, { signingKeys: pkg.generateSigningKey('replay-layout'), now: () => now, replayStore });
    const url = config.token_endpoint ?? `${config.issuer}/token`;
    for (const v of vectors.filter((x) => x.expect?.status === 200)) {
      const { body, headers } = vectorParts(v);
      await endpoint.handle(new Request(url, { method: 'POST', headers, body }));
    }
    for (const s of seen.slice(0, 3)) t.diagnostic(JSON.stringify(s));
    assert.ok(seen.length > 10, `only ${seen.length} keys claimed`);
    for (const { key, partition } of seen) {
      assert.match(key, /^[0-9a-f]{64}$/);
      assert.match(partition, /^([0-9a-f]{16})?$/);
    }
  });
});

describe('TransitionReplayStore (upgrading from per-key objects to shards)', () => {
  test('a key held by either layout is refused; a fresh key is claimed in both; 50 concurrent claims: one wins', async () => {
    const exp = nowSecs() + 300;
    const inOld = randomKey();
    assert.deepEqual(await claim('key', [[inOld, exp, 'p']]), [true]);
    assert.deepEqual(await claim('transition', [[inOld, exp, 'p']]), [false], 'claimed by the previous version');
    const inNew = randomKey();
    assert.deepEqual(await claim('shard', [[inNew, exp, 'p']]), [true]);
    assert.deepEqual(await claim('transition', [[inNew, exp, 'p']]), [false], 'claimed by the new version');
    const fresh = randomKey();
    assert.deepEqual(await claim('transition', [[fresh, exp, 'p']]), [true]);
    assert.deepEqual(await has('key', [fresh]), [true]);
    assert.deepEqual(await has('shard', [fresh]), [true]);
    const raced = randomKey();
    const results = await claim('transition', Array.from({ length: 50 }, () => [raced, exp, 'p']), { concurrency: 50 });
    assert.deepEqual(tally(results), { true: 1, false: 49 });
  });
});

describe('ShardedReplayStore with a secret (keyed shard choice)', () => {
  test('keys a client aims at one unkeyed shard spread over the keyed ones; the choice is stable', async () => {
    const keys = Array.from({ length: 64 }, () => `00000000${randomKey().slice(8)}`);
    const unkeyed = (await post('/index', { shards: 32, keys })).results;
    assert.deepEqual([...new Set(unkeyed)], [0], 'unkeyed: the first 8 hex digits pick the shard');
    const secret = 'another-test-secret-0123456789abcdefghij';
    const keyed = (await post('/index', { shards: 32, keys, secret })).results;
    assert.ok(new Set(keyed).size >= 16, `keyed indices: ${[...new Set(keyed)].join(',')}`);
    assert.deepEqual((await post('/index', { shards: 32, keys, secret })).results, keyed, 'stable');
    const other = (await post('/index', { shards: 32, keys, secret: `${secret}!` })).results;
    assert.notDeepEqual(other, keyed, 'another secret, another placement');
  });
});

