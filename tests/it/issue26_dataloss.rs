//! Issue 26, the data-loss rows on a real engine: a prune after a write into the moved volume
//! (row 1), a stopped container of another project or of this project's profile service on the
//! volume (row 2), an outside writer after the rewrite of a killed run (row 3), a prune after a
//! rollback (row 4), a service whose stop would kill it (row 10). Each asserts that nothing the user wrote is lost and that the message names
//! what differs and the next command.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use tierctl::engine::MountSource;
use tierctl::migrate::copy::{self, CopyJob};
use tierctl::migrate::tree;
use tierctl::migrate::tree::manifest::{Digest, Manifest};

use super::compose_runner::Family;
use super::engine::{engine, helper_image};
use super::migrate_engine::stdout;
use super::stack::Stack;

/// `db` on the volume.
const COMPOSE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 2s
    volumes:
      - dbdata:/data
volumes:
  dbdata:
"#;

/// [`COMPOSE`] and `side`, a profile service on the same volume that only runs when asked
/// (`--profile debug`).
const WITH_PROFILE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 2s
    volumes:
      - dbdata:/data
  side:
    image: {image}
    profiles: [debug]
    command: ["true"]
    volumes:
      - dbdata:/data
volumes:
  dbdata:
"#;

/// `db` a PID-1 `sleep` (no handler: `docker stop` kills it), `web` a shell that traps
/// SIGTERM, `tini` a `sleep` under docker-init (`init: true`).
const KILLED: &str = r#"services:
  db:
    image: {image}
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    volumes:
      - dbdata:/data
  web:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 2s
    volumes:
      - webdata:/data
  tini:
    image: {image}
    init: true
    command: ["sleep", "1000"]
    stop_grace_period: 2s
    volumes:
      - tinidata:/data
volumes:
  dbdata:
  webdata:
  tinidata:
"#;

const SEED: &str = "set -e; cd /data; mkdir -p pg/base; echo one > pg/base/1; \
head -c 100000 /dev/urandom > pg/blob; chown -R 999:999 pg; echo a > a";

fn stack(row: &str) -> Option<Stack> {
    stack_of(row, COMPOSE)
}

fn stack_of(row: &str, compose: &str) -> Option<Stack> {
    Stack::up(
        Family::V2,
        format!("tierctli26{row}{}", std::process::id()),
        compose,
        SEED,
    )
}

impl Stack {
    fn run(&self, args: &[&str]) -> Output {
        self.tierctl().args(args).output().expect("tierctl runs")
    }

