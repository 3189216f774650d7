//! The JWT bearer grant (RFC 7523 §2.1, §3).

use crate::config::{AssertionFormat, Config};
use crate::jose;
use crate::replay::{ReplayKey, ReplayKind};

use super::{GrantError, TimeRules, ValidatedGrant};

/// The `iss` a JWT states, unverified (`None` if the JWT does not parse):
/// only for decisions that must come before signature verification.
pub(crate) fn peek_issuer(assertion: &str) -> Option<String> {
    jose::parse(assertion)
        .ok()
        .and_then(|jws| jws.unverified_issuer().map(str::to_owned))
}

/// Validates a JWT bearer assertion at time `now`.
///
/// Order: parse (cheap structural checks) → find the trusted issuer named by
/// the *unverified* `iss` → verify the signature with that issuer's keys →
/// every later rule reads only the verified claims:
/// RFC 7523 §3 items 1 (`iss`), 2 (`sub`), 3 (`aud`), 4 (`exp`), 5 (`nbf`),
/// 6 (`iat`), 7 (`jti`), 9 (signature).
pub fn validate(config: &Config, assertion: &str, now: i64) -> Result<ValidatedGrant, GrantError> {
    let jws = jose::parse(assertion)?;
    let iss = jws.unverified_issuer().ok_or(GrantError::Missing("iss"))?;
    let (index, issuer) = config
        .trusted_issuer(iss)
        .ok_or(GrantError::UntrustedIssuer)?;
    if issuer.format != AssertionFormat::Jwt {
        return Err(GrantError::WrongFormat);
    }
    let verified = jws.verify(&issuer.keys, &issuer.algorithms)?;
    let claims = verified.get();

    // Item 1: re-read from the verified claims (same bytes, but this is the
    // value the signature covers).
    if claims.string("iss")? != Some(issuer.issuer.as_str()) {
        return Err(GrantError::UntrustedIssuer);
    }
    // Item 2.
    let subject = match claims.string("sub")? {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => return Err(GrantError::Missing("sub")),
    };
    if issuer
        .subjects
        .as_ref()
        .is_some_and(|allowed| !allowed.contains(&subject))
    {
        return Err(GrantError::SubjectNotAllowed);
    }
    // Item 3: exact string comparison, one match suffices.
    let audiences = claims.audiences()?;
    if audiences.is_empty() {
        return Err(GrantError::Missing("aud"));
    }
    if !audiences.iter().any(|aud| config.is_our_audience(aud)) {
        return Err(GrantError::AudienceMismatch);
    }
    // Items 4–6.
    let exp = claims
        .numeric_date("exp", false)?
        .ok_or(GrantError::Missing("exp"))?;
    let nbf = claims.numeric_date("nbf", true)?;
    let iat = claims.numeric_date("iat", true)?;
    let rules = TimeRules {
        now,
        skew: issuer.clock_skew,
        max_lifetime: issuer.max_lifetime,
    };
    rules.check(exp, nbf, iat)?;
    // Item 7: one-time use, keyed on the issuer and jti.
    let replay = match claims.string("jti")? {
        Some(jti) if !jti.is_empty() => Some(ReplayKey::new(
            ReplayKind::Grant,
            &issuer.issuer,
            jti,
            exp.saturating_add(issuer.clock_skew),
        )),
        _ if issuer.require_jti => return Err(GrantError::Missing("jti")),
        _ => None,
    };
    Ok(ValidatedGrant {
        issuer: index,
        subject,
        claims: verified.into_inner().into_map(),
        expires_at: exp,
        replay,
    })
}
