//! JWK and JWK Set parsing (RFC 7517; key parameters RFC 7518 §6).

use serde_json::{Map, Value};
use std::fmt;

#[cfg(feature = "rust-crypto")]
use crate::crypto::SigningKey;
use crate::crypto::seam::{KeyOwner, KeyRef};
use crate::crypto::{Algorithm, KeyType, PublicKey};
use crate::encoding::b64url_decode;
use crate::limits::MAX_KEYS_PER_SET;
use crate::token::PublicSigningKey;

/// A configured public verification key.
#[derive(Debug, Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key: PublicKey,
    /// SHA-256 of the DER certificate the key came from, if any: lets an
    /// XML signature's KeyInfo *select* among configured keys (never add one).
    cert_sha256: Option<[u8; 32]>,
}

impl Jwk {
    /// A key from an X.509 certificate (DER), with no kid or alg.
    pub(crate) fn from_certificate(key: PublicKey, der: &[u8]) -> Self {
        use sha2::Digest as _;
        Self {
            kid: None,
            alg: None,
            key,
            cert_sha256: Some(sha2::Sha256::digest(der).into()),
        }
    }

    /// Whether this key came from the certificate whose DER hashes to `sha256`.
    pub(crate) fn is_certificate(&self, sha256: &[u8; 32]) -> bool {
        self.cert_sha256.as_ref() == Some(sha256)
    }

    /// The key id, if the JWK has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the JWK is restricted to, if it names one.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The key itself.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Whether this key may verify a signature made with `alg`: the key type
    /// must fit, and a JWK `alg` must equal it.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        self.key.key_type() == alg.key_type() && self.alg.is_none_or(|a| a == alg)
    }
}

/// The keys a signature check may name for one owner: its configured keys,
/// then the keys of its fetched key set (if it has one and a set is
/// serving).
#[derive(Debug, Clone, Copy)]
pub struct KeyView<'a> {
    /// Whose keys.
    pub owner: KeyOwner,
    /// The configured (pasted) keys.
    pub configured: &'a [Jwk],
    /// The fetched keys, if any.
    pub fetched: Option<FetchedView<'a>>,
}

/// One generation of a fetched key set, as a [`KeyView`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct FetchedView<'a> {
    /// `Config::key_sources` index.
    pub source: usize,
    /// The set's generation.
    pub generation: u64,
    /// Its usable keys.
    pub keys: &'a [Jwk],
}

impl<'a> KeyView<'a> {
    /// Configured keys only.
    pub fn configured(owner: KeyOwner, keys: &'a [Jwk]) -> Self {
        Self {
            owner,
            configured: keys,
            fetched: None,
        }
    }

    /// Every key with the reference a check names it by: configured keys
    /// first, then fetched ones.
    pub fn iter(&self) -> impl Iterator<Item = (KeyRef, &'a Jwk)> + Clone + 'a {
        let owner = self.owner;
        let configured = self
            .configured
            .iter()
            .enumerate()
            .map(move |(index, k)| (KeyRef::Configured { owner, index }, k));
        let fetched = self.fetched.into_iter().flat_map(|f| {
            f.keys.iter().enumerate().map(move |(index, k)| {
                (
                    KeyRef::Fetched {
                        source: f.source,
                        generation: f.generation,
                        index,
                    },
                    k,
                )
            })
        });
        configured.chain(fetched)
    }

    /// The key `r` names in this view.
    pub fn resolve(&self, r: KeyRef) -> Option<&'a Jwk> {
        match r {
            KeyRef::Configured { owner, index } if owner == self.owner => {
                self.configured.get(index)
            }
            KeyRef::Fetched {
                source,
                generation,
                index,
            } => self
                .fetched
                .filter(|f| f.source == source && f.generation == generation)
                .and_then(|f| f.keys.get(index)),
            _ => None,
        }
    }

    /// Whether some key has this `kid`.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.iter().any(|(_, k)| k.kid() == Some(kid))
    }
}

/// Why a JWK was refused; `member` names the offending JWK member, so the
/// configuration error can point at it (`…keys[0].x: not a P-256 point`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwkError {
    /// The JWK member at fault, or `None` for the JWK as a whole.
    pub member: Option<&'static str>,
    /// What is wrong.
    pub reason: String,
}