    /// The source volume's tree, read through the engine's archive stream.
    fn source_tree(&self) -> Manifest {
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

    fn has_volume(&self) -> bool {
        Command::new("docker")
            .args(["volume", "inspect", &self.volume()])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn journal_count(&self) -> usize {
        std::fs::read_dir(self.ws.path("app/.tierctl"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("journal-"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// `tierctl ARGS` in the background, paused at `pause` (the migrate test hook).
    fn paused(&self, args: &[&str], pause: &str, ms: u32) -> (Child, PathBuf) {
        let log = self.ws.path("paused.log");
        let child = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
            .args(args)
            .current_dir(self.ws.path("app"))
            .env("COMPOSE_PROJECT_NAME", &self.name)
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .env("TIERCTL_TEST_MIGRATE_PAUSE", pause)
            .env("TIERCTL_TEST_MIGRATE_PAUSE_MS", ms.to_string())
            .env("HOME", self.ws.path("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn tierctl");
        (child, log)
    }
}

/// Removes the named containers, whatever the test did.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("docker").args(["rm", "-f", name]).output();
        }
    }
}

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn has(tree: &Manifest, path: &str) -> bool {
    tree.entries.contains_key(path)
}

fn wait_for(log: &std::path::Path, what: &str, child: &mut Child) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(180) {
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

#[test]
fn issue26_row1_prune_refuses_writes_after_the_move() {
    let Some(s) = stack("r1") else { return };
    let moved = s.run(&["migrate", "--yes"]);
    assert_eq!(moved.status.code(), Some(0), "{}", stdout(&moved));
    // someone writes into the old volume after the move
    s.on_volume("echo late > /data/LATE; chmod 600 /data/a");
    let before = s.source_tree();

    let pruned = s.run(&["migrate", "--prune-source", "--yes"]);
    let t = stdout(&pruned);
    assert_eq!(pruned.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "volume `{}` stays: it changed since its copy verified, in 2 path(s)",
            s.volume()
        )),
        "{t}"
    );
    assert!(t.contains("`a` mode changed, `LATE` added"), "{t}");
    assert!(t.contains("hint: nothing was removed"), "{t}");
    assert!(
        t.contains(&format!("docker volume rm {}", s.volume())),
        "{t}"
    );
    assert!(s.has_volume());
    assert_eq!(
        s.source_tree(),
        before,
        "the volume after the refused prune"
    );
    assert!(!s.target().join("LATE").exists());

    // once the volume is what its copy verified again, the prune removes it
    s.on_volume("rm /data/LATE; chmod 644 /data/a");
    let again = s.run(&["migrate", "--prune-source", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(!s.has_volume());
}

#[test]
fn issue26_row2_a_stopped_container_of_another_project_or_profile_service_refuses_the_move() {
    let Some(s) = stack_of("r2", WITH_PROFILE) else {
        return;
    };
    // this project's profile service, run once and stopped
    assert!(
        s.compose(&["--profile", "debug", "up", "-d", "side"]),
        "up side"
    );
    let side = format!("{}-side-1", s.name);
    let mut cleanup = Containers(vec![side.clone()]);
    docker(&["wait", &side]);
    let refused = s.run(&["migrate", "--yes"]);
    let t = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "is used by container `{side}` (service `side` of project `{}`) outside the plan (stopped)",
            s.name
        )),
        "{t}"
    );
    assert!(t.contains("hint: nothing was changed; remove"), "{t}");
    assert!(t.contains("`--force`"), "{t}");
    assert_eq!(s.compose_text(), s.old);
    assert_eq!(s.journal_count(), 0);
    docker(&["rm", &side]);

    // project B uses the volume as an external one; its container is stopped, not removed
    let b = format!("{}b-web-1", s.name);
    cleanup.0.push(b.clone());
    docker(&[
        "create",
        "--name",
        &b,
        "--label",
        &format!("com.docker.compose.project={}b", s.name),
        "--label",
        "com.docker.compose.service=web",
        "-v",
        &format!("{}:/data", s.volume()),
        &helper_image(),
        "sh",
        "-c",
        "echo from-b >> /data/b-log",
    ]);
    let refused = s.run(&["migrate", "--yes"]);
    let t = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "container `{b}` (service `web` of project `{}b`) outside the plan (stopped)",
            s.name
        )),
        "{t}"
    );
    assert_eq!(s.compose_text(), s.old);
    assert_eq!(s.journal_count(), 0);

    // `--force` moves it anyway, saying so; the prune then still refuses while B uses it
    let forced = s.run(&["migrate", "--yes", "--force"]);
    let t = stdout(&forced);
    assert_eq!(forced.status.code(), Some(0), "{t}");
    assert!(
        t.contains(&format!("warning: volume `{}`", s.volume())),
        "{t}"
    );
    assert!(t.contains(&b), "{t}");
    let pruned = s.run(&["migrate", "--prune-source", "--yes"]);
    let t = stdout(&pruned);
    assert_eq!(pruned.status.code(), Some(2), "{t}");
    assert!(t.contains(&format!("container `{b}` (stopped)")), "{t}");
    assert!(s.has_volume());
    drop(cleanup);
}

