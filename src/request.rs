//! Token request parsing (RFC 6749 §2.3, §3.2, §4.5; RFC 7521 §4).

use std::fmt;

use crate::encoding::b64_decode;
use crate::limits::{MAX_BODY_BYTES, MAX_FORM_PARAMS, MAX_RESOURCES};
use crate::policy::{ScopeError, ScopeSet};
use crate::protocol::{GRANT_JWT_BEARER, GRANT_REFRESH_TOKEN, GRANT_SAML2_BEARER};

pub use crate::protocol::{CLIENT_ASSERTION_JWT, CLIENT_ASSERTION_SAML2};

/// The parts of an HTTP request the token endpoint looks at.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The `DPoP` header (a DPoP proof, RFC 9449 §4), if any.
    pub dpop: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// Picks `Content-Type`, `Authorization` and `DPoP` out of a header
    /// list (names case-insensitive). A header given twice is an error (for
    /// `DPoP`, RFC 9449 §4.3 item 1: `invalid_dpop_proof`).
    pub fn from_headers<I>(
        method: &'a str,
        headers: I,
        body: &'a [u8],
    ) -> Result<Self, RequestError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut content_type = None;
        let mut authorization = None;
        let mut dpop = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("dpop") {
                if dpop.replace(value).is_some() {
                    return Err(RequestError::MultipleDpopProofs);
                }
                continue;
            }
            let slot = if name.eq_ignore_ascii_case("content-type") {
                &mut content_type
            } else if name.eq_ignore_ascii_case("authorization") {
                &mut authorization
            } else {
                continue;
            };
            if slot.replace(value).is_some() {
                return Err(RequestError::DuplicateHeader);
            }
        }
        Ok(Self {
            method,
            content_type,
            authorization,
            dpop,
            body,
        })
    }
}

/// The grant types this server knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523).
    JwtBearer,
    /// `urn:ietf:params:oauth:grant-type:saml2-bearer` (RFC 7522).
    Saml2Bearer,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
}

impl GrantType {
    /// The grant type URN.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JwtBearer => GRANT_JWT_BEARER,
            Self::Saml2Bearer => GRANT_SAML2_BEARER,
            Self::RefreshToken => GRANT_REFRESH_TOKEN,
        }
    }
}

/// Client credentials as presented, before authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Nothing identifies a client.
    None,
    /// Only `client_id` (a public client).
    ClientId(String),
    /// HTTP Basic (`client_secret_basic`).
    Basic {
        /// The form-decoded client id.
        client_id: String,
        /// The form-decoded secret.
        secret: String,
    },
    /// `client_id` + `client_secret` in the body (`client_secret_post`).
    Post {
        /// The client id.
        client_id: String,
        /// The secret.
        secret: String,
    },
    /// A JWT client assertion (`private_key_jwt`), with the body's
    /// `client_id` if one was sent.
    JwtAssertion {
        /// The compact JWS.
        assertion: String,
        /// `client_id` from the body, which must then match the assertion.
        client_id: Option<String>,
    },
    /// A SAML client assertion (RFC 7522 §2.2), with the body's `client_id`
    /// if one was sent.
    SamlAssertion {
        /// The encoded assertion.
        assertion: String,
        /// `client_id` from the body, which must then match the Subject.
        client_id: Option<String>,
    },
}

/// A parsed assertion-grant token request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The grant type.
    pub grant_type: GrantType,
    /// The assertion (exactly one, RFC 7521 §4.1); empty for a refresh.
    pub assertion: String,
    /// The refresh token of a `refresh_token` grant (RFC 6749 §6).
    pub refresh_token: Option<String>,
    /// The requested scope, if any.
    pub scope: Option<ScopeSet>,
    /// The RFC 8707 `resource` parameters, in order (each an absolute URI
    /// without a fragment); empty when none was sent.
    pub resources: Vec<String>,
    /// How the client identified itself.
    pub credentials: Credentials,
    /// The `DPoP` header, if any (checked by [`crate::dpop`]).
    pub dpop: Option<String>,
    /// A revocation request (RFC 7009): `refresh_token` is the token to
    /// revoke.
    pub revocation: bool,
    /// An introspection request (RFC 7662): `refresh_token` is the token to
    /// describe.
    pub introspection: bool,
}

