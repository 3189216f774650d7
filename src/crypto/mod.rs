//! The crypto seam: every asymmetric operation in the product goes through
//! [`verify`] and [`SigningKey::sign_es256`], and nowhere else.
//!
//! The backend is pure Rust (RustCrypto `rsa`, `p256`, `sha2`). Keeping the
//! surface this narrow means a later WebCrypto backend (DESIGN.md, "crypto
//! seam") replaces one module.
//!
//! There is deliberately **no RSA private-key operation** in this crate:
//! access tokens are signed with ES256 only (RUSTSEC-2023-0071 concerns RSA
//! decryption/signing timing, which no code path here performs).

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use rsa::{BoxedUint, Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::digest::{FixedOutputReset, const_oid::AssociatedOid};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;

use crate::limits::{MAX_RSA_BITS, MIN_RSA_BITS};

pub mod seam;

/// A signature algorithm, named as JOSE names it (RFC 7518 §3.1). XML-DSig
/// method URIs map onto the same values (`rsa-sha256` ≙ `RS256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt length 32 (RFC 7518 §3.5).
    PS256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, salt length 48.
    PS384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, salt length 64.
    PS512,
    /// ECDSA on P-256 with SHA-256; signatures are 64-byte `r‖s` (RFC 7518 §3.4).
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (XML-DSig `rsa-sha1`). Broken hash:
    /// only for SAML issuers that opt in with `allow_sha1`. Deliberately not
    /// in [`Algorithm::ALL`], so no JOSE name ever selects it ("RS1" is
    /// registered as prohibited for JOSE, RFC 8812).
    RS1,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 7] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
    ];

    /// Looks an algorithm up by its JOSE name. `none`, HMAC, `RS1` and
    /// anything unknown yield `None` (RFC 8725 §3.1, §3.2).
    pub fn from_jose(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_jose() == name)
    }

    /// The JOSE name (`"RS256"`, …).
    pub fn as_jose(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::RS1 => "RS1",
        }
    }

    /// The kind of key this algorithm needs.
    pub fn key_type(self) -> KeyType {
        match self {
            Self::ES256 => KeyType::EcP256,
            _ => KeyType::Rsa,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_jose())
    }
}

/// The kind of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA, 2048–8192 bits.
    Rsa,
    /// ECDSA on NIST P-256.
    EcP256,
}

/// Why key material was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// RSA modulus shorter than [`MIN_RSA_BITS`].
    RsaTooSmall(usize),
    /// RSA modulus longer than [`MAX_RSA_BITS`].
    RsaTooLarge(usize),
    /// RSA modulus or exponent malformed (leading zero octets, even, …).
    RsaMalformed,
    /// EC coordinates are not 32 bytes or not a point on P-256.
    NotOnCurve,
    /// A private scalar is zero or not below the group order.
    BadPrivateScalar,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RsaTooSmall(bits) => {
                write!(
                    f,
                    "RSA key of {bits} bits is below the {MIN_RSA_BITS}-bit minimum"
                )
            }
            Self::RsaTooLarge(bits) => {
                write!(
                    f,
                    "RSA key of {bits} bits is above the {MAX_RSA_BITS}-bit maximum"
                )
            }
            Self::RsaMalformed => f.write_str("not a valid RSA public key"),
            Self::NotOnCurve => f.write_str("not a P-256 point"),
            Self::BadPrivateScalar => f.write_str("not a valid P-256 private key"),
        }
    }
}

/// A verification key from configuration (never from an assertion).
#[derive(Clone)]
pub struct PublicKey(KeyInner);

#[derive(Clone)]
enum KeyInner {
    Rsa(Box<RsaPublicKey>),
    P256(p256::ecdsa::VerifyingKey),
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            KeyInner::Rsa(k) => write!(f, "PublicKey::Rsa({} bits)", k_bits(k)),
            KeyInner::P256(_) => f.write_str("PublicKey::P256"),
        }
    }
}

fn k_bits(k: &RsaPublicKey) -> usize {
    use rsa::traits::PublicKeyParts as _;
    k.n().bits_vartime() as usize
}

