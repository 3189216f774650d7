//! Remote key sets — `jwks_uri` and `saml_metadata_url` — as pure state
//! (DESIGN.md, "the core asks, the host answers"): the core never fetches.
//! When validation needs a key set it does not hold, it stops with a
//! [`KeySetNeed`] (which source, and why: first use, an unknown `kid`, or
//! an expired set); the host fetches the document and hands it back as a
//! [`FetchResult`]; [`SourceState::record`] parses it with the same rules
//! and limits as pasted keys and applies the cache policy; the exchange
//! resumes.
//!
//! The cache policy ([`CachePolicy`]) is decided here, once, for every
//! host:
//!
//! - a fetched set is fresh for its `Cache-Control: max-age`, clamped to
//!   [`min_cache_secs`, `max_cache_secs`] (no `max-age`, `no-cache` or
//!   `no-store`: `min_cache_secs`);
//! - a `kid` the fresh set lacks triggers one refetch, at most once per
//!   `refetch_cooldown_secs` per source (hosts make concurrent needs share
//!   one fetch);
//! - a failed fetch is remembered for `failure_cache_secs` (an outage is not
//!   hammered) and the last good set keeps serving until `max_stale_secs`
//!   past its freshness;
//! - with no usable set, the answer is 503 `temporarily_unavailable` with
//!   `Retry-After` — never `invalid_grant`: the assertion may be fine.
//!
//! Keys a real IdP publishes that we cannot use (`use: enc`, other key
//! types or curves, small RSA, private members, duplicates) are skipped
//! and reported, never fatal for the set. Keys come only from the URLs the
//! configuration names: `jku`, `x5u`, `x5c` and KeyInfo are never key
//! sources.

use serde_json::Value;
use std::sync::Arc;

use crate::crypto::seam::KeyOwner;
use crate::jose::{FetchedView, Jwk, KeyView, parse_public_jwk};
use crate::limits::{
    MAX_FETCHED_JWKS_BYTES, MAX_FETCHED_JWKS_ENTRIES, MAX_KEYS_PER_SET, MAX_METADATA_BYTES,
};

/// How a source's fetched set is cached (`key_cache`, globally and per
/// issuer or client). Seconds, except the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Shortest freshness, whatever `max-age` says.
    pub min_cache_secs: i64,
    /// Longest freshness.
    pub max_cache_secs: i64,
    /// Unknown-`kid` refetches at most once per this long.
    pub refetch_cooldown_secs: i64,
    /// How long past its freshness the last good set serves when fetching
    /// fails.
    pub max_stale_secs: i64,
    /// How long a failed fetch is not retried.
    pub failure_cache_secs: i64,
    /// Timeout of one fetch, in milliseconds (the host enforces it).
    pub fetch_timeout_ms: u64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            min_cache_secs: 300,
            max_cache_secs: 86_400,
            refetch_cooldown_secs: 30,
            max_stale_secs: 86_400,
            failure_cache_secs: 30,
            fetch_timeout_ms: 5_000,
        }
    }
}

/// What a source's document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A JWK Set (RFC 7517 §5).
    Jwks,
    /// SAML 2.0 metadata; the signing certificates of the issuer's
    /// `IDPSSODescriptor`.
    SamlMetadata,
}

impl SourceKind {
    /// `"jwks"` or `"saml-metadata"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwks => "jwks",
            Self::SamlMetadata => "saml-metadata",
        }
    }

    /// The largest document accepted: 64 KiB for a JWK Set, 1 MiB for
    /// metadata.
    pub fn max_bytes(self) -> usize {
        match self {
            Self::Jwks => MAX_FETCHED_JWKS_BYTES,
            Self::SamlMetadata => MAX_METADATA_BYTES,
        }
    }
}

/// One remote key set the configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    /// The URL (`https`, or `http` on localhost), exactly as configured.
    pub url: String,
    /// What the document is.
    pub kind: SourceKind,
    /// Whose keys it holds.
    pub owner: KeyOwner,
    /// For metadata: the `entityID` whose certificates count (the issuer).
    pub entity_id: Option<String>,
    /// Its cache policy.
    pub policy: CachePolicy,
}

