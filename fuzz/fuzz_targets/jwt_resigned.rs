//! JWT-bearer rules *behind* the signature: the input is a JWS header and
//! payload (JSON text, separated by a NUL byte; without one, the whole input
//! is the payload under `{"alg":"ES256","kid":"idp-ec-1"}`), signed by the
//! harness with the idp-ec-1 test key and sent through
//! `TokenEndpoint::prepare` on the JWT test configuration, with Basic
//! basic-client and as the public client `public-client`. Exercises the
//! claim rules (iss, sub, aud, exp, nbf, iat, jti), scope policy and claim
//! mapping on fuzzed claims.
#![no_main]

use assertion_grant::HttpRequest;
use fuzz_common::{FORM, GRANT_JWT, b64url, basic, enc, exercise, jwt_endpoint, jwt_idp_signer};
use libfuzzer_sys::fuzz_target;

const DEFAULT_HEADER: &[u8] = br#"{"alg":"ES256","kid":"idp-ec-1"}"#;

fuzz_target!(|data: &[u8]| {
    let (header, payload) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (DEFAULT_HEADER, data),
    };
    let signing_input = format!("{}.{}", b64url(header), b64url(payload));
    let sig = jwt_idp_signer().sign_es256(signing_input.as_bytes());
    let token = format!("{signing_input}.{}", b64url(&sig));
    let ep = jwt_endpoint();
    let grant = enc(GRANT_JWT.as_bytes());
    let auth = basic("basic-client", "basic-secret");
    let bodies = [
        (format!("grant_type={grant}&assertion={token}"), Some(auth.as_str())),
        (
            format!("grant_type={grant}&assertion={token}&client_id=public-client&scope=read"),
            None,
        ),
    ];
    for (body, authorization) in &bodies {
        let req = HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization: *authorization,
            dpop: None,
            body: body.as_bytes(),
        };
        exercise(ep, &req);
    }
});