impl PublicKey {
    /// An RSA key from its big-endian modulus and exponent, both without
    /// leading zero octets (RFC 7518 §6.3.1). The modulus must be
    /// 2048–8192 bits and the exponent odd and at least 3.
    pub fn rsa(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        if n.first().is_none_or(|&b| b == 0) || e.first().is_none_or(|&b| b == 0) || e.len() > 8 {
            return Err(KeyError::RsaMalformed);
        }
        let bits = n.len() * 8 - n[0].leading_zeros() as usize;
        if bits < MIN_RSA_BITS {
            return Err(KeyError::RsaTooSmall(bits));
        }
        if bits > MAX_RSA_BITS {
            return Err(KeyError::RsaTooLarge(bits));
        }
        if e.last().is_some_and(|&b| b & 1 == 0) || (e.len() == 1 && e[0] < 3) {
            return Err(KeyError::RsaMalformed);
        }
        let n = BoxedUint::from_be_slice_vartime(n);
        let e = BoxedUint::from_be_slice_vartime(e);
        let key = RsaPublicKey::new_with_size_limits(n, e, MIN_RSA_BITS..=MAX_RSA_BITS)
            .map_err(|_| KeyError::RsaMalformed)?;
        Ok(Self(KeyInner::Rsa(Box::new(key))))
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
        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
            .map(|k| Self(KeyInner::P256(k)))
            .map_err(|_| KeyError::NotOnCurve)
    }

    /// A P-256 key from a SEC1 point (uncompressed or compressed), as an
    /// X.509 SubjectPublicKeyInfo carries it.
    pub fn p256_sec1(point: &[u8]) -> Result<Self, KeyError> {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
            .map(|k| Self(KeyInner::P256(k)))
            .map_err(|_| KeyError::NotOnCurve)
    }

    /// The kind of this key.
    pub fn key_type(&self) -> KeyType {
        match self.0 {
            KeyInner::Rsa(_) => KeyType::Rsa,
            KeyInner::P256(_) => KeyType::EcP256,
        }
    }
}

/// A message digest algorithm (XML-DSig `DigestMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// SHA-1: only where an issuer opts in with `allow_sha1`.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// Hashes `data`.
pub fn digest(alg: DigestAlgorithm, data: &[u8]) -> Vec<u8> {
    match alg {
        DigestAlgorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
        DigestAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
        DigestAlgorithm::Sha384 => Sha384::digest(data).to_vec(),
        DigestAlgorithm::Sha512 => Sha512::digest(data).to_vec(),
    }
}

/// A public key of type `kind` whose private key was discarded when it was
/// made (a throwaway key generated once with Python `cryptography`): a
/// verification against it always fails. Used to make refusals that find
/// no candidate key (unknown client, unknown `kid`) cost one signature
/// operation like refusals that do.
pub(crate) fn decoy_key(kind: KeyType) -> &'static PublicKey {
    use std::sync::OnceLock;
    static RSA: OnceLock<PublicKey> = OnceLock::new();
    static P256: OnceLock<PublicKey> = OnceLock::new();
    let decode = |s: &str| crate::encoding::b64url_decode(s).unwrap_or_default();
    match kind {
        KeyType::Rsa => RSA.get_or_init(|| {
            PublicKey::rsa(&decode(DECOY_RSA_N), &[1, 0, 1]).expect("the decoy RSA key is valid")
        }),
        KeyType::EcP256 => P256.get_or_init(|| {
            PublicKey::p256(&decode(DECOY_P256_X), &decode(DECOY_P256_Y))
                .expect("the decoy P-256 point is on the curve")
        }),
    }
}

const DECOY_P256_X: &str = "j__InywoaXYLEaVewQCVrKLWEBQd044Yu4f2XfaWTL4";
const DECOY_P256_Y: &str = "AWlkt5jY7tBK7K7jSRp8zF2gCq57Ez3EnO_6p8n0gXk";
const DECOY_RSA_N: &str = "uNcNVMUvxZDN-p_QDWgv3u59Zsklu_GzWZS7KxcwPEwzaytMspzI5PZzWjnzN887ESoameI2Y1PfOt7qgfcuQ-kHDI50yxyjkDTP1pxDRLD7xcCTKONOfMU_nlS3IFQT-qGrwWZV6xwXhKoC04Iw4T43FlxtEA6U5pW2XxYcI7U-8aevyYPklPqJo-gbDWDoAWfNS2GdJWn1bFhl-7oW82wLffPQfbnCZDRY6aBxC_VfU0JNST48hM8V-EOomoDoFtL7Nb9DnhcJ7K0UXkK-A83LV--0Np6oUxDlyau8R2SK7ubLKCGGej8_NKJYifmPhZMx45-D_ySFI6VNEgdrdw";

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
    match (&key.0, alg) {
        (KeyInner::P256(k), Algorithm::ES256) => {
            let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| SignatureError)?;
            k.verify(message, &sig).map_err(|_| SignatureError)
        }
        (KeyInner::Rsa(k), Algorithm::RS1) => rsa_pkcs1::<sha1::Sha1>(k, message, signature),
        (KeyInner::Rsa(k), Algorithm::RS256) => rsa_pkcs1::<Sha256>(k, message, signature),
        (KeyInner::Rsa(k), Algorithm::RS384) => rsa_pkcs1::<Sha384>(k, message, signature),
        (KeyInner::Rsa(k), Algorithm::RS512) => rsa_pkcs1::<Sha512>(k, message, signature),
        (KeyInner::Rsa(k), Algorithm::PS256) => rsa_pss::<Sha256>(k, message, signature),
        (KeyInner::Rsa(k), Algorithm::PS384) => rsa_pss::<Sha384>(k, message, signature),
        (KeyInner::Rsa(k), Algorithm::PS512) => rsa_pss::<Sha512>(k, message, signature),
        _ => Err(SignatureError),
    }
}

