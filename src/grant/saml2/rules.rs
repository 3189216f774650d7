//! The RFC 7522 §3 and SAML core rules, over the verified root only.

use serde_json::{Map, Value};
use std::cell::RefCell;

use super::datetime::instant;
use super::decode::issuer_of;
use super::{BEARER, SAML_NS};
use crate::config::{Config, TrustedIssuer};
use crate::explain::{CheckId, Trace, utc};
use crate::grant::{GrantError, TimeRules};
use crate::reason::Reason;
use crate::reason::Refusal;
use crate::verified::Verified;
use crate::xml::{Document, NodeId};
use crate::xmldsig::SignedRoot;

pub(super) struct Rules<'a> {
    pub(super) config: &'a Config,
    pub(super) issuer: &'a TrustedIssuer,
    pub(super) signed: Verified<SignedRoot<'a>>,
    pub(super) now: i64,
    pub(super) trace: RefCell<&'a mut Trace>,
}

pub(super) struct Checked {
    pub(super) id: String,
    pub(super) issued: i64,
    pub(super) subject: String,
    pub(super) name_id_format: Option<String>,
    pub(super) claims: Map<String, Value>,
    pub(super) expires_at: i64,
}

impl Rules<'_> {
    /// Records a check's outcome in the trace and passes it through.
    fn traced<T, E: Refusal>(
        &self,
        check: CheckId,
        result: Result<T, E>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, E> {
        self.trace.borrow_mut().check(check, result, detail)
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

    pub(super) fn check(&self) -> Result<Checked, GrantError> {
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
        self.traced(CheckId::SamlVersion, version, |_| "Version 2.0".into())?;
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
                self.trace
                    .borrow_mut()
                    .fail(CheckId::SamlIssueInstant, e.reason(), || e.to_string());
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
        let subject_node =
            self.traced(CheckId::SamlSubject, subject_node, |_| "one Subject".into())?;
        let (subject, name_id_format) =
            self.traced(CheckId::SamlNameId, self.name_id(subject_node), |(s, f)| {
                format!(
                    "NameID {s:?} (Format {})",
                    f.as_deref().unwrap_or("unspecified")
                )
            })?;
        let confirmation_expiry = self.traced(
            CheckId::SamlBearerConfirmation,
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
        .and_then(|e| Ok(t.expiry_in_reach(e).map(|()| e)?));
        let expires_at = self.traced(CheckId::SamlExpiry, expires_at, |e| {
            format!(
                "expires {} (now {}, at most {} s ahead)",
                utc(*e),
                utc(t.now),
                t.max_lifetime
            )
        })?;
        // Checked after the expiry, so an old assertion reads as expired.
        let issue_window = t.issued_within(issued).map_err(GrantError::Time);
        self.traced(CheckId::SamlIssueInstant, issue_window, |_| {
            format!(
                "IssueInstant {} (now {}, skew {} s, at most {} s ago)",
                utc(issued),
                utc(t.now),
                t.skew,
                t.max_lifetime
            )
        })?;
        if let Some(allowed) = &self.issuer.subjects {
            let r = if allowed.contains(&subject) {
                Ok(())
            } else {
                Err(GrantError::SubjectNotAllowed)
            };
            self.traced(CheckId::AllowedSubjects, r, |_| {
                "NameID is in the issuer's subjects list".into()
            })?;
        }

        // §3 item 8: attributes for claim mapping.
        let claims = self.traced(CheckId::SamlAttributes, self.attributes(), |a| {
            format!(
                "{} attribute(s): {:?}",
                a.len(),
                a.keys().collect::<Vec<_>>()
            )
        })?;
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
        if let Some(nb) = el.attr("NotBefore") {
            t.valid_from(instant(nb, true)?)?;
        }
        let not_on_or_after = el
            .attr("NotOnOrAfter")
            .map(|v| instant(v, false))
            .transpose()?;
        if let Some(exp) = not_on_or_after {
            t.not_expired(exp)?;
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
                    t.not_expired(exp)?;
                    if let Some(nb) = d.attr("NotBefore") {
                        t.valid_from(instant(nb, true)?)?;
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
