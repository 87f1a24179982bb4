//! A storage backend that holds redb's writes in memory until the opening
//! of a file has succeeded, so that a file found damaged is left exactly as
//! it was.
//!
//! Opening a redb file writes to it (the recovery flag at least, a full
//! repair after an unclean shutdown), and a repair that meets a damaged
//! page can panic halfway through its writes. Staged, those writes go to
//! an overlay; reads see the overlay. Once the store has verified the file
//! and committed its own first transaction, [`Stage::apply`] replays the
//! writes, in order and with the same syncs, onto the file: a crash during
//! the replay is then the same as a crash during redb's own writes, which
//! redb recovers from. After that the backend passes everything through.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use redb::StorageBackend;

const BLOCK: u64 = 4096;

/// The backend handed to redb; [`Stage`] is the other end.
#[derive(Debug)]
pub(super) struct Staged {
    shared: Arc<Shared>,
}

/// Applies or discards what a [`Staged`] backend holds.
#[derive(Debug)]
pub(super) struct Stage {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    inner: Box<dyn StorageBackend>,
    mode: Mutex<Mode>,
}

#[derive(Debug)]
enum Mode {
    Staging(Overlay),
    Direct,
    /// Replaying the staged writes failed: the file holds part of them, as
    /// after a crash. Nothing more is written through this backend.
    Broken,
}

#[derive(Debug)]
enum Op {
    Write(u64, Vec<u8>),
    SetLen(u64),
    Sync(bool),
}

#[derive(Debug)]
struct Overlay {
    /// The length redb sees.
    len: u64,
    /// Below this, bytes not in `blocks` are the inner backend's; above it
    /// they are zeros (the file was shortened, then grown again).
    base_len: u64,
    /// Whole blocks as redb wrote them, by block number.
    blocks: BTreeMap<u64, Vec<u8>>,
    log: Vec<Op>,
    /// A view of the file that must never be written back.
    view_only: bool,
}

/// A staging backend over `inner`, and its control.
pub(super) fn stage(inner: Box<dyn StorageBackend>) -> io::Result<(Staged, Stage)> {
    let len = inner.len()?;
    let shared = Arc::new(Shared {
        inner,
        mode: Mutex::new(Mode::Staging(Overlay {
            len,
            base_len: len,
            blocks: BTreeMap::new(),
            log: Vec::new(),
            view_only: false,
        })),
    });
    Ok((
        Staged {
            shared: shared.clone(),
        },
        Stage { shared },
    ))
}

/// Where redb 2 keeps its header flags, and the flag that makes it repair
/// the file on opening (its file format, `header.rs`).
const GOD_BYTE_OFFSET: usize = 9;
const RECOVERY_REQUIRED: u8 = 2;

/// The length redb 2's header says the file has (`layout.rs`): a header
/// page, the full regions, the trailing partial one. `None` when the
/// header is too short to tell.
fn layout_len(header: &[u8]) -> Option<u64> {
    let field = |offset: usize| -> Option<u64> {
        let bytes: [u8; 4] = header.get(offset..offset + 4)?.try_into().ok()?;
        Some(u64::from(u32::from_le_bytes(bytes)))
    };
    let page_size = field(12)?;
    let region_header_pages = field(16)?;
    let region_max_data_pages = field(20)?;
    let full_regions = field(24)?;
    let trailing_data_pages = field(28)?;
    let full = full_regions
        .checked_mul(region_header_pages.checked_add(region_max_data_pages)?)?
        .checked_mul(page_size)?;
    let trailing = if trailing_data_pages > 0 {
        region_header_pages
            .checked_add(trailing_data_pages)?
            .checked_mul(page_size)?
    } else {
        0
    };
    page_size.checked_add(full)?.checked_add(trailing)
}

/// Like [`stage`], but redb sees the file with its recovery flag cleared,
/// so it opens it without repairing: for reading what a file still holds
/// when its repair fails (redb refuses a file whose latest commit does not
/// verify, although its other pages may be fine). The view is never
/// applied: such a file is only read, to rebuild a fresh one.
pub(super) fn stage_unrepaired(inner: Box<dyn StorageBackend>) -> io::Result<(Staged, Stage)> {
    let (staged, stage) = stage(inner)?;
    {
        let mut mode = stage.shared.mode();
        if let Mode::Staging(overlay) = &mut *mode {
            overlay.view_only = true;
            if overlay.base_len > GOD_BYTE_OFFSET as u64 {
                let mut block = stage.shared.base(overlay.base_len, 0, BLOCK as usize)?;
                block[GOD_BYTE_OFFSET] &= !RECOVERY_REQUIRED;
                // A file cut short: redb asserts it is as long as its
                // header says. Shown padded with zeros, its pages before
                // the cut can still be read.
                if let Some(len) = layout_len(&block) {
                    // A damaged header can claim anything: pad up to 1 GiB.
                    if len > overlay.len && len - overlay.len <= 1 << 30 {
                        overlay.len = len;
                    }
                }
                overlay.blocks.insert(0, block);
            }
        }
    }
    Ok((staged, stage))
}

