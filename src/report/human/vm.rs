//! `vm` for people: the engine, the VM, its shares, each bind source's coverage, the probe
//! results, the findings and the fix.

use std::fmt::Write as _;

use crate::facts::{BindProbe, BindVerdict as Verdict, ShareOutcome, ShareProbe};
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
    if let Some(shares) = &report.share_probes {
        share_table(&mut out, shares);
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

/// One share's row of the share table.
#[derive(tabled::Tabled)]
struct ShareRow {
    #[tabled(rename = "SHARE")]
    share: String,
    #[tabled(rename = "TYPE")]
    fs_type: String,
    #[tabled(rename = "CHOWN")]
    chown: &'static str,
    #[tabled(rename = "MODE")]
    mode: &'static str,
    #[tabled(rename = "SYMLINK")]
    symlinks: &'static str,
    #[tabled(rename = "HARDLINK")]
    hardlinks: &'static str,
    #[tabled(rename = "FSYNC")]
    fsync: &'static str,
    #[tabled(rename = "HOST-LOCK")]
    locks: &'static str,
    #[tabled(rename = "MMAP")]
    mmap: &'static str,
    #[tabled(rename = "MMAP-HOST")]
    mmap_host: &'static str,
    #[tabled(rename = "HOST-INOTIFY")]
    inotify: &'static str,
    #[tabled(rename = "CASE")]
    case: &'static str,
}

/// A shared mapping's writes seen by the other side (`MMAP`: another container, `MMAP-HOST`:
/// the host).
fn coherent(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "coherent",
        Some(false) => "INCOHERENT",
        None => "-",
    }
}

fn kept(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "kept",
        Some(false) => "LOST",
        None => "-",
    }
}

/// What each share keeps, as a table (`-` = not measured), then each share's notes.
fn share_table(out: &mut String, probes: &[ShareProbe]) {
    let _ = writeln!(out, "shares probed (what a container on the engine sees):");
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for probe in probes {
        let share = probe.host.display().to_string();
        let ShareOutcome::Measured(keeps) = &probe.outcome else {
            let text = match &probe.outcome {
                ShareOutcome::Skipped { reason } => format!("skipped: {reason}"),
                ShareOutcome::Failed { message } => format!("probe failed: {message}"),
                ShareOutcome::Measured(_) => String::new(),
            };
            notes.push(format!("{share}: {text}"));
            continue;
        };
        rows.push(ShareRow {
            share: share.clone(),
            fs_type: keeps.fs_type.clone().unwrap_or_else(|| "?".into()),
            chown: kept(keeps.chown),
            mode: kept(keeps.mode),
            symlinks: kept(keeps.symlinks),
            hardlinks: kept(keeps.hardlinks),
            fsync: if keeps.fsync == Some(true) {
                "ok"
            } else {
                kept(keeps.fsync)
            },
            locks: match keeps.posix_locks_with_host {
                Some(true) => "seen",
                Some(false) => "NOT SEEN",
                None => "-",
            },
            mmap: coherent(keeps.mmap_coherence),
            mmap_host: coherent(keeps.mmap_coherence_with_host),
            inotify: match keeps.host_inotify {
                Some(true) => "events",
                Some(false) => "NONE",
                None => "-",
            },
            case: match keeps.case_sensitive {
                Some(true) => "sensitive",
                Some(false) => "INSENSITIVE",
                None => "-",
            },
        });
        notes.extend(keeps.notes.iter().map(|n| format!("{share}: {n}")));
    }
    if !rows.is_empty() {
        let mut table = String::new();
        super::write_columns(&mut table, rows);
        for line in table.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    for note in notes {
        let _ = writeln!(out, "  note: {note}");
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::facts::ShareKeeps;

    #[test]
    fn share_table_has_a_row_per_measured_share_and_notes_for_the_rest() {
        let measured = ShareProbe {
            host: PathBuf::from("/Users/me/vfs"),
            vm: PathBuf::from("/Users/me/vfs"),
            outcome: ShareOutcome::Measured(ShareKeeps {
                fs_type: Some("virtiofs".into()),
                chown: Some(false),
                mode: Some(true),
                symlinks: Some(true),
                hardlinks: Some(true),
                fsync: Some(true),
                posix_locks_with_host: Some(false),
                mmap_coherence: Some(true),
                mmap_coherence_with_host: Some(false),
                host_inotify: Some(false),
                case_sensitive: Some(true),
                notes: vec!["chown to 1234:1234 reads back as 0:0".into()],
            }),
        };
        let skipped = ShareProbe {
            host: PathBuf::from("/Volumes/ro"),
            vm: PathBuf::from("/Volumes/ro"),
            outcome: ShareOutcome::Skipped {
                reason: "read-only share: nothing can be written to measure".into(),
            },
        };
        let mut out = String::new();
        share_table(&mut out, &[measured, skipped]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "shares probed (what a container on the engine sees):"
        );
        let header: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            header,
            [
                "SHARE",
                "TYPE",
                "CHOWN",
                "MODE",
                "SYMLINK",
                "HARDLINK",
                "FSYNC",
                "HOST-LOCK",
                "MMAP",
                "MMAP-HOST",
                "HOST-INOTIFY",
                "CASE"
            ]
        );
        let row: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            row,
            [
                "/Users/me/vfs",
                "virtiofs",
                "LOST",
                "kept",
                "kept",
                "kept",
                "ok",
                "NOT",
                "SEEN",
                "coherent",
                "INCOHERENT",
                "NONE",
                "sensitive"
            ]
        );
        assert_eq!(
            &lines[3..],
            [
                "  note: /Users/me/vfs: chown to 1234:1234 reads back as 0:0",
                "  note: /Volumes/ro: skipped: read-only share: nothing can be written to measure",
            ]
        );
    }
}
