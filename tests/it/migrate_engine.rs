//! `tierctl migrate` end to end against a real Docker engine and the compose CLI: a running
//! service on a named volume with owners, modes, a symlink, a hardlink and a FIFO; faults (a
//! killed tierctl during the copy) and rollback. A full or read-only tier is refused by
//! preflight before anything stops: `safety_preflight.rs`.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::compose_runner::Family;
use super::copy_engine::SEED;
use super::engine::helper_image;
use super::stack::Stack;
use super::workspace::Workspace;

/// A service on a named volume, with a long stop grace period (shared by the migrate test files).
pub const COMPOSE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 1m30s
    volumes:
      - dbdata:/data   # the database
volumes:
  dbdata:
"#;

/// The one fast tier the migrate tests move data to (shared by the migrate test files).
pub const TIERS: &str = r#"tiers:
  fast: { root: "{root}/fast" }
placement:
  - tier: fast
    path: "{project}/{volume}"
"#;

/// A compose project name unique to this test process (sessions share the engine): `name` and
/// the pid. Each `name` is taken by one test only: the tests of one binary run at once, and a
/// fixture's cleanup (`compose down -v`) of a name another test also used removed that test's
/// containers and volume, or the two `compose up` clashed (three pairs of `migrate_to_context`
/// tests shared a name, and one of each pair failed at its `compose up` now and then).
pub fn unique(name: &str) -> String {
    static TAKEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let fresh = TAKEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name.to_owned());
    assert!(
        fresh,
        "project name `{name}` is used by two tests, which run at once: give each its own"
    );
    format!("{name}p{}", std::process::id())
}

/// A project `name` (made unique) started by Compose v2 with its volume seeded with `seed`.
fn project(name: &str, seed: &str) -> Option<Stack> {
    Stack::up(Family::V2, unique(name), COMPOSE, seed)
}

impl Stack {
    /// The names of the project's containers, sorted.
    fn container_names(&self) -> Vec<String> {
        container_names(&self.name)
    }
}

/// `compose -p NAME ARGS` in the workspace's `app` directory; whether it succeeded.
pub fn run_compose(cli: &[String], name: &str, ws: &Workspace, args: &[&str]) -> bool {
    compose_output(cli, name, ws, args).is_ok_and(|o| o.status.success())
}

/// `compose -p NAME ARGS` in the workspace's `app` directory, its output kept (a failed
/// `up` names its cause on stderr).
pub fn compose_output(
    cli: &[String],
    name: &str,
    ws: &Workspace,
    args: &[&str],
) -> std::io::Result<std::process::Output> {
    Command::new(&cli[0])
        .args(&cli[1..])
        .args(["-p", name])
        .args(args)
        .current_dir(ws.path("app"))
        .stdin(Stdio::null())
        .output()
}

