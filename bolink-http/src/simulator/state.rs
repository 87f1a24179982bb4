//! What the simulated platform remembers: parks, sessions (one per
//! logged-in charging-system instance, on SDK-HTTP or the TCP link), the
//! HTTP instances' queues of downstream messages, answers awaited by
//! drivers, and what it received, each bounded (see
//! [`SimulatorConfig::history_limit`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bolink_sign::Key;
use tokio::sync::{mpsc, oneshot, Notify};

use super::history::{prefix, BoundedMap, History, NAME_PREFIX, REASON_PREFIX};
use super::observe::{Exchange, ExchangeObserver, Link};
use super::routing::{lanes_of, Candidate};
use super::{RateLimit, SimulatorConfig};

/// One message the platform accepted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Received {
    /// The lot it came from.
    pub park_id: String,
    /// Its service.
    pub service_name: String,
    /// The data object, as JSON.
    pub data: serde_json::Value,
}

/// One message the platform refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The service named in the envelope, or the new API's URL path (empty
    /// when unreadable); at most 128 characters of it, marked `…` when cut.
    pub service_name: String,
    /// The errmsg sent back (or, on the TCP link, why nothing was sent
    /// back); at most 256 characters of it, marked `…` when cut.
    pub reason: String,
}

impl Rejection {
    /// A rejection keeping only a short prefix of untrusted text.
    pub(crate) fn new(service_name: &str, reason: &str) -> Rejection {
        Rejection {
            service_name: prefix(service_name, NAME_PREFIX),
            reason: prefix(reason, REASON_PREFIX),
        }
    }
}

/// A car the platform was told is in a lot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InParkOrder {
    /// The lot.
    pub park_id: String,
    /// The order.
    pub order_id: String,
    /// The plate, when sent.
    pub car_number: Option<String>,
}

/// A live session: one logged-in charging-system instance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveSession {
    /// The lot.
    pub park_id: String,
    /// The instance's `local_id` (empty when it logged in without one).
    pub local_id: String,
    /// The link it logged in on ([`Link::Http`] or [`Link::Tcp`]).
    pub link: Link,
    /// The lanes its `local_id` binds (`aaa001_channels_A1_A2` binds A1, A2).
    pub lanes: Vec<String>,
}

pub(crate) struct Park {
    pub key: Key,
    pub union_id: String,
}

/// A charging-system instance: `(park_id, local_id)`.
pub(crate) type Instance = (String, String);

/// A frame for a TCP connection's writer; `written` hears when its bytes
/// went to the socket.
pub(crate) struct Outbound {
    pub bytes: Vec<u8>,
    pub written: Option<oneshot::Sender<()>>,
}

/// A downstream message queued for an HTTP instance's long poll; `taken`
/// hears when a poll took it, and a closed `taken` (the driver gave up)
/// means it is dropped unsent.
pub(crate) struct Queued {
    pub body: Vec<u8>,
    pub taken: oneshot::Sender<()>,
}

/// The downstream queue of one HTTP instance (bounded).
pub(crate) struct Mailbox {
    pub tx: mpsc::Sender<Queued>,
    /// One poller at a time; a second waits its turn, as a queue would.
    pub rx: tokio::sync::Mutex<mpsc::Receiver<Queued>>,
}

impl Mailbox {
    fn new(capacity: usize) -> Mailbox {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        Mailbox {
            tx,
            rx: tokio::sync::Mutex::new(rx),
        }
    }
}

/// Where a session's downstream messages go.
#[derive(Clone)]
pub(crate) enum SessionLink {
    /// The instance's mailbox, read by its long polls.
    Http,
    /// The connection it logged in on.
    Tcp {
        conn: u64,
        outbound: mpsc::Sender<Outbound>,
    },
}

impl SessionLink {
    pub(crate) fn kind(&self) -> Link {
        match self {
            SessionLink::Http => Link::Http,
            SessionLink::Tcp { .. } => Link::Tcp,
        }
    }
}

pub(crate) struct Session {
    pub instance: Instance,
    pub lanes: Vec<String>,
    pub link: SessionLink,
    /// The login's place in the order of all logins.
    pub seq: u64,
    pub since: Instant,
    /// When the last requests counted by the rate limit arrived, oldest first.
    pub recent: VecDeque<Instant>,
}

impl Session {
    /// Whether the token expired: SDK-HTTP tokens live `ttl`, the TCP
    /// link's as long as their connection.
    fn expired(&self, ttl: Duration) -> bool {
        matches!(self.link, SessionLink::Http) && self.since.elapsed() >= ttl
    }
}

/// The instance a live token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRef {
    pub park_id: String,
    pub local_id: String,
}

