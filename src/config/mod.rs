//! Configuration: one JSON document, validated completely at load.
//!
//! Every error names the offending field path
//! (`trusted_issuers[1].jwks.keys[0].x: not a P-256 point`); those field
//! names are a public contract. Unknown fields are rejected too, so a typo
//! such as `"require_jit": false` cannot silently leave a default in force.

use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::crypto::Algorithm;
use crate::jose::Jwk;
use crate::json;
use crate::keyset::KeySource;
use crate::limits::*;
use crate::policy::ScopeSet;

pub mod schema;

mod build;
mod effective;
mod signing;

pub use crate::policy::ScopePolicy;
pub use crate::protocol::{GRANT_JWT_BEARER, GRANT_SAML2_BEARER, NAME_ID_FORMAT_ENTITY};
pub(crate) use build::url_path;
pub use signing::public_signing_keys_from_json;
#[cfg(feature = "rust-crypto")]
pub use signing::signing_keys_from_json;

/// A configuration error: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The field path, e.g. `trusted_issuers[1].jwks.keys[0].x`; empty for
    /// the document as a whole.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

/// The format of assertions a trusted issuer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssertionFormat {
    /// Signed JWTs (RFC 7523).
    Jwt,
    /// Signed SAML 2.0 assertions (RFC 7522).
    Saml2,
}

/// How a client authenticates at the token endpoint (RFC 7591 §2 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// HTTP Basic with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` + `client_secret` in the body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A JWT signed with the client's key (RFC 7523 §2.2).
    PrivateKeyJwt,
    /// A SAML assertion about the client (RFC 7522 §2.2).
    Saml2Bearer,
    /// A public client that only names itself.
    None,
}

impl AuthMethod {
    /// The RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::Saml2Bearer => "saml2_bearer",
            Self::None => "none",
        }
    }
}

/// A validated configuration. Build it with [`Config::from_json`].
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) issuer: String,
    pub(crate) token_endpoint: String,
    pub(crate) jwks_uri: String,
    /// Every value accepted as `aud` (issuer, token endpoint, `audiences`).
    pub(crate) accepted_audiences: Vec<String>,
    /// The configured `audiences` (aliases of the token endpoint).
    pub(crate) aliases: Vec<String>,
    pub(crate) clock_skew: i64,
    pub(crate) scope_policy: ScopePolicy,
    pub(crate) access_token: AccessTokenPolicy,
    pub(crate) issuers: Vec<TrustedIssuer>,
    pub(crate) clients: Vec<Client>,
    issuer_index: HashMap<String, usize>,
    client_index: HashMap<String, usize>,
    /// Every remote key set (`jwks_uri`, `saml_metadata_url`), indexed by
    /// the issuers' and clients' `remote`.
    pub(crate) key_sources: Vec<KeySource>,
    pub(crate) config_refresh_secs: u64,
    /// The document's `key_cache` (each source holds its own, over it).
    pub(crate) key_cache: crate::keyset::CachePolicy,
    pub(crate) dpop: DpopPolicy,
    pub(crate) refresh: RefreshConfig,
}

/// How refresh-token families live (`refresh_token`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefreshConfig {
    pub policy: crate::refresh::RefreshPolicy,
    pub cap_at_assertion_expiry: bool,
    pub require_offline_access: bool,
}

/// How DPoP proofs are checked (`dpop`).
#[derive(Debug, Clone)]
pub(crate) struct DpopPolicy {
    /// Accepted proof algorithms, in the configured order.
    pub algorithms: Vec<Algorithm>,
    /// Oldest accepted `iat`, in seconds before now (plus the skew).
    pub max_age: i64,
    /// Every proof must carry a server nonce.
    pub require_nonce: bool,
    /// Length of one nonce window, in seconds.
    pub nonce_lifetime: i64,
}

/// The assertion profiles a JWT issuer may use (`profiles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Profiles {
    /// Plain RFC 7523 assertions.
    pub jwt_bearer: bool,
    /// Identity Assertion JWT Authorization Grants.
    pub id_jag: bool,
}

/// How access tokens are minted.
#[derive(Debug, Clone)]
pub(crate) struct AccessTokenPolicy {
    pub audience: String,
    pub lifetime: i64,
    pub cap_at_assertion_expiry: bool,
    /// Longest `sub`, after the issuer's prefix.
    pub max_subject_bytes: usize,
    /// Most JSON bytes the mapped claims may add.
    pub max_claims_bytes: usize,
    /// Further RFC 8707 resources a token may be asked for.
    pub resources: Vec<String>,
}

