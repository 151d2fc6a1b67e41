use super::*;
use crate::compose::load::one_file::project;

const G: u64 = 1 << 30;

fn fs(fs_type: &str, device: &str, size: u64) -> FsView {
    FsView {
        fs_type: Some(fs_type.into()),
        device: Some(device.into()),
        mount_source: None,
        size_bytes: Some(size),
        used_bytes: Some(size / 2),
        available_bytes: Some(size / 2),
        covered_by: None,
    }
}

fn bind(host: FsView, container: FsView, marker: MarkerState) -> MountObservation {
    MountObservation {
        kind: MountKind::Bind,
        target: "/photos".into(),
        read_only: false,
        host: Some(HostSource {
            source: "/Volumes/faststore/photos".into(),
            real: None,
            exists: true,
            fs: Some(host),
        }),
        container: Some(container),
        marker,
    }
}

#[test]
fn native_same_filesystem_with_the_marker_is_ok() {
    let m = bind(
        fs("ext4", "8:1", 100 * G),
        fs("ext4", "8:1", 100 * G),
        MarkerState::Seen,
    );
    let c = check(&m, EngineClass::Native);
    assert_eq!(c.verdict, Verdict::Ok, "{c:?}");
    assert!(c.reasons.is_empty() && c.notes.is_empty(), "{c:?}");
}

#[test]
fn colima_vm_disk_instead_of_the_share_is_marker_missing_with_every_difference() {
    let m = bind(
        fs("apfs", "1:4", 1900 * G),
        fs("ext4", "254:1", 58 * G),
        MarkerState::Missing,
    );
    let c = check(&m, EngineClass::Vm);
    assert_eq!(c.verdict, Verdict::MarkerMissing);
    assert_eq!(c.reasons.len(), 3, "{c:?}");
    assert!(c.reasons[1].contains("`ext4`"), "{c:?}");
    assert!(c.reasons[2].contains("1.9T"), "{c:?}");
}

#[test]
fn a_vm_share_type_is_a_note_and_ext4_is_a_type_mismatch() {
    let ok = bind(
        fs("apfs", "1:4", 1900 * G),
        fs("virtiofs", "0:50", 1900 * G),
        MarkerState::Seen,
    );
    let c = check(&ok, EngineClass::Vm);
    assert_eq!(c.verdict, Verdict::Ok);
    assert!(c.notes[0].contains("a VM share"), "{c:?}");
    let bad = bind(
        fs("apfs", "1:4", 1900 * G),
        fs("overlay", "0:50", 1900 * G),
        MarkerState::NotWritten,
    );
    assert_eq!(
        check(&bad, EngineClass::Vm).verdict,
        Verdict::MountTypeMismatch
    );
}

#[test]
fn docker_desktop_size_difference_with_the_marker_seen_is_a_note() {
    let m = bind(
        fs("apfs", "1:4", 1900 * G),
        fs("fakeowner", "0:50", 460 * G),
        MarkerState::Seen,
    );
    let c = check(&m, EngineClass::DockerDesktop);
    assert_eq!(c.verdict, Verdict::Ok, "{c:?}");
    assert!(
        c.notes.iter().any(|n| n.contains("Docker Desktop")),
        "{c:?}"
    );
    // Elsewhere the same difference is a failure.
    assert_eq!(check(&m, EngineClass::Vm).verdict, Verdict::DfMismatch);
    // And on Docker Desktop without the marker too.
    let unproven = MountObservation {
        marker: MarkerState::NotWritten,
        ..m
    };
    assert_eq!(
        check(&unproven, EngineClass::DockerDesktop).verdict,
        Verdict::DfMismatch
    );
}

#[test]
fn native_device_difference_without_the_marker_is_df_mismatch() {
    let m = bind(
        fs("ext4", "8:1", 100 * G),
        fs("ext4", "8:17", 100 * G),
        MarkerState::NotWritten,
    );
    let c = check(&m, EngineClass::Native);
    assert_eq!(c.verdict, Verdict::DfMismatch);
    assert!(c.reasons[0].contains("8:17"), "{c:?}");
    let seen = MountObservation {
        marker: MarkerState::Seen,
        ..m
    };
    assert_eq!(check(&seen, EngineClass::Native).verdict, Verdict::Ok);
}

