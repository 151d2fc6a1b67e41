//! Issue 21 item 7 against the real engine and compose CLI: what a copy keeps. A migration on
//! the host (root, native engine: the pre-copy's helper copy, then what only the host keeps
//! given to it, the delta and the verify on the host) keeps extended attributes (`user.*`,
//! `security.capability`, a POSIX ACL), holes and symlink times; a tier whose filesystem holds
//! no extended attributes (a ramfs) is refused by preflight before anything stops, naming the
//! volume, the attribute and an example path, and `--force` moves the volume without them.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::compose_runner::Family;
use super::engine::required;
use super::migrate_engine::{COMPOSE, stdout, unique};
use super::stack::Stack;

/// `cap_net_bind_service+ep`, as `setcap` writes it.
const CAPABILITY: [u8; 20] = [
    0x01, 0, 0, 0x02, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// `u::rw-,u:1000:r--,g::r--,m::r--,o::---`, as `setfacl` writes it (`setfacl` is not
/// installed on the build machines; the crate sets the same bytes).
fn acl() -> Vec<u8> {
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, 1000),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        acl.extend(tag.to_le_bytes());
        acl.extend(perm.to_le_bytes());
        acl.extend(id.to_le_bytes());
    }
    acl
}

/// Whether this process may mount and set every namespace (root, in the engine's mount
/// namespace), else skipped loudly.
fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(!required(), "TIERCTL_REQUIRE_DOCKER=1 but not root");
    skipped!("extended attributes of every namespace and a ramfs tier need root");
    false
}

/// A mount on `path`, lazily unmounted when dropped (also after a failed assertion, while a
/// container may still use it).
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = xattr::list(path)
        .expect("list")
        .filter(|n| n.to_string_lossy() != "security.selinux")
        .map(|n| {
            let value = xattr::get(path, &n).expect("get").unwrap_or_default();
            (n.to_string_lossy().into_owned(), value)
        })
        .collect();
    out.sort();
    out
}

fn lstat_mtime(path: &Path) -> (i64, i64) {
    let meta = std::fs::symlink_metadata(path).expect("lstat");
    (meta.mtime(), meta.mtime_nsec())
}

#[test]
fn issue21_a_migrate_on_the_host_keeps_xattrs_acls_holes_and_symlink_times() {
    if !root() {
        return;
    }
    let seed = "set -e; cd /data; echo '#!/bin/sh' > bin; chmod 755 bin; echo rows > data; \
                mkdir shared; ln -s data link; chown -R 999:999 /data";
    let Some(s) = Stack::up(Family::V2, unique("tierctlx21keep"), COMPOSE, seed) else {
        return;
    };
    let volume = s.volume_mountpoint();
    xattr::set(volume.join("bin"), "security.capability", &CAPABILITY).expect("capability");
    xattr::set(volume.join("bin"), "user.DOSATTRIB", b"0x20").expect("user");
    let ownership = br#"{"UID":999,"GID":999,"mode":33261}"#;
    xattr::set(
        volume.join("bin"),
        "user.com.docker.grpcfuse.ownership",
        ownership,
    )
    .expect("user");
    xattr::set(volume.join("data"), "system.posix_acl_access", &acl()).expect("acl");
    xattr::set(volume.join("shared"), "system.posix_acl_default", &acl()).expect("default acl");
    let sparse = std::fs::File::create(volume.join("disk.img")).expect("file");
    sparse.set_len(64 << 20).expect("a 64 MiB hole");
    drop(sparse);
    let old = nix::sys::time::TimeSpec::new(1_500_000_000, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &volume.join("link"),
        &old,
        &old,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .expect("symlink time");
    let before: Vec<_> = ["bin", "data", "shared", "link"]
        .iter()
        .map(|p| xattrs(&volume.join(p)))
        .collect();

    let out = s
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("would be lost"), "{text}");

    let target = s.target();
    let after: Vec<_> = ["bin", "data", "shared", "link"]
        .iter()
        .map(|p| xattrs(&target.join(p)))
        .collect();
    assert_eq!(after, before);
    assert_eq!(after[0].len(), 3, "{:?}", after[0]);
    assert_eq!(lstat_mtime(&target.join("link")), (1_500_000_000, 0));
    let img = std::fs::metadata(target.join("disk.img")).expect("stat");
    assert_eq!(img.len(), 64 << 20);
    assert!(
        img.blocks() * 512 <= 64 << 10,
        "the hole was written: {} bytes allocated",
        img.blocks() * 512
    );
}

