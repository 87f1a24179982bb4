//! A disk that fills up for a while: through a storage backend whose writes
//! fail with ENOSPC on demand, the failed calls return `StoreError::Io`,
//! the store recovers without a restart, a failed acknowledgement still
//! keeps the record from being sent again and is committed later, a failed
//! release keeps its lease.

mod common;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bolink_sdk::outbox::{RedbStore, Store, StoreError};
use common::*;
use redb::backends::FileBackend;
use redb::StorageBackend;

/// A file whose writes fail while `full` is set.
#[derive(Debug)]
struct FillingDisk {
    inner: FileBackend,
    full: Arc<AtomicBool>,
    failed_writes: Arc<AtomicUsize>,
}

impl FillingDisk {
    fn check(&self) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            self.failed_writes.fetch_add(1, Ordering::SeqCst);
            // ENOSPC
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(())
    }
}

impl StorageBackend for FillingDisk {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.inner.read(offset, len)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> io::Result<()> {
        self.check()?;
        self.inner.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check()?;
        self.inner.write(offset, data)
    }
}

struct Disk {
    full: Arc<AtomicBool>,
    failed_writes: Arc<AtomicUsize>,
    opened: Arc<AtomicUsize>,
}

async fn open(path: &Path) -> (RedbStore, Disk) {
    let disk = Disk {
        full: Arc::new(AtomicBool::new(false)),
        failed_writes: Arc::new(AtomicUsize::new(0)),
        opened: Arc::new(AtomicUsize::new(0)),
    };
    let path: PathBuf = path.to_path_buf();
    let (full, failed_writes, opened) = (
        disk.full.clone(),
        disk.failed_writes.clone(),
        disk.opened.clone(),
    );
    let store = RedbStore::with_backend(move || {
        opened.fetch_add(1, Ordering::SeqCst);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let inner = FileBackend::new(file).map_err(io::Error::other)?;
        Ok(Box::new(FillingDisk {
            inner,
            full: full.clone(),
            failed_writes: failed_writes.clone(),
        }) as Box<dyn StorageBackend>)
    })
    .await
    .unwrap();
    (store, disk)
}

fn is_io(result: Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(result, Err(StoreError::Io(_)))
}

#[tokio::test]
async fn a_full_disk_fails_calls_until_it_has_room_again_without_a_restart() {
    let dir = TempDir::new("disk-full");
    let path = dir.file("outbox.redb");
    let (store, disk) = open(&path).await;
    let entry = insert(&store, "o-1", 0).await;
    let exit = insert(&store, "o-1", 0).await;
    let slow = insert(&store, "o-2", 0).await;
    let other = insert(&store, "o-3", 0).await;
    assert_eq!(
        ids(&store.claim(claim("e", 0, 10)).await.unwrap()),
        [entry.id, slow.id, other.id]
    );

    disk.full.store(true, Ordering::SeqCst);
    assert!(is_io(
        store.insert(new_record("in_park", upload("o-4"), 1)).await
    ));
    // The next write reopens the file; with the disk still full, that
    // fails too, as an I/O error.
    assert!(is_io(
        store.insert(new_record("in_park", upload("o-4"), 1)).await
    ));
    assert!(is_io(store.acknowledge(entry.id, "e").await));
    assert!(is_io(store.release(release(&slow, "e", 0)).await));
    assert!(disk.failed_writes.load(Ordering::SeqCst) > 0);

    // The failed acknowledgement hid the record at once: never claimed
    // again, and no longer holding its order back.
    assert_eq!(
        ids(&store.pending().await.unwrap()),
        [exit.id, slow.id, other.id]
    );
    assert_eq!(
        ids(&store.claim(claim("f", 1, 10)).await.unwrap()),
        [exit.id],
        "the failed release keeps its lease (until 10 000)"
    );
    assert_eq!(
        ids(&store.claim(claim("f", 10_000, 10)).await.unwrap()),
        [slow.id, other.id],
        "past the lease, released or not"
    );
    for record in [&exit, &slow, &other] {
        assert!(is_io(store.release(release(record, "f", 50_000)).await));
    }

    disk.full.store(false, Ordering::SeqCst);
    let opened_before = disk.opened.load(Ordering::SeqCst);
    let late = insert(&store, "o-4", 2).await;
    assert!(late.id > other.id);
    assert_eq!(
        disk.opened.load(Ordering::SeqCst),
        opened_before + 1,
        "recovered by reopening the file, once"
    );
    // Settling works again; the hidden record's removal was committed with
    // the insert above.
    store.release(release(&slow, "f", 50_000)).await.unwrap();
    store.acknowledge(other.id, "f").await.unwrap();
    assert_eq!(
        store.acknowledge(entry.id, "e").await.unwrap_err(),
        StoreError::UnknownRecord(entry.id),
        "already removed"
    );
    let expected = vec![exit.id, slow.id, late.id];
    assert_eq!(ids(&store.pending().await.unwrap()), expected);
    drop(store);

    let reopened = RedbStore::open(&path).await.unwrap();
    let pending = reopened.pending().await.unwrap();
    assert_eq!(
        ids(&pending),
        expected,
        "the failed acknowledgement was persisted"
    );
    assert_eq!(
        pending[1].attempts, 1,
        "only the release that succeeded counted"
    );
    assert_eq!(pending[1].next_attempt_ms, 50_000);
    assert_eq!(reopened.take_damaged().await.unwrap(), []);
}

/// A hidden record's removal is also committed by acknowledging it again.
#[tokio::test]
async fn acknowledging_a_hidden_record_again_commits_its_removal() {
    let dir = TempDir::new("disk-full-ack");
    let path = dir.file("outbox.redb");
    let (store, disk) = open(&path).await;
    let record = insert(&store, "o-1", 0).await;
    store.claim(claim("e", 0, 10)).await.unwrap();
    disk.full.store(true, Ordering::SeqCst);
    assert!(is_io(store.acknowledge(record.id, "e").await));
    assert!(is_io(store.acknowledge(record.id, "e").await));
    assert_eq!(store.len().await.unwrap(), 0);
    assert_eq!(store.next_due_ms().await.unwrap(), None);
    assert_eq!(store.claim(claim("e", 60_000, 10)).await.unwrap(), []);
    assert_eq!(store.take_expired(u64::MAX).await.unwrap(), []);
    disk.full.store(false, Ordering::SeqCst);
    assert_eq!(store.acknowledge(record.id, "e").await.unwrap(), record);
    drop(store);
    let reopened = RedbStore::open(&path).await.unwrap();
    assert_eq!(reopened.pending().await.unwrap(), []);
}

/// A disk full at the moment the file is reopened: the reopen's own
/// writes fail; the store tries again on the next call.
#[tokio::test]
async fn a_reopen_that_fails_is_tried_again() {
    let dir = TempDir::new("disk-full-reopen");
    let path = dir.file("outbox.redb");
    let (store, disk) = open(&path).await;
    let kept = insert(&store, "o-1", 0).await;
    disk.full.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        assert!(is_io(store.take_expired(u64::MAX).await));
    }
    let opened = disk.opened.load(Ordering::SeqCst);
    assert!(opened >= 3, "each call after the first reopened: {opened}");
    disk.full.store(false, Ordering::SeqCst);
    assert_eq!(store.take_expired(u64::MAX).await.unwrap(), [kept]);
    assert_eq!(store.len().await.unwrap(), 0);
}
