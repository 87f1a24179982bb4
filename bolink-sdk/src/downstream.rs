//! Answering one downstream message: verify, decode, dispatch, sign.

use bolink_sign::{sdk_http, EnvelopeError, Key, VerifyError};
use bolink_types::catalog::Document;
use bolink_types::schema::ObjectSchema;
use bolink_types::{answer_rules, sdk, DecodeError, Decoded, Report, Role, Slip, INTERFACES};

use crate::answer::{LinkMode, Refusal};
use crate::generated::handler::dispatch;
use crate::invalid::InvalidMessage;
use crate::logging::{payload, short, MessageIds, SIGN_ABSENT, SIGN_MISMATCH, SIGN_OK};
use crate::other::OtherService;
use crate::Handler;

/// A downstream message and the answer to send back.
#[derive(Clone)]
#[non_exhaustive]
pub struct Downstream {
    /// The service the platform called.
    pub service_name: String,
    /// The decoded request, when it was valid.
    pub request: Option<sdk::Request>,
    /// What the request carried in another form than its table gives, read
    /// as the platform's readers read it (`"5"` for 5, a key the table does
    /// not have): warnings about the sender, not reasons to refuse.
    pub slips: Vec<Slip>,
    /// The signed request broke its table: every violation (the handler's
    /// `invalid_message` saw it, and the answer is a refusal).
    pub invalid_request: Option<Report>,
    /// The refusal sent instead of an answer (handler refusal, unsupported
    /// service, an invalid request, or an answer that broke its table).
    pub refusal: Option<Refusal>,
    /// The handler's answer broke its return table (it was not sent; a
    /// refusal went instead): every violation.
    pub invalid_answer: Option<Report>,
    /// The answer's data JSON.
    pub answer: Vec<u8>,
    /// The signed envelope of the answer, to POST to the upload address.
    pub envelope: Vec<u8>,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for Downstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downstream")
            .field("service_name", &self.service_name)
            .field("request", &self.request)
            .field("slips", &self.slips)
            .field("invalid_request", &self.invalid_request)
            .field("refusal", &self.refusal)
            .field("invalid_answer", &self.invalid_answer)
            .field("answer", &crate::Text(&self.answer))
            .field("envelope", &crate::Text(&self.envelope))
            .finish()
    }
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
    mode: LinkMode,
) -> Result<Downstream, DownstreamError> {
    let envelope = sdk_http::Envelope::parse(body).inspect_err(|e| {
        if matches!(e, EnvelopeError::MissingField("sign")) {
            tracing::Span::current().record("sign", SIGN_ABSENT);
        }
    })?;
    let span = tracing::Span::current();
    span.record("service_name", short(&envelope.service_name));
    let verified = envelope.verify(key);
    span.record(
        "sign",
        if verified.is_ok() {
            SIGN_OK
        } else {
            SIGN_MISMATCH
        },
    );
    verified?;
    let service_name = envelope.service_name.to_string();
    let data = envelope.data_bytes();
    if !span.is_disabled() {
        // The park is the session's (in the span already).
        let ids = MessageIds {
            park_id: None,
            ..MessageIds::read(data)
        };
        ids.record(&span);
        tracing::trace!(data = %payload(data), "downstream message");
    }
    // HTTP mode may send a smaller `http_request` table; the `request` table
    // is a superset whose extra fields are optional, so it reads both.
    let mut slips = Vec::new();
    let (request, invalid_request, outcome) =
        match sdk::Request::decode_as_with_slips(&service_name, data) {
            Ok(Decoded {
                message: request,
                slips: read,
            }) => {
                slips = read;
                let outcome = dispatch(handler, request.clone()).await;
                (Some(request), None, outcome)
            }
            Err(DecodeError::Invalid {
                report,
                slips: read,
            }) => {
                slips = read;
                // Signed, so trusted: the application sees it, violations and
                // all, before the platform is told what was wrong.
                let refusal = Refusal::new(format!("invalid request: {}", first_line(&report)));
                handler
                    .invalid_message(InvalidMessage::new(&service_name, data, report.clone()))
                    .await;
                (None, Some(report), Err(refusal))
            }
            // A service of a spec of one's own: signed, so the application
            // sees it, and answers it with a message of that spec.
            Err(DecodeError::UnknownService { .. }) => {
                let outcome = handler
                    .other_service(OtherService::new(&service_name, data))
                    .await
                    .map(|answer| answer.0);
                (None, None, outcome)
            }
            Err(e) => (None, None, Err(refusal_of(&e))),
        };
    let mut done = finish(
        service_name,
        data,
        request,
        invalid_request,
        outcome,
        Keys { key, token },
        mode,
    )?;
    done.slips = slips;
    Ok(done)
}

/// Refuses a downstream message without asking a handler (its handler
/// panicked): the same checks and the same refusal shape as [`answer`].
pub(crate) fn refuse(
    body: &[u8],
    key: &Key,
    token: &str,
    refusal: Refusal,
    mode: LinkMode,
) -> Result<Downstream, DownstreamError> {
    let envelope = sdk_http::Envelope::parse(body)?;
    envelope.verify(key)?;
    let service_name = envelope.service_name.to_string();
    let data = envelope.data_bytes();
    let request = sdk::Request::decode_as(&service_name, data).ok();
    finish(
        service_name,
        data,
        request,
        None,
        Err(refusal),
        Keys { key, token },
        mode,
    )
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
        other => Refusal::new(format!(
            "invalid request: {}",
            other.to_string().lines().next().unwrap_or_default()
        )),
    }
}

struct Keys<'a> {
    key: &'a Key,
    token: &'a str,
}

