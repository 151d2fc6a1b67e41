//! `migrate --to-context B` on two fake engines (`fake/`, [`FakeStack::with_b`]), without
//! Docker: the data crosses as archive streams from A's helpers into B's, the compose file for
//! B is written beside the original, the project starts on B. A full pre-copy move (with writes
//! on A before the stop, carried by the delta) and a `--stop-first` one; a crash before and
//! after every step, then `--resume` or `--rollback`; `--rollback` refused over writes on B
//! (and forced); `--rollback --discard-copy`; `--prune-source`; a crash at the rollback's
//! removal of B's compose file. Every test name starts with `fake_`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tierctl::engine::{MountSource, Volumes};
use tierctl::migrate::MigrateError;
use tierctl::migrate::plan::MigratePlan;

use super::fake::FakeStack;
use super::fake::stack::{Crash, Ended, Entry, snapshot};
use super::fake_migrate::{assert_original, sources};

const KEYS: [&str; 2] = ["dbdata", "webdata"];

/// The mtime (whole seconds) of every directory below `root`, `.` included: [`snapshot`]
/// leaves them out, a move to B keeps them (the archive's headers, the root's by a helper).
fn dir_mtimes(root: &Path) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut todo = vec![(root.to_path_buf(), ".".to_owned())];
    while let Some((path, rel)) = todo.pop() {
        let meta = fs::symlink_metadata(&path).expect("lstat");
        if !meta.is_dir() {
            continue;
        }
        out.insert(rel.clone(), meta.mtime());
        for entry in fs::read_dir(&path).expect("read_dir") {
            let name = entry.expect("entry").file_name();
            let shown = name.to_string_lossy();
            let child = match rel.as_str() {
                "." => shown.into_owned(),
                _ => format!("{rel}/{shown}"),
            };
            todo.push((path.join(&name), child));
        }
    }
    out
}

type Trees = BTreeMap<&'static str, BTreeMap<String, Entry>>;

/// The move to B is complete: each of B's tier directories holds exactly what its volume held
/// at the stop (`at_stop`: every byte, owner, mode, link and mtime, directories' too), the
/// volumes are untouched, the original compose file too, the file written for B binds B's
/// tier directories, both services run on B on them and none on A, the journal is finished.
fn assert_moved_to_b(stack: &FakeStack, at_stop: &Trees) {
    for key in KEYS {
        assert_eq!(
            &snapshot(&stack.volume(key)),
            &at_stop[key],
            "volume {key} changed"
        );
        let copy = stack.b_tier_dir(key);
        assert_eq!(&snapshot(&copy), &at_stop[key], "B's copy of {key}");
        assert_eq!(
            dir_mtimes(&copy),
            dir_mtimes(&stack.volume(key)),
            "directory mtimes of B's copy of {key}"
        );
    }
    assert_eq!(stack.compose_text(), super::fake::stack::COMPOSE);
    let for_b = fs::read_to_string(stack.b_compose_file()).expect("the compose file for B");
    for (service, key, target) in [
        ("db", "dbdata", "/var/lib/postgresql/data"),
        ("web", "webdata", "/srv"),
    ] {
        let dir = stack.b_tier_dir(key);
        assert!(for_b.contains(&dir.display().to_string()), "{for_b}");
        assert_eq!(
            stack.running_on_b(service),
            Some(vec![(MountSource::Bind(dir), target.to_owned())]),
            "service {service} on B; containers: {:?}",
            stack.b().containers()
        );
        assert_eq!(stack.running(service), None, "{service} still runs on A");
    }
    let state = stack.state();
    assert!(
        state.finished && !state.is_open(),
        "journal: {:?}",
        state.done.keys()
    );
}

/// Rolled back to A: the project runs there on its volumes as `before`, the file written for B
/// is gone, nothing of the project runs on B.
fn assert_back_on_a(stack: &FakeStack, before: &Trees) {
    assert_original(stack, before);
    assert!(!stack.b_compose_file().exists(), "the compose file for B");
    for service in ["db", "web"] {
        assert_eq!(stack.running_on_b(service), None, "{service} runs on B");
    }
}

