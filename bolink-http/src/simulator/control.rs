//! The simulator's control surface on its HTTP listener, under
//! `/_simulator/` (no platform path starts so): drive it with curl. See
//! the module docs of [`crate::simulator`] for the requests and answers.
//!
//! These routes are unauthenticated and make the simulator call any URL it
//! is given (`/_simulator/callback`): serve the simulator on loopback, or
//! on a network you trust.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::{sdk_http, Key};
use bolink_types::{newapi, sdk, DecodeError};
use serde_json::{json, Value};

use super::callback::{self, Callback};
use super::push::{self, Push};
use super::routing::lanes_named;
use super::state::State;
use super::upload::{is_downstream, read_body};

/// `POST`: push a downstream message to a lot and wait for its verdict.
pub const PUSH_PATH: &str = "/_simulator/push";
/// `POST`: call a vendor's new-API callback server and judge its answer.
pub const CALLBACK_PATH: &str = "/_simulator/callback";
/// `GET`: what the simulator holds (in-park orders, deliveries, rejections,
/// sessions, received messages).
pub const STATE_PATH: &str = "/_simulator/state";

/// The control routes.
pub(crate) fn routes() -> Router<State> {
    Router::new()
        .route(PUSH_PATH, post(push_route))
        .route(CALLBACK_PATH, post(callback_route))
        .route(STATE_PATH, get(state_route))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// A request the control surface cannot act on: 400 (or `status`) in the
/// protocol's JSON, with the violations when there are any.
fn bad(status: StatusCode, errmsg: impl Into<String>, violations: Vec<String>) -> Response {
    json_response(
        status,
        &json!({"state": 0, "errmsg": errmsg.into(), "violations": violations}),
    )
}

fn violations_of(error: &DecodeError) -> Vec<String> {
    match error.report() {
        Some(report) => report.violations.iter().map(|v| v.to_string()).collect(),
        None => vec![format!("(message): {error}")],
    }
}

/// `timeout_ms`, or the default, within the longest a route may wait.
fn timeout_of(state: &State, timeout_ms: Option<u64>) -> Result<Duration, Box<Response>> {
    let max = state.config.max_drive_timeout();
    let timeout = timeout_ms.map_or(state.config.answer_timeout, Duration::from_millis);
    if timeout > max {
        return Err(Box::new(bad(
            StatusCode::BAD_REQUEST,
            format!(
                "timeout_ms {} is over the limit of {} ms (the long poll's hold plus 5 s)",
                timeout.as_millis(),
                max.as_millis()
            ),
            Vec::new(),
        )));
    }
    Ok(timeout)
}

#[derive(serde::Deserialize)]
struct PushRequest {
    park_id: String,
    message: Value,
    timeout_ms: Option<u64>,
}

async fn push_route(Extract(state): Extract<State>, body: Body) -> Response {
    let body = match read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request: PushRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return bad(
                StatusCode::BAD_REQUEST,
                format!("not a push request ({{\"park_id\",\"message\",\"timeout_ms\"}}): {e}"),
                Vec::new(),
            )
        }
    };
    let timeout = match timeout_of(&state, request.timeout_ms) {
        Ok(timeout) => timeout,
        Err(response) => return *response,
    };
    let Some(park) = state.parks.get(&request.park_id) else {
        return bad(
            StatusCode::NOT_FOUND,
            format!("unknown park {:?}", request.park_id),
            Vec::new(),
        );
    };
    let message = &request.message;
    let Some(service_name) = message.get("service_name").and_then(Value::as_str) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "not a downstream request",
            vec!["service_name: required".into()],
        );
    };
    if !is_downstream(service_name) {
        return bad(
            StatusCode::BAD_REQUEST,
            "not a downstream request",
            vec![format!(
                "service_name: {service_name:?} is not a downstream service of the SDK protocol"
            )],
        );
    }
    let decoded = match sdk::Request::decode_as(service_name, message.to_string().as_bytes()) {
        Ok(decoded) => decoded,
        Err(e) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "not a valid downstream request",
                violations_of(&e),
            )
        }
    };
    if let Some(named) = message.get("park_id").and_then(Value::as_str) {
        if named != request.park_id {
            return bad(
                StatusCode::BAD_REQUEST,
                "not a valid downstream request",
                vec![format!(
                    "park_id: {named:?} is not the park pushed to ({:?})",
                    request.park_id
                )],
            );
        }
    }
    // Exact out: what is signed is the message re-encoded in the spec's wire types.
    let data = String::from_utf8_lossy(&decoded.encode()).into_owned();
    let Ok(signed) = sdk_http::build(service_name, None, &data, &park.key) else {
        return bad(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the message did not encode to a JSON object",
            Vec::new(),
        );
    };
    let report = push::push(
        &state,
        Push {
            park_id: &request.park_id,
            service_name,
            body: signed,
            lanes: lanes_named(message),
            timeout,
        },
    )
    .await;
    let body = serde_json::to_value(&report).unwrap_or_default();
    json_response(StatusCode::OK, &body)
}

