//! Everything observed about the world, as plain data.
//!
//! These types carry no behaviour beyond lookups: the effects (`fsx`, `tierfs`, `engine`) fill
//! them, and the pure core (`audit`, `plan`, `verify`, `report`) reads them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The name of the identity marker file `tiers init` writes at each tier root.
pub const MARKER_FILE: &str = ".tierctl-tier";

/// What resolving one host path found, symlink by symlink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathFacts {
    /// The path as asked (not made absolute, not normalised).
    pub path: PathBuf,
    /// Every symlink followed while resolving, in the order followed.
    pub hops: Vec<Hop>,
    /// The physical path: no symlink in any component, no `.` or `..`.
    ///
    /// When a component is missing, this is the resolved prefix joined with
    /// the remaining components (where compose would create the directory).
    /// `None` when resolution stopped on a `problem`.
    pub real: Option<PathBuf>,
    /// Whether the whole path resolved to an existing object.
    pub exists: bool,
    /// Whether the resolved object is a directory (false when it does not exist).
    pub is_dir: bool,
    /// Why resolution stopped early, other than a missing component.
    pub problem: Option<PathProblem>,
}

impl PathFacts {
    /// Whether any symlink was followed on the way to the real path.
    pub fn is_symlinked(&self) -> bool {
        !self.hops.is_empty()
    }
}

/// One symlink followed while resolving a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// Absolute physical path of the symlink itself.
    pub link: PathBuf,
    /// The link's target text, as written (`readlink`).
    pub target: PathBuf,
    /// The target made absolute (a relative target joined onto the link's
    /// directory) and lexically normalised; informational, since later
    /// symlinks in it are followed by the next hops.
    pub resolved: PathBuf,
}

/// Why a path could not be resolved to the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PathProblem {
    /// The same symlink was reached twice with the same path left to resolve.
    Loop {
        /// The symlink reached a second time.
        at: PathBuf,
    },
    /// More symlinks than the kernel follows (40, as `ELOOP`).
    TooManyLinks,
    /// A component could not be examined for lack of permission.
    PermissionDenied {
        /// The path whose lookup was refused (its parent lacks search permission).
        at: PathBuf,
    },
    /// A component that must be a directory is something else (a file).
    NotADirectory {
        /// The physical path of the non-directory component.
        at: PathBuf,
    },
    /// Any other I/O error while examining a component.
    Io {
        /// The path whose examination failed.
        at: PathBuf,
        /// The operating system's message.
        message: String,
    },
}

/// Which filesystem holds a path, and how big it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsIdentity {
    /// Filesystem type as the mount table names it (`ext4`, `tmpfs`, `virtiofs`).
    pub fs_type: String,
    /// Device number (`st_dev`) of the path.
    pub device: u64,
    /// Total size in bytes: `f_blocks * f_frsize`.
    pub size_bytes: u64,
    /// Bytes available to unprivileged users: `f_bavail * f_frsize`.
    pub available_bytes: u64,
}

/// Facts about every host path a command asked about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// Resolved facts, keyed by the path as asked.
    pub paths: BTreeMap<PathBuf, PathFacts>,
    /// Whether each tier's disk is there, keyed by tier name (empty when not observed).
    pub tiers: BTreeMap<String, TierPresence>,
    /// The project's named volumes that no compose mount uses any more and that still hold
    /// data (empty when the engine was not asked).
    pub left_volumes: Vec<LeftVolume>,
    /// Real paths of bind directories that exist and have no entry (observed with
    /// `left_volumes`).
    pub empty_dirs: std::collections::BTreeSet<PathBuf>,
    /// Directories below a bind source, at the place of a nested bind of the same service, that
    /// hold entries: data the nested bind hides from the container (issue 25; observed on this
    /// machine only).
    #[serde(skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub under_nested: std::collections::BTreeSet<PathBuf>,
    /// What database files each bind source holds, keyed by the path as asked (empty when its
    /// content was not read: a remote host, or nothing found).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub databases: BTreeMap<PathBuf, Vec<DatabaseSign>>,
    /// What each VM share keeps, measured by `vm --probe` (empty when not probed): the VM
    /// checks judge a share by these where they exist, by the engine's documented behaviour
    /// otherwise.
    #[serde(skip)]
    pub shares: Vec<ShareProbe>,
}

