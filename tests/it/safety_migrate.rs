//! Issue 11, the rollback / discard / prune rows on a real engine: D1 (rollback after the
//! service wrote on the tier), D2 (prune after a hand-restored compose file), D3 (rollback while
//! a migration verifies; a later discard of a live directory), D13 (every hint names a command
//! that works), and more: a stopped container using the volume at prune time, a copy changed
//! after a rollback, kill -9 at each step boundary of rollback and prune, a journal truncated or
//! its manifest edited by hand. Each asserts that no byte of user data is lost (tree manifests
//! before and after), that the compose file is exactly the old or the new text, and that the
//! message names the next command.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use tierctl::engine::MountSource;
use tierctl::migrate::copy::{self, CopyJob};
use tierctl::migrate::tree;
use tierctl::migrate::tree::manifest::{self, Digest, Manifest, Rules};

use super::compose_runner::Family;
use super::engine::{engine, helper_image};
use super::migrate_engine::{TIERS, stdout};
use super::stack::Stack;
use super::workspace::Workspace;

const COMPOSE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 2s
    volumes:
      - dbdata:/data   # the database
volumes:
  dbdata:
"#;

const SEED: &str = "set -e; cd /data; mkdir -p pg/base; echo one > pg/base/1; \
ln pg/base/1 pg/base/1.link; ln -s base/1 pg/current; head -c 300000 /dev/urandom > pg/blob; \
chown -R 999:999 pg; chmod 700 pg; echo a > a";

/// A project `tierctlsafe<tag><pid>` with its `db` service running on the volume seeded by
/// [`SEED`].
fn stack(tag: &str) -> Option<Stack> {
    let name = format!("tierctlsafe{tag}{}", std::process::id());
    Stack::up(Family::V2, name, COMPOSE, SEED)
}

impl Stack {
    /// The compose file after the migration.
    fn new_text(&self) -> String {
        self.old
            .replace(
                "- dbdata:/data",
                &format!("- {}:/data", self.target().display()),
            )
            .replace("volumes:\n  dbdata:\n", "")
    }

    /// `tierctl ARGS`, run to its end.
    fn output(&self, args: &[&str]) -> Output {
        self.tierctl().args(args).output().expect("tierctl runs")
    }

