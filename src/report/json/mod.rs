//! The JSON contract: one [`VERSION`] for every command, typed DTOs (one module per command),
//! never a serde dump of an internal type. Add fields; never rename or remove one without
//! raising [`VERSION`].

pub mod audit;
pub mod check;
pub mod migrate;
pub mod mounts;
pub mod mover;
pub mod nodes;
pub mod plan;
pub mod tiers;
pub mod verify;
pub mod vm;

use serde::Serialize;

use crate::report::{PathStyle, Report};

/// The machine a command describes (`crate::host::Host`), in every command's JSON as `host`.
#[derive(Serialize)]
pub struct HostDto<'a> {
    /// The docker context (`default` for `-H`, `DOCKER_HOST` or the default socket).
    pub context: &'a str,
    /// The endpoint URL.
    pub endpoint: &'a str,
    /// Whether it is another machine than the one tierctl ran on.
    pub remote: bool,
    /// `docker info`'s `Name`, when the engine was asked.
    pub name: Option<&'a str>,
    /// What decided: `context-mark`, `local-socket`, `marker-seen`, `marker-not-seen`,
    /// `offline`.
    pub rule: crate::host::Rule,
}

/// The host as its DTO.
pub fn host(host: &crate::host::Host) -> HostDto<'_> {
    HostDto {
        context: &host.context,
        endpoint: &host.endpoint,
        remote: host.remote,
        name: host.name.as_deref(),
        rule: host.rule,
    }
}

/// Version of the JSON output.
pub const VERSION: u32 = 1;

/// Renders `report` as pretty JSON; `None` for `new`, which has no JSON form.
pub fn render(report: &Report, paths: &PathStyle) -> Option<String> {
    Some(match report {
        Report::Audit(r) => pretty(&audit::audit(r, paths)),
        Report::Mounts(r) => pretty(&mounts::mounts(r, paths)),
        Report::Plan(r) => pretty(&plan::plan(r, paths)),
        Report::Vm(r) => pretty(&vm::vm(r, paths)),
        Report::Verify(r) => pretty(&verify::verify(r)),
        Report::Fleet(f) => pretty(&verify::fleet(f)),
        Report::MigratePlan(p) => pretty(&migrate::plan(p, paths)),
        Report::Migrated { outcome, rollback } => {
            pretty(&migrate::migrated(outcome, *rollback, paths))
        }
        Report::Check(r) => pretty(&check::check(r, paths)),
        Report::TiersValidate(r) => pretty(&tiers::validate(r)),
        Report::TiersNodes(r) => pretty(&nodes::nodes(r)),
        Report::NodeDisks(r) => pretty(&nodes::disks(r)),
        Report::TiersInit(r) => pretty(&tiers::init(r)),
        Report::TiersLink(r) => pretty(&tiers::link(r)),
        Report::TiersStatus(s) => pretty(&tiers::status(s)),
        Report::TiersMove(r) => pretty(&mover::moved(r)),
        Report::TiersPool(r) => pretty(&mover::pools(r)),
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
