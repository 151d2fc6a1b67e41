//! `tierctl migrate --rollback`: stop the services, bring back into each source what the
//! services wrote on the tier since the migration, write the files back as they were, start the
//! services that were running on their old volumes. It never restarts a service on data older
//! than what it last wrote: each tier directory is compared with the manifest the journal kept
//! when its copy verified, and one that changed is copied back into its source (a migration in
//! reverse: the same helpers with the two sides swapped, verified the same way) before the files
//! go back ([`bring_back`]). A move to engine B has no copy back between engines: a copy on B
//! that changed keeps the project there unless `--force`, checked before the rollback is
//! recorded. The copies stay unless `discard_copy`: then only the copies this journal made are
//! removed, and only when each still equals its journaled manifest and nothing uses it
//! ([`discard`]).

mod bring_back;
mod discard;

use super::compose_cli;
use super::durable::Durable;
use super::journal::{self, Journal, JournalState, Record};
use super::outcome::{Outcome, StepOutcome};
use super::plan::{MigratePlan, MigrateStep, OnceStep, StepId};
use super::prune::Reload;
use super::steps::list_or_none;
use super::{MigrateContext, MigrateError, state_of};
use crate::engine::{EngineError, MountSource};
use crate::write::{self, FileWrite};

/// Undo the journal's migration (on this engine, or a move to engine B). Refused once a source
/// volume was removed. On a journal already rolled back, only `discard_copy` has something left
/// to do.
pub fn rollback(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    records: &[Record],
    discard_copy: bool,
    reload: Reload<'_>,
) -> Result<Outcome, MigrateError> {
    let mut state = state_of(journal, records)?;
    journal.fail_with(ctx.failpoints.clone());
    if state.rolled_back {
        if !discard_copy {
            return Err(already_rolled_back(journal, &state));
        }
        let steps = discard::discard_copies(ctx, journal, &mut state, reload)?;
        return Ok(outcome(journal, steps));
    }
    if state.source_removed() || removal_happened(ctx, &state)? {
        return Err(MigrateError::Blocked {
            message: "a source volume was already removed (`--prune-source` or `--remove-source`): the copy is the only data left, so the migration is not rolled back".into(),
            hint: "nothing was changed; the services keep running on the tier directories".into(),
        });
    }
    // the services may have written on the tiers: their disks must be there (issue 21 item 6)
    let rewrite = MigrateStep::Rewrite.id();
    if state.done.contains_key(&rewrite) || state.begun.contains(&rewrite) {
        super::tier_dirs::present(ctx, &state.plan).map_err(|absent| MigrateError::Blocked {
            message: format!(
                "tier-not-mounted: the disk of tier `{}` is not there ({}), and the services may have written to `{}` since the move: a rollback now would leave that behind",
                absent.tier,
                absent.why,
                absent.target.display()
            ),
            hint: "nothing was changed; mount the tier's disk again, then run `tierctl migrate --rollback --yes`".into(),
        })?;
    }
    ctx.remove_helpers(&journal.id);
    let mut steps = stop_and_bring_back(ctx, journal, &mut state)?;
    // 3. the files, byte for byte (a file written for B: removed)
    let restore = StepId::Once(OnceStep::RollbackRestore);
    ctx.pause_at(&restore, false);
    ctx.durable(restore_action(&state), Some(&restore))
        .map_err(|e| failed(&state, "restore", e))?;
    steps.push(restore_files(ctx, journal, &state)?);
    // 4. the services that ran, on their old volumes
    ctx.pause_at(&StepId::Once(OnceStep::RollbackStart), false);
    steps.push(start_again(ctx, journal, &state)?);
    ctx.remove_seed_volumes(&state);
    journal.append(&Record::RolledBack)?;
    state.rolled_back = true;
    // 5. the copies stay unless asked: only the ones this journal made go, once nothing uses them
    if discard_copy {
        let discarded = discard::discard_copies(ctx, journal, &mut state, reload);
        // the rollback is done either way: say what it did before a refusal to remove a copy
        let discarded = discarded.inspect_err(|_| say_all(ctx, &steps))?;
        steps.extend(discarded);
    } else {
        steps.extend(kept_copies(ctx, &state.plan));
    }
    Ok(outcome(journal, steps))
}

