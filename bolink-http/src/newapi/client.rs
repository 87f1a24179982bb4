//! The new API's upstream client: signed requests to the platform's paths.

use std::sync::Arc;
use std::time::Duration;

use bolink_sdk::newapi::{read_reply, url_path_of, Reply, ReplyError, RequestError};
use bolink_sdk::outbox::{Outbox, OutboxError, RetryPolicy, Store};
use bolink_sign::newapi::{build, BodyEncoding};
use bolink_sign::Key;
use bolink_types::newapi;
use tokio::sync::Mutex;

use crate::clock::now_ms;
use crate::sdk_http::{Delivery, FlushReport};

/// The test platform (`https://beta.bolink.club/unionapi/...`).
pub const TEST_BASE_URL: &str = "https://beta.bolink.club";
/// The production platform (`https://s.bolink.club/unionapi/...`).
pub const PRODUCTION_BASE_URL: &str = "https://s.bolink.club";
/// The test cloud host serving `/zld/...` paths (3.11 uploaddurationinfo).
pub const TEST_CLOUD_BASE_URL: &str = "https://test.bolink.club";
/// The production cloud host serving `/zld/...` paths.
pub const PRODUCTION_CLOUD_BASE_URL: &str = "https://yun.bolink.club";

/// Where and how the client talks to the platform.
#[derive(Debug, Clone)]
pub struct NewApiConfig {
    /// Base address of `/unionapi/...` paths, e.g. [`TEST_BASE_URL`].
    pub base_url: String,
    /// Base address of `/zld/...` paths, e.g. [`TEST_CLOUD_BASE_URL`].
    pub cloud_base_url: String,
    /// The vendor account, sent beside `data` (unsigned) when set; the
    /// interfaces that want it inside `data` carry it in the message.
    pub union_id: Option<i64>,
    /// Plain JSON (what public clients send) or base64 (what the older book documents).
    pub encoding: BodyEncoding,
    /// Timeout of one whole request.
    pub timeout: Duration,
    /// Timeout of establishing the connection.
    pub connect_timeout: Duration,
}

impl NewApiConfig {
    /// JSON bodies, 10 s per request (3 s to connect), every path against
    /// `base_url` (a simulator, say).
    pub fn new(base_url: impl Into<String>) -> NewApiConfig {
        let base_url = base_url.into();
        NewApiConfig {
            cloud_base_url: base_url.clone(),
            base_url,
            union_id: None,
            encoding: BodyEncoding::Json,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
        }
    }

    /// The documented test hosts.
    pub fn test() -> NewApiConfig {
        NewApiConfig {
            cloud_base_url: TEST_CLOUD_BASE_URL.into(),
            ..NewApiConfig::new(TEST_BASE_URL)
        }
    }

    /// The documented production hosts.
    pub fn production() -> NewApiConfig {
        NewApiConfig {
            cloud_base_url: PRODUCTION_CLOUD_BASE_URL.into(),
            ..NewApiConfig::new(PRODUCTION_BASE_URL)
        }
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        let base = if path.starts_with("/zld/") {
            &self.cloud_base_url
        } else {
            &self.base_url
        };
        format!("{}{path}", base.trim_end_matches('/'))
    }
}

/// Why a request got no usable response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NewApiError {
    /// The interface has no URL path in the spec; use [`NewApiClient::post`].
    #[error("no URL path is known for {0:?}")]
    NoPath(String),
    /// The message breaks the spec (nothing was sent).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The request did not complete (connect, timeout, reset).
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The platform answered with a status other than 200.
    #[error("HTTP status {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The start of the body, for the log.
        body: String,
    },
    /// The message could not be written as a JSON object.
    #[error("cannot encode the message: {0}")]
    Encode(String),
    /// The outbox refused the upload (invalid message) or its store failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The answer is unreadable, wrongly signed, or breaks the response table.
    #[error(transparent)]
    Reply(#[from] ReplyError),
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
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            // Building fails only when the TLS backend cannot start; the
            // default client reports the same problem on first use.
            .unwrap_or_default();
        NewApiClient {
            http,
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

    /// The configuration.
    pub fn config(&self) -> &NewApiConfig {
        &self.config
    }

    /// Signs `request`, POSTs it to its interface's URL path and reads the
    /// platform's answer (`state`, `errmsg`, and the typed response where
    /// the interface has a response table). A `state` 0 answer is `Ok`:
    /// look at [`Reply::is_success`].
    pub async fn send(&self, request: impl Into<newapi::Request>) -> Result<Reply, NewApiError> {
        let request = request.into();
        let key = request.key();
        let path = url_path_of(key).ok_or_else(|| NewApiError::NoPath(key.to_string()))?;
        let body = bolink_sdk::newapi::request_body(
            &request,
            &self.key,
            self.config.union_id,
            self.config.encoding,
        )?;
        let answer = self.post(path, body).await?;
        Ok(read_reply(key, &answer, &self.key)?)
    }

    /// POSTs an already built body to `path`; the body of a 200 answer.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>, NewApiError> {
        let response = self
            .http
            .post(self.config.url(path))
            .header("content-type", "application/json;charset=utf-8")
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

    /// Validates and stores an upload in the outbox, then sends what is
    /// due. Once this returns `Ok`, the upload is retried until the platform
    /// answers it.
    pub async fn upload(
        &self,
        request: impl Into<newapi::Request>,
    ) -> Result<Delivery, NewApiError> {
        let request = request.into();
        request
            .validate()
            .map_err(|report| NewApiError::Outbox(OutboxError::Invalid(report)))?;
        let key = request.key();
        url_path_of(key).ok_or_else(|| NewApiError::NoPath(key.to_string()))?;
        let record = self
            .outbox
            .lock()
            .await
            .enqueue_encoded(key, request.encode(), now_ms())?;
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
            let sent = self.send_stored(&record.service_name, &record.data).await;
            let mut outbox = self.outbox.lock().await;
            // Outbox errors are storage errors: the record stays pending.
            match sent {
                Ok(reply) if reply.is_success() => {
                    report.delivered.extend(outbox.acknowledge(record.id).ok())
                }
                Ok(reply) => {
                    let errmsg = reply
                        .errmsg
                        .unwrap_or_else(|| "no state 1 in the answer".into());
                    report
                        .rejected
                        .extend(outbox.acknowledge(record.id).ok().map(|r| (r, errmsg)))
                }
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

    /// Signs stored data JSON of interface `key` and sends it.
    async fn send_stored(&self, key: &str, data: &[u8]) -> Result<Reply, NewApiError> {
        let path = url_path_of(key).ok_or_else(|| NewApiError::NoPath(key.to_string()))?;
        // Data comes from the outbox's store, which could be damaged: it is
        // checked rather than trusted.
        let data = std::str::from_utf8(data).map_err(|e| NewApiError::Encode(e.to_string()))?;
        let body = build(data, &self.key, self.config.union_id, self.config.encoding)
            .map_err(|e| NewApiError::Encode(e.to_string()))?;
        let answer = self.post(path, body).await?;
        Ok(read_reply(key, &answer, &self.key)?)
    }
}
