//! The share probe (`tierctl vm --probe`): what each VM share keeps, measured from inside a
//! helper container on the engine.
//!
//! For each writable share tierctl makes a scratch directory in the share's host directory and
//! runs one helper container on the engine with it bound read-write at [`TARGET`] (and its `etc`
//! subdirectory at `/etc`, for the lock measure below). The helper chowns, chmods, links,
//! fsyncs and compares names differing in case there, and prints what reads back; the host side
//! holds a POSIX lock and writes a file while the helper watches. The scratch directory is
//! removed afterwards.
//!
//! What the helper image can do decides what is measured. The test image and Debian's busybox
//! have no `flock`, `inotifyd` or `fsync` applet:
//!
//! * `fsync`: busybox `sync FILE` calls `fsync(2)` on the file;
//! * POSIX locks: busybox `passwd` rewrites `/etc/passwd` under an `fcntl(F_SETLK)` whole-file
//!   write lock and warns `can't lock` when another process holds one. The host holds such a
//!   lock on the scratch `etc/passwd` while the helper runs `passwd -d root` on it (bound at
//!   `/etc`): the warning means the lock crossed the share;
//! * host inotify: with `inotifyd` (busybox:1.36 has it) or `inotifywait` in the image the
//!   helper watches the scratch directory, says it is ready, and the host writes a file there;
//!   without either, not measured;
//! * mmap coherence: busybox has no tool that maps a file, so the helper image carries our
//!   static `tierctl-mmap` (`crates/tierctl-mmap`, put there by `.ci/docker` and the VM
//!   harness). Two pairs ping-pong a counter through `MAP_SHARED` mappings of a file of the
//!   scratch directory: the helper with a second container ([`MMAP_CONTAINERS`]), and the helper
//!   with the host, which maps the file itself ([`MMAP_HOST`]). An image without the tool: not
//!   measured, and the notes say so.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use super::helper::{Capability, HelperSpec, MountSource, MountSpec};
use super::probe::mountinfo_entry;
use super::{EngineError, HelperOutput, Helpers};
pub use crate::facts::{ShareKeeps, ShareOutcome, ShareProbe};
use crate::share::Share;
use tierctl_mmap::{NotAnOutcome, Outcome, Party, Side};

/// Where the helper container sees the scratch directory.
pub const TARGET: &str = "/tierctl-share";

/// The owner the helper chowns a file to.
const OWNER: &str = "1234:1234";

/// The mode the helper sets.
const MODE: &str = "751";

/// The file the host writes while the helper watches for inotify events.
const HOST_WRITE: &str = "host-write";

/// The file the helper creates (in `etc/`) once its watch is set.
const READY: &str = "ready";

/// The file the helper and a second container both map (slot 1: the helper, 0: the second).
pub const MMAP_CONTAINERS: &str = "mmap-containers";

/// The file the helper and the host both map (slot 1: the helper, 0: the host).
pub const MMAP_HOST: &str = "mmap-host";

/// The note when the helper image has no `tierctl-mmap`.
const NO_MMAP_TOOL: &str =
    "mmap coherence: not measured: the helper image has no tierctl-mmap (see docs/vm-shares.md)";

/// The `/etc/passwd` the helper's `passwd` rewrites under its lock.
const PASSWD: &str = "root:x:0:0:root:/:/bin/sh\n";

/// How long the host waits for the helper to be ready before it gives up on the inotify step.
const READY_WAIT: Duration = Duration::from_secs(300);

/// The helper's shell script; each `#name` line opens the section [`parse_output`] reads.
const SCRIPT: &str = r#"cd /tierctl-share || exit 1
echo '#mountinfo'
cat /proc/self/mountinfo
echo '#chown'
touch owned && chown 1234:1234 owned 2>&1; stat -c '%u:%g' owned
echo '#mode'
touch moded && chmod 751 moded 2>&1; stat -c '%a' moded
echo '#symlink'
ln -s target-of-link link 2>&1
if [ -L link ]; then echo "link $(readlink link)"; else echo nolink; fi
echo '#hardlink'
touch one && ln one two 2>&1 && stat -c '%h %i' one two
echo '#fsync'
echo data >synced && sync synced 2>&1; echo "rc $?"
echo '#case'
touch Case-Probe
if [ -e case-probe ]; then echo insensitive; else echo sensitive; fi
echo '#mmap'
if command -v tierctl-mmap >/dev/null 2>&1; then
  echo "host $(tierctl-mmap /tierctl-share/mmap-host 1)" &
  mmap_host=$!
  echo "containers $(tierctl-mmap /tierctl-share/mmap-containers 1)"
  wait $mmap_host
