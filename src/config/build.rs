//! From the document to a validated [`Config`]: every check, every default.

use serde_json::Value;
use std::collections::{HashMap, HashSet};

use super::schema::{
    AccessTokenSettings, ClientSettings, ConfigDocument, DpopSettings, IssuerSettings,
    KeyCacheSettings, RefreshTokenSettings,
};
use super::{
    AccessTokenPolicy, AssertionFormat, AuthMethod, Client, Config, ConfigError, DpopPolicy,
    Profiles, RefreshConfig, TrustedIssuer,
};
use crate::crypto::Algorithm;
use crate::crypto::seam::KeyOwner;
use crate::encoding::hex_decode;
use crate::jose::{Jwk, parse_jwk_set};
use crate::keyset::{CachePolicy, KeySource, SourceKind};
use crate::limits::*;
use crate::policy::ScopeSet;
use crate::protocol::{
    GRANT_JWT_BEARER, GRANT_REFRESH_TOKEN, GRANT_SAML2_BEARER, MAX_SUBJECT_PREFIX_BYTES,
    NAME_ID_FORMAT_ENTITY, RESERVED_CLAIMS,
};

/// Errors collected while building: each section stops at its own first
/// error, and the others are still checked, so one run reports them all.
#[derive(Default)]
struct Errors(Vec<ConfigError>);

impl Errors {
    /// The value, or `None` with its error recorded.
    fn take<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }
}

/// Every check, every default. Each independent part (the server's own
/// fields, each section, each trusted issuer, each client) is checked even
/// when an earlier one failed; the checks across issuers and clients run
/// only when every entry is valid. The errors come in document order.
pub(super) fn build(raw: ConfigDocument) -> Result<Config, Vec<ConfigError>> {
    let mut errors = Errors::default();
    let issuer = errors.take(own_issuer(&raw.issuer));
    let token_endpoint = errors.take(match raw.token_endpoint {
        Some(url) => check_url(&url, "token_endpoint").map(|()| url),
        None => Ok(format!("{}/token", raw.issuer.trim_end_matches('/'))),
    });
    let jwks_uri = errors.take(match raw.jwks_uri {
        Some(url) => check_url(&url, "jwks_uri").map(|()| url),
        None => Ok(format!(
            "{}/.well-known/jwks.json",
            raw.issuer.trim_end_matches('/')
        )),
    });
    let mut accepted_audiences = vec![raw.issuer.clone()];
    accepted_audiences.extend(token_endpoint.clone());
    if let Some(issuer) = issuer.as_ref().filter(|i| **i != raw.issuer) {
        accepted_audiences.push(issuer.clone());
    }
    for (i, aud) in raw.audiences.iter().enumerate() {
        if aud.is_empty() {
            errors.0.push(ConfigError::new(
                format!("audiences[{i}]"),
                "must not be empty",
            ));
        }
        accepted_audiences.push(aud.clone());
    }
    let clock_skew = errors
        .take(bounded(
            raw.clock_skew_secs,
            DEFAULT_CLOCK_SKEW_SECS,
            0,
            MAX_CLOCK_SKEW_SECS,
            "clock_skew_secs",
        ))
        .unwrap_or(DEFAULT_CLOCK_SKEW_SECS);
    let access_token = errors.take(access_token_policy(raw.access_token));
    let dpop = errors.take(dpop_policy(&raw.dpop));
    let refresh = errors.take(refresh_config(&raw.refresh_token));

    let key_cache = errors.take(cache_policy(
        &raw.key_cache,
        &CachePolicy::default(),
        "key_cache",
    ));
    let config_refresh_secs = errors.take(match raw.config_refresh_secs {
        None => Ok(60),
        Some(s) if s <= 86_400 => Ok(s),
        Some(_) => Err(ConfigError::new(
            "config_refresh_secs",
            "must be between 0 and 86400",
        )),
    });
    // Entries are checked against the document's cache policy, or the
    // defaults when it is itself in error (that error is already recorded).
    let base_cache = key_cache.unwrap_or_default();
    let mut key_sources = Vec::new();
    let mut issuers = Vec::with_capacity(raw.trusted_issuers.len());
    let mut issuer_index = HashMap::new();
    for (i, ri) in raw.trusted_issuers.into_iter().enumerate() {
        let path = format!("trusted_issuers[{i}]");
        // An entry in error still reserves its name, so clients that
        // name it are not reported as well.
        let named = ri.issuer.clone();
        let Some((ti, remote)) = errors.take(issuer_entry(ri, &path, clock_skew, &base_cache, i))
        else {
            if let Some(name) = named {
                issuer_index.entry(name).or_insert(i);
            }
            continue;
        };
        if issuer_index.insert(ti.issuer.clone(), i).is_some() {
            errors.0.push(ConfigError::new(
                format!("{path}.issuer"),
                "duplicate trusted issuer",
            ));
            continue;
        }
        let mut ti = ti;
        if let Some(mut source) = remote {
            if source.kind == SourceKind::SamlMetadata {
                source.entity_id = Some(ti.issuer.clone());
            }
            ti.remote = Some(key_sources.len());
            key_sources.push(source);
        }
        issuers.push(ti);
    }

    let mut clients = Vec::with_capacity(raw.clients.len());
    let mut client_index = HashMap::new();
    for (i, rc) in raw.clients.into_iter().enumerate() {
        let path = format!("clients[{i}]");
        let named = rc.client_id.clone();
        let has_remote = rc.jwks_uri.is_some();
        let remote = errors.take(remote_source(
            rc.jwks_uri
                .as_deref()
                .map(|u| (u, SourceKind::Jwks, "jwks_uri")),
            None,
            rc.key_cache.as_ref(),
            &base_cache,
            KeyOwner::Client(i),
            &path,
        ));
        let client = errors.take(build_client(rc, &path, &issuer_index, has_remote));
        if client_index.insert(named, i).is_some() {
            errors.0.push(ConfigError::new(
                format!("{path}.client_id"),
                "duplicate client_id",
            ));
            continue;
        }
        let (Some(mut client), Some(remote)) = (client, remote) else {
            continue;
        };
        if let Some(source) = remote {
            client.remote = Some(key_sources.len());
            key_sources.push(source);
        }
        clients.push(client);
    }
    let (
        Some(issuer),
        Some(token_endpoint),
        Some(jwks_uri),
        Some(access_token),
        Some(dpop),
        Some(refresh),
        Some(key_cache),
        Some(config_refresh_secs),
        true,
    ) = (
        issuer,
        token_endpoint,
        jwks_uri,
        access_token,
        dpop,
        refresh,
        key_cache,
        config_refresh_secs,
        errors.0.is_empty(),
    )
    else {
        return Err(errors.0);
    };
    mark_self_issued(&mut issuers, &clients, &key_sources);
    shared_keys(&issuers, &key_sources).map_err(|e| vec![e])?;
    subject_namespaces(&issuers).map_err(|e| vec![e])?;

    Ok(Config {
        aliases: raw.audiences.clone(),
        issuer,
        token_endpoint,
        jwks_uri,
        accepted_audiences,
        clock_skew,
        scope_policy: raw.scope_policy,
        access_token,
        issuers,
        clients,
        issuer_index,
        client_index,
        key_sources,
        key_cache,
        config_refresh_secs,
        dpop,
        refresh,
    })
}