impl TokenRequest {
    /// The grant type client authentication checks the client may use:
    /// none for introspection (its own allowance decides).
    pub(crate) fn client_grant_type(&self) -> Option<GrantType> {
        (!self.introspection).then_some(self.grant_type)
    }
}

/// Why a request was refused before any assertion was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Not POST (HTTP 405).
    MethodNotAllowed,
    /// Not `application/x-www-form-urlencoded` (UTF-8).
    UnsupportedContentType,
    /// Body longer than [`MAX_BODY_BYTES`].
    BodyTooLarge,
    /// Bad percent-encoding, invalid UTF-8, or too many parameters.
    MalformedBody,
    /// A parameter appears more than once (RFC 6749 §3.2).
    DuplicateParameter,
    /// `Content-Type` or `Authorization` given twice.
    DuplicateHeader,
    /// A required parameter is missing.
    Missing(&'static str),
    /// Unknown grant type.
    UnsupportedGrantType,
    /// More than one client authentication method (RFC 6749 §2.3).
    MultipleClientAuthentication,
    /// The Authorization header is not valid Basic credentials.
    MalformedAuthorization,
    /// `client_assertion_type` is unknown, or sent without its assertion.
    UnsupportedClientAssertionType,
    /// The `scope` parameter has invalid syntax.
    InvalidScopeSyntax,
    /// A `resource` is not an absolute URI without a fragment, or there
    /// are too many (RFC 8707 §2: `invalid_target`).
    InvalidResource,
    /// `authorization_details` (RFC 9396) was sent: this server supports
    /// no authorization details type (`invalid_authorization_details`).
    AuthorizationDetails,
    /// More than one `DPoP` header (RFC 9449 §4.3 item 1).
    MultipleDpopProofs,
}

impl RequestError {
    /// The stable reason code.
    pub fn reason(&self) -> crate::reason::Reason {
        use crate::reason::Reason;
        match self {
            Self::MethodNotAllowed => Reason::RequestMethod,
            Self::UnsupportedContentType => Reason::RequestContentType,
            Self::BodyTooLarge => Reason::RequestBodyTooLarge,
            Self::MalformedBody => Reason::RequestMalformedBody,
            Self::DuplicateParameter => Reason::RequestDuplicateParameter,
            Self::DuplicateHeader => Reason::RequestDuplicateHeader,
            Self::Missing(_) => Reason::RequestMissingParameter,
            Self::UnsupportedGrantType => Reason::RequestUnsupportedGrantType,
            Self::MultipleClientAuthentication => Reason::RequestMultipleClientAuthentication,
            Self::MalformedAuthorization => Reason::RequestMalformedAuthorization,
            Self::UnsupportedClientAssertionType => Reason::RequestClientAssertionType,
            Self::InvalidScopeSyntax => Reason::RequestScopeSyntax,
            Self::InvalidResource => Reason::RequestResource,
            Self::AuthorizationDetails => Reason::RequestAuthorizationDetails,
            Self::MultipleDpopProofs => Reason::DpopMultipleProofs,
        }
    }
}

crate::reason::refusal!(RequestError);

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MethodNotAllowed => f.write_str("the token endpoint accepts only POST"),
            Self::UnsupportedContentType => {
                f.write_str("the body must be application/x-www-form-urlencoded (UTF-8)")
            }
            Self::BodyTooLarge => f.write_str("the request body is too large"),
            Self::MalformedBody => f.write_str("the request body is not a valid form encoding"),
            Self::DuplicateParameter => f.write_str("a request parameter appears more than once"),
            Self::DuplicateHeader => {
                f.write_str("the Content-Type or Authorization header appears more than once")
            }
            Self::Missing(name) => write!(f, "missing required parameter {name}"),
            Self::UnsupportedGrantType => f.write_str("this grant_type is not supported"),
            Self::MultipleClientAuthentication => {
                f.write_str("use exactly one client authentication method")
            }
            Self::MalformedAuthorization => {
                f.write_str("the Authorization header is not valid Basic credentials")
            }
            Self::UnsupportedClientAssertionType => {
                f.write_str("client_assertion_type is not supported or has no client_assertion")
            }
            Self::InvalidScopeSyntax => write!(f, "{}", ScopeError::Syntax),
            Self::InvalidResource => f.write_str(
                "each resource must be an absolute URI without a fragment (RFC 8707), and at most 16",
            ),
            Self::AuthorizationDetails => f.write_str(
                "authorization_details are not supported by this server (no type is accepted)",
            ),
            Self::MultipleDpopProofs => f.write_str("send exactly one DPoP proof"),
        }
    }
}

