//! The filesystem effect: resolves host paths symlink by symlink and reads
//! which filesystem holds them. The only filesystem I/O `audit` needs.

mod dir_identity;
mod dir_times;
mod filesystem;
#[cfg(target_os = "linux")]
mod mountinfo;
mod walk;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

pub use dir_identity::{dir_identities, root_on_disk};
pub use dir_times::{create_marker, remove_marker};
pub use filesystem::{fs_identity, memory_backed_size, mount_of};
pub use walk::{Disk, Kind, Lookup, MAX_HOPS, normalize, probe_paths, resolve, resolve_with};

/// Why the filesystem holding a path could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum FsxError {
    /// The path could not be resolved to an existing physical path.
    #[error("cannot resolve `{}`", path.display())]
    Resolve {
        /// The path as asked.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `stat` failed on the resolved path.
    #[error("cannot read the metadata of `{}`", path.display())]
    Metadata {
        /// The resolved path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `statvfs` (or `statfs`) failed on the resolved path.
    #[error("cannot read the filesystem statistics of `{}`", path.display())]
    Statvfs {
        /// The resolved path.
        path: PathBuf,
        /// The underlying error.
        source: nix::Error,
    },
    /// The mount table could not be read.
    #[error("cannot read the mount table `{}`", path.display())]
    MountTable {
        /// The mount table file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// No entry of the mount table holds the path.
    #[error("no mount in the mount table holds `{}`", path.display())]
    NoMount {
        /// The resolved path.
        path: PathBuf,
    },
    /// This platform has no way implemented to name a filesystem's type.
    #[error("cannot name the filesystem type of `{}` on this platform", path.display())]
    Unsupported {
        /// The resolved path.
        path: PathBuf,
    },
}
