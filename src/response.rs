//! HTTP responses of the token endpoint (RFC 6749 §5.1, §5.2).

use serde::Serialize;

/// An HTTP response for the host to send as it is.
///
/// Two responses are equal when what is sent is equal (status, headers,
/// body): the `reason`, which never leaves the host, does not count.
#[derive(Debug, Clone, Serialize)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (JSON).
    pub body: String,
    /// For an error response: the stable reason code of the rule that
    /// refused the request (`docs/reasons.md`), for the host's log line.
    /// Never sent to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl PartialEq for HttpResponse {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.headers == other.headers && self.body == other.body
    }
}

impl Eq for HttpResponse {}

impl HttpResponse {
    /// A token-endpoint JSON response with the headers RFC 6749 §5.1
    /// requires on every token response, errors included.
    pub(crate) fn json(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![
                (
                    "Content-Type".to_owned(),
                    "application/json;charset=UTF-8".to_owned(),
                ),
                ("Cache-Control".to_owned(), "no-store".to_owned()),
                ("Pragma".to_owned(), "no-cache".to_owned()),
            ],
            body,
            reason: None,
        }
    }

    pub(crate) fn push_header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A successful access-token response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The RFC 9068 JWT access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a DPoP-bound token (RFC 9449 §5).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The granted scope; present when it differs from the request
    /// (RFC 6749 §5.1) — including when the request named none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The resources the token is for, when the request (or its ID-JAG)
    /// named some (RFC 8707; draft-ietf-oauth-identity-assertion-authz-grant
    /// §4.4.1): one as a string, more as an array.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "one_or_many"
    )]
    pub resource: Option<Vec<String>>,
    /// A refresh token (RFC 6749 §5.1), when the grant may be refreshed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// A fresh DPoP server nonce, sent as the `DPoP-Nonce` header (RFC
    /// 9449 §8.2), never in the body.
    #[serde(skip)]
    pub dpop_nonce: Option<String>,
}

fn one_or_many<S: serde::Serializer>(value: &Option<Vec<String>>, s: S) -> Result<S::Ok, S::Error> {
    match value.as_deref() {
        Some([one]) => s.serialize_str(one),
        Some(many) => many.serialize(s),
        None => s.serialize_none(),
    }
}

impl TokenResponse {
    /// The `200 OK` HTTP response carrying this token.
    pub fn to_http(&self) -> HttpResponse {
        // Serializing a struct of strings and integers cannot fail.
        let body = serde_json::to_string(self).unwrap_or_default();
        let mut response = HttpResponse::json(200, body);
        if let Some(nonce) = &self.dpop_nonce {
            response.push_header("DPoP-Nonce", nonce);
        }
        response
    }
}
