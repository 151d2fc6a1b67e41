//! `--discard-copy`: once the project runs on its sources again, the copies this journal made
//! are removed, the last first (wiped by a helper, then the directories it created), each only when it still
//! equals its journaled (verified) manifest and nothing uses it: no compose file nor container
//! here, no running container of the project on B. A copy without a verified manifest goes
//! only when no service was ever pointed at it. A copy with newer data stays, whatever the
//! flags.

use std::path::Path;

use super::bring_back::tier_manifest;
use super::failed;
use crate::compose::model::ComposeProject;
use crate::engine::{MountSource, Selector};
use crate::migrate::copy::CopyJob;
use crate::migrate::durable::Durable;
use crate::migrate::journal::{self, Detail, Journal, JournalState, Record, discard_step};
use crate::migrate::outcome::StepOutcome;
use crate::migrate::preflight::topmost_missing;
use crate::migrate::prune::{Reload, users};
use crate::migrate::tree::manifest::{self, Rules};
use crate::migrate::{MigrateContext, MigrateError, tier_dirs};

/// Remove the copies this journal made (wiped by a helper, then the directories it created),
/// each only when it still equals its journaled manifest and nothing uses it.
pub(super) fn discard_copies(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
    reload: Reload<'_>,
) -> Result<Vec<StepOutcome>, MigrateError> {
    let project = reload().map_err(|e| MigrateError::Blocked {
        message: format!("the copies stay: the compose project cannot be loaded to check who uses them: {e}"),
        hint: "fix the compose files, then run `tierctl migrate --rollback --discard-copy --yes` again".into(),
    })?;
    refuse_running_on_b(ctx, state)?;
    let site = ctx.site();
    let on = site.on();
    let mut steps = Vec::new();
    // the last copy first: a directory an earlier copy's create step made may hold a later
    // copy's, and is removed only once that one is gone (issue 20, found on the fake)
    for (n, copy) in state.plan.copies.clone().iter().enumerate().rev() {
        if !state.copy_kept(n) {
            continue;
        }
        let target = &copy.job.target;
        let is_dir =
            tier_dirs::is_dir(&site, target).map_err(|m| failed(state, &discard_step(n), m))?;
        if !is_dir && ctx.to.is_some() {
            steps.push(StepOutcome {
                step: discard_step(n).into(),
                result: format!(
                    "the copy `{}` is not{on}: nothing to remove",
                    target.display()
                ),
            });
            continue;
        }
        if is_dir {
            unchanged(ctx, journal, state, &copy.job, n)?;
            unused(ctx, &project, target)?;
        }
        steps.push(discard_copy(ctx, journal, state, target, n)?);
    }
    Ok(steps)
}

/// Refuse to discard the copy in `target` while a compose file or container here uses it (on
/// B: the project's containers there, checked before any copy).
fn unused(
    ctx: &MigrateContext<'_>,
    project: &ComposeProject,
    target: &Path,
) -> Result<(), MigrateError> {
    if ctx.to.is_some() {
        return Ok(());
    }
    let using = users(ctx, project, &MountSource::Bind(target.to_path_buf()))?;
    if using.is_empty() {
        return Ok(());
    }
    Err(MigrateError::Blocked {
        message: format!(
            "the copy in `{}` stays: it is in use by {}",
            target.display(),
            using.join(", ")
        ),
        hint: "nothing was removed; it is live data now: keep it, or stop and remove what uses it and run `tierctl migrate --rollback --discard-copy --yes` again".into(),
    })
}

/// Copy `n`'s removal as a journaled step: started, removed ([`remove_copy`]), done.
fn discard_copy(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
    target: &Path,
    n: usize,
) -> Result<StepOutcome, MigrateError> {
    let id = discard_step(n);
    ctx.pause_at(&id, false);
    journal.append(&Record::Start { step: id.clone() })?;
    remove_copy(ctx, journal, state, target, n)?;
    ctx.pause_at(&id, true);
    journal.record_done(state, &id, Detail::None)?;
    Ok(StepOutcome {
        step: id.into(),
        result: format!(
            "removed the copy in `{}`{} (still the verified copy: nothing newer was written there)",
            target.display(),
            ctx.site().on()
        ),
    })
}

