//! [`TokenEndpoint`]: request → client → grant → policy → (host claims
//! replay keys) → token.

use serde_json::{Map, Value, json};

use crate::client_auth::{self, ClientAuthError};
use crate::config::{AuthMethod, Client, Config, ConfigError, TrustedIssuer, url_path};
use crate::crypto::SigningKey;
use crate::error::OAuthError;
use crate::explain::{ExplainedError, Explanation, Outcome, Trace, utc};
use crate::grant::{self, GrantError, TimeError};
use crate::metadata;
use crate::policy::{self, ScopeSet};
use crate::replay::{self, ClaimOutcome, ReplayKey, ReplayKind, ReplayStore, Replayed};
use crate::request::{self, GrantType, HttpRequest};
use crate::response::{HttpResponse, TokenResponse};
use crate::token;

/// The token endpoint: validated configuration, signing keys, and the
/// metadata and JWKS documents (rendered once, at construction).
///
/// It does no I/O: every call takes the current time, and one-time use is
/// delegated to the host through [`PendingToken::replay_keys`].
#[derive(Debug)]
pub struct TokenEndpoint {
    config: Config,
    keys: Vec<SigningKey>,
    ephemeral: bool,
    metadata_json: String,
    jwks_json: String,
    metadata_path: String,
}

/// A request that passed every check except one-time use. The host must
/// claim every [`ReplayKey`] (atomically, in its store) before calling
/// [`TokenEndpoint::issue`]; if any claim fails, answer with
/// [`TokenEndpoint::replay_rejected`].
///
/// Deliberately not `Clone`: one claim, one token.
#[derive(Debug)]
pub struct PendingToken {
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
    pub fn new(config: Config, keys: Vec<SigningKey>) -> Result<Self, ConfigError> {
        if keys.is_empty() {
            return Err(ConfigError {
                path: "signing_key".into(),
                reason: "at least one signing key is required".into(),
            });
        }
        Ok(Self::build(config, keys, false))
    }

    /// An endpoint with a fresh random signing key that lives as long as
    /// this value: for demos and tests, since tokens stop verifying when
    /// the process restarts.
    pub fn with_ephemeral_key(config: Config) -> Result<Self, ConfigError> {
        let key = SigningKey::generate(Some("ephemeral".into())).map_err(|_| ConfigError {
            path: "signing_key".into(),
            reason: "no randomness available to generate a key".into(),
        })?;
        Ok(Self::build(config, vec![key], true))
    }

