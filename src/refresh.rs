//! Refresh-token families (RFC 6749 §6; RFC 9700 §4.14.2): the state and
//! its transitions as pure functions — the host stores, the core decides
//! (DESIGN.md, "the seam").
//!
//! A grant that may be refreshed starts a *family*: one record naming what
//! every access token of the family carries (client, subject, scope, mapped
//! claims, DPoP key) and the hash of the one refresh token currently good.
//! Every use rotates: the presented token's hash moves to `used`, a fresh
//! token becomes current, the record's `version` goes up (hosts write it
//! back only if the version they read is still the stored one — compare
//! and swap — so two concurrent uses cannot both win). Presenting a token
//! that was rotated out (`used`) is reuse: the whole family is revoked
//! (RFC 9700 §4.14.2), and stays so until its absolute expiry.
//!
//! Tokens are `agrt1.<family>.<secret>`: a 128-bit random family id (what
//! hosts route on — one Durable Object per family in the Worker) and a
//! 256-bit random secret, stored only as a SHA-256 hash and compared in
//! constant time. A guessed or foreign token finds no family, or a family
//! whose hashes it does not match: refused, and nothing is written.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::encoding::{b64url_encode, hex};
use crate::policy::ScopeSet;
use crate::reason::Reason;

/// The prefix of every refresh token this server issues (and its format
/// version).
pub const TOKEN_PREFIX: &str = "agrt1";

/// Rotated-out token hashes a family remembers for reuse detection; an
/// older token is refused as unknown (nothing revoked).
pub const MAX_USED: usize = 32;

/// Length of a family id (128 bits, base64url).
const FAMILY_CHARS: usize = 22;
/// Length of a token secret (256 bits, base64url).
const SECRET_CHARS: usize = 43;

/// How refresh tokens live (`refresh_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Absolute lifetime of a family, in seconds.
    pub lifetime: i64,
    /// Longest time between two uses, in seconds.
    pub idle: i64,
}

/// A presented refresh token, split (not yet checked against any family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedToken {
    family: String,
    secret: String,
}

impl PresentedToken {
    /// Splits `agrt1.<family>.<secret>`; `None` for anything else (wrong
    /// prefix, lengths or alphabet).
    pub fn parse(token: &str) -> Option<Self> {
        let rest = token.strip_prefix(TOKEN_PREFIX)?.strip_prefix('.')?;
        let (family, secret) = rest.split_once('.')?;
        let b64 = |s: &str, n: usize| {
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        (b64(family, FAMILY_CHARS) && b64(secret, SECRET_CHARS)).then(|| Self {
            family: family.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The family id: where the host finds the family's record.
    pub fn family(&self) -> &str {
        &self.family
    }

    fn hash(&self) -> String {
        token_hash(&self.family, &self.secret)
    }
}

/// SHA-256 over the family id and the secret, tagged: what a family stores.
fn token_hash(family: &str, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"agrt1 refresh token\0");
    h.update(family.as_bytes());
    h.update(b"\0");
    h.update(secret.as_bytes());
    hex(&h.finalize())
}

fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Who a family belongs to and what its access tokens carry: everything a
/// refresh needs, fixed when the family starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyGrant {
    /// The client the family was issued to.
    pub client_id: String,
    /// How that client authenticated (`secret`, `private_key_jwt`,
    /// `saml2_bearer`): a refresh must authenticate the same way.
    pub auth_class: String,
    /// The trusted issuer that vouched for the subject (`idp`).
    pub idp: String,
    /// The access tokens' `sub` (with the issuer's prefix).
    pub subject: String,
    /// The scope granted at the start: a refresh may only narrow it.
    pub scope: String,
    /// The mapped claims of the original assertion.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// The RFC 8707 resources, if the grant asked for some.
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    /// The DPoP key the family is bound to (`cnf.jkt`), if any.
    #[serde(default)]
    pub jkt: Option<String>,
}

/// One family's stored record (JSON through the host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyState {
    /// Record format.
    pub v: u32,
    /// The family id.
    pub family: String,
    /// Bumped on every change: the host's compare-and-swap token.
    pub version: u64,
    /// What the family's tokens carry.
    pub grant: FamilyGrant,
    /// When the family started (Unix seconds).
    pub created_at: i64,
    /// No refresh at or after this time.
    pub expires_at: i64,
    /// No refresh at or after this time unless used before (slides).
    pub idle_until: i64,
    /// Hash of the one token good now.
    pub current: String,
    /// Hashes of rotated-out tokens, newest last (at most [`MAX_USED`]).
    #[serde(default)]
    pub used: Vec<String>,
    /// When the family was revoked, and why (`reuse`, `revoked`).
    #[serde(default)]
    pub revoked: Option<(i64, String)>,
}

impl FamilyState {
    /// When the host may forget the record: nothing of the family can be
    /// used after its absolute expiry (revoked families are kept until
    /// then, so a late reuse is still answered as such).
    pub fn forget_at(&self) -> i64 {
        self.expires_at
    }
}

/// Why a refresh was refused (`invalid_grant`, or `invalid_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshError {
    /// Not a refresh token of this server's format.
    Malformed,
    /// No such family, or the token is neither its current one nor a
    /// remembered rotated one.
    Unknown,
    /// The family was revoked (by reuse or by request).
    Revoked,
    /// A rotated-out token was presented: the family is now revoked.
    Reused,
    /// The family's absolute or idle lifetime is over.
    Expired,
    /// Another client, or the same client authenticating another way.
    ClientMismatch,
    /// A DPoP-bound family refreshed without a proof of its key.
    DpopKey,
    /// More scope than the family was granted (`invalid_scope`).
    ScopeWidened,
    /// Another request changed the family first (compare-and-swap lost).
    Conflict,
    /// The configuration no longer lets the family's issuer vouch for
    /// refreshes (the issuer was removed, or `allow_refresh_tokens` off).
    IssuerWithdrawn,
}

