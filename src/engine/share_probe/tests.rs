use super::*;

/// What the helper printed on a virtiofs share served by a root virtiofsd.
const VIRTIOFS: &str = "#mountinfo
1100 1000 0:120 / / ro,relatime - overlay overlay rw
1200 1100 0:44 /.tierctl-share-probe-1-2 /tierctl-share rw,relatime - virtiofs vfs0 rw
#chown
1234:1234
#mode
751
#symlink
link target-of-link
#hardlink
2 1048611
2 1048611
#fsync
rc 0
#case
sensitive
#mmap
containers coherent 5
host stuck 1 0
#lock
passwd: warning: can't lock '/etc/passwd': Resource temporarily unavailable
passwd: password for root changed by root
rc 0
#inotify
0
own 1
";

/// The second container went through every round; the host's mapping never saw the
/// container's write.
fn peers() -> MmapPeers {
    MmapPeers {
        container: Ok("coherent 5\n".into()),
        host: Some(Outcome::Stuck {
            round: 1,
            peer_read: 0,
        }),
    }
}

#[test]
fn parses_a_share_that_keeps_everything_but_host_inotify_and_host_mmap() {
    let keeps = parse_output(VIRTIOFS, &peers());
    assert_eq!(keeps.fs_type.as_deref(), Some("virtiofs"));
    assert_eq!(keeps.chown, Some(true));
    assert_eq!(keeps.mode, Some(true));
    assert_eq!(keeps.symlinks, Some(true));
    assert_eq!(keeps.hardlinks, Some(true));
    assert_eq!(keeps.fsync, Some(true));
    assert_eq!(keeps.case_sensitive, Some(true));
    assert_eq!(keeps.posix_locks_with_host, Some(true));
    assert_eq!(keeps.host_inotify, Some(false));
    assert_eq!(keeps.mmap_coherence, Some(true));
    assert_eq!(keeps.mmap_coherence_with_host, Some(false));
    assert_eq!(
        keeps.notes,
        [
            "mmap coherence between the host and a container: the container did not see its peer's write of round 1 through its mapping within 5 s (read 0)",
            "mmap coherence between the host and a container: the host did not see its peer's write of round 1 through its mapping within 5 s (read 0)",
        ]
    );
}

#[test]
fn issue22_mmap_is_measured_with_the_tool_and_said_not_measured_without_it() {
    // no tool in the helper image: both pairs not measured, said once
    let without = VIRTIOFS.replace("containers coherent 5\nhost stuck 1 0\n", "no-tool\n");
    let peers_without = MmapPeers {
        container: Ok("no-tool\n".into()),
        host: Some(Outcome::NoPeer),
    };
    let keeps = parse_output(&without, &peers_without);
    assert_eq!(
        (keeps.mmap_coherence, keeps.mmap_coherence_with_host),
        (None, None)
    );
    assert_eq!(keeps.notes, [NO_MMAP_TOOL]);
    // a share that refuses a shared writable mapping (9p without a page cache)
    let refused = VIRTIOFS.replace(
        "containers coherent 5\nhost stuck 1 0\n",
        "containers failed mmap: Invalid argument (os error 22)\nhost failed mmap: Invalid argument (os error 22)\n",
    );
    let peers_refused = MmapPeers {
        container: Ok("failed mmap: Invalid argument (os error 22)\n".into()),
        host: Some(Outcome::NoPeer),
    };
    let keeps = parse_output(&refused, &peers_refused);
    assert_eq!(keeps.mmap_coherence, Some(false));
    assert_eq!(keeps.mmap_coherence_with_host, Some(false));
    assert!(keeps.notes.contains(
        &"mmap coherence between two containers: the helper cannot map a file of the share shared and writable (Invalid argument (os error 22))".to_owned()
    ));
    // everything coherent (the native control)
    let all = VIRTIOFS.replace("host stuck 1 0", "host coherent 5");
    let peers_all = MmapPeers {
        container: Ok("coherent 5\n".into()),
        host: Some(Outcome::Coherent { rounds: 5 }),
    };
    let keeps = parse_output(&all, &peers_all);
    assert_eq!(
        (keeps.mmap_coherence, keeps.mmap_coherence_with_host),
        (Some(true), Some(true))
    );
    assert!(keeps.notes.is_empty(), "{:?}", keeps.notes);
    // the second container never ran, the host never saw the helper start: not measured
    let peers_gone = MmapPeers {
        container: Err(NotMeasured::from("engine said no")),
        host: Some(Outcome::NoPeer),
    };
    let keeps = parse_output(&all.replace("host coherent 5", "host no-peer"), &peers_gone);
    assert_eq!(
        (keeps.mmap_coherence, keeps.mmap_coherence_with_host),
        (None, None)
    );
    assert_eq!(
        keeps.notes,
        [
            "mmap coherence between two containers: not measured (the second container: engine said no)",
            "mmap coherence between the host and a container: not measured (the container never saw its peer start; the host never saw its peer start)",
        ]
    );
}

