//! One file's copy from the warmer branch to the colder one: the parent directories made with
//! the warmer ones' owner and mode, the bytes copied to a temporary name while hashed, owner,
//! mode and times set, file and directory fsynced, the copy hashed again from the medium
//! (`posix_fadvise(DONTNEED)` first: migrate's `hash_file`), then renamed into place (the
//! batch fsyncs the directories). The warmer copy is removed by [`remove_warm`], never here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use super::durable::{Failpoints, Step};
use crate::durable::sync_dir;
use crate::migrate::host_apply;
use crate::migrate::tree::ReadFrom;
use crate::migrate::tree::host::hash_file;
use crate::migrate::tree::manifest::Digest;
use crate::migrate::tree::xattrs;

/// The prefix of a temporary copy's name; the scan passes such files over.
pub const TEMP_PREFIX: &str = ".tierctl-move.";

/// Where one file is on both branches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The warmer copy.
    pub warm: PathBuf,
    /// Its place on the colder branch.
    pub cold: PathBuf,
    /// The temporary copy beside it.
    pub temp: PathBuf,
}

impl Paths {
    /// The paths of `rel` between branch directories `from` and `to`.
    pub fn new(from: &Path, to: &Path, rel: &str) -> Paths {
        let cold = to.join(rel);
        let name = cold
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = cold.with_file_name(format!("{TEMP_PREFIX}{name}"));
        Paths {
            warm: from.join(rel),
            cold,
            temp,
        }
    }
}

/// Makes the directories of `rel` below `to` that are missing, each with the owner and mode of
/// its counterpart below `from`; each one's parent is fsynced.
pub fn make_dirs(from: &Path, to: &Path, rel: &str, failpoints: &Failpoints) -> io::Result<()> {
    let Some(parent) = Path::new(rel).parent() else {
        return Ok(());
    };
    let mut sub = PathBuf::new();
    for component in parent.components() {
        sub.push(component);
        let target = to.join(&sub);
        if target.is_dir() {
            continue;
        }
        let meta = fs::metadata(from.join(&sub))?;
        failpoints.at(Step::DirCreate)?;
        match fs::create_dir(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        std::os::unix::fs::chown(&target, Some(meta.uid()), Some(meta.gid()))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        if let Some(up) = target.parent() {
            sync_dir(up)?;
        }
    }
    Ok(())
}

/// Copies the warmer file to the temporary name and returns the hash of the bytes read; the
/// copy has the warmer file's owner, mode, extended attributes (POSIX ACLs and
/// `security.capability` among them, set after the owner and mode: chown clears the capability),
/// holes (punched where the warmer file has them) and access and modification times
/// (nanoseconds), and is synced with its directory. `pace` is called with each chunk's size (the
/// rate limit).
pub fn copy_to_temp(
    paths: &Paths,
    failpoints: &Failpoints,
    pace: &mut dyn FnMut(u64),
) -> io::Result<String> {
    let mut source = open_noatime(&paths.warm)?;
    let meta = source.metadata()?;
    failpoints.at(Step::TempWrite)?;
    let mut copy = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&paths.temp)?;
    let mut hasher = Digest::Blake3.hasher();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        copy.write_all(&buf[..n])?;
        pace(n as u64);
    }
    host_apply::keep_holes(&source, &copy)?;
    std::os::unix::fs::fchown(&copy, Some(meta.uid()), Some(meta.gid()))?;
    copy.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    if let Some(xattrs) = xattrs::read(&paths.warm)? {
        xattrs::write(&paths.temp, &xattrs)?;
    }
    let times = fs::FileTimes::new()
        .set_accessed(meta.accessed()?)
        .set_modified(meta.modified()?);
    copy.set_times(times)?;
    failpoints.at(Step::TempSync)?;
    copy.sync_all()?;
    // its directory entry is made durable under its final name, after the rename
    Ok(hasher.finish().to_string())
}

/// Opens the warmer copy without touching its access time (`O_NOATIME`: an `age: atime` rule
/// must not see a file read by the mover as used); where that is refused (`EPERM`: not the
/// owner and no `CAP_FOWNER`), as usual.
fn open_noatime(path: &Path) -> io::Result<File> {
    let noatime = nix::fcntl::OFlag::O_NOATIME.bits();
    match OpenOptions::new()
        .read(true)
        .custom_flags(noatime)
        .open(path)
    {
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EPERM as i32) => File::open(path),
        other => other,
    }
}

/// The first extended attribute of the warmer file the copy does not have with the same value
/// (a colder branch whose filesystem cannot hold it: the file stays on its warmer branch);
/// `None` when all are kept. A warmer filesystem without any is nothing to keep.
pub fn xattr_not_kept(paths: &Paths) -> io::Result<Option<String>> {
    let Some(warm) = xattrs::digests_of(&paths.warm)? else {
        return Ok(None);
    };
    let copy = xattrs::digests_of(&paths.temp)?.unwrap_or_default();
    Ok(warm
        .into_iter()
        .find(|(name, digest)| copy.get(name) != Some(digest))
        .map(|(name, _)| name))
}

/// The temporary copy's hash read back from the medium.
pub fn hash_from_medium(path: &Path) -> io::Result<String> {
    hash_file(path, Digest::Blake3, &AtomicU64::new(0), ReadFrom::Medium).map(|h| h.to_string())
}

/// Renames the verified temporary copy into place; the caller fsyncs the directory (once for
/// a batch, before any warmer copy goes).
pub fn place(paths: &Paths, failpoints: &Failpoints) -> io::Result<()> {
    failpoints.at(Step::Rename)?;
    fs::rename(&paths.temp, &paths.cold)
}

/// Removes the warmer copy (after the verify); its directory fsynced.
pub fn remove_warm(paths: &Paths, failpoints: &Failpoints) -> io::Result<()> {
    failpoints.at(Step::WarmRemove)?;
    fs::remove_file(&paths.warm)?;
    match paths.warm.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Removes `path` (a temporary copy or a colder copy given up) when it is there; its directory
/// fsynced.
pub fn remove_if_there(path: &Path, step: Step, failpoints: &Failpoints) -> io::Result<()> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    failpoints.at(step)?;
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}
