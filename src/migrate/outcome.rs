//! What a run, a rollback or a prune did, for the report (the types are `report`'s: the
//! core renders them; the run fills them).

use super::journal::JournalState;
use super::plan::{MigratePlan, MigrateStep};
use crate::engine::MountSource;
pub use crate::report::reports::{Outcome, StepOutcome, kept_line};

/// The source volumes of `plan` whose removal is not journaled as done.
pub(super) fn kept_volumes(plan: &MigratePlan, progress: &JournalState) -> Vec<String> {
    plan.copies
        .iter()
        .enumerate()
        .filter(|(n, _)| {
            !progress
                .done
                .contains_key(&MigrateStep::RemoveSource(*n).id())
        })
        .filter_map(|(_, c)| match &c.job.source {
            MountSource::Volume(name) => Some(name.clone()),
            MountSource::Bind(_) => None,
        })
        .collect()
}
