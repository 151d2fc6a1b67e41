//! `tierctl audit`.

use std::io::Write;

use super::connect::connect;
use super::{emit, load_tiers};
use crate::audit::{self, Severity};
use crate::cli::GlobalArgs;
use crate::compose::load;
use crate::engine::probe as bind_probe;
use crate::error::{Error, exit};
use crate::probe::{self, DiskFiles};
use crate::report::reports::AuditReport;
use crate::report::{self, Report};
use crate::settings::{Environment, Settings};
use crate::tierfs;

/// `tierctl audit`.
pub(super) fn audit(
    settings: &Settings,
    global: &GlobalArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let tiers = load_tiers(settings)?;
    let project = load::load(&settings.load, &DiskFiles)?;
    let mut facts = probe::paths(audit::host_paths(&project));
    facts.tiers = tierfs::presences(&tiers);
    // The VM checks need a reachable engine; without one (or with --offline) they are skipped,
    // and without one a note says so.
    // compose's warnings about the file (unset variables) first
    let mut notes: Vec<String> = project
        .unset_variables
        .iter()
        .map(|u| u.message())
        .collect();
    let connected = if settings.offline {
        None
    } else {
        connect(global, env)
            .map_err(|e| {
                notes.push(format!(
                    "VM checks skipped: the engine does not answer ({e})"
                ))
            })
            .ok()
    };
    // `stranded-data` needs the project's volumes that still hold data
    if let Some(engine) = connected.as_ref().and_then(|c| c.engine.as_ref()) {
        let image = env
            .vars
            .iter()
            .find(|(k, v)| k == "TIERCTL_HELPER_IMAGE" && !v.is_empty())
            .map_or(bind_probe::DEFAULT_HELPER_IMAGE, |(_, v)| v.as_str());
        if let Err(e) = crate::stranded::observe(&project, &mut facts, engine, image) {
            notes.push(format!("stranded-data check skipped: {e}"));
        }
    }
    let mut findings = audit::audit(&audit::Context {
        project: &project,
        tiers: &tiers,
        facts: &facts,
    });
    if let Some(connected) = connected {
        findings.extend(audit::audit_vm(&project, &facts, &connected.view));
        findings.sort_by(|a, b| {
            (&a.place.file, a.place.position, a.check.id()).cmp(&(
                &b.place.file,
                b.place.position,
                b.check.id(),
            ))
        });
    }
    let serious = findings.iter().any(|f| f.severity >= Severity::Warning);
    let audited = AuditReport {
        project: project.name.clone(),
        findings,
        notes,
    };
    emit(settings, &Report::Audit(&audited), out)?;
    Ok(if serious { exit::FINDINGS } else { exit::CLEAN })
}

/// `tierctl mounts`.
pub(super) fn mounts(settings: &Settings, out: &mut dyn Write) -> Result<u8, Error> {
    let tiers = load_tiers(settings)?;
    let project = super::load_project(settings)?;
    let facts = probe::paths(audit::host_paths(&project));
    let report = report::MountsReport {
        mounts: crate::mounts::views(&project, &tiers, &facts),
        project: project.name,
    };
    emit(settings, &Report::Mounts(&report), out)?;
    Ok(exit::CLEAN)
}
