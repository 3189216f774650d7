//! Assertion-grant rules common to every format (RFC 7521 §5.2), and the
//! format-specific validators.

pub mod jwt;
pub mod saml2;

use serde_json::{Map, Value};
use std::fmt;

use crate::config::{AssertionFormat, Config, TrustedIssuer};
use crate::explain::{CheckId, Trace, utc};
use crate::jose::JoseError;
use crate::reason::Reason;
use crate::replay::ReplayKey;

/// Why an assertion was refused (`invalid_grant`, RFC 7521 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrantError {
    /// The JWS itself is malformed, unsigned or its signature is invalid.
    Jose(JoseError),
    /// `iss` names no trusted issuer (RFC 7521 §5.2 item 1).
    UntrustedIssuer,
    /// The issuer is configured for another assertion format.
    WrongFormat,
    /// A required SAML element or attribute is absent or empty.
    Missing(&'static str),
    /// A required JWT claim is absent or empty.
    MissingClaim(&'static str),
    /// No `aud` value names this authorization server (RFC 7521 §5.2 item 3).
    AudienceMismatch,
    /// A time rule failed.
    Time(TimeError),
    /// The issuer may not assert this subject (`subjects` allow-list).
    SubjectNotAllowed,
    /// The token's subject would exceed `access_token.max_subject_bytes`.
    SubjectTooLong,
    /// The mapped claims would exceed `access_token.max_claims_bytes`.
    ClaimsTooLarge,
    /// The SAML assertion is not well-formed, hardened XML.
    Xml(crate::xml::XmlError),
    /// The SAML assertion's XML signature was refused.
    Signature(crate::xmldsig::DsigError),
    /// A SAML rule failed (RFC 7522 §3, SAML core).
    Saml(Reason, &'static str),
    /// The issuer's key set must be fetched first, or yields nothing
    /// usable (503, not `invalid_grant`: the assertion may be fine).
    KeySet(crate::keyset::KeySetError),
    /// An ID-JAG rule failed (the reason says which).
    IdJag(Reason, &'static str),
    /// The resource asked for is not one we may issue a token for
    /// (`invalid_target`, RFC 8707 §2).
    Target,
}

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jose(e) => write!(f, "{e}"),
            Self::UntrustedIssuer => f.write_str("the assertion issuer is not trusted"),
            Self::WrongFormat => {
                f.write_str("this issuer is configured for another assertion format")
            }
            Self::Missing(what) | Self::MissingClaim(what) => {
                write!(f, "the assertion has no {what}")
            }
            Self::AudienceMismatch => {
                f.write_str("the assertion audience does not name this authorization server")
            }
            Self::Time(e) => write!(f, "the assertion {e}"),
            Self::SubjectNotAllowed => f.write_str("this issuer may not assert this subject"),
            Self::SubjectTooLong => f.write_str("the assertion subject is too long"),
            Self::ClaimsTooLarge => {
                f.write_str("the assertion's mapped claims are too large for an access token")
            }
            Self::Xml(e) => write!(f, "the assertion is not acceptable XML: {e}"),
            Self::Signature(e) => write!(f, "{e}"),
            Self::Saml(_, what) => write!(f, "the assertion is refused: {what}"),
            Self::KeySet(e) => write!(f, "{e}"),
            Self::IdJag(_, what) => write!(f, "the ID-JAG is refused: {what}"),
            Self::Target => {
                f.write_str("the requested resource is not one this server issues tokens for")
            }
        }
    }
}

impl GrantError {
    /// The stable reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Jose(e) => e.reason(),
            Self::UntrustedIssuer => Reason::AssertionUntrustedIssuer,
            Self::WrongFormat => Reason::AssertionWrongFormat,
            Self::Missing(_) => Reason::SamlElementMissing,
            Self::MissingClaim(_) => Reason::JwtClaimMissing,
            Self::AudienceMismatch => Reason::AssertionAudience,
            Self::Time(e) => e.reason(),
            Self::SubjectNotAllowed => Reason::AssertionSubjectNotAllowed,
            Self::SubjectTooLong => Reason::AssertionSubjectTooLong,
            Self::ClaimsTooLarge => Reason::AssertionClaimsTooLarge,
            Self::Xml(e) => e.reason(),
            Self::Signature(e) => e.reason(),
            Self::Saml(r, _) => *r,
            Self::KeySet(e) => crate::reason::Refusal::reason(e),
            Self::IdJag(r, _) => *r,
            Self::Target => Reason::TargetNotAllowed,
        }
    }
}

crate::reason::refusal!(GrantError, TimeError);

impl From<JoseError> for GrantError {
    fn from(e: JoseError) -> Self {
        Self::Jose(e)
    }
}

impl From<TimeError> for GrantError {
    fn from(e: TimeError) -> Self {
        Self::Time(e)
    }
}

