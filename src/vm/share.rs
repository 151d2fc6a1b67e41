//! A VM share (host directory visible inside the VM) and the lookup of a host path in a list.

use std::path::{Path, PathBuf};

use super::VmEngine;

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