impl Shared {
    fn mode(&self) -> MutexGuard<'_, Mode> {
        self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The inner backend's bytes in `[offset, offset + len)`, zeros past
    /// `base_len`.
    fn base(&self, base_len: u64, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut out = vec![0; len];
        let end = offset.saturating_add(len as u64).min(base_len);
        if end > offset {
            let read = self.inner.read(offset, (end - offset) as usize)?;
            out[..read.len()].copy_from_slice(&read);
        }
        Ok(out)
    }
}

fn broken() -> io::Error {
    io::Error::other("an earlier replay of staged writes failed")
}

impl Stage {
    /// Whether the backend was empty when staging began (a new store).
    pub(super) fn is_empty(&self) -> bool {
        matches!(&*self.shared.mode(), Mode::Staging(overlay) if overlay.len == 0)
    }

    /// Replays the staged writes onto the inner backend and passes
    /// everything through from now on.
    pub(super) fn apply(&self) -> io::Result<()> {
        let mut mode = self.shared.mode();
        let log = match std::mem::replace(&mut *mode, Mode::Broken) {
            Mode::Staging(overlay) if overlay.view_only => {
                return Err(io::Error::other("a salvage view is never written back"));
            }
            Mode::Staging(overlay) => overlay.log,
            Mode::Direct => {
                *mode = Mode::Direct;
                return Ok(());
            }
            Mode::Broken => return Err(broken()),
        };
        for op in log {
            match op {
                Op::Write(offset, data) => self.shared.inner.write(offset, &data)?,
                Op::SetLen(len) => self.shared.inner.set_len(len)?,
                Op::Sync(eventual) => self.shared.inner.sync_data(eventual)?,
            }
        }
        *mode = Mode::Direct;
        Ok(())
    }
}