/// `issuer`: an `https` URL (or `http` on localhost), no query; the
/// identifier without a trailing slash.
fn own_issuer(raw: &str) -> Result<String, ConfigError> {
    check_url(raw, "issuer")?;
    let issuer = raw.trim_end_matches('/').to_owned();
    if issuer.contains('?') {
        return Err(ConfigError::new(
            "issuer",
            "must not have a query (RFC 8414 §2)",
        ));
    }
    Ok(issuer)
}

/// `access_token`: how tokens are minted.
fn access_token_policy(raw: AccessTokenSettings) -> Result<AccessTokenPolicy, ConfigError> {
    Ok(AccessTokenPolicy {
        audience: nonempty(raw.audience, "access_token.audience")?,
        lifetime: bounded(
            raw.lifetime_secs,
            DEFAULT_ACCESS_TOKEN_LIFETIME_SECS,
            1,
            MAX_ACCESS_TOKEN_LIFETIME_SECS,
            "access_token.lifetime_secs",
        )?,
        cap_at_assertion_expiry: raw.cap_at_assertion_expiry,
        max_subject_bytes: bounded(
            raw.max_subject_bytes,
            DEFAULT_MAX_SUBJECT_BYTES,
            1,
            MAX_SUBJECT_BYTES,
            "access_token.max_subject_bytes",
        )? as usize,
        max_claims_bytes: bounded(
            raw.max_claims_bytes,
            DEFAULT_MAX_CLAIMS_BYTES,
            0,
            MAX_CLAIMS_BYTES,
            "access_token.max_claims_bytes",
        )? as usize,
        resources: resources(&raw.resources)?,
    })
}

/// One `trusted_issuers` entry and its remote key source, if any.
fn issuer_entry(
    ri: IssuerSettings,
    path: &str,
    clock_skew: i64,
    base_cache: &CachePolicy,
    index: usize,
) -> Result<(TrustedIssuer, Option<KeySource>), ConfigError> {
    let remote = remote_source(
        ri.jwks_uri
            .as_deref()
            .map(|u| (u, SourceKind::Jwks, "jwks_uri")),
        ri.saml_metadata_url
            .as_deref()
            .map(|u| (u, SourceKind::SamlMetadata, "saml_metadata_url")),
        ri.key_cache.as_ref(),
        base_cache,
        KeyOwner::Issuer(index),
        path,
    )?;
    let ti = build_issuer(ri, path, clock_skew, remote.is_some())?;
    Ok((ti, remote))
}

