//! Issue 14 (near-zero-downtime migrate) and issue 11 D11 against a real engine: the pre-copy
//! while the service runs, the delta while it is stopped, a service killed at the stop, kill -9
//! during the pre-copy and the delta, `--stop-first`, and a source changed under the copy.
//! Every project name ends in this process's id: other sessions share the engine.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use tierctl::migrate::tree;
use tierctl::migrate::tree::manifest::{self, Digest, Rules};

use super::compose_runner::Family;
use super::engine::helper_image;
use super::migrate_engine::stdout;
use super::stack::Stack;

const COMPOSE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "{command}"]
    stop_grace_period: {grace}
    volumes:
      - dbdata:/data
volumes:
  dbdata:
"#;

/// A service that stops at once on SIGTERM.
const CLEAN: &str = "trap 'exit 0' TERM; while true; do sleep 1; done";

/// Files of every kind the delta has to get right, with owners and modes.
const SEED: &str = "set -e; cd /data; mkdir -p keep gone sub/deep; \
for i in 1 2 3 4 5 6 7 8; do echo file-$i > keep/f$i; done; \
echo bye > del.txt; echo move > ren-a; head -c 50000 /dev/urandom > trunc.bin; \
echo AAAA > same.txt; echo x > gone/x; echo deep > sub/deep/d; ln -s keep/f1 link; \
ln keep/f2 hard; head -c 2000000 /dev/urandom > big.bin; chown -R 999:999 /data; chmod 0700 sub";

/// The writer: creates, deletes, renames, truncates, and rewrites a file with the same size
/// keeping its mtime (a same-size same-second change), changes a mode, removes a directory.
const MUTATE: &str = "set -e; cd /data; echo new > new.txt; mkdir -p fresh; echo f > fresh/a; \
rm del.txt; mv ren-a ren-b; : > trunc.bin; cp -p same.txt /tmp/ref; printf 'BBBB\\n' > same.txt; \
touch -r /tmp/ref same.txt; chmod 0600 keep/f3; rm -rf gone; echo more >> sub/deep/d";

/// A running project `prefix<pid>` whose service runs `command` with `grace`, its volume
/// seeded with [`SEED`]; `None` (skipped) without an engine or compose CLI.
fn project(prefix: &str, command: &str, grace: &str) -> Option<Stack> {
    let compose = COMPOSE
        .replace("{command}", command)
        .replace("{grace}", grace);
    let name = format!("{prefix}{}", std::process::id());
    Stack::up(Family::V2, name, &compose, SEED)
}

