//! Opening a store file: verifying every record, setting damaged ones
//! aside, salvaging what a damaged file still holds, rebuilding it.
//!
//! Everything here is blocking and runs on tokio's blocking pool; every
//! redb call is guarded, since redb 2 can panic on a damaged file.
//!
//! The steps of an open:
//!
//! 1. Connect through a [staged](super::staged) backend: nothing reaches
//!    the file until step 4.
//! 2. Read it all back (tables, id counter, records, the damaged-records
//!    archive), checking each record's checksum. A read that fails or
//!    panics does not end the scan: the records past the damaged region
//!    are found by probing, and the ids in it are read one by one.
//! 3. Commit a first transaction: damaged records move to the archive,
//!    removals still owed (acknowledged while the disk failed) are done.
//! 4. Apply the staged writes to the file.
//!
//! When step 2 met a damaged structure (not only damaged values), or step
//! 3 failed on it, writing into that file is not safe: the readable
//! records are written to a fresh file which replaces it, and the damaged
//! file is kept beside it as `<path>.damaged-<unix ms>`. A backend store
//! (made by a factory, for tests) cannot be replaced and is refused.

// redb's error type is large (160 bytes); results carrying it come from
// calls that each cost a disk access, so its size does not matter here.
#![allow(clippy::result_large_err)]

use std::ffi::OsString;
use std::fs;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::backends::FileBackend;
use redb::{Builder, Database, ReadableTable, StorageBackend, TableDefinition, TableHandle};

use super::codec;
use super::staged::{self, Stage};
use crate::outbox::{DamagedRecord, Record, StoreError};

pub(super) const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox_records");
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("outbox_meta");
/// A damaged record set aside: `(record id, reason, bytes, reported)`.
pub(super) type ArchiveEntry<'a> = (Option<u64>, &'a str, &'a [u8], bool);
pub(super) const DAMAGED: TableDefinition<u64, ArchiveEntry<'static>> =
    TableDefinition::new("outbox_damaged");
pub(super) const LAST_ID: &str = "last_id";

/// The layout before checksums: plain JSON records and a plain counter.
const LEGACY_RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("records");
const LEGACY_META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// How many ids of a damaged region are read one by one; a larger region
/// is reported as a whole.
const GAP_LIMIT: u64 = 1 << 20;

/// Makes the storage backend, again on every reopen.
pub(super) type Factory = Box<dyn Fn() -> io::Result<Box<dyn StorageBackend>> + Send + Sync>;

/// Where the store lives.
pub(super) enum Source {
    Path(PathBuf),
    Backend(Factory),
}

/// A redb call that failed or panicked.
pub(super) enum Trouble {
    Error(redb::Error),
    Panic(String),
}

impl std::fmt::Display for Trouble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trouble::Error(e) => write!(f, "{e}"),
            Trouble::Panic(message) => write!(f, "redb panicked: {message}"),
        }
    }
}

impl Trouble {
    /// An I/O error that says nothing about the file's content (a full
    /// disk, a permission), as opposed to a short or invalid file.
    pub(super) fn is_transient(&self) -> bool {
        match self {
            Trouble::Error(redb::Error::Io(e)) => !matches!(
                e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData
            ),
            Trouble::Error(redb::Error::PreviousIo | redb::Error::DatabaseAlreadyOpen) => true,
            _ => false,
        }
    }
}

/// Runs redb code, turning a panic into a [`Trouble`].
pub(super) fn guarded<T>(f: impl FnOnce() -> Result<T, redb::Error>) -> Result<T, Trouble> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Trouble::Error(e)),
        Err(payload) => Err(Trouble::Panic(panic_message(payload.as_ref()))),
    }
}

pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Closes a database; closing writes, which can panic on a damaged file.
pub(super) fn close(db: Database) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(db)));
}

/// Why a file was not opened.
#[derive(Debug)]
pub(super) enum Failure {
    Io(String),
    Damaged(String),
}

impl From<Failure> for StoreError {
    fn from(failure: Failure) -> StoreError {
        match failure {
            Failure::Io(message) => StoreError::Io(message),
            Failure::Damaged(message) => StoreError::Damaged(message),
        }
    }
}

