//! The new API (新版泊链API) without I/O: a vendor's callback endpoint
//! (decode, verify, find the interface, validate, dispatch to a
//! [`CallbackHandler`], answer) and the upstream side (signed request
//! bodies, typed replies).
//!
//! Bodies are the envelope `{"data":{...},"sign":"..."}` (with `union_id`
//! beside them on some interfaces), as plain JSON or base64 of it: the older
//! book documents base64, every newer page and public client sends JSON, so
//! both are read, told apart by the first byte.
//!
//! # How callbacks are answered
//!
//! What the platform expects back is an open question (see
//! `reference/newapi/_protocol.json`, `response_encoding`): the new API's
//! pages print the vendor's answers as plain, unsigned JSON of the
//! interface's `response` table (`{"state":1,"errmsg":"修改成功"}` on 5.2),
//! while the older book (bolink/apis 1.1) answers with base64 of a signed
//! envelope (`{"sign":"...","data":{"message":"签名错误","state":0}}`).
//! Both are offered ([`ReplyForm`]):
//!
//! * [`ReplyForm::Signed`]: `{"data":{answer},"sign":"..."}` signed with the
//!   vendor key, in the encoding the request came in (JSON for JSON, base64
//!   for base64; JSON when the body could not be decoded at all). The
//!   platform can check it came from the vendor.
//! * [`ReplyForm::Plain`] (the default): the answer JSON itself, as every
//!   new-API page prints it. Chosen as the default because those pages are
//!   the only evidence for the new API's callbacks, and a platform that
//!   reads `state` at the top level would take a signed envelope (whose
//!   `state` is inside `data`) for a failure and call again; a platform
//!   that expects signed answers gets them with one setting.
//!
//! Readers of answers ([`read_reply`]) accept both forms, and check the sign
//! of a signed one.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bolink_sdk::newapi::{request_body, read_reply, BodyEncoding, CallbackEndpoint, CallbackOutcome, ReplyForm};
//! use bolink_sdk::{Answer, CallbackHandler};
//! use bolink_sign::Key;
//! use bolink_types::enums::{PayType, State};
//! use bolink_types::newapi::outpark;
//!
//! struct Vendor;
//! impl CallbackHandler for Vendor {
//!     async fn outpark(&self, _result: outpark::Request) -> Answer<()> {
//!         Ok(())
//!     }
//! }
//!
//! let key = Key::new("8403A41ED5EF20BC");
//! // The platform's side: a signed base64 call.
//! let call = outpark::Request::new(State::Success, "21835", "o-1", "t-1", PayType::Wallet, "");
//! let body = request_body(&call.into(), &key, None, BodyEncoding::Base64)?;
//! // The vendor's side.
//! let endpoint = CallbackEndpoint::new(key.clone()).reply_form(ReplyForm::Signed);
//! let reply = endpoint.answer(&Vendor, "/bolink/outpark", &body).await;
//! assert!(matches!(reply.outcome, CallbackOutcome::Answered { .. }));
//! assert_eq!(reply.encoding, BodyEncoding::Base64);
//! // Back on the platform's side: the answer's sign is checked.
//! let read = read_reply("outpark", &reply.body, &key)?;
//! assert!(read.signed && read.is_success());
//! # Ok(())
//! # }
//! ```

mod memory;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use memory::{CallbackMemory, InMemory, MemoryFuture};

pub use bolink_sign::newapi::BodyEncoding;
use bolink_sign::newapi::{self as envelope, Envelope};
use bolink_sign::{EnvelopeError, Key, VerifyError};
use bolink_types::catalog::{Direction, Document, InterfaceInfo};
use bolink_types::{newapi, peek_service_name, DecodeError, Report, Role, INTERFACES};

use crate::generated::handler::dispatch_callback;
use crate::logging::{payload, text_field, MessageIds, SIGN_ABSENT, SIGN_MISMATCH, SIGN_OK};
use crate::{CallbackHandler, InvalidMessage, OtherService, Refusal, CALLBACK_SERVICES};

/// How answers to callbacks are written (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReplyForm {
    /// The answer JSON as is, unsigned, always JSON (the new API's pages).
    #[default]
    Plain,
    /// `{"data":{answer},"sign":"..."}` signed with the vendor key, in the
    /// request's encoding (the older book).
    Signed,
}

/// Why an inbound new-API body was not handed to a handler (or accepted by
/// the platform). Each variant is one check; see [`InboundError::errmsg`]
/// for the text sent back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InboundError {
    /// The body does not start with `{` and is not valid base64 either.
    #[error("malformed body: neither JSON nor base64 ({0})")]
    Base64(String),
    /// The (decoded) body is not an envelope: empty, not JSON, not an
    /// object, a duplicate key, no `data` object, a `sign` that is not a string.
    #[error("malformed body: {0}")]
    Json(EnvelopeError),
    /// The envelope has no `sign`.
    #[error("missing sign")]
    MissingSign,
    /// The sign is not 32 hex characters, or does not match the data and key.
    #[error("bad sign: {0}")]
    WrongSign(VerifyError),
    /// Neither the path nor the data's `service_name` names an interface
    /// this side serves.
    #[error("unknown interface (service_name {service_name:?}, path {path:?})")]
    Unknown {
        /// The data's `service_name`, if any.
        service_name: Option<String>,
        /// The request path.
        path: String,
    },
    /// The message breaks the spec of the interface `key`.
    #[error("invalid message ({key}): {report}")]
    Invalid {
        /// The interface's key (service_name or URL path).
        key: &'static str,
        /// Every violation.
        report: Report,
    },
    /// The callback repeats a `rand` already seen: 5.2 says it must never
    /// repeat, "否则认为是非法请求" (else the request is illegal).
    #[error("illegal request: rand {rand:?} was already used")]
    Replayed {
        /// The interface's key (or, for a service bolink-types does not
        /// specify, its service_name).
        key: String,
        /// The repeated value.
        rand: String,
    },
}

