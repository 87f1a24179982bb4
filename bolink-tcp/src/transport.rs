//! [`TcpTransport`]: the engine's [`Transport`] over the SDK's TCP link.

use std::sync::{Arc, Mutex};

use bolink_sdk::engine::{Frame, Transport, TransportError};
use bolink_sdk::logging::elapsed_ms;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::field::Empty;
use tracing::Instrument;

use crate::config::TcpConfig;
use crate::frame;
use crate::link::{self, Command, Shared};
use crate::route::Expect;

/// Counters of one transport, since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TcpStats {
    /// Connections established.
    pub connects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Logins the platform accepted on the link.
    pub logins: u64,
    /// Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Heartbeats the platform answered.
    pub heartbeats_answered: u64,
    /// Connections declared dead for unanswered heartbeats.
    pub dead_links: u64,
    /// Connections ended by a frame over the size limit.
    pub oversized_frames: u64,
    /// Connections ended by a frame left unanswered.
    pub timeouts: u64,
    /// Connections ended by an answer that did not fit its frame.
    pub out_of_step: u64,
    /// Connections closed or reset (by the platform, or a failed read or
    /// write).
    pub closed: u64,
    /// Frames that were neither an answer nor a message (dropped).
    pub junk_frames: u64,
    /// Bytes skipped outside frames (junk between frames, unfinished
    /// frames a new one restarted).
    pub skipped_bytes: u64,
    /// Answers that arrived with no frame in flight (dropped).
    pub orphan_answers: u64,
    /// Downstream messages received.
    pub downstream_received: u64,
    /// Downstream messages dropped because the queue was full.
    pub downstream_dropped: u64,
}

/// The SDK's TCP link as a [`Transport`] (see the [crate docs](crate) for
/// the wire and how answers are matched).
///
/// One connection at a time, owned by a background task that is started
/// on first use (or by [`start`](Self::start)) and reconnects with jittered
/// backoff until the last clone of the transport is dropped. Cheap to
/// clone: clones share the link.
#[derive(Debug, Clone)]
pub struct TcpTransport {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
    observer: Mutex<Option<Observer>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

/// One exchange on the link, as an observer sees it: a frame sent and the
/// answer it got (empty for the platform's empty acknowledgement).
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Exchange<'a> {
    /// What the frame was for.
    pub kind: bolink_sdk::engine::FrameKind,
    /// Its service.
    pub service_name: &'a str,
    /// The frame's JSON, as written (without the framing).
    pub request: &'a [u8],
    /// The answer's JSON.
    pub answer: &'a [u8],
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for Exchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("kind", &self.kind)
            .field("service_name", &self.service_name)
            .field("request", &bolink_sdk::Text(self.request))
            .field("answer", &bolink_sdk::Text(self.answer))
            .finish()
    }
}

/// A callback that sees every exchange (for logs and demos).
pub type Observer = Arc<dyn Fn(Exchange<'_>) + Send + Sync>;

impl Drop for Inner {
    fn drop(&mut self) {
        let task = self
            .task
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = task.take() {
            // Ends the connection with it.
            task.abort();
        }
    }
}

impl TcpTransport {
    /// A transport; nothing connects until it is used or started.
    pub fn new(config: TcpConfig) -> TcpTransport {
        TcpTransport {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared::new(config)),
                task: Mutex::new(None),
                observer: Mutex::new(None),
            }),
        }
    }

    /// Calls `observer` with every exchange (login, upload, answer) once
    /// its answer arrived.
    pub fn observe(self, observer: impl Fn(Exchange<'_>) + Send + Sync + 'static) -> TcpTransport {
        *self
            .inner
            .observer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(observer));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TcpConfig {
        &self.inner.shared.config
    }

    /// Counters since the transport was built.
    pub fn stats(&self) -> TcpStats {
        self.inner.shared.stats.snapshot()
    }

    /// Starts the link task now rather than on first use; it connects at
    /// once.
    ///
    /// # Errors
    /// [`TransportError::Unsupported`] outside a Tokio runtime.
    pub fn start(&self) -> Result<(), TransportError> {
        let mut task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if task.is_none() {
            let runtime = tokio::runtime::Handle::try_current()
                .map_err(|_| TransportError::Unsupported("running outside a Tokio runtime"))?;
            *task = Some(runtime.spawn(link::supervise(self.inner.shared.clone())));
        }
        Ok(())
    }

    /// Starts the link if needed and waits until a connection is up (at
    /// most the connect timeout).
    ///
    /// # Errors
    /// [`TransportError::Connect`] when none came up in time.
    pub async fn connect(&self) -> Result<(), TransportError> {
        self.start()?;
        self.inner.shared.connection().await.map(drop)
    }

    /// Writes `frame` once the frame in flight is answered and waits for
    /// its own answer, in a `tcp_frame` span (see `bolink_sdk::logging`).
    async fn exchange(&self, frame: Frame) -> Result<Vec<u8>, TransportError> {
        let expect = Expect::of(&frame);
        let span = tracing::info_span!(
            "tcp_frame",
            kind = ?frame.kind,
            service_name = %frame.service_name,
            order_id = expect.order_id.as_deref(),
            outcome = Empty,
            answer_bytes = Empty,
            duration_ms = Empty,
        );
        let started = std::time::Instant::now();
        let answered = self
            .exchange_as(frame, expect)
            .instrument(span.clone())
            .await;
        span.record("duration_ms", elapsed_ms(started));
        let _in_span = span.enter();
        match &answered {
            Ok(answer) => {
                span.record("outcome", "answered");
                span.record("answer_bytes", answer.len());
                tracing::debug!("frame answered");
            }
            Err(e) => {
                span.record("outcome", outcome_of(e));
                tracing::debug!(error = %e, "frame not answered");
            }
        }
        answered
    }

    async fn exchange_as(&self, frame: Frame, expect: Expect) -> Result<Vec<u8>, TransportError> {
        let bytes = frame::encode(&frame.body).map_err(|_| {
            TransportError::Unsupported("a frame whose JSON holds a raw CR or LF byte")
        })?;
        self.start()?;
        let conn = self.inner.shared.connection().await?;
        let (reply, answer) = oneshot::channel();
        let login = expect.kind == bolink_sdk::engine::FrameKind::Login;
        let command = Command {
            bytes,
            expect,
            reply,
        };
        if conn.commands.send(command).await.is_err() {
            // The connection ended before the frame reached it.
            return Err(if login {
                TransportError::Closed("the connection ended before the login was sent".into())
            } else {
                TransportError::SessionLost("the connection ended; log in on the next one".into())
            });
        }
        let answered = answer
            .await
            .unwrap_or_else(|_| Err(TransportError::Closed("the link task ended".into())));
        if let Ok(answer) = &answered {
            let observer = self
                .inner
                .observer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone();
            if let Some(observer) = observer {
                observer(Exchange {
                    kind: frame.kind,
                    service_name: &frame.service_name,
                    request: &frame.body,
                    answer,
                });
            }
        }
        answered
    }
}

