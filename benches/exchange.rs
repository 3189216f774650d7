//! Baseline: one JWT-bearer exchange end to end (request parsing, client
//! authentication, JWS verification, rules, scope, ES256 access-token
//! signing), natively. Inputs are the interop vectors, so the numbers are for
//! tokens made by an independent library. The wasm/workerd benchmark against
//! peers is separate work (issue #6).

use assertion_grant::{Config, HttpRequest, MemoryReplayStore, SigningKey, TokenEndpoint};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;
use std::hint::black_box;

const CONFIG: &str = include_str!("../tests/vectors/jwt/config.json");
const VECTORS: &str = include_str!("../tests/vectors/jwt/vectors.json");
const NOW: i64 = 1_800_000_000;

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn body_for(name: &str) -> String {
    let cases: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let case = cases.iter().find(|c| c["name"] == name).unwrap();
    format!(
        "grant_type={}&assertion={}",
        enc("urn:ietf:params:oauth:grant-type:jwt-bearer"),
        enc(case["assertion"].as_str().unwrap())
    )
}

fn exchange(c: &mut Criterion) {
    let key = SigningKey::from_scalar(&[0x11; 32], Some("bench".into())).unwrap();
    let endpoint = TokenEndpoint::new(Config::from_json(CONFIG).unwrap(), vec![key]).unwrap();
    // basic-client:basic-secret
    let auth = "Basic YmFzaWMtY2xpZW50OmJhc2ljLXNlY3JldA==";
    for (label, vector) in [
        ("jwt_bearer_es256", "valid-es256"),
        ("jwt_bearer_rs256", "valid-rs256"),
    ] {
        let body = body_for(vector);
        c.bench_function(label, |b| {
            b.iter(|| {
                let req = HttpRequest {
                    method: "POST",
                    content_type: Some("application/x-www-form-urlencoded"),
                    authorization: Some(auth),
                    body: body.as_bytes(),
                };
                // A fresh store each time: the same jti is exchanged repeatedly.
                let mut store = MemoryReplayStore::new();
                let response = endpoint.handle(black_box(&req), NOW, &mut store);
                assert_eq!(response.status, 200);
                response
            })
        });
    }
    c.bench_function("config_load", |b| {
        b.iter(|| Config::from_json(black_box(CONFIG)).unwrap())
    });
}

criterion_group!(benches, exchange);
criterion_main!(benches);
