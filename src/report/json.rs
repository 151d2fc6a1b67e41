//! The JSON contract. These DTOs are versioned: add fields, never rename or remove them
//! without raising [`VERSION`].

use serde::Serialize;

use crate::audit::Finding;
use crate::report::PathStyle;

/// Version of the JSON output.
pub const VERSION: u32 = 1;

/// `tierctl audit --format json`.
#[derive(Serialize)]
pub struct AuditReport<'a> {
    /// Contract version.
    pub version: u32,
    /// Project name.
    pub project: &'a str,
    /// The findings.
    pub findings: Vec<FindingDto<'a>>,
}

/// One finding.
#[derive(Serialize)]
pub struct FindingDto<'a> {
    /// Check id.
    pub check: &'static str,
    /// `info`, `warning` or `error`.
    pub severity: &'static str,
    /// Service name.
    pub service: &'a str,
    /// File, as shown to the user.
    pub file: String,
    /// 1-based line, `null` when unknown.
    pub line: Option<usize>,
    /// 1-based column, `null` when unknown.
    pub column: Option<usize>,
    /// Mount source after interpolation.
    pub source: Option<&'a str>,
    /// Mount target.
    pub target: Option<&'a str>,
    /// What is wrong.
    pub message: &'a str,
    /// What to do.
    pub hint: &'a str,
}

/// One finding as its DTO.
pub fn finding_dto<'a>(f: &'a Finding, paths: &PathStyle) -> FindingDto<'a> {
    FindingDto {
        check: f.check.id(),
        severity: f.severity.as_str(),
        service: &f.service,
        file: paths.show(&f.place.file),
        line: f.place.position.map(|p| p.line),
        column: f.place.position.map(|p| p.column),
        source: f.source.as_deref(),
        target: f.target.as_deref(),
        message: &f.message,
        hint: &f.hint,
    }
}

/// Renders audit findings as pretty JSON.
pub fn audit(project: &str, findings: &[Finding], paths: &PathStyle) -> String {
    let report = AuditReport {
        version: VERSION,
        project,
        findings: findings.iter().map(|f| finding_dto(f, paths)).collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| {
        format!("{{\"version\": {VERSION}, \"error\": \"cannot render findings: {e}\"}}")
    });
    text.push('\n');
    text
}

/// `tierctl plan|rewrite --format json`.
#[derive(Serialize)]
pub struct PlanReport<'a> {
    /// Contract version.
    pub version: u32,
    /// Project name.
    pub project: &'a str,
    /// Whether files were written.
    pub written: bool,
    /// The steps.
    pub steps: Vec<StepDto<'a>>,
    /// Changed lines per file.
    pub patches: Vec<PatchDto>,
    /// Changes the user must make by hand.
    pub manual: Vec<ManualDto<'a>>,
    /// Mounts left alone.
    pub left_alone: Vec<LeftAloneDto<'a>>,
}

/// One step.
#[derive(Serialize)]
pub struct StepDto<'a> {
    /// `bind-real-path`, `volume-to-bind` or `remove-volume-entry`.
    pub action: &'static str,
    /// Service, `null` for a top-level volume.
    pub service: Option<&'a str>,
    /// Container path.
    pub target: Option<&'a str>,
    /// Source before.
    pub old: &'a str,
    /// Source after.
    pub new: &'a str,
    /// Tier of the new source.
    pub tier: Option<&'a str>,
    /// File that is edited.
    pub file: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// Notes.
    pub notes: &'a [String],
}

/// One changed run of lines.
#[derive(Serialize)]
pub struct PatchDto {
    /// The file.
    pub file: String,
    /// 1-based first line in the old text.
    pub line: usize,
    /// Old lines.
    pub old: String,
    /// New lines.
    pub new: String,
}

/// A manual edit.
#[derive(Serialize)]
pub struct ManualDto<'a> {
    /// Service.
    pub service: &'a str,
    /// Container path.
    pub target: &'a str,
    /// What the source should be.
    pub wanted: &'a str,
    /// Why tierctl does not edit it.
    pub reason: &'a str,
    /// `file:line` of every place involved.
    pub places: Vec<String>,
}

/// A mount left alone.
#[derive(Serialize)]
pub struct LeftAloneDto<'a> {
    /// Service.
    pub service: &'a str,
    /// Container path.
    pub target: &'a str,
    /// Source.
    pub source: &'a str,
    /// Reason id.
    pub reason: &'static str,
}

/// Renders a plan (and its patches) as pretty JSON.
pub fn plan(
    project: &str,
    plan: &crate::plan::Plan,
    patched: &[crate::rewrite::Patched],
    written: bool,
    paths: &PathStyle,
) -> String {
    let show_place = |p: &crate::compose::origin::Place| match p.position {
        Some(pos) => format!("{}:{}", paths.show(&p.file), pos.line),
        None => paths.show(&p.file),
    };
    let report = PlanReport {
        version: VERSION,
        project,
        written,
        steps: plan
            .steps
            .iter()
            .map(|s| StepDto {
                action: s.action.as_str(),
                service: s.service.as_deref(),
                target: s.target.as_deref(),
                old: &s.old,
                new: &s.new,
                tier: s.tier.as_deref(),
                file: paths.show(&s.place.file),
                line: s.place.position.map(|p| p.line),
                notes: &s.notes,
            })
            .collect(),
        patches: patched
            .iter()
            .flat_map(|p| {
                crate::report::plan::line_patches(p)
                    .into_iter()
                    .map(|(line, old, new)| PatchDto {
                        file: paths.show(&p.file),
                        line,
                        old,
                        new,
                    })
            })
            .collect(),
        manual: plan
            .manual
            .iter()
            .map(|m| ManualDto {
                service: &m.service,
                target: &m.target,
                wanted: &m.wanted,
                reason: &m.reason,
                places: m.places.iter().map(show_place).collect(),
            })
            .collect(),
        left_alone: plan
            .left_alone
            .iter()
            .map(|l| LeftAloneDto {
                service: &l.service,
                target: &l.target,
                source: &l.source,
                reason: l.reason.as_str(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_else(|e| {
        format!("{{\"version\": {VERSION}, \"error\": \"cannot render the plan: {e}\"}}")
    });
    text.push('\n');
    text
}
