//! Configuration: one JSON document, validated completely at load.
//!
//! Every error names the offending field path
//! (`trusted_issuers[1].jwks.keys[0].x: not a P-256 point`); those field
//! names are a public contract. Unknown fields are rejected too, so a typo
//! such as `"require_jit": false` cannot silently leave a default in force.

use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::crypto::Algorithm;
#[cfg(feature = "rust-crypto")]
use crate::crypto::SigningKey;
use crate::encoding::hex_decode;
use crate::endpoint::PublicSigningKey;
#[cfg(feature = "rust-crypto")]
use crate::jose::parse_private_jwk;
use crate::jose::{Jwk, parse_jwk_set, parse_public_signing_jwk};
use crate::json;
use crate::limits::*;
use crate::policy::ScopeSet;

/// The JWT bearer grant type (RFC 7523 §2.1).
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// SAML's NameID format for an entity (SAML core §8.3.6): what a client
/// assertion's Subject must be by default.
pub const NAME_ID_FORMAT_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

/// The SAML 2.0 bearer grant type (RFC 7522 §2.1).
pub const GRANT_SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";

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
    fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
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

/// What happens when a client asks for a scope it may not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScopePolicy {
    /// Refuse the request with `invalid_scope` (default).
    #[default]
    Reject,
    /// Grant the allowed part and report it in the response's `scope`
    /// (RFC 6749 §3.3); an empty result is still `invalid_scope`.
    Narrow,
}

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
}

/// How access tokens are minted.
#[derive(Debug, Clone)]
pub(crate) struct AccessTokenPolicy {
    pub audience: String,
    pub lifetime: i64,
    pub cap_at_assertion_expiry: bool,
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
}

/// Access-token claims that the issuer's `claims` mapping may not set: the
/// RFC 9068 §2.2 claims the server sets, and the authentication and
/// delegation claims (`auth_time`, `acr`, `amr`, RFC 9068 §2.2.1; `act`,
/// `may_act`, RFC 8693 §4.1, §4.4; `azp`, OpenID Connect Core §2) that only
/// the server may vouch for.
pub(crate) const RESERVED_CLAIMS: [&str; 16] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "cnf",
    "auth_time",
    "acr",
    "amr",
    "act",
    "may_act",
    "azp",
];

impl Config {
    /// Parses and validates a configuration document.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::new("", "configuration is larger than 1 MiB"));
        }
        let value = json::parse(text.as_bytes())
            .map_err(|e| ConfigError::new("", format!("configuration is not valid JSON: {e}")))?;
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let mut path = e.path().to_string();
            if path == "." {
                path.clear();
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
        })?;
        build(raw)
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

/// Parses the access-token signing keys: one private EC P-256 JWK, or a JWK
/// Set of them whose first key is the active one (the others stay published
/// in the JWKS during rotation).
#[cfg(feature = "rust-crypto")]
pub fn signing_keys_from_json(text: &str) -> Result<Vec<SigningKey>, ConfigError> {
    let keys = key_list(text, parse_private_jwk)?;
    unique_kids(keys.iter().map(SigningKey::kid))?;
    Ok(keys)
}

/// Parses the public halves of the access-token signing keys, for an
/// endpoint whose host signs ([`crate::TokenEndpoint::with_host_signer`]):
/// one public EC P-256 JWK, or a JWK Set whose first key is active. A
/// private member `d` is refused: the private key stays with the host.
pub fn public_signing_keys_from_json(text: &str) -> Result<Vec<PublicSigningKey>, ConfigError> {
    let keys = key_list(text, parse_public_signing_jwk)?;
    unique_kids(keys.iter().map(|k| k.kid.as_str()))?;
    Ok(keys)
}

