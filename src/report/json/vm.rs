//! `vm --format json`.

use std::borrow::Cow;

use serde::Serialize;

use super::VERSION;
use super::audit::{FindingDto, finding};
use crate::facts::{BindProbe, ShareKeeps, ShareOutcome, ShareProbe};
use crate::report::PathStyle;
use crate::report::reports::{BindRow, VmReport, engine_label};
use crate::share::{Coverage, VmShares};

/// `tierctl vm --format json`.
#[derive(Serialize)]
pub struct VmDto<'a> {
    /// Contract version.
    pub version: u32,
    /// Project name.
    pub project: &'a str,
    /// The endpoint.
    pub endpoint: EndpointDto<'a>,
    /// The engine.
    pub engine: EngineDto<'a>,
    /// The VM, `null` for native, remote and unknown engines.
    pub vm: Option<VmSharesDto<'a>>,
    /// Each bind source.
    pub binds: Vec<BindDto>,
    /// The findings.
    pub findings: Vec<FindingDto<'a>>,
    /// The exact fix, `null` when nothing to fix.
    pub fix: Option<&'a str>,
    /// Probe results, `null` without `--probe`.
    pub probes: Option<&'a [BindProbe]>,
    /// Notes.
    pub notes: &'a [String],
    /// The machine the bind sources are on (added in issue 15).
    pub host: super::HostDto<'a>,
    /// What each VM share keeps, measured by `--probe` (added in issue 22); `null` without
    /// `--probe` or when the VM's shares are unknown.
    pub share_probes: Option<Vec<ShareProbeDto<'a>>>,
}

/// One VM share, probed: each capability `true` (kept), `false` (measured: lost) or `null`
/// (not measured; `notes` says why).
#[derive(Serialize)]
pub struct ShareProbeDto<'a> {
    /// The share's host directory.
    pub host: String,
    /// Where the VM sees it.
    pub vm: String,
    /// `measured`, `skipped` or `failed`.
    pub outcome: &'static str,
    /// Why it was skipped or failed; `null` when measured.
    pub message: Option<&'a str>,
    /// What the share keeps, its fields inline (`fs_type`, `chown`, `mode`, `symlinks`,
    /// `hardlinks`, `fsync`, `posix_locks_with_host`, `mmap_coherence`,
    /// `mmap_coherence_with_host`, `host_inotify`,
    /// `case_sensitive`, `notes`): each capability `null` and no notes when not measured.
    #[serde(flatten)]
    pub keeps: Cow<'a, ShareKeeps>,
}

/// The endpoint.
#[derive(Serialize)]
pub struct EndpointDto<'a> {
    /// Context name.
    pub context: &'a str,
    /// Host URL.
    pub host: &'a str,
    /// Where it came from.
    pub source: &'a str,
}

/// The engine.
#[derive(Serialize)]
pub struct EngineDto<'a> {
    /// Short name.
    pub name: String,
    /// `docker info` `Name`, `null` when offline.
    pub hostname: Option<&'a str>,
    /// `docker info` `OperatingSystem`.
    pub operating_system: Option<&'a str>,
    /// `docker info` `ServerVersion`.
    pub server_version: Option<&'a str>,
    /// Negotiated API version.
    pub api_version: Option<&'a str>,
}

/// The VM and its shares.
#[derive(Serialize)]
pub struct VmSharesDto<'a> {
    /// Engine name.
    pub engine: String,
    /// Instance, profile or machine.
    pub instance: Option<&'a str>,
    /// Files read.
    pub source_files: Vec<String>,
    /// Shares.
    pub shares: Vec<ShareDto>,
    /// Notes (defaults applied, config changed but VM not restarted).
    pub notes: &'a [String],
}

/// One share.
#[derive(Serialize)]
pub struct ShareDto {
    /// Host directory.
    pub host: String,
    /// Where the VM sees it.
    pub vm: String,
    /// Writable.
    pub writable: bool,
    /// Mount type.
    pub mount_type: Option<String>,
}

/// One bind source.
#[derive(Serialize)]
pub struct BindDto {
    /// As compose passes it.
    pub source: String,
    /// After symlink resolution.
    pub real: Option<String>,
    /// `native`, `shared`, `not-shared`, `unknown`.
    pub coverage: &'static str,
    /// Shared writable.
    pub writable: Option<bool>,
    /// Shared at the same path.
    pub same_path: bool,
    /// The share's mount type.
    pub mount_type: Option<String>,
}

