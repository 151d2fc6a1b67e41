//! The copy's read-back from the medium, overlapped with the copy (issue 21 item 4): each copy
//! worker, after a file got its content, owner, mode, extended attributes and times, queues it;
//! once the file's ctime is old enough (see [`settled`]) the worker reads it back from the disk
//! and hashes it ([`tree::hash_back`]: `O_DIRECT`, which writes the file's dirty pages out and
//! reads past the page cache; where refused, `fdatasync` and `posix_fadvise(DONTNEED)` first),
//! while the other workers go on copying: the reads overlap the copy's writes instead of
//! following them. The copy's `syncfs` after all of it puts every inode and directory entry on
//! the disk before the step is journaled done.
//!
//! What a read-back gives the verify is a [`Known`] of the copy: each file's hash with its
//! stamp (device, inode, size, mtime and ctime to the nanosecond) as it was right before the
//! read began. The verify walks the copy again and takes that hash only for a file whose stamp
//! is unchanged; anything that touched the file after (a write, a truncate, a chmod, a time set
//! back) moved its ctime, and the verify reads it again from the disk. That holds only when the
//! read began after the file's last ctime by more than the filesystem's timestamp granule and
//! the kernel's coarse clock tick: a change after the read began then gets a later ctime, never
//! the same one ([`settled`]).

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::{EntryError, Source, at, under};
use crate::migrate::tree::known::now_ns;
use crate::migrate::tree::manifest::Digest;
use crate::migrate::tree::{self, Known, KnownFile, RACY_MARGIN_NS, Stamp};

/// How much older than a read's start a ctime finer than a millisecond must be for the read's
/// hash to stand for the file while its stamp is unchanged: more than the kernel's coarse clock
/// tick (at most 10 ms, `HZ=100`), which timestamps are taken from.
pub const FINE_MARGIN_NS: i64 = 20_000_000;

/// Files one worker holds copied and not yet read back at most (their ctime not yet settled):
/// past it, the worker waits for the oldest.
const QUEUED: usize = 256;

/// Whether a read that began at `began_ns` may hand its hash on with a stamp whose ctime is
/// `ctime_ns`: the read began later than the ctime by more than the ctime's granule and the
/// clock's tick. A ctime with nanoseconds below the millisecond comes from a filesystem that
/// keeps them (ext4, xfs, btrfs, tmpfs): [`FINE_MARGIN_NS`]; otherwise the filesystem may keep
/// whole seconds or coarser (FAT: 2 s): [`RACY_MARGIN_NS`].
fn settled(ctime_ns: i64, began_ns: i64) -> bool {
    began_ns > ctime_ns.saturating_add(margin(ctime_ns))
}

fn margin(ctime_ns: i64) -> i64 {
    match ctime_ns % 1_000_000 {
        0 => RACY_MARGIN_NS,
        _ => FINE_MARGIN_NS,
    }
}

/// A copied file waiting for its read-back: its path, and its ctime once copied.
struct Queued {
    rel: String,
    ctime_ns: i64,
}

/// Copy `copies` (relative paths) from `from` into `target` in parallel, each worker reading
/// back the files it copied (see the module's text): what the read-backs know of the copy.
/// `Err` names the first entry that failed (`cp` or `read back`).
pub(super) fn copy_reading_back(
    from: &Source<'_>,
    target: &Path,
    copies: &[&String],
) -> Result<Known, EntryError> {
    let started_ns = now_ns();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let hashed = AtomicU64::new(0);
    let work = Work {
        from,
        target,
        copies,
        next: &next,
        failed: &failed,
        hashed: &hashed,
    };
    let results: Vec<Result<Vec<(String, KnownFile)>, EntryError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..tree::readers())
            .map(|_| scope.spawn(|| work.run()))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(at("cp", ".", io::Error::other("a copy worker panicked")))
                })
            })
            .collect()
    });
    let mut files = BTreeMap::new();
    for result in results {
        files.extend(result?);
    }
    Ok(Known {
        started_ns,
        digest: Digest::Blake3,
        files,
    })
}

