//! A manifest of a directory tree (every path with its type, size, owner, mode, mtime, symlink
//! target, hardlink group, extended attributes and a digest of its content) read from a tar
//! stream, and the pure comparison of two manifests.
//!
//! The stream is the engine's archive of a path (`GET /containers/{id}/archive`), so the same
//! code reads a named volume, a host directory and a directory inside a VM. Paths are relative to
//! the archived directory (its own entry is `.`). The same manifest is read on the host
//! ([`host`](super::host)) and from a helper container's listing
//! ([`helper`](super::helper)); two manifests compare only when they
//! use the same [`Digest`].

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

pub use super::content_hash::ContentHash;
use super::name;

/// How file content is hashed. BLAKE3 where tierctl reads the bytes itself (the host, an archive
/// stream); SHA-256 where a helper container hashes a tree where it lives (busybox `sha256sum`),
/// and then on the other side of that comparison too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Digest {
    /// BLAKE3 (the default; manifests journaled before the field existed are BLAKE3).
    #[default]
    Blake3,
    /// SHA-256.
    Sha256,
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Digest::Blake3 => "blake3",
            Digest::Sha256 => "sha256",
        })
    }
}

impl Digest {
    /// A hasher of this kind.
    pub fn hasher(self) -> Hasher {
        match self {
            Digest::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
            Digest::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }
}

/// A running content digest ([`Digest::hasher`]); written to with [`io::Write`].
pub enum Hasher {
    /// BLAKE3.
    Blake3(Box<blake3::Hasher>),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl Hasher {
    /// Add bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    /// The digest.
    pub fn finish(self) -> ContentHash {
        match self {
            Hasher::Blake3(h) => ContentHash::Bytes(*h.finalize().as_bytes()),
            Hasher::Sha256(h) => ContentHash::Bytes(h.finalize().into()),
        }
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The type of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::File => "file",
            Kind::Dir => "directory",
            Kind::Symlink => "symlink",
            Kind::Fifo => "fifo",
            Kind::CharDevice => "char-device",
            Kind::BlockDevice => "block-device",
        })
    }
}

/// One path of a tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its type.
    pub kind: Kind,
    /// Size in bytes (files only; 0 otherwise).
    pub size: u64,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Modification time in whole seconds. A symlink's: `None` in manifests journaled before
    /// symlink times were recorded (compared only where both sides have one, [`Rules`]).
    pub mtime: Option<u64>,
    /// The nanoseconds of the modification time, where the tree was read with them (on the
    /// host; a helper's busybox `stat` and the engine's archive give whole seconds, and
    /// manifests journaled before they were recorded have none): compared only where both sides
    /// have them and the copy keeps them ([`Rules::host_kept`]: a helper's busybox `cp -a` sets
    /// whole seconds), so a copy that kept the second but lost the rest is caught.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_nsec: Option<u32>,
    /// A symlink's target, as written.
    pub link: Option<Box<str>>,
    /// A device's `major:minor`.
    pub device: Option<(u32, u32)>,
    /// The smallest path of this entry's hardlink group (`None` when it has one link).
    pub hardlink_group: Option<Box<str>>,
    /// The content's digest (files only; which digest: [`Manifest::digest`]), journaled as hex.
    pub hash: Option<ContentHash>,
    /// The extended attributes (POSIX ACLs are `system.posix_acl_*` among them): each name
    /// ([`name::encode`]d) with the BLAKE3 digest of its value, hex ([`xattr_digest`]). `None`:
    /// not read (a helper's busybox cannot, nor the archive reader; a filesystem without
    /// extended attributes; a manifest journaled before they were recorded), and then not
    /// compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xattrs: Option<Box<BTreeMap<String, String>>>,
}

/// The digest an [`Entry`] keeps of an extended attribute's value: BLAKE3, hex, whichever
/// [`Digest`] hashes the content (only trees read on the host have extended attributes).
pub fn xattr_digest(value: &[u8]) -> String {
    blake3::hash(value).to_hex().to_string()
}

/// A whole tree: path -> entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Entries by path relative to the root (`.` is the root).
    pub entries: BTreeMap<String, Entry>,
    /// How the entries' content was hashed.
    #[serde(default)]
    pub digest: Digest,
}

impl Manifest {
    /// Bytes of file content, each hardlink group counted once.
    pub fn bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|(path, e)| {
                e.hardlink_group
                    .as_deref()
                    .is_none_or(|g| g == path.as_str())
            })
            .map(|(_, e)| e.size)
            .sum()
    }

    /// Number of entries, the root included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree has no entries at all (not even its root).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Read a manifest from a tar stream whose first path component is the archived directory's
