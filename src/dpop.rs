//! DPoP proofs (RFC 9449): checked at the token endpoint (§4.3, §5) and,
//! through the same code, by resource servers (§7.1, with `ath`).
//!
//! A proof is a JWS whose header carries the public key it proves
//! possession of; it is the one signature the core checks with a key that
//! does not come from configuration ([`KeyRef::Proof`]) — the key is what
//! the resulting token gets bound to (`cnf.jkt`, its RFC 7638 thumbprint),
//! never whom to trust.
//!
//! Like every signature in the core, the proof's is checked by the host
//! ([`SignatureCheck`]): [`begin`] parses and returns the check;
//! [`ProofPending::finish`] applies every claim rule to the verified
//! claims only. One-time use of the proof's `jti` goes through the host's
//! replay store ([`crate::replay::ReplayKind::DpopProof`], keyed by thumbprint
//! and `jti`).
//!
//! Server nonces (§8) are stateless: a nonce is the time window it was
//! made in and an HMAC of that window under the host's secret, so every
//! isolate accepts every other's and nothing is stored
//! ([`NonceKey`]).
//!
//! [`KeyRef::Proof`]: crate::crypto::seam::KeyRef::Proof

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::seam::SignatureCheck;
use crate::crypto::{Algorithm, KeyType, PublicKey};
use crate::encoding::{b64url_decode, b64url_encode};
use crate::jose::{self, JoseError};
use crate::limits::MAX_DPOP_PROOF_BYTES;
use crate::protocol::{TYP_DPOP, typ_is};
use crate::reason::Reason;
use crate::replay::ReplayKey;

/// Longest `jti` accepted in a proof, in bytes (it is hashed into the
/// replay key; RFC 9449 §4.2 suggests 96 bits of randomness).
const MAX_JTI_BYTES: usize = 256;

/// Why a DPoP proof was refused (`invalid_dpop_proof`, RFC 9449 §5; or
/// `use_dpop_nonce`, §8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a compact JWS with strict JSON, or too large.
    Malformed,
    /// `typ` is not `dpop+jwt`.
    Type,
    /// `alg` is none, symmetric, unknown or not allowed.
    Algorithm,
    /// The header's `jwk` is missing or not an acceptable public key.
    Key(String),
    /// The signature does not verify with the header's key.
    Signature,
    /// A required claim is missing or has the wrong type.
    Claim(&'static str),
    /// `htm` is not the request's method.
    Method,
    /// `htu` is not the request's URI.
    Uri,
    /// `iat` is too old or in the future.
    IssuedAt,
    /// `ath` is missing or not the hash of the access token.
    AccessTokenHash,
    /// No server nonce, or a stale or foreign one (`use_dpop_nonce`).
    Nonce,
    /// No proof, and one is required (`dpop_bound_access_tokens`).
    Required,
}

impl DpopError {
    /// The stable reason code.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Malformed => Reason::DpopMalformed,
            Self::Type => Reason::DpopType,
            Self::Algorithm => Reason::DpopAlgorithm,
            Self::Key(_) => Reason::DpopKey,
            Self::Signature => Reason::DpopSignature,
            Self::Claim(_) | Self::AccessTokenHash => Reason::DpopClaim,
            Self::Method => Reason::DpopMethod,
            Self::Uri => Reason::DpopUri,
            Self::IssuedAt => Reason::DpopIat,
            Self::Nonce => Reason::DpopNonce,
            Self::Required => Reason::DpopRequired,
        }
    }
}

crate::reason::refusal!(DpopError);

impl fmt::Display for DpopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("the DPoP proof is not a well-formed JWT"),
            Self::Type => f.write_str("the DPoP proof's typ must be dpop+jwt"),
            Self::Algorithm => {
                f.write_str("the DPoP proof's alg is not an accepted asymmetric algorithm")
            }
            Self::Key(why) => write!(f, "the DPoP proof's jwk is not acceptable: {why}"),
            Self::Signature => f.write_str("the DPoP proof's signature is invalid"),
            Self::Claim(name) => write!(f, "the DPoP proof has no valid {name}"),
            Self::Method => f.write_str("the DPoP proof's htm is not this request's method"),
            Self::Uri => f.write_str("the DPoP proof's htu is not this endpoint"),
            Self::IssuedAt => f.write_str("the DPoP proof's iat is too old or in the future"),
            Self::AccessTokenHash => {
                f.write_str("the DPoP proof's ath is not the hash of the access token")
            }
            Self::Nonce => f.write_str("the DPoP proof must carry the server's current nonce"),
            Self::Required => f.write_str("this client must send a DPoP proof"),
        }
    }
}