/// RFC 7521 §5.2 item 1: the assertion's issuer must be a trusted issuer
/// configured for this assertion format.
pub(crate) fn trusted_issuer<'c>(
    config: &'c Config,
    name: &str,
    format: AssertionFormat,
    trace: &mut Trace,
) -> Result<(usize, &'c TrustedIssuer), GrantError> {
    let lookup = config
        .trusted_issuer(name)
        .ok_or(GrantError::UntrustedIssuer);
    let (index, issuer) = trace.check(CheckId::TrustedIssuer, lookup, |(_, i)| {
        format!(
            "{:?} is trusted ({} key(s), algorithms {:?})",
            i.issuer,
            i.keys.len(),
            i.algorithms
        )
    })?;
    if issuer.format != format {
        trace.fail(CheckId::Format, Reason::AssertionWrongFormat, || {
            format!(
                "the issuer is configured for {:?} assertions",
                issuer.format
            )
        });
        return Err(GrantError::WrongFormat);
    }
    Ok((index, issuer))
}

/// A time rule an assertion failed (RFC 7521 §5.2 item 4, RFC 7519 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeError {
    /// `now ≥ exp + skew`.
    Expired,
    /// `exp` is further in the future than the issuer's maximum lifetime.
    ExpiryTooFar,
    /// `nbf > now + skew`.
    NotYetValid,
    /// `iat > now + skew`.
    IssuedInFuture,
    /// `iat` is older than the maximum lifetime.
    IssuedTooLongAgo,
}

impl TimeError {
    /// The stable reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Expired => Reason::AssertionExpired,
            Self::ExpiryTooFar => Reason::AssertionExpiryTooFar,
            Self::NotYetValid => Reason::AssertionNotYetValid,
            Self::IssuedInFuture => Reason::AssertionIssuedInFuture,
            Self::IssuedTooLongAgo => Reason::AssertionIssuedTooLongAgo,
        }
    }
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Expired => "has expired",
            Self::ExpiryTooFar => "expires further in the future than this issuer allows",
            Self::NotYetValid => "is not valid yet",
            Self::IssuedInFuture => "was issued in the future",
            Self::IssuedTooLongAgo => "was issued too long ago",
        })
    }
}

/// The clock and tolerances one validation runs with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeRules {
    pub now: i64,
    pub skew: i64,
    pub max_lifetime: i64,
}

impl TimeRules {
    /// `exp` has not passed: `now < exp + skew` (RFC 7519 §4.1.4).
    pub fn not_expired(&self, exp: i64) -> Result<(), TimeError> {
        if self.now >= exp.saturating_add(self.skew) {
            Err(TimeError::Expired)
        } else {
            Ok(())
        }
    }

    /// `exp` is not further ahead than the maximum lifetime (RFC 7521 §5.2
    /// item 4: the issuer's lifetime, not the assertion's word for it).
    pub fn expiry_in_reach(&self, exp: i64) -> Result<(), TimeError> {
        if exp
            > self
                .now
                .saturating_add(self.max_lifetime)
                .saturating_add(self.skew)
        {
            Err(TimeError::ExpiryTooFar)
        } else {
            Ok(())
        }
    }

    /// `nbf` has come: `nbf <= now + skew` (RFC 7519 §4.1.5).
    pub fn valid_from(&self, nbf: i64) -> Result<(), TimeError> {
        if nbf > self.now.saturating_add(self.skew) {
            Err(TimeError::NotYetValid)
        } else {
            Ok(())
        }
    }

    /// `iat` is neither in the future nor older than the maximum lifetime
    /// (RFC 7521 §5.2 item 4).
    pub fn issued_within(&self, iat: i64) -> Result<(), TimeError> {
        if iat > self.now.saturating_add(self.skew) {
            Err(TimeError::IssuedInFuture)
        } else if iat
            < self
                .now
                .saturating_sub(self.max_lifetime)
                .saturating_sub(self.skew)
        {
            Err(TimeError::IssuedTooLongAgo)
        } else {
            Ok(())
        }
    }

    /// Checks `exp` (required), `nbf` and `iat` (optional), recording each
    /// window with the actual times in `trace`.
    pub fn check(
        &self,
        exp: i64,
        nbf: Option<i64>,
        iat: Option<i64>,
        trace: &mut Trace,
    ) -> Result<(), TimeError> {
        let Self {
            now,
            skew,
            max_lifetime,
        } = *self;
        let when = |t: i64| format!("{} (now {}, skew {skew} s)", utc(t), utc(now));
        let expiry = self
            .not_expired(exp)
            .and_then(|()| self.expiry_in_reach(exp));
        trace.result(CheckId::Expiry, &expiry, || {
            format!("expires {}; at most {max_lifetime} s ahead", when(exp))
        });
        expiry?;
        match nbf {
            None => trace.skip(CheckId::NotBefore, || "no nbf".into()),
            Some(nbf) => {
                let r = self.valid_from(nbf);
                trace.result(CheckId::NotBefore, &r, || {
                    format!("valid from {}", when(nbf))
                });
                r?;
            }
        }
        match iat {
            None => trace.skip(CheckId::IssuedAt, || "no iat".into()),
            Some(iat) => {
                let r = self.issued_within(iat);
                trace.result(CheckId::IssuedAt, &r, || {
                    format!("issued {}; at most {max_lifetime} s ago", when(iat))
                });
                r?;
            }
        }
        Ok(())
    }
}

