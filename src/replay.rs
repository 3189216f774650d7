//! One-time use of assertion ids (RFC 7521 §5.2, RFC 7523 §3 item 7).
//!
//! The core cannot hold state across requests and isolates, so validation
//! *returns* the keys it needs claimed; the host claims them in its store
//! (a Durable Object in the Worker, [`MemoryReplayStore`] natively or in a
//! test) and only then asks for the token. Keys exist only for assertions
//! whose signature and claims already passed, so a forged or expired
//! assertion never consumes an entry.

use sha2::{Digest, Sha256};
use std::collections::HashMap;

use crate::encoding::hex;

/// Which assertion of the request a replay key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayKind {
    /// The grant's assertion (`jti` or SAML Assertion `ID`).
    Grant,
    /// The client's authentication assertion (`private_key_jwt`).
    ClientAssertion,
    /// The request's DPoP proof (RFC 9449 §11.1), by key and `jti`.
    DpopProof,
    /// A revoked access token (RFC 7009), by `jti`: claimed when revoked,
    /// read by introspection.
    RevokedAccessToken,
}

/// An opaque key to claim once, and when the claim may be forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayKey {
    /// 64 lowercase hex digits: SHA-256 over the issuer (or client) and the
    /// assertion id, length-prefixed (no delimiter games, bounded size).
    pub key: String,
    /// Unix time after which the assertion can no longer be used anyway
    /// (its expiry plus clock skew), so the entry may be dropped.
    pub expires_at: i64,
    /// Which assertion this key protects.
    pub kind: ReplayKind,
    /// Who the entry is charged to: 16 hex digits derived from the
    /// requesting client (or, for a grant without a client, the issuer).
    /// Stores with a bounded capacity bound each partition, so one client
    /// cannot fill the store for every other.
    pub partition: String,
}

impl ReplayKey {
    /// The key for assertion `id` from `issuer`. The role (`kind`) is not
    /// part of the key: an assertion used once as a client assertion cannot
    /// be used again as a grant, or the other way round. The partition is
    /// set by the endpoint once the client is known.
    pub(crate) fn new(kind: ReplayKind, issuer: &str, id: &str, expires_at: i64) -> Self {
        Self {
            key: hex(&tagged_hash(b"assertion-id/v1", &[issuer, id])),
            expires_at,
            kind,
            partition: String::new(),
        }
    }
}

impl ReplayKey {
    /// The mark of our access token `jti` revoked, kept until its `exp`.
    pub(crate) fn revoked_access_token(jti: &str, exp: i64) -> Self {
        Self {
            key: hex(&tagged_hash(b"revoked-access-token/v1", &[jti])),
            expires_at: exp,
            kind: ReplayKind::RevokedAccessToken,
            partition: String::new(),
        }
    }

    /// The key for DPoP proof `jti` made with the key whose thumbprint is
    /// `jkt` (RFC 9449 §11.1: the same `jti` from another key is another
    /// proof).
    pub(crate) fn dpop(jkt: &str, jti: &str, expires_at: i64) -> Self {
        Self {
            key: hex(&tagged_hash(b"dpop-proof/v1", &[jkt, jti])),
            expires_at,
            kind: ReplayKind::DpopProof,
            partition: String::new(),
        }
    }
}

/// SHA-256 over a tag and parts, each length-prefixed.
fn tagged_hash(tag: &[u8], parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((tag.len() as u64).to_be_bytes());
    h.update(tag);
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// The partition of a request's replay keys: its client, or for a grant
/// without a client, the issuer that vouched for it; with `subject` for
/// callers that did not authenticate, so one user cannot fill what every
/// user of a public client (or of anonymous grants) shares.
pub(crate) fn partition(client_id: Option<&str>, issuer: &str, subject: Option<&str>) -> String {
    let digest = match (client_id, subject) {
        (Some(id), None) => tagged_hash(b"replay-partition/client/v1", &[id]),
        (Some(id), Some(sub)) => tagged_hash(b"replay-partition/public/v1", &[id, sub]),
        (None, sub) => tagged_hash(
            b"replay-partition/issuer/v1",
            &[issuer, sub.unwrap_or_default()],
        ),
    };
    hex(&digest[..8])
}

/// What a store answered to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The key was free and is now recorded.
    Claimed,
    /// The key is already recorded and unexpired: a replay.
    AlreadyUsed,
    /// The store could not decide (unreachable, full, broken clock): the
    /// request fails closed with `temporarily_unavailable` (HTTP 503).
    Unavailable,
}

