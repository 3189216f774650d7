//! Baseline: one JWT-bearer and one SAML-bearer exchange end to end
//! (request parsing, client authentication, signature verification, rules,
//! scope, ES256 access-token signing), natively, and the stages of a
//! request on their own: `saml_stage_{form,parse,exc_c14n,sha256,rules}`,
//! `stage_verify_{rs256,es256}` and `stage_sign_es256`. Inputs are the interop vectors, so the numbers are for
//! tokens made by an independent library. The wasm/workerd benchmark against
//! peers is separate work (issue #6).

use assertion_grant::crypto::PublicKey;
use assertion_grant::{
    Algorithm, Config, HttpRequest, MemoryReplayStore, SigningKey, TokenEndpoint,
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;
use std::hint::black_box;

const CONFIG: &str = include_str!("../tests/vectors/jwt/config.json");
const VECTORS: &str = include_str!("../tests/vectors/jwt/vectors.json");
const SAML_CONFIG: &str = include_str!("../tests/vectors/saml/config.json");
const SAML_VECTORS: &str = include_str!("../tests/vectors/saml/vectors.json");
const NOW: i64 = 1_800_000_000;
/// `basic-client:basic-secret` (client_secret_basic).
const BASIC_AUTH: &str = "Basic YmFzaWMtY2xpZW50OmJhc2ljLXNlY3JldA==";

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

/// One whole token request (`client_secret_basic`, `body`) through
/// `TokenEndpoint::handle`, which must answer 200.
fn token_request(c: &mut Criterion, label: &str, endpoint: &TokenEndpoint, body: &str) {
    c.bench_function(label, |b| {
        b.iter(|| {
            let req = HttpRequest {
                method: "POST",
                content_type: Some("application/x-www-form-urlencoded"),
                authorization: Some(BASIC_AUTH),
                dpop: None,
                body: body.as_bytes(),
            };
            // A fresh store each time: the same assertion is exchanged repeatedly.
            let mut store = MemoryReplayStore::new();
            let response = endpoint.handle(black_box(&req), NOW, &mut store);
            assert_eq!(response.status, 200);
            response
        })
    });
}

fn exchange(c: &mut Criterion) {
    let key = SigningKey::from_scalar(&[0x11; 32], Some("bench".into())).unwrap();
    let endpoint = TokenEndpoint::new(Config::from_json(CONFIG).unwrap(), vec![key]).unwrap();
    for (label, vector) in [
        ("jwt_bearer_es256", "valid-es256"),
        ("jwt_bearer_rs256", "valid-rs256"),
    ] {
        token_request(c, label, &endpoint, &body_for(vector));
    }
    c.bench_function("config_load", |b| {
        b.iter(|| Config::from_json(black_box(CONFIG)).unwrap())
    });
}

/// A SAML-bearer token request body for `xml` (base64url, RFC 7522 §2.1).
fn saml_body(xml: &str) -> String {
    use base64::Engine as _;
    format!(
        "grant_type={}&assertion={}",
        enc("urn:ietf:params:oauth:grant-type:saml2-bearer"),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(xml.as_bytes())
    )
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
    let key = SigningKey::from_scalar(&[0x11; 32], Some("bench".into())).unwrap();
    let endpoint = TokenEndpoint::new(Config::from_json(SAML_CONFIG).unwrap(), vec![key]).unwrap();
    for (label, vector) in [
        ("saml2_bearer_rsa_sha256", "valid-rsa-sha256-xmlsec1"),
        ("saml2_bearer_ecdsa_sha256", "valid-ecdsa-sha256-xmlsec1"),
    ] {
        token_request(c, label, &endpoint, &saml_body(&saml_xml(vector)));
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
    // Everything after the signature checks out: the XML-DSig shape and
    // the RFC 7522 rules, over the parsed document.
    let config = Config::from_json(SAML_CONFIG).unwrap();
    c.bench_function("saml_stage_rules", |b| {
        b.iter(|| {
            assertion_grant::grant::saml2::rules_without_signature_for_bench(
                &config,
                black_box(&doc),
                NOW,
            )
            .unwrap()
        })
    });
    // The request body: form decoding and the token request's rules.
    let body = saml_body(&xml);
    c.bench_function("saml_stage_form", |b| {
        b.iter(|| {
            let req = HttpRequest {
                method: "POST",
                content_type: Some("application/x-www-form-urlencoded"),
                authorization: Some(BASIC_AUTH),
                dpop: None,
                body: black_box(body.as_bytes()),
            };
            assertion_grant::request::parse_request(&req).unwrap()
        })
    });
}

/// A SAML vector's signature as `crypto::verify` gets it: the exclusive
/// canonical SignedInfo, the SignatureValue, and the issuer's configured
/// key (from its certificate in the configuration).
fn saml_signature(vector: &str, issuer: &str) -> (Vec<u8>, Vec<u8>, PublicKey) {
    use assertion_grant::xml::c14n::{self, Method};
    use assertion_grant::xml::{Document, Limits};
    use assertion_grant::xmldsig::DSIG_NS;
    use base64::Engine as _;
    let xml = saml_xml(vector);
    let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
    let find = |local: &str| {
        doc.elements()
            .find(|(_, e)| e.is(DSIG_NS, local))
            .map(|(id, _)| id)
            .unwrap()
    };
    let method = Method::Exclusive {
        inclusive_prefixes: Vec::new(),
    };
    let signed_info = c14n::canonicalize(&doc, find("SignedInfo"), None, &method);
    let value: String = doc
        .text(find("SignatureValue"))
        .unwrap()
        .split_whitespace()
        .collect();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap();
    let config: Value = serde_json::from_str(SAML_CONFIG).unwrap();
    let certificate = config["trusted_issuers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["issuer"] == issuer)
        .unwrap()["x509_certificates"][0]
        .as_str()
        .unwrap();
    let key = assertion_grant::x509::public_key_from_certificate(certificate).unwrap();
    (signed_info, signature, key)
}

/// The signature operations alone, through the crypto seam, on the real
/// inputs: the two SAML vectors' SignedInfo, and an issued access token's
/// JWS signing input.
fn signatures(c: &mut Criterion) {
    for (label, vector, issuer, alg) in [
        (
            "stage_verify_rs256",
            "valid-rsa-sha256-xmlsec1",
            "https://saml-idp.example.com",
            Algorithm::RS256,
        ),
        (
            "stage_verify_es256",
            "valid-ecdsa-sha256-xmlsec1",
            "https://saml-ec-idp.example.com",
            Algorithm::ES256,
        ),
    ] {
        let (message, signature, key) = saml_signature(vector, issuer);
        assertion_grant::crypto::verify(alg, &key, &message, &signature).unwrap();
        c.bench_function(label, |b| {
            b.iter(|| {
                assertion_grant::crypto::verify(alg, &key, black_box(&message), &signature).unwrap()
            })
        });
    }

    let key = SigningKey::from_scalar(&[0x11; 32], Some("bench".into())).unwrap();
    let endpoint =
        TokenEndpoint::new(Config::from_json(SAML_CONFIG).unwrap(), vec![key.clone()]).unwrap();
    let body = saml_body(&saml_xml("valid-rsa-sha256-xmlsec1"));
    let req = HttpRequest {
        method: "POST",
        content_type: Some("application/x-www-form-urlencoded"),
        authorization: Some(BASIC_AUTH),
        dpop: None,
        body: body.as_bytes(),
    };
    let response = endpoint.handle(&req, NOW, &mut MemoryReplayStore::new());
    let response: Value = serde_json::from_str(&response.body).unwrap();
    let token = response["access_token"].as_str().unwrap();
    let signing_input = &token[..token.rfind('.').unwrap()];
    c.bench_function("stage_sign_es256", |b| {
        b.iter(|| key.sign_es256(black_box(signing_input.as_bytes())))
    });
}

criterion_group!(benches, exchange, saml, signatures);
criterion_main!(benches);
