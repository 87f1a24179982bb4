//! The in-memory scheduling index both embedded stores share, so that the
//! ordering, lease and expiry rules of [`Store`](super::Store) exist once.
//!
//! It holds every live record by id, the leases (never persisted: a restart
//! ends them all, which is what a dead owner's lease should do anyway), the
//! head of every order, and the records acknowledged but not yet removed
//! from disk ("hidden").
//!
//! Only order heads are scheduled. `by_due` orders the heads by the time
//! they become claimable; `ready` holds, by id, the heads already due at
//! `clock_ms` (the latest claim's time), so a claim takes the oldest due
//! heads without looking at the others: with a backlog of 100,000 records
//! a claim costs the heads that became due since the last claim plus
//! `limit` lookups, not a pass over the backlog.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use super::{Claim, Record, StoreError};

/// Who holds a claimed record, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lease {
    owner: String,
    until_ms: u64,
}

#[derive(Debug)]
struct Entry {
    record: Record,
    lease: Option<Lease>,
}

impl Entry {
    /// When this record, if it is its order's head, becomes claimable.
    fn due_ms(&self) -> u64 {
        match &self.lease {
            Some(lease) => lease.until_ms.max(self.record.next_attempt_ms),
            None => self.record.next_attempt_ms,
        }
    }
}

/// Records, leases and order heads of one store.
#[derive(Default)]
pub(crate) struct Schedule {
    entries: BTreeMap<u64, Entry>,
    /// The ids of each order's records; the first is the order's head.
    orders: HashMap<String, BTreeSet<u64>>,
    /// `(due_ms, id)` of every head.
    by_due: BTreeSet<(u64, u64)>,
    /// The heads with `due_ms <= clock_ms`.
    ready: BTreeSet<u64>,
    clock_ms: u64,
    /// `(enqueued_at_ms, id)` of every record, for expiry.
    by_enqueued: BTreeSet<(u64, u64)>,
    /// Acknowledged, but the removal is not committed yet.
    hidden: BTreeMap<u64, Record>,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule")
            .field("records", &self.entries.len())
            .field("heads", &self.by_due.len())
            .field("hidden", &self.hidden.len())
            .finish_non_exhaustive()
    }
}

impl Schedule {
    /// Adds (or replaces) a record.
    pub(crate) fn insert(&mut self, record: Record) {
        let id = record.id;
        self.remove(id);
        let previous_head = record.order_key.as_deref().and_then(|k| self.head_of(k));
        self.by_enqueued.insert((record.enqueued_at_ms, id));
        if let Some(key) = &record.order_key {
            self.orders.entry(key.clone()).or_default().insert(id);
        }
        self.entries.insert(
            id,
            Entry {
                record,
                lease: None,
            },
        );
        if let Some(head) = previous_head.filter(|&head| head > id) {
            // Only on loading out of order: a new record normally has the
            // highest id and joins behind the head.
            self.unschedule(head);
        }
        self.schedule(id);
    }

    /// Removes a record, making the next of its order the head.
    pub(crate) fn remove(&mut self, id: u64) -> Option<Record> {
        self.unschedule(id);
        let entry = self.entries.remove(&id)?;
        self.by_enqueued.remove(&(entry.record.enqueued_at_ms, id));
        if let Some(key) = &entry.record.order_key {
            if let Some(ids) = self.orders.get_mut(key) {
                ids.remove(&id);
                match ids.first().copied() {
                    Some(next) => self.schedule(next),
                    None => {
                        self.orders.remove(key);
                    }
                }
            }
        }
        Some(entry.record)
    }

