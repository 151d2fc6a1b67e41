//! `tierctl tiers validate|init|status|link` on real directories in temp roots: real symlinks
//! (loops, cross-tier links), real chown to other uids (as root), threshold exit codes, and
//! tmpfs mounts in a private mount namespace for distinct filesystems.

use std::os::unix::fs::MetadataExt;
use std::process::Command as Process;

use crate::workspace::Workspace;

const TIERS: &str = "\
tiers:
  fast: { root: '{root}/faststore', kind: nvme }
  warm: { root: '{root}/warmstore', kind: ssd }
  cold: { root: '{root}/coldstore', kind: hdd }
access_points:
  '{root}/Photos': fast:photos
layout:
  - { path: fast:databases, owner: '999:999', mode: '0700' }
  - { path: fast:photos, owner: '1000:1000', mode: '0750' }
  - { path: cold:backups, mode: '0700' }
";

fn three_tiers() -> Workspace {
    Workspace::new()
        .file("tiers.yaml", TIERS)
        .dir("faststore")
        .dir("warmstore")
        .dir("coldstore")
}

fn is_root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        skipped!("this test chowns to other uids and needs root");
    }
    root
}

fn run(ws: &Workspace, args: &[&str]) -> (i32, String) {
    let out = ws.tierctl("").args(args).output().expect("runs");
    let text = ws.redact(&String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn init_link_then_validate_is_clean_apart_from_shared_filesystems() {
    if !is_root() {
        return;
    }
    let ws = three_tiers();
    let (code, text) = run(&ws, &["tiers", "validate"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("layout-missing"), "{text}");
    assert!(text.contains("access-point-missing"), "{text}");

    let (code, text) = run(&ws, &["tiers", "init", "--dry-run"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("would create  [ROOT]/faststore/databases (owner 999:999, mode 0700)"),
        "{text}"
    );
    assert!(!ws.path("faststore/databases").exists());

    let (code, text) = run(&ws, &["tiers", "init"]);
    assert_eq!(code, 0, "{text}");
    let db = std::fs::metadata(ws.path("faststore/databases")).expect("created");
    assert_eq!((db.uid(), db.gid(), db.mode() & 0o7777), (999, 999, 0o700));
    // Idempotent: nothing to change the second time.
    let (code, text) = run(&ws, &["tiers", "init"]);
    assert_eq!(code, 0);
    assert!(text.contains("tiers init: 0 changes"), "{text}");

    let (code, text) = run(&ws, &["tiers", "link"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        std::fs::read_link(ws.path("Photos")).expect("a symlink"),
        ws.path("faststore/photos")
    );
    // The temp dir is one filesystem: the only problems left are the shared filesystems.
    let (code, text) = run(&ws, &["tiers", "validate"]);
    assert_eq!(code, 1, "{text}");
    let problems: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("warning") || l.starts_with("error"))
        .collect();
    assert_eq!(problems.len(), 2, "{text}");
    assert!(
        problems.iter().all(|l| l.contains("shared-filesystem")),
        "{text}"
    );
}

#[test]
fn init_leaves_directories_holding_data_unless_fix_permissions() {
    if !is_root() {
        return;
    }
    let ws = three_tiers().file("faststore/photos/a.jpg", "jpeg");
    std::os::unix::fs::chown(ws.path("faststore/photos"), Some(4321), Some(4321)).expect("chown");
    let (code, text) = run(&ws, &["tiers", "init"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(
            "left  [ROOT]/faststore/photos holds data (owner 4321:4321, declared 1000:1000"
        ),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(ws.path("faststore/photos"))
            .unwrap()
            .uid(),
        4321
    );
    let (code, text) = run(&ws, &["tiers", "init", "--fix-permissions"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("fixed  [ROOT]/faststore/photos (owner 4321:4321 -> 1000:1000"),
        "{text}"
    );
    let meta = std::fs::metadata(ws.path("faststore/photos")).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (1000, 0o750));
    // validate now sees the declared owner.
    let (_, text) = run(&ws, &["tiers", "validate", "-v"]);
    assert!(
        text.contains("[ROOT]/faststore/photos exists, owner 1000:1000, mode 0750"),
        "{text}"
    );
}

#[test]
fn validate_finds_loops_cross_tier_links_and_chained_access_points() {
    let ws = three_tiers()
        .dir("faststore/photos")
        .dir("warmstore/media")
        .symlink("faststore/loop-a", "loop-b")
        .symlink("faststore/loop-b", "loop-a")
        .symlink("faststore/photos/movies", "{root}/warmstore/media")
        .symlink("faststore/same-tier", "photos")
        .symlink("Hop", "{root}/faststore/photos")
        .symlink("Photos", "{root}/Hop");
    let (code, text) = run(&ws, &["tiers", "validate"]);
    assert_eq!(code, 2, "{text}");
    for expected in [
        "error    circular-symlink",
        "[ROOT]/faststore/loop-a is part of a symlink loop",
        "[ROOT]/faststore/photos/movies on tier fast leads to [ROOT]/warmstore/media on tier warm",
        "access point [ROOT]/Photos reaches [ROOT]/faststore/photos through 2 symlinks",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("same-tier"), "{text}");
    let (code, text) = run(&ws, &["tiers", "validate", "-q"]);
    assert_eq!((code, text.as_str()), (2, ""));

    // `tiers link` repairs the chain into a single level.
    let (code, text) = run(&ws, &["tiers", "link"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(
            "relinked  [ROOT]/Photos -> [ROOT]/faststore/photos (was symlink to [ROOT]/Hop)"
        ),
        "{text}"
    );
    let (_, text) = run(&ws, &["tiers", "validate", "-v"]);
    assert!(text.contains("ok       access-point"), "{text}");
}

#[test]
fn link_refuses_to_replace_a_directory_holding_data() {
    let ws = three_tiers()
        .dir("faststore/photos")
        .file("Photos/old.jpg", "jpeg");
    let (code, text) = run(&ws, &["tiers", "link"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("refused  [ROOT]/Photos: it is a real directory holding data"),
        "{text}"
    );
    assert!(ws.path("Photos/old.jpg").is_file());
}

#[test]
fn status_exit_codes_follow_the_thresholds() {
    let ws = three_tiers()
        .file("faststore/photos/a", "x")
        .file("warmstore/media/b", "y");
    let (code, text) = run(&ws, &["tiers", "status", "-w", "100", "-c", "100"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("overall ok"), "{text}");
    let (code, text) = run(&ws, &["tiers", "status", "-s", "-w", "0", "-c", "100"]);
    assert_eq!(code, 1, "{text}");
    let (code, text) = run(&ws, &["tiers", "status", "-w", "0", "-c", "0"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("photos"), "{text}");
    let (code, _) = run(&ws, &["tiers", "status", "-w", "90", "-c", "80"]);
    assert_eq!(code, 2);
    let (code, text) = run(
        &ws,
        &[
            "tiers",
            "status",
            "-s",
            "--format",
            "prometheus",
            "-w",
            "100",
            "-c",
            "100",
        ],
    );
    assert_eq!(code, 0);
    assert!(
        text.contains("tierctl_tier_size_bytes{tier=\"fast\",root=\"[ROOT]/faststore\"}"),
        "{text}"
    );
    // A missing root is critical.
    std::fs::remove_dir_all(ws.path("coldstore")).unwrap();
    let (code, text) = run(&ws, &["tiers", "status", "-s", "-w", "100", "-c", "100"]);
    assert_eq!(code, 2, "{text}");
}

#[test]
fn status_json_counts_hardlinks_once() {
    let ws = three_tiers().dir("faststore/a").dir("faststore/b");
    std::fs::write(ws.path("faststore/a/data"), vec![1u8; 256 * 1024]).unwrap();
    std::fs::hard_link(ws.path("faststore/a/data"), ws.path("faststore/b/data")).unwrap();
    let (_, text) = run(
        &ws,
        &[
            "tiers", "status", "--format", "json", "-w", "100", "-c", "100",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let dirs = json["tiers"][0]["dirs"].as_array().expect("dirs");
    let bytes = |name: &str| {
        dirs.iter()
            .find(|d| d["name"] == name)
            .and_then(|d| d["bytes"].as_u64())
            .expect("dir listed")
    };
    assert!(bytes("a") >= 256 * 1024, "{text}");
    assert!(bytes("b") < 256 * 1024, "{text}");
    assert_eq!(json["version"], 1);
}

/// Runs `script` (with `$TIERCTL` and `$ROOT` set) in a private mount namespace; `None` when
/// `unshare -m` is not possible here.
fn in_namespace(ws: &Workspace, script: &str) -> Option<(i32, String)> {
    let probe = Process::new("unshare").args(["-m", "true"]).status();
    if !probe.is_ok_and(|s| s.success()) {
        skipped!("`unshare -m` is not available (needs root)");
        return None;
    }
    let out = Process::new("unshare")
        .args(["-m", "sh", "-ec", script])
        .env("TIERCTL", assert_cmd::cargo::cargo_bin("tierctl"))
        .env("ROOT", ws.root())
        .env("NO_COLOR", "1")
        .current_dir(ws.root())
        .output()
        .expect("unshare runs");
    let text = ws.redact(&String::from_utf8_lossy(&out.stdout));
    Some((out.status.code().unwrap_or(-1), text))
}

const MOUNT_TMPFS: &str = "\
mount -t tmpfs -o size=64m,noatime tmpfs \"$ROOT/faststore\"
mount -t tmpfs -o size=64m tmpfs \"$ROOT/warmstore\"
mount -t tmpfs -o size=64m tmpfs \"$ROOT/coldstore\"
";

#[test]
fn distinct_tmpfs_tiers_validate_clean_json_snapshot() {
    let ws = three_tiers();
    let script = format!(
        "{MOUNT_TMPFS}\"$TIERCTL\" tiers init >/dev/null\n\"$TIERCTL\" tiers link >/dev/null\nexec \"$TIERCTL\" tiers validate --format json"
    );
    let Some((code, text)) = in_namespace(&ws, &script) else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn distinct_tmpfs_tiers_status_json_snapshot() {
    let ws = three_tiers();
    let script = format!(
        "{MOUNT_TMPFS}mkdir \"$ROOT/faststore/photos\" \"$ROOT/warmstore/media\"\nhead -c 1048576 /dev/zero > \"$ROOT/faststore/photos/a\"\nexec \"$TIERCTL\" tiers status --format json"
    );
    let Some((code, text)) = in_namespace(&ws, &script) else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn issue12_tier_roots_overlapping_through_a_symlink_are_refused() {
    // `warm: {root}/fastlink/databases` with `fastlink -> faststore`: the warm tier lies inside
    // the fast tier on disk though the roots as written do not overlap.
    let ws = Workspace::new()
        .file(
            "tiers.yaml",
            "tiers:\n  fast: { root: '{root}/faststore' }\n  warm: { root: '{root}/fastlink/databases' }\n",
        )
        .dir("faststore/databases")
        .symlink("fastlink", "faststore");
    for args in [&["tiers", "validate"][..], &["audit"][..]] {
        let out = ws.tierctl("").args(args).output().expect("runs");
        let stderr = ws.redact(&String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "root `[ROOT]/fastlink/databases` of tier `warm` is `[ROOT]/faststore/databases` by its real path, which overlaps the root of tier `fast` (`[ROOT]/faststore`)"
            ),
            "{args:?}: {stderr}"
        );
    }
}

/// Issue 26 row 16: `mount --bind a m` and `warm: m/b` (in a private mount namespace): the real
/// paths do not overlap, the directories do; refused naming the bind mount, by `tiers validate`
/// and by a command that loads tiers.yaml. Without the bind mount the same file is fine.
#[test]
fn issue26_row16_tier_roots_overlapping_through_a_bind_mount_are_refused() {
    let ws = Workspace::new()
        .file(
            "tiers.yaml",
            "tiers:\n  fast: { root: '{root}/a' }\n  warm: { root: '{root}/m/b' }\n",
        )
        .dir("a")
        .dir("m");
    let script = "mount --bind \"$ROOT/a\" \"$ROOT/m\"\nmkdir \"$ROOT/m/b\"\nrc=0; \"$TIERCTL\" tiers validate 2>&1 || rc=$?; echo \"validate exit $rc\"\nrc=0; \"$TIERCTL\" audit --offline -f /dev/null 2>&1 || rc=$?; echo \"audit exit $rc\"";
    let Some((code, text)) = in_namespace(&ws, script) else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    let said = "roots of tier `warm` (`[ROOT]/m/b`) and tier `fast` (`[ROOT]/a`) overlap: `[ROOT]/m` is the same directory as `[ROOT]/a` (device and inode), a bind mount";
    assert_eq!(text.matches(said).count(), 2, "{text}");
    assert!(text.contains("validate exit 2"), "{text}");
    assert!(text.contains("audit exit 2"), "{text}");
    // outside the namespace `m` is its own directory: no overlap
    std::fs::create_dir(ws.path("m/b")).expect("mkdir");
    let out = ws
        .tierctl("")
        .args(["tiers", "validate"])
        .output()
        .expect("runs");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("overlap"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