impl Facts {
    /// What `vm --probe` measured on the share whose host directory is `host`, if it did.
    pub fn measured(&self, host: &Path) -> Option<&ShareKeeps> {
        self.shares
            .iter()
            .filter(|p| p.host == host)
            .find_map(|p| match &p.outcome {
                ShareOutcome::Measured(keeps) => Some(keeps),
                _ => None,
            })
    }
}

/// A file that shows a database keeps its data in a directory (read from the bind source's
/// content by `probe`; recognised by `database::sign`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DatabaseSign {
    /// A file starting with SQLite's 16-byte header `SQLite format 3\0`.
    Sqlite {
        /// The file, relative to the bind source.
        file: PathBuf,
    },
    /// A SQLite write-ahead log or shared-memory file (`-wal`, `-shm`).
    SqliteJournal {
        /// The file, relative to the bind source.
        file: PathBuf,
    },
    /// Postgres' `PG_VERSION`.
    Postgres {
        /// The file, relative to the bind source.
        file: PathBuf,
    },
    /// MySQL's or MariaDB's `ibdata1` or `mysql/` system schema.
    Mysql {
        /// The file or directory, relative to the bind source.
        file: PathBuf,
    },
    /// MongoDB's `WiredTiger` file.
    Mongo {
        /// The file, relative to the bind source.
        file: PathBuf,
    },
}

impl DatabaseSign {
    /// The file that shows it, relative to the bind source.
    pub fn file(&self) -> &Path {
        match self {
            DatabaseSign::Sqlite { file }
            | DatabaseSign::SqliteJournal { file }
            | DatabaseSign::Postgres { file }
            | DatabaseSign::Mysql { file }
            | DatabaseSign::Mongo { file } => file,
        }
    }

    /// The database, in words.
    pub fn database(&self) -> &'static str {
        match self {
            DatabaseSign::Sqlite { .. } | DatabaseSign::SqliteJournal { .. } => "SQLite",
            DatabaseSign::Postgres { .. } => "Postgres",
            DatabaseSign::Mysql { .. } => "MySQL/MariaDB",
            DatabaseSign::Mongo { .. } => "MongoDB",
        }
    }
}

/// A named volume compose made for the project (by its labels) that no service uses any more
/// and that still holds data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftVolume {
    /// The engine's name (`<project>_<key>`).
    pub name: String,
    /// Its key in the compose file (`com.docker.compose.volume`).
    pub key: String,
}

/// What is at a tier root: is it the tier's own filesystem, or a stand-in directory on the
/// system disk because the tier's disk is not mounted?
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierPresence {
    /// Whether the root exists as a directory.
    pub root_is_dir: bool,
    /// Whether the root directory has no entry at all (the marker included).
    pub root_empty: bool,
    /// The identity marker file at the root.
    pub marker: Marker,
    /// Whether the root is a mount point (its device differs from its parent's, or the mount
    /// table has a mount there); `None` when it could not be told.
    pub mount_point: Option<bool>,
}

/// The identity marker `tiers init` writes at a tier root (`.tierctl-tier`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Marker {
    /// The file is there and names a tier.
    Present {
        /// The tier name written in it.
        tier: String,
        /// The random id written in it (identifies the filesystem, recorded nowhere else).
        id: String,
    },
    /// No marker file.
    Missing,
    /// The file exists but could not be read or does not look like a marker.
    Unreadable {
        /// Why.
        message: String,
    },
}

impl Facts {
    /// The facts about `path`, keyed exactly as it was asked.
    pub fn path(&self, path: &Path) -> Option<&PathFacts> {
        self.paths.get(path)
    }
}

/// Host paths that are bound for the system, not for data. In a VM they name the VM's own
/// files (`/etc/localtime`, the docker socket), so no path check applies to them: `audit`
/// leaves them alone and `verify` does not judge them.
const SYSTEM_PREFIXES: [&str; 13] = [
    "/etc",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/var/run",
    "/usr",
    "/lib",
    "/bin",
    "/sbin",
    "/boot",
    "/var/lib/docker",
    "/var/log",
];

/// Whether a host path is a system path (see [`SYSTEM_PREFIXES`]).
pub fn is_system_path(path: &Path) -> bool {
    path == Path::new("/")
        || SYSTEM_PREFIXES.iter().any(|p| path.starts_with(p))
        || path.file_name().is_some_and(|n| n == "docker.sock")
}

