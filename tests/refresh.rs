//! Refresh tokens through the endpoint (RFC 6749 §6, RFC 9700 §4.14.2):
//! when they are issued, rotation, reuse revoking the family, bindings
//! (client, scope, DPoP key), and compare-and-swap conflicts. The family
//! state machine itself is unit-tested in `src/refresh.rs`.

mod common;

use assertion_grant::protocol::GRANT_JWT_BEARER;
use assertion_grant::{
    Config, FamilyStore, HttpRequest, HttpResponse, MemoryFamilyStore, MemoryReplayStore,
    SigningKey, SwapOutcome, TokenEndpoint,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{FORM, enc, verify_access_token};
use serde_json::{Value, json};

#[cfg(all(target_arch = "wasm32", feature = "browser-tests"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const NOW: i64 = 1_800_000_000;
const BASIC: &str = "Basic YXBwOmFwcC1zZWNyZXQ="; // app:app-secret

fn idp_key() -> SigningKey {
    SigningKey::from_scalar(&[0x51; 32], Some("idp-1".into())).unwrap()
}

fn config(allow: bool, grant_types: Value) -> String {
    json!({
        "issuer": "https://as.example.com",
        "access_token": {"audience": "https://api.example.com"},
        "trusted_issuers": [{
            "issuer": "https://idp.example.com", "format": "jwt",
            "jwks": {"keys": [idp_key().public_key().to_jwk()]},
            "allow_refresh_tokens": allow,
        }],
        "clients": [
            {"client_id": "app", "token_endpoint_auth_method": "client_secret_basic",
             "client_secret_sha256": assertion_grant::hash_client_secret("app-secret"),
             "scope": "offline_access read write", "grant_types": grant_types},
            {"client_id": "other", "token_endpoint_auth_method": "client_secret_basic",
             "client_secret_sha256": assertion_grant::hash_client_secret("other-secret"),
             "scope": "offline_access read write", "grant_types": grant_types},
            {"client_id": "rs", "token_endpoint_auth_method": "client_secret_basic",
             "client_secret_sha256": assertion_grant::hash_client_secret("rs-secret"),
             "allow_introspection": true},
        ],
    })
    .to_string()
}

fn endpoint_with(config: &str, enable: bool) -> TokenEndpoint {
    let key = SigningKey::from_scalar(&[0x52; 32], Some("as".into())).unwrap();
    let mut ep = TokenEndpoint::new(Config::from_json(config).unwrap(), vec![key]).unwrap();
    if enable {
        ep.enable_refresh_tokens();
    }
    ep
}

fn endpoint() -> TokenEndpoint {
    endpoint_with(
        &config(true, json!([GRANT_JWT_BEARER, "refresh_token"])),
        true,
    )
}

fn sign(header: Value, claims: Value, key: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign_es256(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn assertion(jti: &str) -> String {
    sign(
        json!({"alg": "ES256", "kid": "idp-1"}),
        json!({"iss": "https://idp.example.com", "sub": "alice", "aud": "https://as.example.com",
               "iat": NOW - 5, "exp": NOW + 300, "jti": jti}),
        &idp_key(),
    )
}

fn dpop_proof(key: &SigningKey, jti: &str, now: i64) -> String {
    sign(
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_key().to_jwk()}),
        json!({"htm": "POST", "htu": "https://as.example.com/token", "iat": now, "jti": jti}),
        key,
    )
}

struct Host {
    ep: TokenEndpoint,
    replay: MemoryReplayStore,
    families: MemoryFamilyStore,
}

impl Host {
    fn new(ep: TokenEndpoint) -> Self {
        Self {
            ep,
            replay: MemoryReplayStore::new(),
            families: MemoryFamilyStore::new(),
        }
    }

    fn post(&mut self, body: &str, auth: &str, dpop: Option<&str>, now: i64) -> (u16, Value) {
        let req = HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization: Some(auth),
            dpop,
            body: body.as_bytes(),
        };
        let r: HttpResponse = self.ep.handle_with_families(
            &req,
            now,
            &mut self.replay,
            &mut self.families,
            &mut |_, _| unreachable!("no key sets here"),
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    fn grant(&mut self, jti: &str, scope: &str, dpop: Option<&str>) -> (u16, Value) {
        let body = format!(
            "grant_type={}&assertion={}&scope={}",
            enc(GRANT_JWT_BEARER),
            assertion(jti),
            enc(scope)
        );
        self.post(&body, BASIC, dpop, NOW)
    }

    fn refresh(
        &mut self,
        token: &str,
        scope: Option<&str>,
        auth: &str,
        dpop: Option<&str>,
        now: i64,
    ) -> (u16, Value) {
        let mut body = format!("grant_type=refresh_token&refresh_token={}", enc(token));
        if let Some(s) = scope {
            body.push_str(&format!("&scope={}", enc(s)));
        }
        self.post(&body, auth, dpop, now)
    }
}

#[test]
fn issued_only_when_every_condition_holds() {
    let with = |ep: TokenEndpoint, scope: &str| {
        let mut host = Host::new(ep);
        let (status, body) = host.grant("j1", scope, None);
        assert_eq!(status, 200, "{body}");
        body.get("refresh_token").is_some()
    };
    let both = json!([GRANT_JWT_BEARER, "refresh_token"]);
    assert!(with(endpoint(), "offline_access read"));
    assert!(!with(endpoint(), "read"), "no offline_access");
    assert!(
        !with(
            endpoint_with(&config(false, both.clone()), true),
            "offline_access read"
        ),
        "issuer does not allow"
    );
    assert!(
        !with(
            endpoint_with(&config(true, json!([GRANT_JWT_BEARER])), true),
            "offline_access read"
        ),
        "client grant_types"
    );
    assert!(
        !with(
            endpoint_with(&config(true, both), false),
            "offline_access read"
        ),
        "host stores no families"
    );
    // Metadata says so once the host stores families.
    let m: Value = serde_json::from_str(endpoint().metadata_json()).unwrap();
    assert!(
        m["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("refresh_token"))
    );
}

#[test]
fn rotation_and_reuse_kill_the_family() {
    let mut host = Host::new(endpoint());
    let (_, first) = host.grant("j2", "offline_access read write", None);
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(t0.starts_with("agrt1."));
    let (status, second) = host.refresh(&t0, None, BASIC, None, NOW + 60);
    assert_eq!(status, 200, "{second}");
    let t1 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(t0, t1);
    let (_, claims) = verify_access_token(&host.ep, second["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "app");
    assert_eq!(claims["iat"], json!(NOW + 60));
    // Narrowing is allowed; widening is not.
    let (status, third) = host.refresh(&t1, Some("read"), BASIC, None, NOW + 120);
    assert_eq!(status, 200, "{third}");
    let (_, claims) = verify_access_token(&host.ep, third["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "read");
    let t2 = third["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = host.refresh(&t2, Some("read admin"), BASIC, None, NOW + 130);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // Another client cannot use it.
    let other = "Basic b3RoZXI6b3RoZXItc2VjcmV0"; // other:other-secret
    let (status, body) = host.refresh(&t2, None, other, None, NOW + 140);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The old token again: reuse; then even the newest is dead.
    let (status, body) = host.refresh(&t0, None, BASIC, None, NOW + 200);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = host.refresh(&t2, None, BASIC, None, NOW + 210);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the family is revoked"
    );
}

#[test]
fn a_dpop_bound_family_needs_its_key() {
    let mut host = Host::new(endpoint());
    let key = SigningKey::from_scalar(&[0x53; 32], None).unwrap();
    let other = SigningKey::from_scalar(&[0x54; 32], None).unwrap();
    let (status, first) = host.grant(
        "j3",
        "offline_access read",
        Some(&dpop_proof(&key, "p1", NOW)),
    );
    assert_eq!(
        (status, first["token_type"].as_str()),
        (200, Some("DPoP")),
        "{first}"
    );
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, body) = host.refresh(&t0, None, BASIC, None, NOW + 10);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "no proof"
    );
    let (status, body) = host.refresh(
        &t0,
        None,
        BASIC,
        Some(&dpop_proof(&other, "p2", NOW + 10)),
        NOW + 10,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "another key"
    );
    let (status, body) = host.refresh(
        &t0,
        None,
        BASIC,
        Some(&dpop_proof(&key, "p3", NOW + 10)),
        NOW + 10,
    );
    assert_eq!(
        (status, body["token_type"].as_str()),
        (200, Some("DPoP")),
        "{body}"
    );
    let (_, claims) = verify_access_token(&host.ep, body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], json!(key.public_key().thumbprint()));
}

#[test]
fn bad_tokens_touch_no_family() {
    let mut host = Host::new(endpoint());
    let (_, first) = host.grant("j4", "offline_access", None);
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    let family = t0.split('.').nth(1).unwrap();
    let before = host.families.load(family, NOW).unwrap();
    for bad in [
        "",
        "x",
        &t0[..t0.len() - 1],
        &format!("{t0}A"),
        &format!("agrt1.{family}.{}", "B".repeat(43)),
        &format!("agrt1.{}.{}", "C".repeat(22), "D".repeat(43)),
    ] {
        let (status, body) = host.refresh(bad, None, BASIC, None, NOW + 5);
        assert_eq!(status, 400, "{bad}");
        assert!(
            ["invalid_grant", "invalid_request"].contains(&body["error"].as_str().unwrap()),
            "{bad}: {body}"
        );
    }
    assert_eq!(
        host.families.load(family, NOW).unwrap(),
        before,
        "the family is untouched"
    );
    // And the real token still works.
    assert_eq!(host.refresh(&t0, None, BASIC, None, NOW + 6).0, 200);
}

#[test]
fn two_concurrent_refreshes_one_wins() {
    // Both requests read the family before either writes (as two isolates
    // would): the first swap wins, the second loses — invalid_grant, and
    // not counted as reuse (the winner's token keeps working).
    let mut host = Host::new(endpoint());
    let (_, first) = host.grant("j5", "offline_access", None);
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(&t0));
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: Some(BASIC),
        dpop: None,
        body: body.as_bytes(),
    };
    let begin = |host: &mut Host| {
        let ex = host.ep.begin(&req, NOW + 1);
        let ex = host.ep.run(ex, &assertion_grant::backend::RustBackend);
        let family = ex.family_need().unwrap().to_owned();
        let stored = host.families.load(&family, NOW + 1).unwrap();
        ex.resume_family(&host.ep, stored.as_deref())
            .outcome()
            .unwrap()
    };
    let a = begin(&mut host);
    let b = begin(&mut host);
    assert_eq!(
        host.families.swap(a.family_write().unwrap(), NOW + 1),
        SwapOutcome::Swapped
    );
    assert_eq!(
        host.families.swap(b.family_write().unwrap(), NOW + 1),
        SwapOutcome::Conflict
    );
    assert_eq!(
        TokenEndpoint::family_conflict().code().as_str(),
        "invalid_grant"
    );
    let winner = host.ep.issue(a, NOW + 1).unwrap();
    let t1 = winner.refresh_token.unwrap();
    assert_eq!(
        host.refresh(&t1, None, BASIC, None, NOW + 2).0,
        200,
        "the winner's token works"
    );
}

#[test]
fn a_withdrawn_issuer_ends_its_families() {
    // The operator turns allow_refresh_tokens off: families it backed stop
    // refreshing (the store is shared, as between two deployments).
    let mut host = Host::new(endpoint());
    let (_, first) = host.grant("j6", "offline_access read", None);
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    let mut after = Host::new(endpoint_with(
        &config(false, json!([GRANT_JWT_BEARER, "refresh_token"])),
        true,
    ));
    after.families = std::mem::take(&mut host.families);
    let (status, body) = after.refresh(&t0, None, BASIC, None, NOW + 5);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[test]
fn a_refresh_may_narrow_the_resources_only() {
    let mut host = Host::new(endpoint());
    let (_, first) = host.grant("j7", "offline_access read", None);
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&resource={}",
        enc(&t0),
        enc("https://evil.example.com")
    );
    let (status, refused) = host.post(&body, BASIC, None, NOW + 5);
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&resource={}",
        enc(&t0),
        enc("https://api.example.com")
    );
    let (status, ok) = host.post(&body, BASIC, None, NOW + 6);
    assert_eq!(status, 200, "{ok}");
    let (_, claims) = verify_access_token(&host.ep, ok["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://api.example.com");
}

impl Host {
    fn revoke(&mut self, token: &str, auth: &str, now: i64) -> (u16, Value) {
        let body = format!("token={}&token_type_hint=refresh_token", enc(token));
        let req = HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization: Some(auth),
            dpop: None,
            body: body.as_bytes(),
        };
        let r = self.ep.handle_revocation(
            &req,
            now,
            &mut self.replay,
            &mut self.families,
            &mut |_, _| unreachable!(),
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        (r.status, serde_json::from_str(&r.body).unwrap())
    }
}

#[test]
fn revocation_kills_the_family_and_answers_200_for_anything_else() {
    let mut host = Host::new(endpoint());
    let (_, first) = host.grant("j8", "offline_access read", None);
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    let (_, second) = host.refresh(&t0, None, BASIC, None, NOW + 1);
    let t1 = second["refresh_token"].as_str().unwrap().to_owned();
    // Another client's revocation does nothing (and says nothing).
    let other = "Basic b3RoZXI6b3RoZXItc2VjcmV0";
    assert_eq!(host.revoke(&t1, other, NOW + 2).0, 200);
    assert_eq!(
        host.refresh(&t1, None, BASIC, None, NOW + 3).0,
        200,
        "still alive"
    );
    let (_, third) = host.refresh(&t1, None, BASIC, None, NOW + 3);
    assert_eq!(
        third["error"], "invalid_grant",
        "t1 was rotated by the line above"
    );
    // Garbage and unknown tokens: 200, nothing happens.
    assert_eq!(host.revoke("garbage", BASIC, NOW + 4).0, 200);
    assert_eq!(
        host.revoke(
            &format!("agrt1.{}.{}", "Q".repeat(22), "R".repeat(43)),
            BASIC,
            NOW + 4
        )
        .0,
        200
    );
    // An access token of another client: 200, and still active.
    let access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(host.revoke(&access, other, NOW + 4).0, 200);
    assert_eq!(host.introspect(&access, NOW + 4)["active"], true);
    // Bad client credentials: invalid_client.
    let (status, body) = host.revoke(&t0, "Basic YXBwOndyb25n", NOW + 4);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // A fresh family, revoked by its client with its current token.
    let (_, fresh) = host.grant("j9", "offline_access read", None);
    let f0 = fresh["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(host.revoke(&f0, BASIC, NOW + 5), (200, json!({})));
    let (status, body) = host.refresh(&f0, None, BASIC, None, NOW + 6);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The metadata names the endpoint.
    let m: Value = serde_json::from_str(host.ep.metadata_json()).unwrap();
    assert_eq!(m["revocation_endpoint"], "https://as.example.com/revoke");
    assert_eq!(host.ep.revocation_path(), "/revoke");
}

/// A store that loses the first compare and swap (a concurrent writer came
/// first), then behaves.
struct ConflictOnce(MemoryFamilyStore, bool);

impl FamilyStore for ConflictOnce {
    fn load(&mut self, family: &str, now: i64) -> Result<Option<String>, ()> {
        self.0.load(family, now)
    }
    fn swap(&mut self, write: &assertion_grant::FamilyWrite, now: i64) -> SwapOutcome {
        if !self.1 && write.expected_version > 0 {
            self.1 = true;
            return SwapOutcome::Conflict;
        }
        self.0.swap(write, now)
    }
}

#[test]
fn a_reuse_revocation_that_loses_a_race_is_retried() {
    let mut host = Host::new(endpoint());
    let (_, first) = host.grant("j10", "offline_access read", None);
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    let (_, second) = host.refresh(&t0, None, BASIC, None, NOW + 1);
    let t1 = second["refresh_token"].as_str().unwrap().to_owned();
    let mut store = ConflictOnce(std::mem::take(&mut host.families), false);
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(&t0));
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: Some(BASIC),
        dpop: None,
        body: body.as_bytes(),
    };
    let r = host.ep.handle_with_families(
        &req,
        NOW + 2,
        &mut host.replay,
        &mut store,
        &mut |_, _| unreachable!(),
    );
    assert_eq!(r.status, 400);
    assert!(store.1, "the first revoking write lost");
    host.families = store.0;
    let (status, body) = host.refresh(&t1, None, BASIC, None, NOW + 3);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the retry revoked the family"
    );
}

