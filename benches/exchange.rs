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
const SAML_CONFIG: &str = include_str!("../tests/vectors/saml/config.json");
const SAML_VECTORS: &str = include_str!("../tests/vectors/saml/vectors.json");
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

fn saml_xml(name: &str) -> String {
    let cases: Vec<Value> = serde_json::from_str(SAML_VECTORS).unwrap();
    let case = cases.iter().find(|c| c["name"] == name).unwrap();
    case["xml"].as_str().unwrap().to_owned()
}

/// One SAML-bearer exchange with a realistic 6–7 KB assertion (13
/// attributes), signed by xmlsec1, plus the stages that are not
/// signature arithmetic, so the breakdown of a request is visible.
fn saml(c: &mut Criterion) {
    use assertion_grant::xml::c14n::{self, Method};
    use assertion_grant::xml::{Document, Limits};
    use base64::Engine as _;
    let key = SigningKey::from_scalar(&[0x11; 32], Some("bench".into())).unwrap();
    let endpoint = TokenEndpoint::new(Config::from_json(SAML_CONFIG).unwrap(), vec![key]).unwrap();
    let auth = "Basic YmFzaWMtY2xpZW50OmJhc2ljLXNlY3JldA==";
    for (label, vector) in [
        ("saml2_bearer_rsa_sha256", "valid-rsa-sha256-xmlsec1"),
        ("saml2_bearer_ecdsa_sha256", "valid-ecdsa-sha256-xmlsec1"),
    ] {
        let xml = saml_xml(vector);
        let body = format!(
            "grant_type={}&assertion={}",
            enc("urn:ietf:params:oauth:grant-type:saml2-bearer"),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(xml.as_bytes())
        );
        c.bench_function(label, |b| {
            b.iter(|| {
                let req = HttpRequest {
                    method: "POST",
                    content_type: Some("application/x-www-form-urlencoded"),
                    authorization: Some(auth),
                    body: body.as_bytes(),
                };
                let mut store = MemoryReplayStore::new();
                let response = endpoint.handle(black_box(&req), NOW, &mut store);
                assert_eq!(response.status, 200);
                response
            })
        });
    }
    let xml = saml_xml("valid-rsa-sha256-xmlsec1");
    let limits = Limits::default();
    c.bench_function("saml_stage_parse", |b| {
        b.iter(|| Document::parse(black_box(xml.as_bytes()), &limits).unwrap())
    });
    let doc = Document::parse(xml.as_bytes(), &limits).unwrap();
    let method = Method::Exclusive {
        inclusive_prefixes: Vec::new(),
    };
    c.bench_function("saml_stage_exc_c14n", |b| {
        b.iter(|| c14n::canonicalize(black_box(&doc), doc.root(), None, &method))
    });
    let canonical = c14n::canonicalize(&doc, doc.root(), None, &method);
    c.bench_function("saml_stage_sha256", |b| {
        b.iter(|| {
            assertion_grant::crypto::digest(
                assertion_grant::crypto::DigestAlgorithm::Sha256,
                black_box(&canonical),
            )
        })
    });
}

criterion_group!(benches, exchange, saml);
criterion_main!(benches);
