//! `tierctl migrate --to-context B` (and `--resume` / `--rollback` / `--prune-source` of such a
//! migration): the project's data moves from this engine (A) to the engine of context B. The
//! plan is made here (B's tier map, a compose file for B); it runs through the same task runner
//! as a migration on one engine ([`super::migrate::run_task`]), with B in the migrate context
//! ([`crate::migrate::site`]).

use std::io::Write;

use super::connect::{env_vars, home, resolve_endpoint};
use super::migrate::{
    MigrateTask, confirm, destructive, helper_cleanup, invocation, migration_of, plan_report,
    run_task, shown_and_confirmed,
};
use super::{emit, render};
use crate::audit;
use crate::cli::{GlobalArgs, MigrateArgs};
use crate::compose::load;
use crate::compose::model::ComposeProject;
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint::{self, EndpointInput};
use crate::engine::probe as bind_probe;
use crate::error::{Error, exit};
use crate::lock::ProjectLock;
use crate::migrate::cross_plan::{self, CrossHost};
use crate::migrate::journal;
use crate::migrate::plan::MigratePlan;
use crate::migrate::site::OtherEngine;
use crate::migrate::{ComposeCli, MigrateContext, MigrateError};
use crate::probe::{self, DiskFiles};
use crate::report::Report;
use crate::settings::{Environment, Settings};
use crate::vm::DiskConfig;

/// The context a journal's migration went to, when it is a cross-host one.
pub(super) fn journaled_context(task: &MigrateTask) -> Option<CrossHost> {
    let path = match task {
        MigrateTask::Resume(p) | MigrateTask::Rollback(p) | MigrateTask::Prune(p) => p,
        MigrateTask::Start(plan) | MigrateTask::DryRun(plan) => {
            return plan.to_context.as_deref().cloned();
        }
    };
    let records = journal::read(path).ok()?;
    journal::JournalState::of(&records)?
        .plan
        .to_context
        .map(|c| *c)
}

/// What the run needs besides the task.
pub(super) struct Run<'a> {
    pub(super) settings: &'a Settings,
    pub(super) global: &'a GlobalArgs,
    pub(super) args: &'a MigrateArgs,
    pub(super) env: &'a Environment,
    pub(super) project: &'a ComposeProject,
    pub(super) lock: Option<&'a ProjectLock>,
    /// This engine's host (A): on another machine its paths are read there, never here.
    pub(super) on: &'a super::audit::PathHost,
}

/// Plan (or take from the journal) and run a cross-host migration, its resume or rollback.
pub(super) fn migrate(
    run: &Run<'_>,
    task: Option<MigrateTask>,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let args = run.args;
    let task = match task {
        Some(task) => task,
        None => {
            let context = args.to_context.as_deref().unwrap_or_default();
            match planned(run, context, out)? {
                Some(plan) => MigrateTask::Start(Box::new(plan)),
                None => return Ok(exit::CLEAN),
            }
        }
    };
    let Some(cross) = journaled_context(&task) else {
        return Err(refused("the journal's plan names no other context"));
    };
    if matches!(task, MigrateTask::Rollback(_)) && args.discard_copy {
        let what = format!(
            "roll back the move (services stopped on `{}`, started again on this engine, the compose file for it removed) and delete the copies on `{}` that are still the verified ones",
            cross.context, cross.context
        );
        confirm(&what, args)?;
    } else if let Some(what) = destructive(&task, args) {
        confirm(what, args)?;
    }
    if matches!(task, MigrateTask::DryRun(_)) {
        // `planned` shows a dry run's plan and stops
        return Err(refused(
            "a dry run of a move to another engine only shows its plan",
        ));
    }
    let endpoint = resolve_endpoint(run.global, run.env)?;
    let mut connected = None;
    let engine = run.on.engine(&endpoint, &mut connected)?;
    let other = other_engine(run, &cross.context)?;
    // a killed run's helpers on both engines, and its markers in the bind sources here
    let marker_dirs = crate::leftovers::marker_dirs(run.project, []);
    let to_b = ToB {
        a: (engine, &endpoint),
        b: (&other.0, &other.1),
        cross: &cross,
        compose: ComposeCli::find(&endpoint),
        swarm: None,
    };
    run_to_b(run, task, to_b, &marker_dirs, out)
}

/// The two engines of a move to B and who runs the project there.
pub(super) struct ToB<'a> {
    /// Engine A (the data's now) and its endpoint.
    pub(super) a: (&'a DockerEngine, &'a endpoint::Endpoint),
    /// Engine B (the data's after the move) and its endpoint.
    pub(super) b: (&'a DockerEngine, &'a endpoint::Endpoint),
    /// The journaled move.
    pub(super) cross: &'a CrossHost,
    /// The compose CLI that starts the project on B (`None`: a Swarm service, placed by the
    /// manager).
    pub(super) compose: Option<ComposeCli>,
    /// The swarm's manager of a Swarm service's move.
    pub(super) swarm: Option<&'a dyn crate::engine::swarm::SwarmServices>,
}

