//! The one hardened helper-container builder. Every helper container tierctl runs (the bind
//! probe, verify's fallback, migrate's measure, copy, verify, wipe and seed) is described by a
//! [`HelperSpec`] and created from [`create_body`]; nothing else builds a helper.
//!
//! A caller chooses the image, the mounts, the command and the capabilities (from
//! [`Capability`]). Fixed here, for every helper: no network, a read-only root filesystem,
//! `no-new-privileges`, every capability dropped but the chosen ones, not privileged, root
//! inside, a pids limit and a memory limit (raised by the size of a tmpfs among its writable
//! mounts: what it writes there is charged to it, [`memory_limit`]), and the helper labels. Request fields stay within
//! Docker API 1.41.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};

pub use crate::compose::model::MountSource;

/// The label every helper container carries (its value: the purpose), so leftovers can be found.
pub const HELPER_LABEL: &str = "io.tierctl.helper";
/// The label naming the migration journal a helper container belongs to.
pub const JOURNAL_LABEL: &str = "io.tierctl.journal";
/// The most processes a helper may run (`cp -a`, `find | wc` need a handful).
pub const PIDS_LIMIT: i64 = 64;
/// The most memory a helper may use, in bytes (512 MiB; page cache is reclaimed within it),
/// besides what it writes into a memory-backed filesystem ([`memory_limit`]).
pub const MEMORY_LIMIT: i64 = 512 * 1024 * 1024;

/// A helper's memory limit when it may write into memory-backed filesystems (`tmpfs`) of
/// `memory_backed` bytes in all: the pages it writes there are charged to its memory cgroup and
/// are never reclaimed, so a copy of more than [`MEMORY_LIMIT`] into a tmpfs tier was killed
/// (issue 26 row 7). The filesystems' sizes bound what it can write there.
pub fn memory_limit(memory_backed: u64) -> i64 {
    MEMORY_LIMIT.saturating_add(i64::try_from(memory_backed).unwrap_or(i64::MAX))
}

/// A capability a helper may get back after every one is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    /// Set owners (`cp -a`).
    Chown,
    /// Read and write whatever the modes say (copy, wipe).
    DacOverride,
    /// Search and read directories of other owners (a read-only look: probe, verify, measure).
    DacReadSearch,
    /// Set modes and times on files the helper does not own (`cp -a`).
    Fowner,
    /// Keep setuid and setgid bits (`cp -a`).
    Fsetid,
    /// Create device files (`cp -a` of a tree with devices).
    Mknod,
}

impl Capability {
    /// The name the engine knows it by.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Chown => "CHOWN",
            Capability::DacOverride => "DAC_OVERRIDE",
            Capability::DacReadSearch => "DAC_READ_SEARCH",
            Capability::Fowner => "FOWNER",
            Capability::Fsetid => "FSETID",
            Capability::Mknod => "MKNOD",
        }
    }
}

/// One mount of a helper container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpec {
    /// What is mounted.
    pub source: MountSource,
    /// Where, in the container.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
}

/// A helper container: what the caller chooses. Everything else is fixed by [`create_body`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelperSpec {
    /// The image.
    pub image: String,
    /// The command (the image's entrypoint is cleared).
    pub command: Vec<String>,
    /// The mounts.
    pub mounts: Vec<MountSpec>,
    /// Every mount of this container, read-only at the same targets (`volumes_from`).
    pub shares: Option<String>,
    /// Capabilities added back after dropping all.
    pub capabilities: Vec<Capability>,
    /// The helper's purpose (`probe`, `verify`, `measure`, `copy`, `wipe`, `seed`): the value of
    /// the helper label and part of the container's name.
    pub purpose: String,
    /// The journal the helper belongs to, as a label (so a resumed run finds leftovers).
    pub journal: Option<String>,
    /// Run in this container's pid namespace: its processes' `/proc` entries are the helper's
    /// (`/proc/1` is its main process); nothing else of it is shared.
    pub pid_namespace_of: Option<String>,
}

impl HelperSpec {
    /// A helper with no mounts, no capabilities and no journal.
    pub fn new(purpose: &str, image: &str, command: Vec<String>) -> HelperSpec {
        HelperSpec {
            image: image.to_owned(),
            command,
            mounts: Vec::new(),
            shares: None,
            capabilities: Vec::new(),
            purpose: purpose.to_owned(),
            journal: None,
            pid_namespace_of: None,
        }
    }
}

