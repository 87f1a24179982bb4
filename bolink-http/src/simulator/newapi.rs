//! Bolink's side of the new API, for simulators and tests: a router that
//! takes vendors' upstream requests on their URL paths ([`Platform`]), and
//! calls to a vendor's callback server ([`call_callback`]). The
//! [`Simulator`](super::Simulator) serves the same checks on every path
//! that is not SDK-HTTP mode.
//!
//! (It lives in the simulator, not beside the new-API client and callback
//! server, so that those never depend on the simulator.)
//!
//! Where the platform's behaviour is not public, the choices are marked:
//! accepted requests are answered `{"state":1,"errmsg":"成功"}` (plus a
//! canned `data` where the response table requires one, e.g. 10.4's entry
//! check); refusals are `{"state":0,"errmsg":...}` with HTTP 200 (bad sign,
//! unknown vendor, invalid message), 400 (not an envelope), 404 (no
//! interface at the path) or 413 (body over the limit).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bolink_sdk::engine::TransportError;
use bolink_sdk::newapi::{
    check_upstream, peek_union_id, read_reply, refusal_json, request_body, InboundError, Reply,
    ReplyError, RequestError,
};
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::Key;
use bolink_types::newapi;

use super::history::{prefix, History, NAME_PREFIX, REASON_PREFIX};
use super::observe::{Direction, Exchange, Link};
use super::state::{Received, State};

/// One upstream request the platform accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AcceptedRequest {
    /// The path it was POSTed to.
    pub path: String,
    /// The vendor it came from.
    pub union_id: i64,
    /// How its body was encoded.
    pub encoding: BodyEncoding,
    /// The message, decoded and valid.
    pub request: newapi::Request,
}

/// One upstream request the platform refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefusedRequest {
    /// The path it was POSTed to: at most 128 characters of it, marked `…`
    /// when cut.
    pub path: String,
    /// The HTTP status of the refusal.
    pub status: u16,
    /// The errmsg sent back: at most 256 characters of it, marked `…` when cut.
    pub errmsg: String,
}

#[derive(Debug)]
struct Log {
    accepted: History<AcceptedRequest>,
    refused: History<RefusedRequest>,
}

/// What a [`Platform`] accepted and refused (the newest
/// [`DEFAULT_HISTORY_LIMIT`](super::DEFAULT_HISTORY_LIMIT) of each, or as
/// set by [`Platform::history_limit`]), shared with its router: clone it
/// before [`Platform::router`] and read it from tests.
#[derive(Debug, Clone)]
pub struct PlatformStore {
    log: Arc<Mutex<Log>>,
}

impl Default for PlatformStore {
    fn default() -> Self {
        PlatformStore::with_limit(super::DEFAULT_HISTORY_LIMIT)
    }
}

