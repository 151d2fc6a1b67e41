//! Remote endpoints against the second engine of `.ci/hosts`: TLS (a context's material,
//! `DOCKER_TLS_VERIFY` + `DOCKER_CERT_PATH`) and ssh (a host alias from the ssh config, and a
//! `user@127.0.0.1:port` URL), each reaching that engine and nothing else; and the clear error
//! for an unknown host key, a refused key, a dead port, a wrong CA, plain http to a TLS port and
//! a silent port (bounded).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::Value;
use tierctl::engine::Containers;
use tierctl::engine::EngineError;
use tierctl::engine::connect::ConnectProblem;
use tierctl::engine::container::labels;
use tierctl::engine::docker::DockerEngine;
use tierctl::engine::endpoint::{self, Endpoint, EndpointInput};
use tierctl::engine::{Engine, observe};
use tierctl::vm::{DiskConfig, EnvVars};

use crate::hosts::{DockerConfig, Engine2, RemoteProject, engine2};
use crate::workspace::Workspace;

/// Resolve like the docker CLI with this environment and `--context`.
fn resolve(env: &[(&str, &str)], context: Option<&str>) -> Endpoint {
    let input = EndpointInput {
        context: context.map(str::to_owned),
        env: env.iter().copied().collect::<EnvVars>(),
        home: "/nonexistent-home".into(),
        ..Default::default()
    };
    endpoint::resolve(&input, &DiskConfig).expect("resolves")
}

fn tls_env(e2: &Engine2, cert_dir: &std::path::Path) -> Vec<(String, String)> {
    vec![
        ("DOCKER_HOST".into(), e2.tls_host.clone()),
        ("DOCKER_TLS_VERIFY".into(), "1".into()),
        ("DOCKER_CERT_PATH".into(), cert_dir.display().to_string()),
    ]
}

fn connect_err(ep: &Endpoint, limit: Duration) -> (ConnectProblem, String, String) {
    match DockerEngine::connect_within(ep, limit) {
        Ok(_) => panic!("{} answered", ep.host),
        Err(e @ EngineError::Connect { .. }) => {
            let EngineError::Connect { ref problem, .. } = e else {
                unreachable!()
            };
            (problem.clone(), e.to_string(), e.hint())
        }
        Err(other) => panic!("{}: not a connect error: {other}", ep.host),
    }
}

/// The project's containers as `verify` selects them on `engine`.
fn project_containers(engine: &DockerEngine, project: &str) -> Vec<String> {
    engine
        .running_with_labels(&[(labels::PROJECT, project)])
        .expect("list")
}

#[test]
fn tls_endpoints_from_a_context_and_from_the_environment_reach_the_second_engine() {
    let Some(e2) = engine2() else { return };
    let mut project = RemoteProject::new(e2.engine().expect("unix socket"), "tls");
    let dir = tempfile::tempdir().expect("temp dir");
    project.service("app", dir.path(), "/data");

    let config = DockerConfig::new().tls_context("e2-tls", &e2.tls_host, &e2.tls_dir);
    let config_dir = config.path().display().to_string();
    let from_context = resolve(&[("DOCKER_CONFIG", &config_dir)], Some("e2-tls"));
    let tls = from_context
        .tls
        .as_ref()
        .expect("the context's TLS material");
    assert!(tls.verify && tls.ca.is_some() && tls.cert.is_some() && tls.key.is_some());
    let env = tls_env(&e2, &e2.tls_dir);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let from_env = resolve(&env, None);
    assert_eq!(from_env.host, e2.tls_host);
    for ep in [from_context, from_env] {
        let engine = DockerEngine::connect(&ep).unwrap_or_else(|e| panic!("{}: {e}", ep.host));
        assert_eq!(engine.info().expect("info").os_type, "linux");
        assert_eq!(
            project_containers(&engine, &project.name).len(),
            1,
            "{}",
            ep.host
        );
    }
    // the first engine (when one answers here) has no such project: it is another engine
    if let Some(first) = crate::engine::engine() {
        assert!(project_containers(&first, &project.name).is_empty());
    }
}

#[test]
fn ssh_endpoints_from_an_alias_and_a_url_reach_the_second_engine() {
    let Some(e2) = engine2() else { return };
    let mut project = RemoteProject::new(e2.engine().expect("unix socket"), "ssh");
    let dir = tempfile::tempdir().expect("temp dir");
    project.service("app", dir.path(), "/data");
    let config = DockerConfig::new().context("e2-ssh", &e2.ssh_url);
    let config_dir = config.path().display().to_string();
    for ep in [
        resolve(&[("DOCKER_HOST", &e2.ssh_host)], None),
        resolve(&[("DOCKER_CONFIG", &config_dir)], Some("e2-ssh")),
    ] {
        let engine = DockerEngine::connect(&ep).unwrap_or_else(|e| panic!("{}: {e}", ep.host));
        assert_eq!(
            project_containers(&engine, &project.name).len(),
            1,
            "{}",
            ep.host
        );
        // a helper container and an exec go over ssh too
        let (found, _) =
            observe::select(&engine, &observe::Selection::Project(project.name.clone()))
                .expect("select");
        let out = engine
            .exec(&found[0].id, &["cat".into(), "/proc/self/mounts".into()])
            .expect("exec over ssh");
        assert!(out.stdout.contains(" /data "), "{}", out.stdout);
    }
}

