//! Verification keys from configuration (never from an assertion): RSA
//! (`n`, `e`) and EC P-256 (`x`, `y`), validated when the configuration is
//! loaded. A key keeps its public members — what a WebCrypto host imports —
//! and, with the `rust-crypto` backend, the parsed key that backend
//! verifies with.

use std::fmt;

use super::{KeyError, KeyType};
use crate::encoding::b64url_encode;
use crate::limits::{MAX_RSA_BITS, MIN_RSA_BITS};

/// A verification key from configuration (never from an assertion).
#[derive(Clone)]
pub struct PublicKey {
    members: Members,
    #[cfg(feature = "rust-crypto")]
    pub(super) parsed: Parsed,
}

/// The key's public members, as RFC 7518 §6 names them.
#[derive(Clone, PartialEq, Eq)]
enum Members {
    /// Big-endian modulus and exponent, no leading zero octets.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Affine coordinates, 32 bytes each.
    P256 { x: [u8; 32], y: [u8; 32] },
}

/// The key as the pure-Rust backend uses it, parsed once at load.
#[cfg(feature = "rust-crypto")]
#[derive(Clone)]
pub(super) enum Parsed {
    Rsa(Box<rsa::RsaPublicKey>),
    P256(p256::ecdsa::VerifyingKey),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.members {
            Members::Rsa { n, .. } => write!(f, "PublicKey::Rsa({} bits)", bits(n)),
            Members::P256 { .. } => f.write_str("PublicKey::P256"),
        }
    }
}

/// The bit length of a big-endian integer without leading zero octets.
fn bits(n: &[u8]) -> usize {
    n.first()
        .map_or(0, |&b| n.len() * 8 - b.leading_zeros() as usize)
}

