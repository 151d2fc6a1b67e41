//! `tierctl migrate`.

mod check;
mod task;
mod views;

use std::io::Write;

use super::connect::{env_vars, home, resolve_endpoint};
use super::to_context;
use super::{emit, load_tiers_on, render};
use crate::audit::{self};
use crate::cli::{GlobalArgs, MigrateArgs};
use crate::compose::load;
use crate::engine::Engine;
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint::{self, Endpoint};
use crate::error::{Error, exit};
use crate::probe::{self, DiskFiles};
use crate::report::Report;
use crate::report::reports::{MigratePlanReport, PlannedCopy, PlannedStep};
use crate::settings::{Environment, Settings};
use crate::vm::DiskConfig;
use crate::vm::view::{self};

pub(in crate::app) use task::run_task;
use views::VerifyViews;

/// What `tierctl migrate` was asked to do, once the journals were looked at.
pub(super) enum MigrateTask {
    /// Continue the unfinished journal.
    Resume(std::path::PathBuf),
    /// Undo the latest journal.
    Rollback(std::path::PathBuf),
    /// Remove the source volumes a finished journal kept.
    Prune(std::path::PathBuf),
    /// Start a new migration of this plan.
    Start(Box<crate::migrate::plan::MigratePlan>),
    /// Only check this plan (`--dry-run`): preflight's read-only checks, nothing changed.
    DryRun(Box<crate::migrate::plan::MigratePlan>),
}

/// `tierctl migrate`.
pub(super) fn migrate(
    settings: &Settings,
    global: &GlobalArgs,
    args: &MigrateArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    use crate::migrate::journal;

    if args.check {
        return check::check(settings, global, args, env, out);
    }
    let on = engine_host(settings, global, env)?;
    let project = super::load_project(settings)?;
    let lock = (!args.dry_run)
        .then(|| crate::lock::project(&project))
        .transpose()?;
    let state_dir = journal::dir(&project.dir);
    let journaled = journaled_task(args, &state_dir)?;
    let run = to_context::Run {
        settings,
        global,
        args,
        env,
        project: &project,
        lock: lock.as_ref(),
        on: &on,
    };
    let swarm_journal = journaled
        .as_ref()
        .and_then(to_context::journaled_context)
        .is_some_and(|c| c.swarm.is_some());
    if args.to_node.is_some() || swarm_journal {
        return super::swarm_move::migrate(&run, journaled, out);
    }
    if args.to_context.is_some()
        || journaled
            .as_ref()
            .is_some_and(|t| to_context::journaled_context(t).is_some())
    {
        return to_context::migrate(&run, journaled, out);
    }
    // the tier map of the context `--context`/`-H` name (or of another machine's engine),
    // else tiers.yaml's own
    let named = !(global.contexts.is_empty() && global.hosts.is_empty());
    let tiers = load_tiers_on(settings, (named || on.host.remote).then_some(&on.host))?;
    let image = to_context::helper_image(args);
    let task = match journaled {
        Some(task) => task,
        None => match new_task(&run, (&project, &tiers), &image, out)? {
            Some(task) => task,
            None => return Ok(exit::CLEAN),
        },
    };
    if let Some(what) = destructive(&task, args) {
        confirm(what, args)?;
    }
    run_on_this_engine(&run, &tiers, image, task, &state_dir, out)
}

