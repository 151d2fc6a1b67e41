//! The JSON contract. These DTOs are versioned: add fields, never rename or remove them
//! without raising [`VERSION`].

use serde::Serialize;

use crate::audit::{Finding, Fix, Via};
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
    /// What `tierctl rewrite` does about the mount (checks about where data lives only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<FixDto<'a>>,
}

/// A finding's fix.
#[derive(Serialize)]
pub struct FixDto<'a> {
    /// `bind-real-path`, `volume-to-bind`, `move-bind`, `left-alone` or `manual`.
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
}

fn fix_dto<'a>(fix: &'a Fix, paths: &PathStyle) -> FixDto<'a> {
    let none = FixDto {
        action: "",
        path: None,
        tier: None,
        env_line: None,
        reason: None,
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
    }
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
        fix: f.fix.as_ref().map(|fix| fix_dto(fix, paths)),
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

/// Renders any DTO as pretty JSON with a trailing newline.
fn pretty<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        format!("{{\"version\": {VERSION}, \"error\": \"cannot render: {e}\"}}")
    });
    text.push('\n');
    text
}

/// `tierctl tiers validate --format json`.
#[derive(Serialize)]
pub struct TiersValidateReport<'a> {
    /// Contract version.
    pub version: u32,
    /// The tiers.yaml checked.
    pub tiers_file: String,
    /// 0 clean, 1 warnings, 2 errors.
    pub exit_code: u8,
    /// Every check, passed ones included.
    pub checks: Vec<VerdictDto<'a>>,
}

/// One check result.
#[derive(Serialize)]
pub struct VerdictDto<'a> {
    /// Check id.
    pub check: &'static str,
    /// `ok`, `note`, `warning` or `error`.
    pub level: &'static str,
    /// The tier, when one.
    pub tier: Option<&'a str>,
    /// The path concerned.
    pub path: String,
    /// What was found.
    pub message: &'a str,
    /// What to do; `null` when nothing.
    pub hint: Option<&'a str>,
}

/// Renders `tiers validate` verdicts.
pub fn tiers_validate(file: &std::path::Path, verdicts: &[crate::layout::Verdict]) -> String {
    pretty(&TiersValidateReport {
        version: VERSION,
        tiers_file: file.display().to_string(),
        exit_code: crate::layout::exit_code(verdicts),
        checks: verdicts
            .iter()
            .map(|v| VerdictDto {
                check: v.check,
                level: v.level.as_str(),
                tier: v.tier.as_deref(),
                path: v.path.display().to_string(),
                message: &v.message,
                hint: (!v.hint.is_empty()).then_some(v.hint.as_str()),
            })
            .collect(),
    })
}

/// `tierctl tiers status --format json`.
#[derive(Serialize)]
pub struct TiersStatusReport {
    /// Contract version.
    pub version: u32,
    /// Warning threshold, percent used.
    pub warning_percent: u8,
    /// Critical threshold, percent used.
    pub critical_percent: u8,
    /// The worst alert: `ok`, `warning` or `critical`.
    pub status: &'static str,
    /// One per tier.
    pub tiers: Vec<TierStatusDto>,
}

/// One tier's usage.
#[derive(Serialize)]
pub struct TierStatusDto {
    /// Tier name.
    pub tier: String,
    /// Root directory.
    pub root: String,
    /// Kind, when declared.
    pub kind: Option<String>,
    /// `f_blocks * f_frsize`; `null` when unreadable.
    pub size_bytes: Option<u64>,
    /// `(f_blocks - f_bfree) * f_frsize`.
    pub used_bytes: Option<u64>,
    /// `f_bavail * f_frsize`.
    pub free_bytes: Option<u64>,
    /// Percent used as df shows it.
    pub used_percent: Option<u8>,
    /// `ok`, `warning` or `critical`.
    pub status: &'static str,
    /// Why the filesystem could not be read.
    pub error: Option<String>,
    /// Top-level directories, largest first; `null` with `--summary`.
    pub dirs: Option<Vec<DirUsageDto>>,
}

/// One top-level directory's usage.
#[derive(Serialize)]
pub struct DirUsageDto {
    /// Name below the root.
    pub name: String,
    /// Allocated bytes (hardlinks counted once).
    pub bytes: u64,
    /// Entries below it, itself included.
    pub entries: u64,
}

