//! The JWT bearer grant (RFC 7523 §2.1, §3).

#[cfg(feature = "rust-crypto")]
use crate::backend::{RustBackend, SignatureBackend};
use crate::config::{AssertionFormat, Config};
use crate::crypto::seam::{KeyOwner, SignatureCheck};
use crate::explain::{CheckId, Trace, utc};
use crate::jose::{self, Claims, UnverifiedJws};
#[cfg(feature = "rust-crypto")]
use crate::keyset::NoRemoteKeys;
use crate::keyset::{self, RemoteKeys};
use crate::reason::Reason;
use crate::replay::{ReplayKey, ReplayKind};

use super::{GrantError, IdJag, TimeRules, ValidatedGrant};
use crate::config::TrustedIssuer;
use crate::limits::MAX_RESOURCES;
use crate::policy::ScopeSet;
use crate::protocol::{TYP_ID_JAG, is_resource_uri, typ_is};
use serde_json::{Map, Value};

/// The `iss` a JWT states, unverified (`None` if the JWT does not parse):
/// only for decisions that must come before signature verification.
pub(crate) fn peek_issuer(assertion: &str) -> Option<String> {
    jose::parse(assertion)
        .ok()
        .and_then(|jws| jws.unverified_issuer().map(str::to_owned))
}

/// A JWT assertion parsed and its trusted issuer found: waiting for the
/// host's answer to its [`SignatureCheck`].
#[derive(Debug)]
pub(crate) struct JwtPending {
    jws: UnverifiedJws,
    issuer: usize,
    /// `typ: oauth-id-jag+jwt`: processed under the ID-JAG rules only.
    id_jag: bool,
}

impl JwtPending {
    /// The trusted issuer the assertion names (`trusted_issuers` index).
    pub(crate) fn issuer(&self) -> usize {
        self.issuer
    }
}

/// Validates a JWT bearer assertion at time `now` with the pure-Rust
/// signature backend: `begin`, the check answered on the spot, `finish`.
///
/// Order: parse (cheap structural checks) → find the trusted issuer named by
/// the *unverified* `iss` → verify the signature with that issuer's keys →
/// every later rule reads only the verified claims:
/// RFC 7523 §3 items 1 (`iss`), 2 (`sub`), 3 (`aud`), 4 (`exp`), 5 (`nbf`),
/// 6 (`iat`), 7 (`jti`), 9 (signature).
#[cfg(feature = "rust-crypto")]
pub fn validate(
    config: &Config,
    assertion: &str,
    now: i64,
    trace: &mut Trace,
) -> Result<ValidatedGrant, GrantError> {
    let (pending, check) = begin(config, assertion, &NoRemoteKeys, trace)?;
    let verified = RustBackend.verify(config, &check);
    finish(config, pending, verified, now, trace)
}

/// The first half of [`validate`]: everything before the signature
/// operation.
pub(crate) fn begin(
    config: &Config,
    assertion: &str,
    remote: &dyn RemoteKeys,
    trace: &mut Trace,
) -> Result<(JwtPending, SignatureCheck), GrantError> {
    let jws = trace.check(CheckId::JwtStructure, jose::parse(assertion), |j| {
        format!("compact JWS, alg {}", j.alg())
    })?;
    // RFC 8725 §3.11: a client's authentication JWT is not a grant.
    if jws.typ() == Some(jose::TYP_CLIENT_AUTHENTICATION) {
        trace.fail(CheckId::JwtType, Reason::JwtTypClientAssertion, || {
            "typ client-authentication+jwt marks a client assertion".into()
        });
        return Err(jose::JoseError::ClientAssertionType.into());
    }
    let iss = jws
        .unverified_issuer()
        .ok_or(GrantError::MissingClaim("iss"));
    let iss = trace.check(CheckId::JwtIssuer, iss, |i| format!("iss {i:?}"))?;
    let (index, issuer) = super::trusted_issuer(config, iss, AssertionFormat::Jwt, trace)?;
    let id_jag = profile(&jws, issuer, trace)?;
    let mut held = None;
    let keys = keyset::view(
        remote,
        &config.key_sources,
        KeyOwner::Issuer(index),
        &issuer.keys,
        issuer.remote,
        jws.kid(),
        &mut held,
        trace,
    )
    .map_err(GrantError::KeySet)?;
    let check = jws.signature_check(keys, &issuer.algorithms);
    let check = match check {
        Ok(check) => check,
        Err(e) => {
            let e = GrantError::from(e);
            trace.fail(CheckId::JwtSignature, e.reason(), || e.to_string());
            return Err(e);
        }
    };
    Ok((
        JwtPending {
            jws,
            issuer: index,
            id_jag,
        },
        check,
    ))
}

