//! The whole endpoint through its public Rust API, driven by data: the
//! vectors in `tests/vectors/jwt/` were made by PyJWT/cryptography
//! (`gen_jwt.py`), not by this crate. The same tests run natively
//! (`cargo test`) and as wasm in Node and headless Chromium
//! (`wasm-pack test`), so fixtures are compiled in with `include_str!`.

mod common;

use assertion_grant::{
    Config, HttpRequest, HttpResponse, MemoryReplayStore, SigningKey, TokenEndpoint,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{FORM, send, verify_access_token};
use serde_json::{Value, json};

#[cfg(all(target_arch = "wasm32", feature = "browser-tests"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const CONFIG: &str = include_str!("vectors/jwt/config.json");
const VECTORS: &str = include_str!("vectors/jwt/vectors.json");
const REPLAY: &str = include_str!("vectors/jwt/replay.json");
const INVALID_MANIFEST: &str = include_str!("vectors/jwt/config_invalid/manifest.json");
const INVALID_CONFIGS: &[(&str, &str)] = &[
    (
        "missing_issuer.json",
        include_str!("vectors/jwt/config_invalid/missing_issuer.json"),
    ),
    (
        "http_issuer.json",
        include_str!("vectors/jwt/config_invalid/http_issuer.json"),
    ),
    (
        "unknown_format.json",
        include_str!("vectors/jwt/config_invalid/unknown_format.json"),
    ),
    (
        "ec_off_curve.json",
        include_str!("vectors/jwt/config_invalid/ec_off_curve.json"),
    ),
    (
        "config_weak_rsa.json",
        include_str!("vectors/jwt/config_invalid/config_weak_rsa.json"),
    ),
    (
        "secret_hash_not_hex.json",
        include_str!("vectors/jwt/config_invalid/secret_hash_not_hex.json"),
    ),
    (
        "unknown_auth_method.json",
        include_str!("vectors/jwt/config_invalid/unknown_auth_method.json"),
    ),
    (
        "private_key_jwt_without_jwks.json",
        include_str!("vectors/jwt/config_invalid/private_key_jwt_without_jwks.json"),
    ),
];

const NOW: i64 = 1_800_000_000;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

fn endpoint() -> TokenEndpoint {
    let key = SigningKey::from_scalar(&[0x11; 32], Some("test-key".into())).unwrap();
    TokenEndpoint::new(Config::from_json(CONFIG).unwrap(), vec![key]).unwrap()
}

/// The JWT-bearer request a vector's `client` asks for.
fn request_parts(assertion: &str, client: &Value, scope: Option<&str>) -> (String, Option<String>) {
    common::request_parts(JWT_BEARER, assertion, client, scope)
}

fn jwt_parts(case: &Value) -> (String, Option<String>) {
    request_parts(
        case["assertion"].as_str().unwrap(),
        &case["client"],
        case.get("scope").and_then(Value::as_str),
    )
}

#[test]
fn every_jwt_vector_gets_its_expected_answer() {
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    common::run_vectors("jwt", &endpoint(), &cases, 100, jwt_parts);
}

#[test]
fn replays_are_refused() {
    let scenarios: Vec<Value> = serde_json::from_str(REPLAY).unwrap();
    common::run_replays("jwt_replay", &endpoint(), &scenarios, jwt_parts);
}

#[test]
fn bad_configurations_name_the_field() {
    let manifest: Vec<Value> = serde_json::from_str(INVALID_MANIFEST).unwrap();
    assert_eq!(
        manifest.len(),
        INVALID_CONFIGS.len(),
        "every manifest entry has a compiled-in file"
    );
    for entry in &manifest {
        let file = entry["file"].as_str().unwrap();
        let text = INVALID_CONFIGS
            .iter()
            .find(|(f, _)| *f == file)
            .expect(file)
            .1;
        let err = Config::from_json(text).expect_err(file);
        let prefix = entry["path_prefix"].as_str().unwrap();
        assert!(
            err.to_string().starts_with(prefix),
            "{file}: `{err}` should start with `{prefix}`"
        );
    }
}

#[test]
fn basic_failure_is_401_with_www_authenticate_and_post_failure_is_not() {
    let ep = endpoint();
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let assertion = cases[0]["assertion"].as_str().unwrap();
    let mut store = MemoryReplayStore::new();
    let (body, auth) = request_parts(
        assertion,
        &json!({"basic": ["basic-client", "wrong"]}),
        None,
    );
    let r = send(&ep, &mut store, &body, auth.as_deref(), NOW);
    assert_eq!(r.status, 401);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );
    let (body, auth) = request_parts(assertion, &json!({"post": ["post-client", "wrong"]}), None);
    let r = send(&ep, &mut store, &body, auth.as_deref(), NOW);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), None);
    // Unknown client and wrong secret are indistinguishable.
    let (body, auth) = request_parts(
        assertion,
        &json!({"basic": ["no-such-client", "basic-secret"]}),
        None,
    );
    let unknown = send(&ep, &mut store, &body, auth.as_deref(), NOW);
    let (body, auth) = request_parts(assertion, &json!({"basic": ["basic-client", "nope"]}), None);
    let wrong = send(&ep, &mut store, &body, auth.as_deref(), NOW);
    assert_eq!(unknown, wrong);
    assert!(store.is_empty());
}

