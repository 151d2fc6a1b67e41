//! Progress bars on stderr (`indicatif`; hidden when stderr is not a terminal), and a ticker
//! that updates one while a step works.

use std::path::Path;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner with the elapsed time.
pub fn bar(message: String) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar over `total` bytes, with rate and ETA.
pub fn bytes_bar(message: String, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}

/// Run `work` while `tick` runs every `every` on another thread; the ticker stops with it, at
/// once (it waits on a channel, not in a sleep, so `work`'s end is never delayed by a tick).
pub fn ticking<T: Send>(every: Duration, tick: impl Fn() + Sync, work: impl FnOnce() -> T) -> T {
    let (done, stopped) = std::sync::mpsc::channel::<()>();
    let tick = &tick;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                tick();
            }
        });
        let result = work();
        drop(done);
        result
    })
}

/// Bytes of regular files under `dir` (progress only; errors count as 0).
pub fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticker_never_holds_the_work_back() {
        let ticks = std::sync::atomic::AtomicU32::new(0);
        let started = std::time::Instant::now();
        // a ticker that sleeps between ticks would hold this for a minute
        let out = ticking(
            Duration::from_secs(60),
            || {
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            },
            || 7,
        );
        assert_eq!(out, 7);
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(ticks.load(std::sync::atomic::Ordering::Relaxed), 0);
        // and it ticks while the work runs
        ticking(
            Duration::from_millis(5),
            || {
                ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            },
            || std::thread::sleep(Duration::from_millis(200)),
        );
        assert!(ticks.load(std::sync::atomic::Ordering::Relaxed) > 0);
    }
}
