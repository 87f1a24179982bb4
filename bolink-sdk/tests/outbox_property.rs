//! A property over any interleaving of inserts, claims by two engines,
//! acknowledgements, releases, expiry, crashes and time, for both stores:
//! no record is lost, no id is reused, no record overtakes an older one of
//! its order, and every claim, settlement, expiry and `next_due_ms` answer
//! is exactly what the contract in `store.rs` says, recomputed here from
//! the store's records and the leases handed out.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use bolink_sdk::outbox::{MemoryStore, Record, RedbStore, Release, Store, StoreError};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[derive(Debug, Clone)]
enum Step {
    Insert {
        order: Option<u8>,
    },
    Claim {
        owner: u8,
        limit: usize,
    },
    Ack {
        pick: usize,
    },
    Release {
        pick: usize,
        delay_ms: u64,
        count: bool,
    },
    Expire {
        age_ms: u64,
    },
    Crash,
    Tick {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => proptest::option::weighted(0.8, 0u8..4).prop_map(|order| Step::Insert { order }),
        3 => (0u8..2, 0usize..4).prop_map(|(owner, limit)| Step::Claim { owner, limit }),
        3 => any::<usize>().prop_map(|pick| Step::Ack { pick }),
        2 => (any::<usize>(), 0u64..30_000, any::<bool>())
            .prop_map(|(pick, delay_ms, count)| Step::Release { pick, delay_ms, count }),
        1 => (0u64..60_000).prop_map(|age_ms| Step::Expire { age_ms }),
        1 => Just(Step::Crash),
        2 => (0u64..20_000).prop_map(|ms| Step::Tick { ms }),
    ]
}

const OWNERS: [&str; 2] = ["engine-a", "engine-b"];

/// The store under test, and how it crashes.
enum Subject {
    /// A crash of the engine: the store (and its leases) lives on.
    Memory(MemoryStore),
    /// A crash of the process: the file as it is on disk (copied while the
    /// store is open) is all that is left.
    Redb {
        store: RedbStore,
        dir: TempDir,
        generation: u32,
    },
}

impl Subject {
    fn store(&self) -> &dyn Store {
        match self {
            Subject::Memory(store) => store,
            Subject::Redb { store, .. } => store,
        }
    }

    fn path(dir: &TempDir, generation: u32) -> PathBuf {
        dir.file(&format!("outbox-{generation}.redb"))
    }

    /// Crashes; whether the leases died with it.
    async fn crash(&mut self) -> bool {
        match self {
            Subject::Memory(_) => false,
            Subject::Redb {
                store,
                dir,
                generation,
            } => {
                let image = Subject::path(dir, *generation + 1);
                std::fs::copy(Subject::path(dir, *generation), &image).unwrap();
                *store = RedbStore::open(&image).await.unwrap();
                *generation += 1;
                true
            }
        }
    }
}

/// What the test knows independently of the store.
#[derive(Default)]
struct Model {
    now: u64,
    /// The latest claim's time: the store's notion of now for expiry.
    claim_clock: u64,
    inserted: BTreeSet<u64>,
    max_id: u64,
    acked: BTreeSet<u64>,
    expired: BTreeSet<u64>,
    /// Leases handed out: id → (owner, until).
    leases: BTreeMap<u64, (u8, u64)>,
    /// Claims an engine holds and may settle (possibly lost since).
    in_flight: Vec<(u64, u8)>,
}

impl Model {
    fn live(&self, id: u64) -> bool {
        self.inserted.contains(&id) && !self.acked.contains(&id) && !self.expired.contains(&id)
    }

    /// When a record, if a head, is claimable.
    fn due(&self, record: &Record) -> u64 {
        match self.leases.get(&record.id) {
            Some(&(_, until)) => until.max(record.next_attempt_ms),
            None => record.next_attempt_ms,
        }
    }

    /// What settling `id` as `owner` must give.
    fn settle_outcome(&self, id: u64, owner: u8) -> Result<(), StoreError> {
        if !self.live(id) {
            Err(StoreError::UnknownRecord(id))
        } else if self.leases.get(&id).map(|&(o, _)| o) == Some(owner) {
            Ok(())
        } else {
            Err(StoreError::NotClaimed {
                id,
                owner: OWNERS[owner as usize].to_string(),
            })
        }
    }
}

/// The oldest record of each order (and every record without one).
fn heads(pending: &[Record]) -> Vec<&Record> {
    let mut seen = BTreeSet::new();
    pending
        .iter()
        .filter(|r| match &r.order_key {
            Some(key) => seen.insert(key.clone()),
            None => true,
        })
        .collect()
}