    /// `tierctl ARGS` in the background with the migrate pause hook at `pause`.
    fn spawn_paused(&self, args: &[&str], pause: &str, ms: u32) -> (Child, PathBuf) {
        let log = self
            .ws
            .path(&format!("tierctl-{}.log", pause.replace(':', "-")));
        let child = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
            .args(args)
            .current_dir(self.ws.path("app"))
            .env("COMPOSE_PROJECT_NAME", &self.name)
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .env("TIERCTL_TEST_MIGRATE_PAUSE", pause)
            .env("TIERCTL_TEST_MIGRATE_PAUSE_MS", ms.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn tierctl");
        (child, log)
    }

    /// What the database does: write a file where it runs.
    fn db_writes(&self, file: &str) {
        let ok = Command::new("docker")
            .args(["exec", &self.db(), "sh", "-c"])
            .arg(format!("echo written-on-the-tier > /data/{file}; sync"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "docker exec");
    }

    fn volume_manifest(&self) -> Manifest {
        let engine = engine().expect("engine");
        let job = CopyJob {
            source: MountSource::Volume(self.volume()),
            target: PathBuf::new(),
        };
        let spec = copy::measure_spec(&job, &helper_image(), &self.name);
        tree::archive_manifests(
            &engine,
            &spec,
            &[copy::FROM],
            Digest::Blake3,
            &AtomicU64::new(0),
        )
        .expect("volume manifest")
        .pop()
        .expect("one manifest")
    }

    fn tier_manifest(&self) -> Manifest {
        tree::read(&self.target(), Digest::Blake3, &AtomicU64::new(0)).expect("tier manifest")
    }

    fn volume_exists(&self) -> bool {
        Command::new("docker")
            .args(["volume", "inspect", &self.volume()])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

/// No byte lost: `after` holds exactly what `before` held (but for what a helper's copy, the
/// rollback's copy back among them, does not keep: extended attributes, symlink times).
fn same(before: &Manifest, after: &Manifest, what: &str) {
    let differences = manifest::compare(before, after, Rules::copy(false));
    assert!(differences.is_empty(), "{what}: {differences:?}");
    assert!(before.len() > 5, "{what}: the tree holds the seed");
}

fn text(out: &Output) -> String {
    stdout(out)
}

/// The compose file is exactly one of the two texts.
fn old_or_new(s: &Stack) {
    let now = s.compose_text();
    assert!(now == s.old || now == s.new_text(), "{now}");
}

fn wait_for(log: &Path, what: &str, child: &mut Child) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if std::fs::read_to_string(log).is_ok_and(|t| t.contains(what)) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "tierctl ended ({status}) before `{what}`: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("never saw `{what}`");
}

fn migrated(tag: &str) -> Option<Stack> {
    let s = stack(tag)?;
    let out = s.output(&["migrate", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(s.compose_text(), s.new_text());
    Some(s)
}

#[test]
fn d1_rollback_after_the_service_wrote_on_the_tier_brings_that_data_back() {
    let Some(s) = migrated("d1") else { return };
    assert_eq!(s.db_mount(), s.target().display().to_string());
    s.db_writes("new-row");
    let newest = s.tier_manifest();

    // no terminal, no --yes: refused, naming the exact command, nothing changed
    let asked = s.output(&["migrate", "--rollback"]);
    assert_eq!(asked.status.code(), Some(2), "{}", text(&asked));
    assert!(
        text(&asked).contains("tierctl migrate --rollback --yes`"),
        "{}",
        text(&asked)
    );
    assert_eq!(s.compose_text(), s.new_text());
    same(&newest, &s.tier_manifest(), "tier after the refusal");

    let back = s.output(&["migrate", "--rollback", "--yes"]);
    let t = text(&back);
    assert_eq!(back.status.code(), Some(0), "{t}");
    assert!(
        t.contains("copied `") && t.contains("back into volume"),
        "{t}"
    );
    assert!(t.contains("--discard-copy --yes"), "{t}");
    assert_eq!(s.compose_text(), s.old);
    assert_eq!(s.db_mount(), s.volume());
    same(
        &newest,
        &s.volume_manifest(),
        "the volume after the rollback",
    );

    // the copy equals what was copied back: discard may remove it, the volume keeps all
    let discard = s.output(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    assert_eq!(discard.status.code(), Some(0), "{}", text(&discard));
    assert!(!s.target().exists());
    same(
        &newest,
        &s.volume_manifest(),
        "the volume after --discard-copy",
    );
    assert_eq!(s.compose_text(), s.old);
}

#[test]
fn d2_prune_refuses_a_volume_a_hand_restored_compose_file_uses_again() {
    let Some(s) = migrated("d2") else { return };
    // the user restores the backup by hand, runs the stack on the volume, writes, stops it
    let backup = std::fs::read_dir(s.ws.path("app"))
        .expect("app dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".bak"))
        .expect("a backup");
    std::fs::copy(&backup, s.ws.path("app/compose.yaml")).expect("restore by hand");
    assert_eq!(s.compose_text(), s.old);
    assert!(s.compose(&["up", "-d"]), "up");
    s.db_writes("written-after-the-revert");
    assert!(s.compose(&["down"]), "down");
    let before = s.volume_manifest();

    let pruned = s.output(&["migrate", "--prune-source", "--yes"]);
    let t = text(&pruned);
    assert_eq!(pruned.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "volume `{}` stays: it is in use by service `db`",
            s.volume()
        )),
        "{t}"
    );
    assert!(t.contains("compose.yaml:"), "{t}");
    assert!(t.contains("`tierctl migrate --rollback --yes`"), "{t}");
    assert!(!t.contains("--resume"), "{t}");
    assert!(s.volume_exists());
    same(
        &before,
        &s.volume_manifest(),
        "the volume after the refused prune",
    );
    assert_eq!(s.compose_text(), s.old);

    // the command the hint names works in this state and loses nothing
    let back = s.output(&["migrate", "--rollback", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    assert_eq!(s.compose_text(), s.old);
    same(
        &before,
        &s.volume_manifest(),
        "the volume after the rollback",
    );
}

#[test]
fn d3_a_rollback_while_the_migration_verifies_is_refused_and_a_live_copy_is_never_discarded() {
    let Some(s) = stack("d3") else { return };
    let (mut first, log) = s.spawn_paused(&["migrate", "--yes"], "verify:0", 8_000);
    wait_for(&log, "paused at `verify:0`", &mut first);
    let second = s.output(&["migrate", "--rollback", "--yes"]);
    let t = text(&second);
    assert_eq!(second.status.code(), Some(2), "{t}");
    assert!(t.contains(&format!("pid {}", first.id())), "{t}");
    assert_eq!(s.compose_text(), s.old);
    // the first run goes on and finishes: the journal and the compose file agree
    let status = first.wait().expect("first run");
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(s.compose_text(), s.new_text());
    assert_eq!(s.db_mount(), s.target().display().to_string());
    let journal_says_done = s.output(&["migrate", "--rollback", "--yes"]);
    assert_eq!(
        journal_says_done.status.code(),
        Some(0),
        "{}",
        text(&journal_says_done)
    );

    // what the race left before the lock: the journal says rolled back, yet the compose file
    // points at the tier and the database runs there
    std::fs::write(s.ws.path("app/compose.yaml"), s.new_text()).expect("write");
    assert!(s.compose(&["up", "-d"]), "up");
    s.db_writes("live");
    let live = s.tier_manifest();
    let discard = s.output(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    let t = text(&discard);
    assert_eq!(discard.status.code(), Some(2), "{t}");
    assert!(t.contains("stays"), "{t}");
    assert!(!t.contains("--resume"), "{t}");
    same(&live, &s.tier_manifest(), "the live tier directory");
    assert_eq!(s.compose_text(), s.new_text());
}

#[test]
fn d13_failed_prune_and_discard_name_commands_that_work_and_a_stopped_container_blocks_prune() {
    let Some(s) = migrated("d13") else { return };
    let before = s.volume_manifest();
    // a stopped container still using the volume
    let holder = format!("{}-holder", s.name);
    let created = Command::new("docker")
        .args(["create", "--name", &holder, "-v"])
        .arg(format!("{}:/x", s.volume()))
        .args([&helper_image(), "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(created, "docker create");
    let pruned = s.output(&["migrate", "--prune-source", "--yes"]);
    let _ = Command::new("docker").args(["rm", "-f", &holder]).output();
    let t = text(&pruned);
    assert_eq!(pruned.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("container `{holder}` (stopped)")),
        "{t}"
    );
    assert!(!t.contains("--resume"), "{t}");
    same(
        &before,
        &s.volume_manifest(),
        "the volume after the refused prune",
    );
    // `--resume` indeed has nothing to do here, and says what does
    let resume = s.output(&["migrate", "--resume"]);
    assert!(
        text(&resume).contains("--prune-source --yes"),
        "{}",
        text(&resume)
    );
    // once the container is gone the same command works
    let again = s.output(&["migrate", "--prune-source", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(!s.volume_exists());
    same(&before, &s.tier_manifest(), "the tier after the prune");
    assert_eq!(s.compose_text(), s.new_text());
    // nothing is left to roll back: the hint says so and does not name --resume
    let back = s.output(&["migrate", "--rollback", "--yes"]);
    let t = text(&back);
    assert_eq!(back.status.code(), Some(2), "{t}");
    assert!(!t.contains("--resume"), "{t}");
    same(
        &before,
        &s.tier_manifest(),
        "the tier after the refused rollback",
    );
}

#[test]
fn a_copy_written_after_the_rollback_is_not_discarded() {
    let Some(s) = migrated("changed") else { return };
    let back = s.output(&["migrate", "--rollback", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    std::fs::write(s.target().join("notes.txt"), "kept by hand").expect("write");
    let copy = s.tier_manifest();
    let discard = s.output(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    let t = text(&discard);
    assert_eq!(discard.status.code(), Some(2), "{t}");
    assert!(t.contains("changed since its copy verified"), "{t}");
    assert!(t.contains("notes.txt"), "{t}");
    assert!(!t.contains("--resume"), "{t}");
    same(&copy, &s.tier_manifest(), "the changed copy");
    assert_eq!(s.compose_text(), s.old);
}

/// kill -9 at each step boundary of a rollback that copies data back, then `--rollback --yes`
/// (the command the journal's phase names) finishes it with every byte in the volume.
#[test]
fn kill_9_at_each_rollback_step_then_rollback_again_loses_nothing() {
    for pause in [
        "rollback:stop",
        "copy-back:0",
        "copy-back:0:after",
        "rollback:restore",
        "rollback:start",
    ] {
        let Some(s) = migrated(&pause.replace([':', '-'], "")) else {
            return;
        };
        s.db_writes("after-migration");
        let newest = s.tier_manifest();
        let (mut child, log) = s.spawn_paused(&["migrate", "--rollback", "--yes"], pause, 60_000);
        let hook = match pause.strip_suffix(":after") {
            Some(step) => format!("paused at `{step}` after it ran"),
            None => format!("paused at `{pause}`"),
        };
        wait_for(&log, &hook, &mut child);
        child.kill().expect("kill -9");
        child.wait().expect("reaped");
        old_or_new(&s);
        // the tier is never touched by a rollback: it still holds the newest data
        same(
            &newest,
            &s.tier_manifest(),
            &format!("tier after kill at {pause}"),
        );
        let resume = s.output(&["migrate", "--resume"]);
        assert!(
            text(&resume).contains("--rollback --yes"),
            "{pause}: {}",
            text(&resume)
        );
        let back = s.output(&["migrate", "--rollback", "--yes"]);
        assert_eq!(back.status.code(), Some(0), "{pause}: {}", text(&back));
        assert_eq!(s.compose_text(), s.old, "{pause}");
        assert_eq!(s.db_mount(), s.volume(), "{pause}");
        same(
            &newest,
            &s.volume_manifest(),
            &format!("volume after kill at {pause}"),
        );
    }
}

/// kill -9 before and after the prune's removal, and before `--discard-copy` removes a copy:
/// the same command again finishes, and the other side keeps every byte.
#[test]
fn kill_9_at_the_prune_and_discard_boundaries_then_the_same_command_finishes() {
    for pause in ["remove-source:0", "remove-source:0:after"] {
        let Some(s) = migrated(&pause.replace([':', '-'], "")) else {
            return;
        };
        let data = s.tier_manifest();
        let (mut child, log) =
            s.spawn_paused(&["migrate", "--prune-source", "--yes"], pause, 60_000);
        wait_for(&log, "paused at `remove-source:0`", &mut child);
        child.kill().expect("kill -9");
        child.wait().expect("reaped");
        let again = s.output(&["migrate", "--prune-source", "--yes"]);
        assert_eq!(again.status.code(), Some(0), "{pause}: {}", text(&again));
        assert!(!s.volume_exists(), "{pause}");
        same(&data, &s.tier_manifest(), pause);
        assert_eq!(s.compose_text(), s.new_text());
    }
    let Some(s) = migrated("discardkill") else {
        return;
    };
    let back = s.output(&["migrate", "--rollback", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    let data = s.volume_manifest();
    let (mut child, log) = s.spawn_paused(
        &["migrate", "--rollback", "--discard-copy", "--yes"],
        "remove-copy:0",
        60_000,
    );
    wait_for(&log, "paused at `remove-copy:0`", &mut child);
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let again = s.output(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(!s.target().exists());
    same(&data, &s.volume_manifest(), "the volume after the discard");
    assert_eq!(s.compose_text(), s.old);
}

/// A journal cut mid-line (a crash while writing) and a manifest side file edited by hand: the
/// rollback still brings every byte back (an unusable manifest means "copy back").
#[test]
fn a_truncated_journal_and_an_edited_manifest_still_roll_back_without_loss() {
    let Some(s) = migrated("journal") else { return };
    s.db_writes("after-migration");
    let newest = s.tier_manifest();
    let state = s.ws.path("app/.tierctl");
    let journal = tierctl::migrate::journal::latest(&state).expect("a journal");
    let bytes = std::fs::read(&journal).expect("journal");
    // the last line (`finished`) torn in half
    let cut = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("lines")
        + 6;
    std::fs::write(&journal, &bytes[..cut]).expect("truncate");
    for entry in std::fs::read_dir(&state).expect("state dir").flatten() {
        if entry.file_name().to_string_lossy().starts_with("manifest-") {
            std::fs::write(entry.path(), b"{\"entries\":{}}").expect("edit");
        }
    }
    let back = s.output(&["migrate", "--rollback", "--yes"]);
    let t = text(&back);
    assert_eq!(back.status.code(), Some(0), "{t}");
    assert!(t.contains("back into volume"), "{t}");
    assert_eq!(s.compose_text(), s.old);
    same(
        &newest,
        &s.volume_manifest(),
        "the volume after the rollback",
    );
    // the copy back kept a fresh manifest: the copy equals it, so --discard-copy may go
    let discard = s.output(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    assert_eq!(discard.status.code(), Some(0), "{}", text(&discard));
    same(
        &newest,
        &s.volume_manifest(),
        "the volume after the discard",
    );
}

/// A journal damaged in the middle by hand: refused before anything changes.
#[test]
fn a_journal_damaged_in_the_middle_is_refused_and_nothing_changes() {
    let Some(s) = migrated("damaged") else { return };
    let before = s.tier_manifest();
    let journal = tierctl::migrate::journal::latest(&s.ws.path("app/.tierctl")).expect("journal");
    let text_of = std::fs::read_to_string(&journal).expect("journal");
    let mut lines: Vec<&str> = text_of.lines().collect();
    lines[2] = "{hand edited";
    std::fs::write(&journal, lines.join("\n") + "\n").expect("edit");
    let back = s.output(&["migrate", "--rollback", "--yes"]);
    let t = text(&back);
    assert_eq!(back.status.code(), Some(2), "{t}");
    assert!(t.contains("line 3 is damaged"), "{t}");
    assert!(t.contains(".tierctl"), "{t}");
    assert_eq!(s.compose_text(), s.new_text());
    same(&before, &s.tier_manifest(), "the tier");
    assert_eq!(s.db_mount(), s.target().display().to_string());
}

/// Issue 11 item 4 on a terminal: `--rollback` says what it will do and asks; `n` changes
/// nothing (the journal gains no record).
#[test]
fn on_a_terminal_rollback_asks_and_a_no_changes_nothing() {
    use tierctl::migrate::journal::{Journal, Record};
    use tierctl::migrate::plan::MigratePlan;
    let ws = Workspace::new()
        .file("app/compose.yaml", "services:\n  db:\n    image: busybox\n")
        .file("app/tiers.yaml", TIERS);
    let state = ws.path("app/.tierctl");
    let plan = MigratePlan {
        project: "tierctlasks".into(),
        project_dir: ws.path("app"),
        ..MigratePlan::default()
    };
    let mut journal = Journal::create(&state, "20260101T000000-1", &plan).expect("journal");
    journal.append(&Record::Finished).expect("append");
    let before = std::fs::read(&journal.path).expect("journal");
    let bin = assert_cmd::cargo::cargo_bin("tierctl");
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{} migrate --rollback", bin.display()),
            "/dev/null",
        ])
        .current_dir(ws.path("app"))
        .env("COMPOSE_PROJECT_NAME", "tierctlasks")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            std::thread::sleep(Duration::from_millis(1500));
            child.stdin.take().expect("piped stdin").write_all(b"n\n")?;
            child.wait_with_output()
        });
    let Ok(out) = out else {
        skipped!("no `script` to give tierctl a terminal");
        return;
    };
    let t = text(&out);
    assert!(t.contains("will roll back the migration"), "{t}");
    assert!(t.contains("Proceed? [y/N]"), "{t}");
    assert!(t.contains("not confirmed: nothing was changed"), "{t}");
    assert!(t.contains("migrate --rollback --yes`"), "{t}");
    assert_eq!(std::fs::read(&journal.path).expect("journal"), before);
}
