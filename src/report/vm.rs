//! `tierctl vm`: the engine, the VM, its shares, each bind source's coverage, findings, the fix
//! and the probe results; human text and the versioned JSON DTO.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::audit::Finding;
use crate::engine::EngineInfo;
use crate::engine::endpoint::EngineGuess;
use crate::engine::probe::{BindProbe, Verdict};
use crate::report::PathStyle;
use crate::report::json::VERSION;
use crate::vm::VmShares;
use crate::vm::view::Coverage;

/// Everything `tierctl vm` found, as plain data.
#[derive(Debug, Clone)]
pub struct VmReport {
    /// The compose project's name.
    pub project: String,
    /// The docker context.
    pub context: String,
    /// The endpoint's host URL.
    pub host: String,
    /// Where the endpoint came from.
    pub endpoint_source: String,
    /// The engine, as identified.
    pub engine: EngineGuess,
    /// `docker info`, when the engine was asked.
    pub info: Option<EngineInfo>,
    /// The VM's shares, for VM engines.
    pub vm: Option<VmShares>,
    /// Each bind source and how the engine sees it.
    pub binds: Vec<BindRow>,
    /// `vm-share-missing`, `vm-share-readonly`, `db-on-vm-share`.
    pub findings: Vec<Finding>,
    /// The exact fix, when the VM must share more.
    pub fix: Option<String>,
    /// Probe results (`--probe`).
    pub probes: Option<Vec<BindProbe>>,
    /// Notes (offline, probe skipped).
    pub notes: Vec<String>,
}

/// One bind source.
#[derive(Debug, Clone)]
pub struct BindRow {
    /// The source as compose passes it.
    pub source: PathBuf,
    /// After symlink resolution.
    pub real: Option<PathBuf>,
    /// How the engine sees it.
    pub coverage: Coverage,
}

/// A short name for the engine.
pub fn engine_label(engine: &EngineGuess) -> String {
    match engine {
        EngineGuess::Native => "native Linux engine (no VM)".into(),
        EngineGuess::Colima { profile } => format!("Colima (profile `{profile}`)"),
        EngineGuess::DockerDesktop => "Docker Desktop".into(),
        EngineGuess::OrbStack => "OrbStack".into(),
        EngineGuess::RancherDesktop => "Rancher Desktop".into(),
        EngineGuess::Lima { instance } => format!("Lima (instance `{instance}`)"),
        EngineGuess::Podman { machine } => match machine {
            Some(m) => format!("Podman machine `{m}`"),
            None => "Podman".into(),
        },
        EngineGuess::Remote => "remote engine (shares unknown)".into(),
        EngineGuess::Unknown => "unknown engine (shares unknown)".into(),
    }
}

fn coverage_text(row: &BindRow) -> String {
    let real = row.real.as_deref().unwrap_or(&row.source);
    match &row.coverage {
        Coverage::Native => "seen as is (native engine)".into(),
        Coverage::Shared { share, vm_path } => {
            let mode = if share.writable {
                "writable"
            } else {
                "read-only"
            };
            let kind = share.mount_type.as_deref().unwrap_or("share");
            if vm_path.as_path() == real {
                format!("shared, {mode}, {kind} (share `{}`)", share.host.display())
            } else {
                format!(
                    "shared at another path `{}`, {mode}, {kind}",
                    vm_path.display()
                )
            }
        }
        Coverage::NotShared => "NOT SHARED with the VM".into(),
        Coverage::Unknown => "unknown (the engine's shares cannot be read)".into(),
    }
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Same => "same filesystem, marker seen".into(),
        Verdict::Different { reasons } => format!("MISMATCH: {}", reasons.join("; ")),
        Verdict::MissingInEngine { message } => {
            format!("MISSING in the engine (nothing created): {message}")
        }
        Verdict::MissingOnHost => "missing on the host (no helper run, nothing created)".into(),
        Verdict::Failed { message } => format!("probe failed: {message}"),
    }
}

