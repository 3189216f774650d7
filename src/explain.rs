//! Explain mode: a structured report of every check a token request went
//! through, produced by the *same* validation code that serves `/token`.
//!
//! Validation functions take a [`Trace`]. On the token path it is disabled
//! and records nothing (the detail closures never run); in
//! [`crate::TokenEndpoint::explain`] it records each check in order —
//! `{check, spec, outcome, detail}` — with the actual values, times and skew,
//! for an operator who needs to know exactly why an exchange failed. The
//! public endpoint's terse, non-leaking errors are unchanged.

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The rule held.
    Pass,
    /// The rule failed; the request is refused here.
    Fail,
    /// The rule did not apply (e.g. no `nbf` claim).
    Skipped,
}

/// One check in an explain report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked, e.g. `"audience"`.
    pub check: &'static str,
    /// Where the rule comes from, e.g. `"RFC 7522 §3 item 2"`.
    pub spec: &'static str,
    /// Pass, fail or skipped.
    pub outcome: Outcome,
    /// The values involved, in words.
    pub detail: String,
}

/// The full report of [`crate::TokenEndpoint::explain`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Every check, in the order it ran.
    pub checks: Vec<Check>,
    /// `true` if a token would be issued.
    pub would_issue: bool,
    /// The OAuth error the token endpoint would answer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ExplainedError>,
    /// The claims of the access token that would be issued (not signed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_claims: Option<Map<String, Value>>,
}

/// The error part of an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedError {
    /// The RFC 6749 code.
    pub error: &'static str,
    /// The description the endpoint would send.
    pub error_description: String,
    /// The HTTP status.
    pub status: u16,
}

impl Explanation {
    /// The report of a request refused before any check could run (e.g. a
    /// repeated header): no checks, the error the endpoint would answer.
    pub fn refused(e: &crate::OAuthError) -> Self {
        Self {
            checks: Vec::new(),
            would_issue: false,
            error: Some(ExplainedError {
                error: e.code().as_str(),
                error_description: e.description().to_owned(),
                status: e.status(),
            }),
            token_claims: None,
        }
    }
}

/// Where validation records its checks (see the module docs).
#[derive(Debug, Default)]
pub struct Trace(Option<Vec<Check>>);

impl Trace {
    /// A trace that records nothing (the token path).
    pub(crate) fn off() -> Self {
        Self(None)
    }

    /// A trace that records every check.
    pub(crate) fn on() -> Self {
        Self(Some(Vec::new()))
    }

    /// The recorded checks.
    pub(crate) fn into_checks(self) -> Vec<Check> {
        self.0.unwrap_or_default()
    }

    /// Records one check; `detail` runs only when the trace is on.
    pub(crate) fn record(
        &mut self,
        check: &'static str,
        spec: &'static str,
        outcome: Outcome,
        detail: impl FnOnce() -> String,
    ) {
        if let Some(checks) = &mut self.0 {
            checks.push(Check {
                check,
                spec,
                outcome,
                detail: detail(),
            });
        }
    }

    /// Records a passed check.
    pub(crate) fn pass(
        &mut self,
        check: &'static str,
        spec: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        self.record(check, spec, Outcome::Pass, detail);
    }

    /// Records a skipped check.
    pub(crate) fn skip(
        &mut self,
        check: &'static str,
        spec: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        self.record(check, spec, Outcome::Skipped, detail);
    }

    /// Records the outcome of `result` (its error's text on failure) and
    /// passes it through, so a rule reads `trace.check(..., rule())?`.
    pub(crate) fn check<T, E: fmt::Display>(
        &mut self,
        check: &'static str,
        spec: &'static str,
        result: Result<T, E>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, E> {
        match &result {
            Ok(v) => self.record(check, spec, Outcome::Pass, || detail(v)),
            Err(e) => self.record(check, spec, Outcome::Fail, || e.to_string()),
        }
        result
    }
}

/// Formats Unix seconds as an RFC 3339 UTC time for explain details.
pub(crate) fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(1_800_000_000), "2027-01-15T08:00:00Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_709_164_800), "2024-02-29T00:00:00Z");
    }

    #[test]
    fn a_disabled_trace_never_formats() {
        let mut t = Trace::off();
        t.pass("x", "y", || unreachable!("detail must not run"));
        assert!(t.into_checks().is_empty());
    }
}
