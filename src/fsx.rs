//! The filesystem effect: resolves host paths symlink by symlink and reads
//! which filesystem holds them. The only filesystem I/O `audit` needs.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use crate::facts::{Facts, FsIdentity, Hop, PathFacts, PathProblem};

/// How many symlinks one resolution follows at most, as the kernel (`ELOOP`).
pub const MAX_HOPS: usize = 40;

/// Why the filesystem holding a path could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum FsxError {
    /// The path could not be resolved to an existing physical path.
    #[error("cannot resolve `{}`", path.display())]
    Resolve {
        /// The path as asked.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `stat` failed on the resolved path.
    #[error("cannot read the metadata of `{}`", path.display())]
    Metadata {
        /// The resolved path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `statvfs` (or `statfs`) failed on the resolved path.
    #[error("cannot read the filesystem statistics of `{}`", path.display())]
    Statvfs {
        /// The resolved path.
        path: PathBuf,
        /// The underlying error.
        source: nix::Error,
    },
    /// The mount table could not be read.
    #[error("cannot read the mount table `{}`", path.display())]
    MountTable {
        /// The mount table file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// No entry of the mount table holds the path.
    #[error("no mount in the mount table holds `{}`", path.display())]
    NoMount {
        /// The resolved path.
        path: PathBuf,
    },
    /// This platform has no way implemented to name a filesystem's type.
    #[error("cannot name the filesystem type of `{}` on this platform", path.display())]
    Unsupported {
        /// The resolved path.
        path: PathBuf,
    },
}

/// Resolves every path, keyed by the path as asked.
pub fn probe_paths(paths: impl IntoIterator<Item = PathBuf>) -> Facts {
    let paths = paths
        .into_iter()
        .map(|path| {
            let facts = resolve(&path);
            (path, facts)
        })
        .collect();
    Facts {
        paths,
        ..Facts::default()
    }
}

/// Resolves `path` component by component as the kernel does, recording
/// every symlink followed.
///
/// A relative `path` is taken from the current directory. `..` after a
/// symlink applies to the directory the link resolved to, not lexically.
/// A missing component is not a problem: `exists` is false and `real` is
/// where the path would be created. Never panics; a trailing `/` or `/.` on
/// a non-directory is not reported (the components are what count).
pub fn resolve(path: &Path) -> PathFacts {
    resolve_with(path, &Disk)
}

/// What one component of a path is, for a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A symlink (its target comes from [`Lookup::read_link`]).
    Symlink,
    /// Anything else (a file, a FIFO, a device).
    Other,
}

/// Where a walk looks up components: this machine's disk ([`Disk`]), or the engine's host as a
/// helper container saw it (`engine::host_fs`).
pub trait Lookup {
    /// `lstat` of `path` (absolute, physical up to its last component); `rest` is what the walk
    /// still has to resolve after it (a remote lookup asks for those too, ahead of time).
    fn kind(&self, path: &Path, rest: &[OsString]) -> io::Result<Kind>;
    /// `readlink` of the symlink `path`.
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;
}

/// This machine's disk.
pub struct Disk;

impl Lookup for Disk {
    fn kind(&self, path: &Path, _rest: &[OsString]) -> io::Result<Kind> {
        let metadata = fs::symlink_metadata(path)?;
        Ok(if metadata.file_type().is_symlink() {
            Kind::Symlink
        } else if metadata.is_dir() {
            Kind::Dir
        } else {
            Kind::Other
        })
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        fs::read_link(path)
    }
}

/// [`resolve`] through `lookup`. A relative `path` is taken from this process's current
/// directory only with [`Disk`]; callers of other lookups pass absolute paths.
pub fn resolve_with(path: &Path, lookup: &dyn Lookup) -> PathFacts {
    let mut hops = Vec::new();
    let outcome = match std::path::absolute(path) {
        Ok(absolute) => walk(&absolute, lookup, &mut hops),
        Err(error) => Outcome::Stopped(PathProblem::Io {
            at: path.to_path_buf(),
            message: error.to_string(),
        }),
    };
    let (real, exists, is_dir, problem) = match outcome {
        Outcome::Found { real, is_dir } => (Some(real), true, is_dir, None),
        Outcome::Missing { real } => (Some(real), false, false, None),
        Outcome::Stopped(problem) => (None, false, false, Some(problem)),
    };
    PathFacts {
        path: path.to_path_buf(),
        hops,
        real,
        exists,
        is_dir,
        problem,
    }
}

/// A tier root as it is on this machine: its real path (symlinks followed; the root as written
/// when it does not resolve) and the identities of it and the directories above it.
pub fn root_on_disk(root: &Path) -> crate::tiers::RootOnDisk {
    let real = resolve(root).real.unwrap_or_else(|| root.to_path_buf());
    crate::tiers::RootOnDisk {
        chain: dir_identities(&real),
        real,
    }
}

/// The identity (device, inode) of `real` (a real path) and of each of its ancestors that
/// exists, nearest first: what tells two real paths that are one directory (a bind mount)
/// apart from two directories (`tiers::RootOnDisk`).
pub fn dir_identities(real: &Path) -> Vec<crate::tiers::DirIdentity> {
    real.ancestors()
        .filter_map(|dir| {
            let meta = fs::metadata(dir).ok()?;
            Some(crate::tiers::DirIdentity {
                path: dir.to_path_buf(),
                device: meta.dev(),
                inode: meta.ino(),
            })
        })
        .collect()
}

/// Identifies the filesystem holding `path` (after following symlinks).
///
/// Sizes are `f_blocks * f_frsize` and `f_bavail * f_frsize`; the type comes
/// from the mount table (`/proc/self/mountinfo`) on Linux, `statfs` on macOS.
pub fn fs_identity(path: &Path) -> Result<FsIdentity, FsxError> {
    let real = fs::canonicalize(path).map_err(|source| FsxError::Resolve {
        path: path.to_path_buf(),
        source,
    })?;
    let stats = nix::sys::statvfs::statvfs(&real).map_err(|source| FsxError::Statvfs {
        path: real.clone(),
        source,
    })?;
    // The field types differ between platforms (u32 on some, u64 on Linux).
    #[allow(clippy::useless_conversion)]
    let (blocks, available, fragment) = (
        u64::from(stats.blocks()),
        u64::from(stats.blocks_available()),
        u64::from(stats.fragment_size()),
    );
    let device = fs::metadata(&real)
        .map_err(|source| FsxError::Metadata {
            path: real.clone(),
            source,
        })?
        .dev();
    Ok(FsIdentity {
        fs_type: fs_type(&real)?,
        device,
        size_bytes: blocks.saturating_mul(fragment),
        available_bytes: available.saturating_mul(fragment),
    })
}

/// The size of the memory-backed filesystem (`tmpfs`) holding `path`, in bytes; `None` when
/// it is on another kind of filesystem or cannot be looked at. What a process writes into a
/// tmpfs is charged to its memory cgroup (issue 26 row 7), and it can write no more than this.
pub fn memory_backed_size(path: &Path) -> Option<u64> {
    fs_identity(path)
        .ok()
        .filter(|identity| identity.fs_type == "tmpfs")
        .map(|identity| identity.size_bytes)
}

/// The mount holding `path` (after following symlinks) with its per-mount options, from
/// `/proc/self/mountinfo`.
#[cfg(target_os = "linux")]
pub fn mount_of(path: &Path) -> Result<crate::layout::MountFacts, FsxError> {
    let real = fs::canonicalize(path).map_err(|source| FsxError::Resolve {
        path: path.to_path_buf(),
        source,
    })?;
    let table = Path::new(mountinfo::MOUNTINFO);
    let text = fs::read(table).map_err(|source| FsxError::MountTable {
        path: table.to_path_buf(),
        source,
    })?;
    mountinfo::with_options(&text, &real).ok_or(FsxError::NoMount { path: real })
}

/// The mount holding `path` with its options: not implemented off Linux.
#[cfg(not(target_os = "linux"))]
pub fn mount_of(path: &Path) -> Result<crate::layout::MountFacts, FsxError> {
    Err(FsxError::Unsupported {
        path: path.to_path_buf(),
    })
}

/// How a walk over the components ended.
enum Outcome {
    Found { real: PathBuf, is_dir: bool },
    Missing { real: PathBuf },
    Stopped(PathProblem),
}

/// Walks the components of an absolute path, following symlinks into `hops`.
fn walk(absolute: &Path, lookup: &dyn Lookup, hops: &mut Vec<Hop>) -> Outcome {
    // `current` is always physical: no symlink, `.` or `..` in it.
    let mut current = PathBuf::from("/");
    let mut current_is_dir = true;
    let mut pending: VecDeque<OsString> = steps(absolute).collect();
    let mut seen: HashSet<(PathBuf, Vec<OsString>)> = HashSet::new();
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            current.pop();
            current_is_dir = true;
            continue;
        }
        let candidate = current.join(&name);
        let rest: Vec<OsString> = pending.iter().cloned().collect();
        let kind = match lookup.kind(&candidate, &rest) {
            Ok(kind) => kind,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let mut real = candidate;
                real.extend(pending);
                return Outcome::Missing {
                    real: normalize(&real),
                };
            }
            Err(error) => return Outcome::Stopped(problem(&candidate, &error)),
        };
        if kind == Kind::Symlink {
            if !seen.insert((candidate.clone(), rest)) {
                return Outcome::Stopped(PathProblem::Loop { at: candidate });
            }
            if hops.len() >= MAX_HOPS {
                return Outcome::Stopped(PathProblem::TooManyLinks);
            }
            let target = match lookup.read_link(&candidate) {
                Ok(target) => target,
                Err(error) => return Outcome::Stopped(problem(&candidate, &error)),
            };
            // `current` is the link's directory: a relative target starts there.
            let resolved = normalize(&current.join(&target));
            if target.has_root() {
                current = PathBuf::from("/");
            }
            for step in steps(&target).collect::<Vec<_>>().into_iter().rev() {
                pending.push_front(step);
            }
            hops.push(Hop {
                link: candidate,
                target,
                resolved,
            });
        } else if kind != Kind::Dir && !pending.is_empty() {
            return Outcome::Stopped(PathProblem::NotADirectory { at: candidate });
        } else {
            current = candidate;
            current_is_dir = kind == Kind::Dir;
        }
    }
    Outcome::Found {
        real: current,
        is_dir: current_is_dir,
    }
}

