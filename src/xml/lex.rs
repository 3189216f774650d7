//! Lexical rules of XML 1.0 and Namespaces in XML: names, characters,
//! references, attribute-value and line-end normalization.

use super::XmlError;

/// An NCName (Namespaces in XML §3): an XML 1.0 §2.3 Name without colons.
pub(crate) fn is_ncname(s: &str) -> bool {
    let Some((&first, rest)) = s.as_bytes().split_first() else {
        return false;
    };
    if ASCII_NAME[usize::from(first)] & NAME_START != 0
        && rest
            .iter()
            .all(|&c| ASCII_NAME[usize::from(c)] & NAME_CHAR != 0)
    {
        return true;
    }
    if s.is_ascii() {
        // The table covers every ASCII character exactly.
        return false;
    }
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c != ':' && is_name_start_char(c))
        && chars.all(|c| c != ':' && is_name_char(c))
}

pub(super) const NAME_START: u8 = 1;
pub(super) const NAME_CHAR: u8 = 2;

/// The ASCII part of XML 1.0 §2.3 without `:` (an NCName): `NameStartChar`
/// is `[A-Za-z_]`, `NameChar` adds `[0-9.-]`. Every other byte is 0, so a
/// non-ASCII name leaves the table's fast path for the full check.
pub(super) const ASCII_NAME: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            t[c] = NAME_START | NAME_CHAR;
        } else if b.is_ascii_digit() || b == b'-' || b == b'.' {
            t[c] = NAME_CHAR;
        }
        c += 1;
    }
    t
};

/// XML 1.0 §2.3 `NameStartChar`.
pub(super) fn is_name_start_char(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 §2.3 `NameChar`.
pub(super) fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML 1.0 §3.3.3 attribute-value normalization (for CDATA attributes):
/// literal tab, CR, LF and CRLF become one space each; references are
/// resolved afterwards, so `&#xA;` stays a line feed.
pub(super) fn attribute_value(raw: &str, max: usize) -> Result<String, XmlError> {
    if raw.len() > max {
        return Err(XmlError::Limit("attribute value length"));
    }
    // Printable ASCII without references: nothing to normalize or refuse.
    if raw
        .bytes()
        .all(|b| (0x20..0x80).contains(&b) && b != b'&' && b != b'<')
    {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let end = rest
                    .find(';')
                    .ok_or(XmlError::Malformed("unterminated reference"))?;
                let name = &rest[1..end];
                let resolved = resolve_reference(name)?;
                out.push(resolved);
                rest = &rest[end + 1..];
                continue;
            }
            '<' => return Err(XmlError::Malformed("< in attribute value")),
            '\r' => {
                out.push(' ');
                if rest[1..].starts_with('\n') {
                    rest = &rest[1..];
                }
            }
            '\n' | '\t' => out.push(' '),
            c if is_xml_char(c) => out.push(c),
            _ => return Err(XmlError::Malformed("illegal character")),
        }
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

pub(super) fn resolve_reference(name: &str) -> Result<char, XmlError> {
    let c = if let Some(num) = name.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix('x') {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(XmlError::Malformed("character reference"));
        }
        // Any number of leading zeros (XML 1.0 §4.1); at most 7 significant
        // digits, which keeps the value within u32 before the range check.
        let significant = digits.trim_start_matches('0');
        if significant.len() > 7 {
            return Err(XmlError::Malformed("character reference"));
        }
        let code = if significant.is_empty() {
            0
        } else {
            u32::from_str_radix(significant, radix)
                .map_err(|_| XmlError::Malformed("character reference"))?
        };
        char::from_u32(code).ok_or(XmlError::Malformed("character reference"))?
    } else {
        match name {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => return Err(XmlError::Entity),
        }
    };
    if !is_xml_char(c) {
        return Err(XmlError::Malformed(
            "character reference to an illegal character",
        ));
    }
    Ok(c)
}

pub(super) fn predefined(r: &quick_xml::events::BytesRef<'_>) -> Option<char> {
    match r.as_ref() {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

pub(super) fn normalize_eol(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Whether every character of `s` is an XML 1.0 `Char` ([`is_xml_char`]),
/// with a byte loop for ASCII (where only controls other than tab, LF and CR
/// are refused).
pub(super) fn all_xml_chars(s: &str) -> bool {
    if s.is_ascii() {
        s.bytes()
            .all(|b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r'))
    } else {
        s.chars().all(is_xml_char)
    }
}

/// XML 1.0 `Char`: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}