impl RefreshError {
    /// The stable reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Malformed => Reason::RefreshMalformed,
            Self::Unknown => Reason::RefreshUnknown,
            Self::Revoked => Reason::RefreshRevoked,
            Self::Reused => Reason::RefreshReused,
            Self::Expired => Reason::RefreshExpired,
            Self::ClientMismatch => Reason::RefreshClientMismatch,
            Self::DpopKey => Reason::RefreshDpopKey,
            Self::ScopeWidened => Reason::RefreshScope,
            Self::Conflict => Reason::RefreshConflict,
            Self::IssuerWithdrawn => Reason::RefreshIssuerWithdrawn,
        }
    }
}

crate::reason::refusal!(RefreshError);

impl std::fmt::Display for RefreshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed | Self::Unknown => "the refresh token is invalid",
            Self::Revoked | Self::Reused => "the refresh token has been revoked",
            Self::Expired => "the refresh token has expired",
            Self::ClientMismatch => "the refresh token was issued to another client",
            Self::DpopKey => "the refresh token is bound to another DPoP key",
            Self::ScopeWidened => "the requested scope exceeds the scope originally granted",
            Self::Conflict => "the refresh token was used concurrently, try again",
            Self::IssuerWithdrawn => "the refresh token is no longer accepted",
        })
    }
}

/// The result of presenting a refresh token to its family.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// The token was current: write `state` (compare-and-swap on the
    /// version read) and hand out `token`.
    Rotated {
        /// The family after rotation.
        state: FamilyState,
        /// The new refresh token (returned once, never stored).
        token: String,
    },
    /// A rotated-out token: write `state` (the family, revoked) and answer
    /// `invalid_grant`.
    ReuseDetected {
        /// The family, revoked.
        state: FamilyState,
    },
    /// Refused; nothing to write.
    Refused(RefreshError),
}

/// The presenter of a refresh token, as the endpoint authenticated it.
#[derive(Debug, Clone, Copy)]
pub struct Presenter<'a> {
    /// The authenticated client.
    pub client_id: &'a str,
    /// How it authenticated (see [`FamilyGrant::auth_class`]).
    pub auth_class: &'a str,
    /// The thumbprint of the request's verified DPoP proof key, if any.
    pub jkt: Option<&'a str>,
}

fn random_b64(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(b64url_encode(&buf))
}

