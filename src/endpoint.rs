//! [`TokenEndpoint`]: request → client → grant → policy → (host claims
//! replay keys) → token.

use serde_json::{Map, Value};

#[cfg(feature = "rust-crypto")]
use crate::backend::RustBackend;
use crate::backend::SignatureBackend;
use crate::client_auth::{self, ClientAuthError, ClientBegun, ClientOutcome, ClientPending};
use crate::config::{AuthMethod, Client, Config, ConfigError, TrustedIssuer, url_path};
#[cfg(feature = "rust-crypto")]
use crate::crypto::SigningKey;
use crate::crypto::seam::SignatureCheck;
use crate::error::OAuthError;
use crate::explain::{CheckId, Explanation, Trace, utc};
use crate::grant::ValidatedGrant;
use crate::grant::{self, GrantError, TimeError};
use crate::metadata;
use crate::policy::{self, ScopeSet};
use crate::reason::Reason;
use crate::replay::{self, ReplayKey, ReplayKind, Replayed};
#[cfg(feature = "rust-crypto")]
use crate::replay::{ClaimOutcome, ReplayStore};
use crate::request::{self, GrantType, HttpRequest, TokenRequest};
#[cfg(feature = "rust-crypto")]
use crate::response::HttpResponse;
use crate::response::TokenResponse;
use crate::token;
pub use crate::token::PublicSigningKey;

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
            token_type: "Bearer",
            expires_in: self.expires_in,
            scope: self.scope,
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
    client_id: Option<String>,
    scope: ScopeSet,
    report_scope: bool,
    mapped_claims: Map<String, Value>,
    assertion_expires_at: i64,
}

impl PendingToken {
    /// The keys to claim before issuing, in order: the grant's assertion
    /// first, then the client assertion. Stop at the first that fails.
    pub fn replay_keys(&self) -> &[ReplayKey] {
        &self.replay_keys
    }

    /// The subject the token will carry.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The authenticated client, if any.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The granted scope.
    pub fn scope(&self) -> &ScopeSet {
        &self.scope
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
        let metadata_json = metadata::metadata_document(&config).to_string();
        let jwks_json = metadata::jwks_document(&public).to_string();
        let metadata_path = metadata::metadata_path(config.issuer());
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Self {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            config,
            keys,
            ephemeral,
            metadata_json,
            jwks_json,
            metadata_path,
        })
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
        self.run(self.begin(req, now), &RustBackend).outcome()
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

    /// Answers every check of `exchange` with `backend`.
    pub fn run(&self, mut exchange: Exchange, backend: &dyn SignatureBackend) -> Exchange {
        while let Some(check) = exchange.signature_check() {
            let verified = backend.verify(&self.config, check);
            exchange = exchange.resume(self, verified);
        }
        exchange
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
        self.run(self.begin_explain(req, now), &RustBackend)
            .explain(self, is_used)
    }

    fn begin_traced(&self, req: &HttpRequest<'_>, now: i64, mut trace: Trace) -> Exchange {
        let request = trace.check(
            CheckId::Request,
            "RFC 6749 §3.2, §4.5; RFC 7521 §4.1",
            request::parse_request(req),
            |r| format!("POST form with grant_type {}", r.grant_type.as_str()),
        );
        let request = match request {
            Ok(r) => r,
            Err(e) => return self.exchange_done(Err(e.into()), now, trace),
        };
        match client_auth::begin(&self.config, &request.credentials, request.grant_type) {
            Ok(ClientBegun::Done(client)) => {
                self.client_authenticated(request, Ok(client), now, trace)
            }
            Ok(ClientBegun::Pending(pending, check)) => Exchange {
                endpoint: self.id,
                now,
                trace,
                stage: Stage::Client {
                    request,
                    pending,
                    check,
                },
            },
            Err(e) => self.client_authenticated(request, Err(e), now, trace),
        }
    }