    fn build(config: Config, keys: Vec<SigningKey>, ephemeral: bool) -> Self {
        let metadata_json = metadata::metadata_document(&config).to_string();
        let jwks_json = metadata::jwks_document(&keys).to_string();
        let metadata_path = metadata::metadata_path(config.issuer());
        Self {
            config,
            keys,
            ephemeral,
            metadata_json,
            jwks_json,
            metadata_path,
        }
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
    /// binding and scope. Replay keys exist only when all of these passed.
    pub fn prepare(&self, req: &HttpRequest<'_>, now: i64) -> Result<PendingToken, OAuthError> {
        self.prepare_traced(req, now, &mut Trace::off())
    }

    /// Explains what [`Self::prepare`] and [`Self::issue`] would do with
    /// this request at `now`, check by check, without consuming any replay
    /// entry or signing anything. `is_used` tells whether a replay key is
    /// already claimed in the host's store (a read, never a claim).
    ///
    /// For operators only: the report names keys, times and values that the
    /// public endpoint deliberately does not reveal.
    pub fn explain(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        is_used: &dyn Fn(&str) -> bool,
    ) -> Explanation {
        let mut trace = Trace::on();
        let result = self
            .prepare_traced(req, now, &mut trace)
            .and_then(|pending| {
                for key in pending.replay_keys() {
                    let used = is_used(&key.key);
                    let which = match key.kind {
                        ReplayKind::Grant => "the assertion",
                        ReplayKind::ClientAssertion => "the client assertion",
                    };
                    let outcome = if used { Outcome::Fail } else { Outcome::Pass };
                    trace.record(
                        "one-time use",
                        "RFC 7521 §5.2, RFC 7523 §3 item 7",
                        outcome,
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
                        return Err(Self::replay_rejected(key));
                    }
                }
                if pending.replay_keys().is_empty() {
                    trace.skip("one-time use", "RFC 7521 §5.2", || {
                        "no assertion id to track".into()
                    });
                }
                let (claims, _) =
                    self.token_claims(&pending, now, "(jti chosen at issue)".into())?;
                trace.pass("access token", "RFC 9068 §2", || {
                    format!(
                        "ES256, kid {:?}, {} claims",
                        self.keys[0].kid(),
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
                would_issue: false,
                error: Some(ExplainedError {
                    error: e.code().as_str(),
                    error_description: e.description().to_owned(),
                    status: e.status(),
                }),
                token_claims: None,
            },
        }
    }

    fn prepare_traced(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        trace: &mut Trace,
    ) -> Result<PendingToken, OAuthError> {
        let request = trace.check(
            "request",
            "RFC 6749 §3.2, §4.5; RFC 7521 §4.1",
            request::parse_request(req),
            |r| format!("POST form with grant_type {}", r.grant_type.as_str()),
        )?;
        let client =
            client_auth::authenticate(&self.config, &request.credentials, request.grant_type, now);
        let client = trace.check(
            "client authentication",
            "RFC 6749 §2.3, RFC 7521 §4.2",
            client,
            |c| match c.client {
                Some(c) => format!("client {:?} ({})", c.client_id, c.auth_method.as_str()),
                None => "no client identified".into(),
            },
        )?;
        // Before any signature work on the grant, for callers that proved
        // nothing about themselves (no client, or a public one): the
        // client↔issuer binding on the issuer the assertion *states*, so
        // such a caller cannot learn whether an assertion it holds would
        // verify. The binding is checked again on the verified issuer.
        if client
            .client
            .is_none_or(|c| c.auth_method == AuthMethod::None)
        {
            let stated = match request.grant_type {
                GrantType::JwtBearer => grant::jwt::peek_issuer(&request.assertion),
                GrantType::Saml2Bearer => grant::saml2::peek_issuer(&request.assertion),
            };
            if let Some((index, issuer)) = stated.and_then(|iss| self.config.trusted_issuer(&iss))
                && let Err(e) = binding(client.client, index, issuer)
            {
                trace.record(
                    "client and issuer (before the signature)",
                    "configuration (trusted_issuers, require_client)",
                    Outcome::Fail,
                    || format!("the assertion names {:?}: {e}", issuer.issuer),
                );
                return Err(e.into());
            }
        }
        let grant = match request.grant_type {
            GrantType::JwtBearer => {
                grant::jwt::validate(&self.config, &request.assertion, now, trace)?
            }
            GrantType::Saml2Bearer => grant::saml2::validate(
                &self.config,
                &request.assertion,
                now,
                ReplayKind::Grant,
                trace,
            )?,
        };
        if self.config.access_token.cap_at_assertion_expiry && grant.expires_at <= now {
            // The token would be born expired; refuse before the replay key
            // is spent.
            trace.record(
                "token lifetime",
                "configuration (cap_at_assertion_expiry)",
                Outcome::Fail,
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
        let bound = binding(client.client, grant.issuer, issuer);
        trace.check(
            "client and issuer",
            "configuration (trusted_issuers, require_client)",
            bound,
            |_| match client.client {
                Some(c) => format!(
                    "{:?} may present assertions from {:?}",
                    c.client_id, issuer.issuer
                ),
                None => format!("{:?} allows grants without a client", issuer.issuer),
            },
        )?;
        let scope = policy::decide_scope(
            request.scope.as_ref(),
            client.client.map(|c| &c.scope),
            issuer.scope.as_ref(),
            self.config.scope_policy,
        );
        let scope = trace.check("scope", "RFC 6749 §3.3", scope, |g| {
            format!(
                "requested {:?}; granted {:?} (client allowance {:?}, issuer ceiling {:?}, policy {:?})",
                request.scope.as_ref().map(ScopeSet::to_scope_string),
                g.granted.to_scope_string(),
                client.client.map(|c| c.scope.to_scope_string()),
                issuer.scope.as_ref().map(ScopeSet::to_scope_string),
                self.config.scope_policy
            )
        })?;
        let mapped_claims =
            policy::map_claims(&issuer.claims, &grant.claims, grant.name_id_format());
        if issuer.claims.is_empty() {
            trace.skip("claim mapping", "configuration (claims)", || {
                "no claims mapped for this issuer".into()
            });
        } else {
            trace.pass("claim mapping", "configuration (claims)", || {
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
        // client assertion can leave an entry in the store.
        let partition =
            replay::partition(client.client.map(|c| c.client_id.as_str()), &issuer.issuer);
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
            replay_keys,
            mapped_claims,
            subject: grant.subject,
            client_id: client.client.map(|c| c.client_id.clone()),
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
        let mut exp = now.saturating_add(policy.lifetime);
        if policy.cap_at_assertion_expiry {
            exp = exp.min(pending.assertion_expires_at);
        }
        if exp <= now {
            return Err(GrantError::Time(TimeError::Expired).into());
        }
        let mut claims = pending.mapped_claims.clone();
        claims.insert("iss".into(), json!(self.config.issuer()));
        claims.insert("sub".into(), json!(pending.subject));
        claims.insert("aud".into(), json!(policy.audience));
        claims.insert("exp".into(), json!(exp));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(jti));
        if let Some(client_id) = &pending.client_id {
            claims.insert("client_id".into(), json!(client_id));
        }
        let scope = pending.scope.to_scope_string();
        if !scope.is_empty() {
            claims.insert("scope".into(), json!(scope));
        }
        Ok((claims, exp))
    }

    /// Mints the access token for a request whose replay keys were all
    /// claimed. `now` is read again because claiming may have taken time.
    pub fn issue(&self, pending: PendingToken, now: i64) -> Result<TokenResponse, OAuthError> {
        let jti = token::new_jti().map_err(|_| OAuthError::server_error())?;
        let (claims, exp) = self.token_claims(&pending, now, jti)?;
        // `keys` is never empty: both constructors guarantee one key.
        let access_token = token::mint(&self.keys[0], &claims);
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: exp - now,
            scope: pending
                .report_scope
                .then(|| pending.scope.to_scope_string()),
        })
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

/// The client↔issuer binding (configuration `trusted_issuers`,
/// `require_client`): a grant without a client only from an issuer that
/// allows it; a client bound to issuers only with assertions from those.
fn binding(
    client: Option<&Client>,
    index: usize,
    issuer: &TrustedIssuer,
) -> Result<(), ClientAuthError> {
    match client {
        None if issuer.require_client => Err(ClientAuthError::Required),
        Some(c)
            if c.trusted_issuers
                .as_ref()
                .is_some_and(|allowed| !allowed.contains(&index)) =>
        {
            Err(ClientAuthError::IssuerNotAllowed)
        }
        _ => Ok(()),
    }
}
