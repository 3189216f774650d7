//! Shared fixtures for the fuzz targets: the test configurations, a fixed
//! signing key and time, the SAML issuers' keys as `Jwk`s, and the checks
//! every whole-path target applies to an endpoint's answer.

use std::sync::OnceLock;

use assertion_grant::crypto::Algorithm;
use assertion_grant::backend::{RustBackend, SignatureBackend};
use assertion_grant::crypto::seam::SignatureCheck;
use assertion_grant::crypto::seam::KeyOwner;
use assertion_grant::jose::{Jwk, KeyView, parse_public_jwk};
use assertion_grant::xmldsig::Policy;
use assertion_grant::{Config, HttpRequest, OAuthError, PendingToken, SigningKey, TokenEndpoint};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

/// The fixed "now" of every test vector.
pub const NOW: i64 = 1_800_000_000;

/// `tests/vectors/jwt/config.json`.
pub const JWT_CONFIG: &str = include_str!("../../tests/vectors/jwt/config.json");
/// `tests/vectors/saml/config.json`.
pub const SAML_CONFIG: &str = include_str!("../../tests/vectors/saml/config.json");
/// The SAML issuers' public keys as JWKs (see `keys/gen_keys.py`).
const SAML_KEYS: &str = include_str!("../keys/saml-keys.json");
/// `tests/vectors/jwt/keys/idp-ec-1.json` (private EC JWK, TEST ONLY).
const JWT_IDP_EC: &str = include_str!("../../tests/vectors/jwt/keys/idp-ec-1.json");

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const GRANT_JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const GRANT_SAML2: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";
pub const SAML_EC_ISSUER: &str = "https://saml-ec-idp.example.com";

fn signing_key() -> SigningKey {
    SigningKey::from_scalar(&[0x22; 32], Some("fuzz-key".into())).expect("fixed signing key")
}

/// The endpoint on the JWT test configuration.
pub fn jwt_endpoint() -> &'static TokenEndpoint {
    static EP: OnceLock<TokenEndpoint> = OnceLock::new();
    EP.get_or_init(|| {
        TokenEndpoint::new(Config::from_json(JWT_CONFIG).expect("jwt config"), vec![signing_key()])
            .expect("jwt endpoint")
    })
}

/// The endpoint on the SAML test configuration.
pub fn saml_endpoint() -> &'static TokenEndpoint {
    static EP: OnceLock<TokenEndpoint> = OnceLock::new();
    EP.get_or_init(|| {
        TokenEndpoint::new(Config::from_json(SAML_CONFIG).expect("saml config"), vec![signing_key()])
            .expect("saml endpoint")
    })
}

