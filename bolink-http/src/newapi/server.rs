//! The callback server: Bolink POSTs its calls (payment results, unplated
//! entries, plate status changes, ...) to addresses the vendor configured.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bolink_sdk::logging::elapsed_ms;
use bolink_sdk::newapi::{
    peek_service, CallbackEndpoint, CallbackOutcome, CallbackReply, InboundError, ReplyForm,
};
use bolink_sdk::CallbackHandler;
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::Key;
use tracing::field::Empty;
use tracing::Instrument;

/// The default largest body: 64 KiB (callbacks are a few hundred bytes).
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;
/// The default time for reading a request and answering it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the callback server checks, bounds and answers requests.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CallbackConfig {
    /// The vendor key, how answers are written, and freely chosen
    /// callback addresses.
    pub endpoint: CallbackEndpoint,
    /// The largest body accepted (413 beyond it).
    pub body_limit: usize,
    /// How long reading a request and answering it may take (408 beyond it).
    pub timeout: Duration,
}

impl CallbackConfig {
    /// Checks signs with `key`, answers plain JSON ([`ReplyForm::Plain`]),
    /// bodies up to [`DEFAULT_BODY_LIMIT`], [`DEFAULT_TIMEOUT`] per request.
    pub fn new(key: Key) -> CallbackConfig {
        CallbackConfig {
            endpoint: CallbackEndpoint::new(key),
            body_limit: DEFAULT_BODY_LIMIT,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the largest body accepted (413 beyond it).
    pub fn body_limit(mut self, limit: usize) -> CallbackConfig {
        self.body_limit = limit;
        self
    }

    /// Sets how long reading a request and answering it may take (408
    /// beyond it).
    pub fn timeout(mut self, timeout: Duration) -> CallbackConfig {
        self.timeout = timeout;
        self
    }

    /// Sets how answers are written.
    pub fn reply_form(mut self, form: ReplyForm) -> CallbackConfig {
        self.endpoint = self.endpoint.reply_form(form);
        self
    }

    /// Serves the callback `key` at `path` (for callbacks whose data names
    /// no service_name, such as 6.4's `{notify_url}`); `None` when no
    /// callback has that key.
    pub fn route(mut self, path: impl Into<String>, key: &str) -> Option<CallbackConfig> {
        self.endpoint = self.endpoint.route(path, key)?;
        Some(self)
    }
}

struct Shared<H> {
    handler: H,
    config: CallbackConfig,
}

/// A router that answers every POSTed callback, on any path, through
/// `handler`: decode (JSON or base64), verify, find the callback (data's
/// `service_name`, else the path's last segment or a configured route),
/// validate, dispatch, answer. Mount it as a vendor's callback address
/// (`Router::nest("/bolink", ...)` works too: the path's last segment is
/// what counts).
///
/// Every body is the protocol's answer (`{"state":0,"errmsg":...}` for
/// every error), in the configured [`ReplyForm`]. Statuses:
///
/// | status | when |
/// | --- | --- |
/// | 200 | answered, refused by the handler, an invalid message (answered `state` 0 with every violation: re-sending it cannot help, and the platform reads `state`), a retry of a callback already answered (the same answer, the handler not called again), or a signed callback naming a service_name bolink-types does not specify (answered by the handler's `other_service`, "not supported" by default) |
/// | 400 | neither JSON nor base64, or not an envelope |
/// | 401 | no `sign` (with `WWW-Authenticate: Bolink-Sign`) |
/// | 403 | a sign that does not match |
/// | 404 | no callback at this path, and the data names no service_name |
/// | 409 | a `rand` already used (5.2: a repeated one is an illegal request) |
/// | 405 | not a POST |
/// | 408 | reading and answering took longer than the timeout |
/// | 413 | the body is over the limit |
///
/// Callbacks are answered concurrently, each in its own task: a slow
/// handler holds up only its own call. The timeout covers reading the body
/// and the handler; a handler that outlasts it is cancelled (dropped at its
/// next `.await`) and the platform gets 408 and will call again, so
/// handlers should be idempotent, as the platform's retries require anyway.
/// A handler that panics is answered 500; the server keeps serving.
///
/// Serve it with [`crate::serve::serve`] (header-read and idle timeouts, a
/// connection cap, 413 before reading an oversized body, protocol answers
/// for every error), with the same body limit:
///
/// ```no_run
/// use bolink_http::newapi::{callback_router, CallbackConfig};
/// use bolink_http::serve::{serve, ServeConfig};
/// use bolink_sdk::CallbackHandler;
/// use bolink_sign::Key;
///
/// struct Vendor;
/// impl CallbackHandler for Vendor {}
///
/// # async fn run() -> std::io::Result<()> {
/// let config = CallbackConfig::new(Key::new("8403A41ED5EF20BC"));
/// let serving = ServeConfig::new().body_limit(config.body_limit);
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// serve(listener, callback_router(Vendor, config), serving).await;
/// # Ok(()) }
/// ```
pub fn callback_router<H: CallbackHandler + 'static>(handler: H, config: CallbackConfig) -> Router {
    let shared = Arc::new(Shared { handler, config });
    Router::new().fallback(handle::<H>).with_state(shared)
}

async fn handle<H: CallbackHandler + 'static>(
    State(shared): State<Arc<Shared<H>>>,
    method: Method,
    uri: Uri,
    body: Body,
) -> Response {
    let endpoint = &shared.config.endpoint;
    if method != Method::POST {
        let mut response = protocol_answer(
            StatusCode::METHOD_NOT_ALLOWED,
            endpoint.error_answer("callbacks are POSTed"),
            BodyEncoding::Json,
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let timeout = shared.config.timeout;
    let path = uri.path();
    let span = tracing::info_span!(
        "callback",
        direction = "down",
        path,
        service_name = Empty,
        park_id = Empty,
        order_id = Empty,
        trade_no = Empty,
        sign = Empty,
        outcome = Empty,
        status = Empty,
        duration_ms = Empty,
    );
    let started = std::time::Instant::now();
    let work = answer(shared.clone(), path.to_string(), body).instrument(span.clone());
    let response = match tokio::time::timeout(timeout, work).await {
        Ok(response) => response,
        Err(_) => {
            span.record("outcome", "timeout");
            span.in_scope(|| tracing::warn!(timeout_ms = timeout.as_millis(), "no answer in time"));
            protocol_answer(
                StatusCode::REQUEST_TIMEOUT,
                endpoint.error_answer(&format!("no answer within {} ms", timeout.as_millis())),
                BodyEncoding::Json,
            )
        }
    };
    span.record("status", response.status().as_u16());
    span.record("duration_ms", elapsed_ms(started));
    response
}

async fn answer<H: CallbackHandler + 'static>(
    shared: Arc<Shared<H>>,
    path: String,
    body: Body,
) -> Response {
    let limit = shared.config.body_limit;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        // Over the limit, or the connection broke while reading.
        tracing::Span::current().record("outcome", "too_large");
        tracing::warn!(limit, "callback body over the limit, or unreadable");
        return protocol_answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            shared
                .config
                .endpoint
                .error_answer(&format!("body over {limit} bytes")),
            BodyEncoding::Json,
        );
    };
    // In its own task so that a panicking handler is contained (a
    // JoinError) instead of tearing down the connection; aborted when the
    // caller's timeout drops this future.
    let worker = shared.clone();
    let span = tracing::Span::current();
    let task = AbortOnDrop(tokio::spawn({
        let path = path.clone();
        let bytes = bytes.clone();
        async move {
            worker
                .config
                .endpoint
                .answer(&worker.handler, &path, &bytes)
                .await
        }
        .instrument(span.clone())
    }));
    match task.join().await {
        Ok(reply) => {
            report(&span, &path, &bytes, &reply.outcome);
            reply_response(reply)
        }
        // The handler panicked: a vendor bug, answered as a server error.
        Err(_) => {
            span.record("outcome", "panicked");
            tracing::error!("callback handler panicked; answered 500");
            protocol_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                shared.config.endpoint.error_answer("internal error"),
                BodyEncoding::Json,
            )
        }
    }
}

