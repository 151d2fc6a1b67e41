//! What a VM engine shares with its host, as data: `VmEngine`, a `Share` (host directory
//! visible inside the VM), `VmShares` (one engine's shares), the lookup of a host path in a
//! list, and `VmView`/`Coverage` (how the engine sees one host path). The `vm` readers fill
//! them from each engine's configuration; `audit`, `report` and `migrate` read them.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::compose::path::absolute;
use crate::endpoint::EngineGuess;

/// The VM engines whose shares can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VmEngine {
    /// Colima (a Lima VM managed by colima).
    Colima,
    /// Plain Lima (`limactl`).
    Lima,
    /// Docker Desktop for Mac.
    DockerDesktop,
    /// Rancher Desktop (a Lima VM managed by Rancher Desktop).
    RancherDesktop,
    /// OrbStack.
    OrbStack,
    /// Podman machine.
    Podman,
}

impl fmt::Display for VmEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VmEngine::Colima => "Colima",
            VmEngine::Lima => "Lima",
            VmEngine::DockerDesktop => "Docker Desktop",
            VmEngine::RancherDesktop => "Rancher Desktop",
            VmEngine::OrbStack => "OrbStack",
            VmEngine::Podman => "Podman machine",
        })
    }
}

/// One host directory the VM sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The host directory (absolute, `~` expanded).
    pub host: PathBuf,
    /// Where the VM (and so the Docker engine) sees it.
    pub vm: PathBuf,
    /// Whether the VM may write to it.
    pub writable: bool,
    /// The mount type (`virtiofs`, `sshfs`, `9p`, `reverse-sshfs`, `grpcfuse`, ...), when known.
    pub mount_type: Option<String>,
}

impl Share {
    /// A share mounted at the same path inside the VM.
    pub fn same_path(host: impl Into<PathBuf>, writable: bool, mount_type: Option<&str>) -> Self {
        let host = host.into();
        Share {
            vm: host.clone(),
            host,
            writable,
            mount_type: mount_type.map(str::to_owned),
        }
    }

    /// Where `host_path` appears in the VM, if it lies under this share (component-wise).
    pub fn vm_path(&self, host_path: &Path) -> Option<PathBuf> {
        let rest = host_path.strip_prefix(&self.host).ok()?;
        Some(if rest.as_os_str().is_empty() {
            self.vm.clone()
        } else {
            self.vm.join(rest)
        })
    }
}

/// The share that covers `host_path`: component-wise prefix, the longest (most components) wins,
/// the first listed wins a tie. `/Volumes/fast` does not cover `/Volumes/faststore`.
pub fn share_for<'a>(shares: &'a [Share], host_path: &Path) -> Option<&'a Share> {
    let mut best: Option<(&Share, usize)> = None;
    for share in shares.iter().filter(|s| host_path.starts_with(&s.host)) {
        let depth = share.host.components().count();
        if best.is_none_or(|(_, d)| depth > d) {
            best = Some((share, depth));
        }
    }
    best.map(|(s, _)| s)
}

/// What one engine's VM shares, and where that was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmShares {
    /// The engine.
    pub engine: VmEngine,
    /// The VM instance, profile or machine name, when the engine has several.
    pub instance: Option<String>,
    /// The shares, in the engine's order.
    pub shares: Vec<Share>,
    /// The files the shares were read from (empty when they are built in).
    pub source_files: Vec<PathBuf>,
    /// Things the user should know (defaults applied, config not yet applied to the VM, ...).
    pub notes: Vec<String>,
}

/// The engine serving the endpoint and what its VM shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmView {
    /// The engine, as identified.
    pub engine: EngineGuess,
    /// The VM's shares; `None` for a native engine (it sees every host path) and for engines
    /// whose shares cannot be known (remote, unknown).
    pub shares: Option<VmShares>,
}

/// Whether the engine sees one host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// A native engine: every host path is seen as it is.
    Native,
    /// A VM share covers the path.
    Shared {
        /// The share.
        share: Share,
        /// Where the VM sees the path.
        vm_path: PathBuf,
    },
    /// No VM share covers the path: the engine binds a directory of the VM's own disk.
    NotShared,
    /// The engine's shares are not known (remote or unknown engine).
    Unknown,
}

impl Coverage {
    /// Shared at the same path (or native).
    pub fn same_path(&self, host: &Path) -> bool {
        match self {
            Coverage::Native => true,
            Coverage::Shared { vm_path, .. } => vm_path == host,
            Coverage::NotShared | Coverage::Unknown => false,
        }
    }
}

