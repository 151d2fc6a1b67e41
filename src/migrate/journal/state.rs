//! What a journal says about its migration (pure): the phase and the commands that work in it.

use std::collections::BTreeMap;

use super::{Detail, ManifestRef, Record, discard_step, reverse_step};
use crate::engine::MountSource;
use crate::migrate::plan::{CopyStep, MigratePlan, MigrateStep, StepId};

/// What a journal says about its migration (pure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalState {
    /// The plan.
    pub plan: MigratePlan,
    /// Finished steps and what they left.
    pub done: BTreeMap<StepId, Detail>,
    /// Steps begun and not finished.
    pub begun: Vec<StepId>,
    /// The last failure: the step and why.
    pub failed: Option<(StepId, String)>,
    /// Every step finished.
    pub finished: bool,
    /// A rollback began.
    pub rolling_back: bool,
    /// Rolled back.
    pub rolled_back: bool,
    /// The services recorded running before the stop step ([`Record::Running`]).
    pub running_before: Vec<String>,
    /// The last run was interrupted by a signal.
    pub interrupted: bool,
}

/// Where a journaled migration stands, for the next command a message names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No journal at all.
    NoJournal,
    /// Unfinished: `--resume` continues it, `--rollback` undoes it.
    Open,
    /// A rollback began and did not finish: only `--rollback` finishes it.
    RollingBack,
    /// Every step done; `sources_kept`: a source volume is still there to prune;
    /// `source_removed`: one is gone already (its copy is the only data: no rollback).
    Finished {
        /// A source volume was kept.
        sources_kept: bool,
        /// A source volume was removed.
        source_removed: bool,
    },
    /// Rolled back; `copies_kept`: a copy it made is still there to discard.
    RolledBack {
        /// A copy directory was kept.
        copies_kept: bool,
    },
}

/// The commands that work in `phase`, as the `hint:` of a message (pure: the one place that
/// chooses them, so no message names a command the journal would refuse).
pub fn next_commands(phase: Phase) -> String {
    match phase {
        Phase::NoJournal => "run `tierctl migrate` to plan a migration".into(),
        Phase::Open => "run `tierctl migrate --resume` to continue the migration, or `tierctl migrate --rollback --yes` to undo it".into(),
        Phase::RollingBack => "a rollback began and did not finish: run `tierctl migrate --rollback --yes` to finish it (`--resume` is refused)".into(),
        Phase::Finished {
            sources_kept: true,
            source_removed: false,
        } => "the migration is finished: `tierctl migrate --prune-source --yes` removes the source volumes it kept, `tierctl migrate --rollback --yes` undoes it".into(),
        Phase::Finished {
            sources_kept: true,
            source_removed: true,
        } => "the migration is finished and a source volume is removed already, so it cannot be rolled back: `tierctl migrate --prune-source --yes` removes the other source volumes it kept".into(),
        Phase::Finished {
            sources_kept: false,
            ..
        } => "the migration is finished and its source volumes are removed: the tier directories hold the only data, so there is nothing to resume or roll back; `tierctl migrate` plans a new migration".into(),
        Phase::RolledBack { copies_kept: true } => "the migration was rolled back: `tierctl migrate --rollback --discard-copy --yes` removes the copies it kept; `tierctl migrate` plans a new migration".into(),
        Phase::RolledBack { copies_kept: false } => "the migration was rolled back: `tierctl migrate` plans a new migration".into(),
    }
}

/// The phase of the newest journal (`None`: no journal).
pub fn phase_of(state: Option<&JournalState>) -> Phase {
    state.map_or(Phase::NoJournal, JournalState::phase)
}