#[test]
fn prepare_returns_replay_keys_and_issue_uses_the_later_clock() {
    let ep = endpoint();
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let case = cases
        .iter()
        .find(|c| c["name"] == "valid-private-key-jwt-client")
        .unwrap();
    let (body, auth) = request_parts(case["assertion"].as_str().unwrap(), &case["client"], None);
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: auth.as_deref(),
        dpop: None,
        body: body.as_bytes(),
    };
    let pending = ep.prepare(&req, NOW).unwrap();
    let keys = pending.replay_keys();
    assert_eq!(keys.len(), 2, "grant jti and client assertion jti");
    // The grant's key first: a spent grant is refused before a fresh client
    // assertion could leave an entry.
    assert_eq!(keys[0].kind, assertion_grant::ReplayKind::Grant);
    assert_eq!(keys[1].kind, assertion_grant::ReplayKind::ClientAssertion);
    assert!(keys.iter().all(|k| k.key.len() == 64 && k.expires_at > NOW));
    // Both charged to the client that sent them.
    assert_eq!(keys[0].partition.len(), 16);
    assert_eq!(keys[0].partition, keys[1].partition);
    // A reused grant is invalid_grant; a reused client assertion, invalid_client.
    assert_eq!(
        TokenEndpoint::replay_rejected(&keys[0]).code().as_str(),
        "invalid_grant"
    );
    assert_eq!(
        TokenEndpoint::replay_rejected(&keys[1]).code().as_str(),
        "invalid_client"
    );
    let token = ep.issue(pending, NOW + 5).unwrap();
    let (_, claims) = verify_access_token(&ep, &token.access_token);
    assert_eq!(claims["iat"], json!(NOW + 5));
    assert_eq!(claims["client_id"], "jwt-client");
}

#[test]
fn metadata_and_jwks() {
    let ep = endpoint();
    let m: Value = serde_json::from_str(ep.metadata_json()).unwrap();
    assert_eq!(m["issuer"], "https://as.example.com");
    assert_eq!(m["token_endpoint"], "https://as.example.com/token");
    assert_eq!(
        m["jwks_uri"],
        "https://as.example.com/.well-known/jwks.json"
    );
    assert_eq!(
        m["grant_types_supported"],
        json!([JWT_BEARER, "urn:ietf:params:oauth:grant-type:saml2-bearer"])
    );
    assert!(
        m["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key_jwt"))
    );
    assert!(
        m["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("admin"))
    );
    assert_eq!(
        ep.metadata_path(),
        "/.well-known/oauth-authorization-server"
    );
    assert_eq!(ep.token_path(), "/token");
    let jwks: Value = serde_json::from_str(ep.jwks_json()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "test-key");
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "private key never published"
    );
}

#[test]
fn demo_configuration_loads() {
    let config = Config::from_json(assertion_grant::DEMO_CONFIG).unwrap();
    let ep = TokenEndpoint::with_ephemeral_key(config).unwrap();
    assert!(ep.ephemeral_key());
    assert_eq!(ep.config().issuer(), "http://127.0.0.1:8787");
}

