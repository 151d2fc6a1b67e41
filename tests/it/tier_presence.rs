//! `tier-not-mounted` on real directories: `tiers init` writes the marker, a tier whose disk
//! went away (an empty directory left at its root) is reported by `audit` and `tiers status`;
//! a `mount: true` tier on a real tmpfs in a private mount namespace.

use std::process::Command as Process;

use crate::engine::can_unshare;
use crate::workspace::Workspace;

const TIERS: &str = "\
tiers:
  fast: { root: '{root}/fast' }
  warm: { root: '{root}/warm'{mount} }
";

const COMPOSE: &str = "\
services:
  app:
    image: nginx
    volumes:
      - {root}/warm/app:/data
";

fn workspace(mount: bool) -> Workspace {
    let tiers = TIERS.replace("{mount}", if mount { ", mount: true" } else { "" });
    Workspace::new()
        .file("tiers.yaml", &tiers)
        .file("compose.yaml", COMPOSE)
        .dir("fast")
        .dir("warm/app")
}

fn checks(stdout: &[u8]) -> Vec<(String, String)> {
    let json: serde_json::Value = serde_json::from_slice(stdout).expect("audit json");
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn not_mounted(stdout: &[u8]) -> Vec<String> {
    checks(stdout)
        .into_iter()
        .filter(|(check, _)| check == "tier-not-mounted")
        .map(|(_, message)| message)
        .collect()
}

#[test]
fn init_writes_markers_and_a_tier_whose_disk_went_away_is_reported() {
    let ws = workspace(false);
    let audit = || {
        ws.tierctl("")
            .args(["audit", "--offline", "--format", "json"])
            .output()
            .expect("runs")
    };
    // never initialised: no marker is expected, nothing reported
    assert!(not_mounted(&audit().stdout).is_empty());

    let out = ws
        .tierctl("")
        .args(["tiers", "init"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let marker = std::fs::read_to_string(ws.path("warm/.tierctl-tier")).expect("marker");
    assert!(marker.contains("\ntier: warm\n"), "{marker}");
    assert!(ws.path("fast/.tierctl-tier").is_file());
    assert!(not_mounted(&audit().stdout).is_empty());

    // the disk goes away: an empty directory is left at the root
    std::fs::rename(ws.path("warm"), ws.path("warm-disk")).expect("rename");
    std::fs::create_dir(ws.path("warm")).expect("mkdir");
    let out = audit();
    assert_eq!(out.status.code(), Some(1));
    let messages = not_mounted(&out.stdout);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].contains("is on tier `warm`, whose disk is not there")
            && messages[0].contains("is empty and has no tier marker"),
        "{messages:?}"
    );

    let out = ws
        .tierctl("")
        .args(["tiers", "status", "--summary"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tier-not-mounted: the disk of tier `warm`"),
        "{stderr}"
    );
    assert!(out.status.code().unwrap_or(0) >= 1, "{stderr}");
    // the same verdict in the typed report: JSON names the tier, what was seen and what to do
    let out = ws
        .tierctl("")
        .args(["tiers", "status", "--summary", "--format", "json"])
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status json");
    let absent = json["not_mounted"].as_array().expect("not_mounted");
    assert_eq!(absent.len(), 1, "{json}");
    assert_eq!(absent[0]["tier"], "warm");
    assert!(
        absent[0]["why"]
            .as_str()
            .is_some_and(|w| w.contains("is empty and has no tier marker")),
        "{json}"
    );
    assert!(
        absent[0]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("tiers init"))
    );
    assert!(out.status.code().unwrap_or(0) >= 1);
}

#[test]
fn a_mount_true_tier_must_be_a_mount_point_tmpfs_in_a_mount_namespace() {
    if !can_unshare() {
        skipped!("`unshare -m` is not available: mount: true untested here");
        return;
    }
    let ws = workspace(true);
    let bin = assert_cmd::cargo::cargo_bin("tierctl");
    let warm = ws.path("warm");
    let script = format!(
        "'{bin}' audit --offline --format json > before.json; \
         mount -t tmpfs -o size=4m tierctl-presence '{warm}' && mkdir '{warm}/app' && \
         '{bin}' tiers init >/dev/null && '{bin}' audit --offline --format json > after.json; \
         cat '{warm}/.tierctl-tier'",
        bin = bin.display(),
        warm = warm.display()
    );
    let out = Process::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .current_dir(ws.root())
        .env_remove("COMPOSE_FILE")
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("tier: warm"), "{stdout} {out:?}");
    let before = std::fs::read(ws.path("before.json")).expect("before");
    let messages = not_mounted(&before);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("is not a mount point"), "{messages:?}");
    let after = std::fs::read(ws.path("after.json")).expect("after");
    assert!(not_mounted(&after).is_empty(), "{:?}", checks(&after));
    // the tmpfs went with the namespace: the marker was on it, not on the directory below
    assert!(!warm.join(".tierctl-tier").exists());
}

#[test]
fn init_reports_each_marker_and_holds_back_a_mount_true_root_that_is_not_a_mount_point() {
    let ws = workspace(true);
    let init = |format: &str| {
        ws.tierctl("")
            .args(["tiers", "init", "--format", format])
            .output()
            .expect("runs")
    };
    let out = init("json");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("init json");
    let markers = json["markers"].as_array().expect("markers");
    let by_tier = |tier: &str| {
        markers
            .iter()
            .find(|m| m["tier"] == tier)
            .unwrap_or_else(|| panic!("no marker entry for {tier}: {json}"))
    };
    assert_eq!(by_tier("fast")["action"], "write", "{json}");
    assert_eq!(
        by_tier("fast")["path"],
        ws.path("fast/.tierctl-tier").display().to_string()
    );
    assert_eq!(by_tier("warm")["action"], "held-back", "{json}");
    assert!(
        by_tier("warm")["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("the root is not a mount point")),
        "{json}"
    );
    assert!(ws.path("fast/.tierctl-tier").is_file());
    assert!(!ws.path("warm/.tierctl-tier").exists());
    // nor is any directory made on it: it would be on the system disk
    let warm = ws.path("warm").display().to_string();
    let on_warm: Vec<&serde_json::Value> = json["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| a["path"].as_str().is_some_and(|p| p.starts_with(&warm)))
        .collect();
    assert!(!on_warm.is_empty(), "{json}");
    for action in &on_warm {
        assert_eq!(action["action"], "blocked", "{json}");
        assert!(
            action["detail"]
                .as_str()
                .is_some_and(|d| d.contains("is not a mount point")),
            "{json}"
        );
    }
    let made: Vec<_> = std::fs::read_dir(ws.path("warm"))
        .expect("warm")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(made, ["app"], "only what was there before");

    // again, in human form: the written marker is kept, the held-back one is said on stdout
    let out = init("human");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let fast = ws.path("fast/.tierctl-tier");
    assert!(
        text.contains(&format!("ok  {} (tier `fast`)", fast.display())),
        "{text}"
    );
    assert!(
        text.contains("held back  marker of tier `warm` at "),
        "{text}"
    );
    assert!(text.contains(", 1 marker held back"), "{text}");
}