/// The names of the containers of compose project `name`, sorted.
pub fn container_names(name: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label=com.docker.compose.project={name}"))
        .output()
        .expect("docker ps");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

/// `tierctl` in the workspace's `app` directory for project `name`, with the test helper image.
pub fn project_tierctl(ws: &Workspace, name: &str) -> assert_cmd::Command {
    let mut cmd = ws.tierctl("app");
    cmd.env("COMPOSE_PROJECT_NAME", name)
        .env("TIERCTL_HELPER_IMAGE", helper_image());
    cmd
}

pub fn stdout(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn migrate_copies_verifies_rewrites_restarts_and_a_second_run_does_nothing_then_rollback_restores()
{
    migrate_end_to_end(Family::V2, "tierctlitmig1");
}

/// The same with a project Compose v1 created: migrate starts it again with v1, so its
/// container keeps its v1 name (`project_db_1`), where v2 would recreate it as `project-db-1`.
#[test]
fn regression_12_migrate_restarts_a_compose_v1_project_with_compose_v1() {
    migrate_end_to_end(Family::V1, "tierctlitmig1v");
}

fn migrate_end_to_end(family: Family, name: &str) {
    let Some(p) = Stack::up(family, unique(name), COMPOSE, SEED) else {
        return;
    };
    let sep = p.family.separator();
    let db = vec![format!("{}{sep}db{sep}1", p.name)];
    assert_eq!(p.container_names(), db);
    let before = p.compose_text();
    assert_eq!(p.db_mount(), p.volume());

    let out = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("stopped: db"), "{text}");
    assert!(text.contains("verify:0         ok:"), "{text}");
    assert!(text.contains("started: db"), "{text}");
    assert!(
        text.contains("verify-mounts    ok: 1 mount(s), tierctl verify ok"),
        "{text}"
    );
    // progress on stderr as the steps run, and the closing line
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains(
            "[4/9] stop db (pre-copy mode: only the delta is copied while they are down)  stopped: db"
        ),
        "{progress}"
    );
    assert!(progress.contains("[9/9] verify mounts  ok"), "{progress}");
    assert!(progress.contains("services were down "), "{progress}");
    assert!(
        progress.contains(&format!(
            "done. Source volume {} kept; remove it with `tierctl migrate --prune-source`",
            p.volume()
        )),
        "{progress}"
    );

    // compose rewritten: only the source changed, the comment kept, the volume entry gone
    let after = p.compose_text();
    assert!(
        after.contains(&format!(
            "- {}:/data   # the database",
            p.target().display()
        )),
        "{after}"
    );
    assert!(!after.contains("dbdata:\n"), "{after}");
    // the service runs on the tier directory, started by the family that created it
    assert_eq!(p.db_mount(), p.target().display().to_string());
    assert_eq!(p.container_names(), db, "{text}");
    // owners, modes, hardlinks, symlink, FIFO on the host
    let t = p.target();
    let one = std::fs::metadata(t.join("pg/base/1")).expect("copied file");
    assert_eq!(
        (one.uid(), one.mode() & 0o7777, one.nlink()),
        (999, 0o600, 2)
    );
    assert_eq!(
        one.ino(),
        std::fs::metadata(t.join("pg/base/1.link"))
            .expect("hardlink")
            .ino()
    );
    assert_eq!(
        std::fs::metadata(t.join("pg")).expect("dir").mode() & 0o7777,
        0o700
    );
    assert_eq!(std::fs::metadata(t.join("sub/a")).expect("file").uid(), 70);
    assert_eq!(
        std::fs::read_link(t.join("pg/current")).expect("symlink"),
        Path::new("base/1")
    );
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(t.join("pg/fifo"))
            .expect("fifo")
            .file_type()
            .is_fifo()
    );

    // a second run has nothing to do
    let again = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    assert!(
        stdout(&again).contains("nothing to migrate"),
        "{}",
        stdout(&again)
    );

    // rollback: compose byte for byte, the service back on its volume, the copy kept
    let back = p
        .tierctl()
        .args(["migrate", "--rollback", "--yes"])
        .output()
        .expect("run");
    assert_eq!(back.status.code(), Some(0), "{}", stdout(&back));
    assert!(
        stdout(&back).contains("--discard-copy"),
        "{}",
        stdout(&back)
    );
    assert_eq!(p.compose_text(), before);
    assert_eq!(p.db_mount(), p.volume());
    assert_eq!(p.container_names(), db);
    assert!(p.target().join("pg/base/1").is_file());
    // --discard-copy afterwards removes only what the migration made
    let discard = p
        .tierctl()
        .args(["migrate", "--rollback", "--discard-copy", "--yes"])
        .output()
        .expect("run");
    assert_eq!(discard.status.code(), Some(0), "{}", stdout(&discard));
    assert!(!p.ws.path(&format!("fast/{}", p.name)).exists());
    assert_eq!(p.compose_text(), before);
    p.down();
}

/// A seed big enough that the copy takes a moment.
const BIG_SEED: &str = "set -e; cd /data; for d in 1 2 3 4 5 6; do mkdir -p d$d; \
head -c 120000000 /dev/zero > d$d/blob; for i in 1 2 3 4 5 6 7 8 9 10; do echo $d$i > d$d/f$i; done; done; \
chown -R 999:999 /data";

