//! `new` for people: the template list, or what a new project got.

use std::fmt::Write as _;

use crate::report::reports::NewProjectReport;

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
pub fn project(report: &NewProjectReport) -> String {
    let (name, output, rendered) = (&report.template, &report.output, &report.rendered);
    let (actions, dry_run) = (&report.actions, report.dry_run);
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
    out.push_str(&super::tiers::init_actions(actions, dry_run));
    let _ = writeln!(out, "next:");
    let _ = writeln!(out, "  cd {}", output.display());
    let _ = writeln!(out, "  $EDITOR .env          # passwords, versions");
    let _ = writeln!(out, "  tierctl audit         # expect no findings");
    let _ = writeln!(out, "  docker compose up -d");
    out
}
