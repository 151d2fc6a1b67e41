//! The migrate run on the fake engine (`fake/`), without Docker: a full pre-copy move and a
//! `--stop-first` one, a crash before and after every step then `--resume` or `--rollback`,
//! `--rollback` copying back what the services wrote on the tier, `--rollback --discard-copy`,
//! `--prune-source` and `--remove-source`, and the refusals before anything changes. Every test
//! name starts with `fake_`: `cargo test --test it fake_` runs them all.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use tierctl::engine::{MountSource, Volumes};
use tierctl::migrate::MigrateError;
use tierctl::migrate::plan::MigratePlan;

use super::fake::FakeStack;
use super::fake::stack::{Crash, Ended, Entry, snapshot};

const KEYS: [&str; 2] = ["dbdata", "webdata"];

/// Both volumes as they are now.
pub(super) fn sources(stack: &FakeStack) -> BTreeMap<&'static str, BTreeMap<String, Entry>> {
    KEYS.iter()
        .map(|k| (*k, snapshot(&stack.volume(k))))
        .collect()
}

/// The move is complete: each tier directory holds exactly what its volume held (`before`), the
/// volumes are untouched, the compose file binds the tier directories, both services run on
/// them, and the journal is finished.
pub(super) fn assert_moved(
    stack: &FakeStack,
    before: &BTreeMap<&'static str, BTreeMap<String, Entry>>,
) {
    for key in KEYS {
        assert_eq!(
            &snapshot(&stack.volume(key)),
            &before[key],
            "volume {key} changed"
        );
        assert_eq!(
            &snapshot(&stack.tier_dir(key)),
            &before[key],
            "tier copy of {key}"
        );
    }
    let text = stack.compose_text();
    for (service, key, target) in [
        ("db", "dbdata", "/var/lib/postgresql/data"),
        ("web", "webdata", "/srv"),
    ] {
        let dir = stack.tier_dir(key);
        assert!(text.contains(&dir.display().to_string()), "{text}");
        assert_eq!(
            stack.running(service),
            Some(vec![(MountSource::Bind(dir), target.to_owned())]),
            "service {service} after the move; containers: {:?}",
            stack.engine.containers()
        );
    }
    let state = stack.state();
    assert!(
        state.finished && !state.is_open(),
        "journal: {:?}",
        state.done.keys()
    );
}

/// Nothing was moved: the compose file is the original, both services run on their volumes,
/// the volumes hold `before`.
pub(super) fn assert_original(
    stack: &FakeStack,
    before: &BTreeMap<&'static str, BTreeMap<String, Entry>>,
) {
    assert_eq!(stack.compose_text(), super::fake::stack::COMPOSE);
    for (service, key, target) in [
        ("db", "dbdata", "/var/lib/postgresql/data"),
        ("web", "webdata", "/srv"),
    ] {
        assert_eq!(&snapshot(&stack.volume(key)), &before[key], "volume {key}");
        assert_eq!(
            stack.running(service),
            Some(vec![(
                MountSource::Volume(stack.volume_name(key)),
                target.to_owned()
            )]),
            "service {service}; containers: {:?}",
            stack.engine.containers()
        );
    }
}

fn step_ids(plan: &MigratePlan) -> Vec<String> {
    plan.steps.iter().map(|s| s.id().to_string()).collect()
}

fn calls_matching(stack: &FakeStack, prefix: &str) -> Vec<String> {
    stack
        .engine
        .calls()
        .into_iter()
        .filter(|c| c.starts_with(prefix))
        .collect()
}

#[test]
fn fake_pre_copy_migrate_moves_both_volumes_and_restarts_the_services_on_the_tier() {
    let Some(stack) = FakeStack::new("fakepre") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(false, false);
    let ids = step_ids(&plan);
    assert!(ids.contains(&"pre-copy:0".to_owned()), "{ids:?}");
    let outcome = stack.migrate(&plan, None).done();
    assert_eq!(outcome.steps.len(), ids.len());
    assert_moved(&stack, &before);
    // the copies while the services ran were helpers; web (which needs db) stopped first
    let calls = stack.engine.calls();
    let stop = calls
        .iter()
        .position(|c| c.starts_with("stop "))
        .expect("a stop");
    assert!(
        calls[..stop].contains(&"helper copy".to_owned()),
        "{calls:?}"
    );
    assert!(
        !calls[stop..].iter().any(|c| c.starts_with("helper")),
        "{calls:?}"
    );
    let stops = calls_matching(&stack, "stop ");
    assert_eq!(stops.len(), 2, "{stops:?}");
    assert!(
        stops[1].contains("(5 s)"),
        "db (stop_grace_period 5s) after web: {stops:?}"
    );
    // the volumes are kept until asked
    assert!(KEYS.iter().all(|k| {
        stack
            .engine
            .volume_exists(&stack.volume_name(k))
            .expect("inspect")
    }));
}

