//! Stable, machine-readable reasons for every refusal.
//!
//! Every error the endpoint can answer carries one [`Reason`]: a dotted code
//! such as `assertion.expired` or `client.secret_mismatch` that names the
//! rule which refused the request. Codes are a contract: they are never
//! renamed, only added. They appear in explain reports (as the id of each
//! check and on the error), in [`crate::OAuthError::reason`] for hosts' logs
//! and metrics, and in the test vectors' expectations — never in a public
//! `/token` response, whose `error_description` stays as terse as before.
//!
//! The RFC 6749 error code a reason is answered with depends on where the
//! rule ran: an `assertion.*` or `jwt.*` reason is `invalid_grant` for the
//! grant and `invalid_client` for a client assertion. [`crate::error`] is the
//! one place that decides.
//!
//! The table below is the list; `docs/reasons.md` is generated from it and a
//! test keeps the two equal.

macro_rules! reasons {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $code:literal, )+) => {
        /// Why a request was refused (see the module docs). `code()` is the
        /// stable identifier.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Reason {
            /// Every reason, in table order.
            pub const ALL: &'static [Reason] = &[ $(Reason::$variant,)+ ];

            /// The stable dotted code, e.g. `"assertion.expired"`.
            pub const fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code,)+ }
            }

            /// What the reason means, in one sentence (the variant's docs).
            pub fn summary(self) -> &'static str {
                match self { $(Reason::$variant => concat!($($doc),+).trim_ascii(),)+ }
            }

            /// The reason with this code, if any.
            pub fn from_code(code: &str) -> Option<Reason> {
                Reason::ALL.iter().copied().find(|r| r.code() == code)
            }
        }
    };
}

