// The concurrency/load mix of scripts/load.mjs at a small size, in-process:
// the Worker in real workerd through Miniflare (no wrangler process), with the
// replay Durable Object. Same request mix and checks (tests/js/loadmix.mjs):
// no 5xx, every valid assertion exactly one verified token, every invalid one
// its exact 4xx, every replay refused, and 50 concurrent copies of one fresh
// JWT and one fresh SAML assertion → exactly one token each.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { ROOT, importPkg, requireFile } from './helpers.mjs';
import { apportion, formatReport, presignSaml, runLoad, serverConfig } from './loadmix.mjs';
import { createMiniflare, tokenWorker } from './miniflare.mjs';

const REQUESTS = 300;
const CONCURRENCY = 16;
const BURSTS = 1;
const KID = 'load-test-1';

let mf;
let config;
let saml;

before(async () => {
  requireFile(join(ROOT, 'pkg/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
  const pkg = await importPkg();
  config = serverConfig();
  saml = presignSaml({ config, valid: apportion(REQUESTS).saml + BURSTS });
  mf = createMiniflare(
    tokenWorker({
      bindings: { AG_CONFIG: JSON.stringify(config), AG_SIGNING_KEY: pkg.generateSigningKey(KID) },
      handleStructuredLogs: () => {},
    }),
  );
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
});

test(`load mix in workerd: ${REQUESTS} requests at concurrency ${CONCURRENCY}, then 50-way bursts`, async (t) => {
  const report = await runLoad({
    send: (path, init) => mf.dispatchFetch(new URL(path, config.issuer).href, init),
    config,
    saml,
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    bursts: BURSTS,
    verifyEvery: 5,
    seed: 7,
    expectKid: KID,
  });
  const summary = formatReport(report);
  for (const line of summary.split('\n')) t.diagnostic(line);
  assert.equal(report.mainSent, REQUESTS, summary);
  assert.ok(report.tokens > 0 && report.verified > 0, summary);
  assert.deepEqual(
    report.bursts.map((b) => [b.kind, b.tally]),
    [
      ['jwt', { '200 token': 1, '400 invalid_grant': 49 }],
      ['saml', { '200 token': 1, '400 invalid_grant': 49 }],
    ],
    summary,
  );
  assert.deepEqual(report.violations, [], summary);
});
