//! Client authentication at the token endpoint (RFC 6749 §2.3; RFC 7521
//! §4.2; RFC 7523 §2.2, §3).

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::fmt;
use subtle::ConstantTimeEq;

use crate::config::{AuthMethod, Config};
use crate::crypto::Algorithm;
use crate::crypto::seam::{KeyOwner, SignatureCheck};
use crate::explain::Trace;
use crate::grant::{GrantError, TimeRules, jwt, saml2};
use crate::jose::{self, JoseError, UnverifiedJws};
use crate::keyset::{self, RemoteKeys};
use crate::limits::DEFAULT_MAX_LIFETIME_SECS;
use crate::reason::Reason;
use crate::replay::{ReplayKey, ReplayKind};
use crate::request::{Credentials, GrantType};

/// Why client authentication (or the client's authorization) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuthError {
    /// Unknown client, wrong secret, or a method the client is not
    /// registered for. One opaque answer for all three.
    Failed {
        /// The client tried HTTP Basic (so the 401 carries
        /// `WWW-Authenticate: Basic`).
        via_header: bool,
        /// Which of them, for explain reports and logs only.
        reason: Reason,
    },
    /// The client's JWT assertion was refused (RFC 7523 §3): the rule and
    /// the public description.
    Assertion(Reason, Cow<'static, str>),
    /// No client identified itself, but the assertion's issuer requires one
    /// (`require_client`). Checked before the assertion's signature, so an
    /// anonymous caller learns nothing about an assertion it holds.
    Required,
    /// The client may not use this grant type (`unauthorized_client`).
    UnauthorizedGrantType,
    /// The client may not present assertions from this issuer
    /// (`invalid_grant`).
    IssuerNotAllowed,
    /// The client may not introspect (`allow_introspection` is off).
    IntrospectionNotAllowed,
    /// The client's `jwks_uri` must be fetched first, or yields nothing
    /// usable (503).
    KeySet(crate::keyset::KeySetError),
}

impl ClientAuthError {
    /// Whether the failure answers an `Authorization: Basic` attempt.
    pub fn used_authorization_header(&self) -> bool {
        matches!(
            self,
            Self::Failed {
                via_header: true,
                ..
            }
        )
    }

    /// The stable reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Failed { reason, .. } | Self::Assertion(reason, _) => *reason,
            Self::Required => Reason::ClientRequired,
            Self::UnauthorizedGrantType => Reason::ClientGrantType,
            Self::IssuerNotAllowed => Reason::ClientIssuerNotAllowed,
            Self::IntrospectionNotAllowed => Reason::ClientIntrospectionNotAllowed,
            Self::KeySet(e) => crate::reason::Refusal::reason(e),
        }
    }

    /// The opaque failure, sent without the Authorization header.
    fn failed(reason: Reason) -> Self {
        Self::Failed {
            via_header: false,
            reason,
        }
    }
}

crate::reason::refusal!(ClientAuthError);

impl fmt::Display for ClientAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { .. } => f.write_str("client authentication failed"),
            Self::Assertion(_, why) => write!(f, "client assertion rejected: {why}"),
            Self::Required => f.write_str("assertions from this issuer need an identified client"),
            Self::UnauthorizedGrantType => f.write_str("this client may not use this grant type"),
            Self::IntrospectionNotAllowed => {
                f.write_str("this client may not use the introspection endpoint")
            }
            Self::IssuerNotAllowed => {
                f.write_str("this client may not present assertions from this issuer")
            }
            Self::KeySet(e) => write!(f, "{e}"),
        }
    }
}

/// The outcome of client authentication.
#[derive(Debug)]
pub(crate) struct ClientOutcome {
    /// The authenticated (or, for `none`, identified) client, as an index
    /// into `clients`; `None` when the request named no client at all.
    pub client: Option<usize>,
    /// The client assertion's one-time-use key, if one was used.
    pub replay: Option<ReplayKey>,
}

/// Client authentication waiting for the host's answer to its signature
/// check (a `private_key_jwt` or SAML client assertion).
#[derive(Debug)]
pub(crate) enum ClientPending {
    /// RFC 7523 §2.2; `client` is `None` for an unknown client (or one of
    /// another method), whose check names only the decoy key.
    Jwt {
        jws: UnverifiedJws,
        client: Option<usize>,
    },
    /// RFC 7522 §2.2.
    Saml {
        assertion: saml2::SamlPending,
        body_client_id: Option<String>,
    },
}