#[test]
fn issue26_row3_a_resume_past_the_rewrite_refuses_writes_into_the_old_volume() {
    let Some(s) = stack("r3") else { return };
    let (mut child, log) = s.paused(&["migrate", "--stop-first", "--yes"], "start", 60_000);
    wait_for(&log, "paused at `start`", &mut child);
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let rewritten = s.compose_text();
    assert_ne!(rewritten, s.old, "the rewrite ran before the kill");

    // an outside container writes into the old volume and stays (stopped)
    let writer = format!("{}-writer", s.name);
    let _cleanup = Containers(vec![writer.clone()]);
    docker(&[
        "run",
        "--name",
        &writer,
        "-v",
        &format!("{}:/data", s.volume()),
        &helper_image(),
        "sh",
        "-c",
        "echo late > /data/LATE",
    ]);
    let resumed = s.run(&["migrate", "--resume"]);
    let t = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(2), "{t}");
    assert!(
        t.contains("the resume was refused before anything changed"),
        "{t}"
    );
    assert!(t.contains(&format!("container `{writer}`")), "{t}");
    assert!(
        t.contains(&format!(
            "volume `{}` changed since its copy verified, in 1 path(s): `LATE` added",
            s.volume()
        )),
        "{t}"
    );
    assert!(
        t.contains("tierctl migrate --rollback --discard-copy --yes"),
        "{t}"
    );
    assert!(!t.contains("done."), "{t}");
    assert_eq!(s.compose_text(), rewritten);

    // the container is gone, its write stays: still refused
    docker(&["rm", &writer]);
    let resumed = s.run(&["migrate", "--resume"]);
    let t = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(2), "{t}");
    assert!(t.contains("`LATE` added"), "{t}");
    assert!(
        t.contains("nothing was started on the tier directories yet"),
        "{t}"
    );

    // the hint works: the rollback keeps the write, a new move takes it along
    let back = s.run(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", stdout(&back));
    assert_eq!(s.compose_text(), s.old);
    assert!(
        has(&s.source_tree(), "LATE"),
        "the write stays in the volume"
    );
    let again = s.run(&["migrate", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(s.target().join("LATE").exists(), "the write moved along");
}

#[test]
fn issue26_row4_prune_after_a_rollback_refuses_and_starts_no_migration() {
    let Some(s) = stack("r4") else { return };
    let moved = s.run(&["migrate", "--yes"]);
    assert_eq!(moved.status.code(), Some(0), "{}", stdout(&moved));
    let back = s.run(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", stdout(&back));
    let journals = s.journal_count();
    let before = s.source_tree();

    let pruned = s.run(&["migrate", "--prune-source", "--yes"]);
    let t = stdout(&pruned);
    assert_eq!(pruned.status.code(), Some(2), "{t}");
    assert!(
        t.contains("nothing to prune:") && t.contains("was rolled back"),
        "{t}"
    );
    assert!(t.contains("never starts a migration"), "{t}");
    assert!(t.contains("--remove-source"), "{t}");
    assert!(!t.contains("[1/"), "no step ran: {t}");
    assert_eq!(s.journal_count(), journals, "no new journal");
    assert_eq!(s.compose_text(), s.old);
    assert_eq!(s.db_mount(), s.volume());
    assert!(!s.target().exists());
    assert_eq!(s.source_tree(), before);
}

#[test]
fn issue26_row9_services_stopped_during_the_pre_copy_are_started_again() {
    let Some(s) = stack("r9") else { return };
    let (mut child, log) = s.paused(&["migrate", "--yes"], "pre-copy:0", 8_000);
    wait_for(&log, "paused at `pre-copy:0`", &mut child);
    // what an engine restart does to a service without a restart policy
    docker(&["stop", &s.db()]);
    let status = child.wait().expect("the run ends");
    let t = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{t}");
    assert!(t.contains("started: db"), "{t}");
    let running = Command::new("docker")
        .args(["inspect", "--format", "{{.State.Running}}", &s.db()])
        .output()
        .expect("docker inspect");
    assert_eq!(
        String::from_utf8_lossy(&running.stdout).trim(),
        "true",
        "{t}"
    );
    assert_eq!(s.db_mount(), s.target().display().to_string());
}

#[test]
fn issue26_row11_a_dry_run_runs_the_read_only_preflight_and_fails_where_the_run_would() {
    let Some(s) = stack("r11") else { return };
    let clean = s.run(&["migrate", "--dry-run"]);
    let t = stdout(&clean);
    assert_eq!(clean.status.code(), Some(0), "{t}");
    assert!(
        t.contains("dry run: preflight's read-only checks pass"),
        "{t}"
    );

    let outsider = format!("{}-outsider", s.name);
    let _cleanup = Containers(vec![outsider.clone()]);
    docker(&[
        "run",
        "-d",
        "--name",
        &outsider,
        "-v",
        &format!("{}:/data", s.volume()),
        &helper_image(),
        "sleep",
        "600",
    ]);
    let refused = s.run(&["migrate", "--dry-run"]);
    let t = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{t}");
    assert!(
        t.contains("preflight refused the migration before anything was stopped"),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "container `{outsider}` outside the plan (running)"
        )),
        "{t}"
    );
    // the plan was shown first, and nothing changed
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("stop"),
        "{t}"
    );
    assert_eq!(s.compose_text(), s.old);
    assert_eq!(s.journal_count(), 0);
    assert!(!s.target().exists());
}

/// [`COMPOSE`] and `side`, which mounts `db`'s volumes through `volumes_from`.
const WITH_VOLUMES_FROM: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 2s
    volumes:
      - dbdata:/data
  side:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 2s
    volumes_from:
      - db
