//! `verify --format json`.

use serde::Serialize;

use super::VERSION;
use crate::engine::observe::ReadVia;
use crate::report::reports::{MountResult, VerifyReport};
use crate::verify::{EngineClass, FsView, MarkerState, MountKind};

/// `tierctl verify --format json`.
#[derive(Serialize)]
pub struct VerifyDto<'a> {
    /// Contract version.
    pub version: u32,
    /// The compose project, when one was loaded.
    pub project: Option<&'a str>,
    /// `native`, `docker-desktop`, `vm` or `unknown`.
    pub engine: EngineClass,
    /// Whether every mount is `ok`.
    pub ok: bool,
    /// The containers.
    pub containers: Vec<ContainerDto<'a>>,
    /// Notes about the run.
    pub notes: &'a [String],
}

/// One container.
#[derive(Serialize)]
pub struct ContainerDto<'a> {
    /// Name.
    pub name: &'a str,
    /// Compose project label.
    pub project: Option<&'a str>,
    /// Compose service.
    pub service: Option<&'a str>,
    /// Compose replica number.
    pub number: Option<&'a str>,
    /// `exec` or `helper`.
    pub read_via: Option<ReadVia>,
    /// Its mounts.
    pub mounts: Vec<MountDto<'a>>,
    /// Notes.
    pub notes: &'a [String],
}

/// One filesystem view.
#[derive(Serialize)]
pub struct FsDto<'a> {
    /// Type.
    pub fs_type: Option<&'a str>,
    /// `major:minor`.
    pub device: Option<&'a str>,
    /// The mount's source as the kernel names it.
    pub mount_source: Option<&'a str>,
    /// `f_blocks * f_frsize`.
    pub size_bytes: Option<u64>,
    /// `(f_blocks - f_bfree) * f_frsize`.
    pub used_bytes: Option<u64>,
    /// `f_bavail * f_frsize`.
    pub available_bytes: Option<u64>,
}

/// One mount.
#[derive(Serialize)]
pub struct MountDto<'a> {
    /// Target in the container.
    pub target: &'a str,
    /// `bind` or `volume`.
    pub kind: &'static str,
    /// The volume name (volumes).
    pub volume: Option<&'a str>,
    /// The host path the engine was given (binds).
    pub source: Option<String>,
    /// The physical path when the source is reached through a symlink.
    pub real_source: Option<String>,
    /// Read-only mount.
    pub read_only: bool,
    /// What the host sees at the source.
    pub host: Option<FsDto<'a>>,
    /// What the container sees at the target.
    pub container: Option<FsDto<'a>>,
    /// `seen`, `missing` or `not-written`.
    pub marker: MarkerState,
    /// The verdict id.
    pub verdict: &'static str,
    /// Why.
    pub reasons: &'a [String],
    /// Differences that do not decide the verdict.
    pub notes: &'a [String],
}

fn fs_dto(fs: &FsView) -> FsDto<'_> {
    FsDto {
        fs_type: fs.fs_type.as_deref(),
        device: fs.device.as_deref(),
        mount_source: fs.mount_source.as_deref(),
        size_bytes: fs.size_bytes,
        used_bytes: fs.used_bytes,
        available_bytes: fs.available_bytes,
    }
}

fn mount_dto(m: &MountResult) -> MountDto<'_> {
    let o = &m.observed;
    let host = o.host.as_ref();
    MountDto {
        target: &o.target,
        kind: match o.kind {
            MountKind::Bind => "bind",
            MountKind::Volume { .. } => "volume",
        },
        volume: match &o.kind {
            MountKind::Volume { name } => Some(name),
            MountKind::Bind => None,
        },
        source: host.map(|h| h.source.display().to_string()),
        real_source: host.and_then(|h| h.real.as_ref().map(|r| r.display().to_string())),
        read_only: o.read_only,
        host: host.and_then(|h| h.fs.as_ref()).map(fs_dto),
        container: o.container.as_ref().map(fs_dto),
        marker: o.marker,
        verdict: m.check.verdict.id(),
        reasons: &m.check.reasons,
        notes: &m.check.notes,
    }
}

/// The report as its DTO.
pub fn verify(report: &VerifyReport) -> VerifyDto<'_> {
    VerifyDto {
        version: VERSION,
        project: report.project.as_deref(),
        engine: report.engine,
        ok: report.all_ok(),
        containers: report
            .containers
            .iter()
            .map(|c| ContainerDto {
                name: &c.name,
                project: c.project.as_deref(),
                service: c.service.as_deref(),
                number: c.number.as_deref(),
                read_via: c.via,
                mounts: c.mounts.iter().map(mount_dto).collect(),
                notes: &c.notes,
            })
            .collect(),
        notes: &report.notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::reports::samples;

    #[test]
    fn json_is_versioned_and_names_every_verdict() {
        let value: serde_json::Value =
            serde_json::from_str(&super::super::pretty(&verify(&samples::verify()))).expect("JSON");
        assert_eq!(value["version"], 1);
        assert_eq!(value["ok"], false);
        let mounts = &value["containers"][0]["mounts"];
        assert_eq!(mounts[0]["verdict"], "ok");
        assert_eq!(mounts[1]["verdict"], "symlinked-bind");
        assert_eq!(mounts[1]["real_source"], "/Volumes/faststore/photos");
        assert_eq!(mounts[1]["marker"], "seen");
        assert_eq!(mounts[2]["verdict"], "named-volume");
        assert_eq!(mounts[2]["volume"], "immich_db");
        assert_eq!(mounts[2]["container"]["size_bytes"], 58u64 << 30);
    }
}
