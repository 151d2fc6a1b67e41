//! `verify`: does every running container see the host tier? Pure comparison of what a
//! container sees at each mount target with what the host sees at the mount source.
//!
//! The engine layer (`engine::observe`) fills [`MountObservation`]s; this module decides a
//! [`Verdict`] per mount and cross-checks the containers with the compose model. No I/O here.

use std::path::PathBuf;

use serde::Serialize;

use crate::compose::model::{ComposeProject, MountId, MountType};
use crate::facts::is_system_path;

/// How the engine relates to the host, as far as comparing filesystems goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineClass {
    /// dockerd on this Linux host: the container sees the host's own filesystems (same type,
    /// same device numbers).
    Native,
    /// Docker Desktop: a VM share whose size is the macOS root volume's for every `/Volumes`
    /// path.
    DockerDesktop,
    /// Any other VM engine (Colima, Lima, Rancher Desktop, OrbStack, Podman machine): a VM share
    /// type is expected at a bind target.
    Vm,
    /// Remote or unknown: only the marker file and sizes decide.
    Unknown,
}

impl EngineClass {
    /// Whether the engine runs in a VM (the VM's own disk is not a tier).
    pub fn is_vm(self) -> bool {
        matches!(self, EngineClass::DockerDesktop | EngineClass::Vm)
    }
}

/// Filesystem types a VM engine uses to share host directories with its VM.
pub const SHARE_TYPES: &[&str] = &[
    "virtiofs",
    "fuse.sshfs",
    "sshfs",
    "9p",
    "fakeowner",
    "grpcfuse",
    "fuse.grpcfuse",
    "osxfs",
    "fuse.osxfs",
    "nfs",
    "nfs4",
    "fuse",
    "virtfs",
];

/// What a mount is, from container inspect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MountKind {
    /// A bind mount of a host path.
    Bind,
    /// A named (or anonymous) volume.
    Volume {
        /// The volume's name on the engine.
        name: String,
    },
}

/// A filesystem as one side sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsView {
    /// Filesystem type (`ext4`, `tmpfs`, `virtiofs`); `None` when it could not be read.
    pub fs_type: Option<String>,
    /// Device: `major:minor` (host: of `st_dev`; container: of the mountinfo entry).
    pub device: Option<String>,
    /// The mount source as the kernel names it (`/dev/vda1`, `mount0`); container side only.
    pub mount_source: Option<String>,
    /// `f_blocks * f_frsize`.
    pub size_bytes: Option<u64>,
    /// `(f_blocks - f_bfree) * f_frsize`.
    pub used_bytes: Option<u64>,
    /// `f_bavail * f_frsize`.
    pub available_bytes: Option<u64>,
    /// Container side only: the mount point of a later mount above the target that covers the
    /// target's own bind (`/data` over `/data/thumbs`), whose filesystem the container sees there.
    pub covered_by: Option<String>,
}

/// Whether the marker file written in the host directory was seen inside the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkerState {
    /// Seen: the container looks at the host directory.
    Seen,
    /// Written on the host and not visible in the container.
    Missing,
    /// Not written: a named volume, a file bind, or a directory tierctl may not write to.
    NotWritten,
    /// Not written: the bind source is on the engine's host, another machine, where tierctl
    /// writes nothing.
    OtherHost,
}

/// The host's side of a bind source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSource {
    /// The source as the engine was given it (container inspect).
    pub source: PathBuf,
    /// The physical path, when a symlink was followed to reach it.
    pub real: Option<PathBuf>,
    /// Whether the source exists on the host.
    pub exists: bool,
    /// The filesystem holding it (`None` when missing or unreadable).
    pub fs: Option<FsView>,
}

/// Everything observed about one mount of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountObservation {
    /// Bind or volume.
    pub kind: MountKind,
    /// The path inside the container.
    pub target: String,
    /// Read-only mount.
    pub read_only: bool,
    /// The host side (binds only).
    pub host: Option<HostSource>,
    /// What the container sees at the target (`None` when it could not be read).
    pub container: Option<FsView>,
    /// The marker file.
    pub marker: MarkerState,
}

