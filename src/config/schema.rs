//! The configuration document, field by field: this file is the reference.
//!
//! Each field's doc comment says what it does, its default, and what
//! changing it risks. `docs/configuration.md` is generated from these
//! comments, and a test checks that it, README, SECURITY.md and the
//! TypeScript types (`js/index.d.ts`) agree with this file. Field names are
//! a public contract: fields are added, never renamed.
//!
//! Options that weaken a security check live under `dangerous` (per issuer,
//! [`Dangerous`]). Their older top-level spellings still load, with the
//! same meaning, and are deprecated.
//!
//! A doc line starting with `Default:` states the default; `Risk:` says
//! what changing the field gives up.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

use super::{AssertionFormat, AuthMethod};
use crate::policy::ScopePolicy;

/// The whole configuration document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDocument {
    /// This server's issuer identifier (RFC 8414 §2): `https`, or `http` on
    /// localhost only; no query. The one `aud` a client assertion may carry.
    /// Required.
    pub issuer: String,
    /// The token endpoint URL (`https`). Default: issuer + `/token`.
    pub token_endpoint: Option<String>,
    /// The URL the metadata publishes for the access-token JWKS.
    /// Default: issuer + `/.well-known/jwks.json`.
    pub jwks_uri: Option<String>,
    /// Further values accepted as a grant's `aud` and a SAML `Recipient`
    /// (aliases of the token endpoint), compared exactly. Default: none
    /// (the issuer and the token endpoint are always accepted).
    /// Risk: every alias is an audience an assertion for another server
    /// might also carry.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Tolerance for clock differences, in seconds (0–600). Default: 60.
    /// Risk: a larger value keeps expired assertions usable for longer.
    pub clock_skew_secs: Option<i64>,
    /// What a request for more scope than allowed gets: `reject`
    /// (`invalid_scope`) or `narrow` (the allowed part, reported in the
    /// response). Default: `reject`.
    #[serde(default)]
    pub scope_policy: ScopePolicy,
    /// How access tokens are minted. Required.
    pub access_token: AccessTokenSettings,
    /// The identity providers whose assertions are accepted.
    /// Default: none (every grant is refused).
    #[serde(default)]
    pub trusted_issuers: Vec<IssuerSettings>,
    /// The registered clients. Default: none.
    #[serde(default)]
    pub clients: Vec<ClientSettings>,
    /// How fetched key sets (`jwks_uri`, `saml_metadata_url`) are cached;
    /// each issuer or client may override any member. Default: the
    /// defaults of [`KeyCacheSettings`].
    #[serde(default)]
    pub key_cache: KeyCacheSettings,
    /// How often a host that reads the configuration from a changing source
    /// (the Worker's `AG_CONFIG_KV`) looks for a new version, in seconds
    /// (0–86400; 0 looks on every request). The core itself does not read
    /// it. Default: 60.
    pub config_refresh_secs: Option<u64>,
    /// DPoP (RFC 9449): sender-constrained access tokens. A request with a
    /// valid `DPoP` proof always gets a DPoP-bound token (`cnf.jkt`,
    /// `token_type: DPoP`). Default: the defaults of [`DpopSettings`].
    #[serde(default)]
    pub dpop: DpopSettings,
    /// Refresh tokens (RFC 6749 §6): rotated on every use, reuse revokes
    /// the family (RFC 9700 §4.14.2). Issued only when the client's
    /// `grant_types` include `refresh_token`, the vouching issuer sets
    /// `allow_refresh_tokens`, the granted scope has `offline_access`
    /// (unless `require_offline_access` is false), the client is
    /// confidential, the grant is no ID-JAG — and the host stores
    /// families. Default: the defaults of [`RefreshTokenSettings`].
    #[serde(default)]
    pub refresh_token: RefreshTokenSettings,
}

/// `access_token`: the RFC 9068 access tokens this server issues.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessTokenSettings {
    /// The resource the tokens are for (`aud`), unless the request (or its
    /// ID-JAG) asks for one of `resources` (RFC 8707); never any other
    /// value from the assertion. Required.
    pub audience: String,
    /// Further resources (RFC 8707 `resource`) a client may ask a token
    /// for; the one asked for becomes the token's `aud` instead of
    /// `audience`. Absolute URIs without a fragment. Default: none (only
    /// `audience` may be asked for).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Token lifetime in seconds (1–86400). Default: 3600.
    /// Risk: longer-lived bearer tokens are worth more to a thief.
    pub lifetime_secs: Option<i64>,
    /// `true`: a token never outlives the assertion it was issued for.
    /// Default: false.
    #[serde(default)]
    pub cap_at_assertion_expiry: bool,
    /// The longest `sub` an access token may carry, in bytes, after
    /// `subject_prefix` (1–1024). A longer subject is refused
    /// (`invalid_grant`, `assertion.subject_too_long`), never truncated.
    /// Default: 255.
    /// Risk: larger values let a trusted issuer push tokens past the header
    /// sizes resource servers accept (often 8 KB for all headers).
    pub max_subject_bytes: Option<i64>,
    /// The most the mapped `claims` of one access token may add, in bytes
    /// of JSON (0–8192). More is refused (`invalid_grant`,
    /// `assertion.claims_too_large`), never silently cut. Default: 2048.
    /// Risk: as for `max_subject_bytes`.
    pub max_claims_bytes: Option<i64>,
}

