//! `audit` for people: `file:line:col  check-id  message`, aligned, with a hint line under each.

use std::fmt::Write as _;

use super::plural;
use crate::audit::{Check, Severity};
use crate::report::PathStyle;
use crate::report::reports::AuditReport;

/// Renders audit findings for a terminal or a log; readable without colour.
pub fn audit(report: &AuditReport, paths: &PathStyle, color: bool) -> String {
    let (project, findings) = (&report.project, &report.findings);
    let mut out = super::host_header(report.host.as_ref());
    let places: Vec<String> = findings
        .iter()
        .map(|f| super::place_column(paths, &f.place))
        .collect();
    let place_width = places.iter().map(|p| p.chars().count()).max().unwrap_or(0);
    let check_width = findings
        .iter()
        .map(|f| f.check.id().len())
        .max()
        .unwrap_or(0);
    for (finding, place) in findings.iter().zip(&places) {
        let check = finding.check.id();
        let painted = paint(check, finding.severity, color);
        let pad = check_width - check.len();
        let _ = writeln!(
            out,
            "{place:<place_width$}  {painted}{:pad$}  {}",
            "",
            super::one_line(&paths.show_in(&finding.message))
        );
        // `relative-bind` says to write an absolute path: its example stays absolute
        let hint = match finding.check {
            Check::RelativeBind => finding.hint.clone(),
            _ => paths.show_in(&finding.hint),
        };
        let _ = writeln!(
            out,
            "{:place_width$}  {:check_width$}  hint: {}",
            "",
            "",
            super::one_line(&hint)
        );
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings, infos) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
    for note in &report.notes {
        let _ = writeln!(out, "note: {}", super::one_line(&paths.show_in(note)));
    }
    if findings.is_empty() {
        let _ = writeln!(out, "project {project}: no storage problems found");
    } else {
        let _ = writeln!(
            out,
            "project {project}: {} finding{} ({errors} error{}, {warnings} warning{}, {infos} info)",
            findings.len(),
            plural(findings.len()),
            plural(errors),
            plural(warnings),
        );
    }
    out
}

fn paint(text: &str, severity: Severity, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match severity {
        Severity::Error => "31",
        Severity::Warning => "33",
        Severity::Info => "36",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
