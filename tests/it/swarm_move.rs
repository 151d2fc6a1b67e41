//! Issue 24 item 4 against the real two-node swarm (`.ci/swarm`, see `swarm.rs`): a stateful
//! service moved with its data from the manager's node to the worker's (`migrate --to-node`),
//! its copy verified and compared here with what the service had written when it stopped, its
//! downtime reported, its stack file rewritten (comments kept), and rolled back; and the new
//! durable action (`service-update`) killed in a move and in a rollback, each finished by the
//! next command.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::fake::stack::{Entry, fill, snapshot};
use super::hosts::DockerConfig;
use super::migrate_engine::stdout;
use super::swarm::{NETWORK, Run, Swarm, assign, contexts, docker, swarm, workspace};
use super::workspace::Workspace;

/// A service that writes while it runs (a line every 0.2 s to `log`, `boot` to `boots` at each
/// start) and stops cleanly on SIGTERM, pinned to the manager's tier.
fn compose() -> String {
    format!(
        "version: \"3.8\"\nservices:\n  db:\n    image: {image}  # the database\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; echo boot >> /data/boots; while true; do date +%s%N >> /data/log; sleep 0.2 & wait $$!; done\"]\n    networks: [hostnet]\n    volumes:\n      - {{root}}/a/{{tier}}/db:/data\n    deploy:\n      placement:\n        constraints:\n          - node.labels.tierctl.tier.{{tier}}=={{root}}/a/{{tier}}  # its disk\n{NETWORK}",
        image = crate::engine::helper_image()
    )
}

/// `tierctl --context first -p STACK migrate ARGS` (with `fail` as `TIERCTL_TEST_FAIL`).
fn migrate(
    ws: &Workspace,
    config: &DockerConfig,
    run: &Run,
    args: &[&str],
    fail: Option<&str>,
) -> Output {
    let mut command = ws.tierctl("p");
    command
        .env("DOCKER_CONFIG", config.path())
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("TIERCTL_HELPER_IMAGE", crate::engine::helper_image())
        .args(["--context", "first", "-p", &run.stack, "migrate"])
        .args(args);
    if let Some(point) = fail {
        command.env("TIERCTL_TEST_FAIL", point);
    }
    command.output().expect("tierctl runs")
}

fn aborted(out: &Output, point: &str) {
    assert_eq!(
        out.status.signal(),
        Some(6),
        "did not abort at `{point}`: {}",
        stdout(out)
    );
}

fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "{}", stdout(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The node the service's running task is on and its bind source there (the service's spec).
fn placed(run: &Run) -> (String, String) {
    let on = run.running(1);
    let mounts = docker(&[
        "service",
        "inspect",
        &format!("{}_db", run.stack),
        "--format",
        "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Source}}{{end}}",
    ]);
    (on[0].1.clone(), mounts.trim().to_owned())
}

