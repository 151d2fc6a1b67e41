//! The project lock (an effect): an OS file lock (`flock`) on `<project dir>/.tierctl/lock`,
//! held for the whole run by every command that writes (`migrate`, `rewrite --write`,
//! `tiers link`). The holder's pid, command line and start time are written into the file so a
//! second run is refused at once, naming the holder. The kernel releases the lock when its
//! holder dies, so a lock file whose holder is gone (stale content) is simply taken over.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The lock file of a project whose state directory (`journal::dir`) is `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("lock")
}

/// Who holds a lock: what is written into the lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The process id.
    pub pid: u32,
    /// Its command line, as a shell would show it.
    pub command: String,
    /// When it took the lock (seconds since the epoch).
    pub since: u64,
}

impl Holder {
    /// This process, now.
    pub fn this_process() -> Holder {
        let mut args = std::env::args();
        let program = args
            .next()
            .map(|a| {
                Path::new(&a)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(a)
            })
            .unwrap_or_else(|| "tierctl".into());
        Holder {
            pid: std::process::id(),
            command: command_line(program, args),
            since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// `pid 1234 (`tierctl migrate --yes`, since 12:03:04 UTC)`.
    pub fn describe(&self) -> String {
        format!(
            "pid {} (`{}`, since {})",
            self.pid,
            self.command,
            clock(self.since)
        )
    }
}

/// This process's command line as a shell would show it (`tierctl migrate --rollback`).
pub fn command_line_of_this_process() -> String {
    Holder::this_process().command
}

/// The arguments joined with spaces, each quoted when a shell would need it.
fn command_line(program: String, args: impl Iterator<Item = String>) -> String {
    std::iter::once(program)
        .chain(args.map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
            if plain {
                a
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `HH:MM:SS UTC`, with the date in front when it is not today.
fn clock(secs: u64) -> String {
    let stamp = crate::write::timestamp(UNIX_EPOCH + Duration::from_secs(secs));
    let today = crate::write::timestamp(SystemTime::now());
    let time = format!(
        "{}:{}:{} UTC",
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    if stamp[..8] == today[..8] {
        time
    } else {
        format!("{}-{}-{} {time}", &stamp[..4], &stamp[4..6], &stamp[6..8])
    }
}

/// Why the lock was not taken.
#[derive(Debug, Error)]
pub enum LockError {
    /// Another run holds it.
    #[error("project `{project}` is locked by {}", holder.as_ref().map_or_else(|| "another tierctl run".to_owned(), Holder::describe))]
    Held {
        /// The project name.
        project: String,
        /// The lock file.
        path: PathBuf,
        /// Who holds it (`None` when the file does not say yet).
        holder: Option<Holder>,
    },
    /// The lock file could not be made or locked.
    #[error("cannot {step} the project lock `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        step: &'static str,
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl LockError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            LockError::Held {
                holder: Some(h), ..
            } => format!(
                "wait until it has finished (or stop it: `kill {}`), then run the command again",
                h.pid
            ),
            LockError::Held { path, .. } => format!(
                "wait until the other tierctl run has finished (`fuser {}` names it), then run the command again",
                path.display()
            ),
            LockError::Io { .. } => {
                "check that the directory beside the compose file is writable".into()
            }
        }
    }
}

/// The project lock; released (and its content cleared) when dropped.
#[derive(Debug)]
pub struct ProjectLock {
    file: Flock<File>,
    path: PathBuf,
    /// The holder whose stale content was found and taken over, if any.
    pub took_over: Option<Holder>,
}

impl ProjectLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // an empty lock file means "released cleanly"; the flock itself goes with the file
        let _ = self.file.set_len(0);
    }
}

/// Takes the lock of project `project` whose state directory is `state_dir`, at once or not at
/// all.
pub fn acquire(project: &str, state_dir: &Path) -> Result<ProjectLock, LockError> {
    let path = path(state_dir);
    let io = |step, source| LockError::Io {
        step,
        path: path.clone(),
        source,
    };
    fs::create_dir_all(state_dir).map_err(|e| io("create the directory of", e))?;
    // a lock file removed and re-created by someone while we waited is a different file:
    // retry on the new one so two runs never hold locks on two different files
    for _ in 0..8 {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                return Err(LockError::Held {
                    project: project.to_owned(),
                    holder: read_holder(&mut file),
                    path,
                });
            }
            Err((_, errno)) => return Err(io("lock", errno.into())),
        };
        if !same_file(&file, &path) {
            continue;
        }
        let took_over = read_content(&mut file)
            .ok()
            .and_then(|text| serde_json::from_str::<Holder>(&text).ok());
        write_holder(&mut file, &Holder::this_process()).map_err(|e| io("write", e))?;
        return Ok(ProjectLock {
            file,
            path,
            took_over,
        });
    }
    Err(io(
        "lock",
        io::Error::other("the lock file keeps being replaced"),
    ))
}