/// An assertion that passed every rule: what policy and minting may use.
/// Everything here was read from the verified assertion.
#[derive(Debug, Clone)]
pub struct ValidatedGrant {
    pub(crate) issuer: usize,
    pub(crate) subject: String,
    /// The JWT's claims, or the SAML assertion's attributes: input for the
    /// issuer's claim mapping only, never for a security decision.
    pub(crate) claims: Map<String, Value>,
    /// SAML only: the verified NameID's own `Format` attribute. A field of
    /// its own, so no attribute can ever stand in for it.
    pub(crate) name_id_format: Option<String>,
    pub(crate) expires_at: i64,
    pub(crate) replay: Option<ReplayKey>,
    /// An ID-JAG's own rules' inputs (`None` for every other assertion).
    pub(crate) id_jag: Option<IdJag>,
}

/// What a verified ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant
/// §3.1) asks of the token, read from its verified claims; the endpoint
/// applies it once the client is known.
#[derive(Debug, Clone)]
pub(crate) struct IdJag {
    /// The client the ID-JAG was issued to (must be the authenticated one).
    pub client_id: String,
    /// `scope`: the most the token may carry.
    pub scope: Option<crate::policy::ScopeSet>,
    /// `resource`: the resources the token may be for (empty: any we serve).
    pub resources: Vec<String>,
    /// `acr`, `amr`, `auth_time`, as the access token carries them
    /// (RFC 9068 §2.2.1).
    pub authentication: Map<String, Value>,
    /// `cnf.jkt`: the key a DPoP proof must demonstrate.
    pub jkt: Option<String>,
}

impl ValidatedGrant {
    /// The asserted subject (`sub`, or the SAML NameID).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// SAML only: the NameID's `Format`, as the signed NameID states it.
    pub fn name_id_format(&self) -> Option<&str> {
        self.name_id_format.as_deref()
    }

    /// The assertion's expiry (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Outcome;

    impl TimeRules {
        fn check_plain(
            &self,
            exp: i64,
            nbf: Option<i64>,
            iat: Option<i64>,
        ) -> Result<(), TimeError> {
            self.check(exp, nbf, iat, &mut Trace::off())
        }
    }

    #[test]
    fn traces_every_window() {
        let r = TimeRules {
            now: 1_800_000_000,
            skew: 60,
            max_lifetime: 3600,
        };
        let mut t = Trace::on();
        r.check(1_800_000_300, None, Some(1_799_999_990), &mut t)
            .unwrap();
        let checks = t.into_checks();
        let names: Vec<_> = checks.iter().map(|c| (c.id.id(), c.outcome)).collect();
        assert_eq!(
            names,
            [
                ("assertion.expiry", Outcome::Pass),
                ("assertion.not_before", Outcome::Skipped),
                ("assertion.issued_at", Outcome::Pass)
            ]
        );
        assert!(
            checks[0].detail.contains("2027-01-15T08:05:00Z"),
            "{}",
            checks[0].detail
        );
    }

    #[test]
    fn time_edges() {
        let r = TimeRules {
            now: 1000,
            skew: 60,
            max_lifetime: 3600,
        };
        assert_eq!(r.check_plain(941, None, None), Ok(()));
        assert_eq!(r.check_plain(940, None, None), Err(TimeError::Expired));
        assert_eq!(r.check_plain(1000 + 3660, None, None), Ok(()));
        assert_eq!(
            r.check_plain(1000 + 3661, None, None),
            Err(TimeError::ExpiryTooFar)
        );
        assert_eq!(r.check_plain(2000, Some(1060), Some(1060)), Ok(()));
        assert_eq!(
            r.check_plain(2000, Some(1061), None),
            Err(TimeError::NotYetValid)
        );
        assert_eq!(
            r.check_plain(2000, None, Some(1061)),
            Err(TimeError::IssuedInFuture)
        );
        assert_eq!(r.check_plain(2000, None, Some(1000 - 3660)), Ok(()));
        assert_eq!(
            r.check_plain(2000, None, Some(1000 - 3661)),
            Err(TimeError::IssuedTooLongAgo)
        );
        assert_eq!(r.check_plain(i64::MIN, None, None), Err(TimeError::Expired));
        assert_eq!(
            r.check_plain(i64::MAX, None, None),
            Err(TimeError::ExpiryTooFar)
        );
    }
}
