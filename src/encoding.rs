//! Strict text encodings: base64url (RFC 4648 §5) for JOSE, base64 for HTTP
//! Basic authentication, and lowercase hex.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Decodes unpadded base64url, as JWS compact serialization requires
/// (RFC 7515 §2). Padding, the standard alphabet, whitespace and
/// non-canonical trailing bits are all rejected.
pub(crate) fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Encodes bytes as unpadded base64url.
pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes standard, padded base64 (RFC 7617 Basic credentials).
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Decodes hex (either case) into exactly `N` bytes.
pub(crate) fn hex_decode<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_is_strict() {
        assert_eq!(b64url_decode("YWI").as_deref(), Some(&b"ab"[..]));
        assert!(b64url_decode("YWI=").is_none(), "padding");
        assert!(b64url_decode("YW I").is_none(), "whitespace");
        assert!(b64url_decode("+/8").is_none(), "standard alphabet");
        assert!(
            b64url_decode("YWJ").is_none(),
            "non-canonical trailing bits"
        );
        assert_eq!(b64url_decode("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
    }

    #[test]
    fn hex_round_trip() {
        let h = hex(&[0x00, 0xab, 0xff]);
        assert_eq!(h, "00abff");
        assert_eq!(hex_decode::<3>(&h), Some([0x00, 0xab, 0xff]));
        assert_eq!(hex_decode::<3>("00ABFF"), Some([0x00, 0xab, 0xff]));
        assert_eq!(hex_decode::<3>("00abf"), None);
        assert_eq!(hex_decode::<3>("00abfg"), None);
    }
}
