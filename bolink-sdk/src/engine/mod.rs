//! The delivery engine: one implementation of everything that must hold
//! for every transport (SDK-HTTP mode, the SDK's TCP link, the new API).
//!
//! * **Nothing accepted is lost.** [`Engine::upload`] checks the message
//!   against its table, stores it, and returns a [`Ticket`] at once; the
//!   record leaves the store only when the platform readably took it
//!   (`state` 1, or "数据已处理过": it already had it) or readably refused it
//!   for good, and either is reported as an [`Event`]. An answer that cannot
//!   be read, a timeout, a 5xx, a closed connection, a temporary refusal
//!   (`request_over_times`, busy) all leave the record queued, retried with
//!   jittered backoff until its expiry.
//! * **Delivery is at least once.** A record whose acknowledgement was lost
//!   (a crash, a dropped connection after the platform wrote it) is sent
//!   again; the platform recognises the re-send by its order_id (or
//!   trade_no) and answers that it already has it.
//! * **One session.** Every task shares one token; a refused token (HTTP
//!   401, or `state` 0 with a token errmsg) means one re-login and one
//!   resend; refused logins back off.
//! * **Order and pace.** Records of one order go out in the order they were
//!   stored; uploads are paced below the platform's rates ([`Pacing`]); a
//!   pass stops at the first failure of the link, which then backs off.
//! * **Graceful stop.** [`Engine::shutdown`] (or the future given to
//!   [`Engine::run`]) stops taking uploads, lets the exchange in flight
//!   finish, and leaves everything unsent in the store.
//!
//! The engine is transport-agnostic: it speaks to the platform through a
//! [`Transport`] (send a frame, receive downstream messages, answer them)
//! and keeps its records in an outbox [`Store`].

mod delivery;
mod dialect;
mod downlink;
mod events;
mod pacing;
mod session;
mod stop;
mod transport;
mod verdict;
mod watchers;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bolink_types::{DecodeError, Message, Report};
use tokio::sync::Notify;

pub use dialect::Dialect;
pub use events::{Event, FlushReport, Outcome, Stats, Ticket};
pub use pacing::Pacing;
pub use transport::{Frame, FrameKind, Transport, TransportError};
pub(crate) use verdict::lenient_integer;
pub use verdict::{AnswerPolicy, Status, Verdict};

use crate::backoff::{random_seed, Backoff, BackoffPolicy};
use crate::outbox::{MemoryStore, NewRecord, RetryPolicy, Store, StoreError};
use crate::Handler;
use pacing::Pacer;
use session::SessionCell;
use stop::{stop_pair, StopSource};
use watchers::Watchers;

/// How the engine retries, paces and waits (plain data).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Backoff of each record after a failed attempt, and its expiry.
    pub retry: RetryPolicy,
    /// How fast one session may send.
    pub pacing: Pacing,
    /// How answers are classified by their errmsg.
    pub answers: AnswerPolicy,
    /// Backoff of the link after a pass stopped on a failure, and of the
    /// downstream loop after a failed receive.
    pub link_backoff: BackoffPolicy,
    /// Backoff between failed logins.
    pub login_backoff: BackoffPolicy,
    /// The longest one exchange may take, whatever the transport's own
    /// timeouts (a safety net: a hung transport cannot hold a record).
    pub exchange_timeout: Duration,
    /// How long a claimed record stays leased to this engine (longer than
    /// pacing waits plus one exchange).
    pub lease: Duration,
    /// How long shutdown waits for downstream answers still being written.
    pub shutdown_grace: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            retry: RetryPolicy::default(),
            pacing: Pacing::default(),
            answers: AnswerPolicy::default(),
            link_backoff: BackoffPolicy::new(Duration::from_millis(200), Duration::from_secs(30)),
            login_backoff: BackoffPolicy::new(Duration::from_secs(1), Duration::from_secs(60)),
            exchange_timeout: Duration::from_secs(60),
            lease: Duration::from_secs(120),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl EngineConfig {
    /// Sets the record retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> EngineConfig {
        self.retry = retry;
        self
    }

    /// Sets the pacing.
    pub fn pacing(mut self, pacing: Pacing) -> EngineConfig {
        self.pacing = pacing;
        self
    }

    /// Sets the answer classification.
    pub fn answers(mut self, answers: AnswerPolicy) -> EngineConfig {
        self.answers = answers;
        self
    }

    /// Sets the link backoff.
    pub fn link_backoff(mut self, backoff: BackoffPolicy) -> EngineConfig {
        self.link_backoff = backoff;
        self
    }

    /// Sets the login backoff.
    pub fn login_backoff(mut self, backoff: BackoffPolicy) -> EngineConfig {
        self.login_backoff = backoff;
        self
    }

    /// Sets the per-exchange safety timeout.
    pub fn exchange_timeout(mut self, timeout: Duration) -> EngineConfig {
        self.exchange_timeout = timeout;
        self
    }

    /// Sets the shutdown grace for answers in flight.
    pub fn shutdown_grace(mut self, grace: Duration) -> EngineConfig {
        self.shutdown_grace = grace;
        self
    }
}

