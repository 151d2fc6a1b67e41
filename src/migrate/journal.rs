//! The migration journal: one JSON line per event, each fsynced, in
//! `<project dir>/.tierctl/journal-<id>.jsonl`. The first line holds the whole plan, so a
//! resumed or rolled-back run needs nothing else. [`JournalState`] (pure) says what is done.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::MountSource;
use crate::migrate::plan::{MigratePlan, MigrateStep};
use crate::migrate::tree;
use crate::migrate::tree::manifest::Manifest;

/// The journal id of a rollback's verified copy of copy `n` back into its source.
pub fn reverse_step(n: usize) -> String {
    format!("copy-back:{n}")
}

/// The journal id of the removal of copy `n` (`--discard-copy`).
pub fn discard_step(n: usize) -> String {
    format!("remove-copy:{n}")
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
    /// The migration begins: the whole plan.
    Begin {
        /// The plan.
        plan: MigratePlan,
    },
    /// A step begins.
    Start {
        /// The step's id.
        step: String,
    },
    /// A step is done.
    Done {
        /// The step's id.
        step: String,
        /// What it left.
        detail: Detail,
    },
    /// A step failed.
    Failed {
        /// The step's id.
        step: String,
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
        step: Option<String>,
    },
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
    /// A kept manifest is not the one the journal recorded.
    #[error("manifest `{}` is not the one the journal recorded (its BLAKE3 differs, or it does not parse)", path.display())]
    ManifestChanged {
        /// The side file.
        path: PathBuf,
    },
}

/// What a journal says about its migration (pure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalState {
    /// The plan.
    pub plan: MigratePlan,
    /// Finished steps and what they left.
    pub done: BTreeMap<String, Detail>,
    /// Steps begun and not finished.
    pub begun: Vec<String>,
    /// The last failure.
    pub failed: Option<(String, String)>,
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
        let Some(Record::Begin { plan }) = records.first() else {
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

    /// The services the `stop` step found running (started again afterwards).
    pub fn running_services(&self) -> Vec<String> {
        match self.done.get("stop") {
            Some(Detail::Stopped { running, .. }) => running.clone(),
            _ => Vec::new(),
        }
    }
}

/// An open journal file.
pub struct Journal {
    /// Its id (`journal-<id>.jsonl`).
    pub id: String,
    /// Its path.
    pub path: PathBuf,
    file: File,
}

impl Journal {
    /// Create a new journal in `dir` with the plan as its first line.
    pub fn create(dir: &Path, id: &str, plan: &MigratePlan) -> Result<Journal, JournalError> {
        let path = dir.join(format!("journal-{id}.jsonl"));
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        let mut journal = Journal {
            id: id.to_owned(),
            path: path.clone(),
            file,
        };
        journal.append(&Record::Begin { plan: plan.clone() })?;
        // the new file's name must survive a crash too
        if let Ok(d) = File::open(dir) {
            d.sync_all().map_err(io)?;
        }
        Ok(journal)
    }

    /// Open an existing journal for appending, with its records.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>), JournalError> {
        let records = read(path)?;
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new().append(true).open(path).map_err(io)?;
        cut_torn_line(path, &file).map_err(io)?;
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

    /// Append one record and fsync.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_string(record).map_err(|e| io(e.into()))?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_all().map_err(io)
    }
}

