//! The host-side manifest against the engine's archive stream and the manifest helper, on a real
//! Docker engine: the same tree read every way gives the same manifest (names with spaces,
//! newlines and bytes that are not UTF-8 included), and a copy's verification reads on the host
//! where the engine is native, and where the tree lives (the helper) where the engine says the
//! host cannot, hashing a shared directory on the host once the helper's listing matched.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use tierctl::engine::docker::DockerEngine;
use tierctl::engine::{
    ArchiveReader, EngineError, HelperOutput, HelperSpec, Helpers, MountSource, Volumes,
};
use tierctl::migrate::copy::{self, CopyJob};
use tierctl::migrate::tree::helper::{self, Depth};
use tierctl::migrate::tree::manifest::{self, Digest, Rules};
use tierctl::migrate::tree::{self, Way};

use super::copy_engine::seeded_volume;

/// A manifest without what only the host reads (extended attributes, issue 21 item 7): what
/// the manifest helper and the archive reader see of the same tree.
fn bare(m: &manifest::Manifest) -> manifest::Manifest {
    let mut m = m.clone();
    for entry in m.entries.values_mut() {
        // only the host reads these: the archive and a helper's busybox give neither
        entry.xattrs = None;
        entry.mtime_nsec = None;
    }
    m
}
use super::engine::{engine, helper_image, required};

/// The real engine, but naming no host path: what a VM engine does.
struct NoHostPaths<'a>(&'a DockerEngine);

impl Helpers for NoHostPaths<'_> {
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
        skipped!("the engine is not native, so no tree is host-visible");
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
    let archived = tree::archive_manifests(&engine, &spec, &[copy::FROM], Digest::Blake3, &hashed)
        .expect("archive manifest")
        .remove(0);
    let host = tree::read(&mountpoint, Digest::Blake3, &hashed).expect("host manifest");
    assert_eq!(bare(&host), archived);
    assert_eq!(
        host.entries["pg/base/1"].hardlink_group.as_deref(),
        Some("pg/base/1")
    );
    assert_eq!(host.entries["pg/fifo"].kind, manifest::Kind::Fifo);

    engine
        .run_to_end(&copy::copy_spec(&job, &helper_image(), "it", false))
        .expect("copy");
    let (trees, ways) = tree::copy_manifests(&engine, &job, &spec, &hashed).expect("manifests");
    assert_eq!(
        ways,
        [Way::Host(mountpoint.clone()), Way::Host(target.clone())]
    );
    assert_eq!(
        manifest::compare(&trees[0], &trees[1], Rules::copy(false)),
        vec![]
    );

    // an engine that names no host path (a VM): the volume is hashed where it lives by the
    // helper, the target (a share) on the host once the helper's listing of it matched; the
    // same entries, content as SHA-256 on both sides
    let (vm_way, ways) =
        tree::copy_manifests(&NoHostPaths(&engine), &job, &spec, &hashed).expect("manifests");
    assert_eq!(ways, [Way::Helper, Way::Shared(target.clone())]);
    assert_eq!(
        [bare(&vm_way[0]), bare(&vm_way[1])],
        [
            bare(&tree::read(&mountpoint, Digest::Sha256, &hashed).expect("host manifest")),
            bare(&tree::read(&target, Digest::Sha256, &hashed).expect("host manifest")),
        ]
    );
    assert_eq!(
        manifest::compare(&vm_way[0], &vm_way[1], Rules::copy(false)),
        vec![]
    );

    // a corrupted byte in the copy is caught by the host read too
    let big: PathBuf = target.join("pg/base/big");
    let mut bytes = std::fs::read(&big).expect("read copy");
    bytes[70_000] ^= 1;
    std::fs::write(&big, &bytes).expect("flip a byte");
    let (trees, _) = tree::copy_manifests(&engine, &job, &spec, &hashed).expect("manifests");
    let diffs = manifest::compare(&trees[0], &trees[1], Rules::copy(false));
    assert!(
        diffs.iter().any(|d| matches!(d, manifest::Difference::Changed { path, field: "content", .. } if path == "pg/base/big")),
        "{diffs:?}"
    );
    // and by the VM way: the helper's hash of the source against the host's of the copy
    let (trees, _) =
        tree::copy_manifests(&NoHostPaths(&engine), &job, &spec, &hashed).expect("manifests");
    let diffs = manifest::compare(&trees[0], &trees[1], Rules::copy(false));
    assert!(
        diffs.iter().any(|d| matches!(d, manifest::Difference::Changed { path, field: "content", .. } if path == "pg/base/big")),
        "{diffs:?}"
    );

    engine
        .run_to_end(&copy::wipe_spec(&target, &helper_image(), "it"))
        .expect("wipe");
    engine.remove_volume(volume).expect("remove volume");
}

