//! Issue 24 against the real two-node swarm `.ci/swarm` makes on this machine: this engine the
//! manager, the second engine of `.ci/hosts` a worker, joined over loopback. Both nodes are on
//! one kernel, so a stack here joins the `host` network (overlay networks of two engines on one
//! kernel collide on their VXLAN device). Each test uses its own tier name (node labels
//! `tierctl.tier.<name>`, removed when it ends) and its own stack; the `tierctl.context` labels
//! (manager `first`, worker `second`) are the same in every test, and each test's
//! `DOCKER_CONFIG` says what those contexts reach. Without the swarm the tests skip loudly, and
//! fail under `TIERCTL_REQUIRE_DOCKER=1`.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::required;
use crate::hosts::DockerConfig;
use crate::workspace::Workspace;

const ENV_FILE: &str = "/var/lib/tierctl-swarm/env";

/// The swarm `.ci/swarm up` made.
pub(crate) struct Swarm {
    /// `unix:///…` of the worker's engine.
    pub(crate) worker_socket: String,
    pub(crate) manager_node: String,
    pub(crate) worker_node: String,
}

pub(crate) fn swarm() -> Option<Swarm> {
    let read = || -> Result<Swarm, String> {
        let text = std::fs::read_to_string(ENV_FILE).map_err(|e| format!("`{ENV_FILE}`: {e}"))?;
        let get = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .map(str::to_owned)
                .ok_or_else(|| format!("`{ENV_FILE}` lacks {key}"))
        };
        let swarm = Swarm {
            worker_socket: get("TIERCTL_SWARM_WORKER")?,
            manager_node: get("TIERCTL_SWARM_MANAGER_NODE")?,
            worker_node: get("TIERCTL_SWARM_WORKER_NODE")?,
        };
        let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        if state.trim() != "active" {
            return Err(format!("this engine is not in a swarm ({})", state.trim()));
        }
        Ok(swarm)
    };
    match read() {
        Ok(swarm) => Some(swarm),
        Err(reason) if required() => {
            panic!("TIERCTL_REQUIRE_DOCKER=1 but there is no two-node swarm: {reason}")
        }
        Err(reason) => {
            skipped!("no two-node swarm ({reason}); run `sudo bash .ci/swarm up` to make one");
            None
        }
    }
}

