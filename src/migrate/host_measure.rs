//! Preflight's measure of a copy's source and its owner check (see [`super::owners`]), and the
//! copy step's measure, done on the host, when the copy itself will run there ([`super::host_apply`]: tierctl is root and the
//! host sees the source and the target's directory as the engine does): what the measure
//! helper's [`WRITES`](super::copy::WRITES), `find | wc -l`, device test and owner check print, without starting a
//! container. Nothing is followed out of the source: entries are `lstat`ed relative to their
//! open directory.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::copy::SourceSize;
use super::owners::{OWNERS_CHECKED, OwnerCheck};

/// What a walk of the source found.
#[derive(Default)]
struct Walked {
    /// Bytes the copy writes, each inode once: a regular file's apparent size where it exceeds
    /// its allocated blocks (a sparse file is copied dense), else its blocks.
    writes: u64,
    entries: u64,
    devices: bool,
    /// `uid:gid` of every entry not owned by `0:0`.
    owners: BTreeSet<String>,
    /// `(device, inode)` of files with more than one link, counted once.
    linked: BTreeSet<(u64, u64)>,
}

/// The size of the tree at `source` and, for each of its owners other than root (the first
/// [`OWNERS_CHECKED`] in the helper's `sort -u` order), what a chown of a probe file `probe` in
/// `dir` to that owner shows.
pub fn measure(
    source: &Path,
    dir: &Path,
    probe: &str,
) -> io::Result<(SourceSize, Vec<OwnerCheck>)> {
    let (size, walked) = walked(source)?;
    let owners: Vec<String> = walked.owners.into_iter().take(OWNERS_CHECKED).collect();
    Ok((size, check_owners(dir, probe, &owners)?))
}

/// The size of the tree at `source`, as the measure helper prints it.
pub fn size(source: &Path) -> io::Result<SourceSize> {
    walked(source).map(|(size, _)| size)
}

fn walked(source: &Path) -> io::Result<(SourceSize, Walked)> {
    let mut walked = Walked::default();
    let meta = fs::symlink_metadata(source)?;
    walk(source, &meta, &mut walked)?;
    let size = SourceSize {
        // KiB, rounded up, as the helper prints them
        bytes: walked.writes.div_ceil(1024) * 1024,
        entries: walked.entries,
        devices: walked.devices,
    };
    Ok((size, walked))
}

/// Walk the tree under `dir`. The services may run and change it meanwhile: an entry that
/// vanished under the walk is left out, as `du` and `find` leave it out.
fn walk(dir: &Path, meta: &fs::Metadata, out: &mut Walked) -> io::Result<()> {
    count(meta, out);
    let items = match fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    for item in items {
        let item = item?;
        let meta = match item.metadata() {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => other?,
        };
        if meta.is_dir() {
            walk(&item.path(), &meta, out)?;
        } else {
            count(&meta, out);
        }
    }
    Ok(())
}

fn count(meta: &fs::Metadata, out: &mut Walked) {
    out.entries += 1;
    if meta.nlink() < 2 || meta.is_dir() || out.linked.insert((meta.dev(), meta.ino())) {
        out.writes += writes(meta);
    }
    let ft = meta.file_type();
    out.devices |= ft.is_block_device() || ft.is_char_device();
    if meta.uid() != 0 || meta.gid() != 0 {
        out.owners.insert(format!("{}:{}", meta.uid(), meta.gid()));
    }
}

/// The bytes a copy writes for one inode: what is allocated, or a regular file's apparent size
/// when that is more (its holes are written as zeros).
fn writes(meta: &fs::Metadata) -> u64 {
    let allocated = meta.blocks().saturating_mul(512);
    if meta.is_file() {
        allocated.max(meta.len())
    } else {
        allocated
    }
}

/// Chown a fresh probe file in `dir` to each owner and read the owner back; the file is
/// removed again.
fn check_owners(dir: &Path, probe: &str, owners: &[String]) -> io::Result<Vec<OwnerCheck>> {
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let path = dir.join(probe);
    let _ = fs::remove_file(&path);
    fs::File::create(&path)?;
    let checks = owners
        .iter()
        .map(|owner| {
            let (uid, gid) = owner.split_once(':').unwrap_or((owner, "0"));
            let ids = (uid.parse::<u32>().ok(), gid.parse::<u32>().ok());
            let chowned = match ids {
                (Some(uid), Some(gid)) => {
                    std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).is_ok()
                }
                _ => false,
            };
            let seen = chowned
                .then(|| fs::symlink_metadata(&path).ok())
                .flatten()
                .map(|m| format!("{}:{}", m.uid(), m.gid()));
            OwnerCheck {
                owner: owner.clone(),
                seen,
            }
        })
        .collect();
    fs::remove_file(&path)?;
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i26_row6_a_sparse_file_counts_its_apparent_size() {
        let src = tempfile::tempdir().expect("source");
        let sparse = fs::File::create(src.path().join("sparse")).expect("file");
        // 1 GiB apparent, nothing allocated: the copy writes it dense
        sparse.set_len(1 << 30).expect("truncate");
        fs::write(src.path().join("small"), "x").expect("file");
        let size = size(src.path()).expect("measure");
        assert!(size.bytes >= 1 << 30, "{}", size.bytes);
        assert!(size.bytes < (1 << 30) + (1 << 20), "{}", size.bytes);
        assert_eq!(size.bytes % 1024, 0);
    }

    #[test]
    fn counts_like_du_and_find_and_checks_each_owner() {
        let src = tempfile::tempdir().expect("source");
        let dst = tempfile::tempdir().expect("target dir");
        let root = src.path();
        fs::create_dir(root.join("d")).expect("dir");
        fs::write(root.join("d/f"), vec![7u8; 10_000]).expect("file");
        fs::hard_link(root.join("d/f"), root.join("h")).expect("hardlink");
        std::os::unix::fs::symlink("d/f", root.join("l")).expect("symlink");
        let (size, checks) = measure(root, dst.path(), ".probe").expect("measure");
        // root, d, d/f, h, l
        assert_eq!(size.entries, 5);
        assert!(!size.devices);
        // the hardlinked 10 kB once, not twice
        assert!(
            size.bytes >= 10_000 && size.bytes < 30_000,
            "{}",
            size.bytes
        );
        let me = format!("{}:{}", nix::unistd::geteuid(), nix::unistd::getegid());
        if me == "0:0" {
            assert!(checks.is_empty());
        } else {
            assert_eq!(checks.len(), 1);
            assert_eq!(checks[0].owner, me);
        }
        assert!(
            !dst.path().join(".probe").exists(),
            "the probe file is removed"
        );
    }

    #[test]
    fn as_root_each_owner_is_chowned_and_read_back() {
        if !nix::unistd::geteuid().is_root() {
            // straight to stderr: libtest captures `eprintln!` of a passing test
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {}: not root, chown to another owner needs root",
                std::thread::current().name().unwrap_or("a test")
            );
            return;
        }
        let src = tempfile::tempdir().expect("source");
        let dst = tempfile::tempdir().expect("target dir");
        let f = src.path().join("pg");
        fs::write(&f, "x").expect("file");
        std::os::unix::fs::lchown(&f, Some(999), Some(999)).expect("chown");
        let (_, checks) = measure(src.path(), dst.path(), ".probe").expect("measure");
        assert_eq!(
            checks,
            [OwnerCheck {
                owner: "999:999".into(),
                seen: Some("999:999".into())
            }]
        );
    }
}