impl PlatformStore {
    fn with_limit(limit: usize) -> PlatformStore {
        PlatformStore {
            log: Arc::new(Mutex::new(Log {
                accepted: History::new(limit),
                refused: History::new(limit),
            })),
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        // Nothing panics while holding it; should something, the log stays readable.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The accepted requests kept, oldest first.
    pub fn accepted(&self) -> Vec<AcceptedRequest> {
        self.log().accepted.iter().cloned().collect()
    }

    /// The refused requests kept, oldest first.
    pub fn refused(&self) -> Vec<RefusedRequest> {
        self.log().refused.iter().cloned().collect()
    }
}

/// The platform's side of the new API's upstream interfaces.
#[derive(Debug, Clone)]
pub struct Platform {
    vendors: HashMap<i64, Key>,
    answers: HashMap<String, serde_json::Value>,
    store: PlatformStore,
    body_limit: usize,
}

impl Default for Platform {
    fn default() -> Self {
        Platform::new()
    }
}

impl Platform {
    /// A platform with no vendors, bodies up to 64 KiB.
    pub fn new() -> Platform {
        Platform {
            vendors: HashMap::new(),
            answers: HashMap::new(),
            store: PlatformStore::default(),
            body_limit: 64 * 1024,
        }
    }

    /// Registers a vendor: its requests name `union_id` (beside `data` or
    /// inside it) and are signed with `key`.
    pub fn vendor(mut self, union_id: i64, key: Key) -> Platform {
        self.vendors.insert(union_id, key);
        self
    }

    /// Answers accepted requests of interface `key` (service_name or URL
    /// path) with `answer` instead of the default.
    pub fn answer(mut self, key: &str, answer: serde_json::Value) -> Platform {
        self.answers.insert(key.to_string(), answer);
        self
    }

    /// Keeps the newest `limit` accepted and refused requests in its store
    /// (a new, empty store: take [`Platform::store`] after this).
    pub fn history_limit(mut self, limit: usize) -> Platform {
        self.store = PlatformStore::with_limit(limit);
        self
    }

    /// Sets the largest body accepted (413 beyond it).
    pub fn body_limit(mut self, limit: usize) -> Platform {
        self.body_limit = limit;
        self
    }

    /// The store the router records into.
    pub fn store(&self) -> PlatformStore {
        self.store.clone()
    }

    /// A router taking POSTs on every path.
    pub fn router(self) -> Router {
        Router::new().fallback(serve).with_state(Arc::new(self))
    }
}

async fn serve(Extract(platform): Extract<Arc<Platform>>, uri: Uri, body: Body) -> Response {
    let path = uri.path();
    let judged = match axum::body::to_bytes(body, platform.body_limit).await {
        // A standalone platform knows no parks: only the data's union_id is
        // checked against the signing vendor.
        Ok(bytes) => judge(
            &platform.vendors,
            &|_| None,
            &platform.answers,
            path,
            &bytes,
        ),
        Err(_) => Judged::refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("报文过大 (over {} bytes)", platform.body_limit),
        ),
    };
    let mut log = platform.store.log();
    match &judged.accepted {
        Some((union_id, inbound)) => log.accepted.push(AcceptedRequest {
            path: path.to_string(),
            union_id: *union_id,
            encoding: inbound.encoding,
            request: inbound.request.clone(),
        }),
        None => log.refused.push(RefusedRequest {
            path: prefix(path, NAME_PREFIX),
            status: judged.status.as_u16(),
            errmsg: prefix(&judged.errmsg, REASON_PREFIX),
        }),
    }
    drop(log);
    judged.into_response()
}

/// The platform's verdict on one upstream body.
struct Judged {
    status: StatusCode,
    body: Vec<u8>,
    errmsg: String,
    accepted: Option<(i64, bolink_sdk::newapi::Inbound)>,
}

impl Judged {
    fn refused(status: StatusCode, errmsg: String) -> Judged {
        Judged {
            status,
            body: refusal_json(&errmsg),
            errmsg,
            accepted: None,
        }
    }

