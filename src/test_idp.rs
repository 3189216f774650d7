//! A built-in **test identity provider** for the debugger page and
//! integration tests: it mints a signed JWT (RFC 7523) or SAML 2.0 assertion
//! (RFC 7522, enveloped ecdsa-sha256 over exclusive c14n) with an EC P-256
//! key, so people can learn the flow and test a configuration without an
//! IdP. It signs with ES256 only (no RSA private-key operation exists in
//! this crate).
//!
//! Signing goes through the seam like everything else: [`prepare`] builds
//! the assertion and the bytes to sign, the holder of the key signs them
//! (WebCrypto on JS hosts; [`mint`] with the pure-Rust backend), and
//! [`UnsignedAssertion::finish`] puts the signature in.
//!
//! Not for production: a real IdP signs assertions, this server only
//! verifies them. The SAML signature is computed with this crate's own
//! canonicalizer; interoperability with xmlsec1 and signxml is proven by the
//! test vectors, not by this module.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

#[cfg(feature = "rust-crypto")]
use crate::crypto::SigningKey;
use crate::encoding::b64url_encode;
use crate::explain::utc;
use crate::token::PublicSigningKey;
use crate::xml::c14n::{self, Method};
use crate::xml::{Document, Limits};
use crate::xmldsig::DSIG_NS;

/// What to put in a test assertion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestAssertion {
    /// `"jwt"` or `"saml2"`.
    pub format: String,
    /// The IdP's issuer / entity ID.
    pub issuer: String,
    /// The subject (`sub` / NameID).
    pub subject: String,
    /// The audience (`aud` / Audience): this server's issuer or token endpoint.
    pub audience: String,
    /// SAML only: the SubjectConfirmationData Recipient (the token endpoint).
    #[serde(default)]
    pub recipient: Option<String>,
    /// Issue time (Unix seconds).
    pub now: i64,
    /// Seconds until expiry.
    pub lifetime_secs: i64,
    /// Extra claims / SAML attributes (string or array of strings values).
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// A test assertion waiting for its ES256 signature (ECDSA P-256 with
/// SHA-256 over [`Self::to_sign`], 64-byte `r‖s`).
#[derive(Debug)]
pub struct UnsignedAssertion {
    to_sign: Vec<u8>,
    /// The finished assertion is `head ‖ signature ‖ tail`, the signature
    /// base64url (JWT) or base64 (SAML SignatureValue).
    head: String,
    tail: String,
    saml: bool,
}

impl UnsignedAssertion {
    /// The bytes to sign: the JWS signing input, or the canonical SAML
    /// SignedInfo.
    pub fn to_sign(&self) -> &[u8] {
        &self.to_sign
    }

    /// The assertion with `signature` in it: a compact JWS, or base64url of
    /// the SAML XML (ready for the `assertion` parameter).
    pub fn finish(self, signature: &[u8; 64]) -> String {
        if self.saml {
            let value =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, signature);
            b64url_encode(format!("{}{value}{}", self.head, self.tail).as_bytes())
        } else {
            format!("{}{}{}", self.head, b64url_encode(signature), self.tail)
        }
    }
}

/// Builds a test assertion for the key `kid` and what to sign.
pub fn prepare(spec: &TestAssertion, kid: &str) -> Result<UnsignedAssertion, String> {
    if !(1..=86_400).contains(&spec.lifetime_secs) {
        return Err("lifetime_secs must be between 1 and 86400".into());
    }
    // Times are rendered as xs:dateTime: keep `now` (and now − 60, now +
    // lifetime) within years 1970–9999.
    if !(60..=253_402_300_799 - 86_400).contains(&spec.now) {
        return Err("now must be seconds since 1970, before the year 9999".into());
    }
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| "no randomness available".to_owned())?;
    let id = format!("_{}", crate::encoding::hex(&id));
    match spec.format.as_str() {
        "jwt" => Ok(prepare_jwt(spec, kid, &id)),
        "saml2" => prepare_saml(spec, &id),
        _ => Err("format must be \"jwt\" or \"saml2\"".into()),
    }
}

/// Mints a signed assertion with `key` (the pure-Rust backend). For SAML
/// the result is base64url of the XML, ready for the `assertion` parameter.
#[cfg(feature = "rust-crypto")]
pub fn mint(spec: &TestAssertion, key: &SigningKey) -> Result<String, String> {
    let unsigned = prepare(spec, key.kid())?;
    let signature = key.sign_es256(unsigned.to_sign());
    Ok(unsigned.finish(&signature))
}

