//! Operator tools over the core: every configuration error in one run
//! (`Config::check_json`), the effective configuration
//! (`Config::effective_json`), and the labels of a log line
//! (`TokenEndpoint::request_labels`).

use assertion_grant::{Config, HttpRequest, LabelledRoute, TokenEndpoint};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

const CONFIG: &str = include_str!("vectors/jwt/config.json");

fn doc() -> Value {
    serde_json::from_str(CONFIG).unwrap()
}

fn paths(doc: &Value) -> Vec<String> {
    match Config::check_json(&doc.to_string()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.path).collect(),
    }
}

#[test]
fn every_semantic_error_in_one_run_in_document_order() {
    let mut d = doc();
    d["clock_skew_secs"] = json!(5000);
    d["access_token"]["lifetime_secs"] = json!(0);
    d["trusted_issuers"][1]["max_lifetime_secs"] = json!(-1);
    d["clients"][0]["client_secret_sha256"] = json!("not-hex");
    d["clients"][2]["trusted_issuers"] = json!(["https://nowhere.example"]);
    let dup = d["clients"][1].clone();
    d["clients"].as_array_mut().unwrap().push(dup);
    let n = d["clients"].as_array().unwrap().len() - 1;
    let got = paths(&d);
    assert_eq!(
        got,
        vec![
            "clock_skew_secs".to_owned(),
            "access_token.lifetime_secs".to_owned(),
            "trusted_issuers[1].max_lifetime_secs".to_owned(),
            "clients[0].client_secret_sha256".to_owned(),
            "clients[2].trusted_issuers[0]".to_owned(),
            format!("clients[{n}].client_id"),
        ]
    );
    // from_json reports the first of them.
    let first = Config::from_json(&d.to_string()).unwrap_err();
    assert_eq!(first.path, "clock_skew_secs");
}

#[test]
fn an_issuer_in_error_does_not_make_its_clients_errors_too() {
    let mut d = doc();
    // The issuer the clients name is broken; they still name a known issuer.
    d["trusted_issuers"][0]["max_lifetime_secs"] = json!(-1);
    assert_eq!(paths(&d), vec!["trusted_issuers[0].max_lifetime_secs"]);
}

#[test]
fn schema_errors_are_reported_per_entry() {
    let mut d = doc();
    d["trusted_issuers"][0]["colour"] = json!("blue");
    d["trusted_issuers"][2]["format"] = json!("carrier-pigeon");
    d["clients"][1]["token_endpoint_auth_method"] = json!("telepathy");
    d["scope_policy"] = json!("maybe");
    let got = paths(&d);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0], "scope_policy");
    assert_eq!(got[1], "trusted_issuers[0].colour");
    assert!(got[2].starts_with("trusted_issuers[2]"), "{got:?}");
    assert!(got[3].starts_with("clients[1]"), "{got:?}");
    // A missing required field is named at the field.
    let mut d = doc();
    d["clients"][3].as_object_mut().unwrap().remove("client_id");
    assert_eq!(paths(&d), vec!["clients[3].client_id"]);
}

#[test]
fn not_json_and_not_an_object_are_one_error() {
    let errors = Config::check_json("{ nope").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].reason.contains("not valid JSON"));
    let errors = Config::check_json("[1, 2]").unwrap_err();
    assert_eq!(errors.len(), 1);
}