#[test]
fn sizes_within_one_percent_or_a_mebibyte_are_the_same() {
    assert!(same_size(100 * G, 100 * G - G / 200));
    assert!(!same_size(100 * G, 98 * G));
    assert!(same_size(4 << 20, 4 << 20));
    assert!(!same_size(8 << 20, 58 * G));
}

#[test]
fn a_symlinked_source_names_the_real_path() {
    let mut m = bind(
        fs("ext4", "8:1", 100 * G),
        fs("ext4", "8:1", 100 * G),
        MarkerState::Seen,
    );
    if let Some(h) = m.host.as_mut() {
        h.source = "/srv/Photos".into();
        h.real = Some("/srv/faststore/photos".into());
    }
    let c = check(&m, EngineClass::Native);
    assert_eq!(c.verdict, Verdict::SymlinkedBind);
    assert!(c.reasons[0].contains("`/srv/faststore/photos`"), "{c:?}");
}

#[test]
fn issue12_verify_system_path_bind_is_not_symlinked_bind() {
    // Immich's `/etc/localtime:/etc/localtime:ro`: a symlink on most hosts, and in a VM
    // the VM's own file on its disk. audit leaves system paths alone; verify too.
    let mut m = bind(
        fs("ext4", "8:1", 100 * G),
        fs("ext4", "254:1", 58 * G),
        MarkerState::NotWritten,
    );
    if let Some(h) = m.host.as_mut() {
        h.source = "/etc/localtime".into();
        h.real = Some("/usr/share/zoneinfo/Etc/UTC".into());
    }
    for engine in [EngineClass::Native, EngineClass::Vm] {
        let c = check(&m, engine);
        assert_eq!(c.verdict, Verdict::Ok, "{c:?}");
        assert!(c.notes[0].contains("system path"), "{c:?}");
    }
}

#[test]
fn a_volume_is_named_volume_on_the_vm_disk() {
    let m = MountObservation {
        kind: MountKind::Volume {
            name: "immich_db".into(),
        },
        target: "/var/lib/postgresql/data".into(),
        read_only: false,
        host: None,
        container: Some(fs("ext4", "254:1", 58 * G)),
        marker: MarkerState::NotWritten,
    };
    let c = check(&m, EngineClass::Vm);
    assert_eq!(c.verdict, Verdict::NamedVolume);
    assert!(c.reasons[0].contains("`immich_db`"), "{c:?}");
    assert!(c.reasons[0].contains("VM disk"), "{c:?}");
}

#[test]
fn a_source_missing_on_the_host_is_marker_missing() {
    let mut m = bind(
        fs("ext4", "8:1", G),
        fs("ext4", "254:1", G),
        MarkerState::NotWritten,
    );
    if let Some(h) = m.host.as_mut() {
        h.exists = false;
        h.fs = None;
    }
    let c = check(&m, EngineClass::Vm);
    assert_eq!(c.verdict, Verdict::MarkerMissing);
    assert!(c.reasons[0].contains("does not exist"), "{c:?}");
}

fn running(kind: MountKind, source: &str, target: &str) -> RunningMount {
    RunningMount {
        kind,
        source: source.into(),
        target: target.into(),
    }
}

#[test]
fn cross_check_names_stale_sources_missing_and_undeclared_mounts() {
    let p = project(
        r#"
services:
  app:
    image: busybox
    volumes:
      - ./photos:/photos
      - db:/db
      - /srv/cache:/cache
volumes:
  db: {}
"#,
    );
    let volume = || MountKind::Volume { name: "x".into() };
    let clean = cross_check(
        &p,
        "app",
        &[
            running(MountKind::Bind, "/p/photos", "/photos"),
            running(volume(), "p_db", "/db"),
            running(MountKind::Bind, "/srv/cache", "/cache"),
        ],
    );
    assert_eq!(clean, Vec::<String>::new());
    let stale = cross_check(
        &p,
        "app",
        &[
            running(MountKind::Bind, "/old/photos", "/photos"),
            running(volume(), "p_db", "/db"),
            running(volume(), "abc123", "/anon"),
        ],
    );
    assert_eq!(stale.len(), 3, "{stale:?}");
    assert!(stale[0].contains("`/old/photos`") && stale[0].contains("`/p/photos`"));
    assert!(stale[1].contains("`/cache`") && stale[1].contains("does not"));
    assert!(stale[2].contains("`/anon`") && stale[2].contains("not declared"));
    let unknown = cross_check(&p, "gone", &[]);
    assert!(unknown[0].contains("`gone`"), "{unknown:?}");
}

