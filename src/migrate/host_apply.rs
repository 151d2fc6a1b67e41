//! A [`Delta`] applied on the host, when the host sees both trees of a copy as the engine does
//! and tierctl runs as root: what the delta helper's busybox script ([`delta::APPLY`]) does, without
//! starting a container (the one container the delta step ran while the services are stopped),
//! and with the files copied in parallel. A copy into an empty target is the delta of the whole
//! tree ([`delta::plan`] against an empty listing), so `--stop-first` copies the same way.
//!
//! Every source entry is reached from the source root's descriptor with `openat2`
//! (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`): a symlink a container put into its volume is
//! copied as a symlink and never followed out of the tree. Files keep their owner, mode,
//! access and modification times (nanoseconds), symlinks their owner and times, devices and
//! FIFOs their numbers; directories get the source's owner, mode and mtime after their
//! content, deepest first; the target's filesystem is synced at the end.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat2, readlinkat};
use nix::sys::stat::{
    FchmodatFlags, FileStat, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, fstatat, futimens,
    mknod, utimensat,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, syncfs};
use rayon::prelude::*;

use super::delta::{self, Delta, Op};
use super::tree::name;

/// Whether this process may apply a delta on the host: it must set any owner (root)
/// ([`super::tree::reach::host_may_write`]).
pub fn may_apply() -> bool {
    super::tree::reach::host_may_write()
}

/// An error of one entry: the op, the path relative to the trees' roots, and why.
fn at(op: &str, rel: &str, err: impl std::fmt::Display) -> String {
    format!("{op} `{}`: {err}", name::shown(rel))
}

/// The host path of the [`name::encode`]d relative path `rel` under `root`.
fn under(root: &Path, rel: &str) -> PathBuf {
    root.join(name::path(rel))
}

/// Apply `delta` from `source` into `target` (both host paths of the same copy): removals,
/// then directories parents first, then the copies in parallel, then hardlinks, then the
/// directories' attributes deepest first; `Err` names the first entry that failed.
pub fn apply(source: &Path, target: &Path, delta: &Delta) -> Result<(), String> {
    apply_reading(source, target, delta, || ())
}

/// [`apply`], running `read` on this thread while the target's filesystem syncs on another
/// (the sync waits on the disk, `read` may use the CPU meanwhile): what `read` returned, once
/// the sync succeeded. `read` runs after every entry was copied and got its attributes.
pub fn apply_reading<T: Send>(
    source: &Path,
    target: &Path,
    delta: &Delta,
    read: impl FnOnce() -> T,
) -> Result<T, String> {
    let root = open_root(source).map_err(|e| at("open", ".", e))?;
    let from = Source { root: &root };
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(super::tree::readers())
        .build()
        .map_err(|e| at("cp", ".", e))?;
    pool.install(|| {
        copies.par_iter().try_for_each(|rel| {
            from.copy(rel, &under(target, rel))
                .map_err(|e| at("cp", rel, e))
        })
    })?;
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
    let dir = File::open(target).map_err(|e| at("sync", ".", e))?;
    let (read, synced) = std::thread::scope(|scope| {
        let sync = scope.spawn(|| syncfs(dir.as_fd()).map_err(io::Error::from));
        let read = read();
        let synced = sync
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the sync thread panicked")));
        (read, synced)
    });
    synced.map_err(|e| at("sync", ".", e))?;
    Ok(read)
}

/// The whole of `source` copied into the empty directory `target` (the `--stop-first` copy):
/// the delta of the source's listing against an empty one.
pub fn copy_all(source: &Path, target: &Path) -> Result<(), String> {
    copy_all_reading(source, target, || ())
}

/// [`copy_all`], running `read` while the target syncs (see [`apply_reading`]).
pub fn copy_all_reading<T: Send>(
    source: &Path,
    target: &Path,
    read: impl FnOnce() -> T,
) -> Result<T, String> {
    let listing = super::tree::listing::list(source).map_err(|e| at("list", ".", e))?;
    let listed = delta::Listed {
        began: 0,
        source: listing,
        target: delta::Listing::new(),
    };
    apply_reading(source, target, &delta::plan(&listed, 0), read)
}

fn open_root(source: &Path) -> io::Result<OwnedFd> {
    let how = OpenHow::new().flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC);
    Ok(openat2(nix::fcntl::AT_FDCWD, source, how)?)
}

/// The source tree, every entry reached beneath its root without following a symlink.
struct Source<'a> {
    root: &'a OwnedFd,
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
        Ok(())
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
        io::copy(&mut from, &mut out)?;
        owner_mode_and_times(&out, st)
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
        owner_mode_and_times(&dir, &st)
    }
}

