//! What a run, a rollback or a prune did, for the report.

use std::path::PathBuf;

use serde::Serialize;

use super::journal::JournalState;
use super::plan::{MigratePlan, MigrateStep};
use crate::engine::MountSource;

/// One step's result, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// The step id.
    pub step: String,
    /// What happened (`done`, `already done`, `skipped: ...`).
    pub result: String,
}

/// A finished run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The journal.
    pub journal: PathBuf,
    /// Every step.
    pub steps: Vec<StepOutcome>,
    /// Source volumes left in place (removed later with `--prune-source`).
    pub kept: Vec<String>,
    /// How long the services were down (their stop to their start), ms; `None` when this run
    /// started none.
    pub downtime_ms: Option<u64>,
}

/// The closing line of a finished migration: which source volumes stay and how to remove them.
pub fn kept_line(kept: &[String]) -> String {
    match kept {
        [] => "done.".into(),
        [one] => format!(
            "done. Source volume {one} kept; remove it with `tierctl migrate --prune-source` after you are happy."
        ),
        many => format!(
            "done. Source volumes {} kept; remove them with `tierctl migrate --prune-source` after you are happy.",
            many.join(", ")
        ),
    }
}

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
