//! The copy machinery against a real Docker engine: a volume with owners, modes, a symlink, a
//! hardlink and a FIFO copied by the helper, both trees read back as manifests and compared.

use std::sync::atomic::{AtomicU64, Ordering};

use tierctl::engine::{HelperSpec, Helpers, MountSource, MountSpec, Volumes};
use tierctl::migrate::copy::{self, CopyJob};
use tierctl::migrate::tree;
use tierctl::migrate::tree::manifest::{self, Difference, Digest, Rules};

use super::engine::{engine, helper_image};

/// A tree like a Postgres data directory: uid 999 and 70, 0600/0700/0755, a symlink, a hardlink,
/// a FIFO, old mtimes.
pub const SEED: &str = r#"set -e
cd /data && rm -rf ./* ./.??*
mkdir -p pg/base sub
printf 'row one\n' > pg/base/1
head -c 100000 /dev/urandom > pg/base/big
chown -R 999:999 pg && chmod 0700 pg && chmod 0600 pg/base/1
ln pg/base/1 pg/base/1.link
ln -s base/1 pg/current
mkfifo pg/fifo && chown 999:999 pg/fifo
printf 'alpine\n' > sub/a && chown 70:70 sub sub/a && chmod 0755 sub
touch -d '2019-05-01 10:00:00' sub/a pg/base/1
"#;

/// A fresh volume filled with [`SEED`].
pub fn seeded_volume(engine: &dyn Helpers, name: &str) {
    let _ = std::process::Command::new("docker")
        .args(["volume", "rm", "-f", name])
        .output();
    let spec = HelperSpec {
        mounts: vec![MountSpec {
            // the test creates the volume on purpose by mounting it
            source: MountSource::Volume(name.into()),
            target: "/data".into(),
            read_only: false,
        }],
        capabilities: copy::copy_capabilities(false),
        ..HelperSpec::new(
            "seed",
            &helper_image(),
            vec!["sh".into(), "-c".into(), SEED.into()],
        )
    };
    engine.run_to_end(&spec).expect("seed the volume");
}

#[test]
fn a_volume_copied_by_the_helper_verifies_equal_and_a_flipped_byte_is_caught() {
    let Some(engine) = engine() else { return };
    let volume = "tierctl-it-copy-src";
    seeded_volume(&engine, volume);
    assert!(engine.volume_exists(volume).expect("inspect"));
    assert!(
        !engine
            .volume_exists("tierctl-it-no-such-volume")
            .expect("inspect")
    );

    let root = tempfile::tempdir().expect("temp dir");
    let target = root.path().join("fast/db");
    std::fs::create_dir_all(&target).expect("target");
    let job = CopyJob {
        source: MountSource::Volume(volume.into()),
        target: target.clone(),
    };
    let size = copy::parse_size(
        &engine
            .run_to_end(&copy::measure_spec(&job, &helper_image(), "it"))
            .expect("measure"),
    )
    .expect("measure output");
    assert!(size.bytes >= 100_000, "{size:?}");
    assert!(!size.devices);
    engine
        .run_to_end(&copy::copy_spec(&job, &helper_image(), "it", size.devices))
        .expect("copy");

    let hashed = AtomicU64::new(0);
    let trees = tree::archive_manifests(
        &engine,
        &copy::verify_spec(&job, &helper_image(), "it"),
        &[copy::FROM, copy::TO],
        Digest::Blake3,
        &hashed,
    )
    .expect("manifests");
    let (source, copied) = (&trees[0], &trees[1]);
    assert_eq!(hashed.load(Ordering::Relaxed), 2 * source.bytes());
    assert_eq!(
        manifest::compare(source, copied, Rules::copy(false)),
        vec![]
    );
    let one = &source.entries["pg/base/1"];
    assert_eq!((one.uid, one.mode), (999, 0o600));
    assert_eq!(one.hardlink_group.as_deref(), Some("pg/base/1"));
    assert_eq!(source.entries["pg"].mode, 0o700);
    assert_eq!(source.entries["sub/a"].uid, 70);
    assert_eq!(source.entries["pg/current"].link.as_deref(), Some("base/1"));
    assert_eq!(source.entries["pg/fifo"].kind, manifest::Kind::Fifo);

    // one flipped byte in the copy (same size, same mtime) is caught
    let big = target.join("pg/base/big");
    let mut bytes = std::fs::read(&big).expect("read copy");
    let mtime = std::fs::metadata(&big)
        .expect("stat")
        .modified()
        .expect("mtime");
    bytes[5000] ^= 1;
    std::fs::write(&big, &bytes).expect("flip a byte");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .expect("open")
        .set_modified(mtime)
        .expect("keep mtime");
    let trees = tree::archive_manifests(
        &engine,
        &copy::verify_spec(&job, &helper_image(), "it"),
        &[copy::FROM, copy::TO],
        Digest::Blake3,
        &hashed,
    )
    .expect("manifests");
    let diffs = manifest::compare(&trees[0], &trees[1], Rules::copy(false));
    assert!(
        matches!(diffs.as_slice(), [Difference::Changed { path, field: "content", .. }] if path == "pg/base/big"),
        "{diffs:?}"
    );

    // wipe empties the target and leaves the source alone
    engine
        .run_to_end(&copy::wipe_spec(&target, &helper_image(), "it"))
        .expect("wipe");
    assert_eq!(std::fs::read_dir(&target).expect("read").count(), 0);
    assert!(engine.volume_exists(volume).expect("inspect"));
    engine.remove_volume(volume).expect("remove volume");
}
