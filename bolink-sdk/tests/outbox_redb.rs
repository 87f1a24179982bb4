//! The redb store's file: durability across reopening, ids never reused,
//! damaged records set aside, files it must refuse, the legacy layout.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use std::path::Path;

use bolink_sdk::outbox::{DamagedRecord, RedbStore, Store, StoreError};
use common::*;

#[tokio::test]
async fn records_survive_reopening_and_ids_are_not_reused() {
    let dir = TempDir::new("reopen");
    let path = dir.file("outbox.redb");
    let (first, second, third) = {
        let store = RedbStore::open(&path).await.unwrap();
        let first = insert(&store, "o-1", 5).await;
        let second = insert(&store, "o-2", 5).await;
        let third = insert(&store, "o-3", 5).await;
        store.claim(claim("e", 5, 10)).await.unwrap();
        let mut failed = release(&second, "e", 7);
        failed.error = "connection refused".into();
        store.release(failed).await.unwrap();
        store.acknowledge(third.id, "e").await.unwrap();
        (first, second, third)
    };
    let store = RedbStore::open(&path).await.unwrap();
    let pending = store.pending().await.unwrap();
    assert_eq!(ids(&pending), [first.id, second.id]);
    assert_eq!(pending[0], first);
    assert_eq!(pending[1].attempts, 1);
    assert_eq!(pending[1].next_attempt_ms, 7);
    assert_eq!(pending[1].last_error.as_deref(), Some("connection refused"));
    // Leases live in memory only: a restart ends them.
    assert_eq!(
        ids(&store.claim(claim("f", 7, 10)).await.unwrap()),
        [first.id, second.id]
    );
    // The highest id was acknowledged before the restart: still not reused.
    let fourth = insert(&store, "o-4", 8).await;
    assert!(fourth.id > third.id, "{} reused", fourth.id);
    store.acknowledge(first.id, "f").await.unwrap();
    drop(store);
    let store = RedbStore::open(&path).await.unwrap();
    assert_eq!(ids(&store.pending().await.unwrap()), [second.id, fourth.id]);
    assert!(insert(&store, "o-5", 9).await.id > fourth.id);
}

/// The file as a crash leaves it (copied while the store is open, every
/// operation committed): redb repairs it on opening; nothing is lost.
#[tokio::test]
async fn a_crash_image_opens_with_every_committed_record() {
    let dir = TempDir::new("crash");
    let path = dir.file("outbox.redb");
    let store = RedbStore::open(&path).await.unwrap();
    for i in 0..30 {
        insert(&store, &format!("o-{}", i % 7), i).await;
    }
    for record in store.claim(claim("e", 100, 4)).await.unwrap() {
        store.acknowledge(record.id, "e").await.unwrap();
    }
    let expected = store.pending().await.unwrap();
    let image = dir.file("crashed.redb");
    std::fs::copy(&path, &image).unwrap();
    let reopened = RedbStore::open(&image).await.unwrap();
    assert_eq!(reopened.pending().await.unwrap(), expected);
    assert_eq!(reopened.take_damaged().await.unwrap(), []);
    let next = insert(&reopened, "o-1", 200).await;
    assert!(expected.iter().all(|r| r.id < next.id));
}

/// Where `needle` occurs in `haystack`.
fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// The damaged records, and the notes about the file.
fn split(damaged: Vec<DamagedRecord>) -> (Vec<DamagedRecord>, Vec<DamagedRecord>) {
    damaged.into_iter().partition(|d| d.id.is_some())
}

/// A changed byte also breaks the checksum of redb's page: the file is
/// rebuilt, the damaged one kept beside it, and one note says so.
fn assert_rebuilt(notes: &[DamagedRecord], path: &Path) {
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].reason.contains("rebuilt"), "{}", notes[0].reason);
    let kept = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("outbox.redb.damaged-") && notes[0].reason.contains(&*name)
        })
        .count();
    assert_eq!(kept, 1, "the damaged file is kept, and named in the note");
}

#[tokio::test]
async fn a_changed_byte_in_a_record_is_set_aside_never_sent() {
    let dir = TempDir::new("changed");
    let path = dir.file("outbox.redb");
    let (victim, others) = {
        let store = RedbStore::open(&path).await.unwrap();
        let victim = store
            .insert(new_record("in_park", upload("victim-1"), 0))
            .await
            .unwrap();
        let others = vec![
            insert(&store, "o-1", 0).await,
            insert(&store, "o-2", 0).await,
        ];
        (victim, others)
    };
    // Still valid JSON, with another order id: only the checksum tells.
    let mut bytes = std::fs::read(&path).unwrap();
    let places = find_all(&bytes, b"victim-1");
    assert!(!places.is_empty());
    for at in places {
        bytes[at + 7] = b'2';
    }
    std::fs::write(&path, &bytes).unwrap();

    let store = RedbStore::open(&path).await.unwrap();
    assert_eq!(store.pending().await.unwrap(), others);
    assert_eq!(
        ids(&store.claim(claim("e", 0, 10)).await.unwrap()),
        ids(&others)
    );
    let (records, notes) = split(store.take_damaged().await.unwrap());
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].id, Some(victim.id));
    assert!(
        records[0].reason.contains("checksum"),
        "{}",
        records[0].reason
    );
    assert!(
        !find_all(&records[0].bytes, b"victim-2").is_empty(),
        "the bytes as found"
    );
    assert_rebuilt(&notes, &path);
    assert_eq!(store.take_damaged().await.unwrap(), [], "handed out once");
    drop(store);
    let store = RedbStore::open(&path).await.unwrap();
    assert_eq!(
        store.take_damaged().await.unwrap(),
        [],
        "not again after a restart"
    );
    assert_eq!(store.pending().await.unwrap(), others);
    assert!(insert(&store, "o-3", 1).await.id > victim.id);
}

