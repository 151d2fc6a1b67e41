//! Writing rewritten files (an effect): only files whose text changed, each after a timestamped
//! backup, through a temp file beside the real file (a symlinked compose or `.env` file keeps its
//! link; the file it points at is edited) that is fsynced and put in place, keeping mode and
//! owner.
//!
//! Compare-and-swap: the file is hashed when it is read; the hash is checked again before the
//! backup (which is made from the very bytes that were hashed) and right before the swap. On
//! Linux the swap is `renameat2(RENAME_EXCHANGE)`, so the displaced file is still at hand: once
//! nobody has it open for writing (a read lease), it must still hold the bytes that were
//! hashed, else the swap is undone. An edit made by another program while tierctl writes is
//! never dropped: the write is refused and the edit stays in the file (or, when it landed in
//! both versions, in a `.tierctl-<stamp>.conflict` file beside it).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use thiserror::Error;

/// One file to write.
#[derive(Clone, Debug)]
pub struct FileWrite {
    /// The file (a symlink to it is kept: the file it points at is written).
    pub path: PathBuf,
    /// SHA-256 of the text it was planned from.
    pub read_hash: [u8; 32],
    /// The new text.
    pub text: String,
}

/// Why a file was not written.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The file changed on disk after it was read.
    #[error("`{}` changed since it was read; nothing written to it", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// Another program changed the file while it was being written; the write was undone.
    #[error("`{}` changed on disk while tierctl was writing; nothing written to it{}", path.display(), kept.as_ref().map(|k| format!(" (the other program's text is kept in `{}`)", k.display())).unwrap_or_default())]
    ChangedWhileWriting {
        /// The file.
        path: PathBuf,
        /// Where an edit that could not stay in the file was saved.
        kept: Option<PathBuf>,
    },
    /// The file has no write permission bit.
    #[error("`{}` is read-only", path.display())]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// An I/O step failed; the original is intact.
    #[error("cannot {step} `{}`: {source}; the original is unchanged", path.display())]
    Io {
        /// What was being done.
        step: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl WriteError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            WriteError::Changed { .. } => {
                "the file changed while tierctl ran: run the command again".into()
            }
            WriteError::ChangedWhileWriting { kept: None, .. } => {
                "another program (an editor?) saved the file meanwhile and its edit is in the file: finish editing, then run the command again".into()
            }
            WriteError::ChangedWhileWriting { kept: Some(kept), .. } => format!(
                "another program (an editor?) saved the file meanwhile: merge `{}` into the file by hand, then run the command again",
                kept.display()
            ),
            WriteError::ReadOnly { .. } | WriteError::Io { .. } => {
                "check the file's permissions and free space".into()
            }
        }
    }
}