/// Keys are equal when their public members are.
impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.same_key(other)
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// An RSA key from its big-endian modulus and exponent, both without
    /// leading zero octets (RFC 7518 §6.3.1). The modulus must be odd and
    /// 2048–8192 bits, the exponent odd and at least 3.
    pub fn rsa(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        if n.first().is_none_or(|&b| b == 0) || e.first().is_none_or(|&b| b == 0) || e.len() > 8 {
            return Err(KeyError::RsaMalformed);
        }
        let bits = bits(n);
        if bits < MIN_RSA_BITS {
            return Err(KeyError::RsaTooSmall(bits));
        }
        if bits > MAX_RSA_BITS {
            return Err(KeyError::RsaTooLarge(bits));
        }
        let odd = |v: &[u8]| v.last().is_some_and(|&b| b & 1 == 1);
        // 3 ≤ e ≤ 2^33 − 1, odd: the bounds the `rsa` crate (and WebCrypto
        // implementations) hold to, in every build.
        let exponent = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        if !odd(e) || !(3..=(1 << 33) - 1).contains(&exponent) || !odd(n) {
            return Err(KeyError::RsaMalformed);
        }
        Ok(Self {
            #[cfg(feature = "rust-crypto")]
            parsed: {
                use rsa::BoxedUint;
                let key = rsa::RsaPublicKey::new_with_size_limits(
                    BoxedUint::from_be_slice_vartime(n),
                    BoxedUint::from_be_slice_vartime(e),
                    MIN_RSA_BITS..=MAX_RSA_BITS,
                )
                .map_err(|_| KeyError::RsaMalformed)?;
                Parsed::Rsa(Box::new(key))
            },
            members: Members::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            },
        })
    }

    /// A P-256 key from its affine coordinates (32 bytes each). Points off
    /// the curve and the identity are refused.
    pub fn p256(x: &[u8], y: &[u8]) -> Result<Self, KeyError> {
        if x.len() != 32 || y.len() != 32 {
            return Err(KeyError::NotOnCurve);
        }
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(x);
        sec1[33..].copy_from_slice(y);
        Self::p256_sec1(&sec1)
    }

    /// A P-256 key from a SEC1 point (uncompressed or compressed), as an
    /// X.509 SubjectPublicKeyInfo carries it.
    pub fn p256_sec1(point: &[u8]) -> Result<Self, KeyError> {
        // On the curve, not the identity (curve arithmetic, no signature code).
        let key = p256::PublicKey::from_sec1_bytes(point).map_err(|_| KeyError::NotOnCurve)?;
        let uncompressed = p256::elliptic_curve::sec1::ToSec1Point::to_sec1_point(&key, false);
        let bytes = uncompressed.as_bytes();
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        // An uncompressed SEC1 point of P-256 is 0x04 ‖ x ‖ y (65 bytes).
        x.copy_from_slice(&bytes[1..33]);
        y.copy_from_slice(&bytes[33..65]);
        Ok(Self {
            #[cfg(feature = "rust-crypto")]
            parsed: Parsed::P256(p256::ecdsa::VerifyingKey::from(&key)),
            members: Members::P256 { x, y },
        })
    }

    /// The kind of this key.
    pub fn key_type(&self) -> KeyType {
        match self.members {
            Members::Rsa { .. } => KeyType::Rsa,
            Members::P256 { .. } => KeyType::EcP256,
        }
    }

    /// Whether two keys are the same public key.
    pub fn same_key(&self, other: &PublicKey) -> bool {
        self.members == other.members
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): the hash of the
    /// required members in lexicographic order, no whitespace — what a
    /// DPoP-bound token's `cnf.jkt` carries (RFC 9449 §6.1).
    pub fn thumbprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let canonical = match &self.members {
            Members::Rsa { n, e } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64url_encode(e),
                b64url_encode(n)
            ),
            Members::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64url_encode(x),
                b64url_encode(y)
            ),
        };
        b64url_encode(&Sha256::digest(canonical.as_bytes()))
    }

    /// The RSA modulus length in bytes: what a signature's length must be
    /// (`None` for an EC key).
    pub fn rsa_len(&self) -> Option<usize> {
        match &self.members {
            Members::Rsa { n, .. } => Some(bits(n).div_ceil(8)),
            Members::P256 { .. } => None,
        }
    }

    /// The key's public members as a JWK (`kty` and `n`, `e`, or `crv`,
    /// `x`, `y`), without `kid` or `alg`: what a WebCrypto host imports.
    pub fn to_jwk(&self) -> serde_json::Value {
        match &self.members {
            Members::Rsa { n, e } => serde_json::json!({
                "kty": "RSA",
                "n": b64url_encode(n),
                "e": b64url_encode(e),
            }),
            Members::P256 { x, y } => serde_json::json!({
                "kty": "EC",
                "crv": "P-256",
                "x": b64url_encode(x),
                "y": b64url_encode(y),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_key_limits() {
        let mut n = vec![0xffu8; 128];
        assert_eq!(
            PublicKey::rsa(&n, &[1, 0, 1]).unwrap_err(),
            KeyError::RsaTooSmall(1024)
        );
        n = vec![0xffu8; 1025];
        assert_eq!(
            PublicKey::rsa(&n, &[1, 0, 1]).unwrap_err(),
            KeyError::RsaTooLarge(8200)
        );
        n = vec![0xffu8; 256];
        // 2^40 + 1: odd, but above the 2^33 − 1 bound.
        for bad_e in [&[0u8, 1, 0, 1][..], &[2], &[1], &[1, 0, 0, 0, 0, 1]] {
            assert_eq!(
                PublicKey::rsa(&n, bad_e).unwrap_err(),
                KeyError::RsaMalformed
            );
        }
        let mut even = n.clone();
        even[255] = 0xfe;
        assert_eq!(
            PublicKey::rsa(&even, &[1, 0, 1]).unwrap_err(),
            KeyError::RsaMalformed
        );
        let key = PublicKey::rsa(&n, &[1, 0, 1]).unwrap();
        assert_eq!(key.rsa_len(), Some(256));
        assert_eq!(key.to_jwk()["e"], "AQAB");
    }

    #[test]
    fn p256_point_must_be_on_curve() {
        // The P-256 base point.
        let x = crate::encoding::hex_decode::<32>(
            "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
        )
        .unwrap();
        let mut y = crate::encoding::hex_decode::<32>(
            "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
        )
        .unwrap();
        let key = PublicKey::p256(&x, &y).unwrap();
        assert_eq!(key.key_type(), KeyType::EcP256);
        assert!(key.same_key(&PublicKey::p256(&x, &y).unwrap()));
        y[31] ^= 1;
        assert_eq!(PublicKey::p256(&x, &y).unwrap_err(), KeyError::NotOnCurve);
        assert_eq!(
            PublicKey::p256(&x[..31], &y).unwrap_err(),
            KeyError::NotOnCurve
        );
    }
}
