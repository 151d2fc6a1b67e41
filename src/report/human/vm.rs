//! `vm` for people: the engine, the VM, its shares, each bind source's coverage, the probe
//! results, the findings and the fix.

use std::fmt::Write as _;

use crate::facts::{BindProbe, BindVerdict as Verdict};
use crate::report::PathStyle;
use crate::report::reports::{BindRow, VmReport, engine_label};
use crate::share::{Coverage, VmShares};

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

/// The engine, the VM and its shares, each bind, the probes, the findings, the fix.
pub fn vm(report: &VmReport, paths: &PathStyle) -> String {
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
        shares(&mut out, vm);
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
        probe_lines(&mut out, probes);
    }
    for finding in &report.findings {
        let place = super::place_column(paths, &finding.place);
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

/// The VM, the files read, its shares and notes.
fn shares(out: &mut String, vm: &VmShares) {
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

/// What each probe found.
fn probe_lines(out: &mut String, probes: &[BindProbe]) {
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
