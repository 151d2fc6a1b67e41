//! The failpoint in front of every durable action, for every engine that has them (migrate's
//! `Durable` kinds, the mover's `Step`s; this lower layer names neither): none in
//! production (nothing is checked), in tests a function of the point ([`Failpoints`]) that may
//! abort there (as `kill -9` would: nothing after the point runs) or fail the action with an
//! I/O-like error ([`Injected`]) that the code must handle.
//!
//! A point sits *before* its action: an abort at a point is a kill after the actions before it
//! completed and before this one began. On the real binary the one variable [`TRIGGER_VAR`]
//! (`TIERCTL_TEST_FAIL=ACTION[:N]`, read once into the settings as a [`Trigger`]) makes the
//! command that runs `abort()` at the N-th hit of the action it names.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use thiserror::Error;

/// The real binary's failpoint variable: `TIERCTL_TEST_FAIL=ACTION[:N]`.
pub const TRIGGER_VAR: &str = "TIERCTL_TEST_FAIL";

/// A kind of durable action of one engine: one name per kind.
pub trait Action: Copy + Eq + fmt::Display + Send + Sync + 'static {
    /// Every kind, in the order of its table in `docs/safety.md`.
    fn all() -> &'static [Self];

    /// Its name (`journal-append`, ...), as [`TRIGGER_VAR`] and the tables write it.
    fn name(self) -> &'static str;
}

/// Text that names no action of an engine.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("`{text}` is no durable action (one of {})", names.join(", "))]
pub struct UnknownAction {
    /// The text.
    pub text: String,
    /// The engine's actions.
    pub names: Vec<&'static str>,
}

/// The action of `A` named `text`.
pub fn parse_action<A: Action>(text: &str) -> Result<A, UnknownAction> {
    A::all()
        .iter()
        .copied()
        .find(|a| a.name() == text)
        .ok_or_else(|| UnknownAction {
            text: text.to_owned(),
            names: A::all().iter().map(|a| a.name()).collect(),
        })
}

/// A point a run passes: the durable action in front of which it sits (and, for an engine with
/// steps, which step).
pub trait AtAction: fmt::Display + fmt::Debug + Send + Sync + 'static {
    /// The engine's kind of action.
    type Action: Action;

    /// The action this point is in front of.
    fn action(&self) -> Self::Action;
}

/// The error a failpoint injects: the action fails as an I/O error would.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("injected failure at `{point}` (a test failpoint)")]
pub struct Injected<P: fmt::Display + fmt::Debug> {
    /// Where.
    pub point: P,
}

impl<P: AtAction> From<Injected<P>> for std::io::Error {
    fn from(injected: Injected<P>) -> std::io::Error {
        std::io::Error::other(injected)
    }
}

/// What a failpoint does with a point: `Ok` to go on, `Err` to fail the action; it may also
/// never return (an abort).
pub type FailFn<P> = dyn Fn(&P) -> Result<(), Injected<P>> + Send + Sync;

/// The failpoints of a run: none in production (nothing is checked), a test's function
/// otherwise. Cheap to clone: a journal and its run share one.
pub struct Failpoints<P: fmt::Display + fmt::Debug>(Option<Arc<FailFn<P>>>);

impl<P: fmt::Display + fmt::Debug> Clone for Failpoints<P> {
    fn clone(&self) -> Self {
        Failpoints(self.0.clone())
    }
}

impl<P: fmt::Display + fmt::Debug> Default for Failpoints<P> {
    fn default() -> Self {
        Failpoints(None)
    }
}

impl<P: fmt::Display + fmt::Debug> fmt::Debug for Failpoints<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Failpoints(set)"
        } else {
            "Failpoints(none)"
        })
    }
}

impl<P: fmt::Display + fmt::Debug> Failpoints<P> {
    /// Failpoints answered by `fail`.
    pub fn new(fail: impl Fn(&P) -> Result<(), Injected<P>> + Send + Sync + 'static) -> Self {
        Failpoints(Some(Arc::new(fail)))
    }

    /// The failpoint at `point`.
    pub fn at(&self, point: P) -> Result<(), Injected<P>> {
        match &self.0 {
            None => Ok(()),
            Some(fail) => fail(&point),
        }
    }
}

