//! The other ways a sender may have turned the data into bytes: JSON string
//! literals (Gson's escapes included), `\uXXXX` escapes either way, GBK.

use std::fmt::Write as _;

/// `text` as a JSON string literal; `html_safe` adds Gson's default escapes
/// of `<`, `>`, `&`, `=`, `'`, U+2028 and U+2029.
pub(super) fn json_string(text: &str, html_safe: bool) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4 + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            '<' | '>' | '&' | '=' | '\'' | '\u{2028}' | '\u{2029}' if html_safe => {
                let _ = write!(out, "\\u{:04x}", u32::from(ch));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Every non-ASCII character of `text` as `\uXXXX` (UTF-16 units, surrogate
/// pairs beyond the BMP); `None` when the text is ASCII. Outside strings
/// valid JSON is ASCII, so only string contents change.
pub(super) fn escape_non_ascii(text: &str, upper: bool) -> Option<String> {
    if text.is_ascii() {
        return None;
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut units = [0u16; 2];
    for ch in text.chars() {
        if ch.is_ascii() {
            out.push(ch);
            continue;
        }
        for unit in ch.encode_utf16(&mut units) {
            let _ = if upper {
                write!(out, "\\u{unit:04X}")
            } else {
                write!(out, "\\u{unit:04x}")
            };
        }
    }
    Some(out)
}

/// `text` with every `\uXXXX` escape of a non-ASCII character (surrogate
/// pairs combined) replaced by the character; `None` when there is none.
/// Escapes of ASCII characters and lone surrogates are kept.
pub(super) fn unescape_non_ascii(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    let mut changed = false;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let unit = match bytes.get(i + 1) {
            Some(b'u') => hex4(bytes, i + 2),
            _ => None,
        };
        let Some(unit) = unit else {
            // Another escape (\" \\ \n ...): skip the escaped character.
            i += 2;
            continue;
        };
        let (ch, len) = match unit {
            0xD800..=0xDBFF => {
                let low = match (bytes.get(i + 6), bytes.get(i + 7)) {
                    (Some(b'\\'), Some(b'u')) => hex4(bytes, i + 8),
                    _ => None,
                };
                match low {
                    Some(low @ 0xDC00..=0xDFFF) => (
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)),
                        12,
                    ),
                    _ => (None, 6),
                }
            }
            0xDC00..=0xDFFF => (None, 6),
            0x80.. => (char::from_u32(unit), 6),
            _ => (None, 6),
        };
        if let Some(ch) = ch {
            out.push_str(text.get(copied..i)?);
            out.push(ch);
            copied = i + len;
            changed = true;
        }
        i += len;
    }
    if !changed {
        return None;
    }
    out.push_str(text.get(copied..)?);
    Some(out)
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at.checked_add(4)?)?;
    digits.iter().try_fold(0u32, |acc, &b| {
        let digit = char::from(b).to_digit(16)?;
        Some(acc * 16 + digit)
    })
}

/// `text` as GBK bytes, an unmappable character written as `?` (as Java's
/// `String.getBytes("GBK")` does).
pub(super) fn gbk(text: &str) -> Vec<u8> {
    let mut encoder = encoding_rs::GBK.new_encoder();
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut buffer = [0u8; 1024];
    let mut rest = text;
    loop {
        let (result, read, written) =
            encoder.encode_from_utf8_without_replacement(rest, &mut buffer, true);
        out.extend_from_slice(buffer.get(..written).unwrap_or_default());
        rest = rest.get(read..).unwrap_or_default();
        match result {
            encoding_rs::EncoderResult::InputEmpty => return out,
            // The buffer holds any character, so a full buffer was written
            // to; stop rather than loop should that ever not hold.
            encoding_rs::EncoderResult::OutputFull if read == 0 && written == 0 => return out,
            encoding_rs::EncoderResult::OutputFull => {}
            encoding_rs::EncoderResult::Unmappable(_) => out.push(b'?'),
        }
    }
}
