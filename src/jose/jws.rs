//! Compact JWS parsing and verification (RFC 7515 §3.1, §5.2; RFC 8725).

use serde_json::{Map, Value};

#[cfg(feature = "rust-crypto")]
use super::Jwk;
use super::{Claims, JoseError, KeyView};
use crate::crypto::Algorithm;
#[cfg(feature = "rust-crypto")]
use crate::crypto::seam;
use crate::crypto::seam::SignatureCheck;
#[cfg(feature = "rust-crypto")]
use crate::crypto::seam::{KeyOwner, KeyRef};
use crate::encoding::b64url_decode;
use crate::json;
use crate::limits::{MAX_JWT_BYTES, MAX_KEY_CANDIDATES};
use crate::verified::Verified;
#[cfg(feature = "rust-crypto")]
use std::borrow::Cow;

/// A structurally valid compact JWS whose signature has **not** been checked
/// yet. Only [`UnverifiedJws::unverified_issuer`] (to pick the issuer's
/// keys) is readable before [`UnverifiedJws::verify`].
#[derive(Debug)]
pub struct UnverifiedJws {
    signing_input: String,
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
    /// `typ` exactly as the header has it.
    raw_typ: Option<String>,
    /// The header's `jwk`: read only for DPoP proofs, whose key it is
    /// ([`crate::dpop`]); never a key source for anything else.
    jwk: Option<Value>,
    payload: Map<String, Value>,
    signature: Vec<u8>,
}

/// Parses a compact JWS. Checks, in order of cost: size, shape, strict
/// base64url, strict JSON header, `alg` (no `none`, no HMAC, nothing
/// unknown), `crit`, `typ`, then the payload (a strict JSON object).
/// Header parameters that name keys (`jwk`, `jku`, `x5u`, `x5c`) are ignored:
/// keys come only from configuration.
pub fn parse(token: &str) -> Result<UnverifiedJws, JoseError> {
    if token.len() > MAX_JWT_BYTES {
        return Err(JoseError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed);
    };
    match parts.count() {
        0 => {}
        2 => return Err(JoseError::Encrypted),
        _ => return Err(JoseError::Malformed),
    }
    if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
        return Err(JoseError::Malformed);
    }
    let header_bytes = b64url_decode(header_b64).ok_or(JoseError::Malformed)?;
    let header = json::parse_object(&header_bytes)?;
    let (alg, kid, typ) = check_header(&header)?;
    let raw_typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
    let jwk = header.get("jwk").cloned();

    let payload_bytes = b64url_decode(payload_b64).ok_or(JoseError::Malformed)?;
    let payload = json::parse_object(&payload_bytes)?;
    let signature = b64url_decode(signature_b64).ok_or(JoseError::Malformed)?;
    let signing_input = token[..header_b64.len() + 1 + payload_b64.len()].to_owned();
    Ok(UnverifiedJws {
        signing_input,
        alg,
        kid,
        typ,
        raw_typ,
        jwk,
        payload,
        signature,
    })
}

/// The header's `alg`, `kid` and `typ` (lowercased, without the optional
/// `application/` prefix, RFC 7515 §4.1.9).
type HeaderParts = (Algorithm, Option<String>, Option<String>);

fn check_header(header: &Map<String, Value>) -> Result<HeaderParts, JoseError> {
    if header.contains_key("enc") {
        return Err(JoseError::Encrypted);
    }
    let alg_name = match header.get("alg") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(JoseError::HeaderType("alg")),
        None => return Err(JoseError::MissingAlgorithm),
    };
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(JoseError::AlgorithmNone);
    }
    let alg = Algorithm::from_jose(alg_name).ok_or(JoseError::UnsupportedAlgorithm)?;
    // RFC 7515 §4.1.11: we understand no extension, so any `crit` (even an
    // empty list, which the RFC forbids) is fatal.
    if header.contains_key("crit") {
        return Err(JoseError::CriticalHeader);
    }
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(typ)) => {
            let media = media_type(typ);
            if media == "at+jwt" {
                return Err(JoseError::AccessTokenType);
            }
            Some(media)
        }
        Some(_) => return Err(JoseError::HeaderType("typ")),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(JoseError::HeaderType("kid")),
    };
    Ok((alg, kid, typ))
}

