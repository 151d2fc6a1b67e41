//! Which filesystem holds a path: its type, device and sizes, and the mount with its options.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::FsxError;
#[cfg(target_os = "linux")]
use super::mountinfo;
use crate::facts::FsIdentity;

/// Identifies the filesystem holding `path` (after following symlinks).
///
/// Sizes are `f_blocks * f_frsize` and `f_bavail * f_frsize`; the type comes
/// from the mount table (`/proc/self/mountinfo`) on Linux, `statfs` on macOS.
pub fn fs_identity(path: &Path) -> Result<FsIdentity, FsxError> {
    let real = fs::canonicalize(path).map_err(|source| FsxError::Resolve {
        path: path.to_path_buf(),
        source,
    })?;
    let stats = nix::sys::statvfs::statvfs(&real).map_err(|source| FsxError::Statvfs {
        path: real.clone(),
        source,
    })?;
    // The field types differ between platforms (u32 on some, u64 on Linux).
    #[allow(clippy::useless_conversion)]
    let (blocks, available, fragment) = (
        u64::from(stats.blocks()),
        u64::from(stats.blocks_available()),
        u64::from(stats.fragment_size()),
    );
    let device = fs::metadata(&real)
        .map_err(|source| FsxError::Metadata {
            path: real.clone(),
            source,
        })?
        .dev();
    Ok(FsIdentity {
        fs_type: fs_type(&real)?,
        device,
        size_bytes: blocks.saturating_mul(fragment),
        available_bytes: available.saturating_mul(fragment),
    })
}

/// The size of the memory-backed filesystem (`tmpfs`) holding `path`, in bytes; `None` when
/// it is on another kind of filesystem or cannot be looked at. What a process writes into a
/// tmpfs is charged to its memory cgroup (issue 26 row 7), and it can write no more than this.
pub fn memory_backed_size(path: &Path) -> Option<u64> {
    fs_identity(path)
        .ok()
        .filter(|identity| identity.fs_type == "tmpfs")
        .map(|identity| identity.size_bytes)
}

/// The mount holding `path` (after following symlinks) with its per-mount options, from
/// `/proc/self/mountinfo`.
#[cfg(target_os = "linux")]
pub fn mount_of(path: &Path) -> Result<crate::layout::MountFacts, FsxError> {
    let real = fs::canonicalize(path).map_err(|source| FsxError::Resolve {
        path: path.to_path_buf(),
        source,
    })?;
    let table = Path::new(mountinfo::MOUNTINFO);
    let text = fs::read(table).map_err(|source| FsxError::MountTable {
        path: table.to_path_buf(),
        source,
    })?;
    mountinfo::with_options(&text, &real).ok_or(FsxError::NoMount { path: real })
}

/// The mount holding `path` with its options: not implemented off Linux.
#[cfg(not(target_os = "linux"))]
pub fn mount_of(path: &Path) -> Result<crate::layout::MountFacts, FsxError> {
    Err(FsxError::Unsupported {
        path: path.to_path_buf(),
    })
}

/// The type of the filesystem holding the physical path `real`.
#[cfg(target_os = "linux")]
fn fs_type(real: &Path) -> Result<String, FsxError> {
    let table = Path::new(mountinfo::MOUNTINFO);
    let text = fs::read(table).map_err(|source| FsxError::MountTable {
        path: table.to_path_buf(),
        source,
    })?;
    let mounts = mountinfo::parse(&text);
    mountinfo::mount_for(&mounts, real)
        .map(|mount| mount.fs_type.clone())
        .ok_or_else(|| FsxError::NoMount {
            path: real.to_path_buf(),
        })
}

/// The type of the filesystem holding the physical path `real`.
#[cfg(target_vendor = "apple")]
fn fs_type(real: &Path) -> Result<String, FsxError> {
    nix::sys::statfs::statfs(real)
        .map(|stats| stats.filesystem_type_name().to_owned())
        .map_err(|source| FsxError::Statvfs {
            path: real.to_path_buf(),
            source,
        })
}

/// The type of the filesystem holding the physical path `real`.
#[cfg(not(any(target_os = "linux", target_vendor = "apple")))]
fn fs_type(real: &Path) -> Result<String, FsxError> {
    Err(FsxError::Unsupported {
        path: real.to_path_buf(),
    })
}