/// Records a callback's service and outcome in its span, and reports it:
/// answered at `INFO`, every rejection at `WARN` (a missing or forged
/// sign with the path and the service the body names, never the sign).
fn report(span: &tracing::Span, path: &str, body: &[u8], outcome: &CallbackOutcome) {
    let status = status_of(outcome).as_u16();
    match outcome {
        CallbackOutcome::Answered { request } => {
            span.record("service_name", request.key());
            span.record("outcome", "answered");
            tracing::info!(status, "callback answered");
        }
        CallbackOutcome::Refused { request, refusal } => {
            span.record("service_name", request.key());
            span.record("outcome", "refused");
            tracing::info!(
                status,
                errmsg = refusal.errmsg.as_str(),
                "callback answered with a refusal"
            );
        }
        CallbackOutcome::Repeated { request } => {
            span.record("service_name", request.key());
            span.record("outcome", "repeated");
            tracing::info!(status, "callback repeated; answered as before");
        }
        CallbackOutcome::Other {
            message,
            refusal,
            repeated,
        } => {
            span.record("service_name", message.service_name.as_str());
            let label = match (refusal, repeated) {
                (_, true) => "repeated",
                (Some(_), false) => "refused",
                (None, false) => "answered",
            };
            span.record("outcome", label);
            tracing::info!(
                status,
                errmsg = refusal.as_ref().map(|r| r.errmsg.as_str()),
                "callback of another spec {label}"
            );
        }
        CallbackOutcome::Rejected(error) => {
            // Rejected before its interface was known: the service the
            // body claims (unverified, cut to 64 characters).
            let service = match error {
                InboundError::Invalid { key, .. } => Some(key.to_string()),
                InboundError::Replayed { key, .. } => Some(key.clone()),
                InboundError::Unknown { service_name, .. } => service_name.clone(),
                _ => peek_service(body),
            };
            let service = service.unwrap_or_default();
            if !service.is_empty() {
                span.record("service_name", service.as_str());
            }
            let label = match error {
                InboundError::Invalid { .. } => "invalid",
                _ => "rejected",
            };
            span.record("outcome", label);
            match error {
                InboundError::MissingSign | InboundError::WrongSign(_) => tracing::warn!(
                    path,
                    service_name = service.as_str(),
                    status,
                    error = %error,
                    "callback rejected: bad sign"
                ),
                _ => tracing::warn!(
                    path,
                    service_name = service.as_str(),
                    status,
                    error = %error.errmsg(),
                    "callback rejected"
                ),
            }
        }
        _ => {}
    }
}