/// `refresh_token`: lifetimes and the `offline_access` rule.
fn refresh_config(raw: &RefreshTokenSettings) -> Result<RefreshConfig, ConfigError> {
    const YEAR: i64 = 365 * 86_400;
    Ok(RefreshConfig {
        policy: crate::refresh::RefreshPolicy {
            lifetime: bounded(
                raw.lifetime_secs,
                30 * 86_400,
                60,
                YEAR,
                "refresh_token.lifetime_secs",
            )?,
            idle: bounded(
                raw.idle_secs,
                14 * 86_400,
                60,
                YEAR,
                "refresh_token.idle_secs",
            )?,
        },
        cap_at_assertion_expiry: raw.cap_at_assertion_expiry,
        require_offline_access: raw.require_offline_access.unwrap_or(true),
    })
}

/// `access_token.resources`: absolute URIs without a fragment (RFC 8707
/// §2), each once.
fn resources(list: &[String]) -> Result<Vec<String>, ConfigError> {
    for (i, r) in list.iter().enumerate() {
        let path = format!("access_token.resources[{i}]");
        if !crate::protocol::is_resource_uri(r) {
            return Err(ConfigError::new(
                path,
                "must be an absolute URI without a fragment (RFC 8707 §2)",
            ));
        }
        if list[..i].contains(r) {
            return Err(ConfigError::new(path, "listed twice"));
        }
    }
    if list.len() > MAX_RESOURCES {
        return Err(ConfigError::new(
            "access_token.resources",
            format!("at most {MAX_RESOURCES} resources"),
        ));
    }
    Ok(list.to_vec())
}

