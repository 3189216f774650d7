// Where the non-signature time of one path goes, function by function, inside
// workerd (for whoever optimises; not part of `npm run bench`):
//
//   node --experimental-websocket bench/profile-detail.mjs saml-rsa   (jwt-es256 | jwt-rs256 | saml-rsa | saml-ecdsa)
//
// Prints, as a share of ALL samples of the path, the self and inclusive time of
// every function on stacks that hold no signature operation.
import net from 'node:net';
import { importPkg } from '../tests/js/helpers.mjs';
import { createMiniflare, moduleWorker } from '../tests/js/miniflare.mjs';
import { AUTHORIZATION, PATHS, TOKEN_URL, benchConfig, makePools } from './lib/assertions.mjs';
import { SIGNATURE_STAGES, inspectorSession } from './lib/profile.mjs';

const path = process.argv[2] ?? 'saml-rsa';
if (!PATHS.some((p) => p.id === path)) throw new Error(`unknown path ${path}`);
const pkg = await importPkg();
const port = await new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, '127.0.0.1', () => {
    const { port: p } = s.address();
    s.close(() => resolve(p));
  });
});
const mf = createMiniflare({
  inspectorPort: port,
  workers: [
    moduleWorker('bench/workerd/ag-cpu.js', {
      name: 'ag-cpu',
      bindings: { AG_CONFIG: JSON.stringify(benchConfig()), AG_SIGNING_KEY: pkg.generateSigningKey('bench') },
    }),
  ],
});
let profile;
try {
  await mf.ready;
  const { pools } = await makePools(200);
  const bodies = Object.fromEntries(Object.entries(pools).map(([k, v]) => [k, v.map((a) => a.body)]));
  const post = async (url, body) => (await mf.dispatchFetch(url, { method: 'POST', body })).arrayBuffer();
  await post('http://x/__bench/load', JSON.stringify({ pools: bodies, authorization: AUTHORIZATION, url: TOKEN_URL }));
  const run = async () => {
    for (let r = 0; r < 2; r++) {
      await post('http://x/__bench/reset?impl=ours');
      for (let start = 0; start < 200; start += 20) await post(`http://x/__bench/run?impl=ours&path=${path}&start=${start}&k=20`);
    }
  };
  const s = await inspectorSession(port, 'core:user:ag-cpu');
  await s.send('Profiler.enable');
  await s.send('Profiler.setSamplingInterval', { interval: 50 });
  await run(); // warm
  await s.send('Profiler.start');
  await run();
  ({ profile } = await s.send('Profiler.stop'));
  s.close();
} finally {
  await mf.dispose();
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (f) =>
  (f.functionName.replace(/::h[0-9a-f]{16}$/, '') || '(anonymous)') +
  (f.url && !f.url.includes('.wasm') ? ` @${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}` : '');
const self = new Map();
const inclusive = new Map();
let total = 0;
let nonSignature = 0;
for (const leafId of profile.samples) {
  if (byId.get(leafId).callFrame.functionName === '(idle)') continue;
  total++;
  const frames = [];
  for (let id = leafId; id !== undefined; id = parent.get(id)) frames.push(byId.get(id).callFrame);
  if (SIGNATURE_STAGES.some(([, re]) => frames.some((f) => re.test(f.functionName)))) continue;
  nonSignature++;
  self.set(name(frames[0]), (self.get(name(frames[0])) ?? 0) + 1);
  for (const k of new Set(frames.map(name))) inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
}
const show = (m, n) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).forEach(([k, v]) => console.log(`${((v / total) * 100).toFixed(2).padStart(6)} %  ${k.slice(0, 160)}`));
console.log(`${path}: ${total} samples; stacks without a signature operation: ${nonSignature} (${((nonSignature / total) * 100).toFixed(1)} %)`);
console.log('\n-- self');
show(self, 40);
console.log('\n-- inclusive');
show(inclusive, 60);