impl KeySource {
    /// The owner as a configuration path: `trusted_issuers[2]`, `clients[0]`.
    pub fn owner_path(&self) -> String {
        match self.owner {
            KeyOwner::Issuer(i) => format!("trusted_issuers[{i}]"),
            KeyOwner::Client(i) => format!("clients[{i}]"),
        }
    }
}

/// Why the core asks for a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchWhy {
    /// No set was ever obtained for this source.
    FirstUse,
    /// The fresh set lacks the `kid` an assertion names (the IdP may have
    /// rotated).
    UnknownKid,
    /// The set is past its freshness.
    Expired,
}

impl FetchWhy {
    /// `first_use`, `unknown_kid` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstUse => "first_use",
            Self::UnknownKid => "unknown_kid",
            Self::Expired => "expired",
        }
    }
}

/// A key set the core needs before it can go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySetNeed {
    /// Index into [`crate::config::Config::key_sources`].
    pub source: usize,
    /// Why.
    pub why: FetchWhy,
    /// When the set the core holds now was fetched (None: it holds none);
    /// lets a host tell whether a shared cache has a newer copy.
    pub have_fetched_at: Option<i64>,
}

/// The host's answer to a [`KeySetNeed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchResult {
    /// A 200 response's body.
    Document {
        /// The body, as text.
        body: String,
        /// The response's `Cache-Control` header, if any.
        cache_control: Option<String>,
        /// When the document left the origin (for a shared-cache copy, the
        /// original fetch), in seconds; never later than now.
        fetched_at: i64,
    },
    /// No document: timeout, network error, another status, a redirect to
    /// another origin, too large…
    Failed {
        /// Short and free of the body, for logs and explain.
        error: String,
    },
}

/// A key a fetched document holds but that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the JWK Set's `keys` (None for metadata certificates).
    pub index: Option<usize>,
    /// Its `kid`, when it has one.
    pub kid: Option<String>,
    /// One of `private`, `use`, `key_ops`, `kty`, `crv`, `alg`, `key`,
    /// `duplicate`, `limit`, `ca`.
    pub why: &'static str,
    /// What is wrong.
    pub detail: String,
}

/// A fetched, parsed key set with its freshness.
#[derive(Debug, Clone)]
pub struct FetchedKeys {
    /// The source it came from.
    pub source: usize,
    /// Increases whenever the keys change: key references name it, so a
    /// host's imported key for an old generation is never taken for a new
    /// one.
    pub generation: u64,
    /// The usable keys, in document order.
    pub keys: Vec<Jwk>,
    /// What was skipped.
    pub skipped: Vec<SkippedKey>,
    /// When the document left the origin.
    pub fetched_at: i64,
    /// The `max-age` it came with, if any.
    pub max_age: Option<i64>,
    /// Fresh until then (seconds).
    pub fresh_until: i64,
    /// Serves, when fetching fails, until then.
    pub stale_until: i64,
}

impl FetchedKeys {
    /// Whether a key with this `kid` is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }
}

#[derive(Debug, Clone)]
struct Failure {
    at: i64,
    until: i64,
    error: String,
}

/// What [`SourceState::record`] made of a fetch, for logs, metrics and a
/// shared cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// Whether the document replaced (or renewed) the set.
    pub accepted: bool,
    /// Usable keys in the set now serving (0 if none).
    pub keys: usize,
    /// What the document held that cannot be used.
    pub skipped: Vec<SkippedKey>,
    /// Why the document was not accepted.
    pub error: Option<String>,
    /// The accepted document's fetch time and freshness.
    pub fetched_at: Option<i64>,
    /// Fresh until.
    pub fresh_until: Option<i64>,
    /// Serves when fetching fails until.
    pub stale_until: Option<i64>,
    /// The generation now serving.
    pub generation: Option<u64>,
}

/// What the cache says for one lookup.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Use this set (`stale`: past its freshness, serving because fetching
    /// failed).
    Use {
        /// The set.
        keys: Arc<FetchedKeys>,
        /// Past its freshness.
        stale: bool,
    },
    /// Ask the host for a fetch.
    Fetch(FetchWhy),
    /// Nothing usable: answer 503 and retry after this many seconds.
    Unavailable {
        /// Seconds.
        retry_after: i64,
        /// The last failure, for explain and logs.
        error: Option<String>,
    },
}

