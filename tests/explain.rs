//! Explain mode: the same validation code, reporting every check. Over every
//! JWT and SAML vector its verdict equals the token endpoint's, and it never
//! consumes a replay entry.

mod common;

use assertion_grant::explain::Outcome;
use assertion_grant::{Config, HttpRequest, MemoryReplayStore, SigningKey, TokenEndpoint};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{FORM, enc, send};
use serde_json::Value;

#[cfg(all(target_arch = "wasm32", feature = "browser-tests"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const JWT_CONFIG: &str = include_str!("vectors/jwt/config.json");
const JWT_VECTORS: &str = include_str!("vectors/jwt/vectors.json");
const SAML_CONFIG: &str = include_str!("vectors/saml/config.json");
const SAML_VECTORS: &str = include_str!("vectors/saml/vectors.json");
const NOW: i64 = 1_800_000_000;
const BASIC: &str = "Basic YmFzaWMtY2xpZW50OmJhc2ljLXNlY3JldA==";

fn endpoint(config: &str) -> TokenEndpoint {
    let key = SigningKey::from_scalar(&[0x44; 32], Some("explain".into())).unwrap();
    TokenEndpoint::new(Config::from_json(config).unwrap(), vec![key]).unwrap()
}

fn request<'a>(body: &'a str, auth: Option<&'a str>) -> HttpRequest<'a> {
    HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: auth,
        dpop: None,
        body: body.as_bytes(),
    }
}

fn jwt_body(assertion: &str) -> String {
    format!(
        "grant_type={}&assertion={}",
        enc("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        enc(assertion)
    )
}

fn vector(all: &str, name: &str) -> Value {
    let cases: Vec<Value> = serde_json::from_str(all).unwrap();
    cases.into_iter().find(|c| c["name"] == name).unwrap()
}

fn names(e: &assertion_grant::explain::Explanation) -> Vec<(&'static str, Outcome)> {
    e.checks.iter().map(|c| (c.check, c.outcome)).collect()
}

#[test]
fn a_valid_jwt_passes_every_check_and_shows_the_token() {
    let ep = endpoint(JWT_CONFIG);
    let body = jwt_body(
        vector(JWT_VECTORS, "valid-es256")["assertion"]
            .as_str()
            .unwrap(),
    );
    let e = ep.explain(&request(&body, Some(BASIC)), NOW, &|_| false);
    assert!(e.would_issue, "{e:#?}");
    assert!(
        e.checks.iter().all(|c| c.outcome != Outcome::Fail),
        "{e:#?}"
    );
    let checks: Vec<_> = e.checks.iter().map(|c| c.check).collect();
    for expected in [
        "request",
        "client authentication",
        "signature",
        "audience",
        "expiry",
        "jti",
        "scope",
        "claim mapping",
        "one-time use",
        "access token",
    ] {
        assert!(checks.contains(&expected), "missing {expected}: {checks:?}");
    }
    let claims = e.token_claims.unwrap();
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["client_id"], "basic-client");
    let expiry = e.checks.iter().find(|c| c.check == "expiry").unwrap();
    assert!(
        expiry.detail.contains("2027-01-15T08:05:00Z") && expiry.detail.contains("skew 60 s"),
        "{}",
        expiry.detail
    );
    assert!(e.checks.iter().all(|c| !c.spec.is_empty()));
}

