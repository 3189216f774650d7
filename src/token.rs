//! Access-token minting: an RFC 9068 JWT signed with ES256.

use serde_json::{Map, Value, json};

use crate::encoding::b64url_encode;

/// The JWS signing input of an RFC 9068 access token over `claims`:
/// header `{"alg":"ES256","typ":"at+jwt","kid":…}` (RFC 9068 §2.1).
pub(crate) fn signing_input(kid: &str, claims: &Map<String, Value>) -> String {
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
    let mut token = b64url_encode(header.to_string().as_bytes());
    token.push('.');
    token.push_str(&b64url_encode(
        Value::Object(claims.clone()).to_string().as_bytes(),
    ));
    token
}

/// The compact JWS: signing input, `.`, the 64-byte ES256 `r‖s` signature.
pub(crate) fn assemble(mut signing_input: String, signature: &[u8; 64]) -> String {
    signing_input.push('.');
    signing_input.push_str(&b64url_encode(signature));
    signing_input
}

/// A fresh token identifier: 128 random bits, base64url.
pub(crate) fn new_jti() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(b64url_encode(&bytes))
}
