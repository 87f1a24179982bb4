//! The callback server: Bolink POSTs its calls (payment results, unplated
//! entries, plate status changes, ...) to addresses the vendor configured.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bolink_sdk::newapi::{answer_callback, refusal_json};
use bolink_sdk::CallbackHandler;
use bolink_sign::Key;
use tower_http::timeout::TimeoutLayer;

/// How the callback server checks and bounds requests.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// The vendor key the platform signs with.
    pub key: Key,
    /// The largest body accepted (413 beyond it).
    pub body_limit: usize,
    /// How long one request may take (408 beyond it).
    pub timeout: Duration,
}

impl CallbackConfig {
    /// 64 KiB bodies, 10 s per request.
    pub fn new(key: Key) -> CallbackConfig {
        CallbackConfig {
            key,
            body_limit: 64 * 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

struct Shared<H> {
    handler: Mutex<H>,
    config: CallbackConfig,
}

/// A router that answers every POSTed callback, on any path, through
/// `handler`: decode (JSON or base64), verify, validate, dispatch, answer.
///
/// Statuses: 200 with the protocol's answer (also for refusals and invalid
/// messages, answered `{"state":0,"errmsg":...}`), 400 malformed body,
/// 401 bad sign, 404 unknown callback, 405 not a POST, 408 too slow,
/// 413 too large. Every body is the protocol's JSON.
pub fn callback_router<H: CallbackHandler + Send + 'static>(
    handler: H,
    config: CallbackConfig,
) -> Router {
    let timeout = config.timeout;
    let shared = Arc::new(Shared {
        handler: Mutex::new(handler),
        config,
    });
    Router::new()
        .fallback(handle::<H>)
        .with_state(shared)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
}

async fn handle<H: CallbackHandler + Send + 'static>(
    State(shared): State<Arc<Shared<H>>>,
    method: Method,
    uri: Uri,
    body: Body,
) -> Response {
    if method != Method::POST {
        return protocol_answer(
            StatusCode::METHOD_NOT_ALLOWED,
            refusal_json("callbacks are POSTed"),
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, shared.config.body_limit).await else {
        let errmsg = format!("body over {} bytes", shared.config.body_limit);
        return protocol_answer(StatusCode::PAYLOAD_TOO_LARGE, refusal_json(&errmsg));
    };
    let reply = {
        // The handler is synchronous; nothing awaits while it is locked.
        let mut handler = shared
            .handler
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        answer_callback(&mut *handler, &shared.config.key, uri.path(), &bytes)
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    protocol_answer(status, reply.body)
}

fn protocol_answer(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [("content-type", "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}