#[test]
fn refreshed_tokens_never_outlive_the_family_and_need_a_client() {
    let mut c: Value =
        serde_json::from_str(&config(true, json!([GRANT_JWT_BEARER, "refresh_token"]))).unwrap();
    c["refresh_token"] = json!({"lifetime_secs": 600});
    let mut host = Host::new(endpoint_with(&c.to_string(), true));
    let (_, first) = host.grant("j11", "offline_access read", None);
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = host.refresh(&t0, None, BASIC, None, NOW + 100);
    assert_eq!(status, 200, "{second}");
    let (_, claims) = verify_access_token(&host.ep, second["access_token"].as_str().unwrap());
    assert!(
        claims["exp"].as_i64().unwrap() <= NOW + 600,
        "{}",
        claims["exp"]
    );
    // No client at all: invalid_client, before any family is read.
    let t1 = second["refresh_token"].as_str().unwrap().to_owned();
    let body = format!("grant_type=refresh_token&refresh_token={}", enc(&t1));
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization: None,
        dpop: None,
        body: body.as_bytes(),
    };
    let r = host.ep.handle_with_families(
        &req,
        NOW + 101,
        &mut host.replay,
        &mut host.families,
        &mut |_, _| unreachable!(),
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        host.refresh(&t1, None, BASIC, None, NOW + 102).0,
        200,
        "the family was untouched"
    );
}

