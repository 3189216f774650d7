//! Protocol identifiers and server-owned claim names: the one source for
//! every constant hosts and tests need too (the npm package reads them from
//! the wasm, see `constants()` in the bindings; `js/constants.js` is
//! generated from here and checked by a test).

/// The JWT bearer grant type (RFC 7523 §2.1).
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The SAML 2.0 bearer grant type (RFC 7522 §2.1).
pub const GRANT_SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";

/// The refresh-token grant type (RFC 6749 §6).
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";

/// The scope a client asks for to get a refresh token (OpenID Connect
/// Core §11; required unless `refresh_token.require_offline_access` is
/// false).
pub const SCOPE_OFFLINE_ACCESS: &str = "offline_access";

/// The JWT client assertion type (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_JWT: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The SAML 2.0 client assertion type (RFC 7522 §2.2).
pub const CLIENT_ASSERTION_SAML2: &str = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer";

/// SAML's NameID format for an entity (SAML core §8.3.6): what a client
/// assertion's Subject must be by default.
pub const NAME_ID_FORMAT_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

/// Source name under which the NameID's `Format` is offered to the
/// issuer's `claims` mapping (e.g. `"name_id_format": "saml:NameID/@Format"`).
/// The value comes from the NameID element only: an `Attribute` with this
/// `Name` never supplies it.
pub const NAME_ID_FORMAT_SOURCE: &str = "saml:NameID/@Format";

/// Access-token claims that the issuer's `claims` mapping may not set: the
/// RFC 9068 §2.2 claims the server sets, and the authentication and
/// delegation claims (`auth_time`, `acr`, `amr`, RFC 9068 §2.2.1; `act`,
/// `may_act`, RFC 8693 §4.1, §4.4; `azp`, OpenID Connect Core §2) that only
/// the server may vouch for; and `idp`, the trusted issuer that vouched for
/// the subject ([`IDP_CLAIM`]).
pub const RESERVED_CLAIMS: [&str; 17] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "cnf",
    "auth_time",
    "acr",
    "amr",
    "act",
    "may_act",
    "azp",
    "idp",
];

/// The access-token claim naming the trusted issuer that vouched for the
/// subject (its `issuer` identifier, exactly as configured). Always
/// present: a resource server that keys users by `sub` alone trusts the
/// `subject_prefix` scheme; one that keys them by (`idp`, `sub`) needs none.
pub const IDP_CLAIM: &str = "idp";

/// Longest `trusted_issuers[].subject_prefix`, in bytes.
pub const MAX_SUBJECT_PREFIX_BYTES: usize = 64;

/// The `subject_prefix` an entry made for `issuer` gets (by
/// [`crate::saml_metadata::IdpMetadata::trusted_issuer_entry`] and the test
/// IdP's trust entry): the issuer identifier and `|`, unique among trusted
/// issuers; `None` when that is longer than a prefix may be (then the
/// operator chooses one).
pub fn suggested_subject_prefix(issuer: &str) -> Option<String> {
    let prefix = format!("{issuer}|");
    (prefix.len() <= MAX_SUBJECT_PREFIX_BYTES
        && prefix.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
    .then_some(prefix)
}

/// `trusted_issuers[].profiles` value for plain RFC 7523 JWT assertions.
pub const PROFILE_JWT_BEARER: &str = "jwt-bearer";

/// `trusted_issuers[].profiles` value for Identity Assertion JWT
/// Authorization Grants (draft-ietf-oauth-identity-assertion-authz-grant).
pub const PROFILE_ID_JAG: &str = "id-jag";

/// The JWT `typ` of an ID-JAG (the media type
/// `application/oauth-id-jag+jwt`, draft-ietf-oauth-identity-assertion-authz-grant).
pub const TYP_ID_JAG: &str = "oauth-id-jag+jwt";

/// The ID-JAG grant profile URI, published in the metadata's
/// `authorization_grant_profiles_supported`.
pub const GRANT_PROFILE_ID_JAG: &str = "urn:ietf:params:oauth:grant-profile:id-jag";

/// The JWT `typ` of a DPoP proof (RFC 9449 §4.2).
pub const TYP_DPOP: &str = "dpop+jwt";

/// The token type of a DPoP-bound access token (RFC 9449 §5).
pub const TOKEN_TYPE_DPOP: &str = "DPoP";

/// Whether a JWS header's `typ` names `media_type` as RFC 7515 §4.1.9
/// allows: exactly that name, or with `application/` before it, compared
/// without regard to ASCII case (media types are case-insensitive, RFC
/// 2045 §5.1) — nothing else (no whitespace, no parameters).
pub fn typ_is(typ: &str, media_type: &str) -> bool {
    let bare = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    bare.eq_ignore_ascii_case(media_type)
}

/// Whether `uri` may be an RFC 8707 `resource`: an absolute URI (a scheme,
/// `:`, and more, RFC 3986 §4.3) without a fragment, of printable ASCII.
pub fn is_resource_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !uri.contains('#')
        && uri.bytes().all(|b| b.is_ascii_graphic())
}