/// Runs `task` on the engine `-H`/`--context` name (or the default one), with the tier map
/// `tiers`, and prints the outcome.
fn run_on_this_engine(
    run: &to_context::Run<'_>,
    tiers: &crate::tiers::Tiers,
    image: String,
    task: MigrateTask,
    state_dir: &std::path::Path,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    use crate::migrate::{ComposeCli, MigrateContext};

    let (settings, args, env) = (run.settings, run.args, run.env);
    // the compose project as it is on disk when a prune or discard checks who uses a volume
    let reload = || load::load(&settings.load, &DiskFiles);
    let endpoint = resolve_endpoint(run.global, env)?;
    let elsewhere = run.on.host.remote.then(|| run.on.host.context.clone());
    let mut connected = None;
    let engine = run.on.engine(&endpoint, &mut connected)?;
    let roots = tiers.tiers.values().map(|t| t.root.clone());
    let marker_dirs = crate::leftovers::marker_dirs(run.project, roots);
    crate::leftovers::after_takeover(run.lock, &[engine], &marker_dirs);
    let views = VerifyViews::new(engine, &endpoint, &image, elsewhere.is_some())?;
    let ctx = MigrateContext {
        engine,
        image,
        compose: ComposeCli::find(&endpoint),
        roots: tiers.tiers.values().map(|t| t.root.clone()).collect(),
        quiet: args.quiet,
        views: Some(&views),
        pause: settings.migrate_pause.clone(),
        hook: None,
        failpoints: settings.failpoints(),
        invocation: invocation(run.global),
        helper_cleanup: Some(helper_cleanup(&endpoint)),
        // another machine's VM files are not this machine's
        vm: elsewhere
            .is_none()
            .then(|| vm_fix(engine, &endpoint, env))
            .flatten(),
        force: args.force,
        tiers: elsewhere.is_none().then_some(tiers),
        elsewhere,
        to: None,
    };
    let given = (args, run.project);
    if let Some(outcome) = run_task(&ctx, task, given, run.lock, Some(tiers), state_dir, &reload)? {
        emit(settings, &Report::migrated(&outcome, args.rollback), out)?;
    }
    Ok(exit::CLEAN)
}

/// A new migration of the project on the engine's host `run.on`, planned and shown (on another
/// machine, on that machine's paths, read there by helpers with `image`); `None`: nothing to
/// do, or only a dry run. The default's pre-copy becomes a single pass when none of the plan's
/// services runs now ([`idle_single_pass`]).
fn new_task(
    run: &to_context::Run<'_>,
    (project, tiers): (&crate::compose::model::ComposeProject, &crate::tiers::Tiers),
    image: &str,
    out: &mut dyn Write,
) -> Result<Option<MigrateTask>, Error> {
    let (settings, args, on) = (run.settings, run.args, run.on);
    if on.host.remote && !args.quiet {
        eprintln!(
            "note: the engine's host (context `{}`) is another machine: the plan is made on its paths, which only helper containers there read and write",
            on.host.context
        );
    }
    // another machine's paths are read there (`engine::host_fs`), never here
    let facts = match on.host.remote {
        true => Some(super::audit::path_facts(project, Some(on), image)?),
        false => None,
    };
    let idle = |plan| idle_single_pass(run, plan);
    let plan = planned_migration(settings, args, project, tiers, facts, &idle, out)?;
    Ok(plan.map(|plan| match args.dry_run {
        true => MigrateTask::DryRun(Box::new(plan)),
        false => MigrateTask::Start(Box::new(plan)),
    }))
}

/// `plan` with a single pass instead of its pre-copy when none of its services runs on the
/// engine now (issue 23 item 4: [`crate::migrate::plan::MigratePlan::single_pass_unless_running`]);
/// a plan without a pre-copy is not looked at.
fn idle_single_pass(
    run: &to_context::Run<'_>,
    plan: crate::migrate::plan::MigratePlan,
) -> Result<crate::migrate::plan::MigratePlan, Error> {
    if !plan.pre_copy || plan.is_empty() {
        return Ok(plan);
    }
    let endpoint = resolve_endpoint(run.global, run.env)?;
    let mut connected = None;
    let engine = run.on.engine(&endpoint, &mut connected)?;
    let running = crate::migrate::steps::running_services(engine, &plan)?;
    Ok(plan.single_pass_unless_running(&running))
}

/// The engine's host (`crate::host`). A unix socket asks nothing; a network endpoint without
/// the context's word is asked for the marker file. On another machine the migration runs
/// there through helpers ([`crate::migrate::tier_dirs`]), a move to another engine too.
pub(super) fn engine_host(
    settings: &Settings,
    global: &GlobalArgs,
    env: &Environment,
) -> Result<super::audit::PathHost, Error> {
    let endpoint = resolve_endpoint(global, env)?;
    super::audit::host_at(settings, &endpoint, env)
}

