//! A [`Manifest`] read straight from a host directory: walked with `symlink_metadata` (no
//! symlink is ever followed), every file hashed with BLAKE3 in parallel.
//!
//! It records exactly what [`manifest::from_tar`](crate::migrate::manifest::from_tar) records from the
//! engine's archive stream, with the same path normalisation, so the two kinds of manifest of
//! one tree compare equal: sockets are left out (the engine's archive leaves them out too), a
//! hardlink group is only a group when two of its paths lie inside the tree, symlinks carry no
//! mtime.
//!
//! [`read`] is the one function with effects on the host; [`copy_manifests`] chooses, per side of
//! a copy, between it and the engine's archive stream; [`group`] is pure.
//!
//! [`read_known`] is [`read`] that also returns what it [`Known`]: the hash of every file whose
//! [`Stamp`] (device, inode, size, mtime, ctime to the nanosecond) was already older than the
//! read by [`RACY_MARGIN_NS`], and, given such a `Known` of an earlier read, takes a file's hash
//! from it instead of reading the file when its stamp is still the same. The argument: any
//! write, truncate, rename, link, chmod or chown of an inode sets its ctime to the kernel's
//! clock, which userspace cannot set back; a stamp whose ctime was older than the start of the
//! earlier read by more than the clock's granularity, and which is unchanged now, proves that
//! nothing changed the inode since that read began, so the content it hashed is the content now.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::EngineError;
use crate::engine::{HelperSpec, Helpers, MountSource};
use crate::migrate::copy::{self, CopyJob};
use crate::migrate::manifest::{self, Entry, Kind, Manifest};

/// How one side of a copy was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "read", content = "path", rename_all = "kebab-case")]
pub enum Way {
    /// On the host, at this path.
    Host(PathBuf),
    /// Through the engine's archive stream (a VM or remote engine, or a path the host cannot
    /// read).
    Archive,
}

impl std::fmt::Display for Way {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Way::Host(path) => write!(f, "on the host at `{}`", path.display()),
            Way::Archive => f.write_str("through the engine's archive stream"),
        }
    }
}

/// Why the manifests of a copy could not be read.
#[derive(Debug, Error)]
pub enum TreeError {
    /// The host walk failed for a reason other than permissions.
    #[error("cannot read `{}` on the host: {source}", path.display())]
    Host {
        /// The tree's root.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The manifests of a copy's source and target, in that order, each with how it was read: on
/// the host where the engine says the host sees the tree as it does ([`Helpers::host_path`]),
/// else through the archive stream of `spec` (the never-started verify helper that mounts the
/// source at [`copy::FROM`] and the target at [`copy::TO`]). A host read refused for
/// permissions falls back to the archive stream. `hashed` grows by every content byte read.
pub fn copy_manifests(
    engine: &dyn Helpers,
    job: &CopyJob,
    spec: &HelperSpec,
    hashed: &AtomicU64,
) -> Result<(Vec<Manifest>, [Way; 2]), TreeError> {
    let none = [Known::default(), Known::default()];
    copy_manifests_known(engine, job, spec, hashed, &none).map(|(trees, ways, _)| (trees, ways))
}

/// Both manifests of a copy, how each side was read, and what each side knows now.
pub type KnownTrees = (Vec<Manifest>, [Way; 2], [Known; 2]);

/// The manifests of both trees of a copy, as [`copy_manifests`]: and, per side, what
/// [`read_known`] knew and now knows. A side read through the archive stream hashes every file
/// and knows nothing (its stamps are not in the stream).
pub fn copy_manifests_known(
    engine: &dyn Helpers,
    job: &CopyJob,
    spec: &HelperSpec,
    hashed: &AtomicU64,
    known: &[Known; 2],
) -> Result<KnownTrees, TreeError> {
    let paths = [
        engine.host_path(&job.source)?,
        engine.host_path(&MountSource::Bind(job.target.clone()))?,
    ];
    let host: Vec<Option<io::Result<(Manifest, Known)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .zip(known)
            .map(|(p, k)| {
                p.as_ref()
                    .map(|p| scope.spawn(move || read_known(p, hashed, k)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("the host reader panicked")))
                })
            })
            .collect()
    });
    let mut out: [Option<Manifest>; 2] = [None, None];
    let mut ways = [Way::Archive, Way::Archive];
    let mut knows = [Known::default(), Known::default()];
    for (index, (result, path)) in host.into_iter().zip(&paths).enumerate() {
        match (result, path) {
            (Some(Ok((m, k))), Some(path)) => {
                out[index] = Some(m);
                knows[index] = k;
                ways[index] = Way::Host(path.clone());
            }
            (Some(Err(e)), _) if e.kind() == io::ErrorKind::PermissionDenied => {}
            (Some(Err(source)), Some(path)) => {
                return Err(TreeError::Host {
                    path: path.clone(),
                    source,
                });
            }
            _ => {}
        }
    }
    let missing = archive_paths(&ways);
    if !missing.is_empty() {
        let mut read = archive_manifests(engine, spec, &missing, hashed)?.into_iter();
        for (slot, way) in out.iter_mut().zip(&ways) {
            if *way == Way::Archive {
                *slot = read.next();
            }
        }
    }
    let [Some(source), Some(target)] = out else {
        return Err(TreeError::Engine(EngineError::Api {
            context: String::new(),
            action: "read archive".into(),
            message: "the engine returned fewer manifests than asked for".into(),
        }));
    };
    Ok((vec![source, target], ways, knows))
}

