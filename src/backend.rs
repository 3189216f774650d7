//! Answering the core's signature checks ([`SignatureCheck`]): key
//! references resolved against the configuration, every key a host may
//! import up front, and the [`SignatureBackend`]s. The checks themselves —
//! data, no configuration — are [`crate::crypto::seam`].

use std::borrow::Cow;

use crate::config::Config;
#[cfg(feature = "rust-crypto")]
use crate::crypto::seam::verify_with;
use crate::crypto::seam::{KeyOwner, KeyRef, SignatureCheck};
use crate::crypto::{Algorithm, KeyType, PublicKey, decoy_key};

/// Resolves the [`KeyRef`]s of a [`SignatureCheck`] to keys: the
/// configuration resolves configured keys and decoys; an endpoint also its
/// fetched key sets.
pub trait KeyLookup {
    /// The public key `key` names, if it still exists.
    fn public_key(&self, key: KeyRef) -> Option<Cow<'_, PublicKey>>;
}

impl KeyLookup for Config {
    fn public_key(&self, key: KeyRef) -> Option<Cow<'_, PublicKey>> {
        key_for(self, key).map(Cow::Borrowed)
    }
}

/// The public key a [`KeyRef`] names in `config` (never a fetched key:
/// those live in an endpoint's key-set cache).
pub fn key_for(config: &Config, key: KeyRef) -> Option<&PublicKey> {
    match key {
        KeyRef::Decoy(kind) => Some(decoy_key(kind)),
        KeyRef::Fetched { .. } | KeyRef::Proof | KeyRef::Own(_) => None,
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
    /// Whether `check.signature` verifies with one of its keys, as `keys`
    /// resolves them.
    fn verify(&self, keys: &dyn KeyLookup, check: &SignatureCheck) -> bool;
}

/// The pure-Rust backend (feature `rust-crypto`): the one loop over
/// candidate keys.
#[cfg(feature = "rust-crypto")]
#[derive(Debug, Clone, Copy, Default)]
pub struct RustBackend;

#[cfg(feature = "rust-crypto")]
impl SignatureBackend for RustBackend {
    fn verify(&self, keys: &dyn KeyLookup, check: &SignatureCheck) -> bool {
        verify_with(check, |r| keys.public_key(r))
    }
}
