//! A durable outbox: every upload is written before it is sent and removed
//! only after the platform acknowledged it.
//!
//! * Retries back off exponentially, capped, with jitter.
//! * Records of one order (`order_id`) go out in enqueue order: an exit is
//!   never sent before its entry was acknowledged.
//! * Records older than the expiry are handed back by
//!   [`Outbox::take_expired`], never dropped silently.
//! * Each record carries an idempotency key (service with `order_id` or
//!   `trade_no`) so that a re-send after a lost acknowledgement is
//!   recognisable.
//!
//! No I/O besides the store and no clock: the caller passes the time.

mod record;
mod redb_store;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bolink_types::{Message, Report};

pub use record::{idempotency_key, Record};
pub use redb_store::RedbStore;
pub use store::{MemoryStore, Store};

/// How uploads are retried and when they expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// A record still unacknowledged this long after enqueueing expires.
    pub expiry: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5 * 60),
            expiry: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempts + 1` of record `id`: exponential,
    /// capped, scaled into its upper half by a jitter fixed per record and
    /// attempt (so records that failed together spread out, reproducibly).
    pub fn backoff(&self, id: u64, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(32);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exponent.min(31))
            .min(self.max_backoff);
        let jitter = splitmix(id ^ (u64::from(attempts) << 48)) % 1000;
        base / 2 + (base / 2).saturating_mul(jitter as u32) / 1000
    }
}

/// A well-mixed 64-bit hash (SplitMix64's finaliser).
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Why an outbox operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The message breaks the spec; it was not stored.
    #[error("not enqueued, the message is invalid:\n{0}")]
    Invalid(Report),
    /// The store failed.
    #[error("outbox storage: {0}")]
    Storage(String),
    /// No record has this id (already acknowledged or expired).
    #[error("no record {0} in the outbox")]
    UnknownRecord(u64),
}

/// Uploads waiting for the platform's acknowledgement.
#[derive(Debug)]
pub struct Outbox<S: Store = MemoryStore> {
    store: S,
    policy: RetryPolicy,
    /// The store's records, by id, kept in memory for scheduling.
    records: BTreeMap<u64, Record>,
}

impl Outbox<MemoryStore> {
    /// An outbox that keeps its records in memory only.
    pub fn in_memory(policy: RetryPolicy) -> Outbox<MemoryStore> {
        Outbox {
            store: MemoryStore::default(),
            policy,
            records: BTreeMap::new(),
        }
    }
}

impl<S: Store> Outbox<S> {
    /// Opens an outbox over `store`, picking up every record left by an
    /// earlier run.
    pub fn open(store: S, policy: RetryPolicy) -> Result<Outbox<S>, OutboxError> {
        let records = store.load()?.into_iter().map(|r| (r.id, r)).collect();
        Ok(Outbox {
            store,
            policy,
            records,
        })
    }

    /// Validates and stores an upload; it is safe from crashes once this returns.
    pub fn enqueue<M: Message>(&mut self, message: &M, now_ms: u64) -> Result<Record, OutboxError> {
        message.validate().map_err(OutboxError::Invalid)?;
        self.enqueue_encoded(M::SERVICE_NAME, message.encode(), now_ms)
    }

    /// Stores an already encoded data JSON under `service_name`.
    pub fn enqueue_encoded(
        &mut self,
        service_name: &str,
        data: Vec<u8>,
        now_ms: u64,
    ) -> Result<Record, OutboxError> {
        let mut data = Some(data);
        let record = self.store.insert_next(&mut |id| {
            Record::new(id, service_name, data.take().unwrap_or_default(), now_ms)
        })?;
        self.records.insert(record.id, record.clone());
        Ok(record)
    }

    /// The records to send now, oldest first: due, unexpired, and each the
    /// oldest pending record of its order.
    pub fn due(&self, now_ms: u64) -> Vec<Record> {
        let mut blocked_orders = BTreeSet::new();
        let mut out = Vec::new();
        for record in self.records.values() {
            let first_of_order = match &record.order_key {
                Some(order) => blocked_orders.insert(order.clone()),
                None => true,
            };
            if first_of_order
                && record.next_attempt_ms <= now_ms
                && !self.is_expired(record, now_ms)
            {
                out.push(record.clone());
            }
        }
        out
    }

    /// When the next record becomes due, if any is waiting.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.records.values().map(|r| r.next_attempt_ms).min()
    }

    /// The platform acknowledged record `id`: it is removed.
    pub fn acknowledge(&mut self, id: u64) -> Result<Record, OutboxError> {
        let record = self
            .records
            .get(&id)
            .cloned()
            .ok_or(OutboxError::UnknownRecord(id))?;
        self.store.remove(id)?;
        self.records.remove(&id);
        Ok(record)
    }

    /// Sending record `id` failed: it waits for its next backoff.
    pub fn retry_later(
        &mut self,
        id: u64,
        error: &str,
        now_ms: u64,
    ) -> Result<Record, OutboxError> {
        let mut record = self
            .records
            .get(&id)
            .cloned()
            .ok_or(OutboxError::UnknownRecord(id))?;
        record.attempts = record.attempts.saturating_add(1);
        let wait = self.policy.backoff(id, record.attempts);
        record.next_attempt_ms = now_ms.saturating_add(wait.as_millis() as u64);
        record.last_error = Some(error.to_string());
        self.store.put(&record)?;
        self.records.insert(id, record.clone());
        Ok(record)
    }

    /// Removes and returns every record past its expiry, for the caller to
    /// report; nothing expires without passing through here.
    pub fn take_expired(&mut self, now_ms: u64) -> Result<Vec<Record>, OutboxError> {
        let expired: Vec<u64> = self
            .records
            .values()
            .filter(|r| self.is_expired(r, now_ms))
            .map(|r| r.id)
            .collect();
        let mut out = Vec::with_capacity(expired.len());
        for id in expired {
            self.store.remove(id)?;
            if let Some(record) = self.records.remove(&id) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// The same outbox over a boxed store, so that any store fits one type.
    pub fn boxed(self) -> Outbox<Box<dyn Store + Send>>
    where
        S: Send + 'static,
    {
        Outbox {
            store: Box::new(self.store),
            policy: self.policy,
            records: self.records,
        }
    }

    /// Closes the outbox, handing back its store (to reopen it, as after a restart).
    pub fn into_store(self) -> S {
        self.store
    }

    /// Every pending record, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    /// How many records are pending.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn is_expired(&self, record: &Record, now_ms: u64) -> bool {
        now_ms.saturating_sub(record.enqueued_at_ms) >= self.policy.expiry.as_millis() as u64
    }
}
