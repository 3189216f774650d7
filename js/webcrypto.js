// WebCrypto: the runtime's crypto.subtle answers the core's signature checks
// (DESIGN.md, "the core asks, the host answers") and signs access tokens with
// a non-extractable key whose private scalar never enters wasm memory.

import { assertReady, fullBuild, guarded, wasm } from './runtime.js';
import { ConfigError } from './errors.js';

export const SUBTLE = globalThis.crypto?.subtle;

export const ECDSA_P256 = Object.freeze({ name: 'ECDSA', namedCurve: 'P-256' });
export const ECDSA_SHA256 = Object.freeze({ name: 'ECDSA', hash: 'SHA-256' });
const pkcs1 = (hash) => ({ kty: 'RSA', importAs: { name: 'RSASSA-PKCS1-v1_5', hash }, verifyAs: { name: 'RSASSA-PKCS1-v1_5' } });
const pss = (hash, saltLength) => ({ kty: 'RSA', importAs: { name: 'RSA-PSS', hash }, verifyAs: { name: 'RSA-PSS', saltLength } });

/** The core's algorithm names → WebCrypto parameters (RFC 7518 §3; PSS salt = hash length). */
const WEBCRYPTO_ALGORITHMS = Object.freeze({
  RS256: pkcs1('SHA-256'),
  RS384: pkcs1('SHA-384'),
  RS512: pkcs1('SHA-512'),
  RS1: pkcs1('SHA-1'), // SAML issuers that opted in with allow_sha1 only
  PS256: pss('SHA-256', 32),
  PS384: pss('SHA-384', 48),
  PS512: pss('SHA-512', 64),
  ES256: { kty: 'EC', importAs: ECDSA_P256, verifyAs: ECDSA_SHA256 },
});

/**
 * Answers the core's signature checks with crypto.subtle. Each configured
 * key is imported once per endpoint and algorithm, on first use; the
 * candidates are tried in the order the core gives.
 */
export class WebCryptoVerifier {
  #core;
  #report;
  #keys = new Map(); // "<key id> <alg>" → Promise<CryptoKey | null>
  // Fetched keys (ids "f<source>.<generation>.<index>"): per source, the
  // newest generation seen and the cache keys of each generation, so the
  // imports of sets the core no longer holds are dropped.
  #fetched = new Map(); // source → { newest: number, generations: Map<number, string[]> }
  #fetchedCore; // the core the fetched imports came from

  /**
   * @param {() => Core} core the endpoint's current core
   * @param {(err: unknown) => void} report where a key WebCrypto refuses is reported
   */
  constructor(core, report) {
    this.#core = core;
    this.#report = report;
  }

  /**
   * Imports every key the core may name, for every algorithm it may be used
   * with, and the decoys: no request then pays (or shows by its timing) the
   * first import of a key.
   * @returns {Promise<void>}
   */
  prime() {
    for (const { id, algs } of this.#core().verificationKeys()) {
      for (const alg of algs) {
        if (Object.hasOwn(WEBCRYPTO_ALGORITHMS, alg)) this.#key(id, alg, WEBCRYPTO_ALGORITHMS[alg]);
      }
    }
    return Promise.all(this.#keys.values()).then(() => undefined);
  }

  /**
   * For a fetched key id: drops every fetched import when the core was
   * rebuilt (after a trap a new core numbers its generations afresh, so an
   * id may name another key), then returns the id's source and generation.
   */
  #fetchedId(id) {
    const match = /^f(\d+)\.(\d+)\.\d+$/.exec(id);
    if (match === null) return undefined;
    const core = this.#core();
    if (core !== this.#fetchedCore) {
      for (const { generations } of this.#fetched.values()) {
        for (const keys of generations.values()) for (const k of keys) this.#keys.delete(k);
      }
      this.#fetched.clear();
      this.#fetchedCore = core;
    }
    return { source: Number(match[1]), generation: Number(match[2]) };
  }

