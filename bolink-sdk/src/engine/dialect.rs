//! What differs between the protocol families the engine speaks: how an
//! upload is checked, how a stored record becomes a signed frame, and how
//! the platform's answer is read. Everything else (scheduling, retries,
//! sessions, pacing, events) is the same for all of them.

use std::time::Duration;

use bolink_sign::newapi::BodyEncoding;
use bolink_sign::{sdk_http, Key};
use bolink_types::{newapi, sdk, DecodeError};

use super::transport::{Frame, FrameKind};
use super::verdict::Status;
use super::EngineError;
use crate::logging::{MessageIds, SIGN_ABSENT, SIGN_MISMATCH, SIGN_OK};
use crate::newapi::{read_reply, url_path_of, ReplyError};
use crate::outbox::Record;
use crate::session::DEFAULT_TOKEN_MAX_AGE;
use crate::Credentials;

/// `data` with its top-level keys rotated by `k` places, values byte for
/// byte as they are; `None` when `data` is not an object or has fewer keys
/// than it takes to differ (`k` is taken modulo the key count, and 0 is
/// skipped).
///
/// Why: the cloud's public server keeps the signs of the last 5,000
/// in_park, out_park and upload_order messages and answers a sign it has
/// seen with "数据已处理过..." before it checks the token or the rate
/// (ParkingOS_cloud, `netty/TempUtil.java` `isReSend`, called in
/// `SensorServerHandler.java` before the token check). A record refused
/// for its token or the rate and sent again is so called a duplicate
/// though it was never stored. The server verifies the sign over its own
/// re-serialisation of `data` in the order received, so the same message
/// with its keys in another order carries another sign and is judged on
/// its own.
pub(crate) fn rotated(data: &str, k: u32) -> Option<String> {
    let fields = crate::json_object::fields(data)?;
    let n = fields.len();
    if n < 2 {
        return None;
    }
    let k = match k as usize % n {
        0 => 1,
        k => k,
    };
    Some(crate::json_object::write((0..n).map(|i| {
        let (key, value) = &fields[(i + k) % n];
        (key.as_str(), value.get())
    })))
}

/// The protocol family an engine speaks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Dialect {
    /// The SDK protocol (HTTP mode or the TCP link): a login gives a token
    /// that every later message carries; downstream messages are answered
    /// through a [`Handler`](crate::Handler).
    Sdk {
        /// Who logs in, and the key that signs.
        credentials: Credentials,
        /// How long a token is used before logging in again.
        token_max_age: Duration,
    },
    /// The new platform API (server to server): no login, path-addressed
    /// interfaces, signed with the vendor key.
    NewApi {
        /// The vendor key (ukey).
        key: Key,
        /// The vendor account, sent beside `data` (unsigned) when set.
        union_id: Option<i64>,
        /// JSON bodies (what public clients send) or base64.
        encoding: BodyEncoding,
    },
}

impl Dialect {
    /// The SDK protocol with these credentials and the default token age.
    pub fn sdk(credentials: Credentials) -> Dialect {
        Dialect::Sdk {
            credentials,
            token_max_age: DEFAULT_TOKEN_MAX_AGE,
        }
    }

    /// The new API with the vendor key, JSON bodies and no `union_id`.
    pub fn newapi(key: Key) -> Dialect {
        Dialect::NewApi {
            key,
            union_id: None,
            encoding: BodyEncoding::Json,
        }
    }

