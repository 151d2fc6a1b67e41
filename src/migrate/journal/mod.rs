//! The migration journal: one JSON line per event, each fsynced, in
//! `<project dir>/.tierctl/journal-<id>.jsonl`. The first line holds the whole plan and the
//! journal's format version, so a resumed or rolled-back run needs nothing else, and a journal
//! this release cannot read is refused by name before anything acts on it. [`JournalState`]
//! (pure) says what is done; steps are named by their [`StepId`], side files by [`SideFile`].

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::durable::{Flush, JournalFile, Lines};
use crate::migrate::durable::{Durable, Failpoints, Point};
use crate::migrate::plan::{CopyStep, MigratePlan, StepId};

mod format;
mod side_file;
mod state;

pub use format::{FORMAT, LEGACY_FORMAT};
pub use side_file::{
    SideFile, SideFileError, SideKind, keep_known, keep_manifest, load_known, load_manifest,
};
pub use state::{JournalState, Phase, next_commands, phase_of};

/// The journal id of a rollback's verified copy of copy `n` back into its source.
pub fn reverse_step(n: usize) -> StepId {
    CopyStep::CopyBack.of(n)
}

/// The journal id of the removal of copy `n` (`--discard-copy`).
pub fn discard_step(n: usize) -> StepId {
    CopyStep::RemoveCopy.of(n)
}

/// The journal directory of a project.
pub fn dir(project_dir: &Path) -> PathBuf {
    crate::lock::state_dir(project_dir)
}

/// What a finished step left for later steps (and for a rollback).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Detail {
    /// Nothing.
    #[default]
    None,
    /// The services that were running before the stop.
    Stopped {
        /// Service names.
        running: Vec<String>,
        /// When the stop began, ms since the epoch (the downtime runs from here to the start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_ms: Option<u64>,
    },
    /// The directory tierctl created for a target (`None`: it existed, empty).
    Created {
        /// The topmost directory made.
        made: Option<PathBuf>,
    },
    /// A copy made from the image's content (the volume was empty), through this volume.
    Seeded {
        /// The temporary volume the engine filled from the image.
        volume: String,
    },
    /// A copy made while the services were stopped, with what was known of its source (hashed
    /// while `cp` ran: see [`tree::Known`]), kept beside the journal.
    Copied {
        /// The temporary volume filled from the image, when the volume was empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seeded: Option<String>,
        /// The source's [`tree::Known`] (`None`: the host cannot read the source).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        known: Option<ManifestRef>,
    },
    /// A copy made while the services ran (`--stop-first` makes none).
    PreCopied {
        /// The helper's clock when the last pass that was applied began: whatever changed
        /// since then is copied again by the delta.
        since: i64,
        /// Passes applied (the first copy and the catch-ups while the delta was large).
        passes: u32,
        /// The temporary volume filled from the image, when the volume was empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seeded: Option<String>,
    },
    /// The pre-copy of a move to another engine, with the manifest of the copy it left on
    /// that engine (kept beside the journal): the delta compares it with the stopped source.
    PreCopiedAcross {
        /// The copy's manifest, computed on the other engine right after the pre-copy.
        manifest: ManifestRef,
        /// Its entries.
        entries: usize,
    },
    /// The delta copied while the services were stopped.
    Delta {
        /// The helper's clock when its listing began.
        since: i64,
        /// Entries copied again.
        copied: u64,
        /// Entries removed.
        removed: u64,
    },
    /// A copy verified while the services ran: what the verify knew of each tree (kept beside
    /// the journal), so the verify while they are stopped reads only what changed since.
    PreVerified {
        /// The [`tree::Known`] of the source and of the copy, in that order (empty: a side read
        /// through the archive stream knows nothing).
        known: Vec<ManifestRef>,
        /// Entries of the source.
        entries: usize,
        /// Entries that differed (copied again by the delta).
        differed: usize,
    },
    /// A verified copy (or, in a rollback, a verified copy back into the source).
    Verified {
        /// Entries compared.
        entries: usize,
        /// Content bytes.
        bytes: u64,
        /// The verified copy's manifest, kept beside the journal (`None` in journals written
        /// before manifests were kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        manifest: Option<ManifestRef>,
    },
    /// The compose files written, with their backups.
    Rewritten {
        /// (file, backup).
        backups: Vec<(PathBuf, PathBuf)>,
    },
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Record {
    /// The migration begins: the journal's format and the whole plan.
    Begin {
        /// The format version the journal is written in ([`FORMAT`]; absent in journals
        /// written before it was recorded: [`LEGACY_FORMAT`]).
        #[serde(default = "format::legacy")]
        version: u32,
        /// The plan.
        plan: MigratePlan,
    },
    /// A step begins.
    Start {
        /// The step's id.
        step: StepId,
    },
    /// A step is done.
    Done {
        /// The step's id.
        step: StepId,
        /// What it left.
        detail: Detail,
    },
    /// A step failed.
    Failed {
        /// The step's id.
        step: StepId,
        /// Why.
        error: String,
    },
    /// Every step is done.
    Finished,
    /// A rollback began (it has to be finished by `--rollback`, never resumed).
    RollbackBegun,
    /// The migration was rolled back.
    RolledBack,
    /// The services of the plan running before the stop step stops anything (written before
    /// it, so a run killed during the stop still restarts all of them).
    Running {
        /// Service names.
        services: Vec<String>,
    },
    /// A signal (SIGINT, SIGTERM, SIGHUP) ended the run; the step that was running, if any.
    Interrupted {
        /// The step's id.
        step: Option<StepId>,
    },
}