#[tokio::test]
async fn damage_not_handed_out_before_a_restart_is_handed_out_after_it() {
    let dir = TempDir::new("unreported");
    let path = dir.file("outbox.redb");
    let victim = {
        let store = RedbStore::open(&path).await.unwrap();
        store
            .insert(new_record("in_park", upload("victim-1"), 0))
            .await
            .unwrap()
    };
    let mut bytes = std::fs::read(&path).unwrap();
    for at in find_all(&bytes, b"victim-1") {
        bytes[at] = b'V';
    }
    std::fs::write(&path, &bytes).unwrap();
    drop(RedbStore::open(&path).await.unwrap());
    let store = RedbStore::open(&path).await.unwrap();
    let (records, notes) = split(store.take_damaged().await.unwrap());
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].id, Some(victim.id));
    assert_rebuilt(&notes, &path);
    assert_eq!(store.pending().await.unwrap(), []);
}

#[tokio::test]
async fn a_file_beyond_opening_is_refused_untouched_or_set_aside() {
    let dir = TempDir::new("refused");
    let path = dir.file("outbox.redb");
    let garbage: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = RedbStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Damaged(_)), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage, "left untouched");

    let before_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (store, aside) = RedbStore::open_or_set_aside(&path).await.unwrap();
    let aside = aside.expect("moved aside");
    assert_eq!(std::fs::read(&aside).unwrap(), garbage, "kept as it was");
    assert!(aside
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("outbox.redb.damaged-"));
    assert_eq!(store.pending().await.unwrap(), []);
    // The lost file's ids are unknown: the new ones start above any it
    // can have handed out.
    let record = insert(&store, "o-1", 0).await;
    assert!(record.id > before_ms * 1000, "id {}", record.id);
    let notes = store.take_damaged().await.unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].id, None);
    assert!(notes[0].reason.contains(&aside.display().to_string()));
    drop(store);
    let store = RedbStore::open(&path).await.unwrap();
    assert_eq!(
        store.pending().await.unwrap(),
        std::slice::from_ref(&record)
    );
    assert!(insert(&store, "o-2", 0).await.id > record.id);
}

#[tokio::test]
async fn an_empty_file_is_damaged_not_a_new_store() {
    let dir = TempDir::new("empty");
    let path = dir.file("outbox.redb");
    std::fs::write(&path, b"").unwrap();
    let err = RedbStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Damaged(_)), "{err:?}");
}

#[tokio::test]
async fn a_file_in_use_is_an_io_error_and_not_set_aside() {
    let dir = TempDir::new("in-use");
    let path = dir.file("outbox.redb");
    let store = RedbStore::open(&path).await.unwrap();
    let record = insert(&store, "o-1", 0).await;
    let err = RedbStore::open(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Io(_)), "{err:?}");
    let err = RedbStore::open_or_set_aside(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::Io(_)), "{err:?}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["outbox.redb"]);
    assert_eq!(store.pending().await.unwrap(), [record]);
}

/// The layout before checksums (plain JSON values, a plain counter) is
/// read and rewritten in the current one.
#[tokio::test]
async fn a_legacy_file_is_migrated() {
    use redb::{Database, TableDefinition};
    const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
    const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
    let dir = TempDir::new("legacy");
    let path = dir.file("outbox.redb");
    let kept = {
        let memory = bolink_sdk::outbox::MemoryStore::new();
        let kept = vec![
            insert(&memory, "o-1", 1).await,
            insert(&memory, "o-2", 2).await,
        ];
        let db = Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut records = tx.open_table(RECORDS).unwrap();
            for record in &kept {
                let json = serde_json::to_vec(record).unwrap();
                records.insert(record.id, json.as_slice()).unwrap();
            }
            records.insert(9, b"{not json".as_slice()).unwrap();
            tx.open_table(META).unwrap().insert("last_id", 12).unwrap();
        }
        tx.commit().unwrap();
        kept
    };
    let store = RedbStore::open(&path).await.unwrap();
    assert_eq!(store.pending().await.unwrap(), kept);
    let damaged = store.take_damaged().await.unwrap();
    assert_eq!(damaged.len(), 1);
    assert_eq!(damaged[0].id, Some(9));
    assert_eq!(damaged[0].bytes, b"{not json");
    assert_eq!(insert(&store, "o-3", 3).await.id, 13);
    drop(store);
    let store = RedbStore::open(&path).await.unwrap();
    assert_eq!(store.len().await.unwrap(), 3);
    assert_eq!(store.take_damaged().await.unwrap(), []);
}

/// Polls a future to completion on this thread, with no runtime at all.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::yield_now();
    }
}

#[test]
fn works_without_a_tokio_runtime() {
    let dir = TempDir::new("no-runtime");
    let path = dir.file("outbox.redb");
    let store = block_on(RedbStore::open(&path)).unwrap();
    let record = block_on(insert(&store, "o-1", 0));
    assert_eq!(
        block_on(store.claim(claim("e", 0, 10))).unwrap(),
        std::slice::from_ref(&record)
    );
    block_on(store.acknowledge(record.id, "e")).unwrap();
    assert_eq!(block_on(store.len()).unwrap(), 0);
}
