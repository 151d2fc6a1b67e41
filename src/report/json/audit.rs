//! `audit --format json`, and the finding DTO `vm` shares.

use serde::Serialize;

use super::VERSION;
use crate::audit::{Finding, Fix, Via};
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
    /// What the audit could not do (added in issue 12; absent when empty).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub notes: &'a [String],
    /// The machine whose paths were looked at (added in issue 15; absent without an engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<super::HostDto<'a>>,
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
    /// What `tierctl rewrite` does about the mount (checks about where data lives only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixDto<'a>>,
}

/// A finding's fix.
#[derive(Serialize)]
pub struct FixDto<'a> {
    /// `bind-real-path`, `volume-to-bind`, `move-bind`, `left-alone`, `manual` or `pin`.
    pub action: &'static str,
    /// The new source (or the source wanted, for `manual`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The tier of the new source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<&'a str>,
    /// The env file line the new source is written on (`file:line`), when not the entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_line: Option<String>,
    /// Why the mount is left alone or must be edited by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    /// The placement constraint `rewrite --swarm` adds (`pin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<&'a str>,
}

fn fix<'a>(fix: &'a Fix, paths: &PathStyle) -> FixDto<'a> {
    let none = FixDto {
        action: "",
        path: None,
        tier: None,
        env_line: None,
        reason: None,
        constraint: None,
    };
    match fix {
        Fix::Rebind(r) => FixDto {
            action: r.action.as_str(),
            path: Some(r.path.display().to_string()),
            tier: r.tier.as_deref(),
            env_line: match &r.via {
                Via::Entry => None,
                Via::EnvLine { file, line, .. } => Some(format!("{}:{line}", paths.show(file))),
            },
            ..none
        },
        Fix::LeftAlone { reason } => FixDto {
            action: "left-alone",
            reason: Some(reason.as_str()),
            ..none
        },
        Fix::Manual { wanted, reason } => FixDto {
            action: "manual",
            path: Some(wanted.display().to_string()),
            reason: Some(reason),
            ..none
        },
        Fix::Pin { constraint } => FixDto {
            action: "pin",
            constraint: Some(constraint),
            ..none
        },
    }
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
        fix: f.fix.as_ref().map(|x| fix(x, paths)),
    }
}

/// The report as its DTO.
pub fn audit<'a>(report: &'a AuditReport, paths: &PathStyle) -> AuditDto<'a> {
    AuditDto {
        version: VERSION,
        project: &report.project,
        findings: report.findings.iter().map(|f| finding(f, paths)).collect(),
        notes: &report.notes,
        host: report.host.as_ref().map(super::host),
    }
}
