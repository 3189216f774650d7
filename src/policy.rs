//! Scope and claim policy (RFC 6749 §3.3, §5.1).

use serde_json::{Map, Value};
use std::fmt;

use crate::limits::{MAX_MAPPED_CLAIM_BYTES, MAX_SCOPE_TOKENS};
use crate::protocol::NAME_ID_FORMAT_SOURCE;

/// What happens when a client asks for a scope it may not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScopePolicy {
    /// Refuse the request with `invalid_scope` (default).
    #[default]
    Reject,
    /// Grant the allowed part and report it in the response's `scope`
    /// (RFC 6749 §3.3); an empty result is still `invalid_scope`.
    Narrow,
}

/// An ordered set of scope tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

/// Why a scope was refused (`invalid_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeError {
    /// A token outside RFC 6749 §3.3's character set, or too many tokens.
    Syntax,
    /// A requested scope is not allowed for this issuer and client.
    NotAllowed,
    /// Nothing requested is allowed.
    NothingGranted,
}

impl ScopeError {
    /// The stable reason code.
    pub fn reason(&self) -> crate::reason::Reason {
        use crate::reason::Reason;
        match self {
            Self::Syntax => Reason::RequestScopeSyntax,
            Self::NotAllowed => Reason::ScopeNotAllowed,
            Self::NothingGranted => Reason::ScopeNothingGranted,
        }
    }
}

crate::reason::refusal!(ScopeError);

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "scope is not a space-separated list of valid scope tokens",
            Self::NotAllowed => "the requested scope exceeds what this client and issuer allow",
            Self::NothingGranted => "none of the requested scope is allowed",
        })
    }
}

impl ScopeSet {
    /// Parses a space-separated scope string. Tokens are
    /// `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3); repeated tokens
    /// collapse, order is kept.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let mut out: Vec<String> = Vec::new();
        for token in s.split(' ').filter(|t| !t.is_empty()) {
            let valid = token
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e));
            if !valid {
                return Err(ScopeError::Syntax);
            }
            if !out.iter().any(|t| t == token) {
                if out.len() == MAX_SCOPE_TOKENS {
                    return Err(ScopeError::Syntax);
                }
                out.push(token.to_owned());
            }
        }
        Ok(Self(out))
    }

    /// Whether the set holds `token`.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens of `self` that `other` also has, in `self`'s order.
    pub fn intersect(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(
            self.0
                .iter()
                .filter(|t| other.contains(t))
                .cloned()
                .collect(),
        )
    }

    /// Same tokens, order aside.
    pub fn same_as(&self, other: &ScopeSet) -> bool {
        self.0.len() == other.0.len() && self.0.iter().all(|t| other.contains(t))
    }

    /// The space-separated form.
    pub fn to_scope_string(&self) -> String {
        self.0.join(" ")
    }
}

/// The scope decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScopeGrant {
    pub granted: ScopeSet,
    /// RFC 6749 §5.1: `scope` must be in the response when it differs from
    /// what was requested (we also return it when nothing was requested).
    pub report: bool,
}

/// Decides the granted scope: `requested ∩ allowed`, where `allowed` is the
/// client's allowance narrowed by the issuer's ceiling (or the ceiling alone
/// for a grant without a client). No request → everything allowed.
pub(crate) fn decide_scope(
    requested: Option<&ScopeSet>,
    client_allowance: Option<&ScopeSet>,
    issuer_ceiling: Option<&ScopeSet>,
    policy: ScopePolicy,
) -> Result<ScopeGrant, ScopeError> {
    let allowed = match (client_allowance, issuer_ceiling) {
        (Some(client), Some(ceiling)) => client.intersect(ceiling),
        (Some(client), None) => client.clone(),
        (None, Some(ceiling)) => ceiling.clone(),
        (None, None) => ScopeSet::default(),
    };
    let Some(requested) = requested else {
        return Ok(ScopeGrant {
            report: !allowed.is_empty(),
            granted: allowed,
        });
    };
    let granted = requested.intersect(&allowed);
    if policy == ScopePolicy::Reject && granted.0.len() != requested.0.len() {
        return Err(ScopeError::NotAllowed);
    }
    if granted.is_empty() {
        return Err(ScopeError::NothingGranted);
    }
    Ok(ScopeGrant {
        report: !granted.same_as(requested),
        granted,
    })
}

/// Copies the mapped claims (`token claim ← assertion claim`) that the
/// verified assertion carries. Oversized values are skipped, never truncated.
/// The source [`NAME_ID_FORMAT_SOURCE`] reads the verified NameID's own
/// `Format` (`name_id_format`), never an attribute of that name.
pub(crate) fn map_claims(
    mapping: &[(String, String)],
    assertion: &Map<String, Value>,
    name_id_format: Option<&str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (target, source) in mapping {
        let value = if source == NAME_ID_FORMAT_SOURCE {
            name_id_format.map(|f| Value::String(f.to_owned()))
        } else {
            assertion.get(source).cloned()
        };
        if let Some(value) = value
            && serde_json::to_string(&value).is_ok_and(|s| s.len() <= MAX_MAPPED_CLAIM_BYTES)
        {
            out.insert(target.clone(), value);
        }
    }
    out
}

