//! Arbitrary text → `Config::from_json`; a configuration that loads must
//! build an endpoint, publish metadata, and answer a request.
#![no_main]

use assertion_grant::{Config, HttpRequest, SigningKey, TokenEndpoint};
use fuzz_common::{FORM, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let config = match Config::from_json(text) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let key = SigningKey::from_scalar(&[0x22; 32], Some("fuzz-key".into())).unwrap();
    let ep = TokenEndpoint::new(config, vec![key]).expect("a loaded config builds an endpoint");
    let _: serde_json::Value = serde_json::from_str(ep.metadata_json()).expect("metadata is JSON");
    let _: serde_json::Value = serde_json::from_str(ep.jwks_json()).expect("JWKS is JSON");
    assert!(ep.token_path().starts_with('/'), "token path {:?}", ep.token_path());
    assert!(ep.metadata_path().starts_with("/.well-known/"));
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: None,
        dpop: None,
        body: b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.AA&client_id=c",
    };
    let _ = ep.prepare(&req, NOW);
});