impl Stack {
    fn docker(&self, args: &[&str]) -> String {
        let out = Command::new("docker").args(args).output().expect("docker");
        assert!(out.status.success(), "docker {args:?}: {}", stdout(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `migrate ARGS` started with the pause hook at `at`; returns once its stderr shows the
    /// hook paused (the child still sleeping in it).
    // the caller waits for the child or kills it
    #[allow(clippy::zombie_processes)]
    fn paused_at(&self, args: &[&str], at: &str, millis: u64) -> Child {
        let log = self.ws.path("stderr.log");
        let child = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
            .arg("migrate")
            .args(args)
            .current_dir(self.ws.path("app"))
            .env("COMPOSE_PROJECT_NAME", &self.name)
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .env("TIERCTL_TEST_MIGRATE_PAUSE", at)
            .env("TIERCTL_TEST_MIGRATE_PAUSE_MS", millis.to_string())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn tierctl");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(120) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("(test hook: paused") {
                return child;
            }
            assert!(
                !text.contains("error:"),
                "tierctl failed before `{at}`: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("tierctl never paused at `{at}`");
    }

    /// The source and the copy compare equal, entry by entry (types, owners, modes, mtimes,
    /// links, hardlink groups, BLAKE3).
    fn assert_copy_equals_source(&self) {
        let source = self.docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &self.volume()]);
        let hashed = AtomicU64::new(0);
        let a = tree::read(Path::new(&source), Digest::Blake3, &hashed).expect("source manifest");
        let b = tree::read(&self.target(), Digest::Blake3, &hashed).expect("copy manifest");
        let differences = manifest::compare(&a, &b, Rules::default());
        assert!(differences.is_empty(), "{differences:?}");
    }
}

fn kill(mut child: Child) {
    child.kill().expect("kill -9 tierctl");
    child.wait().expect("reaped");
}

#[test]
fn pre_copy_and_delta_catch_creates_deletes_renames_truncates_and_same_size_same_second_rewrites() {
    let Some(p) = project("tierctlitdt1x", CLEAN, "10s") else {
        return;
    };
    // the seed's files settle (their ctimes older than the racy margin when the running verify
    // reads them), as a volume's files do that were written before a migration began
    std::thread::sleep(
        Duration::from_nanos(tree::RACY_MARGIN_NS as u64) + Duration::from_millis(500),
    );
    // hold the run after the pre-copy (the service still runs), change the source, go on
    let child = p.paused_at(&["--yes"], "stop", 4000);
    p.on_volume(MUTATE);
    let out = child.wait_with_output().expect("run");
    let log = std::fs::read_to_string(p.ws.path("stderr.log")).expect("log");
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("pre-copy tierctlitdt1x"), "{log}");
    assert!(log.contains("while the services run  "), "{log}");
    assert!(log.contains("blake3"), "{log}");
    assert!(log.contains("stop db (pre-copy mode"), "{log}");
    // while stopped, the verify read again only what changed since the running verify: not
    // the 2 MB file nobody touched
    let read_now: u64 = log
        .split("; ")
        .find_map(|part| {
            part.strip_suffix(" bytes read now, the rest unchanged since the running verify")
        })
        .and_then(|n| n.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `bytes read now` in {log}"));
    assert!(
        read_now < 1_000_000,
        "{read_now} bytes read while stopped: {log}"
    );
    assert!(log.contains("services were down "), "{log}");
    // the delta found the changes, the verify passed, the service runs on the tier
    assert!(log.contains("removed"), "{log}");
    // the host sees both trees (native engine, tierctl as root): no helper for the delta
    assert!(log.contains("applied on the host"), "{log}");
    assert!(p.compose_text().contains(&p.target().display().to_string()));
    assert_eq!(
        std::fs::read_to_string(p.target().join("same.txt")).expect("copied"),
        "BBBB\n"
    );
    assert!(!p.target().join("del.txt").exists());
    assert!(p.target().join("ren-b").exists() && !p.target().join("ren-a").exists());
    assert!(!p.target().join("gone").exists());
    p.assert_copy_equals_source();
    p.down();
}

#[test]
fn a_service_that_outlives_its_grace_period_is_killed_and_the_migration_refuses_without_force() {
    // `sh` as PID 1 catches SIGTERM (so preflight lets it be stopped: issue 26 row 10) but
    // goes on running: the engine kills it when the grace period ends
    let Some(p) = project(
        "tierctlitdt2x",
        "trap 'echo ignored' TERM; while true; do sleep 1; done",
        "1s",
    ) else {
        return;
    };
    let before = p.compose_text();
    let out = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("step `delta:0` failed"), "{text}");
    assert!(text.contains("not stopped cleanly"), "{text}");
    assert!(text.contains("exit 137"), "{text}");
    assert!(text.contains("--resume --force"), "{text}");
    assert_eq!(p.compose_text(), before);
    let forced = p
        .tierctl()
        .args(["migrate", "--resume", "--force"])
        .output()
        .expect("run");
    assert_eq!(forced.status.code(), Some(0), "{}", stdout(&forced));
    p.assert_copy_equals_source();
    p.down();
}

/// kill -9 tierctl paused at `at`, change the source, `--resume`: the copy equals the source.
fn killed_at_then_resumed(prefix: &str, at: &str) {
    let Some(p) = project(prefix, CLEAN, "10s") else {
        return;
    };
    kill(p.paused_at(&["--yes"], at, 120_000));
    p.on_volume(MUTATE);
    let out = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("verify:0         ok:"), "{text}");
    assert!(p.compose_text().contains(&p.target().display().to_string()));
    p.assert_copy_equals_source();
    p.down();
}