    /// Client authentication is decided: record it, check the binding
    /// before any signature work on the grant, and start the grant.
    fn client_authenticated(
        &self,
        request: TokenRequest,
        client: Result<ClientOutcome, ClientAuthError>,
        now: i64,
        mut trace: Trace,
    ) -> Exchange {
        let config = &self.config;
        let client = trace.check(
            CheckId::ClientAuthentication,
            "RFC 6749 §2.3, RFC 7521 §4.2",
            client,
            |c| match c.client.map(|i| &config.clients[i]) {
                Some(c) => format!("client {:?} ({})", c.client_id, c.auth_method.as_str()),
                None => "no client identified".into(),
            },
        );
        let client = match client {
            Ok(c) => c,
            Err(e) => return self.exchange_done(Err(e.into()), now, trace),
        };
        let client_ref = client.client.map(|i| &config.clients[i]);
        // Before any signature work on the grant, for callers that proved
        // nothing about themselves (no client, or a public one): the
        // client↔issuer binding on the issuer the assertion *states*, so
        // such a caller cannot learn whether an assertion it holds would
        // verify. The binding is checked again on the verified issuer.
        if client_ref.is_none_or(|c| c.auth_method == AuthMethod::None) {
            let stated = match request.grant_type {
                GrantType::JwtBearer => grant::jwt::peek_issuer(&request.assertion),
                GrantType::Saml2Bearer => grant::saml2::peek_issuer(&request.assertion),
            };
            if let Some((index, issuer)) = stated.and_then(|iss| config.trusted_issuer(&iss))
                && let Err(e) = binding(client_ref, index, issuer)
            {
                trace.fail(
                    CheckId::ClientIssuerUnsigned,
                    "configuration (trusted_issuers, require_client)",
                    e.reason(),
                    || format!("the assertion names {:?}: {e}", issuer.issuer),
                );
                return self.exchange_done(Err(e.into()), now, trace);
            }
        }
        let begun = match request.grant_type {
            GrantType::JwtBearer => grant::jwt::begin(config, &request.assertion, &mut trace)
                .map(|(p, check)| (GrantPending::Jwt(p), check)),
            GrantType::Saml2Bearer => {
                grant::saml2::begin(config, &request.assertion, ReplayKind::Grant, &mut trace)
                    .map(|(p, check)| (GrantPending::Saml(p), check))
            }
        };
        // Every client, once the stated issuer is known and still before any
        // signature work: a client bound to other issuers learns nothing
        // about whether an assertion from this one would verify.
        let begun = begun
            .map_err(OAuthError::from)
            .and_then(|(pending, check)| {
                let index = match &pending {
                    GrantPending::Jwt(p) => p.issuer(),
                    GrantPending::Saml(p) => p.issuer(),
                };
                match binding(client_ref, index, &config.issuers[index]) {
                    Ok(()) => Ok((pending, check)),
                    Err(e) => {
                        trace.fail(
                            CheckId::ClientIssuerUnsigned,
                            "configuration (trusted_issuers, require_client)",
                            e.reason(),
                            || {
                                format!(
                                    "the assertion names {:?}: {e}",
                                    config.issuers[index].issuer
                                )
                            },
                        );
                        Err(e.into())
                    }
                }
            });
        match begun {
            Ok((pending, check)) => Exchange {
                endpoint: self.id,
                now,
                trace,
                stage: Stage::Grant {
                    request,
                    client,
                    pending: Box::new(pending),
                    check,
                },
            },
            Err(e) => self.exchange_done(Err(e), now, trace),
        }
    }

