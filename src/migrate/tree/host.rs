//! A [`Manifest`] read straight from a host directory: walked with `symlink_metadata` (no
//! symlink is ever followed), every file hashed in parallel.
//!
//! It records exactly what [`super::manifest::from_tar`] records from the engine's archive stream
//! and [`super::helper`] from a helper container's listing, with the same path normalisation, so
//! the manifests of one tree compare equal whichever way they were read: sockets are left out
//! (the engine's archive leaves them out too), a hardlink group is only a group when two of its
//! paths lie inside the tree. It also records what only the host reads: every entry's extended
//! attributes ([`super::xattrs`]).
//!
//! [`read_known`] is [`read`] that also returns what it [`Known`] (see [`super::known`]).
//!
//! A copy is read from the disk, not from the page cache ([`ReadFrom::Medium`]): each file's
//! dirty pages written out (`fdatasync`) and its cached pages dropped
//! (`posix_fadvise(POSIX_FADV_DONTNEED)`) before it is hashed, and dropped again after, so the
//! hash is of what the medium holds (a copy tool that wrote zeroes under the cache, as coreutils
//! `cp` once did on ZFS, openzfs/zfs#15526, is caught only so).

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::known::{HandOn, Known, KnownFile, Stamp, now_ns};
use super::manifest::{ContentHash, Digest, Entry, Kind, Manifest};
use super::name;
use super::stat::{Found, entry, group};
use super::xattrs;

/// Bytes read from a file at a time.
const BUFFER: usize = 1 << 20;

/// Files hashed (or copied, [`super::host_apply`]) at once: enough to keep an SSD's queue busy
/// on a small machine.
pub fn readers() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .saturating_mul(2)
        .max(4)
}

/// Where a file's content is read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadFrom {
    /// Wherever the kernel has it: its page cache when the file is cached (a source, trusted as
    /// it is, or a tree compared with what a user may have written since).
    #[default]
    Cache,
    /// The disk: each file synced (`fdatasync`) and its cached pages dropped
    /// (`posix_fadvise(POSIX_FADV_DONTNEED)`) before it is read, dropped again after (a copy,
    /// proven on the medium, not in memory). On a filesystem without a page cache of its own
    /// (tmpfs) this is the same as [`ReadFrom::Cache`].
    Medium,
}

/// Read a manifest of the directory `root` on the host, content hashed with `digest`. `hashed`
/// grows by every content byte read (each hardlinked inode once).
pub fn read(root: &Path, digest: Digest, hashed: &AtomicU64) -> io::Result<Manifest> {
    let none = Known::default();
    read_using(
        root,
        digest,
        hashed,
        &none,
        ReadFrom::Cache,
        HandOn::Nothing,
    )
    .map(|(m, _)| m)
}

/// [`read`] from the disk ([`ReadFrom::Medium`]): a copy's manifest.
pub fn read_from_medium(root: &Path, digest: Digest, hashed: &AtomicU64) -> io::Result<Manifest> {
    let none = Known::default();
    read_using(
        root,
        digest,
        hashed,
        &none,
        ReadFrom::Medium,
        HandOn::Nothing,
    )
    .map(|(m, _)| m)
}

/// [`read`], taking the hash of a file whose stamp `known` holds unchanged from it instead of
/// reading the file (only when `known` was hashed with the same `digest`); also returns what
/// this read knows (see the module's text). `hashed` grows by every content byte read.
pub fn read_known(
    root: &Path,
    digest: Digest,
    hashed: &AtomicU64,
    known: &Known,
) -> io::Result<(Manifest, Known)> {
    read_known_from(root, digest, hashed, known, ReadFrom::Cache)
}

/// [`read_known`], each file's content read `from` the cache or the disk.
pub fn read_known_from(
    root: &Path,
    digest: Digest,
    hashed: &AtomicU64,
    known: &Known,
    from: ReadFrom,
) -> io::Result<(Manifest, Known)> {
    read_using(root, digest, hashed, known, from, HandOn::Known)
}