impl std::error::Error for DpopError {}

/// What a proof must match: the request it came with, the clock, and the
/// policy.
#[derive(Debug, Clone, Copy)]
pub struct ProofRules<'a> {
    /// The request's HTTP method (`htm`).
    pub method: &'a str,
    /// The request's URI (`htu`; query and fragment are ignored on both
    /// sides, RFC 9449 §4.3 item 9).
    pub uri: &'a str,
    /// Now, in Unix seconds.
    pub now: i64,
    /// How old `iat` may be, in seconds.
    pub max_age: i64,
    /// Clock tolerance either way, in seconds.
    pub skew: i64,
    /// Accepted algorithms (asymmetric ones only are representable).
    pub algorithms: &'a [Algorithm],
    /// The access token presented with the proof (resource servers,
    /// RFC 9449 §7.1): `ath` must be its hash. `None` at the token
    /// endpoint, where `ath` is not checked.
    pub access_token: Option<&'a str>,
    /// The nonce key when nonces are required (§8).
    pub nonce: Option<&'a NonceKey>,
}

/// A proof that passed every structural check, waiting for the host's
/// answer to its [`SignatureCheck`].
#[derive(Debug)]
pub struct ProofPending {
    jws: jose::UnverifiedJws,
    jkt: String,
    method: String,
    uri: String,
    now: i64,
    max_age: i64,
    skew: i64,
    ath: Option<String>,
    nonce: Option<NonceKey>,
}

/// A proof whose signature verified and whose every claim rule passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key (`cnf.jkt`).
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
    /// The replay key to claim: thumbprint and `jti`, kept until the proof
    /// could no longer be accepted anyway.
    pub replay: ReplayKey,
}

/// Parses `proof` and returns the signature check to answer: size, JWS
/// shape, `typ` (`dpop+jwt`, RFC 7515 §4.1.9 spellings only), `alg` (an
/// allowed asymmetric algorithm), and `jwk` (a public RSA ≥ 2048 or P-256
/// key without private members, fitting `alg`).
pub fn begin(
    proof: &str,
    rules: &ProofRules<'_>,
) -> Result<(ProofPending, SignatureCheck), DpopError> {
    if proof.len() > MAX_DPOP_PROOF_BYTES {
        return Err(DpopError::Malformed);
    }
    let jws = jose::parse(proof).map_err(|e| match e {
        JoseError::AlgorithmNone
        | JoseError::UnsupportedAlgorithm
        | JoseError::MissingAlgorithm => DpopError::Algorithm,
        JoseError::AccessTokenType => DpopError::Type,
        // An unsigned proof (`alg: none`, empty signature) is malformed as
        // a JWS; say what is wrong with it.
        _ if unsigned(proof) => DpopError::Algorithm,
        _ => DpopError::Malformed,
    })?;
    if !jws.raw_typ().is_some_and(|t| typ_is(t, TYP_DPOP)) {
        return Err(DpopError::Type);
    }
    let alg = jws.alg();
    if !rules.algorithms.contains(&alg) {
        return Err(DpopError::Algorithm);
    }
    let jwk = jws
        .embedded_jwk()
        .ok_or_else(|| DpopError::Key("missing".into()))?;
    let key = proof_key(jwk)?;
    if key.key_type() != alg.key_type() {
        return Err(DpopError::Key(format!("does not fit alg {alg}")));
    }
    let jkt = key.thumbprint();
    let check = SignatureCheck::proof(
        alg,
        key,
        jws.signing_input().as_bytes().to_vec(),
        jws.signature().to_vec(),
    );
    let pending = ProofPending {
        jws,
        jkt,
        method: rules.method.to_owned(),
        uri: rules.uri.to_owned(),
        now: rules.now,
        max_age: rules.max_age,
        skew: rules.skew,
        ath: rules.access_token.map(access_token_hash),
        nonce: rules.nonce.cloned(),
    };
    Ok((pending, check))
}

/// Whether a malformed proof's header says `alg: none`.
fn unsigned(proof: &str) -> bool {
    let header = proof.split('.').next().and_then(b64url_decode);
    header
        .and_then(|h| crate::json::parse_object(&h).ok())
        .is_some_and(|h| {
            h.get("alg")
                .and_then(Value::as_str)
                .is_some_and(|a| a.eq_ignore_ascii_case("none"))
        })
}

