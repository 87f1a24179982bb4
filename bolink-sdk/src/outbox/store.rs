//! Where outbox records live: the asynchronous store contract, designed for
//! an embedded store (one process: [`MemoryStore`](super::MemoryStore),
//! `RedbStore` with the `redb` feature) and for a shared one (several
//! processes claiming from one database, e.g. PostgreSQL with
//! `SELECT ... FOR UPDATE SKIP LOCKED` and a lease column).
//!
//! The delivery engine is the only caller. Its cycle for one record:
//! [`insert`](Store::insert) (the upload is accepted once this returns),
//! [`claim`](Store::claim) (leased to this engine while it is sent), then
//! either [`acknowledge`](Store::acknowledge) (the platform readably took
//! or finally refused it: the record leaves the store) or
//! [`release`](Store::release) (it stays, due again later).
//!
//! The futures are boxed so that the store can be a trait object
//! (`Arc<dyn Store>`): one engine type holds any store, and the box costs
//! nothing next to a disk sync.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::Record;

/// What every store method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing failed (disk full, permission, a lost connection
    /// to a shared store). Nothing of the failed call was committed; the
    /// store recovers on a later call (a file store reopens its file), so
    /// the caller retries after a backoff.
    #[error("outbox storage I/O: {0}")]
    Io(String),
    /// The store's file (or database) is damaged beyond what can be read:
    /// it was not opened, nothing in it was changed.
    #[error("outbox store damaged: {0}")]
    Damaged(String),
    /// No record has this id: it was acknowledged or expired already, or
    /// never existed.
    #[error("no record {0} in the outbox")]
    UnknownRecord(u64),
    /// The record is not leased to the caller (its lease ran out and
    /// another owner claimed it, or it was never claimed).
    #[error("record {id} is not claimed by {owner}")]
    NotClaimed {
        /// The record.
        id: u64,
        /// Who asked.
        owner: String,
    },
}

/// An upload to store; the store allocates its id and derives its keys
/// (see [`Record`]).
#[derive(Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// The service (SDK `service_name`, or the new API's interface key).
    pub service_name: String,
    /// The message's data JSON, exactly as it will be signed and sent.
    pub data: Vec<u8>,
    /// When the upload was accepted (unix milliseconds).
    pub enqueued_at_ms: u64,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for NewRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRecord")
            .field("service_name", &self.service_name)
            .field("data", &crate::Text(&self.data))
            .field("enqueued_at_ms", &self.enqueued_at_ms)
            .finish()
    }
}

/// A request for records to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The time of the claim (unix milliseconds).
    pub now_ms: u64,
    /// At most this many records.
    pub limit: usize,
    /// How long the claimed records stay leased to `owner`; past it, a
    /// record is due again (its owner is presumed dead).
    pub lease: Duration,
    /// Who claims (one engine instance).
    pub owner: String,
}

/// A claimed record handed back unsettled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The record.
    pub id: u64,
    /// Who had claimed it.
    pub owner: String,
    /// Not due before this time (unix milliseconds).
    pub next_attempt_ms: u64,
    /// Why it was not settled, kept as the record's `last_error`.
    pub error: String,
    /// Whether this counts as a failed attempt (`attempts` + 1). Not when
    /// the record never reached the platform through no fault of its own
    /// (the engine was pacing, logging in, or shutting down).
    pub count_attempt: bool,
}

/// A stored record that could not be read back (bad checksum, unreadable
/// bytes, a damaged page). It is set aside, never sent: changed bytes must
/// not be signed.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DamagedRecord {
    /// Its id, when that much could be read.
    pub id: Option<u64>,
    /// What was wrong.
    pub reason: String,
    /// The stored bytes as found (empty when even they were unreadable).
    pub bytes: Vec<u8>,
}

// Payloads print as text, not as lists of byte values.
impl std::fmt::Debug for DamagedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DamagedRecord")
            .field("id", &self.id)
            .field("reason", &self.reason)
            .field("bytes", &crate::Text(&self.bytes))
            .finish()
    }
}

