//! Enveloped XML-DSig verification of a SAML assertion (XML-DSig 1.1;
//! SAML core §5; RFC 7522 §3 item 9; SPEC.md §6).
//!
//! Only one shape is accepted: exactly one `ds:Signature`, a direct child of
//! the root, whose `SignedInfo` has exactly one `Reference` with
//! `URI="#" + root/@ID`, transforms exactly `enveloped-signature` followed
//! by exclusive c14n (inclusive c14n only on opt-in), and no `ds:Object`.
//! The ID must appear exactly once in the whole document (no decoys under
//! `ID`, `Id`, `id`, `AssertionID` or `xml:id`), and no other
//! `ds:Signature` may appear anywhere. This shape leaves no room for the
//! signature-wrapping family of attacks: what is verified is the root, and
//! the root is what the SAML rules read.
//!
//! Order (SPEC.md §6): canonicalize SignedInfo → verify SignatureValue with
//! the issuer's *configured* keys (KeyInfo is never a key source) →
//! canonicalize the root minus the Signature → compare digests in constant
//! time. Every failure of the last three steps reads the same.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::fmt;
use subtle::ConstantTimeEq;

#[cfg(feature = "rust-crypto")]
use crate::crypto::seam;
#[cfg(feature = "rust-crypto")]
use crate::crypto::seam::KeyRef;
use crate::crypto::seam::SignatureCheck;
use crate::crypto::{self, Algorithm, DigestAlgorithm};
use crate::jose::{Jwk, KeyView};
use crate::limits::MAX_KEY_CANDIDATES;
use crate::reason::Reason;
use crate::verified::Verified;
use crate::xml::c14n::{self, Method};
use crate::xml::{Document, NodeId, is_ncname};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const C14N_10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// What the issuer's configuration allows.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The issuer's verification keys (configured, and fetched from its
    /// `saml_metadata_url`).
    pub keys: KeyView<'a>,
    /// Allowed signature algorithms (`RS1` only with `allow_sha1`).
    pub algorithms: &'a [Algorithm],
    /// SHA-1 digests allowed (`allow_sha1`).
    pub allow_sha1: bool,
    /// Inclusive canonicalization allowed (`allow_inclusive_c14n`).
    pub allow_inclusive_c14n: bool,
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DsigError {
    /// The signature is missing, misplaced, duplicated, or shaped other
    /// than the one accepted form.
    Structure(Reason, &'static str),
    /// The Reference does not point at the root's ID, or the ID is not
    /// unique in the document.
    Reference(Reason, &'static str),
    /// A method (signature, digest, transform, c14n) that is unknown, weak
    /// without opt-in, or not allowed for this issuer.
    Algorithm(Reason, &'static str),
    /// The signature or digest does not verify (opaque on purpose).
    Invalid,
}

impl fmt::Display for DsigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Structure(_, what) => write!(f, "assertion signature: {what}"),
            Self::Reference(_, what) => write!(f, "assertion signature reference: {what}"),
            Self::Algorithm(_, what) => write!(f, "assertion signature: {what}"),
            Self::Invalid => f.write_str("assertion signature is invalid"),
        }
    }
}

impl DsigError {
    /// The stable reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Structure(r, _) | Self::Reference(r, _) | Self::Algorithm(r, _) => *r,
            Self::Invalid => Reason::DsigInvalid,
        }
    }
}

/// The root element of a document whose enveloped signature verified. Only
/// this module builds one, and only in `finish_enveloped` after the
/// signature and digest checked out: rules that take a
/// `Verified<SignedRoot>` read nothing unverified.
#[derive(Debug, Clone, Copy)]
pub struct SignedRoot<'d> {
    doc: &'d Document,
    root: NodeId,
    signature: NodeId,
}

impl<'d> SignedRoot<'d> {
    /// The document.
    pub fn doc(&self) -> &'d Document {
        self.doc
    }

    /// The verified element (always the root).
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// The `ds:Signature` child, to be skipped when reading.
    pub fn signature(&self) -> NodeId {
        self.signature
    }
}

/// Benchmark seam (feature `test-hooks` only, never in a release build):
/// a `Verified<SignedRoot>` for a document whose signature was **not**
/// checked, so the rules alone can be measured.
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub fn unverified_root_for_bench<'d>(doc: &'d Document, shape: &Shape) -> Verified<SignedRoot<'d>> {
    Verified::new(SignedRoot {
        doc,
        root: doc.root(),
        signature: shape.signature,
    })
}