/// One source's cache: the set serving now (and the one before it, so a
/// check made just before a rotation still finds its key), the last fetch
/// attempt and the last failure.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    current: Option<Arc<FetchedKeys>>,
    previous: Option<Arc<FetchedKeys>>,
    last_attempt: Option<i64>,
    failure: Option<Failure>,
    generations: u64,
}

impl SourceState {
    /// The set serving now, if any.
    pub fn current(&self) -> Option<&Arc<FetchedKeys>> {
        self.current.as_ref()
    }

    /// The set of `generation`, if it is the current or the previous one.
    pub fn generation(&self, generation: u64) -> Option<&Arc<FetchedKeys>> {
        [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .find(|s| s.generation == generation)
    }

    /// The last failure, if it is still remembered at `now`.
    pub fn failure(&self, now: i64) -> Option<(i64, &str)> {
        self.failure
            .as_ref()
            .filter(|f| f.until > now)
            .map(|f| (f.at, f.error.as_str()))
    }

    /// The last failure, remembered or not (for explain).
    pub fn last_failure(&self) -> Option<(i64, &str)> {
        self.failure.as_ref().map(|f| (f.at, f.error.as_str()))
    }

    /// Decides at `now` whether the set serves, must be fetched, or is
    /// unavailable. `satisfied` says whether a set has what the request
    /// needs (e.g. its `kid`); `may_fetch` is false once this request has
    /// had its fetch of this source (a request never loops).
    pub fn lookup(
        &self,
        policy: &CachePolicy,
        now: i64,
        satisfied: impl Fn(&FetchedKeys) -> bool,
        may_fetch: bool,
    ) -> Lookup {
        let failing = self.failure(now).is_some();
        let may_fetch = may_fetch && !failing;
        match &self.current {
            Some(set) if now < set.fresh_until => {
                let cooled = self
                    .last_attempt
                    .is_none_or(|t| now >= t.saturating_add(policy.refetch_cooldown_secs));
                if may_fetch && cooled && !satisfied(set) {
                    Lookup::Fetch(FetchWhy::UnknownKid)
                } else {
                    Lookup::Use {
                        keys: Arc::clone(set),
                        stale: false,
                    }
                }
            }
            Some(_) if may_fetch => Lookup::Fetch(FetchWhy::Expired),
            Some(set) if now < set.stale_until => Lookup::Use {
                keys: Arc::clone(set),
                stale: true,
            },
            None if may_fetch => Lookup::Fetch(FetchWhy::FirstUse),
            _ => Lookup::Unavailable {
                retry_after: self.retry_after(now, policy),
                error: self.failure.as_ref().map(|f| f.error.clone()),
            },
        }
    }

    fn retry_after(&self, now: i64, policy: &CachePolicy) -> i64 {
        let wait = match self.failure(now) {
            Some(_) => self.failure.as_ref().map_or(0, |f| f.until - now),
            None => policy.failure_cache_secs,
        };
        wait.clamp(1, 3600)
    }

    /// Records the host's answer for `source` at `now`: a document is
    /// parsed with `source`'s rules and limits and, when it holds at least
    /// one usable key, becomes the set serving (its freshness from
    /// `Cache-Control` per the policy); anything else is a failure,
    /// remembered for `failure_cache_secs`, and the last good set stays.
    pub fn record(
        &mut self,
        index: usize,
        source: &KeySource,
        result: FetchResult,
        now: i64,
    ) -> FetchReport {
        self.last_attempt = Some(now);
        let (body, cache_control, fetched_at) = match result {
            FetchResult::Document {
                body,
                cache_control,
                fetched_at,
            } => (body, cache_control, fetched_at.min(now)),
            FetchResult::Failed { error } => {
                return self.fail(now, source, bounded(&error), vec![]);
            }
        };
        if body.len() > source.kind.max_bytes() {
            let error = format!("larger than {} bytes", source.kind.max_bytes());
            return self.fail(now, source, error, vec![]);
        }
        let parsed = match source.kind {
            SourceKind::Jwks => parse_fetched_jwks(&body),
            SourceKind::SamlMetadata => {
                parse_fetched_metadata(&body, source.entity_id.as_deref().unwrap_or_default())
            }
        };
        let (keys, skipped) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => return self.fail(now, source, error, vec![]),
        };
        if keys.is_empty() {
            return self.fail(now, source, "no usable key".into(), skipped);
        }
        let policy = &source.policy;
        let max_age = cache_control.as_deref().and_then(max_age);
        let ttl = max_age
            .unwrap_or(policy.min_cache_secs)
            .clamp(policy.min_cache_secs, policy.max_cache_secs);
        let fresh_until = fetched_at.saturating_add(ttl);
        let same_keys = self
            .current
            .as_ref()
            .is_some_and(|c| same_keys(&c.keys, &keys));
        let generation = if same_keys {
            self.generations
        } else {
            self.generations += 1;
            self.generations
        };
        let set = Arc::new(FetchedKeys {
            source: index,
            generation,
            keys,
            skipped: skipped.clone(),
            fetched_at,
            max_age,
            fresh_until,
            stale_until: fresh_until.saturating_add(policy.max_stale_secs),
        });
        // An older copy (another isolate's shared-cache entry) never
        // replaces a newer one.
        if let Some(current) = &self.current
            && current.fetched_at > set.fetched_at
        {
            return self.report(true, skipped, None);
        }
        if !same_keys {
            self.previous = self.current.take();
        }
        self.current = Some(set);
        self.failure = None;
        self.report(true, skipped, None)
    }

