//! TEMPORARY scaffold while the store layer is written elsewhere.
mod record;
mod store;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

pub use record::{idempotency_key, Record};
pub use store::{Claim, DamagedRecord, NewRecord, Release, Store, StoreError, StoreFuture};

/// How uploads are retried and when they expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Expiry.
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
    /// Backoff.
    pub fn backoff(&self, id: u64, attempts: u32) -> Duration {
        crate::backoff::BackoffPolicy::new(self.initial_backoff, self.max_backoff)
            .wait(attempts, id ^ (u64::from(attempts) << 48))
    }
}

/// Scaffold memory store.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<(u64, BTreeMap<u64, (Record, Option<(String, u64)>)>)>,
}

impl MemoryStore {
    fn heads(map: &BTreeMap<u64, (Record, Option<(String, u64)>)>) -> Vec<u64> {
        let mut seen = std::collections::BTreeSet::new();
        map.values()
            .filter(|(r, _)| match &r.order_key {
                Some(o) => seen.insert(o.clone()),
                None => true,
            })
            .map(|(r, _)| r.id)
            .collect()
    }
}

impl Store for MemoryStore {
    fn insert(&self, new: NewRecord) -> StoreFuture<'_, Record> {
        let mut g = self.inner.lock().unwrap();
        g.0 += 1;
        let r = Record::new(g.0, &new.service_name, new.data, new.enqueued_at_ms);
        g.1.insert(r.id, (r.clone(), None));
        Box::pin(std::future::ready(Ok(r)))
    }
    fn claim(&self, claim: Claim) -> StoreFuture<'_, Vec<Record>> {
        let mut g = self.inner.lock().unwrap();
        let mut out = Vec::new();
        for id in Self::heads(&g.1) {
            if out.len() >= claim.limit {
                break;
            }
            let (r, lease) = g.1.get_mut(&id).unwrap();
            let free = lease
                .as_ref()
                .is_none_or(|(_, until)| *until <= claim.now_ms);
            if free && r.next_attempt_ms <= claim.now_ms {
                *lease = Some((
                    claim.owner.clone(),
                    claim.now_ms + claim.lease.as_millis() as u64,
                ));
                out.push(r.clone());
            }
        }
        Box::pin(std::future::ready(Ok(out)))
    }
    fn acknowledge(&self, id: u64, _owner: &str) -> StoreFuture<'_, Record> {
        let r = self.inner.lock().unwrap().1.remove(&id).map(|x| x.0);
        Box::pin(std::future::ready(r.ok_or(StoreError::UnknownRecord(id))))
    }
    fn release(&self, release: Release) -> StoreFuture<'_, Record> {
        let mut g = self.inner.lock().unwrap();
        let out = match g.1.get_mut(&release.id) {
            Some((r, lease)) => {
                *lease = None;
                if release.count_attempt {
                    r.attempts += 1;
                }
                r.next_attempt_ms = release.next_attempt_ms;
                r.last_error = Some(release.error);
                Ok(r.clone())
            }
            None => Err(StoreError::UnknownRecord(release.id)),
        };
        Box::pin(std::future::ready(out))
    }
    fn next_due_ms(&self) -> StoreFuture<'_, Option<u64>> {
        let g = self.inner.lock().unwrap();
        let due = Self::heads(&g.1)
            .into_iter()
            .map(|id| {
                let (r, lease) = &g.1[&id];
                lease
                    .as_ref()
                    .map_or(r.next_attempt_ms, |(_, u)| r.next_attempt_ms.max(*u))
            })
            .min();
        Box::pin(std::future::ready(Ok(due)))
    }
    fn take_expired(&self, before: u64) -> StoreFuture<'_, Vec<Record>> {
        let mut g = self.inner.lock().unwrap();
        let ids: Vec<u64> =
            g.1.values()
                .filter(|(r, l)| r.enqueued_at_ms < before && l.is_none())
                .map(|(r, _)| r.id)
                .collect();
        let out = ids
            .into_iter()
            .filter_map(|id| g.1.remove(&id).map(|x| x.0))
            .collect();
        Box::pin(std::future::ready(Ok(out)))
    }
    fn pending(&self) -> StoreFuture<'_, Vec<Record>> {
        let out = self
            .inner
            .lock()
            .unwrap()
            .1
            .values()
            .map(|x| x.0.clone())
            .collect();
        Box::pin(std::future::ready(Ok(out)))
    }
    fn len(&self) -> StoreFuture<'_, usize> {
        let n = self.inner.lock().unwrap().1.len();
        Box::pin(std::future::ready(Ok(n)))
    }
    fn take_damaged(&self) -> StoreFuture<'_, Vec<DamagedRecord>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
}
