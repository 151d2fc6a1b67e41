//! The journaled step loop: each step of the plan not yet done is journaled as started, run
//! ([`super::steps`]), and journaled as done or failed; and what an interrupt does to a run of
//! any mode ([`watch`]): the running helper removed, an `interrupted` record, the next command.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::interrupt;

use super::journal::{Detail, Journal, JournalState, Record};
use super::learned::Learned;
use super::outcome::{Outcome, StepOutcome, kept_line, kept_volumes};
use super::plan::{MigratePlan, MigrateStep, StepId, describe};
use super::steps::{self, StepError, StepInput};
use super::{MigrateContext, MigrateError, state_of};

/// Run (or continue) the journal's migration: on this engine, or to engine B of `--to-context`
/// ([`MigrateContext::to`]); the same loop either way.
pub fn run(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    records: &[Record],
) -> Result<Outcome, MigrateError> {
    let mut state = state_of(journal, records)?;
    journal.fail_with(ctx.failpoints.clone());
    let plan = state.plan.clone();
    let total = plan.steps.len();
    let mut outcome = Outcome {
        journal: journal.path.clone(),
        steps: Vec::new(),
        kept: Vec::new(),
        downtime_ms: None,
    };
    // a killed run may have left a helper behind (a copy still writing)
    ctx.remove_helpers(&journal.id);
    let _watch = watch(ctx, &journal.path, &journal.id, Next::Resume);
    let stop = MigrateStep::Stop.id();
    let stops_first = matches!(plan.steps.first(), Some(MigrateStep::Stop));
    if !stops_first && !state.done.contains_key(&stop) && !state.begun.contains(&stop) {
        // issue 26 row 9: the services running when the run starts, journaled before any step,
        // are started again at the end even when something else stopped them meanwhile (an
        // engine restart during the pre-copy); the stop step adds those it stops (first, with
        // `--stop-first`: then it journals them itself)
        let first = plan.steps.first().map_or(stop, MigrateStep::id);
        journal_running(ctx, journal, &plan, &mut state, &first)?;
    }
    let mut memory = Memory::default();
    for (index, step) in plan.steps.iter().enumerate() {
        let label = format!("[{}/{total}] {}", index + 1, describe(&plan, step));
        let done = run_step(ctx, journal, (&plan, step), &mut state, &label, &mut memory)?;
        outcome.steps.push(done);
    }
    journal.append(&Record::Finished)?;
    ctx.remove_seed_volumes(&state);
    outcome.kept = kept_volumes(&plan, &state);
    outcome.downtime_ms = memory.downtime_ms;
    ctx.say_step(&kept_line(&outcome.kept));
    Ok(outcome)
}

/// What this run's steps learned for its later steps ([`super::learned`]), held by the loop.
#[derive(Default)]
struct Memory {
    /// By copy.
    copies: BTreeMap<usize, Learned>,
    /// When this run's stop step began.
    stopped_at: Option<Instant>,
    /// How long the services were down, once this run's start step started them.
    downtime_ms: Option<u64>,
}

impl Memory {
    /// For a verify step: what this run learned of its copy, taken; nothing for other steps.
    fn take_for(&mut self, step: &MigrateStep) -> Learned {
        match step {
            MigrateStep::Verify(n) => self.copies.remove(n).unwrap_or_default(),
            _ => Learned::default(),
        }
    }

    /// What `step` learned, kept for the later steps of this run (by its copy), and the
    /// downtime once the start step measured it.
    fn remember(&mut self, step: &MigrateStep, learned: Learned, downtime_ms: Option<u64>) {
        if let Some(n) = step.copy() {
            self.copies.entry(n).or_default().update(learned);
        }
        self.downtime_ms = downtime_ms.or(self.downtime_ms);
    }
}

