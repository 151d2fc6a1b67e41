//! `tiers validate|init|link|status` for people.

use std::fmt::Write as _;

use super::plural;
use crate::layout::{MarkerAction, MarkerKind};
use crate::report::reports::{InitReport, LinkReport, ValidateReport};

/// `tiers validate`: one line per verdict (`level  check  message`, a `hint:` line under a
/// problem), passed checks only when `verbose`, then a summary line.
pub fn validate(report: &ValidateReport) -> String {
    use crate::layout::Level;
    let (verdicts, verbose) = (&report.verdicts, report.verbose);
    let shown: Vec<_> = verdicts
        .iter()
        .filter(|v| verbose || v.level != Level::Ok)
        .collect();
    let width = shown.iter().map(|v| v.check.len()).max().unwrap_or(0);
    let mut out = String::new();
    for v in &shown {
        let _ = writeln!(
            out,
            "{:<7}  {:<width$}  {}",
            v.level.as_str(),
            v.check,
            v.message
        );
        if !v.hint.is_empty() {
            let _ = writeln!(out, "{:<7}  {:<width$}  hint: {}", "", "", v.hint);
        }
    }
    let count = |level: Level| verdicts.iter().filter(|v| v.level == level).count();
    let (errors, warnings, notes, ok) = (
        count(Level::Error),
        count(Level::Warning),
        count(Level::Note),
        count(Level::Ok),
    );
    let _ = writeln!(
        out,
        "tiers: {ok} check{} passed, {errors} error{}, {warnings} warning{}, {notes} note{}",
        plural(ok),
        plural(errors),
        plural(warnings),
        plural(notes)
    );
    out
}

/// `tiers init`: what was done (or would be, with `dry_run`) to each directory.
pub fn init(report: &InitReport) -> String {
    let mut out = dir_lines(&report.actions, report.dry_run);
    for marker in &report.markers {
        let _ = writeln!(out, "{}", marker_line(marker, report.dry_run));
    }
    let count = |kind: fn(&MarkerAction) -> bool| report.markers.iter().filter(|m| kind(m)).count();
    let written = count(|m| m.kind == MarkerKind::Write);
    let held = count(MarkerAction::held_back);
    let mut tail = String::new();
    if written > 0 {
        let verb = if report.dry_run {
            "to write"
        } else {
            "written"
        };
        tail.push_str(&format!(", {written} marker{} {verb}", plural(written)));
    }
    if held > 0 {
        tail.push_str(&format!(", {held} marker{} held back", plural(held)));
    }
    out.push_str(&init_summary(&report.actions, report.dry_run, &tail));
    out
}

/// One tier root's marker: written (or would be), kept, or held back and why.
fn marker_line(marker: &MarkerAction, dry_run: bool) -> String {
    let file = marker.root.join(crate::facts::MARKER_FILE);
    match &marker.kind {
        MarkerKind::Write => format!(
            "{}  {} (tier `{}`)",
            if dry_run { "would mark" } else { "marked" },
            file.display(),
            marker.tier
        ),
        MarkerKind::Keep => format!("ok  {} (tier `{}`)", file.display(), marker.tier),
        MarkerKind::HeldBack { reason } => format!(
            "held back  marker of tier `{}` at {}: {reason}",
            marker.tier,
            marker.root.display()
        ),
    }
}

/// The lines of `tiers init` (also the tail of `new`).
pub(super) fn init_actions(actions: &[crate::layout::DirAction], dry_run: bool) -> String {
    let mut out = dir_lines(actions, dry_run);
    out.push_str(&init_summary(actions, dry_run, ""));
    out
}

/// `tiers init: N changes` and `tail` (what was done about the markers).
fn init_summary(actions: &[crate::layout::DirAction], dry_run: bool, tail: &str) -> String {
    let changes = actions.iter().filter(|a| a.changes()).count();
    format!(
        "tiers init: {changes} change{}{tail}{}\n",
        plural(changes),
        if dry_run {
            " (dry run, nothing changed)"
        } else {
            ""
        }
    )
}