/// Starts a family for `grant` at `now`: its record and first token. The
/// family ends at `now + lifetime`, or at `cap` if that is sooner (the
/// assertion's expiry, when configured).
pub fn start(
    grant: FamilyGrant,
    now: i64,
    policy: RefreshPolicy,
    cap: Option<i64>,
) -> Result<(FamilyState, String), getrandom::Error> {
    let family = random_b64(16)?;
    let secret = random_b64(32)?;
    let expires_at = cap.map_or(now.saturating_add(policy.lifetime), |c| {
        c.min(now.saturating_add(policy.lifetime))
    });
    let state = FamilyState {
        v: 1,
        current: token_hash(&family, &secret),
        family: family.clone(),
        version: 1,
        grant,
        created_at: now,
        expires_at,
        idle_until: now.saturating_add(policy.idle).min(expires_at),
        used: Vec::new(),
        revoked: None,
    };
    Ok((state, format!("{TOKEN_PREFIX}.{family}.{secret}")))
}

/// Presents `token` to its family `state` (what the host stored under
/// `token.family()`), by `who`, asking for `scope` (only narrowing), at
/// `now`. Order: the token against the family (reuse revokes, whoever
/// presents it), then revocation, expiry, the client, the DPoP key and the
/// scope — a refusal after the token matched writes nothing.
pub fn refresh(
    state: &FamilyState,
    token: &PresentedToken,
    who: Presenter<'_>,
    scope: Option<&ScopeSet>,
    now: i64,
    policy: RefreshPolicy,
) -> Result<RefreshOutcome, getrandom::Error> {
    if state.family != token.family {
        return Ok(RefreshOutcome::Refused(RefreshError::Unknown));
    }
    let hash = token.hash();
    if !same_hash(&state.current, &hash) {
        if state.used.iter().any(|u| same_hash(u, &hash)) {
            if state.revoked.is_some() {
                return Ok(RefreshOutcome::Refused(RefreshError::Revoked));
            }
            let mut revoked = state.clone();
            let Some(version) = state.version.checked_add(1) else {
                return Ok(RefreshOutcome::Refused(RefreshError::Conflict));
            };
            revoked.version = version;
            revoked.revoked = Some((now, "reuse".into()));
            return Ok(RefreshOutcome::ReuseDetected { state: revoked });
        }
        return Ok(RefreshOutcome::Refused(RefreshError::Unknown));
    }
    let refuse = |e| Ok(RefreshOutcome::Refused(e));
    if state.revoked.is_some() {
        return refuse(RefreshError::Revoked);
    }
    if now >= state.expires_at || now >= state.idle_until {
        return refuse(RefreshError::Expired);
    }
    let grant = &state.grant;
    if who.client_id != grant.client_id || who.auth_class != grant.auth_class {
        return refuse(RefreshError::ClientMismatch);
    }
    if let Some(jkt) = &grant.jkt
        && who.jkt != Some(jkt.as_str())
    {
        return refuse(RefreshError::DpopKey);
    }
    if let Some(asked) = scope {
        let granted = ScopeSet::parse(&grant.scope).unwrap_or_default();
        if !asked.intersect(&granted).same_as(asked) {
            return refuse(RefreshError::ScopeWidened);
        }
    }
    let Some(version) = state.version.checked_add(1) else {
        return refuse(RefreshError::Conflict);
    };
    let secret = random_b64(32)?;
    let mut next = state.clone();
    next.version = version;
    next.used.push(std::mem::replace(
        &mut next.current,
        token_hash(&state.family, &secret),
    ));
    if next.used.len() > MAX_USED {
        let excess = next.used.len() - MAX_USED;
        next.used.drain(..excess);
    }
    next.idle_until = now.saturating_add(policy.idle).min(next.expires_at);
    Ok(RefreshOutcome::Rotated {
        state: next,
        token: format!("{TOKEN_PREFIX}.{}.{secret}", state.family),
    })
}

/// The family revoked at `now` (RFC 7009): every token of it stops
/// working. Revoking a revoked family changes nothing (`None`).
pub fn revoke(state: &FamilyState, now: i64) -> Option<FamilyState> {
    if state.revoked.is_some() {
        return None;
    }
    let mut next = state.clone();
    next.version = state.version.checked_add(1)?;
    next.revoked = Some((now, "revoked".into()));
    Some(next)
}

