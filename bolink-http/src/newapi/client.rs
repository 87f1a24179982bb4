//! The new API's upstream client: signed requests to the platform's paths.

use std::time::Duration;

use std::sync::Arc;

use bolink_sdk::newapi::read_response;
use bolink_sdk::outbox::{Outbox, OutboxError, RetryPolicy, Store};
use tokio::sync::Mutex;

use crate::clock::now_ms;
use crate::sdk_http::{Delivery, FlushReport};
use bolink_sign::newapi::{build, BodyEncoding};
use bolink_sign::Key;
use bolink_types::catalog::Document;
use bolink_types::{newapi, DecodeError, Object, INTERFACES};

/// The test platform (`https://beta.bolink.club/unionapi/...`).
pub const TEST_BASE_URL: &str = "https://beta.bolink.club";
/// The production platform (`https://s.bolink.club/unionapi/...`).
pub const PRODUCTION_BASE_URL: &str = "https://s.bolink.club";

/// Where and how the client talks to the platform.
#[derive(Debug, Clone)]
pub struct NewApiConfig {
    /// Base address, e.g. [`TEST_BASE_URL`].
    pub base_url: String,
    /// The vendor account, sent beside `data` where interfaces want it.
    pub union_id: Option<i64>,
    /// Plain JSON (what public clients send) or base64 (what the older book documents).
    pub encoding: BodyEncoding,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl NewApiConfig {
    /// JSON bodies and a 10 s timeout against `base_url`.
    pub fn new(base_url: impl Into<String>) -> NewApiConfig {
        NewApiConfig {
            base_url: base_url.into(),
            union_id: None,
            encoding: BodyEncoding::Json,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a request got no usable response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NewApiError {
    /// The interface has no URL path in the spec; use [`NewApiClient::send_to`].
    #[error("no URL path is known for {0:?}")]
    NoPath(String),
    /// The request did not complete.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The platform answered with an unexpected HTTP status.
    #[error("HTTP status {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The body, for the log.
        body: String,
    },
    /// The message could not be written as a JSON object.
    #[error("cannot encode the message: {0}")]
    Encode(String),
    /// The outbox refused the upload (invalid message) or its store failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The response does not fit the interface's response table.
    #[error("unreadable response: {0}")]
    Response(#[from] DecodeError),
}

/// A client for the new API's upstream interfaces.
#[derive(Clone)]
pub struct NewApiClient {
    http: reqwest::Client,
    key: Key,
    config: NewApiConfig,
    outbox: Arc<Mutex<Outbox<Box<dyn Store + Send>>>>,
    /// Held while sending the outbox, so no record is sent twice at once.
    flushing: Arc<Mutex<()>>,
}

impl std::fmt::Debug for NewApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl NewApiClient {
    /// A client signing with the vendor `key`.
    pub fn new(key: Key, config: NewApiConfig) -> NewApiClient {
        NewApiClient {
            http: reqwest::Client::new(),
            key,
            config,
            outbox: Arc::new(Mutex::new(
                Outbox::in_memory(RetryPolicy::default()).boxed(),
            )),
            flushing: Arc::new(Mutex::new(())),
        }
    }

    /// Sends uploads through `outbox` (a durable one, say) instead of the
    /// default in-memory outbox.
    pub fn with_outbox<S: Store + Send + 'static>(mut self, outbox: Outbox<S>) -> NewApiClient {
        self.outbox = Arc::new(Mutex::new(outbox.boxed()));
        self
    }

    /// Validates and stores an upload of the interface `key` (service_name
    /// or path) in the outbox, then sends what is due. Once this returns
    /// `Ok`, the upload is retried until the platform answers it.
    pub async fn upload<M: Object>(&self, key: &str, message: &M) -> Result<Delivery, NewApiError> {
        message
            .validate()
            .map_err(|report| NewApiError::Outbox(OutboxError::Invalid(report)))?;
        path_of(key)?;
        let data = serde_json::to_vec(message).map_err(|e| NewApiError::Encode(e.to_string()))?;
        let record = self
            .outbox
            .lock()
            .await
            .enqueue_encoded(key, data, now_ms())?;
        let report = self.flush().await;
        if let Some(done) = report.delivered.into_iter().find(|r| r.id == record.id) {
            return Ok(Delivery::Acknowledged(done));
        }
        if let Some((done, why)) = report.rejected.into_iter().find(|(r, _)| r.id == record.id) {
            return Ok(Delivery::Rejected(done, why));
        }
        Ok(Delivery::Queued(record))
    }

    /// Sends every due upload once, oldest first, and reports expired ones.
    pub async fn flush(&self) -> FlushReport {
        let _one_at_a_time = self.flushing.lock().await;
        let mut report = FlushReport::default();
        let due = self.outbox.lock().await.due(now_ms());
        for record in due {
            let sent = match path_of(&record.service_name) {
                Ok(path) => self.post(path, &record.data).await,
                Err(e) => Err(e),
            };
            let mut outbox = self.outbox.lock().await;
            // Outbox errors are storage errors: the record stays pending.
            match sent.map(|body| acknowledgement(&body)) {
                Ok(Ok(())) => report.delivered.extend(outbox.acknowledge(record.id).ok()),
                Ok(Err(errmsg)) => report
                    .rejected
                    .extend(outbox.acknowledge(record.id).ok().map(|r| (r, errmsg))),
                Err(e) => report
                    .retrying
                    .extend(outbox.retry_later(record.id, &e.to_string(), now_ms()).ok()),
            }
        }
        if let Ok(expired) = self.outbox.lock().await.take_expired(now_ms()) {
            report.expired = expired;
        }
        report
    }

    /// How many uploads wait in the outbox.
    pub async fn pending_uploads(&self) -> usize {
        self.outbox.lock().await.len()
    }

    /// Sends the message of the interface whose spec key (service_name or
    /// path) is `key` to its URL path; returns its typed response.
    pub async fn send<M: Object>(
        &self,
        key: &str,
        message: &M,
    ) -> Result<newapi::Response, NewApiError> {
        let path = INTERFACES
            .iter()
            .find(|i| {
                i.document == Document::Newapi
                    && (i.service_name == Some(key) || i.url_path == Some(key))
            })
            .and_then(|i| i.url_path)
            .ok_or_else(|| NewApiError::NoPath(key.to_string()))?;
        let body = self.send_to(path, message).await?;
        Ok(read_response(key, &body)?)
    }

    /// Signs `message` and POSTs it to `path`; returns the response body.
    pub async fn send_to<M: Object>(
        &self,
        path: &str,
        message: &M,
    ) -> Result<Vec<u8>, NewApiError> {
        let data = serde_json::to_vec(message).map_err(|e| NewApiError::Encode(e.to_string()))?;
        self.post(path, &data).await
    }

    /// Signs the data JSON and POSTs it to `path`; the body of a 200 answer.
    async fn post(&self, path: &str, data: &[u8]) -> Result<Vec<u8>, NewApiError> {
        // Data comes from serde_json or from the outbox's store, which could
        // be damaged: both are checked rather than trusted.
        let data = std::str::from_utf8(data).map_err(|e| NewApiError::Encode(e.to_string()))?;
        let body = build(data, &self.key, self.config.union_id, self.config.encoding)
            .map_err(|e| NewApiError::Encode(e.to_string()))?;
        let response = self
            .http
            .post(format!("{}{path}", self.config.base_url))
            .header("content-type", "application/json;charset=utf-8")
            .timeout(self.config.timeout)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?.to_vec();
        if status != 200 {
            return Err(NewApiError::Status {
                status,
                body: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            });
        }
        Ok(bytes)
    }
}

/// The URL path of the new-API interface whose spec key is `key`.
fn path_of(key: &str) -> Result<&'static str, NewApiError> {
    INTERFACES
        .iter()
        .find(|i| {
            i.document == Document::Newapi
                && (i.service_name == Some(key) || i.url_path == Some(key))
        })
        .and_then(|i| i.url_path)
        .ok_or_else(|| NewApiError::NoPath(key.to_string()))
}

/// `Ok` for a `state` 1 answer, `Err(errmsg)` otherwise.
fn acknowledgement(body: &[u8]) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match value.get("state").and_then(|s| s.as_i64()) {
        Some(1) => Ok(()),
        _ => Err(value
            .get("errmsg")
            .and_then(|e| e.as_str())
            .unwrap_or("no state 1 in the answer")
            .to_string()),
    }
}
