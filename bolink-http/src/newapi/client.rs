//! The new API's upstream client: signed requests to the platform's paths.

use std::time::Duration;

use bolink_sdk::newapi::read_response;
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
    /// The response does not fit the interface's response table.
    #[error("unreadable response: {0}")]
    Response(#[from] DecodeError),
}

/// A client for the new API's upstream interfaces.
#[derive(Debug, Clone)]
pub struct NewApiClient {
    http: reqwest::Client,
    key: Key,
    config: NewApiConfig,
}

impl NewApiClient {
    /// A client signing with the vendor `key`.
    pub fn new(key: Key, config: NewApiConfig) -> NewApiClient {
        NewApiClient {
            http: reqwest::Client::new(),
            key,
            config,
        }
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
        // Messages serialise to a JSON object, which is all `build` checks.
        let data = serde_json::to_string(message).expect("a message serialises to JSON");
        let body = build(&data, &self.key, self.config.union_id, self.config.encoding)
            .expect("a serialised message is a JSON object");
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
