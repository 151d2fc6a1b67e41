//! The host copy's tests.
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::sync::atomic::AtomicU64;

use super::*;
use crate::migrate::tree;
use crate::migrate::tree::listing;
use crate::migrate::tree::manifest::{self, Digest, Rules};

fn same_trees(a: &Path, b: &Path) {
    let hashed = AtomicU64::new(0);
    let a = tree::read(a, Digest::Blake3, &hashed).expect("source manifest");
    let b = tree::read(b, Digest::Blake3, &hashed).expect("copy manifest");
    let differences = manifest::compare(&a, &b, Rules::default());
    assert!(differences.is_empty(), "{differences:?}");
}

/// Both times of `path` (a symlink itself, not its target) set to `time`.
fn set(path: &Path, time: &TimeSpec) {
    utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        time,
        time,
        UtimensatFlags::NoFollowSymlink,
    )
    .expect("utimensat");
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).expect("write");
}

/// A tree with a bit of everything: nested directories, a hardlink pair, symlinks (one
/// pointing out of the tree), a FIFO, odd modes and (as root) another owner.
fn seed(root: &Path) {
    fs::create_dir_all(root.join("d/e")).expect("dirs");
    write(&root.join("d/e/deep"), "deep");
    write(&root.join("same"), "AAAA\n");
    write(&root.join("trunc"), "long content here");
    write(&root.join("del"), "x");
    write(&root.join("ren-a"), "renamed");
    fs::create_dir(root.join("gone")).expect("dir");
    write(&root.join("gone/f"), "f");
    write(&root.join("retype"), "a file, later a directory");
    write(&root.join("h1"), "hardlinked");
    fs::hard_link(root.join("h1"), root.join("h2")).expect("hardlink");
    symlink("/etc/hostname", root.join("out")).expect("symlink");
    symlink("d/e/deep", root.join("in")).expect("symlink");
    nix::unistd::mkfifo(&root.join("fifo"), Mode::from_bits_truncate(0o640)).expect("fifo");
    fs::set_permissions(root.join("d"), fs::Permissions::from_mode(0o750)).expect("chmod");
    fs::set_permissions(root.join("del"), fs::Permissions::from_mode(0o4755)).expect("chmod");
    if may_apply() {
        let (u, g) = (Some(Uid::from_raw(999)), Some(Gid::from_raw(998)));
        nix::unistd::chown(&root.join("d/e/deep"), u, g).expect("chown");
        fchownat(
            nix::fcntl::AT_FDCWD,
            &root.join("out"),
            u,
            g,
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .expect("lchown");
    }
}

/// What a writer does between the pre-copy and the stop: creates, deletes, renames,
/// truncates, rewrites a file with the same size in the same second, retypes, relinks.
fn mutate(root: &Path) {
    let same = root.join("same");
    let before = fs::metadata(&same).expect("stat");
    write(&same, "BBBB\n");
    let mtime = TimeSpec::new(before.mtime(), before.mtime_nsec());
    utimensat(
        nix::fcntl::AT_FDCWD,
        &same,
        &mtime,
        &mtime,
        UtimensatFlags::FollowSymlink,
    )
    .expect("same mtime");
    OpenOptions::new()
        .write(true)
        .open(root.join("trunc"))
        .and_then(|f| f.set_len(4))
        .expect("truncate");
    fs::remove_file(root.join("del")).expect("delete");
    fs::rename(root.join("ren-a"), root.join("ren-b")).expect("rename");
    fs::remove_dir_all(root.join("gone")).expect("rm -r");
    fs::remove_file(root.join("retype")).expect("rm");
    fs::create_dir(root.join("retype")).expect("retype");
    write(&root.join("retype/inside"), "now a directory");
    write(&root.join("new"), "created");
    fs::remove_file(root.join("h2")).expect("unlink");
    fs::hard_link(root.join("new"), root.join("h2")).expect("relink");
    fs::set_permissions(root.join("d/e"), fs::Permissions::from_mode(0o700)).expect("chmod");
}

#[test]
fn a_copy_and_a_delta_on_the_host_equal_the_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    fs::create_dir(&source).expect("source");
    fs::create_dir(&target).expect("target");
    seed(&source);
    copy_all(&source, &target).expect("copy");
    same_trees(&source, &target);
    let began = SystemTimeSecs::now();
    mutate(&source);
    let listed = delta::Listed {
        began: 0,
        source: listing::list(&source).expect("list source"),
        target: listing::list(&target).expect("list target"),
    };
    let pass = delta::plan(&listed, began);
    assert!(pass.removed >= 3, "{pass:?}");
    apply(&source, &target, &pass).expect("delta");
    same_trees(&source, &target);
    assert_eq!(
        fs::read_to_string(target.join("same")).expect("read"),
        "BBBB\n"
    );
    assert_eq!(
        fs::read_link(target.join("out")).expect("a symlink still"),
        Path::new("/etc/hostname")
    );
}