fn step_ids(plan: &MigratePlan) -> Vec<String> {
    plan.steps.iter().map(|s| s.id().to_string()).collect()
}

fn calls_matching(engine: &super::fake::engine::FakeEngine, prefix: &str) -> Vec<String> {
    engine
        .calls()
        .into_iter()
        .filter(|c| c.starts_with(prefix))
        .collect()
}

/// What the services write on A after the pre-copy, before the stop: a new file, a changed one
/// (same size), a removed one, a mode, an owner and a new directory.
fn write_while_running(volume: &Path) {
    fs::write(
        volume.join("base/1/new-table"),
        "written after the pre-copy\n",
    )
    .expect("write");
    fs::write(volume.join("PG_VERSION"), "17\n").expect("write");
    fs::remove_file(volume.join("secret")).expect("rm");
    fs::set_permissions(volume.join("PG_VERSION"), fs::Permissions::from_mode(0o640))
        .expect("chmod");
    std::os::unix::fs::lchown(volume.join("base/1/new-table"), Some(70), Some(71)).expect("chown");
    fs::create_dir(volume.join("pg_wal")).expect("mkdir");
}

#[test]
fn fake_to_context_pre_copy_moves_the_project_to_b_with_what_a_wrote_before_the_stop() {
    let Some(stack) = FakeStack::with_b("fakebpre") else {
        return;
    };
    let plan = stack.plan(false, false);
    let ids = step_ids(&plan);
    assert_eq!(
        ids,
        [
            "create:0",
            "pre-copy:0",
            "create:1",
            "pre-copy:1",
            "stop",
            "delta:0",
            "verify:0",
            "delta:1",
            "verify:1",
            "rewrite",
            "start",
            "verify-mounts"
        ]
    );
    let db = stack.volume("dbdata");
    let write = |id: &str, after: bool| {
        if id == "stop" && !after {
            write_while_running(&db);
        }
    };
    let outcome = stack.migrate_hooked(&plan, &write).done();
    assert_eq!(outcome.steps.len(), ids.len());
    let at_stop = sources(&stack);
    assert!(at_stop["dbdata"].contains_key("base/1/new-table"));
    assert_moved_to_b(&stack, &at_stop);
    // the data crossed as archive streams: read on A, extracted on B; the delta sent only
    // what changed (one tar of it), after B's helper fixed and removed in place
    assert!(!calls_matching(&stack.engine, "archive transfer-read").is_empty());
    assert!(!calls_matching(stack.b(), "extract transfer-write").is_empty());
    let delta = outcome
        .steps
        .iter()
        .find(|s| s.step == "delta:0")
        .expect("delta:0");
    assert!(
        delta.result.contains("1 removed") && !delta.result.starts_with("second full pass"),
        "{}",
        delta.result
    );
    // nothing was written on A's side but the journal: the volumes are kept until asked
    assert!(KEYS.iter().all(|k| {
        stack
            .engine
            .volume_exists(&stack.volume_name(k))
            .expect("inspect")
    }));
}

#[test]
fn fake_to_context_stop_first_moves_the_project_to_b() {
    let Some(stack) = FakeStack::with_b("fakebstop") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(true, false);
    let ids = step_ids(&plan);
    assert_eq!(
        ids,
        [
            "stop",
            "create:0",
            "copy:0",
            "verify:0",
            "create:1",
            "copy:1",
            "verify:1",
            "rewrite",
            "start",
            "verify-mounts"
        ]
    );
    stack.migrate(&plan, None).done();
    assert_moved_to_b(&stack, &before);
    // nothing was pre-copied: every helper on A ran after the stop
    let calls = stack.engine.calls();
    let stop = calls
        .iter()
        .position(|c| c.starts_with("stop "))
        .expect("a stop");
    assert!(
        !calls[..stop]
            .iter()
            .any(|c| c.starts_with("archive") || c.starts_with("helper manifest")),
        "{calls:?}"
    );
}

