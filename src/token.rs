//! Access-token minting: an RFC 9068 JWT signed with ES256.

use serde_json::{Map, Value, json};

use crate::crypto::SigningKey;
use crate::encoding::b64url_encode;

/// Signs `claims` as an RFC 9068 access token: header
/// `{"alg":"ES256","typ":"at+jwt","kid":…}` (RFC 9068 §2.1).
pub(crate) fn mint(key: &SigningKey, claims: &Map<String, Value>) -> String {
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": key.kid()});
    let mut token = b64url_encode(header.to_string().as_bytes());
    token.push('.');
    token.push_str(&b64url_encode(
        Value::Object(claims.clone()).to_string().as_bytes(),
    ));
    let signature = key.sign_es256(token.as_bytes());
    token.push('.');
    token.push_str(&b64url_encode(&signature));
    token
}

/// A fresh token identifier: 128 random bits, base64url.
pub(crate) fn new_jti() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(b64url_encode(&bytes))
}