/// name (as the engine's archive endpoint writes it), content hashed with `digest`. `hashed`
/// grows by every content byte read.
pub fn from_tar(reader: impl Read, digest: Digest, hashed: &AtomicU64) -> io::Result<Manifest> {
    let mut archive = tar::Archive::new(reader);
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    // hardlink path -> the path it links to
    let mut links: Vec<(String, String)> = Vec::new();
    for item in archive.entries()? {
        let mut item = item?;
        let raw = name::encode(&item.path_bytes());
        let path = relative(&raw);
        let kind = match tar_kind(item.header().entry_type(), &raw)? {
            Some(kind) => kind,
            None => {
                let target = item
                    .link_name_bytes()
                    .map(|p| relative(&name::encode(&p)))
                    .unwrap_or_default();
                links.push((path, target));
                continue;
            }
        };
        let entry = tar_entry(&mut item, kind, digest, hashed)?;
        entries.insert(path, entry);
    }
    group_hardlinks(&mut entries, links)?;
    Ok(Manifest { entries, digest })
}

/// The kind of a tar entry; `None` for a hardlink (its group is formed afterwards).
fn tar_kind(kind: tar::EntryType, raw: &str) -> io::Result<Option<Kind>> {
    Ok(Some(match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => Kind::File,
        tar::EntryType::Directory => Kind::Dir,
        tar::EntryType::Symlink => Kind::Symlink,
        tar::EntryType::Fifo => Kind::Fifo,
        tar::EntryType::Char => Kind::CharDevice,
        tar::EntryType::Block => Kind::BlockDevice,
        tar::EntryType::Link => return Ok(None),
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "unexpected tar entry type {other:?} at `{}`",
                    name::shown(raw)
                ),
            ));
        }
    }))
}

/// The entry of one tar item of `kind`, a file's content hashed with `digest`.
fn tar_entry<R: Read>(
    item: &mut tar::Entry<'_, R>,
    kind: Kind,
    digest: Digest,
    hashed: &AtomicU64,
) -> io::Result<Entry> {
    let header = item.header();
    let (uid, gid, mode, mtime) = (
        header.uid()?,
        header.gid()?,
        header.mode()? & 0o7777,
        header.mtime()?,
    );
    let device = match kind {
        Kind::CharDevice | Kind::BlockDevice => Some((
            header.device_major()?.unwrap_or(0),
            header.device_minor()?.unwrap_or(0),
        )),
        _ => None,
    };
    let link = match kind {
        Kind::Symlink => item.link_name_bytes().map(|p| name::encode(&p)),
        _ => None,
    };
    let (size, hash) = if kind == Kind::File {
        let mut hasher = digest.hasher();
        let mut counted = Counted {
            inner: item,
            count: hashed,
        };
        let size = io::copy(&mut counted, &mut hasher)?;
        (size, Some(hasher.finish()))
    } else {
        (0, None)
    };
    Ok(Entry {
        kind,
        size,
        uid,
        gid,
        mode,
        mtime: Some(mtime),
        // the engine's archive truncates times to the second
        mtime_nsec: None,
        link: link.map(String::into_boxed_str),
        device,
        hardlink_group: None,
        hash,
        xattrs: None,
    })
}

/// `from/a/b` -> `a/b`; `from/` and `from` -> `.`.
fn relative(raw: &str) -> String {
    let trimmed = raw.trim_start_matches("./").trim_end_matches('/');
    match trimmed.split_once('/') {
        Some((_, rest)) if !rest.is_empty() => rest.to_owned(),
        _ => ".".to_owned(),
    }
}

/// Give every member of a hardlink group the first member's content and the group's smallest
/// path as its group name.
fn group_hardlinks(
    entries: &mut BTreeMap<String, Entry>,
    links: Vec<(String, String)>,
) -> io::Result<()> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, target) in links {
        let Some(first) = entries.get(&target).cloned() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "hardlink `{}` points at `{}`, which is not in the archive",
                    name::shown(&path),
                    name::shown(&target)
                ),
            ));
        };
        entries.insert(path.clone(), first);
        groups.entry(target).or_default().push(path);
    }
    for (first, mut members) in groups {
        members.push(first);
        let name = members.iter().min().cloned().unwrap_or_default();
        for member in members {
            if let Some(entry) = entries.get_mut(&member) {
                entry.hardlink_group = Some(name.as_str().into());
            }
        }
    }
    Ok(())
}

struct Counted<'a, R> {
    inner: R,
    count: &'a AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One way two trees differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "difference", rename_all = "kebab-case")]