/// What a crash-point test checks after the crash, given the volumes before.
type Then = fn(&FakeStack, &Trees);

/// Every step of a pre-copy or `--stop-first` move to B crashed before and after it ran, each
/// on a fresh pair of engines, then `then`; how many points.
fn every_crash_point_to_b(stop_first: bool, then: Then) -> usize {
    let Some(probe) = FakeStack::with_b("fakebprobe") else {
        return 0;
    };
    let ids = step_ids(&probe.plan(stop_first, false));
    let points: Vec<Crash> = ids
        .iter()
        .flat_map(|id| [Crash::Before(id.clone()), Crash::After(id.clone())])
        .collect();
    std::thread::scope(|scope| {
        for (i, point) in points.iter().enumerate() {
            scope.spawn(move || {
                let stack = FakeStack::with_b(&format!("fakebcrash{i}")).expect("the fake runs");
                let before = sources(&stack);
                let plan = stack.plan(stop_first, false);
                match stack.migrate(&plan, Some(point.clone())) {
                    Ended::Crashed => {}
                    other => panic!("{point:?}: the run did not crash: {other:?}"),
                }
                assert!(stack.state().is_open(), "{point:?}");
                then(&stack, &before);
            });
        }
    });
    points.len()
}

/// Resumed to a finished move on B; then, after the services wrote on B, a rollback is
/// refused naming both copies (their verified manifests were journaled across the crash), and
/// a forced one goes back to A.
fn resumed_on_b(stack: &FakeStack, before: &Trees) {
    stack.resume(None).done();
    assert_moved_to_b(stack, before);
    for key in KEYS {
        fs::write(stack.b_tier_dir(key).join("written-on-b"), "new\n").expect("write on B");
    }
    let error = stack.rollback(false).expect_err("refused over writes on B");
    let text = error.to_string();
    for key in KEYS {
        let copy = stack.b_tier_dir(key).display().to_string();
        assert!(text.contains(&format!("`{copy}`: ")), "{key}: {text}");
    }
    stack
        .rollback_forced()
        .expect("the forced rollback finishes");
    assert_back_on_a(stack, before);
}

fn rolled_back_to_a(stack: &FakeStack, before: &Trees) {
    stack.rollback(false).expect("the rollback finishes");
    assert_back_on_a(stack, before);
    assert!(stack.state().rolled_back);
}

#[test]
fn fake_to_context_resume_after_a_crash_before_and_after_every_pre_copy_step_finishes_on_b() {
    // create, pre-copy (x2), stop, delta, verify (x2), rewrite, start, verify-mounts: 12
    // steps
    let points = every_crash_point_to_b(false, resumed_on_b);
    assert!(points == 0 || points == 24, "{points} crash points");
}

#[test]
fn fake_to_context_resume_after_a_crash_before_and_after_every_stop_first_step_finishes_on_b() {
    let points = every_crash_point_to_b(true, resumed_on_b);
    assert!(points == 0 || points == 20, "{points} crash points");
}

#[test]
fn fake_to_context_rollback_after_a_crash_before_and_after_every_pre_copy_step_restores_a() {
    let points = every_crash_point_to_b(false, rolled_back_to_a);
    assert!(points == 0 || points == 24, "{points} crash points");
}

#[test]
fn fake_to_context_rollback_after_a_crash_before_and_after_every_stop_first_step_restores_a() {
    let points = every_crash_point_to_b(true, rolled_back_to_a);
    assert!(points == 0 || points == 20, "{points} crash points");
}