/// The answer's data JSON (the handler's, checked against its return
/// table, or the refusal written in that table) and its signed envelope.
fn finish(
    service_name: String,
    data: &[u8],
    request: Option<sdk::Request>,
    invalid_request: Option<Report>,
    outcome: Result<Vec<u8>, Refusal>,
    keys: Keys<'_>,
    mode: LinkMode,
) -> Result<Downstream, DownstreamError> {
    let table = return_table(&service_name, mode);
    let mut invalid_answer = None;
    // A handler answers in the table its method returns: the HTTP-mode one
    // where the page has both (the generator's choice).
    let handler_table = return_table(&service_name, LinkMode::Http);
    let outcome = match (outcome, handler_table) {
        (Ok(answer), Some((role, _))) => match checked(&service_name, role, answer, data, mode) {
            Ok(answer) => Ok(answer),
            Err(report) => {
                // Exact out: an answer that breaks its table is never sent.
                let refusal = Refusal::new(format!("invalid answer: {}", first_line(&report)));
                invalid_answer = Some(report);
                Err(refusal)
            }
        },
        (outcome, _) => outcome,
    };
    let (refusal, answer) = match outcome {
        Ok(answer) => (None, answer),
        Err(refusal) => {
            let answer = match table {
                Some((_, schema)) => refusal.to_json(&service_name, schema, data, mode),
                None => serde_json::json!({"service_name": service_name, "state": 0, "errmsg": refusal.errmsg})
                    .to_string()
                    .into_bytes(),
            };
            (Some(refusal), answer)
        }
    };
    let envelope = seal(&service_name, &answer, keys.key, keys.token)?;
    Ok(Downstream {
        service_name,
        request,
        slips: Vec::new(),
        invalid_request,
        refusal,
        invalid_answer,
        answer,
        envelope,
    })
}

/// A handler's answer as it goes out on `mode`'s wire, once it passed its
/// table (the one its type belongs to, checked as written) and the rules
/// that name the request it answers (`request`, the data received): on the
/// SDK's link with the `data_target` the SDK-mode table fixes, in HTTP mode
/// without any.
fn checked(
    service_name: &str,
    role: Role,
    answer: Vec<u8>,
    request: &[u8],
    mode: LinkMode,
) -> Result<Vec<u8>, Report> {
    // Not decodable at all would be the generated encoder's bug, not the
    // handler's; only the table's violations stop the answer.
    match sdk::Message::decode_as(role, service_name, &answer) {
        Err(DecodeError::Invalid { report, .. }) => return Err(report),
        Ok(message) => {
            let answer_json = serde_json::from_slice(&answer).unwrap_or(serde_json::Value::Null);
            let request_json = serde_json::from_slice(request).unwrap_or(serde_json::Value::Null);
            let violations = answer_rules::check(message.schema(), &answer_json, &request_json);
            if !violations.is_empty() {
                return Err(Report { violations });
            }
        }
        Err(_) => {}
    }
    Ok(match mode {
        LinkMode::Sdk => with_data_target(service_name, answer),
        LinkMode::Http => without_data_target(answer),
    })
}

/// The answer with the `data_target` its SDK-mode table fixes, after
/// `service_name` where the tables list it (unchanged when it has one, or
/// the table fixes none).
fn with_data_target(service_name: &str, answer: Vec<u8>) -> Vec<u8> {
    let fixed = return_table(service_name, LinkMode::Sdk).and_then(|(_, table)| {
        table
            .constants
            .iter()
            .find(|c| c.name == "data_target")
            .map(|c| c.value)
    });
    let (Some(fixed), Ok(text)) = (fixed, std::str::from_utf8(&answer)) else {
        return answer;
    };
    match crate::json_object::fields(text) {
        Some(fields) if !fields.iter().any(|(k, _)| k == "data_target") => {
            let value = serde_json::to_string(fixed).unwrap_or_default();
            let mut out: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (k.as_str(), v.get())).collect();
            let at = out
                .iter()
                .position(|(k, _)| *k == "service_name")
                .map_or(0, |i| i + 1);
            out.insert(at, ("data_target", value.as_str()));
            crate::json_object::write(out).into_bytes()
        }
        _ => answer,
    }
}

/// The answer without its `data_target` key ("HTTP模式不传"), every other
/// byte as it was.
fn without_data_target(answer: Vec<u8>) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(&answer) else {
        return answer;
    };
    match crate::json_object::fields(text) {
        Some(fields) if fields.iter().any(|(k, _)| k == "data_target") => {
            crate::json_object::write(
                fields
                    .iter()
                    .filter(|(k, _)| k != "data_target")
                    .map(|(k, v)| (k.as_str(), v.get())),
            )
            .into_bytes()
        }
        _ => answer,
    }
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

/// The table a service answers with on `mode`'s wire: the HTTP-mode return
/// in HTTP mode, the SDK-mode return on the SDK's link, else the other.
fn return_table(service_name: &str, mode: LinkMode) -> Option<(Role, &'static ObjectSchema)> {
    let info = INTERFACES.iter().find(|i| {
        i.service_name == Some(service_name)
            && matches!(i.document, Document::Sdk | Document::SdkHttp)
    })?;
    let order = match mode {
        LinkMode::Http => [Role::HttpReturn, Role::SdkReturn],
        LinkMode::Sdk => [Role::SdkReturn, Role::HttpReturn],
    };
    order
        .iter()
        .find_map(|role| info.roles.iter().find(|r| r.role == *role))
        .map(|r| (r.role, (r.schema)()))
}

/// The first violation, for an errmsg (the refusal builder cuts it to the
/// table's length).
fn first_line(report: &Report) -> String {
    report
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