/// The global arguments that pick the project and the engine, as the user gave them (repeated
/// in the next command printed after an interrupt).
pub(super) fn invocation(global: &GlobalArgs) -> Vec<String> {
    let mut words = Vec::new();
    let mut push = |flag: &str, value: String| words.extend([flag.to_owned(), value]);
    for file in &global.files {
        push("-f", file.display().to_string());
    }
    if let Some(name) = &global.project_name {
        push("-p", name.clone());
    }
    if let Some(dir) = &global.project_directory {
        push("--project-directory", dir.display().to_string());
    }
    for file in &global.env_files {
        push("--env-file", file.display().to_string());
    }
    for profile in &global.profiles {
        push("--profile", profile.clone());
    }
    for context in &global.contexts {
        push("--context", context.clone());
    }
    for host in &global.hosts {
        push("-H", host.clone());
    }
    words
}

/// Removes a journal's helper containers through a connection of its own (the interrupt
/// handler runs on another thread).
pub(super) fn helper_cleanup(endpoint: &Endpoint) -> crate::migrate::HelperCleanup {
    let endpoint = endpoint.clone();
    std::sync::Arc::new(move |journal: &str| {
        use crate::engine::Containers;
        // bounded: an interrupted user waits for this
        let limit = std::time::Duration::from_secs(10);
        let Ok(engine) = DockerEngine::connect_within(&endpoint, limit) else {
            return;
        };
        let selector = crate::engine::Selector::Journal(journal.to_owned());
        for c in engine.list(&selector).unwrap_or_default() {
            let _ = engine.remove(&c.id);
        }
    })
}

/// The engine's VM and its shares, when it runs in one whose configuration can be read.
pub(super) fn vm_fix(
    engine: &DockerEngine,
    endpoint: &Endpoint,
    env: &Environment,
) -> Option<crate::migrate::VmFix> {
    let info = engine.info().ok()?;
    let guess = endpoint::refine(
        endpoint::identify(endpoint),
        &info.operating_system,
        &info.name,
    );
    let view = view::read_view(guess, &DiskConfig, &env_vars(env), &home(env)).ok()?;
    view.shares.is_some().then(|| crate::migrate::VmFix {
        view,
        home: home(env),
    })
}

/// What the journals in `state_dir` ask for: `--rollback`, `--resume`, a pending
/// `--prune-source`; `None`: a new migration (refused while one is unfinished). Every refusal's
/// hint is `journal::next_commands` of the newest journal's phase.
pub(super) fn journaled_task(
    args: &MigrateArgs,
    state_dir: &std::path::Path,
) -> Result<Option<MigrateTask>, Error> {
    use crate::migrate::MigrateError;
    use crate::migrate::journal::{self, JournalState, Phase};

    let last = journal::latest(state_dir);
    let last_state = match &last {
        Some(path) => JournalState::of(&journal::read(path)?),
        None => None,
    };
    let phase = journal::phase_of(last_state.as_ref());
    let refused = |message: String| {
        Error::Migrate(MigrateError::Blocked {
            message,
            hint: journal::next_commands(phase),
        })
    };
    let dir = state_dir.display();
    match (last, phase) {
        (None, _) if args.rollback || args.resume => {
            Err(refused(format!("no migration journal in `{dir}`")))
        }
        (Some(path), _) if args.rollback => Ok(Some(MigrateTask::Rollback(path))),
        (Some(path), Phase::Open) if args.resume => Ok(Some(MigrateTask::Resume(path))),
        (Some(path), Phase::RollingBack) if args.resume => Err(refused(format!(
            "a rollback of the migration journaled in `{}` began: it is finished, never resumed",
            path.display()
        ))),
        (Some(path), _) if args.resume => Err(refused(format!(
            "no unfinished migration journal in `{dir}` (the newest, `{}`, is not one to resume)",
            path.display()
        ))),
        (
            Some(path),
            Phase::Finished {
                sources_kept: true, ..
            },
        ) if args.remove_source || args.prune_source => Ok(Some(MigrateTask::Prune(path))),
        (Some(path), Phase::Open | Phase::RollingBack) => Err(refused(format!(
            "an unfinished migration is journaled in `{}`",
            path.display()
        ))),
        (last, phase) if args.prune_source => Err(Error::Migrate(MigrateError::Blocked {
            message: nothing_to_prune(last.as_deref(), &dir.to_string(), phase),
            hint: format!(
                "nothing was changed; {}; `tierctl migrate --remove-source --yes` moves the project and removes its source volumes in one run",
                journal::next_commands(phase)
            ),
        })),
        _ => Ok(None),
    }
}

