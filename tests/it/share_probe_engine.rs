//! The share probe (`engine::share_probe`) on the native engine: the control for the VM's rows
//! (`vm_engine::vm_probe_measures_what_each_share_keeps`). A directory of this host's disk,
//! taken as a share at the same path, keeps everything the probe can measure, and the host's
//! `fcntl` lock is seen in the container, and shared mappings are coherent between two
//! containers and with the host: so a `false` on a VM share is the share's, not the
//! probe's.

use tierctl::engine::share_probe::{self, ShareOutcome};
use tierctl::share::Share;

use crate::engine::{engine, helper_image, required};

#[test]
fn share_probe_on_a_native_directory_keeps_everything_and_sees_the_host_lock() {
    let Some(engine) = engine() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let share = Share::same_path(dir.path(), true, None);
    let probe = share_probe::probe_share(&engine, &helper_image(), &share).expect("engine answers");
    let ShareOutcome::Measured(keeps) = &probe.outcome else {
        panic!("not measured: {probe:?}");
    };
    assert_eq!(keeps.chown, Some(true), "{keeps:?}");
    assert_eq!(keeps.mode, Some(true), "{keeps:?}");
    assert_eq!(keeps.symlinks, Some(true), "{keeps:?}");
    assert_eq!(keeps.hardlinks, Some(true), "{keeps:?}");
    assert_eq!(keeps.fsync, Some(true), "{keeps:?}");
    assert_eq!(keeps.case_sensitive, Some(true), "{keeps:?}");
    assert_eq!(keeps.posix_locks_with_host, Some(true), "{keeps:?}");
    if keeps
        .notes
        .iter()
        .any(|n| n.contains("has no tierctl-mmap"))
    {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but the helper image {} has no tierctl-mmap: remove it and run `.ci/docker`, which adds it",
            helper_image()
        );
        skipped!(
            "the helper image {} has no tierctl-mmap (`.ci/docker` adds it): mmap coherence not checked",
            helper_image()
        );
    } else {
        // one kernel, one page cache: the control for the VM shares' rows
        assert_eq!(keeps.mmap_coherence, Some(true), "{keeps:?}");
        assert_eq!(keeps.mmap_coherence_with_host, Some(true), "{keeps:?}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert!(left.is_empty(), "the scratch directory was left: {left:?}");
}
