//! The one place where internal errors become OAuth errors (RFC 6749 §5.2).
//!
//! Every module reports failures with its own specific error type; the
//! `From` impls below are the only mapping from those to the protocol's
//! error codes and HTTP statuses. Descriptions help a legitimate client fix
//! its request without telling an attacker which key almost matched or
//! whether a client exists.

use std::borrow::Cow;
use std::fmt;

use crate::client_auth::ClientAuthError;
use crate::grant::GrantError;
use crate::keyset::KeySetError;
use crate::policy::ScopeError;
use crate::reason::Reason;
use crate::replay::{ReplayKind, Replayed};
use crate::request::RequestError;
use crate::response::HttpResponse;

/// An RFC 6749 §5.2 error code (plus `server_error`, RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is malformed: missing, repeated or unsupported parameters.
    InvalidRequest,
    /// Client authentication failed (HTTP 401).
    InvalidClient,
    /// The assertion is invalid, expired, replayed or not meant for us
    /// (RFC 7521 §4.1.1).
    InvalidGrant,
    /// The authenticated client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported by this server.
    UnsupportedGrantType,
    /// The requested scope is invalid or exceeds what is allowed.
    InvalidScope,
    /// Something failed on our side; details are never sent to the client.
    ServerError,
    /// A dependency (the replay store) could not answer; retry later
    /// (HTTP 503 with `Retry-After`, RFC 6749 §4.1.2.1's code).
    TemporarilyUnavailable,
    /// Not an RFC 6749 code: the host serves nothing at this path (404).
    NotFound,
    /// The requested resource is unknown or not allowed (RFC 8707 §2).
    InvalidTarget,
    /// `authorization_details` that this server cannot grant (RFC 9396
    /// §5).
    InvalidAuthorizationDetails,
    /// The DPoP proof is invalid (RFC 9449 §5).
    InvalidDpopProof,
    /// The DPoP proof must carry the server nonce sent in `DPoP-Nonce`
    /// (RFC 9449 §8).
    UseDpopNonce,
    /// The server cannot revoke this kind of token (RFC 7009 §2.2.1).
    UnsupportedTokenType,
}

impl ErrorCode {
    /// The wire name, e.g. `"invalid_grant"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::NotFound => "not_found",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidAuthorizationDetails => "invalid_authorization_details",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// The HTTP status RFC 6749 §5.2 prescribes: 401 for `invalid_client`,
    /// 500 for `server_error`, 503 for `temporarily_unavailable`, 400
    /// otherwise.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            Self::NotFound => 404,
            _ => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed token request, ready to be sent: RFC 6749 code, description and
/// HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    code: ErrorCode,
    reason: Reason,
    description: Cow<'static, str>,
    status: u16,
    www_authenticate: bool,
    /// The `Allow` header of a 405.
    allow: Option<&'static str>,
    /// `Retry-After`, in seconds.
    retry_after: Option<i64>,
    /// `DPoP-Nonce`: a fresh server nonce (RFC 9449 §8).
    dpop_nonce: Option<String>,
}