/// At most this many violations are listed in an errmsg.
const ERRMSG_VIOLATIONS: usize = 10;

impl InboundError {
    /// The `errmsg` of the protocol answer: one line, every violation of an
    /// invalid message (up to ten) joined by `; `; never the expected sign.
    pub fn errmsg(&self) -> String {
        match self {
            InboundError::Invalid { key, report } => {
                let mut text = format!("invalid message ({key}): ");
                let shown: Vec<String> = report
                    .violations
                    .iter()
                    .take(ERRMSG_VIOLATIONS)
                    .map(|v| v.to_string())
                    .collect();
                text.push_str(&shown.join("; "));
                let more = report.violations.len().saturating_sub(ERRMSG_VIOLATIONS);
                if more > 0 {
                    text.push_str(&format!("; and {more} more"));
                }
                text
            }
            other => other.to_string().replace('\n', " "),
        }
    }
}

/// A checked inbound body: verified, its interface found, decoded and valid.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Inbound {
    /// How the body was encoded.
    pub encoding: BodyEncoding,
    /// The message.
    pub request: newapi::Request,
    /// The exact `data` bytes that were signed.
    pub data: Vec<u8>,
    /// The vendor account: the top-level `union_id`, else the data's.
    pub union_id: Option<i64>,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for Inbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbound")
            .field("encoding", &self.encoding)
            .field("request", &self.request)
            .field("data", &crate::Text(&self.data))
            .field("union_id", &self.union_id)
            .finish()
    }
}

/// A body decoded into envelope JSON (borrowed when it was JSON already).
struct Opened<'a> {
    encoding: BodyEncoding,
    json: Cow<'a, [u8]>,
}

/// Decodes a body (JSON or base64) into envelope JSON.
fn open(body: &[u8]) -> Result<Opened<'_>, InboundError> {
    match envelope::decode_body(body) {
        Ok((json, encoding)) => Ok(Opened { encoding, json }),
        Err(EnvelopeError::Base64 { message }) => Err(InboundError::Base64(message)),
        Err(e) => Err(InboundError::Json(e)),
    }
}

fn parse(json: &[u8]) -> Result<Envelope<'_>, InboundError> {
    Envelope::parse(json).map_err(|e| match e {
        EnvelopeError::MissingField("sign") => InboundError::MissingSign,
        e => InboundError::Json(e),
    })
}

/// The vendor account a body names (top-level `union_id`, else the data's),
/// read without checking the sign: to pick the key to verify it with.
pub fn peek_union_id(body: &[u8]) -> Option<i64> {
    let opened = open(body).ok()?;
    let parsed = parse(&opened.json).ok()?;
    union_id_of(&parsed)
}

/// The `service_name` a body's data names, read without checking the
/// sign (at most 64 characters): for reports about a body that was
/// rejected before its interface was found.
pub fn peek_service(body: &[u8]) -> Option<String> {
    let opened = open(body).ok()?;
    let parsed = parse(&opened.json).ok()?;
    let name = bolink_types::peek_service_name(parsed.data_bytes()).ok()??;
    Some(crate::logging::short(&name).to_string())
}

fn union_id_of(parsed: &Envelope<'_>) -> Option<i64> {
    let as_i64 = |value: &serde_json::Value| match value {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    parsed
        .union_id
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
        .and_then(|v| as_i64(&v))
        .or_else(|| {
            let data: serde_json::Value = serde_json::from_slice(parsed.data_bytes()).ok()?;
            as_i64(data.get("union_id")?)
        })
}

/// Decodes, verifies with `key`, finds the interface with `find` (given the
/// data's `service_name`), decodes and validates.
fn check(
    body: &[u8],
    key: &Key,
    path: &str,
    find: impl FnOnce(Option<&str>) -> Option<&'static str>,
) -> Result<Inbound, (BodyEncoding, InboundError)> {
    let opened = open(body).map_err(|e| (BodyEncoding::Json, e))?;
    let encoding = opened.encoding;
    let fail = |e| (encoding, e);
    let span = tracing::Span::current();
    let parsed = parse(&opened.json)
        .inspect_err(|e| {
            if matches!(e, InboundError::MissingSign) {
                span.record("sign", SIGN_ABSENT);
            }
        })
        .map_err(fail)?;
    // Verify first, over the received bytes; read nothing before that.
    let verified = parsed.verify(key);
    span.record(
        "sign",
        if verified.is_ok() {
            SIGN_OK
        } else {
            SIGN_MISMATCH
        },
    );
    verified.map_err(|e| fail(InboundError::WrongSign(e)))?;
    let data = parsed.data_bytes();
    let service_name = peek_service_name(data).ok().flatten();
    let unknown = || InboundError::Unknown {
        service_name: service_name.clone(),
        path: path.to_string(),
    };
    let lookup = find(service_name.as_deref()).ok_or_else(|| fail(unknown()))?;
    let request = match newapi::Request::decode_as(lookup, data) {
        Ok(request) => request,
        Err(DecodeError::Invalid { report, .. }) => {
            return Err(fail(InboundError::Invalid {
                key: lookup,
                report,
            }))
        }
        Err(DecodeError::UnknownService { .. }) => return Err(fail(unknown())),
        // The envelope already checked that data is a JSON object.
        Err(e) => {
            return Err(fail(InboundError::Json(EnvelopeError::Json {
                line: 1,
                column: 1,
                message: e.to_string(),
            })))
        }
    };
    Ok(Inbound {
        encoding,
        union_id: union_id_of(&parsed),
        request,
        data: data.to_vec(),
    })
}

fn newapi_interfaces(direction: Direction) -> impl Iterator<Item = &'static InterfaceInfo> {
    INTERFACES
        .iter()
        .filter(move |i| i.document == Document::Newapi && i.direction == direction)
}

