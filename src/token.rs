//! Access-token minting: an RFC 9068 JWT signed with ES256.

use serde_json::{Map, Value, json};

#[cfg(feature = "rust-crypto")]
use crate::crypto::SigningKey;
use crate::encoding::b64url_encode;

/// The public half of an access-token signing key (EC P-256): what the
/// JWKS publishes and the token header names. The private half lives with
/// whoever signs — the core ([`crate::SigningKey`]) or the host (a non-extractable
/// WebCrypto key on JS hosts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicSigningKey {
    /// The key id.
    pub kid: String,
    /// The affine x coordinate.
    pub x: [u8; 32],
    /// The affine y coordinate.
    pub y: [u8; 32],
}

#[cfg(feature = "rust-crypto")]
impl From<&SigningKey> for PublicSigningKey {
    fn from(key: &SigningKey) -> Self {
        let (x, y) = key.public_coordinates();
        Self {
            kid: key.kid().to_owned(),
            x,
            y,
        }
    }
}

/// What an access token says (RFC 9068 §2.2).
pub(crate) struct AccessTokenClaims<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// The trusted issuer that vouched for the subject ([`crate::protocol::IDP_CLAIM`]).
    pub idp: &'a str,
    /// The configured audience, unless the request asked for resources.
    pub audience: &'a str,
    /// The RFC 8707 resources asked for (one: a string `aud`; more: an
    /// array).
    pub resources: Option<&'a [String]>,
    pub client_id: Option<&'a str>,
    /// Space-separated; omitted when empty.
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub jti: String,
    /// The issuer's claim mapping (never one of the claims above:
    /// configuration refuses reserved names).
    pub mapped: &'a Map<String, Value>,
    /// `acr`, `amr`, `auth_time` the server vouches for (RFC 9068 §2.2.1),
    /// from a verified ID-JAG.
    pub authentication: &'a Map<String, Value>,
    /// `cnf.jkt` of a DPoP-bound token (RFC 9449 §6.1).
    pub jkt: Option<&'a str>,
}

impl AccessTokenClaims<'_> {
    /// The JWT claims set.
    pub(crate) fn into_map(self) -> Map<String, Value> {
        let mut claims = self.mapped.clone();
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("sub".into(), json!(self.subject));
        claims.insert(crate::protocol::IDP_CLAIM.into(), json!(self.idp));
        let aud = match self.resources {
            Some([one]) => json!(one),
            Some(many) if !many.is_empty() => json!(many),
            _ => json!(self.audience),
        };
        claims.insert("aud".into(), aud);
        for (name, value) in self.authentication {
            claims.insert(name.clone(), value.clone());
        }
        if let Some(jkt) = self.jkt {
            claims.insert("cnf".into(), json!({ "jkt": jkt }));
        }
        claims.insert("exp".into(), json!(self.expires_at));
        claims.insert("iat".into(), json!(self.issued_at));
        claims.insert("jti".into(), json!(self.jti));
        if let Some(client_id) = self.client_id {
            claims.insert("client_id".into(), json!(client_id));
        }
        if !self.scope.is_empty() {
            claims.insert("scope".into(), json!(self.scope));
        }
        claims
    }
}

/// One of our access tokens as presented (revocation, introspection):
/// shape, header and claims checked, signature not yet.
#[derive(Debug)]
pub(crate) struct OwnToken {
    /// Which of our signing keys its `kid` names.
    pub key: usize,
    pub signing_input: String,
    pub signature: Vec<u8>,
    pub claims: Map<String, Value>,
}

/// Parses `token` as one of ours: `{"alg":"ES256","typ":"at+jwt","kid":…}`
/// with a `kid` among `kids`, a strict JSON payload, a 64-byte signature;
/// `None` for anything else.
pub(crate) fn parse_own(token: &str, kids: &[&str]) -> Option<OwnToken> {
    if token.len() > crate::limits::MAX_JWT_BYTES {
        return None;
    }
    let mut parts = token.split('.');
    let (h, p, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = crate::json::parse_object(&crate::encoding::b64url_decode(h)?).ok()?;
    if header.get("alg")? != "ES256" || header.get("typ")? != "at+jwt" {
        return None;
    }
    let kid = header.get("kid")?.as_str()?;
    let key = kids.iter().position(|k| *k == kid)?;
    let claims = crate::json::parse_object(&crate::encoding::b64url_decode(p)?).ok()?;
    let signature = crate::encoding::b64url_decode(sig)?;
    (signature.len() == 64).then(|| OwnToken {
        key,
        signing_input: format!("{h}.{p}"),
        signature,
        claims,
    })
}

/// The JWS signing input of an RFC 9068 access token over `claims`:
/// header `{"alg":"ES256","typ":"at+jwt","kid":…}` (RFC 9068 §2.1).
pub(crate) fn signing_input(kid: &str, claims: &Map<String, Value>) -> String {
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
    let mut token = b64url_encode(header.to_string().as_bytes());
    token.push('.');
    token.push_str(&b64url_encode(
        Value::Object(claims.clone()).to_string().as_bytes(),
    ));
    token
}

/// The compact JWS: signing input, `.`, the 64-byte ES256 `r‖s` signature.
pub(crate) fn assemble(mut signing_input: String, signature: &[u8; 64]) -> String {
    signing_input.push('.');
    signing_input.push_str(&b64url_encode(signature));
    signing_input
}

/// A fresh token identifier: 128 random bits, base64url. The bits come
/// from the platform CSPRNG a kilobyte at a time (in wasm each fetch is a
/// call out to `crypto.getRandomValues`); no byte is used twice. A `jti` is
/// public (it is in the token), so keeping unused random bytes costs nothing.
pub(crate) fn new_jti() -> Result<String, getrandom::Error> {
    use std::cell::RefCell;
    const POOL: usize = 1024;
    thread_local! {
        static RANDOM: RefCell<(Box<[u8; POOL]>, usize)> = RefCell::new((Box::new([0; POOL]), POOL));
    }
    RANDOM.with(|cell| {
        let (pool, used) = &mut *cell.borrow_mut();
        if *used + 16 > POOL {
            getrandom::fill(&mut pool[..])?;
            *used = 0;
        }
        let bytes = &mut pool[*used..*used + 16];
        let jti = b64url_encode(bytes);
        bytes.fill(0);
        *used += 16;
        Ok(jti)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jtis_are_distinct_across_pool_refills() {
        let ids: std::collections::HashSet<String> = (0..500).map(|_| new_jti().unwrap()).collect();
        assert_eq!(ids.len(), 500);
        assert!(ids.iter().all(|j| j.len() == 22));
    }
}
