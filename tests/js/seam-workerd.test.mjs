// The crypto seam inside real workerd (Miniflare): Wycheproof through the
// runtime's WebCrypto via the npm package's `verifySignature`, and every JWT
// and SAML vector and JWT replay scenario through TokenEndpoint with
// `crypto: 'webcrypto'` (workerd's crypto.subtle) and `crypto: 'wasm'` —
// each must give the vector's expected answer, and both the same one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, importPkg, loadConfig, loadReplayScenarios, loadVectors, requireFile, vectorMismatch, vectorParts } from './helpers.mjs';
import { createMiniflare, moduleWorker } from './miniflare.mjs';
import { WYCHEPROOF_SUITES, loadWycheproof } from './wycheproof.mjs';

let mf;
let pkg;

before(async () => {
  requireFile(join(ROOT, 'pkg/assertion_grant_bg.wasm'), 'build it first: npm run build:pkg');
  pkg = await importPkg();
  mf = createMiniflare(moduleWorker('tests/js/workers/seam.worker.js'));
  await mf.ready;
});

after(async () => {
  await mf?.dispose();
});

async function post(path, payload) {
  const response = await mf.dispatchFetch(`http://worker${path}`, { method: 'POST', body: JSON.stringify(payload) });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

describe('Wycheproof through WebCrypto inside workerd', () => {
  for (const suite of WYCHEPROOF_SUITES) {
    test(`${suite.file} (${suite.alg})`, async () => {
      const cases = loadWycheproof(suite);
      const results = await post('/verify', {
        crypto: 'webcrypto',
        cases: cases.map(({ check }) => ({ ...check, message: b64url(check.message), signature: b64url(check.signature) })),
      });
      const failures = cases.filter((tc, i) => results[i] !== tc.expected).map((tc) => tc.id);
      assert.ok(cases.length > 50);
      assert.deepEqual(failures, []);
    });
  }
});

describe('every JWT vector inside workerd, WebCrypto and wasm backends', () => {
  test('expected answers, and the same from both backends', async () => {
    const config = loadConfig();
    const { now, vectors } = loadVectors();
    const signingKey = pkg.generateSigningKey('workerd-seam');
    const request = (v) => vectorParts(v);
    const run = async (crypto, requests) => post('/exchange', { config, signingKey, now, crypto, requests });
    const answers = {};
    for (const crypto of ['webcrypto', 'wasm']) {
      // One endpoint (and store) per vector, as the other vector runners do.
      answers[crypto] = [];
      for (const v of vectors) {
        const { crypto: used, results } = await run(crypto, [request(v)]);
        assert.equal(used, crypto);
        answers[crypto].push(results[0]);
      }
    }
    const failures = [];
    vectors.forEach((v, i) => {
      const web = answers.webcrypto[i];
      const wasm = answers.wasm[i];
      const mismatch = vectorMismatch(v.expect, web);
      if (mismatch !== undefined) failures.push(`${v.name}: ${mismatch}`);
      if (web.status !== wasm.status || web.body.error !== wasm.body.error || web.body.error_description !== wasm.body.error_description) {
        failures.push(`${v.name}: the backends differ`);
      }
    });
    for (const scenario of loadReplayScenarios()) {
      const [{ results: web }, { results: wasm }] = await Promise.all(
        ['webcrypto', 'wasm'].map((crypto) => run(crypto, scenario.requests.map(request))),
      );
      scenario.requests.forEach((r, i) => {
        const mismatch = vectorMismatch(r.expect, web[i]);
        if (mismatch !== undefined) failures.push(`${scenario.name}[${i}]: ${mismatch}`);
        if (web[i].status !== wasm[i].status || web[i].body.error !== wasm[i].body.error) failures.push(`${scenario.name}[${i}]: the backends differ`);
      });
    }
    assert.ok(vectors.length > 100);
    assert.deepEqual(failures, []);
  });
});

describe('every SAML vector inside workerd, WebCrypto and wasm backends', () => {
  test('expected answers, and the same from both backends', async () => {
    const dir = join(ROOT, 'tests/vectors/saml');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const vectors = JSON.parse(readFileSync(join(dir, 'vectors.json'), 'utf8')).filter(
      (v) => v.encoding === 'base64url' && v.xml_charset === undefined,
    );
    const signingKey = pkg.generateSigningKey('workerd-seam-saml');
    const request = (v) => vectorParts(v);
    const failures = [];
    for (const v of vectors) {
      const [web, wasm] = await Promise.all(
        ['webcrypto', 'wasm'].map(async (crypto) => (await post('/exchange', { config, signingKey, now: v.now, crypto, requests: [request(v)] })).results[0]),
      );
      const mismatch = vectorMismatch(v.expect, web);
      if (mismatch !== undefined) failures.push(`${v.name}: ${mismatch}`);
      if (web.status !== wasm.status || web.body.error !== wasm.body.error || web.body.error_description !== wasm.body.error_description) {
        failures.push(`${v.name}: the backends differ`);
      }
    }
    assert.ok(vectors.length > 150);
    assert.deepEqual(failures, []);
  });
});