/// One line per directory: what was done (or would be).
fn dir_lines(actions: &[crate::layout::DirAction], dry_run: bool) -> String {
    use crate::layout::DirAction;
    let mut out = String::new();
    let owner_mode = |owner: &Option<(u32, u32)>, mode: &Option<u32>| {
        let mut parts = Vec::new();
        if let Some((uid, gid)) = owner {
            parts.push(format!("owner {uid}:{gid}"));
        }
        if let Some(mode) = mode {
            parts.push(format!("mode {mode:04o}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    };
    for action in actions {
        let line = match action {
            DirAction::Create { path, owner, mode } => format!(
                "{}  {}{}",
                if dry_run { "would create" } else { "created" },
                path.display(),
                owner_mode(owner, mode)
            ),
            DirAction::Fix { path, owner, mode } => {
                let mut parts = Vec::new();
                if let Some(((fu, fg), (tu, tg))) = owner {
                    parts.push(format!("owner {fu}:{fg} -> {tu}:{tg}"));
                }
                if let Some((from, to)) = mode {
                    parts.push(format!("mode {from:04o} -> {to:04o}"));
                }
                format!(
                    "{}  {} ({})",
                    if dry_run { "would fix" } else { "fixed" },
                    path.display(),
                    parts.join(", ")
                )
            }
            DirAction::Keep { path } => format!("ok  {}", path.display()),
            DirAction::Leave { path, differs } => format!(
                "left  {} holds data ({differs}); use --fix-permissions to change it",
                path.display()
            ),
            DirAction::Blocked { path, reason } => {
                format!("blocked  {}: {reason}", path.display())
            }
        };
        let _ = writeln!(out, "{line}");
    }
    out
}

/// `tiers link`: what was done (or would be) to each access point.
pub fn link(report: &LinkReport) -> String {
    use crate::layout::LinkAction;
    let (actions, dry_run) = (&report.actions, report.dry_run);
    let mut out = String::new();
    let verb = |done: &'static str, would: &'static str| if dry_run { would } else { done };
    for action in actions {
        let line = match action {
            LinkAction::Create { path, target } => format!(
                "{}  {} -> {}",
                verb("linked", "would link"),
                path.display(),
                target.display()
            ),
            LinkAction::Replace { path, target, old } => format!(
                "{}  {} -> {} (was {old})",
                verb("relinked", "would relink"),
                path.display(),
                target.display()
            ),
            LinkAction::Keep { path, target } => {
                format!("ok  {} -> {}", path.display(), target.display())
            }
            LinkAction::Refuse { path, reason } => {
                format!("refused  {}: {reason}", path.display())
            }
        };
        let _ = writeln!(out, "{line}");
    }
    if actions.is_empty() {
        let _ = writeln!(out, "tiers link: no access points in tiers.yaml");
    }
    out
}

/// `tiers status`: one block per tier (size, used, free, percent, alert), its top-level
/// directories under it, then the thresholds.
pub fn status(status: &crate::usage::StatusReport) -> String {
    use crate::usage::human_bytes;
    let mut out = String::new();
    let name_width = status
        .tiers
        .iter()
        .map(|t| t.measure.tier.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<name_width$}  {:>6}  {:>6}  {:>6}  {:>4}  {:<8}  ROOT",
        "TIER", "SIZE", "USED", "FREE", "USE%", "STATUS"
    );
    for tier in &status.tiers {
        let m = &tier.measure;
        match (&m.fs, tier.percent_used) {
            (Ok(fs), Some(percent)) => {
                let _ = writeln!(
                    out,
                    "{:<name_width$}  {:>6}  {:>6}  {:>6}  {:>3}%  {:<8}  {}",
                    m.tier,
                    human_bytes(fs.size_bytes),
                    human_bytes(fs.used_bytes),
                    human_bytes(fs.available_bytes),
                    percent,
                    tier.alert.as_str(),
                    m.root.display()
                );
            }
            _ => {
                let message =
                    m.fs.as_ref()
                        .err()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<name_width$}  {:>6}  {:>6}  {:>6}  {:>4}  {:<8}  {} ({message})",
                    m.tier,
                    "-",
                    "-",
                    "-",
                    "-",
                    tier.alert.as_str(),
                    m.root.display()
                );
            }
        }
        for dir in m.dirs.iter().flatten() {
            let _ = writeln!(
                out,
                "{:<name_width$}  {:>6}  {:>9} entr{}  {}",
                "",
                human_bytes(dir.bytes),
                dir.entries,
                if dir.entries == 1 { "y  " } else { "ies" },
                dir.name
            );
        }
    }
    let _ = writeln!(
        out,
        "thresholds: warning {}%, critical {}%; overall {}",
        status.thresholds.warning,
        status.thresholds.critical,
        status.worst().as_str()
    );
    out
}
