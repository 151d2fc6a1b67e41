//! The one journal file type of every engine (migrate's `journal-<id>.jsonl`, the mover's
//! `move.journal`): append-only, one JSON record a line, each record written behind a failpoint
//! and fsynced behind another (the engine names both points); read back with a torn last line
//! (a crash while it was written, before its fsync) ignored. The record types, the file's name
//! and what its lines mean are the engines' own.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use super::failpoint::{AtAction, Failpoints};
use super::sync_dir;

/// How a record is made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// `fsync`: the data and all of the file's metadata (migrate's journal).
    All,
    /// `fdatasync`: the data and the size that reads it back (the mover's journal).
    Data,
}

/// A journal file open for appending, with the failpoints of the run that writes it.
#[derive(Debug)]
pub struct JournalFile<P: AtAction> {
    file: File,
    flush: Flush,
    failpoints: Failpoints<P>,
}

impl<P: AtAction> JournalFile<P> {
    /// A new journal `dir/name` that appears with its first record or not at all: `first`
    /// appends that record to a temporary file (`dir/.name.tmp`, which must not exist), which
    /// is then linked in under its name (never over another journal) and removed, and the
    /// directory fsynced. `dir` is made when missing.
    pub fn create_whole(
        dir: &Path,
        name: &str,
        flush: Flush,
        failpoints: Failpoints<P>,
        first: impl FnOnce(&mut JournalFile<P>) -> io::Result<()>,
    ) -> io::Result<JournalFile<P>> {
        fs::create_dir_all(dir)?;
        let path = dir.join(name);
        let temp = dir.join(format!(".{name}.tmp"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&temp)?;
        let mut journal = JournalFile {
            file,
            flush,
            failpoints,
        };
        let linked = first(&mut journal).and_then(|()| fs::hard_link(&temp, &path));
        let _ = fs::remove_file(&temp);
        linked?;
        // the new file's name must survive a crash too
        if let Ok(d) = File::open(dir) {
            d.sync_all()?;
        }
        Ok(journal)
    }

    /// A new, empty journal `dir/name` in place of any earlier one (a settled one), the
    /// directory fsynced; `dir` is made when missing.
    pub fn replace(
        dir: &Path,
        name: &str,
        flush: Flush,
        failpoints: Failpoints<P>,
    ) -> io::Result<JournalFile<P>> {
        fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(dir.join(name))?;
        sync_dir(dir)?;
        Ok(JournalFile {
            file,
            flush,
            failpoints,
        })
    }

    /// An existing journal opened to append to, without failpoints ([`JournalFile::fail_with`]);
    /// a torn last line is cut first, so the next record starts on a line of its own.
    pub fn open_append(path: &Path, flush: Flush) -> io::Result<JournalFile<P>> {
        let file = OpenOptions::new().append(true).open(path)?;
        cut_torn_line(path, &file)?;
        Ok(JournalFile {
            file,
            flush,
            failpoints: Failpoints::default(),
        })
    }

    /// The failpoints in front of each write and fsync.
    pub fn failpoints(&self) -> &Failpoints<P> {
        &self.failpoints
    }

    /// Check `failpoints` in front of every later write and fsync.
    pub fn fail_with(&mut self, failpoints: Failpoints<P>) {
        self.failpoints = failpoints;
    }

    /// Writes `record` (failpoint `write_at` first) and fsyncs it (failpoint `sync_at` first).
    pub fn append(&mut self, record: &impl Serialize, write_at: P, sync_at: P) -> io::Result<()> {
        self.write(record, write_at)?;
        self.sync(sync_at)
    }

    /// Writes `record` as one line, not fsynced (failpoint `at` first).
    pub fn write(&mut self, record: &impl Serialize, at: P) -> io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        self.failpoints.at(at)?;
        self.file.write_all(line.as_bytes())
    }

    /// fsyncs what was written (failpoint `at` first).
    pub fn sync(&mut self, at: P) -> io::Result<()> {
        self.failpoints.at(at)?;
        match self.flush {
            Flush::All => self.file.sync_all(),
            Flush::Data => self.file.sync_data(),
        }
    }
}