#[test]
fn rotation_publishes_every_key_and_signs_with_the_first() {
    let a = assertion_grant::generate_signing_key_jwk(Some("new".into())).unwrap();
    let b = assertion_grant::generate_signing_key_jwk(Some("old".into())).unwrap();
    let set = format!(r#"{{"keys":[{a},{b}]}}"#);
    let keys = assertion_grant::signing_keys_from_json(&set).unwrap();
    let ep = TokenEndpoint::new(Config::from_json(CONFIG).unwrap(), keys).unwrap();
    let jwks: Value = serde_json::from_str(ep.jwks_json()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let (body, auth) = request_parts(
        cases[0]["assertion"].as_str().unwrap(),
        &cases[0]["client"],
        None,
    );
    let r = send(
        &ep,
        &mut MemoryReplayStore::new(),
        &body,
        auth.as_deref(),
        NOW,
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    let (header, _) = verify_access_token(&ep, body["access_token"].as_str().unwrap());
    assert_eq!(header["kid"], "new");
    let dup = format!(r#"{{"keys":[{a},{a}]}}"#);
    assert_eq!(
        assertion_grant::signing_keys_from_json(&dup)
            .unwrap_err()
            .path,
        "signing_key.keys[1].kid"
    );
}

fn vector(name: &str) -> Value {
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    cases
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

#[test]
fn anonymous_callers_learn_nothing_about_an_assertion() {
    // require_client is checked before the signature: a forged assertion and
    // a genuine one get the same answer when no client is identified.
    let ep = endpoint();
    let genuine = vector("valid-es256")["assertion"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut forged = genuine.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let mut answers = Vec::new();
    for assertion in [&genuine, &forged] {
        let (body, _) = request_parts(assertion, &json!({"anonymous": true}), None);
        let mut store = MemoryReplayStore::new();
        answers.push(send(&ep, &mut store, &body, None, NOW));
        assert!(store.is_empty());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].status, 401);
    assert!(answers[0].body.contains("invalid_client"));
}

#[test]
fn a_confidential_client_naming_itself_is_treated_like_an_unknown_one() {
    let ep = endpoint();
    let assertion = vector("valid-es256")["assertion"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut store = MemoryReplayStore::new();
    let (body, _) = request_parts(&assertion, &json!({"none": "basic-client"}), None);
    let known = send(&ep, &mut store, &body, None, NOW);
    let (body, _) = request_parts(&assertion, &json!({"none": "nobody"}), None);
    let unknown = send(&ep, &mut store, &body, None, NOW);
    assert_eq!(known, unknown);
    assert_eq!(known.status, 401);
}

#[test]
fn public_clients_must_be_bound_to_issuers() {
    let mut config: Value = serde_json::from_str(CONFIG).unwrap();
    let clients = config["clients"].as_array_mut().unwrap();
    let public = clients
        .iter_mut()
        .find(|c| c["client_id"] == "public-client")
        .unwrap();
    public.as_object_mut().unwrap().remove("trusted_issuers");
    let err = Config::from_json(&config.to_string()).unwrap_err();
    assert!(err.path.ends_with(".trusted_issuers"), "{err}");
}

#[test]
fn capped_tokens_never_spend_a_replay_key_on_an_expiring_assertion() {
    // exp is NOW-30: accepted within the 60 s skew, but a token capped at the
    // assertion's expiry would be born expired.
    let case = vector("valid-exp-within-skew");
    let mut config: Value = serde_json::from_str(CONFIG).unwrap();
    config["access_token"]["cap_at_assertion_expiry"] = json!(true);
    let key = SigningKey::from_scalar(&[0x11; 32], Some("test-key".into())).unwrap();
    let ep =
        TokenEndpoint::new(Config::from_json(&config.to_string()).unwrap(), vec![key]).unwrap();
    let (body, auth) = request_parts(case["assertion"].as_str().unwrap(), &case["client"], None);
    let mut store = MemoryReplayStore::new();
    let r = send(&ep, &mut store, &body, auth.as_deref(), NOW);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("invalid_grant"));
    assert!(store.is_empty(), "no replay entry spent");
}

/// Private JWK of a test key in `tests/vectors/jwt/keys/`.
fn test_key(name: &str) -> SigningKey {
    let text = match name {
        "client-ec-1" => include_str!("vectors/jwt/keys/client-ec-1.json"),
        "idp-ec-1" => include_str!("vectors/jwt/keys/idp-ec-1.json"),
        _ => panic!("no key {name}"),
    };
    assertion_grant::signing_keys_from_json(text)
        .unwrap()
        .remove(0)
}

/// An ES256 JWS over `claims`, signed by `key` with its kid.
fn sign(key: &SigningKey, claims: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({"alg": "ES256", "kid": key.kid()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign_es256(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn client_assertion(jti: &str) -> String {
    sign(
        &test_key("client-ec-1"),
        &json!({"iss": "jwt-client", "sub": "jwt-client", "aud": "https://as.example.com",
                "iat": NOW - 5, "exp": NOW + 60, "jti": jti}),
    )
}

fn grant_assertion(jti: &str) -> String {
    grant_assertion_for("alice@example.com", jti)
}

fn grant_assertion_for(sub: &str, jti: &str) -> String {
    sign(
        &test_key("idp-ec-1"),
        &json!({"iss": "https://idp.example.com", "sub": sub,
                "aud": "https://as.example.com/token", "iat": NOW - 5, "exp": NOW + 300,
                "jti": jti}),
    )
}

#[test]
fn a_spent_grant_with_fresh_client_assertions_leaves_no_entry() {
    // Review finding: the client assertion's key was claimed first, so a
    // client replaying one spent grant with fresh client assertions left an
    // entry per request until the store filled up for everyone.
    let ep = endpoint();
    let mut store = MemoryReplayStore::new();
    let grant = grant_assertion("spent-grant");
    let (body, _) = request_parts(
        &grant,
        &json!({"private_key_jwt": client_assertion("ca-0")}),
        None,
    );
    assert_eq!(send(&ep, &mut store, &body, None, NOW).status, 200);
    assert_eq!(store.len(), 2);
    for i in 1..=20 {
        let (body, _) = request_parts(
            &grant,
            &json!({"private_key_jwt": client_assertion(&format!("ca-{i}"))}),
            None,
        );
        let r = send(&ep, &mut store, &body, None, NOW);
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.contains("invalid_grant"));
    }
    assert_eq!(store.len(), 2, "no entry per replayed request");
    // The fresh client assertions were never spent: one still works.
    let (body, _) = request_parts(
        &grant_assertion("fresh-grant"),
        &json!({"private_key_jwt": client_assertion("ca-7")}),
        None,
    );
    assert_eq!(send(&ep, &mut store, &body, None, NOW).status, 200);
}

#[test]
fn a_client_that_fills_its_partition_is_refused_alone_with_503() {
    let ep = endpoint();
    let mut store = MemoryReplayStore::with_limits(100, 2);
    let pk = |jti: &str| json!({"private_key_jwt": client_assertion(jti)});
    // jwt-client: the grant and its client assertion fill its two slots.
    let (body, _) = request_parts(&grant_assertion("p-1"), &pk("p-ca-1"), None);
    assert_eq!(send(&ep, &mut store, &body, None, NOW).status, 200);
    let (body, _) = request_parts(&grant_assertion("p-2"), &pk("p-ca-2"), None);
    let r = send(&ep, &mut store, &body, None, NOW);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let json: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(json["error"], "temporarily_unavailable");
    // Another client is not affected.
    let (body, auth) = request_parts(
        &grant_assertion("p-3"),
        &json!({"basic": ["basic-client", "basic-secret"]}),
        None,
    );
    assert_eq!(
        send(&ep, &mut store, &body, auth.as_deref(), NOW).status,
        200
    );
}

#[test]
fn legacy_audience_is_only_for_private_key_jwt_clients() {
    let config = config_with_client("basic-client", |c| {
        c["legacy_client_assertion_audience"] = json!(true);
    });
    let err = Config::from_json(&config.to_string()).unwrap_err();
    assert!(
        err.path.ends_with(".legacy_client_assertion_audience"),
        "{err}"
    );
}

#[test]
fn authentication_and_delegation_claims_cannot_be_mapped() {
    for claim in ["act", "may_act", "azp", "amr", "acr", "auth_time", "cnf"] {
        let mut config: Value = serde_json::from_str(CONFIG).unwrap();
        config["trusted_issuers"][0]["claims"][claim] = json!("email");
        let err = Config::from_json(&config.to_string()).unwrap_err();
        assert_eq!(
            err.path,
            format!("trusted_issuers[0].claims.{claim}"),
            "{err}"
        );
    }
}

#[test]
fn a_public_client_partition_is_per_subject() {
    // Anyone may name a public client: one user filling its partition must
    // not lock out the others.
    let ep = endpoint();
    let mut store = MemoryReplayStore::with_limits(100, 1);
    let public = json!({"none": "public-client"});
    for (sub, jti, status) in [
        ("alice@example.com", "pp-1", 200),
        ("alice@example.com", "pp-2", 503),
        ("bob@example.com", "pp-3", 200),
    ] {
        let (body, _) = request_parts(&grant_assertion_for(sub, jti), &public, Some("read"));
        let r = send(&ep, &mut store, &body, None, NOW);
        assert_eq!(r.status, status, "{sub} {jti}: {}", r.body);
    }
}

#[test]
fn a_bound_confidential_client_learns_nothing_about_other_issuers_assertions() {
    // basic-client bound to other-idp only: a valid and a forged idp.example.com
    // assertion get the same answer, and no signature is checked.
    let config = config_with_client("basic-client", |c| {
        c["trusted_issuers"] = json!(["https://other-idp.example.com"]);
    });
    let key = SigningKey::from_scalar(&[0x11; 32], Some("test-key".into())).unwrap();
    let ep =
        TokenEndpoint::new(Config::from_json(&config.to_string()).unwrap(), vec![key]).unwrap();
    let genuine = grant_assertion("bound-1");
    let mut forged = genuine.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let basic = json!({"basic": ["basic-client", "basic-secret"]});
    let mut answers = Vec::new();
    for assertion in [&genuine, &forged] {
        let (body, auth) = request_parts(assertion, &basic, None);
        let mut store = MemoryReplayStore::new();
        assertion_grant::probe::reset();
        answers.push(send(&ep, &mut store, &body, auth.as_deref(), NOW));
        assert_eq!(assertion_grant::probe::signature_checks(), 0);
        assert!(store.is_empty());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].status, 400);
    assert!(
        answers[0]
            .body
            .contains("may not present assertions from this issuer")
    );
}

#[test]
fn an_issuer_sharing_a_key_with_a_private_key_jwt_client_is_held_to_the_strict_audience() {
    // A JWT issuer with another name but jwt-client's key: a client
    // assertion collected elsewhere (aud = our token endpoint) must not pass
    // as a grant from it. With the client on legacy audiences, the old rule.
    let client_key = test_key("client-ec-1");
    let collected = sign(
        &client_key,
        &json!({"iss": "https://svc.example", "sub": "svc", "aud": "https://as.example.com/token",
                "iat": NOW - 5, "exp": NOW + 60, "jti": "collected-1"}),
    );
    let mut answers = Vec::new();
    for legacy in [false, true] {
        let mut config: Value = serde_json::from_str(CONFIG).unwrap();
        let client_jwks = config["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == "jwt-client")
            .unwrap()["jwks"]
            .clone();
        // The key moves from the issuer named like the client to one named
        // otherwise (one key under two issuers is refused).
        let issuers = config["trusted_issuers"].as_array_mut().unwrap();
        issuers.retain(|i| i["issuer"] != "jwt-client");
        issuers.push(json!({"issuer": "https://svc.example", "format": "jwt", "jwks": client_jwks, "scope": "read",
                            "dangerous": {"shared_subject_namespace": true}}));
        if legacy {
            for c in config["clients"].as_array_mut().unwrap() {
                if c["client_id"] == "jwt-client" {
                    c["legacy_client_assertion_audience"] = json!(true);
                }
            }
        }
        let key = SigningKey::from_scalar(&[0x11; 32], Some("test-key".into())).unwrap();
        let ep =
            TokenEndpoint::new(Config::from_json(&config.to_string()).unwrap(), vec![key]).unwrap();
        let (body, auth) = request_parts(
            &collected,
            &json!({"basic": ["basic-client", "basic-secret"]}),
            Some("read"),
        );
        answers.push(
            send(
                &ep,
                &mut MemoryReplayStore::new(),
                &body,
                auth.as_deref(),
                NOW,
            )
            .status,
        );
    }
    assert_eq!(answers, [400, 200]);
}

#[test]
fn exchanges_and_pending_tokens_belong_to_their_endpoint() {
    // A host that mixes up endpoints gets server_error, never another
    // configuration's decision or signature.
    let a = endpoint();
    let b = endpoint();
    let case = vector("valid-es256");
    let (body, auth) = request_parts(case["assertion"].as_str().unwrap(), &case["client"], None);
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: auth.as_deref(),
        dpop: None,
        body: body.as_bytes(),
    };
    let exchange = a.begin(&req, NOW);
    assert!(exchange.signature_check().is_some());
    let crossed = exchange.resume(&b, true).outcome().unwrap_err();
    assert_eq!(crossed.code().as_str(), "server_error");
    let pending = a.prepare(&req, NOW).unwrap();
    assert_eq!(
        b.issue(pending, NOW).unwrap_err().code().as_str(),
        "server_error"
    );
    // A host-signed endpoint never spends replay keys in `handle`.
    let public = assertion_grant::PublicSigningKey::from(
        &SigningKey::from_scalar(&[0x11; 32], Some("k".into())).unwrap(),
    );
    let hosted =
        TokenEndpoint::with_host_signer(Config::from_json(CONFIG).unwrap(), vec![public]).unwrap();
    let mut store = MemoryReplayStore::new();
    let r = send(&hosted, &mut store, &body, auth.as_deref(), NOW);
    assert_eq!(r.status, 500);
    assert!(store.is_empty());
}

/// The test configuration with client `client_id` changed by `edit`.
fn config_with_client(client_id: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut config: Value = serde_json::from_str(CONFIG).unwrap();
    let client = config["clients"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["client_id"] == client_id)
        .unwrap();
    edit(client);
    config
}

// ---------------------------------------------------------------------------
// One subject namespace per trusted issuer, and bounded subjects and claims.

fn scalar_key(n: u8) -> SigningKey {
    SigningKey::from_scalar(&[n; 32], Some(format!("k{n}"))).unwrap()
}

fn jwks_of(key: &SigningKey) -> Value {
    let mut jwk = key.public_key().to_jwk();
    jwk["kid"] = json!(key.kid());
    json!({ "keys": [jwk] })
}

/// Two IdPs, `https://a.example` (key 1) and `https://b.example` (key 2),
/// each with `extra` merged into its entry.
fn two_idps(extra_a: Value, extra_b: Value) -> Value {
    let mut issuers = Vec::new();
    for (name, n, extra) in [("a", 1, extra_a), ("b", 2, extra_b)] {
        let mut entry = json!({"issuer": format!("https://{name}.example"), "format": "jwt",
                               "jwks": jwks_of(&scalar_key(n)), "scope": "read",
                               "claims": {"groups": "groups"}});
        for (k, v) in extra.as_object().unwrap() {
            entry[k] = v.clone();
        }
        issuers.push(entry);
    }
    json!({
        "issuer": "https://as.example.com",
        "access_token": {"audience": "https://api.example.com"},
        "trusted_issuers": issuers,
        "clients": [{"client_id": "basic-client", "token_endpoint_auth_method": "client_secret_basic",
                     "client_secret_sha256": assertion_grant::hash_client_secret("basic-secret"),
                     "grant_types": [JWT_BEARER], "scope": "read"}]
    })
}

/// Exchanges `claims` (signed by key `n`) at `config`; the response and the
/// access token's claims when one was issued.
fn exchange_with(config: &Value, n: u8, claims: &Value) -> (HttpResponse, Option<Value>) {
    let ep = TokenEndpoint::new(
        Config::from_json(&config.to_string()).unwrap(),
        vec![scalar_key(0x21)],
    )
    .unwrap();
    let (body, auth) = request_parts(
        &sign(&scalar_key(n), claims),
        &json!({"basic": ["basic-client", "basic-secret"]}),
        None,
    );
    let r = send(
        &ep,
        &mut MemoryReplayStore::new(),
        &body,
        auth.as_deref(),
        NOW,
    );
    let token = serde_json::from_str::<Value>(&r.body)
        .ok()
        .and_then(|v| v["access_token"].as_str().map(str::to_owned))
        .map(|t| {
            let payload = t.split('.').nth(1).unwrap();
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
        });
    (r, token)
}

fn alice_from(idp: &str, extra: Value) -> Value {
    let mut claims = json!({"iss": idp, "sub": "alice", "aud": "https://as.example.com/token",
                            "iat": NOW - 5, "exp": NOW + 300, "jti": format!("{idp}-1")});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

#[test]
fn two_idps_asserting_alice_yield_two_users() {
    // Without subject prefixes two trusted issuers are refused, naming the
    // field and the dangerous opt-out.
    let err = Config::from_json(&two_idps(json!({}), json!({})).to_string()).unwrap_err();
    assert_eq!(err.path, "trusted_issuers[0].subject_prefix", "{err}");
    assert!(
        err.to_string().contains("shared_subject_namespace"),
        "{err}"
    );
    let err = Config::from_json(&two_idps(json!({"subject_prefix": "a|"}), json!({})).to_string())
        .unwrap_err();
    assert_eq!(err.path, "trusted_issuers[1].subject_prefix", "{err}");

    // With prefixes: the same asserted subject is two users, and each
    // token names the issuer that vouched for it.
    let config = two_idps(
        json!({"subject_prefix": "a|"}),
        json!({"subject_prefix": "b|"}),
    );
    let (ra, a) = exchange_with(&config, 1, &alice_from("https://a.example", json!({})));
    let (rb, b) = exchange_with(&config, 2, &alice_from("https://b.example", json!({})));
    assert_eq!(
        (ra.status, rb.status),
        (200, 200),
        "{} {}",
        ra.body,
        rb.body
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a["sub"], "a|alice");
    assert_eq!(b["sub"], "b|alice");
    assert_eq!(a["idp"], "https://a.example");
    assert_eq!(b["idp"], "https://b.example");
    // A subject crafted to look like the other namespace stays in its own.
    let (_, forged) = exchange_with(
        &config,
        2,
        &alice_from(
            "https://b.example",
            json!({"sub": "a|alice", "jti": "forged"}),
        ),
    );
    assert_eq!(forged.unwrap()["sub"], "b|a|alice");

    // Prefixes that are equal, or where one starts the other, are refused.
    for (pa, pb) in [("a|", "a|"), ("a", "ab|"), ("x|", "x|y|")] {
        let cfg = two_idps(json!({"subject_prefix": pa}), json!({"subject_prefix": pb}));
        let err = Config::from_json(&cfg.to_string()).unwrap_err();
        assert!(err.path.ends_with("subject_prefix"), "{pa} {pb}: {err}");
    }
    for bad in ["", "tab\there", &"p".repeat(65)] {
        let cfg = two_idps(
            json!({"subject_prefix": bad}),
            json!({"subject_prefix": "b|"}),
        );
        let err = Config::from_json(&cfg.to_string()).unwrap_err();
        assert_eq!(
            err.path, "trusted_issuers[0].subject_prefix",
            "{bad:?}: {err}"
        );
    }

    // The dangerous opt-out: one namespace, told apart only by `idp`.
    let shared = json!({"dangerous": {"shared_subject_namespace": true}});
    let config = two_idps(shared.clone(), shared);
    let (_, a) = exchange_with(&config, 1, &alice_from("https://a.example", json!({})));
    let (_, b) = exchange_with(&config, 2, &alice_from("https://b.example", json!({})));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a["sub"], b["sub"]);
    assert_ne!(a["idp"], b["idp"]);

    // One trusted issuer needs no prefix; a mapping may not set `idp`.
    let mut single = two_idps(json!({}), json!({}));
    single["trusted_issuers"].as_array_mut().unwrap().pop();
    let (r, t) = exchange_with(&single, 1, &alice_from("https://a.example", json!({})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.unwrap()["sub"], "alice");
    single["trusted_issuers"][0]["claims"] = json!({"idp": "idp"});
    assert!(Config::from_json(&single.to_string()).is_err());
}

#[test]
fn a_trusted_issuer_cannot_push_an_oversized_token() {
    let config = two_idps(
        json!({"subject_prefix": "a|"}),
        json!({"subject_prefix": "b|"}),
    );
    let error_of =
        |r: &HttpResponse| serde_json::from_str::<Value>(&r.body).unwrap()["error"].clone();
    // A signed 12 KB subject: refused, not issued as a 16 KB token.
    let big = "x".repeat(12 * 1024);
    let (r, t) = exchange_with(
        &config,
        1,
        &alice_from("https://a.example", json!({"sub": big})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(error_of(&r), "invalid_grant");
    assert!(t.is_none());
    // The limit counts the prefix: 253 + "a|" = 255 passes, 254 does not.
    let (r, _) = exchange_with(
        &config,
        1,
        &alice_from("https://a.example", json!({"sub": "y".repeat(253)})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (r, _) = exchange_with(
        &config,
        1,
        &alice_from("https://a.example", json!({"sub": "y".repeat(254)})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // Configurable.
    let mut larger = config.clone();
    larger["access_token"]["max_subject_bytes"] = json!(1024);
    let (r, _) = exchange_with(
        &larger,
        1,
        &alice_from("https://a.example", json!({"sub": "y".repeat(1000)})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    larger["access_token"]["max_subject_bytes"] = json!(1025);
    assert_eq!(
        Config::from_json(&larger.to_string()).unwrap_err().path,
        "access_token.max_subject_bytes"
    );

    // Mapped claims: 100 groups of 30 bytes (~3.3 KB of JSON) exceed the
    // default 2048 and are refused, not cut.
    let groups: Vec<String> = (0..100)
        .map(|i| format!("group-{i:03}-{}", "g".repeat(20)))
        .collect();
    let (r, t) = exchange_with(
        &config,
        1,
        &alice_from("https://a.example", json!({"groups": groups})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(error_of(&r), "invalid_grant");
    assert!(t.is_none());
    let mut roomy = config.clone();
    roomy["access_token"]["max_claims_bytes"] = json!(4096);
    let (r, t) = exchange_with(
        &roomy,
        1,
        &alice_from("https://a.example", json!({"groups": groups})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(t.unwrap()["groups"].as_array().unwrap().len(), 100);

    // At the defaults' limits, the whole token stays header-safe.
    let groups: Vec<String> = (0..60)
        .map(|i| format!("g{i:02}-{}", "z".repeat(26)))
        .collect();
    let (r, _) = exchange_with(
        &config,
        1,
        &alice_from(
            "https://a.example",
            json!({"sub": "y".repeat(253), "groups": groups}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let token: Value = serde_json::from_str(&r.body).unwrap();
    let len = token["access_token"].as_str().unwrap().len();
    assert!(len < 4096, "{len} bytes");

    // explain names the rule that refused.
    let ep = TokenEndpoint::new(
        Config::from_json(&config.to_string()).unwrap(),
        vec![scalar_key(0x21)],
    )
    .unwrap();
    let (body, auth) = request_parts(
        &sign(
            &scalar_key(1),
            &alice_from("https://a.example", json!({"sub": "y".repeat(300)})),
        ),
        &json!({"basic": ["basic-client", "basic-secret"]}),
        None,
    );
    let req = assertion_grant::HttpRequest {
        method: "POST",
        content_type: Some(common::FORM),
        authorization: auth.as_deref(),
        dpop: None,
        body: body.as_bytes(),
    };
    let e = ep.explain(&req, NOW, &|_| false);
    assert_eq!(
        e.error.as_ref().unwrap().reason,
        assertion_grant::Reason::AssertionSubjectTooLong
    );
}
