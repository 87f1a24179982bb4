//! The link: one connection at a time, owned by a background task that
//! reconnects with jittered backoff, and per connection an actor that owns
//! the socket, writes frames one exchange at a time, routes what it reads,
//! and beats.
//!
//! **One exchange in flight.** The public server handles every frame it
//! reads in a thread pool (`SensorServerHandler.java` lines 66-67,
//! `es.execute`), so answers to frames sent back to back may come back in
//! any order, and its refusals of the envelope and the token name no
//! service and no order (lines 172-293). Answers can therefore only be
//! matched by position: a frame is written only once the previous one was
//! answered (answers to downstream messages included: the server answers
//! those too, with an empty frame). An answer is also checked against the
//! frame it is taken for ([`Expect::mismatch`]); one that echoes another
//! order means the link is out of step, and so does a timeout
//! (a late answer would be taken for the next frame's): both close the
//! connection.
//!
//! **A session per connection.** The server ties a login to its channel
//! (`NettyChannelMap.add(key, ctx.channel())`, line 253) and logs the lot
//! out when the channel closes (`channelInactive` -> `logout`, lines
//! 441-453). A frame is therefore only written on the connection whose
//! login issued the token it carries; any other fails with
//! `SessionLost`, and the engine logs in again on the current connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bolink_sdk::backoff::Backoff;
use bolink_sdk::engine::{FrameKind, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use bolink_sdk::logging::elapsed_ms;
use tracing::field::Empty;
use tracing::Instrument;

use crate::config::TcpConfig;
use crate::frame::{self, Beat, FrameDecoder, FrameError, Inbound};
use crate::route::{route, Answer, Expect, Route};
use crate::TcpStats;

/// What callers and the link task share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: TcpConfig,
    state: Mutex<State>,
    /// Bumped on every change callers may wait for: a connection up or
    /// down, a login, a failed attempt, a downstream message.
    events: watch::Sender<u64>,
    downstream: Mutex<VecDeque<Vec<u8>>>,
    pub stats: Counters,
}

#[derive(Debug, Default)]
struct State {
    conn: Option<Conn>,
    /// Failed connection attempts so far, and the last reason.
    failures: u64,
    last_error: Option<String>,
}

/// The current connection, as callers see it.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub epoch: u64,
    pub commands: mpsc::Sender<Command>,
    /// The token of the login that succeeded on this connection.
    token: Option<String>,
}

/// One frame to write and the caller waiting for its answer.
#[derive(Debug)]
pub(crate) struct Command {
    pub bytes: Vec<u8>,
    pub expect: Expect,
    pub reply: oneshot::Sender<Result<Vec<u8>, TransportError>>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connects: AtomicU64,
    pub connect_failures: AtomicU64,
    pub logins: AtomicU64,
    pub heartbeats_sent: AtomicU64,
    pub heartbeats_answered: AtomicU64,
    pub dead_links: AtomicU64,
    pub oversized_frames: AtomicU64,
    pub timeouts: AtomicU64,
    pub out_of_step: AtomicU64,
    pub closed: AtomicU64,
    pub junk_frames: AtomicU64,
    pub skipped_bytes: AtomicU64,
    pub orphan_answers: AtomicU64,
    pub downstream_received: AtomicU64,
    pub downstream_dropped: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> TcpStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TcpStats {
            connects: get(&self.connects),
            connect_failures: get(&self.connect_failures),
            logins: get(&self.logins),
            heartbeats_sent: get(&self.heartbeats_sent),
            heartbeats_answered: get(&self.heartbeats_answered),
            dead_links: get(&self.dead_links),
            oversized_frames: get(&self.oversized_frames),
            timeouts: get(&self.timeouts),
            out_of_step: get(&self.out_of_step),
            closed: get(&self.closed),
            junk_frames: get(&self.junk_frames),
            skipped_bytes: get(&self.skipped_bytes),
            orphan_answers: get(&self.orphan_answers),
            downstream_received: get(&self.downstream_received),
            downstream_dropped: get(&self.downstream_dropped),
        }
    }
}