/// One JWK, or `{"keys": [...]}` of 1 to [`MAX_KEYS_PER_SET`], each parsed
/// by `parse`; errors name `signing_key` or `signing_key.keys[i]`.
fn key_list<K>(
    text: &str,
    parse: impl Fn(&Value) -> Result<K, crate::jose::JwkError>,
) -> Result<Vec<K>, ConfigError> {
    let value = json::parse(text.as_bytes())
        .map_err(|e| ConfigError::new("signing_key", format!("not valid JSON: {e}")))?;
    let at = |path: String, e: crate::jose::JwkError| match e.member {
        Some(m) => ConfigError::new(format!("{path}.{m}"), e.reason),
        None => ConfigError::new(path, e.reason),
    };
    match value.get("keys") {
        None => Ok(vec![
            parse(&value).map_err(|e| at("signing_key".into(), e))?,
        ]),
        Some(Value::Array(keys)) if !keys.is_empty() && keys.len() <= MAX_KEYS_PER_SET => keys
            .iter()
            .enumerate()
            .map(|(i, k)| parse(k).map_err(|e| at(format!("signing_key.keys[{i}]"), e)))
            .collect(),
        Some(_) => Err(ConfigError::new(
            "signing_key.keys",
            format!("must be an array of 1 to {MAX_KEYS_PER_SET} JWKs"),
        )),
    }
}