/// Which profile the JWT claims by its `typ`, and whether its issuer may
/// use it: `true` for an ID-JAG (`typ` `oauth-id-jag+jwt`, RFC 7515 §4.1.9
/// spellings only), `false` for a plain RFC 7523 assertion.
fn profile(
    jws: &UnverifiedJws,
    issuer: &TrustedIssuer,
    trace: &mut Trace,
) -> Result<bool, GrantError> {
    let id_jag = jws.raw_typ().is_some_and(|t| typ_is(t, TYP_ID_JAG));
    let result = if !id_jag && jws.typ() == Some(TYP_ID_JAG) {
        // Whitespace or parameters around the ID-JAG media type: neither
        // profile's assertion, so neither set of rules applies.
        Err(GrantError::IdJag(
            Reason::IdJagType,
            "typ must be exactly oauth-id-jag+jwt",
        ))
    } else if id_jag && !issuer.profiles.id_jag {
        Err(GrantError::IdJag(
            Reason::IdJagProfileNotAllowed,
            "this issuer is not trusted for ID-JAGs",
        ))
    } else if !id_jag && !issuer.profiles.jwt_bearer {
        Err(GrantError::IdJag(
            Reason::IdJagRequired,
            "this issuer is trusted for ID-JAGs only (typ oauth-id-jag+jwt)",
        ))
    } else {
        Ok(id_jag)
    };
    trace.check(CheckId::JwtProfile, result, |&j| {
        if j {
            "an ID-JAG (typ oauth-id-jag+jwt), and the issuer allows id-jag".into()
        } else {
            "a plain RFC 7523 assertion, and the issuer allows jwt-bearer".into()
        }
    })
}

/// RFC 7523 §3 items 4–6 over verified claims, for grants and client
/// assertions alike: `exp` present, `nbf` and `iat` NumericDates when
/// present, and the time window of `rules` (RFC 7521 §5.2 item 4).
/// Returns `exp`.
pub(crate) fn times(
    claims: &Claims,
    rules: TimeRules,
    trace: &mut Trace,
) -> Result<i64, GrantError> {
    let exp = match claims.numeric_date("exp", false) {
        Ok(Some(exp)) => Ok(exp),
        Ok(None) => Err(GrantError::MissingClaim("exp")),
        Err(e) => Err(e.into()),
    };
    let exp = trace.check(CheckId::JwtExpiryPresent, exp, |e| {
        format!("exp {}", utc(*e))
    })?;
    let dates = claims
        .numeric_date("nbf", true)
        .and_then(|nbf| Ok((nbf, claims.numeric_date("iat", true)?)))
        .map_err(GrantError::from);
    let (nbf, iat) = trace.check(CheckId::JwtDateClaims, dates, |_| {
        "nbf and iat, when present, are NumericDates".into()
    })?;
    rules.check(exp, nbf, iat, trace)?;
    Ok(exp)
}