/// The data the service wrote as one tree: `log` and `boots` aside (compared by the caller).
fn without_writes(tree: &BTreeMap<String, Entry>) -> BTreeMap<String, Entry> {
    tree.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "log" | "boots"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A fresh stack with its data on the manager's tier, running there.
fn deployed(swarm: &Swarm, test: &str) -> (Run, Workspace, DockerConfig) {
    let run = Run::new(swarm, test);
    let ws = workspace(&run, &compose());
    fill(&ws.path(&format!("a/{}/db", run.tier)), "swarm");
    let config = contexts(&swarm.worker_socket);
    assign(&ws, &config, swarm);
    run.deploy(&ws.path("p/compose.yaml"));
    assert_eq!(placed(&run).0, swarm.manager_node, "runs where its data is");
    (run, ws, config)
}

#[test]
fn issue24_a_stateful_service_moves_to_the_other_node_verified_and_rolls_back() {
    let Some(swarm) = swarm() else { return };
    let (run, ws, config) = deployed(&swarm, "move");
    let (a, b) = (
        ws.path(&format!("a/{}/db", run.tier)),
        ws.path(&format!("b/{}/db", run.tier)),
    );
    let original = read(&ws.path("p/compose.yaml"));

    let out = migrate(
        &ws,
        &config,
        &run,
        &[
            "--to-node",
            &swarm.worker_node[..10],
            "--service",
            "db",
            "--yes",
            "--format",
            "json",
        ],
        None,
    );
    let json: Value = serde_json::from_str(&succeeded(&out)).expect("json");
    let downtime = json["downtime_seconds"]
        .as_f64()
        .expect("downtime reported");
    assert!(downtime > 0.0 && downtime < 60.0, "{json}");
    eprintln!("swarm move: services were down {downtime:.1} s");

    // it runs on the worker, on the worker's tier
    assert_eq!(
        placed(&run),
        (swarm.worker_node.clone(), b.display().to_string())
    );
    // every byte the service had when it stopped is there: the old node's tree is the data
    // at the stop (nothing ran on it since), and the new one holds it plus what the service
    // wrote after its start there
    std::thread::sleep(std::time::Duration::from_millis(600));
    let (old, new) = (snapshot(&a), snapshot(&b));
    assert_eq!(without_writes(&old), without_writes(&new));
    assert!(
        read(&b.join("log")).starts_with(&read(&a.join("log"))),
        "the log goes on"
    );
    assert!(
        read(&a.join("log")).lines().count() > 1,
        "it wrote while the pre-copy ran"
    );
    assert_eq!(
        read(&b.join("boots")),
        format!("{}boot\n", read(&a.join("boots")))
    );

    // the stack file says so (comments kept), and the audit finds it pinned
    let moved = read(&ws.path("p/compose.yaml"));
    let root_b = ws.path(&format!("b/{}", run.tier));
    assert!(
        moved.contains(&format!("- {}:/data", b.display())),
        "{moved}"
    );
    assert!(
        moved.contains(&format!(
            "- node.labels.tierctl.tier.{}=={}  # its disk",
            run.tier,
            root_b.display()
        )),
        "{moved}"
    );
    assert!(moved.contains("# the database"), "{moved}");
    assert_eq!(
        moved.replace(&format!("/b/{}", run.tier), &format!("/a/{}", run.tier)),
        original
    );

    // back: refused while the copy on the worker holds writes the old node lacks (and the
    // service runs there again), then with --force on the old node's data
    let out = migrate(&ws, &config, &run, &["--rollback", "--yes"], None);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("boots"),
        "names what was written: {}",
        stdout(&out)
    );
    assert_eq!(placed(&run).0, swarm.worker_node, "still on the worker");
    succeeded(&migrate(
        &ws,
        &config,
        &run,
        &["--rollback", "--force", "--yes"],
        None,
    ));
    assert_eq!(
        placed(&run),
        (swarm.manager_node.clone(), a.display().to_string())
    );
    assert_eq!(
        read(&ws.path("p/compose.yaml")),
        original,
        "the stack file as it was"
    );
    assert!(b.join("log").is_file(), "the worker's copy stays");
}

#[test]
fn issue24_a_move_killed_at_its_stop_rolls_back_and_at_its_service_update_resumes_and_its_rollback_too()
 {
    let Some(swarm) = swarm() else { return };
    let (run, ws, config) = deployed(&swarm, "crash");
    let b = ws.path(&format!("b/{}/db", run.tier));
    let original = read(&ws.path("p/compose.yaml"));
    let to = [
        "--to-node",
        swarm.worker_node.as_str(),
        "--service",
        "db",
        "--yes",
        "--stop-first",
    ];

    // killed before its stop: a rollback leaves it running where it was, as it was
    aborted(
        &migrate(&ws, &config, &run, &to, Some("service-stop")),
        "service-stop",
    );
    succeeded(&migrate(&ws, &config, &run, &["--rollback", "--yes"], None));
    let a = ws.path(&format!("a/{}/db", run.tier));
    assert_eq!(
        placed(&run),
        (swarm.manager_node.clone(), a.display().to_string())
    );
    assert_eq!(read(&ws.path("p/compose.yaml")), original);

    // killed before the update that places it on the worker: stopped, copied, verified, the
    // stack file rewritten; `--resume` places it
    aborted(
        &migrate(&ws, &config, &run, &to, Some("service-update")),
        "service-update",
    );
    let replicas = docker(&[
        "service",
        "inspect",
        &format!("{}_db", run.stack),
        "--format",
        "{{.Spec.Mode.Replicated.Replicas}}",
    ]);
    assert_eq!(replicas.trim(), "0", "stopped while it is killed");
    succeeded(&migrate(&ws, &config, &run, &["--resume", "--yes"], None));
    assert_eq!(
        placed(&run),
        (swarm.worker_node.clone(), b.display().to_string())
    );

    // a rollback killed before the update that places it back: the next one finishes it
    let back = ["--rollback", "--force", "--yes"];
    aborted(
        &migrate(&ws, &config, &run, &back, Some("service-update")),
        "service-update",
    );
    succeeded(&migrate(&ws, &config, &run, &back, None));
    assert_eq!(
        placed(&run),
        (swarm.manager_node.clone(), a.display().to_string())
    );
    assert_eq!(read(&ws.path("p/compose.yaml")), original);
}