/// Run `task` of a move to B (`--to-context`, or a Swarm service's `--to-node`): a killed
/// run's helpers on both engines and its `marker_dirs` cleaned up, the context made with B in
/// it, the one task runner, the report.
pub(super) fn run_to_b(
    run: &Run<'_>,
    task: MigrateTask,
    to_b: ToB<'_>,
    marker_dirs: &[std::path::PathBuf],
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let (settings, args) = (run.settings, run.args);
    let (engine, b) = (to_b.a.0, to_b.b.0);
    crate::leftovers::after_takeover(run.lock, &[engine, b], marker_dirs);
    let cleanup_a = helper_cleanup(to_b.a.1);
    let cleanup_b = helper_cleanup(to_b.b.1);
    let ctx = MigrateContext {
        engine,
        image: helper_image(args),
        compose: to_b.compose,
        roots: to_b.cross.roots.clone(),
        quiet: args.quiet,
        views: None,
        pause: settings.migrate_pause.clone(),
        hook: None,
        failpoints: settings.failpoints(),
        invocation: invocation(run.global),
        helper_cleanup: Some(std::sync::Arc::new(move |journal: &str| {
            cleanup_a(journal);
            cleanup_b(journal);
        })),
        vm: None,
        force: args.force,
        elsewhere: None,
        tiers: None,
        to: Some(OtherEngine {
            engine: b,
            context: to_b.cross.context.clone(),
            swarm: to_b.swarm,
        }),
    };
    // the compose project as it is on disk when a prune checks who uses a volume
    let reload = || load::load(&settings.load, &DiskFiles);
    let state_dir = journal::dir(&run.project.dir);
    // B's tiers are looked at by helpers there (the site's checks), not by a tier map here
    let given = (args, run.project);
    if let Some(outcome) = run_task(&ctx, task, given, run.lock, None, &state_dir, &reload)? {
        emit(settings, &Report::migrated(&outcome, args.rollback), out)?;
    }
    Ok(exit::CLEAN)
}

/// The helper image: `--helper-image` (or `TIERCTL_HELPER_IMAGE`), else the default.
pub(super) fn helper_image(args: &MigrateArgs) -> String {
    args.helper_image
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| bind_probe::DEFAULT_HELPER_IMAGE.to_owned())
}

fn refused(message: &str) -> Error {
    Error::Migrate(MigrateError::Refused(message.into()))
}

/// The engine of `context` (never `-H` or `DOCKER_HOST`: those name this engine).
fn other_engine(run: &Run<'_>, context: &str) -> Result<(DockerEngine, endpoint::Endpoint), Error> {
    let input = EndpointInput {
        hosts: Vec::new(),
        context: Some(context.to_owned()),
        config_dir: None,
        env: env_vars(run.env),
        home: home(run.env),
    };
    let endpoint = endpoint::resolve(&input, &DiskConfig)?;
    // B's paths are its host's: never read here, only by helpers on B
    let engine = DockerEngine::connect(&endpoint)?.on_another_machine(true);
    Ok((engine, endpoint))
}

/// The other host's tier map: `--to-tiers PATH`, else the context's own map in tiers.yaml
/// (`contexts: { CONTEXT: { tiers: ... } }`). Its roots are paths on that host: never resolved
/// here.
fn other_tiers(
    settings: &Settings,
    args: &MigrateArgs,
    context: &str,
) -> Result<crate::tiers::Tiers, Error> {
    let read = |path: &std::path::Path| {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok::<_, Error>(crate::tiers::load(path, &text)?)
    };
    if let Some(path) = &args.to_tiers {
        return read(path);
    }
    if let Some(path) = settings.tiers_path(|p| p.is_file()) {
        let tiers = read(path)?;
        if tiers.has_context(context) {
            return Ok(tiers.for_context(context));
        }
    }
    Err(Error::Migrate(MigrateError::Blocked {
        message: format!("no tier map for context `{context}`"),
        hint: format!(
            "add `contexts: {{ {context}: {{ tiers: ... }} }}` to tiers.yaml, or pass `--to-tiers PATH` (a tiers.yaml whose roots are paths on the host of context `{context}`)"
        ),
    }))
}

/// Plan the move and show it; `None`: nothing to do, a dry run, or (error) not confirmed.
fn planned(
    run: &Run<'_>,
    context: &str,
    out: &mut dyn Write,
) -> Result<Option<MigratePlan>, Error> {
    let (settings, args, project) = (run.settings, run.args, run.project);
    let tiers = other_tiers(settings, args, context)?;
    // A's bind sources where they are: read there when A is another machine
    let facts = match run.on.host.remote {
        true => super::audit::path_facts(project, Some(run.on), &helper_image(args))?,
        false => probe::paths(audit::host_paths(project)),
    };
    let options = crate::migrate::plan::Options {
        remove_source: false,
        pre_copy: !args.stop_first,
    };
    let local = migration_of(settings, project, &tiers, &facts, options)?;
    // a copy for B of each file the project was given; the files they include or extend are
    // named by the copies as by the originals
    let originals: Vec<(std::path::PathBuf, String)> = project
        .given
        .iter()
        .map(|f| {
            let text = project
                .texts
                .get(f)
                .map(|t| t.text.to_string())
                .unwrap_or_default();
            (f.clone(), text)
        })
        .collect();
    if let Some(why) = cross_plan::unsupported(&local, &project.given) {
        return Err(Error::Migrate(MigrateError::Refused(why)));
    }
    let services = project
        .services
        .iter()
        .filter(|(_, s)| s.enabled)
        .map(|(name, s)| (name.clone(), s.image.clone()))
        .collect();
    let roots = tiers.tiers.values().map(|t| t.root.clone()).collect();
    let migration = cross_plan::build(local, context, roots, services, &originals);
    let preview = render(settings, &Report::MigratePlan(&plan_report(&migration)))?;
    let go = shown_and_confirmed(&preview, args.dry_run, args, out)?;
    Ok(go.then_some(migration))
}