#[test]
fn the_effective_configuration_fills_every_default_and_keeps_what_is_written() {
    let mut d = doc();
    d["trusted_issuers"][0]["clock_skew_secs"] = json!(7);
    let text = d.to_string();
    let config = Config::from_json(&text).unwrap();
    let e = config.effective_json(&text).unwrap();
    assert_eq!(e["token_endpoint"], "https://as.example.com/token");
    assert_eq!(e["clock_skew_secs"], 60);
    assert_eq!(e["scope_policy"], "reject");
    assert_eq!(e["config_refresh_secs"], 60);
    assert_eq!(e["dpop"]["max_age_secs"], 300);
    assert_eq!(e["dpop"]["require_nonce"], false);
    assert_eq!(e["refresh_token"]["require_offline_access"], true);
    assert_eq!(e["key_cache"]["min_cache_secs"], 300);
    let issuer = &e["trusted_issuers"][0];
    assert_eq!(issuer["clock_skew_secs"], 7, "written values are kept");
    assert_eq!(issuer["require_jti"], true);
    assert_eq!(issuer["dangerous"]["allow_missing_jti"], false);
    assert_eq!(issuer["profiles"], json!(["jwt-bearer"]));
    assert!(!issuer["algorithms"].as_array().unwrap().is_empty());
    // An issuer whose jti rule is relaxed shows it under dangerous.
    let nojti = e["trusted_issuers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["issuer"] == "https://nojti-idp.example.com")
        .unwrap();
    assert_eq!(nojti["dangerous"]["allow_missing_jti"], true);
    let client = &e["clients"][0];
    assert!(client["grant_types"].as_array().is_some());
    assert_eq!(client["dpop_bound_access_tokens"], false);
    // The effective document is itself a valid configuration that means the same.
    let again = Config::from_json(&e.to_string()).expect("effective configuration is valid");
    assert_eq!(again.issuer(), config.issuer());
    assert_eq!(
        again.effective_json(&e.to_string()).unwrap(),
        e,
        "effective of effective is itself"
    );
    // Another document than the one it was built from: None.
    assert!(config.effective_json("[]").is_none());
}

fn labels(
    ep: &TokenEndpoint,
    body: &str,
    authorization: Option<&str>,
) -> assertion_grant::RequestLabels {
    let req = HttpRequest {
        method: "POST",
        content_type: Some("application/x-www-form-urlencoded"),
        authorization,
        dpop: None,
        body: body.as_bytes(),
    };
    ep.request_labels(&req, LabelledRoute::Token)
}

fn unsigned_jwt(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2ln")
}

#[test]
fn log_labels_name_only_configured_clients_and_trusted_issuers() {
    let ep = TokenEndpoint::with_ephemeral_key(Config::from_json(CONFIG).unwrap()).unwrap();
    let grant = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";
    let known = unsigned_jwt(json!({"iss": "https://idp.example.com", "sub": "alice"}));
    let basic = format!("Basic {}", STANDARD.encode("basic-client:whatever"));
    let l = labels(
        &ep,
        &format!("grant_type={grant}&assertion={known}"),
        Some(&basic),
    );
    assert_eq!(l.client_id.as_deref(), Some("basic-client"));
    assert_eq!(l.issuer.as_deref(), Some("https://idp.example.com"));
    assert_eq!(
        l.grant_type,
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );

    let made_up = unsigned_jwt(json!({"iss": "https://evil.example", "sub": "alice"}));
    let basic = format!("Basic {}", STANDARD.encode("nobody:whatever"));
    let l = labels(
        &ep,
        &format!("grant_type={grant}&assertion={made_up}"),
        Some(&basic),
    );
    assert_eq!(l.client_id, None);
    assert_eq!(l.issuer, None);

    // A client assertion names its client by `sub`; post credentials by client_id.
    let client_assertion = unsigned_jwt(json!({"iss": "jwt-client", "sub": "jwt-client"}));
    let l = labels(
        &ep,
        &format!(
            "grant_type={grant}&assertion={known}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={client_assertion}"
        ),
        None,
    );
    assert_eq!(l.client_id.as_deref(), Some("jwt-client"));
    let l = labels(
        &ep,
        &format!("grant_type={grant}&assertion={known}&client_id=post-client&client_secret=x"),
        None,
    );
    assert_eq!(l.client_id.as_deref(), Some("post-client"));
    // An unreadable request has no labels at all.
    assert_eq!(
        labels(&ep, "grant_type=a&grant_type=b", None),
        Default::default()
    );
}

#[test]
fn the_effective_configuration_of_every_test_configuration_loads_again_unchanged() {
    for text in [
        CONFIG,
        include_str!("vectors/saml/config.json"),
        include_str!("vectors/idjag/config.json"),
        assertion_grant::DEMO_CONFIG,
    ] {
        let config = Config::from_json(text).unwrap();
        let e = config.effective_json(text).unwrap();
        let again = Config::from_json(&e.to_string())
            .unwrap_or_else(|err| panic!("effective configuration refused: {err:?}"));
        assert_eq!(again.effective_json(&e.to_string()).unwrap(), e);
    }
}

#[test]
fn null_fields_show_the_value_the_server_uses() {
    let mut d = doc();
    d["clock_skew_secs"] = Value::Null;
    d["dpop"] = json!({"max_age_secs": null});
    d["trusted_issuers"][0]["max_lifetime_secs"] = Value::Null;
    let text = d.to_string();
    let e = Config::from_json(&text)
        .unwrap()
        .effective_json(&text)
        .unwrap();
    assert_eq!(e["clock_skew_secs"], 60);
    assert_eq!(e["dpop"]["max_age_secs"], 300);
    assert!(e["trusted_issuers"][0]["max_lifetime_secs"].is_i64());
}

#[test]
fn a_plain_secret_client_and_a_jwks_uri_client_still_load() {
    let minimal = json!({
        "issuer": "https://as.example.com",
        "access_token": {"audience": "https://api.example.com"},
        "clients": [
            {"client_id": "a", "token_endpoint_auth_method": "client_secret_basic",
             "client_secret_sha256": "cd577fe2561ebff23505db0bb006300c7cdecbd46bc0e03c449afafaca2c25bf"},
            {"client_id": "b", "token_endpoint_auth_method": "private_key_jwt",
             "jwks_uri": "https://b.example.com/jwks.json"}
        ]
    });
    Config::from_json(&minimal.to_string()).expect("valid");
    // jwks_uri on a secret client is still refused, by path.
    let mut bad = minimal.clone();
    bad["clients"][0]["jwks_uri"] = json!("https://a.example.com/jwks.json");
    assert_eq!(paths(&bad), vec!["clients[0].jwks_uri"]);
}
