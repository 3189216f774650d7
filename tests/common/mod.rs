//! Helpers shared by the integration tests (native and wasm).
#![allow(dead_code)]

use assertion_grant::crypto::{self, Algorithm, PublicKey};
use assertion_grant::{HttpRequest, HttpResponse, ReplayStore, TokenEndpoint};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// The form content type.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// Percent-encodes everything but unreserved characters.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// POSTs a form body (with an optional Authorization header) at `now`.
pub fn send(
    ep: &TokenEndpoint,
    store: &mut dyn ReplayStore,
    body: &str,
    authorization: Option<&str>,
    now: i64,
) -> HttpResponse {
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization,
        body: body.as_bytes(),
    };
    ep.handle(&req, now, store)
}

/// Verifies an access token against the endpoint's JWKS, independently of
/// the JWS parser (which refuses `at+jwt` by design), and returns its claims.
pub fn verify_access_token(ep: &TokenEndpoint, token: &str) -> (Value, Value) {
    let jwks: Value = serde_json::from_str(ep.jwks_json()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("token kid is in the JWKS");
    let coord = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let key = PublicKey::p256(&coord("x"), &coord("y")).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    crypto::verify(Algorithm::ES256, &key, input.as_bytes(), &signature)
        .expect("access token signature");
    (header, claims)
}
