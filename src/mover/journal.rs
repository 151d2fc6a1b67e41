//! The mover's journal, a [`JournalFile`] as migrate's is: one JSON record a line, each
//! appended and fsynced (a failpoint in front of the write and of the sync) before the action
//! it announces or after the one it confirms. A run reads the journal a killed run left and settles every
//! file it names before it selects anew ([`super::run`]); a finished run removes it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::durable::{Failpoints, Step};
use super::stamp::FileStamp;
use crate::durable::journal_file::{self, Flush, JournalFile, Lines};

/// The journal's format version (the first record).
pub const FORMAT: u32 = 1;

/// One record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Record {
    /// The journal's first line.
    Header {
        /// [`FORMAT`].
        format: u32,
        /// The pool.
        pool: String,
    },
    /// A file's move begins: where from, where to, and the warmer copy as it was.
    Begin {
        /// Path relative to the branches.
        rel: String,
        /// The warmer branch directory.
        from: PathBuf,
        /// The colder branch directory.
        to: PathBuf,
        /// The warmer copy before the copy.
        stamp: FileStamp,
    },
    /// The copy is verified from the medium and renamed into place on the colder branch.
    Placed {
        /// The file.
        rel: String,
        /// The hash both copies had.
        hash: String,
    },
    /// The warmer copy is removed: the move is done.
    Done {
        /// The file.
        rel: String,
    },
    /// The move was given up; the warmer copy is the file (any colder copy removed).
    Undone {
        /// The file.
        rel: String,
    },
}

/// Where a file's move stood when the journal ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Open {
    /// Begun, not placed.
    Begun {
        /// The warmer branch.
        from: PathBuf,
        /// The colder branch.
        to: PathBuf,
        /// The warmer copy then.
        stamp: FileStamp,
    },
    /// Placed, the warmer copy maybe not removed.
    Placed {
        /// The warmer branch.
        from: PathBuf,
        /// The colder branch.
        to: PathBuf,
        /// The warmer copy then.
        stamp: FileStamp,
        /// The verified hash.
        hash: String,
    },
}

/// A journal being written.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: JournalFile<Step>,
}

/// The journal's file name in a pool's state directory.
const NAME: &str = "move.journal";

/// The journal's path in a pool's state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(NAME)
}

/// The files a journal left open (not done nor undone), by path; none when there is none.
pub fn read_open(state_dir: &Path) -> io::Result<BTreeMap<String, Open>> {
    let lines = match Lines::read(&path(state_dir)) {
        Ok(lines) => lines,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    // a torn last line (killed mid-write, before its sync) is no record: what it would have
    // announced did not begin
    let records: Vec<Record> = lines
        .records()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(open_files(records))
}

/// Folds the records into the files left open.
fn open_files(records: Vec<Record>) -> BTreeMap<String, Open> {
    let mut open = BTreeMap::new();
    for record in records {
        match record {
            Record::Header { .. } => {}
            Record::Begin {
                rel,
                from,
                to,
                stamp,
            } => {
                open.insert(rel, Open::Begun { from, to, stamp });
            }
            Record::Placed { rel, hash } => {
                if let Some(Open::Begun { from, to, stamp }) = open.remove(&rel) {
                    open.insert(
                        rel,
                        Open::Placed {
                            from,
                            to,
                            stamp,
                            hash,
                        },
                    );
                }
            }
            Record::Done { rel } | Record::Undone { rel } => {
                open.remove(&rel);
            }
        }
    }
    open
}

impl Journal {
    /// Creates a new journal (replacing a settled one) with its header, the directory synced.
    pub fn create(state_dir: &Path, pool: &str, failpoints: Failpoints) -> io::Result<Journal> {
        let file = JournalFile::replace(state_dir, NAME, Flush::Data, failpoints)?;
        let mut journal = Journal {
            path: path(state_dir),
            file,
        };
        journal.append(&Record::Header {
            format: FORMAT,
            pool: pool.to_owned(),
        })?;
        Ok(journal)
    }

    /// Appends `record` and fsyncs it.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        self.file
            .append(record, Step::JournalAppend, Step::JournalSync)
    }

    /// Appends `record` without an fsync: for a record whose loss a resume handles the same as
    /// its absence (`placed`: the colder copy is removed again; `done`: a missing warmer copy
    /// says so), synced by [`Journal::sync`] before anything relies on it.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        self.file.write(record, Step::JournalAppend)
    }

    /// fsyncs what was written.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync(Step::JournalSync)
    }

    /// Removes the finished journal (every file it names is settled).
    pub fn remove(self) -> io::Result<()> {
        remove(&self.path, self.file.failpoints())
    }
}

/// Removes the journal at `path` whose files are all settled, its directory fsynced (through
/// the `journal-remove` failpoint).
pub fn remove(path: &Path, failpoints: &Failpoints) -> io::Result<()> {
    journal_file::remove(path, failpoints, Step::JournalRemove)
}