/// Removes a journal whose work is settled (failpoint `at` first), its directory fsynced.
pub fn remove<P: AtAction>(path: &Path, failpoints: &Failpoints<P>, at: P) -> io::Result<()> {
    failpoints.at(at)?;
    fs::remove_file(path)?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Remove a torn last line (a crash while it was written; [`Lines::records`] ignores it).
fn cut_torn_line(path: &Path, file: &File) -> io::Result<()> {
    let bytes = fs::read(path)?;
    if bytes.last().is_none_or(|b| *b == b'\n') {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    file.set_len(keep as u64)?;
    file.sync_all()
}

/// A line that is no record, and not the last one (a torn last line is no error).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}: {message}")]
pub struct Damaged {
    /// 1-based line.
    pub line: usize,
    /// The parser's message.
    pub message: String,
}

/// A journal's lines as read, as bytes: a last line torn in the middle of a character is still
/// a line (that does not parse, so it is ignored), not an unreadable file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lines(Vec<Vec<u8>>);

impl Lines {
    /// The lines of the journal at `path`.
    pub fn read(path: &Path) -> io::Result<Lines> {
        Ok(Lines::of(&fs::read(path)?))
    }

    /// The lines of `bytes` (a final newline ends the last line; a `\r` before one is cut).
    pub fn of(bytes: &[u8]) -> Lines {
        let mut lines: Vec<Vec<u8>> = bytes
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .collect();
        if bytes.is_empty() || bytes.ends_with(b"\n") {
            lines.pop();
        }
        Lines(lines)
    }

    /// The first line that is not blank.
    pub fn first(&self) -> Option<&[u8]> {
        self.0.iter().map(Vec::as_slice).find(|l| !is_blank(l))
    }

    /// Every record, blank lines skipped; a last line that does not parse (torn) is ignored.
    pub fn records<R: DeserializeOwned>(&self) -> Result<Vec<R>, Damaged> {
        let mut records = Vec::new();
        for (index, line) in self.0.iter().enumerate() {
            if is_blank(line) {
                continue;
            }
            match serde_json::from_slice(line) {
                Ok(record) => records.push(record),
                Err(_) if index + 1 == self.0.len() => break,
                Err(e) => {
                    return Err(Damaged {
                        line: index + 1,
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(records)
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::failpoint::{Action, Injected};
    use serde::Deserialize;
    use std::fmt;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Toy {
        Write,
        Sync,
        Remove,
    }

    impl fmt::Display for Toy {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.name())
        }
    }

    impl Action for Toy {
        fn all() -> &'static [Toy] {
            &[Toy::Write, Toy::Sync, Toy::Remove]
        }

        fn name(self) -> &'static str {
            match self {
                Toy::Write => "write",
                Toy::Sync => "sync",
                Toy::Remove => "remove",
            }
        }
    }

    impl AtAction for Toy {
        type Action = Toy;

        fn action(&self) -> Toy {
            *self
        }
    }

    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct Rec {
        n: u32,
        name: String,
    }

    fn rec(n: u32, name: &str) -> Rec {
        Rec {
            n,
            name: name.into(),
        }
    }

    #[test]
    fn a_journal_appears_with_its_first_record_or_not_at_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let failing = Failpoints::new(|p: &Toy| match p {
            Toy::Sync => Err(Injected { point: *p }),
            _ => Ok(()),
        });
        let error = JournalFile::create_whole(&state, "j.jsonl", Flush::All, failing, |j| {
            j.append(&rec(1, "first"), Toy::Write, Toy::Sync)
        })
        .expect_err("the first record's fsync fails");
        assert!(error.to_string().contains("injected failure at `sync`"));
        assert_eq!(
            fs::read_dir(&state).expect("dir").count(),
            0,
            "nothing left"
        );

        let mut journal =
            JournalFile::create_whole(&state, "j.jsonl", Flush::All, Failpoints::default(), |j| {
                j.append(&rec(1, "first"), Toy::Write, Toy::Sync)
            })
            .expect("created");
        journal
            .append(&rec(2, "é"), Toy::Write, Toy::Sync)
            .expect("appended");
        let path = state.join("j.jsonl");
        let records: Vec<Rec> = Lines::read(&path).expect("read").records().expect("parse");
        assert_eq!(records, [rec(1, "first"), rec(2, "é")]);
        assert!(!state.join(".j.jsonl.tmp").exists());
        // never over another journal
        assert!(
            JournalFile::create_whole(&state, "j.jsonl", Flush::All, Failpoints::default(), |j| {
                j.append(&rec(9, "other"), Toy::Write, Toy::Sync)
            })
            .is_err()
        );
        assert_eq!(
            Lines::read(&path).expect("read").records::<Rec>(),
            Ok(records)
        );
    }

    #[test]
    fn every_write_and_fsync_passes_its_failpoint_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let fp = Failpoints::new(move |p: &Toy| {
            log.lock().expect("log").push(*p);
            Ok(())
        });
        let mut journal =
            JournalFile::replace(dir.path(), "move.journal", Flush::Data, fp.clone()).expect("new");
        journal.write(&rec(1, "a"), Toy::Write).expect("write");
        journal.write(&rec(2, "b"), Toy::Write).expect("write");
        journal.sync(Toy::Sync).expect("sync");
        let path = dir.path().join("move.journal");
        remove(&path, &fp, Toy::Remove).expect("removed");
        assert!(!path.exists());
        assert_eq!(
            *seen.lock().expect("log"),
            [Toy::Write, Toy::Write, Toy::Sync, Toy::Remove]
        );
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_before_the_next_append() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.jsonl");
        // torn in the middle of a two-byte character: still no unreadable file
        let mut bytes = b"{\"n\":1,\"name\":\"a\"}\n\n{\"n\":2,\"name\":\"".to_vec();
        bytes.push("é".as_bytes()[0]);
        fs::write(&path, &bytes).expect("write");
        let lines = Lines::read(&path).expect("read");
        assert_eq!(lines.first(), Some(&b"{\"n\":1,\"name\":\"a\"}"[..]));
        assert_eq!(lines.records::<Rec>(), Ok(vec![rec(1, "a")]));

        let mut journal = JournalFile::<Toy>::open_append(&path, Flush::All).expect("open");
        journal
            .append(&rec(3, "c"), Toy::Write, Toy::Sync)
            .expect("append");
        assert_eq!(
            Lines::read(&path).expect("read").records::<Rec>(),
            Ok(vec![rec(1, "a"), rec(3, "c")])
        );
    }

    #[test]
    fn a_damaged_line_before_the_last_is_named() {
        let lines = Lines::of(b"{\"n\":1,\"name\":\"a\"}\r\nnot json\n{\"n\":2,\"name\":\"b\"}\n");
        let error = lines.records::<Rec>().expect_err("damaged");
        assert_eq!(error.line, 2);
        assert!(error.to_string().starts_with("line 2: "), "{error}");
        assert_eq!(Lines::of(b"").records::<Rec>(), Ok(vec![]));
        assert_eq!(Lines::of(b"").first(), None);
    }
}
