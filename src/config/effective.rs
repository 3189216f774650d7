//! The effective configuration: the document as written, with every field
//! it leaves out filled in with the value the server actually uses.
//!
//! For operators (`assertion-grant check-config`): what a configuration
//! means once the defaults apply. Values come from the validated
//! [`Config`], never from a second copy of the defaults, so this cannot
//! drift from what the endpoint does.

use serde_json::{Map, Value, json};

use super::{AssertionFormat, AuthMethod, Config};
use crate::crypto::Algorithm;
use crate::keyset::CachePolicy;
use crate::policy::ScopePolicy;

impl Config {
    /// The configuration document `text` (which built `self`) with every
    /// omitted field filled in with its effective value. Fields the
    /// document sets are kept as written; where leaving a field out means
    /// "no limit" (an issuer's `scope`, `subjects`) it stays out.
    ///
    /// `text` must be the document `self` was built from; anything else
    /// gives `None`.
    pub fn effective_json(&self, text: &str) -> Option<Value> {
        let mut doc: Value = serde_json::from_str(text).ok()?;
        let top = doc.as_object_mut()?;
        let policy = match self.scope_policy {
            ScopePolicy::Reject => "reject",
            ScopePolicy::Narrow => "narrow",
        };
        put_all(
            top,
            [
                ("token_endpoint", json!(self.token_endpoint)),
                ("jwks_uri", json!(self.jwks_uri)),
                ("audiences", json!(self.aliases)),
                ("clock_skew_secs", json!(self.clock_skew)),
                ("scope_policy", json!(policy)),
                ("config_refresh_secs", json!(self.config_refresh_secs)),
            ],
        );
        let at = &self.access_token;
        put_all(
            object(top, "access_token")?,
            [
                ("resources", json!(at.resources)),
                ("lifetime_secs", json!(at.lifetime)),
                ("cap_at_assertion_expiry", json!(at.cap_at_assertion_expiry)),
                ("max_subject_bytes", json!(at.max_subject_bytes)),
                ("max_claims_bytes", json!(at.max_claims_bytes)),
            ],
        );
        fill_cache(object(top, "key_cache")?, &self.key_cache);
        put_all(
            object(top, "dpop")?,
            [
                ("algorithms", json!(algorithm_names(&self.dpop.algorithms))),
                ("max_age_secs", json!(self.dpop.max_age)),
                ("require_nonce", json!(self.dpop.require_nonce)),
                ("nonce_lifetime_secs", json!(self.dpop.nonce_lifetime)),
            ],
        );
        let refresh = &self.refresh;
        put_all(
            object(top, "refresh_token")?,
            [
                ("lifetime_secs", json!(refresh.policy.lifetime)),
                ("idle_secs", json!(refresh.policy.idle)),
                (
                    "cap_at_assertion_expiry",
                    json!(refresh.cap_at_assertion_expiry),
                ),
                (
                    "require_offline_access",
                    json!(refresh.require_offline_access),
                ),
            ],
        );

        let issuers = array(top, "trusted_issuers")?;
        if issuers.len() != self.issuers.len() {
            return None;
        }
        for (entry, ti) in issuers.iter_mut().zip(&self.issuers) {
            let obj = entry.as_object_mut()?;
            put_all(
                obj,
                [
                    ("issuer", json!(ti.issuer)),
                    ("algorithms", json!(algorithm_names(&ti.algorithms))),
                    ("max_lifetime_secs", json!(ti.max_lifetime)),
                    ("clock_skew_secs", json!(ti.clock_skew)),
                    ("require_jti", json!(ti.require_jti)),
                    ("require_client", json!(ti.require_client)),
                    ("allow_refresh_tokens", json!(ti.allow_refresh_tokens)),
                ],
            );
            if ti.format == AssertionFormat::Jwt {
                let profiles: Vec<&str> = [
                    (ti.profiles.jwt_bearer, "jwt-bearer"),
                    (ti.profiles.id_jag, "id-jag"),
                ]
                .into_iter()
                .filter_map(|(on, name)| on.then_some(name))
                .collect();
                put(obj, "profiles", json!(profiles));
            }
            if let Some(source) = ti.remote.and_then(|i| self.key_sources.get(i)) {
                fill_cache(object(obj, "key_cache")?, &source.policy);
            }
            let dangerous = object(obj, "dangerous")?;
            // The effective values, whichever spelling set them.
            for (name, on) in [
                ("allow_sha1", ti.allow_sha1),
                ("allow_inclusive_c14n", ti.allow_inclusive_c14n),
                ("allow_missing_jti", !ti.require_jti),
                ("allow_anonymous", !ti.require_client),
                ("allow_shared_keys", ti.allow_shared_keys),
                ("shared_subject_namespace", ti.shared_subject_namespace),
            ] {
                dangerous.insert(name.into(), json!(on));
            }
        }

        let clients = array(top, "clients")?;
        if clients.len() != self.clients.len() {
            return None;
        }
        for (entry, c) in clients.iter_mut().zip(&self.clients) {
            let obj = entry.as_object_mut()?;
            put_all(
                obj,
                [
                    ("grant_types", json!(c.grant_types)),
                    ("scope", json!(c.scope.to_scope_string())),
                    (
                        "legacy_client_assertion_audience",
                        json!(c.legacy_client_assertion_audience),
                    ),
                    ("dpop_bound_access_tokens", json!(c.dpop_bound)),
                    ("allow_introspection", json!(c.allow_introspection)),
                ],
            );
            if c.auth_method == AuthMethod::Saml2Bearer {
                put(obj, "saml_name_id_format", json!(c.saml_name_id_format));
            }
            if let Some(source) = c.remote.and_then(|i| self.key_sources.get(i)) {
                fill_cache(object(obj, "key_cache")?, &source.policy);
            }
        }
        Some(doc)
    }
}

/// Sets `key` unless the document already gives it a value (`null` is
/// "not given": the server uses its default there too).
fn put(obj: &mut Map<String, Value>, key: &str, value: Value) {
    match obj.get_mut(key) {
        Some(existing) if !existing.is_null() => {}
        Some(existing) => *existing = value,
        None => {
            obj.insert(key.to_owned(), value);
        }
    }
}

/// [`put`] for each field.
fn put_all<const N: usize>(obj: &mut Map<String, Value>, fields: [(&str, Value); N]) {
    for (key, value) in fields {
        put(obj, key, value);
    }
}

/// Algorithm names as the configuration spells them: `RS1` (RSA-SHA1, SAML
/// only) is not a configurable algorithm but what `dangerous.allow_sha1`
/// adds, so it is left out (the `dangerous` block shows it).
fn algorithm_names(algorithms: &[Algorithm]) -> Vec<&'static str> {
    algorithms
        .iter()
        .filter(|a| **a != Algorithm::RS1)
        .map(|a| a.as_jose())
        .collect()
}

/// The object at `key`, created empty when absent; `None` if it is not one.
fn object<'a>(obj: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let slot = obj.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// The array at `key`, created empty when absent.
fn array<'a>(obj: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    let slot = obj.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut()
}

fn fill_cache(obj: &mut Map<String, Value>, policy: &CachePolicy) {
    put_all(
        obj,
        [
            ("min_cache_secs", json!(policy.min_cache_secs)),
            ("max_cache_secs", json!(policy.max_cache_secs)),
            ("refetch_cooldown_secs", json!(policy.refetch_cooldown_secs)),
            ("max_stale_secs", json!(policy.max_stale_secs)),
            ("failure_cache_secs", json!(policy.failure_cache_secs)),
            ("fetch_timeout_ms", json!(policy.fetch_timeout_ms)),
        ],
    );
}