/// Percent-encodes every byte but unreserved characters.
pub fn enc(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Basic base64(form-encode(id) ":" form-encode(secret))`.
pub fn basic(id: &str, secret: &str) -> String {
    let pair = format!("{}:{}", enc(id.as_bytes()), enc(secret.as_bytes()));
    format!("Basic {}", STANDARD.encode(pair))
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Runs a request through the crypto seam and checks the invariants of the
/// answer: `prepare` (the pure-Rust backend), then the same exchange driven
/// by hand — `begin` → every `signature_check` answered → `outcome` — which
/// must agree, and once more with a host that answers every check `false`
/// (nothing may be issued) and `true` (a lying host: the core must still
/// neither panic nor answer 5xx). Returns whether a token was issued.
pub fn exercise(ep: &TokenEndpoint, req: &HttpRequest<'_>) -> bool {
    let result = ep.prepare(req, NOW);
    if debug() {
        match &result {
            Ok(p) => eprintln!("fuzz: prepared a token for {:?} (client {:?})", p.subject(), p.client_id()),
            Err(e) => eprintln!("fuzz: {} ({}): {}", e.code(), e.status(), e.description()),
        }
    }
    let by_hand = drive(ep, req, |check| RustBackend.verify(ep.config(), check));
    assert_eq!(
        result.as_ref().map(|p| p.subject().to_owned()).map_err(|e| e.code()),
        by_hand.as_ref().map(|p| p.subject().to_owned()).map_err(|e| e.code()),
        "prepare and the hand-driven exchange disagree"
    );
    // Every grant needs a verified signature: a host that refuses them all
    // never gets a token.
    match drive(ep, req, |_| false) {
        Ok(_) => panic!("a token without any verified signature"),
        Err(e) => check_error(&e),
    }
    if let Err(e) = drive(ep, req, |_| true) {
        check_error(&e);
    }
    match result {
        Ok(pending) => {
            // Replay keys must name something to claim.
            assert!(
                pending.replay_keys().iter().all(|k| !k.key.is_empty()),
                "empty replay key"
            );
            assert!(!pending.subject().is_empty(), "empty subject was accepted");
            match ep.issue(pending, NOW) {
                Ok(token) => {
                    assert!(token.expires_in > 0, "token born expired");
                    let http = token.to_http();
                    assert_eq!(http.status, 200);
                    true
                }
                Err(e) => {
                    check_error(&e);
                    false
                }
            }
        }
        Err(e) => {
            check_error(&e);
            false
        }
    }
}

/// The exchange driven by hand, each signature check answered by `answer`
/// (at most a handful: one for the client assertion, one for the grant).
fn drive(
    ep: &TokenEndpoint,
    req: &HttpRequest<'_>,
    answer: impl Fn(&SignatureCheck) -> bool,
) -> Result<PendingToken, OAuthError> {
    let mut exchange = ep.begin(req, NOW);
    let mut rounds = 0;
    while let Some(check) = exchange.signature_check() {
        assert!(!check.keys.is_empty(), "a check without a candidate key");
        rounds += 1;
        assert!(rounds <= 2, "more than two signature checks for one request");
        let verified = answer(check);
        exchange = exchange.resume(ep, verified);
    }
    exchange.outcome()
}

/// `FUZZ_DEBUG=1` prints each endpoint answer to stderr (for triage and
/// for checking that a target reaches what it means to).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

/// An error answer must be a client error (never a 500 for a request), well
/// formed JSON, and never echo more than a bounded description.
pub fn check_error(e: &OAuthError) {
    let http = e.to_http();
    assert!(
        matches!(http.status, 400 | 401 | 405 | 413 | 415),
        "unexpected status {} for {:?}",
        http.status,
        e
    );
    let body: Value = serde_json::from_str(&http.body).expect("error body is JSON");
    assert!(body["error"].is_string());
    assert!(
        e.description().len() <= 1024,
        "error description of {} bytes",
        e.description().len()
    );
}

/// The SAML issuers' keys and the policies their configuration implies.
pub struct SamlKeys {
    pub rsa: Vec<Jwk>,
    pub ec: Vec<Jwk>,
    pub other: Vec<Jwk>,
    pub legacy: Vec<Jwk>,
    pub attackers: Vec<Jwk>,
}

pub fn saml_keys() -> &'static SamlKeys {
    static KEYS: OnceLock<SamlKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let v: Value = serde_json::from_str(SAML_KEYS).expect("saml-keys.json");
        let k = |name: &str| vec![parse_public_jwk(&v[name]["public"]).expect(name)];
        SamlKeys {
            rsa: k("saml-idp"),
            ec: k("saml-ec-idp"),
            other: k("other-saml-idp"),
            legacy: k("legacy-idp"),
            attackers: [k("attacker-rsa"), k("attacker-ec")].concat(),
        }
    })
}

pub const RSA_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];
pub const RSA_ALGS_SHA1: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS1,
];
pub const EC_ALGS: &[Algorithm] = &[Algorithm::ES256];

fn view(keys: &'static [Jwk]) -> KeyView<'static> {
    KeyView::configured(KeyOwner::Issuer(0), keys)
}

/// The policies of the SAML test configuration's issuers, plus one with
/// every key and every opt-in (the widest the verifier can be configured).
pub fn saml_policies() -> [Policy<'static>; 4] {
    let k = saml_keys();
    [
        Policy { keys: view(&k.rsa), algorithms: RSA_ALGS, allow_sha1: false, allow_inclusive_c14n: false },
        Policy { keys: view(&k.ec), algorithms: EC_ALGS, allow_sha1: false, allow_inclusive_c14n: false },
        Policy { keys: view(&k.legacy), algorithms: RSA_ALGS_SHA1, allow_sha1: true, allow_inclusive_c14n: true },
        Policy {
            keys: view(&k.attackers),
            algorithms: &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
                Algorithm::ES256,
                Algorithm::RS1,
            ],
            allow_sha1: true,
            allow_inclusive_c14n: true,
        },
    ]
}

/// The saml-ec-idp private key (TEST ONLY), to sign fuzzed assertions.
pub fn saml_ec_signer() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let v: Value = serde_json::from_str(SAML_KEYS).expect("saml-keys.json");
        let d = URL_SAFE_NO_PAD
            .decode(v["saml-ec-idp"]["d"].as_str().expect("d"))
            .expect("d base64url");
        SigningKey::from_scalar(&d, None).expect("saml-ec-idp scalar")
    })
}

/// The JWT test IdP's EC key `idp-ec-1` (TEST ONLY), to sign fuzzed JWTs.
pub fn jwt_idp_signer() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let v: Value = serde_json::from_str(JWT_IDP_EC).expect("idp-ec-1.json");
        let d = URL_SAFE_NO_PAD
            .decode(v["d"].as_str().expect("d"))
            .expect("d base64url");
        SigningKey::from_scalar(&d, Some("idp-ec-1".into())).expect("idp-ec-1 scalar")
    })
}