impl OAuthError {
    fn new(code: ErrorCode, reason: Reason, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            reason,
            description: sanitize(description.into()),
            status: code.status(),
            www_authenticate: false,
            allow: None,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    /// `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce` (RFC 9449 §8).
    pub(crate) fn use_dpop_nonce(reason: Reason, nonce: String) -> Self {
        let mut e = Self::new(
            ErrorCode::UseDpopNonce,
            reason,
            "the DPoP proof must carry the nonce this server sent in DPoP-Nonce",
        );
        e.dpop_nonce = Some(nonce);
        e
    }

    /// Adds a fresh server nonce to the response (`DPoP-Nonce`).
    pub(crate) fn with_dpop_nonce(mut self, nonce: Option<String>) -> Self {
        if nonce.is_some() {
            self.dpop_nonce = nonce;
        }
        self
    }

    /// The `DPoP-Nonce` this error response carries, if any.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    /// A masked internal failure: the client learns nothing about the cause.
    pub(crate) fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            Reason::ServerError,
            "the server could not complete the request",
        )
    }

    /// The replay store could not record a one-time-use key (unreachable,
    /// full for this client, or its clock failed): fail closed with 503
    /// `temporarily_unavailable` and `Retry-After: 1`. No token is issued.
    pub fn replay_store_unavailable() -> Self {
        let mut e = Self::new(
            ErrorCode::TemporarilyUnavailable,
            Reason::ServerReplayStore,
            "one-time-use store unavailable, try again",
        );
        e.retry_after = Some(1);
        e
    }

    /// The answer for a path the host does not serve (404 `not_found`).
    pub fn not_found() -> Self {
        Self::new(
            ErrorCode::NotFound,
            Reason::RequestNotFound,
            "no such endpoint",
        )
    }

    /// The answer for a method a document path does not serve (405
    /// `invalid_request`, `Allow: GET, HEAD`): the metadata and the JWKS.
    pub fn document_method_not_allowed() -> Self {
        let mut e = Self::new(
            ErrorCode::InvalidRequest,
            Reason::RequestMethod,
            "method not allowed",
        );
        e.status = 405;
        e.allow = Some("GET, HEAD");
        e
    }

    /// An answer a host sends outside a token exchange, by name:
    /// `server_error`, `not_found`, `document_method_not_allowed`,
    /// `replay_store_unavailable`, `body_too_large`,
    /// `token_method_not_allowed`, `refresh_conflict` (a refresh-token
    /// family write lost its compare and swap), `explain_input` (an admin explain request
    /// that is not `{body, headers?, now?}`); unknown names are
    /// `server_error`. Hosts take every error response from the
    /// core; this is how they get the ones that are not a token request's.
    pub fn host(kind: &str) -> Self {
        match kind {
            "not_found" => Self::not_found(),
            "document_method_not_allowed" => Self::document_method_not_allowed(),
            "replay_store_unavailable" => Self::replay_store_unavailable(),
            "refresh_conflict" => Self::refresh(crate::refresh::RefreshError::Conflict),
            "body_too_large" => RequestError::BodyTooLarge.into(),
            "token_method_not_allowed" => RequestError::MethodNotAllowed.into(),
            "explain_input" => Self::new(
                ErrorCode::InvalidRequest,
                Reason::RequestMalformedBody,
                "expected a JSON object: body (the form body), optional headers and now (seconds)",
            ),
            _ => Self::server_error(),
        }
    }

    /// The RFC 6749 error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The stable reason code: which rule refused the request. For logs,
    /// metrics and explain reports; never part of the public response.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The human-readable `error_description`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The complete HTTP response: JSON body, `Cache-Control: no-store`,
    /// `Pragma: no-cache`, and `WWW-Authenticate: Basic` (RFC 6749 §5.2) when
    /// the client tried the Authorization header.
    pub fn to_http(&self) -> HttpResponse {
        let body = serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        })
        .to_string();
        let mut response = HttpResponse::json(self.status, body);
        response.reason = Some(self.reason.code());
        if self.www_authenticate {
            response.push_header(
                "WWW-Authenticate",
                "Basic realm=\"token\", charset=\"UTF-8\"",
            );
        }
        if let Some(allow) = self.allow {
            response.push_header("Allow", allow);
        }
        if let Some(secs) = self.retry_after {
            response.push_header("Retry-After", &secs.to_string());
        }
        if let Some(nonce) = &self.dpop_nonce {
            response.push_header("DPoP-Nonce", nonce);
        }
        response
    }
}

crate::reason::refusal!(OAuthError);

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl std::error::Error for OAuthError {}

impl From<&OAuthError> for crate::explain::ExplainedError {
    fn from(e: &OAuthError) -> Self {
        Self {
            error: e.code.as_str(),
            reason: e.reason,
            error_description: e.description.to_string(),
            status: e.status,
        }
    }
}

/// RFC 6749 §5.2 limits `error_description` to `%x20-21 / %x23-5B / %x5D-7E`.
fn sanitize(text: Cow<'static, str>) -> Cow<'static, str> {
    let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if text.chars().all(allowed) {
        text
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if allowed(c) { c } else { '?' })
                .collect(),
        )
    }
}

impl From<RequestError> for OAuthError {
    fn from(e: RequestError) -> Self {
        let code = match e {
            RequestError::UnsupportedGrantType => ErrorCode::UnsupportedGrantType,
            RequestError::InvalidScopeSyntax => ErrorCode::InvalidScope,
            RequestError::InvalidResource => ErrorCode::InvalidTarget,
            RequestError::AuthorizationDetails => ErrorCode::InvalidAuthorizationDetails,
            RequestError::MultipleDpopProofs => ErrorCode::InvalidDpopProof,
            _ => ErrorCode::InvalidRequest,
        };
        let mut out = Self::new(code, e.reason(), e.to_string());
        match e {
            RequestError::MethodNotAllowed => {
                out.status = 405;
                out.allow = Some("POST");
            }
            // HTTP's own status for it (RFC 9110 §15.5.14); the OAuth code
            // stays invalid_request. Every host answers the same.
            RequestError::BodyTooLarge => out.status = 413,
            _ => {}
        }
        out
    }
}

