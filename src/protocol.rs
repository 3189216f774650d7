//! Protocol identifiers and server-owned claim names: the one source for
//! every constant hosts and tests need too (the npm package reads them from
//! the wasm, see `constants()` in the bindings; `js/constants.js` is
//! generated from here and checked by a test).

/// The JWT bearer grant type (RFC 7523 §2.1).
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The SAML 2.0 bearer grant type (RFC 7522 §2.1).
pub const GRANT_SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";

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
