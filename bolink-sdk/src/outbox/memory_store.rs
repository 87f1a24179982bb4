//! The store that keeps records in memory only.

use std::sync::{Mutex, MutexGuard};

use super::schedule::Schedule;
use super::{Claim, DamagedRecord, NewRecord, Record, Release, Store, StoreError, StoreFuture};

/// Outbox records in memory only: lost on a restart, never damaged.
///
/// Cheap to create; every operation is a short critical section, so its
/// futures complete on their first poll.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    schedule: Schedule,
    last_id: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The critical sections do not panic midway through a change, so a
        // poisoned lock still guards a consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    fn insert(&self, new: NewRecord) -> StoreFuture<'_, Record> {
        Box::pin(async move {
            let mut state = self.state();
            state.last_id += 1;
            let record = Record::new(
                state.last_id,
                &new.service_name,
                new.data,
                new.enqueued_at_ms,
            );
            state.schedule.insert(record.clone());
            Ok(record)
        })
    }

    fn claim(&self, claim: Claim) -> StoreFuture<'_, Vec<Record>> {
        Box::pin(async move { Ok(self.state().schedule.claim(&claim)) })
    }

    fn acknowledge(&self, id: u64, owner: &str) -> StoreFuture<'_, Record> {
        let owner = owner.to_string();
        Box::pin(async move {
            let mut state = self.state();
            state.schedule.leased_to(id, &owner)?;
            state
                .schedule
                .remove(id)
                .ok_or(StoreError::UnknownRecord(id))
        })
    }

    fn release(&self, release: Release) -> StoreFuture<'_, Record> {
        Box::pin(async move {
            let mut state = self.state();
            let record = released(
                state.schedule.leased_to(release.id, &release.owner)?,
                release,
            );
            state.schedule.release(record.clone());
            Ok(record)
        })
    }

    fn next_due_ms(&self) -> StoreFuture<'_, Option<u64>> {
        Box::pin(async move { Ok(self.state().schedule.next_due_ms()) })
    }

    fn take_expired(&self, enqueued_before_ms: u64) -> StoreFuture<'_, Vec<Record>> {
        Box::pin(async move {
            let mut state = self.state();
            let ids = state.schedule.expired(enqueued_before_ms);
            Ok(ids
                .into_iter()
                .filter_map(|id| state.schedule.remove(id))
                .collect())
        })
    }

    fn pending(&self) -> StoreFuture<'_, Vec<Record>> {
        Box::pin(async move { Ok(self.state().schedule.records().cloned().collect()) })
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move { Ok(self.state().schedule.len()) })
    }

    fn take_damaged(&self) -> StoreFuture<'_, Vec<DamagedRecord>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// The record as it is after `release`.
pub(crate) fn released(record: &Record, release: Release) -> Record {
    let mut record = record.clone();
    if release.count_attempt {
        record.attempts = record.attempts.saturating_add(1);
    }
    record.next_attempt_ms = release.next_attempt_ms;
    record.last_error = Some(release.error);
    record
}