/// `trusted_issuers[]`: one identity provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The IdP's identifier: a JWT's `iss`, a SAML `Issuer` (entityID),
    /// compared exactly. Required, unless `saml_metadata` supplies it.
    pub issuer: Option<String>,
    /// saml2: the IdP's metadata (`EntityDescriptor` with an
    /// `IDPSSODescriptor`), instead of `issuer` + `x509_certificates`.
    /// Default: none.
    pub saml_metadata: Option<String>,
    /// saml2: URL of the IdP's SAML metadata, fetched and cached by the
    /// host (`key_cache`); the signing certificates of the
    /// `IDPSSODescriptor` whose `entityID` is `issuer` are trusted.
    /// `https` only (`http` for localhost). An alternative to pasted
    /// `x509_certificates` / `saml_metadata` (both may be given: pasted
    /// keys are always candidates). Default: none.
    /// Risk: whoever controls the URL (or its TLS) controls this issuer.
    pub saml_metadata_url: Option<String>,
    /// jwt: URL of the IdP's JWK Set, fetched and cached by the host
    /// (`key_cache`). `https` only (`http` for localhost). `jku`, `x5u`,
    /// `x5c` in assertions are never key sources. An alternative to `jwks`
    /// (both may be given). Default: none.
    /// Risk: whoever controls the URL (or its TLS) controls this issuer.
    pub jwks_uri: Option<String>,
    /// Overrides of the global `key_cache` for this issuer's URL.
    /// Default: the global `key_cache`.
    pub key_cache: Option<KeyCacheSettings>,
    /// Prepended to this issuer's subjects in access tokens (`sub` =
    /// prefix + asserted subject), so two IdPs' `alice` stay two users,
    /// e.g. `"okta|"`. 1–64 printable ASCII characters; no two issuers'
    /// prefixes may be equal or one the start of another. Required for
    /// every issuer when two or more are trusted, unless
    /// `dangerous.shared_subject_namespace`. The `subjects` allow-list
    /// compares the asserted subject, before the prefix. Default: none.
    pub subject_prefix: Option<String>,
    /// `jwt` (RFC 7523) or `saml2` (RFC 7522). Required.
    pub format: AssertionFormat,
    /// The IdP's public keys as a JWK Set: RSA (2048–8192 bits) or EC
    /// P-256; `kid` and `alg` optional. The only source of keys: headers
    /// such as `jwk`, `jku` or `x5c` never are. Default: none.
    pub jwks: Option<Value>,
    /// The IdP's signing certificates, base64 DER or PEM (their keys are
    /// used; validity dates are not checked: trust is this configuration).
    /// Default: none.
    pub x509_certificates: Option<Vec<String>>,
    /// Signature algorithms accepted from this IdP, e.g. `["RS256"]`.
    /// Default: every algorithm the keys fit (never `none` or HMAC).
    pub algorithms: Option<Vec<String>>,
    /// Longest accepted assertion lifetime in seconds (`exp` − now and
    /// now − `iat`; 1–86400). Default: 3600.
    /// Risk: a longer window for a stolen assertion.
    pub max_lifetime_secs: Option<i64>,
    /// Clock tolerance for this IdP, in seconds (0–600).
    /// Default: the global `clock_skew_secs`.
    pub clock_skew_secs: Option<i64>,
    /// Deprecated spelling of `dangerous.allow_missing_jti` (inverted):
    /// `false` accepts JWTs without `jti`. Default: true.
    /// Risk: JWTs without `jti` can be replayed within their lifetime.
    pub require_jti: Option<bool>,
    /// Deprecated spelling of `dangerous.allow_anonymous` (inverted):
    /// `false` serves callers that name no client. Default: true.
    /// Risk: the assertion becomes the only credential.
    pub require_client: Option<bool>,
    /// Scope ceiling for this IdP, and the scope granted when no client is
    /// named. Default: none (no ceiling beyond the client's allowance).
    pub scope: Option<String>,
    /// Access-token claim ← assertion claim (JWT) or SAML `Attribute/@Name`
    /// (`saml:NameID/@Format` reads the NameID's own Format). Server-set
    /// claims cannot be mapped. Default: none.
    pub claims: Option<BTreeMap<String, String>>,
    /// Allow-list of subjects this IdP may assert. Default: any subject.
    pub subjects: Option<Vec<String>>,
    /// Deprecated spelling of `dangerous.allow_sha1` (`false` beside
    /// `dangerous.allow_sha1: true` is refused as a contradiction).
    /// Default: false. Risk: as `dangerous.allow_sha1`.
    pub allow_sha1: Option<bool>,
    /// Deprecated spelling of `dangerous.allow_inclusive_c14n` (likewise).
    /// Default: false. Risk: as `dangerous.allow_inclusive_c14n`.
    pub allow_inclusive_c14n: Option<bool>,
    /// Grants vouched for by this issuer may come with a refresh token
    /// (see the top-level `refresh_token`). Default: false.
    /// Risk: the user's access outlives the assertion by up to
    /// `refresh_token.lifetime_secs`, and a refresh no longer asks the IdP.
    #[serde(default)]
    pub allow_refresh_tokens: bool,
    /// jwt: the assertion profiles this issuer may use: `jwt-bearer`
    /// (RFC 7523 assertions) and `id-jag` (Identity Assertion JWT
    /// Authorization Grants, `typ: oauth-id-jag+jwt`,
    /// draft-ietf-oauth-identity-assertion-authz-grant). An ID-JAG is
    /// processed under the ID-JAG rules only, and only from an issuer that
    /// lists `id-jag`. Default: `["jwt-bearer"]`.
    pub profiles: Option<Vec<String>>,
    /// Opt-ins that weaken a check, each named for what it allows.
    /// Default: none.
    #[serde(default)]
    pub dangerous: Dangerous,
}

