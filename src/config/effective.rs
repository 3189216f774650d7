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
        put(top, "token_endpoint", json!(self.token_endpoint));
        put(top, "jwks_uri", json!(self.jwks_uri));
        put(top, "audiences", json!(self.aliases));
        put(top, "clock_skew_secs", json!(self.clock_skew));
        let policy = match self.scope_policy {
            ScopePolicy::Reject => "reject",
            ScopePolicy::Narrow => "narrow",
        };
        put(top, "scope_policy", json!(policy));
        put(top, "config_refresh_secs", json!(self.config_refresh_secs));

        let at = &self.access_token;
        let access = object(top, "access_token")?;
        put(access, "resources", json!(at.resources));
        put(access, "lifetime_secs", json!(at.lifetime));
        put(
            access,
            "cap_at_assertion_expiry",
            json!(at.cap_at_assertion_expiry),
        );
        put(access, "max_subject_bytes", json!(at.max_subject_bytes));
        put(access, "max_claims_bytes", json!(at.max_claims_bytes));

        fill_cache(object(top, "key_cache")?, &self.key_cache);

        let dpop = object(top, "dpop")?;
        put(
            dpop,
            "algorithms",
            json!(algorithm_names(&self.dpop.algorithms)),
        );
        put(dpop, "max_age_secs", json!(self.dpop.max_age));
        put(dpop, "require_nonce", json!(self.dpop.require_nonce));
        put(dpop, "nonce_lifetime_secs", json!(self.dpop.nonce_lifetime));

        let refresh = object(top, "refresh_token")?;
        put(
            refresh,
            "lifetime_secs",
            json!(self.refresh.policy.lifetime),
        );
        put(refresh, "idle_secs", json!(self.refresh.policy.idle));
        put(
            refresh,
            "cap_at_assertion_expiry",
            json!(self.refresh.cap_at_assertion_expiry),
        );
        put(
            refresh,
            "require_offline_access",
            json!(self.refresh.require_offline_access),
        );

        let issuers = array(top, "trusted_issuers")?;
        if issuers.len() != self.issuers.len() {
            return None;
        }
        for (entry, ti) in issuers.iter_mut().zip(&self.issuers) {
            let obj = entry.as_object_mut()?;
            put(obj, "issuer", json!(ti.issuer));
            put(obj, "algorithms", json!(algorithm_names(&ti.algorithms)));
            put(obj, "max_lifetime_secs", json!(ti.max_lifetime));
            put(obj, "clock_skew_secs", json!(ti.clock_skew));
            put(obj, "require_jti", json!(ti.require_jti));
            put(obj, "require_client", json!(ti.require_client));
            put(obj, "allow_refresh_tokens", json!(ti.allow_refresh_tokens));
            if ti.format == AssertionFormat::Jwt {
                let mut profiles = Vec::new();
                if ti.profiles.jwt_bearer {
                    profiles.push("jwt-bearer");
                }
                if ti.profiles.id_jag {
                    profiles.push("id-jag");
                }
                put(obj, "profiles", json!(profiles));
            }
            if let Some(source) = ti.remote.and_then(|i| self.key_sources.get(i)) {
                fill_cache(object(obj, "key_cache")?, &source.policy);
            }
            let dangerous = object(obj, "dangerous")?;
            // The effective values, whichever spelling set them.
            dangerous.insert("allow_sha1".into(), json!(ti.allow_sha1));
            dangerous.insert(
                "allow_inclusive_c14n".into(),
                json!(ti.allow_inclusive_c14n),
            );
            dangerous.insert("allow_missing_jti".into(), json!(!ti.require_jti));
            dangerous.insert("allow_anonymous".into(), json!(!ti.require_client));
            dangerous.insert("allow_shared_keys".into(), json!(ti.allow_shared_keys));
            dangerous.insert(
                "shared_subject_namespace".into(),
                json!(ti.shared_subject_namespace),
            );
        }

        let clients = array(top, "clients")?;
        if clients.len() != self.clients.len() {
            return None;
        }
        for (entry, c) in clients.iter_mut().zip(&self.clients) {
            let obj = entry.as_object_mut()?;
            put(obj, "grant_types", json!(c.grant_types));
            put(obj, "scope", json!(c.scope.to_scope_string()));
            if c.auth_method == AuthMethod::Saml2Bearer {
                put(obj, "saml_name_id_format", json!(c.saml_name_id_format));
            }
            put(
                obj,
                "legacy_client_assertion_audience",
                json!(c.legacy_client_assertion_audience),
            );
            put(obj, "dpop_bound_access_tokens", json!(c.dpop_bound));
            put(obj, "allow_introspection", json!(c.allow_introspection));
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
    put(obj, "min_cache_secs", json!(policy.min_cache_secs));
    put(obj, "max_cache_secs", json!(policy.max_cache_secs));
    put(
        obj,
        "refetch_cooldown_secs",
        json!(policy.refetch_cooldown_secs),
    );
    put(obj, "max_stale_secs", json!(policy.max_stale_secs));
    put(obj, "failure_cache_secs", json!(policy.failure_cache_secs));
    put(obj, "fetch_timeout_ms", json!(policy.fetch_timeout_ms));
}