    /// What a typed upload (already checked against its own table) still
    /// needs: for the new API, an address to be sent to.
    pub(crate) fn check_typed_upload(&self, key: &str) -> Result<(), EngineError> {
        match self {
            Dialect::NewApi { .. } if url_path_of(key).is_none() => {
                Err(EngineError::NoPath(key.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// Checks an upload given as bytes against its table before it is
    /// stored (exact out: nothing that breaks its table is ever signed).
    pub(crate) fn check_upload(&self, key: &str, data: &[u8]) -> Result<(), EngineError> {
        self.check_typed_upload(key)?;
        let decoded = match self {
            Dialect::Sdk { .. } => sdk::Request::decode_as(key, data).map(drop),
            Dialect::NewApi { .. } => newapi::Request::decode_as(key, data).map(drop),
        };
        decoded.map_err(|e| match e {
            DecodeError::Invalid { report, .. } => EngineError::Invalid(report),
            other => EngineError::Decode(other),
        })
    }

    /// The signed frame of a stored record; with a `variant` above 0, the
    /// same data with its keys rotated (another sign for the same message,
    /// see [`rotated`]), or as stored when it has too few keys to rotate.
    /// Fails only when the stored bytes are not UTF-8 (the store's
    /// checksums make that a bug).
    pub(crate) fn upload_frame(
        &self,
        record: &Record,
        token: Option<&str>,
        variant: u32,
    ) -> Result<Frame, String> {
        let stored = std::str::from_utf8(&record.data)
            .map_err(|e| format!("stored data is not UTF-8: {e}"))?;
        let other_order = (variant > 0).then(|| rotated(stored, variant)).flatten();
        let text = other_order.as_deref().unwrap_or(stored);
        let (body, path) = match self {
            Dialect::Sdk { credentials, .. } => (
                sdk_http::build(&record.service_name, token, text, &credentials.key)
                    .map_err(|e| format!("stored data is not a JSON object: {e}"))?,
                None,
            ),
            Dialect::NewApi {
                key,
                union_id,
                encoding,
            } => (
                bolink_sign::newapi::build(text, key, *union_id, *encoding)
                    .map_err(|e| format!("stored data is not a JSON object: {e}"))?,
                Some(
                    url_path_of(&record.service_name)
                        .ok_or_else(|| format!("no URL path for {}", record.service_name))?,
                ),
            ),
        };
        Ok(Frame {
            kind: FrameKind::Upload,
            service_name: record.service_name.clone(),
            path,
            body,
        })
    }

    /// Whether the record's data can be sent under another sign.
    pub(crate) fn can_vary(&self, record: &Record) -> bool {
        std::str::from_utf8(&record.data)
            .ok()
            .and_then(|data| rotated(data, 1))
            .is_some()
    }

    /// Reads the platform's answer to an upload of `service`: its status,
    /// or why it cannot be read.
    pub(crate) fn read_answer(&self, service: &str, body: &[u8]) -> Result<Status, String> {
        match self {
            Dialect::Sdk { .. } => Status::read(body).ok_or_else(|| {
                format!(
                    "not a JSON object: {:?}",
                    String::from_utf8_lossy(&body[..body.len().min(80)])
                )
            }),
            Dialect::NewApi { key, .. } => match read_reply(service, body, key) {
                Ok(reply) => {
                    // The answer's sign, for the span of the exchange.
                    let sign = if reply.signed { SIGN_OK } else { SIGN_ABSENT };
                    tracing::Span::current().record("sign", sign);
                    Ok(Status {
                        state: reply.state,
                        errmsg: reply.errmsg,
                        ..Status::default()
                    })
                }
                // Taken, though the answer breaks its response table: the
                // upload is delivered all the same.
                Err(ReplyError::Invalid(_)) => Ok(Status {
                    state: Some(1),
                    ..Status::default()
                }),
                Err(e) => {
                    if matches!(e, ReplyError::WrongSign(_)) {
                        tracing::Span::current().record("sign", SIGN_MISMATCH);
                    }
                    Err(e.to_string())
                }
            },
        }
    }

    /// The ids a log names an upload by: for the SDK, the lot's park_id
    /// and the record's keys (nothing read again); for the new API, read
    /// from the data (its messages name their park).
    pub(crate) fn ids_of(&self, record: &Record) -> MessageIds {
        match self {
            Dialect::Sdk { credentials, .. } => MessageIds {
                park_id: Some(credentials.park_id.clone()),
                order_id: record.order_key.clone(),
                trade_no: record.trade_no().map(String::from),
            },
            Dialect::NewApi { .. } => MessageIds::read(&record.data),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rotated;

    #[test]
    fn rotations_keep_every_value_byte_for_byte_and_differ_from_the_original() {
        let data = r#"{"car_number":"京A1","in_time":1700000000,"total":"5.00","nested":{"b":1,"a":[1, 2]}}"#;
        let mut seen = std::collections::BTreeSet::new();
        for k in 1..4 {
            let text = rotated(data, k).unwrap();
            assert_ne!(text, data);
            let again: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                again,
                serde_json::from_str::<serde_json::Value>(data).unwrap()
            );
            assert!(text.contains(r#""nested":{"b":1,"a":[1, 2]}"#), "{text}");
            seen.insert(text);
        }
        assert_eq!(seen.len(), 3, "three rotations of four keys, all different");
        assert_eq!(rotated(r#"{"only":1}"#, 1), None);
        assert_eq!(rotated("[1,2]", 1), None);
    }
}