else
  echo no-tool
fi
echo '#lock'
if command -v passwd >/dev/null 2>&1; then passwd -d root 2>&1; echo "rc $?"; else echo no-tool; fi
watcher=
if command -v inotifyd >/dev/null 2>&1; then
  inotifyd - /tierctl-share >/etc/events 2>/dev/null &
  watcher=$!
elif command -v inotifywait >/dev/null 2>&1; then
  inotifywait -m -q /tierctl-share >/etc/events 2>/dev/null &
  watcher=$!
fi
if [ -n "$watcher" ]; then
  sleep 1
  touch /etc/ready
  i=0
  while [ ! -e /tierctl-share/host-write ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  sleep 2
  touch /tierctl-share/guest-write
  sleep 1
  kill $watcher
  echo '#inotify'
  if [ -e host-write ]; then grep -c host-write /etc/events || true; else echo no-host-write; fi
  echo "own $(grep -c guest-write /etc/events)"
else
  touch /etc/ready
  echo '#inotify'
  echo no-tool
fi
exit 0
"#;

/// The helper for a scratch directory the engine sees at `scratch`: it read-write at
/// [`TARGET`], its `etc` at `/etc`; `CHOWN` (the chown measure, and `passwd` keeps the file's
/// owner) and `FOWNER` (chmod of a file the share shows under another owner).
pub fn helper_spec(image: &str, scratch: &Path) -> HelperSpec {
    HelperSpec {
        mounts: vec![
            MountSpec {
                source: MountSource::Bind(scratch.to_owned()),
                target: TARGET.into(),
                read_only: false,
            },
            MountSpec {
                source: MountSource::Bind(scratch.join("etc")),
                target: "/etc".into(),
                read_only: false,
            },
        ],
        capabilities: vec![Capability::Chown, Capability::Fowner],
        ..HelperSpec::new(
            "share-probe",
            image,
            vec!["sh".into(), "-c".into(), SCRIPT.into()],
        )
    }
}

/// The second container of the mmap measure: the scratch directory at [`TARGET`], no
/// capability; it maps [`MMAP_CONTAINERS`] as slot 0 (`no-tool` when the image has no
/// `tierctl-mmap`).
pub fn mmap_peer_spec(image: &str, scratch: &Path) -> HelperSpec {
    let script = format!(
        "if command -v tierctl-mmap >/dev/null 2>&1; then tierctl-mmap {TARGET}/{MMAP_CONTAINERS} 0; else echo no-tool; fi"
    );
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(scratch.to_owned()),
            target: TARGET.into(),
            read_only: false,
        }],
        ..HelperSpec::new(
            "share-probe-mmap",
            image,
            vec!["sh".into(), "-c".into(), script],
        )
    }
}

/// Why one party of the mmap measure has no outcome (it did not run, printed nothing readable,
/// or its image has no `tierctl-mmap`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct NotMeasured(pub String);

impl From<&str> for NotMeasured {
    fn from(why: &str) -> Self {
        NotMeasured(why.to_owned())
    }
}

/// What the other parties of the mmap measure saw: the second container's output, the
/// host's outcome (`None` when the host could not take part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmapPeers {
    /// The second container's stdout, or why it did not run.
    pub container: Result<String, NotMeasured>,
    /// What the host's mapping saw.
    pub host: Option<Outcome>,
}

/// Parse the helper's output into what the share keeps.
pub fn parse_output(text: &str, peers: &MmapPeers) -> ShareKeeps {
    let mut sections: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        match line.strip_prefix('#') {
            Some(name) => sections.push((name, Vec::new())),
            None => {
                if let Some((_, lines)) = sections.last_mut() {
                    lines.push(line);
                }
            }
        }
    }
    let section = |name: &str| -> Vec<&str> {
        sections
            .iter()
            .filter(|(n, _)| *n == name)
            .flat_map(|(_, lines)| lines.iter().copied())
            .filter(|l| !l.trim().is_empty())
            .collect()
    };
    let mut keeps = ShareKeeps {
        fs_type: section("mountinfo")
            .iter()
            .find_map(|l| mountinfo_entry(l, TARGET))
            .map(|(fs_type, _)| fs_type),
        ..ShareKeeps::default()
    };
    let notes = &mut keeps.notes;
    keeps.chown = read_back("chown", &section("chown"), OWNER, notes);
    keeps.mode = read_back("chmod", &section("mode"), MODE, notes);
    keeps.symlinks = symlinks(&section("symlink"), notes);
    keeps.hardlinks = hardlinks(&section("hardlink"), notes);
    keeps.fsync = fsync(&section("fsync"), notes);
    keeps.case_sensitive = match section("case").last().copied() {
        Some("sensitive") => Some(true),
        Some("insensitive") => Some(false),
        _ => None,
    };
    keeps.posix_locks_with_host = locks(&section("lock"), notes);
    keeps.host_inotify = inotify(&section("inotify"), notes);
    (keeps.mmap_coherence, keeps.mmap_coherence_with_host) = mmap(&section("mmap"), peers, notes);
    keeps
}

