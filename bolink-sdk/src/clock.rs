//! The wall clock outbox records are scheduled by.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix milliseconds: record times must survive restarts, which `Instant`
/// does not.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
