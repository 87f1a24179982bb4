//! The new API (新版泊链API) without I/O: a vendor's callback endpoint
//! (decode, verify, validate, dispatch to a [`CallbackHandler`], answer) and
//! the upstream side (signed request bodies, typed responses).
//!
//! Bodies are the envelope `{"data":{...},"sign":"..."}` (with `union_id`
//! beside them on some interfaces), as plain JSON or base64 of it: the older
//! book documents base64, every newer page and public client sends JSON, so
//! both are read, and answers use the form the request came in.
//!
//! Answers to callbacks are the plain, unsigned JSON of the interface's
//! `response` table (`{"state":1,"errmsg":"修改成功"}` on 5.2): the pages
//! print them that way; the older book's signed base64 answers are not used
//! by any newer page.

use bolink_sign::newapi::{self as envelope, BodyEncoding};
use bolink_sign::{EnvelopeError, Key, VerifyError};
use bolink_types::catalog::Document;
use bolink_types::{newapi, peek_service_name, DecodeError, Message, Report, INTERFACES};

use crate::generated::handler::dispatch_callback;
use crate::CallbackHandler;

/// Why a callback was not answered by the handler.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The body is not an envelope (bad base64, bad JSON, missing `sign` or `data`).
    #[error("malformed body: {0}")]
    Malformed(#[from] EnvelopeError),
    /// The sign does not match the data and the vendor key.
    #[error("bad sign: {0}")]
    Sign(#[from] VerifyError),
    /// Neither the data's `service_name` nor the path names a callback of the spec.
    #[error("unknown callback (service_name {service_name:?}, path {path:?})")]
    Unknown {
        /// The data's `service_name`, if any.
        service_name: Option<String>,
        /// The request path.
        path: String,
    },
    /// The message breaks the spec.
    #[error("invalid message:\n{0}")]
    Invalid(Report),
}

impl CallbackError {
    /// The HTTP status that fits: 400 malformed, 401 bad sign, 404 unknown,
    /// 200 for an invalid message (answered in the protocol, state 0).
    pub fn http_status(&self) -> u16 {
        match self {
            CallbackError::Malformed(_) => 400,
            CallbackError::Sign(_) => 401,
            CallbackError::Unknown { .. } => 404,
            CallbackError::Invalid(_) => 200,
        }
    }
}

/// The answer to one callback, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackReply {
    /// The HTTP status to answer with.
    pub status: u16,
    /// The body: the response table's JSON, or `{"state":0,"errmsg":...}`.
    pub body: Vec<u8>,
    /// The decoded request, when it was valid.
    pub request: Option<newapi::Request>,
    /// Why the handler did not answer normally: its refusal, or the error.
    pub problem: Option<String>,
}

/// Answers one callback POSTed to `path` with `body`, checking the sign
/// with the vendor `key`.
pub fn answer_callback<H: CallbackHandler + ?Sized>(
    handler: &mut H,
    key: &Key,
    path: &str,
    body: &[u8],
) -> CallbackReply {
    match checked_request(key, path, body) {
        Ok(request) => match dispatch_callback(handler, request.clone()) {
            Ok(answer) => CallbackReply {
                status: 200,
                body: answer,
                request: Some(request),
                problem: None,
            },
            Err(refusal) => CallbackReply {
                status: 200,
                body: refusal_json(&refusal.errmsg),
                request: Some(request),
                problem: Some(refusal.to_string()),
            },
        },
        Err(error) => CallbackReply {
            status: error.http_status(),
            body: refusal_json(&error_text(&error)),
            request: None,
            problem: Some(error.to_string()),
        },
    }
}

/// Decodes the body, verifies its sign and decodes the callback it carries.
pub fn checked_request(
    key: &Key,
    path: &str,
    body: &[u8],
) -> Result<newapi::Request, CallbackError> {
    let (json, _) = envelope::decode_body(body)?;
    let parsed = envelope::Envelope::parse(&json)?;
    parsed.verify(key)?;
    let data = parsed.data_bytes();
    let service_name = peek_service_name(data).ok().flatten();
    let unknown = || CallbackError::Unknown {
        service_name: service_name.clone(),
        path: path.to_string(),
    };
    let lookup = service_name
        .clone()
        .or_else(|| key_of_path(path))
        .ok_or_else(unknown)?;
    match newapi::Request::decode_as(&lookup, data) {
        Ok(request) => Ok(request),
        Err(DecodeError::Invalid { report }) => Err(CallbackError::Invalid(report)),
        // The data is a JSON object (the envelope checked it), so what is
        // left is a key no interface has.
        Err(_) => Err(unknown()),
    }
}

/// The spec key (service_name or path) of the new-API interface at `path`,
/// matched on the whole path or, for vendor-chosen callback addresses, on
/// its last segment.
pub fn key_of_path(path: &str) -> Option<String> {
    let last = path.rsplit('/').find(|s| !s.is_empty())?;
    INTERFACES
        .iter()
        .filter(|i| i.document == Document::Newapi)
        .find(|i| {
            i.url_path == Some(path)
                || i.url_path
                    .and_then(|p| p.rsplit('/').find(|s| !s.is_empty()))
                    == Some(last)
                || i.service_name == Some(last)
        })
        .and_then(|i| i.service_name.or(i.url_path))
        .map(String::from)
}

/// The signed body of an upstream request, in `encoding`.
pub fn request_body<M: Message>(
    message: &M,
    key: &Key,
    union_id: Option<i64>,
    encoding: BodyEncoding,
) -> Vec<u8> {
    // A message encodes to a UTF-8 JSON object, which is all `build` checks.
    let data = String::from_utf8(message.encode()).expect("serde_json writes UTF-8");
    envelope::build(&data, key, union_id, encoding).expect("an encoded message is a JSON object")
}

/// Reads the platform's response to an upstream request as the interface's
/// `response` table (plain JSON, or base64 of it).
pub fn read_response(key_or_path: &str, body: &[u8]) -> Result<newapi::Response, DecodeError> {
    let text = match envelope::decode_body(body) {
        Ok((json, _)) => json.into_owned(),
        Err(_) => body.to_vec(),
    };
    newapi::Response::decode_as(key_or_path, &text)
}

/// `{"state":0,"errmsg":...}`, the protocol's own error answer.
pub fn refusal_json(errmsg: &str) -> Vec<u8> {
    serde_json::json!({ "state": 0, "errmsg": errmsg })
        .to_string()
        .into_bytes()
}

/// A short errmsg for an error (the first lines of a report).
fn error_text(error: &CallbackError) -> String {
    let text = error.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_string();
    let rest: Vec<&str> = lines.take(3).collect();
    if rest.is_empty() {
        first
    } else {
        format!("{first} {}", rest.join("; "))
    }
}
