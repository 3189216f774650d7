// The one place that says how a Worker of this repository is loaded into real
// workerd through Miniflare's Node API: used by the Worker tests
// (worker.test.mjs, load.test.mjs, seam-workerd.test.mjs) and the benchmark
// (bench/run.mjs, bench/profile-detail.mjs). Not a test file: `node --test`
// only runs *.test.mjs (and test-*.mjs, test.mjs, …) files.
//
//   createMiniflare(options)          new Miniflare({ cf: false, ...options })
//   moduleWorker(script, options)     a Worker loaded as ES modules from a tree
//                                     (the repository by default), *.wasm
//                                     imported as compiled modules
//   tokenWorker(options)              worker/index.js with wrangler.toml's
//                                     Durable Objects
//
// The worker builders return Miniflare worker options: pass one as the whole
// of createMiniflare's options (one Worker) or several in `workers: [...]`.
// `options` are Miniflare worker options (bindings, name, routes,
// handleStructuredLogs, …) added to, or overriding, the defaults.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { ROOT } from './helpers.mjs';

const WRANGLER_TOML = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');

/** wrangler.toml's `compatibility_date`. */
export const COMPATIBILITY_DATE = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(WRANGLER_TOML)[1];

/** wrangler.toml's `compatibility_flags` (none today: then the option is left out). */
export const COMPATIBILITY_FLAGS = [
  ...(/^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(WRANGLER_TOML)?.[1] ?? '').matchAll(/"([^"]+)"/g),
].map((m) => m[1]);

/**
 * Worker options for `script` (a path relative to `root`) loaded as ES
 * modules from `root` (default: the repository; the bench passes a copy of the
 * tree to measure another package build), with wrangler.toml's compatibility
 * date and flags.
 */
export function moduleWorker(script, { root = ROOT, ...options } = {}) {
  return {
    modules: true,
    modulesRoot: root,
    scriptPath: join(root, script),
    // The Worker's .js files as ES modules, and
    // wrangler.toml's [[rules]]: the wasm core as a CompiledWasm module.
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    ...(COMPATIBILITY_FLAGS.length > 0 ? { compatibilityFlags: [...COMPATIBILITY_FLAGS] } : {}),
    ...options,
  };
}

/**
 * The Worker as deployed (worker/index.js, wrangler.toml's `main`) with
 * wrangler.toml's Durable Object bindings REPLAY_SHARDS → ReplayShard, REPLAY → ReplayGuard and FAMILIES →
 * RefreshFamily (SQLite classes, its [[migrations]]). Its configuration comes through `bindings` (AG_CONFIG,
 * AG_SIGNING_KEY, AG_ADMIN_TOKEN).
 */
export function tokenWorker({ root = ROOT, ...options } = {}) {
  return moduleWorker('worker/index.js', {
    root,
    durableObjects: {
      REPLAY_SHARDS: { className: 'ReplayShard', useSQLite: true },
      REPLAY: { className: 'ReplayGuard', useSQLite: true },
      FAMILIES: { className: 'RefreshFamily', useSQLite: true },
    },
    ...options,
  });
}

/**
 * A Miniflare (one workerd process) with `cf: false`: no fetch of request.cf
 * data from the network. Call `await mf.ready` before use, `mf.dispose()` after.
 */
export function createMiniflare(options) {
  return new Miniflare({ cf: false, ...options });
}
