//! The spine of a token request, one step per function (DESIGN.md,
//! "prepare → await → finish"):
//!
//! ```text
//! begin_traced          request::parse_request            RFC 6749 §3.2, RFC 7521 §4.1
//!   client_auth::begin  … the host answers a client assertion's signature check
//! client_authenticated  binding on the stated issuer, then grant::{jwt,saml2}::begin
//!   … the host answers the grant's signature check (Exchange::resume)
//! grant_validated       binding, policy::decide_scope, policy::map_claims, replay keys
//!   … the host claims the replay keys, then TokenEndpoint::issue / token_to_sign
//! ```
//!
//! Policy decisions live in [`crate::policy`], the access token in
//! [`crate::token`]; this file only orders the steps and records them in the
//! explain trace.

use super::FamilyWrite;
use super::{EndpointKeys, PendingToken, TokenEndpoint};
use crate::client_auth::{self, ClientAuthError, ClientBegun, ClientOutcome, ClientPending};
use crate::config::{AuthMethod, Client, TrustedIssuer};
use crate::crypto::seam::SignatureCheck;
use crate::dpop::{self, DpopError, ProofPending, ProofRules, VerifiedProof};
use crate::error::OAuthError;
use crate::explain::{CheckId, Explanation, Trace, utc};
use crate::grant::{self, GrantError, IdJag, TimeError, ValidatedGrant};
use crate::keyset::{KeySetError, KeySetNeed};
use crate::policy::{self, ScopeSet};
use crate::protocol::{GRANT_REFRESH_TOKEN, SCOPE_OFFLINE_ACCESS};
use crate::reason::Reason;
use crate::refresh::{
    self, FamilyGrant, FamilyState, PresentedToken, Presenter, RefreshError, RefreshOutcome,
};
use crate::replay::{self, ReplayKey, ReplayKind, Replayed};
use crate::request::{self, GrantType, HttpRequest, TokenRequest};
use crate::response::HttpResponse;

impl TokenEndpoint {
    pub(super) fn begin_traced(
        &self,
        req: &HttpRequest<'_>,
        now: i64,
        mut trace: Trace,
    ) -> Exchange {
        let request = trace.check(CheckId::Request, request::parse_request(req), |r| {
            format!("POST form with grant_type {}", r.grant_type.as_str())
        });
        let request = match request {
            Ok(r) => r,
            Err(e) => return self.exchange_done(Err(e.into()), now, trace),
        };
        let Some(proof) = request.dpop.as_deref() else {
            return self.client_step(request, now, trace, Carried::default());
        };
        // The proof first: a bad one costs no client or grant work, and a
        // missing nonce is answered before any assertion is looked at.
        let nonce = match (self.config.dpop.require_nonce, &self.dpop_nonce) {
            (false, _) => None,
            (true, Some(key)) => Some(key),
            (true, None) => {
                // The host was told to set a nonce secret and did not.
                trace.fail(CheckId::DpopProof, Reason::ServerError, || {
                    "dpop.require_nonce is set but the host gave no nonce secret".into()
                });
                return self.exchange_done(Err(OAuthError::server_error()), now, trace);
            }
        };
        let rules = ProofRules {
            method: req.method,
            uri: self.config.token_endpoint(),
            now,
            max_age: self.config.dpop.max_age,
            skew: self.config.clock_skew,
            algorithms: &self.config.dpop.algorithms,
            access_token: None,
            nonce,
        };
        match dpop::begin(proof, &rules) {
            Ok((pending, check)) => Exchange {
                endpoint: self.id,
                now,
                trace,
                carried: Carried::default(),
                stage: Stage::Proof {
                    request,
                    pending: Box::new(pending),
                    check,
                },
            },
            Err(e) => {
                trace.fail(CheckId::DpopProof, e.reason(), || e.to_string());
                self.exchange_done(Err(self.dpop_refusal(e, now)), now, trace)
            }
        }
    }

    /// The answer to a refused proof: `use_dpop_nonce` with a fresh nonce
    /// (RFC 9449 §8), else `invalid_dpop_proof` — with a fresh nonce too
    /// when nonces are required, so the client's next proof can carry it.
    pub(super) fn dpop_refusal(&self, e: DpopError, now: i64) -> OAuthError {
        let nonce = self
            .dpop_nonce
            .as_ref()
            .filter(|_| self.config.dpop.require_nonce)
            .map(|k| k.nonce(now));
        match (e, nonce) {
            (DpopError::Nonce, Some(nonce)) => OAuthError::use_dpop_nonce(Reason::DpopNonce, nonce),
            (e, nonce) => OAuthError::from(e).with_dpop_nonce(nonce),
        }
    }

