// Peer for the SAML paths: a minimal RFC 7522 SAML2-bearer token endpoint on
// `xml-crypto` + `@xmldom/xmldom`, used the way xml-crypto's README says:
// parse, load the one ds:Signature of the root, checkSignature() with the
// configured certificate (never KeyInfo), then read only what
// getSignedReferences() returns. Added checks it cannot do itself: exactly
// one Reference whose URI is the root's own ID; Issuer, Audience, bearer
// SubjectConfirmation with Recipient = token endpoint, NotBefore /
// NotOnOrAfter with skew, IssueInstant age, one-time ID; then the same
// ES256 access token as ours (common.mjs).
//
// xml-crypto has no ECDSA signature method: `ecdsa-sha256` (RFC 4051, r‖s)
// is registered below as a custom algorithm (its documented extension
// point): r‖s converted to DER, then node:crypto.verify (workerd's
// node:crypto takes no {key, dsaEncoding} object with a KeyObject).
import crypto from 'node:crypto';
import { Buffer } from 'node:buffer';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { PeerError, createCommon, handleWith, mapClaims } from './common.mjs';

const SAML2_BEARER = 'urn:ietf:params:oauth:grant-type:saml2-bearer';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256';

/** r‖s (XML-DSig / P1363) → DER, which node:crypto verifies with a KeyObject everywhere. */
function p1363ToDer(raw) {
  if (raw.length !== 64) return Buffer.alloc(0);
  const int = (bytes) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const v = bytes.subarray(i);
    return v[0] & 0x80 ? Buffer.concat([Buffer.from([0x02, v.length + 1, 0]), v]) : Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(raw.subarray(0, 32)), int(raw.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

class EcdsaSha256 {
  verifySignature(material, key, signatureValue) {
    return crypto.verify('sha256', Buffer.from(material, 'utf8'), key, p1363ToDer(Buffer.from(signatureValue, 'base64')));
  }
  getSignature() {
    throw new Error('verify only');
  }
  getAlgorithmName() {
    return ECDSA_SHA256;
  }
}

function pemOf(cert) {
  if (cert.includes('-----BEGIN')) return cert;
  const body = cert.replace(/\s+/g, '').match(/.{1,64}/g).join('\n');
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

/** The configured certificate's public key, parsed once (a KeyObject where the runtime can). */
function publicKeyOf(cert) {
  const pem = pemOf(cert);
  try {
    return crypto.createPublicKey(pem);
  } catch {
    return pem; // xml-crypto's default: the PEM text, parsed by node:crypto on every verify
  }
}

const seconds = (iso) => {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new PeerError('invalid_grant');
  return Math.floor(t / 1000);
};

function children(node, ns, local) {
  const out = [];
  for (let c = node.firstChild; c !== null; c = c.nextSibling) {
    if (c.nodeType === 1 && c.namespaceURI === ns && c.localName === local) out.push(c);
  }
  return out;
}
const one = (node, ns, local) => {
  const list = children(node, ns, local);
  if (list.length !== 1) throw new PeerError('invalid_grant');
  return list[0];
};
const fail = () => {
  throw new PeerError('invalid_grant');
};
const text = (node) => (node.textContent ?? '').trim();

export async function createXmlCryptoEndpoint(config, signingJwk) {
  const common = await createCommon(config, signingJwk);
  const issuers = new Map(
    config.trusted_issuers
      .filter((i) => i.format === 'saml2')
      .map((i) => [i.issuer, { config: i, key: publicKeyOf(i.x509_certificates[0]) }]),
  );
  const keyKind = [...issuers.values()].every((i) => typeof i.key !== 'string') ? 'KeyObject (parsed once)' : 'PEM text (parsed per verify)';

  /** Verify and return the signed root element (re-parsed from what xml-crypto says it verified). */
  function verify(xml) {
    const doc = new DOMParser({ errorHandler: { error: fail, fatalError: fail } }).parseFromString(xml, 'text/xml');
    const root = doc.documentElement;
    if (!root || root.namespaceURI !== SAML || root.localName !== 'Assertion') throw new PeerError('invalid_grant');
    const issuer = issuers.get(text(one(root, SAML, 'Issuer')));
    if (issuer === undefined) throw new PeerError('invalid_grant');
    const sig = new SignedXml({ publicCert: issuer.key, getCertFromKeyInfo: () => null });
    sig.SignatureAlgorithms[ECDSA_SHA256] = EcdsaSha256;
    sig.loadSignature(one(root, DSIG, 'Signature'));
    let ok = false;
    try {
      ok = sig.checkSignature(xml);
    } catch {
      ok = false;
    }
    if (!ok) throw new PeerError('invalid_grant');
    const refs = sig.getReferences();
    const id = root.getAttribute('ID');
    if (refs.length !== 1 || !id || refs[0].uri !== `#${id}`) throw new PeerError('invalid_grant');
    const signed = sig.getSignedReferences();
    if (signed.length !== 1) throw new PeerError('invalid_grant');
    const signedRoot = new DOMParser().parseFromString(signed[0], 'text/xml').documentElement;
    if (signedRoot.getAttribute('ID') !== id) throw new PeerError('invalid_grant');
    return { issuer, root: signedRoot, id };
  }

  async function token(request) {
    const form = await common.form(request);
    const client = await common.client(request);
    if (form.get('grant_type') !== SAML2_BEARER) throw new PeerError('unsupported_grant_type');
    const assertion = form.get('assertion');
    if (!assertion) throw new PeerError('invalid_request');
    const xml = Buffer.from(assertion, 'base64url').toString('utf8');
    const { issuer, root, id } = verify(xml);
    const now = Math.floor(Date.now() / 1000);
    const skew = issuer.config.clock_skew_secs ?? common.skew;
    const maxLifetime = issuer.config.max_lifetime_secs ?? 3600;

    if (root.getAttribute('Version') !== '2.0') throw new PeerError('invalid_grant');
    if (now - seconds(root.getAttribute('IssueInstant')) > maxLifetime + skew) throw new PeerError('invalid_grant');
    const subject = one(root, SAML, 'Subject');
    const sub = text(one(subject, SAML, 'NameID'));
    const bearer = children(subject, SAML, 'SubjectConfirmation').find((c) => c.getAttribute('Method') === BEARER);
    if (!bearer) throw new PeerError('invalid_grant');
    const data = one(bearer, SAML, 'SubjectConfirmationData');
    if (data.getAttribute('Recipient') !== common.tokenEndpoint) throw new PeerError('invalid_grant');
    const notAfter = seconds(data.getAttribute('NotOnOrAfter'));
    if (now >= notAfter + skew) throw new PeerError('invalid_grant');
    const conditions = one(root, SAML, 'Conditions');
    if (conditions.hasAttribute('NotBefore') && now + skew < seconds(conditions.getAttribute('NotBefore'))) throw new PeerError('invalid_grant');
    const condAfter = seconds(conditions.getAttribute('NotOnOrAfter'));
    if (now >= condAfter + skew) throw new PeerError('invalid_grant');
    if (condAfter - now > maxLifetime) throw new PeerError('invalid_grant');
    const audiences = children(conditions, SAML, 'AudienceRestriction').flatMap((r) => children(r, SAML, 'Audience').map(text));
    if (!audiences.some((a) => common.audiences.includes(a))) throw new PeerError('invalid_grant');

    const scope = common.scope(form.get('scope'), client, issuer.config);
    if (!common.claim(`saml:${issuer.config.issuer}:${id}`, Math.min(notAfter, condAfter))) throw new PeerError('invalid_grant');

    const attributes = new Map();
    for (const statement of children(root, SAML, 'AttributeStatement')) {
      for (const a of children(statement, SAML, 'Attribute')) {
        const values = children(a, SAML, 'AttributeValue').map(text);
        attributes.set(a.getAttribute('Name'), values.length === 1 ? values[0] : values);
      }
    }
    const claims = mapClaims(issuer.config.claims, (name) => attributes.get(name));
    return common.issue({ sub, client, scope, claims });
  }

  return {
    keyKind,
    /** xml-crypto alone: parse + checkSignature + reference check + re-parse (no token). */
    verifyOnly(xml) {
      return verify(xml).id;
    },
    handle: handleWith(token),
    resetReplay: common.resetReplay,
  };
}
