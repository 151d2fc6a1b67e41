//! Directory identities (device, inode): what tells two real paths that are one directory (a
//! bind mount) apart from two directories.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::resolve;

/// A tier root as it is on this machine: its real path (symlinks followed; the root as written
/// when it does not resolve) and the identities of it and the directories above it.
pub fn root_on_disk(root: &Path) -> crate::tiers::RootOnDisk {
    let real = resolve(root).real.unwrap_or_else(|| root.to_path_buf());
    crate::tiers::RootOnDisk {
        chain: dir_identities(&real),
        real,
    }
}

/// The identity (device, inode) of `real` (a real path) and of each of its ancestors that
/// exists, nearest first: what tells two real paths that are one directory (a bind mount)
/// apart from two directories (`tiers::RootOnDisk`).
pub fn dir_identities(real: &Path) -> Vec<crate::tiers::DirIdentity> {
    real.ancestors()
        .filter_map(|dir| {
            let meta = fs::metadata(dir).ok()?;
            Some(crate::tiers::DirIdentity {
                path: dir.to_path_buf(),
                device: meta.dev(),
                inode: meta.ino(),
            })
        })
        .collect()
}
