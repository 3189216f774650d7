//! Arbitrary bytes as JSON → `jose::parse_jwk_set`, `parse_public_jwk`,
//! `parse_private_jwk` (also on every member of a `keys` array), and the
//! text → `signing_keys_from_json`.
#![no_main]

use assertion_grant::crypto::Algorithm;
use assertion_grant::jose::{parse_jwk_set, parse_private_jwk, parse_public_jwk};
use assertion_grant::signing_keys_from_json;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn public(v: &Value) {
    if let Ok(jwk) = parse_public_jwk(v) {
        let _ = jwk.kid();
        if let Some(alg) = jwk.alg() {
            assert!(jwk.accepts(alg), "a JWK refuses its own alg");
        }
        assert!(Algorithm::ALL.iter().any(|a| jwk.accepts(*a)), "a parsed JWK fits no algorithm");
    }
}

fn private(v: &Value) {
    if let Ok(key) = parse_private_jwk(v) {
        assert!(!key.kid().is_empty(), "signing key without a kid");
        let _ = key.public_coordinates();
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(keys) = signing_keys_from_json(text) {
            assert!(!keys.is_empty());
        }
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    if let Ok(keys) = parse_jwk_set(&value) {
        assert!(!keys.is_empty());
    }
    public(&value);
    private(&value);
    if let Some(keys) = value.get("keys").and_then(Value::as_array) {
        for k in keys {
            public(k);
            private(k);
        }
    }
});