#[test]
fn a_symlinked_parent_in_the_source_is_never_followed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target, outside) = (
        dir.path().join("from"),
        dir.path().join("to"),
        dir.path().join("outside"),
    );
    for d in [&source, &target, &outside] {
        fs::create_dir(d).expect("dir");
    }
    write(&outside.join("secret"), "not yours");
    symlink(&outside, source.join("sub")).expect("symlink");
    // a listing made before `sub` was swapped for a symlink names `sub/secret`
    let pass = Delta {
        ops: vec![Op::Mkdir("sub".into()), Op::Copy("sub/secret".into())],
        copied: 1,
        removed: 0,
        bytes: 9,
    };
    let err = apply(&source, &target, &pass).expect_err("refused");
    assert!(err.to_string().contains("cp `sub/secret`"), "{err}");
    assert!(!target.join("sub/secret").exists());
}

/// `cap_net_bind_service+ep`, as `setcap` writes it (`VFS_CAP_REVISION_2`).
const CAPABILITY: [u8; 20] = [
    0x01, 0, 0, 0x02, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// `u::rw-,u:1000:r--,g::r--,m::r--,o::---`, as `setfacl` writes it (the mode it makes:
/// 0640).
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

fn xattrs_of(path: &Path) -> Xattrs {
    xattrs::read(path).expect("read").expect("xattrs held")
}

fn names(x: &Xattrs) -> Vec<String> {
    x.iter()
        .map(|(n, _)| n.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn issue21_a_host_copy_keeps_xattrs_a_posix_acl_and_security_capability() {
    if !may_apply() {
        eprintln!("SKIPPED: a host copy sets owners and `trusted.*` only as root");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    fs::create_dir_all(source.join("shared")).expect("source");
    fs::create_dir(&target).expect("target");
    let bin = source.join("shared/bin");
    write(&bin, "#!/bin/sh\n");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod");
    nix::unistd::chown(&bin, Some(Uid::from_raw(999)), Some(Gid::from_raw(999))).expect("chown");
    // Docker Desktop's owners: on Linux every name has a namespace, `user.` here
    let ownership = br#"{"UID":999,"GID":999,"mode":33261}"#;
    xattr::set(&bin, "user.com.docker.grpcfuse.ownership", ownership).expect("user");
    xattr::set(&bin, "user.DOSATTRIB", b"0x20").expect("user");
    xattr::set(&bin, "trusted.tierctl", b"root only").expect("trusted");
    xattr::set(&bin, "security.capability", &CAPABILITY).expect("capability");
    let data = source.join("shared/data");
    write(&data, "acl'd");
    xattr::set(&data, "system.posix_acl_access", &acl()).expect("acl");
    xattr::set(source.join("shared"), "system.posix_acl_default", &acl()).expect("default");

    copy_all(&source, &target).expect("copy");

    for rel in ["shared/bin", "shared/data", "shared"] {
        assert_eq!(
            xattrs_of(&target.join(rel)),
            xattrs_of(&source.join(rel)),
            "{rel}"
        );
    }
    // set after the owner: the chown would have cleared it
    assert_eq!(
        names(&xattrs_of(&target.join("shared/bin"))),
        [
            "security.capability",
            "trusted.tierctl",
            "user.DOSATTRIB",
            "user.com.docker.grpcfuse.ownership"
        ]
    );
    let copied = fs::metadata(target.join("shared/bin")).expect("stat");
    assert_eq!((copied.uid(), copied.mode() & 0o7777), (999, 0o755));
    assert_eq!(
        fs::metadata(target.join("shared/data"))
            .expect("stat")
            .mode()
            & 0o777,
        0o640
    );
    let hashed = AtomicU64::new(0);
    let copy = tree::read(&target, Digest::Blake3, &hashed).expect("copy manifest");
    assert_eq!(
        copy.entries["shared/bin"].xattrs.as_ref().map(|x| x.len()),
        Some(4)
    );
    same_trees(&source, &target);
}

#[test]
fn issue21_a_sparse_file_stays_sparse_and_hashes_equal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    fs::create_dir(&source).expect("source");
    fs::create_dir(&target).expect("target");
    let mut file = File::create(source.join("disk.img")).expect("file");
    file.set_len(64 << 20).expect("64 MiB of hole");
    file.seek(SeekFrom::Start(1 << 20)).expect("seek");
    io::Write::write_all(&mut file, &[7u8; 4096]).expect("4 KiB of data");
    drop(file);
    let allocated = |p: &Path| fs::metadata(p).expect("stat").blocks() * 512;
    let before = allocated(&source.join("disk.img"));
    assert!(before <= 64 << 10, "the source is sparse: {before}");

    copy_all(&source, &target).expect("copy");

    let after = allocated(&target.join("disk.img"));
    assert!(
        after <= before + 4096,
        "a 64 MiB file with 4 KiB of data took {after} bytes (the source {before})"
    );
    assert_eq!(
        fs::metadata(target.join("disk.img")).expect("stat").len(),
        64 << 20
    );
    same_trees(&source, &target);
}

#[test]
fn issue21_a_symlink_keeps_its_times_and_the_manifest_compares_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    fs::create_dir(&source).expect("source");
    fs::create_dir(&target).expect("target");
    symlink("elsewhere", source.join("link")).expect("symlink");
    let old = TimeSpec::new(1_500_000_000, 123);
    set(&source.join("link"), &old);

    copy_all(&source, &target).expect("copy");

    let meta = fs::symlink_metadata(target.join("link")).expect("lstat");
    assert_eq!((meta.mtime(), meta.mtime_nsec()), (1_500_000_000, 123));
    same_trees(&source, &target);
    set(&target.join("link"), &TimeSpec::new(1_600_000_000, 0));
    let hashed = AtomicU64::new(0);
    let a = tree::read(&source, Digest::Blake3, &hashed).expect("source");
    let b = tree::read(&target, Digest::Blake3, &hashed).expect("copy");
    assert_eq!(
        manifest::compare(&a, &b, Rules::default()),
        vec![manifest::Difference::Changed {
            path: "link".into(),
            field: "mtime",
            source: "1500000000.000000123".into(),
            copy: "1600000000.000000000".into(),
        }]
    );
    // a helper's copy keeps no symlink time: not compared there
    assert_eq!(manifest::compare(&a, &b, Rules::copy(false)), vec![]);
}

/// Issue 21: the manifest compared mtimes to the second, so a copy that kept the second and lost
/// the nanoseconds passed the verify. Read on the host both sides have them: compared.
#[test]
fn issue21_a_copy_that_loses_the_nanoseconds_of_a_file_time_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    fs::create_dir(&source).expect("source");
    fs::create_dir(&target).expect("target");
    fs::write(source.join("photo.jpg"), b"jpeg").expect("file");
    set(
        &source.join("photo.jpg"),
        &TimeSpec::new(1_700_000_000, 987_654_321),
    );

    copy_all(&source, &target).expect("copy");

    let meta = fs::metadata(target.join("photo.jpg")).expect("stat");
    assert_eq!(
        (meta.mtime(), meta.mtime_nsec()),
        (1_700_000_000, 987_654_321)
    );
    same_trees(&source, &target);
    // what `cp -a` onto a filesystem with whole-second times, or a tool that truncates, leaves
    set(&target.join("photo.jpg"), &TimeSpec::new(1_700_000_000, 0));
    let hashed = AtomicU64::new(0);
    let a = tree::read(&source, Digest::Blake3, &hashed).expect("source");
    let b = tree::read(&target, Digest::Blake3, &hashed).expect("copy");
    assert_eq!(
        manifest::compare(&a, &b, Rules::default()),
        vec![manifest::Difference::Changed {
            path: "photo.jpg".into(),
            field: "mtime",
            source: "1700000000.987654321".into(),
            copy: "1700000000.000000000".into(),
        }]
    );
    // a side read without nanoseconds (a helper's listing, the engine's archive): seconds only
    let mut listed = b.clone();
    for e in listed.entries.values_mut() {
        e.mtime_nsec = None;
    }
    assert_eq!(manifest::compare(&a, &listed, Rules::default()), vec![]);
}

#[test]
fn issue21_the_manifest_names_an_xattr_difference_by_path_and_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    fs::create_dir(&source).expect("source");
    fs::create_dir(&target).expect("target");
    write(&source.join("f"), "same");
    xattr::set(source.join("f"), "user.tag", b"one").expect("xattr");
    xattr::set(source.join("f"), "user.gone", b"x").expect("xattr");
    copy_all(&source, &target).expect("copy");
    same_trees(&source, &target);
    xattr::set(target.join("f"), "user.tag", b"two").expect("xattr");
    xattr::remove(target.join("f"), "user.gone").expect("xattr");
    let hashed = AtomicU64::new(0);
    let a = tree::read(&source, Digest::Blake3, &hashed).expect("source");
    let b = tree::read(&target, Digest::Blake3, &hashed).expect("copy");
    let shown: Vec<String> = manifest::compare(&a, &b, Rules::default())
        .iter()
        .map(ToString::to_string)
        .collect();
    let digest = |v: &[u8]| manifest::xattr_digest(v);
    assert_eq!(
        shown,
        [
            format!(
                "`f` xattr: source user.gone {}, copy user.gone -",
                digest(b"x")
            ),
            format!(
                "`f` xattr: source user.tag {}, copy user.tag {}",
                digest(b"one"),
                digest(b"two")
            ),
        ]
    );
}

