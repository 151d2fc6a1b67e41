//! The host-side manifest against the engine's archive stream, on a real Docker engine: the same
//! tree read both ways gives the same manifest, and a copy's verification reads on the host
//! where the engine is native and through the archive stream where the engine says it cannot.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use tierctl::engine::docker::DockerEngine;
use tierctl::engine::{
    ArchiveReader, EngineError, HelperOutput, HelperSpec, Helpers, MountSource, Volumes,
};
use tierctl::migrate::copy::{self, CopyJob};
use tierctl::migrate::manifest::{self, Rules};
use tierctl::migrate::tree::{self, Way};

use super::copy_engine::seeded_volume;
use super::engine::{engine, helper_image, required};

/// The real engine, but never reading on the host: what a VM engine does.
struct ArchiveOnly<'a>(&'a DockerEngine);

impl Helpers for ArchiveOnly<'_> {
    fn run_helper(&self, spec: &HelperSpec) -> Result<HelperOutput, EngineError> {
        self.0.run_helper(spec)
    }
    fn read_archives(
        &self,
        spec: &HelperSpec,
        paths: &[&str],
        read: ArchiveReader<'_>,
    ) -> Result<(), EngineError> {
        self.0.read_archives(spec, paths, read)
    }
    fn populate(&self, spec: &HelperSpec) -> Result<(), EngineError> {
        self.0.populate(spec)
    }
    fn host_path(&self, _: &MountSource) -> Result<Option<PathBuf>, EngineError> {
        Ok(None)
    }
}

#[test]
fn the_host_manifest_equals_the_archive_manifest_and_verification_reads_on_the_host() {
    let Some(engine) = engine() else { return };
    if !engine.is_native().expect("docker info") {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but the engine is not native"
        );
        eprintln!("SKIPPED: the engine is not native, so no tree is host-visible");
        return;
    }
    let volume = "tierctl-it-tree-src";
    seeded_volume(&engine, volume);
    let mountpoint = engine
        .volume_mountpoint(volume)
        .expect("inspect")
        .expect("the volume exists");
    assert_eq!(
        engine
            .host_path(&MountSource::Volume(volume.into()))
            .expect("inspect"),
        Some(mountpoint.clone())
    );
    assert_eq!(
        engine
            .volume_mountpoint("tierctl-it-no-such-volume")
            .expect("inspect"),
        None
    );

    let root = tempfile::tempdir().expect("temp dir");
    let target = root.path().join("fast/db");
    std::fs::create_dir_all(&target).expect("target");
    let job = CopyJob {
        source: MountSource::Volume(volume.into()),
        target: target.clone(),
    };
    let spec = copy::verify_spec(&job, &helper_image(), "it");

    // the same tree, read both ways, is the same manifest, field for field
    let hashed = AtomicU64::new(0);
    let archived = tree::archive_manifests(&engine, &spec, &[copy::FROM], &hashed)
        .expect("archive manifest")
        .remove(0);
    let host = tree::read(&mountpoint, &hashed).expect("host manifest");
    assert_eq!(host, archived);
    assert_eq!(
        host.entries["pg/base/1"].hardlink_group.as_deref(),
        Some("pg/base/1")
    );
    assert_eq!(host.entries["pg/fifo"].kind, manifest::Kind::Fifo);

    engine
        .run_to_end(&copy::copy_spec(&job, &helper_image(), "it", false))
        .expect("copy");
    let (trees, ways) = tree::copy_manifests(&engine, &job, &spec, &hashed).expect("manifests");
    assert_eq!(ways, [Way::Host(mountpoint), Way::Host(target.clone())]);
    assert_eq!(
        manifest::compare(&trees[0], &trees[1], Rules::default()),
        vec![]
    );

    // an engine that cannot read on the host falls back to the archive stream, same result
    let (streamed, ways) =
        tree::copy_manifests(&ArchiveOnly(&engine), &job, &spec, &hashed).expect("manifests");
    assert_eq!(ways, [Way::Archive, Way::Archive]);
    assert_eq!(streamed, trees);

    // a corrupted byte in the copy is caught by the host read too
    let big: PathBuf = target.join("pg/base/big");
    let mut bytes = std::fs::read(&big).expect("read copy");
    bytes[70_000] ^= 1;
    std::fs::write(&big, &bytes).expect("flip a byte");
    let (trees, _) = tree::copy_manifests(&engine, &job, &spec, &hashed).expect("manifests");
    let diffs = manifest::compare(&trees[0], &trees[1], Rules::default());
    assert!(
        diffs.iter().any(|d| matches!(d, manifest::Difference::Changed { path, field: "content", .. } if path == "pg/base/big")),
        "{diffs:?}"
    );

    engine
        .run_to_end(&copy::wipe_spec(&target, &helper_image(), "it"))
        .expect("wipe");
    engine.remove_volume(volume).expect("remove volume");
}
