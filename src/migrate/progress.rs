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
    bytes_bar_on(ProgressDrawTarget::stderr(), message, total)
}

/// [`bytes_bar`] drawn on `target`. The step's label (which names a volume and a path, often
/// wider than the terminal) has its own line: on one line with it the bar got no width left
/// at 80 columns.
fn bytes_bar_on(target: ProgressDrawTarget, message: String, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg}\n  {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec} ETA {eta}",
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

    /// A terminal of 80 columns that keeps what is written.
    #[derive(Debug, Default, Clone)]
    struct Screen(std::sync::Arc<std::sync::Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            80
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().expect("the screen's lock").push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Issue 26 row 19: at 80 columns the bar of a copy step was empty (the label took the
    /// line); it gets a line of its own.
    #[test]
    fn issue26_row19_the_bar_is_not_empty_at_80_columns() {
        let screen = Screen::default();
        let label = "[2/9] pre-copy paperless_pgdata -> /srv/tiers/fast/databases/paperless/db while the services run";
        let bar = bytes_bar_on(
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
            label.to_owned(),
            1 << 30,
        );
        bar.set_position(1 << 29);
        bar.tick();
        // the last frame drawn (the screen keeps every frame, without line ends)
        let text = screen.0.lock().expect("the screen's lock").clone();
        let frame = text.rsplit(label).next().expect("a frame");
        let inside = frame
            .split_once("GiB [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(bar, _)| bar)
            .unwrap_or_else(|| panic!("a bar: {frame:?}"));
        assert!(inside.chars().count() >= 20, "{frame:?}");
        assert!(inside.starts_with('█'), "half done shows: {frame:?}");
        // the label has its own (wrapped) line: the bar's line is as wide as the terminal
        let bar_line = frame.trim_start();
        assert!(bar_line.chars().count() <= 80, "{bar_line:?}");
    }

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