/// The manifests of `paths` inside the (never started) helper `spec`, read from the engine's
/// archive streams, all at once; `hashed` grows by content bytes read.
pub fn archive_manifests(
    engine: &dyn Helpers,
    spec: &HelperSpec,
    paths: &[&str],
    hashed: &AtomicU64,
) -> Result<Vec<Manifest>, EngineError> {
    let slots: Vec<Mutex<Option<Manifest>>> = paths.iter().map(|_| Mutex::new(None)).collect();
    engine.read_archives(spec, paths, &|index, tar| {
        let read = manifest::from_tar(tar, hashed)?;
        if let Some(slot) = slots.get(index) {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(read);
        }
        Ok(())
    })?;
    Ok(slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect())
}

/// The helper paths still to read through the archive stream, source first.
pub fn archive_paths(ways: &[Way; 2]) -> Vec<&'static str> {
    ways.iter()
        .zip([copy::FROM, copy::TO])
        .filter(|(way, _)| **way == Way::Archive)
        .map(|(_, path)| path)
        .collect()
}

/// Bytes read from a file at a time.
const BUFFER: usize = 1 << 20;

/// Files hashed at once: enough to keep an SSD's queue busy on a small machine.
fn readers() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .saturating_mul(2)
        .max(4)
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

/// Nanoseconds a ctime must be older than the start of a read for the read's hash of the file
/// to be [`Known`]: more than the coarsest timestamp granularity of the filesystems a tier
/// lives on (1 s; 2 s on FAT) and the lag of the kernel's coarse clock behind the real time.
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// What identifies a file's state: any change of its content or attributes moves its ctime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
}

impl Stamp {
    /// The stamp of a file's metadata.
    pub fn of(meta: &Metadata) -> Stamp {
        let ns = |secs: i64, nanos: i64| secs.saturating_mul(1_000_000_000).saturating_add(nanos);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether nothing can have changed the file since `started` (ns) without moving this
    /// stamp: its ctime is older than `started` by more than [`RACY_MARGIN_NS`].
    pub fn settled_before(&self, started: i64) -> bool {
        self.ctime_ns < started.saturating_sub(RACY_MARGIN_NS)
    }
}

/// A file's hash as a read found it, with its stamp then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownFile {
    /// The stamp when the file was walked (before it was hashed).
    pub stamp: Stamp,
    /// BLAKE3 of the content, hex.
    pub hash: String,
}

/// The hashes a read of a tree may hand to a later read of the same tree: only files settled
/// before the read began ([`Stamp::settled_before`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// When the read began, ns since the epoch (0: nothing known).
    pub started_ns: i64,
    /// By path relative to the root.
    pub files: BTreeMap<String, KnownFile>,
}

