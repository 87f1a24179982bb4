//! The store contract (`bolink_sdk::outbox::Store`), checked against both
//! stores: ordering per order, leases, expiry, `next_due_ms`, idempotency
//! keys, and the retry policy.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bolink_sdk::outbox::{idempotency_key, MemoryStore, RedbStore, RetryPolicy, Store, StoreError};
use common::*;

#[derive(Clone, Copy)]
enum Kind {
    Memory,
    Redb,
}

/// A store of either kind, held as the engine holds it.
struct Harness {
    store: Arc<dyn Store>,
    _dir: Option<TempDir>,
}

impl Harness {
    async fn new(kind: Kind) -> Harness {
        match kind {
            Kind::Memory => Harness {
                store: Arc::new(MemoryStore::new()),
                _dir: None,
            },
            Kind::Redb => {
                let dir = TempDir::new("contract");
                let store = RedbStore::open(dir.file("outbox.redb")).await.unwrap();
                Harness {
                    store: Arc::new(store),
                    _dir: Some(dir),
                }
            }
        }
    }
}

macro_rules! for_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Harness::new(super::Kind::Memory).await).await
            })*
        }
        mod redb {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Harness::new(super::Kind::Redb).await).await
            })*
        }
    };
}

for_both_stores![
    an_exit_never_overtakes_its_entry,
    a_failed_head_holds_its_order_back,
    claims_are_oldest_first_and_limited,
    a_claimed_record_is_not_claimed_again_until_its_lease_ends_or_it_is_released,
    settling_needs_the_lease,
    next_due_ms_looks_at_order_heads_only,
    expiry_hands_records_back_and_skips_leased_ones,
    records_carry_the_protocols_idempotency_key,
    ids_increase_and_len_counts_live_records,
];

async fn an_exit_never_overtakes_its_entry(h: Harness) {
    let store = &*h.store;
    let entry = insert(store, "o-1", 0).await;
    let exit = store
        .insert(new_record("out_park", upload("o-1"), 0))
        .await
        .unwrap();
    let other = insert(store, "o-2", 0).await;
    assert_eq!(
        ids(&store.claim(claim("e", 0, 10)).await.unwrap()),
        [entry.id, other.id]
    );
    // The exit waits while its entry is in flight, even with its lease over.
    assert_eq!(store.claim(claim("e", 0, 10)).await.unwrap(), []);
    assert_eq!(
        ids(&store.claim(claim("f", 60_000, 10)).await.unwrap()),
        [entry.id, other.id],
        "leases ran out: the same heads again, the exit still behind"
    );
    store.acknowledge(entry.id, "f").await.unwrap();
    assert_eq!(
        ids(&store.claim(claim("f", 60_000, 10)).await.unwrap()),
        [exit.id]
    );
}

async fn a_failed_head_holds_its_order_back(h: Harness) {
    let store = &*h.store;
    let entry = insert(store, "o-1", 0).await;
    let exit = insert(store, "o-1", 0).await;
    assert_eq!(
        ids(&store.claim(claim("e", 0, 10)).await.unwrap()),
        [entry.id]
    );
    let released = store.release(release(&entry, "e", 5_000)).await.unwrap();
    assert_eq!(released.attempts, 1);
    assert_eq!(released.next_attempt_ms, 5_000);
    assert_eq!(released.last_error.as_deref(), Some("timeout"));
    assert_eq!(
        store.claim(claim("e", 4_999, 10)).await.unwrap(),
        [],
        "neither the waiting entry nor the exit behind it"
    );
    let again = store.claim(claim("e", 5_000, 10)).await.unwrap();
    assert_eq!(again, std::slice::from_ref(&released));
    // Not counting the attempt (the engine was pacing) keeps `attempts`.
    let mut paced = release(&released, "e", 5_000);
    paced.count_attempt = false;
    assert_eq!(store.release(paced).await.unwrap().attempts, 1);
    assert_eq!(
        ids(&store.claim(claim("e", 5_000, 10)).await.unwrap()),
        [entry.id]
    );
    store.acknowledge(entry.id, "e").await.unwrap();
    assert_eq!(
        ids(&store.claim(claim("e", 5_000, 10)).await.unwrap()),
        [exit.id]
    );
}

async fn claims_are_oldest_first_and_limited(h: Harness) {
    let store = &*h.store;
    let mut all = Vec::new();
    for order in ["o-5", "o-4", "o-3", "o-2", "o-1"] {
        all.push(insert(store, order, 0).await.id);
    }
    assert_eq!(ids(&store.claim(claim("e", 0, 2)).await.unwrap()), all[..2]);
    assert_eq!(
        ids(&store.claim(claim("e", 0, 2)).await.unwrap()),
        all[2..4]
    );
    assert_eq!(ids(&store.claim(claim("e", 0, 2)).await.unwrap()), all[4..]);
    assert_eq!(store.claim(claim("e", 0, 2)).await.unwrap(), []);
}