/// What [`begin`] found.
#[derive(Debug)]
pub(crate) enum ClientBegun {
    /// Authenticated (or refused) without any signature operation.
    Done(ClientOutcome),
    /// A signature check must be answered, then [`finish`].
    Pending(Box<ClientPending>, SignatureCheck),
}

/// Authenticates the client named by `credentials`, up to the signature
/// operation a client assertion needs.
///
/// Secrets are compared as SHA-256 digests in constant time, and an unknown
/// client is compared against a dummy digest, so unknown client, wrong
/// secret and wrong method all cost the same hashing and comparison work.
pub(crate) fn begin(
    config: &Config,
    credentials: &Credentials,
    grant_type: Option<GrantType>,
    remote: &dyn RemoteKeys,
) -> Result<ClientBegun, ClientAuthError> {
    let client = match credentials {
        Credentials::None => {
            return Ok(ClientBegun::Done(ClientOutcome {
                client: None,
                replay: None,
            }));
        }
        Credentials::ClientId(id) => match config.client_index(id) {
            Some(i) if config.clients[i].auth_method == AuthMethod::None => i,
            // A confidential client that did not authenticate gets the same
            // answer as an unknown one (no client enumeration).
            Some(_) => return Err(ClientAuthError::failed(Reason::ClientNotAuthenticated)),
            None => return Err(ClientAuthError::failed(Reason::ClientUnknown)),
        },
        Credentials::Basic { client_id, secret } => {
            check_secret(config, client_id, secret, AuthMethod::ClientSecretBasic).map_err(
                |reason| ClientAuthError::Failed {
                    via_header: true,
                    reason,
                },
            )?
        }
        Credentials::Post { client_id, secret } => {
            check_secret(config, client_id, secret, AuthMethod::ClientSecretPost)
                .map_err(ClientAuthError::failed)?
        }
        Credentials::JwtAssertion {
            assertion,
            client_id,
        } => {
            let (pending, check) =
                begin_jwt_assertion(config, assertion, client_id.as_deref(), remote)?;
            return Ok(ClientBegun::Pending(Box::new(pending), check));
        }
        Credentials::SamlAssertion {
            assertion,
            client_id,
        } => {
            // Opaque on every failure (see `finish_saml_assertion`).
            let (assertion, check) = saml2::begin(
                config,
                assertion,
                ReplayKind::ClientAssertion,
                remote,
                &mut Trace::off(),
            )
            .map_err(|e| match e {
                GrantError::KeySet(e) => ClientAuthError::KeySet(e),
                e => ClientAuthError::failed(e.reason()),
            })?;
            let pending = ClientPending::Saml {
                assertion,
                body_client_id: client_id.clone(),
            };
            return Ok(ClientBegun::Pending(Box::new(pending), check));
        }
    };
    authorized(config, client, grant_type, None).map(ClientBegun::Done)
}

/// Finishes [`begin`] with the host's answer `verified` to its check.
pub(crate) fn finish(
    config: &Config,
    pending: ClientPending,
    verified: bool,
    grant_type: Option<GrantType>,
    now: i64,
) -> Result<ClientOutcome, ClientAuthError> {
    let (client, key) = match pending {
        ClientPending::Jwt { jws, client } => {
            finish_jwt_assertion(config, jws, client, verified, now)?
        }
        ClientPending::Saml {
            assertion,
            body_client_id,
        } => finish_saml_assertion(config, assertion, body_client_id.as_deref(), verified, now)?,
    };
    authorized(config, client, grant_type, Some(key))
}

/// The authenticated client may use this grant type (else
/// `unauthorized_client`).
fn authorized(
    config: &Config,
    client: usize,
    grant_type: Option<GrantType>,
    replay: Option<ReplayKey>,
) -> Result<ClientOutcome, ClientAuthError> {
    // `None`: not a token request (introspection decides on its own
    // allowance).
    if let Some(grant_type) = grant_type
        && !config.clients[client]
            .grant_types
            .iter()
            .any(|g| g == grant_type.as_str())
    {
        return Err(ClientAuthError::UnauthorizedGrantType);
    }
    Ok(ClientOutcome {
        client: Some(client),
        replay,
    })
}