/// Whether a `remove-source` step that began and was not journaled as done removed its volume
/// (issue 21, found by the crash matrix: a prune killed right after the removal, before its end
/// was journaled, was rolled back onto an empty volume the engine made anew at the start).
fn removal_happened(ctx: &MigrateContext<'_>, state: &JournalState) -> Result<bool, MigrateError> {
    for id in state
        .begun
        .iter()
        .filter(|id| !state.done.contains_key(*id))
    {
        let Some(n) =
            (0..state.plan.copies.len()).find(|n| MigrateStep::RemoveSource(*n).id() == *id)
        else {
            continue;
        };
        if let MountSource::Volume(name) = &state.plan.copies[n].job.source {
            let exists = ctx.engine.volume_exists(name).map_err(|e| MigrateError::Blocked {
                message: format!("cannot look up volume `{name}`, whose removal began: {e}"),
                hint: "check that the Docker engine answers (`docker volume ls`), then run `tierctl migrate --rollback --yes` again; nothing was changed".into(),
            })?;
            if !exists {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Steps 1 and 2, with the rollback recorded as begun between them: a move to B is stopped
/// there and refused while a copy there changed before it is recorded; on this engine the
/// services are stopped after it, and what they wrote on the tier is brought back.
fn stop_and_bring_back(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
) -> Result<Vec<StepOutcome>, MigrateError> {
    let mut steps = Vec::new();
    let stopped = {
        let stop = MigrateStep::Stop.id();
        state.begun.contains(&stop) || state.done.contains_key(&stop)
    };
    if ctx.to.is_some() && !state.rolling_back {
        // 1. on B: stopped there, and refused while a copy holds what was written there since
        // its verify (no copy back between engines), before the rollback is recorded: the move
        // stays finished
        if stopped {
            steps.push(stop_services(ctx, journal, state)?);
        }
        bring_back::refuse_newer_on_b(ctx, journal, state)?;
    }
    if !state.rolling_back {
        journal.append(&Record::RollbackBegun)?;
        state.rolling_back = true;
    }
    if ctx.to.is_none() {
        // 1. the services run on the copies: stop them (a run that failed in its pre-copy
        // never stopped them: they still run on their volumes)
        ctx.pause_at(&StepId::Once(OnceStep::RollbackStop), false);
        if stopped {
            steps.push(stop_services(ctx, journal, state)?);
        }
        // 2. what they wrote on the tier goes back into the source, verified
        for n in 0..state.plan.copies.len() {
            steps.extend(bring_back::bring_back(ctx, journal, state, n)?);
        }
    }
    Ok(steps)
}

/// Each step's line on stderr: what the rollback did, when an error follows instead of its
/// report.
fn say_all(ctx: &MigrateContext<'_>, steps: &[StepOutcome]) {
    for step in steps {
        ctx.say(&step.result);
    }
}

fn outcome(journal: &Journal, steps: Vec<StepOutcome>) -> Outcome {
    Outcome {
        journal: journal.path.clone(),
        steps,
        kept: Vec::new(),
        downtime_ms: None,
    }
}

/// A rollback step failed: the commands that work now come from the journal's phase.
fn failed(
    state: &JournalState,
    step: &(impl std::fmt::Display + ?Sized),
    error: impl std::fmt::Display,
) -> MigrateError {
    MigrateError::Blocked {
        message: format!("rollback step `{step}` failed: {error}"),
        hint: format!("fix the cause; {}", journal::next_commands(state.phase())),
    }
}

/// Stop the plan's running services where they run on the copies (this engine, or B); those
/// running are journaled first ([`Record::Running`]), so they are started again even when the
/// migration's stop step never journaled them (a run killed during its stop) or this rollback
/// is killed before it starts them.
fn stop_services(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
) -> Result<StepOutcome, MigrateError> {
    let path = journal.path.display().to_string();
    let fail = |e: EngineError| MigrateError::Blocked {
        message: format!("rollback step `stop` failed: {e}"),
        hint: format!(
            "check that the Docker engine answers, then run `tierctl migrate --rollback --yes` again (journal `{path}`)"
        ),
    };
    let site = ctx.site();
    let swarm = super::swarm_service::of(ctx, &state.plan);
    let running = match &swarm {
        Some(swarm) => swarm.running(),
        None => super::steps::running_services(site.engine, &state.plan),
    }
    .map_err(fail)?;
    if !running.is_empty() {
        journal.append(&Record::Running {
            services: running.clone(),
        })?;
        for service in running {
            if !state.running_before.contains(&service) {
                state.running_before.push(service);
            }
        }
    }
    let stop = StepId::Once(OnceStep::RollbackStop);
    ctx.durable(Durable::ServiceStop, Some(&stop))
        .map_err(|e| failed(state, &stop, e))?;
    let stopped = match &swarm {
        Some(swarm) => swarm
            .stop(state.plan.grace_of(&swarm.service.service))
            .map_err(|e| failed(state, &stop, e))?,
        None => super::steps::stop_plan_services(site.engine, &state.plan).map_err(fail)?,
    };
    let result = match ctx.to.is_some() {
        true => format!("stopped{}: {}", site.on(), list_or_none(&stopped)),
        false => "done".into(),
    };
    Ok(StepOutcome {
        step: "stop".into(),
        result,
    })
}

/// The durable action of the restore: compose files written back, or those written for B
/// removed.
fn restore_action(state: &JournalState) -> Durable {
    match created_for_b(&state.plan) {
        true => Durable::ComposeRemove,
        false => Durable::ComposeRewrite,
    }
}

/// Whether the move wrote new compose files for B beside the originals (`--to-context`); a
/// Swarm service's move rewrote its stack file in place.
fn created_for_b(plan: &MigratePlan) -> bool {
    plan.to_context
        .as_deref()
        .is_some_and(|c| c.swarm.is_none())
}

/// The compose files as they were: each rewritten file written back (compare-and-swap, backed
/// up); for a move to B, each file written for B removed while it holds the text tierctl wrote
/// (the originals were never changed).
fn restore_files(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
) -> Result<StepOutcome, MigrateError> {
    if created_for_b(&state.plan) {
        return remove_created_files(ctx, state);
    }
    let mut files = Vec::new();
    for change in &state.plan.files {
        let current = std::fs::read_to_string(&change.path).map_err(|err| {
            failed(
                state,
                "restore",
                format!("cannot read `{}`: {err}", change.path.display()),
            )
        })?;
        if current != change.old {
            files.push(FileWrite {
                path: change.path.clone(),
                read_hash: write::hash(&current),
                text: change.old.clone(),
            });
        }
    }
    let stamp = format!("{}-rollback", journal.id);
    write::write_all(&files, &stamp).map_err(|err| failed(state, "restore", err))?;
    Ok(StepOutcome {
        step: "restore".into(),
        result: format!("{} file(s) restored", files.len()),
    })
}

/// Remove the files written for B that still hold the text tierctl wrote; each removal is a
/// crash point of the test hook (`rollback:restore`, after).
fn remove_created_files(
    ctx: &MigrateContext<'_>,
    state: &JournalState,
) -> Result<StepOutcome, MigrateError> {
    let mut removed = Vec::new();
    for change in &state.plan.files {
        if std::fs::read_to_string(&change.path).is_ok_and(|t| t == change.new) {
            std::fs::remove_file(&change.path).map_err(|e| {
                failed(
                    state,
                    "restore",
                    format!("cannot remove `{}`: {e}", change.path.display()),
                )
            })?;
            ctx.pause_at(&StepId::Once(OnceStep::RollbackRestore), true);
            removed.push(format!("`{}`", change.path.display()));
        }
    }
    let result = match removed.is_empty() {
        true => "no file written for the other engine to remove".into(),
        false => format!(
            "removed {} (the original compose files were never changed)",
            removed.join(", ")
        ),
    };
    Ok(StepOutcome {
        step: "restore".into(),
        result,
    })
}

/// The copies that stay (without `--discard-copy`), each with the command that removes it.
fn kept_copies(ctx: &MigrateContext<'_>, plan: &MigratePlan) -> Vec<StepOutcome> {
    let site = ctx.site();
    plan.copies
        .iter()
        .filter(|c| site.elsewhere().is_some() || c.job.target.is_dir())
        .map(|copy| StepOutcome {
            step: "keep-copy".into(),
            result: format!(
                "kept the copy in `{}`{} (remove it with `tierctl migrate --rollback --discard-copy --yes`)",
                copy.job.target.display(),
                site.on()
            ),
        })
        .collect()
}

fn start_again(
    ctx: &MigrateContext<'_>,
    _journal: &Journal,
    state: &JournalState,
) -> Result<StepOutcome, MigrateError> {
    if let Some(swarm) = super::swarm_service::of(ctx, &state.plan) {
        // its placement before the move, whether it ran or not: the new node's constraints
        // and binds must not stay
        let start = StepId::Once(OnceStep::RollbackStart);
        ctx.durable(Durable::ServiceUpdate, Some(&start))
            .map_err(|e| failed(state, &start, e))?;
        let service = swarm.service;
        swarm
            .place(&service.before, &service.from_node)
            .map_err(|e| failed(state, "start", e))?;
        return Ok(StepOutcome {
            step: "start".into(),
            result: format!(
                "placed `{}` back on its old node ({} replica(s), its old constraints and binds)",
                service.name, service.before.replicas
            ),
        });
    }
    let running = state.services_to_start();
    if !running.is_empty() {
        let start = StepId::Once(OnceStep::RollbackStart);
        ctx.durable(Durable::ComposeUp, Some(&start))
            .map_err(|e| failed(state, &start, e))?;
        compose_cli::start(
            ctx.compose.as_ref(),
            ctx.engine,
            &state.plan,
            &running,
            None,
        )
        .map_err(|m| failed(state, "start", m))?;
    }
    let on = match &ctx.to {
        Some(_) => " on this engine",
        None => "",
    };
    Ok(StepOutcome {
        step: "start".into(),
        result: format!("started{on}: {}", list_or_none(&running)),
    })
}

/// The refusal of a second rollback of a journal that was rolled back already (without
/// `--discard-copy`, which only removes the copies), with the commands its phase allows.
pub(super) fn already_rolled_back(journal: &Journal, state: &JournalState) -> MigrateError {
    MigrateError::Blocked {
        message: format!(
            "the migration of journal `{}` was already rolled back",
            journal.path.display()
        ),
        hint: journal::next_commands(state.phase()),
    }
}
