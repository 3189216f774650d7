//! Verification keys from X.509 certificates (SAML metadata's
//! `<X509Certificate>`, or PEM), parsed with RustCrypto's `x509-cert`.
//!
//! Only the SubjectPublicKeyInfo is used. The certificate's own signature,
//! validity dates and extensions are deliberately not checked: trust comes
//! from the configuration that names this certificate for this issuer (as
//! SAML metadata does), and IdP signing certificates are commonly
//! self-signed and long expired.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::{Decode, oid::ObjectIdentifier};
use x509_cert::Certificate;

use crate::crypto::PublicKey;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Largest certificate accepted, in bytes of DER.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// The public key of a certificate given as PEM or as base64 DER (line
/// breaks and spaces allowed, as metadata wraps it). RSA keys must be
/// 2048–8192 bits; EC keys must be on P-256.
pub fn public_key_from_certificate(text: &str) -> Result<PublicKey, String> {
    public_key_from_der(&certificate_der(text)?)
}

/// The public key of a DER certificate (see [`public_key_from_certificate`]).
pub(crate) fn public_key_from_der(der: &[u8]) -> Result<PublicKey, String> {
    let cert = Certificate::from_der(der).map_err(|_| "not a DER X.509 certificate".to_owned())?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    let key_bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| "malformed subjectPublicKey".to_owned())?;
    if spki.algorithm.oid == RSA_ENCRYPTION {
        let rsa = pkcs1::RsaPublicKeyRef::from_der(key_bits)
            .map_err(|_| "malformed RSA public key".to_owned())?;
        PublicKey::rsa(rsa.modulus.as_bytes(), rsa.public_exponent.as_bytes())
            .map_err(|e| e.to_string())
    } else if spki.algorithm.oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if curve != Some(PRIME256V1) {
            return Err("EC certificates must use P-256".to_owned());
        }
        PublicKey::p256_sec1(key_bits).map_err(|e| e.to_string())
    } else {
        Err("the certificate's key is neither RSA nor EC P-256".to_owned())
    }
}

/// The DER bytes of a PEM or base64 certificate.
pub(crate) fn certificate_der(text: &str) -> Result<Vec<u8>, String> {
    let body = match text.trim().strip_prefix("-----BEGIN CERTIFICATE-----") {
        Some(rest) => rest
            .trim_end()
            .strip_suffix("-----END CERTIFICATE-----")
            .ok_or_else(|| "PEM certificate without its END line".to_owned())?,
        None => text,
    };
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() > MAX_CERTIFICATE_BYTES.div_ceil(3) * 4 {
        return Err("certificate is too large".to_owned());
    }
    STANDARD
        .decode(compact)
        .map_err(|_| "not base64 (or PEM)".to_owned())
}

/// What decides whether a certificate listed in metadata is a chain
/// certificate rather than a signing certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaFacts {
    /// basicConstraints cA=TRUE.
    pub ca: bool,
    /// Issuer name = subject name.
    pub self_issued: bool,
    subject: x509_cert::name::Name,
    issuer: x509_cert::name::Name,
}

impl CaFacts {
    /// Whether this certificate's subject issued `other` (a different
    /// certificate).
    pub fn issued(&self, other: &CaFacts) -> bool {
        !other.self_issued && other.issuer == self.subject
    }
}

/// The CA facts of a DER certificate (None if it does not parse).
/// Metadata sometimes lists the CA that issued the signing certificate
/// beside it; that key signs certificates, not assertions, and must not
/// become a signing key. But a self-issued certificate with cA=TRUE is
/// also what `openssl req -x509` makes by default and what many IdPs sign
/// with, so the rule (applied by the metadata reader) is: skip a CA
/// certificate that is not self-issued, or that issued another certificate
/// listed beside it; keep a self-issued one that issued none.
pub(crate) fn ca_facts(der: &[u8]) -> Option<CaFacts> {
    use x509_cert::ext::pkix::BasicConstraints;
    let cert = Certificate::from_der(der).ok()?;
    let tbs = cert.tbs_certificate();
    let ca = matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca);
    Some(CaFacts {
        ca,
        self_issued: tbs.issuer() == tbs.subject(),
        subject: tbs.subject().clone(),
        issuer: tbs.issuer().clone(),
    })
}