/// The verdict ids (stable; used in output, JSON and docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The container sees the host tier.
    Ok,
    /// Different size or device.
    DfMismatch,
    /// A disk or overlay filesystem where a VM share (or the host's type) is expected.
    MountTypeMismatch,
    /// The marker file written on the host is not visible: the container does not look at the
    /// host directory at all.
    MarkerMissing,
    /// The data lives in a Docker volume, not on a tier.
    NamedVolume,
    /// The bind source is reached through a symlink.
    SymlinkedBind,
    /// A nested bind mount covered by a later mount of a directory above it: the container
    /// sees that mount's filesystem at the target, not the bind's.
    BindHidden,
    /// On a native engine: the marker is not seen and the container's mount is on another
    /// device than the host's source: a disk was mounted at or above the source after the
    /// container started (dockerd restarting it at boot before a late disk), so it uses the
    /// directory hidden below the mount point.
    StaleBind,
}

impl Verdict {
    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::DfMismatch => "df-mismatch",
            Verdict::MountTypeMismatch => "mount-type-mismatch",
            Verdict::MarkerMissing => "marker-missing",
            Verdict::NamedVolume => "named-volume",
            Verdict::SymlinkedBind => "symlinked-bind",
            Verdict::BindHidden => "bind-hidden",
            Verdict::StaleBind => "stale-bind",
        }
    }
}

/// The conclusion for one mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountCheck {
    /// The verdict: the most serious problem found.
    pub verdict: Verdict,
    /// Why (every problem found, most serious first); empty for `ok`.
    pub reasons: Vec<String>,
    /// Differences that do not decide the verdict (a VM share's own type, Docker Desktop sizes).
    pub notes: Vec<String>,
}

/// Sizes within this many parts per thousand are the same (block accounting, `df -P` KiB
/// rounding).
const SIZE_TOLERANCE_PER_MILLE: u64 = 10;

/// Whether two sizes are the same filesystem's size.
pub fn same_size(a: u64, b: u64) -> bool {
    let (small, large) = if a <= b { (a, b) } else { (b, a) };
    let slack = large / 1000 * SIZE_TOLERANCE_PER_MILLE;
    large - small <= slack.max(1 << 20)
}

/// Whether `fs_type` is a disk or overlay filesystem: what a container sees when the engine
/// bound a directory of the VM's own disk.
fn is_vm_disk_type(fs_type: &str) -> bool {
    !SHARE_TYPES.contains(&fs_type) && !fs_type.starts_with("fuse.")
}

/// Decide the verdict for one mount.
pub fn check(mount: &MountObservation, engine: EngineClass) -> MountCheck {
    if let MountKind::Volume { name } = &mount.kind {
        return named_volume(name, engine);
    }
    if let Some(h) = mount.host.as_ref().filter(|h| is_system_path(&h.source)) {
        return MountCheck {
            verdict: Verdict::Ok,
            reasons: Vec::new(),
            notes: vec![format!(
                "`{}` is a system path (the engine's own file): not checked",
                h.source.display()
            )],
        };
    }
    let mut found = Found::default();
    found.marker(mount);
    found.fs_type(mount, engine);
    found.size_and_device(mount, engine);
    found.symlink(mount);
    found.hidden(mount);
    if mount.container.is_none() {
        found
            .notes
            .push("the container's view could not be read".into());
    }
    if mount.host.as_ref().is_some_and(|h| h.exists) {
        match mount.marker {
            MarkerState::NotWritten => found
                .notes
                .push("no marker file (a file bind or a directory tierctl may not write)".into()),
            MarkerState::OtherHost => found.notes.push(
                "no marker file (the source is on the engine's host, where tierctl writes nothing)"
                    .into(),
            ),
            MarkerState::Seen | MarkerState::Missing => {}
        }
    }
    found.into_check()
}

