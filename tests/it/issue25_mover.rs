//! Issue 25 item 2: the mover's crash matrix and its skips, on temp directories (the branches
//! of a pool without mergerfs: what the pool shows is the first branch, hottest first, that has
//! the path, as mergerfs' `ff` search finds it).
//!
//! A clean run counts the hits of every durable action ([`Step`]); then for each hit the run
//! is aborted there (a panic the test catches: nothing after the point runs, as with `kill -9`)
//! and, separately, the action fails as an I/O error would. After each: every file reads
//! through the pool whole (its original bytes), and a second run (no faults) settles the
//! journal and finishes: every selected file on the cold branch only, verified, no temporary
//! copy, no journal.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tierctl::move_plan::{FileOutcome, Skip};
use tierctl::mover::durable::{Failpoints, Injected, Step};
use tierctl::mover::{MoveOptions, run};
use tierctl::tiers::pool::Pool;

const DAY: u64 = 86_400;

/// A pool over `fast/media` and `cold/media` in a temp dir, with files old and new.
struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    pool: Pool,
    /// Every file and its bytes.
    files: BTreeMap<String, Vec<u8>>,
}

/// Files older than 90 days move; `new/` files stay.
const MOVED: [&str; 4] = [
    "library/2020/a.jpg",
    "library/2020/b.jpg",
    "library/c.raw",
    "top.bin",
];
const STAYS: [&str; 2] = ["new/d.jpg", "library/e.jpg"];

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let text = format!(
            "tiers:\n  fast: {{ root: {r}/fast }}\n  cold: {{ root: {r}/cold }}\npools:\n  media:\n    mount: {r}/pool\n    branches: [fast:media, cold:media]\n    move:\n      - {{ name: old, older_than: 90d }}\n",
            r = root.display()
        );
        let tiers = tierctl::tiers::load(&root.join("tiers.yaml"), &text).unwrap();
        let pool = tiers.pool("media").unwrap().clone();
        fs::create_dir_all(root.join("cold/media")).unwrap();
        let mut files = BTreeMap::new();
        for (i, rel) in MOVED.iter().chain(STAYS.iter()).enumerate() {
            let path = root.join("fast/media").join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let bytes: Vec<u8> = (0..(1000 + i * 70_000))
                .map(|n| (n * 31 + i) as u8)
                .collect();
            fs::write(&path, &bytes).unwrap();
            let age = if MOVED.contains(rel) { 200 * DAY } else { DAY };
            let mtime = std::time::SystemTime::now() - std::time::Duration::from_secs(age);
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
            files.insert(rel.to_string(), bytes);
        }
        Site {
            _dir: dir,
            root,
            pool,
            files,
        }
    }

    fn options(&self, failpoints: Failpoints) -> MoveOptions {
        MoveOptions {
            state_dir: self.root.join("state"),
            dry_run: false,
            rate: None,
            max_files: None,
            rules: vec![],
            proc: PathBuf::from("/proc"),
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64,
            failpoints,
        }
    }

    fn branch(&self, tier: &str) -> PathBuf {
        self.root.join(tier).join("media")
    }

    /// What the pool shows at `rel`: the first branch that has it.
    fn through_pool(&self, rel: &str) -> Option<Vec<u8>> {
        ["fast", "cold"]
            .iter()
            .find_map(|tier| fs::read(self.branch(tier).join(rel)).ok())
    }

    /// Every file reads whole through the pool.
    fn assert_readable(&self, case: &str) {
        for (rel, bytes) in &self.files {
            let seen = self.through_pool(rel);
            assert!(
                seen.as_ref() == Some(bytes),
                "{case}: `{rel}` reads {} through the pool",
                seen.map_or("nothing".to_string(), |b| format!(
                    "{} other bytes",
                    b.len()
                ))
            );
        }
    }

    /// The finished state: moved files on cold only, the rest on fast only, nothing left over.
    fn assert_finished(&self, case: &str) {
        self.assert_readable(case);
        for rel in MOVED {
            assert!(
                !self.branch("fast").join(rel).exists(),
                "{case}: `{rel}` still on fast"
            );
            assert_eq!(
                fs::read(self.branch("cold").join(rel)).ok().as_ref(),
                self.files.get(rel),
                "{case}: `{rel}` on cold"
            );
        }
        for rel in STAYS {
            assert!(
                !self.branch("cold").join(rel).exists(),
                "{case}: `{rel}` on cold"
            );
        }
        let leftovers: Vec<PathBuf> = walk(&self.root.join("cold"))
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".tierctl-move.")
            })
            .collect();
        assert!(
            leftovers.is_empty(),
            "{case}: temporary copies left: {leftovers:?}"
        );
        assert!(
            !self.root.join("state/move.journal").exists(),
            "{case}: journal left"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The hits of each step in a clean run.
fn clean_hits() -> BTreeMap<Step, usize> {
    let site = Site::new();
    let hits = Arc::new(Mutex::new(BTreeMap::new()));
    let seen = hits.clone();
    let report = run(
        &site.pool,
        &site.options(Failpoints::new(move |&step| {
            *seen.lock().unwrap().entry(step).or_insert(0) += 1;
            Ok(())
        })),
    )
    .unwrap();
    assert_eq!(report.totals.moved, MOVED.len() as u64, "{report:?}");
    site.assert_finished("clean run");
    hits.lock().unwrap().clone()
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    Abort,
    Error,
}

/// Marks a panic as the test's abort.
struct Abort;

/// A run with `fault` at the `nth` hit of `step`, then a clean run; the checks between.
fn crash_case(step: Step, nth: usize, fault: Fault) {
    let case = format!("{fault:?} at {step}#{nth}");
    let site = Site::new();
    let hits = Arc::new(AtomicUsize::new(0));
    let failpoints = Failpoints::new(move |&at| {
        if at == step && hits.fetch_add(1, Ordering::SeqCst) + 1 == nth {
            match fault {
                Fault::Abort => std::panic::panic_any(Abort),
                Fault::Error => return Err(Injected { point: at }),
            }
        }
        Ok(())
    });
    let options = site.options(failpoints);
    let first = catch_unwind(AssertUnwindSafe(|| run(&site.pool, &options)));
    if let Err(payload) = &first {
        assert!(payload.is::<Abort>(), "{case}: a real panic");
    }
    site.assert_readable(&format!("{case}, before the resume"));
    let second = run(&site.pool, &site.options(Failpoints::default()))
        .unwrap_or_else(|e| panic!("{case}: the resume failed: {e}"));
    assert_eq!(second.totals.failed, 0, "{case}: {second:?}");
    site.assert_finished(&format!("{case}, after the resume: {second:?}"));
}

#[test]
fn issue25_a_mover_killed_or_failing_at_any_durable_action_keeps_every_file_and_resumes() {
    let hits = clean_hits();
    for step in [
        Step::JournalAppend,
        Step::JournalSync,
        Step::DirCreate,
        Step::TempWrite,
        Step::TempSync,
        Step::Rename,
        Step::WarmRemove,
        Step::JournalRemove,
    ] {
        assert!(
            hits.get(&step).copied().unwrap_or(0) > 0,
            "{step} not hit: {hits:?}"
        );
    }
    let mut cases = 0;
    for (&step, &count) in &hits {
        for nth in 1..=count {
            for fault in [Fault::Abort, Fault::Error] {
                crash_case(step, nth, fault);
                cases += 1;
            }
        }
    }
    let total: usize = hits.values().sum();
    assert_eq!(cases, 2 * total);
    eprintln!("issue25 mover crash matrix: {total} failpoints, {cases} cases passed: {hits:?}");
}

/// The settling's own removals (a temporary copy, a colder copy given up, a warmer copy after
/// its placed copy is verified again) have failpoints too: a run killed at `first` leaves work
/// to settle, a resume killed at `second` while it settles is settled by the next run.
#[test]
fn issue25_a_resume_killed_while_it_settles_is_settled_by_the_next() {
    let abort_at = |step: Step, nth: usize| {
        let hits = Arc::new(AtomicUsize::new(0));
        Failpoints::new(move |&at| {
            if at == step && hits.fetch_add(1, Ordering::SeqCst) + 1 == nth {
                std::panic::panic_any(Abort);
            }
            Ok(())
        })
    };
    // journal-append #3 is the first file's `placed`: its colder copy is in place, unjournaled
    let cases = [
        ((Step::Rename, 1), (Step::TempRemove, 1)),
        ((Step::WarmRemove, 1), (Step::WarmRemove, 1)),
        ((Step::JournalAppend, 3), (Step::CopyRemove, 1)),
        ((Step::WarmRemove, 2), (Step::JournalRemove, 1)),
    ];
    for ((first, n1), (second, n2)) in cases {
        let case = format!("{first}#{n1} then {second}#{n2}");
        let site = Site::new();
        for (step, nth) in [(first, n1), (second, n2)] {
            let options = site.options(abort_at(step, nth));
            let result = catch_unwind(AssertUnwindSafe(|| run(&site.pool, &options)));
            assert!(result.is_err(), "{case}: no abort at {step}#{nth}");
            site.assert_readable(&case);
        }
        run(&site.pool, &site.options(Failpoints::default())).unwrap();
        site.assert_finished(&case);
    }
}

#[test]
fn issue25_a_file_open_for_writing_is_skipped_and_moved_by_the_next_run() {
    let site = Site::new();
    let held = site.branch("fast").join(MOVED[0]);
    let writer = fs::OpenOptions::new().append(true).open(&held).unwrap();
    let report = run(&site.pool, &site.options(Failpoints::default())).unwrap();
    let outcome = report
        .files
        .iter()
        .find(|(s, _)| s.file.rel == MOVED[0])
        .map(|(_, o)| o.clone())
        .unwrap();
    assert!(
        matches!(&outcome, FileOutcome::Skipped(Skip::OpenForWriting { pid, .. }) if *pid == std::process::id()),
        "{outcome:?}"
    );
    assert_eq!(report.totals.moved, MOVED.len() as u64 - 1);
    assert_eq!(report.exit_code(), 1);
    assert!(held.exists());
    assert!(!site.branch("cold").join(MOVED[0]).exists());
    drop(writer);
    let again = run(&site.pool, &site.options(Failpoints::default())).unwrap();
    assert_eq!(again.totals.moved, 1);
    site.assert_finished("after the writer closed");
}

#[test]
fn issue25_a_file_changed_during_its_move_is_skipped_and_keeps_its_new_bytes() {
    let site = Site::new();
    // one file written while it is copied, another after its copy is in place
    let during = site.branch("fast").join(MOVED[1]);
    let after = site.branch("fast").join(MOVED[2]);
    let placed = Arc::new(AtomicUsize::new(0));
    let during_temp = site.branch("cold").join("library/2020/.tierctl-move.b.jpg");
    let (d, a, p) = (during.clone(), after.clone(), placed.clone());
    let failpoints = Failpoints::new(move |&step| {
        if step == Step::TempSync && during_temp.exists() && fs::read(&d).unwrap().len() % 2 == 0 {
            let mut f = fs::OpenOptions::new().append(true).open(&d).unwrap();
            std::io::Write::write_all(&mut f, b"!").unwrap();
        }
        if step == Step::Rename {
            p.fetch_add(1, Ordering::SeqCst);
        }
        // the journal's `placed` record of the third file: its warm copy written then
        if step == Step::JournalSync && p.load(Ordering::SeqCst) == 3 && a.exists() {
            let mut f = fs::OpenOptions::new().append(true).open(&a).unwrap();
            std::io::Write::write_all(&mut f, b"late").unwrap();
            p.store(99, Ordering::SeqCst);
        }
        Ok(())
    });
    let report = run(&site.pool, &site.options(failpoints)).unwrap();
    let skipped: Vec<&str> = report
        .files
        .iter()
        .filter(|(_, o)| *o == FileOutcome::Skipped(Skip::Changed))
        .map(|(s, _)| s.file.rel.as_str())
        .collect();
    assert!(skipped.contains(&MOVED[1]), "{report:?}");
    assert!(skipped.contains(&MOVED[2]), "{report:?}");
    // the pool shows the written bytes: the warm copy kept, the cold copy removed
    for path in [&during, &after] {
        let rel = path.strip_prefix(site.branch("fast")).unwrap();
        assert!(path.exists());
        assert!(
            !site.branch("cold").join(rel).exists(),
            "{rel:?} left on cold"
        );
        assert_ne!(
            site.through_pool(rel.to_str().unwrap()).as_ref(),
            site.files.get(rel.to_str().unwrap())
        );
    }
}

/// A journal the last release wrote (before the mover's journal became the shared
/// `durable::JournalFile`): `tierctl tiers move` of that release killed with its failpoint
/// variable at the third `warm-remove`, the pool's root replaced by `@ROOT@`
/// (`fixtures/mover-journal/killed-at-warm-remove.journal`). Its four files were placed, two of
/// them done: the two open ones read as placed, are settled (their warmer copies are not as the
/// journal saw them here, so the colder copies go) and moved again; every file ends on the cold
/// branch only.
#[test]
fn issue25_a_move_journal_of_the_last_release_is_settled_and_the_move_finishes() {
    let site = Site::new();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mover-journal/killed-at-warm-remove.journal");
    let text = fs::read_to_string(fixture)
        .unwrap()
        .replace("@ROOT@", site.root.to_str().unwrap());
    let (done, placed) = (&MOVED[..2], &MOVED[2..]);
    for rel in MOVED {
        let cold = site.branch("cold").join(rel);
        fs::create_dir_all(cold.parent().unwrap()).unwrap();
        fs::copy(site.branch("fast").join(rel), &cold).unwrap();
    }
    for rel in done {
        fs::remove_file(site.branch("fast").join(rel)).unwrap();
    }
    let state = site.root.join("state");
    fs::create_dir_all(&state).unwrap();
    fs::write(state.join("move.journal"), text).unwrap();

    let open = tierctl::mover::journal::read_open(&state).unwrap();
    assert_eq!(open.keys().map(String::as_str).collect::<Vec<_>>(), placed);
    for state in open.values() {
        assert!(
            matches!(state, tierctl::mover::journal::Open::Placed { from, to, .. }
                if *from == site.branch("fast") && *to == site.branch("cold")),
            "{state:?}"
        );
    }
    site.assert_readable("before the resume");
    let report = run(&site.pool, &site.options(Failpoints::default())).unwrap();
    assert_eq!(report.totals.recovered, 2, "{report:?}");
    assert_eq!(report.totals.moved, 2, "{report:?}");
    assert_eq!(report.totals.failed, 0, "{report:?}");
    site.assert_finished("after the resume");
}

/// The one test variable of every engine, `TIERCTL_TEST_FAIL=STEP[:N]`, makes the real
/// `tierctl tiers move` abort at the N-th hit of a mover step (a migrate action it names is no
/// step: the move runs through); the next run settles what it left and finishes.
#[test]
fn issue25_tierctl_test_fail_aborts_tiers_move_at_a_step_and_the_next_run_finishes() {
    let site = Site::new();
    let tiers = site.root.join("tiers.yaml");
    fs::write(
        &tiers,
        format!(
            "tiers:\n  fast: {{ root: {r}/fast }}\n  cold: {{ root: {r}/cold }}\npools:\n  media:\n    mount: {r}/pool\n    branches: [fast:media, cold:media]\n    move:\n      - {{ name: old, older_than: 90d }}\n",
            r = site.root.display()
        ),
    )
    .unwrap();
    let journal = site.root.join(".tierctl/pools/media/move.journal");
    let tiers_move = |fail: Option<&str>| {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("tierctl"));
        command
            .arg("--tiers")
            .arg(&tiers)
            .args(["tiers", "move", "media"])
            .current_dir(&site.root)
            .env_remove("TIERCTL_TEST_FAIL");
        if let Some(fail) = fail {
            command.env("TIERCTL_TEST_FAIL", fail);
        }
        command.output().unwrap()
    };

    let killed = tiers_move(Some("warm-remove:3"));
    let stderr = String::from_utf8_lossy(&killed.stderr);
    assert_eq!(killed.status.code(), None, "killed by a signal: {stderr}");
    assert!(
        stderr.contains("(test hook: TIERCTL_TEST_FAIL aborts at `warm-remove`)"),
        "{stderr}"
    );
    assert!(journal.exists(), "the killed run's journal stays");
    site.assert_readable("after the abort");

    let finished = tiers_move(Some("compose-up"));
    let stderr = String::from_utf8_lossy(&finished.stderr);
    assert_eq!(finished.status.code(), Some(0), "{stderr}");
    assert!(!journal.exists(), "the journal is removed");
    site.assert_finished("after the next run");
}