#[test]
fn fake_to_context_rollback_after_writes_on_b_is_refused_and_the_services_run_on_b_again() {
    let Some(stack) = FakeStack::with_b("fakebnewer") else {
        return;
    };
    let before = sources(&stack);
    stack.migrate(&stack.plan(false, false), None).done();
    // the service wrote on B since the copy was verified
    let copy = stack.b_tier_dir("dbdata");
    fs::write(copy.join("PG_VERSION"), "17\n").expect("write");
    fs::write(copy.join("base/1/written-on-b"), "new\n").expect("write");
    let written = snapshot(&copy);
    let error = stack.rollback(false).expect_err("refused");
    assert!(matches!(error, MigrateError::Blocked { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("the services wrote on `fakeb` since the copy was verified")
            && text.contains(&copy.display().to_string())
            && text.contains("started again on `fakeb`: db, web"),
        "{text}"
    );
    assert!(
        error.hint().contains("--rollback --force"),
        "{}",
        error.hint()
    );
    // nothing went back: B runs on what it wrote, the compose file for B stays, A is stopped
    assert_eq!(snapshot(&copy), written);
    for (service, key) in [("db", "dbdata"), ("web", "webdata")] {
        assert_eq!(
            stack.running_on_b(service).map(|m| m[0].0.clone()),
            Some(MountSource::Bind(stack.b_tier_dir(key))),
            "{service} on B"
        );
        assert_eq!(stack.running(service), None);
    }
    assert!(stack.b_compose_file().is_file());
    let state = stack.state();
    assert!(state.finished && !state.rolling_back && !state.rolled_back);
    // forced: back to A's older data, B's copy (with its writes) stays
    stack
        .rollback_forced()
        .expect("the forced rollback finishes");
    assert_back_on_a(&stack, &before);
    assert_eq!(snapshot(&copy), written, "B's copy stays");
}

#[test]
fn fake_to_context_rollback_discard_copy_removes_b_copies_and_the_directories_the_move_made() {
    let Some(stack) = FakeStack::with_b("fakebdiscard") else {
        return;
    };
    let before = sources(&stack);
    // B's tier root holds other data, which stays
    let other = stack.ws.path("bfast/other/keep");
    fs::create_dir_all(other.parent().expect("parent")).expect("mkdir");
    fs::write(&other, "not the move's\n").expect("write");
    stack.migrate(&stack.plan(false, false), None).done();
    let outcome = stack.rollback(true).expect("the rollback finishes");
    assert_back_on_a(&stack, &before);
    for key in KEYS {
        assert!(!stack.b_tier_dir(key).exists(), "B's copy of {key}");
    }
    assert!(
        !stack.ws.path("bfast").join(&stack.name).exists(),
        "the directory the move created on B"
    );
    assert_eq!(
        fs::read_to_string(&other).expect("kept"),
        "not the move's\n"
    );
    assert!(stack.ws.path("bfast").is_dir(), "B's tier root");
    let removed: Vec<&str> = outcome
        .steps
        .iter()
        .filter(|s| s.step.starts_with("remove-copy"))
        .map(|s| s.step.as_str())
        .collect();
    // the last copy first: the directory both live in goes with the first copy's
    assert_eq!(removed, ["remove-copy:1", "remove-copy:0"]);
}

#[test]
fn fake_to_context_prune_source_removes_a_volumes_and_the_project_keeps_running_on_b() {
    let Some(stack) = FakeStack::with_b("fakebprune") else {
        return;
    };
    let before = sources(&stack);
    stack.migrate(&stack.plan(false, false), None).done();
    // A's stopped containers still use the volumes: refused, as on the real engines
    let error = stack.prune().expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("it is in use by container `fakebprune-db-1` (stopped)"),
        "{error}"
    );
    assert!(error.hint().contains("docker rm"), "{}", error.hint());
    assert!(KEYS.iter().all(|k| {
        stack
            .engine
            .volume_exists(&stack.volume_name(k))
            .expect("inspect")
    }));
    // `docker rm` of A's containers, as the hint says; then the prune removes the volumes
    for c in stack.engine.containers() {
        tierctl::engine::Containers::remove(stack.engine.as_ref(), &c.id).expect("docker rm");
    }
    stack.prune().expect("the prune finishes");
    for key in KEYS {
        assert!(
            !stack
                .engine
                .volume_exists(&stack.volume_name(key))
                .expect("inspect"),
            "volume {key} on A"
        );
        assert_eq!(
            snapshot(&stack.b_tier_dir(key)),
            before[key],
            "B's copy of {key}"
        );
    }
    assert!(stack.running_on_b("db").is_some() && stack.running_on_b("web").is_some());
    // no rollback once a source is gone
    let error = stack.rollback(false).expect_err("refused");
    assert!(error.to_string().contains("already removed"), "{error}");
    assert!(stack.b_compose_file().is_file());
}

/// Regression (issue 20, found by the fake's move to B): `--rollback --discard-copy` left the
/// directory the move created for both copies (`<root>/<project>`): the first copy's removal
/// found it still holding the second copy, and the second copy's create step had not made it.
/// Copies are now removed the last first; on this engine's tiers and on B's.
#[test]
fn issue20_discard_copy_removes_the_directory_the_move_created_for_two_copies_on_the_fake() {
    for to_b in [false, true] {
        let name = format!("fakeshared{}", u8::from(to_b));
        let stack = match to_b {
            true => FakeStack::with_b(&name),
            false => FakeStack::new(&name),
        };
        let Some(stack) = stack else {
            return;
        };
        let before = sources(&stack);
        stack.migrate(&stack.plan(false, false), None).done();
        let root = stack.ws.path(if to_b { "bfast" } else { "fast" });
        assert!(root.join(&name).is_dir());
        stack.rollback(true).expect("the rollback finishes");
        assert_original(&stack, &before);
        assert!(
            !root.join(&name).exists(),
            "`{}` the move created stays",
            root.join(&name).display()
        );
        assert!(root.is_dir(), "the tier root");
    }
}

/// A crash point at the rollback's removal of the compose file written for B: killed right
/// after it removed the file (before the rollback's end is journaled), the rollback run again
/// finishes: the project runs on A again, nothing of it on B.
#[test]
fn fake_to_context_a_rollback_killed_at_the_removal_of_b_compose_file_finishes_when_run_again() {
    let Some(stack) = FakeStack::with_b("fakebrmfile") else {
        return;
    };
    let before = sources(&stack);
    stack.migrate(&stack.plan(false, false), None).done();
    let crash = super::fake::stack::crash_at(Some(Crash::After("rollback:restore".into())));
    assert!(matches!(
        stack.rollback_hooked(false, &crash),
        Ended::Crashed
    ));
    assert!(!stack.b_compose_file().exists(), "removed before the crash");
    let state = stack.state();
    assert!(state.rolling_back && !state.rolled_back);
    for service in ["db", "web"] {
        assert_eq!(
            stack.running(service),
            None,
            "{service} not started on A yet"
        );
        assert_eq!(stack.running_on_b(service), None, "{service} stopped on B");
    }
    let outcome = stack.rollback(false).expect("the rollback again finishes");
    assert_back_on_a(&stack, &before);
    assert!(stack.state().rolled_back);
    let restore = outcome
        .steps
        .iter()
        .find(|s| s.step == "restore")
        .expect("restore");
    assert_eq!(
        restore.result,
        "no file written for the other engine to remove"
    );
    // killed before the removal: run again, it removes the file
    let stack = FakeStack::with_b("fakebrmfile2").expect("the fake runs");
    let before = sources(&stack);
    stack.migrate(&stack.plan(false, false), None).done();
    let crash = super::fake::stack::crash_at(Some(Crash::Before("rollback:restore".into())));
    assert!(matches!(
        stack.rollback_hooked(false, &crash),
        Ended::Crashed
    ));
    assert!(stack.b_compose_file().is_file());
    stack.rollback(false).expect("the rollback again finishes");
    assert_back_on_a(&stack, &before);
}

/// The fake's archive endpoint against tierctl's own readers: A's archive of a volume read by
/// `manifest::from_tar` is the manifest the host reads of it (names as bytes, a name and a
/// symlink target over 100 bytes, a hardlink, a FIFO, owners, modes, mtimes), and its archive
/// of `/from/.` extracted into a directory on B is the same tree (the extraction directory
/// keeps its own attributes, as dockerd's does).
#[test]
fn fake_archive_streams_read_and_extract_every_entry_as_tierctl_reads_the_tree() {
    use std::sync::atomic::AtomicU64;
    use tierctl::engine::{ArchiveWriter, HelperSpec, Helpers, MountSpec};
    use tierctl::migrate::tree::{self, manifest};

    let Some(stack) = FakeStack::with_b("fakearchive") else {
        return;
    };
    let volume = stack.volume("dbdata");
    let long = "n".repeat(120);
    fs::create_dir_all(volume.join(&long)).expect("mkdir");
    fs::write(volume.join(&long).join("deep"), "deep\n").expect("write");
    fs::write(
        volume.join(std::ffi::OsStr::from_bytes(b"caf\xe9")),
        "latin-1\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(format!("./{long}/deep"), volume.join("long-link"))
        .expect("symlink");
    let spec = |source: MountSource, at: &str, read_only: bool| HelperSpec {
        mounts: vec![MountSpec {
            source,
            target: at.into(),
            read_only,
        }],
        ..HelperSpec::new(
            "transfer-read",
            super::fake::stack::IMAGE,
            vec!["true".into()],
        )
    };
    let hashed = AtomicU64::new(0);
    let digest = manifest::Digest::Blake3;
    let source = MountSource::Volume(stack.volume_name("dbdata"));
    let streamed = tree::archive_manifests(
        stack.engine.as_ref(),
        &spec(source.clone(), "/to", true),
        &["/to"],
        digest,
        &hashed,
    )
    .expect("the archive reads");
    let host = tree::read(&volume, digest, &hashed).expect("the host reads");
    assert_eq!(streamed.len(), 1);
    let differences = manifest::compare(&host, &streamed[0], manifest::Rules::default());
    assert!(differences.is_empty(), "{differences:?}");
    assert!(streamed[0].entries.contains_key(&format!("{long}/deep")));

    let target = stack.ws.path("bfast/roundtrip");
    fs::create_dir(&target).expect("mkdir");
    let write = spec(MountSource::Bind(target.clone()), "/to", false);
    let b = stack.b();
    stack
        .engine
        .read_archives(&spec(source, "/from", true), &["/from/."], &|_, tar| {
            b.write_archive(&write, "/to", tar)
                .map_err(std::io::Error::other)
        })
        .expect("streamed from A into B");
    let without_root = |root: &Path| {
        let mut tree = snapshot(root);
        tree.remove(".");
        let mut dirs = dir_mtimes(root);
        dirs.remove(".");
        (tree, dirs)
    };
    assert_eq!(without_root(&target), without_root(&volume));
    // a read-only mount is not written into, as the engine refuses it
    let refused = stack.b().write_archive(
        &spec(MountSource::Bind(target.clone()), "/to", true),
        "/to",
        &mut std::io::empty(),
    );
    assert!(refused.is_err());
}

/// An engine error on either side at each kind of action the move to B takes (A's archive
/// stream, B's extraction in the delta, a manifest helper on B, the start on B), then
/// `--resume`: the move finishes with every byte kept.
#[test]
fn fake_to_context_an_engine_error_on_a_or_b_then_resume_finishes() {
    type Fault = fn(&FakeStack);
    let faults: [(&str, &str, Fault); 4] = [
        ("pre-copy:0", "archive", |s| {
            s.engine.fail_next("archive transfer-read")
        }),
        ("delta:1", "extract", |s| {
            s.b().fail_next("extract transfer-write")
        }),
        ("verify:0", "manifest", |s| {
            s.b().fail_next("helper manifest")
        }),
        ("start", "up", |s| {
            s.compose
                .fail_next_up
                .store(true, std::sync::atomic::Ordering::Relaxed)
        }),
    ];
    for (i, (at, what, fault)) in faults.into_iter().enumerate() {
        let Some(stack) = FakeStack::with_b(&format!("fakebfault{i}")) else {
            return;
        };
        let plan = stack.plan(false, false);
        let arm = |id: &str, after: bool| {
            if id == "stop" && !after {
                // the delta has something to send
                KEYS.iter()
                    .for_each(|k| write_while_running(&stack.volume(k)));
            }
            if id == at && !after {
                fault(&stack);
            }
        };
        let error = stack.migrate_hooked(&plan, &arm).failed();
        assert!(
            matches!(&error, MigrateError::Step { step, .. } if step == at),
            "{what} at {at}: {error:?}"
        );
        if what == "up" {
            assert!(
                error.to_string().contains("DOCKER_CONTEXT=fakeb"),
                "{error}"
            );
        } else {
            assert!(
                error.to_string().contains("injected fault"),
                "{what}: {error}"
            );
        }
        stack.resume(None).done();
        assert_moved_to_b(&stack, &sources(&stack));
    }
}

/// `--rollback --discard-copy` of a move to B killed before and after each copy's removal on
/// B, then run again: the project runs on A, both copies and the directory the move created
/// on B are gone, nothing else.
#[test]
fn fake_to_context_a_discard_killed_at_each_copy_removal_finishes_when_run_again() {
    let points: Vec<Crash> = ["remove-copy:1", "remove-copy:0"]
        .into_iter()
        .flat_map(|id| [Crash::Before(id.into()), Crash::After(id.into())])
        .collect();
    std::thread::scope(|scope| {
        for (i, point) in points.iter().enumerate() {
            scope.spawn(move || {
                let Some(stack) = FakeStack::with_b(&format!("fakebdiscardkill{i}")) else {
                    return;
                };
                let before = sources(&stack);
                stack.migrate(&stack.plan(false, false), None).done();
                let crash = super::fake::stack::crash_at(Some(point.clone()));
                assert!(
                    matches!(stack.rollback_hooked(true, &crash), Ended::Crashed),
                    "{point:?}"
                );
                assert!(stack.state().rolled_back, "{point:?}");
                stack.rollback(true).expect("the discard again finishes");
                assert_back_on_a(&stack, &before);
                assert!(
                    !stack.ws.path("bfast").join(&stack.name).exists(),
                    "{point:?}: the directory the move created on B"
                );
                assert!(stack.ws.path("bfast").is_dir());
            });
        }
    });
}

/// A service that was not running on A moves with its data but is not started on B, and a
/// rollback leaves it stopped on A.
#[test]
fn fake_to_context_a_stopped_service_moves_its_data_and_stays_stopped() {
    let Some(stack) = FakeStack::with_b("fakebidle") else {
        return;
    };
    let web = stack
        .engine
        .containers()
        .into_iter()
        .find(|c| c.name.ends_with("-web-1"))
        .expect("web");
    tierctl::engine::Containers::stop(stack.engine.as_ref(), &[(web.id.as_str(), 10)])
        .expect("stop web");
    stack.engine.clear_calls();
    let before = sources(&stack);
    let outcome = stack.migrate(&stack.plan(false, false), None).done();
    let start = outcome
        .steps
        .iter()
        .find(|s| s.step == "start")
        .expect("start");
    assert!(
        start.result.starts_with("started on `fakeb`: db;"),
        "{}",
        start.result
    );
    for key in KEYS {
        assert_eq!(
            snapshot(&stack.b_tier_dir(key)),
            before[key],
            "B's copy of {key}"
        );
    }
    assert!(stack.running_on_b("db").is_some());
    assert_eq!(stack.running_on_b("web"), None);
    stack.rollback(false).expect("the rollback finishes");
    assert!(stack.running("db").is_some());
    assert_eq!(
        stack.running("web"),
        None,
        "web was not running before the move"
    );
    assert!(!stack.b_compose_file().exists());
    assert_eq!(stack.running_on_b("db"), None);
}

/// Moved, rolled back with `--discard-copy`, moved again: the second move finishes on B (its
/// stopped containers from the first move are no obstacle), with a journal of its own.
#[test]
fn fake_to_context_a_second_move_after_a_discarded_one_finishes_on_b() {
    let Some(stack) = FakeStack::with_b("fakebagain") else {
        return;
    };
    let before = sources(&stack);
    stack.migrate(&stack.plan(false, false), None).done();
    stack.rollback(true).expect("the rollback finishes");
    assert_back_on_a(&stack, &before);
    let first = stack.journal();
    stack.migrate(&stack.plan(false, false), None).done();
    assert_ne!(stack.journal(), first);
    assert_moved_to_b(&stack, &before);
}

/// Names are bytes across engines: a file and a directory whose names are not UTF-8, and a
/// name over 100 bytes, move to B in a pre-copy move and a `--stop-first` one (the full pass
/// streams them; the delta sends nothing for them while they do not change).
#[test]
fn fake_to_context_names_that_are_not_utf8_or_long_move_to_b() {
    for stop_first in [false, true] {
        let Some(stack) = FakeStack::with_b(&format!("fakebnames{}", u8::from(stop_first))) else {
            return;
        };
        let db = stack.volume("dbdata");
        let odd = db.join(std::ffi::OsStr::from_bytes(b"dir-\xff"));
        fs::create_dir(&odd).expect("mkdir");
        fs::write(odd.join(std::ffi::OsStr::from_bytes(b"caf\xe9")), "x\n").expect("write");
        fs::write(db.join("l".repeat(140)), "long\n").expect("write");
        let before = sources(&stack);
        stack.migrate(&stack.plan(stop_first, false), None).done();
        assert_moved_to_b(&stack, &before);
        assert!(
            stack
                .b_tier_dir("dbdata")
                .join(std::ffi::OsStr::from_bytes(b"dir-\xff/caf\xe9"))
                .is_file()
        );
    }
}

/// A file whose name is not UTF-8, changed after the pre-copy: A's archive endpoint cannot
/// fetch it by name, so the delta refuses naming the way that carries it; that way works: the
/// rollback, then a `--stop-first` move.
#[test]
fn fake_to_context_a_changed_file_named_not_utf8_is_refused_by_the_delta_and_stop_first_moves_it() {
    let Some(stack) = FakeStack::with_b("fakebnotutf8") else {
        return;
    };
    let file = stack
        .volume("dbdata")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    fs::write(&file, "before\n").expect("write");
    let before = sources(&stack);
    let change = |id: &str, after: bool| {
        if id == "stop" && !after {
            fs::write(&file, "changed after the pre-copy\n").expect("write");
        }
    };
    let error = stack
        .migrate_hooked(&stack.plan(false, false), &change)
        .failed();
    let text = error.to_string();
    assert!(
        matches!(&error, MigrateError::Step { step, .. } if step == "delta:0"),
        "{error:?}"
    );
    assert!(
        text.contains("`caf\\xe9` changed since the pre-copy and its name is not UTF-8")
            && text.contains("--stop-first"),
        "{text}"
    );
    stack.rollback(false).expect("the rollback finishes");
    let mut now = before.clone();
    now.insert("dbdata", snapshot(&stack.volume("dbdata")));
    assert_back_on_a(&stack, &now);
    stack.rollback(true).expect("the copies on B go");
    stack.migrate(&stack.plan(true, false), None).done();
    assert_moved_to_b(&stack, &now);
}