impl Record {
    /// The step a record is of (`None`: the run's own records).
    pub fn step(&self) -> Option<&StepId> {
        match self {
            Record::Start { step } | Record::Done { step, .. } | Record::Failed { step, .. } => {
                Some(step)
            }
            Record::Interrupted { step } => step.as_ref(),
            _ => None,
        }
    }

    /// The first record of a journal written now: the plan, in this release's [`FORMAT`].
    pub fn begin(plan: MigratePlan) -> Record {
        Record::Begin {
            version: FORMAT,
            plan,
        }
    }
}

/// A verified copy's manifest kept in a side file beside the journal: the file's name (in the
/// journal's directory) and the BLAKE3 of its bytes, so a changed or damaged side file is seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRef {
    /// The side file's name, in the journal's directory.
    pub file: String,
    /// BLAKE3 of the side file's bytes, hex.
    pub blake3: String,
}

/// Why the journal could not be used.
#[derive(Debug, Error)]
pub enum JournalError {
    /// Reading or writing failed.
    #[error("cannot use the journal `{}`: {source}", path.display())]
    Io {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A line is not a record.
    #[error("journal `{}` line {line} is damaged: {message}", path.display())]
    Damaged {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// The first line is not the plan.
    #[error("journal `{}` does not start with the plan", path.display())]
    NoPlan {
        /// The journal.
        path: PathBuf,
    },
    /// The journal is in a format version this release does not read (a newer release wrote
    /// it).
    #[error(
        "journal `{}` is in format version {version}, which this tierctl does not read (it reads format versions up to {FORMAT})",
        path.display()
    )]
    UnknownFormat {
        /// The journal.
        path: PathBuf,
        /// The version its first line records.
        version: u32,
    },
    /// A kept manifest is not the one the journal recorded.
    #[error("manifest `{}` is not the one the journal recorded (its BLAKE3 differs, or it does not parse)", path.display())]
    ManifestChanged {
        /// The side file.
        path: PathBuf,
    },
}

impl JournalError {
    /// What the user can do.
    pub fn hint(&self) -> String {
        match self {
            JournalError::UnknownFormat { version, .. } if *version > FORMAT => "a newer tierctl wrote this journal: resume, roll back or prune that migration with the release that wrote it (`tierctl migrate --resume`, `--rollback --yes`, `--prune-source --yes`); this release plans no migration while that journal is the newest; nothing was changed".into(),
            JournalError::UnknownFormat { .. } => "no tierctl release writes that version: check the journal's first line (its `version`); nothing was changed".into(),
            _ => "check the `.tierctl` directory beside the compose file".into(),
        }
    }
}