fn key_of(info: &'static InterfaceInfo) -> Option<&'static str> {
    info.service_name.or(info.url_path)
}

/// The key (service_name or URL path, as [`newapi::Request::decode_as`]
/// takes it) of the callback served at `path`: the catalog's URL path, or
/// a last path segment that is a callback's service_name
/// (`/bolink/outpark` is 5.5 `outpark`).
pub fn callback_at_path(path: &str) -> Option<&'static str> {
    let last = path.rsplit('/').find(|s| !s.is_empty());
    newapi_interfaces(Direction::Downstream)
        .filter(|i| key_of(i).is_some_and(|k| CALLBACK_SERVICES.contains(&k)))
        .find(|i| i.url_path == Some(path) || (last.is_some() && i.service_name == last))
        .and_then(key_of)
}

/// Whether bolink-types specifies an interface (of any document and
/// direction) with this service_name.
fn specified(service_name: &str) -> bool {
    INTERFACES
        .iter()
        .any(|i| i.service_name == Some(service_name))
}

/// The key of the callback whose service_name is `service_name`.
fn callback_named(service_name: &str) -> Option<&'static str> {
    CALLBACK_SERVICES
        .iter()
        .copied()
        .find(|k| *k == service_name)
}

/// The key of the upstream interface served at `path` (its URL path in the
/// catalog): for a path several interfaces share (the generic
/// `/unionapi/neworder/uploadData`), the one named by `service_name`; else
/// the one interface at the path that has no service_name.
pub fn upstream_at_path(path: &str, service_name: Option<&str>) -> Option<&'static str> {
    let at_path = || newapi_interfaces(Direction::Upstream).filter(|i| i.url_path == Some(path));
    service_name
        .and_then(|name| at_path().find(|i| i.service_name == Some(name)))
        .or_else(|| at_path().find(|i| i.service_name.is_none()))
        .and_then(key_of)
}

/// The URL path of the new-API interface whose key (service_name or URL
/// path) is `key`.
pub fn url_path_of(key: &str) -> Option<&'static str> {
    INTERFACES
        .iter()
        .filter(|i| i.document == Document::Newapi)
        .find(|i| i.service_name == Some(key) || i.url_path == Some(key))
        .and_then(|i| i.url_path)
}

/// What became of one callback.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallbackOutcome {
    /// Valid, and the handler answered.
    Answered {
        /// The request.
        request: Box<newapi::Request>,
    },
    /// Valid, and the handler refused (answered `state` 0 with its errmsg).
    Refused {
        /// The request.
        request: Box<newapi::Request>,
        /// The handler's refusal.
        refusal: Refusal,
    },
    /// Not handed to the handler: which check failed.
    Rejected(InboundError),
    /// The platform's retry of a callback already answered (the same
    /// message again): answered as before, the handler not called again.
    Repeated {
        /// The request.
        request: Box<newapi::Request>,
    },
    /// A signed callback of a service bolink-types does not specify (one of
    /// a spec of your own), handed to
    /// [`CallbackHandler::other_service`].
    Other {
        /// The message as received and signed.
        message: OtherService,
        /// The handler's refusal (answered `state` 0 with its errmsg), or
        /// `None` when it answered.
        refusal: Option<Refusal>,
        /// A retry of a callback already answered: answered as before, the
        /// handler not called again.
        repeated: bool,
    },
}

/// The answer to one callback, ready to send.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct CallbackReply {
    /// The body: the answer JSON (or `{"state":0,"errmsg":...}`), signed and
    /// encoded as the [`ReplyForm`] says.
    pub body: Vec<u8>,
    /// How `body` is encoded.
    pub encoding: BodyEncoding,
    /// What happened.
    pub outcome: CallbackOutcome,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for CallbackReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackReply")
            .field("body", &crate::Text(&self.body))
            .field("encoding", &self.encoding)
            .field("outcome", &self.outcome)
            .finish()
    }
}

/// A vendor's callback endpoint: the key the platform signs with, how
/// answers are written, and callback addresses that do not end in the
/// service_name.
#[derive(Clone)]
pub struct CallbackEndpoint {
    key: Key,
    form: ReplyForm,
    routes: BTreeMap<String, &'static str>,
    memory: Arc<dyn CallbackMemory>,
}

