//! `tierctl migrate`: named volumes (and bind directories) copied into their tier directories
//! through hardened helper containers, verified, the compose files rewritten, the services
//! started again; every step journaled, so a run can resume or roll back.
//!
//! The chain, a file each: [`plan`] (pure: what to do) -> [`preflight`] (refuse before anything
//! changes) -> [`run`] (the journaled step loop) -> [`steps`] (one function per step) ->
//! [`rollback`] / [`prune`] (undo / remove the kept sources afterwards). Beside them: the
//! [`journal`], the copy helpers ([`copy`]), trees ([`tree`]: one entry type and
//! manifest, read on the host or by the one manifest helper inside the engine), whether a target keeps owners
//! ([`owners`]), the compose CLI ([`compose_cli`]; which family starts a project:
//! [`compose_family`]), the mount check ([`mounts`]), the order services stop in ([`stop_order`]), whether a stop would kill a service ([`stop_signal`]), progress bars ([`progress`]) and the
//! report data ([`outcome`]).
//!
//! It decides nothing: the plan says what, the journal says what is done.

pub mod check;
pub mod compose_cli;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod compose_family;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod copy;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod cross_plan;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod delta;
pub mod durable;
pub mod host_apply;
pub mod host_measure;
pub mod journal;
pub mod late_writes;
pub mod learned;
pub mod mounts;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod outcome;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod owners;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod plan;
pub mod preflight;
pub mod progress;
pub mod prune;
pub mod rollback;
pub mod run;
pub mod site;
pub mod steps;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod stop_order;
pub mod stop_signal;
pub mod stream;
pub mod swarm_service;
pub mod tier_dirs;
pub mod tree;

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

pub use compose_cli::ComposeCli;
pub use mounts::{MountViews, ViewedMount};
pub use outcome::{Outcome, StepOutcome, kept_line};
pub use plan::describe;
pub use preflight::preflight;
pub use prune::prune_sources;
pub use rollback::rollback;
pub use run::run;
pub use steps::StepError;

use crate::engine::{Engine, Selector};
use journal::{Detail, JournalError, JournalState};
use plan::StepId;

/// What a migration works with: the engine, the helper image, the compose CLI, the tier roots,
/// how to report, and the test hook.
pub struct MigrateContext<'a> {
    /// The engine.
    pub engine: &'a dyn Engine,
    /// The helper image.
    pub image: String,
    /// The compose CLI (`None`: none installed).
    pub compose: Option<ComposeCli>,
    /// The tier roots (a target must lie inside one).
    pub roots: Vec<PathBuf>,
    /// No `[n/N] step` lines on stderr.
    pub quiet: bool,
    /// What the running services see at their mounts (`tierctl verify`'s machinery); `None`:
    /// only the engine's inspect is checked.
    pub views: Option<&'a dyn MountViews>,
    /// Test hook: sleep at a point of the run, so a test can kill tierctl there.
    pub pause: Option<Pause>,
    /// Test hook: called with the step's id before each step runs (its start journaled) and
    /// after it ran (its end not yet journaled), and at the rollback's points; a test changes
    /// the trees there or crashes (the fake engine's crash matrix). `None` in production.
    pub hook: Option<StepHook<'a>>,
    /// Test hook: the failpoint in front of every durable action ([`durable`]); none in
    /// production.
    pub failpoints: durable::Failpoints,
    /// The global arguments the user gave (`-f`, `-p`, `--project-directory`, `--env-file`,
    /// `--profile`, `--context`, `-H`), repeated in the next command printed after an interrupt.
    pub invocation: Vec<String>,
    /// Removes a journal's helper containers from the interrupt handler's thread (its own
    /// connection to the engine); `None`: the next run removes them.
    pub helper_cleanup: Option<HelperCleanup>,
    /// What the engine's VM shares and the fix for a host path it does not (`None`: a native
    /// engine, or the VM's configuration could not be read).
    pub vm: Option<VmFix>,
    /// Go on although a service was killed at the stop (`--force`).
    pub force: bool,
    /// The docker context of the engine's host when that is another machine (`crate::host`):
    /// the plan's paths are that machine's, and its tier directories are looked at and written
    /// only by helper containers there ([`tier_dirs`]). `None`: this machine (or its VM).
    pub elsewhere: Option<String>,
    /// Engine B of `--to-context`: the project moves there ([`site`]); `None`: the copies stay
    /// on this engine.
    pub to: Option<site::OtherEngine<'a>>,
    /// The user's tier map: before each step the tiers the copies go to must still be there
    /// (their marker, a `mount: true` root still a mount point), so a disk that went away
    /// mid-move gets no copy on the system disk below its mount point and no service starts on
    /// the empty directory there. `None`: not looked at here (another machine's tiers).
    pub tiers: Option<&'a crate::tiers::Tiers>,
}

/// What [`MigrateContext::hook`] calls: the step's id, and whether the step ran already.
pub type StepHook<'a> = &'a dyn Fn(&str, bool);