#[test]
fn killed_during_the_pre_copy_then_resumed_copies_equal_data() {
    killed_at_then_resumed("tierctlitdt3x", "pre-copy:0:after");
}

#[test]
fn killed_during_the_delta_then_resumed_copies_equal_data() {
    killed_at_then_resumed("tierctlitdt4x", "delta:0:after");
}

#[test]
fn killed_during_the_running_verify_then_resumed_copies_equal_data() {
    killed_at_then_resumed("tierctlitdt7x", "pre-verify:0:after");
}

#[test]
fn a_same_size_same_mtime_change_of_the_copy_after_the_running_verify_fails_the_verify() {
    let Some(p) = project("tierctlitdt8x", CLEAN, "10s") else {
        return;
    };
    let before = p.compose_text();
    // the services are stopped, the delta applied: change a settled file of the copy behind
    // tierctl's back, keeping its size and mtime (only its ctime moves)
    let child = p.paused_at(&["--yes"], "verify:0", 3000);
    let file = p.target().join("keep/f5");
    let mtime = std::fs::metadata(&file)
        .and_then(|m| m.modified())
        .expect("mtime");
    std::fs::write(&file, "FILE-5\n").expect("rewrite the copy");
    std::fs::File::options()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_modified(mtime))
        .expect("mtime back");
    let out = child.wait_with_output().expect("run");
    let log = std::fs::read_to_string(p.ws.path("stderr.log")).expect("log");
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("step `verify:0` failed"), "{log}");
    assert!(log.contains("keep/f5"), "{log}");
    assert!(log.contains("content"), "{log}");
    assert_eq!(p.compose_text(), before);
    p.down();
}

#[test]
fn resume_refuses_while_a_container_outside_the_plan_uses_the_volume() {
    let Some(p) = project("tierctlitdt9x", CLEAN, "10s") else {
        return;
    };
    // killed with the service stopped; then an outside container starts on the volume
    kill(p.paused_at(&["--yes"], "delta:0", 120_000));
    let outsider = format!("{}-outsider", p.name);
    let mount = format!("{}:/data", p.volume());
    p.docker(&[
        "run",
        "-d",
        "--name",
        &outsider,
        "-v",
        &mount,
        &helper_image(),
        "sh",
        "-c",
        "while true; do date > /data/outside; sleep 0.2; done",
    ]);
    let before = p.compose_text();
    let refused = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let text = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("the resume was refused before anything changed"),
        "{text}"
    );
    assert!(
        text.contains(&format!("container `{outsider}` outside the plan")),
        "{text}"
    );
    assert!(text.contains("tierctl migrate --resume"), "{text}");
    assert_eq!(p.compose_text(), before);
    // nothing was copied meanwhile: the journal still waits at the delta
    assert!(!text.contains("delta:0"), "{text}");
    p.docker(&["rm", "-f", &outsider]);
    let resumed = p
        .tierctl()
        .args(["--format", "json", "migrate", "--resume"])
        .output()
        .expect("run");
    let json = String::from_utf8_lossy(&resumed.stdout).into_owned();
    assert_eq!(resumed.status.code(), Some(0), "{}", stdout(&resumed));
    // the downtime of a resumed run counts from the journaled stop
    let report: serde_json::Value = serde_json::from_str(&json).expect("json report");
    let down = report["downtime_seconds"]
        .as_f64()
        .expect("downtime_seconds");
    assert!(down > 0.0, "{json}");
    p.assert_copy_equals_source();
    p.down();
}

