//! `POST /bpd/upload.do`: login, uploads, and the lot's answers to
//! downstream messages.

use axum::body::{Body, Bytes};
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bolink_sdk::login::Login;
use bolink_sign::sdk_http::Envelope;
use bolink_types::catalog::{Direction, Document};
use bolink_types::{decode, sdk, INTERFACES};

use super::state::{InParkOrder, Received, State, TokenError};
use super::{ResendAnswer, TokenRefusal};

/// The platform's answer: `{"service_name","state","errmsg"}` (+ token on login).
pub(crate) fn reply(
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
    let Some(token) = envelope.token.as_deref().filter(|t| !t.is_empty()) else {
        return reject(
            &state,
            token_status(&state),
            &service_name,
            "未识别到token标记".into(),
        );
    };
    let park_id = match state.session(token, state.config.rate_limit) {
        Ok(park_id) => park_id,
        Err(TokenError::Invalid) => {
            return reject(
                &state,
                token_status(&state),
                &service_name,
                "error:token无效".into(),
            )
        }
        // As the platform's public code: no service_name in this one.
        Err(TokenError::OverTimes) => {
            state.books().reject(&service_name, OVER_TIMES);
            return json_answer(
                StatusCode::OK,
                format!(r#"{{"state":0,"errmsg":"{OVER_TIMES}"}}"#),
            );
        }
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
            let value: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
            let deliveries = match resend_key(&service_name, &value) {
                Some(key) => {
                    let key = format!("{park_id}/{key}");
                    let mut books = state.books();
                    match books.deliveries.get_mut(&key) {
                        Some(count) => {
                            *count += 1;
                            *count
                        }
                        None => {
                            books.deliveries.insert(key, 1);
                            1
                        }
                    }
                }
                None => 1,
            };
            if deliveries > 1 {
                // Recorded once, as the platform de-duplicates by order.
                return match state.config.resend {
                    ResendAnswer::AlreadyProcessed => already_processed(&service_name, &value),
                    _ => reply(StatusCode::OK, &service_name, Ok(None)),
                };
            }
            record(&state, &park_id, &service_name, value);
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
    books.open_session(
        token.clone(),
        login.park_id,
        login.local_id.unwrap_or_default(),
        state.config.token_ttl,
    );
    drop(books);
    reply(StatusCode::OK, "login", Ok(Some(token)))
}

/// The lot answers a downstream message: hand the data to the waiting driver.
fn answer(state: &State, park_id: &str, service_name: &str, data: &[u8]) -> Response {
    let waiter = {
        let mut books = state.books();
        let key = (park_id.to_string(), service_name.to_string());
        let mut waiter = None;
        if let Some(queue) = books.awaiting.get_mut(&key) {
            // Drivers that gave up waiting are skipped.
            while let Some(next) = queue.pop_front() {
                if !next.is_closed() {
                    waiter = Some(next);
                    break;
                }
            }
            if queue.is_empty() {
                books.awaiting.remove(&key);
            }
        }
        waiter
    };
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
    state.books().reject(service_name, &reason);
    reply(status, service_name, Err(reason))
}

/// The errmsg of a request over the token's rate limit (the platform's wording).
const OVER_TIMES: &str = "request_over_times";
/// The errmsg of a re-sent upload (the platform's wording, dots included).
const ALREADY_PROCESSED: &str = "数据已处理过...";

/// The status of a token refusal, as configured.
pub(crate) fn token_status(state: &State) -> StatusCode {
    match state.config.invalid_token {
        TokenRefusal::Unauthorized => StatusCode::UNAUTHORIZED,
        _ => StatusCode::OK,
    }
}

fn json_answer(status: StatusCode, body: String) -> Response {
    (
        status,
        [("content-type", "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

/// How the simulator recognises a re-sent upload, its own reading of the
/// platform's duplicate check (not the client's code, so that testing the
/// client against it proves something): the service with the data's
/// `order_id`, else its `trade_no` (a non-empty string, or a number).
fn resend_key(service_name: &str, data: &serde_json::Value) -> Option<String> {
    let text = |name: &str| match data.get(name)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let id = text("order_id").or_else(|| text("trade_no"))?;
    Some(format!("{service_name}:{id}"))
}

/// The platform's answer to a re-sent upload:
/// `{"state":0,"errmsg":"数据已处理过...","service_name",...}` with the
/// data's `order_id` and `car_number` when it has them (as text, as the
/// platform's `getString` gives them).
fn already_processed(service_name: &str, data: &serde_json::Value) -> Response {
    let mut answer = serde_json::json!({
        "state": 0,
        "errmsg": ALREADY_PROCESSED,
        "service_name": service_name,
    });
    for field in ["order_id", "car_number"] {
        let value = match data.get(field) {
            None | Some(serde_json::Value::Null) => continue,
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        answer[field] = serde_json::Value::String(value);
    }
    json_answer(StatusCode::OK, answer.to_string())
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

#[cfg(test)]
mod tests {
    use super::resend_key;

    #[test]
    fn a_resend_is_keyed_by_service_and_order_else_trade_no() {
        let key = |data: &str| resend_key("svc", &serde_json::from_str(data).unwrap());
        assert_eq!(
            key(r#"{"order_id":"o","trade_no":"t"}"#).as_deref(),
            Some("svc:o")
        );
        assert_eq!(
            key(r#"{"order_id":"","trade_no":"t"}"#).as_deref(),
            Some("svc:t")
        );
        assert_eq!(key(r#"{"trade_no":42}"#).as_deref(), Some("svc:42"));
        assert_eq!(key(r#"{"order_id":null,"car_number":"x"}"#), None);
    }
}