/// [`read_known_from`], handing on what this read knows only when asked (`hand_on`; else the
/// [`Known`] returned is empty).
pub fn read_using(
    root: &Path,
    digest: Digest,
    hashed: &AtomicU64,
    known: &Known,
    from: ReadFrom,
    hand_on: HandOn,
) -> io::Result<(Manifest, Known)> {
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
    // the walk's vector grew by doubling: up to half of it unused while the manifest is built
    found.shrink_to_fit();
    let groups = group(&found);
    // one hash per inode: the smallest path of a group stands for it (its index here); the
    // file is opened by its real name under `root` (the path is its encoded name)
    let mut first_of_group: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut owners: Vec<usize> = Vec::new();
    for (i, f) in found.iter().enumerate() {
        if f.entry.kind != Kind::File {
            continue;
        }
        match f
            .inode
            .and_then(|key| groups.get(&key).map(|first| (key, first)))
        {
            Some((key, first)) if first == &f.path => {
                first_of_group.insert(key, i);
                owners.push(i);
            }
            Some(_) => {}
            None => owners.push(i),
        }
    }
    // each hash straight into its entry: the known ones, then the ones read now
    if known.digest == digest {
        for &i in &owners {
            let f = &mut found[i];
            f.entry.hash = known.hash_of(&f.path, f.stamp.as_ref()).cloned();
        }
    }
    let read = {
        let mut jobs: Vec<(u64, usize, &str)> = owners
            .iter()
            .map(|&i| &found[i])
            .zip(&owners)
            .filter(|(f, _)| f.entry.hash.is_none())
            .map(|(f, &i)| (f.stamp.map_or(0, |s| s.ino), i, f.path.as_str()))
            .collect();
        hash_all(root, &mut jobs, digest, hashed, from)?
    };
    for (i, hash) in read {
        found[i].entry.hash = Some(hash);
    }
    // a group's hash stays for its later members
    for i in 0..found.len() {
        let owner = found[i]
            .inode
            .and_then(|key| first_of_group.get(&key))
            .copied();
        if let Some(owner) = owner.filter(|&o| o != i && found[i].entry.kind == Kind::File) {
            found[i].entry.hash = found[owner].entry.hash.clone();
        }
    }
    // collected, not inserted one by one: a map built from all its entries at once has full
    // nodes (issue 23 item 6; inserted in order, a B-tree's leaves stay about half empty)
    let files = owners
        .iter()
        .filter(|_| hand_on == HandOn::Known)
        .filter_map(|&i| {
            let f = &found[i];
            let stamp = f.stamp.filter(|s| s.settled_before(started_ns))?;
            let hash = f.entry.hash.clone()?;
            Some((f.path.clone(), KnownFile { stamp, hash }))
        })
        .collect();
    let now = Known {
        started_ns,
        digest,
        files,
    };
    let entries = assemble(found, &groups);
    Ok((Manifest { entries, digest }, now))
}

/// The manifest of the directory `root` on the host without content (no file is read): what
/// [`helper::host_view`] compares with the engine's listing.
pub fn listing(root: &Path) -> io::Result<Manifest> {
    let meta = fs::symlink_metadata(root).map_err(|e| at(root, e))?;
    let mut found = Vec::new();
    walk(root, ".", &meta, &mut found)?;
    let groups = group(&found);
    let entries = assemble(found, &groups);
    Ok(Manifest {
        entries,
        digest: Digest::Sha256,
    })
}

/// The entries of a walk, each moved out of it (no copy of a path or an entry is kept), each
/// with its hardlink group. Collected into the map at once, which fills its nodes (see
/// [`read_known_from`]).
fn assemble(found: Vec<Found>, groups: &BTreeMap<(u64, u64), String>) -> BTreeMap<String, Entry> {
    found
        .into_iter()
        .map(|f| {
            let mut entry = f.entry;
            entry.hardlink_group = f
                .inode
                .and_then(|key| groups.get(&key))
                .map(|g| g.as_str().into());
            (f.path, entry)
        })
        .collect()
}