/// What `docker info` says about the engine, as far as tierctl needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineInfo {
    /// `Name`: the engine host's hostname (`colima`, `lima-rancher-desktop`, `docker-desktop`).
    pub name: String,
    /// `OperatingSystem` (`Debian GNU/Linux 12 (bookworm)`, `Docker Desktop`, `OrbStack`).
    pub operating_system: String,
    /// `OSType` (`linux`).
    pub os_type: String,
    /// `ServerVersion`.
    pub server_version: String,
    /// `KernelVersion`.
    pub kernel_version: String,
    /// The API version negotiated with the engine.
    pub api_version: String,
}

/// What the bind probe's helper container (`engine::probe`) saw at the bind source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerView {
    /// Filesystem type from `/proc/self/mountinfo`.
    pub fs_type: Option<String>,
    /// The mount's source as the engine's kernel names it.
    pub mount_source: Option<String>,
    /// `f_blocks * f_frsize`.
    pub size_bytes: Option<u64>,
    /// The marker file.
    pub marker: ProbeMarker,
}

/// Whether the marker file tierctl wrote on the host was visible in the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeMarker {
    /// Visible: the engine sees the host directory.
    Seen,
    /// Written on the host, not visible in the container.
    Missing,
    /// Could not be written (the directory is not writable by this user).
    NotWritten,
}

/// The probe's conclusion for one bind source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum BindVerdict {
    /// The engine sees the host directory.
    Same,
    /// The engine sees another directory at that path.
    Different {
        /// Why: marker missing, filesystem type or size differ.
        reasons: Vec<String>,
    },
    /// The engine has no such path (the bind was refused; nothing was created).
    MissingInEngine {
        /// The engine's message.
        message: String,
    },
    /// The host has no such path (no helper was started; nothing was created).
    MissingOnHost,
    /// The probe could not run for this source.
    Failed {
        /// Why.
        message: String,
    },
}

impl BindVerdict {
    /// Whether the engine does not see the host directory.
    pub fn is_mismatch(&self) -> bool {
        !matches!(self, BindVerdict::Same)
    }
}

/// One bind source probed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindProbe {
    /// The bind source, as compose passes it to the engine.
    pub source: PathBuf,
    /// The host's view (`None` when it could not be read).
    pub host: Option<FsIdentity>,
    /// The container's view (`None` when no helper ran).
    pub container: Option<ContainerView>,
    /// The conclusion.
    #[serde(flatten)]
    pub verdict: BindVerdict,
    /// Differences that do not decide the verdict (a VM share's own type or size).
    pub notes: Vec<String>,
}

pub mod share_probe;
pub use share_probe::{ShareKeeps, ShareOutcome, ShareProbe};

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(path: &str) -> PathFacts {
        PathFacts {
            path: PathBuf::from(path),
            hops: Vec::new(),
            real: Some(PathBuf::from(path)),
            exists: false,
            is_dir: false,
            problem: None,
        }
    }

    #[test]
    fn path_looks_up_by_the_path_as_asked() {
        let mut facts = Facts::default();
        facts
            .paths
            .insert(PathBuf::from("/srv/data"), missing("/srv/data"));
        assert_eq!(
            facts.path(Path::new("/srv/data")).map(|f| f.exists),
            Some(false)
        );
        assert!(facts.path(Path::new("/srv/data/")).is_some());
        assert!(facts.path(Path::new("/srv/other")).is_none());
    }

    #[test]
    fn problem_serialises_with_a_kind_tag() {
        let problem = PathProblem::Loop {
            at: PathBuf::from("/a/b"),
        };
        let json = serde_json::to_string(&problem).expect("plain data serialises");
        assert_eq!(json, r#"{"kind":"loop","at":"/a/b"}"#);
        let json =
            serde_json::to_string(&PathProblem::TooManyLinks).expect("plain data serialises");
        assert_eq!(json, r#"{"kind":"too-many-links"}"#);
    }

    #[test]
    fn is_symlinked_means_some_hop() {
        let mut facts = missing("/Volumes/Photos");
        assert!(!facts.is_symlinked());
        facts.hops.push(Hop {
            link: PathBuf::from("/Volumes/Photos"),
            target: PathBuf::from("faststore/photos"),
            resolved: PathBuf::from("/Volumes/faststore/photos"),
        });
        assert!(facts.is_symlinked());
    }
}