/// `dpop`: algorithms (asymmetric, supported), the proof age and nonces.
fn dpop_policy(raw: &DpopSettings) -> Result<DpopPolicy, ConfigError> {
    let algorithms = match &raw.algorithms {
        None => vec![Algorithm::ES256, Algorithm::PS256, Algorithm::RS256],
        Some(names) if names.is_empty() => {
            return Err(ConfigError::new(
                "dpop.algorithms",
                "must name at least one algorithm",
            ));
        }
        Some(names) => names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Algorithm::from_jose(name).ok_or_else(|| {
                    ConfigError::new(
                        format!("dpop.algorithms[{i}]"),
                        "unsupported algorithm (RS256/384/512, PS256/384/512, ES256)",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(DpopPolicy {
        algorithms,
        max_age: bounded(
            raw.max_age_secs,
            DEFAULT_DPOP_MAX_AGE_SECS,
            1,
            3600,
            "dpop.max_age_secs",
        )?,
        require_nonce: raw.require_nonce,
        nonce_lifetime: bounded(
            raw.nonce_lifetime_secs,
            DEFAULT_DPOP_NONCE_LIFETIME_SECS,
            10,
            3600,
            "dpop.nonce_lifetime_secs",
        )?,
    })
}

/// `profiles`: known names, at least one, each once; `id-jag` only for
/// JWT issuers.
fn profiles(
    names: Option<&[String]>,
    format: AssertionFormat,
    path: &str,
) -> Result<Profiles, ConfigError> {
    let Some(names) = names else {
        return Ok(Profiles {
            jwt_bearer: true,
            id_jag: false,
        });
    };
    let path = format!("{path}.profiles");
    if names.is_empty() {
        return Err(ConfigError::new(path, "must name at least one profile"));
    }
    let mut profiles = Profiles {
        jwt_bearer: false,
        id_jag: false,
    };
    for (i, name) in names.iter().enumerate() {
        let slot = match name.as_str() {
            crate::protocol::PROFILE_JWT_BEARER => &mut profiles.jwt_bearer,
            crate::protocol::PROFILE_ID_JAG if format == AssertionFormat::Jwt => {
                &mut profiles.id_jag
            }
            crate::protocol::PROFILE_ID_JAG => {
                return Err(ConfigError::new(
                    format!("{path}[{i}]"),
                    "id-jag applies only to jwt issuers",
                ));
            }
            _ => {
                return Err(ConfigError::new(
                    format!("{path}[{i}]"),
                    "unknown profile (jwt-bearer, id-jag)",
                ));
            }
        };
        if std::mem::replace(slot, true) {
            return Err(ConfigError::new(format!("{path}[{i}]"), "listed twice"));
        }
    }
    Ok(profiles)
}

/// The cache policy from `settings` over `base` (the defaults, or the
/// global `key_cache` for an issuer's or client's override).
fn cache_policy(
    settings: &KeyCacheSettings,
    base: &CachePolicy,
    path: &str,
) -> Result<CachePolicy, ConfigError> {
    let secs = |value: Option<u64>, default: i64, min: i64, max: i64, name: &str| match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&i64::try_from(v).unwrap_or(i64::MAX)) => Ok(v as i64),
        Some(_) => Err(ConfigError::new(
            format!("{path}.{name}"),
            format!("must be between {min} and {max}"),
        )),
    };
    let min_cache_secs = secs(
        settings.min_cache_secs,
        base.min_cache_secs,
        1,
        86_400,
        "min_cache_secs",
    )?;
    let max_cache_secs = secs(
        settings.max_cache_secs,
        base.max_cache_secs,
        1,
        604_800,
        "max_cache_secs",
    )?;
    if max_cache_secs < min_cache_secs {
        return Err(ConfigError::new(
            format!("{path}.max_cache_secs"),
            "must not be below min_cache_secs",
        ));
    }
    let timeout = settings.fetch_timeout_ms.unwrap_or(base.fetch_timeout_ms);
    if !(100..=30_000).contains(&timeout) {
        return Err(ConfigError::new(
            format!("{path}.fetch_timeout_ms"),
            "must be between 100 and 30000",
        ));
    }
    Ok(CachePolicy {
        min_cache_secs,
        max_cache_secs,
        refetch_cooldown_secs: secs(
            settings.refetch_cooldown_secs,
            base.refetch_cooldown_secs,
            0,
            3600,
            "refetch_cooldown_secs",
        )?,
        max_stale_secs: secs(
            settings.max_stale_secs,
            base.max_stale_secs,
            0,
            604_800,
            "max_stale_secs",
        )?,
        failure_cache_secs: secs(
            settings.failure_cache_secs,
            base.failure_cache_secs,
            0,
            3600,
            "failure_cache_secs",
        )?,
        fetch_timeout_ms: timeout,
    })
}

/// The remote key source an issuer or client names (at most one URL).
fn remote_source(
    jwks_uri: Option<(&str, SourceKind, &str)>,
    metadata_url: Option<(&str, SourceKind, &str)>,
    overrides: Option<&KeyCacheSettings>,
    global: &CachePolicy,
    owner: KeyOwner,
    path: &str,
) -> Result<Option<KeySource>, ConfigError> {
    let (url, kind, field) = match (jwks_uri, metadata_url) {
        (Some(_), Some((_, _, field))) => {
            return Err(ConfigError::new(
                format!("{path}.{field}"),
                "name one key-set URL: jwks_uri or saml_metadata_url",
            ));
        }
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => {
            if overrides.is_some() {
                return Err(ConfigError::new(
                    format!("{path}.key_cache"),
                    "applies only with jwks_uri or saml_metadata_url",
                ));
            }
            return Ok(None);
        }
    };
    check_url(url, &format!("{path}.{field}"))?;
    let policy = match overrides {
        Some(o) => cache_policy(o, global, &format!("{path}.key_cache"))?,
        None => *global,
    };
    Ok(Some(KeySource {
        url: url.to_owned(),
        kind,
        owner,
        entity_id: None,
        policy,
    }))
}

/// One key trusted under two issuers lets its holder mint for either:
/// refused for pasted keys, and for one key-set URL named by two issuers.
/// (Two issuers' fetched sets that share a key are reported when fetched.)
fn shared_keys(issuers: &[TrustedIssuer], sources: &[KeySource]) -> Result<(), ConfigError> {
    for (i, a) in issuers.iter().enumerate() {
        for (j, b) in issuers.iter().enumerate().skip(i + 1) {
            if a.allow_shared_keys || b.allow_shared_keys {
                continue;
            }
            for (k, key) in b.keys.iter().enumerate() {
                if a.keys.iter().any(|other| other.key().same_key(key.key())) {
                    return Err(ConfigError::new(
                        format!("trusted_issuers[{j}]"),
                        format!(
                            "key {k} is also a key of trusted_issuers[{i}]: its holder could mint assertions for either issuer (dangerous.allow_shared_keys accepts that)"
                        ),
                    ));
                }
            }
            let url = |t: &TrustedIssuer| t.remote.map(|s| &sources[s]);
            if let (Some(sa), Some(sb)) = (url(a), url(b))
                && sa.url == sb.url
                && sa.kind == SourceKind::Jwks
            {
                return Err(ConfigError::new(
                    format!("trusted_issuers[{j}].jwks_uri"),
                    format!(
                        "is also the jwks_uri of trusted_issuers[{i}]: its keys' holder could mint assertions for either issuer (dangerous.allow_shared_keys accepts that)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Two trusted issuers' subjects must not meet in one namespace: with two or
/// more issuers each needs a `subject_prefix` (or the dangerous
/// `shared_subject_namespace`), and the prefixes are prefix-free, so
/// prefix + subject names one issuer's user only.
fn subject_namespaces(issuers: &[TrustedIssuer]) -> Result<(), ConfigError> {
    if issuers.len() < 2 {
        return Ok(());
    }
    for (i, a) in issuers.iter().enumerate() {
        let Some(pa) = &a.subject_prefix else {
            if a.shared_subject_namespace {
                continue;
            }
            return Err(ConfigError::new(
                format!("trusted_issuers[{i}].subject_prefix"),
                format!(
                    "required when {} issuers are trusted: without it this issuer's subjects share one namespace with the others' (sub \"alice\" from two IdPs would be one user); set e.g. \"{}|\", or dangerous.shared_subject_namespace to accept that",
                    issuers.len(),
                    suggested_prefix(&a.issuer)
                ),
            ));
        };
        for (j, b) in issuers.iter().enumerate() {
            if let Some(pb) = &b.subject_prefix
                && i != j
                && pb.starts_with(pa.as_str())
                && (pa != pb || i < j)
            {
                return Err(ConfigError::new(
                    format!("trusted_issuers[{j}].subject_prefix"),
                    format!(
                        "starts with trusted_issuers[{i}]'s subject_prefix {pa:?}: subjects of the two issuers could be the same string"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A readable prefix suggestion from an issuer identifier: its host, or
/// the identifier's first letters.
fn suggested_prefix(issuer: &str) -> String {
    let rest = issuer.split_once("://").map_or(issuer, |(_, r)| r);
    rest.split(['/', ':', '?', '#'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        .take(40)
        .collect()
}

/// `subject_prefix`: 1–64 printable ASCII characters.
fn subject_prefix(prefix: Option<String>, path: &str) -> Result<Option<String>, ConfigError> {
    let Some(p) = prefix else { return Ok(None) };
    if p.is_empty()
        || p.len() > MAX_SUBJECT_PREFIX_BYTES
        || !p.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(ConfigError::new(
            format!("{path}.subject_prefix"),
            format!("must be 1–{MAX_SUBJECT_PREFIX_BYTES} printable ASCII characters"),
        ));
    }
    Ok(Some(p))
}

fn build_issuer(
    ri: IssuerSettings,
    path: &str,
    global_skew: i64,
    remote: bool,
) -> Result<TrustedIssuer, ConfigError> {
    if ri.jwks_uri.is_some() && ri.format != AssertionFormat::Jwt {
        return Err(ConfigError::new(
            format!("{path}.jwks_uri"),
            "applies only to jwt issuers (use saml_metadata_url)",
        ));
    }
    if ri.saml_metadata_url.is_some() && ri.format != AssertionFormat::Saml2 {
        return Err(ConfigError::new(
            format!("{path}.saml_metadata_url"),
            "applies only to saml2 issuers (use jwks_uri)",
        ));
    }
    if ri.saml_metadata_url.is_some() && ri.issuer.is_none() && ri.saml_metadata.is_none() {
        return Err(ConfigError::new(
            format!("{path}.issuer"),
            "required with saml_metadata_url (the entityID to trust)",
        ));
    }
    // An IdP's SAML metadata may stand in for `issuer` + `x509_certificates`.
    let metadata = match ri.saml_metadata.as_deref() {
        Some(_) if ri.format != AssertionFormat::Saml2 => {
            return Err(ConfigError::new(
                format!("{path}.saml_metadata"),
                "applies only to saml2 issuers",
            ));
        }
        Some(xml) => Some(
            crate::saml_metadata::parse_idp_metadata(xml)
                .map_err(|e| ConfigError::new(format!("{path}.saml_metadata"), e.0))?,
        ),
        None => None,
    };
    let dangerous = dangerous_options(&ri, path)?;
    let issuer = match (ri.issuer, &metadata) {
        (Some(given), Some(m)) if given != m.entity_id => {
            return Err(ConfigError::new(
                format!("{path}.issuer"),
                "does not match the metadata's entityID",
            ));
        }
        (Some(given), _) => nonempty(given, &format!("{path}.issuer"))?,
        (None, Some(m)) => m.entity_id.clone(),
        (None, None) => return Err(ConfigError::new(format!("{path}.issuer"), "missing")),
    };
    if ri.format == AssertionFormat::Saml2 && ri.dangerous.allow_missing_jti {
        return Err(ConfigError::new(
            format!("{path}.dangerous.allow_missing_jti"),
            "applies only to jwt issuers (a SAML assertion's ID is always required)",
        ));
    }
    if ri.format == AssertionFormat::Jwt && (dangerous.allow_sha1 || dangerous.allow_inclusive_c14n)
    {
        let field = match (
            ri.allow_sha1 == Some(true),
            ri.allow_inclusive_c14n == Some(true),
            dangerous.allow_sha1,
        ) {
            (true, _, _) => "allow_sha1",
            (false, true, _) => "allow_inclusive_c14n",
            (false, false, true) => "dangerous.allow_sha1",
            (false, false, false) => "dangerous.allow_inclusive_c14n",
        };
        return Err(ConfigError::new(
            format!("{path}.{field}"),
            "applies only to saml2 issuers",
        ));
    }
    let mut keys = match &ri.jwks {
        Some(v) => jwks(v, &format!("{path}.jwks"))?,
        None => Vec::new(),
    };
    if let Some(certs) = &ri.x509_certificates {
        let at = format!("{path}.x509_certificates");
        if certs.is_empty() || certs.len() > MAX_KEYS_PER_SET {
            return Err(ConfigError::new(
                at,
                format!("must list 1 to {MAX_KEYS_PER_SET} certificates"),
            ));
        }
        for (i, cert) in certs.iter().enumerate() {
            keys.push(
                certificate_key(cert).map_err(|e| ConfigError::new(format!("{at}[{i}]"), e))?,
            );
        }
    }
    for (i, cert) in metadata
        .iter()
        .flat_map(|m| &m.signing_certificates)
        .enumerate()
    {
        keys.push(certificate_key(cert).map_err(|e| {
            ConfigError::new(
                format!("{path}.saml_metadata"),
                format!("certificate {}: {e}", i + 1),
            )
        })?);
    }
    if keys.len() > MAX_KEYS_PER_SET {
        return Err(ConfigError::new(
            path.to_owned(),
            format!("more than {MAX_KEYS_PER_SET} keys"),
        ));
    }
    if keys.is_empty() && !remote {
        let (field, what) = match ri.format {
            AssertionFormat::Jwt => (
                "jwks",
                "a JWT issuer needs a jwks (or x509_certificates) with its public keys",
            ),
            AssertionFormat::Saml2 => (
                "x509_certificates",
                "a SAML issuer needs its signing certificates",
            ),
        };
        return Err(ConfigError::new(format!("{path}.{field}"), what));
    }
    let mut algorithms = algorithms(
        ri.algorithms.as_deref(),
        &keys,
        remote,
        &format!("{path}.algorithms"),
    )?;
    // SHA-1 has no JOSE name that could be listed: the opt-in adds it.
    if dangerous.allow_sha1 && keys.iter().any(|k| k.accepts(Algorithm::RS1)) {
        algorithms.push(Algorithm::RS1);
    }
    let scope = ri
        .scope
        .as_deref()
        .map(|s| {
            ScopeSet::parse(s).map_err(|e| ConfigError::new(format!("{path}.scope"), e.to_string()))
        })
        .transpose()?;
    let mut claims = Vec::new();
    for (target, source) in ri.claims.unwrap_or_default() {
        let at = format!("{path}.claims.{target}");
        if RESERVED_CLAIMS.contains(&target.as_str()) {
            return Err(ConfigError::new(
                at,
                "this access-token claim is set by the server and cannot be mapped",
            ));
        }
        if target.is_empty() || source.is_empty() {
            return Err(ConfigError::new(at, "claim names must not be empty"));
        }
        claims.push((target, source));
    }
    let subjects = ri.subjects.map(|s| s.into_iter().collect::<HashSet<_>>());
    let profiles = profiles(ri.profiles.as_deref(), ri.format, path)?;
    Ok(TrustedIssuer {
        profiles,
        allow_refresh_tokens: ri.allow_refresh_tokens,
        issuer,
        format: ri.format,
        keys,
        algorithms,
        max_lifetime: bounded(
            ri.max_lifetime_secs,
            DEFAULT_MAX_LIFETIME_SECS,
            1,
            MAX_ASSERTION_LIFETIME_SECS,
            &format!("{path}.max_lifetime_secs"),
        )?,
        clock_skew: bounded(
            ri.clock_skew_secs,
            global_skew,
            0,
            MAX_CLOCK_SKEW_SECS,
            &format!("{path}.clock_skew_secs"),
        )?,
        require_jti: dangerous.require_jti,
        require_client: dangerous.require_client,
        scope,
        claims,
        subjects,
        allow_sha1: dangerous.allow_sha1,
        allow_inclusive_c14n: dangerous.allow_inclusive_c14n,
        self_issued: false,
        remote: None,
        allow_shared_keys: ri.dangerous.allow_shared_keys,
        subject_prefix: subject_prefix(ri.subject_prefix, path)?,
        shared_subject_namespace: ri.dangerous.shared_subject_namespace,
    })
}

/// The weakening opt-ins of one issuer, from `dangerous` and the deprecated
/// top-level spellings. Both may be given if they agree.
struct Weakened {
    allow_sha1: bool,
    allow_inclusive_c14n: bool,
    require_jti: bool,
    require_client: bool,
}

fn dangerous_options(ri: &IssuerSettings, path: &str) -> Result<Weakened, ConfigError> {
    let d = &ri.dangerous;
    // `require_x: true` beside `dangerous.allow_y: true` says two things.
    let required = |old: Option<bool>, allowed: bool, old_name: &str, new_name: &str| {
        if old == Some(true) && allowed {
            return Err(ConfigError::new(
                format!("{path}.{old_name}"),
                format!("contradicts dangerous.{new_name}"),
            ));
        }
        Ok(old.unwrap_or(true) && !allowed)
    };
    // Likewise `allow_x: false` beside `dangerous.allow_x: true`.
    let allowed = |old: Option<bool>, new: bool, name: &str| {
        if old == Some(false) && new {
            return Err(ConfigError::new(
                format!("{path}.{name}"),
                format!("contradicts dangerous.{name}"),
            ));
        }
        Ok(old == Some(true) || new)
    };
    Ok(Weakened {
        allow_sha1: allowed(ri.allow_sha1, d.allow_sha1, "allow_sha1")?,
        allow_inclusive_c14n: allowed(
            ri.allow_inclusive_c14n,
            d.allow_inclusive_c14n,
            "allow_inclusive_c14n",
        )?,
        require_jti: required(
            ri.require_jti,
            d.allow_missing_jti,
            "require_jti",
            "allow_missing_jti",
        )?,
        require_client: required(
            ri.require_client,
            d.allow_anonymous,
            "require_client",
            "allow_anonymous",
        )?,
    })
}

/// Marks the JWT issuers that are also `private_key_jwt` clients (same
/// identifier, or a key in common), unless that client opted into legacy
/// audiences.
fn mark_self_issued(issuers: &mut [TrustedIssuer], clients: &[Client], sources: &[KeySource]) {
    let url = |remote: Option<usize>| remote.map(|s| sources[s].url.as_str());
    for issuer in issuers
        .iter_mut()
        .filter(|i| i.format == AssertionFormat::Jwt)
    {
        issuer.self_issued = clients.iter().any(|c| {
            c.auth_method == AuthMethod::PrivateKeyJwt
                && !c.legacy_client_assertion_audience
                && (c.client_id == issuer.issuer
                    || (url(c.remote).is_some() && url(c.remote) == url(issuer.remote))
                    || c.keys
                        .iter()
                        .any(|ck| issuer.keys.iter().any(|ik| ik.key().same_key(ck.key()))))
        });
    }
}

fn build_client(
    rc: ClientSettings,
    path: &str,
    issuer_index: &HashMap<String, usize>,
    remote: bool,
) -> Result<Client, ConfigError> {
    let client_id = nonempty(rc.client_id, &format!("{path}.client_id"))?;
    if client_id.contains(':') {
        // RFC 6749 §2.3.1 form-encodes ids for Basic, but a colon still makes
        // the id ambiguous for clients that do not; refuse it up front.
        return Err(ConfigError::new(
            format!("{path}.client_id"),
            "must not contain ':'",
        ));
    }
    let method = rc.token_endpoint_auth_method;
    let secret_path = format!("{path}.client_secret_sha256");
    let jwks_path = format!("{path}.jwks");
    let uses_secret = matches!(
        method,
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
    );
    let secret_sha256 = match (&rc.client_secret_sha256, uses_secret) {
        (Some(hex), true) => Some(hex_decode::<32>(hex).ok_or_else(|| {
            ConfigError::new(
                &secret_path,
                "must be the 64-digit hex SHA-256 of the client secret",
            )
        })?),
        (None, true) => {
            return Err(ConfigError::new(
                &secret_path,
                format!("required for {}", method.as_str()),
            ));
        }
        (Some(_), false) => {
            return Err(ConfigError::new(
                &secret_path,
                format!("not used by {}", method.as_str()),
            ));
        }
        (None, false) => None,
    };
    if remote && method != AuthMethod::PrivateKeyJwt {
        return Err(ConfigError::new(
            format!("{path}.jwks_uri"),
            format!("not used by {}", method.as_str()),
        ));
    }
    let keys = match (&rc.jwks, method) {
        (Some(v), AuthMethod::PrivateKeyJwt) => jwks(v, &jwks_path)?,
        (None, AuthMethod::PrivateKeyJwt) if remote => Vec::new(),
        (None, AuthMethod::PrivateKeyJwt) => {
            return Err(ConfigError::new(
                &jwks_path,
                "required for private_key_jwt (or jwks_uri)",
            ));
        }
        (Some(_), _) => {
            return Err(ConfigError::new(
                &jwks_path,
                format!("not used by {}", method.as_str()),
            ));
        }
        (None, _) => Vec::new(),
    };
    let grant_types = match rc.grant_types {
        None => vec![GRANT_JWT_BEARER.to_owned(), GRANT_SAML2_BEARER.to_owned()],
        Some(list) => {
            for (i, g) in list.iter().enumerate() {
                if g != GRANT_JWT_BEARER && g != GRANT_SAML2_BEARER && g != GRANT_REFRESH_TOKEN {
                    return Err(ConfigError::new(
                        format!("{path}.grant_types[{i}]"),
                        "unsupported grant type (the jwt-bearer or saml2-bearer URN, or refresh_token)",
                    ));
                }
            }
            list
        }
    };
    let scope = match rc.scope.as_deref() {
        Some(s) => ScopeSet::parse(s)
            .map_err(|e| ConfigError::new(format!("{path}.scope"), e.to_string()))?,
        None => ScopeSet::default(),
    };
    let trusted_issuers = match rc.trusted_issuers {
        // A public client proves nothing about itself: it may only present
        // assertions from issuers it is explicitly bound to. A saml2_bearer
        // client is vouched for by the IdPs listed here (RFC 7522 §2.2).
        None if matches!(method, AuthMethod::None | AuthMethod::Saml2Bearer) => {
            return Err(ConfigError::new(
                format!("{path}.trusted_issuers"),
                format!(
                    "required for token_endpoint_auth_method {}",
                    method.as_str()
                ),
            ));
        }
        None => None,
        Some(names) => Some(
            names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    issuer_index.get(name).copied().ok_or_else(|| {
                        ConfigError::new(
                            format!("{path}.trusted_issuers[{i}]"),
                            "names no configured trusted issuer",
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    if rc.saml_name_id_format.is_some() && method != AuthMethod::Saml2Bearer {
        return Err(ConfigError::new(
            format!("{path}.saml_name_id_format"),
            "applies only to saml2_bearer clients",
        ));
    }
    if rc.legacy_client_assertion_audience && method != AuthMethod::PrivateKeyJwt {
        return Err(ConfigError::new(
            format!("{path}.legacy_client_assertion_audience"),
            "applies only to private_key_jwt clients",
        ));
    }
    Ok(Client {
        dpop_bound: rc.dpop_bound_access_tokens,
        allow_introspection: rc.allow_introspection,
        legacy_client_assertion_audience: rc.legacy_client_assertion_audience,
        saml_name_id_format: rc
            .saml_name_id_format
            .unwrap_or_else(|| NAME_ID_FORMAT_ENTITY.to_owned()),
        client_id,
        auth_method: method,
        secret_sha256,
        keys,
        grant_types,
        scope,
        trusted_issuers,
        remote: None,
    })
}

/// A verification key from a PEM or base64 DER certificate.
fn certificate_key(text: &str) -> Result<Jwk, String> {
    let der = crate::x509::certificate_der(text)?;
    Ok(Jwk::from_certificate(
        crate::x509::public_key_from_der(&der)?,
        &der,
    ))
}

fn jwks(value: &Value, path: &str) -> Result<Vec<Jwk>, ConfigError> {
    parse_jwk_set(value).map_err(|(index, e)| {
        let mut at = path.to_owned();
        if let Some(i) = index {
            at.push_str(&format!(".keys[{i}]"));
        }
        if let Some(m) = e.member {
            at.push('.');
            at.push_str(m);
        }
        ConfigError::new(at, e.reason)
    })
}

/// The allow-list: the configured names, each fitting at least one key; by
/// default every algorithm some key fits.
fn algorithms(
    names: Option<&[String]>,
    keys: &[Jwk],
    remote: bool,
    path: &str,
) -> Result<Vec<Algorithm>, ConfigError> {
    // With a key-set URL, keys of any type may arrive: every algorithm is
    // possible (each fetched key still fits only its own).
    let fits = |alg: Algorithm| remote || keys.iter().any(|k| k.accepts(alg));
    let Some(names) = names else {
        return Ok(Algorithm::ALL.into_iter().filter(|a| fits(*a)).collect());
    };
    if names.is_empty() {
        return Err(ConfigError::new(path, "must name at least one algorithm"));
    }
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let alg = Algorithm::from_jose(name).ok_or_else(|| {
                ConfigError::new(
                    format!("{path}[{i}]"),
                    "unsupported algorithm (RS256/384/512, PS256/384/512, ES256)",
                )
            })?;
            if !fits(alg) {
                return Err(ConfigError::new(
                    format!("{path}[{i}]"),
                    "no configured key can verify this algorithm",
                ));
            }
            Ok(alg)
        })
        .collect()
}

fn check_url(url: &str, path: &str) -> Result<(), ConfigError> {
    let local = ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|p| {
            url.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
    let authority = url
        .strip_prefix("https://")
        .filter(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !(local || authority.is_some()) {
        return Err(ConfigError::new(
            path,
            "must be an https:// URL (http:// only for localhost)",
        ));
    }
    if url.contains('#') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::new(
            path,
            "must not contain a fragment, whitespace or control characters",
        ));
    }
    Ok(())
}

fn nonempty(s: String, path: &str) -> Result<String, ConfigError> {
    if s.is_empty() {
        Err(ConfigError::new(path, "must not be empty"))
    } else {
        Ok(s)
    }
}

fn bounded(
    value: Option<i64>,
    default: i64,
    min: i64,
    max: i64,
    path: &str,
) -> Result<i64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(ConfigError::new(
            path,
            format!("must be between {min} and {max}"),
        )),
    }
}

/// Returns the path component of an absolute URL (`/` when it has none),
/// without query.
pub(crate) fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split('?').next().unwrap_or("/")
}