/// The second half of [`validate`]: `verified` is the host's answer to the
/// check [`begin`] returned; every rule reads the verified claims only.
pub(crate) fn finish(
    config: &Config,
    pending: JwtPending,
    verified: bool,
    now: i64,
    trace: &mut Trace,
) -> Result<ValidatedGrant, GrantError> {
    let (index, issuer) = (pending.issuer, &config.issuers[pending.issuer]);
    let alg = pending.jws.alg();
    let verified = trace.check(
        CheckId::JwtSignature,
        pending.jws.into_verified(verified),
        |_| format!("{alg} with a configured key of the issuer"),
    )?;
    let claims = verified.get();

    // Item 1: re-read from the verified claims (same bytes, but this is the
    // value the signature covers).
    let reread = match claims.string("iss") {
        Ok(Some(iss)) if iss == issuer.issuer => Ok(()),
        Ok(_) => Err(GrantError::UntrustedIssuer),
        Err(e) => Err(e.into()),
    };
    trace.check(CheckId::JwtIssuerSigned, reread, |_| {
        "the signed iss names the same issuer".into()
    })?;
    // Item 2.
    let subject = match claims.string("sub") {
        Ok(Some(s)) if !s.is_empty() => Ok(s.to_owned()),
        Ok(_) => Err(GrantError::MissingClaim("sub")),
        Err(e) => Err(e.into()),
    };
    let subject = trace.check(CheckId::JwtSubject, subject, |s| format!("sub {s:?}"))?;
    if let Some(allowed) = &issuer.subjects {
        let r = if allowed.contains(&subject) {
            Ok(())
        } else {
            Err(GrantError::SubjectNotAllowed)
        };
        trace.check(CheckId::AllowedSubjects, r, |_| {
            "sub is in the issuer's subjects list".into()
        })?;
    }
    // Item 3: exact string comparison, one match suffices.
    let audiences = claims.audiences().unwrap_or_default();
    let aud = if let Err(e) = claims.audiences() {
        Err(GrantError::from(e))
    } else if audiences.is_empty() {
        Err(GrantError::MissingClaim("aud"))
    } else if pending.id_jag {
        // draft-ietf-oauth-identity-assertion-authz-grant §4.4.1: our issuer
        // identifier, alone; not the token endpoint, not an alias.
        if matches!(audiences.as_slice(), [aud] if config.is_our_issuer(aud)) {
            Ok(())
        } else {
            Err(GrantError::IdJag(
                Reason::IdJagAudience,
                "aud must be this server's issuer identifier, alone",
            ))
        }
    } else if issuer.self_issued {
        // A self-issued grant is held to the client-assertion rule.
        if matches!(audiences.as_slice(), [aud] if config.is_our_issuer(aud)) {
            Ok(())
        } else {
            Err(GrantError::AudienceMismatch)
        }
    } else if audiences.iter().any(|aud| config.is_our_audience(aud)) {
        Ok(())
    } else {
        Err(GrantError::AudienceMismatch)
    };
    trace.result(CheckId::JwtAudience, &aud, || {
        if pending.id_jag {
            format!(
                "aud {audiences:?}; an ID-JAG must name {:?} alone",
                config.issuer()
            )
        } else if issuer.self_issued {
            format!(
                "aud {audiences:?}; this issuer is also a private_key_jwt client: only {:?} alone",
                config.issuer()
            )
        } else {
            format!(
                "aud {audiences:?}; accepted: {:?}",
                config.accepted_audiences
            )
        }
    });
    aud?;
    let rules = TimeRules {
        now,
        skew: issuer.clock_skew,
        max_lifetime: issuer.max_lifetime,
    };
    let exp = times(claims, rules, trace)?;
    let id_jag = if pending.id_jag {
        let r = id_jag_claims(claims);
        Some(trace.check(CheckId::IdJagClaims, r, |j| {
            format!(
                "client_id {:?}, scope {:?}, resource {:?}, authentication claims {:?}, cnf.jkt {}",
                j.client_id,
                j.scope.as_ref().map(ScopeSet::to_scope_string),
                j.resources,
                j.authentication.keys().collect::<Vec<_>>(),
                if j.jkt.is_some() { "present" } else { "absent" }
            )
        })?)
    } else {
        None
    };
    // Item 7: one-time use, keyed on the issuer and jti.
    let jti = trace.check(
        CheckId::JwtJtiType,
        claims.string("jti").map_err(GrantError::from),
        |_| "jti, when present, is a string".into(),
    )?;
    let replay = match jti {
        Some(jti) if !jti.is_empty() => {
            trace.pass(CheckId::JwtJti, || format!("jti {jti:?}, one-time use"));
            Some(ReplayKey::new(
                ReplayKind::Grant,
                &issuer.issuer,
                jti,
                exp.saturating_add(issuer.clock_skew),
            ))
        }
        _ if issuer.require_jti || pending.id_jag => {
            trace.fail(CheckId::JwtJti, Reason::JwtClaimMissing, || {
                "no jti, and this issuer requires one".into()
            });
            return Err(GrantError::MissingClaim("jti"));
        }
        _ => {
            trace.skip(CheckId::JwtJti, || {
                "no jti; not required for this issuer (no replay protection)".into()
            });
            None
        }
    };
    Ok(ValidatedGrant {
        issuer: index,
        subject,
        claims: verified.into_inner().into_map(),
        name_id_format: None,
        expires_at: exp,
        replay,
        id_jag,
    })
}