/// `trusted_issuers[].dangerous`: every option that weakens a check.
/// Leave this object out unless an IdP cannot work without one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dangerous {
    /// saml2: accept SHA-1 signature and digest methods. Default: false.
    /// Risk: SHA-1 collisions; only for IdPs that cannot do better.
    #[serde(default)]
    pub allow_sha1: bool,
    /// saml2: accept inclusive canonicalization. Default: false.
    /// Risk: signatures that depend on ancestor namespaces leave more room
    /// for signature-wrapping.
    #[serde(default)]
    pub allow_inclusive_c14n: bool,
    /// jwt: accept assertions without `jti` (no one-time-use check; a SAML
    /// assertion's ID is always required, so saml2 issuers refuse it).
    /// Default: false.
    /// Risk: such an assertion can be replayed until it expires.
    #[serde(default)]
    pub allow_missing_jti: bool,
    /// Serve callers that name no client with this IdP's assertions.
    /// Default: false.
    /// Risk: anyone holding an assertion gets a token.
    #[serde(default)]
    pub allow_anonymous: bool,
    /// Trust a key (or a `jwks_uri`) that another trusted issuer also
    /// names; without it such a configuration is refused. Default: false.
    /// Risk: whoever holds that key mints assertions for both issuers.
    #[serde(default)]
    pub allow_shared_keys: bool,
    /// With two or more trusted issuers, let this one's subjects into
    /// access tokens without a `subject_prefix`. Default: false.
    /// Risk: its `sub: alice` and another issuer's (or a prefixed
    /// subject that looks the same) become one user at the resource server.
    #[serde(default)]
    pub shared_subject_namespace: bool,
}

