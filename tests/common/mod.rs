//! Helpers shared by the integration tests (native and wasm).
#![allow(dead_code)]

use assertion_grant::crypto::{self, Algorithm, PublicKey};
use assertion_grant::protocol::{CLIENT_ASSERTION_JWT, CLIENT_ASSERTION_SAML2};
use assertion_grant::{HttpRequest, HttpResponse, MemoryReplayStore, ReplayStore, TokenEndpoint};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

/// The form content type.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// Percent-encodes everything but unreserved characters.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// POSTs a form body (with an optional Authorization header) at `now`.
pub fn send(
    ep: &TokenEndpoint,
    store: &mut dyn ReplayStore,
    body: &str,
    authorization: Option<&str>,
    now: i64,
) -> HttpResponse {
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization,
        dpop: None,
        body: body.as_bytes(),
    };
    ep.handle(&req, now, store)
}

/// The one request builder of the Rust suites: the form body and
/// Authorization header for `grant_type` with `assertion` (the parameter as
/// sent) and the client a vector's `client` names — `basic`/`post`
/// `[id, secret]`, `private_key_jwt` (+ `client_id`), `saml_client_assertion`
/// (XML, + `client_id`), `none` (a client_id), or `anonymous`.
pub fn request_parts(
    grant_type: &str,
    assertion: &str,
    client: &Value,
    scope: Option<&str>,
) -> (String, Option<String>) {
    let mut body = format!(
        "grant_type={}&assertion={}",
        enc(grant_type),
        enc(assertion)
    );
    let mut authorization = None;
    if let Some(pair) = client.get("basic") {
        let creds = format!(
            "{}:{}",
            enc(pair[0].as_str().unwrap()),
            enc(pair[1].as_str().unwrap())
        );
        authorization = Some(format!("Basic {}", STANDARD.encode(creds)));
    } else if let Some(pair) = client.get("post") {
        body.push_str(&format!(
            "&client_id={}&client_secret={}",
            enc(pair[0].as_str().unwrap()),
            enc(pair[1].as_str().unwrap())
        ));
    } else if let Some(jws) = client.get("private_key_jwt") {
        body.push_str(&format!(
            "&client_assertion_type={}&client_assertion={}",
            enc(CLIENT_ASSERTION_JWT),
            enc(jws.as_str().unwrap())
        ));
        if let Some(id) = client.get("client_id").and_then(Value::as_str) {
            body.push_str(&format!("&client_id={}", enc(id)));
        }
    } else if let Some(xml) = client.get("saml_client_assertion") {
        body.push_str(&format!(
            "&client_assertion_type={}&client_assertion={}",
            enc(CLIENT_ASSERTION_SAML2),
            enc(&URL_SAFE_NO_PAD.encode(xml.as_str().unwrap()))
        ));
        if let Some(id) = client.get("client_id").and_then(Value::as_str) {
            body.push_str(&format!("&client_id={}", enc(id)));
        }
    } else if let Some(id) = client.get("none") {
        body.push_str(&format!("&client_id={}", enc(id.as_str().unwrap())));
    } else {
        assert_eq!(
            client.get("anonymous"),
            Some(&Value::Bool(true)),
            "unknown client form {client}"
        );
    }
    if let Some(scope) = scope {
        body.push_str(&format!("&scope={}", enc(scope)));
    }
    (body, authorization)
}

