//! The SAML 2.0 bearer assertion grant (RFC 7522 §2.1, §3; SAML core
//! §2.3–2.7; SPEC.md §5) and SAML client authentication (RFC 7522 §2.2).
//!
//! Order: decode the parameter (base64url, or standard base64 because real
//! clients send it) → hardened XML parse → the root must be one SAML 2.0
//! `Assertion` → its `Issuer` picks the trusted issuer → XML-DSig over the
//! root with that issuer's configured keys → every rule below reads only
//! the verified root ([`SignedRoot`]).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::{GrantError, TimeError, TimeRules, ValidatedGrant};
use crate::config::{AssertionFormat, Config, TrustedIssuer};
use crate::crypto::seam::{KeyOwner, SignatureCheck};
use crate::explain::{CheckId, Refusal, Trace, utc};
use crate::reason::Reason;
use crate::replay::{ReplayKey, ReplayKind};
use crate::verified::Verified;
use crate::xml::{Document, Limits, NodeId};
use crate::xmldsig::{self, Policy, Shape, SignedRoot};
use std::cell::RefCell;

/// The SAML 2.0 assertion namespace.
pub const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

pub use crate::protocol::NAME_ID_FORMAT_SOURCE;

/// RFC 7522 §2.1: base64url without padding; real clients also send
/// standard base64, padded or not. Mixed alphabets, whitespace and
/// non-canonical trailing bits are refused.
fn decode_parameter(encoded: &str, limits: &Limits) -> Result<Vec<u8>, GrantError> {
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
fn parse(encoded: &str) -> Result<Document, GrantError> {
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
fn issuer_of(doc: &Document) -> Result<String, GrantError> {
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
    trace: &mut Trace,
) -> Result<(SamlPending, SignatureCheck), GrantError> {
    let doc = trace.check(
        CheckId::Structure,
        "RFC 7522 §2.1, SAML core §2.3.3",
        parse(encoded),
        |d| {
            format!(
                "one SAML 2.0 Assertion, {} elements, hardened XML",
                d.elements().count()
            )
        },
    )?;
    // §3 item 1: the Issuer names a trusted issuer.
    let issuer_name = trace.check(
        CheckId::Issuer,
        "RFC 7522 §3 item 1",
        issuer_of(&doc),
        |i| format!("Issuer {i:?}"),
    )?;
    let (index, issuer) =
        super::trusted_issuer(config, &issuer_name, AssertionFormat::Saml2, trace)?;
    let (shape, check) =
        match xmldsig::begin_enveloped(&doc, &policy(issuer), KeyOwner::Issuer(index)) {
            Ok(begun) => begun,
            Err(e) => {
                let e = GrantError::Signature(e);
                trace.fail(
                    CheckId::Signature,
                    "RFC 7522 §3 item 9, SAML core §5, XML-DSig",
                    e.reason(),
                    || e.to_string(),
                );
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
fn policy(issuer: &TrustedIssuer) -> Policy<'_> {
    Policy {
        keys: &issuer.keys,
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
        CheckId::Signature,
        "RFC 7522 §3 item 9, SAML core §5, XML-DSig",
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
            Reason::SamlNotAnAssertion,
            "the document is not a SAML 2.0 Assertion",
        ));
    }
    let issuer_name = issuer_of(doc)?;
    let (_, issuer) =
        super::trusted_issuer(config, &issuer_name, AssertionFormat::Saml2, &mut trace)?;
    let shape = xmldsig::check_shape(doc, &policy(issuer)).map_err(GrantError::Signature)?;
    let rules = Rules {
        config,
        issuer,
        signed: xmldsig::unverified_root_for_bench(doc, &shape),
        now,
        trace: RefCell::new(&mut trace),
    };
    rules.check().map(|_| ())
}

struct Rules<'a> {
    config: &'a Config,
    issuer: &'a TrustedIssuer,
    signed: Verified<SignedRoot<'a>>,
    now: i64,
    trace: RefCell<&'a mut Trace>,
}

struct Checked {
    id: String,
    issued: i64,
    subject: String,
    name_id_format: Option<String>,
    claims: Map<String, Value>,
    expires_at: i64,
}

impl Rules<'_> {
    /// Records a check's outcome in the trace and passes it through.
    fn traced<T, E: Refusal>(
        &self,
        check: CheckId,
        spec: &'static str,
        result: Result<T, E>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, E> {
        self.trace.borrow_mut().check(check, spec, result, detail)
    }

    fn doc(&self) -> &Document {
        self.signed.get().doc()
    }

    fn time(&self) -> TimeRules {
        TimeRules {
            now: self.now,
            skew: self.issuer.clock_skew,
            max_lifetime: self.issuer.max_lifetime,
        }
    }

    /// Child elements of the verified root other than the Signature.
    fn root_children(&self, local: &'static str) -> Vec<NodeId> {
        self.doc()
            .children_named(self.signed.get().root(), SAML_NS, local)
            .map(|(id, _)| id)
            .collect()
    }

    fn check(&self) -> Result<Checked, GrantError> {
        let doc = self.doc();
        let root = doc.root_element();
        let version = if root.attr("Version") == Some("2.0") {
            Ok(())
        } else {
            Err(GrantError::Saml(
                Reason::SamlVersion,
                "the assertion Version must be 2.0",
            ))
        };
        self.traced(CheckId::SamlVersion, "SAML core §2.3.3", version, |_| {
            "Version 2.0".into()
        })?;
        // Re-read Issuer from the verified root (the same node).
        if issuer_of(doc)? != self.issuer.issuer {
            return Err(GrantError::UntrustedIssuer);
        }
        let id = root.attr("ID").unwrap_or_default().to_owned();

        // IssueInstant: required, not in the future, not too old.
        let issued = root
            .attr("IssueInstant")
            .ok_or(GrantError::Missing("IssueInstant"))
            .and_then(|t| instant(t, true));
        let issued = match issued {
            Ok(i) => i,
            Err(e) => {
                self.trace.borrow_mut().fail(
                    CheckId::IssuedAt,
                    "SAML core §2.3.3",
                    e.reason(),
                    || e.to_string(),
                );
                return Err(e);
            }
        };
        let t = self.time();

        // §3 items 2, 6, 11: Conditions.
        let conditions = match self.root_children("Conditions").as_slice() {
            [one] => self.conditions(*one),
            [] => Err(GrantError::Missing(
                "Conditions with an AudienceRestriction",
            )),
            _ => Err(GrantError::Saml(
                Reason::SamlConditions,
                "more than one Conditions element",
            )),
        };
        let conditions_expiry = self.traced(
            CheckId::SamlConditions,
            "RFC 7522 §3 items 2, 6, 11",
            conditions,
            |exp| match exp {
                Some(e) => format!(
                    "every AudienceRestriction names this server (accepted: {:?}); NotOnOrAfter {} (now {}, skew {} s); no unknown conditions",
                    self.config.accepted_audiences, utc(*e), utc(t.now), t.skew
                ),
                None => format!("every AudienceRestriction names this server (accepted: {:?}); no NotOnOrAfter; no unknown conditions", self.config.accepted_audiences),
            },
        )?;

        // §3 items 3, 5: Subject with NameID and a usable bearer confirmation.
        let subjects = self.root_children("Subject");
        let subject_node = match subjects.as_slice() {
            [one] => Ok(*one),
            _ => Err(GrantError::Missing("Subject")),
        };
        let subject_node = self.traced(
            CheckId::SamlSubject,
            "RFC 7522 §3 item 3",
            subject_node,
            |_| "one Subject".into(),
        )?;
        let (subject, name_id_format) = self.traced(
            CheckId::Subject,
            "RFC 7522 §3 item 3",
            self.name_id(subject_node),
            |(s, f)| {
                format!(
                    "NameID {s:?} (Format {})",
                    f.as_deref().unwrap_or("unspecified")
                )
            },
        )?;
        let confirmation_expiry = self.traced(
            CheckId::SamlBearerConfirmation,
            "RFC 7522 §3 item 5",
            self.bearer_confirmation(subject_node, conditions_expiry),
            |exp| match exp {
                Some(e) => format!(
                    "bearer SubjectConfirmation for {:?}, NotOnOrAfter {}",
                    self.config.token_endpoint,
                    utc(*e)
                ),
                None => {
                    "bearer SubjectConfirmation without data (Conditions carry the expiry)".into()
                }
            },
        )?;

        // §3 item 4: an expiry must exist; the earliest one wins.
        let expires_at = match (conditions_expiry, confirmation_expiry) {
            (Some(a), Some(b)) => Ok(a.min(b)),
            (Some(a), None) | (None, Some(a)) => Ok(a),
            (None, None) => Err(GrantError::Missing("NotOnOrAfter")),
        }
        .and_then(|e| {
            if e > t.now.saturating_add(t.max_lifetime).saturating_add(t.skew) {
                Err(GrantError::Time(TimeError::ExpiryTooFar))
            } else {
                Ok(e)
            }
        });
        let expires_at = self.traced(CheckId::Expiry, "RFC 7522 §3 item 4", expires_at, |e| {
            format!(
                "expires {} (now {}, at most {} s ahead)",
                utc(*e),
                utc(t.now),
                t.max_lifetime
            )
        })?;
        // Checked after the expiry, so an old assertion reads as expired.
        let issue_window = if issued > t.now.saturating_add(t.skew) {
            Err(GrantError::Time(TimeError::IssuedInFuture))
        } else if issued < t.now.saturating_sub(t.max_lifetime).saturating_sub(t.skew) {
            Err(GrantError::Time(TimeError::IssuedTooLongAgo))
        } else {
            Ok(())
        };
        self.traced(
            CheckId::IssuedAt,
            "RFC 7521 §5.2 item 4",
            issue_window,
            |_| {
                format!(
                    "IssueInstant {} (now {}, skew {} s, at most {} s ago)",
                    utc(issued),
                    utc(t.now),
                    t.skew,
                    t.max_lifetime
                )
            },
        )?;
        if let Some(allowed) = &self.issuer.subjects {
            let r = if allowed.contains(&subject) {
                Ok(())
            } else {
                Err(GrantError::SubjectNotAllowed)
            };
            self.traced(CheckId::AllowedSubjects, "configuration", r, |_| {
                "NameID is in the issuer's subjects list".into()
            })?;
        }

        // §3 item 8: attributes for claim mapping.
        let claims = self.traced(
            CheckId::SamlAttributes,
            "RFC 7522 §3 item 8",
            self.attributes(),
            |a| {
                format!(
                    "{} attribute(s): {:?}",
                    a.len(),
                    a.keys().collect::<Vec<_>>()
                )
            },
        )?;
        Ok(Checked {
            id,
            issued,
            subject,
            name_id_format,
            claims,
            expires_at,
        })
    }

    /// Returns Conditions/@NotOnOrAfter, after checking the whole element.
    fn conditions(&self, node: NodeId) -> Result<Option<i64>, GrantError> {
        let doc = self.doc();
        let el = doc.element(node).ok_or(GrantError::Missing("Conditions"))?;
        let t = self.time();
        if let Some(nb) = el.attr("NotBefore")
            && instant(nb, true)? > t.now.saturating_add(t.skew)
        {
            return Err(GrantError::Time(TimeError::NotYetValid));
        }
        let not_on_or_after = el
            .attr("NotOnOrAfter")
            .map(|v| instant(v, false))
            .transpose()?;
        if let Some(exp) = not_on_or_after
            && t.now >= exp.saturating_add(t.skew)
        {
            return Err(GrantError::Time(TimeError::Expired));
        }
        let mut audience_restrictions = 0;
        let mut one_time_use = 0;
        for (child, c) in doc.child_elements(node) {
            if c.is(SAML_NS, "AudienceRestriction") {
                audience_restrictions += 1;
                // Every AudienceRestriction must be satisfied (SAML core
                // §2.5.1.4): one of its Audiences names us, exactly.
                let mut ours = false;
                for (a, a_el) in doc.child_elements(child) {
                    if !a_el.is(SAML_NS, "Audience") {
                        return Err(GrantError::Saml(
                            Reason::SamlConditions,
                            "unexpected element in AudienceRestriction",
                        ));
                    }
                    let aud = doc.text(a).map_err(|_| {
                        GrantError::Saml(Reason::SamlSplitValue, "Audience is split by markup")
                    })?;
                    ours |= self.config.is_our_audience(&aud);
                }
                if !ours {
                    return Err(GrantError::AudienceMismatch);
                }
            } else if c.is(SAML_NS, "OneTimeUse") {
                // Honoured: every assertion ID is one-time use here anyway.
                one_time_use += 1;
            } else if c.is(SAML_NS, "ProxyRestriction") {
                self.proxy_restriction(child)?;
            } else {
                return Err(GrantError::Saml(
                    Reason::SamlConditions,
                    "unknown Condition",
                ));
            }
        }
        if one_time_use > 1 {
            return Err(GrantError::Saml(
                Reason::SamlConditions,
                "more than one OneTimeUse condition",
            ));
        }
        if audience_restrictions == 0 {
            return Err(GrantError::Missing("AudienceRestriction"));
        }
        Ok(not_on_or_after)
    }

    /// SAML core §2.5.1.6: an access token re-asserts the subject to the
    /// resource, so `Count="0"` forbids issuing one, and listed Audiences
    /// must include the access token's audience.
    fn proxy_restriction(&self, node: NodeId) -> Result<(), GrantError> {
        let doc = self.doc();
        let el = doc
            .element(node)
            .ok_or(GrantError::Missing("ProxyRestriction"))?;
        if let Some(count) = el.attr("Count") {
            let count: u32 = count.parse().map_err(|_| {
                GrantError::Saml(
                    Reason::SamlProxyRestriction,
                    "ProxyRestriction Count is not a number",
                )
            })?;
            if count == 0 {
                return Err(GrantError::Saml(
                    Reason::SamlProxyRestriction,
                    "ProxyRestriction forbids issuing tokens on this assertion",
                ));
            }
        }
        let mut audiences = doc.child_elements(node).peekable();
        if audiences.peek().is_none() {
            return Ok(());
        }
        let ours = &self.config.access_token.audience;
        for (a, a_el) in audiences {
            if !a_el.is(SAML_NS, "Audience") {
                return Err(GrantError::Saml(
                    Reason::SamlProxyRestriction,
                    "unexpected element in ProxyRestriction",
                ));
            }
            if doc.text(a).is_ok_and(|t| &t == ours) {
                return Ok(());
            }
        }
        Err(GrantError::Saml(
            Reason::SamlProxyRestriction,
            "ProxyRestriction does not allow this access token audience",
        ))
    }

    fn name_id(&self, subject: NodeId) -> Result<(String, Option<String>), GrantError> {
        let doc = self.doc();
        let mut ids = doc.child_elements(subject).filter(|(_, e)| {
            e.is(SAML_NS, "NameID") || e.is(SAML_NS, "EncryptedID") || e.is(SAML_NS, "BaseID")
        });
        let (node, el) = ids.next().ok_or(GrantError::Missing("NameID"))?;
        if ids.next().is_some() {
            return Err(GrantError::Saml(
                Reason::SamlSubjectIdentifiers,
                "more than one subject identifier",
            ));
        }
        if el.is(SAML_NS, "EncryptedID") {
            return Err(GrantError::Saml(
                Reason::SamlEncrypted,
                "encrypted subject identifiers are not supported yet",
            ));
        }
        if !el.is(SAML_NS, "NameID") {
            return Err(GrantError::Missing("NameID"));
        }
        let value = doc
            .text(node)
            .map_err(|_| GrantError::Saml(Reason::SamlSplitValue, "NameID is split by markup"))?;
        if value.trim().is_empty() {
            return Err(GrantError::Missing("NameID"));
        }
        Ok((value, el.attr("Format").map(str::to_owned)))
    }

    /// §3 item 5: at least one bearer SubjectConfirmation that is usable now;
    /// returns its SubjectConfirmationData/@NotOnOrAfter (if it has data).
    fn bearer_confirmation(
        &self,
        subject: NodeId,
        conditions_expiry: Option<i64>,
    ) -> Result<Option<i64>, GrantError> {
        let doc = self.doc();
        let t = self.time();
        let mut last_problem = GrantError::Saml(
            Reason::SamlNoBearerConfirmation,
            "no bearer SubjectConfirmation",
        );
        for (sc, sc_el) in doc.children_named(subject, SAML_NS, "SubjectConfirmation") {
            if sc_el.attr("Method") != Some(BEARER) {
                continue;
            }
            let data: Vec<_> = doc
                .children_named(sc, SAML_NS, "SubjectConfirmationData")
                .collect();
            let outcome = match data.as_slice() {
                [] if conditions_expiry.is_some() => Ok(None),
                [] => Err(GrantError::Missing(
                    "SubjectConfirmationData with NotOnOrAfter",
                )),
                [(_, d)] => (|| {
                    let recipient = d
                        .attr("Recipient")
                        .ok_or(GrantError::Missing("Recipient"))?;
                    if !self.config.is_our_recipient(recipient) {
                        return Err(GrantError::Saml(
                            Reason::SamlRecipient,
                            "Recipient is not this token endpoint",
                        ));
                    }
                    let exp = instant(
                        d.attr("NotOnOrAfter")
                            .ok_or(GrantError::Missing("NotOnOrAfter"))?,
                        false,
                    )?;
                    if t.now >= exp.saturating_add(t.skew) {
                        return Err(GrantError::Time(TimeError::Expired));
                    }
                    if let Some(nb) = d.attr("NotBefore")
                        && instant(nb, true)? > t.now.saturating_add(t.skew)
                    {
                        return Err(GrantError::Time(TimeError::NotYetValid));
                    }
                    Ok(Some(exp))
                })(),
                _ => Err(GrantError::Saml(
                    Reason::SamlConfirmationData,
                    "more than one SubjectConfirmationData",
                )),
            };
            match outcome {
                Ok(exp) => return Ok(exp),
                Err(e) => last_problem = e,
            }
        }
        Err(last_problem)
    }

    /// AttributeStatement values: one value → string, several → array.
    /// A value split by markup is refused when the issuer maps that
    /// attribute (it could be read differently than it was signed), and the
    /// attribute is skipped otherwise. EncryptedAttribute is skipped.
    fn attributes(&self) -> Result<Map<String, Value>, GrantError> {
        let doc = self.doc();
        let mapped = |name: &str| self.issuer.claims.iter().any(|(_, source)| source == name);
        let mut values: Vec<(String, Vec<Value>)> = Vec::new();
        for statement in self.root_children("AttributeStatement") {
            'attr: for (attr, attr_el) in doc.children_named(statement, SAML_NS, "Attribute") {
                let Some(name) = attr_el.attr("Name") else {
                    continue;
                };
                let mut vals = Vec::new();
                for (v, _) in doc.children_named(attr, SAML_NS, "AttributeValue") {
                    match doc.text(v) {
                        Ok(text) => vals.push(Value::String(text)),
                        Err(_) if mapped(name) => {
                            return Err(GrantError::Saml(
                                Reason::SamlSplitValue,
                                "a mapped attribute value is split by markup",
                            ));
                        }
                        Err(_) => continue 'attr,
                    }
                }
                match values.iter_mut().find(|(n, _)| n == name) {
                    Some((_, existing)) => existing.extend(vals),
                    None => values.push((name.to_owned(), vals)),
                }
            }
        }
        Ok(values
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(name, mut v)| {
                let value = if v.len() == 1 {
                    v.remove(0)
                } else {
                    Value::Array(v)
                };
                (name, value)
            })
            .collect())
    }
}

/// Parses an `xs:dateTime` in UTC (`YYYY-MM-DDThh:mm:ss[.fff]Z`, SAML core
/// §1.3.3) to Unix seconds. Fractions round against the holder
/// (`round_up` for NotBefore/IssueInstant, down for NotOnOrAfter).
fn instant(text: &str, round_up: bool) -> Result<i64, GrantError> {
    let bad = || GrantError::Saml(Reason::SamlDateTime, "a time is not a UTC xs:dateTime");
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, GrantError> {
        let s = text.get(r).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let fraction = &text[19..text.len() - 1];
    let has_fraction = match fraction {
        "" => false,
        f if f.len() >= 2 && f.starts_with('.') && f[1..].bytes().all(|c| c.is_ascii_digit()) => {
            f[1..].bytes().any(|c| c != b'0')
        }
        _ => return Err(bad()),
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's method.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(if round_up && has_fraction {
        secs + 1
    } else {
        secs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