#[derive(serde::Deserialize)]
struct CallbackRequest {
    url: String,
    message: Value,
    #[serde(default)]
    encoding: Option<String>,
    key: String,
    timeout_ms: Option<u64>,
}

async fn callback_route(Extract(state): Extract<State>, body: Body) -> Response {
    let body = match read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let request: CallbackRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return bad(
                StatusCode::BAD_REQUEST,
                format!("not a callback request ({{\"url\",\"message\",\"encoding\",\"key\",\"timeout_ms\"}}): {e}"),
                Vec::new(),
            )
        }
    };
    let timeout = match timeout_of(&state, request.timeout_ms) {
        Ok(timeout) => timeout,
        Err(response) => return *response,
    };
    let url = match reqwest::Url::parse(&request.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => {
            return bad(
                StatusCode::BAD_REQUEST,
                format!("url {:?} is not an http(s) URL", request.url),
                Vec::new(),
            )
        }
    };
    let encoding = match request.encoding.as_deref() {
        None | Some("json") => BodyEncoding::Json,
        Some("base64") => BodyEncoding::Base64,
        Some(other) => {
            return bad(
                StatusCode::BAD_REQUEST,
                format!("encoding {other:?} is neither \"json\" nor \"base64\""),
                Vec::new(),
            )
        }
    };
    if request.key.is_empty() {
        return bad(
            StatusCode::BAD_REQUEST,
            "key: the vendor key to sign with is required",
            Vec::new(),
        );
    }
    // The callback named by the data's service_name, else by the URL's path.
    let named = request
        .message
        .get("service_name")
        .and_then(Value::as_str)
        .and_then(|name| {
            bolink_sdk::CALLBACK_SERVICES
                .iter()
                .copied()
                .find(|key| *key == name)
        });
    let Some(key) = named.or_else(|| bolink_sdk::newapi::callback_at_path(url.path())) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "not a callback of the new API",
            vec![
                "service_name: no callback has this service_name, nor is one at the URL's path"
                    .into(),
            ],
        );
    };
    let message = match newapi::Request::decode_as(key, request.message.to_string().as_bytes()) {
        Ok(message) => message,
        Err(e) => {
            return bad(
                StatusCode::BAD_REQUEST,
                "not a valid callback",
                violations_of(&e),
            )
        }
    };
    let sign_key = Key::new(request.key);
    let report = callback::call(
        &state,
        Callback {
            url: url.as_str(),
            request: &message,
            encoding,
            key: &sign_key,
            timeout,
        },
    )
    .await;
    let body = serde_json::to_value(&report).unwrap_or_default();
    json_response(StatusCode::OK, &body)
}

async fn state_route(Extract(state): Extract<State>) -> Response {
    let books = state.books();
    let in_park: Vec<Value> = books
        .in_park
        .iter()
        .map(|(_, order)| {
            json!({"park_id": order.park_id, "order_id": order.order_id, "car_number": order.car_number})
        })
        .collect();
    let deliveries: serde_json::Map<String, Value> = books
        .deliveries
        .iter()
        .map(|(key, count)| (key.clone(), Value::from(*count)))
        .collect();
    let rejected: Vec<Value> = books
        .rejected
        .iter()
        .map(|r| json!({"service_name": r.service_name, "reason": r.reason}))
        .collect();
    let sessions: Vec<Value> = books
        .live_sessions(state.config.token_ttl)
        .into_iter()
        .map(|s| {
            json!({"park_id": s.park_id, "local_id": s.local_id, "link": s.link, "lanes": s.lanes})
        })
        .collect();
    let received: Vec<Value> = books
        .received
        .iter()
        .map(|r| json!({"park_id": r.park_id, "service_name": r.service_name, "data": r.data}))
        .collect();
    let body = json!({
        "in_park": in_park,
        "deliveries": deliveries,
        "rejected": rejected,
        "sessions": sessions,
        "received": received,
        "logins": books.logins,
    });
    drop(books);
    json_response(StatusCode::OK, &body)
}
