//! The SAML 2.0 bearer assertion grant (RFC 7522 §2.1, §3; SAML core
//! §2.3–2.7; SPEC.md §5) and SAML client authentication (RFC 7522 §2.2).
//!
//! Order: decode the parameter (base64url, or standard base64 because real
//! clients send it) → hardened XML parse → the root must be one SAML 2.0
//! `Assertion` → its `Issuer` picks the trusted issuer → XML-DSig over the
//! root with that issuer's configured keys → every rule below reads only
//! the verified root ([`SignedRoot`](crate::xmldsig::SignedRoot)).

use super::{GrantError, ValidatedGrant};
use crate::config::{AssertionFormat, Config, TrustedIssuer};
use crate::crypto::seam::{KeyOwner, SignatureCheck};
use crate::explain::{CheckId, Trace};
use crate::jose::KeyView;
use crate::keyset::{self, RemoteKeys};
use crate::replay::{ReplayKey, ReplayKind};
use crate::xml::Document;
use crate::xmldsig::{self, Policy, Shape};
use std::cell::RefCell;

mod datetime;
mod decode;
mod rules;

use decode::{issuer_of, parse};
use rules::Rules;

/// The SAML 2.0 assertion namespace.
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

pub use crate::protocol::NAME_ID_FORMAT_SOURCE;

/// The unverified Issuer of an encoded assertion, for decisions that must
/// come before signature verification.
pub(crate) fn peek_issuer(encoded: &str) -> Option<String> {
    parse(encoded).ok().and_then(|doc| issuer_of(&doc).ok())
}

/// A SAML assertion parsed, its trusted issuer found and its SignedInfo
/// canonicalized: waiting for the host's answer to its [`SignatureCheck`].
#[derive(Debug)]
pub(crate) struct SamlPending {
    doc: Document,
    issuer: usize,
    shape: Shape,
    kind: ReplayKind,
}

impl SamlPending {
    /// The trusted issuer the assertion names (`trusted_issuers` index).
    pub(crate) fn issuer(&self) -> usize {
        self.issuer
    }
}

/// The first half of [`validate`]: everything before the signature
/// operation. `kind` says whether the assertion is the grant (RFC 7522
/// §2.1) or the client's authentication (§2.2); it only changes the replay
/// key's namespace.
pub(crate) fn begin(
    config: &Config,
    encoded: &str,
    kind: ReplayKind,
    remote: &dyn RemoteKeys,
    trace: &mut Trace,
) -> Result<(SamlPending, SignatureCheck), GrantError> {
    let doc = trace.check(CheckId::SamlStructure, parse(encoded), |d| {
        format!(
            "one SAML 2.0 Assertion, {} elements, hardened XML",
            d.elements().count()
        )
    })?;
    // §3 item 1: the Issuer names a trusted issuer.
    let issuer_name = trace.check(CheckId::SamlIssuer, issuer_of(&doc), |i| {
        format!("Issuer {i:?}")
    })?;
    let (index, issuer) =
        super::trusted_issuer(config, &issuer_name, AssertionFormat::Saml2, trace)?;
    let mut held = None;
    let keys = keyset::view(
        remote,
        &config.key_sources,
        KeyOwner::Issuer(index),
        &issuer.keys,
        issuer.remote,
        None,
        &mut held,
        trace,
    )
    .map_err(GrantError::KeySet)?;
    let (shape, check) = match xmldsig::begin_enveloped(&doc, &policy(issuer, keys)) {
        Ok(begun) => begun,
        Err(e) => {
            let e = GrantError::Signature(e);
            trace.fail(CheckId::SamlSignature, e.reason(), || e.to_string());
            return Err(e);
        }
    };
    Ok((
        SamlPending {
            doc,
            issuer: index,
            shape,
            kind,
        },
        check,
    ))
}

/// The issuer's signature policy.
fn policy<'a>(issuer: &'a TrustedIssuer, keys: KeyView<'a>) -> Policy<'a> {
    Policy {
        keys,
        algorithms: &issuer.algorithms,
        allow_sha1: issuer.allow_sha1,
        allow_inclusive_c14n: issuer.allow_inclusive_c14n,
    }
}