/// Why the engine did not take an upload or could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The message breaks its table; it was not stored.
    #[error("not enqueued, the message is invalid:\n{0}")]
    Invalid(Report),
    /// The data is not a message of any upload interface of this dialect
    /// (unknown service, not JSON, ...); it was not stored.
    #[error("not enqueued: {0}")]
    Decode(DecodeError),
    /// The new API has no URL path for this interface.
    #[error("no URL path is known for {0:?}")]
    NoPath(String),
    /// The store failed; the upload was not stored.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine is shutting down and takes no more uploads.
    #[error("the engine is shutting down")]
    ShuttingDown,
    /// [`Engine::run`] is already running.
    #[error("the engine is already running")]
    AlreadyRunning,
    /// No session could be opened (login refused or the link failed).
    #[error("no session: {0}")]
    NoSession(String),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// A callback that sees every [`Event`].
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    enqueued: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    refused: AtomicU64,
    expired: AtomicU64,
    retries: AtomicU64,
    logins: AtomicU64,
    login_failures: AtomicU64,
    answered: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn count_login(&self) {
        Self::bump(&self.logins)
    }
    pub(crate) fn count_login_failure(&self) {
        Self::bump(&self.login_failures)
    }
    fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            enqueued: get(&self.enqueued),
            delivered: get(&self.delivered),
            duplicates: get(&self.duplicates),
            refused: get(&self.refused),
            expired: get(&self.expired),
            retries: get(&self.retries),
            logins: get(&self.logins),
            login_failures: get(&self.login_failures),
            answered: get(&self.answered),
        }
    }
}

/// What every task of one engine shares.
pub(crate) struct Shared<T> {
    transport: T,
    dialect: Dialect,
    store: Arc<dyn Store>,
    config: EngineConfig,
    session: Option<SessionCell>,
    pacer: Pacer,
    /// This engine's name on its leases.
    owner: String,
    /// Rung by `upload`, so the delivery loop wakes for new records.
    wake: Notify,
    /// Tickets waiting for their record's outcome.
    watchers: Watchers,
    events: Option<EventSink>,
    pub(crate) stats: Counters,
    stop: StopSource,
    stopping: AtomicBool,
    running: AtomicBool,
    /// One delivery pass at a time (the run loop's or a `flush`).
    pass: tokio::sync::Mutex<()>,
    /// Records the platform called duplicates from its resend cache, with
    /// the next key rotation to send them under (see `delivery`).
    variants: Mutex<HashMap<u64, u32>>,
}

impl<T> Shared<T> {
    /// Reports `event` through `tracing` and to the application's sink.
    pub(crate) fn emit(&self, event: &Event) {
        events::log(event);
        if let Some(sink) = &self.events {
            sink(event);
        }
    }

