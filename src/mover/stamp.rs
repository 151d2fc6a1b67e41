//! A file as the mover compares it before and after: size, mtime, ctime (nanoseconds), device
//! and inode. Any difference means someone wrote, truncated, replaced or touched it.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What the mover compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i64,
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

impl FileStamp {
    /// The stamp of `meta`.
    pub fn of(meta: &fs::Metadata) -> FileStamp {
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        FileStamp {
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The stamp of the regular file at `path` (not following a symlink); `None` when it is
    /// gone or no longer a regular file.
    pub fn read(path: &Path) -> io::Result<Option<FileStamp>> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_file() => Ok(Some(FileStamp::of(&meta))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
