//! `tierctl migrate --prune-source`: after a finished migration, remove each source volume whose
//! copy verified and whose services started on it, journaled like a step.

use super::journal::{Journal, Record};
use super::outcome::{Outcome, StepOutcome, kept_volumes};
use super::plan::{MigrateStep, describe};
use super::steps::{self, StepInput};
use super::{MigrateContext, MigrateError, state_of};

/// Remove the source volumes a finished migration kept.
pub fn prune_sources(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    records: &[Record],
) -> Result<Outcome, MigrateError> {
    let mut state = state_of(journal, records)?;
    if !state.finished || state.rolled_back {
        return Err(MigrateError::Refused(format!(
            "the migration of journal `{}` is not finished (or was rolled back): the source volumes stay",
            journal.path.display()
        )));
    }
    let plan = state.plan.clone();
    let mut steps = Vec::new();
    for n in 0..plan.copies.len() {
        let step = MigrateStep::RemoveSource(n);
        let id = step.id();
        if state.done.contains_key(&id) {
            continue;
        }
        let path = journal.path.clone();
        let fail = |message: String| MigrateError::Step {
            step: id.clone(),
            message,
            journal: path.clone(),
            done: Vec::new(),
        };
        if !state.done.contains_key(&MigrateStep::VerifyMounts.id()) {
            return Err(fail(
                "the services' mounts were not verified: the source stays".into(),
            ));
        }
        journal.append(&Record::Start { step: id.clone() })?;
        let label = describe(&plan, &step);
        let input = StepInput {
            ctx,
            plan: &plan,
            state: &state,
            journal: &journal.id,
            label: &label,
        };
        let (detail, result) = steps::execute(&input, &step, false).map_err(fail)?;
        ctx.say(&format!("{label}  {result}"));
        journal.append(&Record::Done {
            step: id.clone(),
            detail: detail.clone(),
        })?;
        state.done.insert(id.clone(), detail);
        steps.push(StepOutcome { step: id, result });
    }
    Ok(Outcome {
        journal: journal.path.clone(),
        steps,
        kept: kept_volumes(&plan, &state),
    })
}