/// Hash the files `jobs` names (inode, index, path under `root`) in parallel, in inode order
/// (which reads a freshly written tree roughly in disk order): each index with its hash.
fn hash_all(
    root: &Path,
    jobs: &mut [(u64, usize, &str)],
    digest: Digest,
    hashed: &AtomicU64,
    from: ReadFrom,
) -> io::Result<Vec<(usize, ContentHash)>> {
    jobs.sort_unstable();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(readers())
        .build()
        .map_err(io::Error::other)?;
    pool.install(|| {
        jobs.par_iter()
            .map(|(_, i, path)| {
                let full = root.join(name::path(path));
                hash_file(&full, digest, hashed, from)
                    .map(|h| (*i, h))
                    .map_err(|e| at(&full, e))
            })
            .collect::<io::Result<_>>()
    })
}

/// The entry of `meta` at `full`, with its extended attributes ([`xattrs::digests_of`]; none
/// when it vanished since its `lstat`: the walk's own reads name that).
fn entry_at(full: &Path, meta: &Metadata, link: Option<String>) -> io::Result<Option<Entry>> {
    let Some(mut entry) = entry(meta, link) else {
        return Ok(None);
    };
    entry.xattrs = match xattrs::digests_of(full) {
        Ok(x) => x.map(Box::new),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(at(full, e)),
    };
    Ok(Some(entry))
}

/// Every path under `dir` (itself included), depth first in
/// name order.
fn walk(dir: &Path, rel: &str, meta: &Metadata, out: &mut Vec<Found>) -> io::Result<()> {
    if let Some(entry) = entry_at(dir, meta, None)? {
        let found = Found {
            path: rel.to_owned(),
            entry,
            inode: None,
            stamp: None,
        };
        out.push(found);
    }
    let mut items: Vec<(std::ffi::OsString, fs::DirEntry)> = fs::read_dir(dir)
        .map_err(|e| at(dir, e))?
        .map(|d| d.map(|d| (d.file_name(), d)))
        .collect::<io::Result<_>>()
        .map_err(|e| at(dir, e))?;
    items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (name, item) in items {
        let full = dir.join(&name);
        let name = name::encode_os(&name);
        let path = if rel == "." {
            name
        } else {
            format!("{rel}/{name}")
        };
        // lstat relative to the open directory (no path lookup from the root)
        let meta = item.metadata().map_err(|e| at(&full, e))?;
        if meta.is_dir() {
            walk(&full, &path, &meta, out)?;
            continue;
        }
        let link = if meta.file_type().is_symlink() {
            Some(name::encode_os(
                fs::read_link(&full).map_err(|e| at(&full, e))?.as_os_str(),
            ))
        } else {
            None
        };
        let Some(entry) = entry_at(&full, &meta, link)? else {
            continue;
        };
        let inode = (meta.nlink() > 1).then(|| (meta.dev(), meta.ino()));
        let stamp = meta.is_file().then(|| Stamp::of(&meta));
        let found = Found {
            path,
            entry,
            inode,
            stamp,
        };
        out.push(found);
    }
    Ok(())
}

/// The content hash of the file at `path`, read `from` the cache or the disk.
pub fn hash_file(
    path: &Path,
    digest: Digest,
    hashed: &AtomicU64,
    from: ReadFrom,
) -> io::Result<ContentHash> {
    let mut file = fs::File::open(path)?;
    if from == ReadFrom::Medium {
        drop_pages(&file, true)?;
    }
    let hash = hash_open(&mut file, digest, hashed)?;
    if from == ReadFrom::Medium {
        // what was read is not kept in memory for the verify's sake
        drop_pages(&file, false)?;
    }
    Ok(hash)
}

/// A file hashed from the disk by [`hash_back`]: its stamp once synced, when its read began
/// (ns since the epoch, after the stamp was taken), and its content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedBack {
    /// The file's stamp after its data was synced, before it was read.
    pub stamp: Stamp,
    /// When the read began, ns since the epoch (after `stamp` was taken).
    pub began_ns: i64,
    /// The content hash.
    pub hash: ContentHash,
}