fn classify(what: &str, trouble: Trouble) -> Failure {
    let message = format!("{what}: {trouble}");
    if trouble.is_transient() {
        Failure::Io(message)
    } else {
        Failure::Damaged(message)
    }
}

fn io_failure(what: &str, path: &Path, e: io::Error) -> Failure {
    Failure::Io(format!("{what} {}: {e}", path.display()))
}

/// What the caller knows that the file may not.
pub(super) struct Carry {
    /// Acknowledged records whose removal is still to be committed.
    pub(super) hidden: Vec<u64>,
    /// The ids up to this one were handed out already.
    pub(super) last_id: u64,
    /// For a file that does not exist yet, its ids start after this one.
    /// `None` on a reopen: a file gone missing then is a loss, not a new
    /// store.
    pub(super) create_after: Option<u64>,
    /// Recorded in the archive of a file created now (why the previous
    /// one was set aside).
    pub(super) creation_notes: Vec<DamagedRecord>,
    /// Rebuild the file even if it reads well: why (a write into it
    /// failed in a way no I/O error explains).
    pub(super) rebuild: Option<String>,
}

impl Carry {
    pub(super) fn new_store(create_after: u64) -> Carry {
        Carry {
            hidden: Vec::new(),
            last_id: 0,
            create_after: Some(create_after),
            creation_notes: Vec::new(),
            rebuild: None,
        }
    }
}

/// An opened, verified store file.
pub(super) struct Opened {
    pub(super) db: Database,
    /// The readable records, without the hidden ones.
    pub(super) records: Vec<Record>,
    /// Damage found by this open, with its archive key.
    pub(super) found: Vec<(u64, DamagedRecord)>,
    /// Damage found by earlier runs and never handed out.
    pub(super) unreported: Vec<(u64, DamagedRecord)>,
    pub(super) last_id: u64,
    /// Where the damaged file was moved, when it was rebuilt.
    pub(super) set_aside: Option<PathBuf>,
}

/// Opens the store at `source`.
pub(super) fn open(source: &Source, carry: &Carry) -> Result<Opened, Failure> {
    match source {
        Source::Path(path) => open_path(path, carry),
        Source::Backend(factory) => {
            let connect = || {
                let backend =
                    factory().map_err(|e| Failure::Io(format!("storage backend: {e}")))?;
                connect(backend, false)
            };
            let (conn, fresh) = connect()?;
            // A backend cannot be rebuilt: a suspicion is left to the
            // integrity check.
            match load(
                conn,
                &|| connect().map(|(conn, _)| conn),
                carry,
                fresh,
                None,
            )? {
                Loaded::Ready(opened) => Ok(opened),
                Loaded::Rebuild(_, reason) => Err(Failure::Damaged(reason)),
            }
        }
    }
}

fn open_path(path: &Path, carry: &Carry) -> Result<Opened, Failure> {
    finish_interrupted(path)?;
    if !exists(path)? {
        match carry.create_after {
            Some(after) => create_file(path, after, &carry.creation_notes)?,
            None => return Err(Failure::Damaged(format!("{} is gone", path.display()))),
        }
    }
    let connect = || connect_file(path, false);
    let mut rebuilt: Option<(PathBuf, Vec<(u64, DamagedRecord)>)> = None;
    loop {
        let conn = match connect() {
            Ok(conn) => conn,
            Err(Failure::Damaged(why)) if rebuilt.is_none() => match salvage(path)? {
                Some(snapshot) => {
                    let reason = format!("redb could not open it: {why}");
                    rebuilt = Some(rebuild(path, &snapshot, &reason)?);
                    continue;
                }
                None => return Err(Failure::Damaged(why)),
            },
            Err(failure) => return Err(failure),
        };
        // A suspicion is answered by one rebuild.
        let suspicion = match rebuilt {
            None => carry.rebuild.as_deref(),
            Some(_) => None,
        };
        match load(conn, &connect, carry, false, suspicion)? {
            Loaded::Ready(mut opened) => {
                if let Some((aside, found)) = rebuilt {
                    opened
                        .unreported
                        .retain(|(key, _)| !found.iter().any(|(k, _)| k == key));
                    opened.found.extend(found);
                    opened.set_aside = Some(aside);
                }
                return Ok(opened);
            }
            Loaded::Rebuild(_, reason) if rebuilt.is_some() => {
                return Err(Failure::Damaged(format!(
                    "still damaged after rebuilding it: {reason}"
                )));
            }
            Loaded::Rebuild(snapshot, reason) => {
                rebuilt = Some(rebuild(path, &snapshot, &reason)?);
            }
        }
    }
}

