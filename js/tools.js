// Helpers over the core: signing keys, client-secret hashes, the demo
// configuration, the test IdP and SAML metadata import.

import { assertReady, coreDemoConfig, coreHashClientSecret, coreImportSamlMetadata, freeIfCurrent, fullBuild, generation, guarded, stillCurrent } from './runtime.js';
import { toJsonText } from './http.js';
import { ECDSA_P256, ECDSA_SHA256, SUBTLE, importSigningKey } from './webcrypto.js';


/**
 * Generate a private EC P-256 JWK (JSON text) for access-token signing.
 * @param {string} [kid]
 * @returns {string}
 */
export function generateSigningKey(kid) {
  assertReady('generateSigningKey()');
  return guarded(() => {
    const generate = fullBuild('generateSigningKey');
    return kid === undefined ? generate() : generate(kid);
  });
}

/**
 * Lowercase hex SHA-256 of a client secret, for `client_secret_sha256`.
 * @param {string} secret
 * @returns {string}
 */
export function hashClientSecret(secret) {
  assertReady('hashClientSecret()');
  return guarded(() => {
    return coreHashClientSecret(secret);
  });
}

/**
 * Validates a configuration completely (full build): every error with its
 * field path, or — when valid — the effective configuration (every default
 * filled in). Never throws on a bad document.
 * @param {object | string} config
 * @returns {{ valid: boolean, errors?: Array<{ path: string, reason: string }>, effective?: object }}
 */
export function checkConfig(config) {
  assertReady('checkConfig()');
  const check = fullBuild('checkConfig');
  return guarded(() => check(toJsonText(config, 'config')));
}

/**
 * The built-in demo configuration (JSON text).
 * @returns {string}
 */
export function demoConfig() {
  assertReady('demoConfig()');
  return guarded(() => {
    return coreDemoConfig();
  });
}

/**
 * An IdP's SAML metadata XML → a `trusted_issuers` entry
 * (`{ issuer, format: 'saml2', x509_certificates }`).
 * @param {string} xml
 * @returns {object}
 */
/** A JWK as an object (from an object or JSON text). */
function jwkObject(jwk) {
  return typeof jwk === 'string' ? JSON.parse(jwk) : jwk;
}

/** The kid the core gives an EC JWK: its own, or its RFC 7638 thumbprint. */
async function kidOf(jwk) {
  if (typeof jwk.kid === 'string') return jwk.kid;
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  const digest = new Uint8Array(await SUBTLE.digest('SHA-256', new TextEncoder().encode(canonical)));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The debugger's built-in test IdP (never for production): mints a signed
 * JWT or SAML 2.0 assertion with an EC P-256 private JWK. The core builds
 * the assertion and what to sign; WebCrypto signs (in the full build without
 * WebCrypto, the core signs).
 * @param {{ format: 'jwt' | 'saml2', issuer: string, subject: string, audience: string, recipient?: string, now: number, lifetime_secs: number, attributes?: Record<string, string | string[]> }} spec
 * @param {object | string} privateJwk
 * @returns {Promise<string>} the `assertion` parameter
 */
export async function mintTestAssertion(spec, privateJwk) {
  assertReady('mintTestAssertion()');
  if (SUBTLE === undefined) {
    const mint = fullBuild('mintTestAssertion');
    return guarded(() => mint(JSON.stringify(spec), toJsonText(privateJwk, 'privateJwk')));
  }
  const prepare = fullBuild('prepareTestAssertion');
  const jwk = jwkObject(privateJwk);
  const kid = await kidOf(jwk);
  const gen = generation;
  const unsigned = guarded(() => prepare(JSON.stringify(spec), kid));
  try {
    const toSign = unsigned.toSign;
    const key = await importSigningKey(jwk, 'privateJwk');
    const signature = new Uint8Array(await SUBTLE.sign(ECDSA_SHA256, key, toSign));
    stillCurrent(gen);
    return guarded(() => unsigned.finish(signature));
  } finally {
    freeIfCurrent(unsigned, gen);
  }
}

/** The public members of an EC JWK, as JSON text (never `d`). */
function publicJwkText(jwk) {
  const { d: _d, ...rest } = jwk;
  return JSON.stringify(rest);
}

/**
 * A new private EC P-256 JWK (JSON text) made by WebCrypto, in every build:
 * the asynchronous twin of {@link generateSigningKey}.
 * @param {string} [kid]
 * @returns {Promise<string>}
 */
export async function createSigningKey(kid) {
  if (SUBTLE === undefined) return generateSigningKey(kid);
  const { privateKey } = await SUBTLE.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const { kty, crv, x, y, d } = await SUBTLE.exportKey('jwk', privateKey);
  // Without a kid, the RFC 7638 thumbprint (as the core computes it).
  const id = kid ?? (await kidOf({ kty, crv, x, y }));
  return JSON.stringify({ kty, crv, alg: 'ES256', use: 'sig', kid: id, x, y, d });
}

/**
 * The `trusted_issuers` entry that trusts a test IdP key (public part only).
 * @param {'jwt' | 'saml2'} format
 * @param {string} issuer
 * @param {object | string} privateJwk
 * @returns {object}
 */
export function testIdpTrustEntry(format, issuer, privateJwk) {
  assertReady('testIdpTrustEntry()');
  const entry = fullBuild('testIdpTrustEntry');
  return JSON.parse(guarded(() => entry(format, issuer, publicJwkText(jwkObject(privateJwk)))));
}

export function importSamlMetadata(xml) {
  assertReady('importSamlMetadata()');
  return JSON.parse(guarded(() => coreImportSamlMetadata(xml)));
}