/// The proof's own public key: `RSA` or `EC` P-256, public members only.
fn proof_key(jwk: &Value) -> Result<PublicKey, DpopError> {
    let parsed = jose::parse_public_jwk(jwk).map_err(|e| DpopError::Key(e.to_string()))?;
    let key = parsed.key().clone();
    match key.key_type() {
        KeyType::Rsa | KeyType::EcP256 => Ok(key),
    }
}

/// `ath`: base64url SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    b64url_encode(&Sha256::digest(token.as_bytes()))
}

impl ProofPending {
    /// The thumbprint of the key the proof carries (known before the
    /// signature is checked; trust it only from [`VerifiedProof`]).
    pub fn unverified_jkt(&self) -> &str {
        &self.jkt
    }

    /// Every claim rule, on the verified claims (`verified` is the host's
    /// answer to the check): `jti`, `htm`, `htu`, `iat`, and `ath` and
    /// `nonce` when the rules ask for them.
    pub fn finish(self, verified: bool) -> Result<VerifiedProof, DpopError> {
        let claims = self
            .jws
            .into_verified(verified)
            .map_err(|_| DpopError::Signature)?;
        let claims = claims.get();
        let jti = match claims.string("jti") {
            Ok(Some(j)) if !j.is_empty() && j.len() <= MAX_JTI_BYTES => j.to_owned(),
            _ => return Err(DpopError::Claim("jti")),
        };
        match claims.string("htm") {
            Ok(Some(m)) if m == self.method => {}
            Ok(Some(_)) => return Err(DpopError::Method),
            _ => return Err(DpopError::Claim("htm")),
        }
        match claims.string("htu") {
            Ok(Some(u)) => {
                if !same_uri(u, &self.uri) {
                    return Err(DpopError::Uri);
                }
            }
            _ => return Err(DpopError::Claim("htu")),
        }
        let iat = match claims.numeric_date("iat", false) {
            Ok(Some(iat)) => iat,
            _ => return Err(DpopError::Claim("iat")),
        };
        if iat > self.now.saturating_add(self.skew)
            || iat
                < self
                    .now
                    .saturating_sub(self.max_age)
                    .saturating_sub(self.skew)
        {
            return Err(DpopError::IssuedAt);
        }
        if let Some(expected) = &self.ath {
            match claims.string("ath") {
                Ok(Some(ath)) if ath == expected => {}
                _ => return Err(DpopError::AccessTokenHash),
            }
        }
        if let Some(key) = &self.nonce {
            match claims.string("nonce") {
                Ok(Some(n)) if key.accepts(n, self.now) => {}
                _ => return Err(DpopError::Nonce),
            }
        }
        // Kept until no clock within the skew could accept the proof: the
        // last second it is accepted is `iat + max_age + skew`, and stores
        // drop an entry once `now ≥ expires_at`, hence the one more second.
        let expires_at = iat
            .saturating_add(self.max_age)
            .saturating_add(self.skew.saturating_mul(2))
            .saturating_add(1);
        let replay = ReplayKey::dpop(&self.jkt, &jti, expires_at);
        Ok(VerifiedProof {
            jkt: self.jkt,
            jti,
            iat,
            replay,
        })
    }
}

/// Whether a proof's `htu` names `uri`: both without query and fragment,
/// compared after RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based
/// normalisation (RFC 9449 §4.3 item 9).
pub fn same_uri(htu: &str, uri: &str) -> bool {
    match (normalize_uri(htu), normalize_uri(uri)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `scheme://authority/path` normalised: scheme and host lowercased, the
/// scheme's default port dropped, percent-escapes of unreserved characters
/// decoded and the others uppercased, dot segments removed, an empty path
/// made `/`. `None` for anything that is not an `http(s)` URI with a host
/// (or that carries userinfo).
fn normalize_uri(uri: &str) -> Option<String> {
    let uri = uri.split(['?', '#']).next()?;
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], &authority[i + 1..]),
        _ => (authority, ""),
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = format!(
        "{scheme}://{}",
        percent_normalize(&host.to_ascii_lowercase())?
    );
    if !port.is_empty() && port.trim_start_matches('0') != default_port {
        out.push(':');
        out.push_str(port.trim_start_matches('0'));
    }
    let path = percent_normalize(path)?;
    let path = remove_dot_segments(&path);
    out.push_str(if path.is_empty() { "/" } else { &path });
    Some(out)
}

/// RFC 3986 §6.2.2.1–2: `%XX` uppercased, unreserved characters decoded.
fn percent_normalize(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let byte = u8::from_str_radix(hex, 16).ok()?;
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(byte as char);
            } else {
                out.push('%');
                out.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    // Only ASCII was pushed byte by byte; anything else is not a URI.
    text.is_ascii().then_some(out)
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    output.push("");
                }
            }
            ".." => {
                if output.len() > 1 {
                    output.pop();
                }
                if i == last {
                    output.push("");
                }
            }
            s => output.push(s),
        }
    }
    output.join("/")
}

