//! `POST /bpd/upload.do`: login, uploads, and the lot's answers to
//! downstream messages.

use axum::body::{Body, Bytes};
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bolink_sdk::login::Login;
use bolink_sdk::outbox::idempotency_key;
use bolink_sign::sdk_http::Envelope;
use bolink_types::catalog::{Direction, Document};
use bolink_types::{decode, sdk, INTERFACES};

use super::state::{InParkOrder, Received, Rejection, Session, State};

/// The platform's answer: `{"service_name","state","errmsg"}` (+ token on login).
fn reply(
    status: StatusCode,
    service_name: &str,
    outcome: Result<Option<String>, String>,
) -> Response {
    let body = match outcome {
        Ok(None) => serde_json::json!({"service_name": service_name, "state": 1}),
        Ok(Some(token)) => {
            serde_json::json!({"service_name": service_name, "state": 1, "token": token})
        }
        Err(errmsg) => {
            serde_json::json!({"service_name": service_name, "state": 0, "errmsg": errmsg})
        }
    };
    (
        status,
        [("content-type", "application/json;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// Reads the body up to the configured limit; past it, the protocol's
/// error answer with 413.
pub(crate) async fn read_body(state: &State, body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, state.config.body_limit)
        .await
        .map_err(|_| {
            let errmsg = format!("error:报文过大 (over {} bytes)", state.config.body_limit);
            reject(state, StatusCode::PAYLOAD_TOO_LARGE, "", errmsg)
        })
}

pub(crate) async fn upload(Extract(state): Extract<State>, body: Body) -> Response {
    let body = match read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let envelope = match Envelope::parse(&body) {
        Ok(envelope) => envelope,
        Err(e) => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                "",
                format!("error:报文格式错误 ({e})"),
            )
        }
    };
    let service_name = envelope.service_name.to_string();
    if service_name == "login" {
        return login(&state, &envelope);
    }
    let Some(token) = envelope.token.as_deref() else {
        return reject(
            &state,
            StatusCode::UNAUTHORIZED,
            &service_name,
            "error:token不能为空".into(),
        );
    };
    let Some(park_id) = state.session_park(token) else {
        return reject(
            &state,
            StatusCode::UNAUTHORIZED,
            &service_name,
            "error:token无效".into(),
        );
    };
    let park = &state.parks[&park_id];
    if let Err(e) = envelope.verify(&park.key) {
        return reject(
            &state,
            StatusCode::OK,
            &service_name,
            format!("error:签名错误 ({e})"),
        );
    }
    let data = envelope.data_bytes();
    if is_downstream(&service_name) {
        return answer(&state, &park_id, &service_name, data);
    }
    match sdk::Request::decode_as(&service_name, data) {
        Ok(_) => {
            let key = idempotency_key(&service_name, data);
            let first = {
                let mut books = state.books();
                match &key {
                    Some(key) => {
                        let count = books
                            .deliveries
                            .entry(format!("{park_id}/{key}"))
                            .or_default();
                        *count += 1;
                        *count == 1
                    }
                    None => true,
                }
            };
            // A re-send after a lost acknowledgement is acknowledged again
            // but recorded once, as the platform de-duplicates by order.
            if first {
                let value: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
                record(&state, &park_id, &service_name, value);
            }
            reply(StatusCode::OK, &service_name, Ok(None))
        }
        Err(e) => reject(
            &state,
            StatusCode::OK,
            &service_name,
            format!("error:{}", one_line(&e.to_string())),
        ),
    }
}

fn login(state: &State, envelope: &Envelope<'_>) -> Response {
    let login: Login = match decode(envelope.data_bytes()) {
        Ok(login) => login,
        Err(e) => {
            return reject(
                state,
                StatusCode::OK,
                "login",
                format!("error:{}", one_line(&e.to_string())),
            )
        }
    };
    let known = state
        .parks
        .get(&login.park_id)
        .filter(|p| p.union_id == login.union_id);
    let Some(park) = known else {
        return reject(
            state,
            StatusCode::OK,
            "login",
            "error:云平台车场不存在".into(),
        );
    };
    if envelope.verify(&park.key).is_err() {
        return reject(state, StatusCode::OK, "login", "error:签名错误".into());
    }
    let token = format!("{:032x}", rand::random::<u128>());
    let mut books = state.books();
    books.logins += 1;
    // One token per charging-system instance: logging in again ends the
    // previous session (and bounds the simulator's memory under load).
    let instance = (
        login.park_id.clone(),
        login.local_id.clone().unwrap_or_default(),
    );
    if let Some(previous) = books.token_of.insert(instance, token.clone()) {
        books.sessions.remove(&previous);
    }
    books.sessions.insert(
        token.clone(),
        Session {
            park_id: login.park_id,
            since: std::time::Instant::now(),
        },
    );
    reply(StatusCode::OK, "login", Ok(Some(token)))
}

/// The lot answers a downstream message: hand the data to the waiting driver.
fn answer(state: &State, park_id: &str, service_name: &str, data: &[u8]) -> Response {
    let waiter = state
        .books()
        .awaiting
        .get_mut(&(park_id.to_string(), service_name.to_string()))
        .and_then(|queue| queue.pop_front());
    match waiter {
        Some(waiter) => {
            // The driver may have given up waiting; the answer is still acknowledged.
            let _ = waiter.send(data.to_vec());
            reply(StatusCode::OK, service_name, Ok(None))
        }
        None => reject(
            state,
            StatusCode::OK,
            service_name,
            "error:没有待应答的请求".into(),
        ),
    }
}

fn record(state: &State, park_id: &str, service_name: &str, data: serde_json::Value) {
    let order_id = data
        .get("order_id")
        .and_then(|v| v.as_str())
        .map(String::from);
    let car_number = data
        .get("car_number")
        .and_then(|v| v.as_str())
        .map(String::from);
    let mut books = state.books();
    if let Some(order_id) = order_id {
        let key = (park_id.to_string(), order_id.clone());
        match service_name {
            "in_park" => {
                books.in_park.insert(
                    key,
                    InParkOrder {
                        park_id: park_id.to_string(),
                        order_id,
                        car_number,
                    },
                );
            }
            "out_park" => {
                books.in_park.remove(&key);
            }
            _ => {}
        }
    }
    books.received.push(Received {
        park_id: park_id.to_string(),
        service_name: service_name.to_string(),
        data,
    });
}

pub(crate) fn reject(
    state: &State,
    status: StatusCode,
    service_name: &str,
    reason: String,
) -> Response {
    state.books().rejected.push(Rejection {
        service_name: service_name.to_string(),
        reason: reason.clone(),
    });
    reply(status, service_name, Err(reason))
}

fn is_downstream(service_name: &str) -> bool {
    INTERFACES.iter().any(|i| {
        i.service_name == Some(service_name)
            && matches!(i.document, Document::Sdk | Document::SdkHttp)
            && i.direction == Direction::Downstream
    })
}

fn one_line(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join("; ")
}