/// A connection: a database over a staged backend.
struct Conn {
    db: Database,
    stage: Stage,
}

/// What a file redb refuses to open (its repair failed) still holds, read
/// through a view on which redb skips the repair. `None` when even that
/// reads nothing.
fn salvage(path: &Path) -> Result<Option<Snapshot>, Failure> {
    let connect = || connect_file(path, true);
    let conn = match connect() {
        Ok(conn) => conn,
        Err(Failure::Damaged(_)) => return Ok(None),
        Err(failure) => return Err(failure),
    };
    let mut reader = Reader {
        conn: Some(conn),
        connect: &connect,
    };
    let snapshot = read_snapshot(&mut reader);
    if let Some(conn) = reader.conn.take() {
        close(conn.db);
    }
    match snapshot {
        Ok(snapshot) => Ok(Some(snapshot)),
        Err(Failure::Damaged(_)) => Ok(None),
        Err(failure) => Err(failure),
    }
}

/// `unrepaired`: through a view on which redb skips its repair, see
/// [`staged::stage_unrepaired`].
fn connect_file(path: &Path, unrepaired: bool) -> Result<Conn, Failure> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io_failure("opening", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| io_failure("reading the size of", path, e))?
        .len();
    if len == 0 {
        // Store files are created under another name and renamed once
        // initialised, so an empty one was cut short, not new.
        return Err(Failure::Damaged(format!("{} is empty", path.display())));
    }
    let backend = FileBackend::new(file).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => Failure::Io(format!(
            "{} is open already (another store or process)",
            path.display()
        )),
        other => Failure::Io(format!("locking {}: {other}", path.display())),
    })?;
    connect(Box::new(backend), unrepaired).map(|(conn, _)| conn)
}

/// Connects over `backend`; `true` when it was empty (a new store).
fn connect(backend: Box<dyn StorageBackend>, unrepaired: bool) -> Result<(Conn, bool), Failure> {
    let staging = if unrepaired {
        staged::stage_unrepaired(backend)
    } else {
        staged::stage(backend)
    };
    let (staged, stage) = staging.map_err(|e| Failure::Io(format!("reading the store: {e}")))?;
    let fresh = stage.is_empty();
    let db = guarded(|| Ok(Builder::new().create_with_backend(staged)?))
        .map_err(|t| classify("opening the store", t))?;
    Ok((Conn { db, stage }, fresh))
}

/// Reads through a connection, reconnecting when a panic left it unusable
/// (redb's locks poisoned).
struct Reader<'a> {
    conn: Option<Conn>,
    connect: &'a dyn Fn() -> Result<Conn, Failure>,
}

impl Reader<'_> {
    fn read<T>(
        &mut self,
        f: impl FnOnce(&Database) -> Result<T, redb::Error>,
    ) -> Result<Result<T, Trouble>, Failure> {
        if self.conn.is_none() {
            self.conn = Some((self.connect)()?);
        }
        let Some(conn) = &self.conn else {
            unreachable!("connected above")
        };
        let result = guarded(|| f(&conn.db));
        match result {
            Err(trouble) if trouble.is_transient() => Err(classify("reading the store", trouble)),
            Err(Trouble::Panic(message)) => {
                // A panic while redb held one of its locks poisons it, and
                // every later call fails; reconnecting costs a whole open,
                // so only then.
                let healthy = guarded(|| {
                    let tx = conn.db.begin_read()?;
                    tx.list_tables()?.count();
                    Ok(())
                })
                .is_ok();
                if !healthy {
                    if let Some(conn) = self.conn.take() {
                        close(conn.db);
                    }
                }
                Ok(Err(Trouble::Panic(message)))
            }
            other => Ok(other),
        }
    }

    fn into_conn(mut self) -> Result<Conn, Failure> {
        match self.conn.take() {
            Some(conn) => Ok(conn),
            None => (self.connect)(),
        }
    }
}

