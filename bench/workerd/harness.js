// Bench-only request loop, shared by the workerd bench Workers (and Node).
// One incoming /__bench/run request executes K complete token requests
// in-process — new Request (with the headers of a real request at the edge,
// EDGE_HEADERS) → the target's fetch handler → await the body —
// each with the next pre-generated assertion of the pool. The runner times the
// whole bench request from outside (workerd's CPU time from /proc, and wall
// time) and subtracts the same bench request with impl=empty (K iterations
// of nothing), which leaves K × (one token request).
//
// Routes (POST, JSON answers):
//   /__bench/load              body {pools: {path: [form body, ...]}, authorization, url}
//   /__bench/run?impl&path&start&k
//   /__bench/reset?impl        empty the impl's replay store (reset() may be async)
// Any other request is the caller's (`fallback`).

const state = { pools: {}, authorization: '', url: '' };

/**
 * What a token request looks like when it reaches a Worker: the client's
 * headers (as curl sends them) plus those Cloudflare's edge adds. Every
 * implementation gets the same; ours passes request headers into wasm, so
 * their number matters.
 */
export const EDGE_HEADERS = {
  Host: 'as.example.com',
  'User-Agent': 'curl/8.5.0',
  Accept: 'application/json',
  'Accept-Encoding': 'gzip, br',
  'CF-Connecting-IP': '203.0.113.7',
  'CF-IPCountry': 'DE',
  'CF-Ray': '8d2f3c4b5a6e7f80-FRA',
  'CF-Visitor': '{"scheme":"https"}',
  'X-Forwarded-Proto': 'https',
  'X-Real-IP': '203.0.113.7',
};

/**
 * A pool of form bodies as one byte array plus offsets: off the JS heap, so
 * the isolate's garbage collector does not mark megabytes of benchmark input
 * on every major GC (which would bill the input's size to every request), and
 * each request body is bytes, as it is when it arrives.
 */
export function packPool(bodies) {
  const encoder = new TextEncoder();
  const encoded = bodies.map((b) => encoder.encode(b));
  const offsets = new Uint32Array(encoded.length + 1);
  for (let i = 0; i < encoded.length; i++) offsets[i + 1] = offsets[i] + encoded[i].length;
  const bytes = new Uint8Array(offsets[encoded.length]);
  encoded.forEach((e, i) => bytes.set(e, offsets[i]));
  return { bytes, offsets, length: encoded.length };
}

/**
 * Runs K token requests through `target(request) → Promise<Response>`.
 * Returns { ok, failed, firstError, insideMs } (insideMs: the isolate's own
 * clock, 1 ms granularity in workerd — a cross-check only).
 */
export async function runBatch(target, pool, start, k, { authorization, url }) {
  const t0 = performance.now();
  let ok = 0;
  let failed = 0;
  let firstError;
  for (let i = 0; i < k; i++) {
    const j = (start + i) % pool.length;
    const body = pool.bytes.subarray(pool.offsets[j], pool.offsets[j + 1]);
    const request = new Request(url, {
      method: 'POST',
      headers: {
        ...EDGE_HEADERS,
        'Content-Type': 'application/x-www-form-urlencoded',
        'Content-Length': String(body.length),
        Authorization: authorization,
      },
      body, // copied by the Request (fetch spec: extract a body from a BufferSource)
    });
    const response = await target(request);
    const text = await response.text();
    if (response.status === 200) ok++;
    else {
      failed++;
      firstError ??= `${response.status} ${text.slice(0, 300)}`;
    }
  }
  return { ok, failed, firstError, insideMs: performance.now() - t0 };
}

/** K iterations of nothing but the loop and an await: the baseline. */
export async function runEmpty(k) {
  const t0 = performance.now();
  let ok = 0;
  for (let i = 0; i < k; i++) {
    await null;
    ok++;
  }
  return { ok, failed: 0, insideMs: performance.now() - t0 };
}

const json = (value, status = 200) =>
  new Response(JSON.stringify(value), { status, headers: { 'Content-Type': 'application/json' } });

/**
 * A fetch handler for a bench Worker. `impls` maps an impl name to
 * { fetch(request) → Promise<Response>, reset() }.
 */
export function benchHandler(impls, fallback) {
  return async (request, ...rest) => {
    const url = new URL(request.url);
    if (!url.pathname.startsWith('/__bench/')) return fallback(request, ...rest);
    try {
      const impl = url.searchParams.get('impl');
      switch (url.pathname) {
        case '/__bench/load': {
          const input = await request.json();
          for (const [path, bodies] of Object.entries(input.pools)) state.pools[path] = packPool(bodies);
          state.authorization = input.authorization;
          state.url = input.url;
          return json({ loaded: Object.fromEntries(Object.entries(state.pools).map(([k, v]) => [k, v.length])) });
        }
        case '/__bench/reset': {
          const target = await impls[impl]?.();
          if (target === undefined) return json({ error: `no impl ${impl}` }, 404);
          await target.reset();
          return json({ reset: impl });
        }
        case '/__bench/run': {
          const k = Number(url.searchParams.get('k'));
          if (impl === 'empty') return json(await runEmpty(k));
          const target = await impls[impl]?.();
          if (target === undefined) return json({ error: `no impl ${impl}` }, 404);
          const pool = state.pools[url.searchParams.get('path')];
          if (!pool) return json({ error: `no pool ${url.searchParams.get('path')}` }, 404);
          const start = Number(url.searchParams.get('start') ?? 0);
          return json(await runBatch(target.fetch, pool, start, k, state));
        }
        default:
          return json({ error: 'no such bench route' }, 404);
      }
    } catch (err) {
      return json({ error: String(err?.stack ?? err) }, 500);
    }
  };
}