/// One step: skipped when journaled as done, else journaled, run and journaled again.
fn run_step(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    (plan, step): (&MigratePlan, &MigrateStep),
    state: &mut JournalState,
    label: &str,
    memory: &mut Memory,
) -> Result<StepOutcome, MigrateError> {
    let id = step.id();
    if state.done.contains_key(&id) {
        ctx.say_step(&format!("{label}  already done"));
        return Ok(StepOutcome {
            step: id.into(),
            result: "already done".into(),
        });
    }
    let retried = state.begun.contains(&id);
    journal.append(&Record::Start { step: id.clone() })?;
    if matches!(step, MigrateStep::Stop) {
        // before anything stops: what must run again afterwards, whatever happens to this run
        journal_running(ctx, journal, plan, state, &id)?;
    }
    ctx.pause_at(&id, false);
    if matches!(step, MigrateStep::Stop) {
        memory.stopped_at = Some(Instant::now());
    }
    let input = StepInput {
        ctx,
        plan,
        step: &id,
        state,
        journal: &journal.id,
        label,
        stopped_at: memory.stopped_at,
    };
    // the verify takes what this run learned of its copy
    let learned = memory.take_for(step);
    let executed = steps::execute(&input, step, retried, learned);
    ctx.pause_at(&id, true);
    match executed {
        Ok(done) => {
            memory.remember(step, done.learned, done.downtime_ms);
            record_done(ctx, journal, state, id, label, (done.detail, done.line))
        }
        Err(error) => record_failed(ctx, journal, (plan, state), id, label, error),
    }
}

/// A step that ran: its line said, journaled as done with its detail.
fn record_done(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    state: &mut JournalState,
    id: StepId,
    label: &str,
    (detail, result): (Detail, String),
) -> Result<StepOutcome, MigrateError> {
    ctx.say_step(&format!("{label}  {result}"));
    journal.record_done(state, &id, detail)?;
    Ok(StepOutcome {
        step: id.into(),
        result,
    })
}

/// A step that failed: journaled as failed; the error, with the steps done before it.
fn record_failed(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    (plan, state): (&MigratePlan, &JournalState),
    id: StepId,
    label: &str,
    error: StepError,
) -> Result<StepOutcome, MigrateError> {
    // the interrupt handler removed the step's helper: it records and exits, not us
    interrupt::wait_if_requested();
    ctx.say(&format!("{label}  failed"));
    journal.append(&Record::Failed {
        step: id.clone(),
        error: error.to_string(),
    })?;
    Err(step_error(journal, plan, state, &id, error))
}

/// Journal the plan's services that run now ([`Record::Running`]), added to those journaled
/// before: the start step starts every one of them again. A failure to list them fails `step`.
fn journal_running(
    ctx: &MigrateContext<'_>,
    journal: &mut Journal,
    plan: &MigratePlan,
    state: &mut JournalState,
    step: &StepId,
) -> Result<(), MigrateError> {
    let services = steps::running_now(ctx, plan)
        .map_err(|error| step_error(journal, plan, state, step, error.into()))?;
    journal.append(&Record::Running {
        services: services.clone(),
    })?;
    for service in services {
        if !state.running_before.contains(&service) {
            state.running_before.push(service);
        }
    }
    Ok(())
}

/// The error for a failed step, with the steps done before it.
fn step_error(
    journal: &Journal,
    plan: &MigratePlan,
    state: &JournalState,
    id: &StepId,
    error: StepError,
) -> MigrateError {
    let done = plan
        .steps
        .iter()
        .map(MigrateStep::id)
        .filter(|s| state.done.contains_key(s))
        .collect();
    MigrateError::Step {
        step: id.clone(),
        error: Box::new(error),
        journal: journal.path.clone(),
        done,
    }
}

/// What the user runs after an interrupt, by the mode that was interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A migration (new or resumed): `--resume` finishes it, `--rollback` undoes it.
    Resume,
    /// A rollback: `--rollback` again.
    Rollback,
    /// Removing the kept sources: `--prune-source` again.
    Prune,
}

/// While the returned guard lives, a SIGINT/SIGTERM/SIGHUP removes this journal's helper
/// containers, appends an `interrupted` record, prints what happened and the next command, and
/// exits with status 130 ([`crate::interrupt`]).
pub fn watch(ctx: &MigrateContext<'_>, path: &Path, id: &str, next: Next) -> interrupt::Guard {
    let (path, id) = (path.to_path_buf(), id.to_owned());
    let cleanup = ctx.helper_cleanup.clone();
    let invocation = ctx.invocation.clone();
    interrupt::on_interrupt(move || {
        let state = Journal::open(&path)
            .ok()
            .and_then(|(mut journal, records)| {
                let state = JournalState::of(&records)?;
                let step = state.begun.last().cloned();
                let _ = journal.append(&Record::Interrupted { step });
                Some(state)
            });
        let removed = cleanup.as_ref().map(|remove| remove(&id)).is_some();
        eprintln!(
            "{}",
            interrupted_message(&path, state.as_ref(), removed, &invocation, next)
        );
    })
}