/// A store that records claimed keys. `claim` must be atomic: of two
/// concurrent claims of one key, exactly one succeeds.
pub trait ReplayStore {
    /// Records `key.key` until `key.expires_at`, at time `now`.
    fn claim(&mut self, key: &ReplayKey, now: i64) -> ClaimOutcome;
}

/// Default capacity of a [`MemoryReplayStore`].
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// Default capacity of one partition (client) of a [`MemoryReplayStore`].
pub const DEFAULT_MAX_ENTRIES_PER_PARTITION: usize = 10_000;

/// An in-memory [`ReplayStore`] for one process (tests, single-instance
/// servers). Expired entries are swept as new ones arrive. It is bounded in
/// total and per partition (client); when a bound is reached with unexpired
/// entries it answers [`ClaimOutcome::Unavailable`] rather than evicting
/// (evicting would reopen a replay window), so only the partition that
/// filled up is refused.
#[derive(Debug)]
pub struct MemoryReplayStore {
    entries: HashMap<String, (i64, String)>,
    per_partition: HashMap<String, usize>,
    max_entries: usize,
    max_per_partition: usize,
    next_sweep: i64,
    /// When a full store last swept on demand (at most once per second).
    last_forced_sweep: i64,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MAX_ENTRIES, DEFAULT_MAX_ENTRIES_PER_PARTITION)
    }
}

impl MemoryReplayStore {
    /// An empty store with the default bounds.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store holding at most `max_entries` unexpired entries, and
    /// at most `max_per_partition` for any one partition.
    pub fn with_limits(max_entries: usize, max_per_partition: usize) -> Self {
        Self {
            entries: HashMap::new(),
            per_partition: HashMap::new(),
            max_entries,
            max_per_partition,
            next_sweep: i64::MIN,
            last_forced_sweep: i64::MIN,
        }
    }

    /// Number of live entries (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` is recorded and unexpired at `now` (a read; never claims).
    pub fn contains(&self, key: &str, now: i64) -> bool {
        self.entries.get(key).is_some_and(|(exp, _)| *exp > now)
    }

    fn sweep(&mut self, now: i64) {
        let per_partition = &mut self.per_partition;
        self.entries.retain(|_, (exp, partition)| {
            let keep = *exp > now;
            if !keep && let Some(n) = per_partition.get_mut(partition.as_str()) {
                *n -= 1;
            }
            keep
        });
        self.per_partition.retain(|_, n| *n > 0);
        self.next_sweep = now.saturating_add(60);
    }
}

impl ReplayStore for MemoryReplayStore {
    fn claim(&mut self, key: &ReplayKey, now: i64) -> ClaimOutcome {
        if now >= self.next_sweep {
            self.sweep(now);
        }
        if let Some((exp, _)) = self.entries.get(&key.key) {
            if *exp > now {
                return ClaimOutcome::AlreadyUsed;
            }
            // Expired but not swept yet: sweep so the counts stay exact.
            self.sweep(now);
        }
        let used = |s: &Self| s.per_partition.get(&key.partition).copied().unwrap_or(0);
        let full = |s: &Self| s.entries.len() >= s.max_entries || used(s) >= s.max_per_partition;
        if full(self) {
            // A client sitting at its bound must not make every request
            // walk the whole store: sweep on demand at most once a second.
            if now != self.last_forced_sweep {
                self.last_forced_sweep = now;
                self.sweep(now);
            }
            if full(self) {
                return ClaimOutcome::Unavailable;
            }
        }
        *self.per_partition.entry(key.partition.clone()).or_insert(0) += 1;
        self.entries
            .insert(key.key.clone(), (key.expires_at, key.partition.clone()));
        ClaimOutcome::Claimed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, expires_at: i64, partition: &str) -> ReplayKey {
        ReplayKey {
            key: k.into(),
            expires_at,
            kind: ReplayKind::Grant,
            partition: partition.into(),
        }
    }