const PARAMS: [&str; 11] = [
    "grant_type",
    "assertion",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "authorization_details",
    "refresh_token",
    "token",
    "token_type_hint",
];

/// Parses a token request. Unknown parameters are ignored (RFC 6749 §3.2);
/// known ones may appear once, and an empty value counts as absent.
pub fn parse_request(req: &HttpRequest<'_>) -> Result<TokenRequest, RequestError> {
    parse_form_request(req, false)
}

/// Parses a revocation request (RFC 7009 §2.1): `token` (required),
/// `token_type_hint` (a hint only), and the client's credentials as at the
/// token endpoint. It becomes a [`TokenRequest`] with `revocation` set and
/// the token as `refresh_token`.
pub fn parse_revocation_request(req: &HttpRequest<'_>) -> Result<TokenRequest, RequestError> {
    parse_form_request(req, true)
}

/// Parses an introspection request (RFC 7662 §2.1): as a revocation
/// request, marked `introspection`.
pub fn parse_introspection_request(req: &HttpRequest<'_>) -> Result<TokenRequest, RequestError> {
    let mut r = parse_form_request(req, true)?;
    r.revocation = false;
    r.introspection = true;
    Ok(r)
}

fn parse_form_request(
    req: &HttpRequest<'_>,
    revocation: bool,
) -> Result<TokenRequest, RequestError> {
    if req.method != "POST" {
        return Err(RequestError::MethodNotAllowed);
    }
    if !is_form_content_type(req.content_type) {
        return Err(RequestError::UnsupportedContentType);
    }
    if req.body.len() > MAX_BODY_BYTES {
        return Err(RequestError::BodyTooLarge);
    }
    let mut values: [Option<String>; PARAMS.len()] = Default::default();
    let mut seen_unknown: Vec<String> = Vec::new();
    let mut resources: Vec<String> = Vec::new();
    let mut count = 0usize;
    for pair in form_pairs(req.body) {
        count += 1;
        if count > MAX_FORM_PARAMS {
            return Err(RequestError::MalformedBody);
        }
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[..0]),
        };
        let name = form_decode(name).ok_or(RequestError::MalformedBody)?;
        let value = form_decode(value).ok_or(RequestError::MalformedBody)?;
        if name == "resource" {
            // RFC 8707 §2: may be given more than once.
            if value.is_empty() {
                continue;
            }
            if !crate::protocol::is_resource_uri(&value) || resources.len() >= MAX_RESOURCES {
                return Err(RequestError::InvalidResource);
            }
            if !resources.contains(&value) {
                resources.push(value);
            }
            continue;
        }
        match PARAMS.iter().position(|p| *p == name) {
            Some(i) => {
                if values[i].is_some() {
                    return Err(RequestError::DuplicateParameter);
                }
                values[i] = Some(value);
            }
            None => {
                if seen_unknown.contains(&name) {
                    return Err(RequestError::DuplicateParameter);
                }
                seen_unknown.push(name);
            }
        }
    }
    let [
        grant_type,
        assertion,
        scope,
        client_id,
        client_secret,
        client_assertion,
        client_assertion_type,
        authorization_details,
        refresh_token,
        token,
        _token_type_hint,
    ] = values.map(|v| v.filter(|s| !s.is_empty()));

    let (grant_type, refresh_token) = if revocation {
        // The token to revoke takes the refresh token's place; the grant
        // type is what a client needs to hold refresh tokens at all.
        let token = token.ok_or(RequestError::Missing("token"))?;
        (Some(GRANT_REFRESH_TOKEN.to_owned()), Some(token))
    } else {
        (grant_type, refresh_token)
    };
    let grant_type = match grant_type.as_deref() {
        None => return Err(RequestError::Missing("grant_type")),
        Some(GRANT_JWT_BEARER) => GrantType::JwtBearer,
        Some(GRANT_SAML2_BEARER) => GrantType::Saml2Bearer,
        Some(GRANT_REFRESH_TOKEN) => GrantType::RefreshToken,
        Some(_) => return Err(RequestError::UnsupportedGrantType),
    };
    let (assertion, refresh_token) = match grant_type {
        GrantType::RefreshToken => (
            String::new(),
            Some(refresh_token.ok_or(RequestError::Missing("refresh_token"))?),
        ),
        _ => (assertion.ok_or(RequestError::Missing("assertion"))?, None),
    };
    if authorization_details.is_some() {
        return Err(RequestError::AuthorizationDetails);
    }
    let scope = scope
        .map(|s| ScopeSet::parse(&s).map_err(|_| RequestError::InvalidScopeSyntax))
        .transpose()?;
    let basic = req.authorization.map(parse_basic).transpose()?;

    let credentials = match (
        basic,
        client_secret,
        client_assertion,
        client_assertion_type,
    ) {
        (Some(_), Some(_), _, _) | (Some(_), _, Some(_), _) | (None, Some(_), Some(_), _) => {
            return Err(RequestError::MultipleClientAuthentication);
        }
        (Some((id, secret)), None, None, None) => {
            if client_id.as_ref().is_some_and(|body_id| *body_id != id) {
                return Err(RequestError::MultipleClientAuthentication);
            }
            Credentials::Basic {
                client_id: id,
                secret,
            }
        }
        (None, Some(secret), None, None) => Credentials::Post {
            client_id: client_id.ok_or(RequestError::Missing("client_id"))?,
            secret,
        },
        (None, None, Some(assertion), Some(kind)) if kind == CLIENT_ASSERTION_JWT => {
            Credentials::JwtAssertion {
                assertion,
                client_id,
            }
        }
        (None, None, Some(assertion), Some(kind)) if kind == CLIENT_ASSERTION_SAML2 => {
            Credentials::SamlAssertion {
                assertion,
                client_id,
            }
        }
        (None, None, Some(_), None) => return Err(RequestError::Missing("client_assertion_type")),
        (_, _, _, Some(_)) => return Err(RequestError::UnsupportedClientAssertionType),
        (None, None, None, None) => match client_id {
            Some(id) => Credentials::ClientId(id),
            None => Credentials::None,
        },
    };
    Ok(TokenRequest {
        revocation,
        introspection: false,
        grant_type,
        assertion,
        refresh_token,
        scope,
        resources,
        credentials,
        dpop: req.dpop.map(str::to_owned),
    })
}