/// The secret behind stateless DPoP server nonces (RFC 9449 §8): a nonce
/// is the window number (`now / lifetime`) and an HMAC-SHA-256 of it,
/// accepted in its own window and the next. Hosts share the secret across
/// isolates (the Worker's `AG_DPOP_NONCE_SECRET`), so a nonce one isolate
/// made is good at every other; rotating the secret invalidates every
/// nonce (clients then get a fresh one with `use_dpop_nonce`).
#[derive(Clone)]
pub struct NonceKey {
    secret: Vec<u8>,
    lifetime: i64,
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NonceKey {{ lifetime: {} }}", self.lifetime)
    }
}

/// The shortest nonce secret accepted, in bytes.
pub const MIN_NONCE_SECRET_BYTES: usize = 32;

impl NonceKey {
    /// A nonce key with `secret` (at least [`MIN_NONCE_SECRET_BYTES`])
    /// and windows of `lifetime` seconds (at least 1).
    pub fn new(secret: &[u8], lifetime: i64) -> Option<Self> {
        (secret.len() >= MIN_NONCE_SECRET_BYTES && lifetime >= 1).then(|| Self {
            secret: secret.to_vec(),
            lifetime,
        })
    }

    fn window(&self, now: i64) -> i64 {
        now.div_euclid(self.lifetime)
    }

    fn mac(&self, window: i64) -> [u8; 32] {
        // Any key length is accepted by HMAC.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any length");
        mac.update(b"assertion-grant dpop nonce v1");
        mac.update(&window.to_be_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The nonce for `now`'s window.
    pub fn nonce(&self, now: i64) -> String {
        let window = self.window(now);
        let mut raw = window.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.mac(window)[..16]);
        b64url_encode(&raw)
    }

    /// Whether `nonce` was made with this key in `now`'s window or the one
    /// before (constant-time on the MAC).
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        use subtle::ConstantTimeEq;
        let Some(raw) = b64url_decode(nonce) else {
            return false;
        };
        let Ok(raw): Result<[u8; 24], _> = raw.try_into() else {
            return false;
        };
        let mut window = [0u8; 8];
        window.copy_from_slice(&raw[..8]);
        let window = i64::from_be_bytes(window);
        let current = self.window(now);
        if window != current && window != current - 1 {
            return false;
        }
        bool::from(self.mac(window)[..16].ct_eq(&raw[8..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_is_compared_after_normalisation() {
        let us = "https://as.example.com/token";
        for same in [
            "https://as.example.com/token",
            "HTTPS://AS.EXAMPLE.COM/token",
            "https://as.example.com:443/token",
            "https://as.example.com/token?x=1",
            "https://as.example.com/token#f",
            "https://as.example.com/a/../token",
            "https://as.example.com/./token",
            "https://as.example.com/%74oken",
        ] {
            assert!(same_uri(same, us), "{same}");
        }
        for other in [
            "https://as.example.com/Token",
            "http://as.example.com/token",
            "https://as.example.com:8443/token",
            "https://evil.example/token",
            "https://as.example.com/token/",
            "https://user@as.example.com/token",
            "https://as.example.com/%+4oken",
            "as.example.com/token",
            "https://as.example.com:x/token",
            "",
        ] {
            assert!(!same_uri(other, us), "{other}");
        }
        assert!(same_uri(
            "http://localhost:8787/token",
            "http://LOCALHOST:8787/token"
        ));
        assert!(same_uri("https://a.example", "https://a.example/"));
    }

    #[test]
    fn nonces_rotate_and_need_the_secret() {
        let key = NonceKey::new(&[7; 32], 300).unwrap();
        let n = key.nonce(1_000_000);
        assert!(key.accepts(&n, 1_000_000));
        assert!(key.accepts(&n, 1_000_000 + 300));
        assert!(!key.accepts(&n, 1_000_000 + 600));
        assert!(!key.accepts(&n, 1_000_000 - 300));
        let other = NonceKey::new(&[8; 32], 300).unwrap();
        assert!(!other.accepts(&n, 1_000_000));
        assert!(!key.accepts("", 1_000_000));
        assert!(!key.accepts("not a nonce", 1_000_000));
        let mut forged = n.into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        assert!(!key.accepts(std::str::from_utf8(&forged).unwrap(), 1_000_000));
        assert!(NonceKey::new(&[7; 31], 300).is_none());
    }
}