/// Durable (or not) storage of outbox records, with claims and leases.
///
/// Every method commits before its future completes: once
/// [`insert`](Store::insert) returns `Ok`, a crash does not lose the
/// record. Ordering contract, for every implementation:
///
/// * ids increase and are never reused, also after a restart;
/// * of the records sharing an `order_key`, only the oldest (lowest id) is
///   ever claimable (the order's *head*); the next becomes claimable once
///   the head is acknowledged or expired, so an exit never overtakes its
///   entry;
/// * a record is claimable when it is its order's head, its
///   `next_attempt_ms` has come, and it is not leased (or its lease ran
///   out);
/// * claims return records oldest first.
// `len` answers through a future (a query, for a shared store); an
// `is_empty` beside it would only be a second way to ask the same.
#[allow(clippy::len_without_is_empty)]
pub trait Store: Send + Sync + 'static {
    /// Stores a new upload: allocates the next id, builds the
    /// [`Record`] (keys derived from its data) and commits it.
    fn insert(&self, record: NewRecord) -> StoreFuture<'_, Record>;

    /// Claims up to `claim.limit` claimable records, oldest first, and
    /// leases them to `claim.owner` until `claim.now_ms + claim.lease`.
    fn claim(&self, claim: Claim) -> StoreFuture<'_, Vec<Record>>;

    /// Removes a record the platform readably acknowledged or finally
    /// refused. When the removal cannot be committed (I/O error) the record
    /// must still never be claimed again by this process: an embedded store
    /// hides it at once and replays the removal once it can write again
    /// (after a restart before that, it is sent once more: delivery is at
    /// least once).
    fn acknowledge(&self, id: u64, owner: &str) -> StoreFuture<'_, Record>;

    /// Hands a claimed record back, due at `next_attempt_ms`. When this
    /// fails the record stays leased until its lease runs out, so it is not
    /// re-sent sooner.
    fn release(&self, release: Release) -> StoreFuture<'_, Record>;

    /// When the next claimable record becomes due, looking at order heads
    /// only (a record waiting behind its head is not due, whatever its
    /// `next_attempt_ms`); a leased head counts from its lease's end.
    /// `None` when the store holds nothing.
    fn next_due_ms(&self) -> StoreFuture<'_, Option<u64>>;

    /// Removes and returns every record enqueued before `enqueued_before_ms`
    /// that is not leased (the engine reports them as expired).
    fn take_expired(&self, enqueued_before_ms: u64) -> StoreFuture<'_, Vec<Record>>;

    /// Every stored record, oldest first (for inspection and tests).
    fn pending(&self) -> StoreFuture<'_, Vec<Record>>;

    /// How many records are stored.
    fn len(&self) -> StoreFuture<'_, usize>;

    /// The records set aside as damaged since the last call (found when
    /// the store was opened or reopened); each is handed out once.
    fn take_damaged(&self) -> StoreFuture<'_, Vec<DamagedRecord>>;
}

/// A shared store is a store, so the engine can hold `Arc<dyn Store>`.
impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn insert(&self, record: NewRecord) -> StoreFuture<'_, Record> {
        (**self).insert(record)
    }
    fn claim(&self, claim: Claim) -> StoreFuture<'_, Vec<Record>> {
        (**self).claim(claim)
    }
    fn acknowledge(&self, id: u64, owner: &str) -> StoreFuture<'_, Record> {
        (**self).acknowledge(id, owner)
    }
    fn release(&self, release: Release) -> StoreFuture<'_, Record> {
        (**self).release(release)
    }
    fn next_due_ms(&self) -> StoreFuture<'_, Option<u64>> {
        (**self).next_due_ms()
    }
    fn take_expired(&self, enqueued_before_ms: u64) -> StoreFuture<'_, Vec<Record>> {
        (**self).take_expired(enqueued_before_ms)
    }
    fn pending(&self) -> StoreFuture<'_, Vec<Record>> {
        (**self).pending()
    }
    fn len(&self) -> StoreFuture<'_, usize> {
        (**self).len()
    }
    fn take_damaged(&self) -> StoreFuture<'_, Vec<DamagedRecord>> {
        (**self).take_damaged()
    }
}