#[test]
fn stop_first_still_stops_then_copies_and_verifies() {
    let Some(p) = project("tierctlitdt5x", CLEAN, "10s") else {
        return;
    };
    let out = p
        .tierctl()
        .args(["--format", "json", "migrate", "--yes", "--stop-first"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert!(
        report["downtime_seconds"].as_f64().expect("downtime") > 0.0,
        "{text}"
    );
    assert!(text.contains("[1/7] stop db (stop-first mode"), "{text}");
    assert!(text.contains("copy:0"), "{text}");
    assert!(!text.contains("pre-copy"), "{text}");
    assert!(text.contains("services were down "), "{text}");
    p.assert_copy_equals_source();
    p.down();
}

#[test]
fn d11_a_source_changed_under_the_copy_names_its_writer_and_resume_copies_it_again() {
    let Some(p) = project("tierctlitdt6x", CLEAN, "10s") else {
        return;
    };
    // once the service is stopped, another container keeps writing into the source
    let child = p.paused_at(&["--yes"], "verify:0", 3000);
    let writer = format!("{}-writer", p.name);
    let mount = format!("{}:/data", p.volume());
    p.docker(&[
        "run",
        "-d",
        "--name",
        &writer,
        "-v",
        &mount,
        &helper_image(),
        "sh",
        "-c",
        "while true; do date > /data/tick; echo x >> /data/keep/f4; sleep 0.2; done",
    ]);
    let out = child.wait_with_output().expect("run");
    let log = std::fs::read_to_string(p.ws.path("stderr.log")).expect("log");
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("step `verify:0` failed"), "{log}");
    assert!(log.contains(&format!("`{writer}`")), "{log}");
    // still writing: the resume is refused before anything changes, naming the writer
    let again = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    assert_eq!(again.status.code(), Some(2), "{}", stdout(&again));
    assert!(
        stdout(&again).contains(&format!("`{writer}`")),
        "{}",
        stdout(&again)
    );
    // the writer stopped: the resume copies what changed and finishes
    p.docker(&["rm", "-f", &writer]);
    let resumed = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let text = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(text.contains("first copied again what changed"), "{text}");
    p.assert_copy_equals_source();
    p.down();
}

/// Three services on one volume: `app` and `worker` need `db` and each takes about 2 s to stop.
const DEPENDENT: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - dbdata:/data
  app:
    image: {image}
    command: ["sh", "-c", "trap 'sleep 2; exit 0' TERM; while true; do sleep 1; done"]
    depends_on: [db]
    volumes:
      - dbdata:/data
  worker:
    image: {image}
    command: ["sh", "-c", "trap 'sleep 2; exit 0' TERM; while true; do sleep 1; done"]
    depends_on:
      db:
        condition: service_started
    volumes:
      - dbdata:/data
volumes:
  dbdata:
"#;

#[test]
fn services_stop_dependents_first_and_each_layer_at_once() {
    let name = format!("tierctlitdt7x{}", std::process::id());
    let Some(p) = Stack::up(Family::V2, name, DEPENDENT, "echo x > /data/f") else {
        return;
    };
    // every `die` of the project's containers while tierctl runs, with its time
    let label = format!("label=com.docker.compose.project={}", p.name);
    let mut events = Command::new("docker")
        .args([
            "events",
            "--filter",
            &label,
            "--filter",
            "event=die",
            "--format",
        ])
        .arg("{{index .Actor.Attributes \"com.docker.compose.service\"}} {{.TimeNano}}")
        .stdout(Stdio::piped())
        .spawn()
        .expect("docker events");
    std::thread::sleep(Duration::from_millis(500));
    let out = p
        .tierctl()
        .args(["migrate", "--yes", "--stop-first"])
        .output()
        .expect("run");
    std::thread::sleep(Duration::from_millis(500));
    events.kill().expect("stop docker events");
    let seen = events.wait_with_output().expect("events");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let died: Vec<(String, u128)> = String::from_utf8_lossy(&seen.stdout)
        .lines()
        .filter_map(|l| {
            let (service, ns) = l.split_once(' ')?;
            Some((service.to_owned(), ns.parse().ok()?))
        })
        .collect();
    let at = |service: &str| {
        died.iter()
            .find(|(s, _)| s == service)
            .map(|(_, ns)| *ns)
            .unwrap_or_else(|| panic!("no `die` of {service}: {died:?}\n{text}"))
    };
    let (db, app, worker) = (at("db"), at("app"), at("worker"));
    assert!(
        db >= app && db >= worker,
        "db stopped before what needs it: {died:?}"
    );
    // one after the other they would end at least 2 s apart
    let apart = app.abs_diff(worker);
    assert!(
        apart < 1_500_000_000,
        "app and worker stopped {apart} ns apart: {died:?}"
    );
    p.assert_copy_equals_source();
    p.down();
}