/// Why a token got no session.
pub(crate) enum TokenError {
    /// Unknown or expired.
    Invalid,
    /// More requests within the window than the limit allows.
    OverTimes,
}

/// Where a routed downstream message goes.
pub(crate) enum Route {
    Http(Arc<Mailbox>),
    Tcp(mpsc::Sender<Outbound>),
}

/// A downstream message's instance and the way to it.
pub(crate) struct Routed {
    pub local_id: String,
    pub route: Route,
}

/// A driver waiting for an answer: the `order_id` its message named, if
/// any, and where the answer goes.
pub(crate) struct Waiter {
    order_id: Option<String>,
    /// The data of the message sent down, which the answer is judged against.
    request: serde_json::Value,
    answer: oneshot::Sender<Vec<u8>>,
}

/// The `order_id` of a message's data, as text.
pub(crate) fn order_of(data: &[u8]) -> Option<String> {
    let data: serde_json::Value = serde_json::from_slice(data).ok()?;
    match data.get("order_id")? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) struct Books {
    pub sessions: BoundedMap<String, Session>,
    /// The live token of each instance: a new login replaces it.
    pub token_of: HashMap<Instance, String>,
    /// The downstream queues of HTTP instances (they outlive sessions, so
    /// that a message waits through a re-login).
    pub mailboxes: BoundedMap<Instance, Arc<Mailbox>>,
    pub received: History<Received>,
    pub rejected: History<Rejection>,
    pub in_park: BoundedMap<(String, String), InParkOrder>,
    pub logins: usize,
    /// Deliveries per `PARK_ID/idempotency key` (service with order_id or trade_no).
    pub deliveries: BoundedMap<String, u32>,
    /// The idempotency keys of the uploads recorded (an arrival is counted
    /// in `deliveries` even when it is not recorded).
    pub filed: BoundedMap<String, ()>,
    /// Drivers waiting for an instance's answer, per (instance, service),
    /// oldest first; a key goes when its queue empties.
    pub awaiting: HashMap<(Instance, String), VecDeque<Waiter>>,
    /// The TCP link's memory of re-sends (`TempUtil.dataSendMap`): signs,
    /// and counts per token, service and order.
    pub resend_memory: BoundedMap<String, u32>,
    next_seq: u64,
    limit: usize,
}

/// The size of the public server's re-send memory: `new LRUMap(5000)`
/// (ParkingOS_cloud `netty/TempUtil.java` line 19).
const RESEND_MEMORY: usize = 5000;

impl Books {
    pub fn new(limit: usize) -> Books {
        Books {
            sessions: BoundedMap::new(limit),
            token_of: HashMap::new(),
            mailboxes: BoundedMap::new(limit),
            received: History::new(limit),
            rejected: History::new(limit),
            in_park: BoundedMap::new(limit),
            logins: 0,
            deliveries: BoundedMap::new(limit),
            filed: BoundedMap::new(limit),
            awaiting: HashMap::new(),
            resend_memory: BoundedMap::new(limit.min(RESEND_MEMORY)),
            next_seq: 0,
            limit,
        }
    }

    /// Drops sessions (expired, or forgotten beyond the limit) together
    /// with their instance's token entry.
    fn forget_sessions(&mut self, gone: Vec<(String, Session)>) {
        for (token, session) in gone {
            if self.token_of.get(&session.instance) == Some(&token) {
                self.token_of.remove(&session.instance);
            }
        }
    }

    /// Opens a session for `instance` on `link`, ending its previous one
    /// and any that expired.
    pub fn open_session(
        &mut self,
        token: String,
        instance: Instance,
        link: SessionLink,
        ttl: Duration,
    ) {
        let expired = self.sessions.pop_oldest_while(|s| s.expired(ttl));
        self.forget_sessions(expired);
        // One token per charging-system instance: logging in again ends the
        // previous session (the public server updates the instance's row).
        if let Some(previous) = self.token_of.insert(instance.clone(), token.clone()) {
            self.sessions.remove(&previous);
        }
        if matches!(link, SessionLink::Http) && self.mailboxes.get(&instance).is_none() {
            let mailbox = Arc::new(Mailbox::new(self.limit));
            self.mailboxes.insert(instance.clone(), mailbox);
        }
        self.next_seq += 1;
        let forgotten = self.sessions.insert(
            token,
            Session {
                lanes: lanes_of(&instance.1),
                instance,
                link,
                seq: self.next_seq,
                since: Instant::now(),
                recent: VecDeque::new(),
            },
        );
        self.forget_sessions(forgotten);
    }