/// The `outcome` of a frame that got no answer.
fn outcome_of(error: &TransportError) -> &'static str {
    match error {
        TransportError::Connect(_) => "connect_failed",
        TransportError::Timeout(_) => "timeout",
        TransportError::Closed(_) => "closed",
        TransportError::TooLarge { .. } => "too_large",
        TransportError::SessionLost(_) => "session_lost",
        TransportError::TokenRefused(_) => "token_refused",
        _ => "failed",
    }
}

impl Transport for TcpTransport {
    /// The SDK's own link: answers carry `data_target` where the tables fix
    /// it ("SDK模式必传").
    fn link_mode(&self) -> bolink_sdk::LinkMode {
        bolink_sdk::LinkMode::Sdk
    }

    /// Sends a login, upload or request and returns its answer.
    ///
    /// A login that succeeds makes this connection the session's; any other
    /// frame must carry that login's token, or it fails with
    /// [`TransportError::SessionLost`] without being written (a new
    /// connection, or a newer login, replaced the session).
    async fn send(&self, frame: Frame) -> Result<Vec<u8>, TransportError> {
        self.exchange(frame).await
    }

    /// The next downstream message of the session `token`: the raw frame
    /// (an envelope, or the cloud's unsigned object) as it arrived, in
    /// order. `Ok(None)` after [`TcpConfig::receive_wait`] without one;
    /// [`TransportError::SessionLost`] when `token` is not the current
    /// connection's login, or the connection ends while waiting. Messages
    /// already received are kept across reconnects and handed to the next
    /// session.
    async fn receive(&self, token: &str) -> Result<Option<Vec<u8>>, TransportError> {
        self.start()?;
        let shared = &self.inner.shared;
        let mut events = shared.subscribe();
        let deadline = tokio::time::Instant::now() + shared.config.receive_wait;
        let Some(epoch) = shared.session_epoch(token) else {
            return Err(TransportError::SessionLost(
                "the token is not the current connection's login".into(),
            ));
        };
        loop {
            events.borrow_and_update();
            if shared.session_epoch(token) != Some(epoch) {
                return Err(TransportError::SessionLost(
                    "the connection or its login changed".into(),
                ));
            }
            if let Some(message) = shared.pop_downstream() {
                return Ok(Some(message));
            }
            match tokio::time::timeout_at(deadline, events.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err(TransportError::Closed("the transport is gone".into())),
                Err(_) => return Ok(None),
            }
        }
    }

    /// Sends the answer to a downstream message. The public server answers
    /// it in turn (`SensorServerHandler.java` lines 348-385: the downstream
    /// services leave `backMesg` empty and line 385 writes it, an empty
    /// frame), so the answer is an exchange like an upload: `Ok(None)` for
    /// the empty acknowledgement, `Ok(Some(status))` for a refusal such as
    /// `error:token无效` for the engine to act on.
    async fn answer(&self, frame: Frame) -> Result<Option<Vec<u8>>, TransportError> {
        let answer = self.exchange(frame).await?;
        Ok((!answer.trim_ascii().is_empty()).then_some(answer))
    }
}
