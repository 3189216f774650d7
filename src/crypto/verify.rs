//! The pure-Rust signature backend (feature `rust-crypto`): RustCrypto
//! `rsa` (verification only) and `p256`.

use p256::ecdsa::signature::Verifier as _;
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::digest::{FixedOutputReset, const_oid::AssociatedOid};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;

use super::keys::Parsed;
use super::{Algorithm, PublicKey};

/// A signature did not verify. Deliberately opaque: callers learn nothing
/// about *why* (wrong key, malformed encoding, bad padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureError;

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("signature verification failed")
    }
}

/// Verifies `signature` over `message` with `key` under `alg`.
///
/// `signature` is in the JOSE / XML-DSig wire form: the RSA signature octets
/// (exactly the modulus length), or a 64-byte ECDSA `r‖s` with both values in
/// `[1, n-1]` (DER is refused). A key of the wrong type for `alg` fails.
pub fn verify(
    alg: Algorithm,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    crate::probe::signature_check();
    if key.rsa_len().is_some_and(|len| signature.len() != len) {
        return Err(SignatureError);
    }
    match (&key.parsed, alg) {
        (Parsed::P256(k), Algorithm::ES256) => {
            let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| SignatureError)?;
            k.verify(message, &sig).map_err(|_| SignatureError)
        }
        (Parsed::Rsa(k), Algorithm::RS1) => rsa_pkcs1::<sha1::Sha1>(k, message, signature),
        (Parsed::Rsa(k), Algorithm::RS256) => rsa_pkcs1::<Sha256>(k, message, signature),
        (Parsed::Rsa(k), Algorithm::RS384) => rsa_pkcs1::<Sha384>(k, message, signature),
        (Parsed::Rsa(k), Algorithm::RS512) => rsa_pkcs1::<Sha512>(k, message, signature),
        (Parsed::Rsa(k), Algorithm::PS256) => rsa_pss::<Sha256>(k, message, signature),
        (Parsed::Rsa(k), Algorithm::PS384) => rsa_pss::<Sha384>(k, message, signature),
        (Parsed::Rsa(k), Algorithm::PS512) => rsa_pss::<Sha512>(k, message, signature),
        _ => Err(SignatureError),
    }
}

fn rsa_pkcs1<D>(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> Result<(), SignatureError>
where
    D: Digest + AssociatedOid,
{
    let hashed = D::digest(message);
    key.verify(Pkcs1v15Sign::new::<D>(), &hashed, signature)
        .map_err(|_| SignatureError)
}

/// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash
/// output, as RFC 7518 §3.5 requires (other salt lengths are refused).
fn rsa_pss<D>(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> Result<(), SignatureError>
where
    D: Digest + FixedOutputReset,
{
    let hashed = D::digest(message);
    key.verify(Pss::<D>::new(), &hashed, signature)
        .map_err(|_| SignatureError)
}
