//! Playing Bolink calling a vendor's new-API callback server: sign the
//! callback with the vendor's key, POST it as JSON or base64, read the
//! answer (bounded) and judge it against the callback's response table,
//! where the page has one.

use std::time::Duration;

use bolink_sdk::newapi::{read_reply, request_body, ReplyError};
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::Key;
use bolink_types::newapi;

use super::observe::{Direction, Exchange, Link};
use super::state::State;
use super::verdict::Verdict;

/// The largest answer read from a callback server: 64 KiB (answers are a
/// few hundred bytes; more is a fault, not an answer).
pub const CALLBACK_ANSWER_LIMIT: usize = 64 * 1024;

/// What a vendor's callback server made of a callback
/// (`POST /_simulator/callback`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct CallbackReport {
    /// The HTTP status; `None` when no answer came.
    pub status: Option<u16>,
    /// The answer's body as text (lossy UTF-8), at most
    /// [`CALLBACK_ANSWER_LIMIT`] bytes of it; `None` when no answer came.
    pub body: Option<String>,
    /// What the answer amounts to.
    pub verdict: Verdict,
    /// Every violation of the answer against the response table (or of its
    /// envelope), as `path: problem`.
    pub violations: Vec<String>,
    /// Why no answer came.
    pub reason: Option<String>,
    /// Whether the answer was a signed envelope (its sign checked).
    pub signed: bool,
}

/// One callback to make.
pub(crate) struct Callback<'a> {
    pub url: &'a str,
    pub request: &'a newapi::Request,
    pub encoding: BodyEncoding,
    pub key: &'a Key,
    pub timeout: Duration,
}

/// Calls the vendor and judges the answer.
pub(crate) async fn call(state: &State, callback: Callback<'_>) -> CallbackReport {
    let report = run(state, &callback).await;
    let park_id = serde_json::to_value(callback.request)
        .ok()
        .and_then(|v| v.get("park_id").and_then(|p| p.as_str()).map(String::from));
    let outcome = match report.verdict {
        Verdict::NoAnswer => format!("no_answer: {}", report.reason.clone().unwrap_or_default()),
        Verdict::Answered => "answered".to_string(),
        other => format!("{}: {}", other.as_str(), report.violations.join("; ")),
    };
    state.emit(Exchange::new(
        Direction::Down,
        Link::NewApi,
        park_id.as_deref(),
        None,
        callback.request.key(),
        outcome,
    ));
    report
}

fn no_answer(reason: String) -> CallbackReport {
    CallbackReport {
        status: None,
        body: None,
        verdict: Verdict::NoAnswer,
        violations: Vec::new(),
        reason: Some(reason),
        signed: false,
    }
}

async fn run(state: &State, callback: &Callback<'_>) -> CallbackReport {
    let body = match request_body(callback.request, callback.key, None, callback.encoding) {
        Ok(body) => body,
        // The caller validated the request; an encoding failure is a bug
        // of the message type, reported rather than hidden.
        Err(e) => return no_answer(format!("the callback could not be built: {e}")),
    };
    let sent = state
        .http
        .post(callback.url)
        .header("content-type", crate::sdk_http::CONTENT_TYPE)
        .timeout(callback.timeout)
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return no_answer(format!("the call failed: {e}")),
    };
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    let mut cut = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = CALLBACK_ANSWER_LIMIT - bytes.len();
                if chunk.len() > room {
                    bytes.extend_from_slice(&chunk[..room]);
                    cut = true;
                    break;
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return no_answer(format!("the answer broke off (HTTP {status}): {e}")),
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let answered = |verdict, violations, signed| CallbackReport {
        status: Some(status),
        body: Some(text.clone()),
        verdict,
        violations,
        reason: None,
        signed,
    };
    if cut {
        return answered(
            Verdict::Invalid,
            vec![format!("(message): over {CALLBACK_ANSWER_LIMIT} bytes")],
            false,
        );
    }
    let key = callback.request.key();
    match read_reply(key, &bytes, callback.key) {
        Ok(reply) => {
            let mut violations = Vec::new();
            if newapi::Response::KEYS.contains(&key) {
                if let Err(e) = newapi::Response::decode_as(key, &reply.json) {
                    violations = violation_lines(&e);
                }
            }
            let verdict = match reply.state {
                Some(1) if violations.is_empty() => Verdict::Answered,
                Some(0) => Verdict::Refused,
                _ => {
                    if violations.is_empty() {
                        violations.push("state: missing, or neither 0 nor 1".into());
                    }
                    Verdict::Invalid
                }
            };
            answered(verdict, violations, reply.signed)
        }
        Err(ReplyError::Invalid(e)) => answered(Verdict::Invalid, violation_lines(&e), false),
        Err(ReplyError::WrongSign(e)) => {
            answered(Verdict::Invalid, vec![format!("sign: {e}")], true)
        }
        Err(e) => answered(Verdict::Invalid, vec![format!("(message): {e}")], false),
    }
}

fn violation_lines(error: &bolink_types::DecodeError) -> Vec<String> {
    match error.report() {
        Some(report) => report.violations.iter().map(|v| v.to_string()).collect(),
        None => vec![format!("(message): {error}")],
    }
}