/// Remove a torn last line (a crash while it was written; [`read`] ignores it) so the next record
/// starts on a line of its own.
fn cut_torn_line(path: &Path, file: &File) -> io::Result<()> {
    let bytes = fs::read(path)?;
    if bytes.last().is_none_or(|b| *b == b'\n') {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    file.set_len(keep as u64)?;
    file.sync_all()
}

/// Keep `manifest` beside the journal `id` in `dir` as `manifest-<id>-<name>.json`: written to
/// a temporary file, fsynced, renamed, the directory fsynced; returns the reference the journal
/// records.
pub fn keep_manifest(
    dir: &Path,
    id: &str,
    name: &str,
    manifest: &Manifest,
) -> Result<ManifestRef, JournalError> {
    keep_side_file(dir, format!("manifest-{id}-{name}.json"), manifest)
}

/// Read a kept manifest back, refused when its bytes are not the ones the journal recorded.
pub fn load_manifest(dir: &Path, kept: &ManifestRef) -> Result<Manifest, JournalError> {
    load_side_file(dir, kept)
}

/// Keep what a verify while the services ran knew of one tree (see [`tree::Known`]) beside the
/// journal `id` as `known-<id>-<name>.json`, as [`keep_manifest`] keeps a manifest.
pub fn keep_known(
    dir: &Path,
    id: &str,
    name: &str,
    known: &tree::Known,
) -> Result<ManifestRef, JournalError> {
    keep_side_file(dir, format!("known-{id}-{name}.json"), known)
}

/// Read a kept [`tree::Known`] back, refused when its bytes are not the ones journaled.
pub fn load_known(dir: &Path, kept: &ManifestRef) -> Result<tree::Known, JournalError> {
    load_side_file(dir, kept)
}

fn keep_side_file(
    dir: &Path,
    file: String,
    value: &impl Serialize,
) -> Result<ManifestRef, JournalError> {
    let path = dir.join(&file);
    let io = |source| JournalError::Io {
        path: path.clone(),
        source,
    };
    let bytes = serde_json::to_vec(value).map_err(|e| io(e.into()))?;
    let temp = dir.join(format!(".{file}.tmp"));
    let mut out = File::create(&temp).map_err(io)?;
    out.write_all(&bytes).map_err(io)?;
    out.sync_all().map_err(io)?;
    fs::rename(&temp, &path).map_err(io)?;
    if let Ok(d) = File::open(dir) {
        d.sync_all().map_err(io)?;
    }
    Ok(ManifestRef {
        file,
        blake3: blake3::hash(&bytes).to_hex().to_string(),
    })
}

fn load_side_file<T: serde::de::DeserializeOwned>(
    dir: &Path,
    kept: &ManifestRef,
) -> Result<T, JournalError> {
    let path = dir.join(&kept.file);
    let bytes = fs::read(&path).map_err(|source| JournalError::Io {
        path: path.clone(),
        source,
    })?;
    if blake3::hash(&bytes).to_hex().as_str() != kept.blake3 {
        return Err(JournalError::ManifestChanged { path });
    }
    serde_json::from_slice(&bytes).map_err(|_| JournalError::ManifestChanged { path })
}

/// Every record of a journal; a torn last line (a crash while writing it) is ignored.
pub fn read(path: &Path) -> Result<Vec<Record>, JournalError> {
    let file = File::open(path).map_err(|source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    parse(path, &lines)
}

fn parse(path: &Path, lines: &[String]) -> Result<Vec<Record>, JournalError> {
    let mut records = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(_) if index + 1 == lines.len() => break,
            Err(e) => {
                return Err(JournalError::Damaged {
                    path: path.to_path_buf(),
                    line: index + 1,
                    message: e.to_string(),
                });
            }
        }
    }
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
mod tests {
    use super::*;

    fn plan() -> MigratePlan {
        MigratePlan {
            project: "app".into(),
            ..MigratePlan::default()
        }
    }

    #[test]
    fn progress_folds_the_records() {
        let records = vec![
            Record::Begin { plan: plan() },
            Record::Start {
                step: "stop".into(),
            },
            Record::Done {
                step: "stop".into(),
                detail: Detail::Stopped {
                    running: vec!["db".into()],
                    at_ms: None,
                },
            },
            Record::Start {
                step: "copy:0".into(),
            },
            Record::Failed {
                step: "copy:0".into(),
                error: "disk full".into(),
            },
        ];
        let p = JournalState::of(&records).expect("begins with the plan");
        assert!(p.is_open());
        assert_eq!(p.begun, ["copy:0"]);
        assert_eq!(
            p.done["stop"],
            Detail::Stopped {
                running: vec!["db".into()],
                at_ms: None,
            }
        );
        assert_eq!(p.failed, Some(("copy:0".into(), "disk full".into())));
    }

    #[test]
    fn a_torn_last_line_is_ignored_but_a_damaged_middle_line_is_not() {
        let begin = serde_json::to_string(&Record::Begin { plan: plan() }).expect("json");
        let path = Path::new("j.jsonl");
        let torn = parse(path, &[begin.clone(), r#"{"event":"sta"#.into()]).expect("torn end");
        assert_eq!(torn.len(), 1);
        let damaged = parse(
            path,
            &[begin, "{oops".into(), r#"{"event":"finished"}"#.into()],
        );
        assert!(matches!(
            damaged,
            Err(JournalError::Damaged { line: 2, .. })
        ));
        assert!(matches!(
            parse(path, &[r#"{"event":"finished"}"#.into()]),
            Err(JournalError::NoPlan { .. })
        ));
    }

    #[test]
    fn a_torn_last_line_is_cut_before_the_next_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut j = Journal::create(dir.path(), "1", &plan()).expect("create");
        j.append(&Record::Finished).expect("append");
        let text = fs::read_to_string(&j.path).expect("read");
        fs::write(&j.path, &text[..text.len() - 5]).expect("tear");
        let (mut reopened, records) = Journal::open(&j.path).expect("open");
        assert_eq!(records.len(), 1);
        reopened.append(&Record::RollbackBegun).expect("append");
        let records = read(&j.path).expect("whole");
        assert_eq!(records.len(), 2);
        assert_eq!(records[1], Record::RollbackBegun);
    }

    #[test]
    fn written_records_read_back_and_the_newest_journal_is_found() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut j = Journal::create(dir.path(), "20250101T000000-1", &plan()).expect("create");
        j.append(&Record::Finished).expect("append");
        Journal::create(dir.path(), "20250102T000000-1", &plan()).expect("create");
        let newest = latest(dir.path()).expect("a journal");
        assert!(newest.ends_with("journal-20250102T000000-1.jsonl"));
        let (reopened, records) = Journal::open(&j.path).expect("open");
        assert_eq!(reopened.id, "20250101T000000-1");
        assert_eq!(records.len(), 2);
        assert!(!JournalState::of(&records).expect("plan").is_open());
    }

    fn state(records: Vec<Record>) -> JournalState {
        let mut all = vec![Record::Begin {
            plan: MigratePlan {
                project: "app".into(),
                copies: vec![crate::migrate::plan::VolumeCopy {
                    key: "db".into(),
                    job: crate::migrate::copy::CopyJob {
                        source: MountSource::Volume("app_db".into()),
                        target: "/fast/app/db".into(),
                    },
                    tier: None,
                    seed: None,
                }],
                ..MigratePlan::default()
            },
        }];
        all.extend(records);
        JournalState::of(&all).expect("begins with the plan")
    }

    fn done(step: &str) -> Record {
        Record::Done {
            step: step.into(),
            detail: Detail::None,
        }
    }

    /// Issue 11 item 10 / D13: every phase names only commands the journal accepts in it.
    #[test]
    fn the_next_command_follows_the_journal_phase() {
        let open = state(vec![done("stop")]);
        assert_eq!(open.phase(), Phase::Open);
        assert!(next_commands(open.phase()).contains("tierctl migrate --resume"));

        let finished = state(vec![
            done("create:0"),
            done("verify-mounts"),
            Record::Finished,
        ]);
        let hint = next_commands(finished.phase());
        assert!(hint.contains("--prune-source --yes") && hint.contains("--rollback --yes"));
        assert!(!hint.contains("--resume"), "{hint}");

        let pruned = state(vec![
            done("create:0"),
            Record::Finished,
            done("remove-source:0"),
        ]);
        let hint = next_commands(pruned.phase());
        assert!(
            !hint.contains("--resume") && !hint.contains("--rollback"),
            "{hint}"
        );

        let rolling = state(vec![done("create:0"), Record::RollbackBegun]);
        assert_eq!(rolling.phase(), Phase::RollingBack);
        let hint = next_commands(rolling.phase());
        assert!(hint.contains("--rollback --yes") && hint.contains("`--resume` is refused"));

        let rolled = state(vec![
            done("create:0"),
            Record::RollbackBegun,
            Record::RolledBack,
        ]);
        let hint = next_commands(rolled.phase());
        assert!(hint.contains("--rollback --discard-copy --yes"), "{hint}");
        assert!(!hint.contains("--resume"), "{hint}");

        let discarded = state(vec![
            done("create:0"),
            Record::RolledBack,
            done(&discard_step(0)),
        ]);
        assert_eq!(discarded.phase(), Phase::RolledBack { copies_kept: false });
        assert!(!next_commands(discarded.phase()).contains("--discard-copy"));
        assert!(next_commands(phase_of(None)).contains("`tierctl migrate`"));
    }

    #[test]
    fn the_newest_verified_manifest_is_the_copy_back_one() {
        let kept = |file: &str| Detail::Verified {
            entries: 1,
            bytes: 0,
            manifest: Some(ManifestRef {
                file: file.into(),
                blake3: "x".into(),
            }),
        };
        let s = state(vec![Record::Done {
            step: "verify:0".into(),
            detail: kept("a"),
        }]);
        assert_eq!(s.manifest_of(0).map(|m| m.file.as_str()), Some("a"));
        let s = state(vec![
            Record::Done {
                step: "verify:0".into(),
                detail: kept("a"),
            },
            Record::Done {
                step: reverse_step(0),
                detail: kept("b"),
            },
        ]);
        assert_eq!(s.manifest_of(0).map(|m| m.file.as_str()), Some("b"));
        assert_eq!(s.manifest_of(1), None);
    }

    #[test]
    fn a_kept_manifest_reads_back_and_an_edited_one_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut m = Manifest::default();
        m.entries.insert(
            ".".into(),
            crate::migrate::tree::manifest::Entry {
                kind: crate::migrate::tree::manifest::Kind::Dir,
                size: 0,
                uid: 999,
                gid: 999,
                mode: 0o700,
                mtime: Some(1),
                link: None,
                device: None,
                hardlink_group: None,
                hash: None,
            },
        );
        let kept = keep_manifest(dir.path(), "j1", "verify-0", &m).expect("kept");
        assert_eq!(load_manifest(dir.path(), &kept).expect("read back"), m);
        std::fs::write(dir.path().join(&kept.file), b"{\"entries\":{}}").expect("edit");
        assert!(matches!(
            load_manifest(dir.path(), &kept),
            Err(JournalError::ManifestChanged { .. })
        ));
    }

    /// A journal written before manifests were kept still reads: its verified copies have none.
    #[test]
    fn an_old_verified_record_reads_without_a_manifest() {
        let line = r#"{"event":"done","step":"verify:0","detail":{"kind":"verified","entries":3,"bytes":9}}"#;
        let record: Record = serde_json::from_str(line).expect("old record");
        assert_eq!(
            record,
            Record::Done {
                step: "verify:0".into(),
                detail: Detail::Verified {
                    entries: 3,
                    bytes: 9,
                    manifest: None
                }
            }
        );
    }
}
