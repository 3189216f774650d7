//! [`TokenEndpoint`]: construction, the documents it serves, and the
//! access token's minting. The steps of a request — request → client →
//! grant → policy → (host claims replay keys) → token — are the spine in
//! `steps.rs` ([`Exchange`]).

use serde_json::{Map, Value};

#[cfg(feature = "rust-crypto")]
use crate::backend::RustBackend;
use crate::backend::{KeyLookup, SignatureBackend};
use crate::config::{Config, ConfigError, url_path};
use crate::crypto::PublicKey;
#[cfg(feature = "rust-crypto")]
use crate::crypto::SigningKey;
use crate::crypto::seam::KeyRef;
use crate::dpop::NonceKey;
use crate::error::OAuthError;
#[cfg(feature = "rust-crypto")]
use crate::explain::Explanation;
use crate::explain::Trace;
use crate::grant::{GrantError, TimeError};
use crate::keyset::{
    FetchReport, FetchResult, FetchedKeys, KeySetError, KeySetNeed, KeySource, Lookup, RemoteKeys,
    SourceState,
};
use crate::metadata;
use crate::policy::{self, ScopeSet};
pub use crate::refresh::FamilyWrite;
#[cfg(feature = "rust-crypto")]
use crate::refresh::{FamilyStore, SwapOutcome};
#[cfg(feature = "rust-crypto")]
use crate::replay::{ClaimOutcome, ReplayStore};
use crate::replay::{ReplayKey, Replayed};
use crate::request::HttpRequest;
#[cfg(feature = "rust-crypto")]
use crate::response::HttpResponse;
use crate::response::TokenResponse;
use crate::token;
pub use crate::token::PublicSigningKey;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

mod labels;
mod steps;
pub use labels::{LabelledRoute, RequestLabels};
pub use steps::Exchange;

/// The family store of hosts that keep none: no family is ever found, and
/// no family is ever started (see [`TokenEndpoint::enable_refresh_tokens`]).
#[cfg(feature = "rust-crypto")]
struct NoFamilies;

#[cfg(feature = "rust-crypto")]
impl FamilyStore for NoFamilies {
    fn load(&mut self, _: &str, _: i64) -> Result<Option<String>, ()> {
        Ok(None)
    }
    fn swap(&mut self, _: &FamilyWrite, _: i64) -> SwapOutcome {
        SwapOutcome::Unavailable
    }
}

/// The fetcher of the synchronous conveniences (`prepare`, `handle`,
/// `explain`): none. A key set they lack is a failed fetch (503).
#[cfg(feature = "rust-crypto")]
fn no_fetch(_: &KeySource, _: &KeySetNeed) -> FetchResult {
    FetchResult::Failed {
        error: "this host does not fetch key sets (use the *_fetching methods)".into(),
    }
}

/// Fetched keys resolve against the endpoint's key-set cache (the current
/// or the previous generation); everything else against the configuration.
impl KeyLookup for TokenEndpoint {
    fn public_key(&self, key: KeyRef) -> Option<Cow<'_, PublicKey>> {
        match key {
            KeyRef::Fetched {
                source,
                generation,
                index,
            } => {
                let states = self.key_sets();
                let set = states.get(source)?.generation(generation)?;
                set.keys.get(index).map(|k| Cow::Owned(k.key().clone()))
            }
            KeyRef::Own(index) => {
                let k = &self.keys.get(index)?.public;
                PublicKey::p256(&k.x, &k.y).ok().map(Cow::Owned)
            }
            other => self.config.public_key(other),
        }
    }
}

/// The endpoint's key-set cache as one exchange sees it at `now`: a source
/// this exchange already had fetched is not asked for again.
pub(crate) struct EndpointKeys<'a> {
    pub endpoint: &'a TokenEndpoint,
    pub now: i64,
    pub fetched: &'a [usize],
}

