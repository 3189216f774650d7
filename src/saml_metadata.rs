//! SAML 2.0 IdP metadata import (SAML metadata §2.4.3, §2.4.1.1): an
//! `EntityDescriptor` with an `IDPSSODescriptor` becomes a trusted-issuer
//! entry — the entity ID and its signing certificates.
//!
//! Metadata is parsed with the same hardened XML parser (no DTD, limits).
//! Its own signature, if any, is not checked: the operator who imports the
//! file vouches for it, exactly as when pasting certificates into the
//! configuration. Every certificate must hold a usable key (RSA ≥ 2048 or
//! EC P-256) or the import fails; CA certificates (basicConstraints cA)
//! that some IdPs list beside their signing certificate — one that issued
//! another listed certificate, or one that is not self-issued — are
//! skipped, so a CA key never becomes a signing key for the IdP. A
//! self-issued certificate marked cA that issued none of the others — what
//! `openssl req -x509` makes by default, and what many IdPs sign with — is
//! kept.
//!
//! Metadata fetched from `saml_metadata_url` goes through
//! [`idp_signing_certificates`]: the entity is chosen by `entityID` (so an
//! aggregate of a federation works) and unusable certificates are skipped
//! and reported rather than fatal.

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

fn metadata_limits() -> Limits {
    Limits {
        max_bytes: crate::limits::MAX_METADATA_BYTES,
        max_elements: 20_000,
        max_depth: 32,
        max_attributes: 64,
        max_namespace_declarations: 1024,
        max_text_bytes: 64 * 1024,
    }
}

/// Reads an IdP's metadata. The root is an `EntityDescriptor`, or an
/// `EntitiesDescriptor` holding exactly one IdP. Pasted metadata is
/// strict: a signing certificate without a usable key fails the import.
pub fn parse_idp_metadata(xml: &str) -> Result<IdpMetadata, MetadataError> {
    let doc =
        Document::parse(xml.as_bytes(), &metadata_limits()).map_err(|e| err(e.to_string()))?;
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
    let (signing_certificates, _) = idp_certificates(&doc, entity, true)?;
    Ok(IdpMetadata {
        entity_id,
        signing_certificates,
    })
}

/// A signing certificate that fetched metadata lists but that cannot be
/// used: `why` is `"ca"` (an issuing CA, not self-issued) or `"key"` (no
/// usable key: not RSA 2048–8192 or EC P-256, or not a certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCertificate {
    /// `"ca"` (a chain certificate) or `"key"`.
    pub why: &'static str,
    /// What is wrong, for logs and explain.
    pub detail: String,
}

/// The signing certificates of the IdP `entity_id` in fetched metadata (an
/// `EntityDescriptor`, or an aggregate `EntitiesDescriptor` in which the
/// entity is found by its `entityID`, as federations publish). Lenient as
/// a fetched key set must be: unusable certificates are skipped and
/// reported, not fatal. Fails when the entity or its `IDPSSODescriptor`
/// is missing, or when no usable signing certificate is left.
pub fn idp_signing_certificates(
    xml: &str,
    entity_id: &str,
) -> Result<(Vec<String>, Vec<SkippedCertificate>), MetadataError> {
    let doc =
        Document::parse(xml.as_bytes(), &metadata_limits()).map_err(|e| err(e.to_string()))?;
    let root_el = doc.root_element();
    if !root_el.is(MD_NS, "EntityDescriptor") && !root_el.is(MD_NS, "EntitiesDescriptor") {
        return Err(err(
            "the root is not an md:EntityDescriptor or md:EntitiesDescriptor",
        ));
    }
    let entity = doc
        .elements()
        .find(|(_, e)| e.is(MD_NS, "EntityDescriptor") && e.attr("entityID") == Some(entity_id))
        .map(|(id, _)| id)
        .ok_or_else(|| err("no EntityDescriptor with this issuer's entityID"))?;
    let (certificates, skipped) = idp_certificates(&doc, entity, false)?;
    if certificates.is_empty() {
        return Err(err(
            "the IDPSSODescriptor has no usable signing certificate",
        ));
    }
    Ok((certificates, skipped))
}

