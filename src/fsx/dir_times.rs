//! A marker file that leaves its directory's times as they were (issue 26 row 15).
//!
//! Creating and removing a file in a directory sets the directory's mtime: a marker put into a
//! copied database directory on the tier made that directory differ from its source for good.
//! The directory's times before the marker went in are kept in the marker's own atime and
//! mtime, so whoever removes the marker — the run that made it, its interrupt handler, or the
//! next run sweeping a killed run's leftovers — puts them back, but only when nothing else
//! changed the directory meanwhile: the directory's mtime is not later than the marker's ctime
//! (the instant its times were set). On a filesystem with coarse timestamps a change in the
//! same tick as the marker's is not seen; the directory then keeps its old mtime (its entries
//! are unaffected).

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::sys::stat::{UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;

/// Creates the empty file `marker` (never an existing one) in its directory and keeps the
/// directory's atime and mtime from before in the marker's own times.
pub fn create_marker(marker: &Path) -> io::Result<()> {
    let dir = parent(marker)?;
    let before = std::fs::metadata(dir)?;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)?;
    utimensat(
        nix::fcntl::AT_FDCWD,
        marker,
        &TimeSpec::new(before.atime(), before.atime_nsec()),
        &TimeSpec::new(before.mtime(), before.mtime_nsec()),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
}

/// Removes the marker `marker` and gives its directory back the times kept in it, unless the
/// directory changed after the marker was made. A missing marker is no error.
pub fn remove_marker(marker: &Path) -> io::Result<()> {
    let dir = parent(marker)?;
    let kept = match std::fs::symlink_metadata(marker) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let now = std::fs::metadata(dir)?;
    std::fs::remove_file(marker)?;
    let untouched_since = (now.mtime(), now.mtime_nsec()) <= (kept.ctime(), kept.ctime_nsec());
    if untouched_since {
        utimensat(
            nix::fcntl::AT_FDCWD,
            dir,
            &TimeSpec::new(kept.atime(), kept.atime_nsec()),
            &TimeSpec::new(kept.mtime(), kept.mtime_nsec()),
            UtimensatFlags::FollowSymlink,
        )
        .map_err(io::Error::from)?;
    }
    Ok(())
}

fn parent(marker: &Path) -> io::Result<&Path> {
    marker
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("marker `{}` has no directory", marker.display()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn mtime(p: &Path) -> (i64, i64) {
        let m = std::fs::metadata(p).expect("stat");
        (m.mtime(), m.mtime_nsec())
    }

    fn set_old(dir: &Path) {
        utimensat(
            nix::fcntl::AT_FDCWD,
            dir,
            &TimeSpec::new(1_000_000, 5),
            &TimeSpec::new(1_000_000, 7),
            UtimensatFlags::FollowSymlink,
        )
        .expect("utimensat");
    }

    #[test]
    fn issue26_row15_a_removed_marker_leaves_its_directory_mtime_as_it_was() {
        let tmp = tempfile::tempdir().expect("tempdir");
        set_old(tmp.path());
        let marker = tmp.path().join(".tierctl-marker-1-2");
        create_marker(&marker).expect("create");
        assert_ne!(
            mtime(tmp.path()),
            (1_000_000, 7),
            "the marker changed the mtime"
        );
        remove_marker(&marker).expect("remove");
        assert!(!marker.exists());
        assert_eq!(mtime(tmp.path()), (1_000_000, 7));
    }

    #[test]
    fn issue26_row15_a_directory_changed_after_the_marker_keeps_its_new_mtime() {
        let tmp = tempfile::tempdir().expect("tempdir");
        set_old(tmp.path());
        let marker = tmp.path().join(".tierctl-marker-1-2");
        create_marker(&marker).expect("create");
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(tmp.path().join("written-by-the-service"), b"x").expect("write");
        let changed = mtime(tmp.path());
        remove_marker(&marker).expect("remove");
        assert!(mtime(tmp.path()) >= changed, "a later change is kept");
        assert_ne!(mtime(tmp.path()), (1_000_000, 7));
    }

    #[test]
    fn removing_a_missing_marker_is_no_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        remove_marker(&tmp.path().join(".tierctl-marker-1-2")).expect("no error");
    }
}