/// A digest no secret is known to hash to, compared against when the client
/// is unknown or registered for another method.
const DUMMY_DIGEST: [u8; 32] = [0x5a; 32];

fn check_secret(
    config: &Config,
    client_id: &str,
    secret: &str,
    method: AuthMethod,
) -> Result<usize, Reason> {
    crate::probe::secret_comparison();
    let presented = Sha256::digest(secret.as_bytes());
    let client = config.client_index(client_id);
    let stored = match client.map(|i| &config.clients[i]) {
        Some(c) if c.auth_method == method => c.secret_sha256,
        _ => None,
    };
    let matches: bool = presented
        .as_slice()
        .ct_eq(&stored.unwrap_or(DUMMY_DIGEST))
        .into();
    match (stored, client) {
        (None, _) | (_, None) => Err(Reason::ClientUnknown),
        (Some(_), Some(i)) if matches => Ok(i),
        (Some(_), Some(_)) => Err(Reason::ClientSecretMismatch),
    }
}

/// RFC 7522 §2.2 and §3: a SAML assertion, valid by every grant rule, whose
/// Subject is the client_id of a `saml2_bearer` client that lists the
/// assertion's issuer among its `trusted_issuers`, with the NameID Format
/// the client is registered for.
///
/// Every failure is the same opaque [`ClientAuthError::Failed`]: whoever
/// holds a stolen SAML assertion learns nothing about it by offering it as
/// a client assertion (not even whether it verified and only the body's
/// `client_id` disagreed).
fn finish_saml_assertion(
    config: &Config,
    assertion: saml2::SamlPending,
    body_client_id: Option<&str>,
    verified: bool,
    now: i64,
) -> Result<(usize, ReplayKey), ClientAuthError> {
    let failed = ClientAuthError::failed;
    let grant = saml2::finish(config, assertion, verified, now, &mut Trace::off())
        .map_err(|e| failed(e.reason()))?;
    if body_client_id.is_some_and(|id| id != grant.subject) {
        return Err(failed(Reason::ClientIdMismatch));
    }
    let index = match config.client_index(&grant.subject) {
        Some(i) if config.clients[i].auth_method == AuthMethod::Saml2Bearer => i,
        _ => return Err(failed(Reason::ClientAssertionSubject)),
    };
    let client = &config.clients[index];
    // The Subject must name an entity (or the client's configured format),
    // so a user whose NameID happens to equal a client_id is not that
    // client. The Format is the signed NameID's own attribute, carried in a
    // field of its own: no Attribute of the assertion can supply it.
    if grant.name_id_format() != Some(client.saml_name_id_format.as_str()) {
        return Err(failed(Reason::ClientAssertionNameIdFormat));
    }
    // Config guarantees saml2_bearer clients name the IdPs that vouch for them.
    if !client
        .trusted_issuers
        .as_ref()
        .is_some_and(|t| t.contains(&grant.issuer))
    {
        return Err(failed(Reason::ClientAssertionIssuer));
    }
    // Every verified SAML grant has a replay key (its ID); never absent.
    let key = grant.replay.ok_or(failed(Reason::ServerError))?;
    Ok((index, key))
}