/// An open journal file.
pub struct Journal {
    /// Its id (`journal-<id>.jsonl`).
    pub id: String,
    /// Its path.
    pub path: PathBuf,
    /// The file, with the failpoints in front of each append and fsync (none unless a test
    /// sets them).
    file: JournalFile<Point>,
}

impl Journal {
    /// Create a new journal in `dir` with the plan as its first line.
    pub fn create(dir: &Path, id: &str, plan: &MigratePlan) -> Result<Journal, JournalError> {
        Journal::create_with(dir, id, plan, Failpoints::default())
    }

    /// [`Journal::create`] with the run's failpoints ([`Durable::JournalCreate`] first, then
    /// those of the plan's append). The journal appears with its plan or not at all
    /// ([`JournalFile::create_whole`]): the plan is written to a temporary file
    /// (`.journal-<id>.jsonl.tmp`) and fsynced, linked in under its name (never over another
    /// journal), the directory fsynced. A journal without its plan would make every later
    /// `tierctl migrate` refuse (issue 21: a crash between the journal's creation and its
    /// first fsync left one).
    pub fn create_with(
        dir: &Path,
        id: &str,
        plan: &MigratePlan,
        failpoints: Failpoints,
    ) -> Result<Journal, JournalError> {
        let name = format!("journal-{id}.jsonl");
        let path = dir.join(&name);
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        failpoints
            .at(Point::new(Durable::JournalCreate, None))
            .map_err(|e| io(e.into()))?;
        let begin = Record::begin(plan.clone());
        let file = JournalFile::create_whole(dir, &name, Flush::All, failpoints, |file| {
            append_to(file, &begin)
        })
        .map_err(io)?;
        Ok(Journal {
            id: id.to_owned(),
            path,
            file,
        })
    }

    /// Open an existing journal for appending, with its records.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>), JournalError> {
        let records = read(path)?;
        let file =
            JournalFile::open_append(path, Flush::All).map_err(|source| JournalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("journal-"))
            .unwrap_or_default()
            .to_owned();
        Ok((
            Journal {
                id,
                path: path.to_path_buf(),
                file,
            },
            records,
        ))
    }

    /// Check `failpoints` in front of every later append (a run hands its context's over).
    pub fn fail_with(&mut self, failpoints: Failpoints) {
        self.file.fail_with(failpoints);
    }

    /// Append `step`'s done record with its `detail`, and put it in `state`'s done steps, where
    /// the later steps of this run look for it.
    pub fn record_done(
        &mut self,
        state: &mut JournalState,
        step: &StepId,
        detail: Detail,
    ) -> Result<(), JournalError> {
        self.append(&Record::Done {
            step: step.clone(),
            detail: detail.clone(),
        })?;
        state.done.insert(step.clone(), detail);
        Ok(())
    }

    /// Append one record and fsync.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        append_to(&mut self.file, record).map_err(|source| JournalError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// Append `record` and fsync it, through the failpoints of its step's `journal-append` and
/// `journal-sync`.
fn append_to(file: &mut JournalFile<Point>, record: &Record) -> io::Result<()> {
    let step = record.step();
    file.append(
        record,
        Point::new(Durable::JournalAppend, step),
        Point::new(Durable::JournalSync, step),
    )
}

/// Every record of a journal; a torn last line (a crash while writing it) is ignored.
pub fn read(path: &Path) -> Result<Vec<Record>, JournalError> {
    let lines = Lines::read(path).map_err(|source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &lines)
}

fn parse(path: &Path, lines: &Lines) -> Result<Vec<Record>, JournalError> {
    // the version first: the rest of a journal in another format may not parse as records
    if let Some(first) = lines.first() {
        format::check(path, first)?;
    }
    let records: Vec<Record> = lines.records().map_err(|e| JournalError::Damaged {
        path: path.to_path_buf(),
        line: e.line,
        message: e.message,
    })?;
    if !matches!(records.first(), Some(Record::Begin { .. })) {
        return Err(JournalError::NoPlan {
            path: path.to_path_buf(),
        });
    }
    Ok(records)
}

/// The newest journal in `dir` (ids sort by time), if any.
pub fn latest(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("journal-") && n.ends_with(".jsonl"))
        })
        .collect();
    found.sort();
    found.pop()
}

#[cfg(test)]
mod tests;