/// Removes the helper containers labelled with a journal id, callable from any thread.
pub type HelperCleanup = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// The engine's VM as preflight needs it: its view and the home the fix is written for.
pub struct VmFix {
    /// The VM's shares.
    pub view: crate::vm::view::VmView,
    /// The user's home (Colima's and Lima's files live there).
    pub home: PathBuf,
}

impl MigrateContext<'_> {
    /// One line of progress on stderr (progress is not output: stdout holds the report).
    fn say(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// A step's result on stderr, only when the report does not go to the same terminal
    /// (stdout redirected: then these lines are the only live record; on a terminal the report
    /// shows each step once, issue 26 row 19).
    fn say_step(&self, line: &str) {
        use std::io::IsTerminal;
        if !std::io::stdout().is_terminal() {
            self.say(line);
        }
    }

    /// The test hooks: [`MigrateContext::hook`] (with the step's text); a sleep when the pause
    /// names this step (before it, or `after` it ran).
    fn pause_at(&self, step: &StepId, after: bool) {
        if let Some(hook) = self.hook {
            hook(&step.to_string(), after);
        }
        if let Some(p) = self
            .pause
            .as_ref()
            .filter(|p| p.step == *step && p.after == after)
        {
            self.say(&format!(
                "(test hook: paused at `{step}`{})",
                if after { " after it ran" } else { "" }
            ));
            std::thread::sleep(p.duration);
        }
    }

    /// The failpoint in front of durable `action` of `step` ([`durable::Failpoints::at`]).
    pub fn durable(
        &self,
        action: durable::Durable,
        step: Option<&StepId>,
    ) -> Result<(), durable::Injected> {
        self.failpoints.at(durable::Point::new(action, step))
    }

    /// Remove the temporary seed volumes (best effort: they hold a copy of image content only).
    fn remove_seed_volumes(&self, state: &JournalState) {
        for detail in state.done.values() {
            if let Detail::Seeded { volume }
            | Detail::Copied {
                seeded: Some(volume),
                ..
            }
            | Detail::PreCopied {
                seeded: Some(volume),
                ..
            } = detail
                && self.durable(durable::Durable::VolumeRemove, None).is_ok()
            {
                let _ = self.engine.remove_volume(volume);
            }
        }
    }

    /// Remove the helper containers a killed run of this journal may have left behind (a copy
    /// helper outlives a SIGKILLed tierctl and keeps the source volume in use), on this engine
    /// and on B.
    pub fn remove_helpers(&self, journal: &str) {
        let b = self.to.as_ref().map(|b| b.engine as &dyn Engine);
        for engine in std::iter::once(self.engine).chain(b) {
            if let Ok(left) = engine.list(&Selector::Journal(journal.to_owned())) {
                for c in left {
                    let _ = engine.remove(&c.id);
                }
            }
        }
    }
}

/// A test hook's pause (`TIERCTL_TEST_MIGRATE_PAUSE=STEP[:after]`,
/// `TIERCTL_TEST_MIGRATE_PAUSE_MS`, read once into the settings): at `STEP` once its start is
/// journaled, or with `:after` once it ran and before its end is journaled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pause {
    /// The step (`rewrite`, `copy:0`, `rollback:stop`, ...).
    pub step: StepId,
    /// After the step ran instead of before.
    pub after: bool,
    /// How long.
    pub duration: Duration,
}

impl Pause {
    /// Parse the hook's two values; `None` unless both are usable (the step one of
    /// [`StepId`]'s).
    pub fn parse(at: Option<&str>, millis: Option<&str>) -> Option<Pause> {
        let at = at?;
        let duration = Duration::from_millis(millis.unwrap_or("60000").parse().ok()?);
        let (step, after) = match at.strip_suffix(":after") {
            Some(step) => (step, true),
            None => (at, false),
        };
        Some(Pause {
            step: step.parse().ok()?,
            after,
            duration,
        })
    }
}

