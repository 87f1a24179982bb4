//! Bytes shown as text in `Debug` output: the payloads of this crate's
//! types are JSON, and a list of byte values (`[123, 34, ...]`) says
//! nothing to someone reading a log or a failed test.

use std::fmt;

/// Formats bytes as the text they hold: a string literal when they are
/// UTF-8, the lossy text marked `(not UTF-8)` when they are not.
///
/// ```
/// use bolink_sdk::Text;
/// assert_eq!(format!("{:?}", Text(br#"{"state":1}"#)), r#""{\"state\":1}""#);
/// assert_eq!(format!("{:?}", Text(b"\xff1")), "\"\u{fffd}1\" (not UTF-8)");
/// ```
#[derive(Clone, Copy)]
pub struct Text<'a>(pub &'a [u8]);

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(text) => fmt::Debug::fmt(text, f),
            Err(_) => write!(f, "{:?} (not UTF-8)", String::from_utf8_lossy(self.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::outbox::Record;

    #[test]
    fn a_record_prints_its_data_as_text() {
        let record = Record::new(7, "in_park", br#"{"order_id":"A1"}"#.to_vec(), 0);
        let shown = format!("{record:?}");
        assert!(
            shown.contains(r#"data: "{\"order_id\":\"A1\"}""#),
            "{shown}"
        );
        assert!(!shown.contains("123, 34"), "{shown}");
    }
}