#[test]
fn issue21_keep_gives_a_helper_copy_what_only_the_host_keeps() {
    if !may_apply() {
        eprintln!("SKIPPED: a host copy runs only as root");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    for root in [&source, &target] {
        fs::create_dir(root).expect("root");
    }
    write(&source.join("f"), "data");
    xattr::set(source.join("f"), "user.tag", b"1").expect("xattr");
    xattr::set(source.join("f"), "security.capability", &CAPABILITY).expect("cap");
    let sparse = File::create(source.join("sparse")).expect("file");
    sparse.set_len(8 << 20).expect("hole");
    drop(sparse);
    // kept through the punch, which clears it as a write does
    xattr::set(source.join("sparse"), "security.capability", &CAPABILITY).expect("cap");
    symlink("f", source.join("link")).expect("symlink");
    let old = TimeSpec::new(1_500_000_000, 0);
    utimensat(
        nix::fcntl::AT_FDCWD,
        &source.join("link"),
        &old,
        &old,
        UtimensatFlags::NoFollowSymlink,
    )
    .expect("lutimes");
    // what busybox `cp -a` makes: content, owners, modes and file times; no extended
    // attributes, the hole written as zeros, the symlink with the copy's time
    write(&target.join("f"), "data");
    fs::write(target.join("sparse"), vec![0u8; 8 << 20]).expect("dense");
    symlink("f", target.join("link")).expect("symlink");
    for name in ["f", "sparse"] {
        let from = fs::metadata(source.join(name)).expect("stat");
        let mtime = TimeSpec::new(from.mtime(), from.mtime_nsec());
        utimensat(
            nix::fcntl::AT_FDCWD,
            &target.join(name),
            &mtime,
            &mtime,
            UtimensatFlags::FollowSymlink,
        )
        .expect("times");
    }
    let root = fs::metadata(&source).expect("stat");
    let mtime = TimeSpec::new(root.mtime(), root.mtime_nsec());
    utimensat(
        nix::fcntl::AT_FDCWD,
        &target,
        &mtime,
        &mtime,
        UtimensatFlags::FollowSymlink,
    )
    .expect("times");

    keep(&source, &target).expect("keep");

    same_trees(&source, &target);
    let blocks = fs::metadata(target.join("sparse")).expect("stat").blocks();
    assert!(
        blocks * 512 < 64 << 10,
        "the holes were punched: {blocks} blocks"
    );
}

#[test]
fn issue21_a_copy_onto_a_filesystem_without_xattrs_goes_on_without_them() {
    let Some(ramfs) = crate::migrate::tree::xattrs::testing::Ramfs::mount() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("from");
    fs::create_dir(&source).expect("source");
    write(&source.join("f"), "x");
    xattr::set(source.join("f"), "user.tag", b"1").expect("xattr");
    let target = ramfs.path().join("to");
    fs::create_dir(&target).expect("target");
    copy_all(&source, &target).expect("preflight named the loss; the copy goes on");
    let hashed = AtomicU64::new(0);
    let copy = tree::read(&target, Digest::Blake3, &hashed).expect("copy");
    assert_eq!(copy.entries["f"].xattrs, None, "not held, so not read");
    same_trees(&source, &target);
}

struct SystemTimeSecs;

impl SystemTimeSecs {
    fn now() -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock");
        i64::try_from(now.as_secs()).expect("seconds")
    }
}

