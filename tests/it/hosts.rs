//! Test support for the second engine `.ci/hosts` starts on this machine: its own unix socket,
//! tcp://127.0.0.1 with --tlsverify, and ssh through an sshd on 127.0.0.1 (host aliases in
//! /etc/ssh/ssh_config.d/tierctl-engine2.conf). The script writes what the tests need to
//! /var/lib/tierctl-engine2/env (or `$TIERCTL_HOSTS_ENV`). Without it the tests skip loudly,
//! and fail under `TIERCTL_REQUIRE_DOCKER=1`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use tierctl::engine::Containers;
use tierctl::engine::container::{ContainerSpec, labels};
use tierctl::engine::docker::DockerEngine;
use tierctl::engine::endpoint::{self, EndpointInput, context_dir_name, context_tls_dir};
use tierctl::vm::DiskConfig;

use crate::engine::{helper_image, required};

const ENV_FILE: &str = "/var/lib/tierctl-engine2/env";

/// The second engine and the ways to reach it.
pub struct Engine2 {
    /// Its unix socket.
    pub socket: PathBuf,
    /// `tcp://127.0.0.1:PORT` (TLS only).
    pub tls_host: String,
    /// `ca.pem`, `cert.pem`, `key.pem` that the engine accepts.
    pub tls_dir: PathBuf,
    /// The same client certificate with a CA that did not sign the engine's certificate.
    pub wrong_ca_dir: PathBuf,
    /// `ssh://ALIAS` (an `~/.ssh/config`-style host alias).
    pub ssh_host: String,
    /// `ssh://USER@127.0.0.1:PORT`.
    pub ssh_url: String,
    /// An alias whose host key is in no known_hosts file.
    pub ssh_unknown_host_key: String,
    /// An alias that offers a key the server does not accept.
    pub ssh_bad_key: String,
}

/// The second engine, or `None` (with a loud note) when `.ci/hosts` has not run.
pub fn engine2() -> Option<Engine2> {
    let file = std::env::var("TIERCTL_HOSTS_ENV").unwrap_or_else(|_| ENV_FILE.to_owned());
    let found = std::fs::read_to_string(&file)
        .map_err(|e| format!("`{file}`: {e}"))
        .and_then(|text| parse(&text).ok_or_else(|| format!("`{file}` lacks a key")))
        .and_then(|e2| match e2.engine() {
            Ok(_) => Ok(e2),
            Err(reason) => Err(reason),
        });
    match found {
        Ok(e2) => Some(e2),
        Err(reason) if required() => {
            panic!("TIERCTL_REQUIRE_DOCKER=1 but the second engine is missing: {reason}")
        }
        Err(reason) => {
            skipped!("no second engine ({reason}); run `sudo bash .ci/hosts` to start one");
            None
        }
    }
}

fn parse(text: &str) -> Option<Engine2> {
    let map: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| map.get(k).map(|v| (*v).to_owned());
    Some(Engine2 {
        socket: get("TIERCTL_ENGINE2_SOCKET")?.into(),
        tls_host: get("TIERCTL_ENGINE2_TLS_HOST")?,
        tls_dir: get("TIERCTL_ENGINE2_TLS_DIR")?.into(),
        wrong_ca_dir: get("TIERCTL_ENGINE2_WRONG_CA_DIR")?.into(),
        ssh_host: get("TIERCTL_ENGINE2_SSH_HOST")?,
        ssh_url: get("TIERCTL_ENGINE2_SSH_URL")?,
        ssh_unknown_host_key: get("TIERCTL_ENGINE2_SSH_UNKNOWN_HOST_KEY")?,
        ssh_bad_key: get("TIERCTL_ENGINE2_SSH_BAD_KEY")?,
    })
}

impl Engine2 {
    /// `unix://SOCKET`.
    pub fn unix_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The engine over its unix socket (to set up what the tests then look at remotely).
    pub fn engine(&self) -> Result<DockerEngine, String> {
        let input = EndpointInput {
            hosts: vec![self.unix_host()],
            ..Default::default()
        };
        let ep = endpoint::resolve(&input, &DiskConfig).map_err(|e| e.to_string())?;
        DockerEngine::connect(&ep).map_err(|e| e.to_string())
    }
}

/// A docker CLI config dir (for `DOCKER_CONFIG`) holding contexts, as `docker context create`
/// writes them.
pub struct DockerConfig {
    dir: tempfile::TempDir,
}

impl DockerConfig {
    pub fn new() -> Self {
        DockerConfig {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A context whose docker endpoint is `host`.
    pub fn context(self, name: &str, host: &str) -> Self {
        let meta = self
            .path()
            .join("contexts/meta")
            .join(context_dir_name(name))
            .join("meta.json");
        std::fs::create_dir_all(meta.parent().expect("parent")).expect("mkdir");
        let text = serde_json::json!({
            "Name": name,
            "Metadata": {},
            "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}},
        });
        std::fs::write(meta, text.to_string()).expect("write meta.json");
        self
    }

    /// Write `"tierctl.remote": remote` into the `Metadata` of context `name` (what a user
    /// writes in its `meta.json` to tell tierctl the engine is on another machine).
    pub fn mark_remote(self, name: &str, remote: bool) -> Self {
        let meta = self
            .path()
            .join("contexts/meta")
            .join(context_dir_name(name))
            .join("meta.json");
        let text = std::fs::read_to_string(&meta).expect("context written first");
        let mut value: serde_json::Value = serde_json::from_str(&text).expect("meta.json");
        value["Metadata"]["tierctl.remote"] = serde_json::Value::Bool(remote);
        std::fs::write(meta, value.to_string()).expect("write meta.json");
        self
    }

    /// A context at `host` with the TLS material of `material` (ca.pem, cert.pem, key.pem).
    pub fn tls_context(self, name: &str, host: &str, material: &Path) -> Self {
        let dir = context_tls_dir(self.path(), name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for file in ["ca.pem", "cert.pem", "key.pem"] {
            std::fs::copy(material.join(file), dir.join(file)).expect("copy TLS material");
        }
        self.context(name, host)
    }
}

/// A compose-labelled container on an engine, removed when dropped.
pub struct RemoteProject {
    engine: DockerEngine,
    pub name: String,
    containers: Vec<String>,
}

impl RemoteProject {
    /// A unique project name for `test`.
    pub fn new(engine: DockerEngine, test: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "tierctl-hosts-{test}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Self::named(engine, name)
    }

    /// A project called `name` (the same project on another engine).
    pub fn named(engine: DockerEngine, name: String) -> Self {
        RemoteProject {
            engine,
            name,
            containers: Vec::new(),
        }
    }

    /// Start `service` (the helper image, sleeping) with `source` bound at `target`.
    pub fn service(&mut self, service: &str, source: &Path, target: &str) -> String {
        let name = format!("{}-{service}-1", self.name);
        let spec = ContainerSpec {
            name: name.clone(),
            image: helper_image(),
            command: vec!["sleep".into(), "600".into()],
            labels: BTreeMap::from([
                (labels::PROJECT.to_owned(), self.name.clone()),
                (labels::SERVICE.to_owned(), service.to_owned()),
                (labels::NUMBER.to_owned(), "1".to_owned()),
                (labels::ONEOFF.to_owned(), "False".to_owned()),
            ]),
            binds: vec![(source.display().to_string(), target.to_owned())],
            volumes: Vec::new(),
        };
        let id = self.engine.create_running(&spec).expect("container starts");
        self.containers.push(id);
        name
    }
}

impl Drop for RemoteProject {
    fn drop(&mut self) {
        for id in &self.containers {
            let _ = self.engine.remove(id);
        }
    }
}
