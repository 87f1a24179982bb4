//! The platform's side of the new API, for the simulator: upstream requests
//! on their URL paths, and calls to a vendor's callback server.

use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bolink_sdk::newapi::{key_of_path, refusal_json};
use bolink_sign::newapi::{decode_body, Envelope};
use bolink_types::{newapi, peek_service_name};

use crate::simulator::state::{Received, Rejection, State};

/// POST on any path that is not SDK-HTTP mode: a new-API upstream request.
pub(crate) async fn upstream(Extract(state): Extract<State>, uri: Uri, body: Body) -> Response {
    let body = match crate::simulator::read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let path = uri.path();
    let json = match decode_body(&body) {
        Ok((json, _)) => json.into_owned(),
        Err(e) => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                path,
                format!("报文格式错误: {e}"),
            )
        }
    };
    let envelope = match Envelope::parse(&json) {
        Ok(envelope) => envelope,
        Err(e) => {
            return reject(
                &state,
                StatusCode::BAD_REQUEST,
                path,
                format!("报文格式错误: {e}"),
            )
        }
    };
    let data = envelope.data_bytes();
    let union_id = envelope
        .union_id
        .and_then(|raw| raw.get().trim_matches('"').parse::<i64>().ok())
        .or_else(|| union_id_in(data));
    let Some(key) = union_id.and_then(|id| state.vendors.get(&id)) else {
        return reject(
            &state,
            StatusCode::OK,
            path,
            "厂商不存在 (unknown union_id)".into(),
        );
    };
    if envelope.verify(key).is_err() {
        return reject(&state, StatusCode::OK, path, "签名错误".into());
    }
    let lookup = peek_service_name(data)
        .ok()
        .flatten()
        .or_else(|| key_of_path(path));
    let Some(lookup) = lookup else {
        return reject(
            &state,
            StatusCode::NOT_FOUND,
            path,
            format!("unknown interface {path}"),
        );
    };
    match newapi::Request::decode_as(&lookup, data) {
        Ok(_) => {
            let value: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
            let park_id = value
                .get("park_id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let ok = answer_for(&lookup).to_string();
            state.books().received.push(Received {
                park_id,
                service_name: lookup,
                data: value,
            });
            (
                StatusCode::OK,
                [("content-type", "application/json;charset=utf-8")],
                ok,
            )
                .into_response()
        }
        Err(bolink_types::DecodeError::UnknownService { .. }) => reject(
            &state,
            StatusCode::NOT_FOUND,
            path,
            format!("unknown interface {lookup}"),
        ),
        Err(e) => {
            let text: Vec<String> = e.to_string().lines().map(String::from).collect();
            reject(&state, StatusCode::OK, path, text.join("; "))
        }
    }
}

/// The simulated platform's answer to an accepted request: its
/// acknowledgement, and for park_check (10.4) a passed entry check, so that
/// the response table's required `data` is there.
fn answer_for(key: &str) -> serde_json::Value {
    match key {
        "park_check" => {
            serde_json::json!({"state": 1, "errmsg": "成功", "data": {"status": 1, "reason": 0}})
        }
        _ => serde_json::json!({"state": 1, "errmsg": "成功"}),
    }
}

fn union_id_in(data: &[u8]) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    match value.get("union_id")? {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn reject(state: &State, status: StatusCode, path: &str, errmsg: String) -> Response {
    state.books().rejected.push(Rejection {
        service_name: path.to_string(),
        reason: errmsg.clone(),
    });
    (
        status,
        [("content-type", "application/json;charset=utf-8")],
        refusal_json(&errmsg),
    )
        .into_response()
}
