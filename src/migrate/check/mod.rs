//! `tierctl migrate --check`: the scrub of data already moved. Each copy of a finished
//! migration is read again where it lives, through the same [`TreeReader`] the verify uses (on
//! the host, or by the manifest helper where the engine's host is another machine or a VM),
//! its content from the disk, and compared with the manifest its journal kept when the copy
//! verified (`manifest-<journal>-verify-N.json`, never deleted): every path that differs is
//! named. `--subset PCT` reads the content of only some files ([`subset`]), every entry's
//! metadata still compared.

#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod compare;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod subset;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

pub use subset::{Subset, SubsetError};

use super::copy::{self, CopyJob};
use super::journal::{self, Detail, JournalError, JournalState, Phase};
use super::late_writes;
use super::plan::MigrateStep;
use super::tree::helper::Depth;
use super::tree::manifest::{Digest, Kind, Manifest};
use super::tree::reader::{HelperReader, HostReader, TreeReader};
use super::tree::{self, TreeError};
use crate::engine::{EngineError, Helpers, MountSource};
use crate::report::reports::{CheckReport, CheckSubset, CopyCheck};

/// Why a check could not be made (exit 2): no differences were looked for.
#[derive(Debug, Error)]
pub enum CheckError {
    /// No journal in the project's state directory.
    #[error("no migration journal in `{}`", dir.display())]
    NoJournal {
        /// The state directory.
        dir: PathBuf,
    },
    /// The newest journal is not of a finished migration.
    #[error("the migration journaled in `{}` is not finished: only a finished migration's copies are checked", path.display())]
    NotFinished {
        /// The journal.
        path: PathBuf,
        /// Its phase, for the hint.
        phase: Phase,
    },
    /// A move to another engine: its copies are there.
    #[error("the migration journaled in `{}` moved the project to the engine of context `{context}`: its copies are checked there", path.display())]
    OtherEngine {
        /// The journal.
        path: PathBuf,
        /// B's context.
        context: String,
    },
    /// The journal could not be read, or a kept manifest is not the one journaled.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A copy could not be read.
    #[error("cannot read the copy `{}`: {source}", target.display())]
    Read {
        /// The tier directory.
        target: PathBuf,
        /// Why.
        source: Box<TreeError>,
    },
    /// The kept manifest's digest is one the reader of the copy does not hash with.
    #[error("the manifest kept for `{}` is {kept}, but the copy is now read by a helper container, which hashes with sha256", target.display())]
    Digest {
        /// The tier directory.
        target: PathBuf,
        /// The kept manifest's digest.
        kept: Digest,
    },
}

impl CheckError {
    /// What to do next.
    pub fn hint(&self) -> String {
        match self {
            CheckError::NoJournal { .. } => {
                "`migrate --check` checks the copies of a finished `tierctl migrate`; run it in the project the migration moved".into()
            }
            CheckError::NotFinished { phase, .. } => journal::next_commands(*phase),
            CheckError::OtherEngine { context, .. } => format!(
                "checking copies on another engine is not supported yet: nothing was checked; compare the tier directories on `{context}` with `tierctl verify --context {context}` for the mounts"
            ),
            CheckError::Journal(e) => e.hint(),
            CheckError::Engine(_) => {
                "check that the Docker engine answers (`docker info`), then run the same command again".into()
            }
            CheckError::Read { .. } => {
                "check that the tier is mounted and readable (`tierctl tiers status`), then run the same command again".into()
            }
            CheckError::Digest { .. } => {
                "run the check where the host reads the tier directory as the engine does (the machine that ran the migration)".into()
            }
        }
    }
}

/// What a check needs: the engine the project runs on, the helper image, the clock.
pub struct CheckInput<'a> {
    /// The engine the copies are on.
    pub engine: &'a dyn Helpers,
    /// The helper image.
    pub image: &'a str,
    /// The project's state directory (the journals).
    pub state_dir: &'a Path,
    /// Only this part of the files' content (`--subset`); `None`: every file.
    pub subset: Option<&'a Subset>,
    /// Now, seconds since the Unix epoch.
    pub now: u64,
}

/// Check the copies of the newest journal, which must be of a finished migration.
pub fn check(input: &CheckInput<'_>) -> Result<CheckReport, CheckError> {
    let path = journal::latest(input.state_dir).ok_or_else(|| CheckError::NoJournal {
        dir: input.state_dir.to_path_buf(),
    })?;
    let state = JournalState::of(&journal::read(&path)?);
    let phase = journal::phase_of(state.as_ref());
    let Some(state) = state.filter(|_| matches!(phase, Phase::Finished { .. })) else {
        return Err(CheckError::NotFinished { path, phase });
    };
    if let Some(cross) = &state.plan.to_context {
        return Err(CheckError::OtherEngine {
            path,
            context: cross.context.clone(),
        });
    }
    let id = journal_id(&path);
    let mut copies = Vec::new();
    for (n, planned) in state.plan.copies.iter().enumerate() {
        copies.push(check_copy(input, &state, &id, n, &planned.job)?);
    }
    Ok(CheckReport {
        journal: path,
        subset: input.subset.map(|s| CheckSubset {
            percent: s.percent(),
            seed: s.seed.clone(),
        }),
        checked_at: input.now,
        copies,
    })
}

/// The id of the journal at `path` (`journal-<id>.jsonl`), which labels its helpers.
fn journal_id(path: &Path) -> String {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("journal-"))
        .unwrap_or("check")
        .to_owned()
}

