//! The `assertion` parameter to a parsed document (RFC 7522 §2.1): strict
//! base64(url) decoding under the size limit, hardened XML, and the Issuer
//! read before the signature to choose the keys.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{SAML_NS, SAMLP_NS};
use crate::grant::GrantError;
use crate::reason::Reason;
use crate::xml::{Document, Limits};

/// RFC 7522 §2.1: base64url without padding; real clients also send
/// standard base64, padded or not. Mixed alphabets, whitespace and
/// non-canonical trailing bits are refused.
pub(super) fn decode_parameter(encoded: &str, limits: &Limits) -> Result<Vec<u8>, GrantError> {
    if encoded.len() > limits.max_bytes.div_ceil(3) * 4 + 4 {
        return Err(GrantError::Saml(
            Reason::SamlTooLarge,
            "the assertion is too large",
        ));
    }
    let url = encoded.contains(['-', '_']);
    let standard = encoded.contains(['+', '/']);
    if url && standard {
        return Err(GrantError::Saml(
            Reason::SamlEncoding,
            "the assertion parameter mixes base64 alphabets",
        ));
    }
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let engine = GeneralPurpose::new(
        if standard {
            &alphabet::STANDARD
        } else {
            &alphabet::URL_SAFE
        },
        config,
    );
    engine.decode(encoded).map_err(|_| {
        GrantError::Saml(
            Reason::SamlEncoding,
            "the assertion parameter is not base64url (or base64)",
        )
    })
}

/// The parsed document, with its root checked to be a SAML 2.0 Assertion.
pub(super) fn parse(encoded: &str) -> Result<Document, GrantError> {
    let limits = Limits::default();
    let bytes = decode_parameter(encoded, &limits)?;
    let doc = Document::parse(&bytes, &limits).map_err(GrantError::Xml)?;
    let root = doc.root_element();
    if root.is(SAML_NS, "EncryptedAssertion") {
        return Err(GrantError::Saml(
            Reason::SamlEncrypted,
            "encrypted assertions are not supported yet",
        ));
    }
    if root.is(SAMLP_NS, "Response") {
        return Err(GrantError::Saml(
            Reason::SamlNotAnAssertion,
            "send the Assertion itself, not a SAML Response",
        ));
    }
    if !root.is(SAML_NS, "Assertion") {
        return Err(GrantError::Saml(
            Reason::SamlNotAnAssertion,
            "the document is not a SAML 2.0 Assertion",
        ));
    }
    Ok(doc)
}

/// The Issuer: the first child element of the root (SAML core §2.3.3).
pub(super) fn issuer_of(doc: &Document) -> Result<String, GrantError> {
    let (id, first) = doc
        .child_elements(doc.root())
        .next()
        .ok_or(GrantError::Missing("Issuer"))?;
    if !first.is(SAML_NS, "Issuer") {
        return Err(GrantError::Missing("Issuer"));
    }
    let issuer = doc
        .text(id)
        .map_err(|_| GrantError::Saml(Reason::SamlSplitValue, "Issuer is split by markup"))?;
    if issuer.is_empty() {
        return Err(GrantError::Missing("Issuer"));
    }
    Ok(issuer)
}
