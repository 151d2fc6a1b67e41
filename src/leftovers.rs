//! What a run killed before its own cleanup left behind (issue 26 row 15), swept by the next
//! run that takes over its project lock: its helper containers (`tierctl-<purpose>-<pid>-…`,
//! often only created: a `kill -9` during preflight's bind probe) and its marker files
//! (`.tierctl-marker-<pid>-…`: a `kill -9` at verify mounts left one in the database's
//! directory on the tier). Only those the dead run's pid names; when that pid runs again (the
//! kernel gave it to another process, maybe another tierctl run), nothing is swept, so a live
//! run's helpers and markers are never touched.

use std::path::{Path, PathBuf};

use crate::engine::container::Selector;
use crate::engine::{Containers, EngineError, helper, probe};
use crate::lock::Holder;

/// What a sweep found and removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// The dead run's pid.
    pub pid: u32,
    /// The pid runs again (another process): nothing was swept.
    pub pid_reused: bool,
    /// Names of the helper containers removed.
    pub helpers: Vec<String>,
    /// Marker files removed.
    pub markers: Vec<PathBuf>,
    /// What could not be removed or looked at, each naming its subject.
    pub failed: Vec<String>,
}

impl Swept {
    /// The `note:`/`warning:` lines that say what was swept (none when nothing was left).
    pub fn notes(&self) -> Vec<String> {
        if self.pid_reused {
            return vec![format!(
                "note: pid {} runs again (another process): its helper containers and marker files, if any, were left alone",
                self.pid
            )];
        }
        let mut notes = Vec::new();
        for name in &self.helpers {
            notes.push(format!(
                "note: removed helper container `{name}` left by pid {}",
                self.pid
            ));
        }
        for path in &self.markers {
            notes.push(format!(
                "note: removed marker file `{}` left by pid {}",
                path.display(),
                self.pid
            ));
        }
        for problem in &self.failed {
            notes.push(format!("warning: {problem}"));
        }
        notes
    }
}

/// Removes what the run `dead` (whose lock was taken over) left: its helper containers on each
/// of `engines` (this one, and B of a move to another engine) and its marker files directly in
/// each of `dirs` (the directories a run puts markers in: bind sources and tier roots).
pub fn sweep(dead: &Holder, engines: &[&dyn Containers], dirs: &[PathBuf]) -> Swept {
    let mut swept = Swept {
        pid: dead.pid,
        ..Swept::default()
    };
    if dead.pid == std::process::id() || crate::lock::maybe_alive(dead.pid) {
        swept.pid_reused = true;
        return swept;
    }
    for engine in engines {
        if let Err(e) = helpers(*engine, dead.pid, &mut swept) {
            swept.failed.push(format!(
                "cannot look for the helper containers of pid {}: {e}",
                dead.pid
            ));
        }
    }
    let mut seen: Vec<&Path> = Vec::new();
    for dir in dirs {
        if !seen.contains(&dir.as_path()) {
            seen.push(dir);
            markers(dir, dead.pid, &mut swept);
        }
    }
    swept
}

/// Removes the helper containers `pid` made, in any state.
fn helpers(engine: &dyn Containers, pid: u32, swept: &mut Swept) -> Result<(), EngineError> {
    for container in engine.list(&Selector::Helpers)? {
        if !helper::made_by(&container.name, pid) {
            continue;
        }
        match engine.remove(&container.id) {
            Ok(()) => swept.helpers.push(container.name),
            Err(e) => swept.failed.push(format!(
                "cannot remove helper container `{}`: {e}",
                container.name
            )),
        }
    }
    Ok(())
}

/// Removes the marker files `pid` made directly in `dir` (a missing directory holds none).
fn markers(dir: &Path, pid: u32, swept: &mut Swept) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let is_marker = name.to_str().is_some_and(|n| probe::marker_of(n, pid));
        // a marker is an empty regular file; anything else of that name is not ours
        let plain_file = entry
            .metadata()
            .is_ok_and(|m| m.file_type().is_file() && m.len() == 0);
        if !(is_marker && plain_file) {
            continue;
        }
        let path = entry.path();
        match crate::fsx::remove_marker(&path) {
            Ok(()) => swept.markers.push(path),
            Err(e) => swept.failed.push(format!(
                "cannot remove marker file `{}`: {e}",
                path.display()
            )),
        }
    }
}

