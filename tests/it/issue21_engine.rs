//! Issue 21 item 1 on the real engine: a sample of the durable actions' failpoints
//! (`TIERCTL_TEST_FAIL=POINT[:N]` makes tierctl `abort()` there, as `kill -9` would) across a
//! migrate, a rollback and a prune, each followed by the command that finishes or undoes it;
//! the data the service uses, the source volume, the compose file and the container's mount are
//! checked after each. The whole matrix runs on the fake engine (`issue21_crash.rs`).

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use super::compose_runner::Family;
use super::copy_engine::SEED;
use super::fake::stack::{Entry, snapshot};
use super::migrate_engine::{COMPOSE, stdout, unique};
use super::stack::Stack;

/// `tierctl migrate ARGS` with an abort at the failpoint `point`: it must have aborted there.
fn aborted_at(p: &Stack, point: &str, args: &[&str]) -> Output {
    let out = p
        .tierctl()
        .env("TIERCTL_TEST_FAIL", point)
        .arg("migrate")
        .args(args)
        .output()
        .expect("run tierctl");
    assert_eq!(
        out.status.signal(),
        Some(6),
        "`migrate {}` did not abort at `{point}`: {:?}\n{}",
        args.join(" "),
        out.status,
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!(
            "TIERCTL_TEST_FAIL aborts at `{}",
            point.split(':').next().unwrap_or(point)
        )),
        "{}",
        stdout(&out)
    );
    out
}

/// `tierctl migrate ARGS`, which must succeed.
fn finishes(p: &Stack, args: &[&str]) -> Output {
    let out = p
        .tierctl()
        .arg("migrate")
        .args(args)
        .output()
        .expect("run tierctl");
    assert_eq!(
        out.status.code(),
        Some(0),
        "`migrate {}`: {}",
        args.join(" "),
        stdout(&out)
    );
    out
}

fn data(p: &Stack) -> BTreeMap<String, Entry> {
    snapshot(&p.volume_mountpoint())
}

/// Moved: the service runs on the tier directory, which holds the source's data; the source
/// volume is untouched; the compose file names the tier directory.
fn assert_moved(p: &Stack, source: &BTreeMap<String, Entry>) {
    assert_eq!(p.db_mount(), p.target().display().to_string());
    assert_eq!(&snapshot(&p.target()), source, "the tier copy");
    assert_eq!(&data(p), source, "the source volume");
    assert!(p.compose_text().contains(&p.target().display().to_string()));
}

/// Back: the compose file is the original byte for byte, the service runs on its volume,
/// which holds `source`.
fn assert_original(p: &Stack, source: &BTreeMap<String, Entry>) {
    assert_eq!(p.compose_text(), p.old);
    assert_eq!(p.db_mount(), p.volume());
    assert_eq!(&data(p), source, "the source volume");
}

#[test]
fn issue21_real_engine_aborts_in_a_migrate_and_a_rollback_then_resume_or_rollback_keep_every_byte()
{
    let Some(p) = Stack::up(Family::V2, unique("tierctlit21a"), COMPOSE, SEED) else {
        return;
    };
    let source = data(&p);
    // the stop: nothing moved yet; --resume finishes the move
    aborted_at(&p, "service-stop", &["--yes", "--stop-first"]);
    assert_eq!(p.compose_text(), p.old);
    finishes(&p, &["--resume"]);
    assert_moved(&p, &source);
    // a rollback aborted at its start, the files already restored: --rollback again finishes
    aborted_at(&p, "compose-up", &["--rollback", "--yes"]);
    assert_eq!(p.compose_text(), p.old, "restored before the start");
    finishes(&p, &["--rollback", "--yes"]);
    assert_original(&p, &source);
    finishes(&p, &["--rollback", "--discard-copy", "--yes"]);
    // the rewrite: --rollback undoes the move
    aborted_at(&p, "compose-rewrite", &["--yes", "--stop-first"]);
    assert_eq!(p.compose_text(), p.old, "the swap never happened");
    finishes(&p, &["--rollback", "--yes"]);
    assert_original(&p, &source);
    finishes(&p, &["--rollback", "--discard-copy", "--yes"]);
    // a journal record written, not yet fsynced (the 6th: the end of `create-dir:0`): --resume
    aborted_at(&p, "journal-sync:6", &["--yes", "--stop-first"]);
    finishes(&p, &["--resume"]);
    assert_moved(&p, &source);
    p.down();
}

#[test]
fn issue21_real_engine_aborts_in_a_prune_then_prune_again_and_no_rollback_onto_a_removed_volume() {
    let Some(p) = Stack::up(Family::V2, unique("tierctlit21b"), COMPOSE, SEED) else {
        return;
    };
    let source = data(&p);
    // the copy on the host: --resume finishes it
    aborted_at(&p, "host-copy", &["--yes", "--stop-first"]);
    finishes(&p, &["--resume"]);
    assert_moved(&p, &source);
    // before the volume's removal: it is still there
    aborted_at(&p, "volume-remove", &["--prune-source", "--yes"]);
    assert_eq!(data(&p), source);
    // after it, before its end is journaled (the prune's 2nd append): no rollback onto a
    // volume the engine would make anew empty; the prune again finishes
    aborted_at(&p, "journal-append:2", &["--prune-source", "--yes"]);
    let refused = p
        .tierctl()
        .args(["migrate", "--rollback", "--yes"])
        .output()
        .expect("run tierctl");
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert!(
        stdout(&refused).contains("already removed"),
        "{}",
        stdout(&refused)
    );
    assert_eq!(p.db_mount(), p.target().display().to_string());
    finishes(&p, &["--prune-source", "--yes"]);
    assert_eq!(&snapshot(&p.target()), &source, "the tier copy");
    let gone = std::process::Command::new("docker")
        .args(["volume", "inspect", &p.volume()])
        .output()
        .expect("docker");
    assert!(!gone.status.success(), "the source volume is removed");
    p.down();
}