/// The report as its DTO.
pub fn vm<'a>(report: &'a VmReport, paths: &PathStyle) -> VmDto<'a> {
    VmDto {
        version: VERSION,
        project: &report.project,
        endpoint: EndpointDto {
            context: &report.context,
            host: &report.host,
            source: &report.endpoint_source,
        },
        engine: EngineDto {
            name: engine_label(&report.engine),
            hostname: report.info.as_ref().map(|i| i.name.as_str()),
            operating_system: report.info.as_ref().map(|i| i.operating_system.as_str()),
            server_version: report.info.as_ref().map(|i| i.server_version.as_str()),
            api_version: report.info.as_ref().map(|i| i.api_version.as_str()),
        },
        vm: report.vm.as_ref().map(shares),
        binds: report.binds.iter().map(bind).collect(),
        findings: report.findings.iter().map(|f| finding(f, paths)).collect(),
        fix: report.fix.as_deref(),
        probes: report.probes.as_deref(),
        host: super::host(&report.machine),
        notes: &report.notes,
        share_probes: report
            .share_probes
            .as_ref()
            .map(|p| p.iter().map(share_probe).collect()),
    }
}

/// One probed share.
fn share_probe(probe: &ShareProbe) -> ShareProbeDto<'_> {
    let (outcome, message, keeps) = match &probe.outcome {
        ShareOutcome::Measured(keeps) => ("measured", None, Some(keeps)),
        ShareOutcome::Skipped { reason } => ("skipped", Some(reason.as_str()), None),
        ShareOutcome::Failed { message } => ("failed", Some(message.as_str()), None),
    };
    ShareProbeDto {
        host: probe.host.display().to_string(),
        vm: probe.vm.display().to_string(),
        outcome,
        message,
        keeps: keeps.map_or_else(|| Cow::Owned(ShareKeeps::default()), Cow::Borrowed),
    }
}

/// The VM and its shares.
fn shares(vm: &VmShares) -> VmSharesDto<'_> {
    VmSharesDto {
        engine: vm.engine.to_string(),
        instance: vm.instance.as_deref(),
        source_files: vm
            .source_files
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        shares: vm
            .shares
            .iter()
            .map(|s| ShareDto {
                host: s.host.display().to_string(),
                vm: s.vm.display().to_string(),
                writable: s.writable,
                mount_type: s.mount_type.clone(),
            })
            .collect(),
        notes: &vm.notes,
    }
}

/// One bind source and how the engine sees it.
fn bind(row: &BindRow) -> BindDto {
    let real = row.real.as_deref().unwrap_or(&row.source);
    let (coverage, writable, mount_type) = match &row.coverage {
        Coverage::Native => ("native", Some(true), None),
        Coverage::Shared { share, .. } => {
            ("shared", Some(share.writable), share.mount_type.clone())
        }
        Coverage::NotShared => ("not-shared", None, None),
        Coverage::Unknown => ("unknown", None, None),
    };
    BindDto {
        source: row.source.display().to_string(),
        real: row.real.as_ref().map(|p| p.display().to_string()),
        coverage,
        writable,
        same_path: row.coverage.same_path(real),
        mount_type,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;

    #[test]
    fn a_share_probe_is_one_object_with_every_capability_or_null() {
        let measured = ShareProbe {
            host: PathBuf::from("/h/sshfs"),
            vm: PathBuf::from("/v/sshfs"),
            outcome: ShareOutcome::Measured(ShareKeeps {
                fs_type: Some("fuse.sshfs".into()),
                chown: Some(true),
                hardlinks: Some(false),
                notes: vec!["n".into()],
                ..ShareKeeps::default()
            }),
        };
        // the contract's field order, as the DTO listed them before it took the fact inline
        assert_eq!(
            serde_json::to_string(&share_probe(&measured)).expect("serialises"),
            r#"{"host":"/h/sshfs","vm":"/v/sshfs","outcome":"measured","message":null,"fs_type":"fuse.sshfs","chown":true,"mode":null,"symlinks":null,"hardlinks":false,"fsync":null,"posix_locks_with_host":null,"mmap_coherence":null,"mmap_coherence_with_host":null,"host_inotify":null,"case_sensitive":null,"notes":["n"]}"#
        );
        assert_eq!(
            serde_json::to_value(share_probe(&measured)).expect("serialises"),
            json!({
                "host": "/h/sshfs", "vm": "/v/sshfs", "outcome": "measured", "message": null,
                "fs_type": "fuse.sshfs", "chown": true, "mode": null, "symlinks": null,
                "hardlinks": false, "fsync": null, "posix_locks_with_host": null,
                "mmap_coherence": null, "mmap_coherence_with_host": null, "host_inotify": null, "case_sensitive": null,
                "notes": ["n"],
            })
        );
        let failed = ShareProbe {
            outcome: ShareOutcome::Failed {
                message: "boom".into(),
            },
            ..measured
        };
        let value = serde_json::to_value(share_probe(&failed)).expect("serialises");
        assert_eq!(value["outcome"], "failed");
        assert_eq!(value["message"], "boom");
        assert_eq!(value["chown"], serde_json::Value::Null);
        assert_eq!(value["notes"], json!([]));
    }
}