    /// Ends the sessions opened on TCP connection `conn` that are still
    /// its own (a newer login of an instance elsewhere replaced them
    /// otherwise): the public server logs a closed channel out
    /// (`channelInactive`, `SensorServerHandler.java` lines 441-453).
    pub fn close_tcp_conn(&mut self, conn: u64) {
        self.close_tcp_where(|c| c == conn);
    }

    /// Ends every session of the TCP link (the listener stopped).
    pub fn close_all_tcp_sessions(&mut self) {
        self.close_tcp_where(|_| true);
    }

    fn close_tcp_where(&mut self, on: impl Fn(u64) -> bool) {
        let tokens: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| matches!(s.link, SessionLink::Tcp { conn, .. } if on(conn)))
            .map(|(token, _)| token.clone())
            .collect();
        for token in tokens {
            if let Some(session) = self.sessions.remove(&token) {
                self.forget_sessions(vec![(token, session)]);
            }
        }
    }

    /// Forgets every session.
    pub fn clear_sessions(&mut self) {
        self.sessions.clear();
        self.token_of.clear();
    }

    /// Records a refusal, keeping a short prefix of its untrusted text.
    pub fn reject(&mut self, service_name: &str, reason: &str) {
        self.rejected.push(Rejection::new(service_name, reason));
    }

    /// The live sessions, oldest login first.
    pub fn live_sessions(&self, ttl: Duration) -> Vec<LiveSession> {
        self.sessions
            .iter()
            .filter(|(_, s)| !s.expired(ttl))
            .map(|(_, s)| LiveSession {
                park_id: s.instance.0.clone(),
                local_id: s.instance.1.clone(),
                link: s.link.kind(),
                lanes: s.lanes.clone(),
            })
            .collect()
    }

    /// Routes a message of `park_id` naming `lanes` to a live instance
    /// (see [`super::routing`]).
    pub fn route(&self, park_id: &str, lanes: &[String], ttl: Duration) -> Result<Routed, String> {
        let live: Vec<&Session> = self
            .sessions
            .iter()
            .map(|(_, s)| s)
            .filter(|s| s.instance.0 == park_id && !s.expired(ttl))
            .collect();
        let candidates: Vec<Candidate> = live
            .iter()
            .map(|s| Candidate {
                local_id: s.instance.1.clone(),
                lanes: s.lanes.clone(),
                seq: s.seq,
            })
            .collect();
        let chosen = super::routing::choose(park_id, &candidates, lanes)?;
        let session = live
            .iter()
            .find(|s| s.seq == chosen.seq)
            .ok_or_else(|| format!("park {park_id} has no live session"))?;
        let route = match &session.link {
            SessionLink::Http => {
                let mailbox = self
                    .mailboxes
                    .get(&session.instance)
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "the downstream queue of {}/{} was forgotten (history limit)",
                            session.instance.0, session.instance.1
                        )
                    })?;
                Route::Http(mailbox)
            }
            SessionLink::Tcp { outbound, .. } => Route::Tcp(outbound.clone()),
        };
        Ok(Routed {
            local_id: chosen.local_id.clone(),
            route,
        })
    }

    /// Registers a driver waiting for `instance`'s answer to the message
    /// `service_name` whose data is `request` (matched by its `order_id`
    /// when it names one).
    pub fn await_answer(
        &mut self,
        instance: Instance,
        service_name: &str,
        request: &[u8],
    ) -> oneshot::Receiver<Vec<u8>> {
        let order_id = order_of(request);
        let request = serde_json::from_slice(request).unwrap_or(serde_json::Value::Null);
        let (tx, rx) = oneshot::channel();
        let waiting = self
            .awaiting
            .entry((instance, service_name.to_string()))
            .or_default();
        // Drivers that gave up are dropped as new ones come.
        waiting.retain(|waiter| !waiter.answer.is_closed());
        waiting.push_back(Waiter {
            order_id,
            request,
            answer: tx,
        });
        rx
    }

    /// Drops the drivers of `instance` and `service_name` that gave up.
    pub fn forget_waiter(&mut self, instance: Instance, service_name: &str) {
        let key = (instance, service_name.to_string());
        if let Some(queue) = self.awaiting.get_mut(&key) {
            queue.retain(|waiter| !waiter.answer.is_closed());
            if queue.is_empty() {
                self.awaiting.remove(&key);
            }
        }
    }

    /// Hands an instance's answer to the oldest driver still waiting for
    /// it: the oldest whose message named the answer's `order_id`, when both
    /// name one (answers computed concurrently may come back in another
    /// order), else the oldest. Returns the data of the message answered,
    /// `None` when none waits.
    pub fn hand_answer(
        &mut self,
        instance: Instance,
        service_name: &str,
        data: &[u8],
    ) -> Option<serde_json::Value> {
        let key = (instance, service_name.to_string());
        let queue = self.awaiting.get_mut(&key)?;
        queue.retain(|waiter| !waiter.answer.is_closed());
        let answered = order_of(data);
        let fits = |waiter: &Waiter| match (&waiter.order_id, &answered) {
            (Some(asked), Some(answered)) => asked == answered,
            _ => true,
        };
        let handed = queue
            .iter()
            .position(fits)
            .and_then(|at| queue.remove(at))
            .and_then(|waiter| {
                let request = waiter.request;
                waiter.answer.send(data.to_vec()).ok().map(|()| request)
            });
        if queue.is_empty() {
            self.awaiting.remove(&key);
        }
        handed
    }
}