    /// Client authentication, up to its signature check (or a key set it
    /// needs first: then this step runs again once the host fetched it).
    fn client_step(
        &self,
        request: TokenRequest,
        now: i64,
        mut trace: Trace,
        carried: Carried,
    ) -> Exchange {
        let mark = trace.mark();
        let remote = EndpointKeys {
            endpoint: self,
            now,
            fetched: &carried.sources,
        };
        let begun = client_auth::begin(
            &self.config,
            &request.credentials,
            request.client_grant_type(),
            &remote,
        );
        match begun {
            Ok(ClientBegun::Done(client)) => {
                self.client_authenticated(request, Ok(client), now, trace, carried)
            }
            Ok(ClientBegun::Pending(pending, check)) => Exchange {
                endpoint: self.id,
                now,
                trace,
                carried,
                stage: Stage::Client {
                    request,
                    pending,
                    check,
                },
            },
            Err(ClientAuthError::KeySet(KeySetError::Needed(need))) => {
                trace.rewind(mark);
                Exchange {
                    endpoint: self.id,
                    now,
                    trace,
                    carried,
                    stage: Stage::Keys {
                        need,
                        resume: Resume::Client { request },
                    },
                }
            }
            Err(e) => self.client_authenticated(request, Err(e), now, trace, carried),
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
        carried: Carried,
    ) -> Exchange {
        let mark = trace.mark();
        let config = &self.config;
        let client = trace.check(CheckId::ClientAuthentication, client, |c| {
            match c.client.map(|i| &config.clients[i]) {
                Some(c) => format!("client {:?} ({})", c.client_id, c.auth_method.as_str()),
                None => "no client identified".into(),
            }
        });
        let client = match client {
            Ok(c) => c,
            Err(e) => return self.exchange_done(Err(e.into()), now, trace),
        };
        let client_ref = client.client.map(|i| &config.clients[i]);
        if request.grant_type == GrantType::RefreshToken {
            return self.refresh_step(request, client, now, trace, carried);
        }
        if let Err(e) = self.stated_issuer_binding(&request, client_ref, &mut trace) {
            return self.exchange_done(Err(e.into()), now, trace);
        }
        let remote = EndpointKeys {
            endpoint: self,
            now,
            fetched: &carried.sources,
        };
        let (pending, check) = match self.begin_grant(&request, &remote, &mut trace) {
            Ok(begun) => begun,
            Err(GrantError::KeySet(KeySetError::Needed(need))) => {
                trace.rewind(mark);
                return Exchange {
                    endpoint: self.id,
                    now,
                    trace,
                    carried,
                    stage: Stage::Keys {
                        need,
                        resume: Resume::Grant { request, client },
                    },
                };
            }
            Err(e) => return self.exchange_done(Err(e.into()), now, trace),
        };
        if let Err(e) = self.issuer_binding_before_signature(&pending, client_ref, &mut trace) {
            return self.exchange_done(Err(e), now, trace);
        }
        Exchange {
            endpoint: self.id,
            now,
            trace,
            carried,
            stage: Stage::Grant {
                request,
                client,
                pending: Box::new(pending),
                check,
            },
        }
    }

    /// Before any signature work on the grant, for callers that proved
    /// nothing about themselves (no client, or a public one): the
    /// client↔issuer binding on the issuer the assertion *states*, so such a
    /// caller cannot learn whether an assertion it holds would verify. The
    /// binding is checked again on the verified issuer.
    fn stated_issuer_binding(
        &self,
        request: &TokenRequest,
        client: Option<&Client>,
        trace: &mut Trace,
    ) -> Result<(), ClientAuthError> {
        if client.is_some_and(|c| c.auth_method != AuthMethod::None) {
            return Ok(());
        }
        let stated = match request.grant_type {
            GrantType::JwtBearer => grant::jwt::peek_issuer(&request.assertion),
            GrantType::Saml2Bearer => grant::saml2::peek_issuer(&request.assertion),
            GrantType::RefreshToken => None,
        };
        match stated.and_then(|iss| self.config.trusted_issuer(&iss)) {
            Some((index, _)) => self.unsigned_binding(client, index, trace),
            None => Ok(()),
        }
    }

    /// The grant's format-specific first half, up to its signature check.
    fn begin_grant(
        &self,
        request: &TokenRequest,
        remote: &EndpointKeys<'_>,
        trace: &mut Trace,
    ) -> Result<(GrantPending, SignatureCheck), GrantError> {
        let config = &self.config;
        match request.grant_type {
            GrantType::JwtBearer => grant::jwt::begin(config, &request.assertion, remote, trace)
                .map(|(p, check)| (GrantPending::Jwt(p), check)),
            GrantType::Saml2Bearer => {
                grant::saml2::begin(config, &request.assertion, ReplayKind::Grant, remote, trace)
                    .map(|(p, check)| (GrantPending::Saml(p), check))
            }
            // Refresh requests never reach the grant step (`refresh_step`).
            GrantType::RefreshToken => Err(GrantError::Missing("assertion")),
        }
    }

    /// Every client, once the stated issuer is known and still before any
    /// signature work: a client bound to other issuers learns nothing about
    /// whether an assertion from this one would verify.
    fn issuer_binding_before_signature(
        &self,
        pending: &GrantPending,
        client: Option<&Client>,
        trace: &mut Trace,
    ) -> Result<(), OAuthError> {
        let index = match pending {
            GrantPending::Jwt(p) => p.issuer(),
            GrantPending::Saml(p) => p.issuer(),
        };
        Ok(self.unsigned_binding(client, index, trace)?)
    }

    /// The binding before any signature work (`client.issuer_binding_unsigned`),
    /// recorded in the trace when it fails.
    fn unsigned_binding(
        &self,
        client: Option<&Client>,
        index: usize,
        trace: &mut Trace,
    ) -> Result<(), ClientAuthError> {
        let issuer = &self.config.issuers[index];
        binding(client, index, issuer).inspect_err(|e| {
            trace.fail(CheckId::ClientIssuerUnsigned, e.reason(), || {
                format!("the assertion names {:?}: {e}", issuer.issuer)
            });
        })
    }

    /// The grant is verified: lifetime, binding, scope and claim policy,
    /// and the replay keys to claim.
    fn grant_validated(
        &self,
        request: &TokenRequest,
        client: ClientOutcome,
        grant: ValidatedGrant,
        proof: Option<VerifiedProof>,
        now: i64,
        trace: &mut Trace,
    ) -> Result<PendingToken, OAuthError> {
        let client_ref = client.client.map(|i| &self.config.clients[i]);
        if let Some(c) = client_ref.filter(|c| c.dpop_bound) {
            let r = if proof.is_some() {
                Ok(())
            } else {
                Err(DpopError::Required)
            };
            trace
                .check(CheckId::DpopRequired, r, |_| {
                    format!("{:?} must use DPoP, and sent a proof", c.client_id)
                })
                .map_err(|e| self.dpop_refusal(e, now))?;
        }
        if let Some(jag) = &grant.id_jag {
            self.id_jag_binding(jag, client_ref, proof.as_ref(), trace)?;
        }
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
            trace.fail(CheckId::TokenLifetime, Reason::AssertionExpired, || {
                format!(
                    "the assertion expires {}, not after now {}",
                    utc(grant.expires_at),
                    utc(now)
                )
            });
            return Err(GrantError::Time(TimeError::Expired).into());
        }
        let issuer = &self.config.issuers[grant.issuer];
        let bound = binding(client_ref, grant.issuer, issuer);
        trace.check(CheckId::ClientIssuer, bound, |_| match client_ref {
            Some(c) => format!(
                "{:?} may present assertions from {:?}",
                c.client_id, issuer.issuer
            ),
            None => format!("{:?} allows grants without a client", issuer.issuer),
        })?;
        // An ID-JAG's scope is one more ceiling (draft §4.4.1: the granted
        // scope may be a subset of it, never more).
        let jag_scope = grant.id_jag.as_ref().and_then(|j| j.scope.as_ref());
        let ceiling = match (issuer.scope.as_ref(), jag_scope) {
            (Some(i), Some(j)) => Some(std::borrow::Cow::Owned(i.intersect(j))),
            (Some(i), None) => Some(std::borrow::Cow::Borrowed(i)),
            (None, Some(j)) => Some(std::borrow::Cow::Borrowed(j)),
            (None, None) => None,
        };
        let scope = policy::decide_scope(
            request.scope.as_ref(),
            client_ref.map(|c| &c.scope),
            ceiling.as_deref(),
            self.config.scope_policy,
        );
        let scope = trace.check(CheckId::Scope, scope, |g| {
            format!(
                "requested {:?}; granted {:?} (client allowance {:?}, issuer ceiling {:?}, policy {:?})",
                request.scope.as_ref().map(ScopeSet::to_scope_string),
                g.granted.to_scope_string(),
                client_ref.map(|c| c.scope.to_scope_string()),
                ceiling.as_deref().map(ScopeSet::to_scope_string),
                self.config.scope_policy
            )
        })?;
        let jag_resources = grant.id_jag.as_ref().map_or(&[][..], |j| &j.resources[..]);
        let audience = self.target(&request.resources, jag_resources, trace)?;
        // The token's subject: the issuer's namespace, then the asserted
        // subject; bounded so a trusted issuer cannot make tokens too large
        // for the headers resource servers accept.
        let limits = &self.config.access_token;
        let token_subject = match &issuer.subject_prefix {
            Some(prefix) => format!("{prefix}{}", grant.subject),
            None => grant.subject.clone(),
        };
        if token_subject.len() > limits.max_subject_bytes {
            trace.fail(CheckId::TokenSubject, Reason::AssertionSubjectTooLong, || {
                format!(
                    "the subject with its prefix is {} bytes, more than access_token.max_subject_bytes {}",
                    token_subject.len(),
                    limits.max_subject_bytes
                )
            });
            return Err(GrantError::SubjectTooLong.into());
        }
        trace.pass(CheckId::TokenSubject, || {
            format!(
                "sub {token_subject:?} ({} bytes, at most {}; prefix {:?}), vouched for by {:?} (idp claim)",
                token_subject.len(),
                limits.max_subject_bytes,
                issuer.subject_prefix,
                issuer.issuer
            )
        });
        let mapped_claims =
            policy::map_claims(&issuer.claims, &grant.claims, grant.name_id_format());
        // What the issuer adds to the token: its mapped claims and, for an
        // ID-JAG, the authentication claims the server copies.
        let authentication_bytes = grant.id_jag.as_ref().map_or(0, |j| {
            serde_json::to_string(&j.authentication).map_or(usize::MAX, |s| s.len() - 2)
        });
        let claims_bytes = serde_json::to_string(&mapped_claims)
            .map_or(usize::MAX, |s| s.len() - 2)
            .saturating_add(authentication_bytes);
        if claims_bytes > limits.max_claims_bytes {
            trace.fail(CheckId::ClaimMapping, Reason::AssertionClaimsTooLarge, || {
                format!(
                    "mapped {:?}: {claims_bytes} bytes of JSON, more than access_token.max_claims_bytes {}",
                    mapped_claims.keys().collect::<Vec<_>>(),
                    limits.max_claims_bytes
                )
            });
            return Err(GrantError::ClaimsTooLarge.into());
        }
        if issuer.claims.is_empty() {
            trace.skip(CheckId::ClaimMapping, || {
                "no claims mapped for this issuer".into()
            });
        } else {
            trace.pass(CheckId::ClaimMapping, || {
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
        let (jkt, proof_key) = match proof {
            Some(p) => (Some(p.jkt), Some(p.replay)),
            None => (None, None),
        };
        // The proof's key first: a proof someone else already spent must
        // not cost this request its one-time grant.
        let replay_keys = proof_key
            .into_iter()
            .chain(grant.replay)
            .chain(client.replay)
            .map(|key| ReplayKey {
                partition: partition.clone(),
                ..key
            })
            .collect();
        let family = self.maybe_start_family(
            client_ref,
            issuer,
            grant.id_jag.is_some(),
            FamilyGrant {
                client_id: client_ref.map(|c| c.client_id.clone()).unwrap_or_default(),
                auth_class: client_ref.and_then(auth_class).unwrap_or("none").to_owned(),
                idp: issuer.issuer.clone(),
                subject: token_subject.clone(),
                scope: scope.granted.to_scope_string(),
                claims: mapped_claims.clone(),
                resources: audience.clone(),
                jkt: jkt.clone(),
            },
            &scope.granted,
            grant.expires_at,
            now,
            trace,
        )?;
        let (family_write, refresh_token) = family.unzip();
        let authentication = grant.id_jag.map(|j| j.authentication).unwrap_or_default();
        Ok(PendingToken {
            family_write,
            refresh_token,
            always_cap: false,
            audience,
            authentication,
            jkt,
            endpoint: self.id,
            replay_keys,
            mapped_claims,
            subject: token_subject,
            idp: issuer.issuer.clone(),
            client_id: client_ref.map(|c| c.client_id.clone()),
            scope: scope.granted,
            report_scope: scope.report,
            assertion_expires_at: grant.expires_at,
        })
    }
}

impl TokenEndpoint {
    /// The ID-JAG's client and key binding (draft-ietf-oauth-identity-
    /// assertion-authz-grant §4.4.1, §9.1, §9.8): presented by the
    /// confidential client it names, and with a DPoP proof of the key its
    /// `cnf.jkt` names.
    fn id_jag_binding(
        &self,
        jag: &IdJag,
        client: Option<&Client>,
        proof: Option<&VerifiedProof>,
        trace: &mut Trace,
    ) -> Result<(), OAuthError> {
        let who = match client {
            Some(c) if c.auth_method != AuthMethod::None => Ok(c),
            _ => Err(GrantError::IdJag(
                Reason::IdJagConfidentialClient,
                "an ID-JAG must be presented by an authenticated (confidential) client",
            )),
        }
        .and_then(|c| {
            if c.client_id == jag.client_id {
                Ok(c)
            } else {
                Err(GrantError::IdJag(
                    Reason::IdJagClientMismatch,
                    "client_id does not name the authenticated client",
                ))
            }
        });
        trace.check(CheckId::IdJagClient, who, |c| {
            format!(
                "client_id {:?} is the authenticated client ({})",
                c.client_id,
                c.auth_method.as_str()
            )
        })?;
        let Some(jkt) = &jag.jkt else {
            trace.skip(CheckId::IdJagKeyBinding, || "no cnf.jkt".into());
            return Ok(());
        };
        let bound = match proof {
            Some(p) if p.jkt == *jkt => Ok(()),
            Some(_) => Err(GrantError::IdJag(
                Reason::IdJagKeyBinding,
                "the DPoP proof's key is not the one cnf.jkt names",
            )),
            None => Err(GrantError::IdJag(
                Reason::IdJagKeyBinding,
                "cnf.jkt requires a DPoP proof with that key",
            )),
        };
        trace.check(CheckId::IdJagKeyBinding, bound, |_| {
            format!("the DPoP proof's key is cnf.jkt {jkt}")
        })?;
        Ok(())
    }

    /// The token's audience (RFC 8707 §2): the requested resources, each
    /// one we serve (`access_token.audience` or `.resources`) and, for an
    /// ID-JAG with `resource`, one it names; else the ID-JAG's resources
    /// (each one we serve); else `None`, the default audience.
    fn target(
        &self,
        requested: &[String],
        jag: &[String],
        trace: &mut Trace,
    ) -> Result<Option<Vec<String>>, GrantError> {
        let policy = &self.config.access_token;
        let served = |r: &String| *r == policy.audience || policy.resources.contains(r);
        if requested.is_empty() && jag.is_empty() {
            trace.pass(CheckId::Resource, || {
                format!(
                    "no resource asked for: aud {:?} (access_token.audience)",
                    policy.audience
                )
            });
            return Ok(None);
        }
        let wanted = if requested.is_empty() { jag } else { requested };
        let result = match wanted.iter().find(|r| !served(r)) {
            Some(r) => Err((r.clone(), "is not a resource this server issues tokens for")),
            None => match requested
                .iter()
                .find(|r| !jag.is_empty() && !jag.contains(r))
            {
                Some(r) => Err((r.clone(), "is not among the ID-JAG's resource values")),
                None => Ok(wanted.to_vec()),
            },
        };
        match result {
            Ok(aud) => {
                trace.pass(CheckId::Resource, || format!("aud {aud:?}"));
                Ok(Some(aud))
            }
            Err((r, why)) => {
                trace.fail(CheckId::Resource, Reason::TargetNotAllowed, || {
                    format!("{r:?} {why}")
                });
                Err(GrantError::Target)
            }
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
    /// What the steps so far carry forward.
    carried: Carried,
    stage: Stage,
}

/// What an exchange carries from step to step.
#[derive(Debug, Default)]
struct Carried {
    /// Key sets fetched for this exchange: each at most once, so an
    /// exchange never loops on a source that keeps failing.
    sources: Vec<usize>,
    /// The request's DPoP proof, verified (RFC 9449 §4.3).
    proof: Option<VerifiedProof>,
}

#[derive(Debug)]
enum Stage {
    /// Waiting for the DPoP proof's check.
    Proof {
        request: TokenRequest,
        pending: Box<ProofPending>,
        check: SignatureCheck,
    },
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
    /// Waiting for the host to fetch a key set; then `resume` runs again.
    Keys { need: KeySetNeed, resume: Resume },
    /// Waiting for the host to read a refresh-token family.
    Family {
        request: TokenRequest,
        client: ClientOutcome,
        token: PresentedToken,
    },
    /// Decided.
    Done(Result<PendingToken, OAuthError>),
    /// Refused, with a family record to write all the same (a reused
    /// refresh token revokes its family).
    RefusedWriting {
        error: OAuthError,
        write: FamilyWrite,
    },
    /// A request that is not a token request (revocation, introspection)
    /// answered, with a family record to write and a revocation mark to
    /// claim first, if any.
    Answered {
        response: HttpResponse,
        write: Option<FamilyWrite>,
        mark: Option<ReplayKey>,
    },
    /// Revocation or introspection of one of our access tokens: waiting for
    /// its signature check.
    Own {
        request: TokenRequest,
        client: ClientOutcome,
        own: Box<crate::token::OwnToken>,
        check: SignatureCheck,
    },
    /// Introspection of a verified, unexpired access token: waiting for the
    /// host to say whether it was revoked.
    Revoked {
        key: ReplayKey,
        active: HttpResponse,
    },
}

/// The step that stopped for a key set, to run again from its start.
#[derive(Debug)]
enum Resume {
    /// Client authentication.
    Client { request: TokenRequest },
    /// The grant, with the client already authenticated.
    Grant {
        request: TokenRequest,
        client: ClientOutcome,
    },
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
            carried: Carried::default(),
            stage: Stage::Done(result),
        }
    }
}

impl Exchange {
    /// The signature check to answer next, or `None` when the exchange is
    /// decided.
    pub fn signature_check(&self) -> Option<&SignatureCheck> {
        match &self.stage {
            Stage::Proof { check, .. }
            | Stage::Client { check, .. }
            | Stage::Grant { check, .. }
            | Stage::Own { check, .. } => Some(check),
            Stage::Keys { .. }
            | Stage::Family { .. }
            | Stage::Done(_)
            | Stage::RefusedWriting { .. }
            | Stage::Answered { .. }
            | Stage::Revoked { .. } => None,
        }
    }

    /// The time the exchange runs at.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The key set to fetch next (answer it with
    /// [`TokenEndpoint::key_set_fetched`], then [`Self::resume_keys`]), or
    /// `None`.
    pub fn key_set_need(&self) -> Option<&KeySetNeed> {
        match &self.stage {
            Stage::Keys { need, .. } => Some(need),
            _ => None,
        }
    }

    /// Continues after the host answered [`Self::key_set_need`] (recorded
    /// with [`TokenEndpoint::key_set_fetched`], whatever the fetch gave):
    /// the step that stopped runs again with the key sets as they are now.
    /// Without a pending need this changes nothing.
    pub fn resume_keys(self, endpoint: &TokenEndpoint) -> Self {
        let Self {
            endpoint: began_with,
            now,
            trace,
            mut carried,
            stage,
        } = self;
        if began_with != endpoint.id {
            return endpoint.exchange_done(Err(OAuthError::server_error()), now, trace);
        }
        match stage {
            Stage::Keys { need, resume } => {
                carried.sources.push(need.source);
                match resume {
                    Resume::Client { request } => {
                        endpoint.client_step(request, now, trace, carried)
                    }
                    Resume::Grant { request, client } => {
                        endpoint.client_authenticated(request, Ok(client), now, trace, carried)
                    }
                }
            }
            stage => Self {
                endpoint: began_with,
                now,
                trace,
                carried,
                stage,
            },
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
            carried,
            stage,
        } = self;
        if began_with != endpoint.id {
            // Another endpoint's exchange (a host bug): its references into
            // the configuration mean nothing here.
            return endpoint.exchange_done(Err(OAuthError::server_error()), now, trace);
        }
        let config = &endpoint.config;
        match stage {
            Stage::Proof {
                request,
                pending,
                check: _,
            } => match pending.finish(verified) {
                Ok(proof) => {
                    trace.pass(CheckId::DpopProof, || {
                        format!(
                            "key {} (jkt), iat {}, jti one-time",
                            proof.jkt,
                            utc(proof.iat)
                        )
                    });
                    let carried = Carried {
                        sources: carried.sources,
                        proof: Some(proof),
                    };
                    endpoint.client_step(request, now, trace, carried)
                }
                Err(e) => {
                    trace.fail(CheckId::DpopProof, e.reason(), || e.to_string());
                    let e = endpoint.dpop_refusal(e, now);
                    endpoint.exchange_done(Err(e), now, trace)
                }
            },
            Stage::Own {
                request,
                client,
                own,
                check: _,
            } => endpoint.own_token_verified(request, client, *own, verified, now, trace),
            Stage::Client {
                request,
                pending,
                check: _,
            } => {
                let client = client_auth::finish(
                    config,
                    *pending,
                    verified,
                    request.client_grant_type(),
                    now,
                );
                endpoint.client_authenticated(request, client, now, trace, carried)
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
                let proof = carried.proof;
                let result = grant.map_err(OAuthError::from).and_then(|g| {
                    endpoint.grant_validated(&request, client, g, proof, now, &mut trace)
                });
                endpoint.exchange_done(result, now, trace)
            }
            other @ (Stage::Done(_)
            | Stage::Keys { .. }
            | Stage::Family { .. }
            | Stage::RefusedWriting { .. }
            | Stage::Answered { .. }
            | Stage::Revoked { .. }) => Self {
                endpoint: began_with,
                now,
                trace,
                carried,
                stage: other,
            },
        }
    }

    /// The decision: a [`PendingToken`] whose replay keys the host claims
    /// before [`TokenEndpoint::issue`], or the error to answer. Asked while
    /// a check is still pending, it is `server_error` (a host bug).
    pub fn outcome(self) -> Result<PendingToken, OAuthError> {
        match self.stage {
            Stage::Done(result) => result,
            Stage::RefusedWriting { error, .. } => Err(error),
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
            Stage::RefusedWriting { error, .. } => Err(error),
            _ => Err(OAuthError::server_error()),
        };
        let result = result.and_then(|pending| {
            for key in pending.replay_keys() {
                let used = is_used(&key.key);
                let which = match key.kind {
                    ReplayKind::Grant => "the assertion",
                    ReplayKind::ClientAssertion => "the client assertion",
                    ReplayKind::DpopProof => "the DPoP proof",
                    ReplayKind::RevokedAccessToken => "the revoked access token",
                };
                let outcome: Result<(), Replayed> = if used {
                    Err(Replayed(key.kind))
                } else {
                    Ok(())
                };
                trace.result(CheckId::OneTimeUse, &outcome, || {
                    format!(
                        "{which} {} (kept until {})",
                        if used {
                            "was already used"
                        } else {
                            "has not been used"
                        },
                        utc(key.expires_at)
                    )
                });
                if used {
                    return Err(TokenEndpoint::replay_rejected(key));
                }
            }
            if pending.replay_keys().is_empty() {
                trace.skip(CheckId::OneTimeUse, || "no assertion id to track".into());
            }
            let (claims, _) =
                endpoint.token_claims(&pending, now, "(jti chosen at issue)".into())?;
            trace.pass(CheckId::TokenSigned, || {
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

/// How a client authenticated, as a refresh-token family records it: a
/// refresh must authenticate the same way (`None` for a public client).
fn auth_class(client: &Client) -> Option<&'static str> {
    match client.auth_method {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => Some("secret"),
        AuthMethod::PrivateKeyJwt => Some("private_key_jwt"),
        AuthMethod::Saml2Bearer => Some("saml2_bearer"),
        AuthMethod::None => None,
    }
}

impl TokenEndpoint {
    /// A `refresh_token` grant once the client is authenticated: the token
    /// must be of our form and the client confidential (families are only
    /// ever issued to those); then the host reads the family.
    fn refresh_step(
        &self,
        request: TokenRequest,
        client: ClientOutcome,
        now: i64,
        mut trace: Trace,
        carried: Carried,
    ) -> Exchange {
        let confidential = client
            .client
            .map(|i| &self.config.clients[i])
            .is_some_and(|c| auth_class(c).is_some());
        let token = request
            .refresh_token
            .as_deref()
            .and_then(PresentedToken::parse)
            .ok_or(RefreshError::Malformed)
            .and_then(|t| {
                if confidential {
                    Ok(t)
                } else {
                    Err(RefreshError::ClientMismatch)
                }
            });
        if request.revocation || request.introspection {
            return self.management_step(request, client, token, now, trace, carried);
        }
        if !confidential {
            // Refresh tokens are only ever issued to confidential clients.
            let e = ClientAuthError::Required;
            trace.fail(CheckId::RefreshToken, e.reason(), || {
                "a refresh needs an authenticated (confidential) client".into()
            });
            return self.exchange_done(Err(e.into()), now, trace);
        }
        let token = trace.check(CheckId::RefreshToken, token, |t| {
            format!("a refresh token of family {}", t.family())
        });
        match token {
            Ok(token) => Exchange {
                endpoint: self.id,
                now,
                trace,
                carried,
                stage: Stage::Family {
                    request,
                    client,
                    token,
                },
            },
            Err(e) => self.exchange_done(Err(refresh_error(e)), now, trace),
        }
    }

    /// A new family for a grant that may be refreshed, or `None`: the
    /// host stores families, the client is confidential and may use
    /// `refresh_token`, the issuer allows it, the grant is no ID-JAG, and
    /// the scope has `offline_access` (unless not required).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn maybe_start_family(
        &self,
        client: Option<&Client>,
        issuer: &TrustedIssuer,
        id_jag: bool,
        grant: FamilyGrant,
        scope: &ScopeSet,
        assertion_expires_at: i64,
        now: i64,
        trace: &mut Trace,
    ) -> Result<Option<(FamilyWrite, String)>, OAuthError> {
        let refresh = &self.config.refresh;
        let why_not = match client {
            _ if !self.refresh_families => Some("this host does not store refresh-token families"),
            None => Some("no client"),
            Some(c) if auth_class(c).is_none() => Some("public clients get none"),
            Some(c) if !c.grant_types.iter().any(|g| g == GRANT_REFRESH_TOKEN) => {
                Some("the client's grant_types do not include refresh_token")
            }
            _ if !issuer.allow_refresh_tokens => {
                Some("the issuer does not set allow_refresh_tokens")
            }
            _ if id_jag => Some("never for an ID-JAG grant"),
            _ if refresh.require_offline_access && !scope.contains(SCOPE_OFFLINE_ACCESS) => {
                Some("the granted scope has no offline_access")
            }
            _ => None,
        };
        if let Some(why) = why_not {
            // Reported only where the configuration asks for refresh
            // tokens at all (the issuer or the client opts in).
            let asked = issuer.allow_refresh_tokens
                || client.is_some_and(|c| c.grant_types.iter().any(|g| g == GRANT_REFRESH_TOKEN));
            if asked {
                trace.skip(CheckId::RefreshToken, || format!("no refresh token: {why}"));
            }
            return Ok(None);
        }
        let cap = refresh
            .cap_at_assertion_expiry
            .then_some(assertion_expires_at);
        let (state, token) = refresh::start(grant, now, refresh.policy, cap)
            .map_err(|_| OAuthError::server_error())?;
        trace.pass(CheckId::RefreshToken, || {
            format!(
                "a refresh token: new family, until {} (idle {} s)",
                utc(state.expires_at),
                refresh.policy.idle
            )
        });
        Ok(Some((
            FamilyWrite::of(&state, 0).map_err(|_| OAuthError::server_error())?,
            token,
        )))
    }
}

/// The endpoint's answer to a refused refresh: `invalid_scope` for a
/// widened scope, `invalid_grant` otherwise (RFC 6749 §5.2).
fn refresh_error(e: RefreshError) -> OAuthError {
    OAuthError::refresh(e)
}

impl Exchange {
    /// The answer of a decided request that is not a token request (a
    /// revocation, RFC 7009): send it (after writing [`Self::family_write`],
    /// if any) instead of asking for [`Self::outcome`].
    pub fn answer(&self) -> Option<&HttpResponse> {
        match &self.stage {
            Stage::Answered { response, .. } => Some(response),
            _ => None,
        }
    }

    /// The revocation mark to claim before sending [`Self::answer`] (an
    /// access token revoked until its `exp`, RFC 7009): claim it in the
    /// replay store; an entry already there is fine.
    pub fn revocation_mark(&self) -> Option<&ReplayKey> {
        match &self.stage {
            Stage::Answered { mark, .. } => mark.as_ref(),
            _ => None,
        }
    }

    /// The revocation mark an introspection needs read (is this key held in
    /// the replay store?); answer with [`Self::resume_revoked`].
    pub fn revoked_need(&self) -> Option<&ReplayKey> {
        match &self.stage {
            Stage::Revoked { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Continues an introspection with whether [`Self::revoked_need`] is
    /// held in the host's store.
    pub fn resume_revoked(self, endpoint: &TokenEndpoint, revoked: bool) -> Self {
        match self.stage {
            Stage::Revoked { active, .. } if self.endpoint == endpoint.id => {
                let response = if revoked {
                    HttpResponse::json(200, r#"{"active":false}"#.into())
                } else {
                    active
                };
                Self {
                    stage: Stage::Answered {
                        response,
                        write: None,
                        mark: None,
                    },
                    ..self
                }
            }
            stage => Self { stage, ..self },
        }
    }

    /// The refresh-token family the host must read next (its id: one
    /// Durable Object per family in the Worker), or `None`. Answer with
    /// [`Self::resume_family`].
    pub fn family_need(&self) -> Option<&str> {
        match &self.stage {
            Stage::Family { token, .. } => Some(token.family()),
            _ => None,
        }
    }

    /// The family record to write once the request is decided: with a
    /// successful outcome after its replay keys were claimed and before
    /// the token is issued; with a refusal (a reused token revokes its
    /// family) before answering. Write it only if the stored version is
    /// still [`FamilyWrite::expected_version`] (compare and swap).
    pub fn family_write(&self) -> Option<&FamilyWrite> {
        match &self.stage {
            Stage::Done(Ok(p)) => p.family_write.as_ref(),
            Stage::RefusedWriting { write, .. } => Some(write),
            Stage::Answered { write, .. } => write.as_ref(),
            _ => None,
        }
    }

    /// Continues after the host read [`Self::family_need`]: `stored` is the
    /// record's JSON as last written, or `None` when there is none.
    pub fn resume_family(self, endpoint: &TokenEndpoint, stored: Option<&str>) -> Self {
        let Self {
            endpoint: began_with,
            now,
            mut trace,
            carried,
            stage,
        } = self;
        if began_with != endpoint.id {
            return endpoint.exchange_done(Err(OAuthError::server_error()), now, trace);
        }
        let Stage::Family {
            request,
            client,
            token,
        } = stage
        else {
            return Self {
                endpoint: began_with,
                now,
                trace,
                carried,
                stage,
            };
        };
        // Through the strict parser and the `Value` deserializer the
        // configuration already uses (no second JSON parser in the module).
        let state = stored
            .and_then(|json| crate::json::parse(json.as_bytes()).ok())
            .and_then(|value| serde_json::from_value::<FamilyState>(value).ok());
        let Some(state) = state else {
            if request.revocation {
                return endpoint.answered(now, trace, None);
            }
            if request.introspection {
                return endpoint.answered_json(now, trace, serde_json::json!({"active": false}));
            }
            trace.fail(CheckId::RefreshFamily, Reason::RefreshUnknown, || {
                "no such family".into()
            });
            return endpoint.exchange_done(Err(refresh_error(RefreshError::Unknown)), now, trace);
        };
        let config = &endpoint.config;
        let Some(client_ref) = client.client.map(|i| &config.clients[i]) else {
            return endpoint.exchange_done(Err(OAuthError::server_error()), now, trace);
        };
        if request.introspection {
            let response = if refresh::is_active(&state, &token, now) {
                let g = &state.grant;
                serde_json::json!({
                    "active": true,
                    "token_type": "refresh_token",
                    "client_id": g.client_id,
                    "sub": g.subject,
                    "scope": g.scope,
                    "iss": config.issuer(),
                    "iat": state.created_at,
                    "exp": state.expires_at.min(state.idle_until),
                    crate::protocol::IDP_CLAIM: g.idp,
                })
            } else {
                serde_json::json!({"active": false})
            };
            return endpoint.answered_json(now, trace, response);
        }
        if request.revocation {
            let revoked = refresh::revoke_presented(&state, &token, &client_ref.client_id, now);
            let write = match revoked
                .map(|r| FamilyWrite::of(&r, state.version))
                .transpose()
            {
                Ok(w) => w,
                Err(_) => {
                    return endpoint.exchange_done(Err(OAuthError::server_error()), now, trace);
                }
            };
            trace.pass(CheckId::RefreshFamily, || {
                if write.is_some() {
                    "the family is revoked".into()
                } else {
                    "nothing to revoke (not this client's, or already revoked)".into()
                }
            });
            return endpoint.answered(now, trace, write);
        }
        let proof = carried.proof;
        let who = Presenter {
            client_id: &client_ref.client_id,
            auth_class: auth_class(client_ref).unwrap_or("none"),
            jkt: proof.as_ref().map(|p| p.jkt.as_str()),
        };
        let outcome = refresh::refresh(
            &state,
            &token,
            who,
            request.scope.as_ref(),
            now,
            config.refresh.policy,
        );
        let result = match outcome {
            Err(_) => Err(OAuthError::server_error()),
            Ok(RefreshOutcome::Refused(e)) => {
                trace.fail(CheckId::RefreshFamily, e.reason(), || e.to_string());
                Err(refresh_error(e))
            }
            Ok(RefreshOutcome::ReuseDetected { state: revoked }) => {
                trace.fail(CheckId::RefreshFamily, Reason::RefreshReused, || {
                    "a rotated-out token: the family is revoked".into()
                });
                return match FamilyWrite::of(&revoked, state.version)
                    .map_err(|_| OAuthError::server_error())
                {
                    Ok(write) => Self {
                        endpoint: began_with,
                        now,
                        trace,
                        carried: Carried::default(),
                        stage: Stage::RefusedWriting {
                            error: refresh_error(RefreshError::Reused),
                            write,
                        },
                    },
                    Err(e) => endpoint.exchange_done(Err(e), now, trace),
                };
            }
            // The checks below run only once the token matched the family's
            // current one (so reuse is always detected first), and write
            // nothing.
            Ok(RefreshOutcome::Rotated { .. }) if client_ref.dpop_bound && proof.is_none() => {
                trace.fail(CheckId::DpopRequired, Reason::DpopRequired, || {
                    format!("{:?} must use DPoP", client_ref.client_id)
                });
                Err(endpoint.dpop_refusal(DpopError::Required, now))
            }
            Ok(RefreshOutcome::Rotated { .. })
                if !config
                    .trusted_issuer(&state.grant.idp)
                    .is_some_and(|(index, i)| {
                        i.allow_refresh_tokens && binding(Some(client_ref), index, i).is_ok()
                    }) =>
            {
                // Checked after the token matched, so a withdrawn issuer's
                // family still detects reuse; nothing is written.
                let e = RefreshError::IssuerWithdrawn;
                trace.fail(CheckId::RefreshFamily, e.reason(), || {
                    format!(
                        "{:?} is no longer allowed to back refreshes",
                        state.grant.idp
                    )
                });
                Err(refresh_error(e))
            }
            Ok(RefreshOutcome::Rotated {
                state: next,
                token: new_token,
            }) => {
                trace.pass(CheckId::RefreshFamily, || {
                    format!(
                        "rotated (version {} → {}), family until {}",
                        state.version,
                        next.version,
                        utc(next.expires_at)
                    )
                });
                endpoint.refreshed(
                    &request,
                    client_ref,
                    client.replay.clone(),
                    &state,
                    next,
                    new_token,
                    proof,
                    &mut trace,
                )
            }
        };
        endpoint.exchange_done(result, now, trace)
    }
}

impl TokenEndpoint {
    /// The pending token of a rotated family: what the family carries, the
    /// requested (narrower) scope, the request's DPoP key.
    #[allow(clippy::too_many_arguments)]
    fn refreshed(
        &self,
        request: &TokenRequest,
        client: &Client,
        client_assertion: Option<ReplayKey>,
        before: &FamilyState,
        after: FamilyState,
        token: String,
        proof: Option<VerifiedProof>,
        trace: &mut Trace,
    ) -> Result<PendingToken, OAuthError> {
        let grant = &after.grant;
        // The family's scope (or the narrower one asked for), within what
        // the client and the issuer allow today.
        let family_scope = ScopeSet::parse(&grant.scope).unwrap_or_default();
        let base = request.scope.clone().unwrap_or(family_scope);
        let mut granted = base.intersect(&client.scope);
        if let Some((_, issuer)) = self.config.trusted_issuer(&grant.idp)
            && let Some(ceiling) = &issuer.scope
        {
            granted = granted.intersect(ceiling);
        }
        let report = request.scope.is_none() || !granted.same_as(&base);
        if request.scope.is_some()
            && (granted.is_empty()
                || (self.config.scope_policy == policy::ScopePolicy::Reject
                    && !granted.same_as(&base)))
        {
            return Err(OAuthError::refresh(RefreshError::ScopeWidened));
        }
        // RFC 8707 on a refresh: only resources the family was for.
        let family_resources = grant
            .resources
            .clone()
            .unwrap_or_else(|| vec![self.config.access_token.audience.clone()]);
        let served = |r: &String| {
            *r == self.config.access_token.audience
                || self.config.access_token.resources.contains(r)
        };
        let audience = if request.resources.is_empty()
            && grant
                .resources
                .as_ref()
                .is_none_or(|rs| rs.iter().all(served))
        {
            grant.resources.clone()
        } else if !request.resources.is_empty()
            && request
                .resources
                .iter()
                .all(|r| family_resources.contains(r) && served(r))
        {
            Some(request.resources.clone())
        } else {
            trace.fail(CheckId::Resource, Reason::TargetNotAllowed, || {
                format!(
                    "asked {:?}; the family is for {family_resources:?}",
                    request.resources
                )
            });
            return Err(GrantError::Target.into());
        };
        let scope = granted;
        let (jkt, proof_key) = match proof {
            Some(p) => (Some(p.jkt), Some(p.replay)),
            None => (None, None),
        };
        let partition = replay::partition(Some(&client.client_id), &grant.idp, None);
        // The proof, then the client assertion: one-time on a refresh too.
        let replay_keys = proof_key
            .into_iter()
            .chain(client_assertion)
            .map(|key| ReplayKey {
                partition: partition.clone(),
                ..key
            })
            .collect();
        Ok(PendingToken {
            endpoint: self.id,
            replay_keys,
            subject: grant.subject.clone(),
            idp: grant.idp.clone(),
            client_id: Some(client.client_id.clone()),
            scope,
            report_scope: report,
            mapped_claims: grant.claims.clone(),
            // A refreshed token never outlives its family.
            assertion_expires_at: after.expires_at,
            always_cap: true,
            audience,
            authentication: serde_json::Map::new(),
            jkt,
            family_write: Some(
                FamilyWrite::of(&after, before.version).map_err(|_| OAuthError::server_error())?,
            ),
            refresh_token: Some(token),
        })
    }
}

impl TokenEndpoint {
    /// RFC 7009 §2.2: 200 with an empty JSON object, whatever was (or was
    /// not) revoked.
    fn answered(&self, now: i64, trace: Trace, write: Option<FamilyWrite>) -> Exchange {
        Exchange {
            endpoint: self.id,
            now,
            trace,
            carried: Carried::default(),
            stage: Stage::Answered {
                response: HttpResponse::json(200, "{}".into()),
                write,
                mark: None,
            },
        }
    }

    /// A revocation or introspection request once the client is
    /// authenticated: one of our refresh tokens → read its family; one of
    /// our access tokens → check its signature; anything else → 200
    /// (revocation, RFC 7009 §2.2) or `active: false` (RFC 7662 §2.2).
    fn management_step(
        &self,
        request: TokenRequest,
        client: ClientOutcome,
        token: Result<PresentedToken, RefreshError>,
        now: i64,
        mut trace: Trace,
        carried: Carried,
    ) -> Exchange {
        let client_ref = client.client.map(|i| &self.config.clients[i]);
        if request.introspection
            && !client_ref.is_some_and(|c| c.allow_introspection && auth_class(c).is_some())
        {
            let e = ClientAuthError::IntrospectionNotAllowed;
            trace.fail(CheckId::RefreshToken, e.reason(), || e.to_string());
            return self.exchange_done(Err(e.into()), now, trace);
        }
        if let Ok(token) = token {
            trace.pass(CheckId::RefreshToken, || {
                format!("a refresh token of family {}", token.family())
            });
            return Exchange {
                endpoint: self.id,
                now,
                trace,
                carried,
                stage: Stage::Family {
                    request,
                    client,
                    token,
                },
            };
        }
        let presented = request.refresh_token.as_deref().unwrap_or_default();
        let kids: Vec<&str> = self.keys.iter().map(|k| k.public.kid.as_str()).collect();
        if let Some(own) = crate::token::parse_own(presented, &kids) {
            let check = SignatureCheck::new(
                crate::crypto::Algorithm::ES256,
                [crate::crypto::seam::KeyRef::Own(own.key)],
                own.signing_input.clone().into_bytes(),
                own.signature.clone(),
            );
            return Exchange {
                endpoint: self.id,
                now,
                trace,
                carried,
                stage: Stage::Own {
                    request,
                    client,
                    own: Box::new(own),
                    check,
                },
            };
        }
        trace.skip(CheckId::RefreshToken, || {
            "not a token of this server: nothing to do".into()
        });
        if request.introspection {
            self.answered_json(now, trace, serde_json::json!({"active": false}))
        } else {
            self.answered(now, trace, None)
        }
    }

    /// An answer with a JSON body (introspection).
    fn answered_json(&self, now: i64, trace: Trace, body: serde_json::Value) -> Exchange {
        Exchange {
            endpoint: self.id,
            now,
            trace,
            carried: Carried::default(),
            stage: Stage::Answered {
                response: HttpResponse::json(200, body.to_string()),
                write: None,
                mark: None,
            },
        }
    }

    /// One of our access tokens, its signature answered: revocation marks
    /// its `jti` revoked until `exp` (if it is the client's); introspection
    /// asks the host whether it was revoked.
    fn own_token_verified(
        &self,
        request: TokenRequest,
        client: ClientOutcome,
        own: crate::token::OwnToken,
        verified: bool,
        now: i64,
        trace: Trace,
    ) -> Exchange {
        let claims = &own.claims;
        let exp = claims.get("exp").and_then(serde_json::Value::as_i64);
        let jti = claims.get("jti").and_then(serde_json::Value::as_str);
        let (Some(exp), Some(jti), true) = (exp, jti, verified) else {
            return self.inactive(&request, now, trace);
        };
        if exp <= now {
            return self.inactive(&request, now, trace);
        }
        let client_ref = client.client.map(|i| &self.config.clients[i]);
        let partition = replay::partition(client_ref.map(|c| c.client_id.as_str()), "", None);
        let mut key = ReplayKey::revoked_access_token(jti, exp);
        key.partition = partition;
        if request.revocation {
            let theirs = client_ref.is_some_and(|c| {
                claims.get("client_id").and_then(serde_json::Value::as_str)
                    == Some(c.client_id.as_str())
            });
            let mut exchange = self.answered(now, trace, None);
            if theirs && let Stage::Answered { mark, .. } = &mut exchange.stage {
                *mark = Some(key);
            }
            return exchange;
        }
        let mut body = serde_json::Map::new();
        body.insert("active".into(), serde_json::json!(true));
        body.insert(
            "token_type".into(),
            serde_json::json!(if claims.contains_key("cnf") {
                "DPoP"
            } else {
                "Bearer"
            }),
        );
        for name in [
            "scope",
            "client_id",
            "sub",
            "aud",
            "iss",
            "exp",
            "iat",
            "jti",
            "cnf",
            crate::protocol::IDP_CLAIM,
        ] {
            if let Some(v) = claims.get(name) {
                body.insert(name.into(), v.clone());
            }
        }
        Exchange {
            endpoint: self.id,
            now,
            trace,
            carried: Carried::default(),
            stage: Stage::Revoked {
                key,
                active: HttpResponse::json(200, serde_json::Value::Object(body).to_string()),
            },
        }
    }

    fn inactive(&self, request: &TokenRequest, now: i64, trace: Trace) -> Exchange {
        if request.introspection {
            self.answered_json(now, trace, serde_json::json!({"active": false}))
        } else {
            self.answered(now, trace, None)
        }
    }

    /// Starts an introspection request (RFC 7662 §2.1) at `now`: the client
    /// authenticates as at the token endpoint and must have
    /// `allow_introspection`; then one of our refresh tokens' family is read
    /// ([`Exchange::family_need`]), or one of our access tokens' signature
    /// checked and its revocation mark read ([`Exchange::revoked_need`]);
    /// the answer is [`Exchange::answer`].
    pub fn begin_introspection(&self, req: &HttpRequest<'_>, now: i64) -> Exchange {
        self.begin_management(request::parse_introspection_request(req), now)
    }

    /// A revocation or introspection request, parsed: the client step
    /// next (no DPoP: these endpoints issue nothing to bind).
    fn begin_management(
        &self,
        request: Result<TokenRequest, request::RequestError>,
        now: i64,
    ) -> Exchange {
        let mut trace = Trace::off();
        let request = trace.check(CheckId::Request, request, |_| {
            "POST form with a token".into()
        });
        match request {
            Ok(mut r) => {
                r.dpop = None;
                self.client_step(r, now, trace, Carried::default())
            }
            Err(e) => self.exchange_done(Err(e.into()), now, trace),
        }
    }

    /// Starts a revocation request (RFC 7009 §2.1) at `now`: the client is
    /// authenticated as at the token endpoint (answer its
    /// [`Exchange::signature_check`] and key-set needs), then a refresh
    /// token's family is read ([`Exchange::family_need`]) and, if it is the
    /// client's, revoked ([`Exchange::family_write`]); the answer is
    /// [`Exchange::answer`] (or the error of [`Exchange::outcome`]).
    pub fn begin_revocation(&self, req: &HttpRequest<'_>, now: i64) -> Exchange {
        self.begin_management(request::parse_revocation_request(req), now)
    }
}
