//! Damaged store files: truncated at many offsets, pages zeroed, bits
//! flipped at many positions, a byte changed inside a record's JSON; made
//! from a cleanly closed file and from a crash image (where opening runs
//! redb's repair, which damage can make panic).
//!
//! For every file, opening must not panic (nothing here catches one: a
//! panic reaching the test fails it), and must give either a typed error
//! that left the file as it was, or a store whose records are byte for byte
//! records the store once wrote, with every record missing accounted for by
//! `take_damaged`. An opened store must then work: a new record gets an id
//! never used before, and a reopen finds it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bolink_sdk::outbox::{DamagedRecord, Record, RedbStore, Store, StoreError};
use common::*;

const PAGE: usize = 4096;

/// A small deterministic generator: every run tries the same files.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What the store held, and every version of every record it ever wrote.
struct Known {
    pending: BTreeMap<u64, Record>,
    versions: BTreeMap<u64, Vec<Record>>,
}

impl Known {
    fn wrote(&self, record: &Record) -> bool {
        self.versions
            .get(&record.id)
            .is_some_and(|versions| versions.contains(record))
    }
}

/// A store with acknowledged, released and waiting records; its file as
/// cleanly closed, and as a crash leaves it.
async fn build(dir: &TempDir) -> (Known, Vec<u8>, Vec<u8>) {
    let path = dir.file("base.redb");
    let store = RedbStore::open(&path).await.unwrap();
    let mut versions: BTreeMap<u64, Vec<Record>> = BTreeMap::new();
    for i in 0..40u64 {
        let data = format!(
            r#"{{"order_id":"order-{:02}","car_number":"京A{:05}","note":"{}"}}"#,
            i % 17,
            i,
            "x".repeat(200)
        );
        let record = store
            .insert(new_record("in_park", data.into_bytes(), i))
            .await
            .unwrap();
        versions.entry(record.id).or_default().push(record);
    }
    let claimed = store.claim(claim("e", 100, 12)).await.unwrap();
    for (i, record) in claimed.iter().enumerate() {
        if i % 3 == 0 {
            let released = store.release(release(record, "e", 5_000)).await.unwrap();
            versions.entry(released.id).or_default().push(released);
        } else {
            store.acknowledge(record.id, "e").await.unwrap();
        }
    }
    let pending = store
        .pending()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let crashed = std::fs::read(&path).unwrap();
    drop(store);
    let clean = std::fs::read(&path).unwrap();
    (Known { pending, versions }, clean, crashed)
}

// The fields are read through Debug, in failure messages.
#[allow(dead_code)]
#[derive(Debug)]
enum Damage {
    Truncated(usize),
    ZeroedPage(usize),
    FlippedBit(usize, u8),
    ChangedJson(u64),
}