impl Shared {
    pub(crate) fn new(config: TcpConfig) -> Shared {
        Shared {
            config,
            state: Mutex::new(State::default()),
            events: watch::channel(0).0,
            downstream: Mutex::new(VecDeque::new()),
            stats: Counters::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Vec<u8>>> {
        self.downstream
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn changed(&self) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }

    /// The connection now, waiting up to the connect timeout for one.
    pub(crate) async fn connection(&self) -> Result<Conn, TransportError> {
        let mut events = self.subscribe();
        let limit = self.config.connect_timeout;
        let deadline = Instant::now() + limit;
        let failures_before = self.state().failures;
        loop {
            events.borrow_and_update();
            {
                let state = self.state();
                if let Some(conn) = &state.conn {
                    return Ok(conn.clone());
                }
                // An attempt made while this caller waited failed: say so
                // now rather than at the deadline.
                if state.failures > failures_before {
                    return Err(TransportError::Connect(
                        state.last_error.clone().unwrap_or_default(),
                    ));
                }
            }
            match tokio::time::timeout_at(deadline, events.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err(TransportError::Closed("the transport is gone".into())),
                Err(_) => {
                    let last = self.state().last_error.clone();
                    return Err(TransportError::Connect(match last {
                        Some(e) => format!("not connected within {limit:?} (last attempt: {e})"),
                        None => format!("not connected within {limit:?}"),
                    }));
                }
            }
        }
    }

    /// The epoch of the connection on which `token` was issued, if it is
    /// the current connection's session.
    pub(crate) fn session_epoch(&self, token: &str) -> Option<u64> {
        self.state()
            .conn
            .as_ref()
            .filter(|conn| conn.token.as_deref() == Some(token))
            .map(|conn| conn.epoch)
    }

    pub(crate) fn pop_downstream(&self) -> Option<Vec<u8>> {
        self.queue().pop_front()
    }

    fn push_downstream(&self, message: Vec<u8>) {
        bump(&self.stats.downstream_received);
        {
            let mut queue = self.queue();
            while queue.len() >= self.config.downstream_queue.max(1) {
                queue.pop_front();
                bump(&self.stats.downstream_dropped);
            }
            queue.push_back(message);
        }
        self.changed();
    }

    fn set_token(&self, epoch: u64, token: &str) {
        if let Some(conn) = self.state().conn.as_mut().filter(|c| c.epoch == epoch) {
            conn.token = Some(token.to_string());
        }
        bump(&self.stats.logins);
        self.changed();
    }
}

/// The link task: connects, runs the connection, reconnects with backoff;
/// runs until aborted (when the transport is dropped).
pub(crate) async fn supervise(shared: Arc<Shared>) {
    let mut backoff = Backoff::new(shared.config.reconnect_backoff);
    let mut epoch = 0u64;
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        let span = tracing::info_span!(
            "tcp_connect",
            address = shared.config.address.as_str(),
            attempt,
            outcome = Empty,
            duration_ms = Empty,
        );
        let started = std::time::Instant::now();
        let connected = tokio::time::timeout(
            shared.config.connect_timeout,
            TcpStream::connect(shared.config.address.as_str()),
        )
        .instrument(span.clone())
        .await;
        span.record("duration_ms", elapsed_ms(started));
        let failure = match connected {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(format!("{}: {e}", shared.config.address)),
            Err(_) => Err(format!(
                "{}: no connection within {:?}",
                shared.config.address, shared.config.connect_timeout
            )),
        };
        let stream = match failure {
            Ok(stream) => {
                span.record("outcome", "connected");
                span.in_scope(|| tracing::info!(epoch = epoch + 1, "connected"));
                stream
            }
            Err(reason) => {
                span.record("outcome", "failed");
                let wait = backoff.fail();
                span.in_scope(|| {
                    tracing::warn!(
                        reason = reason.as_str(),
                        retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        "cannot connect; trying again"
                    )
                });
                failed(&shared, reason);
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        drop(span);
        attempt = 0;
        // Frames are small and each waits for its answer: Nagle would only
        // delay them.
        let _ = stream.set_nodelay(true);
        epoch += 1;
        let (commands, rx) = mpsc::channel(64);
        {
            let mut state = shared.state();
            state.conn = Some(Conn {
                epoch,
                commands,
                token: None,
            });
        }
        bump(&shared.stats.connects);
        shared.changed();
        let (read, write) = stream.into_split();
        let mut connection = Connection::new(&shared, epoch, rx, write);
        let link =
            tracing::debug_span!("tcp_link", address = shared.config.address.as_str(), epoch);
        let end = connection.run(read).instrument(link).await;
        let logged_in = connection.token.is_some();
        {
            let mut state = shared.state();
            if state.conn.as_ref().is_some_and(|c| c.epoch == epoch) {
                state.conn = None;
            }
            state.last_error = Some(end.to_string());
        }
        shared.changed();
        connection.finish(&end);
        if logged_in {
            backoff.reset();
        }
        let wait = backoff.fail();
        match end {
            End::Gone => tracing::debug!(epoch, "transport dropped; connection closed"),
            end => tracing::warn!(
                epoch,
                reason = %end,
                reconnect_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "connection lost; reconnecting"
            ),
        }
        tokio::time::sleep(wait).await;
    }
}

fn failed(shared: &Shared, reason: String) {
    {
        let mut state = shared.state();
        state.failures += 1;
        state.last_error = Some(reason);
    }
    bump(&shared.stats.connect_failures);
    shared.changed();
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Closed or reset by the platform, or a read or write failed.
    Closed(String),
    /// A frame over the limit arrived.
    TooLarge(usize),
    /// The frame in flight got no answer in time.
    Timeout(Duration),
    /// Heartbeats went unanswered.
    Dead(u32),
    /// An answer did not fit the frame in flight.
    OutOfStep(String),
    /// The transport was dropped.
    Gone,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Closed(why) => write!(f, "connection closed: {why}"),
            End::TooLarge(limit) => write!(f, "a frame over {limit} bytes arrived"),
            End::Timeout(limit) => write!(f, "no answer within {limit:?}"),
            End::Dead(missed) => write!(f, "{missed} heartbeats unanswered: link dead"),
            End::OutOfStep(why) => write!(f, "out of step: {why}"),
            End::Gone => write!(f, "transport dropped"),
        }
    }
}

/// The frame written and not yet answered.
#[derive(Debug)]
struct Pending {
    expect: Expect,
    reply: oneshot::Sender<Result<Vec<u8>, TransportError>>,
    deadline: Instant,
}

#[derive(Debug)]
struct Heartbeat {
    next: Instant,
    /// A heartbeat was sent and not yet answered.
    outstanding: bool,
    /// The span of the heartbeat outstanding, and when it was sent.
    span: Option<(tracing::Span, Instant)>,
    /// Heartbeats in a row that went unanswered.
    missed: u32,
}

/// One connection's actor.
struct Connection<'a> {
    shared: &'a Shared,
    epoch: u64,
    rx: mpsc::Receiver<Command>,
    write: OwnedWriteHalf,
    /// Frames waiting for the one in flight to be answered.
    queue: VecDeque<Command>,
    pending: Option<Pending>,
    token: Option<String>,
    beat: Option<Heartbeat>,
}

