//! The outbox: ordering per order, backoff, expiry, durability across
//! reopening, and a property over any interleaving of operations and crashes.

use std::collections::BTreeSet;
use std::time::Duration;

use bolink_sdk::outbox::{MemoryStore, Outbox, OutboxError, RedbStore, RetryPolicy};
use proptest::prelude::*;

fn policy() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(10),
        expiry: Duration::from_secs(3600),
    }
}

fn upload(order: &str) -> Vec<u8> {
    format!(r#"{{"order_id":"{order}","car_number":"京A12345"}}"#).into_bytes()
}

#[test]
fn an_exit_never_overtakes_its_entry() {
    let mut outbox = Outbox::in_memory(policy());
    let entry = outbox.enqueue_encoded("in_park", upload("o-1"), 0).unwrap();
    let exit = outbox
        .enqueue_encoded("out_park", upload("o-1"), 0)
        .unwrap();
    let other = outbox.enqueue_encoded("in_park", upload("o-2"), 0).unwrap();
    let ids =
        |records: Vec<bolink_sdk::outbox::Record>| records.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(outbox.due(0)), [entry.id, other.id]);
    // A failed entry holds its exit back until it is acknowledged.
    outbox.retry_later(entry.id, "timeout", 0).unwrap();
    assert_eq!(ids(outbox.due(0)), [other.id]);
    assert_eq!(ids(outbox.due(10_000)), [entry.id, other.id]);
    outbox.acknowledge(entry.id).unwrap();
    assert_eq!(ids(outbox.due(10_000)), [exit.id, other.id]);
}

#[test]
fn records_carry_the_protocols_idempotency_key() {
    let mut outbox = Outbox::in_memory(policy());
    let entry = outbox.enqueue_encoded("in_park", upload("o-1"), 0).unwrap();
    let payment = outbox
        .enqueue_encoded("outpark", br#"{"trade_no":"t-9"}"#.to_vec(), 0)
        .unwrap();
    let bare = outbox
        .enqueue_encoded("park_log", b"{}".to_vec(), 0)
        .unwrap();
    assert_eq!(entry.idempotency_key, "in_park:o-1");
    assert_eq!(payment.idempotency_key, "outpark:t-9");
    assert_eq!(bare.idempotency_key, format!("park_log:#{}", bare.id));
}

#[test]
fn backoff_grows_is_capped_and_jittered() {
    let policy = policy();
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
}

#[test]
fn expired_records_are_handed_back_not_dropped() {
    let mut outbox = Outbox::in_memory(policy());
    let old = outbox.enqueue_encoded("in_park", upload("o-1"), 0).unwrap();
    let young = outbox
        .enqueue_encoded("in_park", upload("o-2"), 3_000_000)
        .unwrap();
    let hour = 3_600_000;
    assert_eq!(outbox.due(hour).len(), 1, "an expired record is not sent");
    let expired = outbox.take_expired(hour).unwrap();
    assert_eq!(expired.iter().map(|r| r.id).collect::<Vec<_>>(), [old.id]);
    assert_eq!(
        outbox.pending().map(|r| r.id).collect::<Vec<_>>(),
        [young.id]
    );
}

#[test]
fn invalid_messages_are_not_enqueued() {
    let mut outbox = Outbox::in_memory(policy());
    // union_id has at most 15 characters.
    let login = bolink_sdk::login::Login::new("1".repeat(16), "21835".into());
    let err = outbox.enqueue(&login, 0).unwrap_err();
    assert!(matches!(err, OutboxError::Invalid(_)), "{err}");
    assert!(outbox.is_empty());
}

#[test]
fn a_redb_outbox_keeps_records_across_reopening() {
    let path = std::env::temp_dir().join(format!("bolink-outbox-test-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let (first, second) = {
        let mut outbox = Outbox::open(RedbStore::open(&path).unwrap(), policy()).unwrap();
        let first = outbox.enqueue_encoded("in_park", upload("o-1"), 5).unwrap();
        let second = outbox.enqueue_encoded("in_park", upload("o-2"), 5).unwrap();
        outbox
            .retry_later(second.id, "connection refused", 5)
            .unwrap();
        (first, second)
    };
    let mut outbox = Outbox::open(RedbStore::open(&path).unwrap(), policy()).unwrap();
    let pending: Vec<_> = outbox.pending().cloned().collect();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0], first);
    assert_eq!(pending[1].attempts, 1);
    assert_eq!(pending[1].last_error.as_deref(), Some("connection refused"));
    // Ids are never reused after a restart.
    let third = outbox.enqueue_encoded("in_park", upload("o-3"), 6).unwrap();
    assert!(third.id > second.id);
    outbox.acknowledge(first.id).unwrap();
    drop(outbox);
    let outbox = Outbox::open(RedbStore::open(&path).unwrap(), policy()).unwrap();
    assert_eq!(outbox.len(), 2);
    let _ = std::fs::remove_file(&path);
}