  /**
   * Books a fetched key's import, and forgets the imports of generations
   * older than the newest seen for its source minus one (the core holds the
   * current set, and a request begun before a rotation may still name the
   * one before it).
   */
  #bookFetched({ source, generation }, cacheKey) {
    let state = this.#fetched.get(source);
    if (state === undefined) {
      state = { newest: generation, generations: new Map() };
      this.#fetched.set(source, state);
    }
    if (generation > state.newest) state.newest = generation;
    let keys = state.generations.get(generation);
    if (keys === undefined) {
      keys = [];
      state.generations.set(generation, keys);
    }
    keys.push(cacheKey);
    for (const [g, old] of state.generations) {
      if (g < state.newest - 1) {
        for (const k of old) this.#keys.delete(k);
        state.generations.delete(g);
      }
    }
  }

  #key(id, alg, spec) {
    const cacheKey = `${id} ${alg}`;
    const fetched = this.#fetchedId(id);
    let key = this.#keys.get(cacheKey);
    if (key === undefined) {
      const jwk = this.#core().verificationKey(id);
      key =
        jwk === undefined
          ? Promise.resolve(null)
          : SUBTLE.importKey('jwk', JSON.parse(jwk), spec.importAs, false, ['verify']).catch((err) => {
              // A configured key the runtime will not use: every signature
              // against it fails; the operator must hear of it.
              this.#report(new Error(`assertion-grant: WebCrypto refused ${fetched ? 'fetched' : 'configured'} key ${id} for ${alg}: ${err?.message ?? err}`));
              return null;
            });
      this.#keys.set(cacheKey, key);
      if (fetched !== undefined) this.#bookFetched(fetched, cacheKey);
    }
    return key;
  }

  /**
   * @param {import('./assertion_grant.js').SignatureCheck} check
   * @returns {Promise<boolean>}
   */
  async verify({ alg, keys, message, signature, jwk }) {
    const spec = Object.hasOwn(WEBCRYPTO_ALGORITHMS, alg) ? WEBCRYPTO_ALGORITHMS[alg] : undefined;
    if (spec === undefined) return false;
    for (const id of keys) {
      // A DPoP proof's own key: imported for this check only, never cached.
      const key = id === 'proof' ? await importProofKey(jwk, spec) : await this.#key(id, alg, spec);
      if (key !== null && (await verifyWith(spec, key, message, signature))) return true;
    }
    return false;
  }
}

/** The public key a DPoP proof carries (the core checked its members), or null. */
export async function importProofKey(jwk, spec) {
  if (jwk === undefined || jwk === null) return null;
  try {
    return await SUBTLE.importKey('jwk', jwk, spec.importAs, false, ['verify']);
  } catch {
    return null;
  }
}

/** The WebCrypto parameters of a JOSE algorithm name, or undefined. */
export function webCryptoAlgorithm(alg) {
  return Object.hasOwn(WEBCRYPTO_ALGORITHMS, alg) ? WEBCRYPTO_ALGORITHMS[alg] : undefined;
}

/** One WebCrypto verification, with the pure-Rust backend's rules on the wire form. */
export async function verifyWith(spec, key, message, signature) {
  // RSA signatures are exactly as long as the modulus; ECDSA ones are
  // 64-byte r‖s (WebCrypto's P1363 form).
  const length = spec.kty === 'RSA' ? Math.ceil(key.algorithm.modulusLength / 8) : 64;
  if (signature.byteLength !== length) return false;
  try {
    return await SUBTLE.verify(spec.verifyAs, key, signature, message);
  } catch {
    // Whatever WebCrypto throws for attacker-controlled bytes is a
    // signature that did not verify, never an error of ours.
    return false;
  }
}

/**
 * Verifies one signature the way the endpoint does, with either backend:
 * for interop and differential tests (Wycheproof runs through it).
 * @param {{ alg: string, key: object, message: Uint8Array, signature: Uint8Array }} check
 *   `alg` a JOSE name (or RS1); `key` a public JWK (RSA n/e or EC P-256 x/y)
 * @param {{ crypto?: 'webcrypto' | 'wasm' }} [options]
 * @returns {Promise<boolean>}
 */
export async function verifySignature({ alg, key, message, signature }, { crypto: backend = 'webcrypto' } = {}) {
  if (backend === 'wasm') {
    assertReady('verifySignature()');
    const verifyInWasm = fullBuild('verifySignatureInWasm');
    return guarded(() => verifyInWasm(alg, JSON.stringify(key), message, signature));
  }
  const spec = Object.hasOwn(WEBCRYPTO_ALGORITHMS, alg) ? WEBCRYPTO_ALGORITHMS[alg] : undefined;
  if (spec === undefined || SUBTLE === undefined) return false;
  // The key passes the core's rules first (sizes, curve), as configured keys do.
  assertReady('verifySignature()');
  let jwk;
  try {
    jwk = JSON.parse(guarded(() => wasm.publicKeyJwk(JSON.stringify(key))));
  } catch {
    return false;
  }
  let imported;
  try {
    imported = await SUBTLE.importKey('jwk', jwk, spec.importAs, false, ['verify']);
  } catch {
    return false;
  }
  return verifyWith(spec, imported, message, signature);
}