/// Everything read back from a file.
pub(super) struct Snapshot {
    /// The readable records (legacy ones included).
    records: Vec<Record>,
    /// Records of the legacy layout, to write in the current one.
    legacy: bool,
    /// Damage found now, to archive.
    found: Vec<DamagedRecord>,
    /// Keys of records that did not verify, to delete.
    bad_keys: Vec<u64>,
    /// The archive: `(key, record, reported)`.
    archive: Vec<(u64, DamagedRecord, bool)>,
    last_id: u64,
    /// Why the file's structure is damaged, if it is.
    structure: Option<String>,
}

enum Loaded {
    Ready(Opened),
    /// The file must be rebuilt from what was read; why.
    Rebuild(Snapshot, String),
}

fn load(
    conn: Conn,
    connect: &dyn Fn() -> Result<Conn, Failure>,
    carry: &Carry,
    fresh: bool,
    suspicion: Option<&str>,
) -> Result<Loaded, Failure> {
    if fresh {
        let after = carry.create_after.unwrap_or(0).max(carry.last_id);
        initialise(&conn.db, after, &carry.creation_notes)
            .map_err(|t| classify("initialising the store", t))?;
    }
    let mut reader = Reader {
        conn: Some(conn),
        connect,
    };
    let snapshot = read_snapshot(&mut reader)?;
    if let Some(reason) = snapshot.structure.clone() {
        if let Some(conn) = reader.conn.take() {
            close(conn.db);
        }
        return Ok(Loaded::Rebuild(snapshot, reason));
    }
    let mut conn = reader.into_conn()?;
    // redb checks its page checksums and allocator state only when it
    // repairs; a cleanly closed file is trusted as it is, and a damaged
    // page there would make some later write panic. So check now; when
    // anything was wrong, rebuild from the snapshot read above rather than
    // keep redb's repair, which may roll back to the previous commit.
    let suspicion = match guarded(|| Ok(conn.db.check_integrity()?)) {
        Ok(true) => suspicion.map(str::to_string),
        Ok(false) => Some("redb found its structure damaged".to_string()),
        Err(trouble) if trouble.is_transient() => {
            close(conn.db);
            return Err(classify("checking the store", trouble));
        }
        Err(trouble) => Some(format!("its integrity check failed: {trouble}")),
    };
    if let Some(reason) = suspicion {
        close(conn.db);
        return Ok(Loaded::Rebuild(snapshot, reason));
    }
    let last_id = snapshot.last_id.max(carry.last_id);
    let committed = guarded(|| {
        let tx = conn.db.begin_write()?;
        let mut found_keys = Vec::with_capacity(snapshot.found.len());
        {
            let mut records = tx.open_table(RECORDS)?;
            for key in snapshot.bad_keys.iter().chain(&carry.hidden) {
                records.remove(key)?;
            }
            if snapshot.legacy {
                for record in &snapshot.records {
                    records.insert(record.id, codec::encode_record(record).as_slice())?;
                }
            }
            let mut archive = tx.open_table(DAMAGED)?;
            let first_key = archive.last()?.map_or(0, |(k, _)| k.value()) + 1;
            for (key, damaged) in (first_key..).zip(&snapshot.found) {
                archive.insert(key, archive_value(damaged, false))?;
                found_keys.push(key);
            }
            // Written on every open, even unchanged: allocating its page
            // tries the allocator state, which a damaged file can hold
            // wrong without any read noticing (a later write would panic).
            tx.open_table(META)?
                .insert(LAST_ID, codec::encode_counter(last_id).as_slice())?;
        }
        if snapshot.legacy {
            tx.delete_table(LEGACY_RECORDS)?;
            tx.delete_table(LEGACY_META)?;
        }
        tx.commit()?;
        Ok(found_keys)
    });
    let found_keys = match committed {
        Ok(keys) => keys,
        Err(trouble) if trouble.is_transient() => {
            close(conn.db);
            return Err(classify("writing the store", trouble));
        }
        Err(trouble) => {
            close(conn.db);
            let reason = format!("its first write failed: {trouble}");
            return Ok(Loaded::Rebuild(snapshot, reason));
        }
    };
    if let Err(e) = conn.stage.apply() {
        close(conn.db);
        return Err(Failure::Io(format!("writing the store: {e}")));
    }
    let Snapshot {
        records,
        found,
        archive,
        ..
    } = snapshot;
    Ok(Loaded::Ready(Opened {
        db: conn.db,
        records: records
            .into_iter()
            .filter(|r| !carry.hidden.contains(&r.id))
            .collect(),
        found: found_keys.into_iter().zip(found).collect(),
        unreported: archive
            .into_iter()
            .filter(|(_, _, reported)| !reported)
            .map(|(key, damaged, _)| (key, damaged))
            .collect(),
        last_id,
        set_aside: None,
    }))
}

