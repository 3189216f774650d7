//! Arbitrary text → `saml_metadata::parse_idp_metadata`. What imports must
//! paste: the resulting `trusted_issuers` entry's certificates must be
//! accepted by `Config::from_json` too.
#![no_main]

use assertion_grant::Config;
use assertion_grant::saml_metadata::parse_idp_metadata;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(md) = parse_idp_metadata(text) else { return };
    assert!(!md.entity_id.is_empty());
    assert!(!md.signing_certificates.is_empty());
    let config = json!({
        "issuer": "https://as.example.com",
        "access_token": { "audience": "https://api.example.com" },
        "trusted_issuers": [md.trusted_issuer_entry()],
    });
    if let Err(e) = Config::from_json(&config.to_string()) {
        assert!(
            !e.path.contains("x509_certificates"),
            "imported metadata certificates refused by the configuration: {}: {}",
            e.path,
            e.reason
        );
    }
});
