//! What `lstat` says of one path ([`Stat`]): the one record every reader of a tree decodes,
//! from the host's `Metadata` ([`Stat::of`]) or from the one busybox `stat -c` line of a helper
//! ([`FORMAT`], [`Stat::parse`]); the one decoder of a raw mode ([`kind_of`]); the entry it makes
//! ([`Stat::entry`]); one path as a walk finds it ([`Found`]) and its hardlink groups
//! ([`group`]).

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use super::known::Stamp;
use super::manifest::{Entry, Kind};

/// The busybox `stat -c` format every helper lists a tree with: raw mode (hex), size, uid, gid,
/// mtime, ctime, device, inode, links, device major and minor (hex). [`Stat::parse`] reads it.
pub const FORMAT: &str = stat_format!();

/// What `lstat` says of one path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// The raw mode: type and permission bits.
    pub mode: u32,
    /// Size in bytes (a symlink's: its target's length).
    pub size: u64,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// mtime, seconds.
    pub mtime: i64,
    /// mtime's nanoseconds, where read (the host; busybox `stat -c` gives seconds only).
    pub mtime_nsec: Option<u32>,
    /// ctime, seconds.
    pub ctime: i64,
    /// The device the entry is on.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Hard links.
    pub links: u64,
    /// A device file's major number.
    pub major: u32,
    /// A device file's minor number.
    pub minor: u32,
}

/// The one decoder of a raw mode's type (`None` for a socket, which archives leave out).
pub fn kind_of(mode: u32) -> Option<Kind> {
    Some(match mode & 0o170_000 {
        0o100_000 => Kind::File,
        0o040_000 => Kind::Dir,
        0o120_000 => Kind::Symlink,
        0o010_000 => Kind::Fifo,
        0o020_000 => Kind::CharDevice,
        0o060_000 => Kind::BlockDevice,
        _ => return None,
    })
}

impl Stat {
    /// The host's `lstat` of one path.
    pub fn of(meta: &Metadata) -> Stat {
        let rdev = meta.rdev();
        Stat {
            mode: meta.mode(),
            size: meta.size(),
            uid: u64::from(meta.uid()),
            gid: u64::from(meta.gid()),
            mtime: meta.mtime(),
            mtime_nsec: u32::try_from(meta.mtime_nsec()).ok(),
            ctime: meta.ctime(),
            dev: meta.dev(),
            ino: meta.ino(),
            links: meta.nlink(),
            major: u32::try_from(nix::sys::stat::major(rdev)).unwrap_or(u32::MAX),
            minor: u32::try_from(nix::sys::stat::minor(rdev)).unwrap_or(u32::MAX),
        }
    }

    /// One line of busybox `stat -c` [`FORMAT`].
    pub fn parse(line: &str) -> Option<Stat> {
        let mut f = line.split(' ');
        let mut next = || f.next();
        let stat = Stat {
            mode: u32::from_str_radix(next()?, 16).ok()?,
            size: next()?.parse().ok()?,
            uid: next()?.parse().ok()?,
            gid: next()?.parse().ok()?,
            mtime: next()?.parse().ok()?,
            mtime_nsec: None,
            ctime: next()?.parse().ok()?,
            dev: next()?.parse().ok()?,
            ino: next()?.parse().ok()?,
            links: next()?.parse().ok()?,
            major: u32::from_str_radix(next()?, 16).ok()?,
            minor: u32::from_str_radix(next()?, 16).ok()?,
        };
        next().is_none().then_some(stat)
    }

    /// Its type ([`kind_of`]).
    pub fn kind(&self) -> Option<Kind> {
        kind_of(self.mode)
    }

    /// The permission bits (`0o7777`).
    pub fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }

    /// The type bits of the mode (`0o170000`): what tells two types apart, sockets included.
    pub fn file_type(&self) -> u32 {
        self.mode & 0o170_000
    }

    /// `(device, inode)` of an entry other than a directory with more than one link: what a
    /// hardlink group is formed by.
    pub fn linked_inode(&self) -> Option<(u64, u64)> {
        (self.kind() != Some(Kind::Dir) && self.links > 1).then_some((self.dev, self.ino))
    }

    /// The manifest entry of this path, `link` its symlink target (`None` for a socket).
    pub fn entry(&self, link: Option<String>) -> Option<Entry> {
        let kind = self.kind()?;
        Some(Entry {
            kind,
            size: if kind == Kind::File { self.size } else { 0 },
            uid: self.uid,
            gid: self.gid,
            mode: self.permissions(),
            mtime: Some(u64::try_from(self.mtime).unwrap_or(0)),
            mtime_nsec: self.mtime_nsec,
            link: if kind == Kind::Symlink {
                link.map(String::into_boxed_str)
            } else {
                None
            },
            device: matches!(kind, Kind::CharDevice | Kind::BlockDevice)
                .then_some((self.major, self.minor)),
            hardlink_group: None,
            hash: None,
            xattrs: None,
        })
    }
}

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
    Stat::of(meta).entry(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stat_line_decodes_every_field_and_the_type() {
        let s = Stat::parse("21b6 0 0 5 1600000005 1600000006 48 7 1 1 3").expect("line");
        assert_eq!(
            (
                s.kind(),
                s.permissions(),
                s.gid,
                s.ctime,
                s.ino,
                s.major,
                s.minor
            ),
            (Some(Kind::CharDevice), 0o666, 5, 1_600_000_006, 7, 1, 3)
        );
        let entry = s.entry(None).expect("a device is an entry");
        assert_eq!(entry.device, Some((1, 3)));
        assert_eq!(Stat::parse("81a4 5 0 0 1 1 1 1 1 0"), None, "a field short");
        assert_eq!(
            Stat::parse("81a4 5 0 0 1 1 1 1 1 0 0 9"),
            None,
            "a field more"
        );
        // a socket is no entry; its type still tells it apart
        let socket = Stat::parse("c1ed 0 0 0 1 1 1 6 1 0 0").expect("line");
        assert_eq!((socket.kind(), socket.file_type()), (None, 0o140_000));
        assert_eq!(socket.entry(None), None);
        let file = Stat::parse("81a4 5 0 0 1 1 1 6 2 0 0").expect("line");
        assert_eq!(file.linked_inode(), Some((1, 6)));
        assert_eq!(file.entry(Some("x".into())).expect("file").link, None);
    }

    #[test]
    fn the_host_stat_is_the_same_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("f");
        std::fs::write(&path, "12345").expect("file");
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        let s = Stat::of(&meta);
        assert_eq!((s.kind(), s.size, s.links), (Some(Kind::File), 5, 1));
        assert_eq!(s.ino, meta.ino());
        assert_eq!(entry(&meta, None), s.entry(None));
    }
}
