// Bundles the peer bench Worker (bench/workerd/peer-entry.js + jose +
// xml-crypto + @xmldom/xmldom) into one ES module for workerd with esbuild
// (the bundler wrangler itself uses; present as wrangler's dependency).
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

/** → { file, dir, bytes } of the bundled peer Worker (in a fresh temp dir). */
export async function bundlePeerWorker() {
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-build-'));
  const file = join(dir, 'peer-worker.mjs');
  const result = await esbuild.build({
    entryPoints: [join(ROOT, 'bench/workerd/peer-entry.js')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser', 'import'],
    outfile: file,
    plugins: [nodeBuiltins],
    logLevel: 'silent',
    metafile: true,
  });
  await esbuild.stop(); // no esbuild service process left behind
  const bytes = Object.values(result.metafile.outputs)[0].bytes;
  return { file, dir, bytes };
}