    fn variants(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u32>> {
        self.variants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn settle(&self, id: u64, outcome: Outcome) {
        self.variants().remove(&id);
        self.watchers.settle(id, outcome);
    }
}

impl<T: Transport> Shared<T> {
    /// One exchange through the transport, within the safety timeout.
    pub(crate) async fn exchange(&self, frame: Frame) -> Result<Vec<u8>, TransportError> {
        let limit = self.config.exchange_timeout;
        tokio::time::timeout(limit, self.transport.send(frame))
            .await
            .unwrap_or(Err(TransportError::Timeout(limit)))
    }
}

/// The delivery engine over a transport `T`; cheap to clone (all clones
/// share one engine).
pub struct Engine<T: Transport> {
    shared: Arc<Shared<T>>,
}

impl<T: Transport> Clone for Engine<T> {
    fn clone(&self) -> Self {
        Engine {
            shared: self.shared.clone(),
        }
    }
}

impl<T: Transport> std::fmt::Debug for Engine<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dialect", &self.shared.dialect)
            .field("owner", &self.shared.owner)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder<T: Transport> {
    transport: T,
    dialect: Dialect,
    store: Option<Arc<dyn Store>>,
    config: EngineConfig,
    events: Option<EventSink>,
}

impl<T: Transport> std::fmt::Debug for EngineBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("dialect", &self.dialect)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> EngineBuilder<T> {
    /// Keeps the outbox in `store` (a `RedbStore` with the `redb` feature
    /// to survive crashes) instead of memory; records an earlier run left
    /// there are sent too.
    pub fn store(mut self, store: impl Store) -> EngineBuilder<T> {
        self.store = Some(Arc::new(store));
        self
    }

    /// Keeps the outbox in an already shared store.
    pub fn shared_store(mut self, store: Arc<dyn Store>) -> EngineBuilder<T> {
        self.store = Some(store);
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: EngineConfig) -> EngineBuilder<T> {
        self.config = config;
        self
    }

    /// Calls `sink` with every [`Event`] (from the engine's tasks: keep it
    /// quick, hand heavy work to a channel).
    pub fn on_event(mut self, sink: impl Fn(&Event) + Send + Sync + 'static) -> EngineBuilder<T> {
        self.events = Some(Arc::new(sink));
        self
    }

    /// The engine.
    pub fn build(self) -> Engine<T> {
        let config = self.config;
        let session = match &self.dialect {
            Dialect::Sdk {
                credentials,
                token_max_age,
            } => Some(SessionCell::new(
                credentials.clone(),
                *token_max_age,
                Backoff::new(config.login_backoff),
            )),
            Dialect::NewApi { .. } => None,
        };
        let (stop, _) = stop_pair();
        Engine {
            shared: Arc::new(Shared {
                transport: self.transport,
                dialect: self.dialect,
                store: self
                    .store
                    .unwrap_or_else(|| Arc::new(MemoryStore::default())),
                pacer: Pacer::new(config.pacing),
                config,
                session,
                owner: format!("engine-{:016x}", random_seed()),
                wake: Notify::new(),
                watchers: Watchers::default(),
                events: self.events,
                stats: Counters::default(),
                stop,
                stopping: AtomicBool::new(false),
                running: AtomicBool::new(false),
                pass: tokio::sync::Mutex::new(()),
                variants: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl<T: Transport> Engine<T> {
    /// Starts building an engine that speaks `dialect` over `transport`,
    /// with an in-memory outbox and the default configuration.
    pub fn builder(transport: T, dialect: Dialect) -> EngineBuilder<T> {
        EngineBuilder {
            transport,
            dialect,
            store: None,
            config: EngineConfig::default(),
            events: None,
        }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.shared.transport
    }

    /// The dialect.
    pub fn dialect(&self) -> &Dialect {
        &self.shared.dialect
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// Counters since the engine was built.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Checks `message` against its table and stores it as an upload;
    /// returns as soon as it is stored. The run loop sends it; await
    /// [`Ticket::outcome`] to learn what the platform made of it.
    ///
    /// # Errors
    /// [`EngineError::Invalid`] (nothing stored) when it breaks its table,
    /// [`EngineError::Store`] when the store failed, and
    /// [`EngineError::ShuttingDown`] after shutdown.
    ///
    /// `M` may be a type of a spec of your own (generated by
    /// bolink-codegen): checked against its own table, it is sent like any
    /// upload (for the new API, only keys bolink-types has an address for).
    pub async fn upload<M: Message>(&self, message: &M) -> Result<Ticket, EngineError> {
        message.validate().map_err(EngineError::Invalid)?;
        self.shared.dialect.check_typed_upload(M::SERVICE_NAME)?;
        self.enqueue(M::SERVICE_NAME, message.encode()).await
    }

    /// Stores an upload given as its interface key (SDK `service_name`, or
    /// a new-API key) and data JSON; checked against the interface's table
    /// first, exactly like [`upload`](Self::upload).
    ///
    /// # Errors
    /// As [`upload`](Self::upload), and [`EngineError::Decode`] when the
    /// data is not a message of that interface.
    pub async fn upload_data(&self, key: &str, data: Vec<u8>) -> Result<Ticket, EngineError> {
        self.shared.dialect.check_upload(key, &data)?;
        self.enqueue(key, data).await
    }

    /// Stores checked data as an upload and wakes the run loop.
    async fn enqueue(&self, key: &str, data: Vec<u8>) -> Result<Ticket, EngineError> {
        let shared = &self.shared;
        if shared.stopping.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        // A pass may claim and settle the record before `insert` returns
        // here: its outcome is kept for the ticket.
        let inserting = shared.watchers.inserting();
        let record = shared
            .store
            .insert(NewRecord {
                service_name: key.to_string(),
                data,
                enqueued_at_ms: crate::clock::now_ms(),
            })
            .await?;
        let rx = inserting.register(record.id);
        Counters::bump(&shared.stats.enqueued);
        shared.wake.notify_one();
        Ok(Ticket {
            record,
            outcome: rx,
        })
    }

    /// One delivery pass now: sends every due record (paced), settles what
    /// the platform answered, reports expired ones. Waits for a pass
    /// already running. Every settled record is also reported as an
    /// [`Event`] and to its [`Ticket`].
    pub async fn flush(&self) -> FlushReport {
        let mut report = FlushReport::default();
        delivery::pass(&self.shared, &self.shared.stop.watch(), &mut report).await;
        report
    }

    /// Logs in now unless a live token exists (SDK dialect; the new API has
    /// no login).
    ///
    /// # Errors
    /// [`EngineError::NoSession`] with the reason when no token could be had.
    pub async fn login(&self) -> Result<(), EngineError> {
        match &self.shared.session {
            Some(session) => session
                .token(&self.shared)
                .await
                .map(drop)
                .map_err(|no| EngineError::NoSession(no.reason)),
            None => Ok(()),
        }
    }

    /// How many uploads wait in the store.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn pending(&self) -> Result<usize, EngineError> {
        Ok(self.shared.store.len().await?)
    }

    /// Stops taking uploads and tells [`run`](Self::run) to finish: the
    /// exchange in flight completes, everything unsent stays in the store.
    pub fn shutdown(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.stop.stop();
    }

    /// Runs until `shutdown` completes (or [`Engine::shutdown`] is called;
    /// an engine that was shut down stays so, and its unsettled tickets
    /// then resolve to [`Outcome::StillQueued`]):
    /// sends the outbox as records fall due and, in SDK mode, receives
    /// downstream messages and answers each through `handler`, each in its
    /// own task (a slow answer never holds up uploads, receiving, or other
    /// answers). Returns once the exchanges in flight have finished.
    ///
    /// # Errors
    /// [`EngineError::AlreadyRunning`] when another `run` is active.
    pub async fn run<H: Handler + 'static>(
        &self,
        handler: Arc<H>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), EngineError> {
        let downlink = self.shared.session.is_some().then_some(handler);
        self.run_inner(downlink, shutdown).await
    }

    /// Like [`run`](Self::run) without downstream messages: sends the
    /// outbox until `shutdown` (the new API's client, or a lot that
    /// answers nothing).
    ///
    /// # Errors
    /// [`EngineError::AlreadyRunning`] when another `run` is active.
    pub async fn run_uploads(&self, shutdown: impl Future<Output = ()>) -> Result<(), EngineError> {
        self.run_inner(None::<Arc<downlink::NoHandler>>, shutdown)
            .await
    }

    async fn run_inner<H: Handler + 'static>(
        &self,
        handler: Option<Arc<H>>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), EngineError> {
        if self.shared.running.swap(true, Ordering::SeqCst) {
            return Err(EngineError::AlreadyRunning);
        }
        let stop = self.shared.stop.watch();
        let delivery = tokio::spawn(delivery::run(self.shared.clone(), stop.clone()));
        let downlink = handler
            .map(|handler| tokio::spawn(downlink::run(self.shared.clone(), handler, stop.clone())));
        tokio::select! {
            _ = shutdown => self.shutdown(),
            _ = stop.wait() => {}
        }
        // Both loops return after their exchange in flight.
        let _ = delivery.await;
        if let Some(downlink) = downlink {
            let _ = downlink.await;
        }
        // A flush may still be in an exchange (the run loop was asleep
        // when the stop came, so it returned at once): wait for that pass
        // to settle its record and see the stop, or its ticket would be
        // told the record stays queued while the platform took it.
        let _no_pass = self.shared.pass.lock().await;
        // Nothing will settle the records still stored while this engine
        // lives: their tickets learn it now rather than never.
        for waiter in self.shared.watchers.drain() {
            let _ = waiter.send(Outcome::StillQueued);
        }
        self.shared.running.store(false, Ordering::SeqCst);
        Ok(())
    }
}