/// Human output.
pub fn human(report: &VmReport, paths: &PathStyle) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "engine:   {} via context `{}` ({}) at {}",
        engine_label(&report.engine),
        report.context,
        report.endpoint_source,
        report.host
    );
    if let Some(info) = &report.info {
        let _ = writeln!(
            out,
            "          {} on {} `{}`, server {}, API {}",
            info.os_type, info.operating_system, info.name, info.server_version, info.api_version
        );
    }
    if let Some(vm) = &report.vm {
        let instance = vm
            .instance
            .as_deref()
            .map(|i| format!(" `{i}`"))
            .unwrap_or_default();
        let _ = writeln!(out, "vm:       {}{instance}", vm.engine);
        for file in &vm.source_files {
            let _ = writeln!(out, "          read {}", file.display());
        }
        let _ = writeln!(out, "shares:");
        if vm.shares.is_empty() {
            let _ = writeln!(out, "  (none)");
        }
        for share in &vm.shares {
            let _ = writeln!(
                out,
                "  {} -> {}  {}  {}",
                share.host.display(),
                share.vm.display(),
                if share.writable {
                    "writable"
                } else {
                    "read-only"
                },
                share.mount_type.as_deref().unwrap_or("-")
            );
        }
        for note in &vm.notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
    let _ = writeln!(out, "binds of project {}:", report.project);
    if report.binds.is_empty() {
        let _ = writeln!(out, "  (no bind mounts)");
    }
    for row in &report.binds {
        let via = match &row.real {
            Some(real) if *real != row.source => format!(" -> {}", real.display()),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {}{via}: {}",
            row.source.display(),
            coverage_text(row)
        );
    }
    if let Some(probes) = &report.probes {
        let _ = writeln!(out, "probe:");
        for probe in probes {
            let _ = writeln!(
                out,
                "  {}: {}",
                probe.source.display(),
                verdict_text(&probe.verdict)
            );
            if let (Some(host), Some(c)) = (&probe.host, &probe.container) {
                let _ = writeln!(
                    out,
                    "    host {} {} bytes; container {} {} bytes",
                    host.fs_type,
                    host.size_bytes,
                    c.fs_type.as_deref().unwrap_or("?"),
                    c.size_bytes
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "?".into())
                );
            }
            for note in &probe.notes {
                let _ = writeln!(out, "    note: {note}");
            }
        }
    }
    for finding in &report.findings {
        let place = match finding.place.position {
            Some(p) => format!(
                "{}:{}:{}",
                paths.show(&finding.place.file),
                p.line,
                p.column
            ),
            None => paths.show(&finding.place.file),
        };
        let _ = writeln!(out, "{place}  {}  {}", finding.check.id(), finding.message);
        let _ = writeln!(out, "  hint: {}", finding.hint);
    }
    if let Some(fix) = &report.fix {
        let _ = writeln!(out, "fix:\n{}", fix.trim_end());
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// `tierctl vm --format json`.
#[derive(Serialize)]
pub struct VmReportDto<'a> {
    /// Contract version.
    pub version: u32,
    /// Project name.
    pub project: &'a str,
    /// The endpoint.
    pub endpoint: EndpointDto<'a>,
    /// The engine.
    pub engine: EngineDto<'a>,
    /// The VM, `null` for native, remote and unknown engines.
    pub vm: Option<VmDto<'a>>,
    /// Each bind source.
    pub binds: Vec<BindDto>,
    /// The findings.
    pub findings: Vec<super::json::FindingDto<'a>>,
    /// The exact fix, `null` when nothing to fix.
    pub fix: Option<&'a str>,
    /// Probe results, `null` without `--probe`.
    pub probes: Option<&'a [BindProbe]>,
    /// Notes.
    pub notes: &'a [String],
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
pub struct VmDto<'a> {
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

/// JSON output.
pub fn json(report: &VmReport, paths: &PathStyle) -> String {
    let dto = VmReportDto {
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
        vm: report.vm.as_ref().map(|vm| VmDto {
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
        }),
        binds: report
            .binds
            .iter()
            .map(|row| {
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
            })
            .collect(),
        findings: report
            .findings
            .iter()
            .map(|f| super::json::finding_dto(f, paths))
            .collect(),
        fix: report.fix.as_deref(),
        probes: report.probes.as_deref(),
        notes: &report.notes,
    };
    let mut text = serde_json::to_string_pretty(&dto).unwrap_or_else(|e| {
        format!("{{\"version\": {VERSION}, \"error\": \"cannot render the vm report: {e}\"}}")
    });
    text.push('\n');
    text
}