/// The signature work an enveloped signature needs, before any key is used:
/// the shape is the one accepted form, SignedInfo is canonicalized (step 1),
/// and the [`SignatureCheck`] names the issuer's candidate keys (step 2 is
/// the host's). KeyInfo may *select* among the configured keys (rollover),
/// never add one: keys whose certificate it names are tried first.
pub fn begin_enveloped(
    doc: &Document,
    policy: &Policy<'_>,
) -> Result<(Shape, SignatureCheck), DsigError> {
    let shape = check_shape(doc, policy)?;
    let signed_info_bytes = c14n::canonicalize_bounded(
        doc,
        shape.signed_info,
        None,
        &shape.signed_info_method,
        c14n::MAX_CANONICAL_BYTES,
    )
    .ok_or(DsigError::Structure(
        Reason::DsigTooLarge,
        "the canonical SignedInfo is too large",
    ))?;
    let hints = key_info_certificates(doc, shape.signature);
    let named = |k: &Jwk| hints.iter().any(|h| k.is_certificate(h));
    let alg = shape.alg;
    let keys = policy.keys.iter();
    let candidates = keys
        .clone()
        .filter(|(_, k)| named(k))
        .chain(keys.filter(|(_, k)| !named(k)))
        .filter(|(_, k)| k.accepts(alg))
        .take(MAX_KEY_CANDIDATES)
        .map(|(r, _)| r);
    let check = SignatureCheck::new(
        alg,
        candidates,
        signed_info_bytes,
        shape.signature_bytes.clone(),
    );
    Ok((shape, check))
}

/// Finishes [`begin_enveloped`] with the host's answer `verified`: then
/// canonicalizes the root minus the Signature (step 3) and compares digests
/// in constant time (step 4). Every failure reads the same.
pub(crate) fn finish_enveloped<'d>(
    doc: &'d Document,
    shape: &Shape,
    verified: bool,
) -> Result<Verified<SignedRoot<'d>>, DsigError> {
    if !verified {
        return Err(DsigError::Invalid);
    }
    let root = doc.root();
    let content = c14n::canonicalize_bounded(
        doc,
        root,
        Some(shape.signature),
        &shape.reference_method,
        c14n::MAX_CANONICAL_BYTES,
    )
    .ok_or(DsigError::Structure(
        Reason::DsigTooLarge,
        "the canonical assertion is too large",
    ))?;
    let actual = crypto::digest(shape.digest_alg, &content);
    if !bool::from(actual.as_slice().ct_eq(&shape.expected_digest)) {
        return Err(DsigError::Invalid);
    }
    Ok(Verified::new(SignedRoot {
        doc,
        root,
        signature: shape.signature,
    }))
}

/// Verifies the enveloped signature on the root element of `doc` with the
/// pure-Rust backend: [`begin_enveloped`], the check answered on the spot,
/// `finish_enveloped`.
#[cfg(feature = "rust-crypto")]
pub fn verify_enveloped<'d>(
    doc: &'d Document,
    policy: &Policy<'_>,
) -> Result<Verified<SignedRoot<'d>>, DsigError> {
    let (shape, check) = begin_enveloped(doc, policy)?;
    let verified = seam::verify_with(&check, |r| match r {
        KeyRef::Decoy(kind) => Some(std::borrow::Cow::Borrowed(crypto::decoy_key(kind))),
        r => policy
            .keys
            .resolve(r)
            .map(|k| std::borrow::Cow::Borrowed(k.key())),
    });
    finish_enveloped(doc, &shape, verified)
}

/// The one accepted signature shape, read out of a document: everything
/// [`verify_enveloped`] needs before any canonicalization or key is used.
#[derive(Debug)]
pub struct Shape {
    /// The `ds:Signature` child of the root.
    pub(crate) signature: NodeId,
    /// Its `ds:SignedInfo`.
    pub(crate) signed_info: NodeId,
    /// How SignedInfo is canonicalized.
    pub(crate) signed_info_method: Method,
    /// How the root is canonicalized (the Reference's c14n transform).
    pub(crate) reference_method: Method,
    /// The signature algorithm, allowed by the policy.
    pub(crate) alg: Algorithm,
    /// The digest algorithm, allowed by the policy.
    pub(crate) digest_alg: DigestAlgorithm,
    /// The DigestValue.
    pub(crate) expected_digest: Vec<u8>,
    /// The SignatureValue.
    pub(crate) signature_bytes: Vec<u8>,
}

