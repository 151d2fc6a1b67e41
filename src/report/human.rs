//! Human output: `file:line:col  check-id  message`, aligned, with a hint line under each.

use std::fmt::Write as _;

use crate::audit::{Finding, Severity};
use crate::report::PathStyle;

/// Renders audit findings for a terminal or a log; readable without colour.
pub fn audit(project: &str, findings: &[Finding], paths: &PathStyle, color: bool) -> String {
    let mut out = String::new();
    let places: Vec<String> = findings
        .iter()
        .map(|f| match f.place.position {
            Some(p) => format!("{}:{}:{}", paths.show(&f.place.file), p.line, p.column),
            None => paths.show(&f.place.file),
        })
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
            "", finding.message
        );
        let _ = writeln!(
            out,
            "{:place_width$}  {:check_width$}  hint: {}",
            "", "", finding.hint
        );
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings, infos) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
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

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
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

/// `tiers validate`: one line per verdict (`level  check  message`, a `hint:` line under a
/// problem), passed checks only when `verbose`, then a summary line.
pub fn tiers_validate(verdicts: &[crate::layout::Verdict], verbose: bool) -> String {
    use crate::layout::Level;
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
pub fn tiers_init(actions: &[crate::layout::DirAction], dry_run: bool) -> String {
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
    let changes = actions.iter().filter(|a| a.changes()).count();
    let _ = writeln!(
        out,
        "tiers init: {changes} change{}{}",
        plural(changes),
        if dry_run {
            " (dry run, nothing changed)"
        } else {
            ""
        }
    );
    out
}

/// `tiers link`: what was done (or would be) to each access point.
pub fn tiers_link(actions: &[crate::layout::LinkAction], dry_run: bool) -> String {
    use crate::layout::LinkAction;
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
pub fn tiers_status(status: &crate::usage::StatusReport) -> String {
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
                let message = m.fs.as_ref().err().map_or("", String::as_str);
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

/// `new --list`: the templates.
pub fn templates(templates: &[crate::template::ComposeTemplate]) -> String {
    let width = templates.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for t in templates {
        let _ = writeln!(out, "{:<width$}  {}", t.name, t.about);
    }
    out
}

/// `new TEMPLATE`: the files written, the directories created, and the next commands.
pub fn new_project(
    name: &str,
    output: &std::path::Path,
    rendered: &crate::template::Rendered,
    actions: &[crate::layout::DirAction],
    dry_run: bool,
) -> String {
    let mut out = String::new();
    if dry_run {
        let _ = writeln!(out, "# {}/compose.yaml", output.display());
        out.push_str(&rendered.compose);
        let _ = writeln!(out, "# {}/.env", output.display());
        out.push_str(&rendered.env);
    } else {
        let _ = writeln!(
            out,
            "wrote  {}/compose.yaml, {}/.env  (template {name}, project {})",
            output.display(),
            output.display(),
            rendered.project
        );
    }
    out.push_str(&tiers_init(actions, dry_run));
    let _ = writeln!(out, "next:");
    let _ = writeln!(out, "  cd {}", output.display());
    let _ = writeln!(out, "  $EDITOR .env          # passwords, versions");
    let _ = writeln!(out, "  tierctl audit         # expect no findings");
    let _ = writeln!(out, "  docker compose up -d");
    out
}
