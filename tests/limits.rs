//! Limits: hostile sizes and counts are refused before any signature work
//! (checked through the test probes, not with timers), natively and as wasm;
//! and the secret check costs the same for unknown clients, wrong secrets and
//! wrong methods.

mod common;

use assertion_grant::{Config, HttpResponse, MemoryReplayStore, SigningKey, TokenEndpoint, probe};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{enc, send};
use serde_json::{Value, json};

#[cfg(all(target_arch = "wasm32", feature = "browser-tests"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const JWT_CONFIG: &str = include_str!("vectors/jwt/config.json");
const SAML_CONFIG: &str = include_str!("vectors/saml/config.json");
const JWT_VECTORS: &str = include_str!("vectors/jwt/vectors.json");
const NOW: i64 = 1_800_000_000;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
const BASIC: &str = "Basic YmFzaWMtY2xpZW50OmJhc2ljLXNlY3JldA=="; // basic-client:basic-secret

fn endpoint(config: &str) -> TokenEndpoint {
    let key = SigningKey::from_scalar(&[0x33; 32], Some("limits".into())).unwrap();
    TokenEndpoint::new(Config::from_json(config).unwrap(), vec![key]).unwrap()
}

/// Sends a request and returns the response with the number of signature
/// verifications it cost.
fn exchange(ep: &TokenEndpoint, body: &str, auth: Option<&str>) -> (HttpResponse, usize) {
    probe::reset();
    let mut store = MemoryReplayStore::new();
    let response = send(ep, &mut store, body, auth, NOW);
    assert!(store.is_empty() || response.status == 200);
    (response, probe::signature_checks())
}

/// The `assertion` of the JWT vector `name`.
fn jwt_vector_assertion(name: &str) -> String {
    let cases: Vec<Value> = serde_json::from_str(JWT_VECTORS).unwrap();
    let case = cases.iter().find(|c| c["name"] == name).expect(name);
    case["assertion"].as_str().unwrap().to_owned()
}

fn refused_without_signature_work(ep: &TokenEndpoint, body: &str, error: &str, what: &str) {
    let (r, checks) = exchange(ep, body, Some(BASIC));
    assert_eq!(checks, 0, "{what}: signature work was done");
    let json: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(json["error"], error, "{what}: {}", r.body);
}

fn saml_body(xml: &str) -> String {
    format!(
        "grant_type={}&assertion={}",
        enc(SAML2_BEARER),
        URL_SAFE_NO_PAD.encode(xml)
    )
}

const SAML_HEAD: &str = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0" IssueInstant="2027-01-15T07:59:50Z"><saml:Issuer>https://saml-idp.example.com</saml:Issuer>"#;

#[test]
fn oversized_bodies_are_refused_before_parsing() {
    let ep = endpoint(JWT_CONFIG);
    let body = format!(
        "grant_type={}&assertion={}",
        enc(JWT_BEARER),
        "a".repeat(70_000)
    );
    refused_without_signature_work(&ep, &body, "invalid_request", "70 KB body");
}

