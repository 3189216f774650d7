//! Every size and count limit the core enforces, in one place.
//!
//! Limits are checked *before* any expensive work (base64 decoding, JSON
//! parsing, signature verification), so hostile input is turned away cheaply.

/// Largest token-request body accepted, in bytes (a SAML assertion of a few
/// dozen kilobytes, base64-encoded, fits comfortably).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Most form parameters accepted in one token request.
pub const MAX_FORM_PARAMS: usize = 32;

/// Largest compact JWS accepted as a grant or client assertion, in bytes.
pub const MAX_JWT_BYTES: usize = 16 * 1024;

/// Deepest nesting of JSON arrays/objects accepted anywhere (assertions,
/// keys, configuration).
pub const MAX_JSON_DEPTH: usize = 32;

/// Most keys in one JWK Set (per trusted issuer, per client, signing keys).
pub const MAX_KEYS_PER_SET: usize = 32;

/// Most signature verifications attempted for one JWS when its header names
/// no `kid` and several configured keys fit the algorithm.
pub const MAX_KEY_CANDIDATES: usize = 4;

/// Smallest RSA modulus accepted for verification keys, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted for verification keys, in bits.
pub const MAX_RSA_BITS: usize = 8192;

/// Largest SAML metadata document accepted (pasted or fetched), in bytes.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// Largest JWK Set document accepted from a `jwks_uri`, in bytes.
pub const MAX_FETCHED_JWKS_BYTES: usize = 64 * 1024;

/// Most entries of a fetched JWK Set looked at (usable or not); usable
/// keys are capped at [`MAX_KEYS_PER_SET`].
pub const MAX_FETCHED_JWKS_ENTRIES: usize = 128;

/// Largest configuration document accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// Most scope tokens in a request or a configured scope string.
pub const MAX_SCOPE_TOKENS: usize = 64;

/// Largest serialized size of one claim copied from an assertion into the
/// access token, in bytes.
pub const MAX_MAPPED_CLAIM_BYTES: usize = 4096;

/// Default `access_token.max_subject_bytes`: the longest `sub` (after
/// `subject_prefix`) an access token carries.
pub const DEFAULT_MAX_SUBJECT_BYTES: i64 = 255;

/// Largest `access_token.max_subject_bytes` a configuration may set.
pub const MAX_SUBJECT_BYTES: i64 = 1024;

/// Default `access_token.max_claims_bytes`: the most JSON the mapped
/// claims add to one access token.
pub const DEFAULT_MAX_CLAIMS_BYTES: i64 = 2048;

/// Largest `access_token.max_claims_bytes` a configuration may set.
pub const MAX_CLAIMS_BYTES: i64 = 8192;

/// Default maximum lifetime of an assertion, in seconds (RFC 7521 §5.2
/// allows rejecting expiry times unreasonably far in the future).
pub const DEFAULT_MAX_LIFETIME_SECS: i64 = 3600;

/// Default clock skew tolerated on every time comparison, in seconds.
pub const DEFAULT_CLOCK_SKEW_SECS: i64 = 60;

/// Largest clock skew a configuration may set, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 600;

/// Default access-token lifetime, in seconds.
pub const DEFAULT_ACCESS_TOKEN_LIFETIME_SECS: i64 = 3600;

/// Largest access-token lifetime a configuration may set, in seconds (24 h).
pub const MAX_ACCESS_TOKEN_LIFETIME_SECS: i64 = 86_400;

/// Largest `max_lifetime_secs` a configuration may set for an issuer (24 h).
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 86_400;

/// Most RFC 8707 resources in one request, or in `access_token.resources`.
pub const MAX_RESOURCES: usize = 16;

/// Default `dpop.max_age_secs`: how old a DPoP proof's `iat` may be.
pub const DEFAULT_DPOP_MAX_AGE_SECS: i64 = 300;

/// Default `dpop.nonce_lifetime_secs`: one server-nonce window.
pub const DEFAULT_DPOP_NONCE_LIFETIME_SECS: i64 = 300;

/// Largest DPoP proof accepted, in bytes (its header carries a whole
/// public key: an 8192-bit RSA modulus is ~1.4 KB of base64url).
pub const MAX_DPOP_PROOF_BYTES: usize = 8 * 1024;
