//! The migration journal: one JSON line per event, each fsynced, in
//! `<project dir>/.tierctl/journal-<id>.jsonl`. The first line holds the whole plan, so a
//! resumed or rolled-back run needs nothing else. [`JournalState`] (pure) says what is done.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::migrate::plan::MigratePlan;

/// The journal directory of a project.
pub fn dir(project_dir: &Path) -> PathBuf {
    project_dir.join(".tierctl")
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
    /// A verified copy.
    Verified {
        /// Entries compared.
        entries: usize,
        /// Content bytes.
        bytes: u64,
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
    /// Rolled back.
    pub rolled_back: bool,
    /// The services recorded running before the stop step ([`Record::Running`]).
    pub running_before: Vec<String>,
    /// The last run was interrupted by a signal.
    pub interrupted: bool,
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

    /// The services the `stop` step found running (started again afterwards).
    pub fn running_services(&self) -> Vec<String> {
        match self.done.get("stop") {
            Some(Detail::Stopped { running }) => running.clone(),
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
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Io {
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
                running: vec!["db".into()]
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
}
