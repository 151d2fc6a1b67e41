//! `plan` and `rewrite` for people: a step table, what is left alone or needs a manual edit,
//! and a unified diff per file (coloured on a terminal only).

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};
use tabled::settings::Style;
use tabled::{Table, Tabled};

use crate::plan::Plan;
use crate::report::PathStyle;
use crate::rewrite::Patched;

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

/// The plan as text; `written` lists `(file, backup)` after `rewrite --write`.
pub fn human(
    project: &str,
    plan: &Plan,
    patched: &[Patched],
    written: &[(String, String)],
    paths: &PathStyle,
    color: bool,
) -> String {
    let mut out = String::new();
    if plan.steps.is_empty() {
        let _ = writeln!(out, "{project}: nothing to rewrite");
    } else {
        let rows = plan.steps.iter().enumerate().map(|(i, s)| Row {
            n: i + 1,
            action: s.action.as_str(),
            service: s.service.clone().unwrap_or_default(),
            target: s.target.clone().unwrap_or_default(),
            from: s.old.clone(),
            to: s.new.clone(),
            place: place(paths, &s.place),
        });
        let _ = writeln!(out, "{project}: {} step(s)", plan.steps.len());
        let _ = writeln!(out, "{}", Table::new(rows).with(Style::sharp()));
        for (i, s) in plan.steps.iter().enumerate() {
            for note in &s.notes {
                let _ = writeln!(out, "  {}: {note}", i + 1);
            }
        }
    }
    if !plan.manual.is_empty() {
        let _ = writeln!(out, "\nneeds a manual edit:");
        for m in &plan.manual {
            let places: Vec<String> = m.places.iter().map(|p| place(paths, p)).collect();
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
    for p in patched {
        let _ = writeln!(out);
        out.push_str(&diff(&paths.show(&p.file), p, color));
    }
    for (file, backup) in written {
        let _ = writeln!(out, "wrote {file} (backup {backup})");
    }
    out
}

fn place(paths: &PathStyle, p: &crate::compose::origin::Place) -> String {
    match p.position {
        Some(pos) => format!("{}:{}", paths.show(&p.file), pos.line),
        None => paths.show(&p.file),
    }
}

/// A unified diff of one file (3 lines of context).
pub fn diff(name: &str, p: &Patched, color: bool) -> String {
    let text = TextDiff::from_lines(&p.old, &p.new);
    let mut out = format!("--- {name}\n+++ {name}\n");
    for hunk in text.unified_diff().context_radius(3).iter_hunks() {
        let _ = writeln!(out, "{}", hunk.header());
        for change in hunk.iter_changes() {
            let (sign, paint) = match change.tag() {
                ChangeTag::Delete => ("-", "\x1b[31m"),
                ChangeTag::Insert => ("+", "\x1b[32m"),
                ChangeTag::Equal => (" ", ""),
            };
            let line = change.value();
            let nl = if line.ends_with('\n') {
                ""
            } else {
                "\n\\ No newline at end of file\n"
            };
            if color && !paint.is_empty() {
                let _ = write!(
                    out,
                    "{paint}{sign}{}\x1b[0m{}",
                    line.trim_end_matches('\n'),
                    if nl.is_empty() { "\n" } else { nl }
                );
            } else {
                let _ = write!(out, "{sign}{line}{nl}");
            }
        }
    }
    out
}

/// `(line, old, new)` for every changed run of lines (line is 1-based in the old text).
pub fn line_patches(p: &Patched) -> Vec<(usize, String, String)> {
    let text = TextDiff::from_lines(&p.old, &p.new);
    let mut out = Vec::new();
    for op in text.ops() {
        let (old, new) = (op.old_range(), op.new_range());
        if matches!(op.tag(), similar::DiffTag::Equal) {
            continue;
        }
        let lines = |t: &str, r: std::ops::Range<usize>| {
            t.split_inclusive('\n')
                .skip(r.start)
                .take(r.len())
                .collect::<String>()
        };
        out.push((old.start + 1, lines(&p.old, old), lines(&p.new, new)));
    }
    out
}