/// The non-empty `&`-separated pairs of a form body.
fn form_pairs(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        loop {
            let current = rest?;
            let pair = match memchr::memchr(b'&', current) {
                Some(i) => {
                    let (pair, after) = current.split_at(i);
                    rest = after.get(1..);
                    pair
                }
                None => {
                    rest = None;
                    current
                }
            };
            if !pair.is_empty() {
                return Some(pair);
            }
        }
    })
}

fn is_form_content_type(value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return false;
    }
    parts.all(|param| {
        let (name, val) = param.split_once('=').unwrap_or((param, ""));
        let val = val.trim().trim_matches('"');
        !name.trim().eq_ignore_ascii_case("charset") || val.eq_ignore_ascii_case("utf-8")
    })
}

/// RFC 6749 §2.3.1: `Basic base64(form-encode(id) ":" form-encode(secret))`.
fn parse_basic(header: &str) -> Result<(String, String), RequestError> {
    let (scheme, rest) = header
        .trim()
        .split_once(' ')
        .ok_or(RequestError::MalformedAuthorization)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(RequestError::MalformedAuthorization);
    }
    let decoded = b64_decode(rest.trim()).ok_or(RequestError::MalformedAuthorization)?;
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or(RequestError::MalformedAuthorization)?;
    let id = form_decode(&decoded[..colon]).ok_or(RequestError::MalformedAuthorization)?;
    let secret = form_decode(&decoded[colon + 1..]).ok_or(RequestError::MalformedAuthorization)?;
    if id.is_empty() {
        return Err(RequestError::MalformedAuthorization);
    }
    Ok((id, secret))
}

