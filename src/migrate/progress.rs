//! Progress on stderr while a step works, and a ticker that updates it. On a terminal:
//! `indicatif` bars, cleared when the step ends (the report on stdout says what each step did,
//! once). Anywhere else (a log file, a pipe, CI): no bar, one plain line when the step begins
//! and one every [`LOG_EVERY`] while it works ([`LogLines`]), never the result. Nothing at all
//! after [`silence`] (`migrate --quiet`).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a step that works writes a line when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

static SILENT: AtomicBool = AtomicBool::new(false);

/// No progress at all from now on, in this process (`--quiet`).
pub fn silence() {
    SILENT.store(true, Ordering::Relaxed);
}

/// Where progress goes: nowhere, a terminal, or lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Hidden,
    Terminal,
    Lines,
}

fn mode() -> Mode {
    if SILENT.load(Ordering::Relaxed) {
        Mode::Hidden
    } else if std::io::stderr().is_terminal() {
        Mode::Terminal
    } else {
        Mode::Lines
    }
}

fn target(mode: Mode) -> ProgressDrawTarget {
    match mode {
        Mode::Hidden => ProgressDrawTarget::hidden(),
        Mode::Terminal => ProgressDrawTarget::stderr(),
        Mode::Lines => ProgressDrawTarget::term_like(Box::new(LogLines::stderr(LOG_EVERY))),
    }
}

/// A spinner with the elapsed time.
pub fn bar(message: String) -> ProgressBar {
    spinner_on(mode(), message)
}

