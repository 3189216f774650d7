//! Explain mode: a structured report of every check a token request went
//! through, produced by the *same* validation code that serves `/token`.
//!
//! Validation functions take a [`Trace`]. On the token path it is disabled
//! and records nothing (the detail closures never run); in
//! [`crate::TokenEndpoint::explain`] it records each check in order —
//! `{check, spec, outcome, detail}` — with the actual values, times and skew,
//! for an operator who needs to know exactly why an exchange failed. The
//! public endpoint's terse, non-leaking errors are unchanged.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::reason::{Reason, Refusal};

macro_rules! checks {
    ($( $variant:ident = $id:literal, $label:literal, $spec:literal, )+) => {
        /// The stable id of a check in an explain report, with its label
        /// and the section it applies. Ids are a contract like [`Reason`]
        /// codes (many are the same string as the reason the check refuses
        /// with); each check's RFC citation is written here, once.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum CheckId {
            $( #[doc = concat!("`", $id, "` (", $label, "; ", $spec, ")")] $variant, )+
        }

        impl CheckId {
            /// Every check id.
            pub const ALL: &'static [CheckId] = &[ $(CheckId::$variant,)+ ];

            /// The stable dotted id, e.g. `"assertion.expiry"`.
            pub const fn id(self) -> &'static str {
                match self { $(CheckId::$variant => $id,)+ }
            }

            /// The label shown to people, e.g. `"expiry"`.
            pub const fn label(self) -> &'static str {
                match self { $(CheckId::$variant => $label,)+ }
            }

            /// Where the rule comes from, e.g. `"RFC 7521 §5.2 item 4"`.
            pub const fn spec(self) -> &'static str {
                match self { $(CheckId::$variant => $spec,)+ }
            }
        }
    };
}