/// Review of issue 25: the mover's copy kept owner, mode and times but dropped extended
/// attributes (POSIX ACLs, `security.capability`, Samba's `user.DOSATTRIB`) and wrote holes
/// dense, and moved one path of a hardlinked inode (splitting the link). Now it keeps
/// attributes and holes, verifies the attributes, and leaves hardlinked files where they are.
#[test]
fn issue25_the_mover_keeps_xattrs_holes_and_nanosecond_times_and_leaves_hardlinks() {
    use std::os::unix::fs::MetadataExt;
    let site = Site::new();
    let fast = site.branch("fast");
    let tagged = fast.join(MOVED[0]);
    if xattr::set(&tagged, "user.DOSATTRIB", b"0x20").is_err() {
        eprintln!(
            "SKIPPED: no user xattrs on the temp dir's filesystem: the mover's xattrs are untested"
        );
        return;
    }
    // a sparse file: 8 MiB of hole around 4 KiB of data
    let sparse = fast.join(MOVED[3]);
    let mut bytes = site.files[MOVED[3]].clone();
    {
        let f = fs::OpenOptions::new().write(true).open(&sparse).unwrap();
        f.set_len(8 << 20).unwrap();
        bytes.resize(8 << 20, 0);
    }
    let times = fs::FileTimes::new()
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::new(1_500_000_000, 123_456_789));
    for path in [&tagged, &sparse] {
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_times(times)
            .unwrap();
    }
    // a hardlinked old file
    let linked = fast.join(MOVED[2]);
    fs::hard_link(&linked, fast.join("library/c-link.raw")).unwrap();

    let report = run(&site.pool, &site.options(Failpoints::default())).unwrap();

    let outcome = |rel: &str| {
        report
            .files
            .iter()
            .find(|(s, _)| s.file.rel == rel)
            .map(|(_, o)| o.clone())
            .unwrap()
    };
    assert_eq!(
        outcome(MOVED[2]),
        FileOutcome::Skipped(Skip::Hardlinked { links: 2 })
    );
    assert!(linked.exists(), "the hardlinked file stays on fast");
    let cold = site.branch("cold");
    let moved = cold.join(MOVED[0]);
    assert!(matches!(outcome(MOVED[0]), FileOutcome::Moved { .. }));
    assert_eq!(
        xattr::get(&moved, "user.DOSATTRIB").unwrap().as_deref(),
        Some(&b"0x20"[..])
    );
    let meta = fs::metadata(&moved).unwrap();
    assert_eq!(
        (meta.mtime(), meta.mtime_nsec()),
        (1_500_000_000, 123_456_789)
    );
    let big = cold.join(MOVED[3]);
    assert_eq!(fs::read(&big).unwrap(), bytes, "the sparse file's content");
    let allocated = fs::metadata(&big).unwrap().blocks() * 512;
    assert!(
        allocated < 1 << 20,
        "an 8 MiB file with 4 KiB of data took {allocated} bytes on the colder branch"
    );
}