impl RemoteKeys for EndpointKeys<'_> {
    fn lookup(
        &self,
        source: usize,
        kid: Option<&str>,
    ) -> Result<(Arc<FetchedKeys>, bool), KeySetError> {
        let spec =
            self.endpoint
                .config
                .key_sources()
                .get(source)
                .ok_or(KeySetError::Unavailable {
                    source,
                    retry_after: 1,
                    detail: "no such key set".into(),
                })?;
        let states = self.endpoint.key_sets();
        let state = states.get(source).ok_or(KeySetError::Unavailable {
            source,
            retry_after: 1,
            detail: "no such key set".into(),
        })?;
        let may_fetch = !self.fetched.contains(&source);
        match state.lookup(
            &spec.policy,
            self.now,
            |set| kid.is_none_or(|k| set.has_kid(k)),
            may_fetch,
        ) {
            Lookup::Use { keys, stale } => Ok((keys, stale)),
            Lookup::Fetch(why) => Err(KeySetError::Needed(KeySetNeed {
                source,
                why,
                have_fetched_at: state.current().map(|c| c.fetched_at),
            })),
            Lookup::Unavailable { retry_after, error } => {
                let detail = match (state.current(), error) {
                    (Some(set), Some(e)) => format!(
                        "the last good set went stale at {} and fetching failed: {e}",
                        crate::explain::utc(set.stale_until)
                    ),
                    (Some(set), None) => format!(
                        "the last good set went stale at {}",
                        crate::explain::utc(set.stale_until)
                    ),
                    (None, Some(e)) => format!("fetching failed: {e}"),
                    (None, None) => "not fetched yet".into(),
                };
                Err(KeySetError::Unavailable {
                    source,
                    retry_after,
                    detail,
                })
            }
        }
    }
}

/// The token endpoint: validated configuration, signing keys, and the
/// metadata and JWKS documents (rendered once, at construction).
///
/// It does no I/O: every call takes the current time, and one-time use is
/// delegated to the host through [`PendingToken::replay_keys`].
#[derive(Debug)]
pub struct TokenEndpoint {
    /// Tells this endpoint's exchanges and pending tokens from another's.
    id: u64,
    config: Config,
    /// Never empty; the first signs.
    keys: Vec<TokenKey>,
    ephemeral: bool,
    metadata_json: String,
    jwks_json: String,
    metadata_path: String,
    /// One cache per `Config::key_sources` entry (DESIGN.md: the host
    /// fetches, the core decides): locked only for short, non-reentrant
    /// reads and updates.
    key_sets: Mutex<Vec<SourceState>>,
    /// The secret of stateless DPoP nonces (set by the host, see
    /// [`Self::set_dpop_nonce_secret`]).
    dpop_nonce: Option<NonceKey>,
    /// The host stores refresh-token families ([`Self::enable_refresh_tokens`]).
    refresh_families: bool,
}

#[derive(Debug)]
struct TokenKey {
    public: PublicSigningKey,
    /// `None` when the host signs.
    #[cfg(feature = "rust-crypto")]
    local: Option<SigningKey>,
}

/// An access token whose claims are final, waiting for its ES256
/// signature: the host signs [`Self::signing_input`] with the key
/// [`Self::kid`] names (ECDSA P-256 SHA-256, 64-byte `r‖s`, as WebCrypto
/// produces) and calls [`Self::finish`].
#[derive(Debug)]
pub struct UnsignedToken {
    signing_input: String,
    kid: String,
    expires_in: i64,
    scope: Option<String>,
    dpop_bound: bool,
    resource: Option<Vec<String>>,
    dpop_nonce: Option<String>,
    refresh_token: Option<String>,
}

impl UnsignedToken {
    /// The JWS signing input (`header.payload`).
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// The key id of the key to sign with.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The token response with `signature`; a signature that is not 64
    /// bytes is a host bug: `server_error`.
    pub fn finish(self, signature: &[u8]) -> Result<TokenResponse, OAuthError> {
        let signature: &[u8; 64] = signature
            .try_into()
            .map_err(|_| OAuthError::server_error())?;
        Ok(TokenResponse {
            access_token: token::assemble(self.signing_input, signature),
            token_type: if self.dpop_bound {
                crate::protocol::TOKEN_TYPE_DPOP
            } else {
                "Bearer"
            },
            expires_in: self.expires_in,
            scope: self.scope,
            resource: self.resource,
            dpop_nonce: self.dpop_nonce,
            refresh_token: self.refresh_token,
        })
    }
}

