//! A [`Delta`] applied on the host, when the host sees both trees of a copy as the engine does
//! and tierctl runs as root: what the delta helper's busybox script ([`delta::APPLY`]) does, without
//! starting a container (the one container the delta step ran while the services are stopped),
//! and with the files copied in parallel. A copy into an empty target is the delta of the whole
//! tree ([`delta::plan`] against an empty listing), so `--stop-first` copies the same way.
//!
//! Every source entry is reached from the source root's descriptor with `openat2`
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`): a symlink a container put into its volume is
//! copied as a symlink and never followed out of the tree. Files keep their owner, mode,
//! access and modification times (nanoseconds), extended attributes (POSIX ACLs and
//! `security.capability` among them: [`super::tree::xattrs`]) and holes (only the data extents
//! `SEEK_DATA`/`SEEK_HOLE` find are copied, by `copy_file_range` where the kernel does it),
//! symlinks their owner, times and extended attributes, devices and FIFOs their numbers;
//! directories get the source's owner, mode, extended attributes and mtime after their content,
//! deepest first; the target's filesystem is synced at the end. The owner is set first (chown
//! clears set-user-ID bits and `security.capability`), the extended attributes after the mode.
//!
//! [`copy_all_read_back`] (the `--stop-first` copy) reads each file back from the disk right
//! after the worker copied it, while the others go on copying ([`read_back`]): the verify takes
//! that hash for a file whose stamp is unchanged since (issue 21 item 4).
//!
//! Where the source and the copy lie on one filesystem that can share extents (xfs with
//! `reflink=1`, btrfs), a file is copied by sharing them (`FICLONE`, [`reflink`]), falling
//! back to the byte copy per file; the verify still reads the copy back from the medium.
//!
//! [`keep`] gives a copy a helper made (busybox `cp -a`: no extended attributes, holes written
//! dense, symlinks with the copy's time, file times in whole seconds) what only the host keeps: the pre-copy's helper copies
//! while the services run, and the host, when it may, fixes that up after it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{
    AtFlags, FallocateFlags, OFlag, OpenHow, ResolveFlag, fallocate, openat2, readlinkat,
};
use nix::sys::stat::{
    FchmodatFlags, FileStat, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, fstatat, futimens,
    mknod, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, Whence, fchown, fchownat, lseek, syncfs};
use rayon::prelude::*;
use thiserror::Error;

use super::delta::{self, Delta, Op};
use super::tree::Known;
use super::tree::name;
use super::tree::xattrs::{self, Xattrs};

mod read_back;
mod reflink;

use reflink::{Cloned, Reflinks};

/// What a copy shared with its source instead of writing ([`reflink`]): files and bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shared {
    /// Files whose extents the copy shares with the source.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Whether this process may apply a delta on the host: it must set any owner (root)
/// ([`super::tree::reach::host_may_write`]).
pub fn may_apply() -> bool {
    super::tree::reach::host_may_write()
}

/// Why a delta on the host stopped: the first entry that failed.
#[derive(Debug, Error)]
#[error("{op} `{}`: {error}", name::shown(path))]
pub struct EntryError {
    /// What was done to it (`rm`, `mkdir`, `cp`, `ln`, `attr`, `sync`, `open`, `list`, `keep`).
    pub op: &'static str,
    /// The entry, relative to the trees' roots ([`name::encode`]d; `.` for the root).
    pub path: String,
    /// Why.
    pub error: io::Error,
}

/// An error of one entry: the op, the path relative to the trees' roots, and why.
fn at(op: &'static str, rel: &str, error: impl Into<io::Error>) -> EntryError {
    EntryError {
        op,
        path: rel.to_owned(),
        error: error.into(),
    }
}

/// The host path of the [`name::encode`]d relative path `rel` under `root`.
fn under(root: &Path, rel: &str) -> PathBuf {
    root.join(name::path(rel))
}

/// Apply `delta` from `source` into `target` (both host paths of the same copy): removals,
/// then directories parents first, then the copies in parallel, then hardlinks, then the
/// directories' attributes deepest first, then the target's filesystem synced; `Err` names the
/// first entry that failed.
pub fn apply(source: &Path, target: &Path, delta: &Delta) -> Result<Shared, EntryError> {
    apply_with(source, target, delta, false).map(|(_, shared)| shared)
}

/// [`apply`], each copied file read back from the disk by the worker that copied it while the
/// others go on copying ([`read_back`]) when `read_back`: what the read-backs know of the copy
/// (for the verify), and what the copy [`Shared`].
fn apply_with(
    source: &Path,
    target: &Path,
    delta: &Delta,
    read_back: bool,
) -> Result<(Option<Known>, Shared), EntryError> {
    let root = open_root(source).map_err(|e| at("open", ".", e))?;
    let reflinks = Reflinks::default();
    let from = Source {
        root: &root,
        reflinks: &reflinks,
    };
    for op in &delta.ops {
        match op {
            Op::Remove(rel) => remove(&under(target, rel)).map_err(|e| at("rm", rel, e))?,
            Op::Mkdir(rel) => mkdir(&under(target, rel)).map_err(|e| at("mkdir", rel, e))?,
            _ => {}
        }
    }
    let copies: Vec<&String> = delta
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Copy(rel) => Some(rel),
            _ => None,
        })
        .collect();
    let known = match read_back {
        true => Some(read_back::copy_reading_back(&from, target, &copies)?),
        false => {
            copy_files(&from, target, &copies)?;
            None
        }
    };
    for op in &delta.ops {
        match op {
            Op::Link { path, to } => {
                let link = under(target, path);
                remove(&link)
                    .and_then(|()| fs::hard_link(under(target, to), &link))
                    .map_err(|e| at("ln", path, e))?;
            }
            Op::Attributes(rel) => from
                .attributes(rel, &under(target, rel))
                .map_err(|e| at("attr", rel, e))?,
            _ => {}
        }
    }
    // every directory entry, inode and the data not read back yet on the disk
    sync(target)?;
    let shared = Shared {
        files: reflinks.files(),
        bytes: reflinks.bytes(),
    };
    Ok((known, shared))
}

/// The filesystem of the directory `root` synced (`syncfs`): what a copy or [`keep`] wrote
/// there is on the disk.
pub fn sync(root: &Path) -> Result<(), EntryError> {
    let dir = File::open(root).map_err(|e| at("sync", ".", e))?;
    syncfs(dir.as_fd()).map_err(|e| at("sync", ".", io::Error::from(e)))
}

/// Copy `copies` (relative paths) from `from` into `target` in parallel.
fn copy_files(from: &Source<'_>, target: &Path, copies: &[&String]) -> Result<(), EntryError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(super::tree::readers())
        .build()
        .map_err(|e| at("cp", ".", io::Error::other(e)))?;
    pool.install(|| {
        copies.par_iter().try_for_each(|rel| {
            from.copy(rel, &under(target, rel))
                .map_err(|e| at("cp", rel, e))
        })
    })
}

/// The whole of `source` copied into the empty directory `target` (the `--stop-first` copy):
/// the delta of the source's listing against an empty one.
pub fn copy_all(source: &Path, target: &Path) -> Result<Shared, EntryError> {
    copy_all_with(source, target, false).map(|(_, shared)| shared)
}

/// [`copy_all`], each file read back from the disk as the copy goes on ([`read_back`]): what
/// the read-backs know of the copy (each file's hash with its stamp once synced, BLAKE3; the
/// verify takes a hash only while the stamp is unchanged), and what the copy [`Shared`].
pub fn copy_all_read_back(source: &Path, target: &Path) -> Result<(Known, Shared), EntryError> {
    let (known, shared) = copy_all_with(source, target, true)?;
    Ok((known.unwrap_or_default(), shared))
}

fn copy_all_with(
    source: &Path,
    target: &Path,
    read_back: bool,
) -> Result<(Option<Known>, Shared), EntryError> {
    let listing = super::tree::listing::list(source).map_err(|e| at("list", ".", e))?;
    let listed = delta::Listed {
        began: 0,
        source: listing,
        target: delta::Listing::new(),
    };
    apply_with(source, target, &delta::plan(&listed, 0), read_back)
}

fn open_root(source: &Path) -> io::Result<OwnedFd> {
    let how = OpenHow::new().flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC);
    Ok(openat2(nix::fcntl::AT_FDCWD, source, how)?)
}

/// The source tree, every entry reached beneath its root without following a symlink.
struct Source<'a> {
    root: &'a OwnedFd,
    /// Whether files may still be copied by sharing extents, and how many were.
    reflinks: &'a Reflinks,
}

impl Source<'_> {
    fn open(&self, rel: &str, flags: OFlag) -> io::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        Ok(openat2(self.root, name::path(rel).as_path(), how)?)
    }

    /// The parent directory of `rel` (opened `O_PATH`) and `rel`'s last name, as bytes.
    fn parent(&self, rel: &str) -> io::Result<(OwnedFd, PathBuf)> {
        let (dir, last) = rel.rsplit_once('/').unwrap_or((".", rel));
        Ok((
            self.open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY)?,
            name::path(last),
        ))
    }

    fn lstat(&self, rel: &str) -> io::Result<FileStat> {
        let (dir, name) = self.parent(rel)?;
        Ok(fstatat(&dir, name.as_path(), AtFlags::AT_SYMLINK_NOFOLLOW)?)
    }

    /// `cp -a` of one entry: the target path was removed first.
    fn copy(&self, rel: &str, to: &Path) -> io::Result<()> {
        remove(to)?;
        let st = self.lstat(rel)?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFREG {
            return self.copy_file(rel, &st, to);
        }
        if kind == SFlag::S_IFDIR {
            // a directory where the listing saw something else (it changed since): copy it whole
            fs::create_dir(to)?;
            for child in self.children(rel)? {
                self.copy(&format!("{rel}/{child}"), &under(to, &child))?;
            }
            return self.attributes(rel, to);
        }
        if kind == SFlag::S_IFLNK {
            let (dir, name) = self.parent(rel)?;
            std::os::unix::fs::symlink(readlinkat(&dir, name.as_path())?, to)?;
        } else {
            let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
            mknod(to, kind, perm, st.st_rdev)?;
        }
        owner_and_times(to, &st)?;
        if kind != SFlag::S_IFLNK {
            fchmodat(
                nix::fcntl::AT_FDCWD,
                to,
                Mode::from_bits_truncate(st.st_mode & 0o7777),
                FchmodatFlags::FollowSymlink,
            )?;
        }
        write_xattrs(to, self.xattrs(rel)?.as_ref())
    }

    /// The extended attributes of `rel` (the entry itself, never what a symlink points to),
    /// read through its parent's descriptor beneath the root; `None`: its filesystem has none.
    fn xattrs(&self, rel: &str) -> io::Result<Option<Xattrs>> {
        let (dir, last) = self.parent(rel)?;
        xattrs::read(
            &Path::new("/proc/self/fd")
                .join(dir.as_raw_fd().to_string())
                .join(last),
        )
    }

    fn children(&self, rel: &str) -> io::Result<Vec<String>> {
        let dir = self.open(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        let mut names = Vec::new();
        for item in nix::dir::Dir::from_fd(dir)? {
            let item = item?;
            let bytes = item.file_name().to_bytes();
            if bytes != b"." && bytes != b".." {
                names.push(name::encode(bytes));
            }
        }
        Ok(names)
    }

    fn copy_file(&self, rel: &str, st: &FileStat, to: &Path) -> io::Result<()> {
        let mut from = File::from(self.open(rel, OFlag::O_RDONLY)?);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(to)?;
        let len = u64::try_from(st.st_size).unwrap_or(0);
        if self.reflinks.clone_into(&from, &out, len)? == Cloned::CopyInstead {
            copy_data(&mut from, &mut out)?;
        }
        // after the content: a write clears `security.capability`
        let xattrs = self.xattrs(rel)?;
        owner_mode_and_times(&out, to, st, xattrs.as_ref())
    }

    /// The source directory's owner, mode and times on the target directory (when the source
    /// entry is still a directory, as the helper's `attr` does).
    fn attributes(&self, rel: &str, to: &Path) -> io::Result<()> {
        let st = self.lstat(rel)?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
            return Ok(());
        }
        let dir = File::open(to)?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::other("not a directory in the copy"));
        }
        owner_mode_and_times(&dir, to, &st, self.xattrs(rel)?.as_ref())
    }

    /// What a helper's copy of `rel` lacks and only the host keeps ([`keep`]): its extended
    /// attributes, a symlink's times, a sparse file's holes. Nothing when the copy at `to` is
    /// of another type (the delta copies it again).
    fn keep(&self, rel: &str, to: &Path) -> io::Result<()> {
        let st = self.lstat(rel)?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let copy = fstatat(nix::fcntl::AT_FDCWD, to, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        if SFlag::from_bits_truncate(copy.st_mode) & SFlag::S_IFMT != kind {
            return Ok(());
        }
        // the holes first: a punched hole clears `security.capability`, as a write does
        if kind == SFlag::S_IFREG && sparse(&st) && copy.st_blocks > st.st_blocks {
            let from = File::from(self.open(rel, OFlag::O_RDONLY)?);
            let out = OpenOptions::new().write(true).open(to)?;
            punch_holes(&from, &out, &copy)?;
            // and moves the mtime: the copy's own back
            futimens(&out, &atime(&copy), &mtime(&copy))?;
        }
        if let Some(xattrs) = self.xattrs(rel)? {
            xattrs::write(to, &xattrs)?;
        }
        let truncated = match kind {
            SFlag::S_IFREG => whole_seconds_of(&copy, &st),
            // a directory's size is its filesystem's business; a FIFO or device has none
            _ => whole_second_of(&copy, &st),
        };
        if kind == SFlag::S_IFLNK || truncated {
            utimensat(
                nix::fcntl::AT_FDCWD,
                to,
                &atime(&st),
                &mtime(&st),
                UtimensatFlags::NoFollowSymlink,
            )?;
        }
        Ok(())
    }
}

/// Whether `copy` is `source` as busybox `cp -a` keeps its times: the same size and second of
/// mtime, the nanoseconds dropped (it sets times with whole seconds). Only then does [`keep`]
/// put the source's nanoseconds back: a file the services rewrote since the copy keeps the
/// copy's time, for the delta to find.
fn whole_seconds_of(copy: &FileStat, source: &FileStat) -> bool {
    copy.st_size == source.st_size && whole_second_of(copy, source)
}

/// Whether `copy`'s mtime is `source`'s with the nanoseconds dropped (a directory, FIFO or
/// device busybox `cp -a` copied: no size compared).
fn whole_second_of(copy: &FileStat, source: &FileStat) -> bool {
    copy.st_mtime == source.st_mtime && copy.st_mtime_nsec == 0 && source.st_mtime_nsec != 0
}

/// Whether a file holds fewer blocks than its length needs: it has holes.
fn sparse(st: &FileStat) -> bool {
    u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512)
        < u64::try_from(st.st_size).unwrap_or(0)
}

/// Copy the content of `from` into the new, empty `out`: only the data extents `SEEK_DATA` and
/// `SEEK_HOLE` find (a hole stays a hole), each by `io::copy` (which uses `copy_file_range`
/// between two files where the kernel can); a filesystem that cannot seek holes is copied whole.
fn copy_data(from: &mut File, out: &mut File) -> io::Result<()> {
    let mut at = 0;
    loop {
        let data = match lseek(from.as_fd(), at, Whence::SeekData) {
            Ok(data) => data,
            // no data from here to the end
            Err(Errno::ENXIO) => break,
            Err(Errno::EINVAL | Errno::EOPNOTSUPP) if at == 0 => {
                from.seek(SeekFrom::Start(0))?;
                io::copy(from, out)?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let hole = lseek(from.as_fd(), data, Whence::SeekHole)?;
        let (start, len) = (offset(data)?, offset(hole.saturating_sub(data))?);
        from.seek(SeekFrom::Start(start))?;
        out.seek(SeekFrom::Start(start))?;
        let copied = io::copy(&mut Read::by_ref(from).take(len), out)?;
        if copied < len {
            // the file shrank under the copy: the verify names it
            break;
        }
        at = hole;
    }
    // a hole at the end has no data to write: the length makes it
    out.set_len(from.metadata()?.len())
}

fn offset(n: i64) -> io::Result<u64> {
    u64::try_from(n).map_err(|_| io::Error::other("a negative file offset"))
}

/// The holes of `from` punched into `out`, a dense copy of it written by a byte loop (the tier
/// mover's hashed copy), when `from` has any: the content stays, the blocks are freed.
pub fn keep_holes(from: &File, out: &File) -> io::Result<()> {
    let source = nix::sys::stat::fstat(from.as_fd())?;
    if !sparse(&source) {
        return Ok(());
    }
    punch_holes(from, out, &nix::sys::stat::fstat(out.as_fd())?)
}

/// Punch into `out` (a dense copy of `from`, `copy` its `stat`) every hole of `from`, within
/// `out`'s length: the content stays the same (a hole reads as zeros, and the copy's bytes
/// there are zeros), the blocks are freed.
fn punch_holes(from: &File, out: &File, copy: &FileStat) -> io::Result<()> {
    let end = copy.st_size;
    let mut at = 0;
    while at < end {
        let hole = match lseek(from.as_fd(), at, Whence::SeekHole) {
            Ok(hole) => hole,
            Err(Errno::ENXIO) => break,
            Err(e) => return Err(e.into()),
        };
        if hole >= end {
            break;
        }
        let data = match lseek(from.as_fd(), hole, Whence::SeekData) {
            Ok(data) => data.min(end),
            Err(Errno::ENXIO) => end,
            Err(e) => return Err(e.into()),
        };
        let flags = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
        fallocate(out.as_fd(), flags, hole, data - hole)?;
        at = data;
    }
    Ok(())
}

/// Give the copy what only the host keeps (see the module's text): every entry of `source`
/// (both host paths of the same copy) that `target` holds with the same type gets the source's
/// extended attributes, a symlink its times, a sparse file its holes (only the blocks of the
/// source's holes are freed; content is not written). An entry that vanished meanwhile (the
/// services run) is left for the delta. `Err` names the first entry that failed.
pub fn keep(source: &Path, target: &Path) -> Result<(), EntryError> {
    let listing = super::tree::listing::list(source).map_err(|e| at("list", ".", e))?;
    let root = open_root(source).map_err(|e| at("open", ".", e))?;
    let reflinks = Reflinks::default();
    let from = Source {
        root: &root,
        reflinks: &reflinks,
    };
    let paths: Vec<&String> = listing.keys().collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(super::tree::readers())
        .build()
        .map_err(|e| at("keep", ".", io::Error::other(e)))?;
    pool.install(|| {
        paths
            .par_iter()
            .try_for_each(|rel| match from.keep(rel, &under(target, rel)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other.map_err(|e| at("keep", rel, e)),
            })
    })
}

/// The extended attributes `xattrs` (when the source's filesystem has any) set on `to`.
fn write_xattrs(to: &Path, xattrs: Option<&Xattrs>) -> io::Result<()> {
    match xattrs {
        Some(xattrs) => xattrs::write(to, xattrs),
        None => Ok(()),
    }
}

/// The owner, mode, extended attributes and times of `st` on the open file or directory `to`
/// (at `path`); the owner first: chown clears set-user-ID and set-group-ID bits and
/// `security.capability`; the extended attributes after the mode (a POSIX ACL sets the group
/// bits it carries), the times last.
fn owner_mode_and_times(
    to: &File,
    path: &Path,
    st: &FileStat,
    xattrs: Option<&Xattrs>,
) -> io::Result<()> {
    fchown(
        to,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    fchmod(to, Mode::from_bits_truncate(st.st_mode & 0o7777))?;
    write_xattrs(path, xattrs)?;
    futimens(to, &atime(st), &mtime(st))?;
    Ok(())
}

fn atime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_atime, st.st_atime_nsec)
}

fn mtime(st: &FileStat) -> TimeSpec {
    TimeSpec::new(st.st_mtime, st.st_mtime_nsec)
}

/// A symlink's or special file's owner and times, the link itself (not what it points to).
fn owner_and_times(to: &Path, st: &FileStat) -> io::Result<()> {
    fchownat(
        nix::fcntl::AT_FDCWD,
        to,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    utimensat(
        nix::fcntl::AT_FDCWD,
        to,
        &atime(st),
        &mtime(st),
        UtimensatFlags::NoFollowSymlink,
    )?;
    Ok(())
}

/// `rm -rf`: nothing there is fine.
fn remove(path: &Path) -> io::Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(err) => Err(err),
    };
    match result {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Make a directory where the source has one, replacing what else is at the path.
fn mkdir(path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    remove(path)?;
    fs::create_dir(path)
}

#[cfg(test)]
mod tests;
