//! A durable outbox: every upload is written before it is sent and removed
//! only after the platform acknowledged it.
//!
//! This module holds the storage side; the delivery engine
//! ([`crate::engine`]: signs, sends, paces and retries) drives a [`Store`]:
//!
//! * [`Store`]: the asynchronous contract (insert, claim with a lease,
//!   acknowledge, release, expiry), written for an embedded store and for
//!   a shared one (several engines claiming from one database).
//! * [`MemoryStore`]: in memory only, for tests and for callers that accept
//!   losing uploads on a restart.
//! * `RedbStore` (feature `redb`, on by default): one redb file; every record checksummed, damaged
//!   records set aside instead of sent, disk errors recovered from without
//!   a restart.
//! * [`Record`]: one upload, with the idempotency key that makes a re-send
//!   recognisable ([`idempotency_key`] derives it).
//! * [`RetryPolicy`]: the backoff between attempts and the expiry.
//!
//! Records of one order (`order_id`) are claimed in enqueue order: an exit
//! is never sent before its entry was acknowledged or expired. The stores
//! read no clock: the caller passes the time.

mod memory_store;
mod record;
#[cfg(feature = "redb")]
mod redb_store;
mod schedule;
mod store;

use std::time::Duration;

pub use memory_store::MemoryStore;
pub use record::{idempotency_key, Record};
#[cfg(feature = "redb")]
#[cfg_attr(docsrs, doc(cfg(feature = "redb")))]
pub use redb_store::RedbStore;
pub use store::{Claim, DamagedRecord, NewRecord, Release, Store, StoreError, StoreFuture};

/// How uploads are retried and when they expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Waits from `initial` doubling up to `max` between attempts (the
    /// default: 1 s to 5 min).
    pub fn backoff_between(mut self, initial: Duration, max: Duration) -> RetryPolicy {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Expires a record still unacknowledged `expiry` after enqueueing (the
    /// default: 7 days).
    pub fn expiry(mut self, expiry: Duration) -> RetryPolicy {
        self.expiry = expiry;
        self
    }

    /// The wait before attempt `attempts + 1` of record `id`: exponential,
    /// capped, scaled into its upper half by a jitter fixed per record and
    /// attempt (so records that failed together spread out, reproducibly).
    pub fn backoff(&self, id: u64, attempts: u32) -> Duration {
        crate::backoff::BackoffPolicy::new(self.initial_backoff, self.max_backoff)
            .wait(attempts, id ^ (u64::from(attempts) << 48))
    }
}
