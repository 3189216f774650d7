//! What a log line may say about a request: the client and the issuer it
//! names — only when the configuration knows them, so a log (and a metric
//! keyed by them) never carries a value a caller made up.

use serde::Serialize;

use super::TokenEndpoint;
use crate::grant;
use crate::jose;
use crate::request::{self, Credentials, GrantType, HttpRequest};

/// The configured client and trusted issuer a request names, as stated
/// (**unverified**: for logs and metrics only, never for a decision).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestLabels {
    /// `grant_type`, when the request could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<&'static str>,
    /// A configured `client_id` the request presents (Basic user name,
    /// `client_id`, or a client assertion's `sub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A trusted issuer the grant's assertion names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// Which request a label describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelledRoute {
    /// The token endpoint.
    Token,
    /// Revocation (RFC 7009).
    Revocation,
    /// Introspection (RFC 7662).
    Introspection,
}

impl TokenEndpoint {
    /// The configured client and trusted issuer `req` names, for a log
    /// line. Parses the request again (the exchange does not keep it);
    /// values the configuration does not know are left out.
    pub fn request_labels(&self, req: &HttpRequest<'_>, route: LabelledRoute) -> RequestLabels {
        let parsed = match route {
            LabelledRoute::Token => request::parse_request(req),
            LabelledRoute::Revocation => request::parse_revocation_request(req),
            LabelledRoute::Introspection => request::parse_introspection_request(req),
        };
        let Ok(request) = parsed else {
            return RequestLabels::default();
        };
        let config = self.config();
        let presented = match &request.credentials {
            Credentials::None => None,
            Credentials::ClientId(id) => Some(id.clone()),
            Credentials::Basic { client_id, .. } | Credentials::Post { client_id, .. } => {
                Some(client_id.clone())
            }
            Credentials::JwtAssertion {
                assertion,
                client_id,
            } => client_id.clone().or_else(|| {
                jose::parse(assertion)
                    .ok()
                    .and_then(|jws| jws.unverified_subject().map(str::to_owned))
            }),
            Credentials::SamlAssertion { client_id, .. } => client_id.clone(),
        };
        let client_id = presented.filter(|id| config.client_index(id).is_some());
        let stated = match (route, request.grant_type) {
            (LabelledRoute::Token, GrantType::JwtBearer) => {
                grant::jwt::peek_issuer(&request.assertion)
            }
            (LabelledRoute::Token, GrantType::Saml2Bearer) => {
                grant::saml2::peek_issuer(&request.assertion)
            }
            _ => None,
        };
        let issuer = stated.filter(|iss| config.trusted_issuer(iss).is_some());
        RequestLabels {
            grant_type: (route == LabelledRoute::Token).then(|| request.grant_type.as_str()),
            client_id,
            issuer,
        }
    }
}