    /// The grant is verified: lifetime, binding, scope and claim policy,
    /// and the replay keys to claim.
    fn grant_validated(
        &self,
        request: &TokenRequest,
        client: ClientOutcome,
        grant: ValidatedGrant,
        now: i64,
        trace: &mut Trace,
    ) -> Result<PendingToken, OAuthError> {
        let client_ref = client.client.map(|i| &self.config.clients[i]);
        let policy = &self.config.access_token;
        if policy::token_expiry(
            now,
            policy.lifetime,
            policy.cap_at_assertion_expiry,
            grant.expires_at,
        )
        .is_none()
        {
            // The token would be born expired; refuse before the replay key
            // is spent.
            trace.fail(
                CheckId::TokenLifetime,
                "configuration (cap_at_assertion_expiry)",
                Reason::AssertionExpired,
                || {
                    format!(
                        "the assertion expires {}, not after now {}",
                        utc(grant.expires_at),
                        utc(now)
                    )
                },
            );
            return Err(GrantError::Time(TimeError::Expired).into());
        }
        let issuer = &self.config.issuers[grant.issuer];
        let bound = binding(client_ref, grant.issuer, issuer);
        trace.check(
            CheckId::ClientIssuer,
            "configuration (trusted_issuers, require_client)",
            bound,
            |_| match client_ref {
                Some(c) => format!(
                    "{:?} may present assertions from {:?}",
                    c.client_id, issuer.issuer
                ),
                None => format!("{:?} allows grants without a client", issuer.issuer),
            },
        )?;
        let scope = policy::decide_scope(
            request.scope.as_ref(),
            client_ref.map(|c| &c.scope),
            issuer.scope.as_ref(),
            self.config.scope_policy,
        );
        let scope = trace.check(CheckId::Scope, "RFC 6749 §3.3", scope, |g| {
            format!(
                "requested {:?}; granted {:?} (client allowance {:?}, issuer ceiling {:?}, policy {:?})",
                request.scope.as_ref().map(ScopeSet::to_scope_string),
                g.granted.to_scope_string(),
                client_ref.map(|c| c.scope.to_scope_string()),
                issuer.scope.as_ref().map(ScopeSet::to_scope_string),
                self.config.scope_policy
            )
        })?;
        let mapped_claims =
            policy::map_claims(&issuer.claims, &grant.claims, grant.name_id_format());
        if issuer.claims.is_empty() {
            trace.skip(CheckId::ClaimMapping, "configuration (claims)", || {
                "no claims mapped for this issuer".into()
            });
        } else {
            trace.pass(CheckId::ClaimMapping, "configuration (claims)", || {
                let missing: Vec<&str> = issuer
                    .claims
                    .iter()
                    .filter(|(t, _)| !mapped_claims.contains_key(t))
                    .map(|(_, s)| s.as_str())
                    .collect();
                format!(
                    "mapped {:?}; absent in the assertion: {missing:?}",
                    mapped_claims.keys().collect::<Vec<_>>()
                )
            });
        }
        // The grant's key first: a spent grant is refused before a fresh
        // client assertion can leave an entry in the store. Entries are
        // charged to the authenticated client; for callers that proved
        // nothing (no client, or a public one anyone may name) also to the
        // subject, so no one can fill the partition that others share.
        let unauthenticated = client_ref.is_none_or(|c| c.auth_method == AuthMethod::None);
        let partition = replay::partition(
            client_ref.map(|c| c.client_id.as_str()),
            &issuer.issuer,
            unauthenticated.then_some(grant.subject.as_str()),
        );
        let replay_keys = grant
            .replay
            .into_iter()
            .chain(client.replay)
            .map(|key| ReplayKey {
                partition: partition.clone(),
                ..key
            })
            .collect();
        Ok(PendingToken {
            endpoint: self.id,
            replay_keys,
            mapped_claims,
            subject: grant.subject,
            client_id: client_ref.map(|c| c.client_id.clone()),
            scope: scope.granted,
            report_scope: scope.report,
            assertion_expires_at: grant.expires_at,
        })
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
            policy.cap_at_assertion_expiry,
            pending.assertion_expires_at,
        )
        .ok_or(GrantError::Time(TimeError::Expired))?;
        let claims = token::AccessTokenClaims {
            issuer: self.config.issuer(),
            subject: &pending.subject,
            audience: &policy.audience,
            client_id: pending.client_id.as_deref(),
            scope: pending.scope.to_scope_string(),
            issued_at: now,
            expires_at: exp,
            jti,
            mapped: &pending.mapped_claims,
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
        Ok(UnsignedToken {
            signing_input: token::signing_input(kid, &claims),
            kid: kid.to_owned(),
            expires_in: exp - now,
            scope: pending
                .report_scope
                .then(|| pending.scope.to_scope_string()),
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
    #[cfg(feature = "rust-crypto")]
    pub fn handle(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        store: &mut dyn ReplayStore,
    ) -> HttpResponse {
        let pending = match self.prepare(req, now) {
            Ok(p) => p,
            Err(e) => return e.to_http(),
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
        match self.issue(pending, now) {
            Ok(token) => token.to_http(),
            Err(e) => e.to_http(),
        }
    }
}

/// [`policy::may_present`] for this client and issuer, as the client
/// authentication error the endpoint answers.
fn binding(
    client: Option<&Client>,
    index: usize,
    issuer: &TrustedIssuer,
) -> Result<(), ClientAuthError> {
    let presenter = match client {
        None => policy::Presenter::Nobody,
        Some(c) => policy::Presenter::Client(c.trusted_issuers.as_deref()),
    };
    policy::may_present(presenter, index, issuer.require_client).map_err(|e| match e {
        policy::BindingError::ClientRequired => ClientAuthError::Required,
        policy::BindingError::IssuerNotAllowed => ClientAuthError::IssuerNotAllowed,
    })
}

/// A token request in progress (DESIGN.md, "prepare → await → finish"):
/// everything the core could do without an answer from its host, and at
/// most one [`SignatureCheck`] it is waiting for. Client authentication is
/// answered before the grant is looked at, so a client that fails costs no
/// signature work on the grant.
#[derive(Debug)]
pub struct Exchange {
    /// The endpoint that began it: only that one may resume it.
    endpoint: u64,
    now: i64,
    trace: Trace,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    /// Waiting for the client assertion's check.
    Client {
        request: TokenRequest,
        pending: Box<ClientPending>,
        check: SignatureCheck,
    },
    /// Waiting for the grant assertion's check.
    Grant {
        request: TokenRequest,
        client: ClientOutcome,
        pending: Box<GrantPending>,
        check: SignatureCheck,
    },
    /// Decided.
    Done(Result<PendingToken, OAuthError>),
}

#[derive(Debug)]
enum GrantPending {
    Jwt(grant::jwt::JwtPending),
    Saml(grant::saml2::SamlPending),
}

impl TokenEndpoint {
    fn exchange_done(
        &self,
        result: Result<PendingToken, OAuthError>,
        now: i64,
        trace: Trace,
    ) -> Exchange {
        Exchange {
            endpoint: self.id,
            now,
            trace,
            stage: Stage::Done(result),
        }
    }
}

impl Exchange {
    /// The signature check to answer next, or `None` when the exchange is
    /// decided.
    pub fn signature_check(&self) -> Option<&SignatureCheck> {
        match &self.stage {
            Stage::Client { check, .. } | Stage::Grant { check, .. } => Some(check),
            Stage::Done(_) => None,
        }
    }

    /// Continues with the host's answer to [`Self::signature_check`]:
    /// `verified` is whether the signature verified with one of the check's
    /// keys. `endpoint` must be the one that began the exchange. Without a
    /// pending check this changes nothing.
    pub fn resume(self, endpoint: &TokenEndpoint, verified: bool) -> Self {
        let Self {
            endpoint: began_with,
            now,
            mut trace,
            stage,
        } = self;
        if began_with != endpoint.id {
            // Another endpoint's exchange (a host bug): its references into
            // the configuration mean nothing here.
            return endpoint.exchange_done(Err(OAuthError::server_error()), now, trace);
        }
        let config = &endpoint.config;
        match stage {
            Stage::Client {
                request,
                pending,
                check: _,
            } => {
                let client =
                    client_auth::finish(config, *pending, verified, request.grant_type, now);
                endpoint.client_authenticated(request, client, now, trace)
            }
            Stage::Grant {
                request,
                client,
                pending,
                check: _,
            } => {
                let grant = match *pending {
                    GrantPending::Jwt(p) => {
                        grant::jwt::finish(config, p, verified, now, &mut trace)
                    }
                    GrantPending::Saml(p) => {
                        grant::saml2::finish(config, p, verified, now, &mut trace)
                    }
                };
                let result = grant
                    .map_err(OAuthError::from)
                    .and_then(|g| endpoint.grant_validated(&request, client, g, now, &mut trace));
                endpoint.exchange_done(result, now, trace)
            }
            done @ Stage::Done(_) => Self {
                endpoint: began_with,
                now,
                trace,
                stage: done,
            },
        }
    }

    /// The decision: a [`PendingToken`] whose replay keys the host claims
    /// before [`TokenEndpoint::issue`], or the error to answer. Asked while
    /// a check is still pending, it is `server_error` (a host bug).
    pub fn outcome(self) -> Result<PendingToken, OAuthError> {
        match self.stage {
            Stage::Done(result) => result,
            _ => Err(OAuthError::server_error()),
        }
    }

    /// The replay keys a decided, successful exchange needs claimed (empty
    /// otherwise), for hosts that look them up before [`Self::explain`].
    pub fn replay_keys(&self) -> &[ReplayKey] {
        match &self.stage {
            Stage::Done(Ok(pending)) => pending.replay_keys(),
            _ => &[],
        }
    }

    /// The check-by-check report of an exchange begun with
    /// [`TokenEndpoint::begin_explain`] and answered to the end; `is_used`
    /// reads (never claims) the host's replay store.
    pub fn explain(self, endpoint: &TokenEndpoint, is_used: &dyn Fn(&str) -> bool) -> Explanation {
        let now = self.now;
        let mut trace = self.trace;
        let result = match self.stage {
            Stage::Done(result) => result,
            _ => Err(OAuthError::server_error()),
        };
        let result = result.and_then(|pending| {
            for key in pending.replay_keys() {
                let used = is_used(&key.key);
                let which = match key.kind {
                    ReplayKind::Grant => "the assertion",
                    ReplayKind::ClientAssertion => "the client assertion",
                };
                let outcome: Result<(), Replayed> = if used {
                    Err(Replayed(key.kind))
                } else {
                    Ok(())
                };
                trace.result(
                    CheckId::OneTimeUse,
                    "RFC 7521 §5.2, RFC 7523 §3 item 7",
                    &outcome,
                    || {
                        format!(
                            "{which} {} (kept until {})",
                            if used {
                                "was already used"
                            } else {
                                "has not been used"
                            },
                            utc(key.expires_at)
                        )
                    },
                );
                if used {
                    return Err(TokenEndpoint::replay_rejected(key));
                }
            }
            if pending.replay_keys().is_empty() {
                trace.skip(CheckId::OneTimeUse, "RFC 7521 §5.2", || {
                    "no assertion id to track".into()
                });
            }
            let (claims, _) =
                endpoint.token_claims(&pending, now, "(jti chosen at issue)".into())?;
            trace.pass(CheckId::TokenSigned, "RFC 9068 §2", || {
                format!(
                    "ES256, kid {:?}, {} claims",
                    endpoint.active_kid(),
                    claims.len()
                )
            });
            Ok(claims)
        });
        let checks = trace.into_checks();
        match result {
            Ok(claims) => Explanation {
                checks,
                would_issue: true,
                error: None,
                token_claims: Some(claims),
            },
            Err(e) => Explanation {
                checks,
                ..Explanation::refused((&e).into())
            },
        }
    }
}