volumes:
  dbdata:
"#;

#[test]
fn issue26_row8_volumes_from_of_the_projects_own_service_moves_with_it() {
    let Some(s) = stack_of("r8", WITH_VOLUMES_FROM) else {
        return;
    };
    let side = format!("{}-side-1", s.name);
    let moved = s.run(&["migrate", "--yes"]);
    let t = stdout(&moved);
    assert_eq!(moved.status.code(), Some(0), "{t}");
    assert!(!t.contains("outside the plan"), "{t}");
    assert!(t.contains("stopped: ") && t.contains("side"), "{t}");
    let mounted = Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{.State.Running}} {{range .Mounts}}{{.Source}}{{end}}",
            &side,
        ])
        .output()
        .expect("docker inspect");
    assert_eq!(
        String::from_utf8_lossy(&mounted.stdout).trim(),
        format!("true {}", s.target().display()),
        "{t}"
    );
}

#[test]
fn issue26_row1_remove_source_in_the_run_refuses_writes_after_the_verify() {
    let Some(s) = stack("r1run") else { return };
    let (mut child, log) = s.paused(
        &["migrate", "--remove-source", "--yes"],
        "remove-source:0",
        8_000,
    );
    wait_for(&log, "paused at `remove-source:0`", &mut child);
    s.on_volume("echo late > /data/LATE");
    let status = child.wait().expect("the run ends");
    let t = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "volume `{}` stays: it changed since its copy verified, in 1 path(s): `LATE` added",
            s.volume()
        )),
        "{t}"
    );
    assert!(s.has_volume());
    assert!(has(&s.source_tree(), "LATE"));
}

#[test]
fn issue26_row11_a_dry_run_refuses_a_tier_too_small_without_writing_to_it() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: a tier too small needs root to mount a small tmpfs");
        return;
    }
    let Some(s) = stack("r11room") else { return };
    s.on_volume("head -c 3000000 /dev/urandom > /data/big");
    let fast = s.ws.path("fast");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tierctl-small"])
        .arg(&fast)
        .status()
        .is_ok_and(|st| st.success());
    assert!(mounted, "mount a small tmpfs");
    let dry = s.run(&["migrate", "--dry-run"]);
    let left = std::fs::read_dir(&fast).map(Iterator::count).unwrap_or(0);
    let _ = Command::new("umount").arg(&fast).status();
    let t = stdout(&dry);
    assert_eq!(dry.status.code(), Some(2), "{t}");
    assert!(t.contains("bytes free, the copies need 3"), "{t}");
    assert_eq!(left, 0, "the dry run wrote into the tier root");
    assert_eq!(s.compose_text(), s.old);
}

#[test]
fn issue26_row3_a_rollback_never_copies_the_tier_over_writes_made_into_the_source_since() {
    let Some(s) = stack("r3back") else { return };
    let moved = s.run(&["migrate", "--yes"]);
    assert_eq!(moved.status.code(), Some(0), "{}", stdout(&moved));
    // the database writes on the tier; someone else writes into the old volume
    docker(&["exec", &s.db(), "sh", "-c", "echo row > /data/on-the-tier"]);
    s.on_volume("echo late > /data/LATE");

    let back = s.run(&["migrate", "--rollback", "--yes"]);
    let t = stdout(&back);
    assert_eq!(back.status.code(), Some(2), "{t}");
    assert!(
        t.contains("rollback step `copy-back:0` refused")
            && t.contains("in 1 path(s): `LATE` added"),
        "{t}"
    );
    assert!(t.contains("--rollback --force --yes"), "{t}");
    assert!(
        has(&s.source_tree(), "LATE"),
        "the write stays in the volume"
    );

    // the hint works: the write copied into the tier directory, the forced rollback keeps both
    std::fs::write(s.target().join("LATE"), "late\n").expect("copy by hand");
    let forced = s.run(&["migrate", "--rollback", "--force", "--yes"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stdout(&forced));
    assert_eq!(s.compose_text(), s.old);
    let volume = s.source_tree();
    assert!(
        has(&volume, "LATE") && has(&volume, "on-the-tier"),
        "{volume:?}"
    );
}

#[test]
fn issue26_row2_a_compose_run_container_of_a_moved_service_is_outside_the_plan() {
    let Some(s) = stack("r2run") else { return };
    assert!(
        s.compose(&["run", "--no-deps", "db", "true"]),
        "compose run"
    );
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label=com.docker.compose.project={}", s.name))
        .args(["--filter", "label=com.docker.compose.oneoff=True"])
        .output()
        .expect("docker ps");
    let run = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let _cleanup = Containers(vec![run.clone()]);
    assert!(!run.is_empty(), "the one-off container");
    let refused = s.run(&["migrate", "--yes"]);
    let t = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "container `{run}` (`docker compose run` of service `db` of project `{}`) outside the plan (stopped)",
            s.name
        )),
        "{t}"
    );
    assert_eq!(s.compose_text(), s.old);
    assert_eq!(s.journal_count(), 0);
}

