// The pieces of `npm run bench` that can break without anyone noticing until
// the next full run: the name-section strip that build-pkg.sh applies to the
// shipped .wasm, and the report rendered from a stored result.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { renderReadme, render, roundRatio } from '../../bench/report.mjs';
import { stripNames } from '../../scripts/wasm-strip-names.mjs';
import { PKG, ROOT, requireFile } from './helpers.mjs';

test('the shipped .wasm files have no name section and their named twins strip to the same bytes', () => {
  for (const build of ['', 'slim/']) {
    const shipped = readFileSync(requireFile(join(PKG, build, 'assertion_grant_bg.wasm'), 'build it first: npm run build:pkg'));
    const module = new WebAssembly.Module(shipped);
    assert.equal(WebAssembly.Module.customSections(module, 'name').length, 0, `pkg/${build} .wasm still carries a name section`);
    assert.ok(WebAssembly.Module.exports(module).length > 10);
    const twin = join(ROOT, 'target/wasm-names/pkg', build, 'assertion_grant_bg.wasm');
    if (existsSync(twin)) {
      const named = readFileSync(twin);
      assert.ok(WebAssembly.Module.customSections(new WebAssembly.Module(named), 'name').length === 1);
      assert.ok(stripNames(named).equals(shipped), `target/wasm-names/pkg/${build} is not the twin of pkg/${build} (rebuild with npm run build:pkg)`);
    }
  }
});

test('the slim build (what the Worker ships) carries no pure-Rust signature code', () => {
  const slim = new WebAssembly.Module(readFileSync(join(PKG, 'slim/assertion_grant_bg.wasm')));
  const full = new WebAssembly.Module(readFileSync(join(PKG, 'assertion_grant_bg.wasm')));
  const exports = (m) => new Set(WebAssembly.Module.exports(m).map((e) => e.name));
  for (const name of ['generateSigningKey', 'verifySignatureInWasm', 'mintTestAssertion', 'core_prepare', 'core_issue']) {
    assert.ok(exports(full).has(name), `the full build exports ${name}`);
    assert.ok(!exports(slim).has(name), `the slim build exports ${name}`);
  }
  const twin = join(ROOT, 'target/wasm-names/pkg/slim/assertion_grant_bg.wasm');
  if (existsSync(twin)) {
    // Function names: no RSA, no ECDSA, no signing (P-256 point validation stays).
    const signatureCode = /\brsa::[a-z_]+::|RsaPublicKey|ecdsa::[a-z_]+::|sign_es256|crypto::verify::/g;
    const found = (file) => [...new Set(readFileSync(file).toString('latin1').match(signatureCode) ?? [])];
    assert.deepEqual(found(twin), [], 'signature code in the slim build');
    assert.ok(found(join(ROOT, 'target/wasm-names/pkg/assertion_grant_bg.wasm')).length > 0, 'the pattern finds it in the full build');
  }
  assert.ok(readFileSync(join(PKG, 'slim/assertion_grant_bg.wasm')).length < readFileSync(join(PKG, 'assertion_grant_bg.wasm')).length * 0.8);
});

test('stripNames keeps every other section and refuses what is not wasm', () => {
  // (module (func (export "f") (result i32) i32.const 7)) with a name section naming the function "seven".
  const body = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const type = [0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f];
  const func = [0x03, 0x02, 0x01, 0x00];
  const exp = [0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00];
  const code = [0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x07, 0x0b];
  const fnNames = [0x01, 0x00, 0x05, ...Buffer.from('seven')]; // count 1, index 0, "seven"
  const nameSub = [0x01, fnNames.length, ...fnNames];
  const nameSec = [0x04, ...Buffer.from('name'), ...nameSub];
  const other = [0x05, ...Buffer.from('other'), 0x2a];
  const wasm = Buffer.from([...body, ...type, ...func, ...exp, ...code, 0x00, nameSec.length, ...nameSec, 0x00, other.length, ...other]);
  const withNames = new WebAssembly.Module(wasm);
  assert.equal(WebAssembly.Module.customSections(withNames, 'name').length, 1);

  const stripped = stripNames(wasm);
  assert.equal(stripped.length, wasm.length - 2 - nameSec.length);
  const m = new WebAssembly.Module(stripped);
  assert.equal(WebAssembly.Module.customSections(m, 'name').length, 0);
  assert.deepEqual([...new Uint8Array(WebAssembly.Module.customSections(m, 'other')[0])], [0x2a]);
  assert.equal(new WebAssembly.Instance(m).exports.f(), 7);

  assert.throws(() => stripNames(Buffer.from('not wasm at all')), /not a WebAssembly/);
  assert.throws(() => stripNames(Buffer.from([...body, 0x01, 0x7f])), /past the end/);
});

test('the report renders from the stored results', () => {
  const results = JSON.parse(readFileSync(join(ROOT, 'bench/results/latest.json'), 'utf8'));
  const { md, svg } = render(results);
  for (const heading of ['## CPU per token request in workerd', '## Cold start', '## Size', '## Targets', '## Method']) {
    assert.ok(md.includes(heading), `docs/bench.md lacks ${heading}`);
  }
  assert.match(svg, /^<svg[\s\S]*<\/svg>\n$/);
  const readme = renderReadme(results);
  assert.match(readme, /\| JWT-bearer ES256 \| [\d,]+ \(/);
  assert.match(readme, /\| SAML-bearer ECDSA-SHA256 \| [\d,]+ \(/);
});

test('per-round ratios pair each round with itself', () => {
  const series = { a: { perRoundCpuUs: [10, 20, 40] }, b: { perRoundCpuUs: [5, 5, 10] } };
  assert.deepEqual(roundRatio(series, 'a', 'b'), { median: 4, min: 2, max: 4 });
});
