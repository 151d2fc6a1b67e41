//! What a `tierctl tiers move` run did: per file, moved (verified), skipped (and why; it is
//! retried next run) or failed; and the totals the reports show.

use super::select::{Held, Selected};

/// Why a selected file was not moved this run (it stays where it was, whole, and the next run
/// looks at it again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A process holds it open for writing (`/proc/<pid>/fd` with a write mode).
    OpenForWriting {
        /// The process.
        pid: u32,
        /// Its command name (`/proc/<pid>/comm`).
        command: String,
    },
    /// Its size, mtime or ctime changed while it was copied or verified.
    Changed,
    /// The colder branch already has a file at that path (left to the user: two copies).
    ExistsOnTarget,
    /// It was gone (deleted or renamed) when its turn came.
    Vanished,
    /// It has other hard links: moving one path would split the link and keep its data twice
    /// (left where it is; every run says so).
    Hardlinked {
        /// Its link count.
        links: u64,
    },
}

/// What happened to one selected file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Copied, synced, verified from the medium, in place on the colder branch, the warmer copy
    /// removed.
    Moved {
        /// The BLAKE3 hash both copies had.
        hash: String,
    },
    /// Left where it was this run.
    Skipped(Skip),
    /// An error; the file stays readable where it was (the warmer copy is kept).
    Failed {
        /// The error.
        error: String,
    },
    /// Not attempted: `--dry-run`, or the run's `--max-files` / time was used up.
    Planned,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MoveTotals {
    /// Files moved.
    pub moved: u64,
    /// Bytes moved (and verified).
    pub bytes: u64,
    /// Files skipped.
    pub skipped: u64,
    /// Files failed.
    pub failed: u64,
    /// Files a resumed journal finished or undid before this run's selection.
    pub recovered: u64,
    /// Seconds the run took.
    pub seconds: f64,
}

/// The report of `tierctl tiers move` for one pool.
#[derive(Debug, Clone, PartialEq)]
pub struct MoveReport {
    /// The pool.
    pub pool: String,
    /// `--dry-run`: nothing was moved.
    pub dry_run: bool,
    /// Each selected file and what happened to it, in selection order.
    pub files: Vec<(Selected, FileOutcome)>,
    /// Files held back for want of room on the colder branch.
    pub held: Vec<Held>,
    /// The totals.
    pub totals: MoveTotals,
}

impl MoveReport {
    /// Exit status: 0 every selected file moved (or a dry run), 1 some skipped or held, 2 some
    /// failed.
    pub fn exit_code(&self) -> u8 {
        if self.totals.failed > 0 {
            2
        } else if self.totals.skipped > 0 || !self.held.is_empty() {
            1
        } else {
            0
        }
    }
}
