use super::context::current_context;
use super::*;
use crate::tool_config::DiskConfig;
use std::fs;

/// A temp home with a `~/.docker` dir.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(dir.path().join(".docker")).expect("mkdir");
        Home { dir }
    }
    fn docker(&self) -> PathBuf {
        self.dir.path().join(".docker")
    }
    fn config(self, json: &str) -> Self {
        fs::write(self.docker().join("config.json"), json).expect("write");
        self
    }
    fn context(self, name: &str, host: &str) -> Self {
        let meta = format!(
            r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
        );
        self.raw_meta(name, &meta)
    }
    fn tls(self, name: &str, files: &[&str]) -> Self {
        let dir = context_tls_dir(&self.docker(), name);
        fs::create_dir_all(&dir).expect("mkdir");
        for file in files {
            fs::write(dir.join(file), "pem").expect("write");
        }
        self
    }
    fn raw_meta(self, name: &str, text: &str) -> Self {
        let path = meta_path(&self.docker(), name);
        fs::create_dir_all(path.parent().expect("meta has a parent")).expect("mkdir");
        fs::write(path, text).expect("write");
        self
    }
    fn input(&self) -> EndpointInput {
        EndpointInput {
            home: self.dir.path().to_owned(),
            ..Default::default()
        }
    }
}

fn resolve_ok(input: &EndpointInput) -> Endpoint {
    resolve(input, &DiskConfig).expect("resolves")
}

#[test]
fn context_dir_is_sha256_of_name() {
    // the corpus names these directories; see SOURCES.md
    assert_eq!(
        context_dir_name("remote"),
        "b71199ebd070b36beab7317920c2c2f1d777df8d05e5527d8458fda57cb17a7a"
    );
    assert!(context_dir_name("colima").starts_with("f24fd374"));
}

/// One row of [`precedence_table`]: the inputs and the endpoint the docker CLI picks.
struct PrecedenceCase {
    name: &'static str,
    hosts: &'static [&'static str],
    context: Option<&'static str>,
    env: &'static [(&'static str, &'static str)],
    host: &'static str,
    context_name: &'static str,
    source: EndpointSource,
}

/// The docker CLI's precedence, case by case.
const PRECEDENCE: [PrecedenceCase; 10] = [
    PrecedenceCase {
        name: "config file currentContext",
        hosts: &[],
        context: None,
        env: &[],
        host: "unix:///Users/alice/.colima/default/docker.sock",
        context_name: "colima",
        source: EndpointSource::ConfigFile,
    },
    PrecedenceCase {
        name: "DOCKER_CONTEXT beats config",
        hosts: &[],
        context: None,
        env: &[("DOCKER_CONTEXT", "orbstack")],
        host: "unix:///Users/alice/.orbstack/run/docker.sock",
        context_name: "orbstack",
        source: EndpointSource::ContextEnv,
    },
    PrecedenceCase {
        name: "DOCKER_HOST beats DOCKER_CONTEXT",
        hosts: &[],
        context: None,
        env: &[
            ("DOCKER_CONTEXT", "orbstack"),
            ("DOCKER_HOST", "unix:///tmp/d.sock"),
        ],
        host: "unix:///tmp/d.sock",
        context_name: "default",
        source: EndpointSource::HostEnv,
    },
    PrecedenceCase {
        name: "--context beats DOCKER_HOST",
        hosts: &[],
        context: Some("desktop-linux"),
        env: &[("DOCKER_HOST", "unix:///tmp/d.sock")],
        host: "unix:///Users/alice/.docker/run/docker.sock",
        context_name: "desktop-linux",
        source: EndpointSource::ContextFlag,
    },
    PrecedenceCase {
        name: "--context default takes DOCKER_HOST",
        hosts: &[],
        context: Some("default"),
        env: &[("DOCKER_HOST", "tcp://10.0.0.5:2376")],
        host: "tcp://10.0.0.5:2376",
        context_name: "default",
        source: EndpointSource::HostEnv,
    },
    PrecedenceCase {
        name: "-H beats everything in the environment",
        hosts: &["unix:///run/other.sock"],
        context: None,
        env: &[
            ("DOCKER_CONTEXT", "orbstack"),
            ("DOCKER_HOST", "unix:///tmp/d.sock"),
        ],
        host: "unix:///run/other.sock",
        context_name: "default",
        source: EndpointSource::HostFlag,
    },
    PrecedenceCase {
        name: "empty DOCKER_HOST counts as unset",
        hosts: &[],
        context: None,
        env: &[("DOCKER_HOST", ""), ("DOCKER_CONTEXT", "orbstack")],
        host: "unix:///Users/alice/.orbstack/run/docker.sock",
        context_name: "orbstack",
        source: EndpointSource::ContextEnv,
    },
    PrecedenceCase {
        name: "DOCKER_CONTEXT=default uses the default socket",
        hosts: &[],
        context: None,
        env: &[("DOCKER_CONTEXT", "default")],
        host: "unix:///var/run/docker.sock",
        context_name: "default",
        source: EndpointSource::ContextEnv,
    },
    PrecedenceCase {
        name: "-H without scheme is tcp with port 2375",
        hosts: &["10.0.0.7"],
        context: None,
        env: &[],
        host: "tcp://10.0.0.7:2375",
        context_name: "default",
        source: EndpointSource::HostFlag,
    },
    PrecedenceCase {
        name: "unix:// alone is the default socket",
        hosts: &[],
        context: None,
        env: &[("DOCKER_HOST", "unix://")],
        host: "unix:///var/run/docker.sock",
        context_name: "default",
        source: EndpointSource::HostEnv,
    },
];