/// What an interrupt did and what to run next (pure).
pub fn interrupted_message(
    path: &Path,
    state: Option<&JournalState>,
    helpers_removed: bool,
    invocation: &[String],
    next: Next,
) -> String {
    let step = state
        .and_then(|s| s.begun.last().cloned())
        .map(|s| format!(" during step `{s}`"))
        .unwrap_or_default();
    let helpers = if helpers_removed {
        "any helper container it ran was removed"
    } else {
        "any helper container it ran is removed by the next run"
    };
    let services = state.map(|s| {
        let mut running = s.running_services();
        for service in &s.running_before {
            if !running.contains(service) {
                running.push(service.clone());
            }
        }
        running
    });
    let services = match services {
        Some(s) if !s.is_empty() => format!(
            "; services running before the migration (started again by the next command): {}",
            s.join(", ")
        ),
        _ => String::new(),
    };
    let command = |mode: &str| next_command(invocation, mode);
    let what = match next {
        Next::Resume => format!(
            "next: `{}` to finish, or `{}` to undo",
            command("--resume"),
            command("--rollback")
        ),
        Next::Rollback => format!("next: `{}` to finish undoing", command("--rollback")),
        Next::Prune => format!("next: `{}` to finish", command("--prune-source")),
    };
    format!(
        "interrupted{step}: {helpers}; the state is recorded in the journal `{}`{services}\n{what}",
        path.display()
    )
}

/// `tierctl <the user's global arguments> migrate <mode>`, quoted for a POSIX shell.
pub fn next_command(invocation: &[String], mode: &str) -> String {
    let mut words = vec!["tierctl".to_owned()];
    words.extend(invocation.iter().map(|w| shell_word(w)));
    words.extend(["migrate".to_owned(), mode.to_owned()]);
    words.join(" ")
}

fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-=:@,+%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::plan::MigratePlan;

    #[test]
    fn the_next_command_repeats_the_users_arguments_quoted() {
        let invocation = vec![
            "-f".into(),
            "my compose.yml".into(),
            "-p".into(),
            "app".into(),
        ];
        assert_eq!(
            next_command(&invocation, "--resume"),
            "tierctl -f 'my compose.yml' -p app migrate --resume"
        );
        assert_eq!(
            next_command(&[], "--rollback"),
            "tierctl migrate --rollback"
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn the_interrupt_message_names_the_step_the_services_and_both_next_commands() {
        let records = vec![
            Record::Begin {
                version: crate::migrate::journal::FORMAT,
                plan: MigratePlan::default(),
            },
            Record::Start {
                step: MigrateStep::Stop.id(),
            },
            Record::Running {
                services: vec!["db".into()],
            },
            Record::Done {
                step: MigrateStep::Stop.id(),
                detail: crate::migrate::journal::Detail::Stopped {
                    running: vec!["db".into(), "web".into()],
                    at_ms: None,
                },
            },
            Record::Start {
                step: MigrateStep::Copy(0).id(),
            },
        ];
        let state = JournalState::of(&records);
        let text = interrupted_message(
            Path::new("/p/.tierctl/journal-1.jsonl"),
            state.as_ref(),
            true,
            &["-p".into(), "app".into()],
            Next::Resume,
        );
        assert_eq!(
            text,
            "interrupted during step `copy:0`: any helper container it ran was removed; the state is recorded in the journal `/p/.tierctl/journal-1.jsonl`; services running before the migration (started again by the next command): db, web\n\
             next: `tierctl -p app migrate --resume` to finish, or `tierctl -p app migrate --rollback` to undo"
        );
        let text = interrupted_message(Path::new("/j"), None, false, &[], Next::Rollback);
        assert!(
            text.ends_with("next: `tierctl migrate --rollback` to finish undoing"),
            "{text}"
        );
    }
}
