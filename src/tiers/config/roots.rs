//! Tier roots that must not overlap: as written (component by component), by their real
//! paths, and by directory identity (a bind mount shows one directory under two real paths).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::error::{DirOverlap, RealOverlap, TiersErrorKind};
use crate::tiers::Tier;

/// A tier root as this machine has it, observed by the caller's effect: its real path
/// (symlinks followed) and the identity (device, inode) of it and of each existing directory
/// above it. A bind mount (`mount --bind a m`) makes `m` the same directory as `a` under
/// another real path: only the identities show that `m/b` lies inside `a`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootOnDisk {
    /// The real path.
    pub real: PathBuf,
    /// The real path and each of its ancestors that exists, nearest first, with its identity.
    pub chain: Vec<DirIdentity>,
}

impl RootOnDisk {
    /// A root taken as written (nothing observed: `load`, another machine's roots).
    pub fn as_written(root: &Path) -> Self {
        RootOnDisk {
            real: root.to_path_buf(),
            chain: Vec::new(),
        }
    }

    /// The root's own identity, when it exists.
    fn own(&self) -> Option<&DirIdentity> {
        self.chain.first().filter(|d| d.path == self.real)
    }
}

/// A directory's identity: `st_dev` and `st_ino`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirIdentity {
    /// The directory (a real path).
    pub path: PathBuf,
    /// `st_dev`.
    pub device: u64,
    /// `st_ino`.
    pub inode: u64,
}

/// The overlap of `root` (tier `name`) with an earlier tier's root, if any;
/// compared component by component.
pub(super) fn overlap(
    earlier: &IndexMap<String, Tier>,
    name: &str,
    root: &Path,
) -> Option<TiersErrorKind> {
    earlier.values().find_map(|other| {
        let shown = |path: &Path| path.display().to_string();
        if root == other.root {
            Some(TiersErrorKind::SameRoot {
                tier: name.to_string(),
                other: other.name.clone(),
                root: shown(root),
            })
        } else if root.starts_with(&other.root) {
            Some(TiersErrorKind::NestedRoot {
                inner: name.to_string(),
                inner_root: shown(root),
                outer: other.name.clone(),
            })
        } else if other.root.starts_with(root) {
            Some(TiersErrorKind::NestedRoot {
                inner: other.name.clone(),
                inner_root: shown(&other.root),
                outer: name.to_string(),
            })
        } else {
            None
        }
    })
}

/// The overlap of `root`'s real path with an earlier tier's real root, if any (roots that
/// overlap as written are [`overlap`]'s).
pub(super) fn real_overlap(
    earlier_real: &IndexMap<String, RootOnDisk>,
    name: &str,
    root: &Path,
    real_root: &Path,
) -> Option<TiersErrorKind> {
    earlier_real
        .iter()
        .map(|(other, on_disk)| (other, &on_disk.real))
        .find(|(_, other)| real_root.starts_with(other) || other.starts_with(real_root))
        .map(|(other, other_real)| {
            TiersErrorKind::RealRootOverlap(Box::new(RealOverlap {
                tier: name.to_string(),
                root: root.display().to_string(),
                real: real_root.display().to_string(),
                other: other.clone(),
                other_real: other_real.display().to_string(),
            }))
        })
}

/// The overlap of `root` (tier `name`, as this machine has it: `on_disk`) with an earlier
/// tier's root by identity: one root, or a directory above it, is the other root (a bind mount
/// shows the same directory under two real paths).
pub(super) fn same_directory_overlap(
    earlier: &IndexMap<String, Tier>,
    earlier_on_disk: &IndexMap<String, RootOnDisk>,
    name: &str,
    root: &Path,
    on_disk: &RootOnDisk,
) -> Option<TiersErrorKind> {
    let same = |a: &DirIdentity, b: &DirIdentity| a.device == b.device && a.inode == b.inode;
    let inside = |inner: &RootOnDisk, outer: &RootOnDisk| {
        let outer_own = outer.own()?;
        inner
            .chain
            .iter()
            .find(|d| same(d, outer_own))
            .map(|alias| (alias.path.clone(), outer_own.path.clone()))
    };
    earlier_on_disk.iter().find_map(|(other, other_on_disk)| {
        let (alias, same_as) =
            inside(on_disk, other_on_disk).or_else(|| inside(other_on_disk, on_disk))?;
        Some(TiersErrorKind::SameDirectoryOverlap(Box::new(DirOverlap {
            tier: name.to_string(),
            root: root.display().to_string(),
            other: other.clone(),
            other_root: earlier
                .get(other)
                .map_or_else(|| other_on_disk.real.clone(), |t| t.root.clone())
                .display()
                .to_string(),
            alias: alias.display().to_string(),
            same_as: same_as.display().to_string(),
        })))
    })
}