/// A request that passed every check except one-time use. The host must
/// claim every [`ReplayKey`] (atomically, in its store) before calling
/// [`TokenEndpoint::issue`]; if any claim fails, answer with
/// [`TokenEndpoint::replay_rejected`].
///
/// Deliberately not `Clone`: one claim, one token.
#[derive(Debug)]
pub struct PendingToken {
    /// The endpoint that decided it (see `TokenEndpoint::id`).
    endpoint: u64,
    replay_keys: Vec<ReplayKey>,
    subject: String,
    idp: String,
    client_id: Option<String>,
    scope: ScopeSet,
    report_scope: bool,
    mapped_claims: Map<String, Value>,
    assertion_expires_at: i64,
    /// The RFC 8707 resources the token is for (`None`: the configured
    /// `access_token.audience`).
    audience: Option<Vec<String>>,
    /// `acr`, `amr`, `auth_time` from an ID-JAG (RFC 9068 §2.2.1).
    authentication: Map<String, Value>,
    /// The DPoP key the token is bound to (`cnf.jkt`), if any.
    jkt: Option<String>,
    /// The refresh-token family record to write before issuing.
    family_write: Option<FamilyWrite>,
    /// The refresh token to hand out with the access token.
    refresh_token: Option<String>,
    /// Cap the token at `assertion_expires_at` whatever the policy says
    /// (a refreshed token never outlives its family).
    always_cap: bool,
}

impl PendingToken {
    /// The keys to claim before issuing, in order: the DPoP proof (if any),
    /// the grant's assertion, then the client assertion. Stop at the first
    /// that fails.
    pub fn replay_keys(&self) -> &[ReplayKey] {
        &self.replay_keys
    }

    /// The subject the token will carry.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The trusted issuer that vouched for the subject (the token's `idp`).
    pub fn idp(&self) -> &str {
        &self.idp
    }

    /// The authenticated client, if any.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The granted scope.
    pub fn scope(&self) -> &ScopeSet {
        &self.scope
    }

    /// The refresh-token family record to write (compare and swap) after
    /// the replay keys were claimed and before issuing, if any.
    pub fn family_write(&self) -> Option<&FamilyWrite> {
        self.family_write.as_ref()
    }

    /// The thumbprint of the DPoP key the token will be bound to
    /// (`cnf.jkt`, RFC 9449 §6.1), if the request carried a proof.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.jkt.as_deref()
    }

    /// The resources the token will be for, when the request (or its
    /// ID-JAG) asked for some (RFC 8707); `None` for the configured
    /// audience.
    pub fn resources(&self) -> Option<&[String]> {
        self.audience.as_deref()
    }
}

impl TokenEndpoint {
    /// An endpoint signing with `keys` (the first is active; all are
    /// published in the JWKS).
    #[cfg(feature = "rust-crypto")]
    pub fn new(config: Config, keys: Vec<SigningKey>) -> Result<Self, ConfigError> {
        let keys = keys
            .into_iter()
            .map(|k| TokenKey {
                public: PublicSigningKey::from(&k),
                local: Some(k),
            })
            .collect();
        Self::build(config, keys, false)
    }

    /// An endpoint whose access tokens the host signs (a JS host with a
    /// non-extractable WebCrypto key): the core holds only the public keys
    /// (the first is active; all are published in the JWKS), and tokens are
    /// issued through [`Self::token_to_sign`] and [`UnsignedToken::finish`].
    pub fn with_host_signer(
        config: Config,
        keys: Vec<PublicSigningKey>,
    ) -> Result<Self, ConfigError> {
        let keys = keys
            .into_iter()
            .map(|public| TokenKey {
                public,
                #[cfg(feature = "rust-crypto")]
                local: None,
            })
            .collect();
        Self::build(config, keys, false)
    }