checks! {
    Request = "request.parameters", "request", "RFC 6749 §3.2, §4.5; RFC 7521 §4.1",
    DpopProof = "dpop.proof", "DPoP proof", "RFC 9449 §4.3, §8, §11.1",
    ClientAuthentication = "client.authentication", "client authentication", "RFC 6749 §2.3, RFC 7521 §4.2",
    ClientIssuerUnsigned = "client.issuer_binding_unsigned", "client and issuer (before the signature)", "configuration (trusted_issuers, require_client)",
    ClientIssuer = "client.issuer_binding", "client and issuer", "configuration (trusted_issuers, require_client)",
    JwtStructure = "jwt.structure", "structure", "RFC 7515 §3.1, RFC 8725",
    SamlStructure = "saml.structure", "structure", "RFC 7522 §2.1, SAML core §2.3.3",
    JwtType = "jwt.typ", "type", "RFC 8725 §3.11",
    JwtIssuer = "jwt.issuer", "issuer", "RFC 7523 §3 item 1",
    JwtProfile = "jwt.profile", "profile", "configuration (profiles); draft-ietf-oauth-identity-assertion-authz-grant §3.1 (typ oauth-id-jag+jwt)",
    SamlIssuer = "saml.issuer", "issuer", "RFC 7522 §3 item 1",
    TrustedIssuer = "assertion.trusted_issuer", "trusted issuer", "RFC 7521 §5.2 item 1",
    Format = "assertion.format", "format", "configuration",
    KeySet = "keys.source", "key set", "RFC 7517 §5, RFC 7591 §2 (jwks_uri), SAML metadata §2.4.1.1",
    JwtSignature = "jwt.signature", "signature", "RFC 7523 §3 item 9, RFC 7515 §5.2",
    SamlSignature = "saml.signature", "signature", "RFC 7522 §3 item 9, SAML core §5, XML-DSig",
    JwtIssuerSigned = "jwt.issuer_signed", "issuer (signed)", "RFC 7523 §3 item 1",
    SamlVersion = "saml.version", "version", "SAML core §2.3.3",
    JwtSubject = "jwt.subject", "subject", "RFC 7523 §3 item 2",
    SamlSubject = "saml.subject", "subject element", "RFC 7522 §3 item 3",
    SamlNameId = "saml.name_id", "subject", "RFC 7522 §3 item 3",
    AllowedSubjects = "assertion.allowed_subjects", "allowed subjects", "configuration",
    JwtAudience = "jwt.audience", "audience", "RFC 7523 §3 item 3",
    SamlConditions = "saml.conditions", "conditions", "RFC 7522 §3 items 2, 6, 11",
    SamlBearerConfirmation = "saml.bearer_confirmation", "bearer confirmation", "RFC 7522 §3 item 5",
    JwtExpiryPresent = "jwt.expiry_present", "expiry present", "RFC 7523 §3 item 4",
    JwtDateClaims = "jwt.date_claims", "date claims", "RFC 7519 §2 (NumericDate)",
    Expiry = "assertion.expiry", "expiry", "RFC 7521 §5.2 item 4",
    SamlExpiry = "saml.expiry", "expiry", "RFC 7522 §3 item 4",
    NotBefore = "assertion.not_before", "not before", "RFC 7519 §4.1.5",
    IssuedAt = "assertion.issued_at", "issued at", "RFC 7519 §4.1.6, RFC 7521 §5.2 item 4",
    SamlIssueInstant = "saml.issue_instant", "issued at", "SAML core §2.3.3, RFC 7521 §5.2 item 4",
    JwtJtiType = "jwt.jti_type", "jti type", "RFC 7519 §4.1.7",
    JwtJti = "jwt.jti", "jti", "RFC 7523 §3 item 7",
    IdJagClaims = "idjag.claims", "ID-JAG claims", "draft-ietf-oauth-identity-assertion-authz-grant §3.1, §4.4.1",
    IdJagClient = "idjag.client", "ID-JAG client", "draft-ietf-oauth-identity-assertion-authz-grant §4.4.1, §9.1",
    IdJagKeyBinding = "idjag.key_binding", "ID-JAG key binding", "draft-ietf-oauth-identity-assertion-authz-grant §9.8; RFC 9449 §6.1",
    DpopRequired = "dpop.required", "DPoP required", "RFC 9449 §5.2 (dpop_bound_access_tokens)",
    SamlAttributes = "saml.attributes", "attributes", "RFC 7522 §3 item 8",
    Scope = "scope.policy", "scope", "RFC 6749 §3.3",
    Resource = "token.resource", "resource", "RFC 8707 §2; configuration (access_token.audience, access_token.resources)",
    ClaimMapping = "token.claim_mapping", "claim mapping", "configuration (claims, access_token.max_claims_bytes)",
    TokenSubject = "token.subject", "token subject", "RFC 9068 §2.2 (sub); configuration (subject_prefix, access_token.max_subject_bytes)",
    TokenLifetime = "token.lifetime", "token lifetime", "configuration (cap_at_assertion_expiry)",
    RefreshToken = "refresh.token", "refresh token", "RFC 6749 §6, RFC 9700 §4.14.2; configuration (refresh_token, allow_refresh_tokens)",
    RefreshFamily = "refresh.family", "refresh-token family", "RFC 6749 §6, RFC 9700 §4.14.2 (rotation, reuse revokes the family)",
    OneTimeUse = "assertion.one_time_use", "one-time use", "RFC 7521 §5.2, RFC 7523 §3 item 7",
    TokenSigned = "token.access_token", "access token", "RFC 9068 §2",
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The rule held.
    Pass,
    /// The rule failed; the request is refused here.
    Fail,
    /// The rule did not apply (e.g. no `nbf` claim).
    Skipped,
}

/// One check in an explain report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's stable id, e.g. `"assertion.expiry"`.
    pub id: CheckId,
    /// What was checked, in words, e.g. `"audience"`.
    pub check: &'static str,
    /// Where the rule comes from, e.g. `"RFC 7522 §3 item 2"`.
    pub spec: &'static str,
    /// Pass, fail or skipped.
    pub outcome: Outcome,
    /// The values involved, in words.
    pub detail: String,
    /// Why the check failed (only on failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// The full report of [`crate::TokenEndpoint::explain`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Every check, in the order it ran.
    pub checks: Vec<Check>,
    /// `true` if a token would be issued.
    pub would_issue: bool,
    /// The OAuth error the token endpoint would answer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ExplainedError>,
    /// The claims of the access token that would be issued (not signed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_claims: Option<Map<String, Value>>,
}

