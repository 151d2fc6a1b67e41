//! Issue 23 item 7: a file copied by sharing its extents (`FICLONE`) when the source and the
//! copy lie on one filesystem that can (xfs with `reflink=1`, btrfs): the copy takes no time
//! and no room whatever its size. Anything else falls back to the byte copy, per file:
//! another filesystem (`EXDEV`), a filesystem without reflinks (`EOPNOTSUPP`, `ENOTTY`), or a
//! file this filesystem will not share (`EINVAL`: btrfs between a `nodatacow` and a `datacow`
//! file, for one). Once the filesystem said it cannot, the later files of the same copy do not
//! ask again.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::libc;

/// What one copy's files did: whether sharing is still worth trying, and how many files and
/// bytes were shared.
#[derive(Debug)]
pub struct Reflinks {
    /// `false` once the filesystem said it cannot share extents (with this target) at all.
    worth_trying: AtomicBool,
    /// Files copied by sharing their extents.
    files: AtomicU64,
    /// Their bytes.
    bytes: AtomicU64,
}

impl Default for Reflinks {
    fn default() -> Self {
        Reflinks {
            worth_trying: AtomicBool::new(true),
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }
}

/// Whether a file's content was shared, or must be copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloned {
    /// `out` now shares every extent of `from` (holes included): nothing left to copy.
    Shared,
    /// Not shared; `out` is untouched (still empty): copy the bytes.
    CopyInstead,
}

impl Reflinks {
    /// Share the content of `from` into the new, empty `out`, `len` bytes long; any other
    /// error of the ioctl (`EIO`, `ENOSPC`, ...) is the copy's error.
    pub fn clone_into(&self, from: &File, out: &File, len: u64) -> io::Result<Cloned> {
        if !self.worth_trying.load(Ordering::Relaxed) {
            return Ok(Cloned::CopyInstead);
        }
        match ficlone(from, out) {
            Ok(()) => {
                self.files.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(len, Ordering::Relaxed);
                Ok(Cloned::Shared)
            }
            Err(e) => match e.raw_os_error() {
                Some(libc::EXDEV | libc::EOPNOTSUPP | libc::ENOTTY | libc::ENOSYS) => {
                    self.worth_trying.store(false, Ordering::Relaxed);
                    Ok(Cloned::CopyInstead)
                }
                // this file only (alignment, a `nodatacow` file on btrfs, a swap file)
                Some(libc::EINVAL | libc::ETXTBSY | libc::EPERM) => Ok(Cloned::CopyInstead),
                _ => Err(e),
            },
        }
    }

    /// Files shared so far.
    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }

    /// Their bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// `ioctl(out, FICLONE, from)`: `out` shares all of `from`'s extents.
fn ficlone(from: &File, out: &File) -> io::Result<()> {
    // SAFETY: FICLONE takes the source descriptor as its int argument; both descriptors are
    // open for the borrows' lifetime
    let rc = unsafe { libc::ioctl(out.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