    #[test]
    fn keys_are_unambiguous_and_role_independent() {
        let a = ReplayKey::new(ReplayKind::Grant, "ab", "c", 0);
        let b = ReplayKey::new(ReplayKind::Grant, "a", "bc", 0);
        let c = ReplayKey::new(ReplayKind::ClientAssertion, "ab", "c", 0);
        assert_ne!(a.key, b.key);
        assert_eq!(a.key, c.key, "one assertion, one key, whatever its role");
        assert_eq!(a.key.len(), 64);
    }

    #[test]
    fn partitions_separate_clients_from_issuers() {
        let client = partition(Some("x"), "i", None);
        assert_eq!(client.len(), 16);
        assert_eq!(client, partition(Some("x"), "other issuer", None));
        assert_ne!(client, partition(None, "x", None));
        assert_ne!(client, partition(Some("y"), "i", None));
        // Unauthenticated callers are told apart by subject.
        let alice = partition(Some("x"), "i", Some("alice"));
        assert_ne!(alice, client);
        assert_ne!(alice, partition(Some("x"), "i", Some("bob")));
        assert_ne!(
            partition(None, "i", Some("alice")),
            partition(None, "i", Some("bob"))
        );
    }

    #[test]
    fn memory_store_claims_once_until_expiry() {
        use ClaimOutcome::*;
        let mut s = MemoryReplayStore::new();
        assert_eq!(s.claim(&key("k", 100, "p"), 10), Claimed);
        assert_eq!(s.claim(&key("k", 100, "p"), 50), AlreadyUsed);
        assert_eq!(
            s.claim(&key("k", 300, "p"), 100),
            Claimed,
            "expired entries may be reused"
        );
        assert_eq!(s.claim(&key("k", 300, "p"), 200), AlreadyUsed);
        assert_eq!(s.claim(&key("j", 400, "p"), 200), Claimed);
        assert_eq!(s.len(), 2);
        assert!(s.contains("k", 200) && !s.contains("k", 300));
    }

    #[test]
    fn memory_store_bounds_each_partition_and_the_whole() {
        use ClaimOutcome::*;
        let mut s = MemoryReplayStore::with_limits(5, 2);
        assert_eq!(s.claim(&key("a1", 100, "a"), 0), Claimed);
        assert_eq!(s.claim(&key("a2", 100, "a"), 0), Claimed);
        assert_eq!(s.claim(&key("a3", 100, "a"), 0), Unavailable);
        assert_eq!(s.claim(&key("a1", 100, "a"), 0), AlreadyUsed);
        // Another partition is unaffected by a full one.
        assert_eq!(s.claim(&key("b1", 100, "b"), 0), Claimed);
        assert_eq!(s.claim(&key("b2", 100, "b"), 0), Claimed);
        assert_eq!(s.claim(&key("c1", 100, "c"), 0), Claimed);
        assert_eq!(s.claim(&key("d1", 100, "d"), 0), Unavailable, "total bound");
        // Expiry frees room, and the counts follow.
        assert_eq!(s.claim(&key("a3", 200, "a"), 100), Claimed);
        assert_eq!(s.claim(&key("a4", 200, "a"), 100), Claimed);
        assert_eq!(s.claim(&key("a5", 200, "a"), 100), Unavailable);
        assert_eq!(s.len(), 2);
    }
}

/// A replay key could not be claimed: the assertion was used before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed(pub ReplayKind);

impl Replayed {
    /// The stable reason code.
    pub fn reason(&self) -> crate::reason::Reason {
        match self.0 {
            ReplayKind::Grant => crate::reason::Reason::AssertionReplayed,
            ReplayKind::ClientAssertion => crate::reason::Reason::ClientAssertionReplayed,
            ReplayKind::DpopProof => crate::reason::Reason::DpopReplayed,
            ReplayKind::RevokedAccessToken => crate::reason::Reason::ServerError,
        }
    }
}

crate::reason::refusal!(Replayed);

impl std::fmt::Display for Replayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            ReplayKind::Grant => "the assertion has already been used",
            ReplayKind::ClientAssertion => "the client assertion has already been used",
            ReplayKind::DpopProof => "the DPoP proof has already been used",
            ReplayKind::RevokedAccessToken => "the access token was revoked",
        })
    }
}
