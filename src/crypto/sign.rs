//! ES256 access-token signing in the core (feature `rust-crypto`): native
//! Rust hosts, tests and the ephemeral demo key. JS hosts sign with a
//! non-extractable WebCrypto key instead, and this module is not in their
//! build.

use p256::ecdsa::signature::Signer as _;
use std::fmt;

use super::{KeyError, PublicKey, ec_thumbprint};

/// An ES256 signing key for access tokens, with its key id.
#[derive(Clone)]
pub struct SigningKey {
    key: p256::ecdsa::SigningKey,
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its 32-byte private scalar `d`. If `kid` is `None`, the
    /// RFC 7638 JWK thumbprint becomes the key id.
    pub fn from_scalar(d: &[u8], kid: Option<String>) -> Result<Self, KeyError> {
        if d.len() != 32 {
            return Err(KeyError::BadPrivateScalar);
        }
        let key = p256::ecdsa::SigningKey::from_slice(d).map_err(|_| KeyError::BadPrivateScalar)?;
        let mut out = Self {
            key,
            kid: String::new(),
        };
        out.kid = kid.unwrap_or_else(|| out.thumbprint());
        Ok(out)
    }

    /// A fresh random key from the platform's CSPRNG (`crypto.getRandomValues`
    /// in wasm). Fails only if the platform has no randomness.
    pub fn generate(kid: Option<String>) -> Result<Self, getrandom::Error> {
        loop {
            let mut d = [0u8; 32];
            getrandom::fill(&mut d)?;
            // A uniformly random 32-byte string is a valid scalar except with
            // probability ~2^-32; draw again in that case.
            if let Ok(key) = Self::from_scalar(&d, kid.clone()) {
                return Ok(key);
            }
        }
    }

    /// The key id published in the JWKS and the access-token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public point's affine coordinates `(x, y)`, 32 bytes each.
    pub fn public_coordinates(&self) -> ([u8; 32], [u8; 32]) {
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        // An uncompressed SEC1 point of P-256 is 0x04 ‖ x ‖ y (65 bytes).
        x.copy_from_slice(&bytes[1..33]);
        y.copy_from_slice(&bytes[33..65]);
        (x, y)
    }

    /// The private scalar (for exporting a generated key as a JWK).
    pub fn private_scalar(&self) -> [u8; 32] {
        self.key.to_bytes().into()
    }

    /// The public key, for verifying what this key signed.
    pub fn public_key(&self) -> PublicKey {
        let (x, y) = self.public_coordinates();
        // The point of a valid private key is always on the curve.
        PublicKey::p256(&x, &y).expect("a signing key's public point is valid")
    }

    /// Signs `message` with ES256 (deterministic nonces, RFC 6979), returning
    /// the 64-byte `r‖s` form JWS uses.
    pub fn sign_es256(&self, message: &[u8]) -> [u8; 64] {
        let sig: p256::ecdsa::Signature = self.key.sign(message);
        sig.to_bytes().into()
    }

    /// The RFC 7638 thumbprint of the public key, base64url.
    pub fn thumbprint(&self) -> String {
        let (x, y) = self.public_coordinates();
        ec_thumbprint(&x, &y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, SignatureError, verify};

    #[test]
    fn es256_round_trip_and_malleated_forms() {
        let key = SigningKey::from_scalar(&[7u8; 32], Some("k".into())).unwrap();
        let public = key.public_key();
        let sig = key.sign_es256(b"msg");
        assert_eq!(verify(Algorithm::ES256, &public, b"msg", &sig), Ok(()));
        assert_eq!(
            verify(Algorithm::ES256, &public, b"msh", &sig),
            Err(SignatureError)
        );
        // Zero r or s, wrong lengths: rejected before any curve arithmetic.
        let mut zero_r = sig;
        zero_r[..32].fill(0);
        assert!(verify(Algorithm::ES256, &public, b"msg", &zero_r).is_err());
        assert!(verify(Algorithm::ES256, &public, b"msg", &sig[..63]).is_err());
        // A P-256 key is never usable with an RSA algorithm.
        assert!(verify(Algorithm::RS256, &public, b"msg", &sig).is_err());
    }

    #[test]
    fn private_scalar_range() {
        assert!(SigningKey::from_scalar(&[0u8; 32], None).is_err());
        assert!(SigningKey::from_scalar(&[0xffu8; 32], None).is_err());
        assert!(SigningKey::from_scalar(&[1u8; 31], None).is_err());
    }

    #[test]
    fn the_public_key_is_the_signers() {
        let key = SigningKey::from_scalar(&[9u8; 32], None).unwrap();
        let (x, y) = key.public_coordinates();
        assert!(key.public_key().same_key(&PublicKey::p256(&x, &y).unwrap()));
    }
}