impl StorageBackend for Staged {
    fn len(&self) -> io::Result<u64> {
        let mode = self.shared.mode();
        match &*mode {
            Mode::Staging(overlay) => Ok(overlay.len),
            Mode::Direct => {
                drop(mode);
                self.shared.inner.len()
            }
            Mode::Broken => Err(broken()),
        }
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mode = self.shared.mode();
        let overlay = match &*mode {
            Mode::Staging(overlay) => overlay,
            Mode::Direct => {
                drop(mode);
                return self.shared.inner.read(offset, len);
            }
            Mode::Broken => return Err(broken()),
        };
        let end = offset
            .checked_add(len as u64)
            .filter(|&end| end <= overlay.len)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        let mut out = self.shared.base(overlay.base_len, offset, len)?;
        if len == 0 {
            return Ok(out);
        }
        for (&block, bytes) in overlay.blocks.range(offset / BLOCK..=(end - 1) / BLOCK) {
            let block_start = block * BLOCK;
            let from = offset.max(block_start);
            let to = end.min(block_start + BLOCK);
            out[(from - offset) as usize..(to - offset) as usize].copy_from_slice(
                &bytes[(from - block_start) as usize..(to - block_start) as usize],
            );
        }
        Ok(out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut mode = self.shared.mode();
        let overlay = match &mut *mode {
            Mode::Staging(overlay) => overlay,
            Mode::Direct => {
                drop(mode);
                return self.shared.inner.set_len(len);
            }
            Mode::Broken => return Err(broken()),
        };
        if len < overlay.len {
            let first_gone = len.div_ceil(BLOCK);
            overlay.blocks.split_off(&first_gone);
            if !len.is_multiple_of(BLOCK) {
                if let Some(partial) = overlay.blocks.get_mut(&(len / BLOCK)) {
                    partial[(len % BLOCK) as usize..].fill(0);
                }
            }
            overlay.base_len = overlay.base_len.min(len);
        }
        overlay.len = len;
        overlay.log.push(Op::SetLen(len));
        Ok(())
    }

    fn sync_data(&self, eventual: bool) -> io::Result<()> {
        let mut mode = self.shared.mode();
        match &mut *mode {
            Mode::Staging(overlay) => {
                overlay.log.push(Op::Sync(eventual));
                Ok(())
            }
            Mode::Direct => {
                drop(mode);
                self.shared.inner.sync_data(eventual)
            }
            Mode::Broken => Err(broken()),
        }
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut mode = self.shared.mode();
        let overlay = match &mut *mode {
            Mode::Staging(overlay) => overlay,
            Mode::Direct => {
                drop(mode);
                return self.shared.inner.write(offset, data);
            }
            Mode::Broken => return Err(broken()),
        };
        if data.is_empty() {
            return Ok(());
        }
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        for block in offset / BLOCK..=(end - 1) / BLOCK {
            let block_start = block * BLOCK;
            if !overlay.blocks.contains_key(&block) {
                let base = self
                    .shared
                    .base(overlay.base_len, block_start, BLOCK as usize)?;
                overlay.blocks.insert(block, base);
            }
            let bytes = overlay.blocks.get_mut(&block).expect("inserted above");
            let from = offset.max(block_start);
            let to = end.min(block_start + BLOCK);
            bytes[(from - block_start) as usize..(to - block_start) as usize]
                .copy_from_slice(&data[(from - offset) as usize..(to - offset) as usize]);
        }
        overlay.len = overlay.len.max(end);
        overlay.log.push(Op::Write(offset, data.to_vec()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use redb::backends::InMemoryBackend;

    use super::*;

    /// The staged view must read exactly like a backend that took the
    /// writes directly, and applying must make the inner backend equal.
    #[test]
    fn staged_reads_and_applied_writes_match_a_direct_backend() {
        let direct = InMemoryBackend::new();
        let inner = InMemoryBackend::new();
        for b in [&direct as &dyn StorageBackend, &inner] {
            b.set_len(10_000).unwrap();
            b.write(0, &[7; 10_000]).unwrap();
        }
        let (staged, stage) = stage(Box::new(inner)).unwrap();
        type Op = Box<dyn Fn(&dyn StorageBackend)>;
        let ops: Vec<Op> = vec![
            Box::new(|b| b.write(4000, &[1; 300]).unwrap()),
            Box::new(|b| b.set_len(5000).unwrap()),
            Box::new(|b| b.set_len(20_000).unwrap()),
            Box::new(|b| b.write(8190, &[2; 10]).unwrap()),
            Box::new(|b| b.sync_data(false).unwrap()),
            Box::new(|b| b.write(19_990, &[3; 10]).unwrap()),
            Box::new(|b| b.set_len(12_289).unwrap()),
        ];
        for op in &ops {
            op(&direct);
            op(&staged);
            assert_eq!(staged.len().unwrap(), direct.len().unwrap());
            let len = direct.len().unwrap() as usize;
            assert_eq!(staged.read(0, len).unwrap(), direct.read(0, len).unwrap());
            assert_eq!(staged.read(4095, 3).unwrap(), direct.read(4095, 3).unwrap());
        }
        assert!(staged.read(0, direct.len().unwrap() as usize + 1).is_err());
        stage.apply().unwrap();
        let len = direct.len().unwrap() as usize;
        assert_eq!(stage.shared.inner.len().unwrap(), len as u64);
        assert_eq!(
            stage.shared.inner.read(0, len).unwrap(),
            direct.read(0, len).unwrap()
        );
        staged.write(0, &[9]).unwrap();
        assert_eq!(stage.shared.inner.read(0, 1).unwrap(), [9]);
    }

    #[test]
    fn an_unrepaired_view_clears_the_recovery_flag_and_is_never_applied() {
        let inner = InMemoryBackend::new();
        inner.set_len(8192).unwrap();
        inner.write(GOD_BYTE_OFFSET as u64, &[0b111]).unwrap();
        let (staged, stage) = stage_unrepaired(Box::new(inner)).unwrap();
        assert_eq!(staged.read(GOD_BYTE_OFFSET as u64, 1).unwrap(), [0b101]);
        staged.write(100, &[1]).unwrap();
        assert!(stage.apply().is_err());
        assert_eq!(
            stage.shared.inner.read(GOD_BYTE_OFFSET as u64, 1).unwrap(),
            [0b111],
            "the file keeps its flag"
        );
        assert_eq!(stage.shared.inner.read(100, 1).unwrap(), [0]);
    }
}
