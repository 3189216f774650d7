// Signs SAML assertions with xmlsec1 (libxmlsec, the signer Shibboleth-era
// stacks use) at test time, so tests against the real clock get fresh ones.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers.mjs';

export const SAML2_BEARER = 'urn:ietf:params:oauth:grant-type:saml2-bearer';
export const SAML_IDP = 'https://saml-idp.example.com';
export const SAML_KEYS = join(ROOT, 'tests/vectors/saml/keys');

const iso = (secs) => new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const escapeXml = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/**
 * A fresh SAML 2.0 bearer assertion from saml-idp.example.com, signed by
 * xmlsec1 (enveloped, exclusive c14n, RSA-SHA256), base64url-encoded.
 * `nameIdFormat` sets the NameID's Format; `attributes` adds
 * `[Name, value]` pairs after `email`.
 */
export function signSamlAssertion({
  subject = 'alice@example.com',
  audience,
  recipient,
  lifetime = 300,
  email = subject,
  nameIdFormat,
  attributes = [],
} = {}) {
  const now = Math.floor(Date.now() / 1000);
  const id = `_${crypto.randomUUID()}`;
  const xml =
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${iso(now - 5)}">` +
    `<saml:Issuer>${SAML_IDP}</saml:Issuer>` +
    '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>' +
    '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>' +
    '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>' +
    `<ds:Reference URI="#${id}"><ds:Transforms>` +
    '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>' +
    '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>' +
    '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>' +
    '</ds:SignedInfo><ds:SignatureValue/></ds:Signature>' +
    `<saml:Subject><saml:NameID${nameIdFormat ? ` Format="${escapeXml(nameIdFormat)}"` : ''}>${subject}</saml:NameID>` +
    '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">' +
    `<saml:SubjectConfirmationData Recipient="${recipient}" NotOnOrAfter="${iso(now + lifetime)}"/>` +
    '</saml:SubjectConfirmation></saml:Subject>' +
    `<saml:Conditions NotBefore="${iso(now - 60)}" NotOnOrAfter="${iso(now + lifetime)}">` +
    `<saml:AudienceRestriction><saml:Audience>${audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    '<saml:AttributeStatement><saml:Attribute Name="email">' +
    `<saml:AttributeValue>${email}</saml:AttributeValue></saml:Attribute>` +
    attributes
      .map(([name, value]) => `<saml:Attribute Name="${escapeXml(name)}"><saml:AttributeValue>${escapeXml(value)}</saml:AttributeValue></saml:Attribute>`)
      .join('') +
    '</saml:AttributeStatement>' +
    '</saml:Assertion>';
  const dir = mkdtempSync(join(tmpdir(), 'ag-xmlsec-'));
  try {
    writeFileSync(join(dir, 'in.xml'), xml);
    execFileSync('xmlsec1', [
      '--sign',
      '--privkey-pem', join(SAML_KEYS, 'saml-idp.key.pem'),
      '--id-attr:ID', 'urn:oasis:names:tc:SAML:2.0:assertion:Assertion',
      '--output', join(dir, 'out.xml'),
      join(dir, 'in.xml'),
    ]);
    return readFileSync(join(dir, 'out.xml')).toString('base64url');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The trusted-issuer entry for saml-idp.example.com (its certificate as PEM). */
export function samlIssuerEntry() {
  return {
    issuer: SAML_IDP,
    format: 'saml2',
    x509_certificates: [readFileSync(join(SAML_KEYS, 'saml-idp.crt.pem'), 'utf8')],
    scope: 'read write',
    claims: { email: 'email' },
    // Joins tests/vectors/jwt/config.json, whose issuers share one subject
    // namespace (the vectors' subjects are unprefixed).
    dangerous: { shared_subject_namespace: true },
  };
}