/// The second half of [`validate`]: `verified` is the host's answer to the
/// check [`begin`] returned; then the digest, then every RFC 7522 rule over
/// the verified root only.
pub(crate) fn finish(
    config: &Config,
    pending: SamlPending,
    verified: bool,
    now: i64,
    trace: &mut Trace,
) -> Result<ValidatedGrant, GrantError> {
    let issuer = &config.issuers[pending.issuer];
    // §3 item 9: signed by that issuer.
    let signed = trace.check(
        CheckId::SamlSignature,
        xmldsig::finish_enveloped(&pending.doc, &pending.shape, verified)
            .map_err(GrantError::Signature),
        |_| "enveloped signature on the Assertion, with a configured key of the issuer".into(),
    )?;
    let rules = Rules {
        config,
        issuer,
        signed,
        now,
        trace: RefCell::new(trace),
    };
    let checked = rules.check()?;
    // Keep the ID as long as *any* reading of this assertion could be
    // accepted: a later SubjectConfirmation may outlive the one used now,
    // but nothing outlives IssueInstant + max lifetime (checked above).
    let acceptable_until = checked
        .expires_at
        .max(checked.issued.saturating_add(issuer.max_lifetime))
        .saturating_add(issuer.clock_skew);
    let replay = ReplayKey::new(pending.kind, &issuer.issuer, &checked.id, acceptable_until);
    Ok(ValidatedGrant {
        issuer: pending.issuer,
        subject: checked.subject,
        claims: checked.claims,
        name_id_format: checked.name_id_format,
        expires_at: checked.expires_at,
        replay: Some(replay),
        id_jag: None,
    })
}

/// Benchmark seam (feature `test-hooks` only, never in a release build):
/// the work of a SAML-bearer validation that is neither parsing,
/// canonicalization, digesting nor signature arithmetic — the XML-DSig
/// shape checks and every RFC 7522 rule — over an already parsed `doc`.
///
/// The signature is **not** verified, so this returns no grant, only
/// whether the rules pass.
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub fn rules_without_signature_for_bench(
    config: &Config,
    doc: &Document,
    now: i64,
) -> Result<(), GrantError> {
    let mut trace = Trace::off();
    let root = doc.root_element();
    if !root.is(SAML_NS, "Assertion") {
        return Err(GrantError::Saml(
            crate::reason::Reason::SamlNotAnAssertion,
            "the document is not a SAML 2.0 Assertion",
        ));
    }
    let issuer_name = issuer_of(doc)?;
    let (index, issuer) =
        super::trusted_issuer(config, &issuer_name, AssertionFormat::Saml2, &mut trace)?;
    let keys = KeyView::configured(KeyOwner::Issuer(index), &issuer.keys);
    let shape = xmldsig::check_shape(doc, &policy(issuer, keys)).map_err(GrantError::Signature)?;
    let rules = Rules {
        config,
        issuer,
        signed: xmldsig::unverified_root_for_bench(doc, &shape),
        now,
        trace: RefCell::new(&mut trace),
    };
    rules.check().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::datetime::instant;
    use super::decode::decode_parameter;
    use crate::xml::Limits;
    use base64::Engine as _;

    #[test]
    fn instants() {
        assert_eq!(instant("2027-01-15T08:00:00Z", false), Ok(1_800_000_000));
        assert_eq!(instant("2027-01-15T08:00:00.000Z", true), Ok(1_800_000_000));
        assert_eq!(instant("2027-01-15T08:00:00.5Z", true), Ok(1_800_000_001));
        assert_eq!(instant("2027-01-15T08:00:00.5Z", false), Ok(1_800_000_000));
        assert_eq!(instant("1970-01-01T00:00:00Z", false), Ok(0));
        assert_eq!(instant("2024-02-29T00:00:00Z", false), Ok(1_709_164_800));
        for bad in [
            "2027-01-15T08:00:00",
            "2027-01-15T08:00:00+01:00",
            "2027-02-30T00:00:00Z",
            "2027-01-15 08:00:00Z",
            "2027-01-15T08:00:00.Z",
            "+2027-01-15T08:00:00Z",
            "2027-01-15T24:00:00Z",
        ] {
            assert!(instant(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn parameter_encodings() {
        let limits = Limits::default();
        let xml = b"<a>?>~</a>";
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(xml);
        let std_pad = base64::engine::general_purpose::STANDARD.encode(xml);
        assert!(url.contains(['-', '_']) && std_pad.contains(['+', '/']));
        assert_eq!(decode_parameter(&url, &limits).unwrap(), xml);
        assert_eq!(decode_parameter(&std_pad, &limits).unwrap(), xml);
        assert_eq!(
            decode_parameter(std_pad.trim_end_matches('='), &limits).unwrap(),
            xml
        );
        assert!(
            decode_parameter(&format!("{url}+"), &limits).is_err(),
            "mixed alphabets"
        );
        assert!(
            decode_parameter(&format!("{} ", url), &limits).is_err(),
            "whitespace"
        );
        assert!(
            decode_parameter(&format!("{}\n{}", &url[..4], &url[4..]), &limits).is_err(),
            "line break"
        );
    }
}