/// Strict `application/x-www-form-urlencoded` decoding: `+` is a space,
/// `%XX` must be two hex digits, and the result must be UTF-8. (The common
/// crates pass malformed escapes through or replace bad UTF-8; a security
/// boundary should refuse both.)
fn form_decode(input: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    // Runs without `+` or `%` (all of a base64url assertion) are copied at
    // once.
    while let Some(i) = memchr::memchr2(b'+', b'%', rest) {
        let (run, escape) = rest.split_at(i);
        out.extend_from_slice(run);
        match escape {
            [b'%', hi, lo, after @ ..] => {
                out.push(hex_val(*hi)? << 4 | hex_val(*lo)?);
                rest = after;
            }
            [b'+', after @ ..] => {
                out.push(b' ');
                rest = after;
            }
            // A `%` without two more bytes.
            _ => return None,
        }
    }
    out.extend_from_slice(rest);
    String::from_utf8(out).ok()
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "application/x-www-form-urlencoded";

    fn post(body: &str) -> Result<TokenRequest, RequestError> {
        parse_request(&HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization: None,
            dpop: None,
            body: body.as_bytes(),
        })
    }

    const GRANT: &str =
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c";

    #[test]
    fn basic_rules() {
        let r = post(GRANT).unwrap();
        assert_eq!(r.grant_type, GrantType::JwtBearer);
        assert_eq!(r.credentials, Credentials::None);
        assert_eq!(
            post(&format!("{GRANT}&assertion=x")).unwrap_err(),
            RequestError::DuplicateParameter
        );
        assert_eq!(
            post(&format!("{GRANT}&foo=1&foo=2")).unwrap_err(),
            RequestError::DuplicateParameter
        );
        assert!(
            post(&format!("{GRANT}&foo=1")).is_ok(),
            "unknown parameters are ignored"
        );
        assert_eq!(
            post(&format!("{GRANT}&scope=")).unwrap().scope,
            None,
            "empty = absent"
        );
        assert_eq!(
            post("grant_type=password&assertion=x").unwrap_err(),
            RequestError::UnsupportedGrantType
        );
        assert_eq!(
            post("assertion=x").unwrap_err(),
            RequestError::Missing("grant_type")
        );
        assert_eq!(
            post(&format!("{GRANT}&x=%zz")).unwrap_err(),
            RequestError::MalformedBody
        );
        assert_eq!(
            post(&format!("{GRANT}&x=%ff")).unwrap_err(),
            RequestError::MalformedBody
        );
        assert_eq!(
            post(&format!("{GRANT}&scope=a%22b")).unwrap_err(),
            RequestError::InvalidScopeSyntax
        );
    }

    #[test]
    fn method_content_type_and_size() {
        let body = GRANT.as_bytes();
        let req = |method, ct| HttpRequest {
            method,
            content_type: ct,
            authorization: None,
            dpop: None,
            body,
        };
        assert_eq!(
            parse_request(&req("GET", Some(FORM))).unwrap_err(),
            RequestError::MethodNotAllowed
        );
        assert_eq!(
            parse_request(&req("POST", None)).unwrap_err(),
            RequestError::UnsupportedContentType
        );
        assert_eq!(
            parse_request(&req("POST", Some("application/json"))).unwrap_err(),
            RequestError::UnsupportedContentType
        );
        assert_eq!(
            parse_request(&req(
                "POST",
                Some("application/x-www-form-urlencoded; charset=latin1")
            ))
            .unwrap_err(),
            RequestError::UnsupportedContentType
        );
        assert!(
            parse_request(&req(
                "POST",
                Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8")
            ))
            .is_ok()
        );
        let big = format!("{GRANT}&pad={}", "a".repeat(MAX_BODY_BYTES));
        assert_eq!(post(&big).unwrap_err(), RequestError::BodyTooLarge);
        let many: String = (0..40).map(|i| format!("&p{i}=1")).collect();
        assert_eq!(
            post(&format!("{GRANT}{many}")).unwrap_err(),
            RequestError::MalformedBody
        );
    }

    #[test]
    fn client_credentials() {
        // RFC 6749 §2.3.1: id and secret are form-encoded inside Basic.
        let header = format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                "my%20client:p%3Ass+word"
            )
        );
        let r = parse_request(&HttpRequest {
            method: "POST",
            content_type: Some(FORM),
            authorization: Some(&header),
            dpop: None,
            body: GRANT.as_bytes(),
        })
        .unwrap();
        assert_eq!(
            r.credentials,
            Credentials::Basic {
                client_id: "my client".into(),
                secret: "p:ss word".into()
            }
        );
        let both = format!("{GRANT}&client_secret=s&client_id=c");
        assert_eq!(
            parse_request(&HttpRequest {
                method: "POST",
                content_type: Some(FORM),
                authorization: Some(&header),
                dpop: None,
                body: both.as_bytes()
            })
            .unwrap_err(),
            RequestError::MultipleClientAuthentication
        );
        assert_eq!(
            post(&format!("{GRANT}&client_id=c&client_secret=s&client_assertion=x&client_assertion_type={CLIENT_ASSERTION_JWT}")).unwrap_err(),
            RequestError::MultipleClientAuthentication
        );
        assert_eq!(
            post(&format!("{GRANT}&client_secret=s")).unwrap_err(),
            RequestError::Missing("client_id")
        );
        assert_eq!(
            post(&format!("{GRANT}&client_id=pub")).unwrap().credentials,
            Credentials::ClientId("pub".into())
        );
        assert_eq!(
            post(&format!("{GRANT}&client_assertion=x")).unwrap_err(),
            RequestError::Missing("client_assertion_type")
        );
        assert_eq!(
            post(&format!(
                "{GRANT}&client_assertion=x&client_assertion_type=urn:x"
            ))
            .unwrap_err(),
            RequestError::UnsupportedClientAssertionType
        );
        for bad in [
            "Bearer abc",
            "Basic !!!",
            "Basic Zm9v",
            "Basic OnNlY3JldA==",
        ] {
            let r = parse_request(&HttpRequest {
                method: "POST",
                content_type: Some(FORM),
                authorization: Some(bad),
                dpop: None,
                body: GRANT.as_bytes(),
            });
            assert_eq!(
                r.unwrap_err(),
                RequestError::MalformedAuthorization,
                "{bad}"
            );
        }
    }

    #[test]
    fn form_decoding_is_strict() {
        let d = |s: &str| form_decode(s.as_bytes());
        assert_eq!(d("a+b%41%e2%82%ac").as_deref(), Some("a bA\u{20ac}"));
        assert_eq!(d("%41").as_deref(), Some("A"));
        assert_eq!(d("").as_deref(), Some(""));
        assert_eq!(d("++").as_deref(), Some("  "));
        for bad in ["%", "%4", "a%", "a%4", "%zz", "%4g", "%ff", "%e2%82"] {
            assert_eq!(d(bad), None, "{bad}");
        }
        let pairs = |s: &'static str| form_pairs(s.as_bytes()).collect::<Vec<_>>();
        assert_eq!(pairs("a=1&&b&"), [&b"a=1"[..], b"b"]);
        assert_eq!(pairs("&&"), Vec::<&[u8]>::new());
        assert_eq!(
            pairs("0123456789abcdef&x"),
            [&b"0123456789abcdef"[..], b"x"]
        );
    }

    #[test]
    fn duplicate_headers() {
        let h = [("content-type", FORM), ("Content-Type", FORM)];
        assert_eq!(
            HttpRequest::from_headers("POST", h, b"").unwrap_err(),
            RequestError::DuplicateHeader
        );
    }
}