#[test]
fn issue20_item5_a_running_mount_is_named_by_the_declared_mount_it_is() {
    let p = project(
        r#"
services:
  app:
    image: busybox
    volumes:
      - ./photos:/photos/
      - db:/db
  other:
    image: busybox
    volumes:
      - ./x:/db
volumes:
  db: {}
"#,
    );
    let id = |service: &str, n: usize| p.services[service].mounts[n].id;
    let ids = identify_running(
        &p,
        "app",
        &[
            running(MountKind::Bind, "/p/photos", "/photos"),
            running(MountKind::Bind, "/tmp", "/tmp"),
            running(
                MountKind::Volume {
                    name: "p_db".into(),
                },
                "p_db",
                "/db/",
            ),
        ],
    );
    // the cleaned target matches the one written with a slash; `/db` is `app`'s, not
    // `other`'s; an image `VOLUME` is no declared mount
    assert_eq!(ids, [Some(id("app", 0)), None, Some(id("app", 1))]);
    assert_ne!(id("app", 1), id("other", 0));
    let gone = identify_running(&p, "gone", &[running(MountKind::Bind, "/x", "/db")]);
    assert_eq!(gone, [None]);
}

#[test]
fn verdict_ids_are_stable() {
    let ids: Vec<&str> = [
        Verdict::Ok,
        Verdict::DfMismatch,
        Verdict::MountTypeMismatch,
        Verdict::MarkerMissing,
        Verdict::NamedVolume,
        Verdict::SymlinkedBind,
    ]
    .iter()
    .map(|v| v.id())
    .collect();
    assert_eq!(
        ids,
        [
            "ok",
            "df-mismatch",
            "mount-type-mismatch",
            "marker-missing",
            "named-volume",
            "symlinked-bind"
        ]
    );
    assert_eq!(
        serde_json::to_value(Verdict::MountTypeMismatch).expect("serialises"),
        "mount-type-mismatch"
    );
}

#[test]
fn issue25_a_nested_bind_that_shows_its_parents_filesystem_is_bind_hidden() {
    let mut seen = fs("ext4", "254:1", 100 * G);
    seen.covered_by = Some("/data".into());
    let mut m = bind(fs("tmpfs", "0:55", G), seen, MarkerState::Missing);
    m.target = "/data/thumbs".into();
    let c = check(&m, EngineClass::Native);
    assert_eq!(c.verdict, Verdict::BindHidden, "{c:?}");
    assert_eq!(Verdict::BindHidden.id(), "bind-hidden");
    assert_eq!(
        c.reasons[0],
        "the container sees the filesystem mounted at `/data` at `/data/thumbs`: a later mount of `/data` covers this bind"
    );
    assert!(c.reasons.len() >= 3, "the marker, type and size too: {c:?}");
}

/// Issue 21 (the power-cut soak): dockerd restarted a container at boot before the tier's disk
/// was mounted; the container binds the directory below the mount point (the root disk's
/// device), the host sees the disk mounted over it now.
#[test]
fn issue21_a_container_started_before_its_disk_was_mounted_is_stale_bind() {
    let m = bind(
        fs("ext4", "254:16", 2 * G),
        fs("ext4", "254:0", 8 * G),
        MarkerState::Missing,
    );
    let c = check(&m, EngineClass::Native);
    assert_eq!(c.verdict, Verdict::StaleBind, "{c:?}");
    assert_eq!(Verdict::StaleBind.id(), "stale-bind");
    let why = &c.reasons[0];
    assert!(why.contains("device 254:0"), "{why}");
    assert!(why.contains("after the container started"), "{why}");
    assert!(why.contains("--force-recreate"), "{why}");
    assert!(why.contains("RequiresMountsFor="), "{why}");
    // the marker seen: one filesystem through another device number is only a note
    let seen = bind(
        fs("ext4", "254:16", 2 * G),
        fs("ext4", "254:0", 2 * G),
        MarkerState::Seen,
    );
    assert_eq!(check(&seen, EngineClass::Native).verdict, Verdict::Ok);
    // a VM engine's share always has another device: never stale-bind
    let vm = bind(
        fs("apfs", "1:4", 2 * G),
        fs("ext4", "254:0", 8 * G),
        MarkerState::Missing,
    );
    assert_eq!(check(&vm, EngineClass::Vm).verdict, Verdict::MarkerMissing);
}