    fn fail(
        &mut self,
        now: i64,
        source: &KeySource,
        error: String,
        skipped: Vec<SkippedKey>,
    ) -> FetchReport {
        self.failure = Some(Failure {
            at: now,
            until: now.saturating_add(source.policy.failure_cache_secs),
            error: error.clone(),
        });
        self.report(false, skipped, Some(error))
    }

    fn report(
        &self,
        accepted: bool,
        skipped: Vec<SkippedKey>,
        error: Option<String>,
    ) -> FetchReport {
        let current = self.current.as_deref();
        FetchReport {
            accepted,
            keys: current.map_or(0, |c| c.keys.len()),
            skipped,
            error,
            fetched_at: current.map(|c| c.fetched_at),
            fresh_until: current.map(|c| c.fresh_until),
            stale_until: current.map(|c| c.stale_until),
            generation: current.map(|c| c.generation),
        }
    }
}

fn same_keys(a: &[Jwk], b: &[Jwk]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.kid() == y.kid() && x.alg() == y.alg() && x.key().same_key(y.key()))
}

/// An error text from a host, bounded for logs.
fn bounded(error: &str) -> String {
    let mut out: String = error
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if out.is_empty() {
        out.push_str("fetch failed");
    }
    out
}

/// `max-age` of a `Cache-Control` header, in seconds; `no-store` and
/// `no-cache` count as 0. (`s-maxage` is for shared caches: ignored.)
pub fn max_age(header: &str) -> Option<i64> {
    let mut age = None;
    for directive in header.split(',') {
        let directive = directive.trim();
        let (name, value) = directive
            .split_once('=')
            .map_or((directive, None), |(n, v)| (n.trim(), Some(v.trim())));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            let digits = value?.trim_matches('"');
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Huge values saturate; the policy clamps them anyway.
            age = Some(digits.parse::<i64>().unwrap_or(i64::MAX));
        }
    }
    age
}