/// The two mmap pairs: (between containers, with the host). A pair is coherent when both of
/// its parties went through every round; not when either got stuck or could not map the file
/// shared and writable (what a database's `-shm` needs); not measured otherwise.
fn mmap(
    lines: &[&str],
    peers: &MmapPeers,
    notes: &mut Vec<String>,
) -> (Option<bool>, Option<bool>) {
    match lines.first() {
        None => {
            notes.push("mmap coherence: not measured (the helper printed nothing for it)".into());
            return (None, None);
        }
        Some(&"no-tool") => {
            notes.push(NO_MMAP_TOOL.into());
            return (None, None);
        }
        Some(_) => {}
    }
    let helper = |pair: &str| -> Result<Outcome, NotMeasured> {
        let line = lines
            .iter()
            .find_map(|l| l.strip_prefix(pair)?.strip_prefix(' '))
            .ok_or_else(|| NotMeasured(format!("the helper printed nothing for {pair}")))?;
        line.parse()
            .map_err(|e: NotAnOutcome| NotMeasured(e.to_string()))
    };
    let second = peers
        .container
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|out| {
            let line = out
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            if line == "no-tool" {
                return Err("the second container's image has no tierctl-mmap".into());
            }
            line.parse()
                .map_err(|e: NotAnOutcome| NotMeasured(e.to_string()))
        });
    let host = peers
        .host
        .clone()
        .ok_or_else(|| NotMeasured::from("the host did not take part"));
    let containers = pair_coherence(
        "between two containers",
        [
            ("the helper", helper("containers")),
            ("the second container", second),
        ],
        notes,
    );
    let with_host = pair_coherence(
        "between the host and a container",
        [("the container", helper("host")), ("the host", host)],
        notes,
    );
    (containers, with_host)
}

/// One pair's coherence from what each of its two parties saw.
fn pair_coherence(
    pair: &str,
    sides: [(&str, Result<Outcome, NotMeasured>); 2],
    notes: &mut Vec<String>,
) -> Option<bool> {
    let mut lost = false;
    let mut unknown = Vec::new();
    for (who, seen) in &sides {
        match seen {
            Ok(Outcome::Coherent { .. }) => {}
            Ok(Outcome::Stuck { round, peer_read }) => {
                lost = true;
                notes.push(format!(
                    "mmap coherence {pair}: {who} did not see its peer's write of round {round} through its mapping within {} s (read {peer_read})",
                    tierctl_mmap::ROUND_WAIT.as_secs()
                ));
            }
            Ok(Outcome::Failed { step, message }) if step == "mmap" => {
                lost = true;
                notes.push(format!(
                    "mmap coherence {pair}: {who} cannot map a file of the share shared and writable ({message})"
                ));
            }
            Ok(Outcome::Failed { step, message }) => {
                unknown.push(format!("{who} failed to {step}: {message}"))
            }
            Ok(Outcome::NoPeer) => unknown.push(format!("{who} never saw its peer start")),
            Err(why) => unknown.push(format!("{who}: {why}")),
        }
    }
    if lost {
        return Some(false);
    }
    if unknown.is_empty() {
        return Some(true);
    }
    notes.push(format!(
        "mmap coherence {pair}: not measured ({})",
        unknown.join("; ")
    ));
    None
}

/// A value set in the container and read back (the section's last line): kept when it reads
/// as `wanted`.
fn read_back(what: &str, lines: &[&str], wanted: &str, notes: &mut Vec<String>) -> Option<bool> {
    let last = lines.last().copied()?;
    if last == wanted {
        return Some(true);
    }
    let said = lines[..lines.len() - 1].join("; ");
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(" ({said})")
    };
    notes.push(format!("{what} to {wanted} reads back as {last}{said}"));
    Some(false)
}