/// The damaged variants of `bytes`.
fn corpus(bytes: &[u8], known: &Known, rng: &mut Lcg) -> Vec<(Damage, Vec<u8>)> {
    let mut out = Vec::new();
    let len = bytes.len();
    let mut cuts = vec![1, 100, 4095, 4097, len - 1];
    cuts.extend((1..10).map(|i| len * i / 10));
    for cut in cuts {
        out.push((Damage::Truncated(cut), bytes[..cut].to_vec()));
    }
    // Only pages holding something (zeroing a zero page changes nothing),
    // the first ones (headers, the table roots) and a spread of the rest.
    let pages: Vec<usize> = (0..len / PAGE)
        .filter(|p| bytes[p * PAGE..(p + 1) * PAGE].iter().any(|&b| b != 0))
        .collect();
    let mut zeroed: Vec<usize> = pages.iter().copied().take(6).collect();
    zeroed.extend(pages.iter().copied().skip(6).step_by(pages.len() / 14 + 1));
    for page in zeroed {
        let mut damaged = bytes.to_vec();
        damaged[page * PAGE..(page + 1) * PAGE].fill(0);
        out.push((Damage::ZeroedPage(page), damaged));
    }
    let used: Vec<usize> = pages
        .iter()
        .flat_map(|p| p * PAGE..(p + 1) * PAGE)
        .collect();
    for i in 0..26 {
        // Mostly in the pages in use (the first of them most densely);
        // some anywhere.
        let at = match i % 4 {
            0 => rng.below(len),
            1 => used[rng.below(used.len().min(4 * PAGE))],
            _ => used[rng.below(used.len())],
        };
        let bit = rng.below(8) as u8;
        let mut damaged = bytes.to_vec();
        damaged[at] ^= 1 << bit;
        out.push((Damage::FlippedBit(at, bit), damaged));
    }
    for &id in known.pending.keys().step_by(6) {
        // Every copy (redb copies on write, old ones linger in freed
        // pages): the live one is among them. The JSON stays valid, with
        // another service name: only the checksum tells.
        let text = format!(r#"{{"id":{id},"service_name":"in_park""#);
        let needle = text.as_bytes();
        let mut damaged = bytes.to_vec();
        let mut found = false;
        for at in 0..len - needle.len() {
            if &damaged[at..at + needle.len()] == needle {
                damaged[at + needle.len() - 2] ^= 0x01;
                found = true;
            }
        }
        assert!(found, "record {id}'s JSON is in the file");
        out.push((Damage::ChangedJson(id), damaged));
    }
    out
}

#[derive(Debug, Default)]
struct Tally {
    files: usize,
    /// Every pending record back as it was, nothing set aside.
    opened_fully: usize,
    /// By how many records were set aside (with their bytes, or as ids
    /// that could not be read).
    opened_with_records_set_aside: BTreeMap<usize, usize>,
    /// Opened as of an earlier commit, nothing set aside: redb's repair
    /// rolls the latest commit back when its pages do not verify, so
    /// acknowledged records came back (to be sent once more).
    opened_rolled_back: usize,
    refused_as_damaged: usize,
    refused_as_io: usize,
    /// Of the opened files, how many were rebuilt into a fresh file (the
    /// damaged one kept beside it).
    rebuilt: usize,
    /// Outcomes by kind of damage.
    by_kind: BTreeMap<&'static str, BTreeMap<&'static str, usize>>,
}

impl Tally {
    fn count(&mut self, damage: &Damage, outcome: &'static str) {
        let kind = match damage {
            Damage::Truncated(_) => "truncated",
            Damage::ZeroedPage(_) => "zeroed page",
            Damage::FlippedBit(..) => "flipped bit",
            Damage::ChangedJson(_) => "changed JSON",
        };
        *self
            .by_kind
            .entry(kind)
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }

    fn add(&mut self, other: Tally) {
        self.files += other.files;
        self.opened_fully += other.opened_fully;
        for (k, n) in other.opened_with_records_set_aside {
            *self.opened_with_records_set_aside.entry(k).or_default() += n;
        }
        self.opened_rolled_back += other.opened_rolled_back;
        self.refused_as_damaged += other.refused_as_damaged;
        self.refused_as_io += other.refused_as_io;
        self.rebuilt += other.rebuilt;
        for (kind, outcomes) in other.by_kind {
            for (outcome, n) in outcomes {
                *self
                    .by_kind
                    .entry(kind)
                    .or_default()
                    .entry(outcome)
                    .or_default() += n;
            }
        }
    }
}

/// Whether `damaged` accounts for record `id`: by its id, or by an id
/// range named in a note about an unreadable region.
fn accounted(damaged: &[DamagedRecord], id: u64) -> bool {
    damaged.iter().any(|d| {
        d.id == Some(id)
            || d.reason.split_whitespace().any(|word| {
                let Some((a, b)) = word.split_once("..=") else {
                    return false;
                };
                match (a.parse::<u64>(), b.parse::<u64>()) {
                    (Ok(a), Ok(b)) => (a..=b).contains(&id),
                    _ => false,
                }
            })
    })
}

fn asides(dir: &Path, name: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{name}.damaged-"))
        })
        .collect()
}