/// A named volume's data is on the engine's disk, not on a tier.
fn named_volume(name: &str, engine: EngineClass) -> MountCheck {
    let place = if engine.is_vm() {
        "the engine's VM disk"
    } else {
        "the engine's data root"
    };
    MountCheck {
        verdict: Verdict::NamedVolume,
        reasons: vec![format!(
            "data in the Docker volume `{name}` on {place}, not on a tier"
        )],
        notes: Vec::new(),
    }
}

/// What the steps of [`check`] found so far: problems (each with its verdict) and notes, in
/// the order the steps ran.
#[derive(Default)]
struct Found {
    problems: Vec<(Verdict, String)>,
    notes: Vec<String>,
}

impl Found {
    fn problem(&mut self, verdict: Verdict, text: String) {
        self.problems.push((verdict, text));
    }

    /// The source is missing on the host, or the marker file is not visible in the container.
    fn marker(&mut self, mount: &MountObservation) {
        match (mount.host.as_ref(), mount.marker) {
            (Some(h), _) if !h.exists => self.problem(
                Verdict::MarkerMissing,
                format!(
                    "`{}` does not exist on the host: the engine binds a directory of its own",
                    h.source.display()
                ),
            ),
            (_, MarkerState::Missing) => self.problem(
                Verdict::MarkerMissing,
                "marker file written on the host is not visible in the container".into(),
            ),
            _ => {}
        }
    }

    /// The container's filesystem type against the host's (native) or a VM share type.
    fn fs_type(&mut self, mount: &MountObservation, engine: EngineClass) {
        let host_type = mount
            .host
            .as_ref()
            .and_then(|h| h.fs.as_ref())
            .and_then(|f| f.fs_type.as_deref());
        let Some(seen) = mount.container.as_ref().and_then(|c| c.fs_type.as_deref()) else {
            return;
        };
        let expected = match engine {
            EngineClass::Native => host_type.map(|h| h == seen),
            EngineClass::DockerDesktop | EngineClass::Vm => Some(!is_vm_disk_type(seen)),
            EngineClass::Unknown => None,
        };
        match (expected, host_type) {
            (Some(false), Some(h)) if engine == EngineClass::Native => self.problem(
                Verdict::MountTypeMismatch,
                format!("filesystem type: host `{h}`, container `{seen}`"),
            ),
            (Some(false), _) => self.problem(
                Verdict::MountTypeMismatch,
                format!("the container sees `{seen}` where a VM share type is expected"),
            ),
            (_, Some(h)) if h != seen => self.notes.push(format!(
                "filesystem type: host `{h}`, container `{seen}` (a VM share)"
            )),
            _ => {}
        }
    }

    /// Sizes (and, on a native engine, devices) of the host's and the container's filesystem.
    fn size_and_device(&mut self, mount: &MountObservation, engine: EngineClass) {
        let marker_seen = mount.marker == MarkerState::Seen;
        let (Some(h), Some(c)) = (
            mount.host.as_ref().and_then(|h| h.fs.as_ref()),
            mount.container.as_ref(),
        ) else {
            return;
        };
        if let (Some(hs), Some(cs)) = (h.size_bytes, c.size_bytes)
            && !same_size(hs, cs)
        {
            let text = format!(
                "size: host {} ({hs} bytes), container {} ({cs} bytes)",
                crate::usage::human_bytes(hs),
                crate::usage::human_bytes(cs)
            );
            if engine == EngineClass::DockerDesktop && marker_seen {
                self.notes.push(format!(
                    "{text}: Docker Desktop reports the macOS root volume's size for its shares; the marker file proves the container sees the host directory"
                ));
            } else {
                self.problem(Verdict::DfMismatch, text);
            }
        }
        if engine == EngineClass::Native
            && let (Some(hd), Some(cd)) = (&h.device, &c.device)
            && hd != cd
        {
            let text = format!("device: host {hd}, container {cd}");
            if marker_seen {
                self.notes.push(text);
            } else if mount.marker == MarkerState::Missing {
                self.problem(Verdict::DfMismatch, text);
                self.stale(mount, hd, cd);
            } else {
                self.problem(Verdict::DfMismatch, text);
            }
        }
    }

