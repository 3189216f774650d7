//! Arbitrary bytes as a SAML 2.0 bearer assertion through
//! `TokenEndpoint::prepare` on the SAML test configuration:
//! base64url-encoded (the XML path) with Basic basic-client and anonymously
//! (the pre-signature issuer peek), and the bytes themselves as the
//! `assertion` parameter (the parameter decoding).
#![no_main]

use assertion_grant::HttpRequest;
use fuzz_common::{FORM, GRANT_SAML2, b64url, basic, enc, exercise, saml_endpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ep = saml_endpoint();
    let auth = basic("basic-client", "basic-secret");
    let grant = enc(GRANT_SAML2.as_bytes());

    let encoded = format!("grant_type={grant}&assertion={}", b64url(data));
    for authorization in [Some(auth.as_str()), None] {
        let req = HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization,
            dpop: None,
            body: encoded.as_bytes(),
        };
        exercise(ep, &req);
    }

    let raw = format!("grant_type={grant}&assertion={}", enc(data));
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: Some(&auth),
        dpop: None,
        body: raw.as_bytes(),
    };
    exercise(ep, &req);
});
