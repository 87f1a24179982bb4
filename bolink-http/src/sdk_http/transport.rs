//! The SDK-HTTP transport: uploads and answers POSTed to the upload
//! address, downstream messages long-polled from the download address.

use std::time::Duration;

use bolink_sdk::engine::{Frame, Transport, TransportError};

use super::{DOWNLOAD_PATH, NO_MESSAGE, TEST_BASE_URL, UPLOAD_PATH};
use crate::http::{default_client, status_error, Exchange, Poster, DEFAULT_MAX_RESPONSE_BYTES};

/// Where and how the transport talks to the platform.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Base address, e.g. [`TEST_BASE_URL`] or [`super::PRODUCTION_BASE_URL`].
    pub base_url: String,
    /// Timeout of a login, upload or answer, reading the answer included.
    pub request_timeout: Duration,
    /// Timeout of a long poll; longer than the platform's 30 s hold.
    pub poll_timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// The largest answer read; a larger one is an error, the record stays
    /// queued.
    pub max_response_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: TEST_BASE_URL.to_string(),
            request_timeout: Duration::from_secs(10),
            poll_timeout: Duration::from_secs(40),
            connect_timeout: Duration::from_secs(3),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl ClientConfig {
    /// The default configuration against another base address.
    pub fn with_base_url(base_url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            ..ClientConfig::default()
        }
    }

    /// Sets the request timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.request_timeout = timeout;
        self
    }

    /// Sets the long-poll timeout.
    pub fn poll_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.poll_timeout = timeout;
        self
    }

    /// Sets the largest answer read.
    pub fn max_response_bytes(mut self, limit: usize) -> ClientConfig {
        self.max_response_bytes = limit;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.trim_end_matches('/'))
    }
}

/// SDK-HTTP mode's bytes over HTTP.
#[derive(Debug, Clone)]
pub struct SdkHttpTransport {
    config: ClientConfig,
    poster: Poster,
}

impl SdkHttpTransport {
    /// A transport with its own HTTP client.
    pub fn new(config: ClientConfig) -> SdkHttpTransport {
        let poster = Poster::new(
            default_client(config.connect_timeout),
            config.max_response_bytes,
        );
        SdkHttpTransport { config, poster }
    }

    /// Uses `client` (a custom CA, a proxy, a shared connection pool); the
    /// per-request timeouts of the configuration still apply.
    pub fn with_client(mut self, client: reqwest::Client) -> SdkHttpTransport {
        self.poster.set_client(client);
        self
    }

    /// Calls `observer` with every exchange, after its answer arrived.
    pub fn observe(
        mut self,
        observer: impl Fn(Exchange<'_>) + Send + Sync + 'static,
    ) -> SdkHttpTransport {
        self.poster.set_observer(std::sync::Arc::new(observer));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TransportError> {
        let (status, answer) = self
            .poster
            .post(&self.config.url(path), path, body, timeout)
            .await?;
        match status {
            200 => Ok(answer),
            other => Err(status_error(other, &answer)),
        }
    }
}

impl Transport for SdkHttpTransport {
    async fn send(&self, frame: Frame) -> Result<Vec<u8>, TransportError> {
        self.post(UPLOAD_PATH, frame.body, self.config.request_timeout)
            .await
    }

    async fn receive(&self, token: &str) -> Result<Option<Vec<u8>>, TransportError> {
        let body = serde_json::json!({ "token": token })
            .to_string()
            .into_bytes();
        let answer = self
            .post(DOWNLOAD_PATH, body, self.config.poll_timeout)
            .await?;
        let trimmed = answer.trim_ascii();
        if trimmed.is_empty() || trimmed == NO_MESSAGE.as_bytes() {
            return Ok(None);
        }
        Ok(Some(answer))
    }

    async fn answer(&self, frame: Frame) -> Result<Option<Vec<u8>>, TransportError> {
        self.post(UPLOAD_PATH, frame.body, self.config.request_timeout)
            .await
            .map(Some)
    }
}