/// Checks that `doc` has exactly the accepted signature shape (module
/// docs) and reads its parts; no canonicalization, no key.
pub(crate) fn check_shape(doc: &Document, policy: &Policy<'_>) -> Result<Shape, DsigError> {
    let root = doc.root();
    let id = doc
        .root_element()
        .attr("ID")
        .filter(|id| !id.is_empty())
        .ok_or(DsigError::Reference(
            Reason::DsigReference,
            "the root element has no ID",
        ))?;

    // One walk over the document: ID-like attribute values (for
    // uniqueness) and Signature elements (exactly one is allowed).
    let mut ids: Vec<&str> = Vec::new();
    let mut signatures = 0usize;
    let mut first_signature = None;
    for (node, el) in doc.elements() {
        if el.is(DSIG_NS, "Signature") {
            signatures += 1;
            first_signature.get_or_insert((node, el));
        }
        ids.extend(
            el.attributes()
                .iter()
                .filter(|a| is_id_like(a))
                .map(|a| a.value.as_str()),
        );
    }
    check_unique_id(&mut ids, id)?;

    // Exactly one Signature in the whole document, as a child of the root.
    let (signature, sig_el) = first_signature.ok_or(DsigError::Structure(
        Reason::DsigNotSigned,
        "the assertion is not signed",
    ))?;
    if signatures > 1 {
        return Err(DsigError::Structure(
            Reason::DsigMultipleSignatures,
            "more than one Signature",
        ));
    }
    if sig_el.parent() != Some(root) {
        return Err(DsigError::Structure(
            Reason::DsigPosition,
            "the Signature must be a direct child of the assertion",
        ));
    }
    // SAML core §2.3.3 schema order: Issuer, then Signature.
    if doc.child_elements(root).nth(1).map(|(id, _)| id) != Some(signature) {
        return Err(DsigError::Structure(
            Reason::DsigPosition,
            "the Signature must follow the Issuer",
        ));
    }

    // Signature = SignedInfo, SignatureValue, KeyInfo? — nothing else.
    let mut parts = doc.child_elements(signature);
    let (signed_info, _) = parts
        .next()
        .filter(|(_, e)| e.is(DSIG_NS, "SignedInfo"))
        .ok_or(DsigError::Structure(
            Reason::DsigShape,
            "SignedInfo must come first",
        ))?;
    let (signature_value, _) = parts
        .next()
        .filter(|(_, e)| e.is(DSIG_NS, "SignatureValue"))
        .ok_or(DsigError::Structure(
            Reason::DsigShape,
            "SignatureValue must follow SignedInfo",
        ))?;
    for (_, extra) in parts {
        if !extra.is(DSIG_NS, "KeyInfo") {
            return Err(DsigError::Structure(
                Reason::DsigShape,
                "only KeyInfo may follow SignatureValue",
            ));
        }
    }
    check_only_whitespace_text(doc, signature)?;

    // SignedInfo = CanonicalizationMethod, SignatureMethod, Reference.
    let mut si_parts = doc.child_elements(signed_info);
    let (c14n_node, _) = si_parts
        .next()
        .filter(|(_, e)| e.is(DSIG_NS, "CanonicalizationMethod"))
        .ok_or(DsigError::Structure(
            Reason::DsigShape,
            "CanonicalizationMethod must come first in SignedInfo",
        ))?;
    let (method_node, method_el) = si_parts
        .next()
        .filter(|(_, e)| e.is(DSIG_NS, "SignatureMethod"))
        .ok_or(DsigError::Structure(
            Reason::DsigShape,
            "SignatureMethod must follow CanonicalizationMethod",
        ))?;
    let (reference, reference_el) = si_parts
        .next()
        .filter(|(_, e)| e.is(DSIG_NS, "Reference"))
        .ok_or(DsigError::Structure(
            Reason::DsigShape,
            "SignedInfo must hold one Reference",
        ))?;
    if si_parts.next().is_some() {
        return Err(DsigError::Structure(
            Reason::DsigShape,
            "SignedInfo must hold exactly one Reference",
        ));
    }
    if doc.child_elements(method_node).next().is_some() {
        return Err(DsigError::Algorithm(
            Reason::DsigSignatureMethod,
            "SignatureMethod parameters are not accepted",
        ));
    }
    let signed_info_method = c14n_method(doc, c14n_node, policy)?;
    let alg = signature_algorithm(method_el.attr("Algorithm").unwrap_or(""))?;
    if !policy.algorithms.contains(&alg) || (alg == Algorithm::RS1 && !policy.allow_sha1) {
        return Err(DsigError::Algorithm(
            Reason::DsigSignatureMethod,
            "signature method not allowed for this issuer",
        ));
    }

    // Reference: URI = "#ID", Transforms = enveloped + c14n.
    if reference_el.attr("URI").and_then(|u| u.strip_prefix('#')) != Some(id) {
        return Err(DsigError::Reference(
            Reason::DsigReference,
            "the Reference must point at the assertion's own ID",
        ));
    }
    let mut ref_parts = doc.child_elements(reference);
    let (transforms, _) = ref_parts
        .next()
        .filter(|(_, e)| e.is(DSIG_NS, "Transforms"))
        .ok_or(DsigError::Structure(
            Reason::DsigShape,
            "the Reference needs Transforms",
        ))?;
    let (digest_method, digest_method_el) = ref_parts
        .next()
        .filter(|(_, e)| e.is(DSIG_NS, "DigestMethod"))
        .ok_or(DsigError::Structure(
            Reason::DsigShape,
            "DigestMethod must follow Transforms",
        ))?;
    let (digest_value, _) = ref_parts
        .next()
        .filter(|(_, e)| e.is(DSIG_NS, "DigestValue"))
        .ok_or(DsigError::Structure(
            Reason::DsigShape,
            "DigestValue must follow DigestMethod",
        ))?;
    if ref_parts.next().is_some() || doc.child_elements(digest_method).next().is_some() {
        return Err(DsigError::Structure(
            Reason::DsigShape,
            "unexpected content in the Reference",
        ));
    }
    let reference_method = reference_transforms(doc, transforms, policy)?;
    let digest_alg = digest_algorithm(digest_method_el.attr("Algorithm").unwrap_or(""), policy)?;
    let expected_digest = base64_value(doc, digest_value)?;
    let signature_bytes = base64_value(doc, signature_value)?;

    // SignedInfo is canonicalized before any key is tried: keep its size
    // to what the schema needs, so that work stays small for anyone.
    if subtree_elements(doc, signed_info) > MAX_SIGNED_INFO_ELEMENTS {
        return Err(DsigError::Structure(
            Reason::DsigShape,
            "SignedInfo holds too many elements",
        ));
    }
    Ok(Shape {
        signature,
        signed_info,
        signed_info_method,
        reference_method,
        alg,
        digest_alg,
        expected_digest,
        signature_bytes,
    })
}

