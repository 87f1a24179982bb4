//! How values are laid out in the file: a small header with an MD5 of the
//! payload, then the payload.
//!
//! ```text
//! byte 0      0xB0, marks an outbox value
//! byte 1      format version (1)
//! bytes 2..18 MD5 of the payload
//! bytes 18..  payload: a record's JSON, or a counter's 8 bytes (little endian)
//! ```
//!
//! A record's JSON has [`Record`]'s fields, its `data` as a string
//! (`data_text`) when it is UTF-8, as serde's array of bytes otherwise.
//!
//! redb checksums its pages only when it repairs a file, so a flipped bit
//! in a value is otherwise read back silently; the MD5 catches that, and
//! damaged data must never be signed and sent.

use std::borrow::Cow;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::super::Record;

const MAGIC: u8 = 0xB0;
const VERSION: u8 = 1;
const HEADER_LEN: usize = 2 + 16;

/// `payload` with its header.
pub(super) fn seal(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&Md5::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload, if the header is ours and the checksum matches.
pub(super) fn open(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("{} bytes, shorter than the header", bytes.len()));
    }
    if bytes[0] != MAGIC {
        return Err(format!(
            "not an outbox value (first byte {:#04x})",
            bytes[0]
        ));
    }
    if bytes[1] != VERSION {
        return Err(format!("unknown value format version {}", bytes[1]));
    }
    let payload = &bytes[HEADER_LEN..];
    if Md5::digest(payload).as_slice() != &bytes[2..HEADER_LEN] {
        return Err("checksum mismatch: the stored bytes changed".to_string());
    }
    Ok(payload)
}

/// A record's JSON as stored: [`Record`]'s fields, with `data` as text
/// when it is UTF-8 (the SDK's messages always are) rather than serde's
/// array of numbers, four times larger and slower to read back.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    id: u64,
    #[serde(borrow)]
    service_name: Cow<'a, str>,
    #[serde(borrow)]
    idempotency_key: Cow<'a, str>,
    #[serde(borrow)]
    order_key: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    data_text: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Vec<u8>>,
    enqueued_at_ms: u64,
    attempts: u32,
    next_attempt_ms: u64,
    #[serde(borrow)]
    last_error: Option<Cow<'a, str>>,
}

/// A record as stored.
pub(super) fn encode_record(record: &Record) -> Vec<u8> {
    let (data_text, data) = match std::str::from_utf8(&record.data) {
        Ok(text) => (Some(Cow::Borrowed(text)), None),
        Err(_) => (None, Some(record.data.clone())),
    };
    let stored = Stored {
        id: record.id,
        service_name: Cow::Borrowed(&record.service_name),
        idempotency_key: Cow::Borrowed(&record.idempotency_key),
        order_key: record.order_key.as_deref().map(Cow::Borrowed),
        data_text,
        data,
        enqueued_at_ms: record.enqueued_at_ms,
        attempts: record.attempts,
        next_attempt_ms: record.next_attempt_ms,
        last_error: record.last_error.as_deref().map(Cow::Borrowed),
    };
    // Strings and integers only: serialising cannot fail.
    let json = serde_json::to_vec(&stored).unwrap_or_default();
    seal(&json)
}

/// A stored record that did not verify.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unverified {
    /// The record's id: its key, or the id the record itself holds when
    /// only the key is wrong (a flipped bit in the key).
    pub(super) id: u64,
    pub(super) reason: String,
}

/// The record stored under `key`, checked.
pub(super) fn decode_record(key: u64, bytes: &[u8]) -> Result<Record, Unverified> {
    let unverified = |reason| Unverified { id: key, reason };
    let json = open(bytes).map_err(unverified)?;
    let stored: Stored<'_> = serde_json::from_slice(json)
        .map_err(|e| unverified(format!("unreadable record JSON: {e}")))?;
    let data = match (stored.data_text, stored.data) {
        (Some(text), None) => text.into_owned().into_bytes(),
        (None, Some(data)) => data,
        _ => return Err(unverified("record JSON without its data".to_string())),
    };
    let record = Record {
        id: stored.id,
        service_name: stored.service_name.into_owned(),
        idempotency_key: stored.idempotency_key.into_owned(),
        order_key: stored.order_key.map(Cow::into_owned),
        data,
        enqueued_at_ms: stored.enqueued_at_ms,
        attempts: stored.attempts,
        next_attempt_ms: stored.next_attempt_ms,
        last_error: stored.last_error.map(Cow::into_owned),
    };
    check_key(key, record)
}

/// `record`, if it is the one `key` should hold.
pub(super) fn check_key(key: u64, record: Record) -> Result<Record, Unverified> {
    if record.id != key {
        return Err(Unverified {
            id: record.id,
            reason: format!("record {} found under key {key}", record.id),
        });
    }
    Ok(record)
}

/// A counter as stored.
pub(super) fn encode_counter(value: u64) -> Vec<u8> {
    seal(&value.to_le_bytes())
}

/// A stored counter, checked.
pub(super) fn decode_counter(bytes: &[u8]) -> Result<u64, String> {
    let payload = open(bytes)?;
    let array: [u8; 8] = payload
        .try_into()
        .map_err(|_| format!("a counter of {} bytes", payload.len()))?;
    Ok(u64::from_le_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_any_changed_byte_is_caught() {
        let record = Record::new(7, "in_park", br#"{"order_id":"o-1"}"#.to_vec(), 5);
        let bytes = encode_record(&record);
        assert_eq!(decode_record(7, &bytes), Ok(record));
        assert_eq!(
            decode_record(9, &bytes).unwrap_err().id,
            7,
            "the id it holds"
        );
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            assert!(
                decode_record(7, &changed).is_err(),
                "byte {i} changed unnoticed"
            );
        }
        assert!(
            decode_record(8, &bytes).is_err(),
            "a record under another key"
        );
        assert!(decode_record(7, &bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn data_that_is_not_utf8_round_trips_too() {
        let text = Record::new(1, "in_park", "京A12345".as_bytes().to_vec(), 0);
        let bytes = encode_record(&text);
        let needle = r#""data_text":"京A12345""#.as_bytes();
        assert!(
            bytes.windows(needle.len()).any(|w| w == needle),
            "stored as text"
        );
        assert_eq!(decode_record(1, &bytes), Ok(text));
        let binary = Record::new(2, "in_park", vec![0xff, 0x00, 0xfe], 0);
        assert_eq!(decode_record(2, &encode_record(&binary)), Ok(binary));
    }

    #[test]
    fn a_counter_round_trips() {
        assert_eq!(
            decode_counter(&encode_counter(u64::MAX - 3)),
            Ok(u64::MAX - 3)
        );
        assert!(decode_counter(&seal(b"1234567")).is_err());
    }
}
