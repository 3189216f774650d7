//! The seam as data (DESIGN.md, "The seam: the core asks, the host
//! answers"): validation never verifies a signature itself. It describes
//! the work — a [`SignatureCheck`]: algorithm, candidate keys by reference
//! into the configuration, signed bytes, signature — and continues from the
//! host's answer. Two backends answer:
//!
//! - `RustBackend` (feature `rust-crypto`): pure Rust (`rsa`, `p256`), synchronous; native Rust
//!   users, tests, fuzzing and benchmarks;
//! - the runtime's WebCrypto (`crypto.subtle`) on JS hosts (`js/index.js`),
//!   which imports each configured key once per endpoint.
//!
//! Both try the candidates in order and answer one boolean; a check always
//! has at least one candidate (a decoy key when no configured key fits), so
//! every refusal costs at least one signature operation.

use std::fmt;

use super::{Algorithm, KeyType, PublicKey, decoy_key};
use crate::config::Config;

/// Whose key a [`KeyRef`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    /// `trusted_issuers[i]`.
    Issuer(usize),
    /// `clients[i]`.
    Client(usize),
}

/// A verification key by reference into the configuration, never the key
/// itself: hosts look keys up in the table they imported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// Key `index` of `owner`'s configured keys.
    Configured {
        /// Whose key.
        owner: KeyOwner,
        /// Its position in the owner's key list.
        index: usize,
    },
    /// The decoy key of this type (its private key was never kept, so
    /// nothing verifies with it).
    Decoy(KeyType),
}

impl fmt::Display for KeyRef {
    /// The stable id hosts key their imported-key tables by: `i3.0`
    /// (issuer 3, key 0), `c1.2` (client 1, key 2), `decoy-rsa`,
    /// `decoy-ec`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Configured {
                owner: KeyOwner::Issuer(i),
                index,
            } => write!(f, "i{i}.{index}"),
            Self::Configured {
                owner: KeyOwner::Client(i),
                index,
            } => write!(f, "c{i}.{index}"),
            Self::Decoy(KeyType::Rsa) => f.write_str("decoy-rsa"),
            Self::Decoy(KeyType::EcP256) => f.write_str("decoy-ec"),
        }
    }
}

impl KeyRef {
    /// Parses the id [`fmt::Display`] writes.
    pub fn parse(id: &str) -> Option<Self> {
        match id {
            "decoy-rsa" => return Some(Self::Decoy(KeyType::Rsa)),
            "decoy-ec" => return Some(Self::Decoy(KeyType::EcP256)),
            _ => {}
        }
        let (kind, rest) = id.split_at_checked(1)?;
        let (owner, index) = rest.split_once('.')?;
        let owner: usize = owner.parse().ok()?;
        let index = index.parse().ok()?;
        let owner = match kind {
            "i" => KeyOwner::Issuer(owner),
            "c" => KeyOwner::Client(owner),
            _ => return None,
        };
        Some(Self::Configured { owner, index })
    }
}

/// One signature the core needs checked: does `signature` over `message`
/// verify under `alg` with one of `keys` (tried in order)?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The algorithm (already allowed by policy and fitting every candidate).
    pub alg: Algorithm,
    /// Candidate keys in the order to try them; never empty.
    pub keys: Vec<KeyRef>,
    /// The signed bytes (JWS signing input, or canonical `SignedInfo`).
    pub message: Vec<u8>,
    /// The signature in its wire form (RSA octets; ECDSA `r‖s`).
    pub signature: Vec<u8>,
}