/// The container ids of the project's running containers, with their start times.
fn started(project: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=com.docker.compose.project={project}"))
        .output()
        .expect("docker ps");
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|id| {
            let at = Command::new("docker")
                .args(["inspect", "--format", "{{.State.StartedAt}}", id])
                .output()
                .expect("docker inspect");
            format!("{id} {}", String::from_utf8_lossy(&at.stdout).trim())
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn issue26_row10_a_service_its_stop_would_kill_is_refused_before_anything_stops() {
    let Some(s) = stack_of("r10", KILLED) else {
        return;
    };
    let before = started(&s.name);
    assert_eq!(before.len(), 3, "{before:?}");
    let refused = s.run(&["migrate", "--yes"]);
    let t = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{t}");
    assert!(
        t.contains("preflight refused the migration before anything was stopped"),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "service `db` (container `{}-db-1`) would be killed, not stopped: its main process (PID 1) does not handle SIGTERM",
            s.name
        )),
        "{t}"
    );
    // the shell that traps SIGTERM and the sleep under docker-init are not named
    assert!(!t.contains("service `web`"), "{t}");
    assert!(!t.contains("service `tini`"), "{t}");
    assert!(
        t.contains("hint: nothing was changed; give `db` `init: true`"),
        "{t}"
    );
    assert!(t.contains("`--force`"), "{t}");
    // nothing stopped (the same containers run since the same time), nothing written
    assert_eq!(started(&s.name), before);
    assert_eq!(s.compose_text(), s.old);
    assert_eq!(s.journal_count(), 0);

    // a dry run refuses the same way
    let dry = s.run(&["migrate", "--dry-run"]);
    let t = stdout(&dry);
    assert_eq!(dry.status.code(), Some(2), "{t}");
    assert!(t.contains("service `db`"), "{t}");

    // `--force` goes on, saying so, and moves every volume (db is killed at its stop)
    let forced = s.run(&["migrate", "--yes", "--force"]);
    let t = stdout(&forced);
    assert_eq!(forced.status.code(), Some(0), "{t}");
    assert!(
        t.contains("warning: service `db`") && t.contains("(going on: --force)"),
        "{t}"
    );
    assert!(s.compose_text().contains(&s.target().display().to_string()));
    drop(s);
    for volume in ["webdata", "tinidata"] {
        let _ = Command::new("docker")
            .args([
                "volume",
                "rm",
                "-f",
                &format!("tierctli26r10{}_{volume}", std::process::id()),
            ])
            .output();
    }
}

/// Row 10 where tierctl does not see the engine's processes (a VM's or another machine's
/// engine): a helper in the container's pid namespace reads its main process's masks. Run here
/// against the real engine: the PID-1 `sleep` would be killed, the shell that traps SIGTERM
/// would not.
#[test]
fn issue26_row10_a_helper_in_the_containers_pid_namespace_reads_its_signal_masks() {
    use tierctl::migrate::stop_signal::{SIGTERM, killed_on_stop, masks_by_helper};
    let Some(s) = stack_of("r10h", KILLED) else {
        return;
    };
    let Some(engine) = engine() else {
        return;
    };
    let id = |service: &str| {
        let out = Command::new("docker")
            .args(["ps", "-q", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", s.name))
            .arg("--filter")
            .arg(format!("label=com.docker.compose.service={service}"))
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let masks = |service: &str| {
        masks_by_helper(&engine, &helper_image(), &id(service))
            .expect("the helper runs")
            .expect("the helper prints the masks")
    };
    assert!(killed_on_stop(masks("db"), SIGTERM, false));
    assert!(!killed_on_stop(masks("web"), SIGTERM, false));
    drop(s);
    for volume in ["webdata", "tinidata"] {
        let _ = Command::new("docker")
            .args([
                "volume",
                "rm",
                "-f",
                &format!("tierctli26r10h{}_{volume}", std::process::id()),
            ])
            .output();
    }
}
