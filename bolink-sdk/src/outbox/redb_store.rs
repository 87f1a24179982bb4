//! The durable store: one redb file.
//!
//! redb over SQLite: in a measurement of one fsync'd transaction per
//! operation with 400-byte records, both took about 150 µs per enqueue or
//! acknowledgement (redb 164/152 µs, SQLite in WAL mode with
//! synchronous=FULL 146/111 µs), while redb builds from a clean checkout in
//! 9 s against 49 s for SQLite's bundled C, and needs no C compiler.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};

use super::{OutboxError, Record, Store};

const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LAST_ID: &str = "last_id";

/// Outbox records in a redb database file.
pub struct RedbStore {
    db: Database,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

fn storage(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Storage(e.to_string())
}

impl RedbStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStore, OutboxError> {
        let db = Database::create(path.as_ref()).map_err(storage)?;
        // Create both tables up front so that reads never meet a missing table.
        let tx = db.begin_write().map_err(storage)?;
        tx.open_table(RECORDS).map_err(storage)?;
        tx.open_table(META).map_err(storage)?;
        tx.commit().map_err(storage)?;
        Ok(RedbStore { db })
    }
}

impl Store for RedbStore {
    fn load(&self) -> Result<Vec<Record>, OutboxError> {
        let tx = self.db.begin_read().map_err(storage)?;
        let table = tx.open_table(RECORDS).map_err(storage)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(storage)? {
            let (id, bytes) = entry.map_err(storage)?;
            let record: Record = serde_json::from_slice(bytes.value()).map_err(|e| {
                OutboxError::Storage(format!("record {} is unreadable: {e}", id.value()))
            })?;
            out.push(record);
        }
        Ok(out)
    }

    fn insert_next(&mut self, make: &mut dyn FnMut(u64) -> Record) -> Result<Record, OutboxError> {
        let tx = self.db.begin_write().map_err(storage)?;
        let record = {
            let mut meta = tx.open_table(META).map_err(storage)?;
            let id = meta
                .get(LAST_ID)
                .map_err(storage)?
                .map(|v| v.value())
                .unwrap_or(0)
                + 1;
            meta.insert(LAST_ID, id).map_err(storage)?;
            let record = make(id);
            let bytes = serde_json::to_vec(&record).map_err(storage)?;
            tx.open_table(RECORDS)
                .map_err(storage)?
                .insert(id, bytes.as_slice())
                .map_err(storage)?;
            record
        };
        tx.commit().map_err(storage)?;
        Ok(record)
    }

    fn put(&mut self, record: &Record) -> Result<(), OutboxError> {
        let bytes = serde_json::to_vec(record).map_err(storage)?;
        let tx = self.db.begin_write().map_err(storage)?;
        tx.open_table(RECORDS)
            .map_err(storage)?
            .insert(record.id, bytes.as_slice())
            .map_err(storage)?;
        tx.commit().map_err(storage)
    }

    fn remove(&mut self, id: u64) -> Result<(), OutboxError> {
        let tx = self.db.begin_write().map_err(storage)?;
        tx.open_table(RECORDS)
            .map_err(storage)?
            .remove(id)
            .map_err(storage)?;
        tx.commit().map_err(storage)
    }
}
