//! Issue 26 rows 5 and 6 against a real engine and compose CLI: names that are not UTF-8 (and
//! names with a newline, and a 255-byte name) move in both modes, verified, and the service sees
//! them (row 5); a sparse file is counted by what the copy writes, so a tier too small for its
//! apparent size is refused before anything stops (row 6). Project names end with the pid:
//! other sessions share the engine.

use std::path::Path;
use std::process::Command;

use super::compose_runner::Family;
use super::engine::required;
use super::migrate_engine::{COMPOSE, stdout};
use super::stack::Stack;

fn stack(tag: &str, seed: &str) -> Option<Stack> {
    let name = format!("tierctli26{tag}{}", std::process::id());
    Stack::up(Family::V2, name, COMPOSE, seed)
}

fn running(s: &Stack) -> bool {
    let out = Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=com.docker.compose.project={}", s.name))
        .output()
        .expect("docker ps");
    !out.stdout.is_empty()
}

fn umount(path: &Path) {
    let _ = Command::new("umount").arg(path).status();
}

#[test]
fn i26_row6_a_sparse_file_larger_than_the_tier_is_refused_before_the_stop() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but not root: cannot mount a tmpfs"
        );
        eprintln!("SKIPPED: a small tier needs root to mount a tmpfs");
        return;
    }
    // 64 MiB apparent, nothing allocated; the copy writes it dense
    let seed = "set -e; cd /data; truncate -s 64M sparse; echo small > small";
    let Some(s) = stack("sparse", seed) else {
        return;
    };
    let fast = s.ws.path("fast");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tierctl-sparse"])
        .arg(&fast)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        assert!(!required(), "cannot mount a tmpfs");
        eprintln!("SKIPPED: cannot mount a tmpfs here");
        return;
    }
    let compose = s.compose_text();
    let out = s
        .tierctl()
        .args(["migrate", "--stop-first", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    let left = std::fs::read_dir(&fast).expect("tier root").count();
    umount(&fast);
    assert_eq!(out.status.code(), Some(2), "{text}");
    // 64 MiB and the small file's block: what the copy writes, not the 4 KiB allocated
    assert!(text.contains("bytes free, the copies need 671"), "{text}");
    assert!(text.contains("choose a bigger tier"), "{text}");
    assert!(!text.contains("[1/"), "{text}");
    assert_eq!(left, 0, "the tier root was written");
    assert!(running(&s), "the service was stopped");
    assert_eq!(s.compose_text(), compose);
}