fn archive_value(damaged: &DamagedRecord, reported: bool) -> ArchiveEntry<'_> {
    (
        damaged.id,
        damaged.reason.as_str(),
        damaged.bytes.as_slice(),
        reported,
    )
}

fn initialise(db: &Database, last_id: u64, notes: &[DamagedRecord]) -> Result<(), Trouble> {
    guarded(|| {
        let tx = db.begin_write()?;
        tx.open_table(RECORDS)?;
        {
            let mut archive = tx.open_table(DAMAGED)?;
            for (key, note) in (1..).zip(notes) {
                archive.insert(key, archive_value(note, false))?;
            }
        }
        tx.open_table(META)?
            .insert(LAST_ID, codec::encode_counter(last_id).as_slice())?;
        tx.commit()?;
        Ok(())
    })
}

fn read_snapshot(reader: &mut Reader<'_>) -> Result<Snapshot, Failure> {
    let names = reader
        .read(|db| {
            let tx = db.begin_read()?;
            let names: Vec<String> = tx.list_tables()?.map(|t| t.name().to_string()).collect();
            Ok(names)
        })?
        .map_err(|t| classify("listing the tables", t))?;
    let has = |table: &str| names.iter().any(|n| n == table);
    let legacy = if has(RECORDS.name()) {
        false
    } else if has(LEGACY_RECORDS.name()) {
        true
    } else {
        return Err(Failure::Damaged(
            "the file holds no outbox records table".to_string(),
        ));
    };

    let mut found = Vec::new();
    let counter = if legacy {
        reader
            .read(|db| {
                let tx = db.begin_read()?;
                let value = tx.open_table(LEGACY_META)?.get(LAST_ID)?.map(|v| v.value());
                Ok(value)
            })?
            .map_err(|t| t.to_string())
            .and_then(|value| value.ok_or_else(|| "missing".to_string()))
            .map_err(|why| (why, Vec::new()))
    } else {
        match reader.read(|db| {
            let tx = db.begin_read()?;
            let value = tx
                .open_table(META)?
                .get(LAST_ID)?
                .map(|v| v.value().to_vec());
            Ok(value)
        })? {
            Ok(Some(bytes)) => codec::decode_counter(&bytes).map_err(|why| (why, bytes)),
            Ok(None) => Err(("missing".to_string(), Vec::new())),
            Err(trouble) => Err((trouble.to_string(), Vec::new())),
        }
    };

    let table = if legacy { LEGACY_RECORDS } else { RECORDS };
    let id_limit = counter.as_ref().ok().copied();
    let scan = scan(reader, table, id_limit)?;
    let mut structure = scan.trouble.clone();
    if structure.is_some() && scan.entries.is_empty() && scan.unreadable.is_empty() {
        return Err(Failure::Damaged(format!(
            "no record could be read: {}",
            structure.unwrap_or_default()
        )));
    }

    let mut records = Vec::new();
    let mut bad_keys = Vec::new();
    let mut max_id = 0;
    for (key, bytes) in scan.entries {
        let decoded = if legacy {
            legacy_record(key, &bytes)
        } else {
            codec::decode_record(key, &bytes)
        };
        match decoded {
            Ok(record) => {
                max_id = max_id.max(record.id);
                records.push(record);
            }
            Err(unverified) => {
                bad_keys.push(key);
                max_id = max_id.max(unverified.id);
                found.push(DamagedRecord {
                    id: Some(unverified.id),
                    reason: unverified.reason,
                    bytes,
                });
            }
        }
    }
    found.extend(unreadable_notes(&scan.unreadable, &scan.lost));
    max_id = max_id.max(scan.unreadable.iter().copied().max().unwrap_or(0));

    let mut archive = Vec::new();
    if !legacy && has(DAMAGED.name()) {
        let read = reader.read(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(DAMAGED)?;
            for entry in table.iter()? {
                let (key, value) = entry?;
                let (id, reason, bytes, reported) = value.value();
                archive.push((
                    key.value(),
                    DamagedRecord {
                        id,
                        reason: reason.to_string(),
                        bytes: bytes.to_vec(),
                    },
                    reported,
                ));
            }
            Ok(())
        })?;
        if let Err(trouble) = read {
            structure.get_or_insert(format!(
                "the damaged-records table is unreadable: {trouble}"
            ));
        }
    }
    max_id = max_id.max(
        archive
            .iter()
            .filter_map(|(_, d, _)| d.id)
            .max()
            .unwrap_or(0),
    );

    let last_id = match counter {
        Ok(last_id) => last_id.max(max_id),
        Err((why, bytes)) => {
            // Ids must never be reused (an idempotency key holds one), and
            // the highest ones may have been acknowledged already: continue
            // far above any id an earlier counter can have reached.
            let last_id = max_id.max(unix_ms().saturating_mul(1000));
            found.push(DamagedRecord {
                id: None,
                reason: format!(
                    "the id counter was unreadable ({why}); ids continue after {last_id}"
                ),
                bytes,
            });
            last_id
        }
    };

    Ok(Snapshot {
        records,
        legacy,
        found,
        bad_keys,
        archive,
        last_id,
        structure,
    })
}

