//! Issue 21 item 1: every durable action of migrate, resume, rollback, prune and `--to-context`
//! (an action that changes something on disk or on the engine) named by a [`Durable`] kind, and
//! the failpoint in front of each ([`Failpoints`]): `None` in production (nothing is checked),
//! in tests a function of the [`Point`] that may abort there (as `kill -9` would) or fail the
//! action with an I/O-like error ([`Injected`]) that the code must handle.
//!
//! A point sits *before* its action: an abort at point `i` is a kill after the actions before
//! it completed and before this one began, so the points of a run cover a kill between any two
//! of its durable actions. The real engine's trigger is [`Trigger`]
//! (`TIERCTL_TEST_FAIL=POINT[:N]`: `abort()` at the N-th hit, read once into the settings).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use thiserror::Error;

use super::plan::StepId;

/// A kind of durable action: one name per kind, the step it belongs to in the [`Point`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Durable {
    /// A new journal file created with its plan, the directory fsynced.
    JournalCreate,
    /// A record appended to the journal (before its bytes are written).
    JournalAppend,
    /// A record written, before its fsync (an error here leaves the line in the file).
    JournalSync,
    /// A side file beside the journal (a manifest, what a verify knew): a temporary file
    /// written and fsynced, renamed into place, the directory fsynced.
    SideFileWrite,
    /// A target directory made in a tier (`create-dir`).
    TierDirCreate,
    /// A helper container started that writes (the copy, the pre-copy, the delta, the wipe of
    /// a partial copy, a rollback's copy back); it is removed when it ends.
    HelperRun,
    /// The copy or the delta applied on the host: files written, links, owners, modes and
    /// times set, the target's filesystem synced; or the host's pass over a helper's pre-copy
    /// (extended attributes, symlink times, holes).
    HostCopy,
    /// A temporary volume created and filled from the image (a seed).
    VolumeCreate,
    /// The plan's services stopped (a batch of containers, in compose's order).
    ServiceStop,
    /// A compose file written (compare-and-swap through `write.rs`: backup, temp file,
    /// fsync, swap), by the rewrite or the rollback's restore.
    ComposeRewrite,
    /// A compose file for engine B created beside its original (`--to-context`).
    ComposeCreate,
    /// A compose file for engine B removed by a rollback.
    ComposeRemove,
    /// The services started (`compose up -d`).
    ComposeUp,
    /// A source volume removed (`remove-source`, `--prune-source`) or a seed volume.
    VolumeRemove,
    /// A copy removed from its tier (`--discard-copy`).
    CopyRemove,
}

impl Durable {
    /// Every kind, in the order of the table in `docs/safety.md`.
    pub const ALL: [Durable; 15] = [
        Durable::JournalCreate,
        Durable::JournalAppend,
        Durable::JournalSync,
        Durable::SideFileWrite,
        Durable::TierDirCreate,
        Durable::HelperRun,
        Durable::HostCopy,
        Durable::VolumeCreate,
        Durable::ServiceStop,
        Durable::ComposeRewrite,
        Durable::ComposeCreate,
        Durable::ComposeRemove,
        Durable::ComposeUp,
        Durable::VolumeRemove,
        Durable::CopyRemove,
    ];

    /// Its name (`journal-append`, ...), as `TIERCTL_TEST_FAIL` and the table write it.
    pub const fn name(self) -> &'static str {
        match self {
            Durable::JournalCreate => "journal-create",
            Durable::JournalAppend => "journal-append",
            Durable::JournalSync => "journal-sync",
            Durable::SideFileWrite => "side-file-write",
            Durable::TierDirCreate => "tier-dir-create",
            Durable::HelperRun => "helper-run",
            Durable::HostCopy => "host-copy",
            Durable::VolumeCreate => "volume-create",
            Durable::ServiceStop => "service-stop",
            Durable::ComposeRewrite => "compose-rewrite",
            Durable::ComposeCreate => "compose-create",
            Durable::ComposeRemove => "compose-remove",
            Durable::ComposeUp => "compose-up",
            Durable::VolumeRemove => "volume-remove",
            Durable::CopyRemove => "copy-remove",
        }
    }
}

impl fmt::Display for Durable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Text that names no durable action.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("`{text}` is no durable action (one of {})", names())]
pub struct DurableError {
    /// The text.
    pub text: String,
}

fn names() -> String {
    let names: Vec<&str> = Durable::ALL.iter().map(|d| d.name()).collect();
    names.join(", ")
}

impl FromStr for Durable {
    type Err = DurableError;

    fn from_str(text: &str) -> Result<Durable, DurableError> {
        Durable::ALL
            .into_iter()
            .find(|d| d.name() == text)
            .ok_or_else(|| DurableError {
                text: text.to_owned(),
            })
    }
}