async fn run(mut subject: Subject, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut m = Model::default();
    for step in steps {
        let store = subject.store();
        match step {
            Step::Insert { order } => {
                let data = match order {
                    Some(order) => upload(&format!("o-{order}")),
                    None => b"{}".to_vec(),
                };
                let record = store
                    .insert(new_record("in_park", data, m.now))
                    .await
                    .unwrap();
                prop_assert!(record.id > m.max_id, "id {} after {}", record.id, m.max_id);
                m.max_id = record.id;
                m.inserted.insert(record.id);
            }
            Step::Claim { owner, limit } => {
                let pending = store.pending().await.unwrap();
                let expected: Vec<u64> = heads(&pending)
                    .into_iter()
                    .filter(|r| m.due(r) <= m.now)
                    .take(limit)
                    .map(|r| r.id)
                    .collect();
                let claimed = store
                    .claim(claim(OWNERS[owner as usize], m.now, limit))
                    .await
                    .unwrap();
                for record in &claimed {
                    let older = pending.iter().find(|p| {
                        p.id < record.id && p.order_key.is_some() && p.order_key == record.order_key
                    });
                    prop_assert!(
                        older.is_none(),
                        "record {} overtook {:?} of its order",
                        record.id,
                        older.map(|r| r.id)
                    );
                    prop_assert!(pending.contains(record), "claimed as stored");
                    m.leases
                        .insert(record.id, (owner, m.now + LEASE.as_millis() as u64));
                    m.in_flight.push((record.id, owner));
                }
                prop_assert_eq!(ids(&claimed), expected);
                m.claim_clock = m.now;
            }
            Step::Ack { pick } if !m.in_flight.is_empty() => {
                let (id, owner) = m.in_flight.remove(pick % m.in_flight.len());
                let expected = m.settle_outcome(id, owner);
                let result = store.acknowledge(id, OWNERS[owner as usize]).await;
                match expected {
                    Ok(()) => {
                        prop_assert_eq!(result.map(|r| r.id), Ok(id));
                        m.acked.insert(id);
                        m.leases.remove(&id);
                    }
                    Err(e) => prop_assert_eq!(result.map(|r| r.id), Err(e)),
                }
            }
            Step::Release {
                pick,
                delay_ms,
                count,
            } if !m.in_flight.is_empty() => {
                let (id, owner) = m.in_flight.remove(pick % m.in_flight.len());
                let expected = m.settle_outcome(id, owner);
                let before = store
                    .pending()
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|r| r.id == id);
                let result = store
                    .release(Release {
                        id,
                        owner: OWNERS[owner as usize].to_string(),
                        next_attempt_ms: m.now + delay_ms,
                        error: "timeout".to_string(),
                        count_attempt: count,
                    })
                    .await;
                match expected {
                    Ok(()) => {
                        let record = result.unwrap();
                        let before = before.unwrap();
                        prop_assert_eq!(record.next_attempt_ms, m.now + delay_ms);
                        prop_assert_eq!(record.attempts, before.attempts + u32::from(count));
                        prop_assert_eq!(&record.data, &before.data);
                        m.leases.remove(&id);
                    }
                    Err(e) => prop_assert_eq!(result.map(|r| r.id), Err(e)),
                }
            }
            Step::Expire { age_ms } => {
                let before = m.now.saturating_sub(age_ms);
                let pending = store.pending().await.unwrap();
                let expected: Vec<u64> = pending
                    .iter()
                    .filter(|r| r.enqueued_at_ms < before)
                    .filter(|r| {
                        m.leases
                            .get(&r.id)
                            .is_none_or(|&(_, until)| until <= m.claim_clock)
                    })
                    .map(|r| r.id)
                    .collect();
                let expired = store.take_expired(before).await.unwrap();
                prop_assert_eq!(ids(&expired), expected);
                for id in ids(&expired) {
                    m.expired.insert(id);
                    m.leases.remove(&id);
                }
            }
            Step::Crash => {
                let before = store.pending().await.unwrap();
                if subject.crash().await {
                    m.leases.clear();
                    m.claim_clock = 0;
                }
                m.in_flight.clear();
                prop_assert_eq!(
                    subject.store().pending().await.unwrap(),
                    before,
                    "every committed change survives"
                );
            }
            Step::Tick { ms } => m.now += ms,
            Step::Ack { .. } | Step::Release { .. } => {}
        }

        let store = subject.store();
        let pending = store.pending().await.unwrap();
        let ids: Vec<u64> = ids(&pending);
        prop_assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first");
        let live: BTreeSet<u64> = ids.iter().copied().collect();
        prop_assert!(live.is_disjoint(&m.acked), "an acknowledged record is back");
        prop_assert!(live.is_disjoint(&m.expired), "an expired record is back");
        let accounted: BTreeSet<u64> = live
            .iter()
            .chain(&m.acked)
            .chain(&m.expired)
            .copied()
            .collect();
        prop_assert_eq!(&accounted, &m.inserted, "a record was lost");
        prop_assert_eq!(store.len().await.unwrap(), pending.len());
        let due = heads(&pending).into_iter().map(|r| m.due(r)).min();
        prop_assert_eq!(store.next_due_ms().await.unwrap(), due, "next_due_ms");
    }
    prop_assert_eq!(subject.store().take_damaged().await.unwrap(), vec![]);
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

proptest! {
    #[test]
    fn memory_store_never_loses_reuses_or_reorders(steps in proptest::collection::vec(step(), 1..80)) {
        runtime().block_on(run(Subject::Memory(MemoryStore::new()), steps))?;
    }
}

proptest! {
    // Every step commits (fsync) and a crash reopens a file: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn redb_store_never_loses_reuses_or_reorders(steps in proptest::collection::vec(step(), 1..60)) {
        runtime().block_on(async {
            let dir = TempDir::new("property");
            let store = RedbStore::open(Subject::path(&dir, 0)).await.unwrap();
            run(Subject::Redb { store, dir, generation: 0 }, steps).await
        })?;
    }
}