#[test]
fn issue21_preflight_refuses_a_tier_without_xattrs_before_the_stop_and_force_only_warns() {
    if !root() {
        return;
    }
    let seed = "set -e; cd /data; echo one > f; mkdir d";
    let Some(s) = Stack::up(Family::V2, unique("tierctlx21ramfs"), COMPOSE, seed) else {
        return;
    };
    xattr::set(s.volume_mountpoint().join("f"), "user.DOSATTRIB", b"0x20").expect("user");
    // a ramfs holds no extended attributes (and says it has no room: refused for that too,
    // so `--force` turns only the loss into a warning here; the copy onto it is
    // `host_apply`'s unit test)
    let fast = s.ws.path("fast");
    let mounted = Command::new("mount")
        .args(["-t", "ramfs", "tierctl-noxattr"])
        .arg(&fast)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        assert!(!required(), "cannot mount a ramfs");
        skipped!("cannot mount a ramfs here");
        return;
    }
    let _mounted = Mounted(fast.clone());
    let compose = s.compose_text();
    let lost = format!(
        "volume `{}`: extended attribute `user.DOSATTRIB` would be lost (e.g. `f`): the filesystem of `{}` refuses it",
        s.volume(),
        fast.display()
    );

    let out = s
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("preflight refused the migration before anything was stopped"),
        "{text}"
    );
    assert!(text.contains(&format!("  - {lost}")), "{text}");
    assert!(text.contains("`--force` to copy without them"), "{text}");
    assert!(!text.contains("[1/"), "{text}");
    assert_eq!(
        std::fs::read_dir(&fast).expect("tier root").count(),
        0,
        "a probe was left"
    );
    assert_eq!(s.compose_text(), compose);
    assert_eq!(
        s.db_mount(),
        s.volume(),
        "the service still runs on its volume"
    );

    let out = s
        .tierctl()
        .args(["migrate", "--yes", "--force"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "warning: {lost}: Operation not supported (os error 95) (going on: --force)"
        )),
        "{text}"
    );
    assert!(!text.contains(&format!("  - {lost}")), "{text}");
    assert_eq!(s.compose_text(), compose);
}

#[test]
fn issue21_a_rollback_on_the_host_brings_file_times_back_to_the_nanosecond() {
    if !root() {
        return;
    }
    let seed = "set -e; cd /data; mkdir -p pg/base; echo rows > pg/base/1; chown -R 999:999 /data";
    let Some(s) = Stack::up(Family::V2, unique("tierctlx21backns"), COMPOSE, seed) else {
        return;
    };
    let volume = s.volume_mountpoint();
    // times with a nanosecond part busybox `cp -a` (the rollback's copy back) drops
    let file_time = nix::sys::time::TimeSpec::new(1_600_000_000, 123_456_789);
    let dir_time = nix::sys::time::TimeSpec::new(1_600_000_100, 987_654_321);
    for (path, time) in [("pg/base/1", &file_time), ("pg/base", &dir_time)] {
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            &volume.join(path),
            time,
            time,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .expect("times");
    }
    xattr::set(volume.join("pg/base/1"), "user.DOSATTRIB", b"0x20").expect("user xattr");
    let out = s
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        lstat_mtime(&s.target().join("pg/base/1")),
        (1_600_000_000, 123_456_789)
    );
    // the service writes on the tier: the rollback copies the tier back into the volume
    let wrote = Command::new("docker")
        .args(["exec", &s.db(), "sh", "-c", "echo new > /data/new; sync"])
        .status()
        .is_ok_and(|st| st.success());
    assert!(wrote, "docker exec");

    let back = s
        .tierctl()
        .args(["migrate", "--rollback", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&back);
    assert_eq!(back.status.code(), Some(0), "{text}");
    assert!(text.contains("back into volume"), "{text}");
    assert_eq!(s.db_mount(), s.volume());
    assert_eq!(
        std::fs::read_to_string(volume.join("new")).expect("brought back"),
        "new\n"
    );
    assert_eq!(
        lstat_mtime(&volume.join("pg/base/1")),
        (1_600_000_000, 123_456_789),
        "the file's mtime to the nanosecond"
    );
    assert_eq!(
        lstat_mtime(&volume.join("pg/base")),
        (1_600_000_100, 987_654_321),
        "the directory's mtime to the nanosecond"
    );
    assert_eq!(
        xattrs(&volume.join("pg/base/1")),
        [("user.DOSATTRIB".to_owned(), b"0x20".to_vec())]
    );
}
