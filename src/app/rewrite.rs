//! `tierctl rewrite`.

use std::io::Write;

use super::audit::{path_facts, path_host};
use super::connect::helper_image;
use super::{emit, load_tiers_on};
use crate::audit::{self};
use crate::cli::GlobalArgs;
use crate::engine::docker::DockerEngine;
use crate::engine::probe as bind_probe;
use crate::error::{Error, exit};
use crate::probe::DiskFiles;
use crate::report::Report;
use crate::report::reports::PlanReport;
use crate::settings::{Environment, Settings};
use crate::stranded::NoEngine;

/// What `plan` / `rewrite` do.
pub(super) struct RewriteMode {
    pub(super) write: bool,
    pub(super) strict_binds: bool,
    pub(super) force: bool,
    pub(super) helper_image: Option<String>,
    /// Add the Swarm placement constraints (`--swarm`).
    pub(super) swarm: bool,
}

impl RewriteMode {
    pub(super) fn dry(strict_binds: bool) -> RewriteMode {
        RewriteMode {
            write: false,
            strict_binds,
            force: false,
            helper_image: None,
            swarm: false,
        }
    }
}

/// `tierctl plan` and `tierctl rewrite [--write]`: placement by the tier map of the context
/// `--context`/`-H` name, on the paths of its host (`audit::path_host`).
pub(super) fn rewrite(
    settings: &Settings,
    mode: &RewriteMode,
    (global, env): (&GlobalArgs, &Environment),
    engine: &dyn Fn() -> Result<DockerEngine, NoEngine>,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let (write, strict_binds) = (mode.write, mode.strict_binds);
    let on = path_host(settings, global, env)?;
    let tiers = load_tiers_on(settings, on.as_ref().map(|p| &p.host))?;
    let project = super::load_project(settings)?;
    let _lock = write.then(|| crate::lock::project(&project)).transpose()?;
    let image = mode
        .helper_image
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| helper_image(env));
    let facts = path_facts(&project, on.as_ref(), &image)?;
    let mut plan = crate::plan::plan(&crate::plan::Input {
        project: &project,
        tiers: &tiers,
        facts: &facts,
        strict_binds,
        mode: audit::Mode::Rewrite,
    });
    if mode.swarm {
        let (_, nodes) = super::swarm::manager(global, env)?;
        let ctx = audit::Context {
            project: &project,
            tiers: &tiers,
            facts: &facts,
        };
        plan.edits.extend(crate::plan::pins(
            &project,
            &audit::audit_swarm(&ctx, &nodes),
        ));
    }
    let patched = crate::rewrite::patch(&plan, &project)?;
    crate::rewrite::check_reload(&plan, &project, &settings.load, &DiskFiles, &patched)?;
    let mut written = Vec::new();
    if write && !patched.is_empty() {
        let image = mode.helper_image.as_deref().filter(|i| !i.is_empty());
        let image = image.unwrap_or(bind_probe::DEFAULT_HELPER_IMAGE);
        for note in crate::stranded::check(&project, &plan, engine, image, mode.force)? {
            eprintln!("note: {note}");
        }
        let files: Vec<crate::write::FileWrite> = patched
            .iter()
            .map(|p| crate::write::FileWrite {
                path: p.file.clone(),
                read_hash: p.read_hash,
                text: p.new.clone(),
            })
            .collect();
        let stamp = crate::write::timestamp(std::time::SystemTime::now());
        let backups = crate::write::write_all(&files, &stamp)?;
        written = patched
            .iter()
            .map(|p| p.file.clone())
            .zip(backups)
            .collect();
    }
    let planned = PlanReport {
        project: project.name.clone(),
        host: on.as_ref().map(|p| p.host.clone()),
        plan,
        patched,
        written,
    };
    emit(settings, &Report::Plan(&planned), out)?;
    Ok(exit::CLEAN)
}
