//! What the Bolink crates report through [`tracing`], and the few helpers
//! they share to do it.
//!
//! The crates only emit spans and events; nothing is printed unless the
//! application installs a subscriber (`bolink simulate`, `demo` and `lot`
//! install `tracing_subscriber::fmt` on stderr).
//!
//! # Spans
//!
//! One span per exchange, at `INFO`. Every span has the fields below that
//! apply to it; those known only after the exchange (`outcome`,
//! `duration_ms`, `sign`, and a downstream message's ids) are declared empty
//! and recorded when known.
//!
//! | span | crate (target prefix) | where | fields |
//! | --- | --- | --- | --- |
//! | `upload` | `bolink_sdk` | one send of an outbox record and its answer | `direction`=up, `service_name`, `park_id`, `order_id`, `trade_no`, `attempt`, `sign` (new API: the answer's), `outcome`, `duration_ms` |
//! | `login` | `bolink_sdk` | one login exchange | `direction`=up, `service_name`=login, `park_id`, `outcome`, `duration_ms` |
//! | `downstream` | `bolink_sdk` | a downstream message received, answered through the handler, the answer sent | `direction`=down, `service_name`, `park_id`, `order_id`, `trade_no`, `sign`, `outcome`, `delivered`, `duration_ms` |
//! | `newapi_request` | `bolink_http` | a direct new-API request (`NewApiClient::send`) | `direction`=up, `service_name`, `park_id`, `order_id`, `trade_no`, `sign`, `outcome`, `duration_ms` |
//! | `callback` | `bolink_http` | one request to the new API's callback server | `direction`=down, `path`, `service_name`, `park_id`, `order_id`, `trade_no`, `sign`, `outcome`, `status`, `duration_ms` |
//! | `tcp_frame` | `bolink_tcp` | one frame on the TCP link and its answer (inside the engine's span) | `kind`, `service_name`, `order_id`, `outcome`, `answer_bytes`, `duration_ms` |
//! | `tcp_heartbeat` | `bolink_tcp` | a heartbeat sent and its answer | `outcome`, `duration_ms` |
//! | `tcp_connect` | `bolink_tcp` | one connection attempt | `address`, `attempt`, `outcome`, `duration_ms` |
//!
//! `sign` is `ok`, `mismatch` or `absent` where a sign is checked.
//! `outcome` is one of: `delivered`, `duplicate`, `refused`, `retry`,
//! `relogin`, `confirm` (uploads); `logged_in`, `refused`, `failed`
//! (logins); `answered`, `refused`, `invalid`, `rejected`, `panicked`
//! (downstream messages and callbacks; `repeated` for a callback retry
//! or a copy of a downstream message answered before);
//! `answered`, `timeout`, `closed`, `session_lost`, ... (frames);
//! `connected`, `failed` (connects); `answered`, `missed` (heartbeats).
//!
//! # Events
//!
//! Every engine [`Event`](crate::engine::Event) is also a `tracing` event,
//! inside the span of the exchange it belongs to: deliveries, answers,
//! logins and re-logins at `INFO`; refusals (with the errmsg), retries
//! (with the attempt number and the backoff), link failures, failed logins,
//! expiries and unanswerable downstream messages at `WARN`; store errors,
//! damaged records set aside and handler panics at `ERROR`. The TCP link
//! reports connects at `INFO`, lost connections and reconnects at `WARN`;
//! the callback server warns of every rejected sign (its 401 and 403).
//!
//! # What is never logged
//!
//! Keys, tokens and signs never appear, at any level; payloads (a
//! message's data JSON, never an envelope, which carries the token) only
//! at `TRACE`, cut to [`PAYLOAD_LIMIT`] bytes ([`payload`]).

use std::fmt;
use std::time::Instant;

use serde_json::{Map, Value};

/// At most this many bytes of a payload are logged (at `TRACE`).
pub const PAYLOAD_LIMIT: usize = 512;

/// The ids a message carries that logs name it by: read from its data
/// JSON, each a non-empty string or a number written as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageIds {
    /// `park_id`.
    pub park_id: Option<String>,
    /// `order_id`.
    pub order_id: Option<String>,
    /// `trade_no`.
    pub trade_no: Option<String>,
}

impl MessageIds {
    /// The ids of a data JSON object (none when it is not one).
    pub fn read(data: &[u8]) -> MessageIds {
        serde_json::from_slice::<Map<String, Value>>(data)
            .map(|object| MessageIds::of(&object))
            .unwrap_or_default()
    }

    /// The ids of an already parsed object.
    pub fn of(object: &Map<String, Value>) -> MessageIds {
        MessageIds {
            park_id: text_field(object, "park_id"),
            order_id: text_field(object, "order_id"),
            trade_no: text_field(object, "trade_no"),
        }
    }

    /// Records the ids it has into `span`'s fields of the same names.
    pub fn record(&self, span: &tracing::Span) {
        let fields = [
            ("park_id", &self.park_id),
            ("order_id", &self.order_id),
            ("trade_no", &self.trade_no),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                span.record(name, value.as_str());
            }
        }
    }
}

/// A top-level field of a JSON object as text: a non-empty string, or a
/// number as written.
pub(crate) fn text_field(object: &Map<String, Value>, name: &str) -> Option<String> {
    match object.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A payload for a `TRACE` event: the bytes as (lossy) UTF-8, cut to
/// [`PAYLOAD_LIMIT`] bytes with the full length noted. Pass a message's
/// data JSON, never an envelope (it carries the token).
pub fn payload(bytes: &[u8]) -> Payload<'_> {
    Payload(bytes)
}

/// See [`payload`].
#[derive(Clone, Copy)]
pub struct Payload<'a>(&'a [u8]);

impl fmt::Display for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(PAYLOAD_LIMIT)];
        f.write_str(&String::from_utf8_lossy(shown))?;
        if shown.len() < self.0.len() {
            write!(f, "... ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

/// `sign`: the sign matched.
pub const SIGN_OK: &str = "ok";
/// `sign`: the sign was malformed or did not match.
pub const SIGN_MISMATCH: &str = "mismatch";
/// `sign`: there was no sign.
pub const SIGN_ABSENT: &str = "absent";

/// At most 64 characters of untrusted text (a service name read before
/// its sign was checked), for a field.
pub fn short(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Milliseconds since `start`, for `duration_ms`.
pub fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_as_text() {
        let ids = MessageIds::read(br#"{"park_id":21835,"order_id":"o-1","trade_no":""}"#);
        assert_eq!(ids.park_id.as_deref(), Some("21835"));
        assert_eq!(ids.order_id.as_deref(), Some("o-1"));
        assert_eq!(ids.trade_no, None);
        assert_eq!(MessageIds::read(b"[1]"), MessageIds::default());
    }

    #[test]
    fn payloads_are_cut() {
        assert_eq!(payload(b"{}").to_string(), "{}");
        let long = vec![b'a'; PAYLOAD_LIMIT + 10];
        let shown = payload(&long).to_string();
        assert!(shown.starts_with(&"a".repeat(PAYLOAD_LIMIT)));
        assert!(shown.ends_with(&format!("... ({} bytes)", PAYLOAD_LIMIT + 10)));
    }
}