    fn into_response(self) -> Response {
        (
            self.status,
            [("content-type", "application/json;charset=utf-8")],
            self.body,
        )
            .into_response()
    }
}

/// Which vendor (`union_id`) a park is registered to, when it is.
type OwnerOf<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Checks an upstream body as the platform would.
fn judge(
    vendors: &HashMap<i64, Key>,
    owner_of: OwnerOf<'_>,
    answers: &HashMap<String, serde_json::Value>,
    path: &str,
    body: &[u8],
) -> Judged {
    let union_id = peek_union_id(body);
    let vendor = union_id.and_then(|id| Some((id, vendors.get(&id)?)));
    // Without a known vendor the sign cannot be checked; the envelope is
    // still read first, so a malformed body gets 400 either way.
    let unknown_vendor = Key::new("");
    let key = vendor.map_or(&unknown_vendor, |(_, key)| key);
    let error = match check_upstream(path, body, key) {
        Ok(inbound) => match vendor {
            Some((union_id, _)) => {
                if let Some(why) = foreign(&inbound.data, union_id, owner_of) {
                    return Judged::refused(StatusCode::OK, why);
                }
                let answer = answer_for(answers, inbound.request.key()).to_string();
                return Judged {
                    status: StatusCode::OK,
                    body: answer.into_bytes(),
                    errmsg: String::new(),
                    accepted: Some((union_id, inbound)),
                };
            }
            None => return Judged::refused(StatusCode::OK, UNKNOWN_VENDOR.into()),
        },
        Err((_, error)) => error,
    };
    let (status, errmsg) = match &error {
        InboundError::Base64(_) | InboundError::Json(_) => (
            StatusCode::BAD_REQUEST,
            format!("报文格式错误: {}", error.errmsg()),
        ),
        _ if vendor.is_none() => (StatusCode::OK, UNKNOWN_VENDOR.to_string()),
        InboundError::MissingSign | InboundError::WrongSign(_) => {
            (StatusCode::OK, format!("签名错误: {}", error.errmsg()))
        }
        InboundError::Unknown { .. } => (
            StatusCode::NOT_FOUND,
            format!("接口不存在: {}", error.errmsg()),
        ),
        _ => (StatusCode::OK, format!("参数错误: {}", error.errmsg())),
    };
    Judged::refused(status, errmsg)
}

/// The errmsg for a `union_id` no vendor has (the platform's wording is not public).
const UNKNOWN_VENDOR: &str = "厂商不存在 (unknown union_id)";

/// Why verified data may not be filed under the vendor whose key signed
/// it: it names another vendor's `union_id`, or a park registered to
/// another vendor. The sign proves who sent the data, not whose it is;
/// `union_id` beside `data` (which picks the key) is unsigned, so the
/// data's own names are checked against the key's vendor. A park the
/// platform has not registered has no owner to check against. (The
/// platform's wording is not public.)
fn foreign(data: &[u8], vendor: i64, owner_of: OwnerOf<'_>) -> Option<String> {
    let data: serde_json::Value = serde_json::from_slice(data).ok()?;
    let text = |name: &str| match data.get(name)? {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    };
    if let Some(named) = text("union_id") {
        if named.parse::<i64>().ok() != Some(vendor) {
            return Some(format!(
                "error:数据不属于签名的厂商 (data names union_id {named}, signed by vendor {vendor})"
            ));
        }
    }
    let park = text("park_id")?;
    let owner = owner_of(&park)?;
    if owner.trim().parse::<i64>().ok() != Some(vendor) {
        return Some(format!(
            "error:车场不属于签名的厂商 (park {park} is vendor {owner}'s, signed by vendor {vendor})"
        ));
    }
    None
}

/// The answer to an accepted request: a configured one, else
/// `{"state":1,"errmsg":"成功"}`, with a passed entry check for 10.4
/// park_check so that its response table's required `data` is there.
fn answer_for(answers: &HashMap<String, serde_json::Value>, key: &str) -> serde_json::Value {
    if let Some(answer) = answers.get(key) {
        return answer.clone();
    }
    match key {
        "park_check" => {
            serde_json::json!({"state": 1, "errmsg": "成功", "data": {"status": 1, "reason": 0}})
        }
        _ => serde_json::json!({"state": 1, "errmsg": "成功"}),
    }
}

/// The simulator's fallback: a new-API upstream request on any path that is
/// not SDK-HTTP mode, judged as [`Platform`] does and recorded in the
/// simulator's books.
pub(crate) async fn upstream(Extract(state): Extract<State>, uri: Uri, body: Body) -> Response {
    let body = match super::read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let path = uri.path();
    let owner_of = |park: &str| state.parks.get(park).map(|p| p.union_id.clone());
    let judged = judge(&state.vendors, &owner_of, &HashMap::new(), path, &body);
    let (park_id, service_name, outcome) = match &judged.accepted {
        Some((_, inbound)) => {
            let data: serde_json::Value = serde_json::from_slice(&inbound.data).unwrap_or_default();
            let park_id = data
                .get("park_id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let service_name = inbound.request.key().to_string();
            state.books().received.push(Received {
                park_id: park_id.clone(),
                service_name: service_name.clone(),
                data,
            });
            (Some(park_id), service_name, "accepted".to_string())
        }
        None => {
            state.books().reject(path, &judged.errmsg);
            (
                None,
                path.to_string(),
                format!("refused: {}", judged.errmsg),
            )
        }
    };
    state.emit(Exchange::new(
        Direction::Up,
        Link::NewApi,
        park_id.as_deref(),
        None,
        &service_name,
        outcome,
    ));
    judged.into_response()
}

/// What a vendor's callback server answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallbackAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The answer: `state`, `errmsg`, the typed response, whether it was signed.
    pub reply: Reply,
}

/// Why a call to a vendor's callback server got no readable answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The request breaks the spec (nothing was sent).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The call did not complete (connect, timeout, reset).
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The answer is unreadable, wrongly signed, or breaks the response table.
    #[error("HTTP {status}: {error}")]
    Reply {
        /// The HTTP status.
        status: u16,
        /// What is wrong with the answer.
        error: ReplyError,
    },
}

/// Plays Bolink calling a vendor's callback server at `url`: signs
/// `request` with the vendor `key`, POSTs it as `encoding`, and reads the
/// answer (plain or signed; a signed one's sign is checked with `key`),
/// whatever the HTTP status.
///
/// # Errors
/// [`CallError`]: invalid request, transport failure, or an unreadable answer.
pub async fn call_callback(
    http: &reqwest::Client,
    url: &str,
    key: &Key,
    request: &newapi::Request,
    encoding: BodyEncoding,
    timeout: Duration,
) -> Result<CallbackAnswer, CallError> {
    let body = request_body(request, key, None, encoding)?;
    let response = http
        .post(url)
        .header("content-type", "application/json;charset=utf-8")
        .timeout(timeout)
        .body(body)
        .send()
        .await
        .map_err(|e| crate::http::failure(e, timeout))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| crate::http::failure(e, timeout))?;
    let reply = read_reply(request.key(), &bytes, key)
        .map_err(|error| CallError::Reply { status, error })?;
    Ok(CallbackAnswer { status, reply })
}