/// Renders `tiers status`.
pub fn tiers_status(status: &crate::usage::StatusReport) -> String {
    pretty(&TiersStatusReport {
        version: VERSION,
        warning_percent: status.thresholds.warning,
        critical_percent: status.thresholds.critical,
        status: status.worst().as_str(),
        tiers: status
            .tiers
            .iter()
            .map(|t| {
                let m = &t.measure;
                let fs = m.fs.as_ref().ok();
                TierStatusDto {
                    tier: m.tier.clone(),
                    root: m.root.display().to_string(),
                    kind: m.kind.clone(),
                    size_bytes: fs.map(|f| f.size_bytes),
                    used_bytes: fs.map(|f| f.used_bytes),
                    free_bytes: fs.map(|f| f.available_bytes),
                    used_percent: t.percent_used,
                    status: t.alert.as_str(),
                    error: m.fs.as_ref().err().cloned(),
                    dirs: m.dirs.as_ref().map(|dirs| {
                        dirs.iter()
                            .map(|d| DirUsageDto {
                                name: d.name.clone(),
                                bytes: d.bytes,
                                entries: d.entries,
                            })
                            .collect()
                    }),
                }
            })
            .collect(),
    })
}

/// `tierctl tiers init|link --format json`.
#[derive(Serialize)]
pub struct ActionsReport {
    /// Contract version.
    pub version: u32,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// One per directory or access point.
    pub actions: Vec<ActionDto>,
}

/// One action.
#[derive(Serialize)]
pub struct ActionDto {
    /// `create`, `fix`, `keep`, `leave`, `blocked` (init); `create`, `replace`, `keep`,
    /// `refuse` (link).
    pub action: &'static str,
    /// The directory or access point.
    pub path: String,
    /// The symlink target (link only).
    pub target: Option<String>,
    /// Details: what changes, or why not.
    pub detail: Option<String>,
}

/// Renders `tiers init` actions.
pub fn tiers_init(actions: &[crate::layout::DirAction], dry_run: bool) -> String {
    use crate::layout::DirAction;
    let dto = |action: &'static str, path: &std::path::Path, detail: Option<String>| ActionDto {
        action,
        path: path.display().to_string(),
        target: None,
        detail,
    };
    pretty(&ActionsReport {
        version: VERSION,
        dry_run,
        actions: actions
            .iter()
            .map(|a| match a {
                DirAction::Create { path, owner, mode } => dto(
                    "create",
                    path,
                    Some(format!(
                        "owner {}, mode {}",
                        owner.map_or("-".into(), |(u, g)| format!("{u}:{g}")),
                        mode.map_or("-".into(), |m| format!("{m:04o}"))
                    )),
                ),
                DirAction::Fix { path, owner, mode } => dto(
                    "fix",
                    path,
                    Some(format!(
                        "owner {}, mode {}",
                        owner.map_or("-".into(), |(_, (u, g))| format!("{u}:{g}")),
                        mode.map_or("-".into(), |(_, m)| format!("{m:04o}"))
                    )),
                ),
                DirAction::Keep { path } => dto("keep", path, None),
                DirAction::Leave { path, differs } => dto("leave", path, Some(differs.clone())),
                DirAction::Blocked { path, reason } => dto("blocked", path, Some(reason.clone())),
            })
            .collect(),
    })
}

/// Renders `tiers link` actions.
pub fn tiers_link(actions: &[crate::layout::LinkAction], dry_run: bool) -> String {
    use crate::layout::LinkAction;
    let dto =
        |action, path: &std::path::Path, target: Option<&std::path::Path>, detail| ActionDto {
            action,
            path: path.display().to_string(),
            target: target.map(|t| t.display().to_string()),
            detail,
        };
    pretty(&ActionsReport {
        version: VERSION,
        dry_run,
        actions: actions
            .iter()
            .map(|a| match a {
                LinkAction::Create { path, target } => dto("create", path, Some(target), None),
                LinkAction::Replace { path, target, old } => {
                    dto("replace", path, Some(target), Some(old.clone()))
                }
                LinkAction::Keep { path, target } => dto("keep", path, Some(target), None),
                LinkAction::Refuse { path, reason } => {
                    dto("refuse", path, None, Some(reason.clone()))
                }
            })
            .collect(),
    })
}
