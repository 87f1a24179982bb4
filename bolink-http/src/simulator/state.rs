//! What the simulated platform remembers: parks, sessions, queues of
//! downstream messages, answers awaited by drivers, and what it received,
//! each bounded (see [`SimulatorConfig::history_limit`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bolink_sign::Key;
use tokio::sync::{mpsc, oneshot};

use super::history::{prefix, BoundedMap, History, NAME_PREFIX, REASON_PREFIX};
use super::{RateLimit, SimulatorConfig};

/// One message the platform accepted.
#[derive(Debug, Clone, PartialEq)]
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
pub struct Rejection {
    /// The service named in the envelope, or the new API's URL path (empty
    /// when unreadable); at most 128 characters of it, marked `…` when cut.
    pub service_name: String,
    /// The errmsg sent back; at most 256 characters of it, marked `…` when cut.
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
pub struct InParkOrder {
    /// The lot.
    pub park_id: String,
    /// The order.
    pub order_id: String,
    /// The plate, when sent.
    pub car_number: Option<String>,
}

pub(crate) struct Park {
    pub key: Key,
    pub union_id: String,
    /// Downstream messages for the lot's long poll, bounded.
    pub queue_tx: mpsc::Sender<Vec<u8>>,
    pub queue_rx: tokio::sync::Mutex<mpsc::Receiver<Vec<u8>>>,
}

pub(crate) struct Session {
    pub park_id: String,
    /// The charging-system instance, `(park_id, local_id)`.
    pub instance: (String, String),
    pub since: Instant,
    /// When the last requests counted by the rate limit arrived, oldest first.
    pub recent: VecDeque<Instant>,
}

/// Why a token got no session.
pub(crate) enum TokenError {
    /// Unknown or expired.
    Invalid,
    /// More requests within the window than the limit allows.
    OverTimes,
}

pub(crate) struct Books {
    pub sessions: BoundedMap<String, Session>,
    /// The live token of each (park, local_id): a new login replaces it.
    pub token_of: HashMap<(String, String), String>,
    pub received: History<Received>,
    pub rejected: History<Rejection>,
    pub in_park: BoundedMap<(String, String), InParkOrder>,
    pub logins: usize,
    /// Deliveries per `PARK_ID/idempotency key` (service with order_id or trade_no).
    pub deliveries: BoundedMap<String, u32>,
    /// Drivers waiting for the lot's answer, per (park, service), oldest
    /// first; a key goes when its queue empties.
    pub awaiting: HashMap<(String, String), VecDeque<oneshot::Sender<Vec<u8>>>>,
}

impl Books {
    pub fn new(limit: usize) -> Books {
        Books {
            sessions: BoundedMap::new(limit),
            token_of: HashMap::new(),
            received: History::new(limit),
            rejected: History::new(limit),
            in_park: BoundedMap::new(limit),
            logins: 0,
            deliveries: BoundedMap::new(limit),
            awaiting: HashMap::new(),
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

    /// Opens a session for `instance`, ending its previous one and any
    /// that expired.
    pub fn open_session(
        &mut self,
        token: String,
        park_id: String,
        local_id: String,
        ttl: std::time::Duration,
    ) {
        let expired = self.sessions.pop_oldest_while(|s| s.since.elapsed() >= ttl);
        self.forget_sessions(expired);
        let instance = (park_id.clone(), local_id);
        // One token per charging-system instance: logging in again ends the previous session.
        if let Some(previous) = self.token_of.insert(instance.clone(), token.clone()) {
            self.sessions.remove(&previous);
        }
        let forgotten = self.sessions.insert(
            token,
            Session {
                park_id,
                instance,
                since: Instant::now(),
                recent: VecDeque::new(),
            },
        );
        self.forget_sessions(forgotten);
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
}

pub(crate) struct Shared {
    pub config: SimulatorConfig,
    pub parks: HashMap<String, Park>,
    /// New-API vendors: union_id and the key their requests are signed with.
    pub vendors: HashMap<i64, Key>,
    pub books: Mutex<Books>,
}

pub(crate) type State = Arc<Shared>;

impl Shared {
    pub fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        // A panic while holding the lock would be a simulator bug; the books
        // stay usable for the test that reports it.
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The park of a live token (a long poll: not rate-limited).
    pub fn session_park(&self, token: &str) -> Option<String> {
        self.session(token, None).ok()
    }

    /// The park of a live token, counting the request against the token's
    /// rate limit when there is one: as the platform's public code does,
    /// the last `requests` accepted requests are remembered, and a request
    /// is refused (and not counted) when all of them fall within `window`.
    pub fn session(&self, token: &str, limit: Option<RateLimit>) -> Result<String, TokenError> {
        let mut books = self.books();
        let key = token.to_string();
        let expired = match books.sessions.get(&key) {
            None => return Err(TokenError::Invalid),
            Some(session) => session.since.elapsed() >= self.config.token_ttl,
        };
        if expired {
            if let Some(session) = books.sessions.remove(&key) {
                books.forget_sessions(vec![(key, session)]);
            }
            return Err(TokenError::Invalid);
        }
        let session = books.sessions.get_mut(&key).ok_or(TokenError::Invalid)?;
        if let Some(limit) = limit {
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
        }
        Ok(session.park_id.clone())
    }
}