/// Verifies an access token against the endpoint's JWKS, independently of
/// the JWS parser (which refuses `at+jwt` by design), and returns its claims.
pub fn verify_access_token(ep: &TokenEndpoint, token: &str) -> (Value, Value) {
    let jwks: Value = serde_json::from_str(ep.jwks_json()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("token kid is in the JWKS");
    let coord = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let key = PublicKey::p256(&coord("x"), &coord("y")).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    crypto::verify(Algorithm::ES256, &key, input.as_bytes(), &signature)
        .expect("access token signature");
    (header, claims)
}

/// What every vector test expects of this test suite's configurations.
const AS_ISSUER: &str = "https://as.example.com";
const RESOURCE: &str = "https://api.example.com";
const LIFETIME: i64 = 3600;

/// Checks a token-endpoint response against a vector's `expect` (`status`,
/// `error`, `sub`, `scope`, `claims`, `client_id`), returning what differs.
pub fn check_response(
    ep: &TokenEndpoint,
    name: &str,
    response: &HttpResponse,
    expect: &Value,
    now: i64,
) -> Result<(), String> {
    let got = || format!("got {} {:.200}", response.status, response.body);
    macro_rules! ensure {
        ($cond:expr, $what:expr) => {
            if !$cond {
                return Err(format!("{name}: {}; {}", $what, got()));
            }
        };
    }
    let body: Value = serde_json::from_str(&response.body)
        .map_err(|e| format!("{name}: body is not JSON: {e}"))?;
    ensure!(
        Some(i64::from(response.status)) == expect["status"].as_i64(),
        "status"
    );
    ensure!(
        response.header("cache-control") == Some("no-store"),
        "Cache-Control"
    );
    ensure!(response.header("pragma") == Some("no-cache"), "Pragma");
    if response.status != 200 {
        ensure!(body["error"] == expect["error"], "error code");
        // Reason codes are for explain reports and logs, never public.
        ensure!(
            body.as_object().is_some_and(|o| o.len() == 2),
            "the public error has exactly error and error_description"
        );
        ensure!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "error_description"
        );
        // Where a vector pins the description (validity-oracle cases: a
        // valid and a forged assertion must get the very same answer).
        if let Some(description) = expect.get("error_description") {
            ensure!(
                &body["error_description"] == description,
                "error_description (pinned)"
            );
        }
        return Ok(());
    }
    ensure!(body["token_type"] == "Bearer", "token_type");
    ensure!(body["expires_in"] == LIFETIME, "expires_in");
    let (header, claims) =
        verify_access_token(ep, body["access_token"].as_str().unwrap_or_default());
    ensure!(
        header["typ"] == "at+jwt" && header["alg"] == "ES256",
        "access token header"
    );
    ensure!(
        claims["iss"] == AS_ISSUER && claims["aud"] == RESOURCE,
        "iss/aud"
    );
    ensure!(
        claims["iat"] == now && claims["exp"] == now + LIFETIME,
        "iat/exp"
    );
    ensure!(claims["jti"].as_str().is_some_and(|j| j.len() >= 22), "jti");
    ensure!(claims["sub"] == expect["sub"], "sub");
    if let Some(scope) = expect.get("scope") {
        ensure!(
            claims.get("scope").unwrap_or(&Value::Null) == scope,
            "scope"
        );
    }
    if let Some(mapped) = expect.get("claims").and_then(Value::as_object) {
        for (k, v) in mapped {
            ensure!(&claims[k] == v, format!("mapped claim {k}"));
        }
    }
    if let Some(client_id) = expect.get("client_id") {
        ensure!(&claims["client_id"] == client_id, "client_id");
    }
    Ok(())
}

/// The reason code explain mode gives for a request (`None` if it would
/// issue): the same validation as `/token`, with the reason attached.
pub fn explained_reason(
    ep: &TokenEndpoint,
    body: &str,
    authorization: Option<&str>,
    now: i64,
    is_used: &dyn Fn(&str) -> bool,
) -> Option<(String, Value)> {
    let req = HttpRequest {
        method: "POST",
        content_type: Some(FORM),
        authorization,
        dpop: None,
        body: body.as_bytes(),
    };
    let report = serde_json::to_value(ep.explain(&req, now, is_used)).unwrap();
    let error = report.get("error")?;
    Some((
        error["reason"].as_str().unwrap_or("?").to_owned(),
        error.clone(),
    ))
}