/// The family revoked at `now` on a revocation request (RFC 7009 §2.1) by
/// `client_id` presenting `token`: only if the token is one of the
/// family's (current, or a remembered rotated one) and the family is that
/// client's; `None` (nothing to write) otherwise — the request is answered
/// the same either way.
pub fn revoke_presented(
    state: &FamilyState,
    token: &PresentedToken,
    client_id: &str,
    now: i64,
) -> Option<FamilyState> {
    let hash = token.hash();
    let ours = state.family == token.family
        && (same_hash(&state.current, &hash) || state.used.iter().any(|u| same_hash(u, &hash)));
    if !ours || state.grant.client_id != client_id {
        return None;
    }
    revoke(state, now)
}

/// Whether `token` is the family's current token, unrevoked and unexpired
/// at `now` (RFC 7662 `active`).
pub fn is_active(state: &FamilyState, token: &PresentedToken, now: i64) -> bool {
    state.family == token.family
        && same_hash(&state.current, &token.hash())
        && state.revoked.is_none()
        && now < state.expires_at
        && now < state.idle_until
}

/// A refresh-token family record for the host to store (RFC 6749 §6): write
/// `state` under `family` only if the stored record's version is still
/// `expected_version` (0: no record yet) — compare and swap, atomically —
/// and keep it until `forget_at`. A lost swap means another request changed
/// the family first: answer [`crate::TokenEndpoint::family_conflict`], issue
/// nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyWrite {
    /// The family id (routing: one Durable Object per family).
    pub family: String,
    /// The version the write replaces (0 for a new family).
    pub expected_version: u64,
    /// The version after the write.
    pub version: u64,
    /// The record, JSON.
    pub state: String,
    /// When the record may be dropped (Unix seconds).
    pub forget_at: i64,
}

impl FamilyWrite {
    /// The write of `state` over the stored `expected_version`.
    pub fn of(state: &FamilyState, expected_version: u64) -> Result<Self, serde_json::Error> {
        Ok(Self {
            family: state.family.clone(),
            expected_version,
            version: state.version,
            state: serde_json::to_string(state)?,
            forget_at: state.forget_at(),
        })
    }
}

/// What a family store answered to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapOutcome {
    /// Written: the stored version was the expected one.
    Swapped,
    /// Not written: another write came first.
    Conflict,
    /// The store could not answer (503, nothing issued).
    Unavailable,
}

/// Where a host keeps refresh-token families: a read, and an atomic
/// compare-and-swap write (one Durable Object per family in the Worker).
pub trait FamilyStore {
    /// The record last written for `family` (JSON), if any and not past
    /// its `forget_at`; `Err(())` when the store cannot answer.
    #[allow(clippy::result_unit_err)]
    fn load(&mut self, family: &str, now: i64) -> Result<Option<String>, ()>;
    /// Writes `write` if the stored version is `write.expected_version`
    /// (0: nothing stored), atomically.
    fn swap(&mut self, write: &FamilyWrite, now: i64) -> SwapOutcome;
}

/// A [`FamilyStore`] in memory, for one process (tests, single-instance
/// hosts). Records are dropped after their `forget_at`.
#[derive(Debug, Default)]
pub struct MemoryFamilyStore {
    records: std::collections::HashMap<String, (u64, String, i64)>,
}

