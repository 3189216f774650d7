// Bundle the page with esbuild into dist/: app.js, the .wasm it imports as a
// file (the `file` loader copies it and gives the script its URL), index.html.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

mkdirSync('dist', { recursive: true });
await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outdir: 'dist',
  loader: { '.wasm': 'file' },
  logLevel: 'warning',
});
copyFileSync('index.html', 'dist/index.html');
