// Pre-generated, one-time assertions for the benchmark: every request in a
// batch carries a different jti / SAML ID, so the replay store is a real
// one-time store and never has to be told to accept everything.
//
// JWT: WebCrypto (tests/js/helpers.mjs signJwt) with the vector keys
//   idp-ec-1 (ES256) and idp-rsa-1 (RS256), claims shaped like the
//   valid-es256 / valid-rs256 vectors.
// SAML: the realistic xmlsec1 vectors (valid-rsa-sha256-xmlsec1, 6.7 KB, and
//   valid-ecdsa-sha256-xmlsec1, 5.9 KB; 13 attributes, KeyInfo with the
//   certificate) used as templates: fresh ID, times moved to now, then signed
//   again by xmlsec1 (enveloped, exclusive c14n), exactly as an IdP would.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, loadPrivateKeys, signJwt, basicAuth } from '../../tests/js/helpers.mjs';

const run = promisify(execFile);

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const SAML2_BEARER = 'urn:ietf:params:oauth:grant-type:saml2-bearer';
export const TOKEN_URL = 'https://as.example.com/token';
export const CLIENT = ['basic-client', 'basic-secret'];
export const AUTHORIZATION = basicAuth(...CLIENT);

const VECTOR_NOW = 1800000000; // tests/vectors/saml: 2027-01-15T08:00:00Z
/** Assertions stay valid this long after generation (issuer max_lifetime is 3600 s). */
export const LIFETIME_SECS = 3000;

/** The four benchmark paths: label, grant type, how to make one assertion. */
export const PATHS = [
  { id: 'jwt-es256', label: 'JWT-bearer ES256', kind: 'jwt', kid: 'idp-ec-1', alg: 'ES256' },
  { id: 'jwt-rs256', label: 'JWT-bearer RS256', kind: 'jwt', kid: 'idp-rsa-1', alg: 'RS256' },
  { id: 'saml-rsa', label: 'SAML-bearer RSA-SHA256', kind: 'saml', vector: 'valid-rsa-sha256-xmlsec1', key: 'saml-idp' },
  { id: 'saml-ecdsa', label: 'SAML-bearer ECDSA-SHA256', kind: 'saml', vector: 'valid-ecdsa-sha256-xmlsec1', key: 'saml-ec-idp' },
];

/** The JWT vector configuration plus the two SAML issuers the SAML paths use. */
export function benchConfig() {
  const jwt = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/jwt/config.json'), 'utf8'));
  const saml = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/saml/config.json'), 'utf8'));
  if (jwt.issuer !== saml.issuer || jwt.token_endpoint !== saml.token_endpoint) {
    throw new Error('bench: the JWT and SAML vector configurations name different servers');
  }
  for (const issuer of ['https://saml-idp.example.com', 'https://saml-ec-idp.example.com']) {
    jwt.trusted_issuers.push(saml.trusted_issuers.find((i) => i.issuer === issuer));
  }
  return jwt;
}

const iso = (secs) => new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const isoAt = (offset) => iso(VECTOR_NOW + offset);

function samlVector(name) {
  const vectors = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/saml/vectors.json'), 'utf8'));
  const v = vectors.find((c) => c.name === name);
  if (!v) throw new Error(`bench: no SAML vector ${name}`);
  return v.xml;
}

/** The vector as an xmlsec1 template: ID and times become placeholders, signature values empty. */
function samlTemplate(name) {
  const xml = samlVector(name);
  const id = /\bID="([^"]+)"/.exec(xml)[1];
  let t = xml.split(id).join('{{ID}}');
  const times = { [-120]: 'AUTHN', [-60]: 'NOT_BEFORE', [-10]: 'ISSUE', [300]: 'NOT_AFTER', [28800]: 'SESSION_END' };
  for (const [offset, name] of Object.entries(times)) t = t.split(isoAt(Number(offset))).join(`{{${name}}}`);
  if (/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/.test(t)) throw new Error(`bench: ${name} has a time the template does not know`);
  t = t.replace(/<ds:DigestValue>[^<]*<\/ds:DigestValue>/, '<ds:DigestValue></ds:DigestValue>');
  t = t.replace(/<ds:SignatureValue>[^<]*<\/ds:SignatureValue>/, '<ds:SignatureValue></ds:SignatureValue>');
  return t;
}

function fillTemplate(template, now) {
  const values = {
    ID: `_${randomBytes(20).toString('hex')}`,
    AUTHN: iso(now - 120),
    NOT_BEFORE: iso(now - 60),
    ISSUE: iso(now - 10),
    NOT_AFTER: iso(now + LIFETIME_SECS),
    SESSION_END: iso(now + 28800),
  };
  return { id: values.ID, xml: template.replace(/\{\{(\w+)\}\}/g, (_, k) => values[k]) };
}

const formBody = (grantType, assertion) =>
  new URLSearchParams([['grant_type', grantType], ['assertion', assertion]]).toString();

async function signSamlPool(path, count, now, dir, concurrency = 2) {
  const template = samlTemplate(path.vector);
  const key = join(ROOT, 'tests/vectors/saml/keys', `${path.key}.key.pem`);
  const out = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const { id, xml } = fillTemplate(template, now);
      const input = join(dir, `${path.id}-${i}.in.xml`);
      const output = join(dir, `${path.id}-${i}.xml`);
      writeFileSync(input, xml);
      await run('nice', ['-n', '10', 'xmlsec1', '--sign', '--privkey-pem', key,
        '--id-attr:ID', 'urn:oasis:names:tc:SAML:2.0:assertion:Assertion', '--output', output, input]);
      const signed = readFileSync(output);
      out[i] = { id, bytes: signed.length, body: formBody(SAML2_BEARER, signed.toString('base64url')) };
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

async function signJwtPool(path, count, now) {
  const key = loadPrivateKeys().get(path.kid);
  if (!key) throw new Error(`bench: no private key ${path.kid}`);
  const out = [];
  for (let i = 0; i < count; i++) {
    const jti = randomBytes(16).toString('base64url');
    const assertion = await signJwt(key, {
      iss: 'https://idp.example.com',
      sub: 'alice@example.com',
      aud: TOKEN_URL,
      iat: now - 10,
      exp: now + LIFETIME_SECS,
      jti,
      email: 'alice@example.com',
      groups: ['engineering', 'staff'],
    }, { alg: path.alg });
    out.push({ id: jti, bytes: assertion.length, body: formBody(JWT_BEARER, assertion) });
  }
  return out;
}

/**
 * { [path.id]: [{ id, bytes, body }] } — `count` fresh token-request bodies
 * per path (client authentication goes in the Authorization header).
 */
export async function makePools(count, { now = Math.floor(Date.now() / 1000) } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-'));
  try {
    const pools = {};
    for (const path of PATHS) {
      pools[path.id] = path.kind === 'jwt' ? await signJwtPool(path, count, now) : await signSamlPool(path, count, now, dir);
    }
    return { generatedAt: now, pools };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
