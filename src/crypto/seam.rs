//! The seam as data (DESIGN.md, "The seam: the core asks, the host
//! answers"): validation never verifies a signature itself. It describes
//! the work — a [`SignatureCheck`]: algorithm, candidate keys by reference
//! into the configuration, signed bytes, signature — and continues from the
//! host's answer. Two backends answer ([`crate::backend`], which also
//! resolves key references against the configuration):
//!
//! - `RustBackend` (feature `rust-crypto`): pure Rust (`rsa`, `p256`), synchronous; native Rust
//!   users, tests, fuzzing and benchmarks;
//! - the runtime's WebCrypto (`crypto.subtle`) on JS hosts (`js/webcrypto.js`),
//!   which imports each configured key once per endpoint.
//!
//! Both try the candidates in order and answer one boolean; a check always
//! has at least one candidate (a decoy key when no configured key fits), so
//! every refusal costs at least one signature operation.

use std::fmt;

use super::{Algorithm, KeyType, PublicKey};

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
    /// Key `index` of generation `generation` of remote key set `source`
    /// (`Config::key_sources`): generations change when the fetched keys
    /// do, so a host's key imported for an old generation is never taken
    /// for a new one.
    Fetched {
        /// The key set.
        source: usize,
        /// Its generation.
        generation: u64,
        /// The key's position in that generation.
        index: usize,
    },
    /// The decoy key of this type (its private key was never kept, so
    /// nothing verifies with it).
    Decoy(KeyType),
    /// The public key a DPoP proof carries in its own header (RFC 9449
    /// §4.2): the one key not from configuration, because the proof is a
    /// proof of possession of exactly that key. The check holds it
    /// ([`SignatureCheck::proof_key`]); it never verifies anything else.
    Proof,
    /// Access-token signing key `index` of the endpoint itself: verifying
    /// one of our own tokens (revocation, introspection).
    Own(usize),
}

impl fmt::Display for KeyRef {
    /// The stable id hosts key their imported-key tables by: `i3.0`
    /// (issuer 3, key 0), `c1.2` (client 1, key 2), `f2.5.0` (key set 2,
    /// generation 5, key 0), `decoy-rsa`, `decoy-ec`.
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
            Self::Fetched {
                source,
                generation,
                index,
            } => write!(f, "f{source}.{generation}.{index}"),
            Self::Decoy(KeyType::Rsa) => f.write_str("decoy-rsa"),
            Self::Decoy(KeyType::EcP256) => f.write_str("decoy-ec"),
            Self::Proof => f.write_str("proof"),
            Self::Own(i) => write!(f, "o{i}"),
        }
    }
}

impl KeyRef {
    /// Parses the id [`fmt::Display`] writes.
    pub fn parse(id: &str) -> Option<Self> {
        match id {
            "decoy-rsa" => return Some(Self::Decoy(KeyType::Rsa)),
            "decoy-ec" => return Some(Self::Decoy(KeyType::EcP256)),
            "proof" => return Some(Self::Proof),
            _ => {}
        }
        let (kind, rest) = id.split_at_checked(1)?;
        if kind == "o" {
            return Some(Self::Own(number(rest)?));
        }
        if kind == "f" {
            let (source, rest) = rest.split_once('.')?;
            let (generation, index) = rest.split_once('.')?;
            return Some(Self::Fetched {
                source: number(source)?,
                generation: number(generation)?,
                index: number(index)?,
            });
        }
        let (owner, index) = rest.split_once('.')?;
        let owner: usize = number(owner)?;
        let index = number(index)?;
        let owner = match kind {
            "i" => KeyOwner::Issuer(owner),
            "c" => KeyOwner::Client(owner),
            _ => return None,
        };
        Some(Self::Configured { owner, index })
    }
}

/// A decimal number as [`fmt::Display`] writes it: digits only, no sign.
fn number<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
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
    /// The key [`KeyRef::Proof`] names: a DPoP proof's own public key
    /// (then the only candidate); `None` for every other check.
    pub proof_key: Option<PublicKey>,
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
            proof_key: None,
        }
    }

    /// A DPoP proof's check: its signature under the key its header
    /// carries, and nothing else.
    pub(crate) fn proof(
        alg: Algorithm,
        key: PublicKey,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> Self {
        Self {
            alg,
            keys: vec![KeyRef::Proof],
            message,
            signature,
            proof_key: Some(key),
        }
    }
}

/// The one loop over candidate keys (pure Rust): the first key that
/// verifies answers `true`; a key `lookup` cannot find fails.
#[cfg(feature = "rust-crypto")]
pub(crate) fn verify_with<'k>(
    check: &SignatureCheck,
    lookup: impl Fn(KeyRef) -> Option<std::borrow::Cow<'k, PublicKey>>,
) -> bool {
    check.keys.iter().any(|&r| {
        let key = match r {
            KeyRef::Proof => check.proof_key.clone().map(std::borrow::Cow::Owned),
            other => lookup(other),
        };
        key.is_some_and(|key| {
            super::verify(check.alg, &key, &check.message, &check.signature).is_ok()
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
            KeyRef::Fetched {
                source: 2,
                generation: 5,
                index: 0,
            },
            KeyRef::Decoy(KeyType::Rsa),
            KeyRef::Decoy(KeyType::EcP256),
            KeyRef::Proof,
            KeyRef::Own(2),
        ] {
            assert_eq!(KeyRef::parse(&r.to_string()), Some(r));
        }
        for bad in [
            "", "i", "i3", "x3.0", "i-1.0", "i3.", "i3.0.1", "décoy", "f1.2", "f1.2.3.4",
            "f+1.2.3", "i+3.0",
        ] {
            assert_eq!(KeyRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_check_without_candidates_gets_the_decoy() {
        let c = SignatureCheck::new(Algorithm::PS256, [], vec![], vec![]);
        assert_eq!(c.keys, [KeyRef::Decoy(KeyType::Rsa)]);
    }
}
