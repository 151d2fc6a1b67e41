//! Issue 21 item 1: every durable action of migrate, resume, rollback, prune and `--to-context`
//! (an action that changes something on disk or on the engine) named by a [`Durable`] kind, and
//! the failpoint in front of each ([`Failpoints`], the mechanism of [`crate::durable`]): `None`
//! in production (nothing is checked), in tests a function of the [`Point`] that may abort
//! there (as `kill -9` would) or fail the action with an I/O-like error ([`Injected`]) that the
//! code must handle.
//!
//! A point sits *before* its action: an abort at point `i` is a kill after the actions before
//! it completed and before this one began, so the points of a run cover a kill between any two
//! of its durable actions. The real engine's trigger is [`crate::durable::Trigger`]
//! (`TIERCTL_TEST_FAIL=POINT[:N]`: `abort()` at the N-th hit, read once into the settings).

use std::fmt;
use std::str::FromStr;

use super::plan::StepId;
use crate::durable::{Action, AtAction, UnknownAction, parse_action};

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
    /// The plan's services stopped (a batch of containers, in compose's order; a Swarm
    /// service scaled to 0).
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
    /// A Swarm service's placement set through the manager (`migrate --to-node`): its
    /// constraints, bind sources and replicas for the new node, or back for the old one.
    ServiceUpdate,
    /// A source volume removed (`remove-source`, `--prune-source`) or a seed volume.
    VolumeRemove,
    /// A copy removed from its tier (`--discard-copy`).
    CopyRemove,
}

impl Durable {
    /// Every kind, in the order of the table in `docs/safety.md`.
    pub const ALL: [Durable; 16] = [
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
        Durable::ServiceUpdate,
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
            Durable::ServiceUpdate => "service-update",
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

/// Text that names no durable action of migrate.
pub type DurableError = UnknownAction;

impl FromStr for Durable {
    type Err = DurableError;

    fn from_str(text: &str) -> Result<Durable, DurableError> {
        parse_action(text)
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

impl Point {
    /// The point in front of `action` of `step`.
    pub fn new(action: Durable, step: Option<&StepId>) -> Point {
        Point {
            action,
            step: step.cloned(),
        }
    }
}

impl Action for Durable {
    fn all() -> &'static [Durable] {
        &Durable::ALL
    }

    fn name(self) -> &'static str {
        Durable::name(self)
    }
}

impl AtAction for Point {
    type Action = Durable;

    fn action(&self) -> Durable {
        self.action
    }
}

/// The error a failpoint injects ([`crate::durable::Injected`] at a [`Point`]).
pub type Injected = crate::durable::Injected<Point>;

/// The failpoints of a migrate run ([`crate::durable::Failpoints`] of [`Point`]s): none in
/// production, a test's function otherwise; the real binary's come from the one
/// [`crate::durable::Trigger`] (`TIERCTL_TEST_FAIL`).
pub type Failpoints = crate::durable::Failpoints<Point>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::Trigger;
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
    fn the_trigger_names_a_durable_action_of_migrate_or_none() {
        let trigger = |text| Trigger::parse(Some(text)).expect("a trigger");
        assert_eq!(
            trigger("journal-append:7").action_of::<Durable>(),
            Some(Durable::JournalAppend)
        );
        assert_eq!(
            trigger("compose-up").action_of::<Durable>(),
            Some(Durable::ComposeUp)
        );
        // the mover's `warm-remove` is no action of migrate: no failpoints
        assert_eq!(trigger("warm-remove").action_of::<Durable>(), None);
        let none: Failpoints = trigger("warm-remove").failpoints();
        assert_eq!(format!("{none:?}"), "Failpoints(none)");
    }

    #[test]
    fn no_failpoints_let_every_action_go_and_a_function_sees_the_step() {
        let step = MigrateStep::Rewrite.id();
        assert!(
            Failpoints::default()
                .at(Point::new(Durable::ComposeRewrite, Some(&step)))
                .is_ok()
        );
        let fail = Failpoints::new(|p: &Point| match p.action {
            Durable::ComposeRewrite => Err(Injected { point: p.clone() }),
            _ => Ok(()),
        });
        let error = fail
            .at(Point::new(Durable::ComposeRewrite, Some(&step)))
            .expect_err("injected");
        assert_eq!(
            error.to_string(),
            "injected failure at `compose-rewrite@rewrite` (a test failpoint)"
        );
        assert!(fail.at(Point::new(Durable::ComposeUp, None)).is_ok());
    }
}
