//! What the simulated platform remembers: parks, sessions, queues of
//! downstream messages, answers awaited by drivers, and what it received.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bolink_sign::Key;
use tokio::sync::{mpsc, oneshot};

use super::SimulatorConfig;

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
    /// The service named in the envelope (empty when unreadable).
    pub service_name: String,
    /// The errmsg sent back.
    pub reason: String,
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
    pub queue_tx: mpsc::UnboundedSender<Vec<u8>>,
    pub queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
}

pub(crate) struct Session {
    pub park_id: String,
    pub since: Instant,
}

#[derive(Default)]
pub(crate) struct Books {
    pub sessions: HashMap<String, Session>,
    /// The live token of each (park, local_id): a new login replaces it.
    pub token_of: HashMap<(String, String), String>,
    pub received: Vec<Received>,
    pub rejected: Vec<Rejection>,
    pub in_park: BTreeMap<(String, String), InParkOrder>,
    pub logins: usize,
    /// Deliveries per idempotency key (service with order_id or trade_no).
    pub deliveries: HashMap<String, u32>,
    /// Drivers waiting for the lot's answer, per (park, service), oldest first.
    pub awaiting: HashMap<(String, String), VecDeque<oneshot::Sender<Vec<u8>>>>,
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

    /// The park of a live token.
    pub fn session_park(&self, token: &str) -> Option<String> {
        let mut books = self.books();
        let session = books.sessions.get(token)?;
        if session.since.elapsed() >= self.config.token_ttl {
            books.sessions.remove(token);
            return None;
        }
        Some(session.park_id.clone())
    }
}