/// RFC 7523 §3 applied to a client assertion: `iss` = `sub` = client_id,
/// `aud` is exactly our issuer identifier (draft-ietf-oauth-rfc7523bis
/// §5.1; the token endpoint and aliases only for clients registered with
/// `legacy_client_assertion_audience`), `exp` present and near, `jti`
/// present and one-time.
///
/// An unknown client (or one registered for another method) costs one
/// signature verification against a decoy key, like a known client whose
/// `kid` matches, so timing does not reveal which client ids exist.
fn begin_jwt_assertion(
    config: &Config,
    assertion: &str,
    body_client_id: Option<&str>,
    remote: &dyn RemoteKeys,
) -> Result<(ClientPending, SignatureCheck), ClientAuthError> {
    let jws = jose::parse(assertion).map_err(reject)?;
    let claimed = jws.unverified_issuer().ok_or(ClientAuthError::Assertion(
        Reason::JwtClaimMissing,
        "iss is missing".into(),
    ))?;
    if body_client_id.is_some_and(|id| id != claimed) {
        return Err(ClientAuthError::Assertion(
            Reason::ClientIdMismatch,
            "client_id does not match the assertion's iss".into(),
        ));
    }
    let client = config
        .client_index(claimed)
        .filter(|&i| config.clients[i].auth_method == AuthMethod::PrivateKeyJwt);
    // An unknown client has no keys: its check names the decoy key, and
    // `finish_jwt_assertion` refuses it whatever the answer.
    let (owner, keys, source) = match client {
        Some(i) => (
            KeyOwner::Client(i),
            config.clients[i].keys.as_slice(),
            config.clients[i].remote,
        ),
        None => (KeyOwner::Client(usize::MAX), &[][..], None),
    };
    let mut held = None;
    let keys = keyset::view(
        remote,
        &config.key_sources,
        owner,
        keys,
        source,
        jws.kid(),
        &mut held,
        &mut Trace::off(),
    )
    .map_err(ClientAuthError::KeySet)?;
    let check = jws.signature_check(keys, &Algorithm::ALL).map_err(reject)?;
    Ok((ClientPending::Jwt { jws, client }, check))
}

/// A client assertion's JOSE error as a client-authentication failure: a bad
/// signature is the opaque `Failed`, like an unknown client.
fn reject(e: JoseError) -> ClientAuthError {
    match e {
        JoseError::BadSignature => ClientAuthError::failed(Reason::JwtSignatureInvalid),
        other => ClientAuthError::Assertion(other.reason(), Cow::Owned(other.to_string())),
    }
}

/// The second half of the `private_key_jwt` check, over the verified claims.
fn finish_jwt_assertion(
    config: &Config,
    jws: UnverifiedJws,
    client: Option<usize>,
    verified: bool,
    now: i64,
) -> Result<(usize, ReplayKey), ClientAuthError> {
    let Some(index) = client else {
        return Err(ClientAuthError::failed(Reason::ClientUnknown));
    };
    let client = &config.clients[index];
    let verified = jws.into_verified(verified).map_err(reject)?;
    let claims = verified.get();
    let problem =
        |reason: Reason, why: &'static str| ClientAuthError::Assertion(reason, Cow::Borrowed(why));
    if claims.string("iss").map_err(reject)? != Some(client.client_id.as_str())
        || claims.string("sub").map_err(reject)? != Some(client.client_id.as_str())
    {
        return Err(problem(
            Reason::ClientAssertionSubject,
            "iss and sub must both be the client_id",
        ));
    }
    let audiences = claims.audiences().map_err(reject)?;
    let audience_ok = if client.legacy_client_assertion_audience {
        !audiences.is_empty() && audiences.iter().all(|aud| config.is_our_audience(aud))
    } else {
        matches!(audiences.as_slice(), [aud] if config.is_our_issuer(aud))
    };
    if !audience_ok {
        return Err(problem(
            Reason::ClientAssertionAudience,
            "aud must be exactly this authorization server's issuer identifier",
        ));
    }
    let rules = TimeRules {
        now,
        skew: config.clock_skew,
        max_lifetime: DEFAULT_MAX_LIFETIME_SECS,
    };
    // The same RFC 7523 §3 items 4–6 as a grant's, with the client
    // assertion's own wording for the public description.
    let exp = jwt::times(claims, rules, &mut Trace::off()).map_err(|e| match e {
        GrantError::MissingClaim(_) => problem(Reason::JwtClaimMissing, "exp is missing"),
        GrantError::Jose(e) => reject(e),
        GrantError::Time(t) => ClientAuthError::Assertion(t.reason(), Cow::Owned(t.to_string())),
        other => ClientAuthError::Assertion(other.reason(), Cow::Owned(other.to_string())),
    })?;
    let jti = match claims.string("jti").map_err(reject)? {
        Some(j) if !j.is_empty() => j,
        _ => return Err(problem(Reason::JwtClaimMissing, "jti is missing")),
    };
    let key = ReplayKey::new(
        ReplayKind::ClientAssertion,
        &client.client_id,
        jti,
        exp.saturating_add(config.clock_skew),
    );
    Ok((index, key))
}