fn symlinks(lines: &[&str], notes: &mut Vec<String>) -> Option<bool> {
    match lines.last().copied()? {
        "link target-of-link" => Some(true),
        other => {
            notes.push(format!(
                "a symlink made in the container reads back as `{other}`"
            ));
            Some(false)
        }
    }
}

/// `%h %i` of both names: kept when both show two links (a share may show each name its own
/// inode number, as sshfs does without `-o use_ino`; noted).
fn hardlinks(lines: &[&str], notes: &mut Vec<String>) -> Option<bool> {
    let stats: Vec<(&str, &str)> = lines.iter().filter_map(|l| l.split_once(' ')).collect();
    match stats.as_slice() {
        [("2", a), ("2", b)] => {
            if a != b {
                notes.push("hardlinks: the two names show different inode numbers".into());
            }
            Some(true)
        }
        _ => {
            notes.push(format!(
                "a hardlink made in the container: {}",
                lines.join("; ")
            ));
            Some(false)
        }
    }
}

fn fsync(lines: &[&str], notes: &mut Vec<String>) -> Option<bool> {
    let rc = lines.last()?.strip_prefix("rc ")?;
    if rc == "0" {
        return Some(true);
    }
    notes.push(format!(
        "fsync failed: {}",
        lines[..lines.len() - 1].join("; ")
    ));
    Some(false)
}

/// busybox `passwd` warns `can't lock` when the host's lock blocks its `fcntl(F_SETLK)`.
fn locks(lines: &[&str], notes: &mut Vec<String>) -> Option<bool> {
    if lines.first() == Some(&"no-tool") {
        notes.push(
            "POSIX locks: not measured (the helper image has no busybox `passwd`, whose fcntl lock the probe uses)"
                .into(),
        );
        return None;
    }
    if lines.iter().any(|l| l.contains("can't lock")) {
        return Some(true);
    }
    if lines.last() == Some(&"rc 0") {
        return Some(false);
    }
    notes.push(format!(
        "POSIX locks: not measured (`passwd` failed: {})",
        lines.join("; ")
    ));
    None
}

/// The count of events for the host's file; the container's own write (`own N`) is the
/// control: a watch that saw not even that measured nothing.
fn inotify(lines: &[&str], notes: &mut Vec<String>) -> Option<bool> {
    let own = lines.iter().find_map(|l| l.strip_prefix("own "));
    if own.is_some_and(|n| n.trim() == "0") {
        notes.push(
            "host inotify: not measured (the watch saw no event for the container's own write either)"
                .into(),
        );
        return None;
    }
    match lines.iter().find(|l| !l.starts_with("own ")).copied() {
        Some("no-tool") => {
            notes.push(
                "host inotify: not measured (the helper image has neither `inotifyd` nor `inotifywait`)"
                    .into(),
            );
            None
        }
        Some("no-host-write") => {
            notes.push(
                "host inotify: not measured (the host's file did not show in the container within 30 s)"
                    .into(),
            );
            None
        }
        Some(count) => match count.parse::<u32>() {
            Ok(n) => Some(n > 0),
            Err(_) => None,
        },
        None => None,
    }
}

/// Probe every share of the VM, one after the other (each is one helper container on the VM).
pub fn probe_shares(
    engine: &(dyn Helpers + Sync),
    image: &str,
    shares: &[Share],
) -> Result<Vec<ShareProbe>, EngineError> {
    shares
        .iter()
        .map(|share| probe_share(engine, image, share))
        .collect()
}

/// Probe one share. Engine errors that concern only this share become
/// [`ShareOutcome::Failed`]; a missing helper image or a dead engine stop the probe with `Err`.
pub fn probe_share(
    engine: &(dyn Helpers + Sync),
    image: &str,
    share: &Share,
) -> Result<ShareProbe, EngineError> {
    let outcome = if !share.writable {
        ShareOutcome::Skipped {
            reason: "read-only share: nothing can be written to measure".into(),
        }
    } else if !share.host.is_dir() {
        ShareOutcome::Skipped {
            reason: "the host directory does not exist".into(),
        }
    } else {
        match Scratch::create(&share.host) {
            Ok(scratch) => measure(engine, image, share, &scratch)?,
            Err(e) => ShareOutcome::Skipped {
                reason: format!("cannot write a scratch directory on the host: {e}"),
            },
        }
    };
    Ok(ShareProbe {
        host: share.host.clone(),
        vm: share.vm.clone(),
        outcome,
    })
}

