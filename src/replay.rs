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
}

impl ReplayKey {
    /// The key for assertion `id` from `issuer`. The role (`kind`) is not
    /// part of the key: an assertion used once as a client assertion cannot
    /// be used again as a grant, or the other way round.
    pub(crate) fn new(kind: ReplayKind, issuer: &str, id: &str, expires_at: i64) -> Self {
        let mut h = Sha256::new();
        for part in [
            b"assertion-id/v1".as_slice(),
            issuer.as_bytes(),
            id.as_bytes(),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        Self {
            key: hex(&h.finalize()),
            expires_at,
            kind,
        }
    }
}

/// A store that records claimed keys. `claim` must be atomic: of two
/// concurrent claims of one key, exactly one succeeds.
pub trait ReplayStore {
    /// Records `key` until `expires_at`; `false` if it is already recorded
    /// and unexpired at `now`.
    fn claim(&mut self, key: &str, expires_at: i64, now: i64) -> bool;
}

/// An in-memory [`ReplayStore`] for one process (tests, single-instance
/// servers). Expired entries are swept as new ones arrive.
#[derive(Debug, Default)]
pub struct MemoryReplayStore {
    entries: HashMap<String, i64>,
    next_sweep: i64,
}

impl MemoryReplayStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of live entries (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store holds no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl ReplayStore for MemoryReplayStore {
    fn claim(&mut self, key: &str, expires_at: i64, now: i64) -> bool {
        if now >= self.next_sweep {
            self.entries.retain(|_, exp| *exp > now);
            self.next_sweep = now.saturating_add(60);
        }
        match self.entries.get(key) {
            Some(&exp) if exp > now => false,
            _ => {
                self.entries.insert(key.to_owned(), expires_at);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn memory_store_claims_once_until_expiry() {
        let mut s = MemoryReplayStore::new();
        assert!(s.claim("k", 100, 10));
        assert!(!s.claim("k", 100, 50));
        assert!(s.claim("k", 300, 100), "expired entries may be reused");
        assert!(!s.claim("k", 300, 200));
        assert!(s.claim("j", 400, 200));
        assert_eq!(s.len(), 2);
    }
}

/// A replay key could not be claimed: the assertion was used before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed(pub ReplayKind);

impl std::fmt::Display for Replayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            ReplayKind::Grant => "the assertion has already been used",
            ReplayKind::ClientAssertion => "the client assertion has already been used",
        })
    }
}