/// A `typ` value compared as a media type (RFC 7515 §4.1.9, RFC 2045): no
/// surrounding whitespace, lowercase, one leading `application/` removed,
/// and no parameters (`; v=1`).
fn media_type(typ: &str) -> String {
    let typ = typ.trim().to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    typ.split(';').next().unwrap_or_default().trim().to_owned()
}

impl UnverifiedJws {
    /// The `iss` claim as the token states it, **unverified**: use it only
    /// to choose whose keys to verify with.
    pub fn unverified_issuer(&self) -> Option<&str> {
        self.payload.get("iss").and_then(Value::as_str)
    }

    /// The `sub` claim as the token states it, **unverified**: for log
    /// labels only.
    pub fn unverified_subject(&self) -> Option<&str> {
        self.payload.get("sub").and_then(Value::as_str)
    }

    /// The algorithm named in the header (already known to be supported).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header's `kid`, if any (it only selects among trusted keys).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's `typ` as a media type: trimmed, lowercased, without
    /// the optional `application/` prefix (RFC 7515 §4.1.9) or parameters;
    /// `None` when absent.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The header's `typ` exactly as sent (for rules that allow only the
    /// RFC 7515 §4.1.9 spellings, see [`crate::protocol::typ_is`]).
    pub fn raw_typ(&self) -> Option<&str> {
        self.raw_typ.as_deref()
    }

    /// The header's `jwk`, for DPoP proofs only (RFC 9449 §4.2): the key
    /// the proof demonstrates possession of. Assertions never take keys
    /// from here.
    pub(crate) fn embedded_jwk(&self) -> Option<&Value> {
        self.jwk.as_ref()
    }

    /// The JWS signing input (`header.payload`).
    pub(crate) fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// The decoded signature.
    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The signature work to do, as data: the header's `alg` must be in
    /// `allowed` *and* fit the key (RFC 8725 §3.1); `kid`, when present,
    /// only selects among `keys` (keys configured without a `kid` stay
    /// candidates). At most [`MAX_KEY_CANDIDATES`] fitting keys are tried;
    /// with none (an unknown `kid`, or no keys at all as for an unknown
    /// client) the check names a decoy key, so a refusal costs one
    /// signature operation whichever way it happens.
    pub fn signature_check(
        &self,
        keys: KeyView<'_>,
        allowed: &[Algorithm],
    ) -> Result<SignatureCheck, JoseError> {
        if !allowed.contains(&self.alg) {
            return Err(JoseError::AlgorithmNotAllowed);
        }
        let candidates = keys
            .iter()
            .filter(|(_, k)| {
                self.kid.is_none() || k.kid().is_none() || k.kid() == self.kid.as_deref()
            })
            .filter(|(_, k)| k.accepts(self.alg))
            .take(MAX_KEY_CANDIDATES)
            .map(|(r, _)| r);
        Ok(SignatureCheck::new(
            self.alg,
            candidates,
            self.signing_input.clone().into_bytes(),
            self.signature.clone(),
        ))
    }

    /// The claims, once the host answered this JWS's [`SignatureCheck`]:
    /// `verified` is its answer.
    pub(crate) fn into_verified(self, verified: bool) -> Result<Verified<Claims>, JoseError> {
        if verified {
            Ok(Verified::new(Claims::new(self.payload)))
        } else {
            Err(JoseError::BadSignature)
        }
    }

    /// Verifies the signature with one of `keys` under an algorithm in
    /// `allowed`, with the pure-Rust backend: [`Self::signature_check`]
    /// answered on the spot.
    #[cfg(feature = "rust-crypto")]
    pub fn verify(
        self,
        keys: &[Jwk],
        allowed: &[Algorithm],
    ) -> Result<Verified<Claims>, JoseError> {
        // The owner is only a label here: the lookup is into `keys`.
        let view = KeyView::configured(KeyOwner::Client(0), keys);
        let check = self.signature_check(view, allowed)?;
        let verified = seam::verify_with(&check, |r| match r {
            KeyRef::Decoy(kind) => Some(Cow::Borrowed(crate::crypto::decoy_key(kind))),
            r => view.resolve(r).map(|k| Cow::Borrowed(k.key())),
        });
        self.into_verified(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::encoding::b64url_encode;
    use crate::jose::parse_public_jwk;

    fn sign(header: &str, payload: &str, key: &SigningKey) -> String {
        let input = format!(
            "{}.{}",
            b64url_encode(header.as_bytes()),
            b64url_encode(payload.as_bytes())
        );
        let sig = key.sign_es256(input.as_bytes());
        format!("{input}.{}", b64url_encode(&sig))
    }

    fn jwk_of(key: &SigningKey, kid: &str) -> Jwk {
        let (x, y) = key.public_coordinates();
        parse_public_jwk(&serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": kid,
            "x": b64url_encode(&x), "y": b64url_encode(&y)
        }))
        .unwrap()
    }