/// An identity provider whose assertions we accept.
#[derive(Debug, Clone)]
pub(crate) struct TrustedIssuer {
    pub issuer: String,
    pub format: AssertionFormat,
    pub keys: Vec<Jwk>,
    pub algorithms: Vec<Algorithm>,
    pub max_lifetime: i64,
    pub clock_skew: i64,
    pub require_jti: bool,
    pub require_client: bool,
    pub scope: Option<ScopeSet>,
    pub claims: Vec<(String, String)>,
    pub subjects: Option<HashSet<String>>,
    pub allow_sha1: bool,
    pub allow_inclusive_c14n: bool,
    /// A JWT issuer that is also a `private_key_jwt` client (same identifier
    /// as its client_id, or a key in common): RFC 7523 §2.1 self-issued
    /// grants. Its grants must carry exactly our issuer identifier as `aud`,
    /// like the client's assertions, or a client assertion collected by a
    /// hostile authorization server could be replayed here as a grant.
    pub self_issued: bool,
    /// Index into [`Config::key_sources`] of its `jwks_uri` or
    /// `saml_metadata_url`.
    pub remote: Option<usize>,
    /// `dangerous.allow_shared_keys`.
    pub allow_shared_keys: bool,
    /// Prepended to its subjects in access tokens.
    pub subject_prefix: Option<String>,
    /// `dangerous.shared_subject_namespace`.
    pub shared_subject_namespace: bool,
    /// The profiles it may use (JWT issuers; SAML issuers: plain only).
    pub profiles: Profiles,
    /// Its grants may come with refresh tokens.
    pub allow_refresh_tokens: bool,
}

/// A registered client.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub client_id: String,
    pub auth_method: AuthMethod,
    pub secret_sha256: Option<[u8; 32]>,
    pub keys: Vec<Jwk>,
    pub grant_types: Vec<String>,
    pub scope: ScopeSet,
    pub trusted_issuers: Option<Vec<usize>>,
    /// saml2_bearer: the NameID Format the client assertion must carry.
    pub saml_name_id_format: String,
    /// private_key_jwt: also accept the token endpoint or an alias as the
    /// client assertion's `aud` (legacy clients; weaker, see
    /// [`Config::is_our_issuer`]).
    pub legacy_client_assertion_audience: bool,
    /// Index into [`Config::key_sources`] of its `jwks_uri`.
    pub remote: Option<usize>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub dpop_bound: bool,
    /// May introspect tokens (RFC 7662).
    pub allow_introspection: bool,
}

impl Config {
    /// Parses and validates a configuration document; the first error
    /// (in document order) when it is not valid. [`Config::check_json`]
    /// reports every error.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        Self::check_json(text).map_err(|mut errors| {
            if errors.is_empty() {
                ConfigError::new("", "configuration is not valid")
            } else {
                errors.swap_remove(0)
            }
        })
    }

    /// Parses and validates a configuration document, reporting every
    /// error it finds (never an empty list): a document that is not JSON
    /// gives one; otherwise each trusted issuer, each client and the rest
    /// of the document are checked separately, so one broken entry does
    /// not hide another.
    pub fn check_json(text: &str) -> Result<Self, Vec<ConfigError>> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(vec![ConfigError::new(
                "",
                "configuration is larger than 1 MiB",
            )]);
        }
        let value = json::parse(text.as_bytes()).map_err(|e| {
            vec![ConfigError::new(
                "",
                format!("configuration is not valid JSON: {e}"),
            )]
        })?;
        let raw: schema::ConfigDocument = match deserialize(value.clone(), "") {
            Ok(raw) => raw,
            Err(first) => return Err(schema_errors(value, first)),
        };
        build::build(raw)
    }
    /// This server's issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint URL.
    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }

    /// The JWKS URL published in the metadata.
    pub fn jwks_uri(&self) -> &str {
        &self.jwks_uri
    }

    /// Every remote key set the configuration names (`jwks_uri`,
    /// `saml_metadata_url`); a [`crate::keyset::KeySetNeed`] names one by
    /// index.
    pub fn key_sources(&self) -> &[KeySource] {
        &self.key_sources
    }

    /// `config_refresh_secs`: how often a host reading the configuration
    /// from a changing source looks for a new version (0: every request).
    pub fn config_refresh_secs(&self) -> u64 {
        self.config_refresh_secs
    }

    pub(crate) fn trusted_issuer(&self, issuer: &str) -> Option<(usize, &TrustedIssuer)> {
        self.issuer_index
            .get(issuer)
            .map(|&i| (i, &self.issuers[i]))
    }

    /// The position of `client_id` in `clients`.
    pub(crate) fn client_index(&self, client_id: &str) -> Option<usize> {
        self.client_index.get(client_id).copied()
    }

    /// Whether `aud` names this server: the issuer, the token endpoint or a
    /// configured alias, compared exactly (RFC 7521 §5.2, RFC 7523 §3 item 3).
    pub(crate) fn is_our_audience(&self, aud: &str) -> bool {
        self.accepted_audiences.iter().any(|a| a == aud)
    }

    /// Whether `aud` is exactly this server's issuer identifier (as
    /// configured, or as published without a trailing slash): the only
    /// audience a client assertion may carry (draft-ietf-oauth-rfc7523bis
    /// §5.1). Accepting the token endpoint too lets a hostile authorization
    /// server that names our token endpoint as its own collect assertions
    /// it can replay to us (the 2025 audience-injection attacks).
    pub(crate) fn is_our_issuer(&self, aud: &str) -> bool {
        aud == self.issuer
            || self
                .accepted_audiences
                .first()
                .is_some_and(|raw| raw == aud)
    }

    /// Whether a SAML `Recipient` names our token endpoint (or a configured
    /// alias), compared exactly (RFC 7522 §3 item 5).
    pub(crate) fn is_our_recipient(&self, recipient: &str) -> bool {
        recipient == self.token_endpoint || self.aliases.iter().any(|a| a == recipient)
    }
}