/// The manifest the journal kept when copy `n` verified (`None`: a journal written before
/// manifests were kept).
fn kept_manifest(state: &JournalState, n: usize) -> Result<Option<Manifest>, CheckError> {
    match state.done.get(&MigrateStep::Verify(n).id()) {
        Some(Detail::Verified {
            manifest: Some(kept),
            ..
        }) => Ok(Some(journal::load_manifest(
            &journal::dir(&state.plan.project_dir),
            kept,
        )?)),
        _ => Ok(None),
    }
}

/// Copy `n`'s row before anything was read.
fn empty_row(n: usize, job: &CopyJob) -> CopyCheck {
    CopyCheck {
        copy: n,
        source: late_writes::show(&job.source),
        target: job.target.clone(),
        read: String::new(),
        entries: 0,
        files: 0,
        files_hashed: 0,
        bytes_hashed: 0,
        unchecked: None,
        differences: Vec::new(),
    }
}

/// Copy `n` against its kept manifest.
fn check_copy(
    input: &CheckInput<'_>,
    state: &JournalState,
    id: &str,
    n: usize,
    job: &CopyJob,
) -> Result<CopyCheck, CheckError> {
    let mut row = empty_row(n, job);
    let Some(kept) = kept_manifest(state, n)? else {
        row.unchecked = Some(
            "its journal kept no manifest of the verified copy (a journal written before manifests were kept)".into(),
        );
        return Ok(row);
    };
    row.entries = kept.len();
    row.files = kept
        .entries
        .values()
        .filter(|e| e.kind == Kind::File)
        .count();
    let mut spec = copy::verify_spec(job, input.image, id);
    // the tier directory only: mounting a removed source volume would create it empty
    spec.mounts.retain(|m| m.target == copy::TO);
    let target = MountSource::Bind(job.target.clone());
    let host = tree::reach::host_reads(input.engine, &target)?;
    let helper = HelperReader {
        engine: input.engine,
        spec: &spec,
    };
    let on_host;
    let reader: &dyn TreeReader = match &host {
        Some(path) => {
            on_host = HostReader {
                roots: [None, Some(path.clone())],
                hand_on: tree::HandOn::Nothing,
            };
            row.read = format!("on the host at `{}`, from the disk", path.display());
            &on_host
        }
        None => {
            if kept.digest != Digest::Sha256 {
                return Err(CheckError::Digest {
                    target: job.target.clone(),
                    kept: kept.digest,
                });
            }
            row.read = "in the engine by a helper container, from the disk (O_DIRECT)".into();
            &helper
        }
    };
    let hashed = AtomicU64::new(0);
    let (now, read) =
        read_copy(reader, &kept, input.subset, &hashed).map_err(|source| CheckError::Read {
            target: job.target.clone(),
            source: Box::new(source),
        })?;
    row.files_hashed = read.as_ref().map_or(row.files, BTreeSet::len);
    row.bytes_hashed = hashed.load(Ordering::Relaxed);
    row.differences = compare::differences(&kept, &now, read.as_ref());
    Ok(row)
}

/// The copy now (side 1 of `reader`), hashed with the kept manifest's digest: every file, or
/// with a `subset` the listing and the chosen files that are files in both (which it returns).
fn read_copy(
    reader: &dyn TreeReader,
    kept: &Manifest,
    subset: Option<&Subset>,
    hashed: &AtomicU64,
) -> Result<(Manifest, Option<BTreeSet<String>>), TreeError> {
    let none = [tree::Known::default(), tree::Known::default()];
    let Some(subset) = subset else {
        let mut read = reader.manifests(&[(1, Depth::Medium)], kept.digest, &none, hashed)?;
        let (now, _) = read.pop().ok_or(TreeError::Listing {
            root: copy::TO.into(),
            source: tree::helper::ListingError::FewerTrees,
        })?;
        return Ok((now, None));
    };
    let mut listed = reader.manifests(&[(1, Depth::Listed)], kept.digest, &none, hashed)?;
    let (mut now, _) = listed.pop().ok_or(TreeError::Listing {
        root: copy::TO.into(),
        source: tree::helper::ListingError::FewerTrees,
    })?;
    let chosen: Vec<String> = now
        .entries
        .iter()
        .filter(|(path, e)| e.kind == Kind::File && subset.chooses(path))
        .filter(|(path, _)| {
            kept.entries
                .get(*path)
                .is_some_and(|k| k.kind == Kind::File)
        })
        .map(|(path, _)| path.clone())
        .collect();
    let hashes = reader.hashes(1, &chosen, kept.digest, hashed)?;
    for (path, hash) in &hashes {
        if let Some(entry) = now.entries.get_mut(path) {
            entry.hash = Some(hash.clone());
        }
    }
    // a hardlink group's members share their content
    let groups: Vec<(String, String)> = now
        .entries
        .iter()
        .filter_map(|(path, e)| Some((path.clone(), e.hardlink_group.as_deref()?.to_owned())))
        .collect();
    let mut read: BTreeSet<String> = hashes.into_keys().collect();
    for (path, first) in groups {
        if read.contains(&first) && !read.contains(&path) {
            let hash = now.entries.get(&first).and_then(|e| e.hash.clone());
            if let Some(entry) = now.entries.get_mut(&path) {
                entry.hash = hash;
            }
            read.insert(path);
        }
    }
    Ok((now, Some(read)))
}
