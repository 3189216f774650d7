//! SAML 2.0 IdP metadata import (SAML metadata §2.4.3, §2.4.1.1): an
//! `EntityDescriptor` with an `IDPSSODescriptor` becomes a trusted-issuer
//! entry — the entity ID and its signing certificates.
//!
//! Metadata is parsed with the same hardened XML parser (no DTD, limits).
//! Its own signature, if any, is not checked: the operator who imports the
//! file vouches for it, exactly as when pasting certificates into the
//! configuration. Every certificate must hold a usable key (RSA ≥ 2048 or
//! EC P-256) or the import fails; CA certificates (basicConstraints cA) that
//! some IdPs list beside their signing certificate are skipped, so a CA key
//! never becomes a signing key for the IdP.

use serde_json::{Value, json};
use std::fmt;

use crate::xml::{Document, Limits, NodeId};
use crate::xmldsig::DSIG_NS;

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// What an IdP's metadata says about signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `EntityDescriptor/@entityID`: the IdP's Issuer value.
    pub entity_id: String,
    /// Signing certificates (base64 DER, whitespace removed), from
    /// `KeyDescriptor`s with `use="signing"` or no `use`.
    pub signing_certificates: Vec<String>,
}

/// Why metadata could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError(pub String);

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SAML metadata: {}", self.0)
    }
}

impl std::error::Error for MetadataError {}

fn err(what: impl Into<String>) -> MetadataError {
    MetadataError(what.into())
}

/// Reads an IdP's metadata. The root is an `EntityDescriptor`, or an
/// `EntitiesDescriptor` holding exactly one IdP.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, MetadataError> {
    let limits = Limits {
        max_bytes: 1024 * 1024,
        max_elements: 20_000,
        max_depth: 32,
        max_attributes: 64,
        max_namespace_declarations: 1024,
        max_text_bytes: 64 * 1024,
    };
    let doc = Document::parse(xml.as_bytes(), &limits).map_err(|e| err(e.to_string()))?;
    let root = doc.root();
    let entity = if doc.root_element().is(MD_NS, "EntityDescriptor") {
        root
    } else if doc.root_element().is(MD_NS, "EntitiesDescriptor") {
        let idps: Vec<NodeId> = doc
            .elements()
            .filter(|(id, e)| e.is(MD_NS, "EntityDescriptor") && has_idp(&doc, *id))
            .map(|(id, _)| id)
            .collect();
        match idps.as_slice() {
            [one] => *one,
            [] => return Err(err("no EntityDescriptor with an IDPSSODescriptor")),
            _ => {
                return Err(err(
                    "several identity providers; import one EntityDescriptor at a time",
                ));
            }
        }
    } else {
        return Err(err("the root is not an md:EntityDescriptor"));
    };
    let entity_el = doc.element(entity).ok_or_else(|| err("not an element"))?;
    let entity_id = entity_el
        .attr("entityID")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| err("EntityDescriptor has no entityID"))?
        .to_owned();
    let mut signing_certificates = Vec::new();
    let mut idp_count = 0;
    for (idp, _) in doc.children_named(entity, MD_NS, "IDPSSODescriptor") {
        idp_count += 1;
        for (kd, kd_el) in doc.children_named(idp, MD_NS, "KeyDescriptor") {
            if !matches!(kd_el.attr("use"), None | Some("signing")) {
                continue;
            }
            for (ki, _) in doc.children_named(kd, DSIG_NS, "KeyInfo") {
                for (x509, _) in doc.children_named(ki, DSIG_NS, "X509Data") {
                    for (cert, _) in doc.children_named(x509, DSIG_NS, "X509Certificate") {
                        let text = doc
                            .text(cert)
                            .map_err(|_| err("X509Certificate is split by markup"))?;
                        let compact: String =
                            text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                        let bad = |e: String| {
                            err(format!(
                                "signing certificate {}: {e}",
                                signing_certificates.len() + 1
                            ))
                        };
                        let der = crate::x509::certificate_der(&compact).map_err(bad)?;
                        if crate::x509::is_ca_certificate(&der) {
                            // A chain certificate, not the IdP's signing key.
                            continue;
                        }
                        crate::x509::public_key_from_der(&der).map_err(bad)?;
                        if !signing_certificates.contains(&compact) {
                            signing_certificates.push(compact);
                        }
                    }
                }
            }
        }
    }
    if idp_count == 0 {
        return Err(err("the EntityDescriptor has no IDPSSODescriptor"));
    }
    if signing_certificates.is_empty() {
        return Err(err("the IDPSSODescriptor has no signing certificate"));
    }
    Ok(IdpMetadata {
        entity_id,
        signing_certificates,
    })
}

fn has_idp(doc: &Document, entity: NodeId) -> bool {
    doc.children_named(entity, MD_NS, "IDPSSODescriptor")
        .next()
        .is_some()
}

impl IdpMetadata {
    /// The `trusted_issuers` entry for this IdP (add `scope`, `claims` …
    /// as needed).
    pub fn trusted_issuer_entry(&self) -> Value {
        json!({
            "issuer": self.entity_id,
            "format": "saml2",
            "x509_certificates": self.signing_certificates,
        })
    }
}
