//! Authorization server metadata (RFC 8414) and the JWK Set of the
//! access-token signing keys (RFC 7517 §5).

use serde_json::{Value, json};

use crate::config::{AuthMethod, Config, url_path};
use crate::crypto::Algorithm;
use crate::encoding::b64url_encode;
use crate::protocol::{
    GRANT_JWT_BEARER, GRANT_PROFILE_ID_JAG, GRANT_REFRESH_TOKEN, GRANT_SAML2_BEARER,
};
use crate::token::PublicSigningKey;

/// The RFC 8414 §2 metadata document; `refresh`: the host stores
/// refresh-token families (then `refresh_token` is a supported grant type
/// when an issuer allows it).
pub(crate) fn metadata_document(config: &Config, refresh: bool) -> Value {
    let mut scopes: Vec<String> = Vec::new();
    let all_scopes = config
        .issuers
        .iter()
        .filter_map(|i| i.scope.as_ref())
        .chain(config.clients.iter().map(|c| &c.scope));
    for set in all_scopes {
        for token in set.to_scope_string().split(' ').filter(|t| !t.is_empty()) {
            if !scopes.iter().any(|s| s == token) {
                scopes.push(token.to_owned());
            }
        }
    }
    let methods = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];
    let mut doc = json!({
        "issuer": config.issuer,
        "token_endpoint": config.token_endpoint,
        "jwks_uri": config.jwks_uri,
        "grant_types_supported": if refresh && config.issuers.iter().any(|i| i.allow_refresh_tokens) {
            json!([GRANT_JWT_BEARER, GRANT_SAML2_BEARER, GRANT_REFRESH_TOKEN])
        } else {
            json!([GRANT_JWT_BEARER, GRANT_SAML2_BEARER])
        },
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": methods.map(AuthMethod::as_str),
        "token_endpoint_auth_signing_alg_values_supported": Algorithm::ALL.map(Algorithm::as_jose),
        "scopes_supported": scopes,
        "dpop_signing_alg_values_supported":
            config.dpop.algorithms.iter().map(|a| a.as_jose()).collect::<Vec<_>>(),
    });
    if config.issuers.iter().any(|i| i.profiles.id_jag) {
        doc["authorization_grant_profiles_supported"] = json!([GRANT_PROFILE_ID_JAG]);
    }
    doc
}

/// The public JWK Set of the signing keys (active key first).
pub(crate) fn jwks_document(keys: &[&PublicSigningKey]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "kty": "EC",
                "crv": "P-256",
                "x": b64url_encode(&k.x),
                "y": b64url_encode(&k.y),
                "kid": k.kid,
                "use": "sig",
                "alg": "ES256",
            })
        })
        .collect();
    json!({ "keys": keys })
}

/// Where RFC 8414 §3.1 puts the metadata for `issuer`: the well-known
/// segment goes between the host and the issuer's path.
pub(crate) fn metadata_path(issuer: &str) -> String {
    let path = url_path(issuer);
    if path == "/" {
        "/.well-known/oauth-authorization-server".to_owned()
    } else {
        format!("/.well-known/oauth-authorization-server{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_paths() {
        assert_eq!(
            metadata_path("https://as.example.com"),
            "/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_path("https://as.example.com/tenant/a"),
            "/.well-known/oauth-authorization-server/tenant/a"
        );
    }
}
