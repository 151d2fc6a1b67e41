//! Why a migrate step failed: one variant per kind of failure, each naming its subject (the
//! engine, a tree, a file, a volume, a container, a copy). The text is what the user reads after
//! "step `…` failed:"; the journal records it as text.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::engine::observe::VerifyError;
use crate::engine::{EngineError, MountSource};
use crate::migrate::compose_cli::StartError;
use crate::migrate::durable::Injected;
use crate::migrate::host_apply::EntryError;
use crate::migrate::journal::JournalError;
use crate::migrate::late_writes::LateWriteError;
use crate::migrate::mounts::BindCheckError;
use crate::migrate::plan::MigrateStep;
use crate::migrate::stream::send::SendError;
use crate::migrate::tier_dirs::TierDirError;
use crate::migrate::tree::TreeError;
use crate::migrate::tree::helper::ListingError;
use crate::write::WriteError;

/// The first differences shown of a comparison.
const SHOWN: usize = 20;

/// Why a step failed.
#[derive(Debug, Error)]
pub enum StepError {
    /// The engine failed (a listing, an inspect, a helper run, a volume).
    #[error(transparent)]
    Engine(Box<EngineError>),
    /// A tier a copy goes to is not there (its disk unmounted, its marker gone).
    #[error(
        "tier-not-mounted: the disk of tier `{}` is not there ({}): nothing is copied to `{}` or started on it until it is back; mount it again",
        .0.tier, .0.why, .0.target.display()
    )]
    TierAbsent(Box<crate::tierfs::AbsentTier>),
    /// The engine failed where the message carries its hint: a helper of a move between
    /// engines, on engine A or B.
    #[error("{error}; hint: {}", error.hint())]
    EngineHinted {
        /// What the engine said.
        error: Box<EngineError>,
    },
    /// A test failpoint failed a durable action ([`crate::migrate::durable`]).
    #[error(transparent)]
    Injected(#[from] Injected),
    /// A tree could not be read (on the host or by a helper).
    #[error(transparent)]
    Tree(Box<TreeError>),
    /// A side file of the journal could not be kept or read.
    #[error(transparent)]
    Journal(Box<JournalError>),
    /// A target directory could not be looked at, created or emptied.
    #[error(transparent)]
    TierDir(Box<TierDirError>),
    /// The services could not be started.
    #[error(transparent)]
    Start(Box<StartError>),
    /// The delta between engines could not be sent.
    #[error(transparent)]
    Send(Box<SendError>),
    /// A Swarm service could not be stopped or placed through the manager.
    #[error(transparent)]
    Swarm(Box<crate::migrate::swarm_service::SwarmStepError>),
    /// The compose files could not be written.
    #[error(transparent)]
    Write(Box<WriteError>),
    /// The mounts as the services see them could not be read.
    #[error(transparent)]
    Views(Box<VerifyError>),
    /// A service this run stopped was killed instead of stopping (each container with why).
    #[error(
        "not stopped cleanly: {}; a database killed mid-write is not a consistent source",
        killed.join(", ")
    )]
    NotStoppedCleanly {
        /// `container `name` killed (...)`, one per container.
        killed: Vec<String>,
    },
    /// The step does not exist for a move to another engine.
    #[error(
        "step {step} is not planned for a move to `{context}`: its copies are verified once the services are stopped"
    )]
    NotPlannedAcross {
        /// The step.
        step: MigrateStep,
        /// Engine B's context.
        context: String,
    },
    /// Measuring a source on the host failed.
    #[error("measuring `{}` on the host: {error}", path.display())]
    Measure {
        /// The source as the host sees it.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A delta applied on the host failed at one entry.
    #[error("the delta on the host failed: {0}")]
    HostDelta(EntryError),
    /// A copy on the host failed at one entry.
    #[error("the copy on the host failed: {0}")]
    HostCopy(EntryError),
    /// The pre-copy helper printed errors (entries that changed or vanished under it).
    #[error("the pre-copy failed: {}", errors.join("; "))]
    PreCopy {
        /// The errors it printed.
        errors: Vec<String>,
    },
    /// The copy helper's output ends before its reading of both trees.
    #[error("the copy helper did not get to reading the trees after its copy")]
    AfterCopyMissing,
    /// The copy helper's measure could not be read.
    #[error("cannot read the copy helper's measure: `{}`", printed.trim())]
    UnreadableMeasure {
        /// What it printed.
        printed: String,
    },
    /// The verified copy differs from its source.
    #[error(
        "the copy differs from the source in {count} place(s) ({read}): {}{writers}",
        first.join("; ")
    )]
    CopyDiffers {
        /// How many differences.
        count: usize,
        /// The first of them ([`SHOWN`]).
        first: Vec<String>,
        /// How each side was read.
        read: String,
        /// Who may be writing the source (`; ...`).
        writers: String,
    },
    /// The copy on engine B differs from its source on A.
    #[error(
        "the copy on `{context}` differs from the source in {count} place(s): {}",
        first.join("; ")
    )]
    CopyDiffersOn {
        /// Engine B's context.
        context: String,
        /// How many differences.
        count: usize,
        /// The first of them ([`SHOWN`]).
        first: Vec<String>,
    },
    /// The copy back of a rollback differs from the tier directory.
    #[error(
        "the copy back differs from the tier directory in {count} place(s) ({read}): {}",
        first.join("; ")
    )]
    CopyBackDiffers {
        /// How many differences.
        count: usize,
        /// The first of them ([`SHOWN`]).
        first: Vec<String>,
        /// How each side was read.
        read: String,
    },
    /// The engine returned fewer manifests than the step asked for.
    #[error("the engine returned fewer manifests than asked for")]
    FewerManifests,
    /// The engine returned no manifest of the tier directory.
    #[error("the engine returned no manifest")]
    NoManifest,
    /// A tree's manifest helper printed what does not parse.
    #[error("manifest of `{tree:?}`: {error}")]
    Manifest {
        /// The tree.
        tree: MountSource,
        /// What was wrong.
        error: ListingError,
    },
    /// A thread reading a manifest panicked.
    #[error("the manifest thread panicked")]
    ManifestThread,
    /// A tree on the host could not be read.
    #[error("cannot read `{}`: {error}", path.display())]
    ReadTree {
        /// The tree's root.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The source's root attributes could not be read from its helper.
    #[error("unreadable root attributes `{}`", printed.trim())]
    UnreadableRoot {
        /// What the helper printed.
        printed: String,
    },
    /// The stopped source's manifest has no root directory.
    #[error("the stopped source's manifest has no root directory")]
    NoRoot,
    /// A compose file could not be read.
    #[error("cannot read `{}`: {error}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A compose file changed since the plan was made.
    #[error("`{}` changed since the migration was planned", path.display())]
    ChangedSincePlan {
        /// The file.
        path: PathBuf,
    },
    /// A compose file for engine B is there with other text.
    #[error(
        "`{}` exists with other text; move it away (the original compose files are untouched)",
        path.display()
    )]
    OtherText {
        /// The file.
        path: PathBuf,
    },
    /// A compose file for engine B could not be created.
    #[error("cannot write `{}`: {error}", path.display())]
    CreateFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The services do not see their tier directories as the host does.
    #[error("the services do not see their tier directories: {}", problems.join("; "))]
    NotSeen {
        /// Each mount that is not seen.
        problems: Vec<String>,
    },
    /// A service's container was started before its tier's disk was mounted (dockerd restarts
    /// containers at boot): it binds the directory below the mount point.
    #[error("a service was started before its tier's disk was mounted: {}", problems.join("; "))]
    StartedBeforeDisk {
        /// Each mount that is not seen.
        problems: Vec<String>,
    },
    /// A started container does not bind its tier directory, or its service does not run.
    #[error(transparent)]
    BindCheck(#[from] BindCheckError),
    /// The source of a copy that was not verified is never removed.
    #[error("the copy was not verified: the source stays")]
    NotVerified {
        /// The copy.
        copy: usize,
    },
    /// A volume's writes since its copy verified could not be read.
    #[error("volume `{volume}` stays: {error}")]
    LateWritesUnread {
        /// The volume.
        volume: String,
        /// Why.
        error: Box<LateWriteError>,
    },
    /// A volume changed since its copy verified: those writes are not in the tier directory.
    #[error(
        "volume `{volume}` stays: it changed since its copy verified, in {count} path(s): {shown}; those writes are not in the tier directory `{}`: copy what you need into it, then remove the volume by hand (`docker volume rm {volume}`)",
        target.display()
    )]
    LateWrites {
        /// The volume.
        volume: String,
        /// How many paths changed.
        count: usize,
        /// The first of them, as messages show them.
        shown: String,
        /// The tier directory.
        target: PathBuf,
    },
}

