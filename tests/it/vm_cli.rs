//! `tierctl vm` end to end: a dead socket, and the probe against the real engine, including the
//! Colima failure reproduced with a mount namespace the engine does not see.

use std::process::Command as Process;

use serde_json::Value;

use crate::engine::{TmpfsMount, can_unshare, engine, helper_image};
use crate::workspace::Workspace;

fn compose(binds: &[&str]) -> String {
    let mut text = String::from("services:\n  app:\n    image: busybox\n    volumes:\n");
    for (i, bind) in binds.iter().enumerate() {
        text.push_str(&format!("      - {bind}:/data{i}\n"));
    }
    text
}

fn probes(stdout: &[u8]) -> Vec<Value> {
    let json: Value = serde_json::from_slice(stdout).expect("vm --format json prints JSON");
    json["probes"].as_array().expect("probes").clone()
}

#[test]
fn a_context_at_a_dead_socket_names_context_and_socket_and_exits_2() {
    let ws = Workspace::new().file("compose.yaml", &compose(&["./data"]));
    let socket = ws.path("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind a socket"));
    let config = ws.path("docker");
    let meta = config
        .join("contexts/meta")
        .join(tierctl::engine::endpoint::context_dir_name("deadctx"))
        .join("meta.json");
    std::fs::create_dir_all(meta.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &meta,
        format!(
            r#"{{"Name":"deadctx","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"unix://{}"}}}}}}"#,
            socket.display()
        ),
    )
    .expect("write meta");
    let out = ws
        .tierctl("")
        .env("DOCKER_CONFIG", &config)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .args(["--context", "deadctx", "vm"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("context `deadctx`"), "{stderr}");
    assert!(stderr.contains(&socket.display().to_string()), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn offline_vm_makes_no_engine_call() {
    let ws = Workspace::new()
        .dir("data")
        .file("compose.yaml", &compose(&["./data"]));
    let out = ws
        .tierctl("")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["--offline", "vm", "--probe"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("--probe needs the engine"), "{stdout}");
}

#[test]
fn probe_of_a_tmpfs_backed_tier_dir_the_engine_sees() {
    if engine().is_none() {
        return;
    }
    let ws = Workspace::new()
        .dir("tier")
        .file("compose.yaml", &compose(&["./tier"]));
    let Some(_mount) = TmpfsMount::new(&ws.path("tier")) else {
        return;
    };
    let out = ws
        .tierctl("")
        .env("TIERCTL_HELPER_IMAGE", helper_image())
        .args(["vm", "--probe", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let probes = probes(&out.stdout);
    assert_eq!(probes[0]["verdict"], "same", "{probes:?}");
    assert_eq!(probes[0]["host"]["fs_type"], "tmpfs");
    assert_eq!(probes[0]["container"]["fs_type"], "tmpfs");
    assert_eq!(probes[0]["container"]["marker"], "seen");
    assert_eq!(probes[0]["host"]["size_bytes"], 4 << 20);
    assert_eq!(probes[0]["container"]["size_bytes"], 4 << 20);
    assert_eq!(
        std::fs::read_dir(ws.path("tier")).expect("read").count(),
        0,
        "marker removed"
    );
}

/// The Colima failure: tierctl sees a filesystem at the tier path that the engine does not
/// (here a tmpfs in a private mount namespace; on a Mac, a path the VM does not share).
#[test]
fn regression_colima_unshared_path_probe_reports_the_mismatch() {
    if engine().is_none() || !can_unshare() {
        return;
    }
    let ws = Workspace::new()
        .dir("tier")
        .file("compose.yaml", &compose(&["./tier", "./tier/photos"]));
    let tier = ws.path("tier");
    let bin = assert_cmd::cargo::cargo_bin("tierctl");
    let script = format!(
        "mount -t tmpfs -o size=8m tierctl-test '{tier}' && mkdir '{tier}/photos' && exec '{bin}' vm --probe --format json",
        tier = tier.display(),
        bin = bin.display()
    );
    let out = Process::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .current_dir(ws.root())
        .env("HOME", ws.path("home"))
        .env("TIERCTL_HELPER_IMAGE", helper_image())
        .env_remove("COMPOSE_FILE")
        .output()
        .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let probes = probes(&out.stdout);
    let tier_probe = &probes[0];
    assert_eq!(tier_probe["verdict"], "different", "{tier_probe}");
    assert_eq!(tier_probe["host"]["fs_type"], "tmpfs");
    assert_ne!(tier_probe["container"]["fs_type"], "tmpfs");
    assert_eq!(tier_probe["container"]["marker"], "missing");
    assert_eq!(tier_probe["host"]["size_bytes"], 8 << 20);
    let reasons = tier_probe["reasons"].to_string();
    assert!(reasons.contains("marker file"), "{reasons}");
    assert!(reasons.contains("size"), "{reasons}");
    assert_eq!(probes[1]["verdict"], "missing-in-engine", "{:?}", probes[1]);
    assert!(
        !tier.join("photos").exists(),
        "the engine never creates a missing bind source"
    );
    assert_eq!(std::fs::read_dir(&tier).expect("read").count(), 0);
}

#[test]
fn permission_denied_on_the_socket_names_it_and_exits_2() {
    // root may open any socket, so run tierctl as `nobody` against the root-owned socket
    let socket = std::path::Path::new("/var/run/docker.sock");
    let is_root = nix::unistd::geteuid().is_root();
    if !is_root || !socket.exists() {
        skipped!("needs root and /var/run/docker.sock to run tierctl as `nobody`");
        return;
    }
    let ws = Workspace::new()
        .dir("data")
        .file("compose.yaml", &compose(&["./data"]));
    std::fs::set_permissions(
        ws.root(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod workspace");
    let bin = assert_cmd::cargo::cargo_bin("tierctl");
    let out = Process::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["vm"])
        .current_dir(ws.root())
        .env("HOME", ws.path("home"))
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("Permission denied")
        && stderr.contains("tierctl")
        && out.status.code() == Some(126)
    {
        skipped!("`nobody` cannot execute {}", bin.display());
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/var/run/docker.sock"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("permission denied"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
}

/// A Postgres data directory (uid 999, mode 0700) must not look unshared: the helper runs as
/// root without capabilities, so it needs `DAC_READ_SEARCH` to see the marker in it.
#[test]
fn regression_probe_sees_the_marker_in_a_0700_directory_of_another_owner() {
    if engine().is_none() || !nix::unistd::geteuid().is_root() {
        return;
    }
    let ws = Workspace::new()
        .dir("pgdata")
        .file("compose.yaml", &compose(&["./pgdata"]));
    let dir = ws.path("pgdata");
    std::os::unix::fs::chown(&dir, Some(999), Some(999)).expect("chown 999");
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod 0700");
    let out = ws
        .tierctl("")
        .env("TIERCTL_HELPER_IMAGE", helper_image())
        .args(["vm", "--probe", "--format", "json"])
        .output()
        .expect("runs");
    let probes = probes(&out.stdout);
    assert_eq!(probes[0]["container"]["marker"], "seen", "{probes:?}");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_dir(&dir).expect("read").count(),
        0,
        "marker removed"
    );
}