pub enum Difference {
    /// In the source, not in the copy.
    Missing {
        /// The path.
        path: String,
    },
    /// In the copy, not in the source.
    Extra {
        /// The path.
        path: String,
    },
    /// In both, with a field that differs.
    Changed {
        /// The path.
        path: String,
        /// The field (`type`, `size`, `uid`, `gid`, `mode`, `mtime`, `symlink`, `device`,
        /// `hardlinks`, `content`, `xattr`: an extended attribute missing, extra or with another
        /// value, each side `NAME DIGEST`, `NAME -` where it has none).
        field: &'static str,
        /// The source's value.
        source: String,
        /// The copy's value.
        copy: String,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Missing { path } => {
                write!(f, "`{}` missing in the copy", name::shown(path))
            }
            Difference::Extra { path } => write!(f, "`{}` only in the copy", name::shown(path)),
            Difference::Changed {
                path,
                field,
                source,
                copy,
            } => write!(
                f,
                "`{}` {field}: source {}, copy {}",
                name::shown(path),
                name::shown(source),
                name::shown(copy)
            ),
        }
    }
}

/// Which fields are compared. `root_owner` and `root_mode` compare the root directory's owner
/// and mode too (a copy into an existing tier directory may keep the directory's own).
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// Compare the root directory's owner and mode.
    pub root_attributes: bool,
    /// Compare directory mtimes (a copy tool may not keep them).
    pub dir_mtimes: bool,
    /// Compare what only a copy on the host keeps ([`crate::migrate::host_apply`]): extended
    /// attributes (where both sides were read with them), symlink mtimes (where both sides
    /// record one) and the nanoseconds of times (where both sides were read with them). A helper's busybox `cp -a` keeps neither; preflight names that loss first.
    pub host_kept: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            root_attributes: true,
            dir_mtimes: true,
            host_kept: true,
        }
    }
}

impl Rules {
    /// The rules of a copy and its source: everything, and what only the host keeps when the
    /// copy ran on the host (`on_host`).
    pub fn copy(on_host: bool) -> Rules {
        Rules {
            host_kept: on_host,
            ..Rules::default()
        }
    }
}

/// Every difference between `source` and `copy`, in path order.
pub fn compare(source: &Manifest, copy: &Manifest, rules: Rules) -> Vec<Difference> {
    let mut out = Vec::new();
    for (path, a) in &source.entries {
        match copy.entries.get(path) {
            Some(b) => compare_entry(path, a, b, rules, &mut out),
            None => out.push(Difference::Missing { path: path.clone() }),
        }
    }
    for path in copy.entries.keys() {
        if !source.entries.contains_key(path) {
            out.push(Difference::Extra { path: path.clone() });
        }
    }
    out
}

/// The fields of one path that differ between the source's entry `a` and the copy's `b`.
fn compare_entry(path: &str, a: &Entry, b: &Entry, rules: Rules, out: &mut Vec<Difference>) {
    {
        let mut field = |name: &'static str, x: String, y: String| {
            if x != y {
                out.push(Difference::Changed {
                    path: path.to_owned(),
                    field: name,
                    source: x,
                    copy: y,
                });
            }
        };
        field("type", a.kind.to_string(), b.kind.to_string());
        if a.kind != b.kind {
            return;
        }
        let root = path == ".";
        if !root || rules.root_attributes {
            field("uid", a.uid.to_string(), b.uid.to_string());
            field("gid", a.gid.to_string(), b.gid.to_string());
            field("mode", format!("{:04o}", a.mode), format!("{:04o}", b.mode));
        }
        field("size", a.size.to_string(), b.size.to_string());
        let mtimes = match a.kind {
            Kind::Dir => rules.dir_mtimes && !root,
            // journaled before symlink times were recorded, or a copy that cannot keep them
            Kind::Symlink => rules.host_kept && a.mtime.is_some() && b.mtime.is_some(),
            _ => true,
        };
        if mtimes {
            match (a.mtime_nsec, b.mtime_nsec) {
                // both read with nanoseconds, and a copy that keeps them: compare them too
                (Some(x), Some(y)) if rules.host_kept => field(
                    "mtime",
                    format!("{}.{x:09}", show(&a.mtime)),
                    format!("{}.{y:09}", show(&b.mtime)),
                ),
                _ => field("mtime", show(&a.mtime), show(&b.mtime)),
            }
        }
        field("symlink", show(&a.link), show(&b.link));
        field(
            "device",
            show(&a.device.map(|(x, y)| format!("{x}:{y}"))),
            show(&b.device.map(|(x, y)| format!("{x}:{y}"))),
        );
        field(
            "hardlinks",
            show(&a.hardlink_group),
            show(&b.hardlink_group),
        );
        field("content", show(&a.hash), show(&b.hash));
        if let (true, Some(x), Some(y)) = (rules.host_kept, &a.xattrs, &b.xattrs) {
            for name in x.keys().chain(y.keys().filter(|n| !x.contains_key(*n))) {
                let value = |set: &BTreeMap<String, String>| match set.get(name) {
                    Some(digest) => format!("{name} {digest}"),
                    None => format!("{name} -"),
                };
                field("xattr", value(x), value(y));
            }
        }
    }
}

fn show<T: fmt::Display>(value: &Option<T>) -> String {
    match value {
        Some(v) => v.to_string(),
        None => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests;