/// Refuse to discard copy `n` when it is not what its journaled manifest says (something wrote
/// to it), or when it may have been used and no manifest was kept.
fn unchanged(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    job: &CopyJob,
    n: usize,
) -> Result<(), MigrateError> {
    let target = job.target.display();
    let Some(kept) = state.manifest_of(n) else {
        if state.rewrite_began() {
            return Err(MigrateError::Blocked {
                message: format!(
                    "the copy in `{target}` stays: the journal kept no verified manifest of it, so tierctl cannot tell whether a service wrote to it"
                ),
                hint: format!(
                    "nothing was removed; check what it holds and remove it by hand (`rm -rf {target}`) if nothing there is needed"
                ),
            });
        }
        // a partial copy of a migration that never pointed a service at it
        return Ok(());
    };
    let kept = journal::load_manifest(&journal::dir(&state.plan.project_dir), kept)?;
    let now = tier_manifest(ctx, &journal.id, job, kept.digest)
        .map_err(|m| failed(state, &discard_step(n), m))?;
    let differences = manifest::compare(&kept, &now, Rules::default());
    if differences.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = differences.iter().take(5).map(|d| d.to_string()).collect();
    if let Some(b) = &ctx.to {
        // nothing to fix: newer data is never discarded
        return Err(MigrateError::Blocked {
            message: format!(
                "the copy `{target}` on `{}` stays: it changed since it was verified, in {} place(s) ({}): it holds data newer than this engine's",
                b.context,
                differences.len(),
                shown.join("; ")
            ),
            hint: format!(
                "nothing more was removed, and tierctl never removes this copy: it holds the only copy of what was written on `{}`; take what you need from `{target}` there, then remove that directory yourself if you no longer want it",
                b.context
            ),
        });
    }
    Err(MigrateError::Blocked {
        message: format!(
            "the copy in `{target}` stays: it changed since its copy verified, in {} place(s) ({}): something wrote to it after the migration",
            differences.len(),
            shown.join("; ")
        ),
        hint: format!(
            "nothing was removed; copy what you need from it into the volume, then remove it by hand (`rm -rf {target}`)"
        ),
    })
}

/// Wipe copy `n`'s directory with a helper, then remove the directories this journal created.
fn remove_copy(
    ctx: &MigrateContext<'_>,
    journal: &Journal,
    state: &JournalState,
    target: &Path,
    n: usize,
) -> Result<(), MigrateError> {
    let create = crate::migrate::plan::MigrateStep::CreateDir(n).id();
    let made = match state.done.get(&create) {
        Some(Detail::Created { made }) => made.clone(),
        // never journaled as created: only what this machine shows lies above it
        _ if ctx.site().elsewhere().is_none() => topmost_missing(target),
        _ => None,
    };
    let id = discard_step(n);
    ctx.durable(Durable::CopyRemove, Some(&id))
        .map_err(|m| failed(state, &id, m))?;
    tier_dirs::remove(&ctx.site(), target, made.as_deref(), &journal.id)
        .map_err(|m| failed(state, &id, m))
}

/// Refused while a container of the project runs on B: it may be writing to the copies.
fn refuse_running_on_b(ctx: &MigrateContext<'_>, state: &JournalState) -> Result<(), MigrateError> {
    let Some(b) = &ctx.to else {
        return Ok(());
    };
    let project = &state.plan.project;
    let on_b = b
        .engine
        .list(&Selector::Project(project.clone()))
        .map_err(|e| MigrateError::Blocked {
            message: format!("cannot list the project's containers on `{}`: {e}", b.context),
            hint: "nothing was removed; run `tierctl migrate --rollback --discard-copy` again once the engine answers".into(),
        })?;
    let running: Vec<String> = on_b
        .iter()
        .filter(|c| c.running)
        .map(|c| c.name.clone())
        .collect();
    if running.is_empty() {
        return Ok(());
    }
    Err(MigrateError::Blocked {
        message: format!(
            "the copies on `{}` stay: container(s) {} of project `{project}` run there and may write to them",
            b.context,
            running.join(", ")
        ),
        hint: format!(
            "nothing was removed; stop them (`docker --context {} compose -p {project} stop`), then run `tierctl migrate --rollback --discard-copy` again",
            b.context
        ),
    })
}
