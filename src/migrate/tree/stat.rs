//! One path of a tree as a walk finds it ([`Found`]), from the host's `lstat`; its hardlink
//! groups ([`group`]).

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::known::Stamp;
use super::manifest::{Entry, Kind};

/// One path found by the walk, before hashing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Path relative to the root (`.` is the root).
    pub path: String,
    /// The entry, `hash` and `hardlink_group` still empty.
    pub entry: Entry,
    /// `(device, inode)` of a file with more than one link.
    pub inode: Option<(u64, u64)>,
    /// A file's stamp (`None` for other types).
    pub stamp: Option<Stamp>,
}

/// The hardlink groups of a walk: `(device, inode)` -> the group's smallest path, for every
/// inode reached by two paths or more.
pub fn group(found: &[Found]) -> BTreeMap<(u64, u64), String> {
    let mut members: BTreeMap<(u64, u64), Vec<&str>> = BTreeMap::new();
    for f in found {
        if let Some(key) = f.inode {
            members.entry(key).or_default().push(&f.path);
        }
    }
    members
        .into_iter()
        .filter(|(_, paths)| paths.len() > 1)
        .filter_map(|(key, paths)| paths.into_iter().min().map(|p| (key, p.to_owned())))
        .collect()
}

/// The entry for one path's metadata (`None` for a socket, which archives leave out).
pub fn entry(meta: &Metadata, link: Option<String>) -> Option<Entry> {
    let ft = meta.file_type();
    let kind = if ft.is_file() {
        Kind::File
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_char_device() {
        Kind::CharDevice
    } else if ft.is_block_device() {
        Kind::BlockDevice
    } else {
        return None;
    };
    let device = matches!(kind, Kind::CharDevice | Kind::BlockDevice).then(|| {
        let rdev = meta.rdev();
        (
            u32::try_from(nix::sys::stat::major(rdev)).unwrap_or(u32::MAX),
            u32::try_from(nix::sys::stat::minor(rdev)).unwrap_or(u32::MAX),
        )
    });
    Some(Entry {
        kind,
        size: if kind == Kind::File { meta.len() } else { 0 },
        uid: u64::from(meta.uid()),
        gid: u64::from(meta.gid()),
        mode: meta.mode() & 0o7777,
        mtime: (kind != Kind::Symlink).then(|| u64::try_from(meta.mtime()).unwrap_or(0)),
        link: if kind == Kind::Symlink { link } else { None },
        device,
        hardlink_group: None,
        hash: None,
    })
}
