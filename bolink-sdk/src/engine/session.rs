//! The engine's session: one token shared by every task, one login at a
//! time, generations so that a refusal seen by one task never ends a newer
//! session another task already opened, and backoff when logins are
//! refused (a refused login with a backlog must not turn into a login
//! storm).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bolink_sign::Key;

use super::events::Event;
use super::transport::{Frame, FrameKind, Transport};
use super::Shared;
use crate::backoff::Backoff;
use crate::logging::elapsed_ms;
use crate::{Credentials, Session, SessionError};
use tracing::field::Empty;
use tracing::Instrument;

/// A token and the login that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub value: String,
    /// Increases with every successful login.
    pub generation: u64,
}

/// Why no token is available now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoToken {
    /// Try again at this time, not before.
    pub until: Instant,
    /// What went wrong, for events and `last_error`.
    pub reason: String,
}

#[derive(Debug)]
struct Current {
    session: Session,
    generation: u64,
}

#[derive(Debug)]
struct Gate {
    backoff: Backoff,
    not_before: Option<Instant>,
    last_problem: String,
}

/// The session of an SDK-mode engine.
#[derive(Debug)]
pub(crate) struct SessionCell {
    current: Mutex<Current>,
    /// Held while logging in, so that logins never overlap.
    gate: tokio::sync::Mutex<Gate>,
}

impl SessionCell {
    pub(crate) fn new(
        credentials: Credentials,
        token_max_age: Duration,
        backoff: Backoff,
    ) -> SessionCell {
        SessionCell {
            current: Mutex::new(Current {
                session: Session::new(credentials).with_token_max_age(token_max_age),
                generation: 0,
            }),
            gate: tokio::sync::Mutex::new(Gate {
                backoff,
                not_before: None,
                last_problem: String::new(),
            }),
        }
    }

    fn current(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn park_id(&self) -> String {
        self.current().session.credentials().park_id.clone()
    }

    pub(crate) fn key(&self) -> Key {
        self.current().session.key().clone()
    }

    /// The live token, if any.
    pub(crate) fn token_now(&self) -> Option<Token> {
        let current = self.current();
        current.session.token(Instant::now()).map(|value| Token {
            value: value.to_string(),
            generation: current.generation,
        })
    }

    /// The live token, logging in first when there is none. Concurrent
    /// callers share one login; while logins are backing off, callers get
    /// [`NoToken`] at once instead of a login attempt.
    pub(crate) async fn token<T: Transport>(&self, shared: &Shared<T>) -> Result<Token, NoToken> {
        if let Some(token) = self.token_now() {
            return Ok(token);
        }
        let mut gate = self.gate.lock().await;
        // Whoever held the gate before may have logged in meanwhile.
        if let Some(token) = self.token_now() {
            return Ok(token);
        }
        let now = Instant::now();
        if let Some(until) = gate.not_before.filter(|&until| until > now) {
            return Err(NoToken {
                until,
                reason: gate.last_problem.clone(),
            });
        }
        let (body, park_id) = {
            let current = self.current();
            (
                current.session.login_request(),
                current.session.credentials().park_id.clone(),
            )
        };
        let span = tracing::info_span!(
            "login",
            direction = "up",
            service_name = "login",
            park_id = park_id.as_str(),
            outcome = Empty,
            duration_ms = Empty,
        );
        self.log_in(shared, &mut gate, body).instrument(span).await
    }

    /// One login exchange and what it leaves (in the login's span).
    async fn log_in<T: Transport>(
        &self,
        shared: &Shared<T>,
        gate: &mut Gate,
        body: Vec<u8>,
    ) -> Result<Token, NoToken> {
        let frame = Frame {
            kind: FrameKind::Login,
            service_name: "login".into(),
            path: None,
            body,
        };
        let started = Instant::now();
        let exchanged = shared.exchange(frame).await;
        let span = tracing::Span::current();
        span.record("duration_ms", elapsed_ms(started));
        let outcome = match exchanged {
            Ok(reply) => {
                let mut current = self.current();
                match current.session.accept_login_reply(&reply, Instant::now()) {
                    Ok(()) => {
                        current.generation += 1;
                        Ok(Token {
                            value: current
                                .session
                                .token(Instant::now())
                                .unwrap_or_default()
                                .to_string(),
                            generation: current.generation,
                        })
                    }
                    Err(SessionError::LoginRefused(errmsg)) => {
                        span.record("outcome", "refused");
                        Err(format!("login refused: {errmsg}"))
                    }
                    Err(other) => {
                        span.record("outcome", "failed");
                        Err(format!("login answer unreadable: {other}"))
                    }
                }
            }
            Err(e) => {
                span.record("outcome", "failed");
                Err(format!("login failed: {e}"))
            }
        };
        match outcome {
            Ok(token) => {
                span.record("outcome", "logged_in");
                gate.backoff.reset();
                gate.not_before = None;
                shared.stats.count_login();
                shared.emit(&Event::LoggedIn {
                    generation: token.generation,
                });
                Ok(token)
            }
            Err(reason) => {
                let wait = gate.backoff.fail();
                let until = Instant::now() + wait;
                gate.not_before = Some(until);
                gate.last_problem = reason.clone();
                shared.stats.count_login_failure();
                shared.emit(&Event::LoginFailed {
                    reason: reason.clone(),
                    retry_in: wait,
                });
                Err(NoToken { until, reason })
            }
        }
    }

    /// The platform refused the token of `generation`: forget it, unless a
    /// newer login already replaced it.
    pub(crate) fn invalidate(&self, generation: u64) -> bool {
        let mut current = self.current();
        if current.generation == generation && current.session.token(Instant::now()).is_some() {
            current.session.expire();
            true
        } else {
            false
        }
    }
}