fn legacy_record(key: u64, bytes: &[u8]) -> Result<Record, codec::Unverified> {
    let record: Record = serde_json::from_slice(bytes).map_err(|e| codec::Unverified {
        id: key,
        reason: format!("unreadable record JSON (legacy layout): {e}"),
    })?;
    codec::check_key(key, record)
}

#[derive(Default)]
struct Scan {
    entries: Vec<(u64, Vec<u8>)>,
    /// Ids whose lookup failed.
    unreadable: Vec<u64>,
    /// Damaged regions too large to read id by id.
    lost: Vec<(u64, u64)>,
    trouble: Option<String>,
}

/// Every entry of `table` that can be read. `id_limit`: no id above it was
/// ever handed out.
fn scan(
    reader: &mut Reader<'_>,
    table: TableDefinition<u64, &[u8]>,
    id_limit: Option<u64>,
) -> Result<Scan, Failure> {
    let mut scan = Scan::default();
    let mut next = Some(0u64);
    while let Some(start) = next {
        let mut cursor = Some(start);
        let entries = &mut scan.entries;
        let read = reader.read(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(table)?;
            for entry in table.range(start..)? {
                let (key, value) = entry?;
                entries.push((key.value(), value.value().to_vec()));
                cursor = key.value().checked_add(1);
                if cursor.is_none() {
                    break;
                }
            }
            cursor = None;
            Ok(())
        })?;
        next = match read {
            Ok(()) => None,
            Err(trouble) => {
                scan.trouble.get_or_insert_with(|| trouble.to_string());
                match cursor {
                    Some(from) => skip_damage(reader, table, from, id_limit, &mut scan)?,
                    None => None,
                }
            }
        };
    }
    scan.entries.sort_by_key(|(key, _)| *key);
    scan.entries.dedup_by_key(|(key, _)| *key);
    Ok(scan)
}

/// Past a read that failed at `from`: finds where the table is readable
/// again, reads the ids in between one by one, and returns where to go on
/// scanning (`None`: nothing readable follows).
fn skip_damage(
    reader: &mut Reader<'_>,
    table: TableDefinition<u64, &[u8]>,
    from: u64,
    id_limit: Option<u64>,
    scan: &mut Scan,
) -> Result<Option<u64>, Failure> {
    let mut step = 1u64;
    let resume = loop {
        let probe = from.saturating_add(step);
        let read = reader.read(|db| {
            let tx = db.begin_read()?;
            let table = tx.open_table(table)?;
            let first = table
                .range(probe..)?
                .next()
                .transpose()?
                .map(|(k, _)| k.value());
            Ok(first)
        })?;
        match read {
            Ok(_) => break Some(probe),
            Err(_) if probe == u64::MAX => break None,
            Err(_) => step = step.saturating_mul(2),
        }
    };
    // The ids in [from, end] may hold records; none above `id_limit` does.
    let mut end = resume.map_or(u64::MAX, |r| r - 1);
    if let Some(limit) = id_limit {
        end = end.min(limit);
    }
    if end < from {
        return Ok(resume);
    }
    if end - from >= GAP_LIMIT {
        scan.lost.push((from, end));
        return Ok(resume);
    }
    for id in from..=end {
        let read = reader.read(|db| {
            let tx = db.begin_read()?;
            let value = tx.open_table(table)?.get(id)?.map(|v| v.value().to_vec());
            Ok(value)
        })?;
        match read {
            Ok(Some(bytes)) => scan.entries.push((id, bytes)),
            Ok(None) => {}
            Err(_) => scan.unreadable.push(id),
        }
    }
    Ok(resume)
}