impl VmView {
    /// How the engine sees `real` (a host path after symlink resolution).
    pub fn coverage(&self, real: &Path) -> Coverage {
        match (&self.engine, &self.shares) {
            (EngineGuess::Native, _) => Coverage::Native,
            (_, None) => Coverage::Unknown,
            (_, Some(vm)) => match share_for(&vm.shares, real) {
                Some(share) => Coverage::Shared {
                    vm_path: share
                        .vm_path(real)
                        .map(|p| absolute(Path::new(""), &p))
                        .unwrap_or_else(|| real.to_owned()),
                    share: share.clone(),
                },
                None => Coverage::NotShared,
            },
        }
    }

    /// The VM engine whose files were read, when there is one.
    pub fn vm_engine(&self) -> Option<VmEngine> {
        self.shares.as_ref().map(|s| s.engine)
    }
}

/// The VM engine and instance behind an engine guess, when it runs in a VM whose shares can be
/// read.
pub fn vm_engine_of(guess: &EngineGuess) -> Option<(VmEngine, Option<&str>)> {
    match guess {
        EngineGuess::Colima { profile } => Some((VmEngine::Colima, Some(profile))),
        EngineGuess::DockerDesktop => Some((VmEngine::DockerDesktop, None)),
        EngineGuess::OrbStack => Some((VmEngine::OrbStack, None)),
        EngineGuess::RancherDesktop => Some((VmEngine::RancherDesktop, None)),
        EngineGuess::Lima { instance } => Some((VmEngine::Lima, Some(instance))),
        EngineGuess::Podman { machine } => Some((VmEngine::Podman, machine.as_deref())),
        EngineGuess::Native | EngineGuess::Remote | EngineGuess::Unknown => None,
    }
}

/// Colima's default profile sharing `shares`, for tests.
#[cfg(test)]
pub(crate) fn colima(shares: Vec<Share>) -> VmView {
    VmView {
        engine: EngineGuess::Colima {
            profile: "default".into(),
        },
        shares: Some(VmShares {
            engine: VmEngine::Colima,
            instance: Some("default".into()),
            shares,
            source_files: Vec::new(),
            notes: Vec::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(host: &str, vm: &str, writable: bool) -> Share {
        Share {
            host: host.into(),
            vm: vm.into(),
            writable,
            mount_type: None,
        }
    }

    #[test]
    fn prefix_is_component_wise() {
        let shares = [share("/Volumes/fast", "/Volumes/fast", true)];
        assert!(share_for(&shares, Path::new("/Volumes/faststore/photos")).is_none());
        assert_eq!(
            share_for(&shares, Path::new("/Volumes/fast/photos")),
            Some(&shares[0])
        );
        assert_eq!(
            share_for(&shares, Path::new("/Volumes/fast")),
            Some(&shares[0])
        );
        assert!(share_for(&shares, Path::new("/Volumes")).is_none());
    }

    #[test]
    fn longest_prefix_wins_regardless_of_order() {
        let shares = [
            share("/Users/alice", "/Users/alice", true),
            share("/", "/", false),
            share("/Users/alice/secrets", "/secrets", false),
        ];
        let hit = share_for(&shares, Path::new("/Users/alice/secrets/key")).expect("covered");
        assert_eq!(hit.vm, PathBuf::from("/secrets"));
        let hit = share_for(&shares, Path::new("/Users/alice/code")).expect("covered");
        assert_eq!(hit.vm, PathBuf::from("/Users/alice"));
        let hit = share_for(&shares, Path::new("/opt/x")).expect("covered by /");
        assert!(!hit.writable);
    }

    #[test]
    fn trailing_slash_in_share_does_not_matter() {
        // colima writes `/Volumes/` into lima.yaml (util.CleanPath appends a slash)
        let shares = [share("/Volumes/", "/Volumes/", true)];
        let hit = share_for(&shares, Path::new("/Volumes/faststore")).expect("covered");
        assert_eq!(
            hit.vm_path(Path::new("/Volumes/faststore")),
            Some("/Volumes/faststore".into())
        );
    }

    #[test]
    fn vm_path_maps_the_rest_under_the_mount_point() {
        let s = share("/Volumes/faststore", "/data", true);
        assert_eq!(
            s.vm_path(Path::new("/Volumes/faststore/photos/2024")),
            Some("/data/photos/2024".into())
        );
        assert_eq!(
            s.vm_path(Path::new("/Volumes/faststore")),
            Some("/data".into())
        );
        assert_eq!(s.vm_path(Path::new("/Volumes/other")), None);
    }

    #[test]
    fn first_listed_wins_a_tie() {
        let shares = [share("/a", "/first", true), share("/a/", "/second", true)];
        assert_eq!(
            share_for(&shares, Path::new("/a/b")).map(|s| s.vm.clone()),
            Some("/first".into())
        );
    }
}
