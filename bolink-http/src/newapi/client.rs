//! The new API's upstream client: signed requests to the platform's paths.

use std::time::Duration;

use bolink_sdk::engine::{
    Dialect, Engine, EngineBuilder, EngineConfig, EngineError, Frame, FrameKind, Ticket, Transport,
    TransportError,
};
use bolink_sdk::logging::{elapsed_ms, MessageIds};
use bolink_sdk::newapi::{read_reply, url_path_of, Reply, ReplyError, RequestError};
use bolink_sdk::outbox::Store;
use bolink_sign::newapi::BodyEncoding;
use bolink_sign::Key;
use bolink_types::newapi;
use tracing::field::Empty;
use tracing::Instrument;

use crate::http::{default_client, status_error, Exchange, Poster, DEFAULT_MAX_RESPONSE_BYTES};

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
#[non_exhaustive]
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
    /// The largest answer read; a larger one is an error (an upload stays
    /// queued).
    pub max_response_bytes: usize,
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
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Sets the body encoding.
    pub fn encoding(mut self, encoding: BodyEncoding) -> NewApiConfig {
        self.encoding = encoding;
        self
    }

    /// Sets the vendor account sent beside `data`.
    pub fn union_id(mut self, union_id: i64) -> NewApiConfig {
        self.union_id = Some(union_id);
        self
    }

    /// Sets the timeout of one request.
    pub fn timeout(mut self, timeout: Duration) -> NewApiConfig {
        self.timeout = timeout;
        self
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
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NewApiError {
    /// The interface has no URL path in the spec; use [`NewApiClient::post`].
    #[error("no URL path is known for {0:?}")]
    NoPath(String),
    /// The message breaks the spec (nothing was sent).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The request did not complete, or was answered with a status other
    /// than 200.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The answer is unreadable, wrongly signed, or breaks the response table.
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// The engine did not take the upload (invalid, store failure,
    /// shutting down).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The new API's bytes over HTTP: each frame POSTed to its interface's path.
#[derive(Debug, Clone)]
pub struct NewApiTransport {
    config: NewApiConfig,
    poster: Poster,
}

impl NewApiTransport {
    /// A transport with its own HTTP client.
    pub fn new(config: NewApiConfig) -> NewApiTransport {
        let poster = Poster::new(
            default_client(config.connect_timeout),
            config.max_response_bytes,
        );
        NewApiTransport { config, poster }
    }

    /// Uses `client` (a custom CA, a proxy, a shared pool); the configured
    /// timeout still applies per request.
    pub fn with_client(mut self, client: reqwest::Client) -> NewApiTransport {
        self.poster.set_client(client);
        self
    }

    /// Calls `observer` with every exchange, after its answer arrived.
    pub fn observe(
        mut self,
        observer: impl Fn(Exchange<'_>) + Send + Sync + 'static,
    ) -> NewApiTransport {
        self.poster.set_observer(std::sync::Arc::new(observer));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &NewApiConfig {
        &self.config
    }

    /// POSTs a body to `path`; the body of a 200 answer.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        let (status, answer) = self
            .poster
            .post(&self.config.url(path), path, body, self.config.timeout)
            .await?;
        match status {
            200 => Ok(answer),
            other => Err(status_error(other, &answer)),
        }
    }
}

impl Transport for NewApiTransport {
    async fn send(&self, frame: Frame) -> Result<Vec<u8>, TransportError> {
        let path = frame.path.ok_or(TransportError::Unsupported(
            "a new-API frame without a URL path",
        ))?;
        self.post(path, frame.body).await
    }
}

/// A client for the new API's upstream interfaces: direct requests
/// ([`send`](Self::send), for queries) and uploads through the engine's
/// outbox ([`upload`](Self::upload), for what must not be lost; run the
/// engine with [`Engine::run_uploads`]).
#[derive(Debug, Clone)]
pub struct NewApiClient {
    engine: Engine<NewApiTransport>,
    key: Key,
    union_id: Option<i64>,
    encoding: BodyEncoding,
}

/// Builds a [`NewApiClient`] (its outbox store, events, engine settings).
#[derive(Debug)]
pub struct NewApiClientBuilder {
    engine: EngineBuilder<NewApiTransport>,
    key: Key,
    union_id: Option<i64>,
    encoding: BodyEncoding,
}

impl NewApiClientBuilder {
    /// Keeps the outbox in `store` (a durable one, say).
    pub fn store(mut self, store: impl Store) -> NewApiClientBuilder {
        self.engine = self.engine.store(store);
        self
    }

    /// Calls `sink` with every engine [`Event`](bolink_sdk::engine::Event).
    pub fn on_event(
        mut self,
        sink: impl Fn(&bolink_sdk::engine::Event) + Send + Sync + 'static,
    ) -> NewApiClientBuilder {
        self.engine = self.engine.on_event(sink);
        self
    }

    /// Sets the engine's configuration (retries, pacing, ...).
    pub fn engine_config(mut self, config: EngineConfig) -> NewApiClientBuilder {
        self.engine = self.engine.config(config);
        self
    }

    /// The client.
    pub fn build(self) -> NewApiClient {
        NewApiClient {
            engine: self.engine.build(),
            key: self.key,
            union_id: self.union_id,
            encoding: self.encoding,
        }
    }
}

impl NewApiClient {
    /// A client signing with the vendor `key`, with an in-memory outbox.
    pub fn new(key: Key, config: NewApiConfig) -> NewApiClient {
        NewApiClient::builder(key, config).build()
    }

    /// Starts building a client over `transport`'s configuration.
    pub fn builder(key: Key, config: NewApiConfig) -> NewApiClientBuilder {
        NewApiClient::builder_over(key, NewApiTransport::new(config))
    }

    /// Starts building a client over a transport set up by the caller
    /// (its own `reqwest::Client`, an observer).
    pub fn builder_over(key: Key, transport: NewApiTransport) -> NewApiClientBuilder {
        let (union_id, encoding) = (transport.config().union_id, transport.config().encoding);
        let dialect = Dialect::NewApi {
            key: key.clone(),
            union_id,
            encoding,
        };
        NewApiClientBuilder {
            engine: Engine::builder(transport, dialect),
            key,
            union_id,
            encoding,
        }
    }

    /// The engine (run it with [`Engine::run_uploads`] to send the outbox).
    pub fn engine(&self) -> &Engine<NewApiTransport> {
        &self.engine
    }

    /// The configuration.
    pub fn config(&self) -> &NewApiConfig {
        self.engine.transport().config()
    }

    /// Signs `request`, POSTs it to its interface's URL path and reads the
    /// platform's answer (`state`, `errmsg`, and the typed response where
    /// the interface has a response table). A `state` 0 answer is `Ok`:
    /// look at [`Reply::is_success`]. Not queued: for queries, whose answer
    /// is wanted now.
    ///
    /// Each call is a `newapi_request` span (see `bolink_sdk::logging`).
    pub async fn send(&self, request: impl Into<newapi::Request>) -> Result<Reply, NewApiError> {
        let request = request.into();
        let span = tracing::info_span!(
            "newapi_request",
            direction = "up",
            service_name = request.key(),
            park_id = Empty,
            order_id = Empty,
            trade_no = Empty,
            sign = Empty,
            outcome = Empty,
            duration_ms = Empty,
        );
        if !span.is_disabled() {
            MessageIds::read(&request.encode()).record(&span);
        }
        let started = std::time::Instant::now();
        let sent = self.send_in_span(request).instrument(span.clone()).await;
        span.record("duration_ms", elapsed_ms(started));
        let _in_span = span.enter();
        match &sent {
            Ok(reply) => {
                span.record("sign", if reply.signed { "ok" } else { "absent" });
                if reply.is_success() {
                    span.record("outcome", "answered");
                    tracing::info!(state = reply.state, "answered");
                } else {
                    span.record("outcome", "refused");
                    tracing::warn!(
                        state = reply.state,
                        errmsg = reply.errmsg.as_deref().unwrap_or_default(),
                        "refused by the platform"
                    );
                }
            }
            Err(e) => {
                if matches!(e, NewApiError::Reply(ReplyError::WrongSign(_))) {
                    span.record("sign", "mismatch");
                }
                span.record("outcome", "failed");
                tracing::warn!(error = %e, "request failed");
            }
        }
        sent
    }

    async fn send_in_span(&self, request: newapi::Request) -> Result<Reply, NewApiError> {
        let key = request.key();
        let path = url_path_of(key).ok_or_else(|| NewApiError::NoPath(key.to_string()))?;
        let body =
            bolink_sdk::newapi::request_body(&request, &self.key, self.union_id, self.encoding)?;
        let frame = Frame {
            kind: FrameKind::Request,
            service_name: key.to_string(),
            path: Some(path),
            body,
        };
        let answer = self.engine.transport().send(frame).await?;
        Ok(read_reply(key, &answer, &self.key)?)
    }

    /// POSTs an already built body to `path`; the body of a 200 answer.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> Result<Vec<u8>, NewApiError> {
        Ok(self.engine.transport().post(path, body).await?)
    }

    /// Checks `request` against its table and stores it in the outbox;
    /// the engine sends it (at least once) until the platform readably
    /// takes or refuses it.
    pub async fn upload(&self, request: impl Into<newapi::Request>) -> Result<Ticket, NewApiError> {
        let request = request.into();
        Ok(self
            .engine
            .upload_data(request.key(), request.encode())
            .await?)
    }
}
