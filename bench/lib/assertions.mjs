// Pre-generated, one-time assertions for the benchmark: every request in a
// batch carries a different jti / SAML ID, so the replay store is a real
// one-time store and never has to be told to accept everything.
//
// JWT: WebCrypto (tests/js/helpers.mjs signJwt) with the vector keys
//   idp-ec-1 (ES256) and idp-rsa-1 (RS256), claims shaped like the
//   valid-es256 / valid-rs256 vectors.
// ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant): WebCrypto with
//   the test key jag-idp-ec-1 of tests/vectors/idjag (ES256), typ
//   oauth-id-jag+jwt, aud = our issuer identifier, client_id = the client
//   that authenticates, scope; from a bench issuer with profiles ["id-jag"].
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
export const ID_JAG_TYP = 'oauth-id-jag+jwt';
export const ISSUER = 'https://as.example.com';
export const SAML2_BEARER = 'urn:ietf:params:oauth:grant-type:saml2-bearer';
export const TOKEN_URL = 'https://as.example.com/token';
export const CLIENT = ['basic-client', 'basic-secret'];
export const AUTHORIZATION = basicAuth(...CLIENT);

const VECTOR_NOW = 1800000000; // tests/vectors/saml: 2027-01-15T08:00:00Z
/** Assertions stay valid this long after generation (issuer max_lifetime is 3600 s). */
export const LIFETIME_SECS = 3000;

/** The benchmark paths: label, grant type, how to make one assertion. */
export const PATHS = [
  { id: 'jwt-es256', label: 'JWT-bearer ES256', kind: 'jwt', kid: 'idp-ec-1', alg: 'ES256' },
  { id: 'jwt-rs256', label: 'JWT-bearer RS256', kind: 'jwt', kid: 'idp-rsa-1', alg: 'RS256' },
  { id: 'saml-rsa', label: 'SAML-bearer RSA-SHA256', kind: 'saml', vector: 'valid-rsa-sha256-xmlsec1', key: 'saml-idp' },
  { id: 'saml-ecdsa', label: 'SAML-bearer ECDSA-SHA256', kind: 'saml', vector: 'valid-ecdsa-sha256-xmlsec1', key: 'saml-ec-idp' },
  { id: 'idjag-es256', label: 'ID-JAG ES256', kind: 'idjag', kid: 'jag-idp-ec-1', alg: 'ES256' },
];

const IDJAG_VECTORS = join(ROOT, 'tests/vectors/idjag');
/** The ID-JAG issuer of the bench (its key: the enterprise IdP's jag-idp-ec-1 of tests/vectors/idjag). */
export const IDJAG_ISSUER = 'https://idp.enterprise.example';
/** Scope in every bench ID-JAG: what basic-client may have (`read write`). */
export const IDJAG_SCOPE = 'read write';

/**
 * The bench's ID-JAG issuer: tests/vectors/idjag's enterprise IdP (its keys,
 * `profiles: ["id-jag"]`, max lifetime, subject prefix), with the scope
 * ceiling and claim mapping of the bench's JWT issuer, so the ID-JAG row
 * issues the same kind of token as the JWT rows.
 */
export function idJagIssuerConfig() {
  const vectors = JSON.parse(readFileSync(join(IDJAG_VECTORS, 'config.json'), 'utf8'));
  const enterprise = vectors.trusted_issuers.find((i) => i.issuer === IDJAG_ISSUER);
  if (!enterprise || !enterprise.profiles?.includes('id-jag')) throw new Error(`bench: tests/vectors/idjag has no ID-JAG issuer ${IDJAG_ISSUER}`);
  return {
    issuer: enterprise.issuer,
    format: 'jwt',
    profiles: ['id-jag'],
    jwks: enterprise.jwks,
    max_lifetime_secs: enterprise.max_lifetime_secs ?? 3600,
    scope: 'read write admin',
    subject_prefix: enterprise.subject_prefix ?? 'ent|',
    claims: { email: 'email' },
  };
}

/** The JWT vector configuration plus the two SAML issuers the SAML paths use and the ID-JAG issuer. */
export function benchConfig() {
  const jwt = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/jwt/config.json'), 'utf8'));
  const saml = JSON.parse(readFileSync(join(ROOT, 'tests/vectors/saml/config.json'), 'utf8'));
  if (jwt.issuer !== saml.issuer || jwt.token_endpoint !== saml.token_endpoint) {
    throw new Error('bench: the JWT and SAML vector configurations name different servers');
  }
  if (jwt.issuer !== ISSUER || jwt.token_endpoint !== TOKEN_URL) throw new Error(`bench: the vector configuration is not ${ISSUER}`);
  for (const issuer of ['https://saml-idp.example.com', 'https://saml-ec-idp.example.com']) {
    jwt.trusted_issuers.push(saml.trusted_issuers.find((i) => i.issuer === issuer));
  }
  jwt.trusted_issuers.push(idJagIssuerConfig());
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

/** The private key of an ID-JAG issuer (tests/vectors/idjag/keys/<kid>.json). */
function idJagKey(kid) {
  const jwk = JSON.parse(readFileSync(join(IDJAG_VECTORS, 'keys', `${kid}.json`), 'utf8'));
  if (typeof jwk.d !== 'string') throw new Error(`bench: tests/vectors/idjag/keys/${kid}.json is not a private key`);
  return jwk;
}

/**
 * `count` one-time ID-JAGs for `clientId` (the client that will present them):
 * typ oauth-id-jag+jwt, iss the bench ID-JAG issuer, aud our issuer identifier
 * alone, client_id, sub, jti, iat, exp, scope, email.
 */
export async function signIdJagPool(path, count, now, { clientId = CLIENT[0], audience = ISSUER } = {}) {
  const key = idJagKey(path.kid);
  const out = [];
  for (let i = 0; i < count; i++) {
    const jti = randomBytes(16).toString('base64url');
    const assertion = await signJwt(key, {
      iss: IDJAG_ISSUER,
      sub: 'alice@example.com',
      aud: audience,
      client_id: clientId,
      jti,
      iat: now - 10,
      exp: now + LIFETIME_SECS,
      scope: IDJAG_SCOPE,
      email: 'alice@example.com',
    }, { alg: path.alg, typ: ID_JAG_TYP });
    out.push({ id: jti, bytes: assertion.length, body: formBody(JWT_BEARER, assertion) });
  }
  return out;
}

/**
 * { [path.id]: [{ id, bytes, body }] } — `count` fresh token-request bodies
 * per path (client authentication goes in the Authorization header).
 */
export async function makePools(count, { now = Math.floor(Date.now() / 1000), paths = PATHS } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-'));
  try {
    const pools = {};
    for (const path of paths) {
      if (path.kind === 'jwt') pools[path.id] = await signJwtPool(path, count, now);
      else if (path.kind === 'idjag') pools[path.id] = await signIdJagPool(path, count, now);
      else pools[path.id] = await signSamlPool(path, count, now, dir);
    }
    return { generatedAt: now, pools };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
