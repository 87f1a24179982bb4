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
use crate::newapi::{read_reply, url_path_of, ReplyError};
use crate::outbox::Record;
use crate::session::DEFAULT_TOKEN_MAX_AGE;
use crate::Credentials;

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

    /// Checks an upload against its table before it is stored (exact out:
    /// nothing that breaks its table is ever signed).
    pub(crate) fn check_upload(&self, key: &str, data: &[u8]) -> Result<(), EngineError> {
        let decoded = match self {
            Dialect::Sdk { .. } => sdk::Request::decode_as(key, data).map(drop),
            Dialect::NewApi { .. } => {
                if url_path_of(key).is_none() {
                    return Err(EngineError::NoPath(key.to_string()));
                }
                newapi::Request::decode_as(key, data).map(drop)
            }
        };
        decoded.map_err(|e| match e {
            DecodeError::Invalid { report } => EngineError::Invalid(report),
            other => EngineError::Decode(other),
        })
    }

    /// The signed frame of a stored record. Fails only when the stored
    /// bytes are not a JSON object (the store's checksums make that a bug).
    pub(crate) fn upload_frame(&self, record: &Record, token: Option<&str>) -> Result<Frame, String> {
        let text = std::str::from_utf8(&record.data)
            .map_err(|e| format!("stored data is not UTF-8: {e}"))?;
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
                Ok(reply) => Ok(Status {
                    state: reply.state,
                    errmsg: reply.errmsg,
                }),
                // Taken, though the answer breaks its response table: the
                // upload is delivered all the same.
                Err(ReplyError::Invalid(_)) => Ok(Status {
                    state: Some(1),
                    errmsg: None,
                }),
                Err(e) => Err(e.to_string()),
            },
        }
    }
}
