//! Issue 21 item 3: a write oracle. The service appends numbered records to its volume, syncs
//! each one, and only then acknowledges it in a log outside the data (a bind the migration
//! leaves alone). A pre-copy migrate (and a `--stop-first` one) runs while it writes, the service
//! goes on writing on the tier, a rollback copies what it wrote there back and restarts it on
//! the volume, where it writes again. Afterwards every acknowledged record is in the data the
//! service uses (0 lost) and the data holds nothing but the records written, in order (0
//! phantom: no record twice, none out of sequence, none torn).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::compose_runner::Family;
use super::migrate_engine::stdout;
use super::stack::Stack;

/// The writer: `log` holds one record per line, `rec N <payload>`; after each append it syncs
/// (sync(2): the record is on the disk) and then appends N to `/acks/acked`. On SIGTERM it
/// exits between two records. On a restart it goes on after the records it finds. The
/// acknowledgements go to an external volume: the migration leaves it alone.
const COMPOSE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; n=$$(wc -l < /data/log 2>/dev/null || echo 0); while true; do n=$$((n+1)); echo \"rec $$n 0123456789abcdef0123456789abcdef\" >> /data/log; sync; echo $$n >> /acks/acked; usleep 3000; done"]
    stop_grace_period: 20s
    volumes:
      - dbdata:/data
      - acks:/acks
volumes:
  dbdata:
  acks:
    external: true
    name: {acks}
"#;

const PAYLOAD: &str = "0123456789abcdef0123456789abcdef";

/// The external volume the writer acknowledges in, removed when dropped.
struct Acks(String);

impl Acks {
    fn create(name: String) -> Acks {
        let out = Command::new("docker")
            .args(["volume", "create", &name])
            .output()
            .expect("docker volume create");
        assert!(out.status.success(), "{}", stdout(&out));
        Acks(name)
    }

    fn path(&self) -> PathBuf {
        let out = Command::new("docker")
            .args(["volume", "inspect", "--format", "{{.Mountpoint}}", &self.0])
            .output()
            .expect("docker volume inspect");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("acked")
    }
}

impl Drop for Acks {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.0])
            .output();
    }
}