/// `?` on a function's own error boxes it into its variant (the step error stays small).
macro_rules! boxed_from {
    ($($variant:ident($error:ty)),* $(,)?) => {
        $(impl From<$error> for StepError {
            fn from(error: $error) -> Self {
                StepError::$variant(Box::new(error))
            }
        })*
    };
}

boxed_from!(
    Engine(EngineError),
    Tree(TreeError),
    Journal(JournalError),
    TierDir(TierDirError),
    Start(StartError),
    Send(SendError),
    Swarm(crate::migrate::swarm_service::SwarmStepError),
    Write(WriteError),
    Views(VerifyError),
);

impl StepError {
    /// The engine's error, its hint in the message (a move between engines).
    pub fn hinted(error: EngineError) -> Self {
        StepError::EngineHinted {
            error: Box::new(error),
        }
    }

    /// Whether a service was killed at the stop: nothing to fix, only to choose.
    pub fn is_unclean_stop(&self) -> bool {
        matches!(self, StepError::NotStoppedCleanly { .. })
    }

    /// Whether a service was started before its tier's disk was mounted: the fix is to recreate
    /// it, not to repeat the step.
    pub fn is_started_before_disk(&self) -> bool {
        matches!(self, StepError::StartedBeforeDisk { .. })
    }
}