fn spinner_on(mode: Mode, message: String) -> ProgressBar {
    let template = match mode {
        Mode::Lines => "{msg} ({elapsed})",
        _ => "{msg} {spinner} {elapsed}",
    };
    let bar = ProgressBar::with_draw_target(None, target(mode));
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar over `total` bytes, with rate and ETA. Its position must count what `total` counts (a
/// copy's: [`tree_bytes`], as the measure counts the source).
pub fn bytes_bar(message: String, total: u64) -> ProgressBar {
    let mode = mode();
    match mode {
        Mode::Lines => bytes_bar_on(target(mode), LINE_TEMPLATE, message, total),
        _ => bytes_bar_on(target(mode), BAR_TEMPLATE, message, total),
    }
}

/// A verify's bar: the content bytes hashed of `total` (both trees: twice a side's
/// [`content_bytes`]), with rate and ETA; `total` 0 when it is not known (a spinner then). Its
/// position is the verify's hashed-bytes counter ([`hashed`]).
pub fn hashing_bar(message: String, total: u64) -> ProgressBar {
    if total == 0 {
        return bar(message);
    }
    bytes_bar(message, total)
}

/// Run `work`, a verify that adds the content bytes it hashes to `hashed`, with a
/// [`hashing_bar`] over `total` (0: not known) updated every 300 ms; the bar is cleared when
/// the work ends. The running verify showed only the bytes hashed so far, no total or ETA
/// (issue 26 row 19).
pub fn hashing<T: Send>(
    message: &str,
    total: u64,
    hashed: &std::sync::atomic::AtomicU64,
    work: impl FnOnce() -> T,
) -> T {
    hashing_on(hashing_bar(message.to_owned(), total), total, hashed, work)
}

fn hashing_on<T: Send>(
    bar: ProgressBar,
    total: u64,
    hashed: &std::sync::atomic::AtomicU64,
    work: impl FnOnce() -> T,
) -> T {
    let message = bar.message();
    let result = ticking(
        Duration::from_millis(300),
        || {
            let bytes = hashed.load(Ordering::Relaxed);
            match total {
                0 => bar.set_message(format!("{message} {} MiB hashed", bytes >> 20)),
                _ => self::hashed(&bar, bytes),
            }
        },
        work,
    );
    bar.finish_and_clear();
    result
}

/// Set a bar's position to `bytes`, its total raised to it when the work found more than it
/// expected (a file grew), so the ETA never goes negative.
pub fn hashed(bar: &ProgressBar, bytes: u64) {
    if bar.length().is_some_and(|total| bytes > total) {
        bar.set_length(bytes);
    }
    bar.set_position(bytes);
}

/// On a terminal: the step's label (which names a volume and a path, often wider than the
/// terminal) has its own line: on one line with it the bar got no width left at 80 columns.
const BAR_TEMPLATE: &str = "{msg}\n  {bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec} ETA {eta}";

/// A line in a log.
const LINE_TEMPLATE: &str =
    "{msg}: {bytes} of {total_bytes} ({percent}%), {bytes_per_sec}, ETA {eta}";

fn bytes_bar_on(
    target: ProgressDrawTarget,
    template: &str,
    message: String,
    total: u64,
) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}

/// A bar's frames as plain lines for a log: the first frame at once (the step begins), then at
/// most one every `every`; cursor moves and clears are dropped, and an empty frame (a bar
/// cleared at its end) writes nothing.
#[derive(Debug)]
struct LogLines {
    every: Duration,
    state: Mutex<LogState>,
    write: fn(&str),
}

#[derive(Debug, Default)]
struct LogState {
    frame: String,
    last: Option<Instant>,
}

impl LogLines {
    fn stderr(every: Duration) -> LogLines {
        LogLines {
            every,
            state: Mutex::new(LogState::default()),
            write: |line| eprintln!("{line}"),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl indicatif::TermLike for LogLines {
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
        self.write_str(s)
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.state().frame.push_str(s);
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        let mut state = self.state();
        let frame = std::mem::take(&mut state.frame);
        let line = frame.trim();
        let due = state.last.is_none_or(|at| at.elapsed() >= self.every);
        if !line.is_empty() && due {
            state.last = Some(Instant::now());
            (self.write)(line);
        }
        Ok(())
    }
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

/// What a copy wrote into `dir` so far, counted as the measure counts what it will write
/// ([`crate::migrate::copy::WRITES`]): each inode once, a regular file's apparent size where it
/// exceeds its allocated blocks, its allocated blocks otherwise (directories included). A
/// copy's bar over the measured bytes then ends at its total; it counted only the regular
/// files' apparent sizes (issue 26 row 19). Errors count as 0 (progress only).
pub fn tree_bytes(dir: &Path) -> u64 {
    let mut seen = HashSet::new();
    written(dir, &mut seen)
}

fn written(path: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() && meta.nlink() > 1 && !seen.insert((meta.dev(), meta.ino())) {
        return 0;
    }
    let allocated = meta.blocks().saturating_mul(512);
    let own = if meta.is_file() {
        allocated.max(meta.len())
    } else {
        allocated
    };
    if !meta.is_dir() {
        return own;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return own;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| written(&e.path(), seen))
        .fold(own, u64::saturating_add)
}

/// The content bytes of the regular files under `dir` (apparent sizes): what a verify hashes
/// of one side that it knows nothing of. Errors count as 0 (progress only).
pub fn content_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => content_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 26 row 19: at 80 columns the bar of a copy step was empty (the label took the
    /// line); it gets a line of its own.
    #[test]
    fn issue26_row19_the_bar_is_not_empty_at_80_columns() {
        let label = "[2/9] pre-copy paperless_pgdata -> /srv/tiers/fast/databases/paperless/db while the services run";
        // an 80-column terminal that writes each frame as it is drawn, without line ends
        let bar = bytes_bar_on(
            ProgressDrawTarget::term_like(Box::new(log_lines(Duration::ZERO))),
            BAR_TEMPLATE,
            label.to_owned(),
            1 << 30,
        );
        bar.set_position(1 << 29);
        bar.tick();
        // the last frame drawn
        let frames = logged();
        let frame = frames
            .iter()
            .rev()
            .find_map(|line| line.strip_prefix(label))
            .expect("a frame");
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

    /// The lines a [`LogLines`] of the tests wrote.
    static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn logged() -> Vec<String> {
        LOGGED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn log_lines(every: Duration) -> LogLines {
        LogLines {
            every,
            state: Mutex::new(LogState::default()),
            write: |line| {
                LOGGED
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(line.to_owned())
            },
        }
    }

    /// Issue 26 row 19: a run whose stderr is not a terminal printed nothing during a long
    /// step; it prints the step's first frame at once, then a line every interval (not a frame
    /// per tick), and nothing when the bar is cleared at the end.
    #[test]
    fn issue26_row19_a_log_gets_the_first_frame_then_one_line_per_interval() {
        use indicatif::TermLike;
        let log = log_lines(Duration::from_secs(3600));
        let bar = bytes_bar_on(
            ProgressDrawTarget::term_like(Box::new(log)),
            LINE_TEMPLATE,
            "[2/9] pre-copy app_db -> /tiers/fast/app/db while the services run".to_owned(),
            1 << 20,
        );
        for kib in 1..=64 {
            bar.set_position(kib << 10);
            bar.tick();
        }
        bar.finish_and_clear();
        let lines: Vec<String> = logged()
            .into_iter()
            .filter(|l| l.starts_with("[2/9] pre-copy"))
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(" of 1.00 MiB ("), "{lines:?}");
        assert!(lines[0].contains("ETA"), "{lines:?}");
        // with the interval passed, each frame is a line; an empty frame is none
        let every = log_lines(Duration::ZERO);
        for frame in ["[4/9] stop db (1s)", "  ", "[4/9] stop db (6s)"] {
            every.write_str(frame).expect("write");
            every.flush().expect("flush");
        }
        let stops: Vec<String> = logged()
            .into_iter()
            .filter(|l| l.starts_with("[4/9] stop db"))
            .collect();
        assert_eq!(stops, ["[4/9] stop db (1s)", "[4/9] stop db (6s)"]);
    }

    /// Issue 26 row 19: a copy's bar counted the regular files' apparent sizes while its total
    /// (the measure) counts what the copy writes; both count the same now.
    #[test]
    fn issue26_row19_a_copy_bar_counts_what_the_measure_counts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).expect("mkdir");
        // sparse: 1 MiB apparent, (almost) nothing allocated: the copy writes it dense
        let sparse = std::fs::File::create(root.join("sub/sparse")).expect("create");
        sparse.set_len(1 << 20).expect("truncate");
        // small: 5 bytes apparent, a block allocated
        std::fs::write(root.join("small"), "small").expect("write");
        std::fs::hard_link(root.join("small"), root.join("small.link")).expect("link");
        let blocks = |p: &str| {
            std::fs::symlink_metadata(root.join(p))
                .expect("stat")
                .blocks()
                * 512
        };
        let expected = blocks(".")
            + blocks("sub")
            + blocks("sub/sparse").max(1 << 20)
            + blocks("small").max(5);
        assert_eq!(tree_bytes(root), expected);
        assert_eq!(content_bytes(root), (1 << 20) + 5 + 5);
    }

    #[test]
    fn a_hashing_bar_grows_its_total_when_the_work_finds_more() {
        let bar = bytes_bar_on(ProgressDrawTarget::hidden(), LINE_TEMPLATE, "v".into(), 10);
        hashed(&bar, 4);
        assert_eq!((bar.position(), bar.length()), (4, Some(10)));
        hashed(&bar, 25);
        assert_eq!((bar.position(), bar.length()), (25, Some(25)));
    }

    #[test]
    fn issue26_row19_a_verify_reports_its_bytes_against_a_total() {
        let hashed = std::sync::atomic::AtomicU64::new(0);
        let bar = bytes_bar_on(ProgressDrawTarget::hidden(), LINE_TEMPLATE, "v".into(), 100);
        let seen = hashing_on(bar.clone(), 100, &hashed, || {
            hashed.store(60, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(700));
            (bar.position(), bar.length())
        });
        assert_eq!(seen, (60, Some(100)));
        assert!(bar.is_finished());
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
