//! `audit --format json`, and the finding DTO `vm` shares.

use serde::Serialize;

use super::VERSION;
use crate::audit::Finding;
use crate::report::PathStyle;
use crate::report::reports::AuditReport;

/// `tierctl audit --format json`.
#[derive(Serialize)]
pub struct AuditDto<'a> {
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
pub fn finding<'a>(f: &'a Finding, paths: &PathStyle) -> FindingDto<'a> {
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

/// The report as its DTO.
pub fn audit<'a>(report: &'a AuditReport, paths: &PathStyle) -> AuditDto<'a> {
    AuditDto {
        version: VERSION,
        project: &report.project,
        findings: report.findings.iter().map(|f| finding(f, paths)).collect(),
    }
}