/// Run the helper on `scratch` while the host holds the lock and writes the watched file.
fn measure(
    engine: &(dyn Helpers + Sync),
    image: &str,
    share: &Share,
    scratch: &Scratch,
) -> Result<ShareOutcome, EngineError> {
    let scratch_vm = share.vm.join(&scratch.name);
    let spec = helper_spec(image, &scratch_vm);
    let peer_spec = mmap_peer_spec(image, &scratch_vm);
    let lock = hold_lock(&scratch.path.join("etc").join("passwd"));
    let done = AtomicBool::new(false);
    let host_party = Party::new(scratch.path.join(MMAP_HOST), Side::Zero);
    let (output, peers) = std::thread::scope(|s| {
        s.spawn(|| write_when_ready(&scratch.path, &done));
        let host = s.spawn(|| host_party.run(&|| done.load(Ordering::Relaxed)));
        let second = s.spawn(|| engine.run_helper(&peer_spec));
        let output = engine.run_helper(&spec);
        done.store(true, Ordering::Relaxed);
        let container = match second.join() {
            Ok(Ok(HelperOutput::Ran(text))) => Ok(text),
            Ok(Ok(HelperOutput::SourceMissing { message })) => Err(NotMeasured(message)),
            Ok(Err(e)) => Err(NotMeasured(e.to_string())),
            Err(_) => Err("the thread running the second container panicked".into()),
        };
        let peers = MmapPeers {
            container,
            host: host.join().ok(),
        };
        (output, peers)
    });
    Ok(match output {
        Ok(HelperOutput::Ran(text)) => {
            let mut keeps = parse_output(&text, &peers);
            if let Err(e) = lock {
                keeps.posix_locks_with_host = None;
                keeps.notes.push(format!(
                    "POSIX locks: not measured (the host could not lock `{}`: {e})",
                    scratch.path.join("etc").join("passwd").display()
                ));
            }
            ShareOutcome::Measured(keeps)
        }
        Ok(HelperOutput::SourceMissing { message }) => ShareOutcome::Failed { message },
        Err(e @ EngineError::Api { .. }) => ShareOutcome::Failed {
            message: e.to_string(),
        },
        Err(e) => return Err(e),
    })
}

/// An `fcntl(F_SETLK)` write lock on the whole of `path`, held while the file stays open.
fn hold_lock(path: &Path) -> std::io::Result<File> {
    use nix::fcntl::{FcntlArg, fcntl};
    use nix::libc;
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let lock = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(&file, FcntlArg::F_SETLK(&lock)).map_err(std::io::Error::from)?;
    Ok(file)
}

/// Once the helper says its watch is set (`etc/ready`), write [`HOST_WRITE`] into the watched
/// directory; give up when the helper ended or after [`READY_WAIT`].
fn write_when_ready(scratch: &Path, done: &AtomicBool) {
    let ready = scratch.join("etc").join(READY);
    let start = Instant::now();
    while !ready.exists() {
        if done.load(Ordering::Relaxed) || start.elapsed() > READY_WAIT {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // a failed write shows as `no-host-write` in the helper's output
    let _ = File::create(scratch.join(HOST_WRITE)).and_then(|mut f| f.write_all(b"host\n"));
}

/// The probe's scratch directory in a share's host directory (mode 0777, so that the helper's
/// root needs no `DAC_OVERRIDE` whatever owner the share shows), with `etc/passwd`; removed
/// when dropped.
struct Scratch {
    path: PathBuf,
    name: String,
}

impl Scratch {
    fn create(dir: &Path) -> std::io::Result<Scratch> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!(".tierctl-share-probe-{}-{nanos}", std::process::id());
        let path = dir.join(&name);
        fs::create_dir(&path)?;
        let scratch = Scratch { path, name };
        let etc = scratch.path.join("etc");
        fs::create_dir(&etc)?;
        for dir in [&scratch.path, &etc] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o777))?;
        }
        for file in [MMAP_CONTAINERS, MMAP_HOST] {
            tierctl_mmap::prepare(&scratch.path.join(file))?;
        }
        let passwd = etc.join("passwd");
        fs::write(&passwd, PASSWD)?;
        fs::set_permissions(&passwd, fs::Permissions::from_mode(0o666))?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests;
