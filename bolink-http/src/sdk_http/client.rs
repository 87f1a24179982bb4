//! The charging system's HTTP-mode client: log in, keep the token, upload,
//! long-poll and answer each downstream message through a handler.

use std::future::Future;
use std::time::{Duration, Instant};

use bolink_sdk::login::Ack;
use bolink_sdk::outbox::{Outbox, OutboxError, Record, RetryPolicy, Store};
use bolink_sdk::{Credentials, Downstream, DownstreamError, Handler, Session, SessionError};
use bolink_types::enums::State;
use tokio::sync::Mutex;

use super::{CONTENT_TYPE, DOWNLOAD_PATH, NO_MESSAGE, TEST_BASE_URL, UPLOAD_PATH};

/// Where and how the client talks to the platform.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base address, e.g. [`TEST_BASE_URL`] or [`super::PRODUCTION_BASE_URL`].
    pub base_url: String,
    /// Timeout of a login or upload request.
    pub request_timeout: Duration,
    /// Timeout of a long poll; longer than the platform's 30 s hold.
    pub poll_timeout: Duration,
    /// First wait before reconnecting after a failure.
    pub backoff_initial: Duration,
    /// Longest wait between reconnection attempts.
    pub backoff_max: Duration,
    /// How often [`SdkHttpClient::run`] looks for uploads to send when none is due sooner.
    pub outbox_tick: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: TEST_BASE_URL.to_string(),
            request_timeout: Duration::from_secs(10),
            poll_timeout: Duration::from_secs(40),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            outbox_tick: Duration::from_millis(200),
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
}

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request did not complete (connection refused, timeout, ...).
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
    /// Login, token or acknowledgement problem.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The outbox refused the upload (invalid message) or its store failed.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// A downstream message could not be trusted or read.
    #[error("downstream message dropped: {0}")]
    Downstream(#[from] DownstreamError),
}

/// An SDK-HTTP-mode client for one charging system.
pub struct SdkHttpClient {
    http: reqwest::Client,
    pub(super) config: ClientConfig,
    session: Mutex<Session>,
    observer: Option<Observer>,
    pub(super) outbox: Mutex<Outbox<Box<dyn Store + Send>>>,
    /// Held while sending the outbox, so that the run loop and `upload`
    /// never send the same record twice at once.
    pub(super) flushing: Mutex<()>,
    /// Outcomes of records an `upload` call waits for, left by whichever
    /// flush sent them.
    pub(super) awaited: std::sync::Mutex<std::collections::HashMap<u64, Option<super::Delivery>>>,
}

