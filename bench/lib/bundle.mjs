// Bundles the peer bench Workers into one ES module each for workerd with
// esbuild (the bundler wrangler itself uses; present as wrangler's dependency):
// bench/workerd/peer-entry.js (+ jose + xml-crypto + @xmldom/xmldom) and
// bench/workerd/wop-entry.js (+ @cloudflare/workers-oauth-provider, whose
// `cloudflare:workers` import workerd provides: left external).
// xml-crypto is CommonJS and require()s Node built-ins: each becomes a tiny
// ES module re-exporting `node:<name>`, which workerd provides under
// nodejs_compat.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinModules } from 'node:module';
import * as esbuild from 'esbuild';
import { ROOT } from '../../tests/js/helpers.mjs';

const builtins = new Set(builtinModules.filter((m) => !m.startsWith('_')));

const nodeBuiltins = {
  name: 'node-builtins-as-esm',
  setup(build) {
    build.onResolve({ filter: /^[a-z_/]+$/ }, (args) => {
      if (!builtins.has(args.path)) return undefined;
      return { path: args.path, namespace: 'node-builtin' };
    });
    build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, external: true }));
    build.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({
      contents: `export * from 'node:${args.path}';`,
      loader: 'js',
    }));
  },
};

/**
 * → { file, dir, bytes } of a bundled peer Worker (in a fresh temp dir);
 * `entry` relative to the repository, default the jose / xml-crypto peers.
 */
export async function bundlePeerWorker(entry = 'bench/workerd/peer-entry.js') {
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-build-'));
  const file = join(dir, 'peer-worker.mjs');
  const result = await esbuild.build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser', 'import'],
    outfile: file,
    plugins: [nodeBuiltins],
    external: ['cloudflare:*'],
    logLevel: 'silent',
    metafile: true,
  });
  await esbuild.stop(); // no esbuild service process left behind
  const bytes = Object.values(result.metafile.outputs)[0].bytes;
  return { file, dir, bytes };
}