fn prepare_jwt(spec: &TestAssertion, kid: &str, id: &str) -> UnsignedAssertion {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    let mut claims = spec.attributes.clone();
    for (k, v) in [
        ("iss", json!(spec.issuer)),
        ("sub", json!(spec.subject)),
        ("aud", json!(spec.audience)),
        ("iat", json!(spec.now)),
        ("exp", json!(spec.now + spec.lifetime_secs)),
        ("jti", json!(id)),
    ] {
        claims.insert(k.into(), v);
    }
    let input = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(Value::Object(claims).to_string().as_bytes())
    );
    UnsignedAssertion {
        to_sign: input.clone().into_bytes(),
        head: format!("{input}."),
        tail: String::new(),
        saml: false,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn prepare_saml(spec: &TestAssertion, id: &str) -> Result<UnsignedAssertion, String> {
    let recipient = spec.recipient.as_deref().unwrap_or(&spec.audience);
    let (issued, expires) = (utc(spec.now), utc(spec.now + spec.lifetime_secs));
    let not_before = utc(spec.now - 60);
    let mut attributes = String::new();
    for (name, value) in &spec.attributes {
        let values: Vec<String> = match value {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
            Value::String(s) => vec![s.clone()],
            other => vec![other.to_string()],
        };
        attributes.push_str(&format!("<saml:Attribute Name=\"{}\">", escape(name)));
        for v in values {
            attributes.push_str(&format!(
                "<saml:AttributeValue>{}</saml:AttributeValue>",
                escape(&v)
            ));
        }
        attributes.push_str("</saml:Attribute>");
    }
    if !attributes.is_empty() {
        attributes = format!("<saml:AttributeStatement>{attributes}</saml:AttributeStatement>");
    }
    let signature = |digest: &str, value: &str| {
        format!(
            "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>\
             <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
             <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/>\
             <ds:Reference URI=\"#{id}\"><ds:Transforms>\
             <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
             <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
             <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
             <ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>\
             <ds:SignatureValue>{value}</ds:SignatureValue></ds:Signature>"
        )
    };
    let document = |sig: &str| {
        format!(
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{issued}\">\
             <saml:Issuer>{issuer}</saml:Issuer>{sig}\
             <saml:Subject><saml:NameID>{subject}</saml:NameID>\
             <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
             <saml:SubjectConfirmationData Recipient=\"{recipient}\" NotOnOrAfter=\"{expires}\"/>\
             </saml:SubjectConfirmation></saml:Subject>\
             <saml:Conditions NotBefore=\"{not_before}\" NotOnOrAfter=\"{expires}\">\
             <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
             <saml:AuthnStatement AuthnInstant=\"{issued}\"><saml:AuthnContext><saml:AuthnContextClassRef>\
             urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
             {attributes}</saml:Assertion>",
            issuer = escape(&spec.issuer),
            subject = escape(&spec.subject),
            recipient = escape(recipient),
            audience = escape(&spec.audience),
        )
    };
    let exclusive = Method::Exclusive {
        inclusive_prefixes: Vec::new(),
    };
    let limits = Limits::default();
    let parse = |xml: &str| {
        Document::parse(xml.as_bytes(), &limits).map_err(|e| format!("test assertion: {e}"))
    };
    // 1. Digest the Assertion without its Signature (enveloped transform).
    let unsigned = parse(&document(""))?;
    let digest = Sha256::digest(c14n::canonicalize(
        &unsigned,
        unsigned.root(),
        None,
        &exclusive,
    ));
    let digest = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest);
    // 2. Sign the canonical SignedInfo, in place.
    let with_digest = parse(&document(&signature(&digest, "")))?;
    let signed_info = with_digest
        .elements()
        .find(|(_, e)| e.is(DSIG_NS, "SignedInfo"))
        .map(|(node, _)| node)
        .ok_or("test assertion: no SignedInfo")?;
    let to_sign = c14n::canonicalize(&with_digest, signed_info, None, &exclusive);
    // The SignatureValue goes between these two (a marker no escaped text contains).
    const MARK: &str = "\u{1}";
    let full = document(&signature(&digest, MARK));
    let (head, tail) = full
        .split_once(MARK)
        .ok_or("test assertion: no SignatureValue")?;
    Ok(UnsignedAssertion {
        to_sign,
        head: head.to_owned(),
        tail: tail.to_owned(),
        saml: true,
    })
}

/// The `trusted_issuers` entry that trusts `key` for `format` and `issuer`,
/// with the subject namespace `issuer|` (so it can join a configuration
/// that trusts other issuers) when that fits `subject_prefix`'s limit.
pub fn trust_entry(format: &str, issuer: &str, key: &PublicSigningKey) -> Value {
    let mut entry = json!({
        "issuer": issuer,
        "format": format,
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "kid": key.kid, "alg": "ES256",
                           "x": b64url_encode(&key.x), "y": b64url_encode(&key.y)}]},
    });
    if let Some(prefix) = crate::protocol::suggested_subject_prefix(issuer) {
        entry["subject_prefix"] = json!(prefix);
    }
    entry
}
