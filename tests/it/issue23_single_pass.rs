//! Issue 23 item 4: when none of the project's services that use the data runs, the default
//! migrate takes the single pass (stop-first steps: no pre-copy, no catch-up, no running
//! verify; one copy, one verify) and its plan says so. On the fake engine (the plan refined from
//! what runs, then run) and end to end on the real engine (`tierctl migrate --yes` of a stopped
//! project).

use std::os::unix::fs::MetadataExt;

use tierctl::migrate;

use super::compose_runner::Family;
use super::fake::FakeStack;
use super::fake::stack::snapshot;
use super::fake_migrate::sources;
use super::migrate_engine::{COMPOSE, stdout, unique};
use super::stack::Stack;

#[test]
fn issue23_item4_fake_nothing_running_the_default_copies_once_with_no_pre_copy() {
    let Some(stack) = FakeStack::new("fakeidle") else {
        return;
    };
    let before = sources(&stack);
    let plan = stack.plan(false, false);
    assert!(plan.pre_copy);
    // the services stopped beforehand, as a user may have done
    let stopped =
        migrate::steps::stop_plan_services(&*stack.engine, &plan).expect("the fake stops them");
    assert_eq!(stopped.len(), 2, "{stopped:?}");
    let running = migrate::steps::running_services(&*stack.engine, &plan).expect("listed");
    assert!(running.is_empty(), "{running:?}");
    let plan = plan.single_pass_unless_running(&running);
    assert!(plan.single_pass && !plan.pre_copy);
    let ids: Vec<String> = plan.steps.iter().map(|s| s.id().to_string()).collect();
    assert_eq!(ids[0], "stop", "{ids:?}");
    assert!(
        !ids.iter()
            .any(|id| id.starts_with("pre-") || id.starts_with("delta")),
        "{ids:?}"
    );
    let stop = migrate::describe(&plan, &plan.steps[0]);
    assert!(stop.contains("single pass"), "{stop}");
    stack.engine.clear_calls();
    stack.migrate(&plan, None).done();
    for (key, tree) in &before {
        assert_eq!(&snapshot(&stack.tier_dir(key)), tree, "tier copy of {key}");
        assert_eq!(&snapshot(&stack.volume(key)), tree, "volume {key}");
    }
    let text = stack.compose_text();
    assert!(
        text.contains(&stack.tier_dir("dbdata").display().to_string()),
        "{text}"
    );
    // one copy, on the host as root: no helper copied while anything ran, nothing was stopped
    let calls = stack.engine.calls();
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("helper copy") || c.starts_with("stop ")),
        "{calls:?}"
    );
    let state = stack.state();
    assert!(state.finished && !state.is_open());
}

#[test]
fn issue23_item4_fake_one_service_running_keeps_the_pre_copy() {
    let Some(stack) = FakeStack::new("fakebusy") else {
        return;
    };
    let plan = stack.plan(false, false);
    let running = migrate::steps::running_services(&*stack.engine, &plan).expect("listed");
    assert!(!running.is_empty());
    let refined = plan.clone().single_pass_unless_running(&running);
    assert_eq!(refined.steps, plan.steps);
    assert!(refined.pre_copy && !refined.single_pass);
    // `--stop-first` is left as it is
    let stop_first = stack.plan(true, false).single_pass_unless_running(&[]);
    assert!(!stop_first.single_pass);
}

#[test]
fn issue23_item4_a_stopped_project_migrates_in_a_single_pass_on_the_real_engine() {
    let Some(p) = Stack::up(
        Family::V2,
        unique("tierctlidle"),
        COMPOSE,
        "echo hello > /data/a; chown 7:8 /data/a",
    ) else {
        return;
    };
    assert!(p.compose(&["stop"]), "compose stop");
    let out = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    p.down();
    assert_eq!(out.status.code(), Some(0), "{text}\n{stderr}");
    assert!(text.contains("single pass"), "{text}");
    assert!(!text.contains("pre-copy "), "{text}");
    assert!(!text.contains("delta of"), "{text}");
    let copied = p.target().join("a");
    assert_eq!(
        std::fs::read_to_string(&copied).expect("copied file"),
        "hello\n"
    );
    let meta = std::fs::metadata(&copied).expect("stat");
    assert_eq!((meta.uid(), meta.gid()), (7, 8));
}