/// The owner, mode and times of `st` on the open file or directory `to`; the owner first:
/// chown clears set-user-ID and set-group-ID bits.
fn owner_mode_and_times(to: &File, st: &FileStat) -> io::Result<()> {
    fchown(
        to,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    fchmod(to, Mode::from_bits_truncate(st.st_mode & 0o7777))?;
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
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::migrate::tree;
    use crate::migrate::tree::listing;
    use crate::migrate::tree::manifest::{self, Digest, Rules};

    fn same_trees(a: &Path, b: &Path) {
        let hashed = AtomicU64::new(0);
        let a = tree::read(a, Digest::Blake3, &hashed).expect("source manifest");
        let b = tree::read(b, Digest::Blake3, &hashed).expect("copy manifest");
        let differences = manifest::compare(&a, &b, Rules::default());
        assert!(differences.is_empty(), "{differences:?}");
    }

    fn write(path: &Path, text: &str) {
        fs::write(path, text).expect("write");
    }

    /// A tree with a bit of everything: nested directories, a hardlink pair, symlinks (one
    /// pointing out of the tree), a FIFO, odd modes and (as root) another owner.
    fn seed(root: &Path) {
        fs::create_dir_all(root.join("d/e")).expect("dirs");
        write(&root.join("d/e/deep"), "deep");
        write(&root.join("same"), "AAAA\n");
        write(&root.join("trunc"), "long content here");
        write(&root.join("del"), "x");
        write(&root.join("ren-a"), "renamed");
        fs::create_dir(root.join("gone")).expect("dir");
        write(&root.join("gone/f"), "f");
        write(&root.join("retype"), "a file, later a directory");
        write(&root.join("h1"), "hardlinked");
        fs::hard_link(root.join("h1"), root.join("h2")).expect("hardlink");
        symlink("/etc/hostname", root.join("out")).expect("symlink");
        symlink("d/e/deep", root.join("in")).expect("symlink");
        nix::unistd::mkfifo(&root.join("fifo"), Mode::from_bits_truncate(0o640)).expect("fifo");
        fs::set_permissions(root.join("d"), fs::Permissions::from_mode(0o750)).expect("chmod");
        fs::set_permissions(root.join("del"), fs::Permissions::from_mode(0o4755)).expect("chmod");
        if may_apply() {
            let (u, g) = (Some(Uid::from_raw(999)), Some(Gid::from_raw(998)));
            nix::unistd::chown(&root.join("d/e/deep"), u, g).expect("chown");
            fchownat(
                nix::fcntl::AT_FDCWD,
                &root.join("out"),
                u,
                g,
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .expect("lchown");
        }
    }

    /// What a writer does between the pre-copy and the stop: creates, deletes, renames,
    /// truncates, rewrites a file with the same size in the same second, retypes, relinks.
    fn mutate(root: &Path) {
        let same = root.join("same");
        let before = fs::metadata(&same).expect("stat");
        write(&same, "BBBB\n");
        let mtime = TimeSpec::new(before.mtime(), before.mtime_nsec());
        utimensat(
            nix::fcntl::AT_FDCWD,
            &same,
            &mtime,
            &mtime,
            UtimensatFlags::FollowSymlink,
        )
        .expect("same mtime");
        OpenOptions::new()
            .write(true)
            .open(root.join("trunc"))
            .and_then(|f| f.set_len(4))
            .expect("truncate");
        fs::remove_file(root.join("del")).expect("delete");
        fs::rename(root.join("ren-a"), root.join("ren-b")).expect("rename");
        fs::remove_dir_all(root.join("gone")).expect("rm -r");
        fs::remove_file(root.join("retype")).expect("rm");
        fs::create_dir(root.join("retype")).expect("retype");
        write(&root.join("retype/inside"), "now a directory");
        write(&root.join("new"), "created");
        fs::remove_file(root.join("h2")).expect("unlink");
        fs::hard_link(root.join("new"), root.join("h2")).expect("relink");
        fs::set_permissions(root.join("d/e"), fs::Permissions::from_mode(0o700)).expect("chmod");
    }

    #[test]
    fn a_copy_and_a_delta_on_the_host_equal_the_source() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (source, target) = (dir.path().join("from"), dir.path().join("to"));
        fs::create_dir(&source).expect("source");
        fs::create_dir(&target).expect("target");
        seed(&source);
        copy_all(&source, &target).expect("copy");
        same_trees(&source, &target);
        let began = SystemTimeSecs::now();
        mutate(&source);
        let listed = delta::Listed {
            began: 0,
            source: listing::list(&source).expect("list source"),
            target: listing::list(&target).expect("list target"),
        };
        let pass = delta::plan(&listed, began);
        assert!(pass.removed >= 3, "{pass:?}");
        apply(&source, &target, &pass).expect("delta");
        same_trees(&source, &target);
        assert_eq!(
            fs::read_to_string(target.join("same")).expect("read"),
            "BBBB\n"
        );
        assert_eq!(
            fs::read_link(target.join("out")).expect("a symlink still"),
            Path::new("/etc/hostname")
        );
    }

    #[test]
    fn a_symlinked_parent_in_the_source_is_never_followed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (source, target, outside) = (
            dir.path().join("from"),
            dir.path().join("to"),
            dir.path().join("outside"),
        );
        for d in [&source, &target, &outside] {
            fs::create_dir(d).expect("dir");
        }
        write(&outside.join("secret"), "not yours");
        symlink(&outside, source.join("sub")).expect("symlink");
        // a listing made before `sub` was swapped for a symlink names `sub/secret`
        let pass = Delta {
            ops: vec![Op::Mkdir("sub".into()), Op::Copy("sub/secret".into())],
            copied: 1,
            removed: 0,
            bytes: 9,
        };
        let err = apply(&source, &target, &pass).expect_err("refused");
        assert!(err.contains("cp `sub/secret`"), "{err}");
        assert!(!target.join("sub/secret").exists());
    }

    struct SystemTimeSecs;

    impl SystemTimeSecs {
        fn now() -> i64 {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock");
            i64::try_from(now.as_secs()).expect("seconds")
        }
    }
}