/// SHA-256 of `text`.
pub fn hash(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// `YYYYmmddTHHMMSS` (UTC) for backup names.
pub fn timestamp(now: SystemTime) -> String {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// How the temp file is opened (tests inject a failing one).
pub type OpenTemp = dyn Fn(&Path) -> io::Result<File>;

/// Opens a new temp file at `path` (must not exist).
pub fn open_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Create `path` (it must not exist) with `text`: through a temporary file beside it, fsynced,
/// linked in without replacing anything (a hard link fails when `path` appeared meanwhile), the
/// directory fsynced. A crash leaves either no file or the whole one (and perhaps the temporary
/// file, named `.<name>.tierctl-<pid>`).
pub fn create_new(path: &Path, text: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tierctl-{}", std::process::id()));
    let mut file = open_new(&temp)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::hard_link(&temp, path));
    let _ = std::fs::remove_file(&temp);
    written?;
    File::open(dir)?.sync_all()
}

/// Writes every file (first checking all of them); returns the backups made.
pub fn write_all(files: &[FileWrite], stamp: &str) -> Result<Vec<PathBuf>, WriteError> {
    write_all_with(files, stamp, &open_new)
}

/// [`write_all`] with the temp file opened by `open_temp`.
pub fn write_all_with(
    files: &[FileWrite],
    stamp: &str,
    open_temp: &OpenTemp,
) -> Result<Vec<PathBuf>, WriteError> {
    for file in files {
        Original::read(file)?;
    }
    files
        .iter()
        .map(|file| write_one(file, stamp, open_temp))
        .collect()
}

fn io_error(step: &'static str, path: &Path) -> impl FnOnce(io::Error) -> WriteError {
    let path = path.to_path_buf();
    move |source| WriteError::Io { step, path, source }
}

/// The file as it was read and hashed: its real path, an open descriptor, its bytes.
struct Original {
    /// The real file (symlinks resolved).
    real: PathBuf,
    /// Open for reading since the hash was taken.
    handle: File,
    meta: fs::Metadata,
    bytes: Vec<u8>,
}

impl Original {
    /// Opens the real file behind `file.path`, reads it and checks its hash and permissions.
    fn read(file: &FileWrite) -> Result<Original, WriteError> {
        let real = fs::canonicalize(&file.path).map_err(io_error("resolve", &file.path))?;
        let mut handle = File::open(&real).map_err(io_error("read", &real))?;
        let mut bytes = Vec::new();
        handle
            .read_to_end(&mut bytes)
            .map_err(io_error("read", &real))?;
        if hash_bytes(&bytes) != file.read_hash {
            return Err(WriteError::Changed {
                path: file.path.clone(),
            });
        }
        let meta = handle.metadata().map_err(io_error("inspect", &real))?;
        if meta.permissions().mode() & 0o222 == 0 {
            return Err(WriteError::ReadOnly {
                path: file.path.clone(),
            });
        }
        Ok(Original {
            real,
            handle,
            meta,
            bytes,
        })
    }

    /// Whether the real path still names this file, with the bytes that were hashed.
    fn unchanged_at_path(&self) -> bool {
        let Ok(mut now) = File::open(&self.real) else {
            return false;
        };
        let mut bytes = Vec::new();
        now.metadata().is_ok_and(|m| same_inode(&m, &self.meta))
            && now.read_to_end(&mut bytes).is_ok()
            && bytes == self.bytes
    }
}

fn same_inode(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// SHA-256 of raw bytes.
fn hash_bytes(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn write_one(file: &FileWrite, stamp: &str, open_temp: &OpenTemp) -> Result<PathBuf, WriteError> {
    let original = Original::read(file)?;
    let real = &original.real;
    let changed = || WriteError::ChangedWhileWriting {
        path: file.path.clone(),
        kept: None,
    };
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = real.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(".{name}.tierctl-{}.tmp", std::process::id()));
    if !original.unchanged_at_path() {
        return Err(changed());
    }
    // the backup holds the bytes the hash was taken of, never what is there a moment later
    let backup = create_unique(dir, &name, stamp, "bak", &original.bytes, &original.meta)?;
    let result = create_synced(&temp, file.text.as_bytes(), &original.meta, open_temp)
        .and_then(|()| {
            if original.unchanged_at_path() {
                Ok(())
            } else {
                Err(changed())
            }
        })
        .and_then(|()| swap_in(&original, &temp, file, stamp));
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        let _ = fs::remove_file(&backup);
        return Err(e);
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(backup)
}

/// Creates `NAME.tierctl-STAMP.EXT` in `dir` holding `bytes` (`-2`, `-3`, ... before the
/// extension when one of the same second exists: an earlier one is never overwritten).
fn create_unique(
    dir: &Path,
    name: &str,
    stamp: &str,
    ext: &str,
    bytes: &[u8],
    like: &fs::Metadata,
) -> Result<PathBuf, WriteError> {
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let path = dir.join(format!("{name}.tierctl-{stamp}{suffix}.{ext}"));
        match create_synced(&path, bytes, like, &|p| open_new(p)) {
            Err(WriteError::Io { source, .. })
                if source.kind() == io::ErrorKind::AlreadyExists && n < 1000 =>
            {
                n += 1;
            }
            other => return other.map(|()| path),
        }
    }
}

/// Creates `path` (through `open`) holding `bytes`, fsynced, with `like`'s mode and owner.
fn create_synced(
    path: &Path,
    bytes: &[u8],
    like: &fs::Metadata,
    open: &OpenTemp,
) -> Result<(), WriteError> {
    let mut out = open(path).map_err(io_error("create", path))?;
    let result = (|| {
        out.write_all(bytes)
            .and_then(|()| out.flush())
            .map_err(io_error("write", path))?;
        out.sync_all().map_err(io_error("sync", path))?;
        fs::set_permissions(path, like.permissions()).map_err(io_error("set the mode of", path))?;
        // keeping the owner needs privileges when it is not ours: try, and accept refusal
        // only when the owner is already right
        if let Err(e) = std::os::unix::fs::chown(path, Some(like.uid()), Some(like.gid())) {
            let t = fs::metadata(path).map_err(io_error("inspect", path))?;
            if (t.uid(), t.gid()) != (like.uid(), like.gid()) {
                return Err(io_error("set the owner of", path)(e));
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// Puts the fsynced `temp` in place of the real file, then makes sure the file it displaced
/// still holds the hashed bytes; when it does not, the swap is undone.
fn swap_in(
    original: &Original,
    temp: &Path,
    file: &FileWrite,
    stamp: &str,
) -> Result<(), WriteError> {
    let real = &original.real;
    if !exchange(temp, real).map_err(io_error("replace", real))? {
        // no atomic exchange here: a plain rename, then the same check on the displaced file
        fs::rename(temp, real).map_err(io_error("replace", real))?;
        if displaced_unchanged(&original.handle, &original.bytes) {
            return Ok(());
        }
        // put the other program's text back (here an edit made in the moment between the
        // rename and this one could still be lost: only where there is no exchange)
        let kept = keep(real, stamp, &original.handle, &original.meta)?;
        fs::rename(&kept, real).map_err(io_error("restore", real))?;
        return Err(WriteError::ChangedWhileWriting {
            path: file.path.clone(),
            kept: None,
        });
    }
    // `temp` now names the displaced file
    let same = fs::metadata(temp).is_ok_and(|m| same_inode(&m, &original.meta));
    if same && displaced_unchanged(&original.handle, &original.bytes) {
        return fs::remove_file(temp).map_err(io_error("remove", temp));
    }
    // another program wrote meanwhile: put its file back, then look at what we had put in
    exchange(temp, real).map_err(io_error("restore", real))?;
    let ours = File::open(temp).map_err(io_error("read", temp))?;
    let kept = if displaced_unchanged(&ours, file.text.as_bytes()) {
        None
    } else {
        Some(keep(real, stamp, &ours, &original.meta)?)
    };
    Err(WriteError::ChangedWhileWriting {
        path: file.path.clone(),
        kept,
    })
}

/// Saves what `from` holds beside `real` as `NAME.tierctl-STAMP.conflict`, with `like`'s mode
/// and owner.
fn keep(real: &Path, stamp: &str, from: &File, like: &fs::Metadata) -> Result<PathBuf, WriteError> {
    let name = real
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut bytes = Vec::new();
    let mut reader = from;
    std::io::Seek::seek(&mut reader, io::SeekFrom::Start(0))
        .and_then(|_| reader.read_to_end(&mut bytes))
        .map_err(io_error("read the displaced text of", real))?;
    let dir = real.parent().unwrap_or(Path::new("."));
    create_unique(dir, &name, stamp, "conflict", &bytes, like)
}

/// Atomically exchanges `a` and `b` (both must exist); `false` when this system or filesystem
/// cannot.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use nix::errno::Errno;
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    match renameat2(AT_FDCWD, a, AT_FDCWD, b, RenameFlags::RENAME_EXCHANGE) {
        Ok(()) => Ok(true),
        Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Whether the file open as `handle` (no longer reachable at its path) holds `expected`, once
/// nobody has it open for writing any more: a writer that opened it before it was displaced
/// may still append, so wait (a read lease is granted only without writers, up to 2 s).
/// Where leases are not available, the content alone decides.
fn displaced_unchanged(handle: &File, expected: &[u8]) -> bool {
    let leased = wait_for_no_writers(handle, Duration::from_secs(2));
    if leased == Lease::Writers {
        return false;
    }
    let mut bytes = Vec::new();
    let mut reader = handle;
    let same = std::io::Seek::seek(&mut reader, io::SeekFrom::Start(0)).is_ok()
        && reader.read_to_end(&mut bytes).is_ok()
        && bytes == expected;
    if leased == Lease::Held {
        set_lease(handle, Lease::Released);
    }
    same
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lease {
    /// A read lease is held: nobody has the file open for writing.
    Held,
    /// Someone kept it open for writing.
    Writers,
    /// Leases are not available (filesystem, owner, system).
    Unavailable,
    /// Released.
    Released,
}

fn wait_for_no_writers(handle: &File, within: Duration) -> Lease {
    let started = Instant::now();
    loop {
        match set_lease(handle, Lease::Held) {
            Lease::Writers if started.elapsed() < within => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// `fcntl(F_SETLEASE)`: take a read lease (`Held`) or release it (`Released`).
#[cfg(target_os = "linux")]
fn set_lease(handle: &File, want: Lease) -> Lease {
    use nix::libc;
    use std::os::fd::AsRawFd;
    let arg = if want == Lease::Held {
        libc::F_RDLCK
    } else {
        libc::F_UNLCK
    };
    // SAFETY: F_SETLEASE takes an int argument; the descriptor is open for `handle`'s lifetime
    let rc = unsafe { libc::fcntl(handle.as_raw_fd(), libc::F_SETLEASE, arg as libc::c_int) };
    match (rc, io::Error::last_os_error().raw_os_error()) {
        (0, _) => want,
        (_, Some(libc::EAGAIN)) => Lease::Writers,
        _ => Lease::Unavailable,
    }
}

#[cfg(not(target_os = "linux"))]
fn set_lease(_: &File, _: Lease) -> Lease {
    Lease::Unavailable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_utc_civil_time() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(timestamp(t), "20231114T221320");
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000");
    }

    fn setup(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("compose.yaml");
        fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn writes_with_backup_and_keeps_the_mode() {
        let (dir, path) = setup("a: 1\n");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let backups = write_all(
            &[FileWrite {
                path: path.clone(),
                read_hash: hash("a: 1\n"),
                text: "a: 2\n".into(),
            }],
            "20240101T000000",
        )
        .expect("written");
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 2\n");
        assert_eq!(
            backups,
            [dir.path().join("compose.yaml.tierctl-20240101T000000.bak")]
        );
        assert_eq!(fs::read_to_string(&backups[0]).expect("read"), "a: 1\n");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 2);
    }

    #[test]
    fn refuses_a_file_changed_since_read() {
        let (_dir, path) = setup("a: 1\n");
        let err = write_all(
            &[FileWrite {
                path: path.clone(),
                read_hash: hash("a: 0\n"),
                text: "a: 2\n".into(),
            }],
            "s",
        )
        .expect_err("refused");
        assert!(matches!(err, WriteError::Changed { .. }));
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 1\n");
    }

    #[test]
    fn full_disk_leaves_the_original_and_no_temp() {
        let (dir, path) = setup("a: 1\n");
        // /dev/full fails every write with ENOSPC, as a full filesystem does
        let full = |_: &Path| OpenOptions::new().write(true).open("/dev/full");
        let err = write_all_with(
            &[FileWrite {
                path: path.clone(),
                read_hash: hash("a: 1\n"),
                text: "a: 2\n".repeat(1000),
            }],
            "s",
            &full,
        )
        .expect_err("disk full");
        let WriteError::Io { source, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(source.raw_os_error(), Some(nix::libc::ENOSPC));
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 1\n");
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn refuses_a_read_only_file() {
        let (_dir, path) = setup("a: 1\n");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).expect("chmod");
        let err = write_all(
            &[FileWrite {
                path: path.clone(),
                read_hash: hash("a: 1\n"),
                text: "a: 2\n".into(),
            }],
            "s",
        )
        .expect_err("read-only");
        assert!(matches!(err, WriteError::ReadOnly { .. }));
    }

    fn planned(path: &Path, old: &str, new: &str) -> FileWrite {
        FileWrite {
            path: path.to_path_buf(),
            read_hash: hash(old),
            text: new.into(),
        }
    }

    #[test]
    fn an_append_after_the_last_check_is_kept_and_the_swap_undone() {
        let (dir, path) = setup("a: 1\n");
        let file = planned(&path, "a: 1\n", "a: 2\n");
        let original = Original::read(&file).expect("read");
        let temp = dir.path().join(".compose.yaml.tmp");
        fs::write(&temp, "a: 2\n").expect("temp");
        // the editor appends between the last check and the swap
        let mut editor = OpenOptions::new().append(true).open(&path).expect("open");
        editor.write_all(b"# edit\n").expect("append");
        drop(editor);
        let err = swap_in(&original, &temp, &file, "s").expect_err("refused");
        assert!(
            matches!(err, WriteError::ChangedWhileWriting { kept: None, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("changed on disk while tierctl was writing")
        );
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 1\n# edit\n");
    }

    #[test]
    fn a_file_replaced_by_an_editor_after_the_last_check_is_put_back() {
        let (dir, path) = setup("a: 1\n");
        let file = planned(&path, "a: 1\n", "a: 2\n");
        let original = Original::read(&file).expect("read");
        let temp = dir.path().join(".compose.yaml.tmp");
        fs::write(&temp, "a: 2\n").expect("temp");
        // vim-style save: a new file renamed over the old one
        let saved = dir.path().join("compose.yaml~");
        fs::write(&saved, "a: 1\nb: 2\n").expect("save");
        fs::rename(&saved, &path).expect("rename");
        let err = swap_in(&original, &temp, &file, "s").expect_err("refused");
        assert!(
            matches!(err, WriteError::ChangedWhileWriting { .. }),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 1\nb: 2\n");
    }

    #[test]
    fn a_symlinked_file_keeps_its_link_and_the_real_file_is_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("real")).expect("mkdir");
        let real = dir.path().join("real/compose.yaml");
        fs::write(&real, "a: 1\n").expect("write");
        let link = dir.path().join("compose.yaml");
        std::os::unix::fs::symlink("real/compose.yaml", &link).expect("link");
        let backups = write_all(&[planned(&link, "a: 1\n", "a: 2\n")], "s").expect("written");
        assert!(fs::symlink_metadata(&link).expect("meta").is_symlink());
        assert_eq!(fs::read_to_string(&real).expect("read"), "a: 2\n");
        let real_dir = dir.path().join("real").canonicalize().expect("canonical");
        assert_eq!(backups, [real_dir.join("compose.yaml.tierctl-s.bak")]);
        assert_eq!(fs::read_dir(&real_dir).expect("dir").count(), 2);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn exchange_swaps_two_files_atomically() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "a").expect("a");
        fs::write(&b, "b").expect("b");
        assert!(exchange(&a, &b).expect("exchange"));
        assert_eq!(fs::read_to_string(&a).expect("a"), "b");
        assert_eq!(fs::read_to_string(&b).expect("b"), "a");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_writer_that_keeps_the_displaced_file_open_counts_as_a_change() {
        let (_dir, path) = setup("a: 1\n");
        let reader = File::open(&path).expect("open");
        let writer = OpenOptions::new().append(true).open(&path).expect("writer");
        assert_eq!(set_lease(&reader, Lease::Held), Lease::Writers);
        let started = Instant::now();
        assert!(!displaced_unchanged(&reader, b"a: 1\n"));
        assert!(started.elapsed() >= Duration::from_secs(2));
        drop(writer);
        assert!(
            displaced_unchanged(&reader, b"a: 1\n"),
            "no writer: the content decides"
        );
    }
}