    /// The marker is missing and the devices differ on a native engine: the container holds a
    /// directory a mount has covered since it started.
    fn stale(&mut self, mount: &MountObservation, host_device: &str, container_device: &str) {
        let Some(h) = mount.host.as_ref().filter(|h| h.exists) else {
            return;
        };
        if mount
            .container
            .as_ref()
            .is_some_and(|c| c.covered_by.is_some())
        {
            // `bind-hidden` explains the other device: a mount inside the container covers it
            return;
        }
        self.problem(
            Verdict::StaleBind,
            format!(
                "the container's `{}` is on device {container_device}, the host's `{}` on {host_device}, and the marker is not seen: a disk was mounted at or above `{}` after the container started (dockerd restarts containers at boot, before a disk that mounts late), so the container uses the directory below the mount point, which the host no longer sees (or the engine sees another filesystem at this path than tierctl does); recreate it once the disk is mounted (`docker compose up -d --force-recreate`), after saving what it wrote there, and make Docker wait for the disk (systemd: `RequiresMountsFor=` in a docker.service drop-in)",
                mount.target,
                h.source.display(),
                h.source.display()
            ),
        );
    }

    /// A later mount above the target covers the bind (issue 25: a nested bind that shows its
    /// parent's filesystem).
    fn hidden(&mut self, mount: &MountObservation) {
        if let Some(above) = mount.container.as_ref().and_then(|c| c.covered_by.as_ref()) {
            self.problem(
                Verdict::BindHidden,
                format!(
                    "the container sees the filesystem mounted at `{above}` at `{}`: a later mount of `{above}` covers this bind",
                    mount.target
                ),
            );
        }
    }

    /// The bind source is a symlink.
    fn symlink(&mut self, mount: &MountObservation) {
        if let Some(h) = mount.host.as_ref()
            && let Some(real) = h.real.as_ref()
        {
            self.problem(
                Verdict::SymlinkedBind,
                format!(
                    "`{}` is a symlink to `{}`: bind the real path",
                    h.source.display(),
                    real.display()
                ),
            );
        }
    }

    /// The most serious problem decides the verdict; every problem is a reason.
    fn into_check(mut self) -> MountCheck {
        self.problems
            .sort_by_key(|(v, _)| std::cmp::Reverse(severity(*v)));
        MountCheck {
            verdict: self.problems.first().map_or(Verdict::Ok, |(v, _)| *v),
            reasons: self.problems.into_iter().map(|(_, r)| r).collect(),
            notes: self.notes,
        }
    }
}

/// Which verdict wins when several apply.
fn severity(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Ok => 0,
        Verdict::SymlinkedBind => 1,
        Verdict::DfMismatch => 2,
        Verdict::MountTypeMismatch => 3,
        Verdict::NamedVolume => 4,
        Verdict::MarkerMissing => 5,
        Verdict::BindHidden => 6,
        Verdict::StaleBind => 7,
    }
}

/// One container's mount as the compose cross-check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningMount {
    /// Bind or volume.
    pub kind: MountKind,
    /// Source: the host path (bind) or the volume name.
    pub source: String,
    /// Target in the container.
    pub target: String,
}

/// The engine boundary: a container's mount as the engine returns it (inspect: the compose
/// service label and the mount's destination) named by the mount it is among `declared`
/// (each a service, a target and its [`MountId`]; the project's mounts, or a migrate plan's
/// expected mounts). This is the one place tierctl joins mounts on (service, target): the
/// engine knows no `MountId`, and every comparison after it is by `MountId`.
pub fn identify<'a>(
    declared: impl IntoIterator<Item = (&'a str, &'a str, MountId)>,
    service: &str,
    target: &str,
) -> Option<MountId> {
    declared
        .into_iter()
        .find(|(s, t, _)| *s == service && crate::compose::target::same(t, target))
        .map(|(_, _, id)| id)
}

