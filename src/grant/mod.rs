//! Assertion-grant rules common to every format (RFC 7521 §5.2), and the
//! format-specific validators.

pub mod jwt;
pub mod saml2;

use serde_json::{Map, Value};
use std::fmt;

use crate::jose::JoseError;
use crate::replay::ReplayKey;

/// Why an assertion was refused (`invalid_grant`, RFC 7521 §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    /// The JWS itself is malformed, unsigned or its signature is invalid.
    Jose(JoseError),
    /// `iss` names no trusted issuer (RFC 7521 §5.2 item 1).
    UntrustedIssuer,
    /// The issuer is configured for another assertion format.
    WrongFormat,
    /// A required claim is absent or empty.
    Missing(&'static str),
    /// No `aud` value names this authorization server (RFC 7521 §5.2 item 3).
    AudienceMismatch,
    /// A time rule failed.
    Time(TimeError),
    /// The issuer may not assert this subject (`subjects` allow-list).
    SubjectNotAllowed,
    /// The SAML assertion is not well-formed, hardened XML.
    Xml(crate::xml::XmlError),
    /// The SAML assertion's XML signature was refused.
    Signature(crate::xmldsig::DsigError),
    /// A SAML rule failed (RFC 7522 §3, SAML core).
    Saml(&'static str),
}

impl fmt::Display for GrantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jose(e) => write!(f, "{e}"),
            Self::UntrustedIssuer => f.write_str("the assertion issuer is not trusted"),
            Self::WrongFormat => {
                f.write_str("this issuer is configured for another assertion format")
            }
            Self::Missing(claim) => write!(f, "the assertion has no {claim}"),
            Self::AudienceMismatch => {
                f.write_str("the assertion audience does not name this authorization server")
            }
            Self::Time(e) => write!(f, "the assertion {e}"),
            Self::SubjectNotAllowed => f.write_str("this issuer may not assert this subject"),
            Self::Xml(e) => write!(f, "the assertion is not acceptable XML: {e}"),
            Self::Signature(e) => write!(f, "{e}"),
            Self::Saml(what) => write!(f, "the assertion is refused: {what}"),
        }
    }
}

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
    /// Checks `exp` (required), `nbf` and `iat` (optional).
    pub fn check(&self, exp: i64, nbf: Option<i64>, iat: Option<i64>) -> Result<(), TimeError> {
        let Self {
            now,
            skew,
            max_lifetime,
        } = *self;
        if now >= exp.saturating_add(skew) {
            return Err(TimeError::Expired);
        }
        if exp > now.saturating_add(max_lifetime).saturating_add(skew) {
            return Err(TimeError::ExpiryTooFar);
        }
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
            return Err(TimeError::NotYetValid);
        }
        if let Some(iat) = iat {
            if iat > now.saturating_add(skew) {
                return Err(TimeError::IssuedInFuture);
            }
            if iat < now.saturating_sub(max_lifetime).saturating_sub(skew) {
                return Err(TimeError::IssuedTooLongAgo);
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
    pub(crate) claims: Map<String, Value>,
    pub(crate) expires_at: i64,
    pub(crate) replay: Option<ReplayKey>,
}

impl ValidatedGrant {
    /// The asserted subject (`sub`, or the SAML NameID).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The assertion's expiry (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_edges() {
        let r = TimeRules {
            now: 1000,
            skew: 60,
            max_lifetime: 3600,
        };
        assert_eq!(r.check(941, None, None), Ok(()));
        assert_eq!(r.check(940, None, None), Err(TimeError::Expired));
        assert_eq!(r.check(1000 + 3660, None, None), Ok(()));
        assert_eq!(
            r.check(1000 + 3661, None, None),
            Err(TimeError::ExpiryTooFar)
        );
        assert_eq!(r.check(2000, Some(1060), Some(1060)), Ok(()));
        assert_eq!(r.check(2000, Some(1061), None), Err(TimeError::NotYetValid));
        assert_eq!(
            r.check(2000, None, Some(1061)),
            Err(TimeError::IssuedInFuture)
        );
        assert_eq!(r.check(2000, None, Some(1000 - 3660)), Ok(()));
        assert_eq!(
            r.check(2000, None, Some(1000 - 3661)),
            Err(TimeError::IssuedTooLongAgo)
        );
        assert_eq!(r.check(i64::MIN, None, None), Err(TimeError::Expired));
        assert_eq!(r.check(i64::MAX, None, None), Err(TimeError::ExpiryTooFar));
    }
}