/// The content hash of the file at `path` (a final symlink is not followed) read from the disk,
/// with its stamp before the read and when the read began: what a copy's read-back hands to its
/// verify ([`crate::migrate::host_apply::copy_all_read_back`]). Read with `O_DIRECT`, as the
/// manifest helper's `dd iflag=direct` reads: the kernel writes the file's dirty pages out
/// first and reads the disk past the page cache, without filling it (no sync of the inode, no
/// pages to drop: the copy's metadata reaches the disk with the copy's `syncfs`); where the
/// filesystem refuses `O_DIRECT` (`EINVAL`: tmpfs before Linux 6.6, some FUSE filesystems) as
/// [`ReadFrom::Medium`] reads (`fdatasync`, pages dropped, read, dropped again).
pub fn hash_back(path: &Path, digest: Digest, hashed: &AtomicU64) -> io::Result<HashedBack> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = |flags| {
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | flags)
            .open(path)
    };
    let refused = |e: &io::Error| e.raw_os_error() == Some(nix::libc::EINVAL);
    match open(nix::libc::O_DIRECT) {
        Ok(mut file) => {
            let stamp = Stamp::of(&file.metadata()?);
            let began_ns = now_ns();
            match hash_direct(&mut file, digest, hashed) {
                Ok(hash) => {
                    return Ok(HashedBack {
                        stamp,
                        began_ns,
                        hash,
                    });
                }
                Err(Direct::Refused) => {}
                Err(Direct::Failed(e)) => return Err(e),
            }
        }
        Err(e) if refused(&e) => {}
        Err(e) => return Err(e),
    }
    let mut file = open(0)?;
    drop_pages(&file, true)?;
    let stamp = Stamp::of(&file.metadata()?);
    let began_ns = now_ns();
    let hash = hash_open(&mut file, digest, hashed)?;
    drop_pages(&file, false)?;
    Ok(HashedBack {
        stamp,
        began_ns,
        hash,
    })
}

/// Why a read with `O_DIRECT` gave no hash.
enum Direct {
    /// The filesystem refused it at the first read (`EINVAL`): read through the cache.
    Refused,
    /// The read failed.
    Failed(io::Error),
}

/// Alignment of an `O_DIRECT` read's buffer, offset and length: a page, which covers the
/// logical block size of every disk (512 or 4096 bytes).
const DIRECT_ALIGN: usize = 4096;

/// [`hash_open`] of `file`, opened with `O_DIRECT`: every read into an aligned buffer of
/// [`BUFFER`] bytes at an offset that is a multiple of it (the last read returns what is left).
fn hash_direct(
    file: &mut fs::File,
    digest: Digest,
    hashed: &AtomicU64,
) -> Result<ContentHash, Direct> {
    READ_BUFFER.with_borrow_mut(|buf| {
        if buf.len() < BUFFER + DIRECT_ALIGN {
            buf.resize(BUFFER + DIRECT_ALIGN, 0);
        }
        let start = buf.as_ptr().align_offset(DIRECT_ALIGN);
        let buf = &mut buf[start..start + BUFFER];
        let mut hasher = digest.hasher();
        let mut first = true;
        loop {
            let n = match file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if first && e.raw_os_error() == Some(nix::libc::EINVAL) => {
                    return Err(Direct::Refused);
                }
                Err(e) => return Err(Direct::Failed(e)),
            };
            first = false;
            hasher.update(&buf[..n]);
            hashed.fetch_add(n as u64, Ordering::Relaxed);
            if n % DIRECT_ALIGN != 0 {
                // the file's last, partial block: the next offset would not be aligned
                break;
            }
        }
        Ok(hasher.finish())
    })
}