    /// An endpoint with a fresh random signing key that lives as long as
    /// this value: for demos and tests, since tokens stop verifying when
    /// the process restarts.
    #[cfg(feature = "rust-crypto")]
    pub fn with_ephemeral_key(config: Config) -> Result<Self, ConfigError> {
        let key = SigningKey::generate(Some("ephemeral".into())).map_err(|_| ConfigError {
            path: "signing_key".into(),
            reason: "no randomness available to generate a key".into(),
        })?;
        let key = TokenKey {
            public: PublicSigningKey::from(&key),
            local: Some(key),
        };
        Self::build(config, vec![key], true)
    }

    fn build(config: Config, keys: Vec<TokenKey>, ephemeral: bool) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError {
                path: "signing_key".into(),
                reason: "at least one signing key is required".into(),
            });
        }
        let public: Vec<&PublicSigningKey> = keys.iter().map(|k| &k.public).collect();
        let metadata_json = metadata::metadata_document(&config, false).to_string();
        let jwks_json = metadata::jwks_document(&public).to_string();
        let metadata_path = metadata::metadata_path(config.issuer());
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let key_sets = Mutex::new(vec![SourceState::default(); config.key_sources().len()]);
        Ok(Self {
            key_sets,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            config,
            keys,
            ephemeral,
            metadata_json,
            jwks_json,
            metadata_path,
            dpop_nonce: None,
            refresh_families: false,
        })
    }

    /// Declares that the host stores refresh-token families (reads
    /// [`Exchange::family_need`], writes [`Exchange::family_write`] with
    /// compare and swap): only then are refresh tokens issued.
    pub fn enable_refresh_tokens(&mut self) {
        self.refresh_families = true;
        let mut doc = metadata::metadata_document(&self.config, true);
        doc["revocation_endpoint"] = serde_json::json!(self.revocation_endpoint());
        doc["revocation_endpoint_auth_methods_supported"] =
            doc["token_endpoint_auth_methods_supported"].clone();
        doc["introspection_endpoint"] = serde_json::json!(self.introspection_endpoint());
        doc["introspection_endpoint_auth_methods_supported"] =
            doc["token_endpoint_auth_methods_supported"].clone();
        self.metadata_json = doc.to_string();
    }

    /// The answer when a family write lost its compare and swap (another
    /// request rotated or revoked the family first): `invalid_grant`.
    pub fn family_conflict() -> OAuthError {
        OAuthError::refresh(crate::refresh::RefreshError::Conflict)
    }

    /// Sets the secret DPoP server nonces are made with (RFC 9449 §8; at
    /// least [`crate::dpop::MIN_NONCE_SECRET_BYTES`] random bytes, the same
    /// on every instance that serves this endpoint). Needed when the
    /// configuration sets `dpop.require_nonce` (without it every request
    /// with a proof is `server_error`); harmless otherwise.
    pub fn set_dpop_nonce_secret(&mut self, secret: &[u8]) -> Result<(), ConfigError> {
        let key = NonceKey::new(secret, self.config.dpop.nonce_lifetime).ok_or_else(|| {
            ConfigError::new(
                "dpop.require_nonce",
                format!(
                    "the DPoP nonce secret must be at least {} bytes",
                    crate::dpop::MIN_NONCE_SECRET_BYTES
                ),
            )
        })?;
        self.dpop_nonce = Some(key);
        Ok(())
    }

    /// Whether this endpoint needs a nonce secret it does not have yet
    /// (`dpop.require_nonce` without [`Self::set_dpop_nonce_secret`]).
    pub fn needs_dpop_nonce_secret(&self) -> bool {
        self.config.dpop.require_nonce && self.dpop_nonce.is_none()
    }

    /// A fresh DPoP server nonce for `now` (RFC 9449 §8), when nonces are
    /// required and the secret is set: what a host may hand out ahead of
    /// a request (e.g. in a `DPoP-Nonce` header on other responses).
    pub fn dpop_nonce(&self, now: i64) -> Option<String> {
        self.dpop_nonce
            .as_ref()
            .filter(|_| self.config.dpop.require_nonce)
            .map(|k| k.nonce(now))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the signing key is ephemeral (see [`Self::with_ephemeral_key`]).
    pub fn ephemeral_key(&self) -> bool {
        self.ephemeral
    }

    /// The RFC 8414 metadata document (JSON).
    pub fn metadata_json(&self) -> &str {
        &self.metadata_json
    }

    /// The public JWK Set of the signing keys (JSON).
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// The path of the token endpoint URL.
    pub fn token_path(&self) -> &str {
        url_path(self.config.token_endpoint())
    }

    /// The path of the JWKS URL.
    pub fn jwks_path(&self) -> &str {
        url_path(self.config.jwks_uri())
    }

    /// The path of the revocation endpoint (RFC 7009): the issuer's path
    /// and `/revoke`. Served by hosts that store refresh-token families.
    pub fn revocation_path(&self) -> String {
        url_path(&self.revocation_endpoint()).to_owned()
    }

    /// The path of the introspection endpoint (RFC 7662): the issuer's
    /// path and `/introspect`.
    pub fn introspection_path(&self) -> String {
        url_path(&self.introspection_endpoint()).to_owned()
    }

    /// The introspection endpoint's URL (the issuer and `/introspect`).
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.config.issuer())
    }

    /// Answers an introspection request (RFC 7662) with families in
    /// `families` and revocation marks read through `is_revoked` (a read of
    /// the replay store, never a claim).
    #[cfg(feature = "rust-crypto")]
    pub fn handle_introspection(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        families: &mut dyn FamilyStore,
        is_revoked: &dyn Fn(&str) -> bool,
        fetch: &mut dyn FnMut(&KeySource, &KeySetNeed) -> FetchResult,
    ) -> HttpResponse {
        let mut exchange =
            self.run_fetching(self.begin_introspection(req, now), &RustBackend, fetch);
        if let Some(family) = exchange.family_need().map(str::to_owned) {
            match families.load(&family, now) {
                Ok(stored) => exchange = exchange.resume_family(self, stored.as_deref()),
                Err(()) => return OAuthError::replay_store_unavailable().to_http(),
            }
        }
        if let Some(key) = exchange.revoked_need().map(|k| k.key.clone()) {
            let revoked = is_revoked(&key);
            exchange = exchange.resume_revoked(self, revoked);
        }
        match exchange.answer() {
            Some(answer) => answer.clone(),
            None => match exchange.outcome() {
                Err(e) => e.to_http(),
                Ok(_) => OAuthError::server_error().to_http(),
            },
        }
    }

    /// The revocation endpoint's URL (the issuer and `/revoke`).
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/revoke", self.config.issuer())
    }

    /// Revokes the refresh-token family a request names (RFC 7009), with
    /// families kept in `families`: the client authenticates as at the
    /// token endpoint; one of its refresh tokens revokes the whole family;
    /// one of its access tokens is marked revoked in `store` until its
    /// `exp` (introspection then says `active: false`); anything else is
    /// answered 200 and changes nothing. A write that loses its compare and swap
    /// (a concurrent rotation) is retried on the family as it is now.
    #[cfg(feature = "rust-crypto")]
    pub fn handle_revocation(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        store: &mut dyn ReplayStore,
        families: &mut dyn FamilyStore,
        fetch: &mut dyn FnMut(&KeySource, &KeySetNeed) -> FetchResult,
    ) -> HttpResponse {
        for _ in 0..3 {
            let mut exchange =
                self.run_fetching(self.begin_revocation(req, now), &RustBackend, fetch);
            if let Some(family) = exchange.family_need().map(str::to_owned) {
                match families.load(&family, now) {
                    Ok(stored) => exchange = exchange.resume_family(self, stored.as_deref()),
                    Err(()) => return OAuthError::replay_store_unavailable().to_http(),
                }
            }
            if let Some(w) = exchange.family_write() {
                match families.swap(w, now) {
                    SwapOutcome::Swapped => {}
                    SwapOutcome::Conflict => continue,
                    SwapOutcome::Unavailable => {
                        return OAuthError::replay_store_unavailable().to_http();
                    }
                }
            }
            if let Some(mark) = exchange.revocation_mark()
                && store.claim(mark, now) == ClaimOutcome::Unavailable
            {
                return OAuthError::replay_store_unavailable().to_http();
            }
            return match exchange.answer() {
                Some(answer) => answer.clone(),
                None => match exchange.outcome() {
                    Err(e) => e.to_http(),
                    Ok(_) => OAuthError::server_error().to_http(),
                },
            };
        }
        OAuthError::replay_store_unavailable().to_http()
    }

    /// The RFC 8414 §3.1 path of the metadata document.
    pub fn metadata_path(&self) -> &str {
        &self.metadata_path
    }

    /// Runs every check of a token request at time `now` (Unix seconds):
    /// request syntax, client authentication, the assertion, issuer/client
    /// binding and scope, answering signature checks with the pure-Rust
    /// backend. Replay keys exist only when all of these passed.
    #[cfg(feature = "rust-crypto")]
    pub fn prepare(&self, req: &HttpRequest<'_>, now: i64) -> Result<PendingToken, OAuthError> {
        self.run_fetching(self.begin(req, now), &RustBackend, &mut no_fetch)
            .outcome()
    }

    /// Starts a token request at `now`: the core's half of
    /// prepare → await → finish. Answer each [`Exchange::signature_check`]
    /// (with any [`SignatureBackend`], e.g. WebCrypto on a JS host) through
    /// [`Exchange::resume`] until none is left, then take
    /// [`Exchange::outcome`]. [`Self::prepare`] does exactly this with the
    /// pure-Rust backend.
    pub fn begin(&self, req: &HttpRequest<'_>, now: i64) -> Exchange {
        self.begin_traced(req, now, Trace::off())
    }

    /// Like [`Self::begin`], recording every check for
    /// [`Exchange::explain`].
    pub fn begin_explain(&self, req: &HttpRequest<'_>, now: i64) -> Exchange {
        self.begin_traced(req, now, Trace::on())
    }

    /// Answers every signature check of `exchange` with `backend`; stops
    /// when the exchange is decided or needs a key set
    /// ([`Exchange::key_set_need`]; [`Self::run_fetching`] answers those
    /// too).
    pub fn run(&self, mut exchange: Exchange, backend: &dyn SignatureBackend) -> Exchange {
        while let Some(check) = exchange.signature_check() {
            let verified = backend.verify(self, check);
            exchange = exchange.resume(self, verified);
        }
        exchange
    }

    /// Like [`Self::run`], also answering key-set needs with `fetch` (the
    /// host's I/O: given the source and the need, the document or why
    /// there is none), recorded at the exchange's time.
    pub fn run_fetching(
        &self,
        mut exchange: Exchange,
        backend: &dyn SignatureBackend,
        fetch: &mut dyn FnMut(&KeySource, &KeySetNeed) -> FetchResult,
    ) -> Exchange {
        loop {
            exchange = self.run(exchange, backend);
            let Some(need) = exchange.key_set_need().copied() else {
                return exchange;
            };
            let Some(source) = self.config.key_sources().get(need.source) else {
                return exchange;
            };
            let result = fetch(source, &need);
            self.key_set_fetched(need.source, result, exchange.now());
            exchange = exchange.resume_keys(self);
        }
    }

    /// Records the host's answer to a [`KeySetNeed`] for `source` at `now`
    /// (the cache policy and the parsing are the core's: see
    /// [`crate::keyset`]); `None` for an unknown source. Hosts that fetch
    /// ahead of need (warming at startup) call it too.
    pub fn key_set_fetched(
        &self,
        source: usize,
        result: FetchResult,
        now: i64,
    ) -> Option<FetchReport> {
        let spec = self.config.key_sources().get(source)?;
        let mut states = self.key_sets();
        Some(states.get_mut(source)?.record(source, spec, result, now))
    }

    /// A copy of `source`'s cache state (for diagnostics and explain).
    pub fn key_set_state(&self, source: usize) -> Option<SourceState> {
        self.key_sets().get(source).cloned()
    }

    fn key_sets(&self) -> std::sync::MutexGuard<'_, Vec<SourceState>> {
        // A panic elsewhere cannot leave a state half-updated (every update
        // is a plain assignment): a poisoned lock is still good.
        self.key_sets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Explains what [`Self::prepare`] and [`Self::issue`] would do with
    /// this request at `now`, check by check, without consuming any replay
    /// entry or signing anything. `is_used` tells whether a replay key is
    /// already claimed in the host's store (a read, never a claim).
    ///
    /// For operators only: the report names keys, times and values that the
    /// public endpoint deliberately does not reveal.
    #[cfg(feature = "rust-crypto")]
    pub fn explain(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        is_used: &dyn Fn(&str) -> bool,
    ) -> Explanation {
        self.run_fetching(self.begin_explain(req, now), &RustBackend, &mut no_fetch)
            .explain(self, is_used)
    }

    /// The access token's claims and expiry for `pending` at `now`.
    fn token_claims(
        &self,
        pending: &PendingToken,
        now: i64,
        jti: String,
    ) -> Result<(Map<String, Value>, i64), OAuthError> {
        let policy = &self.config.access_token;
        let exp = policy::token_expiry(
            now,
            policy.lifetime,
            policy.cap_at_assertion_expiry || pending.always_cap,
            pending.assertion_expires_at,
        )
        .ok_or(GrantError::Time(TimeError::Expired))?;
        let claims = token::AccessTokenClaims {
            issuer: self.config.issuer(),
            subject: &pending.subject,
            idp: &pending.idp,
            audience: &policy.audience,
            resources: pending.audience.as_deref(),
            client_id: pending.client_id.as_deref(),
            scope: pending.scope.to_scope_string(),
            issued_at: now,
            expires_at: exp,
            jti,
            mapped: &pending.mapped_claims,
            authentication: &pending.authentication,
            jkt: pending.jkt.as_deref(),
        };
        Ok((claims.into_map(), exp))
    }

    /// Mints the access token for a request whose replay keys were all
    /// claimed, signing with the key the core holds. `now` is read again
    /// because claiming may have taken time. With a host signer
    /// ([`Self::with_host_signer`]) use [`Self::token_to_sign`] instead;
    /// here that is `server_error`.
    #[cfg(feature = "rust-crypto")]
    pub fn issue(&self, pending: PendingToken, now: i64) -> Result<TokenResponse, OAuthError> {
        let unsigned = self.token_to_sign(pending, now)?;
        // `keys` is never empty: every constructor guarantees one key.
        let key = self.keys[0]
            .local
            .as_ref()
            .ok_or_else(OAuthError::server_error)?;
        let signature = key.sign_es256(unsigned.signing_input.as_bytes());
        unsigned.finish(&signature)
    }

    /// The access token for a request whose replay keys were all claimed,
    /// ready for the host to sign with the active key.
    pub fn token_to_sign(
        &self,
        pending: PendingToken,
        now: i64,
    ) -> Result<UnsignedToken, OAuthError> {
        if pending.endpoint != self.id {
            // Decided by another endpoint (a host bug): never sign it here.
            return Err(OAuthError::server_error());
        }
        let jti = token::new_jti().map_err(|_| OAuthError::server_error())?;
        let (claims, exp) = self.token_claims(&pending, now, jti)?;
        let kid = self.active_kid();
        let dpop_nonce = match (&self.dpop_nonce, pending.jkt.is_some()) {
            (Some(key), true) if self.config.dpop.require_nonce => Some(key.nonce(now)),
            _ => None,
        };
        Ok(UnsignedToken {
            signing_input: token::signing_input(kid, &claims),
            kid: kid.to_owned(),
            expires_in: exp - now,
            scope: pending
                .report_scope
                .then(|| pending.scope.to_scope_string()),
            dpop_bound: pending.jkt.is_some(),
            resource: pending.audience,
            dpop_nonce,
            refresh_token: pending.refresh_token,
        })
    }

    /// The key id of the signing key in use.
    pub fn active_kid(&self) -> &str {
        &self.keys[0].public.kid
    }

    /// Whether the core signs access tokens itself (else the host does,
    /// see [`Self::with_host_signer`]).
    pub fn signs_locally(&self) -> bool {
        #[cfg(feature = "rust-crypto")]
        return self.keys[0].local.is_some();
        #[cfg(not(feature = "rust-crypto"))]
        false
    }

    /// The error for a request whose replay key `failed` could not be
    /// claimed (`invalid_grant`, or `invalid_client` for a reused client
    /// assertion).
    pub fn replay_rejected(failed: &ReplayKey) -> OAuthError {
        Replayed(failed.kind).into()
    }

    /// The whole exchange with a synchronous store: prepare, claim every
    /// replay key (in order, stopping at the first refused), issue. Always
    /// returns a complete HTTP response; a store that answers
    /// [`ClaimOutcome::Unavailable`] gets 503 `temporarily_unavailable`.
    ///
    /// Key sets (`jwks_uri`, `saml_metadata_url`) are not fetched here: a
    /// source with no usable set answers 503 `temporarily_unavailable`
    /// (use [`Self::handle_fetching`]).
    #[cfg(feature = "rust-crypto")]
    pub fn handle(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        store: &mut dyn ReplayStore,
    ) -> HttpResponse {
        self.handle_fetching(req, now, store, &mut no_fetch)
    }

    /// [`Self::handle`], answering key-set needs with `fetch` (the host's
    /// I/O; see [`Self::run_fetching`]).
    #[cfg(feature = "rust-crypto")]
    pub fn handle_fetching(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        store: &mut dyn ReplayStore,
        fetch: &mut dyn FnMut(&KeySource, &KeySetNeed) -> FetchResult,
    ) -> HttpResponse {
        self.handle_with_families(req, now, store, &mut NoFamilies, fetch)
    }

    /// The whole exchange with refresh-token families kept in `families`
    /// (see [`Self::enable_refresh_tokens`]): the family a refresh names
    /// is read, and a family record is written (compare and swap) after
    /// the replay keys were claimed and before the token is issued — a
    /// lost swap is `invalid_grant`, nothing issued.
    #[cfg(feature = "rust-crypto")]
    pub fn handle_with_families(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        store: &mut dyn ReplayStore,
        families: &mut dyn FamilyStore,
        fetch: &mut dyn FnMut(&KeySource, &KeySetNeed) -> FetchResult,
    ) -> HttpResponse {
        // A refusal that must write (reuse revoking the family) and loses
        // its swap to a concurrent rotation runs again on the family as it
        // is now: the reused token is still remembered, so the revocation
        // happens. Nothing is claimed before that point.
        let mut attempts = 0;
        let pending = loop {
            attempts += 1;
            let mut exchange = self.run_fetching(self.begin(req, now), &RustBackend, fetch);
            if let Some(family) = exchange.family_need().map(str::to_owned) {
                match families.load(&family, now) {
                    Ok(stored) => exchange = exchange.resume_family(self, stored.as_deref()),
                    Err(()) => return OAuthError::replay_store_unavailable().to_http(),
                }
            }
            let write = exchange.family_write().cloned();
            match exchange.outcome() {
                Ok(p) => break p,
                Err(e) => {
                    let Some(w) = write else { return e.to_http() };
                    match families.swap(&w, now) {
                        SwapOutcome::Swapped => return e.to_http(),
                        SwapOutcome::Conflict if attempts < 3 => continue,
                        SwapOutcome::Conflict | SwapOutcome::Unavailable => {
                            return OAuthError::replay_store_unavailable().to_http();
                        }
                    }
                }
            }
        };
        if !self.signs_locally() {
            // A host-signed endpoint cannot issue here: refuse before any
            // replay key is spent (use `token_to_sign`).
            return OAuthError::server_error().to_http();
        }
        for key in pending.replay_keys() {
            match store.claim(key, now) {
                ClaimOutcome::Claimed => {}
                ClaimOutcome::AlreadyUsed => return Self::replay_rejected(key).to_http(),
                ClaimOutcome::Unavailable => {
                    return OAuthError::replay_store_unavailable().to_http();
                }
            }
        }
        // Signed first, then the family written: a token that could not be
        // minted never costs the client its family.
        let write = pending.family_write().cloned();
        let token = match self.issue(pending, now) {
            Ok(token) => token,
            Err(e) => return e.to_http(),
        };
        if let Some(w) = write {
            match families.swap(&w, now) {
                SwapOutcome::Swapped => {}
                SwapOutcome::Conflict => return Self::family_conflict().to_http(),
                SwapOutcome::Unavailable => {
                    return OAuthError::replay_store_unavailable().to_http();
                }
            }
        }
        token.to_http()
    }
}
