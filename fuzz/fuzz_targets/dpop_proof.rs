//! Arbitrary DPoP proofs through `dpop::begin` and `ProofPending::finish`
//! (answered both ways), and through the token endpoint as a `DPoP` header.
//! Errors are fine; panics and a proof refused by the parser yet accepted
//! by the endpoint are not.
//!
//! Input layout: `[selector] proof…`; with selector bit 0 the bytes are
//! taken as a header and a payload JSON (split at the first `\n`), wrapped
//! into a compact JWS with a junk signature, so the claim rules are reached.
#![no_main]

use assertion_grant::HttpRequest;
use assertion_grant::crypto::Algorithm;
use assertion_grant::dpop::{self, ProofRules};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fuzz_common::{FORM, basic, exercise, jwt_endpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [selector, rest @ ..] = data else { return };
    let proof = if selector & 1 == 1 {
        let (header, payload) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[..0]),
        };
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode([7u8; 64])
        )
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    let rules = ProofRules {
        method: "POST",
        uri: "https://as.example.com/token",
        now: 1_800_000_000,
        max_age: 300,
        skew: 60,
        algorithms: &[Algorithm::ES256, Algorithm::PS256, Algorithm::RS256],
        access_token: (selector & 2 == 2).then_some("token"),
        nonce: None,
    };
    let parsed = dpop::begin(&proof, &rules);
    if let Ok((pending, check)) = parsed {
        assert_eq!(check.keys.len(), 1);
        assert!(check.proof_key.is_some());
        let jkt = pending.unverified_jkt().to_owned();
        assert_eq!(jkt.len(), 43);
        if let Ok(v) = pending.finish(selector & 4 == 4) {
            assert_eq!(v.jkt, jkt);
        }
    }
    let body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=x.y.z";
    let auth = basic("basic-client", "basic-secret");
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: Some(&auth),
        dpop: Some(&proof),
        body: body.as_bytes(),
    };
    assert!(!exercise(jwt_endpoint(), &req), "a junk grant got a token");
});
