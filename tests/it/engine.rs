//! Against a real Docker engine. Skipped loudly without one; a failure under
//! `TIERCTL_REQUIRE_DOCKER=1` (CI sets it, with `.ci/docker` providing the engine).

use std::path::{Path, PathBuf};

use tierctl::engine::docker::DockerEngine;
use tierctl::engine::endpoint::{self, EndpointInput};
use tierctl::engine::probe::{self, Marker, Verdict};
use tierctl::engine::{Engine, EngineError};
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
        Ok(engine) => Some(engine),
        Err(reason) if required() => {
            panic!("TIERCTL_REQUIRE_DOCKER=1 but no Docker engine answers: {reason}")
        }
        Err(reason) => {
            eprintln!(
                "SKIPPED: no Docker engine ({reason}); run `sudo bash .ci/docker` to get one"
            );
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
        .run_helper(
            &helper_image(),
            &missing,
            probe::TARGET,
            &probe::helper_command(""),
        )
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
            eprintln!("SKIPPED: mounting a tmpfs needs root");
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
        eprintln!("SKIPPED: `unshare -m` needs root");
    }
    ok
}