/// The signing certificates (base64 DER, whitespace removed, distinct) of
/// `entity`'s `IDPSSODescriptor`s; `strict` fails on an unusable one,
/// otherwise it is skipped and reported. Issuing CA certificates are
/// skipped in both modes.
fn idp_certificates(
    doc: &Document,
    entity: NodeId,
    strict: bool,
) -> Result<(Vec<String>, Vec<SkippedCertificate>), MetadataError> {
    // Every certificate of the signing KeyDescriptors first: whether a CA
    // certificate is a chain certificate depends on what is listed beside it.
    let mut listed: Vec<(String, Result<Vec<u8>, String>, usize)> = Vec::new();
    let mut group = 0;
    let mut idp_count = 0;
    for (idp, _) in doc.children_named(entity, MD_NS, "IDPSSODescriptor") {
        idp_count += 1;
        for (kd, kd_el) in doc.children_named(idp, MD_NS, "KeyDescriptor") {
            if !matches!(kd_el.attr("use"), None | Some("signing")) {
                continue;
            }
            for (ki, _) in doc.children_named(kd, DSIG_NS, "KeyInfo") {
                for (x509, _) in doc.children_named(ki, DSIG_NS, "X509Data") {
                    group += 1;
                    for (cert, _) in doc.children_named(x509, DSIG_NS, "X509Certificate") {
                        let text = doc
                            .text(cert)
                            .map_err(|_| err("X509Certificate is split by markup"))?;
                        let compact: String =
                            text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                        let der = crate::x509::certificate_der(&compact);
                        listed.push((compact, der, group));
                    }
                }
            }
        }
    }
    let facts: Vec<Option<crate::x509::CaFacts>> = listed
        .iter()
        .map(|(_, der, _)| der.as_ref().ok().and_then(|d| crate::x509::ca_facts(d)))
        .collect();
    let groups: Vec<usize> = listed.iter().map(|(_, _, g)| *g).collect();
    // A CA certificate is a chain certificate when it is not self-issued,
    // when it issued another listed certificate, or when it shares its
    // X509Data with a certificate that is not a CA (a leaf and its chain).
    let chain_certificate = |i: usize| {
        facts[i].as_ref().is_some_and(|f| {
            f.ca && (!f.self_issued
                || facts.iter().enumerate().any(|(j, other)| {
                    j != i
                        && other
                            .as_ref()
                            .is_some_and(|o| f.issued(o) || (groups[j] == groups[i] && !o.ca))
                }))
        })
    };
    let mut signing_certificates = Vec::new();
    let mut skipped = Vec::new();
    for (i, (compact, der, _)) in listed.into_iter().enumerate() {
        let number = i + 1;
        let chain = chain_certificate(i);
        if chain {
            // A chain certificate, not the IdP's signing key.
            skipped.push(SkippedCertificate {
                why: "ca",
                detail: format!(
                    "signing certificate {number}: a CA certificate of a chain (not self-issued, issuer of another listed certificate, or listed with a leaf)"
                ),
            });
            continue;
        }
        match der.and_then(|d| crate::x509::public_key_from_der(&d)) {
            Ok(_) => {
                if !signing_certificates.contains(&compact) {
                    signing_certificates.push(compact);
                }
            }
            Err(e) if strict => {
                return Err(err(format!("signing certificate {number}: {e}")));
            }
            Err(e) => skipped.push(SkippedCertificate {
                why: "key",
                detail: format!("signing certificate {number}: {e}"),
            }),
        }
    }
    if idp_count == 0 {
        return Err(err("the EntityDescriptor has no IDPSSODescriptor"));
    }
    if strict && signing_certificates.is_empty() {
        return Err(err("the IDPSSODescriptor has no signing certificate"));
    }
    Ok((signing_certificates, skipped))
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
        let mut entry = json!({
            "issuer": self.entity_id,
            "format": "saml2",
            "x509_certificates": self.signing_certificates,
        });
        if let Some(prefix) = crate::protocol::suggested_subject_prefix(&self.entity_id) {
            entry["subject_prefix"] = json!(prefix);
        }
        entry
    }
}
