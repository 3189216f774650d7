//! Remote key sets (`jwks_uri`, `saml_metadata_url`) through the endpoint's
//! sans-I/O seam, with a scripted "key server" (a closure that counts what it
//! is asked): first use, rotation, unknown-`kid` floods, `Cache-Control`,
//! stale serving, outages (503, never `invalid_grant`), garbage documents,
//! configuration errors, and the fixtures of real published key-set shapes
//! (`tests/vectors/keysets/`, written by its `generate.py`). Fixed clocks.

mod common;

use assertion_grant::backend::RustBackend;
use assertion_grant::keyset::{
    FetchResult, FetchWhy, KeySetNeed, KeySource, parse_fetched_jwks, parse_fetched_metadata,
};
use assertion_grant::{
    Config, HttpRequest, HttpResponse, MemoryReplayStore, SigningKey, TokenEndpoint,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{FORM, enc};
use serde_json::{Value, json};

#[cfg(all(target_arch = "wasm32", feature = "browser-tests"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NOW: i64 = 1_800_000_000;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const IDP: &str = "https://idp.example.com";
const JWKS_URL: &str = "https://idp.example.com/.well-known/jwks.json";
const BASIC: &str = "Basic YmFzaWMtY2xpZW50OmJhc2ljLXNlY3JldA=="; // basic-client:basic-secret

fn idp_key(n: u8) -> SigningKey {
    SigningKey::from_scalar(&[n; 32], Some(format!("idp-{n}"))).unwrap()
}

/// A JWK Set document publishing the public halves of `keys`.
fn jwks(keys: &[&SigningKey]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut jwk = k.public_key().to_jwk();
            jwk["kid"] = json!(k.kid());
            jwk["use"] = json!("sig");
            jwk
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

fn config(issuer_extra: Value) -> Value {
    let mut issuer = json!({"issuer": IDP, "format": "jwt", "jwks_uri": JWKS_URL, "scope": "read"});
    for (k, v) in issuer_extra.as_object().unwrap() {
        issuer[k] = v.clone();
    }
    json!({
        "issuer": "https://as.example.com",
        "access_token": {"audience": "https://api.example.com"},
        "trusted_issuers": [issuer],
        "clients": [{
            "client_id": "basic-client",
            "token_endpoint_auth_method": "client_secret_basic",
            "client_secret_sha256": assertion_grant::hash_client_secret("basic-secret"),
            "grant_types": [JWT_BEARER],
            "scope": "read"
        }]
    })
}

fn endpoint(config: &Value) -> TokenEndpoint {
    let key = SigningKey::from_scalar(&[0x44; 32], Some("as".into())).unwrap();
    TokenEndpoint::new(Config::from_json(&config.to_string()).unwrap(), vec![key]).unwrap()
}

/// An ES256 assertion for `sub` signed by `key` (its kid in the header).
fn assertion(key: &SigningKey, jti: &str, now: i64) -> String {
    let header = json!({"alg": "ES256", "kid": key.kid()});
    let claims = json!({"iss": IDP, "sub": "alice", "aud": "https://as.example.com/token",
                        "iat": now - 5, "exp": now + 300, "jti": jti});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign_es256(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn form(assertion: &str) -> String {
    format!(
        "grant_type={}&assertion={}",
        enc(JWT_BEARER),
        enc(assertion)
    )
}

/// The scripted key server: what it serves, and every need it was asked.
struct KeyServer {
    answer: FetchResult,
    asked: Vec<(String, FetchWhy)>,
}

impl KeyServer {
    fn serving(body: String, cache_control: Option<&str>) -> Self {
        let mut s = Self {
            answer: FetchResult::Failed {
                error: "unset".into(),
            },
            asked: Vec::new(),
        };
        s.serve(body, cache_control);
        s
    }

    fn serve(&mut self, body: String, cache_control: Option<&str>) {
        self.answer = FetchResult::Document {
            body,
            cache_control: cache_control.map(str::to_owned),
            fetched_at: 0, // replaced by the time of the fetch
        };
    }

    fn down(&mut self, error: &str) {
        self.answer = FetchResult::Failed {
            error: error.into(),
        };
    }

    fn post(
        &mut self,
        ep: &TokenEndpoint,
        store: &mut MemoryReplayStore,
        body: &str,
        now: i64,
    ) -> HttpResponse {
        let req = HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization: Some(BASIC),
            dpop: None,
            body: body.as_bytes(),
        };
        ep.handle_fetching(
            &req,
            now,
            store,
            &mut |source: &KeySource, need: &KeySetNeed| {
                self.asked.push((source.url.clone(), need.why));
                match &self.answer {
                    FetchResult::Document {
                        body,
                        cache_control,
                        ..
                    } => FetchResult::Document {
                        body: body.clone(),
                        cache_control: cache_control.clone(),
                        fetched_at: now,
                    },
                    failed => failed.clone(),
                }
            },
        )
    }
}

fn header<'a>(r: &'a HttpResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn error_of(r: &HttpResponse) -> String {
    let v: Value = serde_json::from_str(&r.body).unwrap();
    v["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn first_use_fetches_once_then_the_cache_serves() {
    let k1 = idp_key(1);
    let ep = endpoint(&config(json!({})));
    let mut server = KeyServer::serving(jwks(&[&k1]), Some("public, max-age=3600"));
    let mut store = MemoryReplayStore::new();
    let r = server.post(&ep, &mut store, &form(&assertion(&k1, "a1", NOW)), NOW);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        server.asked,
        vec![(JWKS_URL.to_owned(), FetchWhy::FirstUse)]
    );
    for i in 0..5 {
        let t = NOW + 10 + i;
        let r = server.post(
            &ep,
            &mut store,
            &form(&assertion(&k1, &format!("b{i}"), t)),
            t,
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(server.asked.len(), 1, "cached keys are not fetched again");
    // The fetched key carries its generation in its reference; the set
    // knows its provenance.
    let state = ep.key_set_state(0).unwrap();
    let set = state.current().unwrap();
    assert_eq!(set.fetched_at, NOW);
    assert_eq!(set.fresh_until, NOW + 3600);
    assert_eq!(set.stale_until, NOW + 3600 + 86_400);
}

#[test]
fn rotation_to_a_new_kid_refetches_once() {
    let (k1, k2) = (idp_key(1), idp_key(2));
    let ep = endpoint(&config(json!({})));
    let mut server = KeyServer::serving(jwks(&[&k1]), Some("max-age=3600"));
    let mut store = MemoryReplayStore::new();
    assert_eq!(
        server
            .post(&ep, &mut store, &form(&assertion(&k1, "a", NOW)), NOW)
            .status,
        200
    );
    // The IdP rotates: k2 signs, the JWKS publishes both.
    server.serve(jwks(&[&k2, &k1]), Some("max-age=3600"));
    let t = NOW + 60; // past the 30 s refetch cooldown
    let r = server.post(&ep, &mut store, &form(&assertion(&k2, "b", t)), t);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.asked.len(), 2);
    assert_eq!(server.asked[1].1, FetchWhy::UnknownKid);
    // Both keys now serve without another fetch.
    for (i, k) in [&k1, &k2].into_iter().enumerate() {
        let t = NOW + 70 + i as i64;
        let r = server.post(
            &ep,
            &mut store,
            &form(&assertion(k, &format!("c{i}"), t)),
            t,
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(server.asked.len(), 2);
}

#[test]
fn an_unknown_kid_flood_fetches_at_most_once_per_cooldown() {
    let (k1, stranger) = (idp_key(1), idp_key(9));
    let ep = endpoint(&config(json!({"key_cache": {"refetch_cooldown_secs": 30}})));
    let mut server = KeyServer::serving(jwks(&[&k1]), Some("max-age=3600"));
    let mut store = MemoryReplayStore::new();
    assert_eq!(
        server
            .post(&ep, &mut store, &form(&assertion(&k1, "a", NOW)), NOW)
            .status,
        200
    );
    // 50 requests naming a kid the IdP does not publish, 40 s later.
    let t = NOW + 40;
    for i in 0..50 {
        let r = server.post(
            &ep,
            &mut store,
            &form(&assertion(&stranger, &format!("x{i}"), t)),
            t,
        );
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(error_of(&r), "invalid_grant");
    }
    assert_eq!(server.asked.len(), 2, "one refetch for the whole flood");
    // Within the cooldown: none; after it: one more.
    let r = server.post(
        &ep,
        &mut store,
        &form(&assertion(&stranger, "y", t + 29)),
        t + 29,
    );
    assert_eq!(r.status, 400);
    assert_eq!(server.asked.len(), 2);
    let r = server.post(
        &ep,
        &mut store,
        &form(&assertion(&stranger, "z", t + 31)),
        t + 31,
    );
    assert_eq!(r.status, 400);
    assert_eq!(server.asked.len(), 3);
    // Good assertions were never disturbed.
    let r = server.post(
        &ep,
        &mut store,
        &form(&assertion(&k1, "ok", t + 32)),
        t + 32,
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn max_age_is_clamped_to_the_policy() {
    let k1 = idp_key(1);
    for (cache_control, fresh_for) in [
        (Some("max-age=10"), 300),
        (Some("public, max-age=999999"), 86_400),
        (Some("no-cache"), 300),
        (None, 300),
        (Some("max-age=7200"), 7200),
    ] {
        let ep = endpoint(&config(json!({})));
        let mut server = KeyServer::serving(jwks(&[&k1]), cache_control);
        let r = server.post(
            &ep,
            &mut MemoryReplayStore::new(),
            &form(&assertion(&k1, "a", NOW)),
            NOW,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let state = ep.key_set_state(0).unwrap();
        assert_eq!(
            state.current().unwrap().fresh_until,
            NOW + fresh_for,
            "{cache_control:?}"
        );
    }
    // Per-issuer bounds.
    let ep = endpoint(&config(
        json!({"key_cache": {"min_cache_secs": 60, "max_cache_secs": 120}}),
    ));
    let mut server = KeyServer::serving(jwks(&[&k1]), Some("max-age=10"));
    server.post(
        &ep,
        &mut MemoryReplayStore::new(),
        &form(&assertion(&k1, "a", NOW)),
        NOW,
    );
    assert_eq!(
        ep.key_set_state(0).unwrap().current().unwrap().fresh_until,
        NOW + 60
    );
}

#[test]
fn expiry_refetches_and_an_outage_serves_stale_then_503() {
    let k1 = idp_key(1);
    let ep = endpoint(&config(
        json!({"key_cache": {"max_stale_secs": 3600, "failure_cache_secs": 30}}),
    ));
    let mut server = KeyServer::serving(jwks(&[&k1]), Some("max-age=300"));
    let mut store = MemoryReplayStore::new();
    assert_eq!(
        server
            .post(&ep, &mut store, &form(&assertion(&k1, "a", NOW)), NOW)
            .status,
        200
    );
    // Expired: the next request refetches (and the server is down).
    server.down("connection refused");
    let t = NOW + 400;
    let r = server.post(&ep, &mut store, &form(&assertion(&k1, "b", t)), t);
    assert_eq!(r.status, 200, "stale keys serve: {}", r.body);
    assert_eq!(server.asked[1].1, FetchWhy::Expired);
    // The failure is cached: no fetch for failure_cache_secs.
    let r = server.post(&ep, &mut store, &form(&assertion(&k1, "c", t + 10)), t + 10);
    assert_eq!(r.status, 200);
    assert_eq!(server.asked.len(), 2);
    // After it: one more try.
    let r = server.post(&ep, &mut store, &form(&assertion(&k1, "d", t + 31)), t + 31);
    assert_eq!(r.status, 200);
    assert_eq!(server.asked.len(), 3);
    let failure = ep
        .key_set_state(0)
        .unwrap()
        .last_failure()
        .map(|(_, e)| e.to_owned());
    assert_eq!(failure.as_deref(), Some("connection refused"));
    // Past max_stale_secs: 503, Retry-After, never invalid_grant, and the
    // assertion's jti is not spent.
    let t = NOW + 300 + 3600 + 1;
    let mut store = MemoryReplayStore::new();
    let good = form(&assertion(&k1, "late", t));
    let r = server.post(&ep, &mut store, &good, t);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(error_of(&r), "temporarily_unavailable");
    let retry: i64 = header(&r, "Retry-After").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(header(&r, "Cache-Control"), Some("no-store"));
    // The IdP comes back: the same assertion is accepted (its jti unspent).
    server.serve(jwks(&[&k1]), None);
    let t2 = t + retry;
    let r = server.post(&ep, &mut store, &good, t2);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn never_fetched_and_down_is_503_not_invalid_grant() {
    let k1 = idp_key(1);
    let ep = endpoint(&config(json!({})));
    let mut server = KeyServer::serving(String::new(), None);
    server.down("timed out after 5000 ms");
    let r = server.post(
        &ep,
        &mut MemoryReplayStore::new(),
        &form(&assertion(&k1, "a", NOW)),
        NOW,
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(error_of(&r), "temporarily_unavailable");
    assert!(header(&r, "Retry-After").is_some());
    // A host that does not fetch at all (`handle`) answers the same.
    let ep = endpoint(&config(json!({})));
    let body = form(&assertion(&k1, "b", NOW));
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: Some(BASIC),
        dpop: None,
        body: body.as_bytes(),
    };
    let r = ep.handle(&req, NOW, &mut MemoryReplayStore::new());
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(error_of(&r), "temporarily_unavailable");
}

#[test]
fn garbage_or_unusable_documents_keep_the_last_good_set() {
    let k1 = idp_key(1);
    let ep = endpoint(&config(json!({})));
    let mut server = KeyServer::serving(jwks(&[&k1]), Some("max-age=300"));
    let mut store = MemoryReplayStore::new();
    assert_eq!(
        server
            .post(&ep, &mut store, &form(&assertion(&k1, "a", NOW)), NOW)
            .status,
        200
    );
    let generation = ep.key_set_state(0).unwrap().current().unwrap().generation;
    let mut t = NOW + 300;
    for (i, body) in [
        "<html><body>Service Unavailable</body></html>".to_owned(),
        "{\"keys\": []}".to_owned(),
        "{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}]}".to_owned(),
        "{\"no\": \"keys\"}".to_owned(),
        "x".repeat(70_000),
    ]
    .into_iter()
    .enumerate()
    {
        t += 31; // past the failure cache, so each document is fetched
        server.serve(body, None);
        let r = server.post(
            &ep,
            &mut store,
            &form(&assertion(&k1, &format!("g{i}"), t)),
            t,
        );
        assert_eq!(r.status, 200, "document {i}: {}", r.body);
        let state = ep.key_set_state(0).unwrap();
        assert_eq!(state.current().unwrap().generation, generation);
        assert!(state.last_failure().is_some());
    }
    assert_eq!(server.asked.len(), 6);
    // Directly: the report says why, and names what was skipped.
    let report = ep
        .key_set_fetched(
            0,
            FetchResult::Document {
                body: json!({"keys": [{"kty": "EC", "crv": "P-256", "use": "enc", "kid": "e",
                    "x": "q55JrIBhoxa4_rJiTyfD_Rg3QRaq0Tbth6CpyYju4W8",
                    "y": "os6lVi8N2Uwo25o7WsJQf1H8IcsZRLffLtwPsFX26Kk"}]})
                .to_string(),
                cache_control: None,
                fetched_at: t,
            },
            t,
        )
        .unwrap();
    assert!(!report.accepted);
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].why, "use");
}

#[test]
fn an_older_copy_never_replaces_a_newer_set() {
    let (k1, k2) = (idp_key(1), idp_key(2));
    let ep = endpoint(&config(json!({})));
    let doc = |keys: &[&SigningKey], at: i64| FetchResult::Document {
        body: jwks(keys),
        cache_control: Some("max-age=600".into()),
        fetched_at: at,
    };
    assert!(
        ep.key_set_fetched(0, doc(&[&k2], NOW), NOW)
            .unwrap()
            .accepted
    );
    // A shared cache hands over a copy fetched before: ignored.
    let report = ep
        .key_set_fetched(0, doc(&[&k1], NOW - 100), NOW + 1)
        .unwrap();
    let current = ep.key_set_state(0).unwrap().current().unwrap().clone();
    assert_eq!(current.fetched_at, NOW, "{report:?}");
    assert!(current.has_kid("idp-2") && !current.has_kid("idp-1"));
}

#[test]
fn a_private_key_jwt_client_with_a_jwks_uri() {
    let client_key = SigningKey::from_scalar(&[7; 32], Some("client-1".into())).unwrap();
    let k1 = idp_key(1);
    let url = "https://client.example.org/jwks";
    let mut cfg = config(json!({}));
    cfg["clients"] = json!([{
        "client_id": "pkj-client",
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": url,
        "grant_types": [JWT_BEARER],
        "scope": "read"
    }]);
    let ep = endpoint(&cfg);
    let header = json!({"alg": "ES256", "kid": "client-1"});
    let claims = json!({"iss": "pkj-client", "sub": "pkj-client", "aud": "https://as.example.com",
                        "iat": NOW - 5, "exp": NOW + 60, "jti": "client-jti"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let client_assertion = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(client_key.sign_es256(input.as_bytes()))
    );
    let body = format!(
        "{}&client_id=pkj-client&client_assertion_type={}&client_assertion={}",
        form(&assertion(&k1, "a", NOW)),
        enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        enc(&client_assertion)
    );
    let mut asked = Vec::new();
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: None,
        dpop: None,
        body: body.as_bytes(),
    };
    let r = ep.handle_fetching(
        &req,
        NOW,
        &mut MemoryReplayStore::new(),
        &mut |source, _need| {
            asked.push(source.url.clone());
            let body = if source.url == url {
                jwks(&[&client_key])
            } else {
                jwks(&[&k1])
            };
            FetchResult::Document {
                body,
                cache_control: None,
                fetched_at: NOW,
            }
        },
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        asked,
        vec![url.to_owned(), JWKS_URL.to_owned()],
        "client first, then the issuer"
    );
}

#[test]
fn explain_says_where_the_key_came_from() {
    let k1 = idp_key(1);
    let ep = endpoint(&config(json!({})));
    let body = form(&assertion(&k1, "a", NOW));
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: Some(BASIC),
        dpop: None,
        body: body.as_bytes(),
    };
    let exchange = ep.run_fetching(ep.begin_explain(&req, NOW), &RustBackend, &mut |_s, _n| {
        FetchResult::Document {
            body: jwks(&[&k1]),
            cache_control: Some("max-age=900".into()),
            fetched_at: NOW - 20,
        }
    });
    let explanation = exchange.explain(&ep, &|_| false);
    assert!(explanation.would_issue, "{explanation:?}");
    let check = explanation
        .checks
        .iter()
        .find(|c| c.id.id() == "keys.source")
        .expect("a keys.source check");
    assert!(check.detail.contains(JWKS_URL), "{}", check.detail);
    assert!(check.detail.contains("fresh"), "{}", check.detail);
    // Outage, never fetched: the check fails and names the fetch's error.
    let ep = endpoint(&config(json!({})));
    let exchange = ep.run_fetching(ep.begin_explain(&req, NOW), &RustBackend, &mut |_s, _n| {
        FetchResult::Failed {
            error: "HTTP 502".into(),
        }
    });
    let explanation = exchange.explain(&ep, &|_| false);
    assert!(!explanation.would_issue);
    let error = explanation.error.as_ref().unwrap();
    assert_eq!(error.error, "temporarily_unavailable");
    let check = explanation
        .checks
        .iter()
        .find(|c| c.id.id() == "keys.source")
        .unwrap();
    assert!(check.detail.contains("HTTP 502"), "{}", check.detail);
}

#[test]
fn configuration_errors_name_the_field() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"jwks_uri": "http://idp.example.com/jwks"}),
            "trusted_issuers[0].jwks_uri",
        ),
        (
            json!({"jwks_uri": "ftp://idp.example.com/jwks"}),
            "trusted_issuers[0].jwks_uri",
        ),
        (
            json!({"jwks_uri": "not a url"}),
            "trusted_issuers[0].jwks_uri",
        ),
        (
            json!({"saml_metadata_url": "https://idp.example.com/md"}),
            "trusted_issuers[0]",
        ),
        (
            json!({"key_cache": {"min_cache_secs": 0}}),
            "trusted_issuers[0].key_cache",
        ),
        (
            json!({"key_cache": {"min_cache_secs": 600, "max_cache_secs": 300}}),
            "trusted_issuers[0].key_cache",
        ),
        (
            json!({"key_cache": {"fetch_timeout_ms": 10}}),
            "trusted_issuers[0].key_cache",
        ),
        (
            json!({"key_cache": {"surprise": 1}}),
            "trusted_issuers[0].key_cache",
        ),
    ];
    for (extra, path) in cases {
        let err = Config::from_json(&config(extra.clone()).to_string()).unwrap_err();
        assert!(err.path.starts_with(path), "{extra}: {err}");
    }
    // http on loopback is allowed (local key servers, tests).
    for url in [
        "http://localhost:8080/jwks",
        "http://127.0.0.1/jwks",
        "http://[::1]:9/jwks",
    ] {
        Config::from_json(&config(json!({"jwks_uri": url})).to_string()).unwrap();
    }
    // key_cache without a URL has nothing to govern.
    let mut cfg = config(json!({"key_cache": {"min_cache_secs": 60}}));
    cfg["trusted_issuers"][0]
        .as_object_mut()
        .unwrap()
        .remove("jwks_uri");
    cfg["trusted_issuers"][0]["jwks"] = json!({"keys": [idp_key(1).public_key().to_jwk()]});
    assert!(Config::from_json(&cfg.to_string()).is_err());
    // One jwks_uri under two issuers: either could mint for the other.
    let mut cfg = config(json!({}));
    cfg["trusted_issuers"][0]["subject_prefix"] = json!("idp|");
    let mut second = cfg["trusted_issuers"][0].clone();
    second["issuer"] = json!("https://other.example.com");
    second["subject_prefix"] = json!("other|");
    cfg["trusted_issuers"]
        .as_array_mut()
        .unwrap()
        .push(second.clone());
    let err = Config::from_json(&cfg.to_string()).unwrap_err();
    assert!(err.to_string().contains("allow_shared_keys"), "{err}");
    cfg["trusted_issuers"][1]["dangerous"] = json!({"allow_shared_keys": true});
    Config::from_json(&cfg.to_string()).unwrap();
    // The global key_cache has the same bounds.
    let mut cfg = config(json!({}));
    cfg["key_cache"] = json!({"max_stale_secs": 10_000_000});
    let err = Config::from_json(&cfg.to_string()).unwrap_err();
    assert!(err.path.starts_with("key_cache"), "{err}");
}

// ---------------------------------------------------------------------------
// Fixtures of published key-set shapes (tests/vectors/keysets/generate.py).

const EXPECTED: &str = include_str!("vectors/keysets/expected.json");

fn fixture(name: &str) -> &'static str {
    match name {
        "google.json" => include_str!("vectors/keysets/google.json"),
        "entra.json" => include_str!("vectors/keysets/entra.json"),
        "okta.json" => include_str!("vectors/keysets/okta.json"),
        "auth0.json" => include_str!("vectors/keysets/auth0.json"),
        "keycloak.json" => include_str!("vectors/keysets/keycloak.json"),
        "mixed-unusable.json" => include_str!("vectors/keysets/mixed-unusable.json"),
        "shibboleth-idp.xml" => include_str!("vectors/keysets/shibboleth-idp.xml"),
        "adfs.xml" => include_str!("vectors/keysets/adfs.xml"),
        "aggregate.xml" => include_str!("vectors/keysets/aggregate.xml"),
        "chain.xml" => include_str!("vectors/keysets/chain.xml"),
        "okta-idp.xml" => include_str!("vectors/keysets/okta-idp.xml"),
        other => panic!("no fixture {other}"),
    }
}

#[test]
fn published_jwks_shapes_parse_as_expected() {
    let expected: Value = serde_json::from_str(EXPECTED).unwrap();
    let sets = expected["jwks"].as_object().unwrap();
    assert_eq!(sets.len(), 6);
    for (name, want) in sets {
        let (keys, skipped) =
            parse_fetched_jwks(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let kids: Vec<Value> = keys.iter().map(|k| json!(k.kid())).collect();
        assert_eq!(Value::from(kids), want["usable"], "{name}");
        let got: Vec<Value> = skipped
            .iter()
            .map(|s| json!({"index": s.index, "kid": s.kid, "why": s.why}))
            .collect();
        assert_eq!(Value::from(got), want["skipped"], "{name}");
        assert!(skipped.iter().all(|s| !s.detail.is_empty()), "{name}");
    }
}

#[test]
fn published_metadata_shapes_parse_as_expected() {
    use sha2::{Digest, Sha256};
    let expected: Value = serde_json::from_str(EXPECTED).unwrap();
    let cases = expected["saml"].as_object().unwrap();
    assert_eq!(cases.len(), 6);
    for (name, want) in cases {
        let file = name.split('#').next().unwrap();
        let entity = want["entity_id"].as_str().unwrap();
        let (keys, skipped) =
            parse_fetched_metadata(fixture(file), entity).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            keys.len() as u64,
            want["usable_certificates"].as_u64().unwrap(),
            "{name}"
        );
        let whys: Vec<Value> = skipped.iter().map(|s| json!({"why": s.why})).collect();
        assert_eq!(Value::from(whys), want["skipped"], "{name}");
        // Exactly the certificates the generator meant to be usable.
        let (certs, _) =
            assertion_grant::saml_metadata::idp_signing_certificates(fixture(file), entity)
                .unwrap();
        let digests: Vec<Value> = certs
            .iter()
            .map(|c| {
                let der = base64::engine::general_purpose::STANDARD.decode(c).unwrap();
                json!(hex(&Sha256::digest(der)))
            })
            .collect();
        assert_eq!(
            Value::from(digests),
            expected["saml_usable_sha256"][name],
            "{name}"
        );
    }
    // An entity the document does not describe is an error, not an empty set.
    assert!(parse_fetched_metadata(fixture("aggregate.xml"), "https://nobody.example").is_err());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
