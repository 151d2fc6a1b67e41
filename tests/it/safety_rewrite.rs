//! Issue 11, the `rewrite --write` rows: D4 (a concurrent editor loses nothing), D5 (the
//! project lock), D7 (rewrite alone never strands data, on the real engine), D8 (symlinked
//! compose and .env files keep their links).

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine::{engine, helper_image};
use crate::workspace::Workspace;

const TIERS: &str = "tiers:\n  fast: { root: '{root}/fast' }\nplacement:\n  - tier: fast\n    path: '{project}/{volume}'\n";

/// A service whose bind source `./data` is a symlink into the fast tier: `rewrite` binds the
/// real path.
const LINKED: &str =
    "name: app\nservices:\n  web:\n    image: nginx\n    volumes:\n      - ./data:/data\n";

fn linked() -> Workspace {
    Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("app/compose.yaml", LINKED)
        .dir("fast/data")
        .symlink("app/data", "{root}/fast/data")
}

fn rewrite(ws: &Workspace, dir: &str, extra: &[&str]) -> Output {
    ws.tierctl(dir)
        .args(["rewrite", "--write", "--tiers"])
        .arg(ws.path("tiers.yaml"))
        .args(extra)
        .output()
        .expect("runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn backups(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".bak"))
        .collect();
    found.sort();
    found
}

/// xorshift: a fixed, repeatable sequence.
fn rng_step(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

#[test]
fn d4_rewrite_write_never_loses_an_edit_made_while_it_writes() {
    let ws = linked();
    let compose = ws.path("app/compose.yaml");
    let rewritten = format!("{}/fast/data:/data", ws.root().display());
    // the "user": appends numbered lines, and puts the old source back after each rewrite;
    // both under one mutex (one person), never coordinated with tierctl
    let user = Arc::new(Mutex::new(0u32));
    let stop = Arc::new(AtomicBool::new(false));
    let editor = {
        let (user, stop, compose) = (user.clone(), stop.clone(), compose.clone());
        std::thread::spawn(move || {
            let mut seed = 0x9e37_79b9_u32;
            while !stop.load(Ordering::Relaxed) {
                {
                    let mut n = user.lock().expect("user");
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&compose)
                        .expect("open for append");
                    f.write_all(format!("# edit {n}\n").as_bytes())
                        .expect("append");
                    *n += 1;
                }
                // bursts of edits with quiet gaps, so some runs write and some meet an edit
                let gap = if rng_step(&mut seed).is_multiple_of(4) {
                    90
                } else {
                    2
                };
                std::thread::sleep(Duration::from_millis(gap));
            }
        })
    };
    let (mut wrote, mut refused, mut while_writing) = (0, 0, 0);
    for _ in 0..100 {
        let out = rewrite(&ws, "app", &[]);
        let all = text(&out);
        if out.status.success() {
            assert!(all.contains("wrote compose.yaml"), "{all}");
            wrote += 1;
            let _n = user.lock().expect("user");
            let now = std::fs::read_to_string(&compose).expect("read");
            std::fs::write(&compose, now.replace(&rewritten, "./data:/data")).expect("reset");
        } else {
            assert!(
                all.contains("changed since it was read")
                    || all.contains("changed on disk while tierctl was writing"),
                "{all}"
            );
            assert!(all.contains("hint: "), "{all}");
            refused += 1;
            while_writing += usize::from(all.contains("while tierctl was writing"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    editor.join().expect("editor");
    let appended = *user.lock().expect("user");
    let last = std::fs::read_to_string(&compose).expect("read");
    for n in 0..appended {
        assert!(
            last.contains(&format!("# edit {n}\n")),
            "edit {n} of {appended} lost ({wrote} written, {refused} refused):\n{last}"
        );
    }
    assert!(!last.contains("conflict"));
    // every backup is a state the file had: the old text plus a run of the appended lines
    for backup in backups(&ws.path("app")) {
        let b = std::fs::read_to_string(&backup).expect("backup");
        assert!(b.starts_with(LINKED), "{}: {b}", backup.display());
        let normalized = last.replace(&rewritten, "./data:/data");
        assert!(normalized.starts_with(&b), "{}: {b}", backup.display());
    }
    eprintln!(
        "D4: {wrote} written, {refused} refused ({while_writing} while writing), {appended} edits, none lost"
    );
    assert!(wrote > 0, "no run wrote ({refused} refused)");
}

#[test]
fn d8_symlinked_compose_and_env_files_keep_their_links_and_the_real_files_are_written() {
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .file(
            "real/compose.yaml",
            "name: app\nservices:\n  web:\n    image: nginx\n    volumes:\n      - ./logs:/logs\n      - ${DATA}:/data\n",
        )
        .file("real/env", "DATA=./data\n")
        .symlink("app/compose.yaml", "../real/compose.yaml")
        .symlink("app/.env", "../real/env")
        .dir("fast/data")
        .dir("fast/logs")
        .symlink("app/data", "{root}/fast/data")
        .symlink("app/logs", "{root}/fast/logs");
    let out = rewrite(&ws, "app", &[]);
    assert!(out.status.success(), "{}", text(&out));
    for link in ["app/compose.yaml", "app/.env"] {
        let meta = std::fs::symlink_metadata(ws.path(link)).expect("link");
        assert!(meta.file_type().is_symlink(), "{link} is no longer a link");
    }
    let root = ws.root().display().to_string();
    let compose = std::fs::read_to_string(ws.path("real/compose.yaml")).expect("read");
    assert!(
        compose.contains(&format!("- {root}/fast/logs:/logs")),
        "{compose}"
    );
    let env = std::fs::read_to_string(ws.path("real/env")).expect("read");
    assert_eq!(env, format!("DATA={root}/fast/data\n"));
    let real = backups(&ws.path("real"));
    assert_eq!(real.len(), 2, "{real:?}");
    assert!(backups(&ws.path("app")).is_empty());
    let names: Vec<String> = real
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert!(names[0].starts_with("compose.yaml.tierctl-"), "{names:?}");
    assert!(names[1].starts_with("env.tierctl-"), "{names:?}");
    assert_eq!(
        std::fs::read_to_string(&real[1]).expect("backup"),
        "DATA=./data\n"
    );
}

#[test]
fn d5_lock_a_second_rewrite_is_refused_naming_the_holder_even_from_another_directory() {
    let ws = linked().dir("app/sub");
    let before = std::fs::read_to_string(ws.path("app/compose.yaml")).expect("read");
    let held = tierctl::lock::acquire("app", &ws.path("app/.tierctl")).expect("lock");
    for dir in ["app", "app/sub"] {
        let out = rewrite(&ws, dir, &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(
            all.contains(&format!(
                "error: project `app` is locked by pid {} (`",
                std::process::id()
            )),
            "{all}"
        );
        assert!(
            all.contains(&format!(
                "hint: wait until it has finished (or stop it: `kill {}`)",
                std::process::id()
            )),
            "{all}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("read"),
        before
    );
    assert!(backups(&ws.path("app")).is_empty());
    // a dry run takes no lock
    let plan = ws
        .tierctl("app")
        .args(["rewrite", "--tiers"])
        .arg(ws.path("tiers.yaml"))
        .output()
        .expect("runs");
    assert!(plan.status.success(), "{}", text(&plan));
    drop(held);
    let out = rewrite(&ws, "app/sub", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("took over"), "{}", text(&out));
}

#[test]
fn d5_lock_migrate_and_tiers_link_are_refused_while_another_run_holds_the_lock() {
    let ws = linked();
    let held = tierctl::lock::acquire("app", &ws.path("app/.tierctl")).expect("lock");
    let migrate = ws
        .tierctl("app")
        .args(["migrate", "--yes", "--tiers"])
        .arg(ws.path("tiers.yaml"))
        .output()
        .expect("runs");
    let all = text(&migrate);
    assert_eq!(migrate.status.code(), Some(2), "{all}");
    assert!(
        all.contains("error: project `app` is locked by pid "),
        "{all}"
    );
    assert!(
        tierctl::migrate::journal::latest(&ws.path("app/.tierctl")).is_none(),
        "no journal: {all}"
    );
    let link = ws
        .tierctl("app")
        .args(["tiers", "link", "--tiers"])
        .arg(ws.path("tiers.yaml"))
        .output()
        .expect("runs");
    assert!(text(&link).contains("is locked by pid "), "{}", text(&link));
    drop(held);
    // outside a compose project `tiers link` locks beside tiers.yaml
    let beside = tierctl::lock::acquire("tiers", &ws.path(".tierctl")).expect("lock");
    let link = ws
        .tierctl("")
        .args(["tiers", "link", "--tiers"])
        .arg(ws.path("tiers.yaml"))
        .output()
        .expect("runs");
    assert_eq!(link.status.code(), Some(2), "{}", text(&link));
    assert!(text(&link).contains("is locked by pid "), "{}", text(&link));
    drop(beside);
}

#[test]
fn d5_lock_a_lock_left_by_a_dead_process_is_taken_over() {
    let ws = linked();
    let mut child = Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("reaped");
    std::fs::create_dir_all(ws.path("app/.tierctl")).expect("mkdir");
    std::fs::write(
        ws.path("app/.tierctl/lock"),
        format!("{{\"pid\":{dead},\"command\":\"tierctl migrate --yes\",\"since\":0}}\n"),
    )
    .expect("stale lock");
    let out = rewrite(&ws, "app", &[]);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(&format!(
            "note: took over the lock of pid {dead} (`tierctl migrate --yes`, since 1970-01-01 00:00:00 UTC), which is no longer running"
        )),
        "{all}"
    );
    assert!(all.contains("wrote compose.yaml"), "{all}");
    // released cleanly: the lock file is empty again
    assert_eq!(
        std::fs::read_to_string(ws.path("app/.tierctl/lock")).expect("lock"),
        ""
    );
}

#[test]
fn d5_lock_two_rewrites_at_once_never_both_write() {
    for round in 0..5 {
        let ws = linked();
        let spawn = || {
            let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("tierctl"));
            cmd.args(["rewrite", "--write", "--tiers"])
                .arg(ws.path("tiers.yaml"))
                .current_dir(ws.path("app"))
                .env("NO_COLOR", "1")
                .env("HOME", ws.path("home"))
                .env_remove("COMPOSE_FILE")
                .env_remove("COMPOSE_PROJECT_NAME")
                .env_remove("TIERCTL_TIERS")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let (a, b) = (spawn(), spawn());
        let outs = [
            a.wait_with_output().expect("a"),
            b.wait_with_output().expect("b"),
        ];
        let wrote = outs
            .iter()
            .filter(|o| o.status.success() && text(o).contains("wrote compose.yaml"))
            .count();
        // the loser is refused by the lock when the winner still holds it (named by pid, or
        // as "another tierctl run" when the winner has not yet written its pid into the lock
        // file), else (the winner already finished) by the compare-and-swap write: the file
        // changed since it was read
        for o in &outs {
            let all = text(o);
            assert!(
                o.status.success()
                    || all.contains("error: project `app` is locked by pid ")
                    || all.contains("error: project `app` is locked by another tierctl run")
                    || all.contains("changed since it was read; nothing written to it"),
                "round {round}: {all}"
            );
        }
        assert_eq!(wrote, 1, "round {round}");
        assert_eq!(backups(&ws.path("app")).len(), 1, "round {round}");
    }
}

/// Removes a named volume when dropped.
struct Volume(String);

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
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

#[test]
fn d7_rewrite_refuses_to_strand_a_named_volume_that_holds_data() {
    if engine().is_none() {
        return;
    }
    let name = format!("tierctlitsafed7{}", std::process::id());
    let compose = format!(
        "name: {name}\nservices:\n  db:\n    image: postgres:16\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n      - cache:/cache\nvolumes:\n  pgdata:\n  cache:\n"
    );
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("app/compose.yaml", &compose);
    let data = Volume(format!("{name}_pgdata"));
    let empty = Volume(format!("{name}_cache"));
    docker(&["volume", "create", &data.0]);
    docker(&["volume", "create", &empty.0]);
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &format!("{}:/v", data.0),
        &helper_image(),
        "sh",
        "-c",
        "echo row > /v/PG_VERSION",
    ]);
    let out = rewrite(&ws, "app", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains(&format!(
            "error: named volume `{}` of service `db` (at `/var/lib/postgresql/data`) holds data that is not at `{}/fast/{name}/pgdata`: its data must move first: run `tierctl migrate`",
            data.0,
            ws.root().display()
        )),
        "{all}"
    );
    assert!(all.contains("hint: `tierctl migrate`"), "{all}");
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("read"),
        compose
    );
    assert!(backups(&ws.path("app")).is_empty());
    // without an engine there is no telling: refused too, unless --force
    let offline = rewrite(&ws, "app", &["--offline"]);
    let all = text(&offline);
    assert_eq!(offline.status.code(), Some(2), "{all}");
    assert!(all.contains("cannot check whether named volume"), "{all}");
    assert!(all.contains("`--offline` makes no call"), "{all}");
    // --force re-points anyway and says what it let through
    let forced = rewrite(&ws, "app", &["--force"]);
    let all = text(&forced);
    assert!(forced.status.success(), "{all}");
    assert!(all.contains("wrote compose.yaml"), "{all}");
    assert!(
        all.contains(&format!("note: --force: named volume `{}`", data.0)),
        "{all}"
    );
    assert!(
        !all.contains(&format!("`{}`", empty.0)),
        "the empty volume is fine: {all}"
    );
    assert_eq!(backups(&ws.path("app")).len(), 1);
}

#[test]
fn d7_audit_reports_stranded_data_after_a_forced_rewrite() {
    if engine().is_none() {
        return;
    }
    let name = format!("tierctlitsafed7a{}", std::process::id());
    let compose = format!(
        "name: {name}\nservices:\n  db:\n    image: postgres:16\n    volumes:\n      - pgdata:/var/lib/postgresql/data\nvolumes:\n  pgdata:\n"
    );
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("app/compose.yaml", &compose);
    // a volume as compose makes it: labelled with its project and key
    let data = Volume(format!("{name}_pgdata"));
    docker(&[
        "volume",
        "create",
        "--label",
        &format!("com.docker.compose.project={name}"),
        "--label",
        "com.docker.compose.volume=pgdata",
        &data.0,
    ]);
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &format!("{}:/v", data.0),
        &helper_image(),
        "sh",
        "-c",
        "echo row > /v/PG_VERSION",
    ]);
    let audit = |ws: &Workspace| {
        ws.tierctl("app")
            .args(["audit", "--tiers"])
            .arg(ws.path("tiers.yaml"))
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .output()
            .expect("runs")
    };
    // before the rewrite: a named volume, nothing stranded
    let before = text(&audit(&ws));
    assert!(!before.contains("stranded-data"), "{before}");
    let forced = rewrite(&ws, "app", &["--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    // what `up` does next: the bind directory made, empty
    std::fs::create_dir_all(ws.path(&format!("fast/{name}/pgdata"))).expect("mkdir");
    let out = audit(&ws);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("stranded-data"), "{all}");
    assert!(
        all.contains(&format!(
            "db: {}/fast/{name}/pgdata is empty but volume `{}` (`pgdata`), whose placement it is, still holds the data: the data was never moved",
            ws.root().display(),
            data.0
        )),
        "{all}"
    );
    assert!(all.contains("tierctl migrate"), "{all}");
    // once the data is there, nothing is stranded
    std::fs::write(ws.path(&format!("fast/{name}/pgdata/PG_VERSION")), "row\n").expect("write");
    let after = text(&audit(&ws));
    assert!(!after.contains("stranded-data"), "{after}");
}

#[test]
fn d7_rewrite_writes_when_the_named_volumes_are_empty_or_missing() {
    if engine().is_none() {
        return;
    }
    let name = format!("tierctlitsafed7e{}", std::process::id());
    let compose = format!(
        "name: {name}\nservices:\n  db:\n    image: postgres:16\n    volumes:\n      - pgdata:/var/lib/postgresql/data\n      - cache:/cache\nvolumes:\n  pgdata:\n  cache:\n"
    );
    let ws = Workspace::new()
        .file("tiers.yaml", TIERS)
        .file("app/compose.yaml", &compose);
    let empty = Volume(format!("{name}_pgdata"));
    docker(&["volume", "create", &empty.0]);
    let out = rewrite(&ws, "app", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("note:"), "{}", text(&out));
    // looking never creates the missing volume
    let missing = Command::new("docker")
        .args(["volume", "inspect", &format!("{name}_cache")])
        .output()
        .expect("docker");
    assert!(!missing.status.success());
}

#[test]
fn d7_the_helper_container_tells_a_volume_with_data_from_an_empty_one() {
    use tierctl::engine::Helpers;
    let Some(engine) = engine() else { return };
    let name = format!("tierctlitsafelook{}", std::process::id());
    let (data, empty) = (
        Volume(format!("{name}_data")),
        Volume(format!("{name}_empty")),
    );
    docker(&["volume", "create", &data.0]);
    docker(&["volume", "create", &empty.0]);
    docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &format!("{}:/v", data.0),
        &helper_image(),
        "sh",
        "-c",
        "mkdir /v/.hidden && chown 999 /v/.hidden && chmod 700 /v/.hidden",
    ]);
    // what a VM engine does (the host cannot read the mountpoint there)
    let look = |v: &str| {
        engine
            .run_to_end(&tierctl::stranded::look_spec(v, &helper_image()))
            .expect("helper runs")
    };
    assert_eq!(look(&data.0).trim(), ".hidden");
    assert_eq!(look(&empty.0).trim(), "");
    // and the function as a native engine runs it
    let holds =
        |v: &str| tierctl::stranded::volume_holds_data(&engine, v, &helper_image()).expect("looks");
    assert_eq!(holds(&data.0), Some(true));
    assert_eq!(holds(&empty.0), Some(false));
    assert_eq!(holds(&format!("{name}_missing")), None);
}