impl std::fmt::Debug for CallbackEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackEndpoint")
            .field("form", &self.form)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl CallbackEndpoint {
    /// An endpoint checking signs with the vendor `key`, answering
    /// [`ReplyForm::Plain`].
    pub fn new(key: Key) -> CallbackEndpoint {
        CallbackEndpoint {
            key,
            form: ReplyForm::default(),
            routes: BTreeMap::new(),
            memory: Arc::new(InMemory::default()),
        }
    }

    /// Remembers seen `rand`s and given answers in `memory` (shared by
    /// several servers, say) instead of this process's [`InMemory`].
    pub fn memory(mut self, memory: impl CallbackMemory) -> CallbackEndpoint {
        self.memory = Arc::new(memory);
        self
    }

    /// Sets how answers are written.
    pub fn reply_form(mut self, form: ReplyForm) -> CallbackEndpoint {
        self.form = form;
        self
    }

    /// Serves the callback `key` (service_name or catalog path, e.g.
    /// `"{notify_url}"` for 6.4) at `path`, for addresses the vendor chose
    /// freely. `None` when no callback has that key.
    pub fn route(mut self, path: impl Into<String>, key: &str) -> Option<CallbackEndpoint> {
        let key = callback_named(key)?;
        self.routes.insert(path.into(), key);
        Some(self)
    }

    /// The vendor key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// How answers are written.
    pub fn form(&self) -> ReplyForm {
        self.form
    }

    /// The callback served at `path` for data naming `service_name`: a
    /// configured route, else the data's service_name, else the path
    /// ([`callback_at_path`]).
    pub fn callback_key(&self, path: &str, service_name: Option<&str>) -> Option<&'static str> {
        if let Some(key) = self.routes.get(path) {
            return Some(key);
        }
        match service_name {
            Some(name) => callback_named(name),
            None => callback_at_path(path),
        }
    }

    /// Decodes, verifies and validates a callback POSTed to `path`.
    ///
    /// # Errors
    /// The first check that failed, with the body's encoding (JSON when it
    /// could not be decoded).
    pub fn check(&self, path: &str, body: &[u8]) -> Result<Inbound, (BodyEncoding, InboundError)> {
        check(body, &self.key, path, |name| self.callback_key(path, name))
    }

    /// Answers one callback POSTed to `path` with `body` through `handler`.
    /// Never fails: bad input is answered `{"state":0,"errmsg":...}`, and
    /// the outcome says which check failed.
    pub async fn answer<H: CallbackHandler + ?Sized>(
        &self,
        handler: &H,
        path: &str,
        body: &[u8],
    ) -> CallbackReply {
        match self.check(path, body) {
            Ok(inbound) => {
                let key = inbound.request.key();
                let call = Call {
                    key,
                    data: &inbound.data,
                    encoding: inbound.encoding,
                    union_id: inbound.union_id,
                };
                let request = Box::new(inbound.request.clone());
                match self.remembered(&call).await {
                    Remembered::Replayed(reply) => reply,
                    Remembered::Repeated(answer) => {
                        self.reply(&call, answer, CallbackOutcome::Repeated { request })
                    }
                    Remembered::Fresh(retry) => {
                        let answered = dispatch_callback(handler, inbound.request.clone())
                            .await
                            .and_then(|answer| checked_answer(key, answer))
                            .map(|answer| without_placeholder_name(key, answer));
                        match answered {
                            Ok(answer) => {
                                self.memory
                                    .remember_answer(retry, answer.clone(), crate::clock::now_ms())
                                    .await;
                                self.reply(&call, answer, CallbackOutcome::Answered { request })
                            }
                            Err(refusal) => self.reply(
                                &call,
                                refusal_answer(key, &inbound.data, &refusal),
                                CallbackOutcome::Refused { request, refusal },
                            ),
                        }
                    }
                }
            }
            // Signed (a service is looked up only once the sign matched)
            // and naming a service bolink-types does not specify: the
            // application sees it and answers it from a spec of its own.
            // One bolink-types knows that is no callback (an upstream
            // interface) stays unknown here.
            Err((
                encoding,
                InboundError::Unknown {
                    service_name: Some(service_name),
                    ..
                },
            )) if !specified(&service_name) && signed_data(body).is_some() => {
                let data = signed_data(body).unwrap_or_default();
                self.answer_other(handler, &service_name, &data, encoding, peek_union_id(body))
                    .await
            }
            Err((encoding, error)) => {
                let answer = match (&error, signed_data(body)) {
                    // Signed, so trusted: the application sees it before the
                    // platform is told what was wrong, in the callback's own
                    // answer table.
                    (InboundError::Invalid { key, report }, Some(data)) => {
                        handler
                            .invalid_message(InvalidMessage::new(key, &data, report.clone()))
                            .await;
                        refusal_answer(key, &data, &Refusal::new(error.errmsg()))
                    }
                    _ => refusal_json(&error.errmsg()),
                };
                CallbackReply {
                    body: self.seal(&answer, encoding),
                    encoding: self.encoding(encoding),
                    outcome: CallbackOutcome::Rejected(error),
                }
            }
        }
    }

    /// The protocol answer `{"state":0,"errmsg":...}` in this endpoint's
    /// form, for refusals decided outside [`CallbackEndpoint::answer`] (a
    /// body over the size limit, a timeout), with a JSON request.
    pub fn error_answer(&self, errmsg: &str) -> Vec<u8> {
        self.seal(&refusal_json(errmsg), BodyEncoding::Json)
    }

    /// Answers a signed callback of a service bolink-types does not know
    /// through [`CallbackHandler::other_service`], with the same replay and
    /// retry memory as the services it knows.
    async fn answer_other<H: CallbackHandler + ?Sized>(
        &self,
        handler: &H,
        service_name: &str,
        data: &[u8],
        encoding: BodyEncoding,
        union_id: Option<i64>,
    ) -> CallbackReply {
        let call = Call {
            key: service_name,
            data,
            encoding,
            union_id,
        };
        let message = OtherService::new(service_name, data);
        let span = tracing::Span::current();
        if !span.is_disabled() {
            tracing::trace!(data = %payload(data), "callback of another spec");
        }
        let outcome = |refusal, repeated| CallbackOutcome::Other {
            message: message.clone(),
            refusal,
            repeated,
        };
        match self.remembered(&call).await {
            Remembered::Replayed(reply) => reply,
            Remembered::Repeated(answer) => self.reply(&call, answer, outcome(None, true)),
            Remembered::Fresh(retry) => match handler.other_service(message.clone()).await {
                Ok(answer) => {
                    let answer = answer.0;
                    self.memory
                        .remember_answer(retry, answer.clone(), crate::clock::now_ms())
                        .await;
                    self.reply(&call, answer, outcome(None, false))
                }
                Err(refusal) => {
                    let answer = refusal_answer(service_name, data, &refusal);
                    self.reply(&call, answer, outcome(Some(refusal), false))
                }
            },
        }
    }

    /// What this endpoint remembers of a verified callback before its
    /// handler is asked: a `rand` used before (5.2: an illegal request), an
    /// answer already given to the same message (the platform's retry), or
    /// nothing (and the key to remember the answer under).
    async fn remembered(&self, call: &Call<'_>) -> Remembered {
        let fields: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(call.data).unwrap_or_default();
        let span = tracing::Span::current();
        if !span.is_disabled() {
            MessageIds::of(&fields).record(&span);
            tracing::trace!(data = %payload(call.data), "callback");
        }
        let now = crate::clock::now_ms();
        if let Some(rand) = text_field(&fields, "rand") {
            let vendor = call
                .union_id
                .map(|u| u.to_string())
                .or_else(|| text_field(&fields, "union_id"))
                .unwrap_or_default();
            let scope = format!("{vendor}/{}", call.key);
            if !self.memory.first_rand(scope, rand.clone(), now).await {
                let error = InboundError::Replayed {
                    key: call.key.to_string(),
                    rand,
                };
                let refusal = Refusal::new(error.errmsg());
                let answer = refusal_answer(call.key, call.data, &refusal);
                return Remembered::Replayed(self.reply(
                    call,
                    answer,
                    CallbackOutcome::Rejected(error),
                ));
            }
        }
        // The platform calls again with the same message when it did not
        // read an answer: answered once, answered the same way. The same
        // trade_no with another state (paying, then paid) is another
        // message, so the key is the whole data.
        let retry = retry_key(call.key, call.data);
        match self.memory.answer_for(retry.clone(), now).await {
            Some(answer) => Remembered::Repeated(answer),
            None => Remembered::Fresh(retry),
        }
    }

    /// `answer` sealed in this endpoint's form for `call`.
    fn reply(&self, call: &Call<'_>, answer: Vec<u8>, outcome: CallbackOutcome) -> CallbackReply {
        CallbackReply {
            body: self.seal(&answer, call.encoding),
            encoding: self.encoding(call.encoding),
            outcome,
        }
    }

    fn encoding(&self, request: BodyEncoding) -> BodyEncoding {
        match self.form {
            ReplyForm::Plain => BodyEncoding::Json,
            ReplyForm::Signed => request,
        }
    }

    fn seal(&self, answer: &[u8], request: BodyEncoding) -> Vec<u8> {
        match self.form {
            ReplyForm::Plain => answer.to_vec(),
            ReplyForm::Signed => std::str::from_utf8(answer)
                .ok()
                .and_then(|text| envelope::build(text, &self.key, None, request).ok())
                // Answers are JSON objects written here; should one not be,
                // it is sent plain rather than not at all.
                .unwrap_or_else(|| answer.to_vec()),
        }
    }
}

