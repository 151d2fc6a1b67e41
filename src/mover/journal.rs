//! The mover's journal, in the style of migrate's: one JSON record a line, each appended and
//! fsynced (a failpoint in front of the write and of the sync) before the action it announces
//! or after the one it confirms. A run reads the journal a killed run left and settles every
//! file it names before it selects anew ([`super::run`]); a finished run removes it.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::durable::{Failpoints, Step};
use super::stamp::FileStamp;

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
    file: File,
    failpoints: Failpoints,
}

/// The journal's path in a pool's state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("move.journal")
}

/// The files a journal left open (not done nor undone), by path; none when there is none.
pub fn read_open(state_dir: &Path) -> io::Result<BTreeMap<String, Open>> {
    let text = match fs::read_to_string(path(state_dir)) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    let mut open = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    for (index, line) in lines.iter().enumerate() {
        let record = match serde_json::from_str::<Record>(line) {
            Ok(record) => record,
            // a torn last line (killed mid-write, before its sync) is no record: what it
            // would have announced did not begin
            Err(_) if index + 1 == lines.len() => continue,
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("line {}: {e}", index + 1),
                ));
            }
        };
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
    Ok(open)
}

impl Journal {
    /// Creates a new journal (replacing a settled one) with its header, the directory synced.
    pub fn create(state_dir: &Path, pool: &str, failpoints: Failpoints) -> io::Result<Journal> {
        fs::create_dir_all(state_dir)?;
        let path = path(state_dir);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)?;
        super::transfer::sync_dir(state_dir)?;
        let mut journal = Journal {
            path,
            file,
            failpoints,
        };
        journal.append(&Record::Header {
            format: FORMAT,
            pool: pool.to_owned(),
        })?;
        Ok(journal)
    }

    /// Appends `record` and fsyncs it.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        self.write(record)?;
        self.sync()
    }

    /// Appends `record` without an fsync: for a record whose loss a resume handles the same as
    /// its absence (`placed`: the colder copy is removed again; `done`: a missing warmer copy
    /// says so), synced by [`Journal::sync`] before anything relies on it.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        self.failpoints.at(Step::JournalAppend)?;
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }

    /// fsyncs what was written.
    pub fn sync(&mut self) -> io::Result<()> {
        self.failpoints.at(Step::JournalSync)?;
        self.file.sync_data()
    }

    /// Removes the finished journal (every file it names is settled).
    pub fn remove(self) -> io::Result<()> {
        self.failpoints.at(Step::JournalRemove)?;
        fs::remove_file(&self.path)?;
        match self.path.parent() {
            Some(dir) => super::transfer::sync_dir(dir),
            None => Ok(()),
        }
    }
}
