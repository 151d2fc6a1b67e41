//! Against a real Docker engine. Skipped loudly without one; a failure under
//! `TIERCTL_REQUIRE_DOCKER=1` (CI sets it, with `.ci/docker` providing the engine).

use std::path::{Path, PathBuf};

use tierctl::engine::docker::DockerEngine;
use tierctl::engine::endpoint::{self, EndpointInput};
use tierctl::engine::helper::{MEMORY_LIMIT, PIDS_LIMIT};
use tierctl::engine::probe::{self, Marker, Verdict};
use tierctl::engine::{
    Capability, Engine, EngineError, HelperSpec, Helpers, MountSource, MountSpec,
};
use tierctl::vm::{DiskConfig, EnvVars};

/// The engine the docker CLI would use here, or `None` (with a loud note) when none answers.
pub fn engine() -> Option<DockerEngine> {
    let input = EndpointInput {
        env: std::env::vars().collect::<EnvVars>(),
        home: std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default(),
        ..Default::default()
    };
    let result = endpoint::resolve(&input, &DiskConfig)
        .map_err(|e| e.to_string())
        .and_then(|ep| DockerEngine::connect(&ep).map_err(|e| e.to_string()));
    match result {
        Ok(engine) => {
            crate::skip::engine_used();
            Some(engine)
        }
        Err(reason) if required() => {
            panic!("TIERCTL_REQUIRE_DOCKER=1 but no Docker engine answers: {reason}")
        }
        Err(reason) => {
            skipped!("no Docker engine ({reason}); run `sudo bash .ci/docker` to get one");
            None
        }
    }
}

/// Whether engine tests must not skip.
pub fn required() -> bool {
    std::env::var("TIERCTL_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
}

/// The helper image the tests use.
pub fn helper_image() -> String {
    std::env::var("TIERCTL_HELPER_IMAGE").unwrap_or_else(|_| "tierctl-helper:busybox".into())
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn info_names_the_engine_and_a_negotiated_api_version() {
    let Some(engine) = engine() else { return };
    let info = engine.info().expect("docker info");
    assert_eq!(info.os_type, "linux");
    assert!(!info.server_version.is_empty());
    let (major, minor) = info.api_version.split_once('.').expect("major.minor");
    assert_eq!(major, "1");
    assert!(
        minor.parse::<u32>().expect("a number") >= 41,
        "{}",
        info.api_version
    );
}

#[test]
fn probe_of_a_plain_dir_sees_the_same_filesystem_and_the_marker() {
    let Some(engine) = engine() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let result = probe::probe_source(&engine, &helper_image(), dir.path()).expect("probe");
    assert_eq!(result.verdict, Verdict::Same, "{result:?}");
    let container = result.container.expect("helper ran");
    let host = result.host.expect("host view");
    assert_eq!(container.marker, Marker::Seen);
    assert_eq!(container.fs_type.as_deref(), Some(host.fs_type.as_str()));
    assert_eq!(container.size_bytes, Some(host.size_bytes));
    assert!(
        entries(dir.path()).is_empty(),
        "marker removed: {:?}",
        entries(dir.path())
    );
}

#[test]
fn probe_of_a_missing_source_reports_it_and_creates_nothing() {
    let Some(engine) = engine() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("absent/tier");
    let result = probe::probe_source(&engine, &helper_image(), &missing).expect("probe");
    assert_eq!(result.verdict, Verdict::MissingOnHost);
    assert!(!dir.path().join("absent").exists());
}

#[test]
fn the_engine_refuses_a_source_it_does_not_have_and_creates_nothing() {
    let Some(engine) = engine() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("never");
    let output = engine
        .run_helper(&probe::helper_spec(&helper_image(), &missing, ""))
        .expect("engine answers");
    assert!(
        matches!(output, tierctl::engine::HelperOutput::SourceMissing { .. }),
        "{output:?}"
    );
    assert!(
        !missing.exists(),
        "the mount API never creates a bind source"
    );
}

#[test]
fn a_missing_helper_image_is_a_clear_error() {
    let Some(engine) = engine() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let err = probe::probe_source(&engine, "tierctl-no-such-image:0", dir.path())
        .expect_err("no such image");
    assert!(matches!(err, EngineError::ImageMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("`tierctl-no-such-image:0`"));
    assert!(entries(dir.path()).is_empty(), "marker removed on error");
}

/// A tmpfs mounted in this (the engine's) mount namespace; unmounted when dropped.
pub struct TmpfsMount(PathBuf);

impl TmpfsMount {
    pub fn new(dir: &Path) -> Option<Self> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tierctl-test"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                !required(),
                "TIERCTL_REQUIRE_DOCKER=1 but mounting a tmpfs failed (root needed)"
            );
            skipped!("mounting a tmpfs needs root");
        }
        ok.then(|| TmpfsMount(dir.to_owned()))
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Whether this process may create mount namespaces and mount tmpfs (root with `unshare`).
pub fn can_unshare() -> bool {
    let ok = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but `unshare -m` does not work here"
        );
        skipped!("`unshare -m` needs root");
    }
    ok
}

/// `docker inspect` of the first container labelled `io.tierctl.helper=<purpose>`, once it exists.
fn inspect_helper(purpose: &str) -> Option<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let listed = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter"])
            .arg(format!("label=io.tierctl.helper={purpose}"))
            .output()
            .expect("docker ps");
        let id = String::from_utf8_lossy(&listed.stdout).trim().to_owned();
        if !id.is_empty() {
            let inspected = std::process::Command::new("docker")
                .args(["inspect", &id])
                .output()
                .expect("docker inspect");
            let all: serde_json::Value =
                serde_json::from_slice(&inspected.stdout).expect("inspect is JSON");
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", &id])
                .output();
            return all.get(0).cloned();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    None
}

#[test]
fn a_real_helper_has_no_network_a_read_only_root_limits_and_only_its_capabilities() {
    let Some(engine) = engine() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let purpose = format!("it-hardening-{}", std::process::id());
    let spec = HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(dir.path().to_owned()),
            target: "/from".into(),
            read_only: true,
        }],
        capabilities: vec![Capability::DacReadSearch],
        ..HelperSpec::new(&purpose, &helper_image(), vec!["sleep".into(), "60".into()])
    };
    let inspected = std::thread::scope(|scope| {
        // the helper runs until the inspecting side removes it
        let running = scope.spawn(|| engine.run_helper(&spec));
        let inspected = inspect_helper(&purpose);
        let ended = running.join().expect("helper thread");
        assert!(
            ended.is_err(),
            "a removed helper does not end well: {ended:?}"
        );
        inspected
    });
    let inspected = inspected.expect("the helper container showed up");
    let host = &inspected["HostConfig"];
    assert_eq!(host["NetworkMode"], "none");
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["Privileged"], false);
    assert_eq!(host["PidsLimit"], PIDS_LIMIT);
    assert_eq!(host["Memory"], MEMORY_LIMIT);
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(host["CapAdd"], serde_json::json!(["DAC_READ_SEARCH"]));
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges"])
    );
    assert_eq!(inspected["Config"]["NetworkDisabled"], true);
    let mounts = inspected["Mounts"].as_array().expect("mounts");
    assert_eq!(mounts.len(), 1);
    assert_eq!(mounts[0]["RW"], false);
}
