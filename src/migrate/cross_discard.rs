//! `tierctl migrate --rollback --discard-copy` of a move to another engine: once the project
//! runs on A again, each copy on B is removed only when it is still the verified copy (its
//! manifest, computed on B, equals the one the journal kept) and nothing of the project runs on
//! B; a copy without a verified manifest goes only when no service was ever pointed at it (the
//! compose file for B was never written). A copy with newer data stays, whatever the flags.

use super::cross_host::{OtherHost, engine_error, root_of};
use super::cross_plan as xp;
use super::journal::{self, Detail, Journal, JournalState, Record};
use super::tree::manifest::{self, Rules};
use super::{MigrateContext, MigrateError};
use crate::engine::{HelperOutput, MountSource, Selector};

/// Remove the copies on B this journal made and still keeps; one line per copy removed.
pub fn discard(
    ctx: &MigrateContext<'_>,
    b: &OtherHost<'_>,
    journal: &mut Journal,
    state: &JournalState,
) -> Result<Vec<String>, MigrateError> {
    refuse_running_on_b(b, state)?;
    let mut lines = Vec::new();
    for (n, copy) in state.plan.copies.iter().enumerate() {
        if !state.copy_kept(n) {
            continue;
        }
        let target = &copy.job.target;
        if !still_the_copy(ctx, b, journal, state, n)? {
            lines.push(format!(
                "the copy `{}` is not on `{}`: nothing to remove",
                target.display(),
                b.context
            ));
        } else {
            let (root, rel) = root_of(&state.plan, n).map_err(|m| stays(b, target, m))?;
            let step = journal::discard_step(n);
            journal.append(&Record::Start { step: step.clone() })?;
            let spec = xp::remove_spec(root, &rel, &ctx.image, &journal.id).ok_or_else(|| {
                stays(
                    b,
                    target,
                    format!("`{rel}` is not below the tier root `{}`", root.display()),
                )
            })?;
            b.engine
                .run_to_end(&spec)
                .map_err(|e| stays(b, target, engine_error(e)))?;
            journal.append(&Record::Done {
                step,
                detail: Detail::None,
            })?;
            lines.push(format!(
                "removed the copy `{}` on `{}` (still the verified copy: nothing newer was written there)",
                target.display(),
                b.context
            ));
        }
    }
    if lines.is_empty() {
        lines.push(format!("no copy left on `{}` to remove", b.context));
    }
    Ok(lines)
}

fn stays(b: &OtherHost<'_>, target: &std::path::Path, why: String) -> MigrateError {
    MigrateError::Blocked {
        message: format!(
            "the copy `{}` on `{}` stays: {why}",
            target.display(),
            b.context
        ),
        hint: "nothing more was removed; fix the cause and run `tierctl migrate --rollback --discard-copy` again".into(),
    }
}

/// Refuse while a container of the project runs on B (it may be writing to the copies).
fn refuse_running_on_b(b: &OtherHost<'_>, state: &JournalState) -> Result<(), MigrateError> {
    let project = &state.plan.project;
    let on_b = b
        .engine
        .list(&Selector::Project(project.clone()))
        .map_err(|e| MigrateError::Blocked {
            message: format!("cannot list the project's containers on `{}`: {}", b.context, engine_error(e)),
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

/// Whether copy `n` is on B and may go: `Ok(false)` when it is gone already; an error (it
/// stays) when it differs from its verified manifest, or has none and a service may have used
/// it.
fn still_the_copy(
    ctx: &MigrateContext<'_>,
    b: &OtherHost<'_>,
    journal: &Journal,
    state: &JournalState,
    n: usize,
) -> Result<bool, MigrateError> {
    let target = &state.plan.copies[n].job.target;
    let spec = xp::manifest_spec(
        &MountSource::Bind(target.clone()),
        xp::TO,
        &ctx.image,
        &journal.id,
    );
    let text = match b.engine.run_helper(&spec) {
        Ok(HelperOutput::Ran(text)) => text,
        Ok(HelperOutput::SourceMissing { .. }) => return Ok(false),
        Err(e) => return Err(stays(b, target, engine_error(e))),
    };
    let now = xp::parse_manifest(&text, xp::TO).map_err(|m| stays(b, target, m.to_string()))?;
    let Some(kept) = state.manifest_of(n) else {
        if state.rewrite_began() {
            return Err(stays(
                b,
                target,
                "the journal kept no verified manifest of it, so tierctl cannot tell whether a service wrote to it".into(),
            ));
        }
        // a partial copy of a move that never pointed a service at it
        return Ok(true);
    };
    let verified = journal::load_manifest(&journal::dir(&state.plan.project_dir), kept)?;
    let differences = manifest::compare(&verified, &now, Rules::default());
    if differences.is_empty() {
        return Ok(true);
    }
    let shown: Vec<String> = differences.iter().take(5).map(|d| d.to_string()).collect();
    let mut error = stays(
        b,
        target,
        format!(
            "it changed since it was verified, in {} place(s) ({}): it holds data newer than this engine's",
            differences.len(),
            shown.join("; ")
        ),
    );
    if let MigrateError::Blocked { hint, .. } = &mut error {
        // nothing to fix: newer data is never discarded
        *hint = format!(
            "nothing more was removed, and tierctl never removes this copy: it holds the only copy of what was written on `{}`; take what you need from `{}` there, then remove that directory yourself if you no longer want it",
            b.context,
            target.display()
        );
    }
    Err(error)
}
