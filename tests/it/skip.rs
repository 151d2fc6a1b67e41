//! Loud skips. libtest captures what a passing test prints, so a test that cannot run here (no
//! Docker engine, not root, no corpus) would pass in silence. [`skipped!`] records the test and
//! the reason (and prints it, shown with `--nocapture` or when the test fails); when this test
//! binary exits, every skip is listed on stderr, which libtest does not capture, grouped by
//! reason, after the `test result:` line of a plain `cargo test`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Mutex, Once};

/// The skips so far: (test, reason).
static SKIPS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

/// Skips the running test loudly: `skipped!("no Docker engine ({reason})")`.
macro_rules! skipped {
    ($($arg:tt)*) => {
        $crate::skip::skip(&format!($($arg)*))
    };
}

/// Records that the running test (the thread libtest named after it) skips for `reason`.
pub fn skip(reason: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("(unnamed test)").to_owned();
    eprintln!("SKIPPED: {reason}");
    SKIPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push((test, reason.to_owned()));
    at_exit();
}

/// Whether an engine answered in this run: the leftover check runs at exit.
static ENGINE_USED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes that an engine answered: at exit, [`crate::leftovers::check`] runs.
pub fn engine_used() {
    ENGINE_USED.store(true, std::sync::atomic::Ordering::SeqCst);
    at_exit();
}

/// Registers [`on_exit`] once.
fn at_exit() {
    AT_EXIT.call_once(|| {
        // SAFETY: `on_exit` is a plain `extern "C" fn` that takes no arguments; registering it
        // has no other precondition.
        let registered = unsafe { libc::atexit(on_exit) };
        assert_eq!(registered, 0, "atexit registers the exit summary");
    });
}

/// When the binary exits: the skip summary, then the leftover check (which may end the process
/// with a failing status).
extern "C" fn on_exit() {
    summary();
    if ENGINE_USED.load(std::sync::atomic::Ordering::SeqCst) {
        crate::leftovers::check();
    }
}

/// Prints every skip, grouped by reason, to the process's stderr (not captured by libtest).
fn summary() {
    let mut skips = SKIPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    if skips.is_empty() {
        return;
    }
    skips.sort_unstable();
    skips.dedup();
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (test, reason) in &skips {
        by_reason.entry(reason).or_default().push(test);
    }
    let mut text = format!(
        "\nSKIPPED in {} test{} (what each could not run here):\n",
        skips.len(),
        if skips.len() == 1 { "" } else { "s" }
    );
    for (reason, tests) in by_reason {
        text.push_str(&format!(
            "  {} × {reason}\n    {}\n",
            tests.len(),
            tests.join(", ")
        ));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}
