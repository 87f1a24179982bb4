//! Answering one downstream message: verify, decode, dispatch, sign.

use bolink_sign::{sdk_http, EnvelopeError, Key, VerifyError};
use bolink_types::{sdk, DecodeError, INTERFACES};

use crate::answer::Refusal;
use crate::generated::handler::dispatch;
use crate::Handler;

/// A downstream message and the answer to send back.
#[derive(Debug, Clone)]
pub struct Downstream {
    /// The service the platform called.
    pub service_name: String,
    /// The decoded request, when it was valid.
    pub request: Option<sdk::Request>,
    /// The refusal sent instead of an answer (handler refusal, unsupported
    /// service, or an invalid request).
    pub refusal: Option<Refusal>,
    /// The answer's data JSON.
    pub answer: Vec<u8>,
    /// The signed envelope of the answer, to POST to the upload address.
    pub envelope: Vec<u8>,
}

/// Why a downstream message was not answered at all.
///
/// An answer is sent for anything that carries a valid sign (a refusal when
/// the request is invalid); these errors are for messages that cannot be
/// trusted or read as an envelope.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DownstreamError {
    /// There is no session token to answer with.
    #[error("not logged in")]
    NotLoggedIn,
    /// The body is not an SDK-HTTP envelope.
    #[error("not an envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The sign does not match the data and key.
    #[error("bad sign: {0}")]
    Sign(#[from] VerifyError),
}

pub(crate) async fn answer<H: Handler + ?Sized>(
    handler: &H,
    body: &[u8],
    key: &Key,
    token: &str,
) -> Result<Downstream, DownstreamError> {
    let envelope = sdk_http::Envelope::parse(body)?;
    envelope.verify(key)?;
    let service_name = envelope.service_name.to_string();
    let data = envelope.data_bytes();
    // HTTP mode may send a smaller `http_request` table; the `request` table
    // is a superset whose extra fields are optional, so it reads both.
    let (request, outcome) = match sdk::Request::decode_as(&service_name, data) {
        Ok(request) => {
            let outcome = dispatch(handler, request.clone()).await;
            (Some(request), outcome)
        }
        Err(e) => (None, Err(refusal_of(&e))),
    };
    finish(service_name, data, request, outcome, key, token)
}

/// Refuses a downstream message without asking a handler (its handler
/// panicked): the same checks and the same refusal shape as [`answer`].
pub(crate) fn refuse(
    body: &[u8],
    key: &Key,
    token: &str,
    refusal: Refusal,
) -> Result<Downstream, DownstreamError> {
    let envelope = sdk_http::Envelope::parse(body)?;
    envelope.verify(key)?;
    let service_name = envelope.service_name.to_string();
    let data = envelope.data_bytes();
    let request = sdk::Request::decode_as(&service_name, data).ok();
    finish(service_name, data, request, Err(refusal), key, token)
}

/// The service_name of a downstream envelope, for reports about it.
pub(crate) fn service_name_of(body: &[u8]) -> Option<String> {
    sdk_http::Envelope::parse(body)
        .ok()
        .map(|envelope| envelope.service_name.to_string())
}

fn refusal_of(error: &DecodeError) -> Refusal {
    match error {
        DecodeError::UnknownService { .. } => Refusal::not_supported(),
        other => Refusal::new(format!("invalid request: {}", first_line(other))),
    }
}

/// The answer's data JSON (the handler's, or the refusal in the service's
/// return table) and its signed envelope.
fn finish(
    service_name: String,
    data: &[u8],
    request: Option<sdk::Request>,
    outcome: Result<Vec<u8>, Refusal>,
    key: &Key,
    token: &str,
) -> Result<Downstream, DownstreamError> {
    let (refusal, answer) = match outcome {
        Ok(answer) => (None, answer),
        Err(refusal) => {
            let answer = match return_schema(&service_name) {
                Some(schema) => refusal.to_json(&service_name, schema, data),
                None => serde_json::json!({"service_name": service_name, "state": 0, "errmsg": refusal.errmsg})
                    .to_string()
                    .into_bytes(),
            };
            (Some(refusal), answer)
        }
    };
    let envelope = seal(&service_name, &answer, key, token)?;
    Ok(Downstream {
        service_name,
        request,
        refusal,
        answer,
        envelope,
    })
}

/// The signed envelope of an answer's data JSON (also to re-sign it with a
/// new token after a re-login).
pub(crate) fn seal(
    service_name: &str,
    answer: &[u8],
    key: &Key,
    token: &str,
) -> Result<Vec<u8>, DownstreamError> {
    // Answers are written by serde_json (handlers' messages, refusals).
    let text = String::from_utf8_lossy(answer);
    Ok(sdk_http::build(service_name, Some(token), &text, key)?)
}

/// The table a service answers with: its HTTP-mode return, else its SDK return.
fn return_schema(service_name: &str) -> Option<&'static bolink_types::schema::ObjectSchema> {
    use bolink_types::catalog::Document;
    use bolink_types::Role;
    let info = INTERFACES.iter().find(|i| {
        i.service_name == Some(service_name)
            && matches!(i.document, Document::Sdk | Document::SdkHttp)
    })?;
    [Role::HttpReturn, Role::SdkReturn]
        .iter()
        .find_map(|role| info.roles.iter().find(|r| r.role == *role))
        .map(|r| (r.schema)())
}

fn first_line(e: &DecodeError) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(40)
        .collect()
}