/// What every worker shares.
struct Work<'a> {
    from: &'a Source<'a>,
    target: &'a Path,
    copies: &'a [&'a String],
    /// The next index of `copies` to take.
    next: &'a AtomicUsize,
    /// A worker failed: the others stop taking files.
    failed: &'a AtomicBool,
    hashed: &'a AtomicU64,
}

impl Work<'_> {
    /// One worker: take the next file, copy it, queue it; read back what settled; at the end,
    /// what is left (waiting for the last ones to settle).
    fn run(&self) -> Result<Vec<(String, KnownFile)>, EntryError> {
        let mut queue = VecDeque::new();
        let mut read = Vec::new();
        let result = (|| {
            while !self.failed.load(Ordering::Relaxed) {
                let Some(rel) = self.copies.get(self.next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let to = under(self.target, rel);
                self.from.copy(rel, &to).map_err(|e| at("cp", rel, e))?;
                // a file whose ctime is coarse (see [`settled`]) would hold the worker up to
                // seconds: the verify reads it
                match std::fs::symlink_metadata(&to) {
                    Ok(meta) if meta.is_file() => {
                        let ctime_ns = Stamp::of(&meta).ctime_ns;
                        if margin(ctime_ns) == FINE_MARGIN_NS {
                            let rel = (*rel).clone();
                            queue.push_back(Queued { rel, ctime_ns });
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(at("cp", rel, e)),
                }
                self.settle(&mut queue, &mut read, false)?;
            }
            self.settle(&mut queue, &mut read, true)
        })();
        if result.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        result.map(|()| read)
    }

    /// Read back the queued files whose ctime settled, oldest first; when `all` (or the queue
    /// is full), wait for the oldest to settle rather than stop.
    fn settle(
        &self,
        queue: &mut VecDeque<Queued>,
        read: &mut Vec<(String, KnownFile)>,
        all: bool,
    ) -> Result<(), EntryError> {
        while let Some(oldest) = queue.front() {
            let wait = oldest
                .ctime_ns
                .saturating_add(FINE_MARGIN_NS)
                .saturating_sub(now_ns());
            if wait >= 0 {
                if !all && queue.len() <= QUEUED {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_nanos(wait.unsigned_abs() + 1));
            }
            let Some(oldest) = queue.pop_front() else {
                break;
            };
            if let Some(file) = self.read_back(&oldest.rel)? {
                read.push((oldest.rel, file));
            }
        }
        Ok(())
    }

    /// The read-back of the copied file `rel`; `None` when its ctime moved since it was
    /// queued so that the read began too soon after it ([`settled`]): the verify reads it.
    fn read_back(&self, rel: &str) -> Result<Option<KnownFile>, EntryError> {
        let path = under(self.target, rel);
        let back = tree::hash_back(&path, Digest::Blake3, self.hashed)
            .map_err(|e| at("read back", rel, e))?;
        Ok(
            settled(back.stamp.ctime_ns, back.began_ns).then_some(KnownFile {
                stamp: back.stamp,
                hash: back.hash,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue21_a_read_back_stands_only_when_it_began_after_the_ctime_by_the_margin() {
        // a nanosecond ctime (ext4, xfs, btrfs): the coarse clock's tick and some
        let fine = 1_700_000_000_123_456_789;
        assert!(!settled(fine, fine));
        assert!(!settled(fine, fine + FINE_MARGIN_NS));
        assert!(settled(fine, fine + FINE_MARGIN_NS + 1));
        // a whole-millisecond or whole-second ctime: the filesystem may keep no finer
        let coarse = 1_700_000_000_000_000_000;
        assert!(!settled(coarse, coarse + FINE_MARGIN_NS + 1));
        assert!(settled(coarse, coarse + RACY_MARGIN_NS + 1));
        assert!(!settled(
            1_700_000_000_123_000_000,
            1_700_000_000_200_000_000
        ));
    }
}