impl JwkError {
    fn at(member: &'static str, reason: impl Into<String>) -> Self {
        Self {
            member: Some(member),
            reason: reason.into(),
        }
    }

    fn whole(reason: impl Into<String>) -> Self {
        Self {
            member: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.member {
            Some(m) => write!(f, "{m}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Parses a public JWK: `RSA` (`n`, `e`; 2048–8192 bits) or `EC` on P-256
/// (`x`, `y`, on the curve). Private members are refused, so a private key
/// pasted into a trust configuration is caught rather than silently kept.
pub fn parse_public_jwk(value: &Value) -> Result<Jwk, JwkError> {
    let obj = value
        .as_object()
        .ok_or_else(|| JwkError::whole("a JWK must be a JSON object"))?;
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        if obj.contains_key(private) {
            return Err(JwkError::whole(format!(
                "contains private key member \"{private}\": configure only public keys here"
            )));
        }
    }
    let kty = string_member(obj, "kty")?.ok_or_else(|| JwkError::at("kty", "missing"))?;
    let key = match kty {
        "RSA" => {
            let n = b64_member(obj, "n")?;
            let e = b64_member(obj, "e")?;
            PublicKey::rsa(&n, &e).map_err(|err| JwkError::whole(err.to_string()))?
        }
        "EC" => {
            check_curve(obj)?;
            let x = b64_member(obj, "x")?;
            let y = b64_member(obj, "y")?;
            // Which coordinate is "wrong" is undecidable for an off-curve
            // point; blame y only when x is well-formed and y has a bad length.
            let member = if x.len() == 32 && y.len() != 32 {
                "y"
            } else {
                "x"
            };
            PublicKey::p256(&x, &y).map_err(|err| JwkError::at(member, err.to_string()))?
        }
        other => {
            return Err(JwkError::at(
                "kty",
                format!(
                    "unsupported key type \"{}\" (use RSA or EC)",
                    truncate(other)
                ),
            ));
        }
    };
    let (kid, alg) = common_members(obj, key.key_type())?;
    Ok(Jwk {
        kid,
        alg,
        key,
        cert_sha256: None,
    })
}

/// Parses a JWK Set (`{"keys": [...]}`); on error, returns the index of the
/// offending key (or `None` for the set itself) with the reason.
pub fn parse_jwk_set(value: &Value) -> Result<Vec<Jwk>, (Option<usize>, JwkError)> {
    let keys = value
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or((
            None,
            JwkError::whole("a JWK Set must be an object with a \"keys\" array"),
        ))?;
    if keys.is_empty() {
        return Err((None, JwkError::at("keys", "the JWK Set has no keys")));
    }
    if keys.len() > MAX_KEYS_PER_SET {
        return Err((
            None,
            JwkError::at("keys", format!("more than {MAX_KEYS_PER_SET} keys")),
        ));
    }
    keys.iter()
        .enumerate()
        .map(|(i, k)| parse_public_jwk(k).map_err(|e| (Some(i), e)))
        .collect()
}

/// Parses a private EC P-256 JWK (`d`, `x`, `y`) into an access-token
/// signing key, checking that `x`/`y` belong to `d`. Without a `kid`, the
/// RFC 7638 thumbprint is used.
#[cfg(feature = "rust-crypto")]
pub fn parse_private_jwk(value: &Value) -> Result<SigningKey, JwkError> {
    let obj = value
        .as_object()
        .ok_or_else(|| JwkError::whole("a JWK must be a JSON object"))?;
    match string_member(obj, "kty")? {
        Some("EC") => {}
        Some(_) => {
            return Err(JwkError::at(
                "kty",
                "access tokens are signed with ES256: the signing key must be an EC P-256 JWK",
            ));
        }
        None => return Err(JwkError::at("kty", "missing")),
    }
    check_curve(obj)?;
    if let Some(alg) = string_member(obj, "alg")?
        && alg != "ES256"
    {
        return Err(JwkError::at("alg", "must be ES256"));
    }
    let d = b64_member(obj, "d")?;
    let kid = string_member(obj, "kid")?.map(str::to_owned);
    let key = SigningKey::from_scalar(&d, kid).map_err(|e| JwkError::at("d", e.to_string()))?;
    let (x, y) = key.public_coordinates();
    if b64_member(obj, "x")? != x || b64_member(obj, "y")? != y {
        return Err(JwkError::whole("x and y do not match the private key d"));
    }
    Ok(key)
}

/// Parses the *public* half of an access-token signing key (EC P-256, `alg`
/// ES256 if present) for an endpoint whose host signs: the private member
/// `d` must not be here — it stays with the host. Without `kid`, the RFC
/// 7638 thumbprint is the key id, as for private keys.
pub fn parse_public_signing_jwk(value: &Value) -> Result<PublicSigningKey, JwkError> {
    let obj = value
        .as_object()
        .ok_or_else(|| JwkError::whole("a JWK must be a JSON object"))?;
    if string_member(obj, "kty")? != Some("EC") {
        return Err(JwkError::at(
            "kty",
            "access tokens are signed with ES256: the signing key must be an EC P-256 JWK",
        ));
    }
    check_curve(obj)?;
    if let Some(alg) = string_member(obj, "alg")?
        && alg != "ES256"
    {
        return Err(JwkError::at("alg", "must be ES256"));
    }
    if obj.contains_key("d") {
        return Err(JwkError::at(
            "d",
            "the private key stays with the host that signs; pass only the public members",
        ));
    }
    let x: [u8; 32] = b64_member(obj, "x")?
        .try_into()
        .map_err(|_| JwkError::at("x", "must be 32 bytes"))?;
    let y: [u8; 32] = b64_member(obj, "y")?
        .try_into()
        .map_err(|_| JwkError::at("y", "must be 32 bytes"))?;
    PublicKey::p256(&x, &y).map_err(|_| JwkError::at("x", "not a P-256 point"))?;
    let kid = match string_member(obj, "kid")? {
        Some(kid) => kid.to_owned(),
        None => crate::crypto::ec_thumbprint(&x, &y),
    };
    Ok(PublicSigningKey { kid, x, y })
}

fn check_curve(obj: &Map<String, Value>) -> Result<(), JwkError> {
    match string_member(obj, "crv")? {
        Some("P-256") => Ok(()),
        Some(other) => Err(JwkError::at(
            "crv",
            format!("unsupported curve \"{}\" (use P-256)", truncate(other)),
        )),
        None => Err(JwkError::at("crv", "missing")),
    }
}

fn common_members(
    obj: &Map<String, Value>,
    key_type: KeyType,
) -> Result<(Option<String>, Option<Algorithm>), JwkError> {
    if let Some(usage) = string_member(obj, "use")?
        && usage != "sig"
    {
        return Err(JwkError::at(
            "use",
            "must be \"sig\" for a verification key",
        ));
    }
    if let Some(ops) = obj.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verify {
            return Err(JwkError::at("key_ops", "must include \"verify\""));
        }
    }
    let kid = string_member(obj, "kid")?.map(str::to_owned);
    let alg = match string_member(obj, "alg")? {
        None => None,
        Some(name) => {
            let alg = Algorithm::from_jose(name).ok_or_else(|| {
                JwkError::at(
                    "alg",
                    format!("unsupported algorithm \"{}\"", truncate(name)),
                )
            })?;
            if alg.key_type() != key_type {
                return Err(JwkError::at(
                    "alg",
                    format!("{alg} does not fit this key type"),
                ));
            }
            Some(alg)
        }
    };
    Ok((kid, alg))
}

fn string_member<'a>(
    obj: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, JwkError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwkError::at(name, "must be a string")),
    }
}

fn b64_member(obj: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    let text = string_member(obj, name)?.ok_or_else(|| JwkError::at(name, "missing"))?;
    b64url_decode(text).ok_or_else(|| JwkError::at(name, "not unpadded base64url"))
}

fn truncate(s: &str) -> &str {
    s.char_indices().nth(32).map_or(s, |(i, _)| &s[..i])
}
