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
//! redb checksums its pages only when it repairs a file, so a flipped bit
//! in a value is otherwise read back silently; the MD5 catches that, and
//! damaged data must never be signed and sent.

use md5::{Digest, Md5};

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

/// A record as stored.
pub(super) fn encode_record(record: &Record) -> Vec<u8> {
    // A Record is strings and integers: serialising it cannot fail.
    let json = serde_json::to_vec(record).unwrap_or_default();
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
    let record: Record = serde_json::from_slice(json)
        .map_err(|e| unverified(format!("unreadable record JSON: {e}")))?;
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
    fn a_counter_round_trips() {
        assert_eq!(
            decode_counter(&encode_counter(u64::MAX - 3)),
            Ok(u64::MAX - 3)
        );
        assert!(decode_counter(&seal(b"1234567")).is_err());
    }
}