/// Drop `file`'s cached pages, after writing its dirty ones out when `sync` (a dirty page is
/// not dropped). A file that cannot be synced or advised (`EINVAL`, `ENOSYS`, `EROFS`: fsync(2)'s
/// "does not support synchronization", e.g. no page cache of its own) reads as it is; an I/O
/// error of the sync is the file's error (its data may not be on the disk).
fn drop_pages(file: &fs::File, sync: bool) -> io::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
    let unsupported = |e: &io::Error| {
        let unsupported = [Errno::EINVAL, Errno::ENOSYS, Errno::EROFS].map(|e| e as i32);
        e.raw_os_error().is_some_and(|c| unsupported.contains(&c))
    };
    if sync
        && let Err(e) = file.sync_data()
        && !unsupported(&e)
    {
        return Err(e);
    }
    match posix_fadvise(file.as_fd(), 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED) {
        Ok(()) | Err(Errno::EINVAL | Errno::ENOSYS | Errno::ESPIPE) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

thread_local! {
    /// Each reading thread's buffer, made once: a fresh 1 MiB per file was zeroed for every
    /// file hashed (a copy of 2,000 files of 256 KiB zeroed 4 GiB for its two hashings).
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn hash_open(file: &mut fs::File, digest: Digest, hashed: &AtomicU64) -> io::Result<ContentHash> {
    READ_BUFFER.with_borrow_mut(|buf| {
        if buf.len() < BUFFER {
            buf.resize(BUFFER, 0);
        }
        let buf = &mut buf[..BUFFER];
        let mut hasher = digest.hasher();
        loop {
            let n = match file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            hashed.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(hasher.finish())
    })
}

fn at(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("`{}`: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn manifest(root: &Path) -> Manifest {
        read(root, Digest::Blake3, &AtomicU64::new(0)).expect("readable tree")
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
        let m = read(root, Digest::Blake3, &hashed).expect("readable tree");
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
            one.hash.as_ref().map(ToString::to_string).as_deref(),
            Some(blake3::hash(b"row one\n").to_hex().as_str())
        );
        assert_eq!(one.hardlink_group.as_deref(), Some("pg/base/0.link"));
        assert_eq!(m.entries["pg/base/0.link"], *one);
        let link = &m.entries["pg/current"];
        let lstat = fs::symlink_metadata(root.join("pg/current")).expect("lstat");
        assert_eq!(
            (link.kind, link.link.as_deref(), link.mtime),
            (
                Kind::Symlink,
                Some("base/1"),
                Some(u64::try_from(lstat.mtime()).expect("after 1970"))
            )
        );
        assert_eq!(m.entries["pg/fifo"].kind, Kind::Fifo);
        assert_eq!(m.entries["pg"].mode, 0o700);
        assert_eq!(
            (
                m.entries["pg"].size,
                m.entries["pg"]
                    .hash
                    .as_ref()
                    .map(ToString::to_string)
                    .as_deref()
            ),
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
    fn a_name_that_is_not_utf8_is_hashed_by_its_real_name() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let name = std::ffi::OsStr::from_bytes(b"n\xffm");
        fs::write(dir.path().join(name), "latin1\n").expect("file");
        let m = manifest(dir.path());
        assert_eq!(m.entries.keys().collect::<Vec<_>>(), [".", "n\0ffm"]);
        assert_eq!(
            m.entries["n\0ffm"]
                .hash
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(blake3::hash(b"latin1\n").to_hex().as_str())
        );
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
        let rules = crate::migrate::tree::manifest::Rules {
            root_attributes: false,
            ..crate::migrate::tree::manifest::Rules::default()
        };
        let (ma, mb) = (manifest(a.path()), manifest(b.path()));
        assert_eq!(
            crate::migrate::tree::manifest::compare(&ma, &mb, rules),
            vec![]
        );
        let mut bytes = fs::read(b.path().join("d/f")).expect("read");
        bytes[BUFFER + 1] ^= 1;
        fs::write(b.path().join("d/f"), bytes).expect("flip");
        let fields: Vec<&str> =
            crate::migrate::tree::manifest::compare(&ma, &manifest(b.path()), rules)
                .into_iter()
                .filter_map(|d| match d {
                    crate::migrate::tree::manifest::Difference::Changed { field, .. } => {
                        Some(field)
                    }
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
    fn the_host_listing_is_the_manifest_without_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("a"), "x").expect("file");
        fs::hard_link(dir.path().join("a"), dir.path().join("b")).expect("hardlink");
        let mut full = read(dir.path(), Digest::Sha256, &AtomicU64::new(0)).expect("tree");
        for entry in full.entries.values_mut() {
            entry.hash = None;
        }
        assert_eq!(listing(dir.path()).expect("listed"), full);
        assert_eq!(full.entries["b"].hardlink_group.as_deref(), Some("a"));
    }

    /// Pages of the file at `path` in the page cache (`mincore` of a mapping of it).
    fn resident_pages(path: &Path) -> usize {
        use std::os::fd::AsRawFd;
        let file = fs::File::open(path).expect("open");
        let len = usize::try_from(file.metadata().expect("stat").len()).expect("size");
        let page = 4096;
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: a read-only shared mapping of an open file, unmapped before return; `vec` has
        // one byte per page of it
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(addr, libc::MAP_FAILED, "mmap");
            assert_eq!(libc::mincore(addr, len, vec.as_mut_ptr()), 0, "mincore");
            libc::munmap(addr, len);
        }
        vec.iter().filter(|b| **b & 1 == 1).count()
    }

    #[test]
    fn issue21_a_copy_is_hashed_from_the_medium_not_the_page_cache() {
        // under target/ (a disk filesystem), not /tmp, which may be tmpfs: its pages are its
        // storage and are never dropped
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        fs::create_dir_all(&base).expect("target dir");
        let dir = tempfile::tempdir_in(&base).expect("temp dir");
        let file = dir.path().join("copied");
        let content = vec![0x5au8; 4 << 20];
        fs::write(&file, &content).expect("write");
        // just written: dirty, then cached
        assert!(resident_pages(&file) > 0);
        let cached = read(dir.path(), Digest::Blake3, &AtomicU64::new(0)).expect("read");
        assert!(
            resident_pages(&file) > 0,
            "a plain read leaves the pages cached"
        );
        let hashed = AtomicU64::new(0);
        let medium = read_from_medium(dir.path(), Digest::Blake3, &hashed).expect("read");
        assert_eq!(medium, cached);
        assert_eq!(hashed.load(Ordering::Relaxed), 4 << 20);
        let left = resident_pages(&file);
        let fs_type = crate::fsx::fs_identity(dir.path())
            .map(|i| i.fs_type)
            .unwrap_or_default();
        if fs_type == "tmpfs" {
            eprintln!("the target directory is on tmpfs: its pages cannot be dropped");
            return;
        }
        assert_eq!(left, 0, "{left} pages still cached on {fs_type}");
    }

    #[test]
    fn issue21_a_read_back_reads_the_disk_past_the_page_cache_and_gives_the_stamp_before_it() {
        // under target/ (a disk filesystem), not /tmp, which may be tmpfs
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        fs::create_dir_all(&base).expect("target dir");
        let dir = tempfile::tempdir_in(&base).expect("temp dir");
        let file = dir.path().join("copied");
        // not a multiple of the block size: the last read is short
        let content: Vec<u8> = (0..(3 << 20) + 1234).map(|i| (i % 251) as u8).collect();
        fs::write(&file, &content).expect("write");
        let hashed = AtomicU64::new(0);
        let back = hash_back(&file, Digest::Blake3, &hashed).expect("read back");
        assert_eq!(back.hash, blake3::hash(&content).to_hex().as_str());
        assert_eq!(hashed.load(Ordering::Relaxed), content.len() as u64);
        assert_eq!(back.stamp, Stamp::of(&fs::metadata(&file).expect("stat")));
        assert!(back.began_ns >= back.stamp.ctime_ns, "{back:?}");
        // its pages dropped: a read through the cache would bring them back, this one does not
        let opened = fs::File::open(&file).expect("open");
        drop_pages(&opened, true).expect("dropped");
        let fs_type = crate::fsx::fs_identity(dir.path())
            .map(|i| i.fs_type)
            .unwrap_or_default();
        if fs_type == "tmpfs" || resident_pages(&file) != 0 {
            eprintln!("the target directory is on {fs_type}: its pages cannot be dropped");
            return;
        }
        let again = hash_back(&file, Digest::Blake3, &hashed).expect("read back");
        assert_eq!(again.hash, back.hash);
        assert_eq!(
            resident_pages(&file),
            0,
            "read through the page cache on {fs_type}"
        );
    }

    #[test]
    fn a_missing_root_names_it() {
        let err = read(
            Path::new("/nonexistent/tierctl-tree"),
            Digest::Blake3,
            &AtomicU64::new(0),
        )
        .expect_err("missing");
        assert!(
            err.to_string().contains("`/nonexistent/tierctl-tree`"),
            "{err}"
        );
    }
}