/// Why `--prune-source` has nothing to prune in `phase` (issue 26 row 4: it prunes a finished
/// migration's kept sources and never starts a new migration).
fn nothing_to_prune(
    last: Option<&std::path::Path>,
    dir: &str,
    phase: crate::migrate::journal::Phase,
) -> String {
    use crate::migrate::journal::Phase;
    let why = match (last, phase) {
        (None, _) => format!("no migration is journaled in `{dir}`"),
        (Some(path), Phase::RolledBack { .. }) => format!(
            "the migration journaled in `{}` was rolled back: its source volumes are the project's data again",
            path.display()
        ),
        (Some(path), Phase::Finished { .. }) => format!(
            "the migration journaled in `{}` removed its source volumes already",
            path.display()
        ),
        (Some(path), _) => format!(
            "the migration journaled in `{}` is not finished",
            path.display()
        ),
    };
    format!(
        "nothing to prune: {why}; `--prune-source` only removes the source volumes a finished migration kept, and never starts a migration"
    )
}

/// What a destructive task is about to do, for the confirmation; `None`: not destructive here
/// (a new migration asks after showing its plan).
pub(super) fn destructive(task: &MigrateTask, args: &MigrateArgs) -> Option<&'static str> {
    match task {
        MigrateTask::Rollback(_) if args.discard_copy => Some(
            "roll back the migration (services stopped, data the services wrote on the tier copied back into the source, compose files restored, services started) and delete the copies it made",
        ),
        MigrateTask::Rollback(_) => Some(
            "roll back the migration: services stopped, data the services wrote on the tier copied back into the source, compose files restored, services started",
        ),
        MigrateTask::Prune(_) => Some("remove the source volumes the finished migration kept"),
        MigrateTask::Resume(_) | MigrateTask::Start(_) | MigrateTask::DryRun(_) => None,
    }
}

/// `--yes`, or `Proceed? [y/N]` answered yes on a terminal; else refused, naming the exact
/// command with `--yes`.
pub(super) fn confirm(what: &str, args: &MigrateArgs) -> Result<(), Error> {
    use crate::migrate::MigrateError;
    if args.yes {
        return Ok(());
    }
    eprintln!("tierctl migrate will {what}.");
    let with_yes = format!("{} --yes", crate::lock::command_line_of_this_process());
    match confirm_on_terminal() {
        Some(true) => Ok(()),
        Some(false) => Err(Error::Migrate(MigrateError::Blocked {
            message: "not confirmed: nothing was changed".into(),
            hint: format!("run `{with_yes}` to do it without asking"),
        })),
        None => Err(Error::Migrate(MigrateError::Blocked {
            message: format!("this would {what}, and stdin is not a terminal to confirm it"),
            hint: format!("nothing was changed; run `{with_yes}` to do it"),
        })),
    }
}

/// What becomes of a plan before it is shown: on one engine, the default's pre-copy turned
/// into a single pass when nothing runs.
pub(super) type Refine<'a> = &'a dyn Fn(
    crate::migrate::plan::MigratePlan,
) -> Result<crate::migrate::plan::MigratePlan, Error>;