/// The count of `differences` and the first of them as messages show them ([`SHOWN`]).
pub fn counted<D: std::fmt::Display>(differences: &[D]) -> (usize, Vec<String>) {
    let first = differences
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect();
    (differences.len(), first)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_differing_copy_counts_every_difference_and_shows_the_first_twenty() {
        let differences: Vec<String> = (0..25).map(|i| format!("`f{i}`: content")).collect();
        let (count, first) = counted(&differences);
        let error = StepError::CopyDiffers {
            count,
            first,
            read: "source read on the host, copy read on the host".into(),
            writers: "; the source changed under the copy: a resume copies again what changed"
                .into(),
        };
        let text = error.to_string();
        assert!(
            text.starts_with("the copy differs from the source in 25 place(s) (source read on the host, copy read on the host): `f0`: content; "),
            "{text}"
        );
        assert!(
            text.contains("`f19`: content; the source changed"),
            "{text}"
        );
        assert!(!text.contains("`f20`"), "{text}");
    }

    #[test]
    fn an_unclean_stop_is_its_own_kind_and_reads_as_before() {
        let error = StepError::NotStoppedCleanly {
            killed: vec!["container `app-db-1` killed for memory".into()],
        };
        assert!(error.is_unclean_stop());
        assert_eq!(
            error.to_string(),
            "not stopped cleanly: container `app-db-1` killed for memory; a database killed mid-write is not a consistent source"
        );
        assert!(!StepError::NoRoot.is_unclean_stop());
    }
}
