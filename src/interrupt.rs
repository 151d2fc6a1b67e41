//! The one interrupt mechanism: a single SIGINT/SIGTERM/SIGHUP handler (the `ctrlc` crate,
//! feature `termination`) that runs every registered cleanup, newest first, and exits with
//! status 130. `verify` registers its marker-file removal, `migrate` its journal record and
//! helper removal; nothing else installs a handler.
//!
//! While the handler runs, [`requested`] is true: code that sees a step fail because the
//! cleanup removed its helper waits ([`wait_if_requested`]) instead of reporting a failure that
//! is really the interrupt.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// Exit status after an interrupt (128 + SIGINT, what shells report for Ctrl-C).
pub const EXIT: i32 = 130;

type Action = Box<dyn Fn() + Send + Sync>;

static REQUESTED: AtomicBool = AtomicBool::new(false);
static NEXT: AtomicU64 = AtomicU64::new(0);

fn actions() -> &'static Mutex<Vec<(u64, Action)>> {
    static ACTIONS: OnceLock<Mutex<Vec<(u64, Action)>>> = OnceLock::new();
    ACTIONS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Install the handler (once per process). `false` when it could not be installed: the
/// registered cleanups then run only on normal paths.
pub fn install() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| ctrlc::set_handler(on_signal).is_ok())
}

fn on_signal() {
    // a second signal while cleaning up must not run the cleanups twice
    if REQUESTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let taken = std::mem::take(&mut *actions().lock().unwrap_or_else(PoisonError::into_inner));
    for (_, action) in taken.iter().rev() {
        action();
    }
    std::process::exit(EXIT);
}

/// A registered cleanup; unregistered when dropped (the normal path no longer needs it).
#[must_use = "the cleanup is unregistered when the guard is dropped"]
pub struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        actions()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(id, _)| *id != self.0);
    }
}

/// Run `action` if the process is interrupted while the guard lives (installs the handler).
pub fn on_interrupt(action: impl Fn() + Send + Sync + 'static) -> Guard {
    install();
    let id = NEXT.fetch_add(1, Ordering::SeqCst);
    actions()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((id, Box::new(action)));
    Guard(id)
}

/// Whether an interrupt is being handled.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// When an interrupt is being handled, wait for the handler to exit the process (bounded: a
/// handler stuck for a minute lets the caller go on).
pub fn wait_if_requested() {
    if requested() {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_unregisters_its_cleanup() {
        let count = || {
            actions()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
        };
        let before = count();
        let guard = on_interrupt(|| {});
        assert_eq!(count(), before + 1);
        drop(guard);
        assert_eq!(count(), before);
        assert!(!requested());
    }
}
