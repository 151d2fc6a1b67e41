//! Issue 23 item 7: the host copy shares extents (`FICLONE`) where the source and the copy lie
//! on one filesystem that can (xfs with `reflink=1`, btrfs), falls back to the byte copy per
//! file where it cannot (xfs with `reflink=0`, another filesystem: `EXDEV`), and the copy reads
//! back from the medium equal to its source either way. Each filesystem is a sparse image on a
//! loop device (root, `losetup`, `mkfs.xfs`, `mkfs.btrfs`: `.ci/perf` installs them); missing,
//! the tests skip loudly, and fail under `TIERCTL_REQUIRE_DOCKER=1`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicU64;

use tierctl::migrate::host_apply::{self, Shared};
use tierctl::migrate::tree::{self, manifest};

/// A filesystem made on a sparse image file, mounted on a loop device; unmounted, detached and
/// deleted when dropped.
struct LoopFs {
    _scratch: tempfile::TempDir,
    mount: PathBuf,
    device: String,
}

/// Run `program args`, its stdout on success.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("`{program}`: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl LoopFs {
    /// `mkfs` (`mkfs.xfs` or `mkfs.btrfs`, with `options`) on a new 512 MiB image, mounted;
    /// `None` after a loud skip where loop devices or the tools are missing (a panic under
    /// `TIERCTL_REQUIRE_DOCKER=1`).
    fn new(mkfs: &str, options: &[&str]) -> Option<LoopFs> {
        match Self::make(mkfs, options) {
            Ok(fs) => Some(fs),
            Err(why) => {
                if crate::engine::required() {
                    panic!(
                        "TIERCTL_REQUIRE_DOCKER=1 but no loop-mounted {mkfs}: {why}; run `bash .ci/perf`"
                    );
                }
                skipped!("no loop-mounted {mkfs} ({why}); `bash .ci/perf` installs what it needs");
                None
            }
        }
    }

    fn make(mkfs: &str, options: &[&str]) -> Result<LoopFs, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("not root".into());
        }
        if !Path::new("/dev/loop-control").exists() {
            return Err("no /dev/loop-control".into());
        }
        // on a disk filesystem (not /tmp, which may be tmpfs)
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tmp");
        fs::create_dir_all(&base).map_err(|e| e.to_string())?;
        let scratch = tempfile::tempdir_in(&base).map_err(|e| e.to_string())?;
        let image = scratch.path().join("fs.img");
        let mount = scratch.path().join("mnt");
        fs::create_dir(&mount).map_err(|e| e.to_string())?;
        fs::File::create(&image)
            .and_then(|f| f.set_len(512 << 20))
            .map_err(|e| e.to_string())?;
        let image_s = image.to_str().ok_or("a non-UTF-8 path")?;
        let device = run("losetup", &["-f", "--show", image_s])?;
        let made = LoopFs {
            _scratch: scratch,
            mount,
            device,
        };
        let mut args: Vec<&str> = options.to_vec();
        args.push(&made.device);
        run(mkfs, &args)?;
        let mount_s = made.mount.to_str().ok_or("a non-UTF-8 path")?;
        run("mount", &[&made.device, mount_s])?;
        Ok(made)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.mount.join(rel)
    }

    /// Bytes in use on the filesystem (after a sync of it).
    fn used(&self) -> u64 {
        run("sync", &["-f", self.mount.to_str().expect("utf-8")]).expect("sync");
        let st = nix::sys::statvfs::statvfs(&self.mount).expect("statvfs");
        (st.blocks() - st.blocks_free()) * st.fragment_size()
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

/// Bytes of the two large files [`seed`] writes, together.
const BIG: u64 = 24 << 20;

/// A tree: two large files of random-looking content, small ones, a hardlink pair, a sparse
/// file, an empty file, a symlink, nested directories.
fn seed(root: &Path) {
    fs::create_dir_all(root.join("photos/2024")).expect("dirs");
    for (name, salt) in [("photos/2024/a.raw", 1u64), ("photos/b.raw", 7)] {
        let mut file = fs::File::create(root.join(name)).expect("create");
        let mut x = salt;
        let block: Vec<u8> = (0..(1 << 20))
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        for i in 0..(BIG >> 20) / 2 {
            let mut block = block.clone();
            block[0] = i as u8;
            file.write_all(&block).expect("write");
        }
    }
    for i in 0..50 {
        fs::write(
            root.join(format!("photos/2024/thumb{i}.jpg")),
            format!("thumb {i}"),
        )
        .expect("small");
    }
    fs::write(root.join("linked"), "one inode, two names").expect("file");
    fs::hard_link(root.join("linked"), root.join("photos/linked")).expect("hardlink");
    let sparse = fs::File::create(root.join("sparse")).expect("sparse");
    sparse.set_len(8 << 20).expect("a hole");
    fs::write(root.join("empty"), "").expect("empty");
    symlink("photos/b.raw", root.join("latest")).expect("symlink");
}

/// The copy at `copy` read back from the medium equals `source` read from the cache.
fn verified(source: &Path, copy: &Path) {
    let hashed = AtomicU64::new(0);
    let a = tree::read(source, manifest::Digest::Blake3, &hashed).expect("source manifest");
    let b = tree::read_from_medium(copy, manifest::Digest::Blake3, &hashed).expect("copy manifest");
    let differences = manifest::compare(&a, &b, manifest::Rules::default());
    assert!(differences.is_empty(), "{differences:?}");
}

/// Whether `filefrag -v` marks an extent of `path` shared.
fn shares_extents(path: &Path) -> bool {
    run("filefrag", &["-v", path.to_str().expect("utf-8")])
        .expect("filefrag")
        .contains("shared")
}

/// Copy `seed`'s tree within `fs`, verified; the copy's shared files, and the bytes it took.
fn copy_within(fs: &LoopFs) -> (Shared, u64) {
    let (source, target) = (fs.path("volume"), fs.path("tier"));
    fs::create_dir(&source).expect("source");
    fs::create_dir(&target).expect("target");
    seed(&source);
    let before = fs.used();
    let shared = host_apply::copy_all(&source, &target).expect("the host copy");
    let took = fs.used().saturating_sub(before);
    verified(&source, &target);
    (shared, took)
}

fn reflinked(fs: &LoopFs) {
    let (shared, took) = copy_within(fs);
    // every regular file with content (the hardlink's inode once) and the sparse file
    assert!(shared.files >= 54, "{shared:?}");
    assert!(shared.bytes >= BIG, "{shared:?}");
    assert!(shares_extents(&fs.path("tier/photos/b.raw")));
    assert!(took < BIG, "a reflinked copy took {took} bytes of room");
}

#[test]
fn issue23_reflink_on_xfs_the_copy_shares_extents_and_verifies_from_the_medium() {
    let Some(fs) = LoopFs::new("mkfs.xfs", &["-q", "-f", "-m", "reflink=1"]) else {
        return;
    };
    reflinked(&fs);
}

#[test]
fn issue23_reflink_on_btrfs_the_copy_shares_extents_and_verifies_from_the_medium() {
    let Some(fs) = LoopFs::new("mkfs.btrfs", &["-q", "-f"]) else {
        return;
    };
    reflinked(&fs);
}

#[test]
fn issue23_reflink_xfs_without_reflinks_copies_bytes_as_before() {
    let Some(fs) = LoopFs::new("mkfs.xfs", &["-q", "-f", "-m", "reflink=0"]) else {
        return;
    };
    let (shared, took) = copy_within(&fs);
    assert_eq!(shared, Shared::default());
    assert!(!shares_extents(&fs.path("tier/photos/b.raw")));
    assert!(took >= BIG, "a byte copy took only {took} bytes of room");
    // the hole stays a hole
    let sparse = fs::metadata(fs.path("tier/sparse")).expect("sparse copy");
    assert_eq!(std::os::unix::fs::MetadataExt::blocks(&sparse), 0);
}

#[test]
fn issue23_reflink_between_two_filesystems_falls_back_per_file() {
    let Some(xfs) = LoopFs::new("mkfs.xfs", &["-q", "-f", "-m", "reflink=1"]) else {
        return;
    };
    let Some(btrfs) = LoopFs::new("mkfs.btrfs", &["-q", "-f"]) else {
        return;
    };
    let (source, target) = (xfs.path("volume"), btrfs.path("tier"));
    fs::create_dir(&source).expect("source");
    fs::create_dir(&target).expect("target");
    seed(&source);
    let shared = host_apply::copy_all(&source, &target).expect("the host copy (EXDEV: bytes)");
    assert_eq!(shared, Shared::default());
    verified(&source, &target);
}
