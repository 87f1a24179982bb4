//! `POST /bpd/download.do`: the long poll for downstream messages, one
//! queue per charging-system instance (the token says which).

use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

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
    let session = state.session_of(&poll.token);
    let mailbox = session.and_then(|s| {
        let instance = (s.park_id, s.local_id);
        state.books().mailboxes.get(&instance).cloned()
    });
    let Some(mailbox) = mailbox else {
        return (
            super::upload::token_status(&state),
            [("content-type", "application/json;charset=utf-8")],
            r#"{"state":0,"errmsg":"error:token无效"}"#,
        )
            .into_response();
    };
    let deadline = Instant::now() + state.config.poll_hold;
    let mut queue = mailbox.rx.lock().await;
    loop {
        match tokio::time::timeout_at(deadline, queue.recv()).await {
            Ok(Some(queued)) => {
                // A message whose driver gave up is dropped unsent: nobody
                // would read its answer.
                if queued.taken.send(()).is_err() {
                    continue;
                }
                return (
                    StatusCode::OK,
                    [("content-type", "application/json;charset=utf-8")],
                    queued.body,
                )
                    .into_response();
            }
            _ => return (StatusCode::OK, NO_MESSAGE).into_response(),
        }
    }
}