const RS: &str = "Basic cnM6cnMtc2VjcmV0"; // rs:rs-secret

impl Host {
    fn introspect_as(&mut self, token: &str, auth: &str, now: i64) -> (u16, Value) {
        let body = format!("token={}", enc(token));
        let req = HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization: Some(auth),
            dpop: None,
            body: body.as_bytes(),
        };
        let replay = &self.replay;
        let r = self.ep.handle_introspection(
            &req,
            now,
            &mut self.families,
            &|key| replay.contains(key, now),
            &mut |_, _| unreachable!(),
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        (r.status, serde_json::from_str(&r.body).unwrap())
    }

    fn introspect(&mut self, token: &str, now: i64) -> Value {
        let (status, body) = self.introspect_as(token, RS, now);
        assert_eq!(status, 200, "{body}");
        body
    }
}

#[test]
fn introspection_and_access_token_revocation() {
    let mut host = Host::new(endpoint());
    let (_, first) = host.grant("j12", "offline_access read", None);
    let access = first["access_token"].as_str().unwrap().to_owned();
    let t0 = first["refresh_token"].as_str().unwrap().to_owned();
    // Access token: active, with what it carries.
    let a = host.introspect(&access, NOW + 1);
    assert_eq!(a["active"], true);
    assert_eq!(a["sub"], "alice");
    assert_eq!(a["client_id"], "app");
    assert_eq!(a["token_type"], "Bearer");
    assert_eq!(a["scope"], "offline_access read");
    // Refresh token: active until rotated.
    let r = host.introspect(&t0, NOW + 1);
    assert_eq!(
        (r["active"].as_bool(), r["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    let (_, second) = host.refresh(&t0, None, BASIC, None, NOW + 2);
    assert_eq!(host.introspect(&t0, NOW + 3), json!({"active": false}));
    let t1 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(host.introspect(&t1, NOW + 3)["active"], true);
    // Revoking the access token by its client: inactive from then on.
    assert_eq!(host.revoke(&access, BASIC, NOW + 4).0, 200);
    assert_eq!(host.introspect(&access, NOW + 5), json!({"active": false}));
    // Expired, forged, foreign and garbage tokens: inactive.
    let later = host.introspect(second["access_token"].as_str().unwrap(), NOW + 99_999);
    assert_eq!(later, json!({"active": false}));
    // One signature character in the middle changed (never a padding bit).
    let original = second["access_token"].as_str().unwrap();
    let at = original.len() - 20;
    let was = original.as_bytes()[at];
    let forged = format!(
        "{}{}{}",
        &original[..at],
        if was == b'A' { 'B' } else { 'A' },
        &original[at + 1..]
    );
    assert_eq!(host.introspect(&forged, NOW + 5), json!({"active": false}));
    assert_eq!(
        host.introspect("garbage", NOW + 5),
        json!({"active": false})
    );
    assert_eq!(
        host.introspect(&assertion("j13"), NOW + 5),
        json!({"active": false})
    );
    // Only clients allowed to introspect.
    let (status, body) = host.introspect_as(&t1, BASIC, NOW + 5);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let m: Value = serde_json::from_str(host.ep.metadata_json()).unwrap();
    assert_eq!(
        m["introspection_endpoint"],
        "https://as.example.com/introspect"
    );
}
