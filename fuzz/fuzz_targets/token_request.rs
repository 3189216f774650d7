//! Arbitrary form bodies (and headers picked by the first three bytes)
//! through `request::parse_request` and `TokenEndpoint::prepare` on both
//! test configurations. Errors are fine; panics, 500s and slow inputs are not.
//!
//! Input layout: `[method] [content-type] [authorization] body…`; the
//! "custom" header choices take their value from the body up to the first
//! `\n` (and the body is what follows).
#![no_main]

use assertion_grant::HttpRequest;
use assertion_grant::request::parse_request;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fuzz_common::{FORM, basic, check_error, exercise, jwt_endpoint, saml_endpoint};
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 4] = ["POST", "GET", "post", "PUT"];
const CONTENT_TYPES: [Option<&str>; 7] = [
    Some(FORM),
    Some("application/x-www-form-urlencoded; charset=UTF-8"),
    Some("Application/X-WWW-Form-URLEncoded ; charset=\"utf-8\"; x=y"),
    Some("application/x-www-form-urlencoded;charset=iso-8859-1"),
    None,
    Some("application/json"),
    Some(""),
];

fuzz_target!(|data: &[u8]| {
    let [m, c, a, rest @ ..] = data else { return };
    let (line, after) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let line = String::from_utf8_lossy(line);
    let mut body = rest;

    let method = METHODS[usize::from(*m) % METHODS.len()];
    let ct_choice = usize::from(*c) % (CONTENT_TYPES.len() + 1);
    let content_type = if ct_choice == CONTENT_TYPES.len() {
        body = after;
        Some(line.as_ref())
    } else {
        CONTENT_TYPES[ct_choice]
    };
    let custom;
    let authorization: Option<String> = match a % 10 {
        0 | 1 => None,
        2 | 3 => Some(basic("basic-client", "basic-secret")),
        4 => Some(basic("basic-client", "wrong-secret")),
        5 => Some(basic("limited-client", "limited-secret")),
        6 => Some(basic("jwt-only-client", "jwt-only-secret")),
        7 => Some(basic("post-client", "post-secret")),
        8 => {
            body = after;
            Some(format!("Basic {}", STANDARD.encode(line.as_bytes())))
        }
        _ => {
            body = after;
            custom = line.to_string();
            Some(custom)
        }
    };
    let req = HttpRequest {
        method,
        content_type,
        authorization: authorization.as_deref(),
        dpop: None,
        body,
    };
    let parsed = parse_request(&req);
    if let Err(e) = &parsed {
        // A request error must map to a well-formed client error.
        check_error(&assertion_grant::OAuthError::from(*e));
    }
    let jwt_ok = exercise(jwt_endpoint(), &req);
    let saml_ok = exercise(saml_endpoint(), &req);
    if parsed.is_err() {
        assert!(!jwt_ok && !saml_ok, "token issued for a request parse_request refuses");
    }
});
