//! `new` for people: the template list, or what a new project got.

use std::fmt::Write as _;

use crate::report::reports::NewProjectReport;
use crate::template::FileAction;

/// `new --list`: the templates.
pub fn templates(templates: &[crate::template::ComposeTemplate]) -> String {
    let width = templates.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for t in templates {
        let _ = writeln!(out, "{:<width$}  {}", t.name, t.about);
    }
    out
}

/// What happened to each project file: `wrote` (created), `kept` (identical to the render) and
/// `replaced` (`--force`, with its backup).
fn files(report: &NewProjectReport) -> String {
    let (name, project) = (&report.template, &report.rendered.project);
    let list = |action: FileAction| -> Vec<String> {
        report
            .files
            .iter()
            .filter(|f| f.action == action)
            .map(|f| f.path.display().to_string())
            .collect()
    };
    let mut out = String::new();
    let about = format!("(template {name}, project {project})");
    let created = list(FileAction::Create);
    if !created.is_empty() {
        let _ = writeln!(out, "wrote  {}  {about}", created.join(", "));
    }
    let kept = list(FileAction::Keep);
    if !kept.is_empty() {
        let _ = writeln!(
            out,
            "kept   {}  (identical to what the template renders) {about}",
            kept.join(", ")
        );
    }
    for f in report
        .files
        .iter()
        .filter(|f| f.action == FileAction::Replace)
    {
        let backup = f
            .backup
            .as_ref()
            .map(|b| format!("backup {}", b.display()))
            .unwrap_or_default();
        let _ = writeln!(out, "replaced  {}  ({backup}) {about}", f.path.display());
    }
    out
}

/// `new TEMPLATE`: the files written, the directories created, and the next commands.
pub fn project(report: &NewProjectReport) -> String {
    let (output, rendered) = (&report.output, &report.rendered);
    let (actions, dry_run) = (&report.actions, report.dry_run);
    let mut out = String::new();
    if dry_run {
        let _ = writeln!(out, "# {}/compose.yaml", output.display());
        out.push_str(&rendered.compose);
        let _ = writeln!(out, "# {}/.env", output.display());
        out.push_str(&rendered.env);
    } else {
        out.push_str(&files(report));
    }
    out.push_str(&super::tiers::init_actions(actions, dry_run));
    let _ = writeln!(out, "next:");
    let _ = writeln!(out, "  cd {}", output.display());
    let _ = writeln!(out, "  $EDITOR .env          # passwords, versions");
    let _ = writeln!(out, "  tierctl audit         # expect no findings");
    let _ = writeln!(out, "  docker compose up -d");
    out
}
