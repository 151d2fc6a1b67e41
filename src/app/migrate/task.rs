//! What `tierctl migrate` runs once the task is known, on this engine or to engine B: a
//! journal resumed, rolled back or pruned, a new plan started under the project lock (absent
//! tiers and a database onto a VM share refused first), or a dry run's read-only checks.

use crate::cli::MigrateArgs;
use crate::error::Error;
use crate::tierfs;

use super::MigrateTask;

/// Runs what `migrate` was asked to do, on this engine or to engine B (`ctx.to`): resumes,
/// rolls back or prunes a journal, starts a new migration of a plan, or only checks it (`None`:
/// a dry run, its plan shown already). `tiers`: the tier map whose absent tiers refuse a start
/// (`None`: B's, looked at by helpers there).
pub(in crate::app) fn run_task(
    ctx: &crate::migrate::MigrateContext<'_>,
    task: MigrateTask,
    (args, project): (&MigrateArgs, &crate::compose::model::ComposeProject),
    lock: Option<&crate::lock::ProjectLock>,
    tiers: Option<&crate::tiers::Tiers>,
    state_dir: &std::path::Path,
    reload: crate::migrate::prune::Reload<'_>,
) -> Result<Option<crate::migrate::Outcome>, Error> {
    use crate::migrate::journal::{self, Journal};
    use crate::migrate::run::Next;
    use crate::migrate::{self as run};

    let outcome = match task {
        MigrateTask::Resume(path) => {
            let (mut journal, records) = Journal::open(&path)?;
            if let Some(state) = journal::JournalState::of(&records) {
                // the killed run's own helpers are not "outside the plan": remove them first
                ctx.remove_helpers(&journal.id);
                run::preflight::outside_users(ctx, &state, &journal.id)?;
            }
            run::run(ctx, &mut journal, &records)?
        }
        MigrateTask::Rollback(path) => {
            let (mut journal, records) = Journal::open(&path)?;
            let _watch = run::run::watch(ctx, &path, &journal.id, Next::Rollback);
            run::rollback(ctx, &mut journal, &records, args.discard_copy, reload)?
        }
        MigrateTask::Prune(path) => {
            let (mut journal, records) = Journal::open(&path)?;
            let _watch = run::run::watch(ctx, &path, &journal.id, Next::Prune);
            run::prune_sources(ctx, &mut journal, &records, reload)?
        }
        MigrateTask::Start(plan) => {
            refuse_database_onto_share(ctx, &plan, project)?;
            start(ctx, &plan, lock, tiers, state_dir)?
        }
        MigrateTask::DryRun(plan) => {
            refuse_database_onto_share(ctx, &plan, project)?;
            dry_run(ctx, &plan, tiers)?;
            return Ok(None);
        }
    };
    Ok(Some(outcome))
}

/// Refused, unless `--force`, when a copy would put a database onto a VM share
/// ([`crate::database::migrate_verdict`]: `db-on-vm-share`); the forced ones are warned.
fn refuse_database_onto_share(
    ctx: &crate::migrate::MigrateContext<'_>,
    plan: &crate::migrate::plan::MigratePlan,
    project: &crate::compose::model::ComposeProject,
) -> Result<(), Error> {
    let Some(vm) = &ctx.vm else {
        return Ok(());
    };
    let copies = plan
        .copies
        .iter()
        .map(|c| (c.key.as_str(), c.job.target.as_path()));
    match crate::database::migrate_verdict(project, copies, &vm.view, ctx.force) {
        Ok(warnings) => {
            for warning in warnings {
                eprintln!("{warning}");
            }
            Ok(())
        }
        Err(refused) => Err(Error::Migrate(crate::migrate::MigrateError::Blocked {
            message: refused.to_string(),
            hint: refused.hint(),
        })),
    }
}

/// Starts a new migration of `plan` under the project lock: refuses absent tiers, runs the
/// preflight, creates the journal and runs it.
fn start(
    ctx: &crate::migrate::MigrateContext<'_>,
    plan: &crate::migrate::plan::MigratePlan,
    lock: Option<&crate::lock::ProjectLock>,
    tiers: Option<&crate::tiers::Tiers>,
    state_dir: &std::path::Path,
) -> Result<crate::migrate::Outcome, Error> {
    use crate::migrate::journal::{self, Journal};
    use crate::migrate::{self as run};

    let Some(lock) = lock else {
        return Err(Error::Migrate(run::MigrateError::Refused(
            "a migration runs only under the project lock (not with --dry-run)".into(),
        )));
    };
    if let Some(tiers) = tiers {
        refuse_absent_tiers(ctx, plan, tiers)?;
    }
    run::preflight(ctx, plan, lock)?;
    let id = format!(
        "{}-{}",
        crate::write::timestamp(std::time::SystemTime::now()),
        std::process::id()
    );
    let mut journal = Journal::create_with(state_dir, &id, plan, ctx.failpoints.clone())?;
    let records = journal::read(&journal.path)?;
    Ok(run::run(ctx, &mut journal, &records)?)
}

/// `--dry-run`: every check of a real run that changes nothing (issue 26 row 11), so the dry
/// run fails where the real run would be refused by them.
fn dry_run(
    ctx: &crate::migrate::MigrateContext<'_>,
    plan: &crate::migrate::plan::MigratePlan,
    tiers: Option<&crate::tiers::Tiers>,
) -> Result<(), Error> {
    if let Some(tiers) = tiers {
        refuse_absent_tiers(ctx, plan, tiers)?;
    }
    crate::migrate::preflight::read_only(ctx, plan)?;
    crate::migrate::preflight::room(ctx, plan)?;
    if !ctx.quiet {
        eprintln!(
            "dry run: preflight's read-only checks pass (engine, compose CLI, source volumes and the containers that use them, targets, tiers, room); the probes that write a file (bind probe, writable target, owners) run before a real run"
        );
    }
    Ok(())
}

/// Refused when a tier a target lies on is absent (not mounted, no marker).
fn refuse_absent_tiers(
    ctx: &crate::migrate::MigrateContext<'_>,
    plan: &crate::migrate::plan::MigratePlan,
    tiers: &crate::tiers::Tiers,
) -> Result<(), Error> {
    let targets: Vec<&std::path::Path> =
        plan.copies.iter().map(|c| c.job.target.as_path()).collect();
    let seen = match &ctx.elsewhere {
        // another machine's tier roots, read there
        Some(_) => {
            let roots: Vec<_> = tiers
                .tiers
                .values()
                .map(|t| (t.name.clone(), t.root.clone()))
                .collect();
            crate::engine::host_fs::facts(ctx.engine, &ctx.image, &[], &roots)?.tiers
        }
        None => tierfs::presences(tiers),
    };
    tierfs::refuse_absent_tiers(tiers, &seen, &targets)
        .map_err(|e| crate::migrate::MigrateError::Refused(e.to_string()))?;
    Ok(())
}