reasons! {
    // ---- request: the HTTP request and its parameters (RFC 6749 §3.2, §4.5)
    /// The method is not one the path serves (405).
    RequestMethod = "request.method_not_allowed",
    /// The host serves nothing at this path (404).
    RequestNotFound = "request.not_found",
    /// The body is not `application/x-www-form-urlencoded` in UTF-8.
    RequestContentType = "request.content_type",
    /// The body is longer than the limit (413).
    RequestBodyTooLarge = "request.body_too_large",
    /// Bad percent-encoding, invalid UTF-8 or too many parameters.
    RequestMalformedBody = "request.malformed_body",
    /// A parameter appears more than once (RFC 6749 §3.2).
    RequestDuplicateParameter = "request.duplicate_parameter",
    /// `Content-Type` or `Authorization` appears more than once.
    RequestDuplicateHeader = "request.duplicate_header",
    /// A required parameter is missing (the description names it).
    RequestMissingParameter = "request.missing_parameter",
    /// The `grant_type` is not one this server supports.
    RequestUnsupportedGrantType = "request.unsupported_grant_type",
    /// More than one client authentication method (RFC 6749 §2.3).
    RequestMultipleClientAuthentication = "request.multiple_client_authentication",
    /// The Authorization header is not valid Basic credentials.
    RequestMalformedAuthorization = "request.malformed_authorization",
    /// `client_assertion_type` is unknown or came without its assertion.
    RequestClientAssertionType = "request.client_assertion_type",
    /// The `scope` parameter is not a list of RFC 6749 §3.3 tokens.
    RequestScopeSyntax = "request.scope_syntax",
    /// A `resource` is not an absolute URI without a fragment, or there
    /// are more than 16 (RFC 8707 §2, `invalid_target`).
    RequestResource = "request.resource",
    /// `authorization_details` were sent (RFC 9396): no type is supported
    /// (`invalid_authorization_details`).
    RequestAuthorizationDetails = "request.authorization_details",

    // ---- client: client authentication (RFC 6749 §2.3, RFC 7521 §4.2, RFC 7523 §3)
    /// No client has this id, or it is registered for another method.
    ClientUnknown = "client.unknown",
    /// The client secret does not match.
    ClientSecretMismatch = "client.secret_mismatch",
    /// A confidential client sent its `client_id` without authenticating.
    ClientNotAuthenticated = "client.not_authenticated",
    /// The body's `client_id` differs from the client the assertion names.
    ClientIdMismatch = "client.client_id_mismatch",
    /// A client assertion's subject is not the client (`iss` = `sub` =
    /// client_id, or a SAML Subject naming a `saml2_bearer` client).
    ClientAssertionSubject = "client.assertion_subject",
    /// A client assertion's `aud` is not exactly our issuer identifier.
    ClientAssertionAudience = "client.assertion_audience",
    /// A SAML client assertion's NameID Format is not the client's.
    ClientAssertionNameIdFormat = "client.assertion_name_id_format",
    /// A SAML client assertion comes from an IdP the client does not list.
    ClientAssertionIssuer = "client.assertion_issuer",
    /// The client assertion was used before (RFC 7523 §3 item 7).
    ClientAssertionReplayed = "client.assertion_replayed",
    /// The issuer requires an identified client and none was named.
    ClientRequired = "client.required",
    /// The client may not use this grant type (`unauthorized_client`).
    ClientGrantType = "client.grant_type_not_allowed",
    /// The client may not present assertions from this issuer.
    ClientIssuerNotAllowed = "client.issuer_not_allowed",
    /// The client may not use the introspection endpoint
    /// (`allow_introspection`).
    ClientIntrospectionNotAllowed = "client.introspection_not_allowed",

    // ---- assertion: rules every assertion format shares (RFC 7521 §5.2)
    /// The issuer is not a trusted issuer (RFC 7521 §5.2 item 1).
    AssertionUntrustedIssuer = "assertion.untrusted_issuer",
    /// The issuer is configured for the other assertion format.
    AssertionWrongFormat = "assertion.wrong_format",
    /// No audience names this authorization server (RFC 7521 §5.2 item 3).
    AssertionAudience = "assertion.audience_mismatch",
    /// The assertion has expired (RFC 7521 §5.2 item 4).
    AssertionExpired = "assertion.expired",
    /// The expiry is further ahead than the issuer's maximum lifetime.
    AssertionExpiryTooFar = "assertion.expiry_too_far",
    /// The assertion is not valid yet (`nbf` / `NotBefore`).
    AssertionNotYetValid = "assertion.not_yet_valid",
    /// The assertion was issued in the future.
    AssertionIssuedInFuture = "assertion.issued_in_future",
    /// The assertion was issued longer ago than the maximum lifetime.
    AssertionIssuedTooLongAgo = "assertion.issued_too_long_ago",
    /// The issuer may not assert this subject (`subjects` allow-list).
    AssertionSubjectNotAllowed = "assertion.subject_not_allowed",
    /// The subject, with the issuer's `subject_prefix`, is longer than
    /// `access_token.max_subject_bytes`.
    AssertionSubjectTooLong = "assertion.subject_too_long",
    /// The mapped claims would add more than `access_token.max_claims_bytes`
    /// to the access token.
    AssertionClaimsTooLarge = "assertion.claims_too_large",
    /// The assertion was used before (RFC 7521 §5.2 item 6 / one-time use).
    AssertionReplayed = "assertion.replayed",

    // ---- jwt: the JWS and its claims (RFC 7515, RFC 7519, RFC 7523 §3, RFC 8725)
    /// The JWT is longer than the limit.
    JwtTooLarge = "jwt.too_large",
    /// Not a compact JWS of three strict base64url segments.
    JwtMalformed = "jwt.malformed",
    /// The header or payload is not a strict JSON object.
    JwtJson = "jwt.json",
    /// The header has no `alg`.
    JwtMissingAlg = "jwt.alg_missing",
    /// `alg: none` (RFC 8725 §3.2).
    JwtAlgNone = "jwt.alg_none",
    /// HMAC or an unknown algorithm (RFC 8725 §3.1).
    JwtAlgUnsupported = "jwt.alg_unsupported",
    /// The algorithm is not allowed for this issuer or client.
    JwtAlgNotAllowed = "jwt.alg_not_allowed",
    /// A `crit` header parameter (RFC 7515 §4.1.11).
    JwtCritical = "jwt.crit",
    /// `typ` marks one of our access tokens (RFC 9068 §2.1, RFC 8725 §3.11).
    JwtTypAccessToken = "jwt.typ_access_token",
    /// `typ` marks a client assertion, refused as a grant.
    JwtTypClientAssertion = "jwt.typ_client_assertion",
    /// An encrypted JWT (JWE).
    JwtEncrypted = "jwt.encrypted",
    /// No configured key verifies the signature.
    JwtSignatureInvalid = "jwt.signature_invalid",
    /// A registered claim has the wrong JSON type.
    JwtClaimType = "jwt.claim_type",
    /// A header parameter has the wrong JSON type.
    JwtHeaderType = "jwt.header_type",
    /// A required claim is absent or empty (the description names it).
    JwtClaimMissing = "jwt.claim_missing",

    // ---- idjag: Identity Assertion JWT Authorization Grants
    //      (draft-ietf-oauth-identity-assertion-authz-grant)
    /// An ID-JAG (`typ: oauth-id-jag+jwt`) from an issuer whose `profiles`
    /// do not include `id-jag`.
    IdJagProfileNotAllowed = "idjag.profile_not_allowed",
    /// A JWT that is not an ID-JAG from an issuer whose `profiles` are
    /// only `id-jag`.
    IdJagRequired = "idjag.required",
    /// `typ` names the ID-JAG media type in a form RFC 7515 §4.1.9 does not
    /// allow (whitespace, parameters).
    IdJagType = "idjag.typ",
    /// The ID-JAG's `aud` is not exactly this server's issuer identifier.
    IdJagAudience = "idjag.audience",
    /// The ID-JAG's `client_id` is not the authenticated client.
    IdJagClientMismatch = "idjag.client_id_mismatch",
    /// An ID-JAG was presented by a client that did not authenticate
    /// (public, or none): only confidential clients may present one.
    IdJagConfidentialClient = "idjag.confidential_client_required",
    /// The ID-JAG carries `authorization_details` (no type is supported).
    IdJagAuthorizationDetails = "idjag.authorization_details",
    /// An ID-JAG claim has the wrong type (`scope`, `resource`, `acr`,
    /// `amr`, `auth_time`, `cnf`).
    IdJagClaimType = "idjag.claim_type",
    /// The ID-JAG is bound to a key (`cnf.jkt`) and the request has no
    /// DPoP proof with that key.
    IdJagKeyBinding = "idjag.key_binding",

    // ---- target: the resource a token is for (RFC 8707)
    /// The requested resource is not one this server issues tokens for
    /// (`access_token.audience`, `access_token.resources`), or not one
    /// the ID-JAG names (`invalid_target`).
    TargetNotAllowed = "target.not_allowed",

    // ---- dpop: the DPoP proof (RFC 9449 §4.3)
    /// More than one `DPoP` header.
    DpopMultipleProofs = "dpop.multiple_proofs",
    /// The proof is not a compact JWS with a strict JSON header and
    /// payload, or is too large.
    DpopMalformed = "dpop.malformed",
    /// `typ` is not `dpop+jwt`.
    DpopType = "dpop.typ",
    /// `alg` is `none`, symmetric, unknown or not in `dpop.algorithms`.
    DpopAlgorithm = "dpop.alg",
    /// The header's `jwk` is missing, not a supported public key, holds
    /// private members, or does not fit `alg`.
    DpopKey = "dpop.jwk",
    /// The signature does not verify with the header's `jwk`.
    DpopSignature = "dpop.signature_invalid",
    /// A required claim (`jti`, `htm`, `htu`, `iat`) is missing or has the
    /// wrong type.
    DpopClaim = "dpop.claim_missing",
    /// `htm` is not the request's method.
    DpopMethod = "dpop.htm_mismatch",
    /// `htu` is not this token endpoint (compared after RFC 9449 §4.3
    /// normalisation).
    DpopUri = "dpop.htu_mismatch",
    /// `iat` is older than `dpop.max_age_secs` or in the future (beyond the
    /// skew).
    DpopIat = "dpop.iat",
    /// The proof's `jti` was used before with this key.
    DpopReplayed = "dpop.replayed",
    /// The proof has no server nonce, or a stale or foreign one
    /// (`use_dpop_nonce`, with a fresh `DPoP-Nonce`).
    DpopNonce = "dpop.nonce",
    /// The client must use DPoP (`dpop_bound_access_tokens`) and sent no
    /// proof.
    DpopRequired = "dpop.required",

    // ---- refresh: refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2)
    /// Not a refresh token of this server's format.
    RefreshMalformed = "refresh.malformed",
    /// No such family, or the token is neither its current nor a
    /// remembered rotated one (a guess, or a very old token).
    RefreshUnknown = "refresh.unknown",
    /// The family was revoked (reuse, or a revocation request).
    RefreshRevoked = "refresh.revoked",
    /// A rotated-out token was presented: the whole family is revoked.
    RefreshReused = "refresh.reused",
    /// The family's absolute or idle lifetime is over.
    RefreshExpired = "refresh.expired",
    /// The token was issued to another client (or the client authenticated
    /// another way).
    RefreshClientMismatch = "refresh.client_mismatch",
    /// A DPoP-bound family refreshed without a proof of its key.
    RefreshDpopKey = "refresh.dpop_key",
    /// The request asks for more scope than the family was granted.
    RefreshScope = "refresh.scope_widened",
    /// Another request rotated the family first (compare-and-swap lost).
    RefreshConflict = "refresh.conflict",
    /// The family's issuer is no longer trusted for refreshes (removed from
    /// the configuration, or `allow_refresh_tokens` turned off).
    RefreshIssuerWithdrawn = "refresh.issuer_withdrawn",

    // ---- saml: the SAML 2.0 assertion (RFC 7522 §3, SAML core)
    /// The assertion is longer than the limit.
    SamlTooLarge = "saml.too_large",
    /// The parameter is not base64url (or base64) of one alphabet.
    SamlEncoding = "saml.encoding",
    /// The document is not a SAML 2.0 Assertion (or is a Response).
    SamlNotAnAssertion = "saml.not_an_assertion",
    /// Encrypted assertions or identifiers (not supported).
    SamlEncrypted = "saml.encrypted",
    /// A required element or attribute is absent or empty.
    SamlElementMissing = "saml.element_missing",
    /// A value (Issuer, Audience, NameID, attribute) is split by markup.
    SamlSplitValue = "saml.split_value",
    /// The Version is not 2.0.
    SamlVersion = "saml.version",
    /// Conditions are repeated, unknown or malformed.
    SamlConditions = "saml.conditions",
    /// A ProxyRestriction forbids this token (SAML core §2.5.1.6).
    SamlProxyRestriction = "saml.proxy_restriction",
    /// More than one subject identifier.
    SamlSubjectIdentifiers = "saml.subject_identifiers",
    /// No usable bearer SubjectConfirmation (RFC 7522 §3 item 7).
    SamlNoBearerConfirmation = "saml.no_bearer_confirmation",
    /// The SubjectConfirmationData Recipient is not this token endpoint.
    SamlRecipient = "saml.recipient_mismatch",
    /// A SubjectConfirmation holds more than one SubjectConfirmationData.
    SamlConfirmationData = "saml.confirmation_data",
    /// A time is not a UTC `xs:dateTime`.
    SamlDateTime = "saml.date_time",

    // ---- xml: hardened parsing (no DTDs, no entities, limits)
    /// Not well-formed XML.
    XmlMalformed = "xml.malformed",
    /// A DOCTYPE declaration.
    XmlDoctype = "xml.doctype",
    /// An entity reference other than the predefined five.
    XmlEntity = "xml.entity",
    /// Not UTF-8.
    XmlEncoding = "xml.encoding",
    /// Namespace well-formedness violated.
    XmlNamespace = "xml.namespace",
    /// The same attribute twice.
    XmlDuplicateAttribute = "xml.duplicate_attribute",
    /// A parser limit (depth, nodes, attributes, sizes) was exceeded.
    XmlLimit = "xml.limit",

    // ---- dsig: the enveloped XML signature (XML-DSig 1.1, SAML core §5)
    /// The assertion is not signed.
    DsigNotSigned = "dsig.not_signed",
    /// More than one Signature in the document.
    DsigMultipleSignatures = "dsig.multiple_signatures",
    /// The Signature is not a direct child following the Issuer.
    DsigPosition = "dsig.position",
    /// The Signature is shaped other than the one accepted form.
    DsigShape = "dsig.shape",
    /// The Reference does not point at the root's own, unique ID.
    DsigReference = "dsig.reference",
    /// A canonicalization method or parameter that is not accepted.
    DsigCanonicalization = "dsig.c14n",
    /// A transform chain other than enveloped-signature then exclusive c14n.
    DsigTransform = "dsig.transform",
    /// A signature method that is unknown or not allowed for this issuer.
    DsigSignatureMethod = "dsig.signature_method",
    /// A digest method that is unknown or not enabled (SHA-1).
    DsigDigestMethod = "dsig.digest_method",
    /// A base64 value is invalid or split by markup.
    DsigBase64 = "dsig.base64",
    /// The canonical form exceeds the limit.
    DsigTooLarge = "dsig.too_large",
    /// The signature or the digest does not verify.
    DsigInvalid = "dsig.invalid",

    // ---- scope: scope policy (RFC 6749 §3.3)
    /// A requested scope is not allowed for this issuer and client.
    ScopeNotAllowed = "scope.not_allowed",
    /// None of the requested scope is allowed.
    ScopeNothingGranted = "scope.nothing_granted",

    // ---- server: our side
    /// The one-time-use store could not answer (503, retry).
    ServerReplayStore = "server.replay_store_unavailable",
    /// No usable key set could be had from the issuer's or client's URL
    /// (never fetched, or stale past `max_stale_secs`): 503, retry.
    ServerKeySetUnavailable = "server.key_set_unavailable",
    /// An internal failure (details only in the host's logs).
    ServerError = "server.error",
}

