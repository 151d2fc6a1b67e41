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
    AT_EXIT.call_once(|| {
        // SAFETY: `summary` is a plain `extern "C" fn` that takes no arguments; registering it
        // has no other precondition.
        let registered = unsafe { libc::atexit(summary) };
        assert_eq!(registered, 0, "atexit registers the skip summary");
    });
}

/// Prints every skip, grouped by reason, to the process's stderr (not captured by libtest).
extern "C" fn summary() {
    let skips = SKIPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (test, reason) in skips.iter() {
        by_reason.entry(reason).or_default().push(test);
    }
    let mut text = format!(
        "\nSKIPPED in {} test{} (what each could not run here):\n",
        skips.len(),
        if skips.len() == 1 { "" } else { "s" }
    );
    for (reason, mut tests) in by_reason {
        tests.sort_unstable();
        text.push_str(&format!(
            "  {} × {reason}\n    {}\n",
            tests.len(),
            tests.join(", ")
        ));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}
