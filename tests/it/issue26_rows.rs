//! Issue 26 rows 7 and 15 against a real engine: a copy into a tmpfs tier bigger than the
//! helper's memory limit (row 7), and what a killed run left (row 15). Project names end with
//! the pid: other sessions share the engine.

use std::path::{Path, PathBuf};
use std::process::Command;

use tierctl::engine::helper::MEMORY_LIMIT;
use tierctl::engine::{EngineError, HelperSpec, Helpers};

use super::compose_runner::Family;
use super::engine::{engine, helper_image, required};
use super::migrate_engine::{COMPOSE, stdout};
use super::stack::Stack;

fn stack(tag: &str, seed: &str) -> Option<Stack> {
    let name = format!("tierctli26r{tag}{}", std::process::id());
    Stack::up(Family::V2, name, COMPOSE, seed)
}

/// Whether this process may mount a tmpfs (root); a loud skip when not.
fn may_mount() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        !required(),
        "TIERCTL_REQUIRE_DOCKER=1 but not root: cannot mount a tmpfs"
    );
    skipped!("a tmpfs tier needs root to mount it");
    false
}

/// A tmpfs mounted at a directory, detached when dropped (lazily: a service may still have it
/// bind-mounted until its stack is removed).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tierctl-row7"])
            .arg(at)
            .status()
            .is_ok_and(|st| st.success());
        if !mounted {
            assert!(!required(), "cannot mount a tmpfs");
            skipped!("cannot mount a tmpfs here");
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// More than the helper's memory limit (512 MiB): 600 MiB.
const BIG_MIB: i64 = 600;

#[test]
fn issue26_row7_a_pre_copy_bigger_than_the_helper_memory_limit_moves_into_a_tmpfs_tier() {
    const { assert!(BIG_MIB * 1024 * 1024 > MEMORY_LIMIT) };
    if !may_mount() {
        return;
    }
    let seed = format!("set -e; dd if=/dev/zero of=/data/big bs=1M count={BIG_MIB} 2>/dev/null");
    let Some(s) = stack("tmpfs", &seed) else {
        return;
    };
    let Some(_tier) = Tmpfs::mount(&s.ws.path("fast"), "800m") else {
        return;
    };
    // the default mode: the copy while the services run is a helper container
    let out = s
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("out of memory"), "{text}");
    let copied = std::fs::metadata(s.target().join("big")).expect("the copy");
    assert_eq!(copied.len(), 600 * 1024 * 1024);
    assert!(s.db_mount().ends_with("dbdata"), "{}", s.db_mount());
    assert_ne!(s.db_mount(), s.volume(), "the service runs on the tier");
}

#[test]
fn issue26_row7_a_helper_killed_by_its_memory_cgroup_says_out_of_memory() {
    let Some(engine) = engine() else {
        return;
    };
    // busybox sort holds the one 700 MB line in memory: more than the limit
    let spec = HelperSpec::new(
        "sort",
        &helper_image(),
        vec![
            "sh".into(),
            "-c".into(),
            "dd if=/dev/zero bs=1M count=700 2>/dev/null | sort >/dev/null".into(),
        ],
    );
    let err = engine.run_helper(&spec).expect_err("killed");
    assert!(
        matches!(&err, EngineError::OutOfMemory { purpose, limit_mib, .. }
            if purpose == "sort" && *limit_mib == 512),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("ran out of memory"), "{text}");
    assert!(text.contains("512 MiB"), "{text}");
    assert!(err.hint().contains("tmpfs"), "{}", err.hint());
}

/// Containers a test made by name, removed when dropped (also after a failed assertion).
struct Made(Vec<String>);

impl Drop for Made {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("docker").args(["rm", "-f", name]).output();
        }
    }
}

/// A helper container as a killed run leaves it: created, never started, with the helper label.
fn created_helper(name: &str) {
    let out = Command::new("docker")
        .args([
            "create",
            "--name",
            name,
            "--label",
            "io.tierctl.helper=probe",
        ])
        .args([&helper_image(), "true"])
        .output()
        .expect("docker create");
    assert!(out.status.success(), "{}", stdout(&out));
}

fn exists(container: &str) -> bool {
    Command::new("docker")
        .args(["inspect", "--type", "container", container])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn issue26_row15_a_dead_runs_helpers_and_markers_are_swept_when_its_lock_is_taken_over() {
    let Some(s) = stack("left", "echo a > /data/a") else {
        return;
    };
    // a pid that surely ran and is gone: a child that has exited and been reaped
    let mut child = Command::new("true").spawn().expect("spawn true");
    let dead = child.id();
    child.wait().expect("wait");
    let live = std::process::id();
    let lock = s.ws.path("app/.tierctl/lock");
    std::fs::create_dir_all(lock.parent().expect("state dir")).expect("mkdir");
    let holder = format!(r#"{{"pid":{dead},"command":"tierctl migrate --yes","since":0}}"#);
    std::fs::write(&lock, holder).expect("lock file");
    let theirs = format!("tierctl-probe-{dead}-000000001");
    let other = format!("tierctl-probe-{live}-000000001");
    let _made = Made(vec![theirs.clone(), other.clone()]);
    created_helper(&theirs);
    created_helper(&other);
    let root = s.ws.path("fast");
    let marker = root.join(format!(".tierctl-marker-{dead}-17"));
    let live_marker = root.join(format!(".tierctl-marker-{live}-17"));
    std::fs::write(&marker, "").expect("marker");
    std::fs::write(&live_marker, "").expect("marker");

    let out = s
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("took over the lock of pid {dead}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "removed helper container `{theirs}` left by pid {dead}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "removed marker file `{}` left by pid {dead}",
            marker.display()
        )),
        "{text}"
    );
    assert!(!exists(&theirs), "the dead run's helper is still there");
    assert!(!marker.exists(), "the dead run's marker is still there");
    // another (live) process's helper and marker stay
    assert!(exists(&other), "{text}");
    assert!(live_marker.exists(), "{text}");
    assert!(!text.contains(&other), "{text}");
}