impl JournalState {
    /// Fold the records (the first must be `Begin`).
    pub fn of(records: &[Record]) -> Option<JournalState> {
        let Some(Record::Begin { plan, .. }) = records.first() else {
            return None;
        };
        let mut progress = JournalState {
            plan: plan.clone(),
            done: BTreeMap::new(),
            begun: Vec::new(),
            failed: None,
            finished: false,
            rolling_back: false,
            rolled_back: false,
            running_before: Vec::new(),
            interrupted: false,
        };
        for record in &records[1..] {
            match record {
                Record::Begin { .. } => {}
                Record::Start { step } => {
                    if !progress.begun.contains(step) {
                        progress.begun.push(step.clone());
                    }
                }
                Record::Done { step, detail } => {
                    progress.begun.retain(|s| s != step);
                    progress.done.insert(step.clone(), detail.clone());
                }
                Record::Failed { step, error } => {
                    progress.failed = Some((step.clone(), error.clone()));
                }
                Record::Finished => progress.finished = true,
                Record::RollbackBegun => progress.rolling_back = true,
                Record::RolledBack => progress.rolled_back = true,
                Record::Running { services } => {
                    for service in services {
                        if !progress.running_before.contains(service) {
                            progress.running_before.push(service.clone());
                        }
                    }
                }
                Record::Interrupted { .. } => progress.interrupted = true,
            }
        }
        Some(progress)
    }

    /// Neither finished nor rolled back.
    pub fn is_open(&self) -> bool {
        !self.finished && !self.rolled_back
    }

    /// Where the migration stands.
    pub fn phase(&self) -> Phase {
        if self.rolled_back {
            Phase::RolledBack {
                copies_kept: (0..self.plan.copies.len()).any(|n| self.copy_kept(n)),
            }
        } else if self.rolling_back {
            Phase::RollingBack
        } else if self.finished {
            let removed = |n: usize| self.done.contains_key(&MigrateStep::RemoveSource(n).id());
            let volumes = || {
                (0..self.plan.copies.len())
                    .filter(|n| matches!(self.plan.copies[*n].job.source, MountSource::Volume(_)))
            };
            Phase::Finished {
                sources_kept: volumes().any(|n| !removed(n)),
                source_removed: volumes().any(removed),
            }
        } else {
            Phase::Open
        }
    }

    /// Whether a source volume's removal was journaled as done (the copy is then the only data).
    pub fn source_removed(&self) -> bool {
        self.done.keys().any(|id| id.is(CopyStep::RemoveSource))
    }

    /// Whether copy `n`'s directory was made (or begun) by this journal and not yet removed.
    pub fn copy_kept(&self, n: usize) -> bool {
        let create = MigrateStep::CreateDir(n).id();
        (self.done.contains_key(&create) || self.begun.contains(&create))
            && !self.done.contains_key(&discard_step(n))
    }

    /// The newest verified manifest of copy `n`: of the copy back into the source when a
    /// rollback made one, else of the migration's verify step.
    pub fn manifest_of(&self, n: usize) -> Option<&ManifestRef> {
        [reverse_step(n), MigrateStep::Verify(n).id()]
            .iter()
            .find_map(|id| match self.done.get(id) {
                Some(Detail::Verified { manifest, .. }) => manifest.as_ref(),
                _ => None,
            })
    }

    /// Whether the compose files may have pointed the services at the copies (the rewrite
    /// began).
    pub fn rewrite_began(&self) -> bool {
        let id = MigrateStep::Rewrite.id();
        self.done.contains_key(&id) || self.begun.contains(&id)
    }

    /// The services to start again: those the stop step found running, and those journaled
    /// running before a stop that did not finish ([`Record::Running`]).
    pub fn services_to_start(&self) -> Vec<String> {
        let mut running = self.running_services();
        for service in &self.running_before {
            if !running.contains(service) {
                running.push(service.clone());
            }
        }
        running
    }

    /// The services the `stop` step found running (started again afterwards).
    pub fn running_services(&self) -> Vec<String> {
        match self.done.get(&MigrateStep::Stop.id()) {
            Some(Detail::Stopped { running, .. }) => running.clone(),
            _ => Vec::new(),
        }
    }
}