/// The real binary's trigger, [`TRIGGER_VAR`]`=ACTION[:N]` (read once into the settings):
/// `std::process::abort()` at the `N`-th (1-based, default 1) hit of durable action `ACTION`
/// of the command that runs (each engine reads it against its own actions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The action's name.
    pub action: String,
    /// Which hit aborts (1: the first).
    pub nth: usize,
}

impl Trigger {
    /// Parse the variable's value; `None` unless it is `ACTION` or `ACTION:N` with `N` from 1.
    pub fn parse(text: Option<&str>) -> Option<Trigger> {
        let text = text?;
        let (action, nth) = match text.split_once(':') {
            Some((action, n)) => (action, n.parse().ok().filter(|n| *n >= 1)?),
            None => (text, 1),
        };
        (!action.is_empty()).then(|| Trigger {
            action: action.to_owned(),
            nth,
        })
    }

    /// The action of `A` the trigger names, if any.
    pub fn action_of<A: Action>(&self) -> Option<A> {
        parse_action(&self.action).ok()
    }

    /// The failpoints that abort the process at the trigger's hit of one of `P`'s actions; none
    /// when it names no action of `P`'s engine.
    pub fn failpoints<P: AtAction>(&self) -> Failpoints<P> {
        let Some(action) = self.action_of::<P::Action>() else {
            return Failpoints::default();
        };
        let nth = self.nth;
        let hits = AtomicUsize::new(0);
        Failpoints::new(move |point: &P| {
            if point.action() == action && hits.fetch_add(1, Ordering::SeqCst) + 1 == nth {
                eprintln!("(test hook: {TRIGGER_VAR} aborts at `{point}`)");
                std::process::abort();
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Toy {
        Write,
        Sync,
    }

    impl fmt::Display for Toy {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.name())
        }
    }

    impl Action for Toy {
        fn all() -> &'static [Toy] {
            &[Toy::Write, Toy::Sync]
        }

        fn name(self) -> &'static str {
            match self {
                Toy::Write => "write",
                Toy::Sync => "sync",
            }
        }
    }

    impl AtAction for Toy {
        type Action = Toy;

        fn action(&self) -> Toy {
            *self
        }
    }

    #[test]
    fn the_trigger_names_an_action_and_optionally_its_hit() {
        assert_eq!(
            Trigger::parse(Some("compose-up")),
            Some(Trigger {
                action: "compose-up".into(),
                nth: 1
            })
        );
        assert_eq!(
            Trigger::parse(Some("journal-append:7")).map(|t| t.nth),
            Some(7)
        );
        assert_eq!(Trigger::parse(Some("journal-append:0")), None);
        assert_eq!(Trigger::parse(Some("journal-append:x")), None);
        assert_eq!(Trigger::parse(Some(":2")), None);
        assert_eq!(Trigger::parse(None), None);
    }

    #[test]
    fn a_trigger_is_read_against_each_engines_own_actions() {
        let sync = Trigger::parse(Some("sync:2")).expect("a trigger");
        assert_eq!(sync.action_of::<Toy>(), Some(Toy::Sync));
        let error = parse_action::<Toy>("compose-up").expect_err("no toy action");
        assert_eq!(
            error.to_string(),
            "`compose-up` is no durable action (one of write, sync)"
        );
        let other = Trigger::parse(Some("compose-up")).expect("a trigger");
        assert_eq!(other.action_of::<Toy>(), None);
        // an action of another engine: no failpoints at all (every point passes)
        let none: Failpoints<Toy> = other.failpoints();
        assert_eq!(format!("{none:?}"), "Failpoints(none)");
        // the trigger's failpoints let every other hit pass (the N-th would abort)
        let set: Failpoints<Toy> = sync.failpoints();
        assert!(set.at(Toy::Sync).is_ok());
        assert!(set.at(Toy::Write).is_ok());
    }

    #[test]
    fn no_failpoints_let_every_action_go_and_a_function_sees_the_point() {
        assert!(Failpoints::<Toy>::default().at(Toy::Write).is_ok());
        let fail = Failpoints::new(|p: &Toy| match p {
            Toy::Sync => Err(Injected { point: *p }),
            Toy::Write => Ok(()),
        });
        let error = fail.at(Toy::Sync).expect_err("injected");
        assert_eq!(
            error.to_string(),
            "injected failure at `sync` (a test failpoint)"
        );
        let io: std::io::Error = error.into();
        assert_eq!(io.kind(), std::io::ErrorKind::Other);
        assert!(fail.at(Toy::Write).is_ok());
    }
}