/// A project's state directory, `<project dir>/.tierctl`: its lock and its migrate journals.
pub fn state_dir(project_dir: &Path) -> PathBuf {
    project_dir.join(".tierctl")
}

/// Takes the lock of a loaded compose project (in its state directory); a stale lock taken
/// over is noted on stderr.
pub fn project(project: &crate::compose::model::ComposeProject) -> Result<ProjectLock, LockError> {
    let lock = acquire(&project.name, &state_dir(&project.dir))?;
    if let Some(stale) = &lock.took_over {
        eprintln!(
            "note: took over the lock of {}, which is no longer running",
            stale.describe()
        );
    }
    Ok(lock)
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

fn read_content(file: &mut File) -> io::Result<String> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// The holder named in a lock file another run holds; it may be writing it right now, so
/// look a few times.
fn read_holder(file: &mut File) -> Option<Holder> {
    for _ in 0..20 {
        // a stale holder (the new one has not written itself yet) is not named
        if let Some(holder) = read_content(file)
            .ok()
            .and_then(|text| serde_json::from_str::<Holder>(&text).ok())
            .filter(|h| maybe_alive(h.pid))
        {
            return Some(holder);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// `false` only when the process surely does not exist (Linux: no `/proc/PID`).
pub fn maybe_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

fn write_holder(file: &mut File, holder: &Holder) -> io::Result<()> {
    let text = serde_json::to_string(holder).map_err(io::Error::other)?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(format!("{text}\n").as_bytes())?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_quoted_like_a_shell() {
        let args = ["migrate", "--yes", "-f", "my file.yaml", "it's"].map(String::from);
        assert_eq!(
            command_line("tierctl".into(), args.into_iter()),
            r"tierctl migrate --yes -f 'my file.yaml' 'it'\''s'"
        );
    }

    #[test]
    fn a_second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = acquire("app", dir.path()).expect("first");
        assert!(first.took_over.is_none());
        let err = acquire("app", dir.path()).expect_err("second refused");
        let LockError::Held {
            holder: Some(holder),
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(holder.pid, std::process::id());
        assert!(err.to_string().starts_with(&format!(
            "project `app` is locked by pid {} (`",
            std::process::id()
        )));
        assert!(err.hint().contains(&format!("kill {}", std::process::id())));
        drop(first);
        let again = acquire("app", dir.path()).expect("free again");
        assert!(
            again.took_over.is_none(),
            "a clean release leaves no holder"
        );
    }

    #[test]
    fn a_stale_lock_file_is_taken_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dead = Holder {
            pid: 999_999,
            command: "tierctl migrate --yes".into(),
            since: 0,
        };
        fs::write(
            path(dir.path()),
            serde_json::to_string(&dead).expect("json"),
        )
        .expect("write");
        let lock = acquire("app", dir.path()).expect("taken over");
        assert_eq!(lock.took_over, Some(dead));
        let text = fs::read_to_string(lock.path()).expect("read");
        let now: Holder = serde_json::from_str(&text).expect("holder");
        assert_eq!(now.pid, std::process::id());
    }

    #[test]
    fn clock_shows_the_date_only_when_not_today() {
        assert_eq!(clock(1_700_000_000), "2023-11-14 22:13:20 UTC");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        assert!(clock(now).ends_with(" UTC") && clock(now).len() == 12);
    }
}