impl<'a> Connection<'a> {
    fn new(
        shared: &'a Shared,
        epoch: u64,
        rx: mpsc::Receiver<Command>,
        write: OwnedWriteHalf,
    ) -> Connection<'a> {
        Connection {
            shared,
            epoch,
            rx,
            write,
            queue: VecDeque::new(),
            pending: None,
            token: None,
            beat: None,
        }
    }

    fn config(&self) -> &TcpConfig {
        &self.shared.config
    }

    async fn run(&mut self, mut read: OwnedReadHalf) -> End {
        let mut decoder = FrameDecoder::new(self.config().max_frame_bytes);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if let Err(end) = self.start_next().await {
                return end;
            }
            let deadline = self.pending.as_ref().map(|p| p.deadline);
            let next_beat = self.beat.as_ref().map(|b| b.next);
            tokio::select! {
                // What arrived first: an answer that came in time is never
                // taken for a timeout, nor a heartbeat answer for a miss.
                biased;
                read = read.read(&mut buf) => match read {
                    Ok(0) => return End::Closed("closed by the platform".into()),
                    Ok(n) => {
                        decoder.push(&buf[..n]);
                        let skipped = decoder.skipped();
                        let drained = self.drain(&mut decoder);
                        self.shared.stats.skipped_bytes.fetch_add(
                            decoder.skipped() - skipped,
                            Ordering::Relaxed,
                        );
                        if let Err(end) = drained {
                            return end;
                        }
                        // A platform that never stops writing must not
                        // keep the deadline and the heartbeat from
                        // their turn (the read branch comes first).
                        let now = Instant::now();
                        if self.pending.as_ref().is_some_and(|p| p.deadline <= now) {
                            return End::Timeout(self.config().request_timeout);
                        }
                        if self.beat.as_ref().is_some_and(|b| b.next <= now) {
                            if let Err(end) = self.heartbeat().await {
                                return end;
                            }
                        }
                    }
                    Err(e) => return End::Closed(e.to_string()),
                },
                command = self.rx.recv() => match command {
                    Some(command) => self.queue.push_back(command),
                    None => return End::Gone,
                },
                _ = sleep_until(deadline), if deadline.is_some() => {
                    return End::Timeout(self.config().request_timeout);
                }
                _ = sleep_until(next_beat), if next_beat.is_some() => {
                    if let Err(end) = self.heartbeat().await {
                        return end;
                    }
                }
            }
        }
    }

    /// Writes the next queued frame unless one is in flight.
    async fn start_next(&mut self) -> Result<(), End> {
        while self.pending.is_none() {
            let Some(command) = self.queue.pop_front() else {
                return Ok(());
            };
            // Its caller gave up (the engine's own timeout, a shutdown):
            // nothing is written for nobody.
            if command.reply.is_closed() {
                continue;
            }
            if command.expect.kind != FrameKind::Login {
                let refused = match (&self.token, &command.expect.token) {
                    (None, _) => Some("not logged in on this connection"),
                    (Some(ours), Some(theirs)) if ours == theirs => None,
                    (Some(_), _) => Some("the token is not this connection's login"),
                };
                if let Some(why) = refused {
                    let _ = command
                        .reply
                        .send(Err(TransportError::SessionLost(why.into())));
                    continue;
                }
            }
            if let Some(limit) = self.config().max_send_bytes {
                // The three bytes of framing are not part of the line.
                if command.bytes.len().saturating_sub(3) > limit {
                    let _ = command.reply.send(Err(TransportError::TooLarge { limit }));
                    continue;
                }
            }
            match self.write_frame(&command.bytes).await {
                Ok(()) => {
                    self.pending = Some(Pending {
                        expect: command.expect,
                        reply: command.reply,
                        deadline: Instant::now() + self.config().request_timeout,
                    });
                }
                Err(end) => {
                    let _ = command.reply.send(Err(error_for(&end, self.config())));
                    return Err(end);
                }
            }
        }
        Ok(())
    }

    async fn write_frame(&mut self, bytes: &[u8]) -> Result<(), End> {
        let limit = self.config().request_timeout;
        match tokio::time::timeout(limit, self.write.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::Closed(e.to_string())),
            // The platform stopped reading: out of step as much as an
            // unanswered frame.
            Err(_) => Err(End::Timeout(limit)),
        }
    }

    /// Routes every complete frame the decoder holds.
    fn drain(&mut self, decoder: &mut FrameDecoder) -> Result<(), End> {
        loop {
            match decoder.next_frame() {
                Ok(None) => return Ok(()),
                Ok(Some(Inbound::Beat(Beat::Pong))) => {
                    if let Some(beat) = self.beat.as_mut() {
                        if beat.outstanding {
                            bump(&self.shared.stats.heartbeats_answered);
                        }
                        beat.outstanding = false;
                        beat.missed = 0;
                        if let Some((span, sent)) = beat.span.take() {
                            span.record("outcome", "answered");
                            span.record("duration_ms", elapsed_ms(sent.into_std()));
                            span.in_scope(|| tracing::debug!("heartbeat answered"));
                        }
                    }
                }
                // The server never sends one (it only answers them); a
                // ping is not an answer to anything.
                Ok(Some(Inbound::Beat(Beat::Ping))) => bump(&self.shared.stats.junk_frames),
                Ok(Some(Inbound::Message(content))) => match route(content) {
                    Route::Status(status) => self.status(status)?,
                    Route::Downstream(message) => self.shared.push_downstream(message),
                    Route::Junk => bump(&self.shared.stats.junk_frames),
                },
                Err(FrameError::TooLarge { limit }) => return Err(End::TooLarge(limit)),
                // Only the encoder refuses delimiters; a decoder never does.
                Err(other @ FrameError::Delimiter) => return Err(End::Closed(other.to_string())),
            }
        }
    }

    /// A status: the answer to the frame in flight, a message of the
    /// platform's, or an answer nobody waits for.
    fn status(&mut self, answer: Answer) -> Result<(), End> {
        let fits = self.pending.as_ref().map(|p| p.expect.fits(&answer));
        match (fits, &answer.service_name) {
            (Some(true), _) => self.answered(answer),
            // It names a service no frame in flight is for: the platform's
            // own message (an unsigned push carrying a state), for receive.
            (_, Some(_)) => {
                self.shared.push_downstream(answer.body);
                Ok(())
            }
            // Nothing in flight and nothing named: the platform said
            // something nobody asked (it closes after a refused login, for
            // one).
            (_, None) => {
                bump(&self.shared.stats.orphan_answers);
                Ok(())
            }
        }
    }

    fn answered(&mut self, answer: Answer) -> Result<(), End> {
        let Some(pending) = self.pending.take() else {
            bump(&self.shared.stats.orphan_answers);
            return Ok(());
        };
        if let Some(why) = pending.expect.mismatch(&answer) {
            let _ = pending
                .reply
                .send(Err(TransportError::Closed(format!("out of step: {why}"))));
            return Err(End::OutOfStep(why));
        }
        if pending.expect.kind == FrameKind::Login {
            if let Some(token) = &answer.login_token {
                self.token = Some(token.clone());
                self.shared.set_token(self.epoch, token);
                let interval = self.config().heartbeat_interval;
                if !interval.is_zero() && self.beat.is_none() {
                    self.beat = Some(Heartbeat {
                        next: Instant::now() + interval,
                        outstanding: false,
                        missed: 0,
                        span: None,
                    });
                }
            }
        }
        // The caller may have gone; the answer was consumed all the same,
        // which keeps the link in step.
        let _ = pending.reply.send(Ok(answer.body));
        Ok(())
    }

    async fn heartbeat(&mut self) -> Result<(), End> {
        let interval = self.config().heartbeat_interval;
        let misses = self.config().heartbeat_misses.max(1);
        let Some(beat) = self.beat.as_mut() else {
            return Ok(());
        };
        if beat.outstanding {
            beat.missed += 1;
            if let Some((span, sent)) = beat.span.take() {
                span.record("outcome", "missed");
                span.record("duration_ms", elapsed_ms(sent.into_std()));
                span.in_scope(|| {
                    tracing::warn!(missed = beat.missed, of = misses, "heartbeat unanswered")
                });
            }
            if beat.missed >= misses {
                return Err(End::Dead(beat.missed));
            }
        }
        beat.outstanding = true;
        beat.span = Some((
            tracing::debug_span!("tcp_heartbeat", outcome = Empty, duration_ms = Empty),
            Instant::now(),
        ));
        beat.next = Instant::now() + interval;
        // The heartbeat is encoded from a constant without CR or LF.
        let bytes = frame::encode(frame::HEARTBEAT).unwrap_or_default();
        self.write_frame(&bytes).await?;
        bump(&self.shared.stats.heartbeats_sent);
        Ok(())
    }

    /// Fails every frame still held: the one in flight by why the
    /// connection ended, the unsent ones with `SessionLost` (they carry
    /// this connection's session) or, for a login, `Closed`.
    fn finish(&mut self, end: &End) {
        let stats = &self.shared.stats;
        match end {
            End::Closed(_) => bump(&stats.closed),
            End::TooLarge(_) => bump(&stats.oversized_frames),
            End::Timeout(_) => bump(&stats.timeouts),
            End::Dead(_) => bump(&stats.dead_links),
            End::OutOfStep(_) => bump(&stats.out_of_step),
            End::Gone => {}
        }
        if let Some(pending) = self.pending.take() {
            let _ = pending.reply.send(Err(error_for(end, self.config())));
        }
        self.rx.close();
        while let Ok(command) = self.rx.try_recv() {
            self.queue.push_back(command);
        }
        for command in self.queue.drain(..) {
            let error = if command.expect.kind == FrameKind::Login {
                TransportError::Closed(format!("{end} before the login was sent"))
            } else {
                TransportError::SessionLost(format!("{end}; log in on the next connection"))
            };
            let _ = command.reply.send(Err(error));
        }
    }
}

/// What the frame in flight fails with when its connection ends.
fn error_for(end: &End, config: &TcpConfig) -> TransportError {
    match end {
        End::Closed(why) => TransportError::Closed(why.clone()),
        End::TooLarge(limit) => TransportError::TooLarge { limit: *limit },
        End::Timeout(_) => TransportError::Timeout(config.request_timeout),
        // The session lived on the connection declared dead.
        End::Dead(_) => TransportError::SessionLost(end.to_string()),
        End::OutOfStep(why) => TransportError::Closed(format!("out of step: {why}")),
        End::Gone => TransportError::Closed("transport dropped".into()),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