fn unique_kids<'k>(kids: impl Iterator<Item = &'k str>) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, kid) in kids.enumerate() {
        if !seen.insert(kid) {
            return Err(ConfigError::new(
                format!("signing_key.keys[{i}].kid"),
                "duplicate kid",
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: String,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    #[serde(default)]
    audiences: Vec<String>,
    clock_skew_secs: Option<i64>,
    #[serde(default)]
    scope_policy: ScopePolicy,
    access_token: RawAccessToken,
    #[serde(default)]
    trusted_issuers: Vec<RawIssuer>,
    #[serde(default)]
    clients: Vec<RawClient>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccessToken {
    audience: String,
    lifetime_secs: Option<i64>,
    #[serde(default)]
    cap_at_assertion_expiry: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssuer {
    issuer: Option<String>,
    saml_metadata: Option<String>,
    format: AssertionFormat,
    jwks: Option<Value>,
    x509_certificates: Option<Vec<String>>,
    algorithms: Option<Vec<String>>,
    max_lifetime_secs: Option<i64>,
    clock_skew_secs: Option<i64>,
    require_jti: Option<bool>,
    require_client: Option<bool>,
    scope: Option<String>,
    claims: Option<BTreeMap<String, String>>,
    subjects: Option<Vec<String>>,
    #[serde(default)]
    allow_sha1: bool,
    #[serde(default)]
    allow_inclusive_c14n: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    client_id: String,
    token_endpoint_auth_method: AuthMethod,
    client_secret_sha256: Option<String>,
    jwks: Option<Value>,
    grant_types: Option<Vec<String>>,
    scope: Option<String>,
    trusted_issuers: Option<Vec<String>>,
    saml_name_id_format: Option<String>,
    #[serde(default)]
    legacy_client_assertion_audience: bool,
}

fn build(raw: RawConfig) -> Result<Config, ConfigError> {
    check_url(&raw.issuer, "issuer")?;
    let issuer = raw.issuer.trim_end_matches('/').to_owned();
    if issuer.contains('?') {
        return Err(ConfigError::new(
            "issuer",
            "must not have a query (RFC 8414 §2)",
        ));
    }
    let token_endpoint = match raw.token_endpoint {
        Some(url) => {
            check_url(&url, "token_endpoint")?;
            url
        }
        None => format!("{issuer}/token"),
    };
    let jwks_uri = match raw.jwks_uri {
        Some(url) => {
            check_url(&url, "jwks_uri")?;
            url
        }
        None => format!("{issuer}/.well-known/jwks.json"),
    };
    let mut accepted_audiences = vec![raw.issuer.clone(), token_endpoint.clone()];
    if issuer != raw.issuer {
        accepted_audiences.push(issuer.clone());
    }
    for (i, aud) in raw.audiences.iter().enumerate() {
        if aud.is_empty() {
            return Err(ConfigError::new(
                format!("audiences[{i}]"),
                "must not be empty",
            ));
        }
        accepted_audiences.push(aud.clone());
    }
    let clock_skew = bounded(
        raw.clock_skew_secs,
        DEFAULT_CLOCK_SKEW_SECS,
        0,
        MAX_CLOCK_SKEW_SECS,
        "clock_skew_secs",
    )?;

    let access_token = AccessTokenPolicy {
        audience: nonempty(raw.access_token.audience, "access_token.audience")?,
        lifetime: bounded(
            raw.access_token.lifetime_secs,
            DEFAULT_ACCESS_TOKEN_LIFETIME_SECS,
            1,
            MAX_ACCESS_TOKEN_LIFETIME_SECS,
            "access_token.lifetime_secs",
        )?,
        cap_at_assertion_expiry: raw.access_token.cap_at_assertion_expiry,
    };

    let mut issuers = Vec::with_capacity(raw.trusted_issuers.len());
    let mut issuer_index = HashMap::new();
    for (i, ri) in raw.trusted_issuers.into_iter().enumerate() {
        let path = format!("trusted_issuers[{i}]");
        let ti = build_issuer(ri, &path, clock_skew)?;
        if issuer_index.insert(ti.issuer.clone(), i).is_some() {
            return Err(ConfigError::new(
                format!("{path}.issuer"),
                "duplicate trusted issuer",
            ));
        }
        issuers.push(ti);
    }

    let mut clients = Vec::with_capacity(raw.clients.len());
    let mut client_index = HashMap::new();
    for (i, rc) in raw.clients.into_iter().enumerate() {
        let path = format!("clients[{i}]");
        let client = build_client(rc, &path, &issuer_index)?;
        if client_index.insert(client.client_id.clone(), i).is_some() {
            return Err(ConfigError::new(
                format!("{path}.client_id"),
                "duplicate client_id",
            ));
        }
        clients.push(client);
    }
    mark_self_issued(&mut issuers, &clients);

    Ok(Config {
        aliases: raw.audiences.clone(),
        issuer,
        token_endpoint,
        jwks_uri,
        accepted_audiences,
        clock_skew,
        scope_policy: raw.scope_policy,
        access_token,
        issuers,
        clients,
        issuer_index,
        client_index,
    })
}

fn build_issuer(ri: RawIssuer, path: &str, global_skew: i64) -> Result<TrustedIssuer, ConfigError> {
    // An IdP's SAML metadata may stand in for `issuer` + `x509_certificates`.
    let metadata = match ri.saml_metadata.as_deref() {
        Some(_) if ri.format != AssertionFormat::Saml2 => {
            return Err(ConfigError::new(
                format!("{path}.saml_metadata"),
                "applies only to saml2 issuers",
            ));
        }
        Some(xml) => Some(
            crate::saml_metadata::parse_idp_metadata(xml)
                .map_err(|e| ConfigError::new(format!("{path}.saml_metadata"), e.0))?,
        ),
        None => None,
    };
    let issuer = match (ri.issuer, &metadata) {
        (Some(given), Some(m)) if given != m.entity_id => {
            return Err(ConfigError::new(
                format!("{path}.issuer"),
                "does not match the metadata's entityID",
            ));
        }
        (Some(given), _) => nonempty(given, &format!("{path}.issuer"))?,
        (None, Some(m)) => m.entity_id.clone(),
        (None, None) => return Err(ConfigError::new(format!("{path}.issuer"), "missing")),
    };
    if ri.format == AssertionFormat::Jwt && (ri.allow_sha1 || ri.allow_inclusive_c14n) {
        let field = if ri.allow_sha1 {
            "allow_sha1"
        } else {
            "allow_inclusive_c14n"
        };
        return Err(ConfigError::new(
            format!("{path}.{field}"),
            "applies only to saml2 issuers",
        ));
    }
    let mut keys = match &ri.jwks {
        Some(v) => jwks(v, &format!("{path}.jwks"))?,
        None => Vec::new(),
    };
    if let Some(certs) = &ri.x509_certificates {
        let at = format!("{path}.x509_certificates");
        if certs.is_empty() || certs.len() > MAX_KEYS_PER_SET {
            return Err(ConfigError::new(
                at,
                format!("must list 1 to {MAX_KEYS_PER_SET} certificates"),
            ));
        }
        for (i, cert) in certs.iter().enumerate() {
            keys.push(
                certificate_key(cert).map_err(|e| ConfigError::new(format!("{at}[{i}]"), e))?,
            );
        }
    }
    for (i, cert) in metadata
        .iter()
        .flat_map(|m| &m.signing_certificates)
        .enumerate()
    {
        keys.push(certificate_key(cert).map_err(|e| {
            ConfigError::new(
                format!("{path}.saml_metadata"),
                format!("certificate {}: {e}", i + 1),
            )
        })?);
    }
    if keys.len() > MAX_KEYS_PER_SET {
        return Err(ConfigError::new(
            path.to_owned(),
            format!("more than {MAX_KEYS_PER_SET} keys"),
        ));
    }
    if keys.is_empty() {
        let (field, what) = match ri.format {
            AssertionFormat::Jwt => (
                "jwks",
                "a JWT issuer needs a jwks (or x509_certificates) with its public keys",
            ),
            AssertionFormat::Saml2 => (
                "x509_certificates",
                "a SAML issuer needs its signing certificates",
            ),
        };
        return Err(ConfigError::new(format!("{path}.{field}"), what));
    }
    let mut algorithms = algorithms(
        ri.algorithms.as_deref(),
        &keys,
        &format!("{path}.algorithms"),
    )?;
    // SHA-1 has no JOSE name that could be listed: the opt-in adds it.
    if ri.allow_sha1 && keys.iter().any(|k| k.accepts(Algorithm::RS1)) {
        algorithms.push(Algorithm::RS1);
    }
    let scope = ri
        .scope
        .as_deref()
        .map(|s| {
            ScopeSet::parse(s).map_err(|e| ConfigError::new(format!("{path}.scope"), e.to_string()))
        })
        .transpose()?;
    let mut claims = Vec::new();
    for (target, source) in ri.claims.unwrap_or_default() {
        let at = format!("{path}.claims.{target}");
        if RESERVED_CLAIMS.contains(&target.as_str()) {
            return Err(ConfigError::new(
                at,
                "this access-token claim is set by the server and cannot be mapped",
            ));
        }
        if target.is_empty() || source.is_empty() {
            return Err(ConfigError::new(at, "claim names must not be empty"));
        }
        claims.push((target, source));
    }
    let subjects = ri.subjects.map(|s| s.into_iter().collect::<HashSet<_>>());
    Ok(TrustedIssuer {
        issuer,
        format: ri.format,
        keys,
        algorithms,
        max_lifetime: bounded(
            ri.max_lifetime_secs,
            DEFAULT_MAX_LIFETIME_SECS,
            1,
            MAX_ASSERTION_LIFETIME_SECS,
            &format!("{path}.max_lifetime_secs"),
        )?,
        clock_skew: bounded(
            ri.clock_skew_secs,
            global_skew,
            0,
            MAX_CLOCK_SKEW_SECS,
            &format!("{path}.clock_skew_secs"),
        )?,
        require_jti: ri.require_jti.unwrap_or(true),
        require_client: ri.require_client.unwrap_or(true),
        scope,
        claims,
        subjects,
        allow_sha1: ri.allow_sha1,
        allow_inclusive_c14n: ri.allow_inclusive_c14n,
        self_issued: false,
    })
}

/// Marks the JWT issuers that are also `private_key_jwt` clients (same
/// identifier, or a key in common), unless that client opted into legacy
/// audiences.
fn mark_self_issued(issuers: &mut [TrustedIssuer], clients: &[Client]) {
    for issuer in issuers
        .iter_mut()
        .filter(|i| i.format == AssertionFormat::Jwt)
    {
        issuer.self_issued = clients.iter().any(|c| {
            c.auth_method == AuthMethod::PrivateKeyJwt
                && !c.legacy_client_assertion_audience
                && (c.client_id == issuer.issuer
                    || c.keys
                        .iter()
                        .any(|ck| issuer.keys.iter().any(|ik| ik.key().same_key(ck.key()))))
        });
    }
}

fn build_client(
    rc: RawClient,
    path: &str,
    issuer_index: &HashMap<String, usize>,
) -> Result<Client, ConfigError> {
    let client_id = nonempty(rc.client_id, &format!("{path}.client_id"))?;
    if client_id.contains(':') {
        // RFC 6749 §2.3.1 form-encodes ids for Basic, but a colon still makes
        // the id ambiguous for clients that do not; refuse it up front.
        return Err(ConfigError::new(
            format!("{path}.client_id"),
            "must not contain ':'",
        ));
    }
    let method = rc.token_endpoint_auth_method;
    let secret_path = format!("{path}.client_secret_sha256");
    let jwks_path = format!("{path}.jwks");
    let uses_secret = matches!(
        method,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
    );
    let secret_sha256 = match (&rc.client_secret_sha256, uses_secret) {
        (Some(hex), true) => Some(hex_decode::<32>(hex).ok_or_else(|| {
            ConfigError::new(
                &secret_path,
                "must be the 64-digit hex SHA-256 of the client secret",
            )
        })?),
        (None, true) => {
            return Err(ConfigError::new(
                &secret_path,
                format!("required for {}", method.as_str()),
            ));
        }
        (Some(_), false) => {
            return Err(ConfigError::new(
                &secret_path,
                format!("not used by {}", method.as_str()),
            ));
        }
        (None, false) => None,
    };
    let keys = match (&rc.jwks, method) {
        (Some(v), AuthMethod::PrivateKeyJwt) => jwks(v, &jwks_path)?,
        (None, AuthMethod::PrivateKeyJwt) => {
            return Err(ConfigError::new(&jwks_path, "required for private_key_jwt"));
        }
        (Some(_), _) => {
            return Err(ConfigError::new(
                &jwks_path,
                format!("not used by {}", method.as_str()),
            ));
        }
        (None, _) => Vec::new(),
    };
    let grant_types = match rc.grant_types {
        None => vec![GRANT_JWT_BEARER.to_owned(), GRANT_SAML2_BEARER.to_owned()],
        Some(list) => {
            for (i, g) in list.iter().enumerate() {
                if g != GRANT_JWT_BEARER && g != GRANT_SAML2_BEARER {
                    return Err(ConfigError::new(
                        format!("{path}.grant_types[{i}]"),
                        "unsupported grant type (use the jwt-bearer or saml2-bearer URN)",
                    ));
                }
            }
            list
        }
    };
    let scope = match rc.scope.as_deref() {
        Some(s) => ScopeSet::parse(s)
            .map_err(|e| ConfigError::new(format!("{path}.scope"), e.to_string()))?,
        None => ScopeSet::default(),
    };
    let trusted_issuers = match rc.trusted_issuers {
        // A public client proves nothing about itself: it may only present
        // assertions from issuers it is explicitly bound to. A saml2_bearer
        // client is vouched for by the IdPs listed here (RFC 7522 §2.2).
        None if matches!(method, AuthMethod::None | AuthMethod::Saml2Bearer) => {
            return Err(ConfigError::new(
                format!("{path}.trusted_issuers"),
                format!(
                    "required for token_endpoint_auth_method {}",
                    method.as_str()
                ),
            ));
        }
        None => None,
        Some(names) => Some(
            names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    issuer_index.get(name).copied().ok_or_else(|| {
                        ConfigError::new(
                            format!("{path}.trusted_issuers[{i}]"),
                            "names no configured trusted issuer",
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    if rc.saml_name_id_format.is_some() && method != AuthMethod::Saml2Bearer {
        return Err(ConfigError::new(
            format!("{path}.saml_name_id_format"),
            "applies only to saml2_bearer clients",
        ));
    }
    if rc.legacy_client_assertion_audience && method != AuthMethod::PrivateKeyJwt {
        return Err(ConfigError::new(
            format!("{path}.legacy_client_assertion_audience"),
            "applies only to private_key_jwt clients",
        ));
    }
    Ok(Client {
        legacy_client_assertion_audience: rc.legacy_client_assertion_audience,
        saml_name_id_format: rc
            .saml_name_id_format
            .unwrap_or_else(|| NAME_ID_FORMAT_ENTITY.to_owned()),
        client_id,
        auth_method: method,
        secret_sha256,
        keys,
        grant_types,
        scope,
        trusted_issuers,
    })
}

/// A verification key from a PEM or base64 DER certificate.
fn certificate_key(text: &str) -> Result<Jwk, String> {
    let der = crate::x509::certificate_der(text)?;
    Ok(Jwk::from_certificate(
        crate::x509::public_key_from_der(&der)?,
        &der,
    ))
}

fn jwks(value: &Value, path: &str) -> Result<Vec<Jwk>, ConfigError> {
    parse_jwk_set(value).map_err(|(index, e)| {
        let mut at = path.to_owned();
        if let Some(i) = index {
            at.push_str(&format!(".keys[{i}]"));
        }
        if let Some(m) = e.member {
            at.push('.');
            at.push_str(m);
        }
        ConfigError::new(at, e.reason)
    })
}

/// The allow-list: the configured names, each fitting at least one key; by
/// default every algorithm some key fits.
fn algorithms(
    names: Option<&[String]>,
    keys: &[Jwk],
    path: &str,
) -> Result<Vec<Algorithm>, ConfigError> {
    let Some(names) = names else {
        return Ok(Algorithm::ALL
            .into_iter()
            .filter(|a| keys.iter().any(|k| k.accepts(*a)))
            .collect());
    };
    if names.is_empty() {
        return Err(ConfigError::new(path, "must name at least one algorithm"));
    }
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let alg = Algorithm::from_jose(name).ok_or_else(|| {
                ConfigError::new(
                    format!("{path}[{i}]"),
                    "unsupported algorithm (RS256/384/512, PS256/384/512, ES256)",
                )
            })?;
            if !keys.iter().any(|k| k.accepts(alg)) {
                return Err(ConfigError::new(
                    format!("{path}[{i}]"),
                    "no configured key can verify this algorithm",
                ));
            }
            Ok(alg)
        })
        .collect()
}

fn check_url(url: &str, path: &str) -> Result<(), ConfigError> {
    let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|p| {
            url.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    let authority = url
        .strip_prefix("https://")
        .filter(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !(local || authority.is_some()) {
        return Err(ConfigError::new(
            path,
            "must be an https:// URL (http:// only for localhost)",
        ));
    }
    if url.contains('#') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::new(
            path,
            "must not contain a fragment, whitespace or control characters",
        ));
    }
    Ok(())
}

fn nonempty(s: String, path: &str) -> Result<String, ConfigError> {
    if s.is_empty() {
        Err(ConfigError::new(path, "must not be empty"))
    } else {
        Ok(s)
    }
}

fn bounded(
    value: Option<i64>,
    default: i64,
    min: i64,
    max: i64,
    path: &str,
) -> Result<i64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(ConfigError::new(
            path,
            format!("must be between {min} and {max}"),
        )),
    }
}

/// Returns the path component of an absolute URL (`/` when it has none),
/// without query.
pub(crate) fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split('?').next().unwrap_or("/")
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

    #[test]
    fn url_paths() {
        assert_eq!(url_path("https://a.example/token"), "/token");
        assert_eq!(url_path("https://a.example"), "/");
        assert_eq!(url_path("http://127.0.0.1:8787/t/x?y=1"), "/t/x");
    }
}
