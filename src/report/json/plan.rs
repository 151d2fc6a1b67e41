//! `plan|rewrite --format json`.

use serde::Serialize;

use super::VERSION;
use crate::report::reports::PlanReport;
use crate::report::{PathStyle, diff};

/// `tierctl plan|rewrite --format json`.
#[derive(Serialize)]
pub struct PlanDto<'a> {
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
    /// The machine whose paths were placed (`--context`/`-H`; absent without either).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<super::HostDto<'a>>,
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

/// The report as its DTO.
pub fn plan<'a>(report: &'a PlanReport, paths: &PathStyle) -> PlanDto<'a> {
    let plan = &report.plan;
    let show_place = |p: &crate::compose::origin::Place| match p.position {
        Some(pos) => format!("{}:{}", paths.show(&p.file), pos.line),
        None => paths.show(&p.file),
    };
    PlanDto {
        version: VERSION,
        project: &report.project,
        host: report.host.as_ref().map(super::host),
        written: !report.written.is_empty(),
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
        patches: report
            .patched
            .iter()
            .flat_map(|p| {
                diff::line_patches(p)
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
    }
}
