//! JOSE: compact JWS (RFC 7515), JWK / JWK Set (RFC 7517) and JWT claims
//! (RFC 7519), hardened per RFC 8725.

mod claims;
mod jwk;
mod jws;

pub use claims::Claims;
#[cfg(feature = "rust-crypto")]
pub use jwk::parse_private_jwk;
pub use jwk::{
    FetchedView, Jwk, JwkError, KeyView, parse_jwk_set, parse_public_jwk, parse_public_signing_jwk,
};
pub use jws::{UnverifiedJws, parse};

use std::fmt;

use crate::json::JsonError;
use crate::reason::Reason;

/// The `typ` of a client assertion (draft-ietf-oauth-rfc7523bis §4):
/// accepted for client authentication, refused as an authorization grant.
pub const TYP_CLIENT_AUTHENTICATION: &str = "client-authentication+jwt";

/// Why a JWS or its claims were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoseError {
    /// Longer than [`crate::limits::MAX_JWT_BYTES`].
    TooLarge,
    /// Not three base64url segments, or a segment that is not strict
    /// unpadded base64url.
    Malformed,
    /// The header or payload is not a strict JSON object.
    Json(JsonError),
    /// The header has no `alg` string.
    MissingAlgorithm,
    /// `alg: none` (RFC 8725 §3.2).
    AlgorithmNone,
    /// HMAC or an unknown algorithm (RFC 8725 §3.1).
    UnsupportedAlgorithm,
    /// The algorithm is not allowed for this issuer or client.
    AlgorithmNotAllowed,
    /// A `crit` header parameter: we implement no JWS extensions
    /// (RFC 7515 §4.1.11).
    CriticalHeader,
    /// `typ` says this is one of our own access tokens (RFC 9068 §2.1,
    /// RFC 8725 §3.11): refused as an assertion.
    AccessTokenType,
    /// `typ` says this is a client assertion
    /// ([`TYP_CLIENT_AUTHENTICATION`]): refused as an authorization grant,
    /// so a client's authentication JWT can never pass as a user's grant.
    ClientAssertionType,
    /// A JWE (five segments, or `enc` in the header).
    Encrypted,
    /// No configured key verified the signature (opaque on purpose).
    BadSignature,
    /// A registered claim has the wrong JSON type.
    ClaimType(&'static str),
    /// A header parameter has the wrong JSON type.
    HeaderType(&'static str),
}

impl JoseError {
    /// The stable reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::TooLarge => Reason::JwtTooLarge,
            Self::Malformed => Reason::JwtMalformed,
            Self::Json(_) => Reason::JwtJson,
            Self::MissingAlgorithm => Reason::JwtMissingAlg,
            Self::AlgorithmNone => Reason::JwtAlgNone,
            Self::UnsupportedAlgorithm => Reason::JwtAlgUnsupported,
            Self::AlgorithmNotAllowed => Reason::JwtAlgNotAllowed,
            Self::CriticalHeader => Reason::JwtCritical,
            Self::AccessTokenType => Reason::JwtTypAccessToken,
            Self::ClientAssertionType => Reason::JwtTypClientAssertion,
            Self::Encrypted => Reason::JwtEncrypted,
            Self::BadSignature => Reason::JwtSignatureInvalid,
            Self::ClaimType(_) => Reason::JwtClaimType,
            Self::HeaderType(_) => Reason::JwtHeaderType,
        }
    }
}

crate::reason::refusal!(JoseError);

impl fmt::Display for JoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("JWT is too large"),
            Self::Malformed => f.write_str("JWT is not a compact JWS of three base64url segments"),
            Self::Json(e) => write!(f, "JWT header or payload: {e}"),
            Self::MissingAlgorithm => f.write_str("JWT header has no alg"),
            Self::AlgorithmNone => f.write_str("unsigned JWTs (alg none) are not accepted"),
            Self::UnsupportedAlgorithm => f.write_str("JWT alg is not supported"),
            Self::AlgorithmNotAllowed => f.write_str("JWT alg is not allowed for this issuer"),
            Self::CriticalHeader => {
                f.write_str("JWT header has crit parameters this server does not understand")
            }
            Self::AccessTokenType => {
                f.write_str("access tokens (typ at+jwt) are not accepted as assertions")
            }
            Self::ClientAssertionType => f.write_str(
                "client assertions (typ client-authentication+jwt) are not accepted as grants",
            ),
            Self::Encrypted => f.write_str("encrypted JWTs are not supported"),
            Self::BadSignature => f.write_str("JWT signature is invalid"),
            Self::ClaimType(name) => write!(f, "JWT claim {name} has the wrong type"),
            Self::HeaderType(name) => write!(f, "JWT header parameter {name} has the wrong type"),
        }
    }
}

impl From<JsonError> for JoseError {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}