/// A verified callback on its way to a handler.
struct Call<'a> {
    /// The interface's key, or the service_name of one bolink-types does
    /// not specify.
    key: &'a str,
    /// The data as signed.
    data: &'a [u8],
    encoding: BodyEncoding,
    union_id: Option<i64>,
}

/// What [`CallbackEndpoint::remembered`] found.
enum Remembered {
    /// The `rand` was used before: the refusal, ready to send.
    Replayed(CallbackReply),
    /// The same message was answered before: that answer.
    Repeated(Vec<u8>),
    /// New: the key its answer is remembered under.
    Fresh(String),
}

/// A refusal as the answer of callback `key`: `Refusal`'s SDK form (with
/// service_name and the required fields the request carried) when the
/// interface has a response table and a service_name, else
/// `{"service_name":...,"state":0,"errmsg":...}` (without service_name for
/// path-addressed callbacks; with the data's for a service of another spec).
fn refusal_answer(key: &str, data: &[u8], refusal: &Refusal) -> Vec<u8> {
    let info = INTERFACES
        .iter()
        .find(|i| i.document == Document::Newapi && key_of(i) == Some(key));
    let Some(info) = info else {
        // A service of another spec: its data named it.
        return serde_json::json!({ "service_name": key, "state": 0, "errmsg": refusal.errmsg })
            .to_string()
            .into_bytes();
    };
    let service_name = info.service_name;
    let schema = info.roles.iter().find(|r| r.role == Role::Response);
    match (service_name, schema) {
        (Some(name), Some(role)) => {
            refusal.to_json(name, (role.schema)(), data, crate::LinkMode::Http)
        }
        (Some(name), None) => {
            serde_json::json!({ "service_name": name, "state": 0, "errmsg": refusal.errmsg })
                .to_string()
                .into_bytes()
        }
        _ => refusal_json(&refusal.errmsg),
    }
}

/// What identifies a callback and its retries: the interface and the
/// digest of the data as signed.
fn retry_key(key: &str, data: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(data);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{key}:{hex}")
}

/// The data JSON of a body whose envelope parses (its sign was checked
/// before an `Invalid` error can arise).
fn signed_data(body: &[u8]) -> Option<Vec<u8>> {
    let opened = open(body).ok()?;
    let parsed = parse(&opened.json).ok()?;
    Some(parsed.data_bytes().to_vec())
}

/// A handler's answer, once it passed the callback's response table (exact
/// out: one that breaks it is never sent; a refusal goes instead).
fn checked_answer(key: &str, answer: Vec<u8>) -> Result<Vec<u8>, Refusal> {
    if !newapi::Response::KEYS.contains(&key) {
        return Ok(answer);
    }
    match newapi::Response::decode_as(key, &answer) {
        Err(DecodeError::Invalid { report, .. }) => Err(Refusal::new(format!(
            "invalid answer: {}",
            report.to_string().lines().next().unwrap_or_default()
        ))),
        _ => Ok(answer),
    }
}

/// The generated acknowledgement of a callback without an answer table is
/// `{"service_name":KEY,"state":1}`; for a path-addressed callback (6.4's
/// `{notify_url}`) KEY is a placeholder, not a service_name, so it is
/// dropped.
fn without_placeholder_name(key: &str, answer: Vec<u8>) -> Vec<u8> {
    if !key.starts_with('{') {
        return answer;
    }
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&answer) {
        Ok(mut object) if object.get("service_name").and_then(|v| v.as_str()) == Some(key) => {
            object.remove("service_name");
            serde_json::Value::Object(object).to_string().into_bytes()
        }
        _ => answer,
    }
}

/// `{"state":0,"errmsg":...}`, the protocol's own error answer.
pub fn refusal_json(errmsg: &str) -> Vec<u8> {
    serde_json::json!({ "state": 0, "errmsg": errmsg })
        .to_string()
        .into_bytes()
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The message breaks the spec.
    #[error("invalid message: {0}")]
    Invalid(Report),
    /// The message did not encode to a JSON object (a bug in the message type).
    #[error("not an envelope: {0}")]
    Envelope(EnvelopeError),
}

