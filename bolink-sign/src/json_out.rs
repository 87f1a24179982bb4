//! Writing the few JSON pieces the envelope builders need, by hand, so the
//! output layout is fixed and no fallible serializer sits in the build path.

use serde_json::value::RawValue;

use crate::error::EnvelopeError;

/// Appends `s` as a JSON string literal (quotes included).
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Checks that `data_json` is one JSON object and returns its text without
/// surrounding whitespace.
///
/// The whitespace is dropped because a receiver's `data` value never
/// includes it: signing it would make the envelope fail verification.
pub(crate) fn checked_data(data_json: &str) -> Result<&str, EnvelopeError> {
    let raw: &RawValue =
        serde_json::from_str(data_json).map_err(|e| EnvelopeError::from_json(&e))?;
    let text = raw.get();
    if text.starts_with('{') {
        Ok(text)
    } else {
        Err(EnvelopeError::DataNotObject)
    }
}