#[test]
fn issue21_keep_puts_back_the_nanoseconds_busybox_drops_and_leaves_a_rewritten_file_alone() {
    if !may_apply() {
        eprintln!("SKIPPED: a host copy runs only as root");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    for root in [&source, &target] {
        fs::create_dir(root).expect("root");
    }
    let set = |path: &Path, secs: i64, nanos: i64| {
        let t = TimeSpec::new(secs, nanos);
        utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &t,
            &t,
            UtimensatFlags::FollowSymlink,
        )
        .expect("times");
    };
    // `same`: as busybox copies it (the second kept, the nanoseconds dropped)
    write(&source.join("same"), "data");
    set(&source.join("same"), 1_700_000_000, 123_456_789);
    write(&target.join("same"), "data");
    set(&target.join("same"), 1_700_000_000, 0);
    // `grown`: rewritten by a service since the copy: the delta must still see it
    write(&source.join("grown"), "longer data");
    set(&source.join("grown"), 1_700_000_000, 5);
    write(&target.join("grown"), "data");
    set(&target.join("grown"), 1_700_000_000, 0);

    keep(&source, &target).expect("keep");

    let nanos = |p: &Path| {
        let m = fs::metadata(p).expect("stat");
        (m.mtime(), m.mtime_nsec(), m.atime_nsec())
    };
    assert_eq!(
        nanos(&target.join("same")),
        (1_700_000_000, 123_456_789, 123_456_789)
    );
    assert_eq!(nanos(&target.join("grown")), (1_700_000_000, 0, 0));
}

