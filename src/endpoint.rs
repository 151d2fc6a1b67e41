//! The Docker endpoint as data: where the docker CLI would connect (`Endpoint`: context,
//! source, kind, TLS material, the `tierctl.remote` mark) and which engine serves it
//! (`EngineGuess`). `engine::endpoint` resolves them as the docker CLI does and refines the
//! guess from `docker info`; the core (`host`, `share`, `report`) only reads them.

use std::fmt;
use std::path::PathBuf;

/// Where the endpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointSource {
    /// `-H/--host`.
    HostFlag,
    /// `--context`.
    ContextFlag,
    /// `DOCKER_HOST`.
    HostEnv,
    /// `DOCKER_CONTEXT`.
    ContextEnv,
    /// `currentContext` in `config.json`.
    ConfigFile,
    /// Nothing set: the `default` context and its socket.
    Default,
    /// A Swarm node's `tierctl.context` label (`verify --swarm`, `tiers status --swarm`,
    /// `migrate --to-node`).
    NodeLabel,
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndpointSource::HostFlag => "-H/--host",
            EndpointSource::ContextFlag => "--context",
            EndpointSource::HostEnv => "DOCKER_HOST",
            EndpointSource::ContextEnv => "DOCKER_CONTEXT",
            EndpointSource::ConfigFile => "currentContext in config.json",
            EndpointSource::Default => "the default context",
            EndpointSource::NodeLabel => "the swarm node's `tierctl.context` label",
        })
    }
}

/// How to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointKind {
    /// A unix socket at this path.
    Unix(PathBuf),
    /// TCP (`tcp://`, `http://`, `https://`): the address after the scheme.
    Tcp {
        /// `host:port` (and path, if any).
        address: String,
        /// `https://` was given.
        https: bool,
    },
    /// `ssh://[user@]host[:port]`: the part after the scheme.
    Ssh(String),
    /// A Windows named pipe.
    Npipe(String),
    /// `fd://` (systemd socket activation; only meaningful to dockerd).
    Fd(String),
}

/// The resolved Docker endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host URL, e.g. `unix:///Users/alice/.colima/default/docker.sock`.
    pub host: String,
    /// The context name (`default` when none).
    pub context: String,
    /// Where it came from.
    pub source: EndpointSource,
    /// How to connect.
    pub kind: EndpointKind,
    /// `SkipTLSVerify` from the context metadata.
    pub skip_tls_verify: bool,
    /// The context's `meta.json`, when a stored context was used.
    pub meta_file: Option<PathBuf>,
    /// TLS for a tcp endpoint: `https://`, `DOCKER_TLS_VERIFY`/`DOCKER_TLS` with the default
    /// context, or a stored context with TLS material; `None` is plain http.
    pub tls: Option<Tls>,
    /// `tierctl.remote` in the context's `Metadata` (a boolean): the user's word on whether the
    /// engine's host is another machine (see the `host` module); `None` when not written.
    pub remote_mark: Option<bool>,
}

/// The TLS material of an endpoint, as the docker CLI finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// Where the material was looked for: `DOCKER_CERT_PATH` (else the config dir) for the
    /// default context, `contexts/tls/<sha256 of name>/docker` for a stored one.
    pub dir: PathBuf,
    /// `ca.pem`, when present.
    pub ca: Option<PathBuf>,
    /// `cert.pem` (the client certificate), when present.
    pub cert: Option<PathBuf>,
    /// `key.pem` (the client key), when present.
    pub key: Option<PathBuf>,
    /// Verify the server's certificate (`DOCKER_TLS_VERIFY`; a context unless `SkipTLSVerify`).
    pub verify: bool,
    /// Where TLS was asked for (`DOCKER_TLS_VERIFY`, `https://`, the context's TLS material).
    pub origin: String,
}

/// Which engine serves an endpoint, guessed from the context name and socket path only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineGuess {
    /// dockerd running on this Linux host.
    Native,
    /// Colima, with its profile (`default` for the `colima` context).
    Colima {
        /// The profile.
        profile: String,
    },
    /// Docker Desktop.
    DockerDesktop,
    /// OrbStack.
    OrbStack,
    /// Rancher Desktop.
    RancherDesktop,
    /// A plain Lima instance.
    Lima {
        /// The instance name.
        instance: String,
    },
    /// Podman machine (or rootless podman), with the machine name when the socket names it.
    Podman {
        /// The machine name.
        machine: Option<String>,
    },
    /// A remote engine (tcp, ssh).
    Remote,
    /// A local socket that matches nothing known.
    Unknown,
}

/// A short name for the engine.
pub fn engine_label(engine: &EngineGuess) -> String {
    match engine {
        EngineGuess::Native => "native Linux engine (no VM)".into(),
        EngineGuess::Colima { profile } => format!("Colima (profile `{profile}`)"),
        EngineGuess::DockerDesktop => "Docker Desktop".into(),
        EngineGuess::OrbStack => "OrbStack".into(),
        EngineGuess::RancherDesktop => "Rancher Desktop".into(),
        EngineGuess::Lima { instance } => format!("Lima (instance `{instance}`)"),
        EngineGuess::Podman { machine } => match machine {
            Some(m) => format!("Podman machine `{m}`"),
            None => "Podman".into(),
        },
        EngineGuess::Remote => "remote engine (shares unknown)".into(),
        EngineGuess::Unknown => "unknown engine (shares unknown)".into(),
    }
}