impl SignatureCheck {
    /// A check over `candidates`, or over the decoy of `alg`'s key type
    /// when there are none.
    pub(crate) fn new(
        alg: Algorithm,
        candidates: impl IntoIterator<Item = KeyRef>,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> Self {
        let mut keys: Vec<KeyRef> = candidates.into_iter().collect();
        if keys.is_empty() {
            keys.push(KeyRef::Decoy(alg.key_type()));
        }
        Self {
            alg,
            keys,
            message,
            signature,
        }
    }
}

/// The public key a [`KeyRef`] names in `config`.
pub fn key_for(config: &Config, key: KeyRef) -> Option<&PublicKey> {
    match key {
        KeyRef::Decoy(kind) => Some(decoy_key(kind)),
        KeyRef::Configured {
            owner: KeyOwner::Issuer(i),
            index,
        } => config.issuers.get(i)?.keys.get(index).map(|k| k.key()),
        KeyRef::Configured {
            owner: KeyOwner::Client(i),
            index,
        } => config.clients.get(i)?.keys.get(index).map(|k| k.key()),
    }
}

/// Every key a [`SignatureCheck`] can name — each configured key with the
/// algorithms its owner may use with it (an issuer's allow-list, every
/// fitting algorithm for a client), and the two decoys — so a host can
/// import them all up front: no request then pays (and shows, by its timing)
/// the first import of a key.
pub fn all_keys(config: &Config) -> Vec<(KeyRef, Vec<Algorithm>)> {
    let fitting = |key: &crate::jose::Jwk, allowed: &[Algorithm]| -> Vec<Algorithm> {
        allowed
            .iter()
            .copied()
            .filter(|a| key.accepts(*a))
            .collect()
    };
    let mut out = Vec::new();
    for (i, issuer) in config.issuers.iter().enumerate() {
        for (index, key) in issuer.keys.iter().enumerate() {
            let owner = KeyOwner::Issuer(i);
            out.push((
                KeyRef::Configured { owner, index },
                fitting(key, &issuer.algorithms),
            ));
        }
    }
    for (i, client) in config.clients.iter().enumerate() {
        for (index, key) in client.keys.iter().enumerate() {
            let owner = KeyOwner::Client(i);
            out.push((
                KeyRef::Configured { owner, index },
                fitting(key, &Algorithm::ALL),
            ));
        }
    }
    let (rsa, ec): (Vec<Algorithm>, Vec<Algorithm>) = Algorithm::ALL
        .into_iter()
        .partition(|a| a.key_type() == KeyType::Rsa);
    out.push((KeyRef::Decoy(KeyType::Rsa), rsa));
    out.push((KeyRef::Decoy(KeyType::EcP256), ec));
    out
}

/// Answers [`SignatureCheck`]s.
pub trait SignatureBackend {
    /// Whether `check.signature` verifies with one of its keys.
    fn verify(&self, config: &Config, check: &SignatureCheck) -> bool;
}

/// The pure-Rust backend (feature `rust-crypto`): the one loop over
/// candidate keys.
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Clone, Copy, Default)]
pub struct RustBackend;

#[cfg(feature = "rust-crypto")]
impl SignatureBackend for RustBackend {
    fn verify(&self, config: &Config, check: &SignatureCheck) -> bool {
        verify_with(check, |r| key_for(config, r))
    }
}

/// The one loop over candidate keys (pure Rust): the first key that
/// verifies answers `true`; a key `lookup` cannot find fails.
#[cfg(feature = "rust-crypto")]
pub(crate) fn verify_with<'k>(
    check: &SignatureCheck,
    lookup: impl Fn(KeyRef) -> Option<&'k PublicKey>,
) -> bool {
    check.keys.iter().any(|&r| {
        lookup(r).is_some_and(|key| {
            super::verify(check.alg, key, &check.message, &check.signature).is_ok()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_round_trip() {
        for r in [
            KeyRef::Configured {
                owner: KeyOwner::Issuer(3),
                index: 0,
            },
            KeyRef::Configured {
                owner: KeyOwner::Client(12),
                index: 31,
            },
            KeyRef::Decoy(KeyType::Rsa),
            KeyRef::Decoy(KeyType::EcP256),
        ] {
            assert_eq!(KeyRef::parse(&r.to_string()), Some(r));
        }
        for bad in ["", "i", "i3", "x3.0", "i-1.0", "i3.", "i3.0.1", "décoy"] {
            assert_eq!(KeyRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_check_without_candidates_gets_the_decoy() {
        let c = SignatureCheck::new(Algorithm::PS256, [], vec![], vec![]);
        assert_eq!(c.keys, [KeyRef::Decoy(KeyType::Rsa)]);
    }
}
