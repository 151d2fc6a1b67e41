//! `plan` and `rewrite` for people: a step table, what is left alone or needs a manual edit,
//! and a unified diff per file (coloured on a terminal only).

use std::fmt::Write;

use tabled::settings::Style;
use tabled::{Table, Tabled};

use crate::report::reports::PlanReport;
use crate::report::{PathStyle, diff};

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "#")]
    n: usize,
    action: &'static str,
    service: String,
    target: String,
    from: String,
    to: String,
    #[tabled(rename = "written in")]
    place: String,
}

/// The plan as text, then the diffs, then `(file, backup)` of each file `rewrite --write` wrote.
pub fn plan(report: &PlanReport, paths: &PathStyle, color: bool) -> String {
    let (project, plan) = (&report.project, &report.plan);
    let mut out = super::host_header(report.host.as_ref());
    if plan.edits.is_empty() {
        let _ = writeln!(out, "{project}: nothing to rewrite");
    } else if !plan.steps.is_empty() {
        let rows = plan.steps.iter().enumerate().map(|(i, s)| Row {
            n: i + 1,
            action: s.action.as_str(),
            service: s.service.clone().unwrap_or_default(),
            target: s.target.clone().unwrap_or_default(),
            from: s.old.clone(),
            to: s.new.clone(),
            place: super::place_line(paths, &s.place),
        });
        let _ = writeln!(out, "{project}: {} step(s)", plan.steps.len());
        let _ = writeln!(out, "{}", Table::new(rows).with(Style::sharp()));
        for (i, s) in plan.steps.iter().enumerate() {
            for note in &s.notes {
                let _ = writeln!(out, "  {}: {note}", i + 1);
            }
        }
    }
    let pins: Vec<(&String, &String)> = plan
        .edits
        .iter()
        .filter_map(|e| match &e.kind {
            crate::plan::EditKind::Constraint {
                service,
                constraint,
                ..
            } => Some((service, constraint)),
            _ => None,
        })
        .collect();
    if !pins.is_empty() {
        let _ = writeln!(out, "\nSwarm placement constraints added:");
        for (service, constraint) in pins {
            let _ = writeln!(out, "  {service}: {constraint}");
        }
    }
    if !plan.manual.is_empty() {
        let _ = writeln!(out, "\nneeds a manual edit:");
        for m in &plan.manual {
            let places: Vec<String> = m
                .places
                .iter()
                .map(|p| super::place_line(paths, p))
                .collect();
            let _ = writeln!(
                out,
                "  {} {}: make the source `{}` ({}) at {}",
                m.service,
                m.target,
                m.wanted,
                m.reason,
                places.join(", ")
            );
        }
    }
    if !plan.left_alone.is_empty() {
        let _ = writeln!(out, "\nleft alone:");
        for l in &plan.left_alone {
            let _ = writeln!(
                out,
                "  {} {} ({}): {}",
                l.service, l.target, l.source, l.reason
            );
        }
    }
    for p in &report.patched {
        let _ = writeln!(out);
        out.push_str(&diff::unified(&paths.show(&p.file), p, color));
    }
    for (file, backup) in &report.written {
        let _ = writeln!(
            out,
            "wrote {} (backup {})",
            paths.show(file),
            paths.show(backup)
        );
    }
    out
}
