//! The crypto seam (DESIGN.md, "The seam: the core asks, the host
//! answers"), in its parts:
//!
//! - [`keys`]: verification keys from configuration (JWK members, X.509
//!   SubjectPublicKeyInfo), validated at load;
//! - [`seam`]: signature work as data — validation produces
//!   [`seam::SignatureCheck`]s and continues from the host's answer;
//! - `verify` (feature `rust-crypto`): the pure-Rust backend that answers
//!   them (RustCrypto `rsa`, `p256`);
//! - `sign` (feature `rust-crypto`): ES256 access-token signing in the core.
//!
//! Without `rust-crypto` (the build the JS hosts ship) the module carries no
//! big-integer or curve-signature code: the runtime's WebCrypto verifies and
//! signs. There is deliberately **no RSA private-key operation** anywhere:
//! access tokens are signed with ES256 only (RUSTSEC-2023-0071 concerns RSA
//! decryption/signing timing, which no code path here performs).

use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt;

use crate::limits::{MAX_RSA_BITS, MIN_RSA_BITS};

pub mod keys;
pub mod seam;
#[cfg(feature = "rust-crypto")]
mod sign;
#[cfg(feature = "rust-crypto")]
mod verify;

pub use keys::PublicKey;
#[cfg(feature = "rust-crypto")]
pub use sign::SigningKey;
#[cfg(feature = "rust-crypto")]
pub use verify::{SignatureError, verify};

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

/// The RFC 7638 thumbprint of the P-256 point `(x, y)`, base64url.
pub fn ec_thumbprint(x: &[u8; 32], y: &[u8; 32]) -> String {
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        crate::encoding::b64url_encode(x),
        crate::encoding::b64url_encode(y)
    );
    crate::encoding::b64url_encode(&Sha256::digest(canonical.as_bytes()))
}