/// ID-like attributes (SPEC.md §6): `ID`, `Id`, `id`, `AssertionID`,
/// `xml:id`, or a namespaced `id` in any case.
fn is_id_like(a: &crate::xml::Attr) -> bool {
    match a.ns {
        None => matches!(&*a.local, "ID" | "Id" | "id" | "AssertionID"),
        Some(_) => a.local.eq_ignore_ascii_case("id"),
    }
}

/// Every ID-like attribute value in the document ([`is_id_like`], all of
/// them in `ids`) must be unique, and the root's ID must occur only as the root's own `ID`: any
/// other carrier of that value is a decoy for wrapping attacks (SPEC.md §6).
fn check_unique_id(ids: &mut [&str], id: &str) -> Result<(), DsigError> {
    // Sorted, a repeated value sits next to itself: O(n log n) for any
    // number of IDs, with no hashing.
    ids.sort_unstable();
    if ids.windows(2).any(|w| w.first() == w.last()) {
        return Err(DsigError::Reference(
            Reason::DsigReference,
            "an ID value appears more than once in the document",
        ));
    }
    if ids.binary_search(&id).is_ok() {
        Ok(())
    } else {
        Err(DsigError::Reference(
            Reason::DsigReference,
            "the assertion's ID is not unique in the document",
        ))
    }
}

fn check_only_whitespace_text(doc: &Document, id: NodeId) -> Result<(), DsigError> {
    doc.element(id)
        .ok_or(DsigError::Structure(Reason::DsigShape, "not an element"))?;
    for &c in doc.children(id) {
        if let crate::xml::Node::Text(t) = doc.node(c)
            && !doc
                .text_of(*t)
                .chars()
                .all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
        {
            return Err(DsigError::Structure(
                Reason::DsigShape,
                "unexpected text in the Signature",
            ));
        }
    }
    Ok(())
}