#[test]
fn fake_stop_first_migrate_copies_with_the_services_stopped() {
    let Some(stack) = FakeStack::new("fakestop") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(true, false);
    let ids = step_ids(&plan);
    assert!(
        ids.iter().all(|id| !id.starts_with("pre-copy")) && ids[0] == "stop",
        "{ids:?}"
    );
    stack.migrate(&plan, None).done();
    assert_moved(&stack, &before);
    // as root the copy runs on the host: no copy helper while the services are down
    assert!(
        calls_matching(&stack, "helper copy").is_empty(),
        "{:?}",
        stack.engine.calls()
    );
}

/// What a crash-point test checks after the crash, given the volumes before.
type Then = fn(&FakeStack, &BTreeMap<&'static str, BTreeMap<String, Entry>>);

/// Every step of a `--stop-first` or pre-copy plan (with `--remove-source` when `remove`)
/// crashed before and after it ran, each on a fresh stack, then `then`; how many points.
fn every_crash_point(stop_first: bool, remove: bool, then: Then) -> usize {
    crash_points(false, stop_first, remove, then)
}

/// [`every_crash_point`], on an engine like a VM's when `vm` ([`FakeEngine::like_a_vm`]).
fn crash_points(vm: bool, stop_first: bool, remove: bool, then: Then) -> usize {
    let Some(probe) = FakeStack::new("fakeprobe") else {
        return 0;
    };
    let ids = step_ids(&probe.plan(stop_first, remove));
    let points: Vec<Crash> = ids
        .iter()
        .flat_map(|id| [Crash::Before(id.clone()), Crash::After(id.clone())])
        .collect();
    std::thread::scope(|scope| {
        for (i, point) in points.iter().enumerate() {
            scope.spawn(move || {
                let stack = FakeStack::new(&format!("fakecrash{i}")).expect("the fake runs");
                if vm {
                    stack.engine.like_a_vm();
                }
                let before = sources(&stack);
                let plan = stack.plan(stop_first, remove);
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

fn resumed(stack: &FakeStack, before: &BTreeMap<&'static str, BTreeMap<String, Entry>>) {
    stack.resume(None).done();
    assert_moved(stack, before);
}

/// Resumed with `--remove-source`: the copies are complete and the volumes gone.
fn resumed_removed(stack: &FakeStack, before: &BTreeMap<&'static str, BTreeMap<String, Entry>>) {
    stack.resume(None).done();
    for key in KEYS {
        assert_eq!(
            &snapshot(&stack.tier_dir(key)),
            &before[key],
            "tier copy of {key}"
        );
        assert!(
            !stack
                .engine
                .volume_exists(&stack.volume_name(key))
                .expect("inspect")
        );
    }
    assert!(stack.running("db").is_some() && stack.running("web").is_some());
    assert!(stack.state().finished);
}

fn rolled_back(stack: &FakeStack, before: &BTreeMap<&'static str, BTreeMap<String, Entry>>) {
    stack.rollback(false).expect("the rollback finishes");
    assert_original(stack, before);
    assert!(stack.state().rolled_back);
}

#[test]
fn fake_resume_after_a_crash_before_and_after_every_pre_copy_step_finishes_the_move() {
    // create, pre-copy, pre-verify (x2), stop, delta, verify (x2), rewrite, start,
    // verify-mounts, remove-source (x2): 16 steps
    let points = every_crash_point(false, true, resumed_removed);
    assert!(points == 0 || points == 32, "{points} crash points");
}

#[test]
fn fake_resume_after_a_crash_before_and_after_every_stop_first_step_finishes_the_move() {
    // stop, create, copy, verify (x2), rewrite, start, verify-mounts: 10 steps
    let points = every_crash_point(true, false, resumed);
    assert!(points == 0 || points == 20, "{points} crash points");
}

#[test]
fn fake_rollback_after_a_crash_before_and_after_every_pre_copy_step_restores_the_project() {
    let points = every_crash_point(false, false, rolled_back);
    assert!(points == 0 || points == 28, "{points} crash points");
}

#[test]
fn fake_rollback_after_a_crash_before_and_after_every_stop_first_step_restores_the_project() {
    let points = every_crash_point(true, false, rolled_back);
    assert!(points == 0 || points == 20, "{points} crash points");
}

#[test]
fn fake_rollback_copies_back_what_the_services_wrote_on_the_tier() {
    let Some(stack) = FakeStack::new("fakeback") else {
        return;
    };
    stack.migrate(&stack.plan(false, false), None).done();
    // the service wrote on its new home: a new file, a changed one, a removed one
    let tier = stack.tier_dir("dbdata");
    fs::write(tier.join("base/1/new-table"), "written on the tier\n").expect("write");
    fs::write(tier.join("PG_VERSION"), "17\n").expect("write");
    fs::remove_file(tier.join("secret")).expect("rm");
    let written = snapshot(&tier);
    let web = sources(&stack)["webdata"].clone();
    stack.rollback(false).expect("the rollback finishes");
    assert_eq!(
        snapshot(&stack.volume("dbdata")),
        written,
        "the volume got the tier's data"
    );
    let mut before = BTreeMap::new();
    before.insert("dbdata", written);
    before.insert("webdata", web);
    assert_original(&stack, &before);
    // the copies stay (without --discard-copy)
    assert!(stack.tier_dir("dbdata").is_dir() && stack.tier_dir("webdata").is_dir());
}

#[test]
fn fake_rollback_discard_copy_removes_the_unchanged_copies() {
    let Some(stack) = FakeStack::new("fakediscard") else {
        return;
    };
    let before = sources(&stack);
    stack.migrate(&stack.plan(false, false), None).done();
    stack.rollback(true).expect("the rollback finishes");
    assert_original(&stack, &before);
    for key in KEYS {
        assert!(!stack.tier_dir(key).exists(), "copy of {key} discarded");
    }
}

#[test]
fn fake_prune_source_removes_the_kept_volumes_and_nothing_else() {
    let Some(stack) = FakeStack::new("fakeprune") else {
        return;
    };
    let before = sources(&stack);
    stack.migrate(&stack.plan(false, false), None).done();
    stack.prune().expect("the prune finishes");
    for key in KEYS {
        assert!(
            !stack
                .engine
                .volume_exists(&stack.volume_name(key))
                .expect("inspect")
        );
        assert_eq!(
            snapshot(&stack.tier_dir(key)),
            before[key],
            "tier copy of {key}"
        );
    }
    assert!(stack.running("db").is_some() && stack.running("web").is_some());
    // pruned again: nothing left to remove, nothing asked of the engine
    stack.engine.clear_calls();
    let again = stack.prune().expect("a second prune");
    assert!(again.steps.is_empty(), "{:?}", again.steps);
    assert!(calls_matching(&stack, "remove volume").is_empty());
}

#[test]
fn fake_remove_source_removes_each_volume_after_its_verified_copy() {
    let Some(stack) = FakeStack::new("fakeremove") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(false, true);
    assert!(
        step_ids(&plan)
            .iter()
            .any(|id| id.starts_with("remove-source")),
        "{:?}",
        step_ids(&plan)
    );
    stack.migrate(&plan, None).done();
    for key in KEYS {
        assert!(
            !stack
                .engine
                .volume_exists(&stack.volume_name(key))
                .expect("inspect")
        );
        assert_eq!(snapshot(&stack.tier_dir(key)), before[key]);
    }
}

/// A refusal before anything changed: no journal, nothing stopped, no helper run but the
/// preflight's own.
fn assert_refused_untouched(stack: &FakeStack, ended: Ended, says: &str) {
    let error = ended.failed();
    assert!(matches!(error, MigrateError::Refused(_)), "{error:?}");
    assert!(error.to_string().contains(says), "{error}");
    assert!(
        calls_matching(stack, "stop ").is_empty(),
        "{:?}",
        stack.engine.calls()
    );
    let journals = fs::read_dir(stack.ws.path("app/.tierctl"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("journal-"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(journals, 0);
    assert_eq!(stack.compose_text(), super::fake::stack::COMPOSE);
}

#[test]
fn fake_preflight_refuses_a_volume_used_outside_the_plan() {
    let Some(stack) = FakeStack::new("fakeoutside") else {
        return;
    };
    let volume = stack.volume_name("dbdata");
    stack.engine.run_container(
        "backup",
        "restic",
        BTreeMap::new(),
        vec![(MountSource::Volume(volume.clone()), "/backup".into(), false)],
    );
    let plan = stack.plan(false, false);
    let ended = stack.migrate(&plan, None);
    assert_refused_untouched(
        &stack,
        ended,
        &format!("volume `{volume}` is in use by container `backup` outside the plan"),
    );
}

#[test]
fn fake_preflight_refuses_a_missing_volume_a_non_empty_target_and_a_missing_helper_image() {
    let Some(stack) = FakeStack::new("fakerefuse") else {
        return;
    };
    let plan = stack.plan(false, false);
    // a target that already holds something
    let target = stack.tier_dir("webdata");
    fs::create_dir_all(&target).expect("mkdir");
    fs::write(target.join("stray"), "x").expect("write");
    let ended = stack.migrate(&plan, None);
    assert_refused_untouched(&stack, ended, "not empty");
    fs::remove_file(target.join("stray")).expect("rm");
    // a volume the engine does not have
    let web = stack
        .engine
        .containers()
        .into_iter()
        .find(|c| c.name.ends_with("-web-1"))
        .expect("web");
    tierctl::engine::Containers::remove(stack.engine.as_ref(), &web.id).expect("rm container");
    stack
        .engine
        .remove_volume(&stack.volume_name("webdata"))
        .expect("rm volume");
    let ended = stack.migrate(&plan, None);
    assert_refused_untouched(&stack, ended, "does not exist on the engine");
    // the helper image is not on the engine: the bind probe says so
    let mut stack2 = FakeStack::new("fakeimage").expect("the fake runs");
    stack2.image = "no-such-image:1".into();
    let plan = stack2.plan(false, false);
    let ended = stack2.migrate(&plan, None);
    assert_refused_untouched(&stack2, ended, "no-such-image:1");
}

#[test]
fn fake_preflight_refuses_a_second_migration_while_one_is_unfinished() {
    let Some(stack) = FakeStack::new("fakeopen") else {
        return;
    };
    let plan = stack.plan(false, false);
    assert!(matches!(
        stack.migrate(&plan, Some(Crash::After("pre-copy:0".into()))),
        Ended::Crashed
    ));
    let error = stack.migrate(&plan, None).failed();
    assert!(
        error
            .to_string()
            .contains("an unfinished migration is journaled"),
        "{error}"
    );
}

#[test]
fn fake_resume_is_refused_while_a_container_outside_the_plan_uses_a_source() {
    let Some(stack) = FakeStack::new("fakeresume") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(false, false);
    assert!(matches!(
        stack.migrate(&plan, Some(Crash::Before("delta:0".into()))),
        Ended::Crashed
    ));
    let volume = stack.volume_name("dbdata");
    let id = stack.engine.run_container(
        "intruder",
        "alpine",
        BTreeMap::new(),
        vec![(MountSource::Volume(volume), "/x".into(), true)],
    );
    let error = stack.resume(None).failed();
    assert!(matches!(error, MigrateError::Blocked { .. }), "{error:?}");
    assert!(error.to_string().contains("`intruder`"), "{error}");
    tierctl::engine::Containers::remove(stack.engine.as_ref(), &id).expect("rm");
    stack.resume(None).done();
    assert_moved(&stack, &before);
}

#[test]
fn fake_a_service_killed_at_the_stop_is_refused_until_force() {
    let Some(mut stack) = FakeStack::new("fakekilled") else {
        return;
    };
    let before = sources(&stack);
    stack.engine.ignore_stop("db");
    let plan = stack.plan(false, false);
    let error = stack.migrate(&plan, None).failed();
    assert!(error.to_string().contains("killed (exit 137"), "{error}");
    stack.force = true;
    stack.resume(None).done();
    assert_moved(&stack, &before);
}

#[test]
fn fake_a_failed_compose_up_leaves_a_journal_that_resumes() {
    let Some(stack) = FakeStack::new("fakeup") else {
        return;
    };
    let before = sources(&stack);
    stack
        .compose
        .fail_next_up
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let error = stack.migrate(&stack.plan(false, false), None).failed();
    assert!(
        matches!(&error, MigrateError::Step { step, .. } if step == "start"),
        "{error:?}"
    );
    assert!(stack.running("db").is_none());
    stack.resume(None).done();
    assert_moved(&stack, &before);
}

#[test]
fn fake_a_write_while_the_services_run_is_in_the_copy() {
    let Some(stack) = FakeStack::new("fakelive") else {
        return;
    };
    let plan = stack.plan(false, false);
    // the service writes after the pre-copy, before the stop: the delta carries it over
    assert!(matches!(
        stack.migrate(&plan, Some(Crash::After("pre-verify:0".into()))),
        Ended::Crashed
    ));
    let source = stack.volume("dbdata");
    fs::write(source.join("base/1/late"), "written while running\n").expect("write");
    fs::write(source.join("PG_VERSION"), "16.1\n").expect("write");
    let before = sources(&stack);
    stack.resume(None).done();
    assert_moved(&stack, &before);
    let late: PathBuf = stack.tier_dir("dbdata").join("base/1/late");
    assert_eq!(
        fs::read_to_string(late).expect("late file"),
        "written while running\n"
    );
}

/// Regression (issue 20 item 7, found by the fake): a rollback after a run killed during its
/// stop step left the services stopped: it started only those the stop step journaled when
/// done, not those journaled running before it (`Record::Running`), nor those it stopped itself.
#[test]
fn issue20_rollback_after_a_kill_during_the_stop_starts_the_services_again_on_the_fake() {
    let Some(stack) = FakeStack::new("fakestopkill") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(false, false);
    // killed after the services stopped, before the stop step's end was journaled
    assert!(matches!(
        stack.migrate(&plan, Some(Crash::After("stop".into()))),
        Ended::Crashed
    ));
    assert!(stack.running("db").is_none() && stack.running("web").is_none());
    rolled_back(&stack, &before);

    // killed after the stop step's start, before the running services were journaled: the
    // rollback journals what it stops and starts it again
    let Some(stack) = FakeStack::new("fakestopkill2") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(false, false);
    assert!(matches!(
        stack.migrate(&plan, Some(Crash::Before("stop".into()))),
        Ended::Crashed
    ));
    let path = stack.journal();
    let text = fs::read_to_string(&path).expect("journal");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(r#""event":"running""#))
        .collect();
    // two running records: at the start of the run (issue 26 row 9) and before the stop;
    // both go, as in a journal killed before either was written
    assert_eq!(
        kept.len() + 2,
        text.lines().count(),
        "two running records: {text}"
    );
    fs::write(&path, kept.join("\n") + "\n").expect("journal without the running records");
    rolled_back(&stack, &before);
}

#[test]
fn fake_an_empty_volume_is_seeded_from_the_image_as_a_fresh_one_would_be() {
    let Some(stack) = FakeStack::new("fakeseed") else {
        return;
    };
    // web's volume is empty; its image has content at the mount path
    let volume = stack.volume("webdata");
    for entry in fs::read_dir(&volume).expect("volume") {
        let path = entry.expect("entry").path();
        match path.is_dir() && !path.is_symlink() {
            true => fs::remove_dir_all(&path).expect("rm -r"),
            false => fs::remove_file(&path).expect("rm"),
        }
    }
    let image = stack.ws.path("image-srv");
    fs::create_dir_all(image.join("html")).expect("mkdir");
    fs::write(image.join("html/index.html"), "<h1>it works</h1>\n").expect("write");
    stack.engine.image_content("nginx", "/srv", &image);
    let plan = stack.plan(false, false);
    assert!(
        plan.copies.iter().any(|c| c.seed.is_some()),
        "a copy with a seed"
    );
    stack.migrate(&plan, None).done();
    let copied = stack.tier_dir("webdata").join("html/index.html");
    assert_eq!(
        fs::read_to_string(copied).expect("seeded file"),
        "<h1>it works</h1>\n"
    );
    assert!(
        !calls_matching(&stack, "populate").is_empty(),
        "{:?}",
        stack.engine.calls()
    );
    // the temporary seed volume is gone once the run finished
    let seeds: Vec<String> = stack
        .engine
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("remove volume tierctl-seed-"))
        .collect();
    assert_eq!(seeds.len(), 1, "{:?}", stack.engine.calls());
}

#[test]
fn fake_a_verify_while_stopped_names_a_copy_changed_after_the_delta() {
    let Some(stack) = FakeStack::new("fakecorrupt") else {
        return;
    };
    let plan = stack.plan(false, false);
    // after the delta, before the verify: one byte of the copy flips, size and mtime kept
    let table = stack.tier_dir("dbdata").join("base/1/table");
    let corrupt = |id: &str, after: bool| {
        if id == "verify:0" && !after {
            let mtime = fs::metadata(&table)
                .and_then(|m| m.modified())
                .expect("mtime");
            let mut bytes = fs::read(&table).expect("copy");
            bytes[100] ^= 0x01;
            fs::write(&table, &bytes).expect("corrupt");
            fs::File::options()
                .write(true)
                .open(&table)
                .and_then(|f| f.set_modified(mtime))
                .expect("mtime back");
        }
    };
    let error = stack.migrate_hooked(&plan, &corrupt).failed();
    let text = error.to_string();
    assert!(
        matches!(&error, MigrateError::Step { step, .. } if step == "verify:0"),
        "{error:?}"
    );
    assert!(text.contains("base/1/table"), "{text}");
    // nothing was rewritten: the services come back on their volumes
    let before = sources(&stack);
    stack.rollback(false).expect("the rollback finishes");
    assert_original(&stack, &before);
}

#[test]
fn fake_prune_is_refused_while_a_container_uses_a_source() {
    let Some(stack) = FakeStack::new("fakepruneused") else {
        return;
    };
    stack.migrate(&stack.plan(false, false), None).done();
    let volume = stack.volume_name("webdata");
    stack.engine.run_container(
        "debug",
        "alpine",
        BTreeMap::new(),
        vec![(MountSource::Volume(volume.clone()), "/old".into(), false)],
    );
    let error = stack.prune().expect_err("refused");
    assert!(error.to_string().contains("debug"), "{error}");
    assert!(stack.engine.volume_exists(&volume).expect("inspect"));
}

#[test]
fn fake_rollback_is_refused_once_a_source_volume_was_removed() {
    let Some(stack) = FakeStack::new("fakenoback") else {
        return;
    };
    stack.migrate(&stack.plan(false, true), None).done();
    let text = stack.compose_text();
    let error = stack.rollback(false).expect_err("refused");
    assert!(error.to_string().contains("already removed"), "{error}");
    assert_eq!(stack.compose_text(), text, "nothing changed");
    assert!(stack.running("db").is_some());
}

/// A bind directory outside the tiers moves to its placement path; `--remove-source` keeps it.
#[test]
fn fake_a_bind_directory_moves_to_its_tier_and_is_never_removed() {
    let compose =
        "services:\n  media:\n    image: jellyfin\n    volumes:\n      - ./media:/media\n";
    let Some(stack) = FakeStack::with_compose("fakebind", compose) else {
        return;
    };
    let source = stack.ws.path("app/media");
    fs::create_dir_all(&source).expect("mkdir");
    super::fake::stack::fill(&source, "media");
    let before = snapshot(&source);
    let plan = stack.plan(false, true);
    assert_eq!(plan.copies.len(), 1, "{:?}", step_ids(&plan));
    let target = plan.copies[0].job.target.clone();
    assert!(
        target.starts_with(stack.ws.path("fast")),
        "{}",
        target.display()
    );
    let outcome = stack.migrate(&plan, None).done();
    assert_eq!(snapshot(&target), before);
    assert_eq!(snapshot(&source), before, "the bind source is kept");
    assert!(
        outcome
            .steps
            .iter()
            .any(|s| s.result.contains("tierctl never removes a host directory")),
        "{:?}",
        outcome.steps
    );
    assert_eq!(
        stack.running("media"),
        Some(vec![(MountSource::Bind(target), "/media".to_owned())])
    );
}

#[test]
fn fake_a_rollback_whose_start_failed_finishes_when_run_again() {
    let Some(stack) = FakeStack::new("fakebackup") else {
        return;
    };
    let before = sources(&stack);
    stack.migrate(&stack.plan(false, false), None).done();
    stack
        .compose
        .fail_next_up
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let error = stack.rollback(false).expect_err("the start fails");
    assert!(
        error.to_string().contains("rollback step `start` failed"),
        "{error}"
    );
    assert!(stack.running("db").is_none() && stack.running("web").is_none());
    assert!(stack.state().rolling_back && !stack.state().rolled_back);
    stack.rollback(false).expect("the second rollback finishes");
    assert_original(&stack, &before);
}

/// Regression (issue 20 item 7, found by the fake): a run killed after its `remove-source` step
/// removed the volume, before the step's end was journaled, could never be resumed: the retried
/// step asked the engine to remove a volume that was gone (`no such volume`), every time.
#[test]
fn issue20_resume_after_a_kill_right_after_a_volume_was_removed_finishes_on_the_fake() {
    let Some(stack) = FakeStack::new("fakeremovekill") else {
        return;
    };
    let plan = stack.plan(false, true);
    let crash = Some(Crash::After("remove-source:0".into()));
    assert!(matches!(stack.migrate(&plan, crash), Ended::Crashed));
    assert!(
        !stack
            .engine
            .volume_exists(&stack.volume_name("dbdata"))
            .expect("inspect")
    );
    let outcome = stack.resume(None).done();
    let step = outcome
        .steps
        .iter()
        .find(|s| s.step == "remove-source:0")
        .expect("the step");
    assert!(
        step.result.contains("was already removed"),
        "{}",
        step.result
    );
    assert!(stack.state().finished);
}

#[test]
fn fake_verify_mounts_refuses_what_the_services_do_not_see_and_a_resume_checks_again() {
    let Some(stack) = FakeStack::new("fakeviews") else {
        return;
    };
    let before = sources(&stack);
    stack.views.judge(
        "web",
        Some(("df-mismatch", "the container sees another filesystem")),
    );
    let error = stack.migrate(&stack.plan(false, false), None).failed();
    let text = error.to_string();
    assert!(
        matches!(&error, MigrateError::Step { step, .. } if step == "verify-mounts"),
        "{error:?}"
    );
    assert!(
        text.contains("container `fakeviews-web-1` at `/srv`: df-mismatch"),
        "{text}"
    );
    stack.views.judge("web", None);
    let outcome = stack.resume(None).done();
    let mounts = outcome.steps.last().expect("verify-mounts");
    assert_eq!(mounts.result, "ok: 2 mount(s), tierctl verify ok");
    assert_moved(&stack, &before);
}

#[test]
fn fake_preflight_refuses_without_a_compose_cli_or_with_the_wrong_compose_family() {
    let Some(mut stack) = FakeStack::new("fakenocompose") else {
        return;
    };
    let plan = stack.plan(false, false);
    stack.no_compose = true;
    let ended = stack.migrate(&plan, None);
    assert_refused_untouched(&stack, ended, "no compose CLI found");
    // created by Compose v1, and only v2 is installed
    stack.no_compose = false;
    for service in ["db", "web"] {
        stack.engine.label(
            service,
            tierctl::engine::container::labels::VERSION,
            "1.29.2",
        );
    }
    let ended = stack.migrate(&plan, None);
    assert_refused_untouched(
        &stack,
        ended,
        "project `fakenocompose`: the project's containers were created by",
    );
}

/// An engine error at each kind of engine action (issue 21's "error return" outcome), then the
/// same command again: it finishes with every byte kept.
#[test]
fn fake_an_engine_error_at_a_stop_a_helper_or_a_removal_then_the_same_command_finishes() {
    // the migration's stop fails: resume finishes it
    let Some(stack) = FakeStack::new("fakefault1") else {
        return;
    };
    let before = sources(&stack);
    stack.engine.fail_next("stop");
    let error = stack.migrate(&stack.plan(false, false), None).failed();
    assert!(
        matches!(&error, MigrateError::Step { step, .. } if step == "stop"),
        "{error:?}"
    );
    assert!(error.to_string().contains("injected fault"), "{error}");
    stack.resume(None).done();
    assert_moved(&stack, &before);

    // the pre-copy helper fails: resume finishes it
    let stack = FakeStack::new("fakefault2").expect("the fake runs");
    let before = sources(&stack);
    stack.engine.fail_next("helper copy");
    let error = stack.migrate(&stack.plan(false, false), None).failed();
    assert!(
        matches!(&error, MigrateError::Step { step, .. } if step == "pre-copy:0"),
        "{error:?}"
    );
    assert!(stack.running("db").is_some(), "nothing stopped yet");
    stack.resume(None).done();
    assert_moved(&stack, &before);

    // the rollback's copy back fails: the rollback again brings the tier's data back
    let stack = FakeStack::new("fakefault3").expect("the fake runs");
    stack.migrate(&stack.plan(false, false), None).done();
    let tier = stack.tier_dir("dbdata");
    fs::write(tier.join("written-on-the-tier"), "new\n").expect("write");
    let written = snapshot(&tier);
    stack.engine.clear_calls();
    stack.engine.fail_next("helper");
    let error = stack.rollback(false).expect_err("the copy back fails");
    assert!(error.to_string().contains("injected fault"), "{error}");
    assert!(
        stack.compose_text().contains(&tier.display().to_string()),
        "still on the tier"
    );
    stack.rollback(false).expect("the second rollback finishes");
    assert_eq!(snapshot(&stack.volume("dbdata")), written);
    assert_eq!(stack.compose_text(), super::fake::stack::COMPOSE);

    // the removal of a kept volume fails: the prune again removes it
    let stack = FakeStack::new("fakefault4").expect("the fake runs");
    stack.migrate(&stack.plan(false, false), None).done();
    stack.engine.fail_next("remove volume");
    let error = stack.prune().expect_err("the removal fails");
    assert!(error.to_string().contains("injected fault"), "{error}");
    stack.prune().expect("the second prune finishes");
    for key in KEYS {
        assert!(
            !stack
                .engine
                .volume_exists(&stack.volume_name(key))
                .expect("inspect")
        );
    }
}

#[test]
fn fake_prune_and_rollback_refuse_by_phase_and_a_later_discard_removes_kept_copies() {
    let Some(stack) = FakeStack::new("fakephase") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(false, false);
    assert!(matches!(
        stack.migrate(&plan, Some(Crash::Before("rewrite".into()))),
        Ended::Crashed
    ));
    // unfinished: nothing to prune
    let error = stack.prune().expect_err("refused");
    assert!(error.to_string().contains("is not finished"), "{error}");
    stack.rollback(false).expect("the rollback finishes");
    assert_original(&stack, &before);
    // rolled back: neither a prune nor a second rollback
    let error = stack.prune().expect_err("refused");
    assert!(error.to_string().contains("rolled back"), "{error}");
    assert!(stack.rollback(false).is_err());
    // the copies it kept go with --discard-copy, later
    assert!(KEYS.iter().all(|k| stack.tier_dir(k).is_dir()));
    stack.rollback(true).expect("the discard finishes");
    assert!(KEYS.iter().all(|k| !stack.tier_dir(k).exists()));
    assert_original(&stack, &before);
}

/// On a VM engine the host reads no tree as the engine does: every measure, copy, listing,
/// delta and verify runs in helper containers (the scripts tierctl ships), and so does the
/// rollback's copy back.
#[test]
fn fake_on_a_vm_like_engine_every_tree_is_read_and_copied_by_helpers() {
    for stop_first in [false, true] {
        let Some(stack) = FakeStack::new(&format!("fakevm{}", u8::from(stop_first))) else {
            return;
        };
        stack.engine.like_a_vm();
        let before = sources(&stack);
        stack.migrate(&stack.plan(stop_first, false), None).done();
        assert_moved(&stack, &before);
        let calls = stack.engine.calls();
        let stop = calls
            .iter()
            .position(|c| c.starts_with("stop "))
            .expect("a stop");
        // while stopped: the delta listed (and applied by the delta helper when anything
        // changed since the last pass), both trees hashed by the manifest helper (pre-copy);
        // the copy helper measures, copies and reads both trees (stop-first)
        let wanted: &[&str] = match stop_first {
            false => &["helper list", "helper manifest"],
            true => &["helper copy"],
        };
        for purpose in wanted {
            assert!(
                calls[stop..].iter().any(|c| c == purpose),
                "{purpose}: {calls:?}"
            );
        }
        // the rollback brings back what the service wrote, through helpers too
        let tier = stack.tier_dir("dbdata");
        fs::write(tier.join("PG_VERSION"), "17\n").expect("write");
        let mut now = sources(&stack);
        now.insert("dbdata", snapshot(&tier));
        stack.rollback(false).expect("the rollback finishes");
        assert_original(&stack, &now);
    }
}

#[test]
fn fake_on_a_vm_like_engine_resume_after_a_crash_at_every_step_finishes_the_move() {
    let points = crash_points(true, true, false, resumed);
    assert!(points == 0 || points == 20, "{points} crash points");
    let points = crash_points(true, false, true, resumed_removed);
    assert!(points == 0 || points == 32, "{points} crash points");
}