async fn check(
    dir: &Path,
    name: &str,
    damage: &Damage,
    bytes: &[u8],
    known: &Known,
    tally: &mut Tally,
) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    tally.files += 1;
    let store = match RedbStore::open(&path).await {
        Err(StoreError::Damaged(_)) => {
            tally.refused_as_damaged += 1;
            tally.count(damage, "refused as damaged");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "{damage:?}: refused, and must be left untouched"
            );
            // What the engine does next: set it aside, start afresh.
            let (store, aside) = RedbStore::open_or_set_aside(&path).await.unwrap();
            let aside = aside.expect("set aside");
            assert_eq!(std::fs::read(&aside).unwrap(), bytes, "{damage:?}");
            // (outbox_redb.rs checks that the fresh store works.)
            assert_eq!(store.len().await.unwrap(), 0, "{damage:?}");
            drop(store);
            std::fs::remove_file(aside).unwrap();
            std::fs::remove_file(&path).unwrap();
            return;
        }
        Err(StoreError::Io(e)) => {
            tally.refused_as_io += 1;
            tally.count(damage, "refused as I/O error");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{damage:?}: {e}");
            std::fs::remove_file(&path).unwrap();
            return;
        }
        Err(e) => panic!("{damage:?}: unexpected {e:?}"),
        Ok(store) => store,
    };
    let pending = store.pending().await.unwrap();
    for record in &pending {
        assert!(
            known.wrote(record),
            "{damage:?}: record {} came back changed: {record:?}",
            record.id
        );
    }
    let damaged = store.take_damaged().await.unwrap();
    for id in known.pending.keys() {
        assert!(
            pending.iter().any(|r| r.id == *id) || accounted(&damaged, *id),
            "{damage:?}: record {id} vanished without a word; damaged: {damaged:?}"
        );
    }
    for record in &damaged {
        if let Some(id) = record.id {
            assert!(
                pending.iter().all(|r| r.id != id),
                "{damage:?}: record {id} both pending and damaged"
            );
        }
    }
    if let Damage::ChangedJson(id) = damage {
        assert!(
            damaged
                .iter()
                .any(|d| d.id == Some(*id) && !d.bytes.is_empty()),
            "{damage:?}: the changed record is set aside with its bytes: {damaged:?}"
        );
    }
    let kept = asides(dir, name);
    for aside in &kept {
        assert_eq!(
            std::fs::read(aside).unwrap(),
            bytes,
            "{damage:?}: kept as found"
        );
    }
    let records_set_aside = damaged
        .iter()
        .filter(|d| d.id.is_some() || d.reason.contains("..="))
        .count();
    let rolled_back = pending.iter().any(|r| known.pending.get(&r.id) != Some(r));
    if records_set_aside > 0 {
        *tally
            .opened_with_records_set_aside
            .entry(records_set_aside)
            .or_default() += 1;
        tally.count(damage, "opened, records set aside");
    } else if rolled_back {
        tally.opened_rolled_back += 1;
        tally.count(damage, "opened as of the previous commit");
    } else {
        assert_eq!(pending.len(), known.pending.len(), "{damage:?}");
        tally.opened_fully += 1;
        tally.count(damage, "opened fully");
    }
    tally.rebuilt += usize::from(!kept.is_empty());

    // The store works on: a fresh id, kept across a reopen, and the
    // damage is not handed out again.
    let record = store
        .insert(new_record("in_park", upload("new"), 1))
        .await
        .unwrap_or_else(|e| panic!("{damage:?}: inserting after opening: {e}"));
    assert!(
        known.versions.keys().all(|&id| id < record.id),
        "{damage:?}: id {} reused",
        record.id
    );
    drop(store);
    if records_set_aside > 0 {
        // What was set aside stays so, and is not handed out again. (A
        // rebuilt file was read back by the open above already; reopening
        // an intact one is what the other tests check.)
        let store = RedbStore::open(&path)
            .await
            .unwrap_or_else(|e| panic!("{damage:?}: reopening: {e}"));
        let again = store.pending().await.unwrap();
        assert_eq!(again.len(), pending.len() + 1, "{damage:?}");
        assert!(again.contains(&record), "{damage:?}");
        assert_eq!(store.take_damaged().await.unwrap(), [], "{damage:?}");
        drop(store);
    }
    std::fs::remove_file(&path).unwrap();
    for aside in kept {
        std::fs::remove_file(aside).unwrap();
    }
}

/// Checks the cases one after the other.
async fn run_lane(dir: &Path, lane: usize, cases: &[(Damage, Vec<u8>)], known: &Known) -> Tally {
    let mut tally = Tally::default();
    for (damage, bytes) in cases {
        check(
            dir,
            &format!("lane-{lane}.redb"),
            damage,
            bytes,
            known,
            &mut tally,
        )
        .await;
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_files_never_panic_and_never_yield_changed_records() {
    // redb's panics are caught by the store, on tokio's blocking threads;
    // printing each with its backtrace would bury the output and cost
    // seconds. Count them instead. Panics on this thread (a failed
    // assertion, or a panic the store let through) still print and fail.
    let contained = Arc::new(AtomicUsize::new(0));
    let test_thread = std::thread::current().id();
    let default_hook = std::panic::take_hook();
    let counter = contained.clone();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == test_thread {
            default_hook(info);
        } else {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }));

    let dir = TempDir::new("damaged");
    let (known, clean, crashed) = build(&dir).await;
    assert!(known.pending.len() > 20);
    let mut rng = Lcg(0x0b01_1ac0);
    for (name, bytes) in [("cleanly closed", &clean), ("crash image", &crashed)] {
        let cases = corpus(bytes, &known, &mut rng);
        let before = contained.load(Ordering::SeqCst);
        // Two files at a time (the machine has two cores), both polled on
        // this thread.
        let (even, odd): (Vec<_>, Vec<_>) =
            cases.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let even: Vec<_> = even.into_iter().map(|(_, c)| c).collect();
        let odd: Vec<_> = odd.into_iter().map(|(_, c)| c).collect();
        let (a, b) = tokio::join!(
            run_lane(dir.path(), 0, &even, &known),
            run_lane(dir.path(), 1, &odd, &known)
        );
        let mut tally = a;
        tally.add(b);
        println!(
            "{name} ({} bytes): {tally:#?}\n  redb panics caught: {}",
            bytes.len(),
            contained.load(Ordering::SeqCst) - before
        );
        assert!(tally.opened_fully > 0, "{name}: {tally:?}");
        assert!(
            !tally.opened_with_records_set_aside.is_empty(),
            "{name}: {tally:?}"
        );
        assert!(tally.refused_as_damaged > 0, "{name}: {tally:?}");
    }
    drop(std::panic::take_hook());
}