/// A fetched JWK Set, leniently: every usable key, and each unusable one
/// with why (first matching rule: `private`, `use`, `key_ops`, `kty`,
/// `crv`, `alg`, `key`, `duplicate`, `limit`). Fails only when the
/// document is not a JWK Set.
pub fn parse_fetched_jwks(body: &str) -> Result<(Vec<Jwk>, Vec<SkippedKey>), String> {
    let value = crate::json::parse(body.as_bytes()).map_err(|e| format!("not JSON: {e}"))?;
    let entries = value
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or_else(|| "not a JWK Set (no \"keys\" array)".to_owned())?;
    if entries.len() > MAX_FETCHED_JWKS_ENTRIES {
        return Err(format!("more than {MAX_FETCHED_JWKS_ENTRIES} keys"));
    }
    let mut keys: Vec<Jwk> = Vec::new();
    let mut skipped = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let kid = entry
            .get("kid")
            .and_then(Value::as_str)
            .map(|k| k.chars().take(64).collect::<String>());
        let skip = |why: &'static str, detail: String| SkippedKey {
            index: Some(index),
            kid: kid.clone(),
            why,
            detail,
        };
        let key = match classify(entry) {
            Err((why, detail)) => {
                skipped.push(skip(why, detail));
                continue;
            }
            Ok(()) => match parse_public_jwk(entry) {
                Ok(key) => key,
                Err(e) => {
                    skipped.push(skip("key", e.to_string()));
                    continue;
                }
            },
        };
        let duplicate = keys
            .iter()
            .any(|k| (key.kid().is_some() && k.kid() == key.kid()) || k.key().same_key(key.key()));
        if duplicate {
            skipped.push(skip(
                "duplicate",
                "same kid or same key as an earlier key".into(),
            ));
        } else if keys.len() == MAX_KEYS_PER_SET {
            skipped.push(skip(
                "limit",
                format!("more than {MAX_KEYS_PER_SET} usable keys"),
            ));
        } else {
            keys.push(key);
        }
    }
    Ok((keys, skipped))
}

/// The rules a fetched key fails before its key material is looked at.
fn classify(entry: &Value) -> Result<(), (&'static str, String)> {
    let Some(obj) = entry.as_object() else {
        return Err(("key", "not a JSON object".into()));
    };
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        if obj.contains_key(private) {
            return Err((
                "private",
                format!("holds private member \"{private}\" (the publisher leaks a key)"),
            ));
        }
    }
    let text = |name: &str| obj.get(name).and_then(Value::as_str);
    if let Some(usage) = obj.get("use")
        && usage.as_str() != Some("sig")
    {
        return Err(("use", "use is not \"sig\"".into()));
    }
    if let Some(ops) = obj.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verify {
            return Err(("key_ops", "key_ops lacks \"verify\"".into()));
        }
    }
    let kty = text("kty");
    if !matches!(kty, Some("RSA" | "EC")) {
        return Err(("kty", "key type is not RSA or EC".into()));
    }
    if kty == Some("EC") && text("crv") != Some("P-256") {
        return Err(("crv", "curve is not P-256".into()));
    }
    if let Some(alg) = obj.get("alg") {
        let fits = alg
            .as_str()
            .and_then(crate::crypto::Algorithm::from_jose)
            .is_some_and(|a| match kty {
                Some("EC") => a.key_type() == crate::crypto::KeyType::EcP256,
                _ => a.key_type() == crate::crypto::KeyType::Rsa,
            });
        if !fits {
            return Err((
                "alg",
                "alg is not a supported signature algorithm for this key".into(),
            ));
        }
    }
    Ok(())
}

/// Fetched SAML metadata: the usable signing certificates of `entity_id`.
pub fn parse_fetched_metadata(
    body: &str,
    entity_id: &str,
) -> Result<(Vec<Jwk>, Vec<SkippedKey>), String> {
    let (certificates, skipped) =
        crate::saml_metadata::idp_signing_certificates(body, entity_id).map_err(|e| e.0)?;
    let mut keys = Vec::new();
    let mut skipped: Vec<SkippedKey> = skipped
        .into_iter()
        .map(|s| SkippedKey {
            index: None,
            kid: None,
            why: s.why,
            detail: s.detail,
        })
        .collect();
    for cert in certificates {
        // Usable by construction (checked while reading the metadata).
        let Ok(der) = crate::x509::certificate_der(&cert) else {
            continue;
        };
        let Ok(key) = crate::x509::public_key_from_der(&der) else {
            continue;
        };
        if keys.len() == MAX_KEYS_PER_SET {
            skipped.push(SkippedKey {
                index: None,
                kid: None,
                why: "limit",
                detail: format!("more than {MAX_KEYS_PER_SET} signing certificates"),
            });
            break;
        }
        keys.push(Jwk::from_certificate(key, &der));
    }
    Ok((keys, skipped))
}

/// Why validation could not get the keys it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySetError {
    /// Not a refusal: the exchange waits for the host to fetch.
    Needed(KeySetNeed),
    /// Nothing usable (never fetched, or stale past `max_stale_secs`):
    /// 503 `temporarily_unavailable`, `Retry-After`.
    Unavailable {
        /// Which source.
        source: usize,
        /// Seconds.
        retry_after: i64,
        /// For explain and logs (never sent to the client).
        detail: String,
    },
}