/// A key set that could not be had: 503 `temporarily_unavailable` with
/// `Retry-After` (the assertion may be fine; never `invalid_grant`). A
/// fetch still pending when an answer is asked for is a host bug.
impl From<KeySetError> for OAuthError {
    fn from(e: KeySetError) -> Self {
        match e {
            KeySetError::Unavailable { retry_after, .. } => {
                let mut out = Self::new(
                    ErrorCode::TemporarilyUnavailable,
                    Reason::ServerKeySetUnavailable,
                    "the keys needed to verify this request could not be obtained, try again later",
                );
                out.retry_after = Some(retry_after.clamp(1, 3600));
                out
            }
            KeySetError::Needed(_) => Self::server_error(),
        }
    }
}

impl From<ClientAuthError> for OAuthError {
    fn from(e: ClientAuthError) -> Self {
        if let ClientAuthError::KeySet(e) = e {
            return e.into();
        }
        let code = match e {
            ClientAuthError::UnauthorizedGrantType => ErrorCode::UnauthorizedClient,
            ClientAuthError::IssuerNotAllowed => ErrorCode::InvalidGrant,
            _ => ErrorCode::InvalidClient,
        };
        let mut out = Self::new(code, e.reason(), e.to_string());
        out.www_authenticate = code == ErrorCode::InvalidClient && e.used_authorization_header();
        out
    }
}

impl From<GrantError> for OAuthError {
    fn from(e: GrantError) -> Self {
        if let GrantError::KeySet(e) = e {
            return e.into();
        }
        let code = match e.reason() {
            Reason::IdJagConfidentialClient => ErrorCode::InvalidClient,
            Reason::IdJagAuthorizationDetails => ErrorCode::InvalidAuthorizationDetails,
            Reason::TargetNotAllowed => ErrorCode::InvalidTarget,
            Reason::DpopRequired => ErrorCode::InvalidDpopProof,
            _ => ErrorCode::InvalidGrant,
        };
        Self::new(code, e.reason(), e.to_string())
    }
}

impl OAuthError {
    /// A refused refresh (RFC 6749 §5.2): `invalid_scope` for a widened
    /// scope, `invalid_grant` otherwise — the same terse description for
    /// every unknown, foreign or guessed token.
    pub(crate) fn refresh(e: crate::refresh::RefreshError) -> Self {
        let code = match e {
            crate::refresh::RefreshError::ScopeWidened => ErrorCode::InvalidScope,
            _ => ErrorCode::InvalidGrant,
        };
        Self::new(code, e.reason(), e.to_string())
    }
}

impl From<crate::dpop::DpopError> for OAuthError {
    fn from(e: crate::dpop::DpopError) -> Self {
        Self::new(ErrorCode::InvalidDpopProof, e.reason(), e.to_string())
    }
}

impl From<Replayed> for OAuthError {
    fn from(e: Replayed) -> Self {
        match e.0 {
            // RFC 7523 §3 item 7 / RFC 7521 §4.2.1: a reused client
            // assertion fails client authentication.
            ReplayKind::ClientAssertion => {
                Self::new(ErrorCode::InvalidClient, e.reason(), e.to_string())
            }
            ReplayKind::Grant => Self::new(ErrorCode::InvalidGrant, e.reason(), e.to_string()),
            ReplayKind::DpopProof => {
                Self::new(ErrorCode::InvalidDpopProof, e.reason(), e.to_string())
            }
            ReplayKind::RevokedAccessToken => Self::server_error(),
        }
    }
}

impl From<ScopeError> for OAuthError {
    fn from(e: ScopeError) -> Self {
        Self::new(ErrorCode::InvalidScope, e.reason(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_stay_in_the_rfc_charset() {
        let e = OAuthError::new(
            ErrorCode::InvalidGrant,
            Reason::ServerError,
            "bad \"quote\" \\ and é\n",
        );
        assert_eq!(e.description(), "bad ?quote? ? and ??");
    }

    #[test]
    fn every_error_response_is_uncacheable_json() {
        let r = OAuthError::from(RequestError::MethodNotAllowed).to_http();
        assert_eq!(r.status, 405);
        assert_eq!(r.header("allow"), Some("POST"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("pragma"), Some("no-cache"));
        assert_eq!(
            r.header("content-type"),
            Some("application/json;charset=UTF-8")
        );
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "invalid_request");

        let r = OAuthError::replay_store_unavailable().to_http();
        assert_eq!((r.status, r.header("retry-after")), (503, Some("1")));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");

        let r = OAuthError::from(RequestError::BodyTooLarge).to_http();
        assert_eq!(r, OAuthError::host("body_too_large").to_http());
        assert_eq!(r.status, 413);
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
}