/// One failpoint as a run passes it: the action and the step it belongs to (`None`: the run's
/// own records, outside any step: the plan, `finished`, `rollback-begun`, ...).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Point {
    /// The action.
    pub action: Durable,
    /// The step.
    pub step: Option<StepId>,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Some(step) => write!(f, "{}@{step}", self.action),
            None => write!(f, "{}", self.action),
        }
    }
}

/// The error a failpoint injects: the action fails as an I/O error would.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("injected failure at `{point}` (a test failpoint)")]
pub struct Injected {
    /// Where.
    pub point: Point,
}

impl From<Injected> for std::io::Error {
    fn from(injected: Injected) -> std::io::Error {
        std::io::Error::other(injected)
    }
}

/// What a failpoint does with a point: `Ok` to go on, `Err` to fail the action; it may also
/// never return (an abort).
pub type FailFn = dyn Fn(&Point) -> Result<(), Injected> + Send + Sync;

/// The failpoints of a run: none in production (nothing is checked), a test's function
/// otherwise. Cheap to clone: the journal and the run share one.
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
    pub fn new(fail: impl Fn(&Point) -> Result<(), Injected> + Send + Sync + 'static) -> Self {
        Failpoints(Some(Arc::new(fail)))
    }

    /// The failpoint in front of `action` of `step`.
    pub fn at(&self, action: Durable, step: Option<&StepId>) -> Result<(), Injected> {
        match &self.0 {
            None => Ok(()),
            Some(fail) => fail(&Point {
                action,
                step: step.cloned(),
            }),
        }
    }
}

/// The real engine's trigger, `TIERCTL_TEST_FAIL=POINT[:N]` (read once into the settings):
/// `std::process::abort()` at the `N`-th (1-based, default 1) hit of durable action `POINT`
/// in this process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The action.
    pub action: Durable,
    /// Which hit aborts (1: the first).
    pub nth: usize,
}

impl Trigger {
    /// Parse the variable's value; `None` unless it names an action (and a hit from 1 on).
    pub fn parse(text: Option<&str>) -> Option<Trigger> {
        let text = text?;
        let (action, nth) = match text.split_once(':') {
            Some((action, n)) => (action, n.parse().ok().filter(|n| *n >= 1)?),
            None => (text, 1),
        };
        Some(Trigger {
            action: action.parse().ok()?,
            nth,
        })
    }

    /// The failpoints that abort the process at the trigger's hit.
    pub fn failpoints(&self) -> Failpoints {
        let (action, nth) = (self.action, self.nth);
        let hits = AtomicUsize::new(0);
        Failpoints::new(move |point| {
            if point.action == action && hits.fetch_add(1, Ordering::SeqCst) + 1 == nth {
                eprintln!("(test hook: TIERCTL_TEST_FAIL aborts at `{point}`)");
                std::process::abort();
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::plan::MigrateStep;

    #[test]
    fn every_durable_action_has_a_name_that_parses_back() {
        for d in Durable::ALL {
            assert_eq!(d.name().parse::<Durable>(), Ok(d));
        }
        let error = "journal".parse::<Durable>().expect_err("no action");
        assert!(error.to_string().contains("journal-append"), "{error}");
    }

    #[test]
    fn the_trigger_names_an_action_and_optionally_its_hit() {
        assert_eq!(
            Trigger::parse(Some("compose-up")),
            Some(Trigger {
                action: Durable::ComposeUp,
                nth: 1
            })
        );
        assert_eq!(
            Trigger::parse(Some("journal-append:7")).map(|t| t.nth),
            Some(7)
        );
        assert_eq!(Trigger::parse(Some("journal-append:0")), None);
        assert_eq!(Trigger::parse(Some("up")), None);
        assert_eq!(Trigger::parse(None), None);
    }

    #[test]
    fn no_failpoints_let_every_action_go_and_a_function_sees_the_step() {
        let step = MigrateStep::Rewrite.id();
        assert!(
            Failpoints::default()
                .at(Durable::ComposeRewrite, Some(&step))
                .is_ok()
        );
        let fail = Failpoints::new(|p| match p.action {
            Durable::ComposeRewrite => Err(Injected { point: p.clone() }),
            _ => Ok(()),
        });
        let error = fail
            .at(Durable::ComposeRewrite, Some(&step))
            .expect_err("injected");
        assert_eq!(
            error.to_string(),
            "injected failure at `compose-rewrite@rewrite` (a test failpoint)"
        );
        assert!(fail.at(Durable::ComposeUp, None).is_ok());
    }
}