/// The unreadable ids as damaged records, consecutive ones together.
fn unreadable_notes(ids: &[u64], lost: &[(u64, u64)]) -> Vec<DamagedRecord> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for &id in ids {
        match runs.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(id) => *last = id,
            _ => runs.push((id, id)),
        }
    }
    let mut notes: Vec<DamagedRecord> = runs
        .into_iter()
        .map(|(first, last)| {
            if first == last {
                DamagedRecord {
                    id: Some(first),
                    reason: "unreadable (a damaged page); it may have held a record not yet acknowledged"
                        .to_string(),
                    bytes: Vec::new(),
                }
            } else {
                DamagedRecord {
                    id: None,
                    reason: format!(
                        "ids {first}..={last} unreadable (a damaged page); they may have held records not yet acknowledged"
                    ),
                    bytes: Vec::new(),
                }
            }
        })
        .collect();
    notes.extend(lost.iter().map(|&(first, last)| DamagedRecord {
        id: None,
        reason: format!(
            "ids {first}..={last} unreadable (a damaged region); they may have held records not yet acknowledged"
        ),
        bytes: Vec::new(),
    }));
    notes
}

/// Replaces the file at `path` by a fresh one holding `snapshot`'s
/// readable records and archive; the damaged file is kept beside it.
/// Returns where it went and the damage recorded in the new file.
fn rebuild(
    path: &Path,
    snapshot: &Snapshot,
    reason: &str,
) -> Result<(PathBuf, Vec<(u64, DamagedRecord)>), Failure> {
    let aside = aside_path(path)?;
    let mut found = snapshot.found.clone();
    found.push(DamagedRecord {
        id: None,
        reason: format!(
            "the store file was damaged ({reason}); it was rebuilt from its readable records, the damaged file kept as {}",
            aside.display()
        ),
        bytes: Vec::new(),
    });
    let archive: Vec<(u64, DamagedRecord, bool)> = snapshot.archive.clone();
    let found = write_replacement(
        path,
        &aside,
        &snapshot.records,
        &archive,
        &found,
        snapshot.last_id,
    )?;
    Ok((aside, found))
}

/// Replaces the file at `path` (gone or unreadable) by one holding the
/// records the running store has in memory. Returns the note recorded in
/// it, with its archive key.
pub(super) fn rebuild_from_memory(
    path: &Path,
    records: &[Record],
    last_id: u64,
    reason: &str,
) -> Result<Vec<(u64, DamagedRecord)>, Failure> {
    let aside = aside_path(path)?;
    let kept = if exists(path)? {
        format!("the old file kept as {}", aside.display())
    } else {
        "the file was gone".to_string()
    };
    let note = DamagedRecord {
        id: None,
        reason: format!(
            "the store file could not be reopened ({reason}); it was rewritten from the records in memory, {kept}"
        ),
        bytes: Vec::new(),
    };
    write_replacement(path, &aside, records, &[], &[note], last_id)
}