/// SHA-256 digests of the (at most four) X509Certificates in the
/// signature's KeyInfo; unreadable ones are ignored (KeyInfo is only a hint).
fn key_info_certificates(doc: &Document, signature: NodeId) -> Vec<[u8; 32]> {
    use sha2::Digest as _;
    let mut out = Vec::new();
    for (ki, _) in doc.children_named(signature, DSIG_NS, "KeyInfo") {
        for (data, _) in doc.children_named(ki, DSIG_NS, "X509Data") {
            for (cert, _) in doc.children_named(data, DSIG_NS, "X509Certificate").take(4) {
                if let Ok(der) = base64_value(doc, cert) {
                    out.push(sha2::Sha256::digest(&der).into());
                }
            }
        }
    }
    out.truncate(4);
    out
}

/// Most distinct prefixes an InclusiveNamespaces PrefixList may name.
const MAX_PREFIX_LIST: usize = 32;

/// Most elements a SignedInfo may hold (its schema needs about a dozen).
const MAX_SIGNED_INFO_ELEMENTS: usize = 32;

/// Number of elements in the subtree at `node` (bounded by the parser's
/// element limit).
fn subtree_elements(doc: &Document, node: NodeId) -> usize {
    1 + doc
        .child_elements(node)
        .map(|(c, _)| subtree_elements(doc, c))
        .sum::<usize>()
}

/// A CanonicalizationMethod or c14n Transform element → the method.
fn c14n_method(doc: &Document, node: NodeId, policy: &Policy<'_>) -> Result<Method, DsigError> {
    let el = doc
        .element(node)
        .ok_or(DsigError::Structure(Reason::DsigShape, "not an element"))?;
    let uri = el.attr("Algorithm").unwrap_or("");
    let mut params = doc.child_elements(node);
    match uri {
        EXC_C14N => {
            let mut inclusive_prefixes: Vec<Option<String>> = Vec::new();
            if let Some((p_id, p)) = params.next() {
                if !p.is(EXC_C14N, "InclusiveNamespaces") {
                    return Err(DsigError::Algorithm(
                        Reason::DsigCanonicalization,
                        "unexpected canonicalization parameter",
                    ));
                }
                // An empty element: any content is a place to hide work.
                if !doc.children(p_id).is_empty() {
                    return Err(DsigError::Algorithm(
                        Reason::DsigCanonicalization,
                        "InclusiveNamespaces must be empty",
                    ));
                }
                for token in p.attr("PrefixList").unwrap_or("").split_ascii_whitespace() {
                    let prefix = if token == "#default" {
                        None
                    } else if is_ncname(token) {
                        Some(token.to_owned())
                    } else {
                        return Err(DsigError::Algorithm(
                            Reason::DsigCanonicalization,
                            "PrefixList holds a token that is not a prefix",
                        ));
                    };
                    if !inclusive_prefixes.contains(&prefix) {
                        if inclusive_prefixes.len() == MAX_PREFIX_LIST {
                            return Err(DsigError::Algorithm(
                                Reason::DsigCanonicalization,
                                "PrefixList is too long",
                            ));
                        }
                        inclusive_prefixes.push(prefix);
                    }
                }
            }
            if params.next().is_some() {
                return Err(DsigError::Algorithm(
                    Reason::DsigCanonicalization,
                    "unexpected canonicalization parameter",
                ));
            }
            Ok(Method::Exclusive { inclusive_prefixes })
        }
        C14N_10 if policy.allow_inclusive_c14n => {
            if params.next().is_some() {
                return Err(DsigError::Algorithm(
                    Reason::DsigCanonicalization,
                    "unexpected canonicalization parameter",
                ));
            }
            Ok(Method::Inclusive)
        }
        C14N_10 => Err(DsigError::Algorithm(
            Reason::DsigCanonicalization,
            "inclusive canonicalization is not enabled for this issuer",
        )),
        _ => Err(DsigError::Algorithm(
            Reason::DsigCanonicalization,
            "unsupported canonicalization method",
        )),
    }
}

