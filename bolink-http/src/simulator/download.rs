//! `POST /bpd/download.do`: the long poll for downstream messages.

use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::state::State;
use crate::sdk_http::NO_MESSAGE;

pub(crate) async fn download(Extract(state): Extract<State>, body: Body) -> Response {
    let body = match super::upload::read_body(&state, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    #[derive(serde::Deserialize)]
    struct Poll {
        token: String,
    }
    let Ok(poll) = serde_json::from_slice::<Poll>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            [("content-type", "application/json;charset=utf-8")],
            r#"{"state":0,"errmsg":"error:报文格式错误"}"#,
        )
            .into_response();
    };
    let Some(park_id) = state.session_park(&poll.token) else {
        return (
            super::upload::token_status(&state),
            [("content-type", "application/json;charset=utf-8")],
            r#"{"state":0,"errmsg":"error:token无效"}"#,
        )
            .into_response();
    };
    let park = &state.parks[&park_id];
    // One poller per park at a time; a second waits its turn, as a queue would.
    let mut queue = park.queue_rx.lock().await;
    match tokio::time::timeout(state.config.poll_hold, queue.recv()).await {
        Ok(Some(message)) => (
            StatusCode::OK,
            [("content-type", "application/json;charset=utf-8")],
            message,
        )
            .into_response(),
        _ => (StatusCode::OK, NO_MESSAGE).into_response(),
    }
}