/// One step of a charging system's life.
#[derive(Debug, Clone)]
enum Step {
    Enqueue { order: u8 },
    SendDue,
    Ack { pick: usize },
    Fail { pick: usize },
    Crash,
    Tick { ms: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..4).prop_map(|order| Step::Enqueue { order }),
        3 => Just(Step::SendDue),
        3 => any::<usize>().prop_map(|pick| Step::Ack { pick }),
        2 => any::<usize>().prop_map(|pick| Step::Fail { pick }),
        1 => Just(Step::Crash),
        2 => (0u64..20_000).prop_map(|ms| Step::Tick { ms }),
    ]
}

proptest! {
    /// Whatever happens, every enqueued record is either acknowledged or
    /// still pending, ids are never reused, and nothing is sent while an
    /// older record of its order is pending.
    #[test]
    fn no_upload_is_lost_or_reordered(steps in proptest::collection::vec(step(), 1..80)) {
        let mut outbox = Outbox::open(MemoryStore::default(), policy()).unwrap();
        let mut now = 0u64;
        let mut enqueued = BTreeSet::new();
        let mut acked = BTreeSet::new();
        let mut in_flight: Vec<u64> = Vec::new();
        for step in steps {
            match step {
                Step::Enqueue { order } => {
                    let record = outbox.enqueue_encoded("in_park", upload(&format!("o-{order}")), now).unwrap();
                    prop_assert!(enqueued.insert(record.id), "id {} reused", record.id);
                }
                Step::SendDue => {
                    let due = outbox.due(now);
                    let pending: Vec<_> = outbox.pending().cloned().collect();
                    for record in &due {
                        let older_same_order = pending.iter().any(|p| p.id < record.id && p.order_key == record.order_key);
                        prop_assert!(!older_same_order, "record {} overtook an older record of its order", record.id);
                    }
                    in_flight = due.iter().map(|r| r.id).collect();
                }
                Step::Ack { pick } if !in_flight.is_empty() => {
                    let id = in_flight.remove(pick % in_flight.len());
                    outbox.acknowledge(id).unwrap();
                    acked.insert(id);
                }
                Step::Fail { pick } if !in_flight.is_empty() => {
                    let id = in_flight.remove(pick % in_flight.len());
                    outbox.retry_later(id, "timeout", now).unwrap();
                }
                Step::Crash => {
                    // Everything in memory is lost; the store keeps what was committed.
                    outbox = Outbox::open(outbox.into_store(), policy()).unwrap();
                    in_flight.clear();
                }
                Step::Tick { ms } => now += ms,
                _ => {}
            }
            let pending: BTreeSet<u64> = outbox.pending().map(|r| r.id).collect();
            prop_assert!(pending.is_disjoint(&acked));
            let accounted: BTreeSet<u64> = pending.union(&acked).copied().collect();
            prop_assert_eq!(&accounted, &enqueued, "a record was lost");
        }
    }
}
