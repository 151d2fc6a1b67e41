//! The JSON contract: one [`VERSION`] for every command, typed DTOs (one module per command),
//! never a serde dump of an internal type. Add fields; never rename or remove one without
//! raising [`VERSION`].

pub mod audit;
pub mod migrate;
pub mod plan;
pub mod tiers;
pub mod verify;
pub mod vm;

use serde::Serialize;

use crate::report::{PathStyle, Report};

/// Version of the JSON output.
pub const VERSION: u32 = 1;

/// Renders `report` as pretty JSON; `None` for `new`, which has no JSON form.
pub fn render(report: &Report, paths: &PathStyle) -> Option<String> {
    Some(match report {
        Report::Audit(r) => pretty(&audit::audit(r, paths)),
        Report::Plan(r) => pretty(&plan::plan(r, paths)),
        Report::Vm(r) => pretty(&vm::vm(r, paths)),
        Report::Verify(r) => pretty(&verify::verify(r)),
        Report::Fleet(f) => pretty(&verify::fleet(f)),
        Report::MigratePlan(p) => pretty(&migrate::plan(p, paths)),
        Report::Migrated { outcome, rollback } => {
            pretty(&migrate::migrated(outcome, *rollback, paths))
        }
        Report::TiersValidate(r) => pretty(&tiers::validate(r)),
        Report::TiersInit(r) => pretty(&tiers::init(r)),
        Report::TiersLink(r) => pretty(&tiers::link(r)),
        Report::TiersStatus(s) => pretty(&tiers::status(s)),
        Report::Templates(_) | Report::NewProject(_) => return None,
    })
}

/// Any DTO as pretty JSON with a trailing newline.
fn pretty<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        format!("{{\"version\": {VERSION}, \"error\": \"cannot render: {e}\"}}")
    });
    text.push('\n');
    text
}