fn rsa_pkcs1<D>(key: &RsaPublicKey, message: &[u8], signature: &[u8]) -> Result<(), SignatureError>
where
    D: Digest + AssociatedOid,
{
    if signature.len() != rsa_len(key) {
        return Err(SignatureError);
    }
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
    if signature.len() != rsa_len(key) {
        return Err(SignatureError);
    }
    let hashed = D::digest(message);
    key.verify(Pss::<D>::new(), &hashed, signature)
        .map_err(|_| SignatureError)
}

fn rsa_len(key: &RsaPublicKey) -> usize {
    k_bits(key).div_ceil(8)
}

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
        PublicKey(KeyInner::P256(*self.key.verifying_key()))
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

/// The RFC 7638 thumbprint of the P-256 point `(x, y)`, base64url.
pub fn ec_thumbprint(x: &[u8; 32], y: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        crate::encoding::b64url_encode(x),
        crate::encoding::b64url_encode(y)
    );
    crate::encoding::b64url_encode(&Sha256::digest(canonical.as_bytes()))
}

impl PublicKey {
    /// The key's public members as a JWK (`kty` and `n`, `e`, or `crv`,
    /// `x`, `y`), without `kid` or `alg`: what a WebCrypto host imports.
    pub fn to_jwk(&self) -> serde_json::Value {
        use crate::encoding::b64url_encode;
        match &self.0 {
            KeyInner::Rsa(k) => {
                use rsa::traits::PublicKeyParts as _;
                let strip = |b: Vec<u8>| {
                    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
                    b[start..].to_vec()
                };
                serde_json::json!({
                    "kty": "RSA",
                    "n": b64url_encode(&strip(k.n().to_be_bytes().to_vec())),
                    "e": b64url_encode(&strip(k.e().to_be_bytes().to_vec())),
                })
            }
            KeyInner::P256(k) => {
                let point = k.to_sec1_point(false);
                let bytes = point.as_bytes();
                serde_json::json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64url_encode(&bytes[1..33]),
                    "y": b64url_encode(&bytes[33..65]),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            PublicKey::rsa(&n, &[0, 1, 0, 1]).unwrap_err(),
            KeyError::RsaMalformed
        );
        assert_eq!(
            PublicKey::rsa(&n, &[2]).unwrap_err(),
            KeyError::RsaMalformed
        );
        assert_eq!(
            PublicKey::rsa(&n, &[1]).unwrap_err(),
            KeyError::RsaMalformed
        );
        assert!(PublicKey::rsa(&n, &[1, 0, 1]).is_ok());
    }

    #[test]
    fn p256_point_must_be_on_curve() {
        let key = SigningKey::from_scalar(&[9u8; 32], None).unwrap();
        let (x, mut y) = key.public_coordinates();
        assert!(PublicKey::p256(&x, &y).is_ok());
        y[31] ^= 1;
        assert_eq!(PublicKey::p256(&x, &y).unwrap_err(), KeyError::NotOnCurve);
        assert_eq!(
            PublicKey::p256(&x[..31], &y).unwrap_err(),
            KeyError::NotOnCurve
        );
    }

    #[test]
    fn private_scalar_range() {
        assert!(SigningKey::from_scalar(&[0u8; 32], None).is_err());
        assert!(SigningKey::from_scalar(&[0xffu8; 32], None).is_err());
        assert!(SigningKey::from_scalar(&[1u8; 31], None).is_err());
    }
}