#[test]
fn a_tampered_signature_stops_at_the_signature() {
    let ep = endpoint(JWT_CONFIG);
    let mut assertion = vector(JWT_VECTORS, "valid-es256")["assertion"]
        .as_str()
        .unwrap()
        .to_owned();
    assertion.truncate(assertion.len() - 4);
    assertion.push_str("AAAA");
    let e = ep.explain(&request(&jwt_body(&assertion), Some(BASIC)), NOW, &|_| {
        false
    });
    assert!(!e.would_issue);
    assert_eq!(
        e.checks.last().map(|c| (c.id.id(), c.check, c.outcome)),
        Some(("jwt.signature", "signature", Outcome::Fail))
    );
    let error = e.error.unwrap();
    assert_eq!(error.error, "invalid_grant");
    assert_eq!(error.reason.code(), "jwt.signature_invalid");
    // The report as JSON: ids and reasons are the stable strings.
    let json = serde_json::to_value(ep.explain(
        &request(&jwt_body(&assertion), Some(BASIC)),
        NOW,
        &|_| false,
    ))
    .unwrap();
    let last = json["checks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["id"], "jwt.signature");
    assert_eq!(last["reason"], "jwt.signature_invalid");
    assert_eq!(json["error"]["reason"], "jwt.signature_invalid");
}

#[test]
fn a_later_clock_fails_the_expiry_with_the_times() {
    let ep = endpoint(JWT_CONFIG);
    let body = jwt_body(
        vector(JWT_VECTORS, "valid-es256")["assertion"]
            .as_str()
            .unwrap(),
    );
    let e = ep.explain(&request(&body, Some(BASIC)), NOW + 3600, &|_| false);
    let last = e.checks.last().unwrap();
    assert_eq!((last.check, last.outcome), ("expiry", Outcome::Fail));
    assert_eq!(last.reason.map(|r| r.code()), Some("assertion.expired"));
    assert!(
        last.detail.contains("now 2027-01-15T09:00:00Z"),
        "{}",
        last.detail
    );
}

#[test]
fn replay_status_is_read_never_consumed() {
    let ep = endpoint(JWT_CONFIG);
    let body = jwt_body(
        vector(JWT_VECTORS, "valid-es256")["assertion"]
            .as_str()
            .unwrap(),
    );
    let used = ep.explain(&request(&body, Some(BASIC)), NOW, &|_| true);
    assert!(!used.would_issue);
    assert!(names(&used).contains(&("one-time use", Outcome::Fail)));
    assert_eq!(used.error.unwrap().error, "invalid_grant");
    // Explaining twice, then exchanging: the assertion is still unused.
    let _ = ep.explain(&request(&body, Some(BASIC)), NOW, &|_| false);
    let mut store = MemoryReplayStore::new();
    assert_eq!(send(&ep, &mut store, &body, Some(BASIC), NOW).status, 200);
}

#[test]
fn a_valid_saml_assertion_shows_every_rfc_7522_check() {
    let ep = endpoint(SAML_CONFIG);
    let xml = vector(SAML_VECTORS, "valid-rsa-sha256-xmlsec1")["xml"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = format!(
        "grant_type={}&assertion={}",
        enc("urn:ietf:params:oauth:grant-type:saml2-bearer"),
        URL_SAFE_NO_PAD.encode(xml)
    );
    let e = ep.explain(&request(&body, Some(BASIC)), NOW, &|_| false);
    assert!(e.would_issue, "{e:#?}");
    let checks: Vec<_> = e.checks.iter().map(|c| c.check).collect();
    for expected in [
        "structure",
        "trusted issuer",
        "signature",
        "version",
        "issued at",
        "conditions",
        "subject",
        "bearer confirmation",
        "expiry",
        "attributes",
    ] {
        assert!(checks.contains(&expected), "missing {expected}: {checks:?}");
    }
}

/// The verdict of explain equals the token path's for every vector.
fn agrees(config: &str, cases: &[Value], body: impl Fn(&Value) -> (String, Option<String>)) {
    let ep = endpoint(config);
    let mut disagreements = Vec::new();
    for case in cases {
        let now = case["now"].as_i64().unwrap();
        let (b, auth) = body(case);
        let e = ep.explain(&request(&b, auth.as_deref()), now, &|_| false);
        let response = send(&ep, &mut MemoryReplayStore::new(), &b, auth.as_deref(), now);
        let token_error = serde_json::from_str::<Value>(&response.body).unwrap()["error"]
            .as_str()
            .map(str::to_owned);
        let explained_error = e.error.as_ref().map(|x| x.error.to_owned());
        if e.would_issue != (response.status == 200) || explained_error != token_error {
            disagreements.push(format!(
                "{}: explain {explained_error:?}, token {token_error:?}",
                case["name"]
            ));
        }
        if !e.would_issue && e.checks.last().is_some_and(|c| c.outcome != Outcome::Fail) {
            disagreements.push(format!(
                "{}: refused, but the last check did not fail",
                case["name"]
            ));
        }
        // The failing check names the very reason the error carries, and
        // only failed checks carry one.
        if let (Some(error), Some(last)) = (&e.error, e.checks.last())
            && last.outcome == Outcome::Fail
            && last.reason != Some(error.reason)
        {
            disagreements.push(format!(
                "{}: error reason {}, failing check {} says {:?}",
                case["name"],
                error.reason,
                last.id.id(),
                last.reason
            ));
        }
        if e.checks
            .iter()
            .any(|c| (c.outcome == Outcome::Fail) != c.reason.is_some())
        {
            disagreements.push(format!(
                "{}: a check's reason does not match its outcome",
                case["name"]
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn explain_agrees_with_the_token_endpoint_on_every_jwt_vector() {
    let cases: Vec<Value> = serde_json::from_str(JWT_VECTORS).unwrap();
    agrees(JWT_CONFIG, &cases, |case| {
        let mut body = jwt_body(case["assertion"].as_str().unwrap());
        let client = &case["client"];
        let mut auth = None;
        if let Some(p) = client.get("basic") {
            auth = Some(format!(
                "Basic {}",
                STANDARD.encode(format!(
                    "{}:{}",
                    enc(p[0].as_str().unwrap()),
                    enc(p[1].as_str().unwrap())
                ))
            ));
        } else if let Some(p) = client.get("post") {
            body.push_str(&format!(
                "&client_id={}&client_secret={}",
                enc(p[0].as_str().unwrap()),
                enc(p[1].as_str().unwrap())
            ));
        } else if let Some(jws) = client.get("private_key_jwt") {
            body.push_str(&format!(
                "&client_assertion_type={}&client_assertion={}",
                enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                enc(jws.as_str().unwrap())
            ));
        } else if let Some(id) = client.get("none") {
            body.push_str(&format!("&client_id={}", enc(id.as_str().unwrap())));
        }
        if let Some(scope) = case.get("scope").and_then(Value::as_str) {
            body.push_str(&format!("&scope={}", enc(scope)));
        }
        (body, auth)
    });
}

#[test]
fn explain_agrees_with_the_token_endpoint_on_every_saml_vector() {
    let cases: Vec<Value> = serde_json::from_str(SAML_VECTORS).unwrap();
    let plain: Vec<Value> = cases
        .into_iter()
        .filter(|c| {
            c["encoding"] == "base64url"
                && c.get("xml_charset").is_none()
                && c["client"].get("basic").is_some()
        })
        .collect();
    assert!(plain.len() > 150);
    agrees(SAML_CONFIG, &plain, |case| {
        let mut body = format!(
            "grant_type={}&assertion={}",
            enc("urn:ietf:params:oauth:grant-type:saml2-bearer"),
            URL_SAFE_NO_PAD.encode(case["xml"].as_str().unwrap())
        );
        if let Some(scope) = case.get("scope").and_then(Value::as_str) {
            body.push_str(&format!("&scope={}", enc(scope)));
        }
        (body, Some(BASIC.to_owned()))
    });
}

#[test]
fn the_test_idp_mints_assertions_that_pass_every_check() {
    use assertion_grant::test_idp::{TestAssertion, mint, trust_entry};
    let key = SigningKey::from_scalar(&[0x55; 32], Some("test-idp".into())).unwrap();
    for format in ["jwt", "saml2"] {
        let issuer = format!("https://test-idp.example/{format}");
        let mut config: Value = serde_json::from_str(JWT_CONFIG).unwrap();
        config["trusted_issuers"]
            .as_array_mut()
            .unwrap()
            .push(trust_entry(format, &issuer, &(&key).into()));
        let ep = endpoint(&config.to_string());
        let spec: TestAssertion = serde_json::from_value(serde_json::json!({
            "format": format, "issuer": issuer, "subject": "alice@example.com",
            "audience": "https://as.example.com", "recipient": "https://as.example.com/token",
            "now": NOW, "lifetime_secs": 300,
            "attributes": {"email": "alice@example.com", "groups": ["a", "b"]}
        }))
        .unwrap();
        let assertion = mint(&spec, &key).unwrap();
        let grant = if format == "jwt" {
            "jwt-bearer"
        } else {
            "saml2-bearer"
        };
        let body = format!(
            "grant_type={}&assertion={}",
            enc(&format!("urn:ietf:params:oauth:grant-type:{grant}")),
            enc(&assertion)
        );
        let e = ep.explain(&request(&body, Some(BASIC)), NOW, &|_| false);
        assert!(e.would_issue, "{format}: {e:#?}");
        // The entry trust_entry made names its own subject namespace.
        let claims = e.token_claims.as_ref().unwrap();
        assert_eq!(claims["sub"], format!("{issuer}|alice@example.com"));
        assert_eq!(claims["idp"], issuer.as_str());
        // The same assertion, tampered: the signature check fails.
        let tampered = if format == "jwt" {
            let mut parts: Vec<String> = assertion.split('.').map(str::to_owned).collect();
            let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap())
                .unwrap()
                .replace("alice", "mallory");
            parts[1] = URL_SAFE_NO_PAD.encode(payload);
            parts.join(".")
        } else {
            let xml = String::from_utf8(URL_SAFE_NO_PAD.decode(&assertion).unwrap())
                .unwrap()
                .replace(">alice@", ">mallory@");
            URL_SAFE_NO_PAD.encode(xml)
        };
        let body = format!(
            "grant_type={}&assertion={}",
            enc(&format!("urn:ietf:params:oauth:grant-type:{grant}")),
            enc(&tampered)
        );
        let e = ep.explain(&request(&body, Some(BASIC)), NOW, &|_| false);
        assert_eq!(
            e.checks.last().map(|c| (c.check, c.outcome)),
            Some(("signature", Outcome::Fail)),
            "{format}"
        );
    }
}