/// An error that knows which rule refused (every error type of the core).
pub(crate) trait Refusal: std::fmt::Display {
    /// The stable reason code.
    fn reason(&self) -> Reason;
}

/// `impl Refusal` for error types whose inherent `reason()` it forwards to.
macro_rules! refusal {
    ($($t:ty),+) => {
        $(impl $crate::reason::Refusal for $t {
            fn reason(&self) -> $crate::reason::Reason {
                <$t>::reason(self)
            }
        })+
    };
}
pub(crate) use refusal;

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// The reasons table as Markdown (`docs/reasons.md` is this text).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "# Reason codes\n\n\
         <!-- Generated from src/reason.rs by `UPDATE_GENERATED=1 cargo test --test generated`; do not edit. -->\n\n\
         Every refusal carries one stable reason code. Codes are never renamed, only added.\n\
         They appear in explain reports (each check's `id`, and `error.reason`), in\n\
         `OAuthError.reason` for logs and metrics, and in the test vectors — never in a public\n\
         `/token` response. The RFC 6749 `error` a reason is answered with depends on where the\n\
         rule ran: an `assertion.*` or `jwt.*` reason is `invalid_grant` for the grant and\n\
         `invalid_client` for a client assertion.\n\n\
         | Code | Meaning |\n|---|---|\n",
    );
    for r in Reason::ALL {
        out.push_str(&format!("| `{}` | {} |\n", r.code(), r.summary()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_dotted_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for &r in Reason::ALL {
            let code = r.code();
            assert!(seen.insert(code), "duplicate code {code}");
            let (ns, rest) = code.split_once('.').expect("dotted");
            assert!(
                [
                    "request",
                    "client",
                    "assertion",
                    "jwt",
                    "saml",
                    "xml",
                    "dsig",
                    "scope",
                    "server",
                    "idjag",
                    "target",
                    "dpop",
                    "refresh"
                ]
                .contains(&ns),
                "{code}"
            );
            assert!(
                rest.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{code}"
            );
            assert_eq!(Reason::from_code(code), Some(r));
            assert!(!r.summary().is_empty());
        }
        assert_eq!(Reason::from_code("nope"), None);
    }
}
