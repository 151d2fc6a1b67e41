//! One function per migrate step. Each returns what the journal records ([`Detail`]) and a line
//! for the report, or why it failed.

mod catch_up;
mod error;
mod fill;
mod finish;
mod stop;
mod verify;

use std::time::Instant;

use super::MigrateContext;
use super::durable::{Durable, Injected};
use super::journal::{Detail, JournalState};
use super::learned::{Learned, StepDone};
use super::plan::{MigratePlan, MigrateStep, StepId};
use super::stream;
use super::tier_dirs;
use crate::engine::HelperSpec;

use catch_up::delta_copy;
pub use error::{StepError, counted};
use fill::{copy_data, pre_copy};
pub use finish::downtime_ms;
use finish::{remove_source, rewrite, start, verify_mounts};
pub use stop::{
    refuse_killed, running_now, running_services, stop, stop_containers, stop_plan_services,
};
use verify::{pre_verify, verify_copy};

/// What a step runs with.
pub struct StepInput<'a> {
    /// The context.
    pub ctx: &'a MigrateContext<'a>,
    /// The plan.
    pub plan: &'a MigratePlan,
    /// The step that runs (its durable actions' failpoints name it).
    pub step: &'a StepId,
    /// What the journal says is done.
    pub state: &'a JournalState,
    /// The journal id (labels helpers, names backups and seed volumes).
    pub journal: &'a str,
    /// The step's label for progress.
    pub label: &'a str,
    /// When this run stopped the services (a resumed run that did not: the journaled time).
    pub stopped_at: Option<Instant>,
}

impl StepInput<'_> {
    /// The failpoint in front of durable `action` of this step ([`MigrateContext::durable`]).
    pub fn durable(&self, action: Durable) -> Result<(), Injected> {
        self.ctx.durable(action, Some(self.step))
    }
}

/// What a step left for the journal and its line for the report; or why it failed.
pub type StepResult = Result<(Detail, String), StepError>;

/// What a step did, with what it learned for a later step ([`StepDone`]); or why it failed.
pub type Stepped = Result<StepDone, StepError>;

/// Run one step; `retried`: its start was journaled before (a resumed run). The copies take
/// the path between two engines ([`stream`]) when the project moves to engine B
/// ([`MigrateContext::to`]); every other step is the same wherever the trees live.
///
/// `learned`: what earlier steps of this run learned about the step's copy, for its verify
/// ([`super::learned`]); the step returns what it learned.
pub fn execute(
    input: &StepInput<'_>,
    step: &MigrateStep,
    retried: bool,
    learned: Learned,
) -> Stepped {
    // the tiers are there (issue 21 item 6)
    tier_dirs::present(input.ctx, input.plan).map_err(StepError::TierAbsent)?;
    let to = input.ctx.to.as_ref();
    let plain = match (step, to) {
        (MigrateStep::Stop, _) => stop(input),
        (MigrateStep::CreateDir(n), _) => create_dir(input, *n, retried),
        (MigrateStep::PreCopy(n), Some(b)) => stream::pre_copy(b, input, *n, retried),
        (MigrateStep::PreCopy(n), None) => pre_copy(input, *n, retried),
        (MigrateStep::Copy(n), Some(b)) => stream::copy(b, input, *n, retried),
        (MigrateStep::Copy(n), None) => return copy_data(input, *n, retried),
        (MigrateStep::Delta(n), Some(b)) => return stream::delta(b, input, *n),
        (MigrateStep::Delta(n), None) => delta_copy(input, *n),
        (MigrateStep::Verify(n), Some(b)) => stream::verify(b, input, *n, learned),
        (MigrateStep::Verify(n), None) => verify_copy(input, *n, retried, learned),
        (MigrateStep::PreVerify(n), None) => return pre_verify(input, *n),
        (MigrateStep::PreVerify(_), Some(b)) => Err(StepError::NotPlannedAcross {
            step: step.clone(),
            context: b.context.clone(),
        }),
        (MigrateStep::Rewrite, _) => rewrite(input),
        (MigrateStep::Start, _) => return start(input),
        (MigrateStep::VerifyMounts, _) => verify_mounts(input),
        (MigrateStep::RemoveSource(n), _) => remove_source(input, *n),
    };
    plain.map(StepDone::from)
}

pub(super) fn create_dir(input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    let target = &input.plan.copies[n].job.target;
    input.durable(Durable::TierDirCreate)?;
    Ok(tier_dirs::create(
        &input.ctx.site(),
        target,
        input.journal,
        retried,
    )?)
}

pub(super) fn run_helper(input: &StepInput<'_>, spec: &HelperSpec) -> Result<String, StepError> {
    input.durable(Durable::HelperRun)?;
    Ok(input.ctx.engine.run_to_end(spec)?)
}

/// The services, or that none was running.
pub fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none was running".into()
    } else {
        items.join(", ")
    }
}
