//! The access-token signing keys (kept apart from the configuration).

use serde_json::Value;
use std::collections::HashSet;

use super::ConfigError;
#[cfg(feature = "rust-crypto")]
use crate::crypto::SigningKey;
#[cfg(feature = "rust-crypto")]
use crate::jose::parse_private_jwk;
use crate::jose::parse_public_signing_jwk;
use crate::json;
use crate::limits::MAX_KEYS_PER_SET;
use crate::token::PublicSigningKey;

/// Parses the access-token signing keys: one private EC P-256 JWK, or a JWK
/// Set of them whose first key is the active one (the others stay published
/// in the JWKS during rotation).
#[cfg(feature = "rust-crypto")]
pub fn signing_keys_from_json(text: &str) -> Result<Vec<SigningKey>, ConfigError> {
    let keys = key_list(text, parse_private_jwk)?;
    unique_kids(keys.iter().map(SigningKey::kid))?;
    Ok(keys)
}

/// Parses the public halves of the access-token signing keys, for an
/// endpoint whose host signs ([`crate::TokenEndpoint::with_host_signer`]):
/// one public EC P-256 JWK, or a JWK Set whose first key is active. A
/// private member `d` is refused: the private key stays with the host.
pub fn public_signing_keys_from_json(text: &str) -> Result<Vec<PublicSigningKey>, ConfigError> {
    let keys = key_list(text, parse_public_signing_jwk)?;
    unique_kids(keys.iter().map(|k| k.kid.as_str()))?;
    Ok(keys)
}

/// One JWK, or `{"keys": [...]}` of 1 to [`MAX_KEYS_PER_SET`], each parsed
/// by `parse`; errors name `signing_key` or `signing_key.keys[i]`.
fn key_list<K>(
    text: &str,
    parse: impl Fn(&Value) -> Result<K, crate::jose::JwkError>,
) -> Result<Vec<K>, ConfigError> {
    let value = json::parse(text.as_bytes())
        .map_err(|e| ConfigError::new("signing_key", format!("not valid JSON: {e}")))?;
    let at = |path: String, e: crate::jose::JwkError| match e.member {
        Some(m) => ConfigError::new(format!("{path}.{m}"), e.reason),
        None => ConfigError::new(path, e.reason),
    };
    match value.get("keys") {
        None => Ok(vec![
            parse(&value).map_err(|e| at("signing_key".into(), e))?,
        ]),
        Some(Value::Array(keys)) if !keys.is_empty() && keys.len() <= MAX_KEYS_PER_SET => keys
            .iter()
            .enumerate()
            .map(|(i, k)| parse(k).map_err(|e| at(format!("signing_key.keys[{i}]"), e)))
            .collect(),
        Some(_) => Err(ConfigError::new(
            "signing_key.keys",
            format!("must be an array of 1 to {MAX_KEYS_PER_SET} JWKs"),
        )),
    }
}

fn unique_kids<'k>(kids: impl Iterator<Item = &'k str>) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, kid) in kids.enumerate() {
        if !seen.insert(kid) {
            return Err(ConfigError::new(
                format!("signing_key.keys[{i}].kid"),
                "duplicate kid",
            ));
        }
    }
    Ok(())
}
