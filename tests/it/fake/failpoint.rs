//! Issue 21's failpoints on the fake: [`recording`] lists the durable actions a clean run passes
//! ([`tierctl::migrate::durable::Point`]s, in order); [`fault`] lets every one pass but the
//! `hit`-th, where it aborts (the crash [`Killed`] that `Crash` raises: nothing after it runs,
//! no cleanup of the run's own) or fails the action with an [`Injected`] error.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tierctl::migrate::durable::{Failpoints, Injected, Point};

use super::stack::Killed;

/// What a failpoint does at its hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// As `kill -9` there: the run ends, nothing after the point runs.
    Abort,
    /// The action fails with an I/O-like error the run must handle.
    Error,
}

impl Fault {
    /// Both, in the table's order.
    pub const ALL: [Fault; 2] = [Fault::Abort, Fault::Error];

    /// Its name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Abort => "abort",
            Fault::Error => "error",
        }
    }
}

/// Failpoints that let every point pass and record it, in order.
pub fn recording() -> (Failpoints, Arc<Mutex<Vec<Point>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let fail = Failpoints::new(move |point| {
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(point.clone());
        Ok(())
    });
    (fail, seen)
}

/// Failpoints that let every point pass but the `hit`-th (0-based), where `fault` happens.
pub fn fault(hit: usize, fault: Fault) -> Failpoints {
    let seen = AtomicUsize::new(0);
    Failpoints::new(move |point| {
        if seen.fetch_add(1, Ordering::SeqCst) != hit {
            return Ok(());
        }
        match fault {
            Fault::Abort => std::panic::resume_unwind(Box::new(Killed)),
            Fault::Error => Err(Injected {
                point: point.clone(),
            }),
        }
    })
}

/// The points of a run with `fail`, taken from what [`recording`] logged.
pub fn taken(seen: &Arc<Mutex<Vec<Point>>>) -> Vec<Point> {
    std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()))
}