impl Known {
    /// The hash of `path` when its stamp is still the one known.
    pub fn hash_of(&self, path: &str, stamp: Option<&Stamp>) -> Option<&str> {
        let known = self.files.get(path)?;
        (Some(&known.stamp) == stamp).then_some(known.hash.as_str())
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Read a manifest of the directory `root` on the host. `hashed` grows by every content byte
/// read (each hardlinked inode once).
pub fn read(root: &Path, hashed: &AtomicU64) -> io::Result<Manifest> {
    read_known(root, hashed, &Known::default()).map(|(manifest, _)| manifest)
}

/// [`read`], taking the hash of a file whose stamp `known` holds unchanged from it instead of
/// reading the file; also returns what this read knows (see the module's text). `hashed` grows
/// by every content byte read.
pub fn read_known(root: &Path, hashed: &AtomicU64, known: &Known) -> io::Result<(Manifest, Known)> {
    let started_ns = now_ns();
    let meta = fs::symlink_metadata(root).map_err(|e| at(root, e))?;
    if !meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{}` is not a directory", root.display()),
        ));
    }
    let mut found = Vec::new();
    walk(root, ".", &meta, &mut found)?;
    let groups = group(&found);
    // one hash per inode: the smallest path of a group stands for it
    let owners: Vec<&Found> = found
        .iter()
        .filter(|f| f.entry.kind == Kind::File)
        .filter(|f| {
            f.inode
                .and_then(|key| groups.get(&key))
                .is_none_or(|first| first == &f.path)
        })
        .collect();
    let mut hashes: BTreeMap<&str, String> = BTreeMap::new();
    let mut jobs: Vec<(u64, &str)> = Vec::new();
    for f in &owners {
        match known.hash_of(&f.path, f.stamp.as_ref()) {
            Some(hash) => {
                hashes.insert(&f.path, hash.to_owned());
            }
            None => jobs.push((f.stamp.map_or(0, |s| s.ino), &f.path)),
        }
    }
    hashes.extend(hash_all(root, &mut jobs, hashed)?);
    let mut now = Known {
        started_ns,
        files: BTreeMap::new(),
    };
    for f in &owners {
        if let (Some(stamp), Some(hash)) = (f.stamp, hashes.get(f.path.as_str()))
            && stamp.settled_before(started_ns)
        {
            let hash = hash.clone();
            now.files.insert(f.path.clone(), KnownFile { stamp, hash });
        }
    }
    let mut entries = BTreeMap::new();
    for f in &found {
        let mut entry = f.entry.clone();
        let first = f.inode.and_then(|key| groups.get(&key));
        if entry.kind == Kind::File {
            let owner = first.map_or(f.path.as_str(), String::as_str);
            entry.hash = hashes.get(owner).cloned();
        }
        entry.hardlink_group = first.cloned();
        entries.insert(f.path.clone(), entry);
    }
    Ok((Manifest { entries }, now))
}

/// Hash the files `jobs` names (inode, path) in parallel, in inode order.
fn hash_all<'a>(
    root: &Path,
    jobs: &mut [(u64, &'a str)],
    hashed: &AtomicU64,
) -> io::Result<BTreeMap<&'a str, String>> {
    // inode order reads a freshly written tree roughly in disk order
    jobs.sort_unstable();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(readers())
        .build()
        .map_err(io::Error::other)?;
    pool.install(|| {
        jobs.par_iter()
            .map(|(_, path)| {
                let full = join(root, path);
                hash_file(&full, hashed)
                    .map(|h| (*path, h))
                    .map_err(|e| at(&full, e))
            })
            .collect::<io::Result<_>>()
    })
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

fn walk(dir: &Path, rel: &str, meta: &Metadata, out: &mut Vec<Found>) -> io::Result<()> {
    if let Some(entry) = entry(meta, None) {
        out.push(Found {
            path: rel.to_owned(),
            entry,
            inode: None,
            stamp: None,
        });
    }
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| at(dir, e))?
        .map(|d| d.map(|d| d.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|e| at(dir, e))?;
    names.sort();
    for name in names {
        let full = dir.join(&name);
        let name = name.to_string_lossy();
        let path = if rel == "." {
            name.into_owned()
        } else {
            format!("{rel}/{name}")
        };
        let meta = fs::symlink_metadata(&full).map_err(|e| at(&full, e))?;
        if meta.is_dir() {
            walk(&full, &path, &meta, out)?;
            continue;
        }
        let link = if meta.file_type().is_symlink() {
            Some(
                fs::read_link(&full)
                    .map_err(|e| at(&full, e))?
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            None
        };
        let Some(entry) = entry(&meta, link) else {
            continue;
        };
        let inode = (meta.nlink() > 1).then(|| (meta.dev(), meta.ino()));
        let stamp = meta.is_file().then(|| Stamp::of(&meta));
        out.push(Found {
            path,
            entry,
            inode,
            stamp,
        });
    }
    Ok(())
}

fn join(root: &Path, rel: &str) -> PathBuf {
    if rel == "." {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

fn hash_file(path: &Path, hashed: &AtomicU64) -> io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        hashed.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("`{}`: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn manifest(root: &Path) -> Manifest {
        read(root, &AtomicU64::new(0)).expect("readable tree")
    }

    #[test]
    fn reads_types_modes_links_hardlink_groups_and_hashes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::create_dir_all(root.join("pg/base")).expect("dirs");
        fs::write(root.join("pg/base/1"), "row one\n").expect("file");
        fs::hard_link(root.join("pg/base/1"), root.join("pg/base/0.link")).expect("hardlink");
        std::os::unix::fs::symlink("base/1", root.join("pg/current")).expect("symlink");
        nix::unistd::mkfifo(
            &root.join("pg/fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o640),
        )
        .expect("fifo");
        fs::set_permissions(root.join("pg"), fs::Permissions::from_mode(0o700)).expect("chmod");
        let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).expect("socket");

        let hashed = AtomicU64::new(0);
        let m = read(root, &hashed).expect("readable tree");
        assert_eq!(
            m.entries.keys().collect::<Vec<_>>(),
            [
                ".",
                "pg",
                "pg/base",
                "pg/base/0.link",
                "pg/base/1",
                "pg/current",
                "pg/fifo"
            ]
        );
        // the hardlinked inode is hashed once
        assert_eq!(hashed.load(Ordering::Relaxed), 8);
        let one = &m.entries["pg/base/1"];
        assert_eq!(
            (one.kind, one.size, one.mode),
            (Kind::File, 8, 0o644 & !umask())
        );
        assert_eq!(
            one.hash.as_deref(),
            Some(blake3::hash(b"row one\n").to_hex().as_str())
        );
        assert_eq!(one.hardlink_group.as_deref(), Some("pg/base/0.link"));
        assert_eq!(m.entries["pg/base/0.link"], *one);
        let link = &m.entries["pg/current"];
        assert_eq!(
            (link.kind, link.link.as_deref(), link.mtime),
            (Kind::Symlink, Some("base/1"), None)
        );
        assert_eq!(m.entries["pg/fifo"].kind, Kind::Fifo);
        assert_eq!(m.entries["pg"].mode, 0o700);
        assert_eq!(
            (m.entries["pg"].size, m.entries["pg"].hash.as_deref()),
            (0, None)
        );
        assert_eq!(m.bytes(), 8);
    }

    fn umask() -> u32 {
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        nix::sys::stat::umask(old);
        old.bits()
    }

    #[test]
    fn a_symlinked_directory_is_not_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let outside = tempfile::tempdir().expect("temp dir");
        fs::write(outside.path().join("secret"), "x").expect("file");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).expect("symlink");
        let m = manifest(dir.path());
        assert_eq!(m.entries.keys().collect::<Vec<_>>(), [".", "out"]);
        assert_eq!(m.entries["out"].kind, Kind::Symlink);
    }

    #[test]
    fn the_same_content_in_two_trees_compares_equal_and_a_flipped_byte_does_not() {
        let a = tempfile::tempdir().expect("temp dir");
        let b = tempfile::tempdir().expect("temp dir");
        for root in [a.path(), b.path()] {
            fs::create_dir(root.join("d")).expect("dir");
            fs::write(root.join("d/f"), vec![7u8; 3 * BUFFER + 5]).expect("file");
            let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
            fs::File::options()
                .write(true)
                .open(root.join("d/f"))
                .expect("open")
                .set_modified(mtime)
                .expect("mtime");
            fs::File::open(root.join("d"))
                .expect("open dir")
                .set_modified(mtime)
                .expect("dir mtime");
        }
        let rules = crate::migrate::manifest::Rules {
            root_attributes: false,
            dir_mtimes: true,
        };
        let (ma, mb) = (manifest(a.path()), manifest(b.path()));
        assert_eq!(crate::migrate::manifest::compare(&ma, &mb, rules), vec![]);
        let mut bytes = fs::read(b.path().join("d/f")).expect("read");
        bytes[BUFFER + 1] ^= 1;
        fs::write(b.path().join("d/f"), bytes).expect("flip");
        let fields: Vec<&str> = crate::migrate::manifest::compare(&ma, &manifest(b.path()), rules)
            .into_iter()
            .filter_map(|d| match d {
                crate::migrate::manifest::Difference::Changed { field, .. } => Some(field),
                _ => None,
            })
            .collect();
        assert!(fields.contains(&"content"), "{fields:?}");
    }

    #[test]
    fn a_group_needs_two_paths_inside_the_tree() {
        let file = |path: &str, inode| Found {
            path: path.into(),
            entry: entry(&fs::symlink_metadata(".").expect("cwd"), None)
                .expect("a directory is an entry"),
            inode,
            stamp: None,
        };
        let found = [
            file("b", Some((1, 10))),
            file("a", Some((1, 10))),
            file("lonely", Some((1, 11))),
            file("plain", None),
        ];
        assert_eq!(group(&found), BTreeMap::from([((1, 10), "a".to_owned())]));
    }

    #[test]
    fn only_the_sides_not_read_on_the_host_go_through_the_archive() {
        let host = Way::Host("/t".into());
        assert_eq!(
            archive_paths(&[Way::Archive, Way::Archive]),
            ["/from", "/to"]
        );
        assert_eq!(archive_paths(&[Way::Archive, host.clone()]), ["/from"]);
        assert_eq!(archive_paths(&[host.clone(), Way::Archive]), ["/to"]);
        assert!(archive_paths(&[host.clone(), host]).is_empty());
    }

    #[test]
    fn a_known_hash_stands_for_a_file_only_while_its_stamp_is_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::write(root.join("kept"), "old content\n").expect("file");
        fs::write(root.join("changed"), "abc\n").expect("file");
        let stamp = |name: &str| Stamp::of(&fs::symlink_metadata(root.join(name)).expect("stat"));
        let claimed = |name: &str| KnownFile {
            stamp: stamp(name),
            hash: format!("hash-known-for-{name}"),
        };
        let known = Known {
            started_ns: 1,
            files: BTreeMap::from([
                ("kept".to_owned(), claimed("kept")),
                ("changed".to_owned(), claimed("changed")),
            ]),
        };
        // same size, same mtime, other bytes: only the ctime (and so the stamp) moves
        let mtime = fs::symlink_metadata(root.join("changed"))
            .expect("stat")
            .modified()
            .expect("mtime");
        fs::write(root.join("changed"), "xyz\n").expect("rewrite");
        fs::File::options()
            .write(true)
            .open(root.join("changed"))
            .expect("open")
            .set_modified(mtime)
            .expect("mtime back");
        let hashed = AtomicU64::new(0);
        let (m, now) = read_known(root, &hashed, &known).expect("readable tree");
        // the unchanged file is not read: its known hash stands for it
        assert_eq!(
            m.entries["kept"].hash.as_deref(),
            Some("hash-known-for-kept")
        );
        assert_eq!(
            m.entries["changed"].hash.as_deref(),
            Some(blake3::hash(b"xyz\n").to_hex().as_str())
        );
        assert_eq!(hashed.load(Ordering::Relaxed), 4);
        // written within the margin before this read: not known to the next read
        assert!(now.files.is_empty(), "{now:?}");
        assert!(now.started_ns > 0);
    }

    #[test]
    fn a_stamp_is_settled_only_when_older_than_the_read_by_the_margin() {
        let stamp = Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 0,
            ctime_ns: 10_000_000_000,
        };
        assert!(stamp.settled_before(10_000_000_000 + RACY_MARGIN_NS + 1));
        assert!(!stamp.settled_before(10_000_000_000 + RACY_MARGIN_NS));
        assert!(!stamp.settled_before(10_000_000_000));
        let known = Known {
            started_ns: 1,
            files: BTreeMap::from([(
                "a".to_owned(),
                KnownFile {
                    stamp,
                    hash: "h".into(),
                },
            )]),
        };
        assert_eq!(known.hash_of("a", Some(&stamp)), Some("h"));
        let moved = Stamp {
            ctime_ns: stamp.ctime_ns + 1,
            ..stamp
        };
        assert_eq!(known.hash_of("a", Some(&moved)), None);
        assert_eq!(known.hash_of("b", Some(&stamp)), None);
        assert_eq!(known.hash_of("a", None), None);
    }

    #[test]
    fn a_missing_root_names_it() {
        let err =
            read(Path::new("/nonexistent/tierctl-tree"), &AtomicU64::new(0)).expect_err("missing");
        assert!(
            err.to_string().contains("`/nonexistent/tierctl-tree`"),
            "{err}"
        );
    }
}
