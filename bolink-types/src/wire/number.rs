//! Numbers read from their text, as received: a JSON number's literal or a
//! numeric string, never through `f64`, so that no digit is lost or added.

use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Whether `text` is a number in JSON's grammar: an optional `-`, digits
/// without a leading zero, an optional fraction and an optional exponent.
///
/// Numeric strings are held to the same grammar (Java's parsers reject the
/// thousands separators and underscores that `rust_decimal` would accept).
pub(crate) fn is_number_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int_digits = i - int_start;
    if int_digits == 0 || (int_digits > 1 && bytes[int_start] == b'0') {
        return false;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac_start {
            return false;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == bytes.len()
}

/// The exact decimal a number text stands for; `None` when it is not a
/// number or does not fit a 96-bit decimal (28 significant digits).
pub(crate) fn parse_decimal(text: &str) -> Option<Decimal> {
    if !is_number_text(text) {
        return None;
    }
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str_exact(text).ok()
    }
}

/// An integer read from a number text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Integer {
    /// Written as an integer: `5`.
    Plain(i64),
    /// Written as an integral decimal: `5.0`, `5e0`.
    Integral(i64),
}

/// Why a number text is not an `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotInteger {
    /// Not a number at all.
    NotNumber,
    /// A number with a fractional part.
    Fractional,
    /// Outside the range of `i64`.
    OutOfRange,
}

/// Reads an integer as fastjson's `getLong` does, but exactly: integral
/// decimals are whole numbers, fractions are refused rather than truncated.
pub(crate) fn parse_integer(text: &str) -> Result<Integer, NotInteger> {
    if let Ok(value) = i64::from_str(text) {
        // `i64::from_str` also takes a leading `+`, which JSON does not.
        if is_number_text(text) {
            return Ok(Integer::Plain(value));
        }
    }
    if !is_number_text(text) {
        return Err(NotInteger::NotNumber);
    }
    let Some(decimal) = parse_decimal(text) else {
        return Err(NotInteger::OutOfRange);
    };
    if !decimal.fract().is_zero() {
        return Err(NotInteger::Fractional);
    }
    let plain = !text.contains(['.', 'e', 'E']);
    match decimal.to_i64() {
        Some(value) if plain => Ok(Integer::Plain(value)),
        Some(value) => Ok(Integer::Integral(value)),
        None => Err(NotInteger::OutOfRange),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_number_grammar() {
        for good in [
            "0", "-0", "5", "5.0", "0.04", "1e3", "1E+3", "2.5e-1", "-12.50",
        ] {
            assert!(is_number_text(good), "{good}");
        }
        for bad in [
            "", "-", "+5", "05", "5.", ".5", "1_000", "1,000", "0x10", "5e", " 5", "5 ", "NaN",
        ] {
            assert!(!is_number_text(bad), "{bad}");
        }
    }

    #[test]
    fn integers_from_their_text() {
        assert_eq!(parse_integer("5"), Ok(Integer::Plain(5)));
        assert_eq!(parse_integer("-15"), Ok(Integer::Plain(-15)));
        assert_eq!(parse_integer("0.0"), Ok(Integer::Integral(0)));
        assert_eq!(parse_integer("5.00"), Ok(Integer::Integral(5)));
        assert_eq!(parse_integer("5e2"), Ok(Integer::Integral(500)));
        assert_eq!(parse_integer("5.5"), Err(NotInteger::Fractional));
        assert_eq!(parse_integer("+5"), Err(NotInteger::NotNumber));
        assert_eq!(
            parse_integer("123456789012345678901234"),
            Err(NotInteger::OutOfRange)
        );
        assert_eq!(
            parse_integer("9223372036854775807"),
            Ok(Integer::Plain(i64::MAX))
        );
        assert_eq!(
            parse_integer("9223372036854775808"),
            Err(NotInteger::OutOfRange)
        );
    }

    #[test]
    fn decimals_keep_their_digits() {
        assert_eq!(parse_decimal("4.50").unwrap().to_string(), "4.50");
        assert_eq!(parse_decimal("0.04").unwrap().to_string(), "0.04");
        assert_eq!(parse_decimal("1e2").unwrap().to_string(), "100");
        assert!(parse_decimal("1_0").is_none());
    }
}