/// The error part of an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedError {
    /// The RFC 6749 code.
    pub error: &'static str,
    /// The stable reason code (see [`Reason`]); never in the public
    /// response.
    pub reason: Reason,
    /// The description the endpoint would send.
    pub error_description: String,
    /// The HTTP status.
    pub status: u16,
}

impl Explanation {
    /// The report of a request refused before any check could run (e.g. a
    /// repeated header): no checks, the error the endpoint would answer
    /// (`(&oauth_error).into()`).
    pub fn refused(error: ExplainedError) -> Self {
        Self {
            checks: Vec::new(),
            would_issue: false,
            error: Some(error),
            token_claims: None,
        }
    }
}

/// Where validation records its checks (see the module docs).
#[derive(Debug, Default)]
pub struct Trace(Option<Vec<Check>>);

impl Trace {
    /// A trace that records nothing (the token path).
    pub(crate) fn off() -> Self {
        Self(None)
    }

    /// A trace that records every check.
    pub(crate) fn on() -> Self {
        Self(Some(Vec::new()))
    }

    /// How many checks are recorded (0 when off): a mark to go back to.
    pub(crate) fn mark(&self) -> usize {
        self.0.as_ref().map_or(0, Vec::len)
    }

    /// Forgets the checks recorded after `mark`: a step that stopped for a
    /// key set runs again from its start once the set is there.
    pub(crate) fn rewind(&mut self, mark: usize) {
        if let Some(checks) = &mut self.0 {
            checks.truncate(mark);
        }
    }

    /// The recorded checks.
    pub(crate) fn into_checks(self) -> Vec<Check> {
        self.0.unwrap_or_default()
    }

    /// Records one check; `detail` runs only when the trace is on.
    fn push(
        &mut self,
        id: CheckId,
        outcome: Outcome,
        reason: Option<Reason>,
        detail: impl FnOnce() -> String,
    ) {
        if let Some(checks) = &mut self.0 {
            checks.push(Check {
                id,
                check: id.label(),
                spec: id.spec(),
                outcome,
                detail: detail(),
                reason,
            });
        }
    }

    /// Records a passed check.
    pub(crate) fn pass(&mut self, id: CheckId, detail: impl FnOnce() -> String) {
        self.push(id, Outcome::Pass, None, detail);
    }

    /// Records a skipped check.
    pub(crate) fn skip(&mut self, id: CheckId, detail: impl FnOnce() -> String) {
        self.push(id, Outcome::Skipped, None, detail);
    }

    /// Records a failed check and why.
    pub(crate) fn fail(&mut self, id: CheckId, reason: Reason, detail: impl FnOnce() -> String) {
        self.push(id, Outcome::Fail, Some(reason), detail);
    }

    /// Records the outcome of `result` with `detail` either way.
    pub(crate) fn result<T, E: Refusal>(
        &mut self,
        id: CheckId,
        result: &Result<T, E>,
        detail: impl FnOnce() -> String,
    ) {
        match result {
            Ok(_) => self.push(id, Outcome::Pass, None, detail),
            Err(e) => self.push(id, Outcome::Fail, Some(e.reason()), detail),
        }
    }

    /// Records the outcome of `result` (its error's text on failure) and
    /// passes it through, so a rule reads `trace.check(..., rule())?`.
    pub(crate) fn check<T, E: Refusal>(
        &mut self,
        id: CheckId,
        result: Result<T, E>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, E> {
        match &result {
            Ok(v) => self.push(id, Outcome::Pass, None, || detail(v)),
            Err(e) => self.push(id, Outcome::Fail, Some(e.reason()), || e.to_string()),
        }
        result
    }
}

/// Formats Unix seconds as an RFC 3339 UTC time for explain details.
pub(crate) fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_709_164_800), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn a_disabled_trace_never_formats() {
        let mut t = Trace::off();
        t.pass(CheckId::Request, || unreachable!("detail must not run"));
        assert!(t.into_checks().is_empty());
    }
}
