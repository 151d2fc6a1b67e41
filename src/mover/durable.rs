//! The mover's durable actions ([`Step`]) and the failpoint in front of each ([`Failpoints`]):
//! none in production, a test's function otherwise, which may abort the run there (a panic the
//! test catches, as `kill -9` would end it: nothing after the point runs) or fail the action.
//! `TIERCTL_TEST_MOVER_FAIL=STEP[:N]` aborts the process at the N-th hit (the real-engine tests).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use thiserror::Error;

/// A durable action of a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// A journal record appended (before its bytes are written).
    JournalAppend,
    /// A journal record written, before its fsync.
    JournalSync,
    /// A directory made on the colder branch (with the warmer one's owner and mode).
    DirCreate,
    /// The temporary copy written on the colder branch.
    TempWrite,
    /// The temporary copy and its directory fsynced.
    TempSync,
    /// The verified copy renamed into place, its directory fsynced.
    Rename,
    /// The warmer copy removed, its directory fsynced (only after the verify).
    WarmRemove,
    /// A temporary copy left by a killed run removed.
    TempRemove,
    /// A copy on the colder branch removed because the warmer one changed (a resume).
    CopyRemove,
    /// The finished journal removed.
    JournalRemove,
}

impl Step {
    /// Every step, in the order of the table in docs/safety.md.
    pub const ALL: [Step; 10] = [
        Step::JournalAppend,
        Step::JournalSync,
        Step::DirCreate,
        Step::TempWrite,
        Step::TempSync,
        Step::Rename,
        Step::WarmRemove,
        Step::TempRemove,
        Step::CopyRemove,
        Step::JournalRemove,
    ];

    /// Its name.
    pub const fn name(self) -> &'static str {
        match self {
            Step::JournalAppend => "journal-append",
            Step::JournalSync => "journal-sync",
            Step::DirCreate => "dir-create",
            Step::TempWrite => "temp-write",
            Step::TempSync => "temp-sync",
            Step::Rename => "rename",
            Step::WarmRemove => "warm-remove",
            Step::TempRemove => "temp-remove",
            Step::CopyRemove => "copy-remove",
            Step::JournalRemove => "journal-remove",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error a failpoint injects.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("injected failure at mover step `{0}` (a test failpoint)")]
pub struct Injected(pub Step);

impl From<Injected> for std::io::Error {
    fn from(injected: Injected) -> std::io::Error {
        std::io::Error::other(injected)
    }
}

type FailFn = dyn Fn(Step) -> Result<(), Injected> + Send + Sync;

/// The failpoints of a run.
#[derive(Clone, Default)]
pub struct Failpoints(Option<Arc<FailFn>>);

impl fmt::Debug for Failpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Failpoints(set)"
        } else {
            "Failpoints(none)"
        })
    }
}

impl Failpoints {
    /// Failpoints answered by `fail`.
    pub fn new(fail: impl Fn(Step) -> Result<(), Injected> + Send + Sync + 'static) -> Self {
        Failpoints(Some(Arc::new(fail)))
    }

    /// The failpoint in front of `step`.
    pub fn at(&self, step: Step) -> std::io::Result<()> {
        match &self.0 {
            None => Ok(()),
            Some(fail) => fail(step).map_err(Into::into),
        }
    }

    /// `TIERCTL_TEST_MOVER_FAIL=STEP[:N]` (the value given): `abort()` at the N-th hit of
    /// `STEP`; none when the value names no step.
    pub fn from_trigger(value: Option<&str>) -> Failpoints {
        let Some(value) = value else {
            return Failpoints::default();
        };
        let (name, nth) = value.split_once(':').unwrap_or((value, "1"));
        let (Some(step), Ok(nth)) = (
            Step::ALL.into_iter().find(|s| s.name() == name),
            nth.parse::<usize>(),
        ) else {
            return Failpoints::default();
        };
        let hits = AtomicUsize::new(0);
        Failpoints::new(move |at| {
            if at == step && hits.fetch_add(1, Ordering::SeqCst) + 1 == nth {
                eprintln!("(test hook: TIERCTL_TEST_MOVER_FAIL aborts at `{at}`)");
                std::process::abort();
            }
            Ok(())
        })
    }
}
