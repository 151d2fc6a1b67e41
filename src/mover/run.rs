//! One `tierctl tiers move` run over a pool: settle what a killed run left (its journal), scan,
//! select, then move the selection in batches: each file copied, verified and placed on the
//! colder branch (phase one), then, after one scan for writers, each warmer copy that is
//! unchanged and open for writing by nobody removed (phase two).
//!
//! At every moment each file is whole on at least one branch, and the pool (mergerfs searches
//! the branches hottest first) shows the warmer copy until the colder one is verified in place.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::durable::{Failpoints, Step};
use super::journal::{self, Journal, Open, Record};
use super::scan;
use super::stamp::FileStamp;
use super::transfer::{self, Paths};
use super::writers::{self, Writers};
use crate::move_plan::{FileOutcome, MoveReport, MoveTotals, Selected, Skip, select};
use crate::tiers::pool::Pool;

/// Files moved per batch (one scan for writers per batch).
const BATCH: usize = 256;

/// How a run goes.
#[derive(Debug, Clone)]
pub struct MoveOptions {
    /// The pool's state directory (its lock and journal).
    pub state_dir: PathBuf,
    /// Select and report, move nothing (a journal left is not settled either).
    pub dry_run: bool,
    /// Bytes per second at most (`--rate`).
    pub rate: Option<u64>,
    /// Files per run at most (`--max-files`).
    pub max_files: Option<usize>,
    /// Only these rules (`--rule`); empty: all.
    pub rules: Vec<String>,
    /// `/proc`.
    pub proc: PathBuf,
    /// Now, seconds since the epoch.
    pub now: i64,
    /// The failpoints (none in production).
    pub failpoints: Failpoints,
}

