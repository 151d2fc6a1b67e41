//! `tierctl mounts` on the seed case: every mount with its origin, type, source, target, tier
//! and placement; snapshots of the human and JSON output.

use crate::audit_cli::immich;
use crate::workspace::Workspace;

fn mounts(ws: &Workspace, args: &[&str]) -> (i32, String) {
    let out = ws
        .tierctl("immich")
        .args(["mounts", "--tiers", "../tiers.yaml"])
        .args(args)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "no stderr expected: {stderr}");
    (
        out.status.code().expect("exit code"),
        ws.redact(&String::from_utf8_lossy(&out.stdout)),
    )
}

#[test]
fn mounts_lists_every_mount_with_origin_tier_and_placement() {
    let ws = immich();
    let (code, out) = mounts(&ws, &[]);
    assert_eq!(code, 0, "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn mounts_json_is_versioned_and_typed() {
    let ws = immich();
    let (code, out) = mounts(&ws, &["--format", "json"]);
    assert_eq!(code, 0, "{out}");
    let parsed: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(parsed["version"], 1);
    assert_eq!(parsed["project"], "immich");
    let photos = &parsed["mounts"][0];
    assert_eq!(photos["type"], "bind");
    assert_eq!(photos["line"], 8);
    assert_eq!(
        photos["tier"], "fast",
        "the access point resolves onto the fast tier"
    );
    assert_eq!(
        photos["real_path"], "[ROOT]/Volumes/faststore/photos",
        "{photos}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn mounts_refuses_prometheus() {
    let ws = immich();
    let out = ws
        .tierctl("immich")
        .args([
            "mounts",
            "--tiers",
            "../tiers.yaml",
            "--format",
            "prometheus",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 26 row 14: a target is shown and put in JSON as compose prints it (`docker compose
/// config` says `/app/data` for `/app/data/`, `/opt/y` for `//opt//y/./`), in both syntaxes.
#[test]
fn issue26_row14_targets_as_compose_prints_them() {
    let ws = Workspace::new()
        .file(
            "tiers.yaml",
            "tiers:\n  fast: { root: '{root}/fast' }\nplacement:\n  - tier: fast\n    path: '{project}/{volume}'\n",
        )
        .dir("fast")
        .file(
            "app/compose.yaml",
            "name: app\nservices:\n  a:\n    image: busybox\n    volumes:\n      - data:/app/data/\n      - ./x://opt//y/./\n      - type: volume\n        source: data\n        target: /long/path/\nvolumes:\n  data:\n",
        )
        .dir("app/x");
    let out = ws
        .tierctl("app")
        .args(["mounts", "--tiers", "../tiers.yaml", "--format", "json"])
        .output()
        .expect("runs");
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let targets: Vec<&str> = parsed["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| m["target"].as_str().expect("a target"))
        .collect();
    assert_eq!(targets, ["/app/data", "/opt/y", "/long/path"], "{parsed}");
    let human = ws
        .tierctl("app")
        .args(["mounts", "--tiers", "../tiers.yaml"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("/app/data ") || text.contains("/app/data\n"),
        "{text}"
    );
    assert!(!text.contains("/app/data/"), "{text}");
    assert!(!text.contains("/long/path/"), "{text}");
}
