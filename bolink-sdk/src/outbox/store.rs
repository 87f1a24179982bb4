//! Where outbox records live: the trait, and an in-memory store for tests.

use std::collections::BTreeMap;

use super::{OutboxError, Record};

/// Durable (or not) storage of outbox records. Every method commits before
/// returning: once `insert` returns, a crash does not lose the record.
pub trait Store {
    /// Every stored record, in id order.
    fn load(&self) -> Result<Vec<Record>, OutboxError>;
    /// Allocates the next id (never reused, also after a restart), builds the
    /// record with it and writes it, in one commit.
    fn insert_next(&mut self, make: &mut dyn FnMut(u64) -> Record) -> Result<Record, OutboxError>;
    /// Writes a changed record.
    fn put(&mut self, record: &Record) -> Result<(), OutboxError>;
    /// Deletes a record; deleting a missing one is not an error.
    fn remove(&mut self, id: u64) -> Result<(), OutboxError>;
}

/// Records in memory only: for tests and for lots that accept losing uploads on a crash.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    records: BTreeMap<u64, Record>,
    next_id: u64,
}

impl Store for MemoryStore {
    fn load(&self) -> Result<Vec<Record>, OutboxError> {
        Ok(self.records.values().cloned().collect())
    }

    fn insert_next(&mut self, make: &mut dyn FnMut(u64) -> Record) -> Result<Record, OutboxError> {
        self.next_id += 1;
        let record = make(self.next_id);
        self.records.insert(record.id, record.clone());
        Ok(record)
    }

    fn put(&mut self, record: &Record) -> Result<(), OutboxError> {
        self.records.insert(record.id, record.clone());
        Ok(())
    }

    fn remove(&mut self, id: u64) -> Result<(), OutboxError> {
        self.records.remove(&id);
        Ok(())
    }
}

/// A boxed store is a store, so one client type can hold any of them.
impl<S: Store + ?Sized> Store for Box<S> {
    fn load(&self) -> Result<Vec<Record>, OutboxError> {
        (**self).load()
    }

    fn insert_next(&mut self, make: &mut dyn FnMut(u64) -> Record) -> Result<Record, OutboxError> {
        (**self).insert_next(make)
    }

    fn put(&mut self, record: &Record) -> Result<(), OutboxError> {
        (**self).put(record)
    }

    fn remove(&mut self, id: u64) -> Result<(), OutboxError> {
        (**self).remove(id)
    }
}