#[test]
fn precedence_table() {
    let home = Home::new()
        .config(r#"{"auths":{},"currentContext":"colima"}"#)
        .context("colima", "unix:///Users/alice/.colima/default/docker.sock")
        .context("orbstack", "unix:///Users/alice/.orbstack/run/docker.sock")
        .context(
            "desktop-linux",
            "unix:///Users/alice/.docker/run/docker.sock",
        );
    for case in PRECEDENCE {
        let mut input = home.input();
        input.hosts = case.hosts.iter().map(|h| h.to_string()).collect();
        input.context = case.context.map(str::to_owned);
        input.env = case.env.iter().map(|(k, v)| (*k, *v)).collect();
        let ep = resolve(&input, &DiskConfig).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(ep.host, case.host, "{}", case.name);
        assert_eq!(ep.context, case.context_name, "{}", case.name);
        assert_eq!(ep.source, case.source, "{}", case.name);
    }
}

#[test]
fn nothing_set_is_the_default_socket() {
    let home = Home::new();
    let ep = resolve_ok(&home.input());
    assert_eq!(ep.host, "unix:///var/run/docker.sock");
    assert_eq!(ep.kind, EndpointKind::Unix("/var/run/docker.sock".into()));
    assert_eq!(ep.source, EndpointSource::Default);
    assert_eq!(ep.context, "default");
}

#[test]
fn config_without_current_context_is_default() {
    let home = Home::new().config(r#"{"auths":{},"credsStore":"secretservice"}"#);
    assert_eq!(resolve_ok(&home.input()).source, EndpointSource::Default);
}

#[test]
fn docker_config_env_and_config_flag_move_the_config_dir() {
    let elsewhere = Home::new()
        .config(r#"{"currentContext":"orbstack"}"#)
        .context("orbstack", "unix:///o.sock");
    let home = Home::new();
    let mut input = home.input();
    input.env = EnvVars::new().with("DOCKER_CONFIG", &elsewhere.docker().to_string_lossy());
    assert_eq!(resolve_ok(&input).host, "unix:///o.sock");
    let mut input = home.input();
    input.config_dir = Some(elsewhere.docker());
    input.env = EnvVars::new().with("DOCKER_CONFIG", "/nonexistent");
    assert_eq!(resolve_ok(&input).context, "orbstack");
}

#[test]
fn host_and_context_together_is_an_error() {
    let home = Home::new();
    let mut input = home.input();
    input.hosts = vec!["unix:///a.sock".into()];
    input.context = Some("colima".into());
    let err = resolve(&input, &DiskConfig).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        "conflicting options: cannot specify both --host and --context"
    );
}

#[test]
fn two_hosts_is_an_error() {
    let home = Home::new();
    let mut input = home.input();
    input.hosts = vec!["unix:///a.sock".into(), "unix:///b.sock".into()];
    let err = resolve(&input, &DiskConfig).expect_err("two -H");
    assert!(matches!(err, EndpointError::SeveralHosts { .. }), "{err}");
}

#[test]
fn a_swarm_node_s_missing_context_is_named_as_its_label_and_ignores_h() {
    let home = Home::new();
    let mut input = home.input();
    input.hosts = vec!["unix:///manager.sock".into()];
    input.context = Some("nas".into());
    let err = super::resolve_node_context(&input, &DiskConfig).expect_err("missing");
    let msg = err.to_string();
    assert!(
        msg.starts_with("context `nas` (from the swarm node's `tierctl.context` label) not found"),
        "{msg}"
    );
    assert!(
        err.hint()
            .contains("fix the swarm node's `tierctl.context` label"),
        "{}",
        err.hint()
    );
}

#[test]
fn missing_context_names_context_source_and_file() {
    let home = Home::new().config(r#"{"currentContext":"colima-work"}"#);
    let err = resolve(&home.input(), &DiskConfig).expect_err("missing");
    let msg = err.to_string();
    assert!(
        msg.starts_with("context `colima-work` (from currentContext in config.json) not found"),
        "{msg}"
    );
    assert!(msg.contains(&context_dir_name("colima-work")), "{msg}");
    assert!(err.hint().contains("docker context ls"));
}

#[test]
fn bad_config_json_names_the_file_and_line() {
    let home = Home::new().config("{\n  \"currentContext\": \"colima\",\n}\n");
    let err = resolve(&home.input(), &DiskConfig).expect_err("bad json");
    match &err {
        EndpointError::BadConfig { path, line, .. } => {
            assert!(path.ends_with(".docker/config.json"));
            assert_eq!(*line, 3);
        }
        other => panic!("wrong error: {other}"),
    }
    assert!(
        err.to_string()
            .contains("config.json` line 3: invalid JSON"),
        "{err}"
    );
}

#[test]
fn bad_config_json_is_not_read_when_a_higher_level_decides() {
    let home = Home::new().config("not json");
    let mut input = home.input();
    input.env = EnvVars::new().with("DOCKER_HOST", "unix:///x.sock");
    assert_eq!(resolve_ok(&input).host, "unix:///x.sock");
}

#[test]
fn bad_meta_json_names_the_context() {
    let home = Home::new().raw_meta("broken", "{\"Name\":");
    let mut input = home.input();
    input.context = Some("broken".into());
    let err = resolve(&input, &DiskConfig).expect_err("bad meta");
    assert!(
        matches!(&err, EndpointError::BadMeta { name, .. } if name == "broken"),
        "{err}"
    );
    assert!(err.to_string().starts_with("context `broken`: `"), "{err}");
    assert!(err.hint().contains("docker context rm broken"));
}

#[test]
fn meta_without_docker_endpoint_is_an_error() {
    let home = Home::new().raw_meta("k8s", r#"{"Name":"k8s","Metadata":{},"Endpoints":{}}"#);
    let mut input = home.input();
    input.context = Some("k8s".into());
    let err = resolve(&input, &DiskConfig).expect_err("no docker endpoint");
    assert!(err.to_string().contains("no docker endpoint"), "{err}");
}

#[test]
fn unknown_scheme_is_an_error() {
    let home = Home::new().context("weird", "gopher://x");
    let mut input = home.input();
    input.context = Some("weird".into());
    let err = resolve(&input, &DiskConfig).expect_err("scheme");
    assert_eq!(
        err.to_string(),
        "unknown scheme in docker host `gopher://x` (from context `weird`)"
    );
    let mut input = home.input();
    input.env = EnvVars::new().with("DOCKER_HOST", "http://x:1");
    let err = resolve(&input, &DiskConfig).expect_err("http in DOCKER_HOST");
    assert!(err.to_string().contains("(from DOCKER_HOST)"), "{err}");
}

#[test]
fn kinds() {
    let home = Home::new()
        .context("ssh", "ssh://alice@build:22")
        .context("tls", "https://10.0.0.5:2376");
    let mut input = home.input();
    input.context = Some("ssh".into());
    assert_eq!(
        resolve_ok(&input).kind,
        EndpointKind::Ssh("alice@build:22".into())
    );
    input.context = Some("tls".into());
    assert_eq!(
        resolve_ok(&input).kind,
        EndpointKind::Tcp {
            address: "10.0.0.5:2376".into(),
            https: true
        }
    );
}

#[test]
fn context_tls_material_turns_tcp_into_tls() {
    let home = Home::new()
        .context("nas", "tcp://127.0.0.1:2376")
        .tls("nas", &["ca.pem", "cert.pem", "key.pem"])
        .context("plain", "tcp://127.0.0.1:2375");
    let mut input = home.input();
    input.context = Some("nas".into());
    let tls = resolve_ok(&input).tls.expect("tls");
    let dir = home
        .docker()
        .join("contexts/tls")
        .join(context_dir_name("nas"))
        .join("docker");
    assert_eq!(tls.dir, dir);
    assert_eq!(tls.ca, Some(dir.join("ca.pem")));
    assert_eq!(tls.cert, Some(dir.join("cert.pem")));
    assert_eq!(tls.key, Some(dir.join("key.pem")));
    assert!(tls.verify);
    assert_eq!(tls.origin, "the TLS material of context `nas`");
    input.context = Some("plain".into());
    assert_eq!(resolve_ok(&input).tls, None);
}

#[test]
fn https_context_without_material_and_skip_verify() {
    let home = Home::new()
            .raw_meta(
                "lab",
                r#"{"Name":"lab","Endpoints":{"docker":{"Host":"https://127.0.0.1:2376","SkipTLSVerify":true}}}"#,
            )
            .tls("lab", &["ca.pem"]);
    let mut input = home.input();
    input.context = Some("lab".into());
    let ep = resolve_ok(&input);
    let tls = ep.tls.expect("https is tls");
    assert!(!tls.verify);
    assert!(ep.skip_tls_verify);
    assert!(tls.ca.is_some());
    assert_eq!((tls.cert, tls.key), (None, None));
    assert_eq!(tls.origin, "https://");
}

#[test]
fn docker_tls_verify_and_cert_path_from_the_environment() {
    let home = Home::new();
    let certs = tempfile::tempdir().expect("temp dir");
    for file in ["ca.pem", "cert.pem", "key.pem"] {
        fs::write(certs.path().join(file), "pem").expect("write");
    }
    let mut input = home.input();
    input.env = EnvVars::new()
        .with("DOCKER_HOST", "tcp://127.0.0.1")
        .with("DOCKER_TLS_VERIFY", "1")
        .with("DOCKER_CERT_PATH", &certs.path().to_string_lossy());
    let ep = resolve_ok(&input);
    assert_eq!(
        ep.host, "tcp://127.0.0.1:2376",
        "TLS moves the default port"
    );
    let tls = ep.tls.expect("tls");
    assert!(tls.verify);
    assert_eq!(tls.ca, Some(certs.path().join("ca.pem")));
    assert_eq!(tls.origin, "DOCKER_TLS_VERIFY");
    // no DOCKER_CERT_PATH: the config dir, where nothing is
    input.env = EnvVars::new()
        .with("DOCKER_HOST", "tcp://127.0.0.1:9999")
        .with("DOCKER_TLS", "1");
    let tls = resolve_ok(&input).tls.expect("DOCKER_TLS is tls");
    assert_eq!(tls.dir, home.docker());
    assert!(!tls.verify);
    assert_eq!(tls.ca, None);
    // an empty DOCKER_TLS_VERIFY is off, and TLS never applies to a socket
    input.env = EnvVars::new()
        .with("DOCKER_HOST", "tcp://127.0.0.1:2375")
        .with("DOCKER_TLS_VERIFY", "");
    assert_eq!(resolve_ok(&input).tls, None);
    input.env = EnvVars::new()
        .with("DOCKER_HOST", "unix:///x.sock")
        .with("DOCKER_TLS_VERIFY", "1");
    assert_eq!(resolve_ok(&input).tls, None);
}

#[test]
fn ssh_endpoints_from_context_and_environment() {
    let home = Home::new().context("nas", "ssh://alice@nas.lan:2222");
    let mut input = home.input();
    input.context = Some("nas".into());
    let ep = resolve_ok(&input);
    assert_eq!(ep.kind, EndpointKind::Ssh("alice@nas.lan:2222".into()));
    assert_eq!(ep.tls, None);
    let mut input = home.input();
    input.env = EnvVars::new()
        .with("DOCKER_HOST", "ssh://build")
        .with("DOCKER_TLS_VERIFY", "1");
    let ep = resolve_ok(&input);
    assert_eq!(ep.kind, EndpointKind::Ssh("build".into()));
    assert_eq!(ep.tls, None);
}

#[test]
fn ssh_destinations() {
    let ok = |text: &str| SshDestination::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let d = ok("alice@nas.lan:2222");
    assert_eq!(d.user.as_deref(), Some("alice"));
    assert_eq!((d.host.as_str(), d.port), ("nas.lan", Some(2222)));
    assert_eq!(d.ssh_args(), ["-l", "alice", "-p", "2222", "--", "nas.lan"]);
    assert_eq!(d.command_line(), "ssh -p 2222 alice@nas.lan");
    let d = ok("nas");
    assert_eq!((d.user.as_deref(), d.port), (None, None));
    assert_eq!(d.ssh_args(), ["--", "nas"]);
    let d = ok("[::1]:22");
    assert_eq!((d.host.as_str(), d.port), ("::1", Some(22)));
    for bad in [
        "alice:pw@nas",
        "@nas",
        "nas/path",
        "nas:notaport",
        "",
        "[::1",
    ] {
        assert!(SshDestination::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn context_names_lists_default_then_the_store_by_name() {
    let home = Home::new()
        .context("nas", "ssh://nas")
        .context("b-lab", "tcp://127.0.0.1:2375");
    let names = context_names(&home.input(), &DiskConfig).expect("lists");
    assert_eq!(names, ["default", "b-lab", "nas"]);
    let empty = Home::new();
    assert_eq!(
        context_names(&empty.input(), &DiskConfig).expect("lists"),
        ["default"]
    );
}

#[test]
fn corpus_contexts_resolve() {
    let Some(engines) = crate::vm::testfiles::corpus_engines() else {
        return;
    };
    let derived = engines.join("docker-cli/derived");
    let cases = [
        ("colima", "unix:///Users/alice/.colima/default/docker.sock"),
        (
            "colima-work",
            "unix:///Users/alice/.colima/work/docker.sock",
        ),
        ("rancher-desktop", "unix:///Users/alice/.rd/docker.sock"),
        ("orbstack", "unix:///Users/alice/.orbstack/run/docker.sock"),
        (
            "desktop-linux",
            "unix:///Users/alice/.docker/run/docker.sock",
        ),
    ];
    for (name, host) in cases {
        let input = EndpointInput {
            context: Some(name.into()),
            config_dir: Some(derived.clone()),
            home: "/Users/alice".into(),
            ..Default::default()
        };
        let ep = resolve(&input, &DiskConfig).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ep.host, host, "{name}");
    }
    // the verbatim docker/cli test config: no currentContext, and a `remote` ssh context
    let cli = engines.join("docker-cli");
    let mut input = EndpointInput {
        config_dir: Some(cli.clone()),
        ..Default::default()
    };
    let verbatim =
        fs::read_to_string(cli.join("config.no-current-context.json")).expect("corpus file");
    assert_eq!(current_context_of(&verbatim), None);
    assert_eq!(resolve_ok(&input).source, EndpointSource::Default);
    input.context = Some("remote".into());
    assert_eq!(
        resolve_ok(&input).kind,
        EndpointKind::Ssh("HOST-REDACTED".into())
    );
    let text = fs::read_to_string(derived.join("config.current-context-colima.json"))
        .expect("corpus file");
    assert_eq!(current_context_of(&text), Some("colima".into()));
}

fn current_context_of(json: &str) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.json");
    fs::write(&path, json).expect("write");
    current_context(&path, &DiskConfig).expect("valid")
}

fn unix(context: &str, path: &str) -> Endpoint {
    Endpoint {
        host: format!("unix://{path}"),
        context: context.into(),
        source: EndpointSource::Default,
        kind: EndpointKind::Unix(path.into()),
        skip_tls_verify: false,
        meta_file: None,
        tls: None,
        remote_mark: None,
    }
}

#[test]
fn identify_by_context_name_and_socket() {
    let colima = |p: &str| EngineGuess::Colima { profile: p.into() };
    let cases = [
        (unix("colima", "/x.sock"), colima("default")),
        (unix("colima-work", "/x.sock"), colima("work")),
        (
            unix("default", "/Users/alice/.colima/work/docker.sock"),
            colima("work"),
        ),
        (
            unix("default", "/Users/alice/.colima/default/docker.sock"),
            colima("default"),
        ),
        (
            unix("default", "/Users/alice/.colima/docker.sock"),
            colima("default"),
        ),
        (unix("desktop-linux", "/x.sock"), EngineGuess::DockerDesktop),
        (
            unix("default", "/Users/alice/.docker/run/docker.sock"),
            EngineGuess::DockerDesktop,
        ),
        (unix("orbstack", "/x.sock"), EngineGuess::OrbStack),
        (
            unix("default", "/Users/alice/.orbstack/run/docker.sock"),
            EngineGuess::OrbStack,
        ),
        (
            unix("rancher-desktop", "/x.sock"),
            EngineGuess::RancherDesktop,
        ),
        (
            unix("default", "/Users/alice/.rd/docker.sock"),
            EngineGuess::RancherDesktop,
        ),
        (
            unix("default", "/Users/alice/.lima/docker/sock/docker.sock"),
            EngineGuess::Lima {
                instance: "docker".into(),
            },
        ),
        (
            unix(
                "default",
                "/var/folders/x/T/podman/podman-machine-default-api.sock",
            ),
            EngineGuess::Podman {
                machine: Some("podman-machine-default".into()),
            },
        ),
        (
            unix(
                "default",
                "/Users/alice/.local/share/containers/podman/machine/dev/podman.sock",
            ),
            EngineGuess::Podman {
                machine: Some("dev".into()),
            },
        ),
        (
            unix("default", "/run/user/1000/podman/podman.sock"),
            EngineGuess::Podman { machine: None },
        ),
        (unix("default", "/var/run/docker.sock"), EngineGuess::Native),
        (unix("default", "/run/docker.sock"), EngineGuess::Native),
        (unix("default", "/tmp/elsewhere.sock"), EngineGuess::Unknown),
    ];
    for (ep, want) in cases {
        assert_eq!(identify_on(&ep, "linux"), want, "{}", ep.host);
    }
}

#[test]
fn var_run_docker_sock_on_a_mac_is_unknown() {
    assert_eq!(
        identify_on(&unix("default", "/var/run/docker.sock"), "macos"),
        EngineGuess::Unknown
    );
}

#[test]
fn tcp_and_ssh_are_remote() {
    let mut ep = unix("default", "/x");
    ep.kind = EndpointKind::Ssh("host".into());
    assert_eq!(identify_on(&ep, "linux"), EngineGuess::Remote);
}

#[test]
fn refine_by_docker_info() {
    assert_eq!(
        refine(EngineGuess::Unknown, "Docker Desktop", "docker-desktop"),
        EngineGuess::DockerDesktop
    );
    assert_eq!(
        refine(EngineGuess::Unknown, "OrbStack", "orbstack"),
        EngineGuess::OrbStack
    );
    assert_eq!(
        refine(EngineGuess::Native, "Rancher Desktop WSL Distribution", "x"),
        EngineGuess::RancherDesktop
    );
    assert_eq!(
        refine(EngineGuess::Unknown, "Ubuntu 24.04.1 LTS", "colima-work"),
        EngineGuess::Colima {
            profile: "work".into()
        }
    );
    assert_eq!(
        refine(
            EngineGuess::Unknown,
            "Alpine Linux v3.20",
            "lima-rancher-desktop"
        ),
        EngineGuess::RancherDesktop
    );
    assert_eq!(
        refine(EngineGuess::Unknown, "Ubuntu", "lima-docker"),
        EngineGuess::Lima {
            instance: "docker".into()
        }
    );
    // a specific guess stands against a generic OS name
    assert_eq!(
        refine(
            EngineGuess::Colima {
                profile: "default".into()
            },
            "Ubuntu 24.04 LTS",
            "colima"
        ),
        EngineGuess::Colima {
            profile: "default".into()
        }
    );
    assert_eq!(
        refine(EngineGuess::Native, "Debian GNU/Linux 12", "host"),
        EngineGuess::Native
    );
}
