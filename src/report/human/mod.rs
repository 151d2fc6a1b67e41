//! Text for people: aligned, readable without colour; one file per command.

mod audit;
mod check;
mod migrate;
mod mounts;
pub(crate) mod mover;
mod new;
mod nodes;
mod plan;
mod tiers;
mod verify;
mod vm;

use crate::compose::origin::Place;
use crate::report::{PathStyle, Report};

/// Renders `report` as text; `color` paints severities and diffs.
pub fn render(report: &Report, paths: &PathStyle, color: bool) -> String {
    match report {
        Report::Audit(r) => audit::audit(r, paths, color),
        Report::Mounts(r) => mounts::mounts(r, paths),
        Report::Plan(r) => plan::plan(r, paths, color),
        Report::Vm(r) => host_header(Some(&r.machine)) + &vm::vm(r, paths),
        Report::Verify(r) => host_header(r.host.as_ref()) + &verify::verify(r),
        Report::Fleet(f) => verify::fleet(f),
        Report::MigratePlan(p) => migrate::plan(p),
        Report::Migrated { outcome, rollback } => migrate::migrated(outcome, *rollback, paths),
        Report::Check(r) => check::check(r, paths),
        Report::TiersValidate(r) => tiers::validate(r),
        Report::TiersNodes(r) => nodes::nodes(r),
        Report::NodeDisks(r) => nodes::disks(r),
        Report::TiersInit(r) => tiers::init(r),
        Report::TiersLink(r) => tiers::link(r),
        Report::TiersStatus(s) => host_header(s.host.as_ref()) + &tiers::status(s),
        Report::TiersMove(r) => mover::moved(r),
        Report::TiersPool(r) => mover::pools(r),
        Report::Templates(t) => new::templates(t),
        Report::NewProject(r) => new::project(r),
    }
}

/// `file:line:col` (or the file alone when the position is unknown).
fn place_column(paths: &PathStyle, place: &Place) -> String {
    match place.position {
        Some(p) => format!("{}:{}:{}", paths.show(&place.file), p.line, p.column),
        None => paths.show(&place.file),
    }
}

/// `file:line` (or the file alone when the position is unknown).
fn place_line(paths: &PathStyle, place: &Place) -> String {
    match place.position {
        Some(p) => format!("{}:{}", paths.show(&place.file), p.line),
        None => paths.show(&place.file),
    }
}

/// `text` kept on one line: a newline (or carriage return, tab) in a path is escaped as `\n`
/// (`\r`, `\t`) and a backslash as `\\`, so every finding stays `place  check  message`.
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// `rows` as a borderless table, columns two spaces apart, no trailing blanks on a line.
fn write_columns<R: tabled::Tabled>(out: &mut String, rows: Vec<R>) {
    use std::fmt::Write as _;
    use tabled::Table;
    use tabled::settings::{Padding, Style};
    let table = Table::new(rows)
        .with(Style::blank())
        .with(Padding::new(0, 2, 0, 0))
        .to_string();
    for line in table.lines() {
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The first line of a command's output when it knows which machine it describes.
fn host_header(host: Option<&crate::host::Host>) -> String {
    host.map(|h| format!("{}\n", h.line())).unwrap_or_default()
}