/// The records the writer acknowledged so far.
fn acked(acks: &Acks) -> BTreeSet<u64> {
    std::fs::read_to_string(acks.path())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Wait until the writer acknowledged `more` records beyond those seen now.
fn wait_for_acks(p: &Stack, acks: &Acks, more: usize) {
    let start = acked(acks).len();
    let began = Instant::now();
    while acked(acks).len() < start + more {
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "the writer acknowledged {} records in 120 s (wanted {more} more); its log: {}",
            acked(acks).len() - start,
            writer_log(p)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The writer's output and state, for a failure's message.
fn writer_log(p: &Stack) -> String {
    let out = std::process::Command::new("docker")
        .args(["logs", "--tail", "20", &p.db()])
        .output()
        .expect("docker logs");
    format!("{} (mount {})", stdout(&out), p.db_mount())
}

/// What the oracle found in the data the service uses.
#[derive(Debug, PartialEq)]
struct Accounted {
    acknowledged: usize,
    lost: Vec<u64>,
    phantom: Vec<String>,
}

/// Every acknowledged record in `log` (0 lost); `log` is exactly `rec 1 … rec M` (0 phantom).
fn account(log: &str, acks: &BTreeSet<u64>) -> Accounted {
    let mut phantom = Vec::new();
    let mut present = BTreeSet::new();
    for (i, line) in log.split_inclusive('\n').enumerate() {
        let want = format!("rec {} {PAYLOAD}\n", i + 1);
        if line == want {
            present.insert(i as u64 + 1);
        } else {
            phantom.push(format!("line {}: {line:?}", i + 1));
        }
    }
    Accounted {
        acknowledged: acks.len(),
        lost: acks.difference(&present).copied().collect(),
        phantom,
    }
}

/// `tierctl migrate ARGS`, or, with a failpoint, `ARGS` aborted there (as `kill -9` would)
/// and then `then` to finish; either way it must end with exit 0.
fn run(p: &Stack, args: &[&str], crash: Option<(&str, &[&str])>) {
    if let Some((point, then)) = crash {
        let out = p
            .tierctl()
            .env("TIERCTL_TEST_FAIL", point)
            .args(args)
            .output()
            .expect("run");
        assert!(
            stdout(&out).contains("TIERCTL_TEST_FAIL aborts at"),
            "`{}` did not abort at `{point}`: {}",
            args.join(" "),
            stdout(&out)
        );
        let out = p.tierctl().arg("migrate").args(then).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    } else {
        let out = p.tierctl().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    }
}

fn oracle(prefix: &str, migrate: &[&str], crash: Option<[(&str, &[&str]); 2]>) {
    let name = format!("{prefix}{}", std::process::id());
    if super::engine::engine().is_none() {
        return;
    }
    let acks = Acks::create(format!("{name}-acks"));
    let compose = COMPOSE.replace("{acks}", &acks.0);
    let Some(p) = Stack::up(Family::V2, name, &compose, "true") else {
        return;
    };
    wait_for_acks(&p, &acks, 50);
    run(&p, migrate, crash.map(|c| c[0]));
    assert!(p.db_mount().contains("/fast/"), "{}", p.db_mount());
    // the writer goes on on the tier
    wait_for_acks(&p, &acks, 50);
    // the acknowledgements first: a record acknowledged before the read must be in it
    let acked_so_far = acked(&acks);
    let on_tier = account(
        &std::fs::read_to_string(p.target().join("log")).expect("log on the tier"),
        &acked_so_far,
    );
    assert!(
        on_tier.lost.is_empty() && on_tier.phantom.is_empty(),
        "{on_tier:?}"
    );
    run(&p, &["migrate", "--rollback", "--yes"], crash.map(|c| c[1]));
    assert!(p.db_mount().starts_with(&p.volume()), "{}", p.db_mount());
    // and on the volume again
    wait_for_acks(&p, &acks, 50);
    assert!(p.compose(&["stop"]), "compose stop");
    let acked = acked(&acks);
    let log = std::fs::read_to_string(p.volume_mountpoint().join("log")).expect("log");
    let found = account(&log, &acked);
    eprintln!(
        "write oracle ({}{}): {} acknowledged, {} lost, {} phantom",
        migrate.join(" "),
        if crash.is_some() { ", crashed" } else { "" },
        found.acknowledged,
        found.lost.len(),
        found.phantom.len()
    );
    assert!(found.acknowledged >= 150, "{found:?}");
    assert_eq!(
        (found.lost.as_slice(), found.phantom.as_slice()),
        (&[][..], &[][..]),
        "{found:?}"
    );
    p.down();
}

#[test]
fn issue21_every_acknowledged_write_survives_a_pre_copy_migrate_and_its_rollback() {
    oracle("tierctlitor1x", &["migrate", "--yes"], None);
}

#[test]
fn issue21_every_acknowledged_write_survives_a_stop_first_migrate_and_its_rollback() {
    oracle("tierctlitor2x", &["migrate", "--stop-first", "--yes"], None);
}

/// The move aborted while the services are down (the delta copied and verified, the compose
/// file not yet rewritten) and resumed; the rollback aborted before its start and run again.
#[test]
fn issue21_every_acknowledged_write_survives_a_move_and_a_rollback_each_crashed_and_finished() {
    oracle(
        "tierctlitor3x",
        &["migrate", "--yes"],
        Some([
            ("compose-rewrite", &["--resume"]),
            ("compose-up", &["--rollback", "--yes"]),
        ]),
    );
}

#[test]
fn the_oracle_counts_a_lost_record_and_a_phantom_one() {
    let acks: BTreeSet<u64> = [1, 2, 3].into();
    let log = format!("rec 1 {PAYLOAD}\nrec 3 {PAYLOAD}\n");
    let found = account(&log, &acks);
    assert_eq!(found.lost, vec![2, 3]);
    assert_eq!(found.phantom.len(), 1);
    let whole = format!("rec 1 {PAYLOAD}\nrec 2 {PAYLOAD}\nrec 3 {PAYLOAD}\nrec 4 {PAYLOAD}\n");
    assert_eq!(
        account(&whole, &acks),
        Accounted {
            acknowledged: 3,
            lost: vec![],
            phantom: vec![]
        }
    );
}
