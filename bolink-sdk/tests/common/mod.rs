//! Helpers shared by the outbox tests.
// Each test binary uses a part of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bolink_sdk::outbox::{Claim, NewRecord, Record, Release, Store};

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "bolink-outbox-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An upload's data JSON for `order`.
pub fn upload(order: &str) -> Vec<u8> {
    format!(r#"{{"order_id":"{order}","car_number":"京A12345"}}"#).into_bytes()
}

pub fn new_record(service: &str, data: Vec<u8>, at_ms: u64) -> NewRecord {
    NewRecord {
        service_name: service.to_string(),
        data,
        enqueued_at_ms: at_ms,
    }
}

pub const LEASE: Duration = Duration::from_secs(10);

pub fn claim(owner: &str, now_ms: u64, limit: usize) -> Claim {
    Claim {
        now_ms,
        limit,
        lease: LEASE,
        owner: owner.to_string(),
    }
}

pub fn release(record: &Record, owner: &str, next_attempt_ms: u64) -> Release {
    Release {
        id: record.id,
        owner: owner.to_string(),
        next_attempt_ms,
        error: "timeout".to_string(),
        count_attempt: true,
    }
}

pub fn ids(records: &[Record]) -> Vec<u64> {
    records.iter().map(|r| r.id).collect()
}

pub async fn insert(store: &dyn Store, order: &str, at_ms: u64) -> Record {
    store
        .insert(new_record("in_park", upload(order), at_ms))
        .await
        .unwrap()
}