/// The directories a run of `project` puts marker files in: its bind sources (the verify of
/// its mounts, the bind probe) and the tier roots (the bind probe of each target's tier).
pub fn marker_dirs(
    project: &crate::compose::model::ComposeProject,
    roots: impl IntoIterator<Item = PathBuf>,
) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = project
        .services
        .values()
        .flat_map(|s| s.mounts.iter())
        .filter_map(|m| m.host_path.clone())
        .collect();
    dirs.extend(roots);
    dirs.sort();
    dirs.dedup();
    dirs
}

/// The sweep after a stale lock was taken over (`lock.took_over`), its notes on stderr; nothing
/// without a lock or when the lock was released cleanly.
pub fn after_takeover(
    lock: Option<&crate::lock::ProjectLock>,
    engines: &[&dyn Containers],
    dirs: &[PathBuf],
) {
    let Some(dead) = lock.and_then(|l| l.took_over.as_ref()) else {
        return;
    };
    for line in sweep(dead, engines, dirs).notes() {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead() -> Holder {
        // a child that has exited and been reaped: its pid is gone
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        Holder {
            pid,
            command: "tierctl migrate --yes".into(),
            since: 0,
        }
    }

    #[test]
    fn issue26_row15_only_the_dead_runs_markers_are_removed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let run = dead();
        let theirs = dir.path().join(format!(".tierctl-marker-{}-17", run.pid));
        let live = dir
            .path()
            .join(format!(".tierctl-marker-{}-17", std::process::id()));
        let data = dir.path().join(format!(".tierctl-marker-{}-18", run.pid));
        std::fs::write(&theirs, "").expect("marker");
        std::fs::write(&live, "").expect("marker");
        std::fs::write(&data, "not a marker: it holds data").expect("file");
        let dirs = [dir.path().to_path_buf(), dir.path().join("missing")];
        let swept = sweep(&run, &[], &dirs);
        assert_eq!(swept.markers, vec![theirs.clone()]);
        assert!(swept.failed.is_empty(), "{swept:?}");
        assert!(!theirs.exists());
        assert!(live.exists() && data.exists());
        let notes = swept.notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains(&format!("left by pid {}", run.pid)));
    }

    #[test]
    fn issue26_row15_a_swept_marker_gives_its_directory_its_mtime_back() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let run = dead();
        let copied = std::fs::File::open(dir.path()).expect("open dir");
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        copied
            .set_times(std::fs::FileTimes::new().set_modified(old))
            .expect("set the directory's mtime");
        // what a run killed at verify mounts leaves: its marker, made as every marker is
        let theirs = dir.path().join(format!(".tierctl-marker-{}-17", run.pid));
        crate::fsx::create_marker(&theirs).expect("marker");
        assert_ne!(
            std::fs::metadata(dir.path()).expect("stat").mtime(),
            1_000_000
        );
        let swept = sweep(&run, &[], &[dir.path().to_path_buf()]);
        assert_eq!(swept.markers, vec![theirs.clone()]);
        assert!(!theirs.exists());
        assert_eq!(
            std::fs::metadata(dir.path()).expect("stat").mtime(),
            1_000_000
        );
    }

    #[test]
    fn issue26_row15_a_pid_that_runs_again_is_never_swept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let me = Holder {
            pid: std::process::id(),
            command: "tierctl migrate".into(),
            since: 0,
        };
        let mine = dir.path().join(format!(".tierctl-marker-{}-17", me.pid));
        std::fs::write(&mine, "").expect("marker");
        let swept = sweep(&me, &[], &[dir.path().to_path_buf()]);
        assert!(swept.pid_reused);
        assert!(mine.exists());
        assert!(swept.notes()[0].contains("left alone"), "{swept:?}");
    }
}