/// The ID-JAG's own claims (draft-ietf-oauth-identity-assertion-authz-grant
/// §3.1), from the verified claims: `client_id` and `iat` required; `scope`,
/// `resource`, `acr`, `amr`, `auth_time` and `cnf` typed when present;
/// `authorization_details` refused (no type is supported).
fn id_jag_claims(claims: &Claims) -> Result<IdJag, GrantError> {
    let wrong = |what| GrantError::IdJag(Reason::IdJagClaimType, what);
    let client_id = match claims.string("client_id") {
        Ok(Some(c)) if !c.is_empty() => c.to_owned(),
        Ok(_) => return Err(GrantError::MissingClaim("client_id")),
        Err(e) => return Err(e.into()),
    };
    if claims.numeric_date("iat", true)?.is_none() {
        return Err(GrantError::MissingClaim("iat"));
    }
    let map = claims.as_map();
    if map.contains_key("authorization_details") {
        return Err(GrantError::IdJag(
            Reason::IdJagAuthorizationDetails,
            "authorization_details are not supported by this server",
        ));
    }
    let scope = match map.get("scope") {
        None => None,
        Some(Value::String(s)) => {
            Some(ScopeSet::parse(s).map_err(|_| wrong("scope is not a valid scope string"))?)
        }
        Some(_) => return Err(wrong("scope must be a string")),
    };
    let resources: Vec<String> = match map.get("resource") {
        None => Vec::new(),
        Some(Value::String(r)) => vec![r.clone()],
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_RESOURCES => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| wrong("resource must be a URI or an array of URIs"))?,
        Some(_) => return Err(wrong("resource must be a URI or an array of URIs")),
    };
    if !resources.iter().all(|r| is_resource_uri(r)) {
        return Err(wrong(
            "each resource must be an absolute URI without a fragment",
        ));
    }
    let mut authentication = Map::new();
    match map.get("acr") {
        None => {}
        Some(v @ Value::String(_)) => {
            authentication.insert("acr".into(), v.clone());
        }
        Some(_) => return Err(wrong("acr must be a string")),
    }
    match map.get("amr") {
        None => {}
        Some(v @ Value::Array(items)) if items.iter().all(Value::is_string) => {
            authentication.insert("amr".into(), v.clone());
        }
        Some(_) => return Err(wrong("amr must be an array of strings")),
    }
    match map.get("auth_time") {
        None => {}
        Some(v) if v.as_i64().is_some_and(|t| t >= 0) => {
            authentication.insert("auth_time".into(), v.clone());
        }
        Some(_) => return Err(wrong("auth_time must be a NumericDate (whole seconds)")),
    }
    let jkt = match map.get("cnf") {
        None => None,
        Some(Value::Object(cnf)) => match (cnf.get("jkt"), cnf.len()) {
            (Some(Value::String(jkt)), 1) if jkt.len() == 43 && jkt.bytes().all(is_b64url) => {
                Some(jkt.clone())
            }
            _ => {
                return Err(GrantError::IdJag(
                    Reason::IdJagKeyBinding,
                    "cnf must hold exactly one jkt (a SHA-256 JWK thumbprint)",
                ));
            }
        },
        Some(_) => return Err(wrong("cnf must be an object")),
    };
    Ok(IdJag {
        client_id,
        scope,
        resources,
        authentication,
        jkt,
    })
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}
