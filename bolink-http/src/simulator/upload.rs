//! `POST /bpd/upload.do`: login, uploads, and the lot's answers to
//! downstream messages (SDK-HTTP mode).

use axum::body::{Body, Bytes};
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bolink_sdk::login::Login;
use bolink_sign::sdk_http::Envelope;
use bolink_types::catalog::{Direction as Dir, Document};
use bolink_types::{decode, sdk, INTERFACES};

use super::filing::{file, service_name_mismatch, Filed};
use super::observe::{Direction, Exchange, Link};
use super::state::{SessionLink, SessionRef, State, TokenError};
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
    json_answer(status, body.to_string())
}

/// Reads the body up to the configured limit; past it, the protocol's
/// error answer with 413.
pub(crate) async fn read_body(state: &State, body: Body) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, state.config.body_limit)
        .await
        .map_err(|_| {
            let errmsg = format!("error:报文过大 (over {} bytes)", state.config.body_limit);
            reject(state, None, StatusCode::PAYLOAD_TOO_LARGE, "", errmsg)
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
                None,
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
            None,
            token_status(&state),
            &service_name,
            "未识别到token标记".into(),
        );
    };
    let session = match state.session(token, state.config.rate_limit) {
        Ok(session) => session,
        Err(TokenError::Invalid) => {
            return reject(
                &state,
                None,
                token_status(&state),
                &service_name,
                "error:token无效".into(),
            )
        }
        // As the platform's public code: no service_name in this one.
        Err(TokenError::OverTimes) => {
            state.books().reject(&service_name, OVER_TIMES);
            emit(&state, None, &service_name, "refused: request_over_times");
            return json_answer(
                StatusCode::OK,
                format!(r#"{{"state":0,"errmsg":"{OVER_TIMES}"}}"#),
            );
        }
    };
    let who = Some(&session);
    let park = &state.parks[&session.park_id];
    if let Err(e) = envelope.verify(&park.key) {
        return reject(
            &state,
            who,
            StatusCode::OK,
            &service_name,
            format!("error:签名错误 ({e})"),
        );
    }
    let data = envelope.data_bytes();
    let value: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
    if let Some(why) = service_name_mismatch(&service_name, &value) {
        return reject(&state, who, StatusCode::OK, &service_name, why);
    }
    if is_downstream(&service_name) {
        return answer(&state, &session, &service_name, data);
    }
    match sdk::Request::decode_as(&service_name, data) {
        Ok(_) => {
            let filed = file(
                &mut state.books(),
                &session.park_id,
                &service_name,
                value.clone(),
            );
            if let Filed::Again { arrivals } = filed {
                // Recorded once, as the platform de-duplicates by order.
                emit(&state, who, &service_name, format!("duplicate #{arrivals}"));
                return match state.config.resend {
                    ResendAnswer::AlreadyProcessed => already_processed(&service_name, &value),
                    _ => reply(StatusCode::OK, &service_name, Ok(None)),
                };
            }
            emit(&state, who, &service_name, "accepted");
            reply(StatusCode::OK, &service_name, Ok(None))
        }
        Err(e) => reject(
            &state,
            who,
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
                None,
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
            None,
            StatusCode::OK,
            "login",
            "error:云平台车场不存在".into(),
        );
    };
    let who = SessionRef {
        park_id: login.park_id.clone(),
        local_id: login.local_id.clone().unwrap_or_default(),
    };
    if envelope.verify(&park.key).is_err() {
        return reject(
            state,
            Some(&who),
            StatusCode::OK,
            "login",
            "error:签名错误".into(),
        );
    }
    let token = format!("{:032x}", rand::random::<u128>());
    state.open_session(
        token.clone(),
        (who.park_id.clone(), who.local_id.clone()),
        SessionLink::Http,
    );
    emit(state, Some(&who), "login", "logged in");
    reply(StatusCode::OK, "login", Ok(Some(token)))
}

/// The lot answers a downstream message: hand the data to the driver
/// waiting for this instance's answer.
fn answer(state: &State, session: &SessionRef, service_name: &str, data: &[u8]) -> Response {
    let instance = (session.park_id.clone(), session.local_id.clone());
    let answered = state.books().hand_answer(instance, service_name, data);
    if let Some(request) = answered {
        // As strict as the platform: an answer that breaks its table (or
        // a rule naming the request it answers) is handed to the driver
        // (whose verdict is `invalid`) and refused here with what is
        // wrong, not acknowledged with state 1.
        let judged =
            super::verdict::judge(service_name, super::observe::Link::Http, data, &request);
        if !judged.violations.is_empty() {
            let why = format!("error:应答数据有误: {}", judged.violations.join("; "));
            return reject(state, Some(session), StatusCode::OK, service_name, why);
        }
        emit(state, Some(session), service_name, "answer taken");
        // The driver may have given up waiting; the answer is still acknowledged.
        reply(StatusCode::OK, service_name, Ok(None))
    } else {
        reject(
            state,
            Some(session),
            StatusCode::OK,
            service_name,
            "error:没有待应答的请求".into(),
        )
    }
}

/// Records a refusal, shows it, and answers it with `state` 0.
pub(crate) fn reject(
    state: &State,
    who: Option<&SessionRef>,
    status: StatusCode,
    service_name: &str,
    reason: String,
) -> Response {
    state.books().reject(service_name, &reason);
    emit(state, who, service_name, format!("refused: {reason}"));
    reply(status, service_name, Err(reason))
}

fn emit(state: &State, who: Option<&SessionRef>, service_name: &str, outcome: impl Into<String>) {
    state.emit(Exchange::new(
        Direction::Up,
        Link::Http,
        who.map(|w| w.park_id.as_str()),
        who.map(|w| w.local_id.as_str()),
        service_name,
        outcome,
    ));
}

/// The errmsg of a request over the token's rate limit (the platform's wording).
pub(crate) const OVER_TIMES: &str = "request_over_times";
/// The errmsg of a re-sent upload (the platform's wording, dots included).
pub(crate) const ALREADY_PROCESSED: &str = "数据已处理过...";

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

/// The platform's answer to a re-sent upload:
/// `{"state":0,"errmsg":"数据已处理过...","service_name",...}` with the
/// data's `order_id` and `car_number` when it has them (as text, as the
/// platform's `getString` gives them).
pub(crate) fn already_processed_json(
    service_name: &str,
    data: &serde_json::Value,
) -> serde_json::Value {
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
    answer
}

fn already_processed(service_name: &str, data: &serde_json::Value) -> Response {
    json_answer(
        StatusCode::OK,
        already_processed_json(service_name, data).to_string(),
    )
}

/// Whether `service_name` is a downstream message of the SDK protocol
/// (what a lot answers, rather than uploads).
pub(crate) fn is_downstream(service_name: &str) -> bool {
    INTERFACES.iter().any(|i| {
        i.service_name == Some(service_name)
            && matches!(i.document, Document::Sdk | Document::SdkHttp)
            && i.direction == Dir::Downstream
    })
}

pub(crate) fn one_line(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join("; ")
}
