//! The charging system's HTTP-mode client: log in, keep the token, upload,
//! long-poll and answer each downstream message through a handler.

use std::future::Future;
use std::time::{Duration, Instant};

use bolink_sdk::{Credentials, Downstream, DownstreamError, Handler, Session, SessionError};
use bolink_types::Message;
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
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: TEST_BASE_URL.to_string(),
            request_timeout: Duration::from_secs(10),
            poll_timeout: Duration::from_secs(40),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
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
    /// A downstream message could not be trusted or read.
    #[error("downstream message dropped: {0}")]
    Downstream(#[from] DownstreamError),
}

/// An SDK-HTTP-mode client for one charging system.
pub struct SdkHttpClient {
    http: reqwest::Client,
    config: ClientConfig,
    session: Mutex<Session>,
    observer: Option<Observer>,
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
        }
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

    /// Signs and POSTs an upload, logging in first when needed and once more
    /// when the platform rejects the token; `Ok` once the platform accepted it.
    pub async fn upload<M: Message>(&self, message: &M) -> Result<(), ClientError> {
        self.with_token(
            UPLOAD_PATH,
            |session| session.upload(message, Instant::now()),
            self.config.request_timeout,
        )
        .await
        .and_then(|reply| Ok(self.accept_ack(&reply)?))
    }

    /// One long poll: waits for a downstream message, answers it through the
    /// handler and POSTs the signed answer. `None` when the poll ended empty.
    pub async fn poll_once<H: Handler + ?Sized>(
        &self,
        handler: &mut H,
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
            .answer(handler, &message, Instant::now())?;
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
        self.accept_ack(&reply)?;
        Ok(Some(done))
    }

    /// Polls and answers until `shutdown` completes, reconnecting with
    /// exponential backoff (capped at `backoff_max`) after failures.
    /// `on_event` sees every answered message and every error.
    pub async fn run<H, F>(
        &self,
        handler: &mut H,
        shutdown: F,
        mut on_event: impl FnMut(Result<&Downstream, &ClientError>),
    ) where
        H: Handler + ?Sized,
        F: Future<Output = ()>,
    {
        tokio::pin!(shutdown);
        let mut backoff = self.config.backoff_initial;
        loop {
            let step = tokio::select! {
                _ = &mut shutdown => return,
                step = self.poll_once(handler) => step,
            };
            match step {
                Ok(done) => {
                    backoff = self.config.backoff_initial;
                    if let Some(done) = &done {
                        on_event(Ok(done));
                    }
                }
                Err(e) => {
                    on_event(Err(&e));
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
            }
        }
    }

    /// Sends a request built from the session's token; logs in when there is
    /// no token, and again (once) when the platform answers 401.
    async fn with_token(
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

    fn accept_ack(&self, reply: &[u8]) -> Result<(), SessionError> {
        // Reading the ack needs no session state beyond the type.
        bolink_types::decode::<bolink_sdk::login::Ack>(reply)
            .map_err(SessionError::from)
            .and_then(|ack| match ack.state {
                bolink_types::enums::State::Success => Ok(()),
                _ => Err(SessionError::Refused(ack.errmsg.unwrap_or_default())),
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