#[test]
fn tierctl_killed_during_the_copy_resumes_to_a_verified_migration() {
    let Some(p) = project("tierctlitmig2", BIG_SEED) else {
        return;
    };
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
        .args(["migrate", "--yes", "--stop-first"])
        .current_dir(p.ws.path("app"))
        .env("COMPOSE_PROJECT_NAME", &p.name)
        .env("TIERCTL_HELPER_IMAGE", helper_image())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tierctl");
    // wait until the copy step has begun and written part of the copy (on the host when it
    // sees both trees, else in this run's copy helper, which is left running), then kill -9
    let started = Instant::now();
    let mut seen = false;
    while started.elapsed() < Duration::from_secs(60) {
        let journal = std::fs::read_dir(p.ws.path("app/.tierctl"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .unwrap_or_default();
        let copying = journal.contains(r#"{"event":"start","step":"copy:0"}"#)
            && !journal.contains(r#"{"event":"done","step":"copy:0""#);
        let partial = std::fs::read_dir(p.target())
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
        if copying && partial {
            seen = true;
            break;
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("kill -9 tierctl");
    child.wait().expect("reaped");
    assert!(seen, "tierctl was not caught during the copy");
    // nothing rewritten yet, a plain run refuses, the journal resumes
    assert!(p.compose_text().contains("dbdata:/data"));
    let refused = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    assert!(
        stdout(&refused).contains("--resume"),
        "{}",
        stdout(&refused)
    );
    let resumed = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let text = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(text.contains("stop             already done"), "{text}");
    assert!(text.contains("verify:0         ok: 73 entries"), "{text}");
    assert!(p.compose_text().contains(&p.target().display().to_string()));
    assert_eq!(
        std::fs::metadata(p.target().join("d6/blob"))
            .expect("copied")
            .len(),
        120_000_000
    );
    // the kept source goes with `--prune-source`, and only then
    let volume_exists = || {
        Command::new("docker")
            .args(["volume", "inspect", &p.volume()])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(volume_exists());
    let pruned = p
        .tierctl()
        .args(["migrate", "--prune-source", "--yes"])
        .output()
        .expect("run");
    assert_eq!(pruned.status.code(), Some(0), "{}", stdout(&pruned));
    assert!(stdout(&pruned).contains("removed"), "{}", stdout(&pruned));
    assert!(!volume_exists());
    p.down();
}

fn confirm_workspace() -> Workspace {
    Workspace::new()
        .file("app/compose.yaml", &COMPOSE.replace("{image}", "busybox"))
        .file("app/tiers.yaml", TIERS)
        .dir("fast")
}

#[test]
fn without_yes_and_without_a_terminal_migrate_shows_the_plan_and_refuses() {
    let ws = confirm_workspace();
    let before = std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose");
    let out = ws
        .tierctl("app")
        .env("COMPOSE_PROJECT_NAME", "tierctlitconfirm")
        .arg("migrate")
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    // nothing of the project runs: the single pass (issue 23 item 4)
    assert!(text.contains("[1/7] stop db (single pass"), "{text}");
    assert!(text.contains("pass `--yes`"), "{text}");
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose"),
        before
    );
}

#[test]
fn on_a_terminal_migrate_asks_and_a_no_changes_nothing() {
    let ws = confirm_workspace();
    let before = std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose");
    // `script` gives tierctl a terminal; the answer comes through it
    let bin = assert_cmd::cargo::cargo_bin("tierctl");
    let out = Command::new("script")
        .args(["-qec", &format!("{} migrate", bin.display()), "/dev/null"])
        .current_dir(ws.path("app"))
        .env("COMPOSE_PROJECT_NAME", "tierctlitconfirm")
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
    let text = stdout(&out);
    assert!(text.contains("Proceed? [y/N]"), "{text}");
    assert!(text.contains("not confirmed"), "{text}");
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose"),
        before
    );
}

/// Found by `bench/migrate.sh`: with the services stopped beforehand, `verify-mounts` failed the
/// migration because no container was running to look at.
#[test]
fn regression_migrate_of_a_stopped_project_skips_the_mount_check() {
    let Some(p) = project("tierctlstopped", "echo hello > /data/a") else {
        return;
    };
    assert!(p.compose(&["stop"]), "compose stop");
    let out = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    p.down();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("verify mounts  skipped: no service was running"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(p.target().join("a")).expect("copied file"),
        "hello\n"
    );
}
