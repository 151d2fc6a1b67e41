//! What a helper container is on the fake engine: its command run by the host's static busybox
//! (the helper image is busybox too, 1.35 here), chrooted into a directory that holds only its
//! mounts, `/bin` (busybox and its applets), `/proc` and `/dev`, in a private mount namespace.
//! The root is read-only as in the real helper; read-only mounts are remounted read-only. What it
//! does not reproduce: the dropped capabilities, pids and memory limits and the missing network
//! (the engine tests prove the hardening); the helper runs as root with every capability.
//!
//! Nothing is ever deleted recursively: a run's root is removed directory by directory, each one
//! only once empty (its mounts ended with the namespace).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// The static busybox the helpers run with.
pub const BUSYBOX: &str = "/usr/bin/busybox";

/// Why the sandbox cannot run here (not root, no static busybox, no mount namespace); `None`
/// when it can.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some(
            "the fake engine needs root (a copy keeps owners; a helper's mounts need a mount namespace)"
                .into(),
        );
    }
    if !Path::new(BUSYBOX).is_file() {
        return Some(format!(
            "no busybox at `{BUSYBOX}` (apt-get install busybox-static)"
        ));
    }
    let ok = Command::new(BUSYBOX)
        .args(["unshare", "-m", "--propagation", "private", BUSYBOX, "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Some("`busybox unshare -m` fails: no private mount namespace here".into());
    }
    None
}

/// One mount of a helper run: a host path at a target inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    /// The host path (a directory or a file).
    pub host: PathBuf,
    /// Where the helper sees it.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// What a helper run printed.
#[derive(Debug)]
pub struct Ran {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Where helper runs are rooted: a `bin` of busybox applets and one directory per run.
pub struct Sandbox {
    bin: PathBuf,
    runs: PathBuf,
    next: AtomicU64,
}

impl Sandbox {
    /// A sandbox under `dir` (created): busybox copied into `dir/bin` with a symlink per applet.
    pub fn new(dir: &Path) -> io::Result<Sandbox> {
        let bin = dir.join("bin");
        let runs = dir.join("runs");
        fs::create_dir_all(&bin)?;
        fs::create_dir_all(&runs)?;
        fs::copy(BUSYBOX, bin.join("busybox"))?;
        let list = Command::new(BUSYBOX).arg("--list").output()?;
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let applet = applet.trim();
            if !applet.is_empty() && applet != "busybox" {
                std::os::unix::fs::symlink("busybox", bin.join(applet))?;
            }
        }
        Ok(Sandbox {
            bin,
            runs,
            next: AtomicU64::new(0),
        })
    }

    /// Run `command` (argv; `sh` is busybox's) with `mounts`, as a helper container would.
    pub fn run(&self, mounts: &[Bound], command: &[String]) -> io::Result<Ran> {
        let root = self
            .runs
            .join(self.next.fetch_add(1, Ordering::Relaxed).to_string());
        fs::create_dir(&root)?;
        let ran = self.run_in(&root, mounts, command);
        remove_empty_dirs(&root)?;
        ran
    }

    fn run_in(&self, root: &Path, mounts: &[Bound], command: &[String]) -> io::Result<Ran> {
        for dir in ["bin", "proc", "dev"] {
            fs::create_dir(root.join(dir))?;
        }
        for m in mounts {
            let point = root.join(m.target.trim_start_matches('/'));
            fs::create_dir_all(point.parent().unwrap_or(root))?;
            if m.host.is_dir() {
                fs::create_dir_all(&point)?;
            } else {
                fs::write(&point, "")?;
            }
        }
        let script = setup_script(root, &self.bin, mounts);
        let output = Command::new(BUSYBOX)
            .args(["unshare", "-m", "--propagation", "private", BUSYBOX, "sh"])
            .args(["-c", &script, "fake-helper"])
            .args(command)
            .env_clear()
            .env("PATH", "/bin")
            .env("HOME", "/")
            .current_dir("/")
            .output()?;
        Ok(Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

/// The namespace's setup: the root bound read-only onto itself, then `/bin`, `/proc`, `/dev`
/// and the mounts on top; then the command, chrooted.
fn setup_script(root: &Path, bin: &Path, mounts: &[Bound]) -> String {
    let b = BUSYBOX;
    let at = |target: &str| quote(&root.join(target.trim_start_matches('/')));
    let r = quote(root);
    let mut s = format!("set -e\n{b} mount --bind {r} {r}\n{b} mount -o remount,bind,ro {r} {r}\n");
    s.push_str(&format!(
        "{b} mount --bind {} {}\n{b} mount -o remount,bind,ro {}\n",
        quote(bin),
        at("bin"),
        at("bin")
    ));
    s.push_str(&format!("{b} mount -t proc proc {}\n", at("proc")));
    s.push_str(&format!("{b} mount --rbind /dev {}\n", at("dev")));
    for m in mounts {
        s.push_str(&format!(
            "{b} mount --bind {} {}\n",
            quote(&m.host),
            at(&m.target)
        ));
        if m.read_only {
            s.push_str(&format!("{b} mount -o remount,bind,ro {}\n", at(&m.target)));
        }
    }
    s.push_str(&format!("exec {b} chroot {r} \"$@\"\n"));
    s
}

/// A path as one single-quoted shell word.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

/// Remove `dir` and the directories and empty mount-point files under it, each only when empty:
/// never a recursive delete (if a mount outlived its namespace, removing fails instead of
/// deleting what it shows).
fn remove_empty_dirs(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = fs::symlink_metadata(entry.path())?;
        if meta.is_dir() {
            remove_empty_dirs(&entry.path())?;
        } else if meta.len() == 0 {
            fs::remove_file(entry.path())?;
        } else {
            return Err(io::Error::other(format!(
                "`{}` is left in a helper's root: it is not removed",
                entry.path().display()
            )));
        }
    }
    fs::remove_dir(dir)
}
