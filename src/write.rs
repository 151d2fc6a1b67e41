//! Writing rewritten files (an effect): only files whose text changed, each after a timestamped
//! backup, through a temp file in the same directory that is fsynced and renamed over the
//! original, keeping its mode and owner. A file whose content changed since it was read is
//! refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use thiserror::Error;

/// One file to write.
#[derive(Clone, Debug)]
pub struct FileWrite {
    /// The file.
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
        check(file)?;
    }
    files
        .iter()
        .map(|file| write_one(file, stamp, open_temp))
        .collect()
}

fn check(file: &FileWrite) -> Result<(), WriteError> {
    let io = |step, source| WriteError::Io {
        step,
        path: file.path.clone(),
        source,
    };
    let current = fs::read_to_string(&file.path).map_err(|e| io("read", e))?;
    if hash(&current) != file.read_hash {
        return Err(WriteError::Changed {
            path: file.path.clone(),
        });
    }
    let meta = fs::metadata(&file.path).map_err(|e| io("inspect", e))?;
    if meta.permissions().mode() & 0o222 == 0 {
        return Err(WriteError::ReadOnly {
            path: file.path.clone(),
        });
    }
    Ok(())
}

fn write_one(file: &FileWrite, stamp: &str, open_temp: &OpenTemp) -> Result<PathBuf, WriteError> {
    check(file)?;
    let path = &file.path;
    let io = |step, at: &Path, source| WriteError::Io {
        step,
        path: at.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(|e| io("inspect", path, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    let backup = dir.join(format!("{name}.tierctl-{stamp}.bak"));
    fs::copy(path, &backup).map_err(|e| io("back up", &backup, e))?;
    let temp = dir.join(format!(".{name}.tierctl-{}.tmp", std::process::id()));
    let result = (|| {
        let mut out = open_temp(&temp).map_err(|e| io("create", &temp, e))?;
        out.write_all(file.text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| io("write", &temp, e))?;
        out.sync_all().map_err(|e| io("sync", &temp, e))?;
        fs::set_permissions(&temp, meta.permissions())
            .map_err(|e| io("set the mode of", &temp, e))?;
        // keeping the owner needs privileges when it is not ours: try, and accept refusal
        // only when the owner is already right
        if let Err(e) = std::os::unix::fs::chown(&temp, Some(meta.uid()), Some(meta.gid())) {
            let t = fs::metadata(&temp).map_err(|e| io("inspect", &temp, e))?;
            if (t.uid(), t.gid()) != (meta.uid(), meta.gid()) {
                return Err(io("set the owner of", &temp, e));
            }
        }
        fs::rename(&temp, path).map_err(|e| io("replace", path, e))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
        let _ = fs::remove_file(&backup);
    }
    result.map(|()| backup)
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
}
