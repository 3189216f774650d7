//! `xs:dateTime` (SAML core §1.3.3), UTC only.

use crate::grant::GrantError;
use crate::reason::Reason;

/// Parses an `xs:dateTime` in UTC (`YYYY-MM-DDThh:mm:ss[.fff]Z`, SAML core
/// §1.3.3) to Unix seconds. Fractions round against the holder
/// (`round_up` for NotBefore/IssueInstant, down for NotOnOrAfter).
pub(super) fn instant(text: &str, round_up: bool) -> Result<i64, GrantError> {
    let bad = || GrantError::Saml(Reason::SamlDateTime, "a time is not a UTC xs:dateTime");
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, GrantError> {
        let s = text.get(r).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let fraction = &text[19..text.len() - 1];
    let has_fraction = match fraction {
        "" => false,
        f if f.len() >= 2 && f.starts_with('.') && f[1..].bytes().all(|c| c.is_ascii_digit()) => {
            f[1..].bytes().any(|c| c != b'0')
        }
        _ => return Err(bad()),
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad());
    }
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's method.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(if round_up && has_fraction {
        secs + 1
    } else {
        secs
    })
}