async fn a_claimed_record_is_not_claimed_again_until_its_lease_ends_or_it_is_released(h: Harness) {
    let store = &*h.store;
    let first = insert(store, "o-1", 0).await;
    let second = insert(store, "o-2", 0).await;
    assert_eq!(
        ids(&store.claim(claim("a", 0, 10)).await.unwrap()),
        [first.id, second.id]
    );
    assert_eq!(store.claim(claim("b", 9_999, 10)).await.unwrap(), []);
    store.release(release(&first, "a", 0)).await.unwrap();
    assert_eq!(
        ids(&store.claim(claim("b", 9_999, 10)).await.unwrap()),
        [first.id],
        "released: claimable at once"
    );
    assert_eq!(
        ids(&store.claim(claim("b", 10_000, 10)).await.unwrap()),
        [second.id],
        "its lease (until 10 000) ran out"
    );
}

async fn settling_needs_the_lease(h: Harness) {
    let store = &*h.store;
    let first = insert(store, "o-1", 0).await;
    let second = insert(store, "o-2", 0).await;
    let third = insert(store, "o-3", 0).await;
    let not_claimed = |id: u64, owner: &str| StoreError::NotClaimed {
        id,
        owner: owner.to_string(),
    };
    assert_eq!(
        store.acknowledge(first.id, "a").await.unwrap_err(),
        not_claimed(first.id, "a"),
        "never claimed"
    );
    store.claim(claim("a", 0, 2)).await.unwrap();
    assert_eq!(
        store.acknowledge(first.id, "b").await.unwrap_err(),
        not_claimed(first.id, "b")
    );
    assert_eq!(
        store.release(release(&first, "b", 0)).await.unwrap_err(),
        not_claimed(first.id, "b")
    );
    // Past its lease, another owner claims it: the first owner lost it.
    assert_eq!(
        ids(&store.claim(claim("b", 20_000, 1)).await.unwrap()),
        [first.id]
    );
    assert_eq!(
        store.acknowledge(first.id, "a").await.unwrap_err(),
        not_claimed(first.id, "a")
    );
    assert_eq!(store.acknowledge(first.id, "b").await.unwrap(), first);
    // A lease that ran out without another claim still lets its owner settle.
    assert_eq!(store.acknowledge(second.id, "a").await.unwrap(), second);
    assert_eq!(
        store.acknowledge(first.id, "b").await.unwrap_err(),
        StoreError::UnknownRecord(first.id)
    );
    assert_eq!(
        store.release(release(&first, "b", 0)).await.unwrap_err(),
        StoreError::UnknownRecord(first.id)
    );
    assert_eq!(ids(&store.pending().await.unwrap()), [third.id]);
}

async fn next_due_ms_looks_at_order_heads_only(h: Harness) {
    let store = &*h.store;
    assert_eq!(store.next_due_ms().await.unwrap(), None);
    let entry = insert(store, "o-1", 0).await;
    let _exit = insert(store, "o-1", 0).await;
    assert_eq!(store.next_due_ms().await.unwrap(), Some(0));
    store.claim(claim("e", 0, 10)).await.unwrap();
    // The exit (due at 0) waits behind its leased entry: counting it would
    // wake the engine at once, again and again, for nothing.
    assert_eq!(
        store.next_due_ms().await.unwrap(),
        Some(LEASE.as_millis() as u64),
        "a leased head counts from its lease's end"
    );
    store.release(release(&entry, "e", 60_000)).await.unwrap();
    assert_eq!(store.next_due_ms().await.unwrap(), Some(60_000));
    let other = insert(store, "o-2", 30_000).await;
    assert_eq!(store.next_due_ms().await.unwrap(), Some(30_000));
    assert_eq!(
        ids(&store.claim(claim("e", 60_000, 10)).await.unwrap()),
        [entry.id, other.id]
    );
    store.acknowledge(entry.id, "e").await.unwrap();
    assert_eq!(
        store.next_due_ms().await.unwrap(),
        Some(0),
        "the exit is the head now"
    );
}

async fn expiry_hands_records_back_and_skips_leased_ones(h: Harness) {
    let store = &*h.store;
    let old_leased = insert(store, "o-1", 0).await;
    let old = insert(store, "o-2", 0).await;
    let behind = insert(store, "o-1", 100).await;
    let young = insert(store, "o-3", 3_000_000).await;
    assert_eq!(
        ids(&store.claim(claim("e", 0, 1)).await.unwrap()),
        [old_leased.id]
    );
    let expired = store.take_expired(1_000_000).await.unwrap();
    assert_eq!(
        ids(&expired),
        [old.id, behind.id],
        "everything old except the leased one"
    );
    assert_eq!(expired[0], old);
    assert_eq!(
        ids(&store.pending().await.unwrap()),
        [old_leased.id, young.id]
    );
    // The store reads no clock: it learns the time from claims. One past the
    // lease's end (claiming nothing) makes the record expirable.
    store.claim(claim("e", 20_000, 0)).await.unwrap();
    assert_eq!(
        ids(&store.take_expired(1_000_000).await.unwrap()),
        [old_leased.id]
    );
    assert_eq!(store.take_expired(1_000_000).await.unwrap(), []);
    assert_eq!(ids(&store.pending().await.unwrap()), [young.id]);
}