/// Plan a new migration (`refine`d) and show it; `None` when there is nothing to do, it was
/// only a dry run, or (error) the user did not confirm.
pub(super) fn planned_migration(
    settings: &Settings,
    args: &MigrateArgs,
    project: &crate::compose::model::ComposeProject,
    tiers: &crate::tiers::Tiers,
    facts: Option<crate::facts::Facts>,
    refine: Refine<'_>,
    out: &mut dyn Write,
) -> Result<Option<crate::migrate::plan::MigratePlan>, Error> {
    let facts = facts.unwrap_or_else(|| probe::paths(audit::host_paths(project)));
    let options = crate::migrate::plan::Options {
        remove_source: args.remove_source,
        pre_copy: !args.stop_first,
    };
    let migration = refine(migration_of(settings, project, tiers, &facts, options)?)?;
    let preview = render(settings, &Report::MigratePlan(&plan_report(&migration)))?;
    let go = shown_and_confirmed(&preview, migration.is_empty() || args.dry_run, args, out)?;
    // a dry run's plan is checked after it was shown
    Ok((go || (args.dry_run && !migration.is_empty())).then_some(migration))
}

/// The migration of `project` to the tiers of `tiers` (this engine's, or B's), from the rewrite
/// plan (`facts`: the bind sources where they are), its patched files checked by a reload.
pub(super) fn migration_of(
    settings: &Settings,
    project: &crate::compose::model::ComposeProject,
    tiers: &crate::tiers::Tiers,
    facts: &crate::facts::Facts,
    options: crate::migrate::plan::Options,
) -> Result<crate::migrate::plan::MigratePlan, Error> {
    let plan = crate::plan::plan(&crate::plan::Input {
        project,
        tiers,
        facts,
        strict_binds: false,
        mode: audit::Mode::Migrate,
    });
    let patched = crate::rewrite::patch(&plan, project)?;
    crate::rewrite::check_reload(&plan, project, &settings.load, &DiskFiles, &patched)?;
    crate::migrate::plan::build(project, &plan, &patched, options).map_err(|u| {
        Error::Migrate(crate::migrate::MigrateError::Refused(format!(
            "service `{}` mount `{}`: {}",
            u.service, u.target, u.reason
        )))
    })
}

/// The migrate plan as `report` shows it: each step with its description.
pub(super) fn plan_report(plan: &crate::migrate::plan::MigratePlan) -> MigratePlanReport {
    MigratePlanReport {
        project: plan.project.clone(),
        services: plan.services.clone(),
        copies: plan
            .copies
            .iter()
            .map(|c| PlannedCopy {
                volume: c.key.clone(),
                source: c.job.source.clone(),
                target: c.job.target.clone(),
                tier: c.tier.clone(),
            })
            .collect(),
        files: plan.files.iter().map(|f| f.path.clone()).collect(),
        steps: plan
            .steps
            .iter()
            .map(|step| PlannedStep {
                id: step.id().into(),
                description: crate::migrate::describe(plan, step),
            })
            .collect(),
        to_context: plan.to_context.as_ref().map(|c| c.context.clone()),
    }
}

/// The plan shown, then: `false` when it is only to be looked at (`show_only`); else `true`
/// with `--yes`, or when a terminal answers yes to `Proceed?` (refused otherwise: nothing was
/// changed).
pub(super) fn shown_and_confirmed(
    preview: &str,
    show_only: bool,
    args: &MigrateArgs,
    out: &mut dyn Write,
) -> Result<bool, Error> {
    if show_only {
        out.write_all(preview.as_bytes()).map_err(Error::Output)?;
        return Ok(false);
    }
    if !args.yes {
        out.write_all(preview.as_bytes()).map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
        let refused = match confirm_on_terminal() {
            Some(true) => None,
            Some(false) => Some("not confirmed: nothing was changed"),
            None => Some(
                "migrate changes the disk: pass `--yes` to do it (or `--dry-run` to only look)",
            ),
        };
        if let Some(why) = refused {
            return Err(Error::Migrate(crate::migrate::MigrateError::Refused(
                why.into(),
            )));
        }
    }
    Ok(true)
}