#[test]
fn hostile_xml_is_refused_before_signature_work() {
    let ep = endpoint(SAML_CONFIG);
    let cases = [
        (
            "depth 1000",
            format!(
                "{SAML_HEAD}{}{}</saml:Assertion>",
                "<a>".repeat(1000),
                "</a>".repeat(1000)
            ),
        ),
        (
            "10k elements",
            format!("{SAML_HEAD}{}</saml:Assertion>", "<a/>".repeat(10_000)),
        ),
        (
            "3000 namespace declarations",
            format!(
                "{SAML_HEAD}<a {}/></saml:Assertion>",
                (0..3000)
                    .map(|i| format!("xmlns:p{i}=\"u\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        (
            "3000 attributes",
            format!(
                "{SAML_HEAD}<a {}/></saml:Assertion>",
                (0..3000)
                    .map(|i| format!("a{i}=\"v\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        (
            "40 KB text node",
            format!("{SAML_HEAD}<a>{}</a></saml:Assertion>", "x".repeat(40_000)),
        ),
        (
            "billion laughs",
            format!(
                "<!DOCTYPE a [<!ENTITY l \"lol\"><!ENTITY l2 \"&l;&l;&l;&l;&l;\">]>{SAML_HEAD}<a>&l2;</a></saml:Assertion>"
            ),
        ),
        (
            "1000 References",
            format!(
                "{SAML_HEAD}<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>{}</ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature></saml:Assertion>",
                "<ds:Reference URI=\"#_x\"/>".repeat(1000)
            ),
        ),
    ];
    for (what, xml) in cases {
        refused_without_signature_work(&ep, &saml_body(&xml), "invalid_grant", what);
    }
}

fn jwt(header: &Value, payload: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

#[test]
fn hostile_jwts_are_refused_before_signature_work() {
    let ep = endpoint(JWT_CONFIG);
    let header = json!({"alg": "ES256", "kid": "idp-ec-1"});
    let many_claims: String = format!(
        "{{\"iss\":\"https://idp.example.com\",{}}}",
        (0..2000)
            .map(|i| format!("\"c{i}\":{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let deep = format!(
        "{{\"iss\":\"https://idp.example.com\",\"x\":{}1{}}}",
        "[".repeat(500),
        "]".repeat(500)
    );
    let cases = [
        (
            "20 KB JWT",
            jwt(
                &header,
                &format!(
                    "{{\"iss\":\"https://idp.example.com\",\"pad\":\"{}\"}}",
                    "a".repeat(20_000)
                ),
            ),
        ),
        ("2000 claims", jwt(&header, &many_claims)),
        ("JSON nested 500 deep", jwt(&header, &deep)),
        (
            "duplicate claims",
            jwt(
                &header,
                r#"{"iss":"https://idp.example.com","sub":"a","sub":"b"}"#,
            ),
        ),
    ];
    for (what, token) in cases {
        let body = format!("grant_type={}&assertion={}", enc(JWT_BEARER), enc(&token));
        refused_without_signature_work(&ep, &body, "invalid_grant", what);
    }
}

#[test]
fn without_a_kid_at_most_four_keys_are_tried() {
    // An issuer with many keys and a token naming none: bounded work.
    let mut config: Value = serde_json::from_str(JWT_CONFIG).unwrap();
    let issuer = &mut config["trusted_issuers"][0];
    let ec = issuer["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kty"] == "EC")
        .unwrap()
        .clone();
    let keys: Vec<Value> = (0..20)
        .map(|i| {
            let mut k = ec.clone();
            k["kid"] = json!(format!("k{i}"));
            k
        })
        .collect();
    issuer["jwks"]["keys"] = json!(keys);
    let ep = endpoint(&config.to_string());
    let token = jwt(
        &json!({"alg": "ES256"}),
        r#"{"iss":"https://idp.example.com","sub":"a"}"#,
    );
    let body = format!("grant_type={}&assertion={}", enc(JWT_BEARER), enc(&token));
    let (r, checks) = exchange(&ep, &body, Some(BASIC));
    assert_eq!(r.status, 400);
    assert_eq!(checks, 4, "MAX_KEY_CANDIDATES");
}

#[test]
fn rsa_key_sizes_are_bounded_at_load() {
    for (bits, ok) in [
        (1024usize, false),
        (2040, false),
        (2048, true),
        (8192, true),
        (8200, false),
        (16384, false),
    ] {
        let mut n = vec![0xffu8; bits.div_ceil(8)];
        if bits % 8 != 0 {
            n[0] = 0xff >> (8 - bits % 8);
        }
        let config = json!({
            "issuer": "https://as.example.com",
            "access_token": {"audience": "https://api"},
            "trusted_issuers": [{"issuer": "i", "format": "jwt", "jwks": {"keys": [{"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&n), "e": "AQAB"}]}}]
        });
        let result = Config::from_json(&config.to_string());
        assert_eq!(result.is_ok(), ok, "{bits} bits: {:?}", result.err());
        if let Err(e) = result {
            assert!(e.path.starts_with("trusted_issuers[0].jwks.keys[0]"), "{e}");
        }
    }
}

#[test]
fn client_secret_checks_cost_the_same_whoever_asks() {
    // Unknown client, wrong secret, right secret over the wrong method: one
    // digest comparison each, no early exit on the user lookup, the same
    // answer, and no signature work before client authentication fails.
    let ep = endpoint(JWT_CONFIG);
    let assertion = jwt_vector_assertion("valid-es256");
    let grant = format!(
        "grant_type={}&assertion={}",
        enc(JWT_BEARER),
        enc(&assertion)
    );
    let basic =
        |id: &str, secret: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
    let attempts = [
        (
            "unknown client",
            grant.clone(),
            Some(basic("nobody", "basic-secret")),
        ),
        (
            "wrong secret",
            grant.clone(),
            Some(basic("basic-client", "wrong")),
        ),
        (
            "post client over basic",
            grant.clone(),
            Some(basic("post-client", "post-secret")),
        ),
    ];
    let mut responses = Vec::new();
    for (what, body, auth) in attempts {
        let (r, checks) = exchange(&ep, &body, auth.as_deref());
        assert_eq!(probe::secret_comparisons(), 1, "{what}");
        assert_eq!(checks, 0, "{what}: no signature work for a failed client");
        assert_eq!(r.status, 401, "{what}");
        responses.push(r);
    }
    assert!(
        responses.windows(2).all(|w| w[0] == w[1]),
        "identical answers"
    );
    // The right secret: one comparison, then the assertion's signature.
    let (r, checks) = exchange(&ep, &grant, Some(BASIC));
    assert_eq!((r.status, probe::secret_comparisons(), checks), (200, 1, 1));
    // A wrong signature costs the same one verification.
    let mut forged = assertion.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let (r, checks) = exchange(
        &ep,
        &format!("grant_type={}&assertion={}", enc(JWT_BEARER), enc(&forged)),
        Some(BASIC),
    );
    assert_eq!((r.status, probe::secret_comparisons(), checks), (400, 1, 1));
}

#[test]
fn private_key_jwt_costs_the_same_for_unknown_and_known_clients() {
    // An unknown client, a client registered for another method, a known
    // client whose kid matches no key, and a known client with a forged
    // signature: one signature verification each (a decoy key where no
    // configured key is a candidate), the same opaque answer, and no work
    // on the grant's assertion.
    let ep = endpoint(JWT_CONFIG);
    let assertion = jwt_vector_assertion("valid-es256");
    let client_assertion = |client: &str, kid: &str| {
        jwt(
            &json!({"alg": "ES256", "kid": kid}),
            &json!({"iss": client, "sub": client, "aud": "https://as.example.com",
                    "exp": NOW + 60, "jti": "timing"})
            .to_string(),
        )
    };
    let body = |ca: &str| {
        format!(
            "grant_type={}&assertion={}&client_assertion_type={}&client_assertion={}",
            enc(JWT_BEARER),
            enc(&assertion),
            enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            enc(ca)
        )
    };
    let mut responses = Vec::new();
    for (what, ca) in [
        ("unknown client", client_assertion("nobody", "client-ec-1")),
        (
            "client of another method",
            client_assertion("basic-client", "client-ec-1"),
        ),
        ("unknown kid", client_assertion("jwt-client", "no-such-kid")),
        (
            "forged signature",
            client_assertion("jwt-client", "client-ec-1"),
        ),
    ] {
        let (r, checks) = exchange(&ep, &body(&ca), None);
        assert_eq!(checks, 1, "{what}: one signature operation");
        assert_eq!(r.status, 401, "{what}");
        responses.push(r);
    }
    assert!(
        responses.windows(2).all(|w| w[0] == w[1]),
        "identical answers"
    );
}

#[test]
fn decoy_keys_never_verify() {
    // Even a JWS whose header names an RSA algorithm gets exactly one
    // (failing) verification against the decoy RSA key.
    let ep = endpoint(JWT_CONFIG);
    let ca = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "RS256"}).to_string()),
        URL_SAFE_NO_PAD.encode(json!({"iss": "nobody", "sub": "nobody"}).to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 256])
    );
    let body = format!(
        "grant_type={}&assertion=x&client_assertion_type={}&client_assertion={}",
        enc(JWT_BEARER),
        enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        enc(&ca)
    );
    let (r, checks) = exchange(&ep, &body, None);
    assert_eq!((r.status, checks), (401, 1));
}