/// The create request for a helper: the hardening lives here and nowhere else. `memory_backed`:
/// the bytes of the memory-backed filesystems among its writable mounts ([`memory_limit`]).
pub(super) fn create_body(spec: &HelperSpec, memory_backed: u64) -> ContainerCreateBody {
    let mut labels = HashMap::from([(HELPER_LABEL.to_owned(), spec.purpose.clone())]);
    if let Some(journal) = &spec.journal {
        labels.insert(JOURNAL_LABEL.to_owned(), journal.clone());
    }
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: Some(spec.command.clone()),
        entrypoint: Some(Vec::new()),
        user: Some("0:0".into()),
        network_disabled: Some(true),
        labels: Some(labels),
        host_config: Some(HostConfig {
            mounts: Some(spec.mounts.iter().map(mount).collect()),
            volumes_from: spec.shares.as_ref().map(|c| vec![format!("{c}:ro")]),
            network_mode: Some("none".into()),
            pid_mode: spec
                .pid_namespace_of
                .as_ref()
                .map(|c| format!("container:{c}")),
            cap_drop: Some(vec!["ALL".into()]),
            cap_add: Some(
                spec.capabilities
                    .iter()
                    .map(|c| c.as_str().to_owned())
                    .collect(),
            ),
            security_opt: Some(vec!["no-new-privileges".into()]),
            readonly_rootfs: Some(true),
            privileged: Some(false),
            pids_limit: Some(PIDS_LIMIT),
            memory: Some(memory_limit(memory_backed)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn mount(spec: &MountSpec) -> Mount {
    let (typ, source) = match &spec.source {
        MountSource::Volume(name) => (MountType::VOLUME, name.clone()),
        MountSource::Bind(path) => (MountType::BIND, path.to_string_lossy().into_owned()),
    };
    Mount {
        target: Some(spec.target.clone()),
        source: Some(source),
        typ: Some(typ),
        read_only: Some(spec.read_only),
        ..Default::default()
    }
}

/// A unique, recognisable helper container name: `tierctl-<purpose>-<pid>-<nanos>`
/// ([`made_by`] reads the pid back).
pub(super) fn helper_name(purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("tierctl-{purpose}-{}-{nanos:09}", std::process::id())
}

/// Whether a helper container's `name` (as [`helper_name`] makes it) is of the process `pid`.
pub fn made_by(name: &str, pid: u32) -> bool {
    let Some(rest) = name.trim_start_matches('/').strip_prefix("tierctl-") else {
        return false;
    };
    let mut tail = rest.rsplitn(3, '-');
    let (Some(nanos), Some(of), Some(purpose)) = (tail.next(), tail.next(), tail.next()) else {
        return false;
    };
    !purpose.is_empty()
        && !nanos.is_empty()
        && nanos.bytes().all(|b| b.is_ascii_digit())
        && of == pid.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_has_no_network_no_privileges_and_only_the_named_capabilities() {
        let spec = HelperSpec {
            mounts: vec![
                MountSpec {
                    source: MountSource::Volume("app_db".into()),
                    target: "/from".into(),
                    read_only: true,
                },
                MountSpec {
                    source: MountSource::Bind("/tiers/fast/db".into()),
                    target: "/to".into(),
                    read_only: false,
                },
            ],
            capabilities: vec![Capability::Chown],
            journal: Some("j1".into()),
            ..HelperSpec::new("copy", "busybox", vec!["true".into()])
        };
        let body = create_body(&spec, 0);
        assert_eq!(body.network_disabled, Some(true));
        assert_eq!(body.user.as_deref(), Some("0:0"));
        let host = body.host_config.expect("host config is always set");
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(host.cap_add, Some(vec!["CHOWN".to_owned()]));
        assert_eq!(host.privileged, Some(false));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.pids_limit, Some(PIDS_LIMIT));
        assert_eq!(host.memory, Some(MEMORY_LIMIT));
        assert_eq!(host.volumes_from, None);
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_owned()])
        );
        let mounts = host.mounts.expect("mounts are always set");
        assert_eq!(mounts[0].typ, Some(MountType::VOLUME));
        assert_eq!(mounts[0].read_only, Some(true));
        assert_eq!(mounts[1].source.as_deref(), Some("/tiers/fast/db"));
        let labels = body.labels.expect("labels are always set");
        assert_eq!(labels[JOURNAL_LABEL], "j1");
        assert_eq!(labels[HELPER_LABEL], "copy");
    }

    #[test]
    fn a_helper_sharing_a_containers_mounts_gets_them_read_only_and_the_same_hardening() {
        let spec = HelperSpec {
            shares: Some("abc123".into()),
            capabilities: vec![Capability::DacReadSearch],
            ..HelperSpec::new("verify", "busybox", vec!["true".into()])
        };
        let host = create_body(&spec, 0).host_config.expect("host config");
        assert_eq!(host.volumes_from, Some(vec!["abc123:ro".to_owned()]));
        assert_eq!(host.cap_add, Some(vec!["DAC_READ_SEARCH".to_owned()]));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.pids_limit, Some(PIDS_LIMIT));
    }

    #[test]
    fn issue26_row15_a_helper_name_tells_the_pid_that_made_it() {
        let name = helper_name("probe");
        assert!(made_by(&name, std::process::id()), "{name}");
        assert!(made_by("/tierctl-probe-41-000000012", 41));
        assert!(made_by("tierctl-host-fs-41-000000012", 41));
        assert!(!made_by("tierctl-probe-41-000000012", 4));
        assert!(!made_by("tierctl-probe-141-000000012", 41));
        assert!(!made_by("tierctl-probe-41-x", 41));
        assert!(!made_by("tierctl-41-000000012", 41));
        assert!(!made_by("other-probe-41-000000012", 41));
    }

    #[test]
    fn issue26_row7_a_helper_writing_into_a_tmpfs_may_use_its_size_on_top_of_the_limit() {
        let spec = HelperSpec::new("copy", "busybox", vec!["true".into()]);
        let gib = 1024 * 1024 * 1024;
        let host = create_body(&spec, gib).host_config.expect("host config");
        assert_eq!(host.memory, Some(MEMORY_LIMIT + 1024 * 1024 * 1024));
        assert_eq!(memory_limit(u64::MAX), i64::MAX);
    }
}