    #[test]
    fn verifies_and_exposes_claims_only_after_verification() {
        let key = SigningKey::from_scalar(&[3u8; 32], None).unwrap();
        let token = sign(
            r#"{"alg":"ES256","kid":"a"}"#,
            r#"{"iss":"x","sub":"y"}"#,
            &key,
        );
        let jws = parse(&token).unwrap();
        assert_eq!(jws.unverified_issuer(), Some("x"));
        let claims = jws
            .verify(&[jwk_of(&key, "a")], &[Algorithm::ES256])
            .unwrap();
        assert_eq!(claims.get().string("sub").unwrap(), Some("y"));
    }

    #[test]
    fn kid_selects_and_alg_must_be_allowed() {
        let key = SigningKey::from_scalar(&[3u8; 32], None).unwrap();
        let token = sign(r#"{"alg":"ES256","kid":"b"}"#, r#"{}"#, &key);
        let err = parse(&token)
            .unwrap()
            .verify(&[jwk_of(&key, "a")], &[Algorithm::ES256]);
        assert_eq!(err.unwrap_err(), JoseError::BadSignature);
        let err = parse(&token)
            .unwrap()
            .verify(&[jwk_of(&key, "b")], &[Algorithm::RS256]);
        assert_eq!(err.unwrap_err(), JoseError::AlgorithmNotAllowed);
    }

    #[test]
    fn hostile_headers() {
        let key = SigningKey::from_scalar(&[3u8; 32], None).unwrap();
        let cases = [
            (r#"{"alg":"none"}"#, JoseError::AlgorithmNone),
            (r#"{"alg":"nOnE"}"#, JoseError::AlgorithmNone),
            (r#"{"alg":"HS256"}"#, JoseError::UnsupportedAlgorithm),
            (r#"{"alg":"ES256","crit":[]}"#, JoseError::CriticalHeader),
            (
                r#"{"alg":"ES256","typ":"AT+JWT"}"#,
                JoseError::AccessTokenType,
            ),
            (
                r#"{"alg":"ES256","typ":"application/at+jwt"}"#,
                JoseError::AccessTokenType,
            ),
            (
                r#"{"alg":"ES256","typ":" Application/AT+JWT ; q=1"}"#,
                JoseError::AccessTokenType,
            ),
            (
                r#"{"alg":"ES256","alg":"ES256"}"#,
                JoseError::Json(crate::json::JsonError::DuplicateMember),
            ),
            (r#"{"alg":["ES256"]}"#, JoseError::HeaderType("alg")),
            (r#"{"kid":"x"}"#, JoseError::MissingAlgorithm),
            (r#"{"alg":"ES256","enc":"A128GCM"}"#, JoseError::Encrypted),
        ];
        for (header, expected) in cases {
            let token = sign(header, "{}", &key);
            assert_eq!(parse(&token).unwrap_err(), expected, "{header}");
        }
    }

    #[test]
    fn shape() {
        assert_eq!(parse("a.b").unwrap_err(), JoseError::Malformed);
        assert_eq!(parse("a.b.c.d").unwrap_err(), JoseError::Malformed);
        assert_eq!(parse("a.b.c.d.e").unwrap_err(), JoseError::Encrypted);
        assert_eq!(parse("").unwrap_err(), JoseError::Malformed);
        assert_eq!(
            parse(&"a".repeat(MAX_JWT_BYTES + 1)).unwrap_err(),
            JoseError::TooLarge
        );
        let key = SigningKey::from_scalar(&[3u8; 32], None).unwrap();
        let token = sign(r#"{"alg":"ES256"}"#, "[1]", &key);
        assert_eq!(
            parse(&token).unwrap_err(),
            JoseError::Json(crate::json::JsonError::NotAnObject)
        );
    }
}