/// Why a run stopped.
#[derive(Debug, Error)]
pub enum MoveError {
    /// The journal could not be read, written or removed.
    #[error("the mover journal in `{}` failed: {source}", dir.display())]
    Journal {
        /// The state directory.
        dir: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A branch could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Scan {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A directory on the colder branch could not be synced.
    #[error("cannot sync `{}`: {source}", path.display())]
    Sync {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file a killed run left open could not be settled.
    #[error("cannot settle `{rel}` left by a killed move: {source}")]
    Settle {
        /// The file.
        rel: String,
        /// The error.
        source: io::Error,
    },
}

impl MoveError {
    /// What to do.
    pub fn hint(&self) -> String {
        match self {
            MoveError::Journal { .. } => "check the state directory (beside tiers.yaml, `.tierctl/pools/`) and its filesystem; run `tierctl tiers move` again: it settles what this run left before it moves anything".into(),
            MoveError::Sync { .. } => "check the colder branch's filesystem (`dmesg`); run `tierctl tiers move` again: the warmer copies are all still there".into(),
            MoveError::Scan { .. } => "check that the branch directories exist and are readable (run as root)".into(),
            MoveError::Settle { .. } => "fix the cause and run `tierctl tiers move` again; every file is whole on its warmer branch or verified on its colder one until it is settled".into(),
        }
    }
}

/// Moves what `pool`'s rules select.
pub fn run(pool: &Pool, options: &MoveOptions) -> Result<MoveReport, MoveError> {
    let started = Instant::now();
    let journal_error = |source| MoveError::Journal {
        dir: options.state_dir.clone(),
        source,
    };
    let scan_error = |(path, source)| MoveError::Scan { path, source };
    let mut totals = MoveTotals::default();
    if !options.dry_run {
        totals.recovered = settle(pool, options)?;
    }
    let candidates = scan::files(pool).map_err(scan_error)?;
    let space = scan::space(pool).map_err(scan_error)?;
    let selection = select(pool, &candidates, &space, options.now, &options.rules);
    let limit = options.max_files.unwrap_or(usize::MAX);
    let mut files: Vec<(Selected, FileOutcome)> = selection
        .moves
        .into_iter()
        .map(|s| (s, FileOutcome::Planned))
        .collect();
    if !options.dry_run && !files.is_empty() {
        let mut journal =
            Journal::create(&options.state_dir, &pool.name, options.failpoints.clone())
                .map_err(journal_error)?;
        let mut pace = Pace::new(options.rate);
        let mut keep_journal = false;
        let take = files.len().min(limit);
        for batch in files[..take].chunks_mut(BATCH) {
            keep_journal |= move_batch(pool, options, &mut journal, &mut pace, batch)?;
        }
        if !keep_journal {
            journal.remove().map_err(journal_error)?;
        }
    }
    for (selected, outcome) in &files {
        match outcome {
            FileOutcome::Moved { .. } => {
                totals.moved += 1;
                totals.bytes += selected.file.size;
            }
            FileOutcome::Skipped(_) => totals.skipped += 1,
            FileOutcome::Failed { .. } => totals.failed += 1,
            FileOutcome::Planned => {}
        }
    }
    totals.seconds = started.elapsed().as_secs_f64();
    Ok(MoveReport {
        pool: pool.name.clone(),
        dry_run: options.dry_run,
        files,
        held: selection.held,
        totals,
    })
}

/// One file between its phases.
struct InFlight {
    paths: Paths,
    stamp: FileStamp,
}

/// Moves one batch; whether a file was left open in the journal (the next run settles it).
fn move_batch(
    pool: &Pool,
    options: &MoveOptions,
    journal: &mut Journal,
    pace: &mut Pace,
    batch: &mut [(Selected, FileOutcome)],
) -> Result<bool, MoveError> {
    let journal_error = |source| MoveError::Journal {
        dir: options.state_dir.clone(),
        source,
    };
    let devices = branch_devices(pool);
    let before = writers::scan(&options.proc, &devices);
    let mut placed: Vec<Option<InFlight>> = Vec::with_capacity(batch.len());
    for (selected, outcome) in batch.iter_mut() {
        let (Some(from), Some(to)) = (pool.branch(&selected.file.tier), pool.branch(&selected.to))
        else {
            placed.push(None);
            continue;
        };
        let paths = Paths::new(&from.path, &to.path, &selected.file.rel);
        match copy_one(options, journal, pace, &before, &selected.file.rel, &paths) {
            Ok(Ok((stamp, hash))) => {
                *outcome = FileOutcome::Moved { hash };
                placed.push(Some(InFlight { paths, stamp }));
            }
            Ok(Err(result)) => {
                *outcome = result;
                placed.push(None);
            }
            Err(e) => return Err(journal_error(e)),
        }
    }
    // every placed copy's name and every `placed` on the disk before any warmer copy goes
    let dirs: BTreeSet<&Path> = placed
        .iter()
        .flatten()
        .filter_map(|f| f.paths.cold.parent())
        .collect();
    for dir in dirs {
        crate::durable::sync_dir(dir).map_err(|source| MoveError::Sync {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    journal.sync().map_err(journal_error)?;
    let after = writers::scan(&options.proc, &devices);
    let mut keep_journal = false;
    for ((selected, outcome), flight) in batch.iter_mut().zip(placed) {
        let Some(flight) = flight else { continue };
        let rel = selected.file.rel.clone();
        match finish_one(options, journal, &after, &rel, &flight) {
            Ok(None) => {}
            Ok(Some(result)) => *outcome = result,
            Err(Unfinished::Journal(e)) => return Err(journal_error(e)),
            Err(Unfinished::Left(e)) => {
                keep_journal = true;
                *outcome = FileOutcome::Failed {
                    error: e.to_string(),
                };
            }
        }
    }
    journal.sync().map_err(journal_error)?;
    Ok(keep_journal)
}

/// The devices of the branches (what the writer scan looks at).
fn branch_devices(pool: &Pool) -> BTreeSet<u64> {
    use std::os::unix::fs::MetadataExt;
    pool.branches
        .iter()
        .filter_map(|b| std::fs::metadata(&b.path).ok().map(|m| m.dev()))
        .collect()
}

type CopyResult = Result<(FileStamp, String), FileOutcome>;

/// Phase one: journal `begin`, copy, verify from the medium, check the warmer copy unchanged,
/// place, journal `placed` (synced with the batch's before phase two). The outer error is the journal's (the run stops); a file's own
/// trouble is its outcome (its temporary copy removed, `undone` journaled).
fn copy_one(
    options: &MoveOptions,
    journal: &mut Journal,
    pace: &mut Pace,
    writers: &Writers,
    rel: &str,
    paths: &Paths,
) -> io::Result<CopyResult> {
    let fp = &options.failpoints;
    let stamp = match FileStamp::read(&paths.warm) {
        Ok(Some(stamp)) => stamp,
        Ok(None) => return Ok(Err(FileOutcome::Skipped(Skip::Vanished))),
        Err(e) => return Ok(Err(failed(&e))),
    };
    if std::fs::symlink_metadata(&paths.cold).is_ok() {
        return Ok(Err(FileOutcome::Skipped(Skip::ExistsOnTarget)));
    }
    if let Some(w) = writers.get(&(stamp.dev, stamp.ino)) {
        return Ok(Err(open_for_writing(w)));
    }
    // moving one path of a hardlinked inode would split the link (and keep its data twice)
    match std::fs::symlink_metadata(&paths.warm).map(|m| m.nlink()) {
        Ok(links) if links > 1 => {
            return Ok(Err(FileOutcome::Skipped(Skip::Hardlinked { links })));
        }
        Ok(_) => {}
        Err(e) => return Ok(Err(failed(&e))),
    }
    journal.append(&Record::Begin {
        rel: rel.to_owned(),
        from: parent_branch(&paths.warm, rel),
        to: parent_branch(&paths.cold, rel),
        stamp,
    })?;
    let mut attempt = || -> io::Result<Result<String, FileOutcome>> {
        transfer::make_dirs(
            &parent_branch(&paths.warm, rel),
            &parent_branch(&paths.cold, rel),
            rel,
            fp,
        )?;
        let read = transfer::copy_to_temp(paths, fp, &mut |n| pace.take(n))?;
        let back = transfer::hash_from_medium(&paths.temp)?;
        if back != read {
            return Ok(Err(FileOutcome::Failed {
                error: format!(
                    "the copy on the colder branch read back {back}, the warmer file {read}"
                ),
            }));
        }
        if let Some(name) = transfer::xattr_not_kept(paths)? {
            return Ok(Err(FileOutcome::Failed {
                error: format!("the colder branch did not keep the extended attribute `{name}`"),
            }));
        }
        if FileStamp::read(&paths.warm)? != Some(stamp) {
            return Ok(Err(FileOutcome::Skipped(Skip::Changed)));
        }
        transfer::place(paths, fp)?;
        Ok(Ok(read))
    };
    let result = attempt();
    match result {
        Ok(Ok(hash)) => {
            journal.write(&Record::Placed {
                rel: rel.to_owned(),
                hash: hash.clone(),
            })?;
            Ok(Ok((stamp, hash)))
        }
        Ok(Err(outcome)) => {
            give_up(fp, journal, rel, paths, false)?;
            Ok(Err(outcome))
        }
        Err(e) => {
            give_up(fp, journal, rel, paths, false)?;
            Ok(Err(failed(&e)))
        }
    }
}

/// Removes the temporary copy (and, when `placed`, the colder copy) and journals `undone`.
fn give_up(
    fp: &Failpoints,
    journal: &mut Journal,
    rel: &str,
    paths: &Paths,
    placed: bool,
) -> io::Result<()> {
    transfer::remove_if_there(&paths.temp, Step::TempRemove, fp)?;
    if placed {
        transfer::remove_if_there(&paths.cold, Step::CopyRemove, fp)?;
    }
    journal.append(&Record::Undone {
        rel: rel.to_owned(),
    })
}

enum Unfinished {
    /// The journal failed: the run stops.
    Journal(io::Error),
    /// The file could not be finished nor given up: both copies stay, the journal too.
    Left(io::Error),
}

/// Phase two: the warmer copy, unchanged and not open for writing, removed; `done` journaled.
/// A changed or written one keeps the pool's file: the colder copy is removed, `undone`.
fn finish_one(
    options: &MoveOptions,
    journal: &mut Journal,
    writers: &Writers,
    rel: &str,
    flight: &InFlight,
) -> Result<Option<FileOutcome>, Unfinished> {
    let fp = &options.failpoints;
    let now = FileStamp::read(&flight.paths.warm).map_err(Unfinished::Left)?;
    let skip = if now != Some(flight.stamp) {
        Some(Skip::Changed)
    } else {
        writers
            .get(&(flight.stamp.dev, flight.stamp.ino))
            .map(|w| Skip::OpenForWriting {
                pid: w.pid,
                command: w.command.clone(),
            })
    };
    if let Some(skip) = skip {
        give_up(fp, journal, rel, &flight.paths, true).map_err(Unfinished::Left)?;
        return Ok(Some(FileOutcome::Skipped(skip)));
    }
    transfer::remove_warm(&flight.paths, fp).map_err(Unfinished::Left)?;
    journal
        .write(&Record::Done {
            rel: rel.to_owned(),
        })
        .map_err(Unfinished::Journal)?;
    Ok(None)
}

fn failed(e: &io::Error) -> FileOutcome {
    FileOutcome::Failed {
        error: e.to_string(),
    }
}

fn open_for_writing(w: &writers::Writer) -> FileOutcome {
    FileOutcome::Skipped(Skip::OpenForWriting {
        pid: w.pid,
        command: w.command.clone(),
    })
}

/// The branch directory of `path`, the file `rel` below it.
fn parent_branch(path: &Path, rel: &str) -> PathBuf {
    let depth = Path::new(rel).components().count();
    path.ancestors().nth(depth).unwrap_or(path).to_path_buf()
}

/// Settles every file a killed run's journal left open; how many.
///
/// Begun, not placed: any temporary copy and any colder copy (ours: a move starts only where
/// the colder branch has no file) removed, the warmer one stays. Placed: when the warmer copy is
/// gone the move is done; when it is as it was, open for writing by nobody, and the colder copy
/// still hashes (from the medium) as verified, the warmer one is removed; otherwise the warmer
/// one is the file and the colder copy goes.
fn settle(pool: &Pool, options: &MoveOptions) -> Result<u64, MoveError> {
    let fp = &options.failpoints;
    let open = journal::read_open(&options.state_dir).map_err(|source| MoveError::Journal {
        dir: options.state_dir.clone(),
        source,
    })?;
    if open.is_empty() {
        if journal::path(&options.state_dir).exists() {
            remove_settled(options)?;
        }
        return Ok(0);
    }
    let writers = writers::scan(&options.proc, &branch_devices(pool));
    let count = open.len() as u64;
    for (rel, state) in open {
        let settle_error = |source| MoveError::Settle {
            rel: rel.clone(),
            source,
        };
        settle_one(fp, &writers, &rel, &state).map_err(settle_error)?;
    }
    remove_settled(options)?;
    Ok(count)
}

fn settle_one(fp: &Failpoints, writers: &Writers, rel: &str, state: &Open) -> io::Result<()> {
    match state {
        Open::Begun { from, to, .. } => {
            let paths = Paths::new(from, to, rel);
            transfer::remove_if_there(&paths.temp, Step::TempRemove, fp)?;
            if FileStamp::read(&paths.warm)?.is_some() {
                transfer::remove_if_there(&paths.cold, Step::CopyRemove, fp)?;
            }
            Ok(())
        }
        Open::Placed {
            from,
            to,
            stamp,
            hash,
        } => {
            let paths = Paths::new(from, to, rel);
            transfer::remove_if_there(&paths.temp, Step::TempRemove, fp)?;
            let Some(now) = FileStamp::read(&paths.warm)? else {
                return Ok(());
            };
            let cold_ok = FileStamp::read(&paths.cold)?.is_some()
                && transfer::hash_from_medium(&paths.cold)? == *hash;
            if now == *stamp && cold_ok && !writers.contains_key(&(now.dev, now.ino)) {
                transfer::remove_warm(&paths, fp)
            } else {
                transfer::remove_if_there(&paths.cold, Step::CopyRemove, fp)
            }
        }
    }
}

/// Removes a journal whose files are all settled (through [`Journal::remove`]'s failpoint).
fn remove_settled(options: &MoveOptions) -> Result<(), MoveError> {
    let journal_error = |source| MoveError::Journal {
        dir: options.state_dir.clone(),
        source,
    };
    journal::remove(&journal::path(&options.state_dir), &options.failpoints).map_err(journal_error)
}

/// The rate limit: sleeps so that bytes over time stay at or under the rate.
struct Pace {
    rate: Option<u64>,
    started: Instant,
    bytes: u64,
}

impl Pace {
    fn new(rate: Option<u64>) -> Pace {
        Pace {
            rate,
            started: Instant::now(),
            bytes: 0,
        }
    }

    fn take(&mut self, n: u64) {
        let Some(rate) = self.rate.filter(|r| *r > 0) else {
            return;
        };
        self.bytes += n;
        let due = Duration::from_secs_f64(self.bytes as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}
