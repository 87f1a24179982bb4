//! An HTTP-mode session: login, the token, its age, and the messages that
//! need it. No I/O: the caller sends the bytes and brings back the replies.

use std::time::{Duration, Instant};

use bolink_sign::{sdk_http, Key};
use bolink_types::enums::State;
use bolink_types::{decode, DecodeError, Message};

use crate::downstream::{self, Downstream, DownstreamError};
use crate::identity::Credentials;
use crate::login::{Ack, Login, LoginReply};
use crate::{Handler, LinkMode};

/// How long a token is trusted before logging in again, unless the platform
/// rejects it earlier. The platform does not publish a lifetime.
pub const DEFAULT_TOKEN_MAX_AGE: Duration = Duration::from_secs(12 * 60 * 60);

/// Why a session step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// There is no valid token: log in first.
    #[error("not logged in")]
    NotLoggedIn,
    /// The platform refused the login.
    #[error("login refused: {0}")]
    LoginRefused(String),
    /// The platform refused an upload.
    #[error("upload refused: {0}")]
    Refused(String),
    /// A reply could not be read.
    #[error("unreadable reply: {0}")]
    BadReply(#[from] DecodeError),
}

/// The state of one charging system's HTTP-mode connection.
#[derive(Debug)]
pub struct Session {
    credentials: Credentials,
    token: Option<(String, Instant)>,
    max_age: Duration,
}

impl Session {
    /// A logged-out session.
    pub fn new(credentials: Credentials) -> Session {
        Session {
            credentials,
            token: None,
            max_age: DEFAULT_TOKEN_MAX_AGE,
        }
    }

    /// Sets how long a token is used before logging in again.
    pub fn with_token_max_age(mut self, max_age: Duration) -> Session {
        self.max_age = max_age;
        self
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The signing key.
    pub fn key(&self) -> &Key {
        &self.credentials.key
    }

    /// The signed `login` envelope to POST.
    pub fn login_request(&self) -> Vec<u8> {
        let mut login = Login::new(
            self.credentials.union_id.clone(),
            self.credentials.park_id.clone(),
        );
        login.local_id = Some(self.credentials.local_id.clone());
        envelope(&login, None, self.key())
    }

    /// Takes the reply to [`login_request`](Self::login_request); on success
    /// the session holds the token from `now`.
    pub fn accept_login_reply(&mut self, body: &[u8], now: Instant) -> Result<(), SessionError> {
        let reply: LoginReply = decode(body)?;
        match (reply.state, reply.token) {
            (State::Success, Some(token)) => {
                self.token = Some((token, now));
                Ok(())
            }
            _ => Err(SessionError::LoginRefused(reply.errmsg.unwrap_or_default())),
        }
    }

    /// The current token, if logged in and not older than the maximum age.
    pub fn token(&self, now: Instant) -> Option<&str> {
        match &self.token {
            Some((token, since)) if now.saturating_duration_since(*since) < self.max_age => {
                Some(token)
            }
            _ => None,
        }
    }

    /// Whether a login is due.
    pub fn needs_login(&self, now: Instant) -> bool {
        self.token(now).is_none()
    }

    /// Forgets the token (the platform rejected it): the next step logs in.
    pub fn expire(&mut self) {
        self.token = None;
    }

    /// The signed envelope of an upload.
    pub fn upload<M: Message>(&self, message: &M, now: Instant) -> Result<Vec<u8>, SessionError> {
        let token = self.token(now).ok_or(SessionError::NotLoggedIn)?;
        Ok(envelope(message, Some(token), self.key()))
    }

    /// The signed envelope of an upload already encoded (from the outbox).
    pub fn upload_encoded(
        &self,
        service_name: &str,
        data: &[u8],
        now: Instant,
    ) -> Result<Vec<u8>, SessionError> {
        let token = self.token(now).ok_or(SessionError::NotLoggedIn)?;
        let text = std::str::from_utf8(data)
            .map_err(|_| SessionError::Refused("stored data is not UTF-8".into()))?;
        sdk_http::build(service_name, Some(token), text, self.key())
            .map_err(|e| SessionError::Refused(format!("stored data is not a JSON object: {e}")))
    }

    /// The body of a long-poll request.
    pub fn poll_request(&self, now: Instant) -> Result<Vec<u8>, SessionError> {
        let token = self.token(now).ok_or(SessionError::NotLoggedIn)?;
        Ok(serde_json::json!({ "token": token })
            .to_string()
            .into_bytes())
    }

    /// Reads the platform's acknowledgement of an upload or answer.
    pub fn accept_ack(&self, body: &[u8]) -> Result<(), SessionError> {
        let ack: Ack = decode(body)?;
        match ack.state {
            State::Success => Ok(()),
            _ => Err(SessionError::Refused(ack.errmsg.unwrap_or_default())),
        }
    }

    /// Verifies, decodes and answers one downstream envelope through the
    /// handler, in HTTP mode; the result holds the signed answer to POST back.
    pub async fn answer<H: Handler + ?Sized>(
        &self,
        handler: &H,
        body: &[u8],
        now: Instant,
    ) -> Result<Downstream, DownstreamError> {
        self.answer_in(handler, body, now, LinkMode::Http).await
    }

    /// [`answer`](Self::answer) for the wire `mode`: on the SDK's link the
    /// answer carries the tables' `data_target`, in HTTP mode it does not.
    pub async fn answer_in<H: Handler + ?Sized>(
        &self,
        handler: &H,
        body: &[u8],
        now: Instant,
        mode: LinkMode,
    ) -> Result<Downstream, DownstreamError> {
        let token = self.token(now).ok_or(DownstreamError::NotLoggedIn)?;
        downstream::answer(handler, body, self.key(), token, mode).await
    }
}

fn envelope<M: Message>(message: &M, token: Option<&str>, key: &Key) -> Vec<u8> {
    // A message encodes to a UTF-8 JSON object, which is all `build` checks.
    let data = String::from_utf8(message.encode()).expect("serde_json writes UTF-8");
    sdk_http::build(M::SERVICE_NAME, token, &data, key)
        .expect("an encoded message is a JSON object")
}