/// Names with a space, a newline, a byte that is not UTF-8 and a backslash, a symlink whose
/// target holds a newline, a hardlink and a FIFO; more entries than one `xargs` batch.
const TRICKY: &str = r#"set -e
cd /data && rm -rf ./* ./.??*
mkdir -p "d i r" many
printf 'spaced\n' > "d i r/a b"
printf 'newline\n' > "$(printf 'a\nb')"
printf 'latin1\n' > "$(printf 'n\377m')"
printf 'back\n' > 'back\slash'
ln "d i r/a b" "d i r/hard link"
ln -s "$(printf 'tar\nget')" link
mkfifo fifo
i=0; while [ $i -lt 3000 ]; do printf "$i" > "many/file number $i"; i=$((i+1)); done
chown -R 999:999 "d i r" && chmod 0700 "d i r"
"#;

#[test]
fn the_manifest_helper_reads_tricky_names_as_the_host_and_the_archive_do() {
    let Some(engine) = engine() else { return };
    if !engine.is_native().expect("docker info") {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but the engine is not native"
        );
        skipped!("the engine is not native, so no tree is host-visible");
        return;
    }
    let volume = format!("tierctl-it-tricky-{}", std::process::id());
    let seed = HelperSpec {
        mounts: vec![tierctl::engine::MountSpec {
            // the test creates the volume on purpose by mounting it
            source: MountSource::Volume(volume.clone()),
            target: "/data".into(),
            read_only: false,
        }],
        capabilities: copy::copy_capabilities(false),
        ..HelperSpec::new(
            "seed",
            &helper_image(),
            vec!["sh".into(), "-c".into(), TRICKY.into()],
        )
    };
    engine.run_to_end(&seed).expect("seed the volume");
    let mountpoint = engine
        .volume_mountpoint(&volume)
        .expect("inspect")
        .expect("the volume exists");
    // a socket, made on the host: busybox has nothing that leaves one behind
    let _socket = std::os::unix::net::UnixListener::bind(mountpoint.join("sock")).expect("socket");
    let job = CopyJob {
        source: MountSource::Volume(volume.clone()),
        target: PathBuf::from("/nonexistent-never-mounted"),
    };
    let mut spec = copy::verify_spec(&job, &helper_image(), "it");
    spec.mounts.retain(|m| m.target == copy::FROM);

    let hashed = AtomicU64::new(0);
    let helper = tree::helper_manifests(&engine, &spec, &[(copy::FROM, Depth::Hashed)], &hashed)
        .expect("helper manifest")
        .remove(0);
    let host = tree::read(&mountpoint, Digest::Sha256, &hashed).expect("host manifest");
    let archived = tree::archive_manifests(&engine, &spec, &[copy::FROM], Digest::Sha256, &hashed)
        .expect("archive manifest")
        .remove(0);
    assert_eq!(helper, bare(&host));
    assert_eq!(helper, archived);
    assert_eq!(
        helper.len(),
        3010,
        "{:?}",
        helper.entries.keys().take(12).collect::<Vec<_>>()
    );
    let spaced = &helper.entries["d i r/a b"];
    assert_eq!(spaced.hardlink_group.as_deref(), Some("d i r/a b"));
    assert_eq!(helper.entries["d i r"].uid, 999);
    assert_eq!(helper.entries["link"].link.as_deref(), Some("tar\nget"));
    for name in [
        "a\nb",
        "n\0ffm",
        "back\\slash",
        "fifo",
        "many/file number 2999",
    ] {
        assert!(helper.entries.contains_key(name), "{name:?}");
    }
    assert!(!helper.entries.contains_key("sock"), "sockets are left out");
    // a listing without content reads no file
    let listed = tree::helper_manifests(&engine, &spec, &[(copy::FROM, Depth::Listed)], &hashed)
        .expect("listing")
        .remove(0);
    assert_eq!(listed.entries["d i r/a b"].hash, None);
    assert_eq!(listed.len(), helper.len());

    engine.remove_volume(&volume).expect("remove volume");
}

/// The copy helper of a VM migration reads both trees right after its copy, in the same
/// container (one container start less per tree): the listing it prints after the copy is what
/// the manifest helper and the host read of the same trees, and the verify takes the copy's as
/// the host lists it (a share that keeps owners and modes).
#[test]
fn the_copy_helper_reads_both_trees_after_its_copy_as_the_host_does() {
    let Some(engine) = engine() else { return };
    if !engine.is_native().expect("docker info") {
        skipped!("the engine is not native, so the host cannot read the volume");
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but the engine is not native"
        );
        return;
    }
    let volume = format!("tierctl-it-aftercopy-{}", std::process::id());
    seeded_volume(&engine, &volume);
    let mountpoint = engine
        .volume_mountpoint(&volume)
        .expect("inspect")
        .expect("the volume exists");
    let root = tempfile::tempdir().expect("temp dir");
    let target = root.path().join("fast/db");
    std::fs::create_dir_all(&target).expect("target");
    let job = CopyJob {
        source: MountSource::Volume(volume.clone()),
        target: target.clone(),
    };
    let sides = [job.source.clone(), MountSource::Bind(target.clone())];
    // a native engine: the host reads both trees itself, the copy helper only copies
    assert_eq!(
        tree::after_copy_roots(&engine, &sides).expect("inspect"),
        None
    );
    let vm = NoHostPaths(&engine);
    let roots = tree::after_copy_roots(&vm, &sides)
        .expect("no engine call")
        .expect("a VM: the copy helper reads both");
    // measured, copied and read in one container, as `migrate --stop-first` does on a VM
    let spec = helper::after_copy(
        &copy::measured_copy_spec(&job, &helper_image(), "it", true),
        &roots,
    );
    let output = vm.run_to_end(&spec).expect("copy and read");
    let (printed, listing) = helper::split_after_copy(&output).expect("a listing");
    let (size, began) = copy::parse_measured(printed).expect("measured");
    assert!(began.is_some(), "copied: {printed}");
    assert!(size.entries > 1 && !size.devices, "{size:?}");
    // the volume hashed where it lives, the target (a directory the host lists) only listed
    assert_eq!(
        roots,
        [(copy::FROM, Depth::Hashed), (copy::TO, Depth::Listed)]
    );
    let hashed = AtomicU64::new(0);
    let [source, listed] = tree::after_copy_manifests(listing, &roots, &hashed).expect("parsed");
    let on_host = |path: &std::path::Path| {
        tree::read(path, Digest::Sha256, &AtomicU64::new(0)).expect("host manifest")
    };
    assert_eq!(bare(&source), bare(&on_host(&mountpoint)));
    assert_eq!(
        bare(&listed),
        bare(&tree::host_listing(&target).expect("host listing"))
    );
    // the verify: the target's content hashed on the host, its listing matched
    let (trees, ways) = tree::verify_after_copy([source, listed], &roots, &sides, &hashed)
        .expect("read")
        .expect("completed on the host");
    assert_eq!(
        ways,
        [Way::CopyHelper, Way::CopyHelperShared(target.clone())]
    );
    assert_eq!(bare(&trees[1]), bare(&on_host(&target)));
    assert_eq!(
        manifest::compare(&trees[0], &trees[1], Rules::copy(false)),
        vec![]
    );

    // an empty volume the image would seed: measured, not copied (the seed comes first)
    let empty = format!("tierctl-it-aftercopy-empty-{}", std::process::id());
    let _ = std::process::Command::new("docker")
        .args(["volume", "create", &empty])
        .output();
    let into = root.path().join("fast/empty");
    std::fs::create_dir_all(&into).expect("target");
    let job = CopyJob {
        source: MountSource::Volume(empty.clone()),
        target: into.clone(),
    };
    let spec = copy::measured_copy_spec(&job, &helper_image(), "it", true);
    let printed = engine.run_to_end(&spec).expect("measured");
    let (size, began) = copy::parse_measured(&printed).expect("measured");
    assert_eq!((size.entries, began), (1, None), "{printed}");
    engine.remove_volume(&empty).expect("remove volume");

    engine
        .run_to_end(&copy::wipe_spec(&target, &helper_image(), "it"))
        .expect("wipe");
    engine.remove_volume(&volume).expect("remove volume");
}