#[test]
fn issue21_the_copy_reads_each_file_back_and_the_verify_takes_a_hash_only_while_its_stamp_holds() {
    if !may_apply() {
        eprintln!("SKIPPED: a host copy runs only as root");
        return;
    }
    // under target/ (a disk filesystem with a page cache), not /tmp, which may be tmpfs
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    fs::create_dir_all(&base).expect("target dir");
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let (source, target) = (dir.path().join("from"), dir.path().join("to"));
    fs::create_dir_all(source.join("d")).expect("dirs");
    let names: Vec<String> = (0..40).map(|i| format!("d/f{i}")).collect();
    for (i, rel) in names.iter().enumerate() {
        fs::write(source.join(rel), vec![i as u8; 5000 + i * 100]).expect("file");
    }
    fs::create_dir(&target).expect("target");

    let (known, _) = copy_all_read_back(&source, &target).expect("copy");

    // every file read back, by the hash of its content and its stamp as the copy left it
    assert_eq!(known.digest, Digest::Blake3);
    assert_eq!(known.files.keys().collect::<Vec<_>>().len(), names.len());
    for (i, rel) in names.iter().enumerate() {
        let back = &known.files[rel];
        let content = vec![i as u8; 5000 + i * 100];
        assert_eq!(back.hash, blake3::hash(&content).to_hex().as_str(), "{rel}");
        let now = fs::symlink_metadata(target.join(rel)).expect("stat");
        assert_eq!(back.stamp, tree::Stamp::of(&now), "{rel}");
    }
    // the verify: a file changed after its read-back (size and mtime kept) is read again and
    // differs from the source; every other hash is the read-back's, nothing else is read
    let flipped = target.join("d/f7");
    let before = fs::metadata(&flipped).expect("stat");
    let mut bytes = fs::read(&flipped).expect("read");
    bytes[100] ^= 0x10;
    fs::write(&flipped, &bytes).expect("flip");
    let mtime = TimeSpec::new(before.mtime(), before.mtime_nsec());
    set(&flipped, &mtime);
    let hashed = AtomicU64::new(0);
    let (copy, _) = tree::read_known_from(
        &target,
        Digest::Blake3,
        &hashed,
        &known,
        tree::ReadFrom::Medium,
    )
    .expect("the copy read");
    assert_eq!(
        hashed.load(std::sync::atomic::Ordering::Relaxed),
        bytes.len() as u64
    );
    let from = tree::read(&source, Digest::Blake3, &AtomicU64::new(0)).expect("source");
    let differences = manifest::compare(&from, &copy, Rules::copy(true));
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert!(
        format!("{:?}", differences[0]).contains("d/f7"),
        "{differences:?}"
    );
}