/// Deserializes `value` as `T`; an error names its field path under `prefix`.
fn deserialize<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let mut path = prefix.to_owned();
        if inner != "." {
            if !path.is_empty() && !inner.starts_with('[') {
                path.push('.');
            }
            path.push_str(&inner);
        }
        let reason = e.into_inner().to_string();
        // serde reports a missing field at its parent; point at the field.
        if let Some(field) = reason
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field);
            return ConfigError::new(path, "missing");
        }
        ConfigError::new(path, reason)
    })
}

/// Every schema error of a document whose first error is `first`: each
/// `trusted_issuers` and `clients` entry on its own, then the document
/// with those lists emptied.
fn schema_errors(value: serde_json::Value, first: ConfigError) -> Vec<ConfigError> {
    let serde_json::Value::Object(mut doc) = value else {
        return vec![first];
    };
    let mut errors = Vec::new();
    for (list, check) in [
        (
            "trusted_issuers",
            (|v, p: &str| deserialize::<schema::IssuerSettings>(v, p).err())
                as fn(serde_json::Value, &str) -> Option<ConfigError>,
        ),
        ("clients", |v, p: &str| {
            deserialize::<schema::ClientSettings>(v, p).err()
        }),
    ] {
        if let Some(serde_json::Value::Array(entries)) = doc.get_mut(list) {
            for (i, entry) in std::mem::take(entries).into_iter().enumerate() {
                errors.extend(check(entry, &format!("{list}[{i}]")));
            }
        }
    }
    if let Err(e) = deserialize::<schema::ConfigDocument>(serde_json::Value::Object(doc), "") {
        errors.insert(0, e);
    }
    if errors.is_empty() {
        errors.push(first);
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        r#"{"issuer":"https://as.example.com","access_token":{"audience":"https://api"}}"#;

    #[test]
    fn defaults() {
        let c = Config::from_json(MINIMAL).unwrap();
        assert_eq!(c.token_endpoint(), "https://as.example.com/token");
        assert_eq!(c.jwks_uri(), "https://as.example.com/.well-known/jwks.json");
        assert_eq!(c.clock_skew, 60);
        assert_eq!(c.access_token.lifetime, 3600);
        assert!(c.is_our_audience("https://as.example.com"));
        assert!(c.is_our_audience("https://as.example.com/token"));
        assert!(!c.is_our_audience("https://as.example.com/"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"access_token":{"audience":"x"}}"#, "issuer"),
            (
                r#"{"issuer":"https://a","access_token":{}}"#,
                "access_token.audience",
            ),
            (
                r#"{"issuer":"http://evil.example","access_token":{"audience":"x"}}"#,
                "issuer",
            ),
            (
                r#"{"issuer":"https://a","access_token":{"audience":"x"},"require_jit":false}"#,
                "require_jit",
            ),
            (
                r#"{"issuer":"https://a","access_token":{"audience":"x","lifetime_secs":0}}"#,
                "access_token.lifetime_secs",
            ),
            (
                r#"{"issuer":"https://a","access_token":{"audience":"x"},"trusted_issuers":[{"issuer":"i","format":"x"}]}"#,
                "trusted_issuers[0].format",
            ),
            (
                r#"{"issuer":"https://a","access_token":{"audience":"x"},"trusted_issuers":[{"issuer":"i","format":"jwt"}]}"#,
                "trusted_issuers[0].jwks",
            ),
            (
                r#"{"issuer":"https://a","access_token":{"audience":"x"},"clients":[{"client_id":"c","token_endpoint_auth_method":"client_secret_basic","client_secret_sha256":"zz"}]}"#,
                "clients[0].client_secret_sha256",
            ),
            (
                r#"{"issuer":"https://a","access_token":{"audience":"x"},"clients":[{"client_id":"c","token_endpoint_auth_method":"none","trusted_issuers":["nope"]}]}"#,
                "clients[0].trusted_issuers[0]",
            ),
        ];
        for (json, path) in cases {
            let err = Config::from_json(json).unwrap_err();
            assert_eq!(err.path, path, "{json} -> {err}");
        }
    }

    /// A JWT issuer with `extra` merged into its entry.
    fn jwt_issuer(extra: &str) -> Result<Config, ConfigError> {
        let json = format!(
            r#"{{"issuer":"https://a","access_token":{{"audience":"x"}},"trusted_issuers":[{{"issuer":"i","format":"jwt","jwks":{{"keys":[{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}"}}]}}{extra}}}]}}"#
        );
        Config::from_json(&json)
    }

    const X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";

    #[test]
    fn dangerous_options_and_their_deprecated_spellings_mean_the_same() {
        let safe = jwt_issuer("").unwrap();
        assert!(safe.issuers[0].require_jti && safe.issuers[0].require_client);
        for extra in [
            r#","dangerous":{"allow_missing_jti":true,"allow_anonymous":true}"#,
            r#","require_jti":false,"require_client":false"#,
            r#","require_jti":false,"dangerous":{"allow_missing_jti":true,"allow_anonymous":true}"#,
        ] {
            let c = jwt_issuer(extra).unwrap();
            assert!(!c.issuers[0].require_jti, "{extra}");
            assert!(!c.issuers[0].require_client, "{extra}");
        }
        // Saying both `require_jti: true` and `allow_missing_jti: true` is
        // refused rather than guessed.
        let err = jwt_issuer(r#","require_jti":true,"dangerous":{"allow_missing_jti":true}"#)
            .unwrap_err();
        assert_eq!(err.path, "trusted_issuers[0].require_jti");
        let err = jwt_issuer(r#","require_client":true,"dangerous":{"allow_anonymous":true}"#)
            .unwrap_err();
        assert_eq!(err.path, "trusted_issuers[0].require_client");
        // SAML-only options on a JWT issuer name the spelling used.
        let err = jwt_issuer(r#","dangerous":{"allow_sha1":true}"#).unwrap_err();
        assert_eq!(err.path, "trusted_issuers[0].dangerous.allow_sha1");
        let err = jwt_issuer(r#","allow_inclusive_c14n":true"#).unwrap_err();
        assert_eq!(err.path, "trusted_issuers[0].allow_inclusive_c14n");
        // `allow_sha1: false` beside `dangerous.allow_sha1: true` is a
        // contradiction too (shown on a JWT issuer: checked first).
        let err = jwt_issuer(r#","allow_sha1":false,"dangerous":{"allow_sha1":true}"#).unwrap_err();
        assert_eq!(err.path, "trusted_issuers[0].allow_sha1");
        assert!(err.reason.contains("contradicts"), "{err}");
        // A SAML assertion's ID is always required: the JWT-only opt-in is
        // refused on a saml2 issuer rather than ignored.
        let err = Config::from_json(
            r#"{"issuer":"https://a","access_token":{"audience":"x"},"trusted_issuers":[{"issuer":"i","format":"saml2","dangerous":{"allow_missing_jti":true}}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "trusted_issuers[0].dangerous.allow_missing_jti");
        // Unknown dangerous options are errors like any unknown field.
        let err = jwt_issuer(r#","dangerous":{"allow_everything":true}"#).unwrap_err();
        assert_eq!(err.path, "trusted_issuers[0].dangerous.allow_everything");
    }

    #[test]
    fn url_paths() {
        assert_eq!(url_path("https://a.example/token"), "/token");
        assert_eq!(url_path("https://a.example"), "/");
        assert_eq!(url_path("http://127.0.0.1:8787/t/x?y=1"), "/t/x");
    }
}