/// The names and `..` steps of a path; the root and `.` add no step.
fn steps(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// Removes `.` and `..` from an absolute path without touching the
/// filesystem (`..` at the root stays at the root).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The problem an I/O error on `at` stands for.
fn problem(at: &Path, error: &io::Error) -> PathProblem {
    match error.kind() {
        io::ErrorKind::PermissionDenied => PathProblem::PermissionDenied {
            at: at.to_path_buf(),
        },
        io::ErrorKind::NotADirectory => PathProblem::NotADirectory {
            at: at.to_path_buf(),
        },
        _ => PathProblem::Io {
            at: at.to_path_buf(),
            message: error.to_string(),
        },
    }
}

/// The type of the filesystem holding the physical path `real`.
#[cfg(target_os = "linux")]
fn fs_type(real: &Path) -> Result<String, FsxError> {
    let table = Path::new(mountinfo::MOUNTINFO);
    let text = fs::read(table).map_err(|source| FsxError::MountTable {
        path: table.to_path_buf(),
        source,
    })?;
    let mounts = mountinfo::parse(&text);
    mountinfo::mount_for(&mounts, real)
        .map(|mount| mount.fs_type.clone())
        .ok_or_else(|| FsxError::NoMount {
            path: real.to_path_buf(),
        })
}

/// The type of the filesystem holding the physical path `real`.
#[cfg(target_vendor = "apple")]
fn fs_type(real: &Path) -> Result<String, FsxError> {
    nix::sys::statfs::statfs(real)
        .map(|stats| stats.filesystem_type_name().to_owned())
        .map_err(|source| FsxError::Statvfs {
            path: real.to_path_buf(),
            source,
        })
}

/// The type of the filesystem holding the physical path `real`.
#[cfg(not(any(target_os = "linux", target_vendor = "apple")))]
fn fs_type(real: &Path) -> Result<String, FsxError> {
    Err(FsxError::Unsupported {
        path: real.to_path_buf(),
    })
}

/// The Linux mount table, `/proc/self/mountinfo` (see proc_pid_mountinfo(5)).
#[cfg(target_os = "linux")]
mod mountinfo {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    use std::path::{Path, PathBuf};

    /// The mount table of this process's mount namespace.
    pub(super) const MOUNTINFO: &str = "/proc/self/mountinfo";

    /// One line of the mount table: where, and which filesystem type.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct Mount {
        pub(super) mount_point: PathBuf,
        pub(super) fs_type: String,
    }

    /// Parses the mount table; lines not of its form are skipped.
    pub(super) fn parse(text: &[u8]) -> Vec<Mount> {
        text.split(|&byte| byte == b'\n')
            .filter_map(parse_line)
            .collect()
    }

    /// `36 35 98:0 /root /mount/point rw,noatime master:1 - ext3 /dev/root rw`
    fn parse_line(line: &[u8]) -> Option<Mount> {
        let fields: Vec<&[u8]> = line.split(|&byte| byte == b' ').collect();
        let separator = fields.iter().skip(6).position(|field| *field == b"-")? + 6;
        let mount_point = fields.get(4)?;
        let fs_type = fields.get(separator + 1)?;
        if !mount_point.starts_with(b"/") || fs_type.is_empty() {
            return None;
        }
        Some(Mount {
            mount_point: PathBuf::from(OsString::from_vec(unescape(mount_point))),
            fs_type: String::from_utf8_lossy(&unescape(fs_type)).into_owned(),
        })
    }

    /// Undoes the kernel's octal escapes (`\040` space, `\011` tab,
    /// `\012` newline, `\134` backslash); anything else is kept as is.
    fn unescape(field: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(field.len());
        let mut rest = field;
        while let Some((&byte, tail)) = rest.split_first() {
            let octal = tail
                .get(..3)
                .filter(|digits| digits.iter().all(|digit| (b'0'..=b'7').contains(digit)))
                .map(|digits| {
                    digits
                        .iter()
                        .fold(0u16, |value, digit| value * 8 + u16::from(digit - b'0'))
                })
                .and_then(|value| u8::try_from(value).ok());
            match (byte, octal) {
                (b'\\', Some(value)) => {
                    out.push(value);
                    rest = &tail[3..];
                }
                _ => {
                    out.push(byte);
                    rest = tail;
                }
            }
        }
        out
    }

    /// The mount holding `real`: the longest mount point that is a
    /// component-wise prefix; among equal ones the last (it is on top).
    pub(super) fn mount_for<'a>(mounts: &'a [Mount], real: &Path) -> Option<&'a Mount> {
        mounts
            .iter()
            .filter(|mount| real.starts_with(&mount.mount_point))
            .max_by_key(|mount| mount.mount_point.components().count())
    }

    /// The mount holding `real` (as [`mount_for`]) with its per-mount options (field 6).
    pub(super) fn with_options(text: &[u8], real: &Path) -> Option<crate::layout::MountFacts> {
        let mounts = parse(text);
        let mount = mount_for(&mounts, real)?;
        // `parse` keeps every well-formed line in order: find the same line again, last first.
        let line = text
            .split(|&byte| byte == b'\n')
            .rfind(|line| parse_line(line).as_ref() == Some(mount))?;
        let options = line.split(|&byte| byte == b' ').nth(5).unwrap_or_default();
        Some(crate::layout::MountFacts {
            mount_point: mount.mount_point.clone(),
            fs_type: mount.fs_type.clone(),
            options: String::from_utf8_lossy(options)
                .split(',')
                .map(str::to_string)
                .collect(),
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const TABLE: &str = r"22 27 0:21 / /proc rw,relatime - proc proc rw
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684092k
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
30 25 0:27 / /dev/shm rw,relatime shared:7 master:1 - tmpfs shm rw
40 27 0:40 / /mnt/data rw,relatime shared:9 - xfs /dev/sdb1 rw
41 27 0:41 /photos /Volumes/fast\040store rw - virtiofs mount0 rw
42 27 0:42 / /mnt/back\134slash rw - fuse.sshfs host:/x rw
this line is not a mount
43 27 0:43 / /mnt/nofstype rw -
";

        fn fs_type_of(path: &str) -> Option<String> {
            let mounts = parse(TABLE.as_bytes());
            mount_for(&mounts, Path::new(path)).map(|mount| mount.fs_type.clone())
        }

        #[test]
        fn parses_well_formed_lines_and_skips_the_rest() {
            let mounts = parse(TABLE.as_bytes());
            assert_eq!(mounts.len(), 7);
            assert_eq!(
                mounts[4],
                Mount {
                    mount_point: PathBuf::from("/mnt/data"),
                    fs_type: "xfs".to_owned(),
                }
            );
        }

        #[test]
        fn unescapes_octal_escapes_in_mount_points() {
            assert_eq!(
                fs_type_of("/Volumes/fast store/x").as_deref(),
                Some("virtiofs")
            );
            assert_eq!(
                fs_type_of("/mnt/back\\slash").as_deref(),
                Some("fuse.sshfs")
            );
            assert_eq!(unescape(br"a\040b\011c\012d\134e"), b"a b\tc\nd\\e");
            assert_eq!(unescape(br"keep\9xx\04"), br"keep\9xx\04");
        }

        #[test]
        fn options_of_the_mount_holding_a_path() {
            let data = with_options(TABLE.as_bytes(), Path::new("/mnt/data/db")).unwrap();
            assert_eq!(data.mount_point, PathBuf::from("/mnt/data"));
            assert_eq!(data.options, vec!["rw", "relatime"]);
            let shm = with_options(TABLE.as_bytes(), Path::new("/dev/shm")).unwrap();
            assert_eq!(shm.fs_type, "tmpfs");
        }

        #[test]
        fn longest_prefix_is_component_wise() {
            assert_eq!(fs_type_of("/mnt/data/db").as_deref(), Some("xfs"));
            assert_eq!(fs_type_of("/mnt/data").as_deref(), Some("xfs"));
            assert_eq!(fs_type_of("/mnt/database").as_deref(), Some("ext4"));
            assert_eq!(fs_type_of("/").as_deref(), Some("ext4"));
        }

        #[test]
        fn last_of_stacked_mounts_wins() {
            let mounts = parse(TABLE.as_bytes());
            let mount = mount_for(&mounts, Path::new("/dev/shm/x"));
            assert_eq!(mount, Some(&mounts[3]));
        }

        #[test]
        fn empty_table_holds_nothing() {
            assert_eq!(mount_for(&parse(b""), Path::new("/")), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::time::{Duration, Instant};

    /// A temporary directory tree, addressed relative to its physical root.
    struct Tree {
        _dir: tempfile::TempDir,
        root: PathBuf,
    }

    impl Tree {
        fn new() -> Tree {
            let dir = tempfile::tempdir().expect("a temporary directory can be made");
            let root = fs::canonicalize(dir.path()).expect("the temporary directory exists");
            Tree { _dir: dir, root }
        }

        fn at(&self, relative: &str) -> PathBuf {
            self.root.join(relative)
        }

        fn dir(&self, relative: &str) -> PathBuf {
            let path = self.at(relative);
            fs::create_dir_all(&path).expect("directory can be made");
            path
        }

        fn file(&self, relative: &str) -> PathBuf {
            let path = self.at(relative);
            fs::write(&path, "data").expect("file can be written");
            path
        }

        fn link(&self, relative: &str, target: impl AsRef<Path>) -> PathBuf {
            let path = self.at(relative);
            symlink(target, &path).expect("symlink can be made");
            path
        }
    }

    fn hop(link: &Path, target: impl Into<PathBuf>, resolved: &Path) -> Hop {
        Hop {
            link: link.to_path_buf(),
            target: target.into(),
            resolved: resolved.to_path_buf(),
        }
    }

    fn canonical(path: &Path) -> PathBuf {
        fs::canonicalize(path).expect("the path exists")
    }

    fn assert_found(facts: &PathFacts, is_dir: bool) {
        assert!(facts.exists, "{facts:?}");
        assert_eq!(facts.is_dir, is_dir, "{facts:?}");
        assert_eq!(facts.problem, None);
        assert_eq!(
            facts.real.as_deref(),
            Some(canonical(&facts.path).as_path())
        );
    }

    #[test]
    fn plain_directory_resolves_to_itself() {
        let tree = Tree::new();
        let data = tree.dir("data");
        let facts = resolve(&data);
        assert_found(&facts, true);
        assert_eq!(facts.path, data);
        assert_eq!(facts.real, Some(data));
        assert!(facts.hops.is_empty());
    }

    #[test]
    fn root_resolves_to_root() {
        let facts = resolve(Path::new("/"));
        assert_eq!(facts.real, Some(PathBuf::from("/")));
        assert!(facts.exists && facts.is_dir);
    }

    #[test]
    fn absolute_symlinked_directory_is_one_hop() {
        let tree = Tree::new();
        let photos = tree.dir("faststore/photos");
        let link = tree.link("Photos", &photos);
        let facts = resolve(&link);
        assert_found(&facts, true);
        assert_eq!(facts.real, Some(photos.clone()));
        assert_eq!(facts.hops, vec![hop(&link, &photos, &photos)]);
    }

    #[test]
    fn relative_symlinked_directory_keeps_the_target_as_written() {
        let tree = Tree::new();
        let photos = tree.dir("faststore/photos");
        let link = tree.link("Photos", "faststore/photos");
        let facts = resolve(&link);
        assert_found(&facts, true);
        assert_eq!(facts.real, Some(photos.clone()));
        assert_eq!(facts.hops, vec![hop(&link, "faststore/photos", &photos)]);
    }

    #[test]
    fn chain_of_three_links_is_three_hops_in_order() {
        let tree = Tree::new();
        let data = tree.dir("data");
        let third = tree.link("third", "data");
        let second = tree.link("second", &third);
        let first = tree.link("first", "./second");
        let facts = resolve(&first);
        assert_found(&facts, true);
        assert_eq!(
            facts.hops,
            vec![
                hop(&first, "./second", &second),
                hop(&second, &third, &third),
                hop(&third, "data", &data),
            ]
        );
    }

    #[test]
    fn link_in_a_middle_component_is_followed() {
        let tree = Tree::new();
        tree.dir("a");
        let real = tree.dir("real/b/c");
        let link = tree.link("a/link", "../real");
        let facts = resolve(&tree.at("a/link/b/c"));
        assert_found(&facts, true);
        assert_eq!(facts.real, Some(real));
        assert_eq!(facts.hops, vec![hop(&link, "../real", &tree.at("real"))]);
    }

    #[test]
    fn dotdot_after_a_symlink_applies_to_the_resolved_directory() {
        let tree = Tree::new();
        tree.dir("deep/inner");
        let sibling = tree.dir("deep/sibling");
        tree.dir("sibling");
        tree.link("shortcut", "deep/inner");
        let facts = resolve(&tree.at("shortcut/../sibling"));
        assert_found(&facts, true);
        assert_eq!(facts.real, Some(sibling));
        assert_ne!(facts.real, Some(tree.at("sibling")));
    }

    #[test]
    fn dot_and_dotdot_in_the_path_as_asked_are_resolved() {
        let tree = Tree::new();
        let photos = tree.dir("faststore/photos");
        let asked = tree.at("faststore/./photos/../photos/.");
        let facts = resolve(&asked);
        assert_eq!(facts.path, asked);
        assert_eq!(facts.real, Some(photos));
        assert!(facts.exists && facts.hops.is_empty());
    }

    #[test]
    fn dangling_link_does_not_exist_but_shows_its_target() {
        let tree = Tree::new();
        let link = tree.link("gone", "nowhere/data");
        let facts = resolve(&link);
        assert!(!facts.exists && !facts.is_dir);
        assert_eq!(facts.problem, None);
        assert_eq!(facts.real, Some(tree.at("nowhere/data")));
        assert_eq!(facts.hops.len(), 1);
    }

    #[test]
    fn missing_path_under_a_symlinked_parent_shows_where_it_would_be_created() {
        let tree = Tree::new();
        tree.dir("faststore/photos");
        tree.link("Photos", "faststore/photos");
        let facts = resolve(&tree.at("Photos/library/2024"));
        assert!(!facts.exists && !facts.is_dir);
        assert_eq!(facts.problem, None);
        assert_eq!(facts.real, Some(tree.at("faststore/photos/library/2024")));
        assert_eq!(facts.hops.len(), 1);
    }

    #[test]
    fn two_link_loop_is_a_loop_found_quickly() {
        let tree = Tree::new();
        let a = tree.link("a", "b");
        tree.link("b", "a");
        let start = Instant::now();
        let facts = resolve(&tree.at("a/data"));
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(facts.problem, Some(PathProblem::Loop { at: a }));
        assert_eq!(facts.hops.len(), 2);
        assert!(!facts.exists && facts.real.is_none());
    }

    #[test]
    fn self_loop_is_a_loop() {
        let tree = Tree::new();
        let me = tree.link("me", "me");
        let start = Instant::now();
        let facts = resolve(&me);
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(facts.problem, Some(PathProblem::Loop { at: me }));
        assert!(!facts.exists && facts.real.is_none());
    }

    #[test]
    fn growing_loop_stops_at_the_kernel_limit() {
        let tree = Tree::new();
        let grow = tree.link("grow", "grow/x");
        let facts = resolve(&grow);
        assert_eq!(facts.problem, Some(PathProblem::TooManyLinks));
        assert_eq!(facts.hops.len(), MAX_HOPS);
        assert!(fs::canonicalize(&grow).is_err());
    }

    #[test]
    fn forty_links_resolve_and_forty_one_do_not_like_the_kernel() {
        let tree = Tree::new();
        tree.dir("data");
        let mut previous = String::from("data");
        for index in 0..=MAX_HOPS {
            let name = format!("link{index}");
            tree.link(&name, &previous);
            previous = name;
        }
        let forty = resolve(&tree.at(&format!("link{}", MAX_HOPS - 1)));
        assert_eq!(forty.hops.len(), MAX_HOPS);
        assert_eq!(forty.real, Some(tree.at("data")));
        assert!(fs::canonicalize(&forty.path).is_ok());
        let forty_one = resolve(&tree.at(&format!("link{MAX_HOPS}")));
        assert_eq!(forty_one.problem, Some(PathProblem::TooManyLinks));
        assert!(fs::canonicalize(&forty_one.path).is_err());
    }

    #[test]
    fn link_to_a_file_exists_and_is_not_a_directory() {
        let tree = Tree::new();
        let file = tree.file("notes.txt");
        let link = tree.link("notes", "notes.txt");
        let facts = resolve(&link);
        assert_found(&facts, false);
        assert_eq!(facts.real, Some(file));
    }

    #[test]
    fn file_used_as_a_directory_is_not_a_directory() {
        let tree = Tree::new();
        let file = tree.file("notes.txt");
        tree.link("notes", "notes.txt");
        for asked in ["notes.txt/child", "notes/child", "notes.txt/.."] {
            let facts = resolve(&tree.at(asked));
            assert_eq!(
                facts.problem,
                Some(PathProblem::NotADirectory { at: file.clone() }),
                "{asked}"
            );
            assert!(!facts.exists && facts.real.is_none());
        }
    }

    #[test]
    fn resolve_agrees_with_canonicalize_on_a_mixed_tree() {
        let tree = Tree::new();
        tree.dir("store/a/b");
        tree.dir("other");
        tree.file("store/a/file");
        tree.link("store/up", "..");
        tree.link("store/a/b/back", "../../up/other");
        tree.link("abs", tree.at("store/a"));
        tree.link("rel", "store/./a/");
        tree.link("dangling", "store/none");
        let asked = [
            "store/up/store/up/other",
            "store/a/b/back",
            "store/a/b/back/../store/a/b",
            "abs/b/back/..",
            "abs/../up",
            "rel/file",
            "rel/b/../../a/b",
            "dangling",
            "abs/../../other",
        ];
        for relative in asked {
            let facts = resolve(&tree.at(relative));
            let canonical = fs::canonicalize(&facts.path).ok();
            assert_eq!(facts.exists, canonical.is_some(), "{relative}");
            if canonical.is_some() {
                assert_eq!(facts.real, canonical, "{relative}");
            }
        }
    }

    /// Set to the tree root when the permission test runs again as `nobody`.
    const UNPRIVILEGED_ROOT: &str = "TIERCTL_TEST_UNPRIVILEGED_ROOT";

    /// The conventional uid and gid of `nobody`.
    const NOBODY: u32 = 65534;

    fn assert_locked_is_denied(root: &Path) {
        let facts = resolve(&root.join("locked/inner/data"));
        assert_eq!(
            facts.problem,
            Some(PathProblem::PermissionDenied {
                at: root.join("locked/inner")
            })
        );
        assert!(!facts.exists && facts.real.is_none());
    }

    #[test]
    fn unsearchable_directory_is_permission_denied() {
        if let Some(root) = std::env::var_os(UNPRIVILEGED_ROOT) {
            assert_locked_is_denied(Path::new(&root));
            return;
        }
        let tree = Tree::new();
        let locked = tree.dir("locked/inner");
        let locked = locked.parent().expect("inner has a parent");
        fs::set_permissions(locked, fs::Permissions::from_mode(0o000))
            .expect("permissions can be set");
        if fs::read_dir(locked).is_err() {
            assert_locked_is_denied(&tree.root);
            return;
        }
        // Privileged (root here) bypasses permission checks: run this test
        // again as `nobody` in a child process.
        fs::set_permissions(&tree.root, fs::Permissions::from_mode(0o755))
            .expect("permissions can be set");
        let exe = std::env::current_exe().expect("the test binary has a path");
        let spawned = Command::new(exe)
            .args([
                "--exact",
                "fsx::tests::unsearchable_directory_is_permission_denied",
            ])
            .env(UNPRIVILEGED_ROOT, &tree.root)
            .uid(NOBODY)
            .gid(NOBODY)
            .output();
        let output = match spawned {
            Ok(output) => output,
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: privileged, and `nobody` cannot run the test binary: {error}");
                return;
            }
            Err(error) => panic!("cannot run the test binary as `nobody`: {error}"),
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn probe_paths_keys_facts_by_the_path_as_asked() {
        let tree = Tree::new();
        tree.dir("faststore/photos");
        let link = tree.link("Photos", "faststore/photos");
        let missing = tree.at("missing");
        let facts = probe_paths([link.clone(), missing.clone()]);
        assert_eq!(facts.paths.len(), 2);
        assert_eq!(
            facts.path(&link).and_then(|f| f.real.clone()),
            Some(tree.at("faststore/photos"))
        );
        assert_eq!(facts.path(&missing).map(|f| f.exists), Some(false));
    }

    /// `df -P -B1 PATH`: (size, available) in bytes, computed by coreutils.
    fn df(path: &str) -> (u64, u64) {
        let output = Command::new("df")
            .args(["-P", "-B1", path])
            .output()
            .expect("df runs");
        let text = String::from_utf8(output.stdout).expect("df prints text");
        let line = text.lines().nth(1).expect("df prints one filesystem line");
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |index: usize| fields[index].parse::<u64>().expect("df prints numbers");
        (number(1), number(3))
    }

    fn command_output(program: &str, args: &[&str]) -> String {
        let output = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("{program} runs: {error}"));
        String::from_utf8(output.stdout)
            .expect("prints text")
            .trim()
            .to_owned()
    }

    fn assert_identity_matches_the_tools(path: &str) -> FsIdentity {
        let identity = fs_identity(Path::new(path)).expect("the filesystem can be identified");
        let (size, available) = df(path);
        assert_eq!(identity.size_bytes, size, "{path}");
        assert!(identity.available_bytes <= identity.size_bytes);
        assert!(
            identity.available_bytes.abs_diff(available) < 1 << 30,
            "{path}"
        );
        let device = command_output("stat", &["-c", "%d", path]);
        assert_eq!(identity.device.to_string(), device, "{path}");
        // findmnt lists stacked mounts bottom first: the last one is on top.
        let fs_types = command_output("findmnt", &["-n", "-o", "FSTYPE", "-T", path]);
        assert_eq!(
            Some(identity.fs_type.as_str()),
            fs_types.lines().last(),
            "{path}"
        );
        identity
    }

    #[test]
    fn fs_identity_of_root_matches_df_stat_and_findmnt() {
        let identity = assert_identity_matches_the_tools("/");
        assert!(identity.size_bytes > 0);
    }

    #[test]
    fn fs_identity_of_dev_shm_is_tmpfs_on_its_own_device() {
        let shm = assert_identity_matches_the_tools("/dev/shm");
        assert_eq!(shm.fs_type, "tmpfs");
        let root = fs_identity(Path::new("/")).expect("the root filesystem can be identified");
        assert_ne!(shm.device, root.device);
    }

    #[test]
    fn fs_identity_follows_symlinks_to_the_real_filesystem() {
        let tree = Tree::new();
        let link = tree.link("shm", "/dev/shm");
        let through_link = fs_identity(&link).expect("the filesystem can be identified");
        let direct = fs_identity(Path::new("/dev/shm")).expect("the filesystem can be identified");
        assert_eq!(through_link.fs_type, "tmpfs");
        assert_eq!(through_link.device, direct.device);
        assert_eq!(through_link.size_bytes, direct.size_bytes);
    }

    #[test]
    fn fs_identity_of_a_missing_path_is_a_resolve_error() {
        let tree = Tree::new();
        let missing = tree.at("missing");
        let error = fs_identity(&missing).expect_err("a missing path has no filesystem");
        assert!(matches!(&error, FsxError::Resolve { path, .. } if *path == missing));
        assert_eq!(
            error.to_string(),
            format!("cannot resolve `{}`", missing.display())
        );
    }
}
