//! # assertion-grant
//!
//! An OAuth 2.0 token endpoint for assertion grants: a client trades a
//! signed JWT (RFC 7523) or SAML 2.0 assertion (RFC 7522) from an identity
//! provider it trusts for an RFC 9068 JWT access token signed with ES256.
//!
//! The core is sans-I/O: it takes the request, the configuration and the
//! current time, and returns a decision. Signature checks leave the core as
//! data ([`crypto::seam::SignatureCheck`]) and come back as a yes/no, so a
//! host can answer them with WebCrypto (the npm package and the Worker) or
//! with the pure-Rust backend (feature `rust-crypto`). One request flows
//! through one module per step; [`TokenEndpoint`] (`endpoint.rs`) is the
//! spine that calls them in order:
//!
//! ```text
//! request      form body + headers → TokenRequest          (RFC 6749 §3.2, §4.5)
//! client_auth  secret, private_key_jwt, saml2_bearer, none (RFC 6749 §2.3, RFC 7521 §4.2)
//! grant::jwt   RFC 7523 §3 rules over a Verified JWT       (jose, crypto::seam)
//! grant::saml2 RFC 7522 §3 rules over a Verified assertion (xml, xmldsig, crypto::seam)
//! grant        rules both formats share: issuer, time     (RFC 7521 §5.2)
//! policy       scope ∩ allowance ∩ ceiling, claim mapping  (RFC 6749 §3.3)
//!   … the host claims the replay keys in its store …
//! token        RFC 9068 access token, ES256                (RFC 9068 §2)
//! ```
//!
//! Every refusal carries a stable [`Reason`] (the table is `docs/reasons.md`)
//! and maps to its RFC 6749 error in [`error`]. [`explain`] reports every
//! check a request went through, by the same code. The configuration
//! document is [`config::schema`]; protocol constants are in [`protocol`],
//! limits in [`limits`].
//!
//! ```
//! use assertion_grant::{Config, HttpRequest, MemoryReplayStore, TokenEndpoint};
//!
//! let config = Config::from_json(assertion_grant::DEMO_CONFIG).unwrap();
//! let endpoint = TokenEndpoint::with_ephemeral_key(config).unwrap();
//! let mut store = MemoryReplayStore::new();
//! let request = HttpRequest {
//!     method: "POST",
//!     content_type: Some("application/x-www-form-urlencoded"),
//!     authorization: None,
//!     dpop: None,
//!     body: b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z",
//! };
//! let response = endpoint.handle(&request, 1_800_000_000, &mut store);
//! assert_eq!(response.status, 400);
//! assert!(response.body.contains("invalid_grant"));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backend;
pub mod client_auth;
pub mod config;
pub mod crypto;
pub mod dpop;
mod encoding;
mod endpoint;
pub mod error;
pub mod explain;
pub mod grant;
pub mod jose;
mod json;
pub mod keyset;
pub mod limits;
mod metadata;
pub mod policy;
#[doc(hidden)]
pub mod probe;
pub mod protocol;
pub mod reason;
pub mod refresh;
pub mod replay;
pub mod request;
mod response;
pub mod saml_metadata;
#[cfg(feature = "test-idp")]
pub mod test_idp;
mod token;
mod verified;
pub mod x509;
pub mod xml;
pub mod xmldsig;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod wasm;

#[cfg(feature = "rust-crypto")]
pub use config::signing_keys_from_json;
pub use config::{Config, ConfigError, public_signing_keys_from_json};
pub use crypto::Algorithm;
#[cfg(feature = "rust-crypto")]
pub use crypto::SigningKey;
pub use endpoint::{
    Exchange, LabelledRoute, PendingToken, PublicSigningKey, RequestLabels, TokenEndpoint,
    UnsignedToken,
};
pub use error::{ErrorCode, OAuthError};
pub use json::JsonError;
pub use reason::Reason;
pub use refresh::{FamilyStore, FamilyWrite, MemoryFamilyStore, SwapOutcome};
pub use replay::{ClaimOutcome, MemoryReplayStore, ReplayKey, ReplayKind, ReplayStore};
pub use request::HttpRequest;
pub use response::{HttpResponse, TokenResponse};
pub use verified::Verified;

/// The built-in demo configuration (a demo IdP and one demo client); the
/// Worker serves it when no `AG_CONFIG` is set.
pub const DEMO_CONFIG: &str = include_str!("demo_config.json");

/// Lowercase hex SHA-256 of a client secret, for `client_secret_sha256`.
pub fn hash_client_secret(secret: &str) -> String {
    use sha2::Digest as _;
    encoding::hex(&sha2::Sha256::digest(secret.as_bytes()))
}

/// A new private EC P-256 JWK (JSON) for signing access tokens.
#[cfg(feature = "rust-crypto")]
pub fn generate_signing_key_jwk(kid: Option<String>) -> Result<String, getrandom::Error> {
    let key = SigningKey::generate(kid)?;
    let (x, y) = key.public_coordinates();
    Ok(serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "use": "sig",
        "kid": key.kid(),
        "x": encoding::b64url_encode(&x),
        "y": encoding::b64url_encode(&y),
        "d": encoding::b64url_encode(&key.private_scalar()),
    })
    .to_string())
}