/// Transforms must be exactly: enveloped-signature, then one c14n method.
fn reference_transforms(
    doc: &Document,
    transforms: NodeId,
    policy: &Policy<'_>,
) -> Result<Method, DsigError> {
    let list: Vec<NodeId> = doc.child_elements(transforms).map(|(id, _)| id).collect();
    let is_transform = |id: NodeId| doc.element(id).is_some_and(|e| e.is(DSIG_NS, "Transform"));
    if !list.iter().all(|&id| is_transform(id)) {
        return Err(DsigError::Structure(
            Reason::DsigShape,
            "Transforms may only hold Transform elements",
        ));
    }
    let uri = |id: NodeId| {
        doc.element(id)
            .and_then(|e| e.attr("Algorithm"))
            .unwrap_or("")
    };
    match list.as_slice() {
        [enveloped, c14n] if uri(*enveloped) == ENVELOPED => {
            if doc.child_elements(*enveloped).next().is_some() {
                return Err(DsigError::Algorithm(
                    Reason::DsigTransform,
                    "unexpected transform parameter",
                ));
            }
            c14n_method(doc, *c14n, policy)
        }
        [enveloped] if uri(*enveloped) == ENVELOPED && policy.allow_inclusive_c14n => {
            // XML-DSig §4.3.3.2: a node-set is converted with inclusive c14n.
            Ok(Method::Inclusive)
        }
        _ => Err(DsigError::Algorithm(
            Reason::DsigTransform,
            "transforms must be enveloped-signature then exclusive c14n",
        )),
    }
}

fn signature_algorithm(uri: &str) -> Result<Algorithm, DsigError> {
    Ok(match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Algorithm::RS256,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Algorithm::RS384,
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Algorithm::RS512,
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Algorithm::ES256,
        "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1" => Algorithm::PS256,
        "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1" => Algorithm::PS384,
        "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1" => Algorithm::PS512,
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => Algorithm::RS1,
        _ => {
            return Err(DsigError::Algorithm(
                Reason::DsigSignatureMethod,
                "unsupported signature method",
            ));
        }
    })
}

fn digest_algorithm(uri: &str, policy: &Policy<'_>) -> Result<DigestAlgorithm, DsigError> {
    Ok(match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => DigestAlgorithm::Sha256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => DigestAlgorithm::Sha384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => DigestAlgorithm::Sha512,
        "http://www.w3.org/2000/09/xmldsig#sha1" if policy.allow_sha1 => DigestAlgorithm::Sha1,
        "http://www.w3.org/2000/09/xmldsig#sha1" => {
            return Err(DsigError::Algorithm(
                Reason::DsigDigestMethod,
                "SHA-1 digests are not enabled for this issuer",
            ));
        }
        _ => {
            return Err(DsigError::Algorithm(
                Reason::DsigDigestMethod,
                "unsupported digest method",
            ));
        }
    })
}

/// base64Binary content: whitespace (as xmlsec1's 64-column wrapping) is
/// allowed; anything else must be canonical padded base64. A comment or PI
/// inside the value is refused by [`Document::text`].
fn base64_value(doc: &Document, node: NodeId) -> Result<Vec<u8>, DsigError> {
    let text = doc
        .text(node)
        .map_err(|_| DsigError::Structure(Reason::DsigBase64, "base64 value is split by markup"))?;
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let decoded = if text.bytes().any(is_space) {
        let compact: Vec<u8> = text.bytes().filter(|&b| !is_space(b)).collect();
        STANDARD.decode(compact)
    } else {
        STANDARD.decode(text)
    };
    decoded
        .map_err(|_| DsigError::Structure(Reason::DsigBase64, "base64 value is not valid base64"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Limits;

    fn verify(xml: &str) -> Result<(), DsigError> {
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        let policy = Policy {
            keys: KeyView::configured(crate::crypto::seam::KeyOwner::Issuer(0), &[]),
            algorithms: &[],
            allow_sha1: false,
            allow_inclusive_c14n: false,
        };
        verify_enveloped(&doc, &policy).map(|_| ())
    }

    #[test]
    fn ids_must_be_unique_before_anything_else() {
        let unrelated = r#"<a ID="r"><b ID="x"/><c Id="x"/></a>"#;
        assert_eq!(
            verify(unrelated),
            Err(DsigError::Reference(
                Reason::DsigReference,
                "an ID value appears more than once in the document"
            ))
        );
        let decoy = r#"<a ID="r"><b xml:id="r"/></a>"#;
        assert_eq!(
            verify(decoy),
            Err(DsigError::Reference(
                Reason::DsigReference,
                "an ID value appears more than once in the document"
            ))
        );
        assert_eq!(
            verify(r#"<a Id="r"/>"#),
            Err(DsigError::Reference(
                Reason::DsigReference,
                "the root element has no ID"
            ))
        );
        assert_eq!(
            verify(r#"<a ID="r"/>"#),
            Err(DsigError::Structure(
                Reason::DsigNotSigned,
                "the assertion is not signed"
            ))
        );
    }
}