/// `tierctl verify` and `tierctl vm` over TLS and over ssh, against a project that runs only on
/// the second engine.
#[test]
fn verify_and_vm_over_tls_and_ssh() {
    let Some(e2) = engine2() else { return };
    let mut project = RemoteProject::new(e2.engine().expect("unix socket"), "cli");
    let ws = Workspace::new().dir("data").dir("home").file(
        "compose.yaml",
        &format!(
            "name: {}\nservices:\n  app:\n    image: busybox\n    volumes:\n      - ./data:/data\n",
            project.name
        ),
    );
    let container = project.service("app", &ws.path("data"), "/data");
    let config = DockerConfig::new().tls_context("e2-tls", &e2.tls_host, &e2.tls_dir);
    let ways: [(&str, Vec<&str>); 2] = [
        ("tls", vec!["--context", "e2-tls"]),
        ("ssh", vec!["-H", &e2.ssh_host]),
    ];
    for (way, flags) in ways {
        let out = ws
            .tierctl("")
            .env("DOCKER_CONFIG", config.path())
            .env_remove("DOCKER_HOST")
            .args(&flags)
            .args(["verify", "--format", "json"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.code().is_some_and(|c| c < 2), "{way}: {stderr}");
        let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let names: Vec<&str> = json["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| c["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, [container.as_str()], "{way}");
        let out = ws
            .tierctl("")
            .env("DOCKER_CONFIG", config.path())
            .env_remove("DOCKER_HOST")
            .args(&flags)
            .arg("vm")
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{way}: {stdout}");
        assert!(stdout.contains("remote engine"), "{way}: {stdout}");
    }
}

#[test]
fn ssh_unknown_host_key_refused_key_and_dead_port_each_say_so() {
    let Some(e2) = engine2() else { return };
    let limit = Duration::from_secs(10);
    let cases = [
        (
            &e2.ssh_unknown_host_key,
            ConnectProblem::UnknownHostKey,
            "Host key verification failed",
        ),
        (
            &e2.ssh_bad_key,
            ConnectProblem::SshAuth,
            "Permission denied",
        ),
    ];
    for (host, want, ssh_said) in cases {
        let (problem, message, hint) = connect_err(&resolve(&[("DOCKER_HOST", host)], None), limit);
        assert_eq!(problem, want, "{message}");
        assert!(message.contains(&format!("at `{host}`")), "{message}");
        assert!(message.contains(ssh_said), "{message}");
        assert!(!hint.is_empty());
    }
    let dead = format!("ssh://tierctl-remote@127.0.0.1:{}", dead_port());
    let (problem, message, _) = connect_err(&resolve(&[("DOCKER_HOST", &dead)], None), limit);
    assert_eq!(problem, ConnectProblem::Refused, "{message}");
    assert!(message.contains(&dead), "{message}");
}

#[test]
fn tls_wrong_ca_dead_port_plain_http_and_a_silent_port_each_say_so() {
    let Some(e2) = engine2() else { return };
    let limit = Duration::from_secs(10);
    let env = tls_env(&e2, &e2.wrong_ca_dir);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (problem, message, hint) = connect_err(&resolve(&env, None), limit);
    assert_eq!(problem, ConnectProblem::WrongCa, "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(hint.contains("ca.pem"), "{hint}");

    let dead = format!("tcp://127.0.0.1:{}", dead_port());
    let cert_path = e2.tls_dir.display().to_string();
    let tls = [
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", cert_path.as_str()),
    ];
    let with_host = |host: &str| {
        let mut env = vec![("DOCKER_HOST", host.to_owned())];
        env.extend(tls.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    };
    let env = with_host(&dead);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (problem, message, _) = connect_err(&resolve(&env, None), limit);
    assert_eq!(problem, ConnectProblem::Refused, "{message}");

    let (problem, message, _) =
        connect_err(&resolve(&[("DOCKER_HOST", &e2.tls_host)], None), limit);
    assert_eq!(problem, ConnectProblem::TlsExpected, "{message}");

    // accepts connections (the kernel's backlog) and never answers the TLS handshake
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = format!("tcp://{}", silent.local_addr().expect("addr"));
    let env = with_host(&host);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = Instant::now();
    let (problem, message, hint) = connect_err(&resolve(&env, None), Duration::from_secs(2));
    let took = started.elapsed();
    assert_eq!(problem, ConnectProblem::Timeout { seconds: 2 }, "{message}");
    assert!(took < Duration::from_secs(6), "bounded: took {took:?}");
    assert!(
        message.contains(&host) && hint.contains(&host),
        "{message} / {hint}"
    );
}

/// The wrong CA through the command line: exit 2, the endpoint named, a hint.
#[test]
fn wrong_ca_on_the_command_line_exits_2_naming_the_endpoint() {
    let Some(e2) = engine2() else { return };
    let ws = Workspace::new()
        .dir("home")
        .file("compose.yaml", "services:\n  app:\n    image: busybox\n");
    let out = ws
        .tierctl("")
        .envs(tls_env(&e2, &e2.wrong_ca_dir))
        .arg("vm")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("at `{}`", e2.tls_host)) && stderr.contains("hint: "),
        "{stderr}"
    );
}

/// A loopback port nothing listens on.
fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