    /// Leases the oldest claimable heads to `claim.owner`.
    pub(crate) fn claim(&mut self, claim: &Claim) -> Vec<Record> {
        self.advance_clock(claim.now_ms);
        let ids: Vec<u64> = self.ready.iter().take(claim.limit).copied().collect();
        let until_ms = claim
            .now_ms
            .saturating_add(u64::try_from(claim.lease.as_millis()).unwrap_or(u64::MAX));
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            self.unschedule(id);
            if let Some(entry) = self.entries.get_mut(&id) {
                entry.lease = Some(Lease {
                    owner: claim.owner.clone(),
                    until_ms,
                });
                out.push(entry.record.clone());
            }
            self.schedule(id);
        }
        out
    }

    /// The record, if it is leased to `owner` (its lease may have run out,
    /// as long as nobody claimed it since).
    pub(crate) fn leased_to(&self, id: u64, owner: &str) -> Result<&Record, StoreError> {
        let entry = self.entries.get(&id).ok_or(StoreError::UnknownRecord(id))?;
        match &entry.lease {
            Some(lease) if lease.owner == owner => Ok(&entry.record),
            _ => Err(StoreError::NotClaimed {
                id,
                owner: owner.to_string(),
            }),
        }
    }

    /// Replaces a leased record by its released version (same id, order and
    /// enqueue time) and ends its lease.
    pub(crate) fn release(&mut self, record: Record) {
        let id = record.id;
        self.unschedule(id);
        if let Some(entry) = self.entries.get_mut(&id) {
            entry.record = record;
            entry.lease = None;
        }
        self.schedule(id);
    }

    /// Takes a record out of scheduling at once (its removal could not be
    /// committed): never claimed again, no longer holding its order back,
    /// kept until [`forget_hidden`](Self::forget_hidden).
    // Only the redb store sets records aside and reloads its index.
    #[cfg_attr(not(feature = "redb"), allow(dead_code))]
    pub(crate) fn hide(&mut self, id: u64) -> Option<Record> {
        let record = self.remove(id)?;
        self.hidden.insert(id, record.clone());
        Some(record)
    }

    /// A hidden record.
    // Only the redb store sets records aside and reloads its index.
    #[cfg_attr(not(feature = "redb"), allow(dead_code))]
    pub(crate) fn hidden(&self, id: u64) -> Option<&Record> {
        self.hidden.get(&id)
    }

    /// The hidden records' ids, whose removal is still to be committed.
    // Only the redb store sets records aside and reloads its index.
    #[cfg_attr(not(feature = "redb"), allow(dead_code))]
    pub(crate) fn hidden_ids(&self) -> Vec<u64> {
        self.hidden.keys().copied().collect()
    }

    /// The removal of these hidden records was committed.
    // Only the redb store sets records aside and reloads its index.
    #[cfg_attr(not(feature = "redb"), allow(dead_code))]
    pub(crate) fn forget_hidden(&mut self, ids: &[u64]) {
        for id in ids {
            self.hidden.remove(id);
        }
    }

    /// When the next head becomes claimable.
    pub(crate) fn next_due_ms(&self) -> Option<u64> {
        self.by_due.first().map(|&(due_ms, _)| due_ms)
    }

    /// The ids, oldest first, of the records enqueued before
    /// `enqueued_before_ms` that are not leased: no lease, or one that ended
    /// by the latest claim's time (the store reads no clock of its own).
    pub(crate) fn expired(&self, enqueued_before_ms: u64) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .by_enqueued
            .range(..(enqueued_before_ms, 0))
            .map(|&(_, id)| id)
            .filter(|id| {
                self.entries.get(id).is_some_and(|e| {
                    e.lease
                        .as_ref()
                        .is_none_or(|lease| lease.until_ms <= self.clock_ms)
                })
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Every live (not hidden) record, oldest first.
    pub(crate) fn records(&self) -> impl Iterator<Item = &Record> {
        self.entries.values().map(|e| &e.record)
    }

    /// How many live records there are.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Replaces the records by those read back from disk after a reopen,
    /// keeping the leases of the records still there and the hidden ones.
    // Only the redb store sets records aside and reloads its index.
    #[cfg_attr(not(feature = "redb"), allow(dead_code))]
    pub(crate) fn reload(&mut self, records: impl IntoIterator<Item = Record>) {
        let leases: Vec<(u64, Lease)> = self
            .entries
            .iter()
            .filter_map(|(&id, e)| e.lease.clone().map(|lease| (id, lease)))
            .collect();
        let mut fresh = Schedule {
            clock_ms: self.clock_ms,
            hidden: std::mem::take(&mut self.hidden),
            ..Schedule::default()
        };
        for record in records {
            if !fresh.hidden.contains_key(&record.id) {
                fresh.insert(record);
            }
        }
        for (id, lease) in leases {
            fresh.unschedule(id);
            if let Some(entry) = fresh.entries.get_mut(&id) {
                entry.lease = Some(lease);
            }
            fresh.schedule(id);
        }
        *self = fresh;
    }

    fn head_of(&self, order_key: &str) -> Option<u64> {
        self.orders.get(order_key)?.first().copied()
    }

    fn is_head(&self, record: &Record) -> bool {
        match &record.order_key {
            Some(key) => self.head_of(key) == Some(record.id),
            None => true,
        }
    }

    /// Enters a head into `by_due` (and `ready` if due); no-op for others.
    fn schedule(&mut self, id: u64) {
        let Some(entry) = self.entries.get(&id) else {
            return;
        };
        if !self.is_head(&entry.record) {
            return;
        }
        let due_ms = entry.due_ms();
        self.by_due.insert((due_ms, id));
        if due_ms <= self.clock_ms {
            self.ready.insert(id);
        }
    }

    /// Takes a record out of `by_due` and `ready`; call before changing
    /// its lease or retry time, since its place there depends on them.
    fn unschedule(&mut self, id: u64) {
        if let Some(entry) = self.entries.get(&id) {
            self.by_due.remove(&(entry.due_ms(), id));
            self.ready.remove(&id);
        }
    }

    fn advance_clock(&mut self, now_ms: u64) {
        if now_ms >= self.clock_ms {
            let newly_due: Vec<u64> = self
                .by_due
                .range((
                    Bound::Excluded((self.clock_ms, u64::MAX)),
                    Bound::Included((now_ms, u64::MAX)),
                ))
                .map(|&(_, id)| id)
                .collect();
            self.ready.extend(newly_due);
        } else {
            // The caller's clock went back: rare, so a pass over the ready
            // heads is acceptable.
            let entries = &self.entries;
            self.ready
                .retain(|id| entries.get(id).is_some_and(|e| e.due_ms() <= now_ms));
        }
        self.clock_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn record(id: u64, order: Option<&str>, at: u64) -> Record {
        let data = match order {
            Some(order) => format!(r#"{{"order_id":"{order}"}}"#),
            None => "{}".to_string(),
        };
        Record::new(id, "in_park", data.into_bytes(), at)
    }

    fn claim(now_ms: u64, limit: usize) -> Claim {
        Claim {
            now_ms,
            limit,
            lease: Duration::from_millis(100),
            owner: "a".into(),
        }
    }

    fn ids(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.id).collect()
    }

    /// Every head is in `by_due` exactly once with its current due time,
    /// in `ready` iff due by the clock, and nothing else is.
    fn check_invariants(s: &Schedule) {
        let mut heads = BTreeSet::new();
        for (id, entry) in &s.entries {
            if s.is_head(&entry.record) {
                heads.insert((entry.due_ms(), *id));
            }
        }
        assert_eq!(s.by_due, heads);
        let ready: BTreeSet<u64> = heads
            .iter()
            .filter(|(due, _)| *due <= s.clock_ms)
            .map(|&(_, id)| id)
            .collect();
        assert_eq!(s.ready, ready);
    }

    #[test]
    fn loading_out_of_order_keeps_the_oldest_as_head() {
        let mut s = Schedule::default();
        s.insert(record(5, Some("o"), 0));
        s.insert(record(2, Some("o"), 0));
        check_invariants(&s);
        assert_eq!(ids(&s.claim(&claim(0, 10))), [2]);
        check_invariants(&s);
    }

    #[test]
    fn a_clock_going_back_does_not_claim_records_not_yet_due() {
        let mut s = Schedule::default();
        s.insert(record(1, None, 0));
        let mut late = record(2, None, 0);
        late.next_attempt_ms = 500;
        s.insert(late);
        assert_eq!(s.claim(&claim(1000, 0)).len(), 0);
        check_invariants(&s);
        assert_eq!(ids(&s.claim(&claim(100, 10))), [1]);
        check_invariants(&s);
    }

    #[test]
    fn reload_keeps_leases_and_hidden_records() {
        let mut s = Schedule::default();
        for id in 1..=3 {
            s.insert(record(id, None, 0));
        }
        assert_eq!(ids(&s.claim(&claim(0, 1))), [1]);
        s.hide(2);
        s.reload((1..=3).map(|id| record(id, None, 0)));
        check_invariants(&s);
        assert!(s.leased_to(1, "a").is_ok());
        assert_eq!(s.hidden_ids(), [2]);
        assert_eq!(ids(&s.claim(&claim(0, 10))), [3]);
    }

    #[test]
    fn invariants_hold_through_a_mixed_sequence() {
        let mut s = Schedule::default();
        for round in 0..200u64 {
            let order = ["a", "b", "c"][(round % 3) as usize];
            s.insert(record(round + 1, Some(order), round));
            let claimed = s.claim(&claim(round * 40, 2));
            check_invariants(&s);
            for (i, r) in claimed.into_iter().enumerate() {
                if i % 2 == 0 {
                    s.remove(r.id);
                } else {
                    let mut r = r;
                    r.next_attempt_ms = round * 40 + 70;
                    s.release(r);
                }
                check_invariants(&s);
            }
            for id in s.expired(round.saturating_sub(50)) {
                s.remove(id);
            }
            check_invariants(&s);
        }
    }
}