pub(crate) struct Shared {
    pub config: SimulatorConfig,
    pub parks: HashMap<String, Park>,
    /// New-API vendors: union_id and the key their requests are signed with.
    pub vendors: HashMap<i64, Key>,
    pub books: Mutex<Books>,
    /// Sees every exchange.
    pub observer: Option<ExchangeObserver>,
    /// Woken at every login, for drivers waiting for an instance to route to.
    pub logged_in: Notify,
    /// The client the platform calls vendors' callback servers with.
    pub http: reqwest::Client,
}

pub(crate) type State = Arc<Shared>;

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("config", &self.config)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        // A panic while holding the lock would be a simulator bug; the books
        // stay usable for the test that reports it.
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Shows an exchange to the observer.
    pub fn emit(&self, exchange: Exchange) {
        // The exchange names no key, sign or payload.
        tracing::debug!(
            direction = match exchange.direction {
                super::observe::Direction::Up => "up",
                super::observe::Direction::Down => "down",
            },
            link = exchange.link.as_str(),
            park_id = exchange.park_id.as_deref(),
            local_id = exchange.local_id.as_deref(),
            service_name = exchange.service_name.as_str(),
            outcome = exchange.outcome.as_str(),
            "simulator exchange"
        );
        if let Some(observer) = &self.observer {
            observer(&exchange);
        }
    }

    /// Opens a session and wakes drivers waiting for the park.
    pub fn open_session(&self, token: String, instance: Instance, link: SessionLink) {
        let mut books = self.books();
        books.logins += 1;
        books.open_session(token, instance, link, self.config.token_ttl);
        drop(books);
        self.logged_in.notify_waiters();
    }

    /// The instance of a live token, not counted against any limit (a
    /// long poll; the TCP link, which counts after the sign).
    pub fn session_of(&self, token: &str) -> Option<SessionRef> {
        self.session(token, None).ok()
    }

    /// The instance of a live token, counting the request against the
    /// token's rate limit when there is one.
    pub fn session(&self, token: &str, limit: Option<RateLimit>) -> Result<SessionRef, TokenError> {
        let mut books = self.books();
        let key = token.to_string();
        let expired = match books.sessions.get(&key) {
            None => return Err(TokenError::Invalid),
            Some(session) => session.expired(self.config.token_ttl),
        };
        if expired {
            if let Some(session) = books.sessions.remove(&key) {
                books.forget_sessions(vec![(key, session)]);
            }
            return Err(TokenError::Invalid);
        }
        let session = books.sessions.get_mut(&key).ok_or(TokenError::Invalid)?;
        if let Some(limit) = limit {
            admit(session, limit)?;
        }
        Ok(SessionRef {
            park_id: session.instance.0.clone(),
            local_id: session.instance.1.clone(),
        })
    }

    /// Counts one request of a live token against `limit`.
    pub fn admit(&self, token: &str, limit: RateLimit) -> Result<(), TokenError> {
        let mut books = self.books();
        let session = books
            .sessions
            .get_mut(&token.to_string())
            .ok_or(TokenError::Invalid)?;
        admit(session, limit)
    }
}

/// As the platform's public code does (`isHit`, `SensorServerHandler.java`
/// lines 404-439), the last `requests` accepted requests are remembered,
/// and a request is refused (and not counted) when all of them fall within
/// `window`.
fn admit(session: &mut Session, limit: RateLimit) -> Result<(), TokenError> {
    let now = Instant::now();
    if limit.requests == 0 {
        return Err(TokenError::OverTimes);
    }
    if session.recent.len() >= limit.requests {
        let oldest = session.recent[session.recent.len() - limit.requests];
        if now.duration_since(oldest) < limit.window {
            return Err(TokenError::OverTimes);
        }
    }
    session.recent.push_back(now);
    while session.recent.len() > limit.requests {
        session.recent.pop_front();
    }
    Ok(())
}
