//! Arbitrary text as a JWT: `jose::parse` → `unverified_issuer`, and through
//! `TokenEndpoint::prepare` on the JWT test configuration as the grant
//! assertion (with Basic basic-client, and anonymously: the issuer peek)
//! and as a `private_key_jwt` client assertion.
#![no_main]

use assertion_grant::HttpRequest;
use assertion_grant::jose;
use fuzz_common::{FORM, GRANT_JWT, basic, enc, exercise, jwt_endpoint};
use libfuzzer_sys::fuzz_target;

const CLIENT_JWT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(jws) = jose::parse(text) {
        let _ = jws.unverified_issuer();
        let _ = jws.alg();
    }
    let ep = jwt_endpoint();
    let grant = enc(GRANT_JWT.as_bytes());
    let assertion = enc(text.as_bytes());
    let body = format!("grant_type={grant}&assertion={assertion}");
    let auth = basic("basic-client", "basic-secret");
    for authorization in [Some(auth.as_str()), None] {
        let req = HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization,
            dpop: None,
            body: body.as_bytes(),
        };
        exercise(ep, &req);
    }
    let client_body = format!(
        "grant_type={grant}&assertion=x.y.z&client_id=jwt-client&client_assertion_type={}&client_assertion={assertion}",
        enc(CLIENT_JWT.as_bytes())
    );
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: None,
        dpop: None,
        body: client_body.as_bytes(),
    };
    exercise(ep, &req);
});
