//! `tierctl migrate --rollback`: stop the services, write the files back as they were, start
//! the services that were running on their old volumes. The copies stay (the user may still
//! want them) unless `discard_copy`: then only the copies this journal made are removed.

use super::compose_cli;
use super::copy;
use super::journal::{Detail, Journal, JournalState, Record};
use super::outcome::{Outcome, StepOutcome};
use super::plan::{MigratePlan, MigrateStep};
use super::preflight::topmost_missing;
use super::steps::list_or_none;
use super::{MigrateContext, MigrateError, state_of};
use crate::engine::Selector;
use crate::write::{self, FileWrite};

/// Undo the journal's migration. Refused once a source volume was removed. On a journal
/// already rolled back, only `discard_copy` has something left to do.
pub fn rollback(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    records: &[Record],
    discard_copy: bool,
) -> Result<Outcome, MigrateError> {
    let state = state_of(journal, records)?;
    if state.rolled_back {
        if !discard_copy {
            return Err(MigrateError::Refused(format!(
                "the migration of journal `{}` was already rolled back (add `--discard-copy` to remove the copies it kept)",
                journal.path.display()
            )));
        }
        let steps = discard_copies(ctx, journal, &state)?;
        return Ok(outcome(journal, steps));
    }
    if state.done.keys().any(|k| k.starts_with("remove-source:")) {
        return Err(MigrateError::Refused(
            "a source volume was already removed: the copy is the only data left, so it is not rolled back".into(),
        ));
    }
    ctx.remove_helpers(&journal.id);
    let mut steps = Vec::new();
    // 1. the services run on the copies: stop them
    steps.push(stop_services(ctx, journal, &state.plan)?);
    // 2. the files, byte for byte
    steps.push(restore_files(journal, &state.plan)?);
    // 3. the copies stay unless asked: only the ones this journal made go
    if discard_copy {
        steps.extend(discard_copies(ctx, journal, &state)?);
    } else {
        steps.extend(kept_copies(&state.plan));
    }
    // 4. the services that ran, on their old volumes
    steps.push(start_again(ctx, journal, &state)?);
    ctx.remove_seed_volumes(&state);
    journal.append(&Record::RolledBack)?;
    Ok(outcome(journal, steps))
}

fn outcome(journal: &Journal, steps: Vec<StepOutcome>) -> Outcome {
    Outcome {
        journal: journal.path.clone(),
        steps,
        kept: Vec::new(),
    }
}

fn failed(journal: &Journal, step: &str, message: String) -> MigrateError {
    MigrateError::Step {
        step: step.to_owned(),
        message,
        journal: journal.path.clone(),
        done: Vec::new(),
    }
}

fn stop_services(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    plan: &MigratePlan,
) -> Result<StepOutcome, MigrateError> {
    let fail = |e: crate::engine::EngineError| failed(journal, "stop", e.to_string());
    let containers = ctx
        .engine
        .list(&Selector::Project(plan.project.clone()))
        .map_err(fail)?;
    for c in containers.iter().filter(|c| {
        c.running
            && c.service
                .as_ref()
                .is_some_and(|s| plan.services.contains(s))
    }) {
        let grace = plan.grace_of(c.service.as_deref().unwrap_or_default());
        ctx.engine.stop(&c.id, grace).map_err(fail)?;
    }
    Ok(StepOutcome {
        step: "stop".into(),
        result: "done".into(),
    })
}

fn restore_files(journal: &Journal, plan: &MigratePlan) -> Result<StepOutcome, MigrateError> {
    let mut files = Vec::new();
    for change in &plan.files {
        let current = std::fs::read_to_string(&change.path).map_err(|err| {
            failed(
                journal,
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
    write::write_all(&files, &stamp).map_err(|err| failed(journal, "restore", err.to_string()))?;
    Ok(StepOutcome {
        step: "restore".into(),
        result: format!("{} file(s) restored", files.len()),
    })
}

fn kept_copies(plan: &MigratePlan) -> Vec<StepOutcome> {
    plan.copies
        .iter()
        .filter(|c| c.job.target.is_dir())
        .map(|copy| StepOutcome {
            step: "keep-copy".into(),
            result: format!(
                "kept the copy in `{}` (remove it with `tierctl migrate --rollback --discard-copy`)",
                copy.job.target.display()
            ),
        })
        .collect()
}

fn start_again(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
) -> Result<StepOutcome, MigrateError> {
    let running = state.running_services();
    if !running.is_empty() {
        compose_cli::start(ctx.compose.as_ref(), &state.plan, &running)
            .map_err(|m| failed(journal, "start", m))?;
    }
    Ok(StepOutcome {
        step: "start".into(),
        result: format!("started: {}", list_or_none(&running)),
    })
}

/// Remove the copies this journal made (wiped by a helper, then the directories it created).
fn discard_copies(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
) -> Result<Vec<StepOutcome>, MigrateError> {
    let mut steps = Vec::new();
    for (n, copy) in state.plan.copies.iter().enumerate() {
        let create = MigrateStep::CreateDir(n).id();
        let made = match state.done.get(&create) {
            Some(Detail::Created { made }) => made.clone(),
            _ if state.begun.contains(&create) => topmost_missing(&copy.job.target),
            _ => continue,
        };
        let target = &copy.job.target;
        if target.is_dir() {
            ctx.engine
                .run_to_end(&copy::wipe_spec(target, &ctx.image, &journal.id))
                .map_err(|err| failed(journal, "remove-copy", err.to_string()))?;
        }
        if let Some(top) = made {
            let mut dir = Some(target.as_path());
            while let Some(d) = dir {
                let _ = std::fs::remove_dir(d);
                if d == top {
                    break;
                }
                dir = d.parent();
            }
        }
        steps.push(StepOutcome {
            step: format!("remove-copy:{n}"),
            result: format!("removed the copy in `{}`", target.display()),
        });
    }
    Ok(steps)
}
