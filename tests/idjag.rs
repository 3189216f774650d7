//! ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant) and DPoP (RFC
//! 9449) at the token endpoint: the vectors in `tests/vectors/idjag/` were
//! made by PyJWT/`cryptography` (cross-checked with Authlib's ID-JAG grant
//! where installed; see its README), not by this crate. The tests after
//! them cover what vectors cannot: server nonces, metadata, configuration.

mod common;

use assertion_grant::protocol::GRANT_JWT_BEARER;
use assertion_grant::{
    Config, HttpRequest, HttpResponse, MemoryReplayStore, OAuthError, ReplayStore, SigningKey,
    TokenEndpoint,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{FORM, enc, verify_access_token};
use serde_json::{Value, json};

#[cfg(all(target_arch = "wasm32", feature = "browser-tests"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const CONFIG: &str = include_str!("vectors/idjag/config.json");
const VECTORS: &str = include_str!("vectors/idjag/vectors.json");
const REPLAY: &str = include_str!("vectors/idjag/replay.json");
const NOW: i64 = 1_800_000_000;

fn endpoint_with(config: &str) -> TokenEndpoint {
    let key = SigningKey::from_scalar(&[0x21; 32], Some("as-key".into())).unwrap();
    TokenEndpoint::new(Config::from_json(config).unwrap(), vec![key]).unwrap()
}

fn endpoint() -> TokenEndpoint {
    endpoint_with(CONFIG)
}

/// Sends a vector's request: its client, scope, `resource`s,
/// `authorization_details` and `DPoP` header(s).
fn send_case(
    ep: &TokenEndpoint,
    store: &mut dyn ReplayStore,
    case: &Value,
    now: i64,
) -> HttpResponse {
    let (mut body, auth) = common::request_parts(
        GRANT_JWT_BEARER,
        case["assertion"].as_str().unwrap(),
        &case["client"],
        case["scope"].as_str(),
    );
    let resources: Vec<&str> = match &case["resource"] {
        Value::String(r) => vec![r.as_str()],
        Value::Array(rs) => rs.iter().map(|r| r.as_str().unwrap()).collect(),
        _ => vec![],
    };
    for r in resources {
        body.push_str(&format!("&resource={}", enc(r)));
    }
    if let Some(details) = case["authorization_details"].as_str() {
        body.push_str(&format!("&authorization_details={}", enc(details)));
    }
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", FORM)];
    if let Some(a) = auth.as_deref() {
        headers.push(("Authorization", a));
    }
    match &case["dpop"] {
        Value::String(p) => headers.push(("DPoP", p.as_str())),
        Value::Array(ps) => {
            for p in ps {
                headers.push(("DPoP", p.as_str().unwrap()));
            }
        }
        _ => {}
    }
    match HttpRequest::from_headers("POST", headers, body.as_bytes()) {
        Ok(req) => ep.handle(&req, now, store),
        Err(e) => OAuthError::from(e).to_http(),
    }
}

/// What differs between a response and a vector's `expect`.
fn check(ep: &TokenEndpoint, name: &str, r: &HttpResponse, expect: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let body: Value = serde_json::from_str(&r.body).unwrap();
    if r.header("cache-control") != Some("no-store") {
        bad.push(format!("{name}: no Cache-Control: no-store"));
    }
    if u64::from(r.status) != expect["status"].as_u64().unwrap() {
        bad.push(format!(
            "{name}: status {} ({}), want {}",
            r.status, r.body, expect["status"]
        ));
        return bad;
    }
    if r.status != 200 {
        if body["error"] != expect["error"] {
            bad.push(format!(
                "{name}: error {} ({}), want {}",
                body["error"], body["error_description"], expect["error"]
            ));
        }
        return bad;
    }
    if body["token_type"] != expect["token_type"] {
        bad.push(format!(
            "{name}: token_type {}, want {}",
            body["token_type"], expect["token_type"]
        ));
    }
    let (header, claims) = verify_access_token(ep, body["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    for field in ["sub", "idp", "aud"] {
        if claims[field] != expect[field] {
            bad.push(format!(
                "{name}: {field} {}, want {}",
                claims[field], expect[field]
            ));
        }
    }
    let set = |v: &Value| {
        let mut s: Vec<String> = v
            .as_str()
            .unwrap_or("")
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        s.sort();
        s
    };
    if set(&claims["scope"]) != set(&expect["scope"]) {
        bad.push(format!(
            "{name}: scope {}, want {}",
            claims["scope"], expect["scope"]
        ));
    }
    if claims["cnf"]["jkt"] != expect["cnf_jkt"] {
        bad.push(format!(
            "{name}: cnf.jkt {}, want {}",
            claims["cnf"]["jkt"], expect["cnf_jkt"]
        ));
    }
    if let Some(want) = expect["claims"].as_object() {
        for (k, v) in want {
            if claims[k] != *v {
                bad.push(format!("{name}: claim {k} {}, want {v}", claims[k]));
            }
        }
    }
    for absent in expect["absent"].as_array().into_iter().flatten() {
        if claims.get(absent.as_str().unwrap()).is_some() {
            bad.push(format!("{name}: claim {absent} should be absent"));
        }
    }
    // The response names the resources a restricted token is for.
    let requested =
        expect["aud"] != json!("https://api.example.com") || body.get("resource").is_some();
    if requested && body["resource"] != expect["aud"] {
        bad.push(format!(
            "{name}: response resource {}, want {}",
            body["resource"], expect["aud"]
        ));
    }
    bad
}

#[test]
fn vectors() {
    let ep = endpoint();
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    assert!(cases.len() >= 60);
    let mut failures = Vec::new();
    for case in &cases {
        // A fresh store per case: each vector stands alone.
        let mut store = MemoryReplayStore::new();
        let now = case["now"].as_i64().unwrap();
        let r = send_case(&ep, &mut store, case, now);
        let name = case["name"].as_str().unwrap();
        failures.extend(check(&ep, name, &r, &case["expect"]));
        if r.status != 200 {
            assert!(store.is_empty(), "{name}: a refusal left a replay entry");
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn replay_scenarios() {
    let ep = endpoint();
    let scenarios: Vec<Value> = serde_json::from_str(REPLAY).unwrap();
    let mut failures = Vec::new();
    for scenario in &scenarios {
        let mut store = MemoryReplayStore::new();
        let now = scenario["now"].as_i64().unwrap();
        for (i, case) in scenario["requests"].as_array().unwrap().iter().enumerate() {
            let name = format!("{}[{i}]", scenario["name"].as_str().unwrap());
            let r = send_case(&ep, &mut store, case, now);
            failures.extend(check(&ep, &name, &r, &case["expect"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_refusal_reasons_name_the_rule() {
    let ep = endpoint();
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let reason = |name: &str| {
        let case = cases
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name}"));
        let (mut body, auth) = common::request_parts(
            GRANT_JWT_BEARER,
            case["assertion"].as_str().unwrap(),
            &case["client"],
            case["scope"].as_str(),
        );
        if let Some(r) = case["resource"].as_str() {
            body.push_str(&format!("&resource={}", enc(r)));
        }
        let req = HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization: auth.as_deref(),
            dpop: case["dpop"].as_str(),
            body: body.as_bytes(),
        };
        ep.prepare(&req, NOW).unwrap_err().reason().code()
    };
    for (name, code) in [
        ("idjag-aud-token-endpoint", "idjag.audience"),
        ("idjag-aud-alias", "idjag.audience"),
        ("idjag-aud-array-two", "idjag.audience"),
        ("idjag-client-id-mismatch", "idjag.client_id_mismatch"),
        ("idjag-public-client", "idjag.confidential_client_required"),
        ("idjag-typ-trailing-space", "idjag.typ"),
        ("idjag-typ-jwt", "idjag.required"),
        ("plain-idp-idjag", "idjag.profile_not_allowed"),
        (
            "idjag-authorization-details-claim",
            "idjag.authorization_details",
        ),
        ("idjag-resource-not-allowed", "target.not_allowed"),
        ("idjag-cnf-jkt-other-key", "idjag.key_binding"),
        ("idjag-cnf-jkt-no-proof", "idjag.key_binding"),
        ("idjag-missing-client_id", "jwt.claim_missing"),
        ("dpop-agent-no-proof", "dpop.required"),
        ("dpop-bad-htm-get", "dpop.htm_mismatch"),
        ("dpop-bad-htu-other-host", "dpop.htu_mismatch"),
        ("dpop-bad-iat-too-old", "dpop.iat"),
        ("dpop-bad-alg-none", "dpop.alg"),
        ("dpop-bad-alg-hs256", "dpop.alg"),
        ("dpop-bad-jwk-private", "dpop.jwk"),
        ("dpop-bad-typ-jwt", "dpop.typ"),
        ("dpop-bad-signature", "dpop.signature_invalid"),
        ("dpop-bad-jti-missing", "dpop.claim_missing"),
    ] {
        assert_eq!(reason(name), code, "{name}");
    }
}

/// A DPoP proof made here (the vectors cover interop; these tests need
/// proofs for server nonces and times the vectors do not have).
fn proof(key: &SigningKey, htu: &str, iat: i64, jti: &str, nonce: Option<&str>) -> String {
    let jwk = key.public_key().to_jwk();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let mut claims = json!({"htm": "POST", "htu": htu, "iat": iat, "jti": jti});
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign_es256(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The happy-path vector's request with `dpop` as its proof.
fn happy_with_proof(
    ep: &TokenEndpoint,
    store: &mut dyn ReplayStore,
    dpop: &str,
    now: i64,
) -> HttpResponse {
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let mut case = cases
        .iter()
        .find(|c| c["name"] == "both-idp-rfc7523-agent-app")
        .unwrap()
        .clone();
    case["dpop"] = json!(dpop);
    send_case(ep, store, &case, now)
}

fn nonce_config() -> String {
    let mut config: Value = serde_json::from_str(CONFIG).unwrap();
    config["dpop"]["require_nonce"] = json!(true);
    config["dpop"]["nonce_lifetime_secs"] = json!(60);
    config.to_string()
}

#[test]
fn server_nonces_are_stateless_and_rotate() {
    let key = SigningKey::from_scalar(&[0x42; 32], None).unwrap();
    let htu = "https://as.example.com/token";
    let mut ep = endpoint_with(&nonce_config());
    // Without the host's secret, a proof cannot be judged: server_error, not a token.
    assert!(ep.needs_dpop_nonce_secret());
    let r = happy_with_proof(
        &ep,
        &mut MemoryReplayStore::new(),
        &proof(&key, htu, NOW, "a", None),
        NOW,
    );
    assert_eq!(r.status, 500);
    ep.set_dpop_nonce_secret(&[9u8; 32]).unwrap();
    assert!(!ep.needs_dpop_nonce_secret());
    assert!(
        ep.set_dpop_nonce_secret(&[9u8; 16]).is_err(),
        "short secrets are refused"
    );

    let mut store = MemoryReplayStore::new();
    // No nonce: use_dpop_nonce with a fresh DPoP-Nonce, and nothing claimed.
    let r = happy_with_proof(&ep, &mut store, &proof(&key, htu, NOW, "p1", None), NOW);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (r.status, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{}",
        r.body
    );
    let nonce = r.header("dpop-nonce").expect("DPoP-Nonce").to_owned();
    assert!(store.is_empty());
    // Another instance with the same secret accepts that nonce.
    let mut other = endpoint_with(&nonce_config());
    other.set_dpop_nonce_secret(&[9u8; 32]).unwrap();
    let r = happy_with_proof(
        &other,
        &mut store,
        &proof(&key, htu, NOW + 1, "p2", Some(&nonce)),
        NOW + 1,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert!(
        r.header("dpop-nonce").is_some(),
        "a fresh nonce rides on the token response"
    );
    // Two windows later the nonce is stale.
    let later = NOW + 130;
    let r = happy_with_proof(
        &ep,
        &mut MemoryReplayStore::new(),
        &proof(&key, htu, later, "p3", Some(&nonce)),
        later,
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");
    assert_ne!(r.header("dpop-nonce"), Some(nonce.as_str()));
    // A nonce made with another secret is refused.
    let mut foreign = endpoint_with(&nonce_config());
    foreign.set_dpop_nonce_secret(&[8u8; 32]).unwrap();
    let theirs = foreign.dpop_nonce(NOW).unwrap();
    let r = happy_with_proof(
        &ep,
        &mut MemoryReplayStore::new(),
        &proof(&key, htu, NOW, "p4", Some(&theirs)),
        NOW,
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");
}

#[test]
fn one_proof_buys_at_most_one_token() {
    let ep = endpoint();
    let key = SigningKey::from_scalar(&[0x43; 32], None).unwrap();
    let shared = proof(&key, "https://as.example.com/token", NOW, "once", None);
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let mut store = MemoryReplayStore::new();
    // Every positive vector without its own proof, each with a fresh
    // assertion but the same proof: one token in all.
    let mut issued = 0;
    for case in cases
        .iter()
        .filter(|c| c["expect"]["status"] == 200 && c["dpop"].is_null())
    {
        let mut case = case.clone();
        case["dpop"] = json!(shared);
        let r = send_case(&ep, &mut store, &case, NOW);
        if r.status == 200 {
            issued += 1;
        } else {
            let body: Value = serde_json::from_str(&r.body).unwrap();
            assert!(
                ["invalid_dpop_proof", "invalid_grant"].contains(&body["error"].as_str().unwrap()),
                "{}",
                r.body
            );
        }
    }
    assert_eq!(issued, 1);
}

#[test]
fn metadata_advertises_id_jag_and_dpop() {
    let ep = endpoint();
    let m: Value = serde_json::from_str(ep.metadata_json()).unwrap();
    assert_eq!(
        m["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
    assert!(
        m["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(GRANT_JWT_BEARER))
    );
    assert_eq!(
        m["dpop_signing_alg_values_supported"],
        json!(["ES256", "PS256", "RS256"])
    );
    // Without an id-jag issuer, no profile is advertised.
    let plain = Config::from_json(assertion_grant::DEMO_CONFIG).unwrap();
    let ep = TokenEndpoint::with_ephemeral_key(plain).unwrap();
    let m: Value = serde_json::from_str(ep.metadata_json()).unwrap();
    assert!(m.get("authorization_grant_profiles_supported").is_none());
}

#[test]
fn configuration_errors_name_the_field() {
    let base: Value = serde_json::from_str(CONFIG).unwrap();
    let cases: [(&str, Value, &str); 7] = [
        (
            "/trusted_issuers/0/profiles",
            json!(["id-jag", "saml"]),
            "trusted_issuers[0].profiles[1]",
        ),
        (
            "/trusted_issuers/0/profiles",
            json!([]),
            "trusted_issuers[0].profiles",
        ),
        (
            "/trusted_issuers/0/profiles",
            json!(["id-jag", "id-jag"]),
            "trusted_issuers[0].profiles[1]",
        ),
        (
            "/access_token/resources",
            json!(["https://a.example/#x"]),
            "access_token.resources[0]",
        ),
        (
            "/access_token/resources",
            json!(["not a uri"]),
            "access_token.resources[0]",
        ),
        ("/dpop/algorithms", json!(["HS256"]), "dpop.algorithms[0]"),
        ("/dpop/max_age_secs", json!(0), "dpop.max_age_secs"),
    ];
    for (pointer, value, path) in cases {
        let mut config = base.clone();
        let (parent, name) = pointer.rsplit_once('/').unwrap();
        config
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap()
            .insert(name.into(), value);
        let err = Config::from_json(&config.to_string()).unwrap_err();
        assert_eq!(err.path, path, "{pointer}: {err}");
    }
    // id-jag is for JWT issuers only.
    let saml = json!({"issuer": "https://as.example.com", "access_token": {"audience": "x"},
        "trusted_issuers": [{"issuer": "https://idp", "format": "saml2", "profiles": ["id-jag"],
        "x509_certificates": []}]});
    let err = Config::from_json(&saml.to_string()).unwrap_err();
    assert!(err.path.starts_with("trusted_issuers[0]"), "{err}");
}

#[test]
fn a_proof_at_the_edge_of_its_window_is_still_one_time() {
    // Zero skew: the proof is accepted up to the second iat + max_age; its
    // replay entry must outlive that second (review finding, December 2026).
    let mut config: Value = serde_json::from_str(CONFIG).unwrap();
    config["clock_skew_secs"] = json!(0);
    let ep = endpoint_with(&config.to_string());
    let key = SigningKey::from_scalar(&[0x44; 32], None).unwrap();
    let edge = proof(
        &key,
        "https://as.example.com/token",
        NOW - 300,
        "edge",
        None,
    );
    let mut store = MemoryReplayStore::new();
    let first = happy_with_proof(&ep, &mut store, &edge, NOW);
    assert_eq!(first.status, 200, "{}", first.body);
    let again = happy_with_proof(&ep, &mut store, &edge, NOW);
    let body: Value = serde_json::from_str(&again.body).unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof", "{}", again.body);
}

#[test]
fn a_spent_proof_does_not_spend_the_grant() {
    // The proof's key is claimed first: someone who spent a client's proof
    // first cannot make that client's request burn its one-time grant.
    let ep = endpoint();
    let key = SigningKey::from_scalar(&[0x45; 32], None).unwrap();
    let htu = "https://as.example.com/token";
    let seen = proof(&key, htu, NOW, "seen", None);
    let mut store = MemoryReplayStore::new();
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let mut other = cases
        .iter()
        .find(|c| c["name"] == "idjag-valid-rs256")
        .unwrap()
        .clone();
    other["dpop"] = json!(seen);
    assert_eq!(send_case(&ep, &mut store, &other, NOW).status, 200);
    // The victim's request: its grant with the spent proof, then with a fresh one.
    let r = happy_with_proof(&ep, &mut store, &seen, NOW);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
    let fresh = proof(&key, htu, NOW, "fresh", None);
    let r = happy_with_proof(&ep, &mut store, &fresh, NOW);
    assert_eq!(r.status, 200, "the grant is still good: {}", r.body);
}