/// Why a migration stopped.
#[derive(Debug, Error)]
pub enum MigrateError {
    /// A step failed; what was done before it stays done.
    #[error("step `{step}` failed: {error}")]
    Step {
        /// The step.
        step: StepId,
        /// Why.
        error: Box<StepError>,
        /// The journal (to resume or roll back).
        journal: PathBuf,
        /// Steps done before.
        done: Vec<StepId>,
    },
    /// Refused before anything changed.
    #[error("{0}")]
    Refused(String),
    /// A rollback, discard or prune refused or stopped, with the commands that work now
    /// ([`journal::next_commands`]).
    #[error("{message}")]
    Blocked {
        /// What happened, naming its subject.
        message: String,
        /// What to do.
        hint: String,
    },
    /// The journal could not be used.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// The steps done before a failure, for its hint.
fn done_list(done: &[StepId]) -> String {
    if done.is_empty() {
        "nothing".to_owned()
    } else {
        let done: Vec<String> = done.iter().map(StepId::to_string).collect();
        done.join(", ")
    }
}

impl MigrateError {
    /// What the user can do.
    pub fn hint(&self) -> String {
        match self {
            // a service killed at the stop: nothing to fix, only to choose
            MigrateError::Step {
                error,
                journal,
                done,
                ..
            } if error.is_unclean_stop() => format!(
                "done before the failure: {}; go on with this data anyway with `tierctl migrate --resume --force`, or restart the services on their volumes with `tierctl migrate --rollback --yes` (journal `{}`); the source data was not touched",
                done_list(done),
                journal.display()
            ),
            // dockerd restarted a service at boot before its tier's disk was mounted: repeating
            // the step cannot help, recreating the service once the disk is there does
            MigrateError::Step {
                error,
                journal,
                done,
                ..
            } if error.is_started_before_disk() => format!(
                "done before the failure: {}; once the tier's disk is mounted, save what the service wrote below its mount point since it started (it began on an empty directory there; docs/checks.md#stale-bind shows how to reach it), recreate the services on the tier with `docker compose up -d --force-recreate` in the project's directory, then run `tierctl migrate --resume` (journal `{}`); to stop it happening again make Docker wait for the disk (systemd: `RequiresMountsFor=` the tier's mount point in a docker.service drop-in); the source data was not touched",
                done_list(done),
                journal.display()
            ),
            MigrateError::Step { journal, done, .. } => format!(
                "done before the failure: {}; fix the cause, then {} (journal `{}`); the source data was not touched",
                done_list(done),
                journal::next_commands(journal::Phase::Open),
                journal.display()
            ),
            MigrateError::Refused(_) => "nothing was changed".into(),
            MigrateError::Blocked { hint, .. } => hint.clone(),
            MigrateError::Journal(e) => e.hint(),
        }
    }
}

/// The journal's state, or the error that it has no plan.
fn state_of(
    journal: &journal::Journal,
    records: &[journal::Record],
) -> Result<JournalState, MigrateError> {
    JournalState::of(records).ok_or_else(|| {
        MigrateError::Journal(JournalError::NoPlan {
            path: journal.path.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 26 row 18: a service killed at the stop needs `--resume --force`; the hint said
    /// "fix the cause, then run `tierctl migrate --resume`", which refuses again.
    #[test]
    fn issue26_row18_a_service_killed_at_the_stop_names_resume_force() {
        let error = MigrateError::Step {
            step: plan::CopyStep::Delta.of(0),
            error: Box::new(StepError::NotStoppedCleanly {
                killed: vec![
                    "container `app-db-1` killed (exit 137: it did not stop within its grace period)"
                        .into(),
                ],
            }),
            journal: PathBuf::from("/p/.tierctl/journal-1.jsonl"),
            done: vec![plan::MigrateStep::Stop.id()],
        };
        let hint = error.hint();
        assert!(
            hint.contains("`tierctl migrate --resume --force`"),
            "{hint}"
        );
        assert!(
            hint.contains("`tierctl migrate --rollback --yes`"),
            "{hint}"
        );
        assert!(!hint.contains("fix the cause"), "{hint}");
    }

    /// Issue 21 (the power-cut soak): a service dockerd restarted at boot before its tier's disk
    /// was mounted; `--resume` refused at verify mounts with a hint that repeated the step.
    #[test]
    fn issue21_a_service_started_before_its_disk_names_the_recreate() {
        let error = MigrateError::Step {
            step: plan::MigrateStep::VerifyMounts.id(),
            error: Box::new(StepError::StartedBeforeDisk {
                problems: vec!["container `app-db-1` at `/data`: stale-bind (...)".into()],
            }),
            journal: PathBuf::from("/p/.tierctl/journal-1.jsonl"),
            done: vec![plan::MigrateStep::Start.id()],
        };
        let hint = error.hint();
        assert!(hint.contains("--force-recreate"), "{hint}");
        assert!(hint.contains("`tierctl migrate --resume`"), "{hint}");
        assert!(hint.contains("RequiresMountsFor="), "{hint}");
        assert!(!hint.contains("fix the cause"), "{hint}");
    }

    #[test]
    fn the_pause_hook_names_a_step_and_optionally_after() {
        assert_eq!(
            Pause::parse(Some("rewrite:after"), Some("1500")),
            Some(Pause {
                step: plan::MigrateStep::Rewrite.id(),
                after: true,
                duration: Duration::from_millis(1500)
            })
        );
        assert_eq!(
            Pause::parse(Some("copy:0"), None).map(|p| (p.step, p.after)),
            Some((plan::CopyStep::Copy.of(0), false))
        );
        assert_eq!(
            Pause::parse(Some("rollback:stop"), None).map(|p| p.step),
            Some(StepId::Once(plan::OnceStep::RollbackStop))
        );
        // a step that does not exist is no pause (the hook would never fire)
        assert_eq!(Pause::parse(Some("copy"), None), None);
        assert_eq!(Pause::parse(None, Some("5")), None);
        assert_eq!(Pause::parse(Some("rewrite"), Some("soon")), None);
    }
}