/// Ask `Proceed? [y/N]` on stderr and read the answer from stdin; `None` when stdin is not a
/// terminal (a script must pass `--yes`).
pub(super) fn confirm_on_terminal() -> Option<bool> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return None;
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "Proceed? [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer).is_err() {
        return Some(false);
    }
    Some(is_yes(&answer))
}

/// Whether a confirmation answer says yes (`y` or `yes`, any case).
pub(super) fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_confirms() {
        for yes in ["y\n", "Y\n", "yes\n", " YES \r\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["\n", "n\n", "no\n", "yep\n", ""] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    fn migrate_args(words: &[&str]) -> MigrateArgs {
        use clap::Parser;
        let cli =
            crate::cli::Cli::try_parse_from(["tierctl", "migrate"].iter().chain(words).copied())
                .expect("arguments parse");
        match cli.command {
            crate::cli::Command::Migrate(args) => args,
            _ => unreachable!("a migrate command line"),
        }
    }

    /// A journal in `dir` of a one-volume migration with `records` after its plan.
    fn journaled(dir: &std::path::Path, records: &[crate::migrate::journal::Record]) {
        use crate::engine::MountSource;
        use crate::migrate::copy::CopyJob;
        use crate::migrate::journal::Journal;
        use crate::migrate::plan::{MigratePlan, VolumeCopy};
        let plan = MigratePlan {
            copies: vec![VolumeCopy {
                key: "k".into(),
                mounts: vec![crate::compose::model::MountId(0)],
                job: CopyJob {
                    source: MountSource::Volume("app_pgdata".into()),
                    target: "/tiers/fast/app/pgdata".into(),
                },
                tier: None,
                seed: None,
            }],
            ..MigratePlan::default()
        };
        let mut journal = Journal::create(dir, "1", &plan).expect("journal");
        for record in records {
            journal.append(record).expect("append");
        }
    }

    fn refusal(result: Result<Option<MigrateTask>, Error>) -> (String, String) {
        match result {
            Err(Error::Migrate(crate::migrate::MigrateError::Blocked { message, hint })) => {
                (message, hint)
            }
            Err(e) => panic!("another error: {e}"),
            Ok(_) => panic!("not refused"),
        }
    }

    #[test]
    fn issue26_row4_prune_without_a_finished_move_refuses_and_never_starts_a_migration() {
        use crate::migrate::journal::Record;
        let prune = migrate_args(&["--prune-source", "--yes"]);
        let dir = tempfile::tempdir().expect("temp dir");
        // no journal at all
        let (message, hint) = refusal(journaled_task(&prune, dir.path()));
        assert!(
            message.starts_with("nothing to prune: no migration is journaled"),
            "{message}"
        );
        assert!(message.contains("never starts a migration"), "{message}");
        assert!(hint.contains("--remove-source --yes"), "{hint}");
        // rolled back (e.g. `--rollback --discard-copy`)
        journaled(dir.path(), &[Record::Finished, Record::RolledBack]);
        let (message, hint) = refusal(journaled_task(&prune, dir.path()));
        assert!(message.contains("was rolled back"), "{message}");
        assert!(hint.starts_with("nothing was changed"), "{hint}");
        // `--remove-source` there still starts a new migration, as documented
        let remove = migrate_args(&["--remove-source", "--yes"]);
        assert!(matches!(journaled_task(&remove, dir.path()), Ok(None)));
        // a finished move that kept its source: pruned, by either flag
        let finished = tempfile::tempdir().expect("temp dir");
        journaled(finished.path(), &[Record::Finished]);
        for args in [&prune, &remove] {
            assert!(matches!(
                journaled_task(args, finished.path()),
                Ok(Some(MigrateTask::Prune(_)))
            ));
        }
        // a dry run or `--stop-first` is never a prune
        for words in [
            ["--prune-source", "--dry-run"],
            ["--prune-source", "--stop-first"],
        ] {
            use clap::Parser;
            let parsed = crate::cli::Cli::try_parse_from(
                ["tierctl", "migrate"].iter().chain(&words).copied(),
            );
            assert!(parsed.is_err(), "{words:?}");
        }
    }
}