/// `clients[]`: one registered client.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// The client's identifier (no `:`). Required.
    pub client_id: String,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt`,
    /// `saml2_bearer` or `none` (a public client). Required.
    pub token_endpoint_auth_method: AuthMethod,
    /// client_secret_*: lowercase hex SHA-256 of the secret (the secret is
    /// never stored). Default: none.
    pub client_secret_sha256: Option<String>,
    /// private_key_jwt: the client's public keys as a JWK Set.
    /// Default: none.
    pub jwks: Option<Value>,
    /// private_key_jwt: URL of the client's JWK Set (RFC 7591 `jwks_uri`),
    /// fetched and cached by the host. `https` only (`http` for
    /// localhost). An alternative to `jwks` (both may be given).
    /// Default: none.
    /// Risk: whoever controls the URL (or its TLS) authenticates as this
    /// client.
    pub jwks_uri: Option<String>,
    /// Overrides of the global `key_cache` for this client's `jwks_uri`.
    /// Default: the global `key_cache`.
    pub key_cache: Option<KeyCacheSettings>,
    /// Grant types the client may use.
    /// Default: every grant type this server supports.
    pub grant_types: Option<Vec<String>>,
    /// The client's scope allowance, and its default scope.
    /// Default: none (no scope).
    pub scope: Option<String>,
    /// IdPs whose assertions this client may present (by `issuer`).
    /// Default: any trusted issuer; required for `none` and `saml2_bearer`
    /// clients.
    pub trusted_issuers: Option<Vec<String>>,
    /// saml2_bearer: the NameID Format the client assertion's Subject must
    /// carry. Default: `urn:oasis:names:tc:SAML:2.0:nameid-format:entity`.
    pub saml_name_id_format: Option<String>,
    /// private_key_jwt: also accept the token endpoint or an alias as the
    /// client assertion's `aud`. Default: false.
    /// Risk: audience injection (draft-ietf-oauth-rfc7523bis §5.1): an
    /// authorization server that names our token endpoint as its own can
    /// replay the client's assertions here.
    #[serde(default)]
    pub legacy_client_assertion_audience: bool,
    /// `true`: every token request of this client must carry a DPoP proof
    /// (RFC 9449 §5.2), so all its access tokens are sender-constrained.
    /// Default: false (a proof is still honoured when sent).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// May use the introspection endpoint (RFC 7662): a resource server
    /// asking whether a token is active, and what it carries. Must be a
    /// confidential client. Default: false.
    /// Risk: the client learns the subject and scope of every token it
    /// presents.
    #[serde(default)]
    pub allow_introspection: bool,
}

/// `key_cache`: how the host caches fetched key sets and metadata. The
/// same object per issuer or client overrides the members it sets; unset
/// members take the global value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyCacheSettings {
    /// Shortest time a fetched set is used before it is fetched again,
    /// whatever its `Cache-Control: max-age` says, in seconds (1–86400).
    /// Default: 300. Risk: lower values fetch more often.
    pub min_cache_secs: Option<u64>,
    /// Longest time a fetched set is used before it is fetched again, in
    /// seconds (`min_cache_secs`–604800). Default: 86400.
    /// Risk: a revoked key is trusted for up to this long.
    pub max_cache_secs: Option<u64>,
    /// An assertion naming a `kid` the set lacks triggers a refetch at most
    /// once per this many seconds per URL (0–3600). Default: 30.
    /// Risk: 0 lets anyone make the server fetch on every request.
    pub refetch_cooldown_secs: Option<u64>,
    /// When fetching fails, the last good set keeps serving for this many
    /// seconds past its freshness (0–604800). Default: 86400.
    /// Risk: a key the IdP withdrew stays trusted while its URL is down.
    pub max_stale_secs: Option<u64>,
    /// A failed fetch is not retried for this many seconds (0–3600), so an
    /// outage is not hammered. Default: 30.
    pub failure_cache_secs: Option<u64>,
    /// Timeout of one fetch, in milliseconds (100–30000). Default: 5000.
    pub fetch_timeout_ms: Option<u64>,
}

/// `dpop`: how DPoP proofs (RFC 9449 §4) are checked at the token endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DpopSettings {
    /// The proof algorithms accepted, from `ES256`, `PS256`, `PS384`,
    /// `PS512`, `RS256`, `RS384`, `RS512` (asymmetric only, RFC 9449
    /// §4.2); published as `dpop_signing_alg_values_supported`.
    /// Default: `["ES256", "PS256", "RS256"]`.
    pub algorithms: Option<Vec<String>>,
    /// How old a proof's `iat` may be, in seconds (1–3600), plus
    /// `clock_skew_secs` either way. Default: 300.
    /// Risk: a longer window keeps a stolen proof usable for longer
    /// (its `jti` is still one-time).
    pub max_age_secs: Option<i64>,
    /// `true`: every proof must carry a server nonce (RFC 9449 §8); a
    /// request without one, or with a stale one, gets `use_dpop_nonce` and
    /// a fresh `DPoP-Nonce`. Nonces are stateless (an HMAC of the time
    /// window under the host's nonce secret), so every isolate accepts
    /// every other's. Needs the host's secret (the Worker's
    /// `AG_DPOP_NONCE_SECRET`). Default: false.
    #[serde(default)]
    pub require_nonce: bool,
    /// How long one nonce window lasts, in seconds (10–3600); a nonce is
    /// accepted in its window and the next. Default: 300.
    pub nonce_lifetime_secs: Option<i64>,
}

/// `refresh_token`: how refresh-token families live.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenSettings {
    /// A family's absolute lifetime, in seconds (60–31536000): no refresh
    /// after it, however often the token was used. Default: 2592000 (30 days).
    /// Risk: longer keeps a stolen family usable for longer.
    pub lifetime_secs: Option<i64>,
    /// The longest time between two uses, in seconds (60–31536000).
    /// Default: 1209600 (14 days).
    pub idle_secs: Option<i64>,
    /// `true`: a family never outlives the assertion that started it.
    /// Default: false.
    #[serde(default)]
    pub cap_at_assertion_expiry: bool,
    /// Issue refresh tokens only when the granted scope includes
    /// `offline_access`. Default: true.
    /// Risk: false gives every eligible grant a long-lived credential.
    pub require_offline_access: Option<bool>,
}
