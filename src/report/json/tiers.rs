//! `tiers validate|init|link|status --format json`.

use serde::Serialize;

use super::VERSION;
use crate::report::reports::{InitReport, LinkReport, ValidateReport};

/// `tierctl tiers validate --format json`.
#[derive(Serialize)]
pub struct ValidateDto<'a> {
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

/// `tiers validate` as its DTO.
pub fn validate(report: &ValidateReport) -> ValidateDto<'_> {
    ValidateDto {
        version: VERSION,
        tiers_file: report.tiers_file.display().to_string(),
        exit_code: crate::layout::exit_code(&report.verdicts),
        checks: report
            .verdicts
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
    }
}

/// `tierctl tiers status --format json`.
#[derive(Serialize)]
pub struct StatusDto<'a> {
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
    /// The machine whose disks were measured (added in issue 15; absent without `--context`
    /// or `-H`: this machine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<super::HostDto<'a>>,
    /// The tiers whose disk is not there (`tier-not-mounted`; added in issue 12, absent when
    /// every disk is there).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_mounted: Vec<NotMountedDto<'a>>,
}

/// A tier whose disk is not there.
#[derive(Serialize)]
pub struct NotMountedDto<'a> {
    /// Tier name.
    pub tier: &'a str,
    /// Root directory.
    pub root: &'a std::path::Path,
    /// What was seen.
    pub why: &'a str,
    /// What to do about it.
    pub hint: &'a str,
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

/// `tiers status` as its DTO.
pub fn status(status: &crate::usage::StatusReport) -> StatusDto<'_> {
    StatusDto {
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
                    error: m.fs.as_ref().err().map(ToString::to_string),
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
        host: status.host.as_ref().map(super::host),
        not_mounted: status
            .not_mounted
            .iter()
            .filter_map(|t| {
                let (absence, hint) = t.absent.as_ref()?;
                Some(NotMountedDto {
                    tier: &t.tier,
                    root: &t.root,
                    why: &absence.why,
                    hint,
                })
            })
            .collect(),
    }
}

/// `tierctl tiers init|link --format json`.
#[derive(Serialize)]
pub struct ActionsDto {
    /// Contract version.
    pub version: u32,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// One per directory or access point.
    pub actions: Vec<ActionDto>,
    /// `tiers init`: one per tier root's identity marker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markers: Option<Vec<MarkerDto>>,
}

/// One tier root's identity marker (`tiers init`).
#[derive(Serialize)]
pub struct MarkerDto {
    /// The tier.
    pub tier: String,
    /// The marker file.
    pub path: String,
    /// `write` (done, or to do on a dry run), `keep`, `held-back`.
    pub action: &'static str,
    /// Why it was held back.
    pub detail: Option<String>,
}

impl ActionsDto {
    fn new(dry_run: bool, actions: Vec<ActionDto>) -> Self {
        ActionsDto {
            version: VERSION,
            dry_run,
            actions,
            markers: None,
        }
    }
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

/// `tiers init` as its DTO.
pub fn init(report: &InitReport) -> ActionsDto {
    use crate::layout::DirAction;
    let dto = |action: &'static str, path: &std::path::Path, detail: Option<String>| ActionDto {
        action,
        path: path.display().to_string(),
        target: None,
        detail,
    };
    let actions = report
        .actions
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
        .collect();
    let markers = report
        .markers
        .iter()
        .map(|m| {
            let (action, detail) = match &m.kind {
                crate::layout::MarkerKind::Write => ("write", None),
                crate::layout::MarkerKind::Keep => ("keep", None),
                crate::layout::MarkerKind::HeldBack { reason } => {
                    ("held-back", Some(reason.clone()))
                }
            };
            MarkerDto {
                tier: m.tier.clone(),
                path: m.root.join(crate::facts::MARKER_FILE).display().to_string(),
                action,
                detail,
            }
        })
        .collect();
    ActionsDto {
        markers: Some(markers),
        ..ActionsDto::new(report.dry_run, actions)
    }
}

/// `tiers link` as its DTO.
pub fn link(report: &LinkReport) -> ActionsDto {
    use crate::layout::LinkAction;
    let dto =
        |action, path: &std::path::Path, target: Option<&std::path::Path>, detail| ActionDto {
            action,
            path: path.display().to_string(),
            target: target.map(|t| t.display().to_string()),
            detail,
        };
    let actions = report
        .actions
        .iter()
        .map(|a| match a {
            LinkAction::Create { path, target } => dto("create", path, Some(target), None),
            LinkAction::Replace { path, target, old } => {
                dto("replace", path, Some(target), Some(old.clone()))
            }
            LinkAction::Keep { path, target } => dto("keep", path, Some(target), None),
            LinkAction::Refuse { path, reason } => dto("refuse", path, None, Some(reason.clone())),
        })
        .collect();
    ActionsDto::new(report.dry_run, actions)
}