/**
 * Imports a private EC P-256 JWK as a non-extractable signing key, and
 * proves that `d` belongs to the published `x`, `y` (sign, then verify with
 * the public half) so a mismatched key fails here, not at a resource server.
 */
export async function importSigningKey(jwk, path) {
  const { kty, crv, x, y, d } = jwk;
  let key;
  let publicKey;
  try {
    key = await SUBTLE.importKey('jwk', { kty, crv, x, y, d }, ECDSA_P256, false, ['sign']);
    publicKey = await SUBTLE.importKey('jwk', { kty, crv, x, y }, ECDSA_P256, false, ['verify']);
  } catch {
    throw new ConfigError(`${path}.d`, `${path}.d: not a valid P-256 private key`);
  }
  const probe = new TextEncoder().encode('assertion-grant signing key check');
  const signature = await SUBTLE.sign(ECDSA_SHA256, key, probe);
  if (!(await SUBTLE.verify(ECDSA_SHA256, publicKey, signature, probe))) {
    throw new ConfigError(path, `${path}: x and y do not match the private key d`);
  }
  return key;
}

/**
 * Splits `signingKeys` (one private JWK, or {"keys": [...]}) into what the
 * core may see (the public members, as JSON text) and the private JWKs the
 * host imports. Returns undefined when the text is not a JSON object the
 * split applies to (the core then reports the problem with its path).
 */
const PUBLIC_JWK_MEMBERS = ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use', 'key_ops'];

export function splitSigningKeys(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError('signing_key', 'signing_key: not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('signing_key', 'signing_key: must be a private EC P-256 JWK or {"keys": [...]}');
  }
  const single = !Object.hasOwn(value, 'keys');
  const list = single ? [value] : value.keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw new ConfigError('signing_key.keys', 'signing_key.keys: must be a non-empty array of private EC P-256 JWKs');
  }
  const privates = [];
  const publics = [];
  for (const [i, jwk] of list.entries()) {
    const path = single ? 'signing_key' : `signing_key.keys[${i}]`;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) {
      throw new ConfigError(path, `${path}: must be a private EC P-256 JWK`);
    }
    if (typeof jwk.d !== 'string' || jwk.d === '') {
      throw new ConfigError(`${path}.d`, `${path}.d: missing (a private EC P-256 JWK signs access tokens)`);
    }
    privates.push({ jwk, path });
    // Only the public members reach the core (never d, nor RSA's private parts).
    publics.push(Object.fromEntries(PUBLIC_JWK_MEMBERS.filter((m) => m in jwk).map((m) => [m, jwk[m]])));
  }
  return { publicText: JSON.stringify(single ? publics[0] : { keys: publics }), privates };
}

/** Signs access tokens with non-extractable WebCrypto keys, by kid. */
export class WebCryptoSigner {
  #keys = new Map(); // kid → Promise<CryptoKey>

  /**
   * @param {Array<{ jwk: object, path: string }>} privates in signing-key order
   * @param {string[]} kids the core's key ids, in the same order
   */
  constructor(privates, kids) {
    privates.forEach(({ jwk, path }, i) => {
      const key = importSigningKey(jwk, path);
      key.catch(() => {}); // reported when a token needs it
      this.#keys.set(kids[i], key);
    });
  }

  /** Resolves once every key imported; rejects with the first ConfigError. */
  ready() {
    return Promise.all(this.#keys.values()).then(() => undefined);
  }

  /**
   * @param {string} kid
   * @param {string} signingInput
   * @returns {Promise<Uint8Array>} the 64-byte r‖s signature
   */
  async sign(kid, signingInput) {
    const key = await this.#keys.get(kid);
    const signature = await SUBTLE.sign(ECDSA_SHA256, key, new TextEncoder().encode(signingInput));
    return new Uint8Array(signature);
  }
}