/// Who presents an assertion, as far as the issuer binding cares.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Presenter<'a> {
    /// No client was named.
    Nobody,
    /// A client, with the issuers it is bound to (`None`: any issuer).
    Client(Option<&'a [usize]>),
}

/// Why a presenter may not present an issuer's assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BindingError {
    /// The issuer requires an identified client (`require_client`).
    ClientRequired,
    /// The client is bound to other issuers (`trusted_issuers`).
    IssuerNotAllowed,
}

/// The client↔issuer binding (configuration `trusted_issuers`,
/// `require_client`): no client only where the issuer allows it; a client
/// bound to issuers only with assertions from those. Checked twice per
/// request — on the issuer the assertion states (before any signature
/// work) and on the verified one.
pub(crate) fn may_present(
    presenter: Presenter<'_>,
    issuer: usize,
    require_client: bool,
) -> Result<(), BindingError> {
    match presenter {
        Presenter::Nobody if require_client => Err(BindingError::ClientRequired),
        Presenter::Client(Some(allowed)) if !allowed.contains(&issuer) => {
            Err(BindingError::IssuerNotAllowed)
        }
        _ => Ok(()),
    }
}

/// When an access token issued at `now` expires: `lifetime` later, or at
/// the assertion's expiry if `cap_at_assertion_expiry` and that is sooner.
/// `None` if that is not after `now` (the token would be born expired).
pub(crate) fn token_expiry(
    now: i64,
    lifetime: i64,
    cap_at_assertion_expiry: bool,
    assertion_expires_at: i64,
) -> Option<i64> {
    let mut exp = now.saturating_add(lifetime);
    if cap_at_assertion_expiry {
        exp = exp.min(assertion_expires_at);
    }
    (exp > now).then_some(exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> ScopeSet {
        ScopeSet::parse(text).unwrap()
    }

    #[test]
    fn parse_rules() {
        assert_eq!(s("a  b a").to_scope_string(), "a b");
        assert_eq!(ScopeSet::parse("a\"b"), Err(ScopeError::Syntax));
        assert_eq!(ScopeSet::parse("a\\b"), Err(ScopeError::Syntax));
        assert_eq!(ScopeSet::parse("é"), Err(ScopeError::Syntax));
        assert_eq!(ScopeSet::parse("a\tb"), Err(ScopeError::Syntax));
    }

    #[test]
    fn decisions() {
        let client = s("read write");
        let ceiling = s("read admin");
        let d = decide_scope(None, Some(&client), Some(&ceiling), ScopePolicy::Reject).unwrap();
        assert_eq!(
            (d.granted.to_scope_string().as_str(), d.report),
            ("read", true)
        );
        let d = decide_scope(
            Some(&s("read")),
            Some(&client),
            Some(&ceiling),
            ScopePolicy::Reject,
        )
        .unwrap();
        assert_eq!(
            (d.granted.to_scope_string().as_str(), d.report),
            ("read", false)
        );
        assert_eq!(
            decide_scope(
                Some(&s("read write")),
                Some(&client),
                Some(&ceiling),
                ScopePolicy::Reject
            ),
            Err(ScopeError::NotAllowed)
        );
        let d = decide_scope(
            Some(&s("read write")),
            Some(&client),
            Some(&ceiling),
            ScopePolicy::Narrow,
        )
        .unwrap();
        assert_eq!(
            (d.granted.to_scope_string().as_str(), d.report),
            ("read", true)
        );
        assert_eq!(
            decide_scope(
                Some(&s("admin")),
                Some(&client),
                Some(&ceiling),
                ScopePolicy::Narrow
            ),
            Err(ScopeError::NothingGranted)
        );
        let d = decide_scope(None, None, Some(&ceiling), ScopePolicy::Reject).unwrap();
        assert_eq!(d.granted.to_scope_string(), "read admin");
        let d = decide_scope(None, Some(&ScopeSet::default()), None, ScopePolicy::Reject).unwrap();
        assert!(d.granted.is_empty() && !d.report);
    }

    #[test]
    fn name_id_format_never_comes_from_an_attribute() {
        let mapping = vec![("fmt".to_owned(), NAME_ID_FORMAT_SOURCE.to_owned())];
        let mut attributes = Map::new();
        attributes.insert(NAME_ID_FORMAT_SOURCE.into(), Value::String("forged".into()));
        assert!(map_claims(&mapping, &attributes, None).is_empty());
        let mapped = map_claims(&mapping, &attributes, Some("entity"));
        assert_eq!(mapped["fmt"], "entity");
    }
}
