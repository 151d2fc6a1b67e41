//! The journaled step loop: each step of the plan not yet done is journaled as started, run
//! ([`super::steps`]), and journaled as done or failed.

use super::journal::{Journal, JournalState, Record};
use super::outcome::{Outcome, StepOutcome, kept_line, kept_volumes};
use super::plan::{MigratePlan, MigrateStep, describe};
use super::steps::{self, StepInput};
use super::{MigrateContext, MigrateError, state_of};

/// Run (or continue) the journal's migration.
pub fn run(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    records: &[Record],
) -> Result<Outcome, MigrateError> {
    let mut state = state_of(journal, records)?;
    let plan = state.plan.clone();
    let total = plan.steps.len();
    let mut outcome = Outcome {
        journal: journal.path.clone(),
        steps: Vec::new(),
        kept: Vec::new(),
    };
    // a killed run may have left a helper behind (a copy still writing)
    ctx.remove_helpers(&journal.id);
    for (index, step) in plan.steps.iter().enumerate() {
        let label = format!("[{}/{total}] {}", index + 1, describe(&plan, step));
        let done = run_step(ctx, journal, &plan, &mut state, step, &label)?;
        outcome.steps.push(done);
    }
    journal.append(&Record::Finished)?;
    ctx.remove_seed_volumes(&state);
    outcome.kept = kept_volumes(&plan, &state);
    ctx.say(&kept_line(&outcome.kept));
    Ok(outcome)
}

/// One step: skipped when journaled as done, else journaled, run and journaled again.
fn run_step(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    plan: &MigratePlan,
    state: &mut JournalState,
    step: &MigrateStep,
    label: &str,
) -> Result<StepOutcome, MigrateError> {
    let id = step.id();
    if state.done.contains_key(&id) {
        ctx.say(&format!("{label}  already done"));
        return Ok(StepOutcome {
            step: id,
            result: "already done".into(),
        });
    }
    let retried = state.begun.contains(&id);
    journal.append(&Record::Start { step: id.clone() })?;
    ctx.pause_at(&id, false);
    let input = StepInput {
        ctx,
        plan,
        state,
        journal: &journal.id,
        label,
    };
    let executed = steps::execute(&input, step, retried);
    ctx.pause_at(&id, true);
    match executed {
        Ok((detail, result)) => {
            ctx.say(&format!("{label}  {result}"));
            journal.append(&Record::Done {
                step: id.clone(),
                detail: detail.clone(),
            })?;
            state.done.insert(id.clone(), detail);
            Ok(StepOutcome { step: id, result })
        }
        Err(message) => {
            ctx.say(&format!("{label}  failed"));
            journal.append(&Record::Failed {
                step: id.clone(),
                error: message.clone(),
            })?;
            let done = plan
                .steps
                .iter()
                .map(MigrateStep::id)
                .filter(|s| state.done.contains_key(s))
                .collect();
            Err(MigrateError::Step {
                step: id,
                message,
                journal: journal.path.clone(),
                done,
            })
        }
    }
}