async fn records_carry_the_protocols_idempotency_key(h: Harness) {
    let store = &*h.store;
    let entry = insert(store, "o-1", 0).await;
    let payment = store
        .insert(new_record("outpark", br#"{"trade_no":"t-9"}"#.to_vec(), 0))
        .await
        .unwrap();
    let numeric = store
        .insert(new_record("in_park", br#"{"order_id":42}"#.to_vec(), 0))
        .await
        .unwrap();
    let bare = store
        .insert(new_record("park_log", b"{}".to_vec(), 0))
        .await
        .unwrap();
    let unreadable = store
        .insert(new_record("park_log", b"not json".to_vec(), 0))
        .await
        .unwrap();
    assert_eq!(entry.idempotency_key, "in_park:o-1");
    assert_eq!(entry.order_key.as_deref(), Some("o-1"));
    assert_eq!(payment.idempotency_key, "outpark:t-9");
    assert_eq!(payment.order_key, None);
    assert_eq!(numeric.idempotency_key, "in_park:42");
    assert_eq!(bare.idempotency_key, format!("park_log:#{}", bare.id));
    assert_eq!(
        unreadable.idempotency_key,
        format!("park_log:#{}", unreadable.id)
    );
    assert_eq!(unreadable.data, b"not json", "stored exactly as given");
    // The simulator de-duplicates with the same function.
    assert_eq!(
        idempotency_key("in_park", &upload("o-1")).as_deref(),
        Some(entry.idempotency_key.as_str())
    );
    assert_eq!(idempotency_key("park_log", b"{}"), None);
}

async fn ids_increase_and_len_counts_live_records(h: Harness) {
    let store = &*h.store;
    let mut last = 0;
    for i in 0..20 {
        let record = insert(store, &format!("o-{}", i % 3), i).await;
        assert!(record.id > last, "id {} after {last}", record.id);
        assert_eq!(record.enqueued_at_ms, i);
        assert_eq!(record.next_attempt_ms, i, "due when enqueued");
        assert_eq!(record.attempts, 0);
        last = record.id;
    }
    assert_eq!(store.len().await.unwrap(), 20);
    let claimed = store.claim(claim("e", 100, 10)).await.unwrap();
    assert_eq!(claimed.len(), 3, "one head per order");
    for record in &claimed {
        store.acknowledge(record.id, "e").await.unwrap();
    }
    assert_eq!(store.len().await.unwrap(), 17);
    assert_eq!(store.pending().await.unwrap().len(), 17);
    assert_eq!(store.take_damaged().await.unwrap(), []);
}

#[test]
fn backoff_grows_is_capped_and_jittered() {
    let policy = RetryPolicy::default()
        .backoff_between(Duration::from_millis(100), Duration::from_secs(10))
        .expiry(Duration::from_secs(3600));
    let waits: Vec<Duration> = (1..=12).map(|attempt| policy.backoff(7, attempt)).collect();
    for (attempt, wait) in waits.iter().enumerate() {
        let base = (policy.initial_backoff * 2u32.pow(attempt as u32)).min(policy.max_backoff);
        assert!(
            *wait >= base / 2 && *wait <= base,
            "attempt {}: {wait:?} outside [{:?}, {base:?}]",
            attempt + 1,
            base / 2
        );
    }
    assert!(waits.last().unwrap() <= &policy.max_backoff);
    // Two records failing together wait different times.
    assert_ne!(policy.backoff(1, 3), policy.backoff(2, 3));
    assert_eq!(policy.backoff(1, 3), policy.backoff(1, 3), "reproducible");
}

/// 100,000 records waiting: a claim must not walk (or clone) the backlog.
/// Walking it per claim (a few hundred thousand map steps) would make the
/// 2,000 claims here take minutes in a debug build.
#[tokio::test]
async fn claims_stay_cheap_with_a_large_backlog() {
    let store = MemoryStore::new();
    for i in 0..100_000u64 {
        // Half the records wait behind an older one of their order.
        let order = format!("o-{}", i / 2);
        store
            .insert(new_record("in_park", upload(&order), i))
            .await
            .unwrap();
    }
    let started = Instant::now();
    let mut settled = 0u64;
    for round in 0..2_000u64 {
        let now = 100_000 + round;
        let claimed = store.claim(claim("e", now, 10)).await.unwrap();
        assert_eq!(claimed.len(), 10);
        for (i, record) in claimed.iter().enumerate() {
            if i % 2 == 0 {
                store.acknowledge(record.id, "e").await.unwrap();
                settled += 1;
            } else {
                store
                    .release(release(record, "e", now + 1_000_000 + round))
                    .await
                    .unwrap();
            }
        }
        store.next_due_ms().await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(store.len().await.unwrap() as u64, 100_000 - settled);
    assert!(
        elapsed < Duration::from_secs(20),
        "2,000 claims over a backlog of 100,000 took {elapsed:?}"
    );
}
