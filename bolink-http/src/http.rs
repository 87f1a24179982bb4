//! One HTTP exchange for every HTTP transport: POST a body, read the
//! answer up to a size limit, map failures to the engine's
//! [`TransportError`], and show the exchange to an observer.

use std::sync::Arc;
use std::time::Duration;

use bolink_sdk::engine::TransportError;

/// The content type of every request the clients send.
pub(crate) const CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// The default largest answer read: 1 MiB (the platform's answers are a
/// few hundred bytes; a larger one is a fault, not an answer).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// One HTTP exchange, as seen by an observer.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Exchange<'a> {
    /// The URL path POSTed to.
    pub path: &'a str,
    /// The request body.
    pub request: &'a [u8],
    /// The HTTP status.
    pub status: u16,
    /// The response body.
    pub response: &'a [u8],
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for Exchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("path", &self.path)
            .field("request", &bolink_sdk::Text(self.request))
            .field("status", &self.status)
            .field("response", &bolink_sdk::Text(self.response))
            .finish()
    }
}

/// A callback that sees every exchange (for logs and demos).
pub type Observer = Arc<dyn Fn(Exchange<'_>) + Send + Sync>;

/// POSTs bodies with a client of the caller's choice.
#[derive(Clone)]
pub(crate) struct Poster {
    client: reqwest::Client,
    max_response_bytes: usize,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Poster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poster")
            .field("max_response_bytes", &self.max_response_bytes)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl Poster {
    pub(crate) fn new(client: reqwest::Client, max_response_bytes: usize) -> Poster {
        Poster {
            client,
            max_response_bytes,
            observer: None,
        }
    }

    pub(crate) fn set_client(&mut self, client: reqwest::Client) {
        self.client = client;
    }

    pub(crate) fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// POSTs `body` to `url` (whose path is `path`, for the observer) and
    /// reads the whole answer within `timeout`.
    pub(crate) async fn post(
        &self,
        url: &str,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        let exchange = async {
            let mut response = self
                .client
                .post(url)
                .header("content-type", CONTENT_TYPE)
                .body(body.clone())
                .send()
                .await
                .map_err(|e| failure(e, timeout))?;
            let status = response.status().as_u16();
            let limit = self.max_response_bytes;
            if response
                .content_length()
                .is_some_and(|declared| declared > limit as u64)
            {
                return Err(TransportError::TooLarge { limit });
            }
            let mut answer = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| failure(e, timeout))? {
                if answer.len() + chunk.len() > limit {
                    return Err(TransportError::TooLarge { limit });
                }
                answer.extend_from_slice(&chunk);
            }
            Ok((status, answer))
        };
        // The timeout covers reading the body too: a server that trickles
        // its answer cannot hold the exchange longer than this.
        let started = std::time::Instant::now();
        let (status, answer) = tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(TransportError::Timeout(timeout)))
            .inspect_err(|e| tracing::debug!(path, error = %e, "POST failed"))?;
        // Bodies are envelopes (tokens, signs): never logged here.
        tracing::debug!(
            path,
            status,
            answer_bytes = answer.len(),
            duration_ms = bolink_sdk::logging::elapsed_ms(started),
            "POST answered"
        );
        if let Some(observer) = &self.observer {
            observer(Exchange {
                path,
                request: &body,
                status,
                response: &answer,
            });
        }
        Ok((status, answer))
    }
}

/// The error of a non-200 answer.
pub(crate) fn status_error(status: u16, body: &[u8]) -> TransportError {
    let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    if status == 401 {
        TransportError::TokenRefused(format!("HTTP 401: {body}"))
    } else {
        TransportError::Status { status, body }
    }
}

pub(crate) fn failure(error: reqwest::Error, timeout: Duration) -> TransportError {
    if error.is_timeout() {
        TransportError::Timeout(timeout)
    } else if error.is_connect() {
        TransportError::Connect(error.to_string())
    } else {
        TransportError::Closed(error.to_string())
    }
}

/// A client with the connect timeout set; building fails only when the TLS
/// backend cannot start, and the default client then reports the same
/// problem on first use.
pub(crate) fn default_client(connect_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .build()
        .unwrap_or_default()
}