/// Something the running client did, for logs and dashboards.
#[derive(Debug)]
pub enum Event<'a> {
    /// A downstream message was answered (or refused) through the handler.
    Answered(&'a Downstream),
    /// An upload was acknowledged and left the outbox.
    Delivered(&'a Record),
    /// The platform refused an upload (`state` 0); it left the outbox.
    Rejected(&'a Record, &'a str),
    /// An upload expired in the outbox without being delivered.
    Expired(&'a Record),
    /// A poll, answer or upload failed; it will be retried.
    Error(&'a ClientError),
}

/// One HTTP exchange, as seen by an observer: what was sent where, and what came back.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// The path POSTed to.
    pub path: &'a str,
    /// The request body.
    pub request: &'a [u8],
    /// The HTTP status.
    pub status: u16,
    /// The response body.
    pub response: &'a [u8],
}

/// A callback that sees every exchange (for logs and demos).
pub type Observer = Box<dyn Fn(Exchange<'_>) + Send + Sync>;

impl std::fmt::Debug for SdkHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdkHttpClient")
            .field("config", &self.config)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl SdkHttpClient {
    /// A client that will log in with `credentials`.
    pub fn new(credentials: Credentials, config: ClientConfig) -> SdkHttpClient {
        SdkHttpClient::with_session(Session::new(credentials), config)
    }

    /// A client around a configured session (token lifetime, ...).
    pub fn with_session(session: Session, config: ClientConfig) -> SdkHttpClient {
        SdkHttpClient {
            http: reqwest::Client::new(),
            config,
            session: Mutex::new(session),
            observer: None,
            outbox: Mutex::new(Outbox::in_memory(RetryPolicy::default()).boxed()),
            flushing: Mutex::new(()),
            awaited: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Sends uploads through `outbox` (e.g. a durable
    /// [`RedbStore`](bolink_sdk::outbox::RedbStore) one) instead of the
    /// default in-memory outbox; records left by an earlier run are sent too.
    pub fn with_outbox<S: Store + Send + 'static>(mut self, outbox: Outbox<S>) -> SdkHttpClient {
        self.outbox = Mutex::new(outbox.boxed());
        self
    }

    /// Calls `observer` with every exchange, after its response arrived.
    pub fn observe(
        mut self,
        observer: impl Fn(Exchange<'_>) + Send + Sync + 'static,
    ) -> SdkHttpClient {
        self.observer = Some(Box::new(observer));
        self
    }

    /// Logs in now, replacing any token.
    pub async fn login(&self) -> Result<(), ClientError> {
        let body = self.session.lock().await.login_request();
        let (status, reply) = self
            .post(UPLOAD_PATH, body, self.config.request_timeout)
            .await?;
        if status != 200 {
            return Err(status_error(status, &reply));
        }
        self.session
            .lock()
            .await
            .accept_login_reply(&reply, Instant::now())?;
        Ok(())
    }

    /// One long poll: waits for a downstream message, answers it through the
    /// handler and POSTs the signed answer. `None` when the poll ended empty.
    pub async fn poll_once<H: Handler + ?Sized>(
        &self,
        handler: &H,
    ) -> Result<Option<Downstream>, ClientError> {
        let message = self
            .with_token(
                DOWNLOAD_PATH,
                |session| session.poll_request(Instant::now()),
                self.config.poll_timeout,
            )
            .await?;
        if message.trim_ascii() == NO_MESSAGE.as_bytes() || message.trim_ascii().is_empty() {
            return Ok(None);
        }
        let done = self
            .session
            .lock()
            .await
            .answer(handler, &message, Instant::now())
            .await?;
        let (status, reply) = self
            .post(
                UPLOAD_PATH,
                done.envelope.clone(),
                self.config.request_timeout,
            )
            .await?;
        if status != 200 {
            return Err(status_error(status, &reply));
        }
        Self::read_ack(&reply)?.map_err(SessionError::Refused)?;
        Ok(Some(done))
    }

    /// Until `shutdown` completes: polls and answers downstream messages
    /// (reconnecting with exponential backoff, capped at `backoff_max`, after
    /// failures) and, side by side, sends the outbox's uploads as they fall
    /// due. `on_event` sees everything that happened.
    pub async fn run<H, F>(&self, handler: &H, shutdown: F, on_event: impl FnMut(Event<'_>) + Send)
    where
        H: Handler + ?Sized,
        F: Future<Output = ()>,
    {
        // Both loops report through one callback; they run in this task, so
        // the lock is never contended, only shared.
        let on_event = std::sync::Mutex::new(on_event);
        let emit = |event: Event<'_>| {
            let mut on_event = on_event
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            (*on_event)(event)
        };
        tokio::select! {
            _ = shutdown => {}
            _ = self.poll_loop(handler, &emit) => {}
            _ = self.outbox_loop(&emit) => {}
        }
    }

    async fn poll_loop<H: Handler + ?Sized>(
        &self,
        handler: &H,
        emit: &(impl Fn(Event<'_>) + Sync),
    ) {
        let mut backoff = self.config.backoff_initial;
        loop {
            match self.poll_once(handler).await {
                Ok(done) => {
                    backoff = self.config.backoff_initial;
                    if let Some(done) = &done {
                        emit(Event::Answered(done));
                    }
                }
                Err(e) => {
                    emit(Event::Error(&e));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
            }
        }
    }

    async fn outbox_loop(&self, emit: &(impl Fn(Event<'_>) + Sync)) {
        loop {
            let report = self.flush().await;
            for record in &report.delivered {
                emit(Event::Delivered(record));
            }
            for (record, errmsg) in &report.rejected {
                emit(Event::Rejected(record, errmsg));
            }
            for record in &report.expired {
                emit(Event::Expired(record));
            }
            // Wake for the next due record, and at least every outbox_tick so
            // that uploads enqueued meanwhile go out promptly.
            let wait = self
                .next_due_in_ms()
                .await
                .map(Duration::from_millis)
                .unwrap_or(self.config.outbox_tick)
                .min(self.config.outbox_tick);
            tokio::time::sleep(wait.max(Duration::from_millis(5))).await;
        }
    }

    /// Sends a request built from the session's token; logs in when there is
    /// no token, and again (once) when the platform answers 401.
    pub(super) async fn with_token(
        &self,
        path: &str,
        build: impl Fn(&Session) -> Result<Vec<u8>, SessionError>,
        timeout: Duration,
    ) -> Result<Vec<u8>, ClientError> {
        for attempt in 0..2 {
            let body = {
                let session = self.session.lock().await;
                if session.needs_login(Instant::now()) {
                    drop(session);
                    self.login().await?;
                    build(&*self.session.lock().await)?
                } else {
                    build(&session)?
                }
            };
            let (status, reply) = self.post(path, body, timeout).await?;
            match status {
                200 => return Ok(reply),
                401 if attempt == 0 => self.session.lock().await.expire(),
                _ => return Err(status_error(status, &reply)),
            }
        }
        Err(SessionError::NotLoggedIn.into())
    }

    /// Reads the platform's acknowledgement: `Ok(Err(errmsg))` for `state` 0.
    pub(super) fn read_ack(reply: &[u8]) -> Result<Result<(), String>, ClientError> {
        let ack: Ack = bolink_types::decode(reply).map_err(SessionError::from)?;
        Ok(match ack.state {
            State::Success => Ok(()),
            _ => Err(ack.errmsg.unwrap_or_default()),
        })
    }

    async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let response = self
            .http
            .post(format!("{}{path}", self.config.base_url))
            .header("content-type", CONTENT_TYPE)
            .timeout(timeout)
            .body(body.clone())
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        if let Some(observer) = &self.observer {
            observer(Exchange {
                path,
                request: &body,
                status,
                response: &bytes,
            });
        }
        Ok((status, bytes.to_vec()))
    }
}

fn status_error(status: u16, body: &[u8]) -> ClientError {
    ClientError::Status {
        status,
        body: String::from_utf8_lossy(body).chars().take(200).collect(),
    }
}