/// The signed body of a new-API request (upstream to the platform, or the
/// platform's call to a vendor): validates, encodes once, signs those bytes
/// with `key`, adds `union_id` beside `data` when given, and encodes the
/// envelope as `encoding`.
///
/// # Errors
/// [`RequestError::Invalid`] when the message breaks the spec.
pub fn request_body(
    request: &newapi::Request,
    key: &Key,
    union_id: Option<i64>,
    encoding: BodyEncoding,
) -> Result<Vec<u8>, RequestError> {
    request.validate().map_err(RequestError::Invalid)?;
    let data = request.encode();
    let data = std::str::from_utf8(&data).map_err(|e| {
        RequestError::Envelope(EnvelopeError::Json {
            line: 1,
            column: e.valid_up_to() + 1,
            message: "not UTF-8".into(),
        })
    })?;
    envelope::build(data, key, union_id, encoding).map_err(RequestError::Envelope)
}

/// The other side's answer to a new-API request (the platform's response to
/// an upload, or a vendor's answer to a callback).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Reply {
    /// `state` (1 success, 0 failure, 2 pending on some interfaces), read
    /// as fastjson's `getInteger` reads it (`1`, `1.0`, `"1"`, `true`);
    /// `None` when absent or not an integer.
    pub state: Option<i64>,
    /// `errmsg`, when present.
    pub errmsg: Option<String>,
    /// The answer as the interface's `response` table, when it has one and
    /// the answer fits it (always when `state` is 1).
    pub response: Option<newapi::Response>,
    /// Whether the answer came as a signed envelope (its sign checked).
    pub signed: bool,
    /// The answer JSON (the envelope's `data` when signed).
    pub json: Vec<u8>,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("state", &self.state)
            .field("errmsg", &self.errmsg)
            .field("response", &self.response)
            .field("signed", &self.signed)
            .field("json", &crate::Text(&self.json))
            .finish()
    }
}

impl Reply {
    /// `state` 1.
    pub fn is_success(&self) -> bool {
        self.state == Some(1)
    }
}

/// Why an answer could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// Not JSON, nor base64 of JSON, nor a JSON object.
    #[error("unreadable answer: {0}")]
    Malformed(String),
    /// A signed answer whose sign does not match.
    #[error("bad sign on the answer: {0}")]
    WrongSign(VerifyError),
    /// `state` 1, but the answer breaks the interface's response table.
    #[error("invalid answer: {0}")]
    Invalid(DecodeError),
}

/// Reads the answer to a request of interface `key` (service_name or URL
/// path): plain JSON, base64 of it, or a signed envelope in either encoding
/// (its sign checked with `sign_key`). An envelope is an object with `data`
/// and `sign` and no `state`.
///
/// # Errors
/// [`ReplyError`]: unreadable, wrongly signed, or `state` 1 with an answer
/// that breaks the response table.
pub fn read_reply(key: &str, body: &[u8], sign_key: &Key) -> Result<Reply, ReplyError> {
    let opened = match open(body) {
        Ok(opened) => opened,
        Err(e) => return Err(ReplyError::Malformed(e.to_string())),
    };
    let top: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&opened.json).map_err(|e| ReplyError::Malformed(e.to_string()))?;
    let is_envelope =
        top.contains_key("data") && top.contains_key("sign") && !top.contains_key("state");
    let (json, top, signed) = if is_envelope {
        let parsed =
            Envelope::parse(&opened.json).map_err(|e| ReplyError::Malformed(e.to_string()))?;
        parsed.verify(sign_key).map_err(ReplyError::WrongSign)?;
        let data = parsed.data_bytes().to_vec();
        let inner =
            serde_json::from_slice(&data).map_err(|e| ReplyError::Malformed(e.to_string()))?;
        (data, inner, true)
    } else {
        (opened.json.into_owned(), top, false)
    };
    // Read as the SDK's answers are (fastjson's getInteger: 1, 1.0, "1",
    // true): one reading of `state` for every answer the engine acts on.
    let state = top.get("state").and_then(crate::engine::lenient_integer);
    let errmsg = top.get("errmsg").and_then(|v| v.as_str()).map(String::from);
    let response = if newapi::Response::KEYS.contains(&key) {
        match newapi::Response::decode_as(key, &json) {
            Ok(response) => Some(response),
            Err(e) if state == Some(1) => return Err(ReplyError::Invalid(e)),
            Err(_) => None,
        }
    } else {
        None
    };
    Ok(Reply {
        state,
        errmsg,
        response,
        signed,
        json,
    })
}

