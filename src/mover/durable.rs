//! The mover's durable actions ([`Step`]) and the failpoint in front of each ([`Failpoints`],
//! the mechanism of [`crate::durable`]): none in production, a test's function otherwise,
//! which may abort the run there (a panic the test catches, as `kill -9` would end it: nothing
//! after the point runs) or fail the action. `TIERCTL_TEST_FAIL=STEP[:N]` aborts
//! `tierctl tiers move` at the N-th hit (the real-engine tests).

use std::fmt;

use crate::durable::{Action, AtAction};

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

impl Action for Step {
    fn all() -> &'static [Step] {
        &Step::ALL
    }

    fn name(self) -> &'static str {
        Step::name(self)
    }
}

/// A mover's point is its step (a move has no steps inside a step).
impl AtAction for Step {
    type Action = Step;

    fn action(&self) -> Step {
        *self
    }
}

/// The error a failpoint injects ([`crate::durable::Injected`] at a [`Step`]).
pub type Injected = crate::durable::Injected<Step>;

/// The failpoints of a move ([`crate::durable::Failpoints`] of [`Step`]s): none in production,
/// a test's function otherwise; the real binary's come from the one
/// [`crate::durable::Trigger`] (`TIERCTL_TEST_FAIL`).
pub type Failpoints = crate::durable::Failpoints<Step>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::Trigger;

    #[test]
    fn the_trigger_names_a_step_of_the_mover_or_none() {
        let trigger = |text| Trigger::parse(Some(text)).expect("a trigger");
        assert_eq!(
            trigger("warm-remove:2").action_of::<Step>(),
            Some(Step::WarmRemove)
        );
        assert_eq!(
            trigger("journal-sync").action_of::<Step>(),
            Some(Step::JournalSync)
        );
        // migrate's `compose-up` is no step of the mover: no failpoints
        assert_eq!(trigger("compose-up").action_of::<Step>(), None);
        let none: Failpoints = trigger("compose-up").failpoints();
        assert_eq!(format!("{none:?}"), "Failpoints(none)");
    }
}