/// Each of a container's `running` mounts named by the mount of `service` it is
/// ([`identify`]); `None`: the compose files do not declare it (an image `VOLUME`), or the
/// service is not in them.
pub fn identify_running(
    project: &ComposeProject,
    service: &str,
    running: &[RunningMount],
) -> Vec<Option<MountId>> {
    let declared = project.services.get(service).map(|s| s.mounts.as_slice());
    let declared = declared.unwrap_or_default();
    running
        .iter()
        .map(|r| {
            let of_service = declared.iter().map(|m| (service, m.target.as_str(), m.id));
            identify(of_service, service, &r.target)
        })
        .collect()
}

/// Cross-check a running service's mounts with the compose model: what the compose files
/// declare but the container lacks (or has from another source), and what the container has
/// that the files do not declare. Returns notes.
pub fn cross_check(
    project: &ComposeProject,
    service: &str,
    running: &[RunningMount],
) -> Vec<String> {
    let Some(declared) = project.services.get(service) else {
        return vec![format!(
            "service `{service}` is not in the compose files (a container of an older version of the project?)"
        )];
    };
    let ids = identify_running(project, service, running);
    let identified: Vec<(Option<MountId>, &RunningMount)> = ids.into_iter().zip(running).collect();
    let mut notes = Vec::new();
    for mount in &declared.mounts {
        let found = identified
            .iter()
            .find(|(id, _)| *id == Some(mount.id))
            .map(|(_, r)| *r);
        let wanted = match (mount.kind, &mount.host_path, &mount.source) {
            (MountType::Bind, Some(path), _) => Some(path.display().to_string()),
            (MountType::Volume, _, Some(key)) => Some(volume_name(project, mount, key)),
            _ => None,
        };
        match (found, wanted) {
            (None, _) if matches!(mount.kind, MountType::Bind | MountType::Volume) => {
                notes.push(format!(
                    "{service}: the compose files mount `{}` but the running container does not: recreate it (`docker compose up -d {service}`)",
                    mount.target
                ));
            }
            (Some(r), Some(wanted)) if r.source != wanted => notes.push(format!(
                "{service}: `{}` comes from `{}` in the running container but from `{wanted}` in the compose files: recreate it (`docker compose up -d {service}`)",
                mount.target, r.source
            )),
            _ => {}
        }
    }
    for (_, r) in identified.iter().filter(|(id, _)| id.is_none()) {
        notes.push(format!(
            "{service}: `{}` is mounted in the container but not declared in the compose files (an image VOLUME?)",
            r.target
        ));
    }
    notes
}

/// The engine's name of a compose volume: `name:` when set, the key for an external volume,
/// else `{project}_{key}`.
fn volume_name(
    project: &ComposeProject,
    mount: &crate::compose::model::VolumeMount,
    key: &str,
) -> String {
    match project.volume_for(mount) {
        Some(v) => match (&v.name, v.external) {
            (Some(name), _) => name.clone(),
            (None, true) => key.to_owned(),
            (None, false) => format!("{}_{key}", project.name),
        },
        None => format!("{}_{key}", project.name),
    }
}

/// Whether any verdict is not `ok`.
pub fn any_mismatch<'a>(checks: impl IntoIterator<Item = &'a MountCheck>) -> bool {
    checks.into_iter().any(|c| c.verdict != Verdict::Ok)
}

/// How the container's view was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadVia {
    /// `docker exec` in the container (`stat -f` or `df -P`, `/proc/self/mountinfo`).
    Exec,
    /// A helper container given the same mounts (the image has no shell, `stat` or `df`).
    Helper,
}

#[cfg(test)]
mod tests;
