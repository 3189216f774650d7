//! Typed access to JWT claims (RFC 7519 §4.1).

use serde_json::{Map, Value};

use super::JoseError;

/// The claims of a JWT whose signature has been verified (see
/// [`crate::Verified`]). Accessors check the registered claims' types.
#[derive(Debug, Clone)]
pub struct Claims(Map<String, Value>);

impl Claims {
    pub(crate) fn new(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// All claims, by value.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// All claims.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// A string claim (`iss`, `sub`, `jti`); wrong type is an error.
    pub fn string(&self, name: &'static str) -> Result<Option<&str>, JoseError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(JoseError::ClaimType(name)),
        }
    }

    /// `aud`: a string or an array of strings (RFC 7519 §4.1.3).
    pub fn audiences(&self) -> Result<Vec<&str>, JoseError> {
        match self.0.get("aud") {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.as_str()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or(JoseError::ClaimType("aud")))
                .collect(),
            Some(_) => Err(JoseError::ClaimType("aud")),
        }
    }

    /// A NumericDate claim (`exp`, `nbf`, `iat`) in whole seconds.
    /// Fractions are rounded *against* the holder: `exp` down, the others up
    /// (`round_up`). Non-numbers and values outside ±2^53 are errors.
    pub fn numeric_date(
        &self,
        name: &'static str,
        round_up: bool,
    ) -> Result<Option<i64>, JoseError> {
        const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
        let Some(value) = self.0.get(name) else {
            return Ok(None);
        };
        if let Some(i) = value.as_i64() {
            return if (i as f64).abs() <= LIMIT {
                Ok(Some(i))
            } else {
                Err(JoseError::ClaimType(name))
            };
        }
        match value.as_f64() {
            Some(f) if f.is_finite() && f.abs() <= LIMIT => {
                let rounded = if round_up { f.ceil() } else { f.floor() };
                // In range by the check above, so the cast is exact.
                Ok(Some(rounded as i64))
            }
            _ => Err(JoseError::ClaimType(name)),
        }
    }
}