/// The platform's side of an upstream request: decodes, verifies with the
/// vendor key `key` (look the vendor up with [`peek_union_id`]), finds the
/// interface at `path` (by the data's service_name where a path is
/// shared), decodes and validates.
///
/// # Errors
/// The first check that failed, with the body's encoding.
pub fn check_upstream(
    path: &str,
    body: &[u8],
    key: &Key,
) -> Result<Inbound, (BodyEncoding, InboundError)> {
    check(body, key, path, |name| upstream_at_path(path, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Answer;
    use bolink_types::enums::{PayType, State};
    use bolink_types::newapi::{nolicence_in_park, outpark, park_check};
    use bolink_types::UnixSeconds;

    const KEY: &str = "8403A41ED5EF20BC";

    struct Vendor {
        seen: std::sync::Mutex<Vec<String>>,
    }

    impl CallbackHandler for Vendor {
        async fn outpark(&self, result: outpark::Request) -> Answer<()> {
            self.seen.lock().unwrap().push(result.order_id.clone());
            match result.state {
                State::Success => Ok(()),
                _ => Err(Refusal::new("not paid")),
            }
        }
    }

    fn key() -> Key {
        Key::new(KEY)
    }

    fn payment(state: State) -> newapi::Request {
        outpark::Request::new(state, "21835", "o-1", "t-1", PayType::Wallet, String::new()).into()
    }

    fn answer(endpoint: &CallbackEndpoint, path: &str, body: &[u8]) -> (CallbackReply, Vendor) {
        let vendor = Vendor {
            seen: Default::default(),
        };
        let reply = block_on(endpoint.answer(&vendor, path, body));
        (reply, vendor)
    }

    /// The handlers here never wait, so a current-thread runtime suffices.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    fn rejected(reply: &CallbackReply) -> &InboundError {
        match &reply.outcome {
            CallbackOutcome::Rejected(e) => e,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    fn json(body: &[u8]) -> serde_json::Value {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn a_valid_callback_reaches_the_handler_in_both_encodings() {
        for encoding in [BodyEncoding::Json, BodyEncoding::Base64] {
            // A fresh endpoint each time: to one that answered it, the same
            // payment again is a retry.
            let endpoint = CallbackEndpoint::new(key());
            let body = request_body(&payment(State::Success), &key(), None, encoding).unwrap();
            let (reply, vendor) = answer(&endpoint, "/cb/outpark", &body);
            assert!(matches!(reply.outcome, CallbackOutcome::Answered { .. }));
            assert_eq!(*vendor.seen.lock().unwrap(), ["o-1"]);
            assert_eq!(reply.encoding, BodyEncoding::Json);
            assert_eq!(
                json(&reply.body),
                serde_json::json!({"service_name": "outpark", "state": 1})
            );
        }
    }

    #[test]
    fn signed_answers_use_the_requests_encoding_and_verify() {
        let endpoint = CallbackEndpoint::new(key()).reply_form(ReplyForm::Signed);
        for encoding in [BodyEncoding::Json, BodyEncoding::Base64] {
            let body = request_body(&payment(State::Failure), &key(), None, encoding).unwrap();
            let (reply, _) = answer(&endpoint, "/cb/outpark", &body);
            assert_eq!(reply.encoding, encoding);
            let (envelope_json, detected) = envelope::decode_body(&reply.body).unwrap();
            assert_eq!(detected, encoding);
            let parsed = Envelope::parse(&envelope_json).unwrap();
            parsed.verify(&key()).unwrap();
            let read = read_reply("outpark", &reply.body, &key()).unwrap();
            assert!(read.signed);
            assert_eq!(read.state, Some(0));
            assert_eq!(read.errmsg.as_deref(), Some("not paid"));
            assert!(read_reply("outpark", &reply.body, &Key::new("other")).is_err());
        }
    }

    #[test]
    fn each_bad_input_is_named() {
        let endpoint = CallbackEndpoint::new(key());
        let data = r#"{"service_name":"outpark","state":1,"park_id":"21835","order_id":"o-1","trade_no":"t-1","pay_type":"wallet","errmsg":""}"#;
        let good = envelope::build(data, &key(), None, BodyEncoding::Json).unwrap();
        let wrong = envelope::build(data, &Key::new("x"), None, BodyEncoding::Json).unwrap();
        let unsigned = format!(r#"{{"data":{data}}}"#);
        type Expected = fn(&InboundError) -> bool;
        let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
            ("/cb/outpark", b"@@@".to_vec(), |e| {
                matches!(e, InboundError::Base64(_))
            }),
            ("/cb/outpark", b"{\"data\":".to_vec(), |e| {
                matches!(e, InboundError::Json(EnvelopeError::Json { .. }))
            }),
            ("/cb/outpark", b"".to_vec(), |e| {
                matches!(e, InboundError::Json(EnvelopeError::Empty))
            }),
            ("/cb/outpark", unsigned.into_bytes(), |e| {
                matches!(e, InboundError::MissingSign)
            }),
            ("/cb/outpark", wrong, |e| {
                matches!(e, InboundError::WrongSign(VerifyError::Mismatch { .. }))
            }),
        ];
        for (path, body, expected) in cases {
            let (reply, vendor) = answer(&endpoint, path, &body);
            let error = rejected(&reply);
            assert!(expected(error), "{error:?}");
            assert!(vendor.seen.lock().unwrap().is_empty());
            let answer = json(&reply.body);
            assert_eq!(answer["state"], 0);
            assert_eq!(answer["errmsg"], error.errmsg());
        }
        // A correctly signed body on a path nothing serves, naming no service.
        let anonymous = envelope::build(r#"{"a":1}"#, &key(), None, BodyEncoding::Json).unwrap();
        let (reply, _) = answer(&endpoint, "/cb/elsewhere", &anonymous);
        assert!(matches!(
            rejected(&reply),
            InboundError::Unknown {
                service_name: None,
                ..
            }
        ));
        // An upstream interface is not a callback.
        let check = park_check::Request::new(200208, "21835", "京A12345");
        let body = request_body(&check.into(), &key(), None, BodyEncoding::Json).unwrap();
        let (reply, _) = answer(&endpoint, "/cb/park_check", &body);
        assert!(matches!(rejected(&reply), InboundError::Unknown { .. }));
        // The good body still works.
        let (reply, _) = answer(&endpoint, "/cb/outpark", &good);
        assert!(matches!(reply.outcome, CallbackOutcome::Answered { .. }));
    }

    #[test]
    fn an_invalid_message_lists_its_violations() {
        let endpoint = CallbackEndpoint::new(key());
        let data = r#"{"service_name":"outpark","state":"x","park_id":"21835"}"#;
        let body = envelope::build(data, &key(), None, BodyEncoding::Base64).unwrap();
        let (reply, vendor) = answer(&endpoint, "/anything", &body);
        assert!(vendor.seen.lock().unwrap().is_empty());
        match rejected(&reply) {
            InboundError::Invalid { key, report } => {
                assert_eq!(*key, "outpark");
                assert!(report.has_path("order_id") && report.has_path("state"));
            }
            other => panic!("{other:?}"),
        }
        let errmsg = json(&reply.body)["errmsg"].as_str().unwrap().to_string();
        assert!(
            errmsg.starts_with("invalid message (outpark): "),
            "{errmsg}"
        );
        assert!(errmsg.contains("order_id: required"), "{errmsg}");
        assert!(!errmsg.contains('\n'));
    }

    #[test]
    fn the_path_names_the_callback_when_the_data_does_not() {
        assert_eq!(callback_at_path("/bolink/outpark"), Some("outpark"));
        assert_eq!(callback_at_path("/bolink/outpark/"), Some("outpark"));
        assert_eq!(callback_at_path("/"), None);
        assert_eq!(callback_at_path("/bolink/park_check"), None);
        let endpoint = CallbackEndpoint::new(key())
            .route("/invoice/notify", "{notify_url}")
            .unwrap();
        assert_eq!(
            endpoint.callback_key("/invoice/notify", None),
            Some("{notify_url}")
        );
        assert!(CallbackEndpoint::new(key())
            .route("/x", "park_check")
            .is_none());
        assert_eq!(
            upstream_at_path("/unionapi/neworder/uploadData", Some("park_check")),
            Some("park_check")
        );
        assert_eq!(
            upstream_at_path("/unionapi/neworder/uploadData", None),
            None
        );
        assert_eq!(
            url_path_of("park_check"),
            Some("/unionapi/neworder/uploadData")
        );
    }

    #[test]
    fn every_generated_callback_is_reachable() {
        let endpoint = CallbackEndpoint::new(key());
        for key in CALLBACK_SERVICES {
            assert_eq!(endpoint.callback_key("/unified", Some(key)), Some(*key));
            if key.starts_with('{') {
                // A vendor-chosen address: reachable through a route.
                let routed = CallbackEndpoint::new(self::key())
                    .route("/chosen", key)
                    .unwrap();
                assert_eq!(routed.callback_key("/chosen", None), Some(*key));
            } else {
                assert_eq!(callback_at_path(&format!("/cb/{key}")), Some(*key));
            }
        }
    }

    #[test]
    fn refusals_carry_what_the_response_table_requires() {
        struct Closed;
        impl CallbackHandler for Closed {}
        let entry = nolicence_in_park::Request::new(
            "EA47829",
            "21798",
            200208,
            UnixSeconds(1_523_215_123),
            "A1",
        );
        let body = request_body(&entry.into(), &key(), None, BodyEncoding::Json).unwrap();
        let reply = block_on(CallbackEndpoint::new(key()).answer(&Closed, "/cb", &body));
        assert!(matches!(reply.outcome, CallbackOutcome::Refused { .. }));
        let answer = json(&reply.body);
        assert_eq!(
            (answer["state"].clone(), answer["errmsg"].clone()),
            (0.into(), "not supported".into())
        );
        let read = read_reply("nolicence_in_park", &reply.body, &key()).unwrap();
        assert!(!read.is_success() && !read.signed);
    }

    #[test]
    fn upstream_requests_are_checked_on_the_platforms_side() {
        let check = park_check::Request::new(200208, "21835", "京A12345");
        let body = request_body(
            &check.clone().into(),
            &key(),
            Some(200208),
            BodyEncoding::Base64,
        )
        .unwrap();
        assert_eq!(peek_union_id(&body), Some(200208));
        let inbound = check_upstream("/unionapi/neworder/uploadData", &body, &key()).unwrap();
        assert_eq!(inbound.request, newapi::Request::from(check));
        assert_eq!(inbound.encoding, BodyEncoding::Base64);
        let error = check_upstream("/unionapi/nothing", &body, &key()).unwrap_err();
        assert!(matches!(error.1, InboundError::Unknown { .. }));
        // An invalid message is refused before signing.
        let mut scan = outpark::Request::new(
            State::Success,
            "21835",
            "o-1",
            "t-1",
            PayType::Scancode,
            String::new(),
        );
        scan.out_channel_id = None;
        assert!(matches!(
            request_body(&scan.into(), &key(), None, BodyEncoding::Json),
            Err(RequestError::Invalid(_))
        ));
    }

    #[test]
    fn the_platforms_responses_are_read_plain_or_signed() {
        let plain = br#"{"state":1,"errmsg":"ok","data":{"status":1,"reason":0}}"#;
        let read = read_reply("park_check", plain, &key()).unwrap();
        assert!(read.is_success() && !read.signed);
        assert!(matches!(
            read.response,
            Some(newapi::Response::ParkCheck(_))
        ));
        let refused = read_reply("park_check", br#"{"state":"0","errmsg":"no"}"#, &key()).unwrap();
        assert_eq!(refused.state, Some(0));
        assert_eq!(refused.errmsg.as_deref(), Some("no"));
        assert!(matches!(
            read_reply("park_check", br#"{"state":1}"#, &key()),
            Err(ReplyError::Invalid(_))
        ));
        for junk in [&b""[..], b"[1]", b"@@", b"{\"data\":{},\"sign\":\"00\"}"] {
            assert!(read_reply("park_check", junk, &key()).is_err());
        }
    }

    #[test]
    fn no_input_panics() {
        let endpoint = CallbackEndpoint::new(key()).reply_form(ReplyForm::Signed);
        let inputs: [&[u8]; 8] = [
            b"",
            b"   ",
            b"{",
            b"\xff\xfe",
            b"{\"data\":[],\"sign\":\"A\"}",
            b"{\"data\":{},\"sign\":1}",
            b"{\"data\":{},\"data\":{},\"sign\":\"A\"}",
            b"e30=",
        ];
        for input in inputs {
            let (reply, _) = answer(&endpoint, "", input);
            assert!(matches!(reply.outcome, CallbackOutcome::Rejected(_)));
            let _ = read_reply("outpark", input, &key());
            let _ = peek_union_id(input);
        }
    }
}
