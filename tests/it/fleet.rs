//! `tierctl verify` over several engines: the first engine (a context at its socket), the second
//! engine of `.ci/hosts` (a TLS context) and a dead one, in one run. The dead host is reported
//! and does not hide the others. The first engine is shared with other test runs, so these
//! runs name their project with `-p` (one project with a service on each engine): checking
//! every project would write marker files into other runs' directories.

use serde_json::Value;

use crate::engine::engine;
use crate::hosts::{DockerConfig, RemoteProject, engine2};
use crate::workspace::Workspace;

/// The three contexts, a project on each live engine, and a workspace to run in.
struct Fleet {
    config: DockerConfig,
    ws: Workspace,
    project: RemoteProject,
    _second: RemoteProject,
    /// The container on the first engine, and on the second.
    containers: [String; 2],
}

fn fleet() -> Option<Fleet> {
    let first_engine = engine()?;
    let e2 = engine2()?;
    let ws = Workspace::new().dir("one").dir("two").dir("home");
    let dead = format!("tcp://127.0.0.1:{}", dead_port());
    let config = DockerConfig::new()
        .context("first", "unix:///var/run/docker.sock")
        .tls_context("second", &e2.tls_host, &e2.tls_dir)
        .context("gone", &dead);
    let mut project = RemoteProject::new(first_engine, "fleet");
    let one = project.service("app", &ws.path("one"), "/one");
    let mut second = RemoteProject::named(e2.engine().expect("unix socket"), project.name.clone());
    let two = second.service("db", &ws.path("two"), "/two");
    Some(Fleet {
        config,
        ws,
        project,
        _second: second,
        containers: [one, two],
    })
}

fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Fleet {
    fn verify(&self, args: &[&str]) -> std::process::Output {
        self.ws
            .tierctl("")
            .env("DOCKER_CONFIG", self.config.path())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .args([
                "--context",
                "first",
                "--context",
                "second",
                "--context",
                "gone",
            ])
            .args(["-p", &self.project.name, "verify"])
            .args(args)
            .output()
            .expect("runs")
    }
}

#[test]
fn fleet_verify_groups_by_host_and_reports_the_dead_one_without_hiding_the_others() {
    let Some(f) = fleet() else { return };
    let out = f.verify(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a host could not be checked: {text}"
    );
    let first = text
        .find("== host first (unix:///var/run/docker.sock)")
        .expect("first");
    let second = text
        .find("== host second (tcp://127.0.0.1:")
        .expect("second");
    let gone = text.find("== host gone (tcp://127.0.0.1:").expect("gone");
    assert!(first < second && second < gone, "in the order asked for");
    // each project under its own host, and only there
    let first_block = &text[first..second];
    let second_block = &text[second..gone];
    assert!(first_block.contains(&f.ws.path("one").display().to_string()));
    assert!(!first_block.contains(&f.ws.path("two").display().to_string()));
    assert!(second_block.contains(&f.ws.path("two").display().to_string()));
    assert!(second_block.starts_with("== host second (tcp://127.0.0.1:"));
    assert!(second_block.contains(": ok\n"), "{second_block}");
    let gone_block = &text[gone..];
    assert!(
        gone_block.contains(
            ": UNREACHABLE\nerror: cannot connect to the Docker engine of context `gone`"
        )
    );
    assert!(gone_block.contains("connection refused"));
    assert!(gone_block.contains("\nhint: "));
    assert!(text.contains("3 hosts: "), "{text}");
    assert!(text.trim_end().ends_with("1 unreachable"), "{text}");
}

#[test]
fn fleet_verify_json_has_a_host_on_each_container_and_prometheus_a_host_label() {
    let Some(f) = fleet() else { return };
    let out = f.verify(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for key in ["version", "project", "engine", "ok", "containers", "notes"] {
        assert!(json.get(key).is_some(), "the single-engine key {key}");
    }
    let hosts_of: Vec<(&str, &str)> = json["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name"),
                c["host"].as_str().expect("host"),
            )
        })
        .collect();
    let [one, two] = &f.containers;
    assert_eq!(
        hosts_of,
        [(one.as_str(), "first"), (two.as_str(), "second")]
    );
    let hosts: Vec<(&str, bool)> = json["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| (h["host"].as_str().expect("host"), h["reachable"] == true))
        .collect();
    assert_eq!(hosts, [("first", true), ("second", true), ("gone", false)]);
    assert_eq!(json["ok"], false);

    let out = f.verify(&["--format", "prometheus"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tierctl_host_up{host=\"second\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("tierctl_host_up{host=\"gone\"} 0\n"),
        "{text}"
    );
    let container = format!("container=\"{two}\"");
    let sample = text
        .lines()
        .find(|l| l.starts_with("tierctl_mount_ok{") && l.contains(&container))
        .expect("a sample of the second engine's container");
    assert!(
        sample.starts_with("tierctl_mount_ok{host=\"second\","),
        "{sample}"
    );
    assert!(sample.ends_with(" 1"), "{sample}");
}

#[test]
fn all_contexts_checks_default_and_every_stored_context() {
    let Some(f) = fleet() else { return };
    let out =
        f.ws.tierctl("")
            .env("DOCKER_CONFIG", f.config.path())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .args([
                "-p",
                &f.project.name,
                "verify",
                "--all-contexts",
                "--format",
                "json",
            ])
            .output()
            .expect("runs");
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let hosts: Vec<&str> = json["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| h["host"].as_str().expect("host"))
        .collect();
    assert_eq!(hosts, ["default", "first", "gone", "second"]);
    assert_eq!(out.status.code(), Some(2));
    // the project's container on the first engine, seen through `default` and `first`
    let containers = json["containers"].as_array().expect("containers");
    let on = |host: &str| containers.iter().filter(|c| c["host"] == host).count();
    assert_eq!((on("default"), on("first"), on("second")), (1, 1, 1));
}

#[test]
fn several_contexts_for_a_one_engine_command_is_an_error() {
    let ws = Workspace::new()
        .dir("home")
        .file("compose.yaml", "services:\n  app:\n    image: busybox\n");
    let out = ws
        .tierctl("")
        .args(["--context", "a", "--context", "b", "vm"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("2 contexts given (`a`, `b`)"), "{stderr}");
    assert!(stderr.contains("hint: pass one --context"), "{stderr}");
}

#[test]
fn all_contexts_with_a_named_context_is_an_error() {
    let ws = Workspace::new().dir("home");
    for args in [
        &["--context", "a", "verify", "--all-contexts"][..],
        &["verify", "--all-contexts", "--context", "a"][..],
        &["-H", "unix:///nonexistent.sock", "verify", "--all-contexts"][..],
    ] {
        let out = ws.tierctl("").args(args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--all-contexts"), "{args:?}: {stderr}");
    }
}