fn write_replacement(
    path: &Path,
    aside: &Path,
    records: &[Record],
    archive: &[(u64, DamagedRecord, bool)],
    found: &[DamagedRecord],
    last_id: u64,
) -> Result<Vec<(u64, DamagedRecord)>, Failure> {
    let rebuilt = with_suffix(path, ".rebuild");
    remove_if_present(&rebuilt)?;
    let db = guarded(|| Ok(Database::create(&rebuilt)?))
        .map_err(|t| Failure::Io(format!("creating {}: {t}", rebuilt.display())))?;
    let written = guarded(|| {
        let tx = db.begin_write()?;
        let mut keys = Vec::new();
        {
            let mut table = tx.open_table(RECORDS)?;
            for record in records {
                table.insert(record.id, codec::encode_record(record).as_slice())?;
            }
            let mut table = tx.open_table(DAMAGED)?;
            for (key, damaged, reported) in archive {
                table.insert(key, archive_value(damaged, *reported))?;
            }
            let first_key = archive.iter().map(|(k, _, _)| *k).max().unwrap_or(0) + 1;
            for (key, damaged) in (first_key..).zip(found) {
                table.insert(key, archive_value(damaged, false))?;
                keys.push((key, damaged.clone()));
            }
            tx.open_table(META)?
                .insert(LAST_ID, codec::encode_counter(last_id).as_slice())?;
        }
        tx.commit()?;
        Ok(keys)
    });
    close(db);
    let keys = written.map_err(|t| Failure::Io(format!("writing {}: {t}", rebuilt.display())))?;
    if exists(path)? {
        fs::rename(path, aside).map_err(|e| io_failure("setting aside", path, e))?;
    }
    fs::rename(&rebuilt, path).map_err(|e| io_failure("moving in", &rebuilt, e))?;
    sync_parent(path)?;
    Ok(keys)
}

/// Creates an initialised store file at `path`, atomically.
fn create_file(path: &Path, last_id: u64, notes: &[DamagedRecord]) -> Result<(), Failure> {
    let new = with_suffix(path, ".new");
    remove_if_present(&new)?;
    let db = guarded(|| Ok(Database::create(&new)?))
        .map_err(|t| Failure::Io(format!("creating {}: {t}", new.display())))?;
    let initialised = initialise(&db, last_id, notes);
    close(db);
    initialised.map_err(|t| Failure::Io(format!("initialising {}: {t}", new.display())))?;
    fs::rename(&new, path).map_err(|e| io_failure("moving in", &new, e))?;
    sync_parent(path)
}

/// Finishes or undoes a creation or rebuild cut short by a crash.
fn finish_interrupted(path: &Path) -> Result<(), Failure> {
    let rebuilt = with_suffix(path, ".rebuild");
    if exists(&rebuilt)? {
        if exists(path)? {
            // Cut short before the damaged file was set aside: redo it.
            remove_if_present(&rebuilt)?;
        } else {
            // Cut short between the two renames: the rebuilt file is whole.
            fs::rename(&rebuilt, path).map_err(|e| io_failure("moving in", &rebuilt, e))?;
            sync_parent(path)?;
        }
    }
    remove_if_present(&with_suffix(path, ".new"))
}

/// Moves a file damaged beyond opening aside; the new path.
pub(super) fn set_aside(path: &Path) -> Result<PathBuf, Failure> {
    let aside = aside_path(path)?;
    fs::rename(path, &aside).map_err(|e| io_failure("setting aside", path, e))?;
    sync_parent(path)?;
    Ok(aside)
}

fn aside_path(path: &Path) -> Result<PathBuf, Failure> {
    let base = with_suffix(path, &format!(".damaged-{}", unix_ms()));
    let mut candidate = base.clone();
    let mut n = 1;
    while exists(&candidate)? {
        candidate = with_suffix(&base, &format!("-{n}"));
        n += 1;
    }
    Ok(candidate)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

fn exists(path: &Path) -> Result<bool, Failure> {
    path.try_exists()
        .map_err(|e| io_failure("looking for", path, e))
}

fn remove_if_present(path: &Path) -> Result<(), Failure> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_failure("removing", path, e)),
        _ => Ok(()),
    }
}

/// Makes renames in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<(), Failure> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Directories cannot be opened for syncing everywhere; where they can
    // (Unix), a failure is an I/O error like any other.
    match fs::File::open(parent) {
        Ok(dir) => dir.sync_all().or_else(|e| {
            if cfg!(unix) {
                Err(io_failure("syncing", parent, e))
            } else {
                Ok(())
            }
        }),
        Err(_) if !cfg!(unix) => Ok(()),
        Err(e) => Err(io_failure("opening", parent, e)),
    }
}

pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
