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