#[test]
fn the_second_mmap_container_binds_only_the_scratch_directory_without_capabilities() {
    let spec = mmap_peer_spec("img", Path::new("/share/.scratch"));
    assert!(spec.capabilities.is_empty());
    let targets: Vec<&str> = spec.mounts.iter().map(|m| m.target.as_str()).collect();
    assert_eq!(targets, [TARGET]);
    assert!(spec.command[2].contains("tierctl-mmap /tierctl-share/mmap-containers 0"));
}

#[test]
fn a_chown_that_does_not_stick_and_a_lock_that_does_not_cross_are_measured_as_lost() {
    let text = VIRTIOFS
        .replace("1234:1234\n", "0:0\n")
        .replace(
            "passwd: warning: can't lock '/etc/passwd': Resource temporarily unavailable\n",
            "",
        )
        .replace("2 1048611\n2 1048611", "2 7\n2 8");
    let keeps = parse_output(&text, &peers());
    assert_eq!(keeps.chown, Some(false));
    assert_eq!(keeps.posix_locks_with_host, Some(false));
    assert_eq!(keeps.hardlinks, Some(true));
    assert!(
        keeps
            .notes
            .contains(&"chown to 1234:1234 reads back as 0:0".to_owned())
    );
    assert!(
        keeps
            .notes
            .contains(&"hardlinks: the two names show different inode numbers".to_owned())
    );
}

#[test]
fn errors_and_missing_tools_are_reported_not_guessed() {
    let text = "#mountinfo
1 2 0:3 / /tierctl-share rw - fuse.sshfs :/x rw
#chown
chown: owned: Operation not permitted
0:0
#mode
751
#symlink
ln: link: Operation not supported
nolink
#hardlink
ln: two: Operation not permitted
#fsync
sync: synced: Invalid argument
rc 1
#case
insensitive
#lock
no-tool
#inotify
no-tool
";
    let keeps = parse_output(text, &peers());
    assert_eq!(keeps.fs_type.as_deref(), Some("fuse.sshfs"));
    assert_eq!(keeps.chown, Some(false));
    assert_eq!(keeps.symlinks, Some(false));
    assert_eq!(keeps.hardlinks, Some(false));
    assert_eq!(keeps.fsync, Some(false));
    assert_eq!(keeps.case_sensitive, Some(false));
    assert_eq!(keeps.posix_locks_with_host, None);
    assert_eq!(keeps.host_inotify, None);
    assert_eq!(
        keeps.notes[0],
        "chown to 1234:1234 reads back as 0:0 (chown: owned: Operation not permitted)"
    );
    assert!(
        keeps
            .notes
            .iter()
            .any(|n| n.contains("neither `inotifyd` nor `inotifywait`"))
    );
    let blind = parse_output(&VIRTIOFS.replace("own 1", "own 0"), &peers());
    assert_eq!(blind.host_inotify, None);
    assert!(blind.notes.iter().any(|n| n.contains("own write either")));
    let seen = parse_output(
        &VIRTIOFS.replace("#inotify\n0\n", "#inotify\n2\n"),
        &peers(),
    );
    assert_eq!(seen.host_inotify, Some(true));
    assert!(
        keeps
            .notes
            .iter()
            .any(|n| n.contains("no busybox `passwd`"))
    );
}

#[test]
fn the_helper_binds_only_the_scratch_directory_with_chown_and_fowner() {
    let spec = helper_spec("img", Path::new("/share/.scratch"));
    assert_eq!(spec.capabilities, [Capability::Chown, Capability::Fowner]);
    let targets: Vec<&str> = spec.mounts.iter().map(|m| m.target.as_str()).collect();
    assert_eq!(targets, [TARGET, "/etc"]);
    assert!(spec.mounts.iter().all(|m| !m.read_only));
}

#[test]
fn a_read_only_or_missing_share_runs_no_helper() {
    let dir = tempfile::tempdir().expect("temp dir");
    let read_only = Share::same_path(dir.path(), false, Some("9p"));
    let missing = Share::same_path(dir.path().join("nope"), true, Some("9p"));
    for share in [read_only, missing] {
        let probe = probe_share(&crate::engine::no_helpers::NoHelpers, "img", &share)
            .expect("no engine error");
        assert!(
            matches!(probe.outcome, ShareOutcome::Skipped { .. }),
            "{probe:?}"
        );
    }
    assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0);
}
