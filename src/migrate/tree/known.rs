//! What one read of a tree may hand to a later read of the same tree.
//!
//! [`read_known`](super::host::read_known) returns the hash of every file whose [`Stamp`]
//! (device, inode, size, mtime, ctime to the nanosecond) was already older than the read by
//! [`RACY_MARGIN_NS`], and, given such a `Known` of an earlier read (with the same digest), takes
//! a file's hash from it instead of reading the file when its stamp is still the same. The
//! argument: any write, truncate, rename, link, chmod or chown of an inode sets its ctime to the
//! kernel's clock, which userspace cannot set back; a stamp whose ctime was older than the start
//! of the earlier read by more than the clock's granularity, and which is unchanged now, proves
//! that nothing changed the inode since that read began, so the content it hashed is the
//! content now.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::manifest::{ContentHash, Digest};

/// Nanoseconds a ctime must be older than the start of a read for the read's hash of the file
/// to be [`Known`]: more than the coarsest timestamp granularity of the filesystems a tier
/// lives on (1 s; 2 s on FAT) and the lag of the kernel's coarse clock behind the real time.
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// What identifies a file's state: any change of its content or attributes moves its ctime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// mtime, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// ctime, nanoseconds since the epoch.
    pub ctime_ns: i64,
}

impl Stamp {
    /// The stamp of a file's metadata.
    pub fn of(meta: &Metadata) -> Stamp {
        let ns = |secs: i64, nanos: i64| secs.saturating_mul(1_000_000_000).saturating_add(nanos);
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether nothing can have changed the file since `started` (ns) without moving this
    /// stamp: its ctime is older than `started` by more than [`RACY_MARGIN_NS`].
    pub fn settled_before(&self, started: i64) -> bool {
        self.ctime_ns < started.saturating_sub(RACY_MARGIN_NS)
    }
}

/// A file's hash as a read found it, with its stamp then.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownFile {
    /// The stamp when the file was walked (before it was hashed).
    pub stamp: Stamp,
    /// The content's digest (the [`Known::digest`]), journaled as hex.
    pub hash: ContentHash,
}

/// The hashes a read of a tree may hand to a later read of the same tree: only files settled
/// before the read began ([`Stamp::settled_before`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// When the read began, ns since the epoch (0: nothing known).
    pub started_ns: i64,
    /// What the hashes are (known hashes stand only for a read with the same digest).
    #[serde(default)]
    pub digest: Digest,
    /// By path relative to the root.
    pub files: BTreeMap<String, KnownFile>,
}

impl Known {
    /// The hash of `path` when its stamp is still the one known.
    pub fn hash_of(&self, path: &str, stamp: Option<&Stamp>) -> Option<&ContentHash> {
        let known = self.files.get(path)?;
        (Some(&known.stamp) == stamp).then_some(&known.hash)
    }
}

/// Whether a read builds the [`Known`] it could hand to a later read: the running verify's
/// and a copy's reads of the source do; a read whose `Known` nobody keeps (the verify while
/// the services are stopped, `migrate --check`) does not, which spares a path and a hash per
/// file, in memory and in time, while the services are down (issue 23 item 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandOn {
    /// Build it.
    Known,
    /// Return an empty one.
    Nothing,
}

/// The clock, ns since the epoch (0 before 1970).
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::super::host::read_known;
    use super::*;

    #[test]
    fn a_known_hash_stands_for_a_file_only_while_its_stamp_is_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::write(root.join("kept"), "old content\n").expect("file");
        fs::write(root.join("changed"), "abc\n").expect("file");
        let stamp = |name: &str| Stamp::of(&fs::symlink_metadata(root.join(name)).expect("stat"));
        let claimed = |name: &str| KnownFile {
            stamp: stamp(name),
            hash: format!("hash-known-for-{name}").into(),
        };
        let known = Known {
            started_ns: 1,
            digest: Digest::Blake3,
            files: BTreeMap::from([
                ("kept".to_owned(), claimed("kept")),
                ("changed".to_owned(), claimed("changed")),
            ]),
        };
        // same size, same mtime, other bytes: only the ctime (and so the stamp) moves
        let mtime = fs::symlink_metadata(root.join("changed"))
            .expect("stat")
            .modified()
            .expect("mtime");
        fs::write(root.join("changed"), "xyz\n").expect("rewrite");
        fs::File::options()
            .write(true)
            .open(root.join("changed"))
            .expect("open")
            .set_modified(mtime)
            .expect("mtime back");
        let hashed = AtomicU64::new(0);
        let (m, now) = read_known(root, Digest::Blake3, &hashed, &known).expect("readable tree");
        // the unchanged file is not read: its known hash stands for it
        assert_eq!(
            m.entries["kept"]
                .hash
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("hash-known-for-kept")
        );
        assert_eq!(
            m.entries["changed"]
                .hash
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some(blake3::hash(b"xyz\n").to_hex().as_str())
        );
        assert_eq!(hashed.load(Ordering::Relaxed), 4);
        // written within the margin before this read: not known to the next read
        assert!(now.files.is_empty(), "{now:?}");
        assert!(now.started_ns > 0);
    }

    #[test]
    fn issue23_item6_a_read_that_hands_nothing_on_reads_the_same_tree() {
        use super::super::host::{ReadFrom, read_using};
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::write(root.join("a"), "a\n").expect("file");
        fs::create_dir(root.join("d")).expect("dir");
        fs::write(root.join("d/b"), "b\n").expect("file");
        // settled: older than the read by the margin
        let margin = u64::try_from(RACY_MARGIN_NS).expect("positive");
        std::thread::sleep(std::time::Duration::from_nanos(margin + 100_000_000));
        let old = Known::default();
        let read = |hand_on| {
            let hashed = AtomicU64::new(0);
            let from = ReadFrom::Cache;
            read_using(root, Digest::Blake3, &hashed, &old, from, hand_on).expect("readable")
        };
        let (handing, knows) = read(HandOn::Known);
        let (alone, nothing) = read(HandOn::Nothing);
        assert_eq!(handing, alone);
        assert!(nothing.files.is_empty());
        assert_eq!(knows.files.keys().collect::<Vec<_>>(), ["a", "d/b"]);
    }

    #[test]
    fn a_stamp_is_settled_only_when_older_than_the_read_by_the_margin() {
        let stamp = Stamp {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 0,
            ctime_ns: 10_000_000_000,
        };
        assert!(stamp.settled_before(10_000_000_000 + RACY_MARGIN_NS + 1));
        assert!(!stamp.settled_before(10_000_000_000 + RACY_MARGIN_NS));
        assert!(!stamp.settled_before(10_000_000_000));
        let known = Known {
            started_ns: 1,
            digest: Digest::Blake3,
            files: BTreeMap::from([(
                "a".to_owned(),
                KnownFile {
                    stamp,
                    hash: "h".into(),
                },
            )]),
        };
        assert_eq!(known.hash_of("a", Some(&stamp)), Some(&"h".into()));
        let moved = Stamp {
            ctime_ns: stamp.ctime_ns + 1,
            ..stamp
        };
        assert_eq!(known.hash_of("a", Some(&moved)), None);
        assert_eq!(known.hash_of("b", Some(&stamp)), None);
        assert_eq!(known.hash_of("a", None), None);
    }
}