impl MemoryFamilyStore {
    /// The most live families it keeps (a new family beyond that is
    /// `Unavailable`; a live one is never dropped).
    pub const MAX_FAMILIES: usize = 100_000;

    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many families it holds (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl FamilyStore for MemoryFamilyStore {
    fn load(&mut self, family: &str, now: i64) -> Result<Option<String>, ()> {
        Ok(self
            .records
            .get(family)
            .filter(|(_, _, forget_at)| now < *forget_at)
            .map(|(_, state, _)| state.clone()))
    }

    fn swap(&mut self, write: &FamilyWrite, now: i64) -> SwapOutcome {
        if self
            .records
            .get(&write.family)
            .is_some_and(|(_, _, forget_at)| now >= *forget_at)
        {
            self.records.remove(&write.family);
        }
        let stored = self.records.get(&write.family).map_or(0, |(v, _, _)| *v);
        if stored != write.expected_version {
            return SwapOutcome::Conflict;
        }
        if stored == 0 && self.records.len() >= Self::MAX_FAMILIES {
            // Sweep only when full: amortised over the inserts before.
            self.records.retain(|_, (_, _, forget_at)| now < *forget_at);
            if self.records.len() >= Self::MAX_FAMILIES {
                return SwapOutcome::Unavailable;
            }
        }
        self.records.insert(
            write.family.clone(),
            (write.version, write.state.clone(), write.forget_at),
        );
        SwapOutcome::Swapped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const POLICY: RefreshPolicy = RefreshPolicy {
        lifetime: 30 * 86_400,
        idle: 14 * 86_400,
    };

    fn grant(jkt: Option<&str>) -> FamilyGrant {
        FamilyGrant {
            client_id: "app".into(),
            auth_class: "secret".into(),
            idp: "https://idp".into(),
            subject: "idp|alice".into(),
            scope: "offline_access read write".into(),
            claims: Map::new(),
            resources: None,
            jkt: jkt.map(str::to_owned),
        }
    }

    const APP: Presenter<'static> = Presenter {
        client_id: "app",
        auth_class: "secret",
        jkt: None,
    };

    fn rotate(state: &FamilyState, token: &str, now: i64) -> RefreshOutcome {
        let t = PresentedToken::parse(token).unwrap();
        refresh(state, &t, APP, None, now, POLICY).unwrap()
    }

    #[test]
    fn tokens_have_one_strict_form() {
        let (state, token) = start(grant(None), NOW, POLICY, None).unwrap();
        let t = PresentedToken::parse(&token).unwrap();
        assert_eq!(t.family(), state.family);
        assert_eq!(token.len(), 5 + 1 + 22 + 1 + 43);
        for bad in [
            "",
            "agrt1",
            "agrt1..",
            &token[1..],
            &format!("{token}x"),
            &token.replace("agrt1", "agrt2"),
            &format!("agrt1.{}.{}", "a".repeat(22), "+".repeat(43)),
            &format!("agrt1.{}.{}", "a".repeat(21), "b".repeat(43)),
        ] {
            assert_eq!(PresentedToken::parse(bad), None, "{bad}");
        }
        // Only the hash is stored.
        assert!(
            !serde_json::to_string(&state)
                .unwrap()
                .contains(token.rsplit('.').next().unwrap())
        );
    }

    #[test]
    fn every_use_rotates_and_the_old_token_stops_at_once() {
        let (s0, t0) = start(grant(None), NOW, POLICY, None).unwrap();
        let RefreshOutcome::Rotated {
            state: s1,
            token: t1,
        } = rotate(&s0, &t0, NOW + 10)
        else {
            panic!("first use rotates")
        };
        assert_eq!(s1.version, s0.version + 1);
        assert_ne!(t1, t0);
        let RefreshOutcome::Rotated {
            state: s2,
            token: t2,
        } = rotate(&s1, &t1, NOW + 20)
        else {
            panic!("the new token works")
        };
        // The first token again: reuse, and the family is revoked.
        let RefreshOutcome::ReuseDetected { state: s3 } = rotate(&s2, &t0, NOW + 30) else {
            panic!("reuse detected")
        };
        assert_eq!(s3.revoked.as_ref().map(|r| r.1.as_str()), Some("reuse"));
        assert_eq!(s3.version, s2.version + 1);
        // Then even the current token is refused, and reuse again writes nothing.
        assert_eq!(
            rotate(&s3, &t2, NOW + 31),
            RefreshOutcome::Refused(RefreshError::Revoked)
        );
        assert_eq!(
            rotate(&s3, &t1, NOW + 32),
            RefreshOutcome::Refused(RefreshError::Revoked)
        );
    }

    #[test]
    fn lifetimes_absolute_and_idle() {
        let (s0, t0) = start(grant(None), NOW, POLICY, None).unwrap();
        assert_eq!(
            rotate(&s0, &t0, NOW + 14 * 86_400),
            RefreshOutcome::Refused(RefreshError::Expired)
        );
        // Used every 13 days it lives 30 days, no more.
        let (mut s, mut t) = (s0, t0);
        let mut at = NOW;
        loop {
            at += 13 * 86_400;
            match rotate(&s, &t, at) {
                RefreshOutcome::Rotated { state, token } => (s, t) = (state, token),
                RefreshOutcome::Refused(RefreshError::Expired) => break,
                other => panic!("{other:?}"),
            }
        }
        assert!((NOW + 30 * 86_400..NOW + 43 * 86_400).contains(&at), "{at}");
        // Capped at the assertion's expiry when asked.
        let (capped, t) = start(grant(None), NOW, POLICY, Some(NOW + 600)).unwrap();
        assert_eq!(capped.expires_at, NOW + 600);
        assert_eq!(
            rotate(&capped, &t, NOW + 600),
            RefreshOutcome::Refused(RefreshError::Expired)
        );
    }

    #[test]
    fn client_scope_and_dpop_bindings() {
        let (s0, t0) = start(grant(Some("jkt-a")), NOW, POLICY, None).unwrap();
        let t = PresentedToken::parse(&t0).unwrap();
        let other = Presenter {
            client_id: "other",
            ..APP
        };
        let post = Presenter {
            auth_class: "private_key_jwt",
            ..APP
        };
        let key_a = Presenter {
            jkt: Some("jkt-a"),
            ..APP
        };
        let key_b = Presenter {
            jkt: Some("jkt-b"),
            ..APP
        };
        let r = |who, scope: Option<&str>| {
            let scope = scope.map(|s| ScopeSet::parse(s).unwrap());
            refresh(&s0, &t, who, scope.as_ref(), NOW + 1, POLICY).unwrap()
        };
        assert_eq!(
            r(other, None),
            RefreshOutcome::Refused(RefreshError::ClientMismatch)
        );
        assert_eq!(
            r(post, None),
            RefreshOutcome::Refused(RefreshError::ClientMismatch)
        );
        assert_eq!(r(APP, None), RefreshOutcome::Refused(RefreshError::DpopKey));
        assert_eq!(
            r(key_b, None),
            RefreshOutcome::Refused(RefreshError::DpopKey)
        );
        assert_eq!(
            r(key_a, Some("read admin")),
            RefreshOutcome::Refused(RefreshError::ScopeWidened)
        );
        assert!(matches!(
            r(key_a, Some("read")),
            RefreshOutcome::Rotated { .. }
        ));
        assert!(matches!(r(key_a, None), RefreshOutcome::Rotated { .. }));
    }

    #[test]
    fn guessed_and_foreign_tokens_change_nothing() {
        let (s0, _) = start(grant(None), NOW, POLICY, None).unwrap();
        let (s1, t1) = start(grant(None), NOW, POLICY, None).unwrap();
        assert_ne!(s0.family, s1.family);
        // Another family's token, routed here.
        assert_eq!(
            rotate(&s0, &t1, NOW),
            RefreshOutcome::Refused(RefreshError::Unknown)
        );
        // This family's id with a guessed secret.
        let guess = format!("agrt1.{}.{}", s0.family, "A".repeat(43));
        assert_eq!(
            rotate(&s0, &guess, NOW),
            RefreshOutcome::Refused(RefreshError::Unknown)
        );
    }

    #[test]
    fn only_the_newest_rotated_tokens_are_remembered() {
        let (mut s, mut t) = start(grant(None), NOW, POLICY, None).unwrap();
        let first = t.clone();
        for i in 0..(MAX_USED + 3) {
            let RefreshOutcome::Rotated { state, token } = rotate(&s, &t, NOW + i as i64) else {
                panic!()
            };
            (s, t) = (state, token);
        }
        assert_eq!(s.used.len(), MAX_USED);
        // Too old to be recognised: refused, nothing revoked.
        assert_eq!(
            rotate(&s, &first, NOW + 100),
            RefreshOutcome::Refused(RefreshError::Unknown)
        );
        assert!(s.revoked.is_none());
    }

    #[test]
    fn revocation_and_introspection() {
        let (s0, t0) = start(grant(None), NOW, POLICY, None).unwrap();
        let t = PresentedToken::parse(&t0).unwrap();
        assert!(is_active(&s0, &t, NOW));
        assert!(!is_active(&s0, &t, s0.idle_until));
        let s1 = revoke(&s0, NOW + 5).unwrap();
        assert!(!is_active(&s1, &t, NOW + 6));
        assert_eq!(revoke(&s1, NOW + 7), None);
        assert_eq!(
            rotate(&s1, &t0, NOW + 8),
            RefreshOutcome::Refused(RefreshError::Revoked)
        );
        // A stored record round-trips through JSON.
        let json = serde_json::to_string(&s1).unwrap();
        assert_eq!(serde_json::from_str::<FamilyState>(&json).unwrap(), s1);
    }
}