/// Compares the explained reason with the vector's `expect.reason`; every
/// refused vector must state one. With `AG_DUMP_REASONS=<dir>` set, the
/// actual answers are also collected into `dump` (for reviewing the
/// generators' expectations).
fn check_reason(
    name: &str,
    expect: &Value,
    explained: Option<(String, Value)>,
    dump: &mut serde_json::Map<String, Value>,
) -> Result<(), String> {
    let Some((reason, error)) = explained else {
        return match expect["status"].as_i64() {
            Some(200) => Ok(()),
            _ => Err(format!("{name}: explain would issue a token")),
        };
    };
    dump.insert(
        name.to_owned(),
        serde_json::json!({
            "reason": reason,
            "error": error["error"],
            "error_description": error["error_description"],
        }),
    );
    match expect.get("reason").and_then(Value::as_str) {
        Some(want) if want == reason => Ok(()),
        Some(want) => Err(format!("{name}: reason {reason}, expected {want}")),
        None if std::env::var_os("AG_DUMP_REASONS").is_some() => Ok(()),
        None => Err(format!(
            "{name}: the vector states no expect.reason (got {reason})"
        )),
    }
}

/// Writes the collected reasons when `AG_DUMP_REASONS=<dir>` is set.
fn dump_reasons(file: &str, dump: serde_json::Map<String, Value>) {
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(dir) = std::env::var_os("AG_DUMP_REASONS") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let text = serde_json::to_string_pretty(&Value::Object(dump)).unwrap();
        std::fs::write(dir.join(format!("{file}.json")), text).unwrap();
    }
    #[cfg(target_arch = "wasm32")]
    let _ = (file, dump);
}

/// Runs every vector (each with a fresh replay store) and asserts that all
/// got their expected answer — RFC code and reason — and that no refused
/// request spent a replay key. `suite` names the dump file.
pub fn run_vectors(
    suite: &str,
    ep: &TokenEndpoint,
    cases: &[Value],
    min: usize,
    parts: impl Fn(&Value) -> (String, Option<String>),
) {
    assert!(
        cases.len() >= min,
        "vector file looks truncated: {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    let mut dump = serde_json::Map::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let now = case["now"].as_i64().expect("every vector states its clock");
        let (body, auth) = parts(case);
        let mut store = MemoryReplayStore::new();
        let response = send(ep, &mut store, &body, auth.as_deref(), now);
        if let Err(e) = check_response(ep, name, &response, &case["expect"], now) {
            failures.push(e);
        }
        let explained = explained_reason(ep, &body, auth.as_deref(), now, &|_| false);
        if let Err(e) = check_reason(name, &case["expect"], explained, &mut dump) {
            failures.push(e);
        }
        if response.status != 200 && !store.is_empty() {
            failures.push(format!("{name}: a refused request consumed a replay entry"));
        }
    }
    dump_reasons(suite, dump);
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Runs replay scenarios: each scenario's requests in order against one store.
pub fn run_replays(
    suite: &str,
    ep: &TokenEndpoint,
    scenarios: &[Value],
    parts: impl Fn(&Value) -> (String, Option<String>),
) {
    assert!(!scenarios.is_empty());
    let mut dump = serde_json::Map::new();
    let mut failures = Vec::new();
    for scenario in scenarios {
        let mut store = MemoryReplayStore::new();
        let now = scenario["now"]
            .as_i64()
            .expect("every scenario states its clock");
        for (i, step) in scenario["requests"].as_array().unwrap().iter().enumerate() {
            let (body, auth) = parts(step);
            let name = format!("{}[{i}]", scenario["name"].as_str().unwrap_or("?"));
            // Explained against the store as it is before this step.
            let explained = explained_reason(ep, &body, auth.as_deref(), now, &|key| {
                store.contains(key, now)
            });
            let response = send(ep, &mut store, &body, auth.as_deref(), now);
            if let Err(e) = check_response(ep, &name, &response, &step["expect"], now) {
                panic!("{e}");
            }
            if let Err(e) = check_reason(&name, &step["expect"], explained, &mut dump) {
                failures.push(e);
            }
        }
    }
    dump_reasons(suite, dump);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