/// `docker ARGS` on this engine (the manager); its stdout.
pub(crate) fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `docker node update ARGS`, again while another test's update of the node races it ("update
/// out of sequence").
fn node_update(args: &[&str]) {
    for _ in 0..20 {
        let out = docker(&[&["node", "update"][..], args].concat());
        if !out.contains("out of sequence") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A unique tier name and stack name for one test; the tier labels and the stack are removed
/// when dropped.
pub(crate) struct Run {
    pub(crate) tier: String,
    pub(crate) stack: String,
    nodes: [String; 2],
}

impl Run {
    pub(crate) fn new(swarm: &Swarm, test: &str) -> Run {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}{n}", std::process::id());
        Run {
            tier: format!("sw{id}"),
            stack: format!("tierctl-{test}-{id}"),
            nodes: [swarm.manager_node.clone(), swarm.worker_node.clone()],
        }
    }

    /// Labels the manager and the worker with this test's tier at `a` and `b`.
    fn label(&self, a: &Path, b: &Path) {
        for (node, root) in self.nodes.iter().zip([a, b]) {
            let label = format!("tierctl.tier.{}={}", self.tier, root.display());
            node_update(&["--label-add", &label, node]);
        }
    }

    pub(crate) fn deploy(&self, file: &Path) {
        let out = docker(&[
            "stack",
            "deploy",
            "-c",
            &file.display().to_string(),
            &self.stack,
        ]);
        assert!(out.contains("Creating service"), "{out}");
    }

    /// Waits until `count` tasks of the stack run; their node ids by service.
    pub(crate) fn running(&self, count: usize) -> Vec<(String, String)> {
        let start = Instant::now();
        loop {
            let out = docker(&[
                "stack",
                "ps",
                &self.stack,
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Name}} {{.CurrentState}}",
            ]);
            let running = out.lines().filter(|l| l.contains(" Running")).count();
            if running >= count {
                let services = docker(&["stack", "services", &self.stack, "--format", "{{.Name}}"]);
                return services
                    .lines()
                    .map(|service| {
                        let task = docker(&[
                            "service",
                            "ps",
                            service,
                            "-q",
                            "--filter",
                            "desired-state=running",
                        ]);
                        let task = task.lines().next().unwrap_or_default().to_owned();
                        let node = docker(&["inspect", "--format", "{{.NodeID}}", &task]);
                        (service.to_owned(), node.trim().to_owned())
                    })
                    .collect();
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "the stack's tasks did not start: {out}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        docker(&["stack", "rm", &self.stack]);
        for node in &self.nodes {
            node_update(&["--label-rm", &format!("tierctl.tier.{}", self.tier), node]);
        }
    }
}

/// The contexts the `tierctl.context` labels name: `first` this engine, `second` the worker
/// (or `second_host` instead).
pub(crate) fn contexts(second_host: &str) -> DockerConfig {
    DockerConfig::new()
        .context("first", "unix:///var/run/docker.sock")
        .context("second", second_host)
}

fn tierctl(ws: &Workspace, config: &DockerConfig, args: &[&str]) -> std::process::Output {
    ws.tierctl("p")
        .env("DOCKER_CONFIG", config.path())
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("TIERCTL_HELPER_IMAGE", crate::engine::helper_image())
        .args(["--context", "first"])
        .args(args)
        .output()
        .expect("tierctl runs")
}

pub(crate) fn assign(ws: &Workspace, config: &DockerConfig, swarm: &Swarm) {
    let out = tierctl(
        ws,
        config,
        &[
            "tiers",
            "nodes",
            "--assign",
            &format!("{}=first", swarm.manager_node),
            "--assign",
            &format!("{}=second", swarm.worker_node),
        ],
    );
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A workspace with tier roots `a/<tier>` (the manager's) and `b/<tier>` (the worker's), and
/// tiers.yaml saying so (`contexts.second`).
pub(crate) fn workspace(run: &Run, compose: &str) -> Workspace {
    let t = &run.tier;
    let tiers = format!(
        "tiers:\n  {t}: {{ root: {{root}}/a/{t} }}\ncontexts:\n  second:\n    tiers:\n      {t}: {{ root: {{root}}/b/{t} }}\n"
    );
    let ws = Workspace::new()
        .dir("home")
        .dir(&format!("a/{t}/db"))
        .dir(&format!("b/{t}/web"))
        .file("p/tiers.yaml", &tiers)
        .file("p/compose.yaml", &compose.replace("{tier}", t));
    run.label(&ws.path(&format!("a/{t}")), &ws.path(&format!("b/{t}")));
    ws
}

pub(crate) const NETWORK: &str = "networks:\n  hostnet:\n    external: true\n    name: host\n";

#[test]
fn issue24_an_unpinned_stateful_service_is_found_and_pinned_by_rewrite() {
    let Some(swarm) = swarm() else { return };
    let run = Run::new(&swarm, "pin");
    let compose = format!(
        "version: \"3.8\"\nservices:\n  db:\n    image: {image}  # the database\n    command: [\"sleep\", \"3600\"]\n    networks: [hostnet]\n    volumes:\n      - {{root}}/a/{{tier}}/db:/data\n{NETWORK}",
        image = crate::engine::helper_image()
    );
    let ws = workspace(&run, &compose);
    let config = contexts(&swarm.worker_socket);
    assign(&ws, &config, &swarm);

    let out = tierctl(&ws, &config, &["audit", "--swarm", "--format", "json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_str(&text).expect("json");
    let constraint = format!(
        "node.labels.tierctl.tier.{}=={}",
        run.tier,
        ws.path(&format!("a/{}", run.tier)).display()
    );
    let unpinned: Vec<&Value> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "swarm-unpinned")
        .collect();
    assert_eq!(unpinned.len(), 1, "{text}");
    assert_eq!(unpinned[0]["fix"]["action"], "pin", "{text}");
    assert_eq!(
        unpinned[0]["fix"]["constraint"],
        constraint.as_str(),
        "{text}"
    );
    assert!(
        unpinned[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&swarm.worker_node[..12])),
        "the worker is named: {text}"
    );

    let out = tierctl(&ws, &config, &["rewrite", "--swarm", "--write"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(ws.path("p/compose.yaml")).expect("compose");
    assert!(
        written.contains("# the database"),
        "comment kept: {written}"
    );
    assert!(written.contains(&format!("- {constraint}")), "{written}");
    let out = tierctl(&ws, &config, &["audit", "--swarm"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "pinned: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // the pinned stack runs where its data is, deployed as written
    run.deploy(&ws.path("p/compose.yaml"));
    let placed = run.running(1);
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].1, swarm.manager_node, "{placed:?}");
}

#[test]
fn issue24_verify_checks_the_tasks_on_both_nodes_and_reports_an_unreachable_one() {
    let Some(swarm) = swarm() else { return };
    let run = Run::new(&swarm, "verify");
    let image = crate::engine::helper_image();
    let service = |name: &str, side: &str, dir: &str| {
        format!(
            "  {name}:\n    image: {image}\n    command: [\"sleep\", \"3600\"]\n    networks: [hostnet]\n    volumes:\n      - {{root}}/{side}/{{tier}}/{dir}:/{dir}\n    deploy:\n      placement:\n        constraints: [\"node.labels.tierctl.tier.{{tier}}=={{root}}/{side}/{{tier}}\"]\n"
        )
    };
    let compose = format!(
        "version: \"3.8\"\nservices:\n{}{}{NETWORK}",
        service("db", "a", "db"),
        service("web", "b", "web")
    );
    let ws = workspace(&run, &compose);
    let config = contexts(&swarm.worker_socket);
    assign(&ws, &config, &swarm);
    run.deploy(&ws.path("p/compose.yaml"));
    let placed = run.running(2);
    let on: Vec<&str> = placed.iter().map(|(_, n)| n.as_str()).collect();
    assert!(
        on.contains(&swarm.manager_node.as_str()) && on.contains(&swarm.worker_node.as_str()),
        "{placed:?}"
    );

    let args = [
        "-p",
        run.stack.as_str(),
        "verify",
        "--swarm",
        "--format",
        "json",
    ];
    let out = tierctl(&ws, &config, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_str(&text).expect("json");
    let hosts = json["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 2, "{text}");
    assert!(
        hosts
            .iter()
            .all(|h| h["reachable"] == true && h["ok"] == true),
        "{text}"
    );
    let containers = json["containers"].as_array().expect("containers");
    let seen: Vec<(String, String)> = containers
        .iter()
        .map(|c| {
            (
                c["service"].as_str().unwrap_or_default().to_owned(),
                c["node"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 2, "{text}");
    for (svc, node) in [("db", &swarm.manager_node), ("web", &swarm.worker_node)] {
        assert!(
            seen.iter()
                .any(|(s, n)| s == svc && n.contains(&node[..12])),
            "{svc} on {node}: {text}"
        );
    }
    assert!(
        containers
            .iter()
            .flat_map(|c| c["mounts"].as_array().into_iter().flatten())
            .all(|m| m["verdict"] == "ok"),
        "{text}"
    );
    let out = tierctl(
        &ws,
        &config,
        &[
            "-p",
            run.stack.as_str(),
            "verify",
            "--swarm",
            "--format",
            "prometheus",
        ],
    );
    let metrics = String::from_utf8_lossy(&out.stdout);
    assert!(
        metrics.contains(&format!("node=\"vm ({})\"", &swarm.worker_node[..12]))
            || metrics.contains(&swarm.worker_node[..12]),
        "{metrics}"
    );

    // the worker's context reaches nothing: that node is reported, the manager still checked
    let dead = contexts("unix:///var/run/tierctl-swarm-test-nothing-here.sock");
    let out = tierctl(&ws, &dead, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let json: Value = serde_json::from_str(&text).expect("json");
    let hosts = json["hosts"].as_array().expect("hosts");
    let worker = hosts
        .iter()
        .find(|h| {
            h["node"]
                .as_str()
                .is_some_and(|n| n.contains(&swarm.worker_node[..12]))
        })
        .expect("the worker is reported");
    assert_eq!(worker["reachable"], false, "{text}");
    assert!(
        worker["error"]
            .as_str()
            .is_some_and(|e| e.contains("second")),
        "{text}"
    );
    let manager = hosts
        .iter()
        .find(|h| {
            h["node"]
                .as_str()
                .is_some_and(|n| n.contains(&swarm.manager_node[..12]))
        })
        .expect("the manager is reported");
    assert_eq!(manager["ok"], true, "{text}");
}

/// The tier entry `tier` of the node whose id starts like `node` in `tiers status|validate
/// --swarm --format json`.
fn node_tier<'a>(json: &'a Value, node: &str, tier: &str) -> Option<&'a Value> {
    json["nodes"].as_array()?.iter().find(|n| n["id"] == node)?["tiers"]
        .as_array()?
        .iter()
        .find(|t| t["tier"] == tier)
}

#[test]
fn issue24_tiers_status_and_validate_check_each_node_s_tiers_through_its_context() {
    let Some(swarm) = swarm() else { return };
    let run = Run::new(&swarm, "disks");
    let ws = workspace(&run, "services: {}\n");
    let config = contexts(&swarm.worker_socket);
    assign(&ws, &config, &swarm);
    // the manager's root gets its marker (tiers.yaml's main map is the manager's); the
    // worker's has none
    let out = tierctl(&ws, &config, &["tiers", "init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = tierctl(
        &ws,
        &config,
        &["tiers", "validate", "--swarm", "--format", "json"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // other tests' tier labels may sit on the nodes meanwhile: only a floor is certain
    assert!(out.status.code().is_some_and(|c| c >= 1), "{text}");
    let json: Value = serde_json::from_str(&text).expect("json");
    let mine = node_tier(&json, &swarm.manager_node, &run.tier).expect("manager's tier");
    assert_eq!(mine["verdict"], "ok", "{text}");
    assert_eq!(mine["marker"]["tier"], run.tier.as_str(), "{text}");
    assert!(mine["free_bytes"].as_u64().is_some_and(|f| f > 0), "{text}");
    let theirs = node_tier(&json, &swarm.worker_node, &run.tier).expect("worker's tier");
    assert_eq!(theirs["verdict"], "marker-missing", "{text}");
    assert_eq!(
        theirs["root"],
        ws.path(&format!("b/{}", run.tier)).display().to_string(),
        "{text}"
    );

    let out = tierctl(
        &ws,
        &config,
        &["tiers", "status", "--swarm", "--format", "prometheus"],
    );
    let metrics = String::from_utf8_lossy(&out.stdout);
    assert!(
        metrics.contains(&format!(
            "tierctl_node_up{{node=\"vm ({})\",context=\"second\"}} 1",
            &swarm.worker_node[..12]
        )),
        "{metrics}"
    );
    let ok_line = format!(
        "tierctl_tier_ok{{node=\"vm ({})\",context=\"first\",tier=\"{}\"",
        &swarm.manager_node[..12],
        run.tier
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with(&ok_line) && l.ends_with(" 1")),
        "{metrics}"
    );
    let out = tierctl(&ws, &config, &["tiers", "status", "--swarm"]);
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(
        human.contains("2 node(s): 2 checked, 0 unreachable"),
        "{human}"
    );

    // the worker's context reaches nothing: reported, exit 2, the manager still checked
    let dead = contexts("unix:///var/run/tierctl-swarm-test-nothing-here.sock");
    let out = tierctl(
        &ws,
        &dead,
        &["tiers", "validate", "--swarm", "--format", "json"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    let json: Value = serde_json::from_str(&text).expect("json");
    let worker = json["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["id"] == swarm.worker_node.as_str()))
        .expect("the worker is reported");
    assert_eq!(worker["reachable"], false, "{text}");
    assert!(
        worker["error"]
            .as_str()
            .is_some_and(|e| e.contains("second")),
        "{text}"
    );
    let mine = node_tier(&json, &swarm.manager_node, &run.tier).expect("manager still checked");
    assert_eq!(mine["verdict"], "ok", "{text}");
}