impl std::fmt::Display for KeySetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Needed(_) => f.write_str("the key set must be fetched first"),
            Self::Unavailable { .. } => {
                f.write_str("the signing keys could not be obtained, try again later")
            }
        }
    }
}

impl crate::reason::Refusal for KeySetError {
    fn reason(&self) -> crate::reason::Reason {
        match self {
            Self::Needed(_) => crate::reason::Reason::ServerError,
            Self::Unavailable { .. } => crate::reason::Reason::ServerKeySetUnavailable,
        }
    }
}

/// What validation may ask about remote keys mid-request: the set serving
/// for `source`, the need to fetch it, or that nothing can be had.
pub(crate) trait RemoteKeys {
    /// `kid_known`: whether the request's `kid` (if any) is already
    /// satisfied without the fetched set (a configured key has it).
    fn lookup(
        &self,
        source: usize,
        kid: Option<&str>,
    ) -> Result<(Arc<FetchedKeys>, bool), KeySetError>;
}

/// For the configuration-only validation functions: no key set is ever
/// fetched, so an owner that has one is unavailable.
#[cfg(feature = "rust-crypto")]
pub(crate) struct NoRemoteKeys;

#[cfg(feature = "rust-crypto")]
impl RemoteKeys for NoRemoteKeys {
    fn lookup(
        &self,
        source: usize,
        _kid: Option<&str>,
    ) -> Result<(Arc<FetchedKeys>, bool), KeySetError> {
        Err(KeySetError::Unavailable {
            source,
            retry_after: 1,
            detail: "key sets are fetched only by a TokenEndpoint's exchange".into(),
        })
    }
}

/// The keys of `owner` for a request naming `kid`: its configured keys,
/// and the fetched set of `source` when it has one. A `kid` one of the
/// configured keys has needs no fetch; otherwise the set is looked up (and
/// may have to be fetched first). Records the set's provenance in the
/// explain trace.
// Each argument is a different borrow of the caller's state (the cache, the
// configuration, the owner's keys, the exchange's holder and trace); a
// struct would only rename them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn view<'a>(
    remote: &dyn RemoteKeys,
    sources: &[KeySource],
    owner: KeyOwner,
    configured: &'a [Jwk],
    source: Option<usize>,
    kid: Option<&str>,
    held: &'a mut Option<Arc<FetchedKeys>>,
    trace: &mut crate::explain::Trace,
) -> Result<KeyView<'a>, KeySetError> {
    use crate::explain::{CheckId, utc};
    let Some(source) = source else {
        return Ok(KeyView::configured(owner, configured));
    };
    let url = sources.get(source).map_or("", |s| s.url.as_str());
    let configured_kid = kid.is_some_and(|k| configured.iter().any(|c| c.kid() == Some(k)));
    let (set, stale) = match remote.lookup(source, kid.filter(|_| !configured_kid)) {
        Ok(found) => found,
        Err(e) => {
            if let KeySetError::Unavailable { detail, .. } = &e {
                trace.fail(
                    CheckId::KeySet,
                    crate::reason::Reason::ServerKeySetUnavailable,
                    || format!("no usable key set from {url}: {detail}"),
                );
            }
            return Err(e);
        }
    };
    trace.pass(CheckId::KeySet, || {
        format!(
            "{} keys fetched from {url} at {} (max-age {}); {} until {}{}",
            set.keys.len(),
            utc(set.fetched_at),
            set.max_age.map_or("none".into(), |a| format!("{a} s")),
            if stale {
                "STALE (refetching failed), serving"
            } else {
                "fresh"
            },
            utc(if stale {
                set.stale_until
            } else {
                set.fresh_until
            }),
            if set.skipped.is_empty() {
                String::new()
            } else {
                format!("; {} unusable keys skipped", set.skipped.len())
            }
        )
    });
    let held = held.insert(set);
    Ok(KeyView {
        owner,
        configured,
        fetched: Some(FetchedView {
            source,
            generation: held.generation,
            keys: &held.keys,
        }),
    })
}

#[cfg(test)]
mod tests;