/// A task handle that aborts its task when dropped (when the request's
/// timeout gives up on it).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The HTTP status that fits a callback's outcome (see [`callback_router`]).
pub fn status_of(outcome: &CallbackOutcome) -> StatusCode {
    match outcome {
        CallbackOutcome::Answered { .. }
        | CallbackOutcome::Refused { .. }
        | CallbackOutcome::Other { .. } => StatusCode::OK,
        CallbackOutcome::Rejected(error) => match error {
            InboundError::Base64(_) | InboundError::Json(_) => StatusCode::BAD_REQUEST,
            InboundError::MissingSign => StatusCode::UNAUTHORIZED,
            InboundError::WrongSign(_) => StatusCode::FORBIDDEN,
            InboundError::Unknown { .. } => StatusCode::NOT_FOUND,
            InboundError::Invalid { .. } => StatusCode::OK,
            InboundError::Replayed { .. } => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        },
        _ => StatusCode::OK,
    }
}

fn reply_response(reply: CallbackReply) -> Response {
    let status = status_of(&reply.outcome);
    let mut response = protocol_answer(status, reply.body, reply.encoding);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bolink-Sign"),
        );
    }
    response
}

fn protocol_answer(status: StatusCode, body: Vec<u8>, encoding: BodyEncoding) -> Response {
    let content_type = match encoding {
        BodyEncoding::Json => "application/json;charset=utf-8",
        BodyEncoding::Base64 => "text/plain;charset=utf-8",
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}
