//! Docker endpoint resolution exactly as the docker CLI does it, and a first guess at the engine.
//!
//! Context name (docker/cli `resolveContextName`): `--context`, then the `default` context when
//! `-H` or `DOCKER_HOST` is set, then `DOCKER_CONTEXT`, then `currentContext` in
//! `$DOCKER_CONFIG/config.json`, then `default`. `--context` together with `-H` is an error.
//! `DOCKER_HOST` beats `DOCKER_CONTEXT` but not `--context`. The `default` context takes its host
//! from `-H`, else `DOCKER_HOST`, else `unix:///var/run/docker.sock`; any other context from
//! `contexts/meta/<sha256 hex of name>/meta.json`.
//!
//! One deliberate difference: the docker CLI only warns about a `config.json` it cannot parse
//! and goes on with the `default` context; here that is an error, since guessing the engine
//! would point every later check at the wrong VM.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use crate::endpoint::{Endpoint, EndpointKind, EndpointSource, EngineGuess, Tls};
use crate::tool_config::{ConfigFiles, EnvVars};

/// The docker CLI's built-in context name.
pub const DEFAULT_CONTEXT: &str = "default";
/// The socket the `default` context uses when nothing else is set.
pub const DEFAULT_UNIX_SOCKET: &str = "/var/run/docker.sock";

/// What the docker CLI would look at: its flags, the environment and the home directory.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    /// `-H/--host` values, in order (the CLI accepts only one).
    pub hosts: Vec<String>,
    /// `--context`.
    pub context: Option<String>,
    /// `--config` (the CLI config dir), overriding `DOCKER_CONFIG`.
    pub config_dir: Option<PathBuf>,
    /// The environment (`DOCKER_HOST`, `DOCKER_CONTEXT`, `DOCKER_CONFIG`).
    pub env: EnvVars,
    /// The user's home directory (for `~/.docker`).
    pub home: PathBuf,
}

/// Why the endpoint could not be resolved.
#[derive(Debug, Error)]
pub enum EndpointError {
    /// `--context` and `-H` together.
    #[error("conflicting options: cannot specify both --host and --context")]
    HostAndContext,
    /// More than one `-H`.
    #[error("specify only one -H (got {})", hosts.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", "))]
    SeveralHosts {
        /// The values given.
        hosts: Vec<String>,
    },
    /// The named context has no meta file.
    #[error("context `{name}` (from {source_of_name}) not found: no `{}`", meta.display())]
    ContextNotFound {
        /// The context name.
        name: String,
        /// Where the name came from.
        source_of_name: EndpointSource,
        /// The meta file looked for.
        meta: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `config.json` is not valid JSON.
    #[error("`{}` line {line}: invalid JSON: {message}", path.display())]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A context's `meta.json` is not valid JSON or lacks a docker endpoint.
    #[error("context `{name}`: `{}` line {line}: {message}", path.display())]
    BadMeta {
        /// The context name.
        name: String,
        /// The file.
        path: PathBuf,
        /// The 1-based line (0 when the problem is not at a line).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Several `--context` for a command that talks to one engine.
    #[error("{} contexts given ({}), but this command talks to one engine", names.len(), names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))]
    SeveralContexts {
        /// The contexts given.
        names: Vec<String>,
    },
    /// `--all-contexts` together with `--context` or `-H`.
    #[error("conflicting options: --all-contexts with --context or -H/--host")]
    AllAndNamedContexts,
    /// The host URL has a scheme the docker CLI does not accept.
    #[error("unknown scheme in docker host `{host}` (from {origin})")]
    UnknownScheme {
        /// The host as given.
        host: String,
        /// Where it came from: a flag, a variable or a context name.
        origin: String,
    },
}

impl EndpointError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            EndpointError::HostAndContext => "pass either -H/--host or --context, not both".into(),
            EndpointError::SeveralHosts { .. } => "pass a single -H/--host".into(),
            EndpointError::ContextNotFound { name, source_of_name, .. } => format!(
                "run `docker context ls` to see the contexts; fix {source_of_name} or create `{name}` with `docker context create`"
            ),
            EndpointError::Read { .. } => "check the file's permissions".into(),
            EndpointError::BadConfig { path, .. } => format!(
                "fix the JSON in `{}` (the docker CLI itself only warns and falls back to the default context)",
                path.display()
            ),
            EndpointError::BadMeta { name, .. } => format!(
                "recreate the context: `docker context rm {name}` then `docker context create {name} --docker host=...`"
            ),
            EndpointError::AllAndNamedContexts => {
                "pass --all-contexts alone, or name the contexts with --context (several engines are checked through contexts, not -H)".into()
            }
            EndpointError::SeveralContexts { .. } => {
                "pass one --context; only `tierctl verify` checks several engines in one run".into()
            }
            EndpointError::UnknownScheme { .. } => {
                "use unix://, tcp://, ssh://, npipe:// or fd:// (http:// and https:// only in a context)"
                    .into()
            }
        }
    }
}

/// The context store directory name for a context: the sha256 hex of its name.
pub fn context_dir_name(name: &str) -> String {
    Sha256::digest(name.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The docker CLI config dir: `--config`, else `DOCKER_CONFIG`, else `~/.docker`.
pub fn config_dir(input: &EndpointInput) -> PathBuf {
    input
        .config_dir
        .clone()
        .or_else(|| input.env.get("DOCKER_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| input.home.join(".docker"))
}

/// The TLS material directory of a stored context (`docker context create --docker
/// ca=...,cert=...,key=...` copies the files there).
pub fn context_tls_dir(config_dir: &Path, name: &str) -> PathBuf {
    config_dir
        .join("contexts/tls")
        .join(context_dir_name(name))
        .join("docker")
}

/// `ca.pem`, `cert.pem` and `key.pem` in `dir`, each when present.
fn tls_material(dir: &Path, verify: bool, origin: String, files: &dyn ConfigFiles) -> Tls {
    let present = |file: &str| {
        let path = dir.join(file);
        files.read(&path).is_ok().then_some(path)
    };
    Tls {
        dir: dir.to_owned(),
        ca: present("ca.pem"),
        cert: present("cert.pem"),
        key: present("key.pem"),
        verify,
        origin,
    }
}

/// The default context's TLS (docker/cli `SetDefaultOptions`): on with a non-empty
/// `DOCKER_TLS_VERIFY` (verifying) or `DOCKER_TLS` (not verifying); material from
/// `DOCKER_CERT_PATH`, else the config dir.
fn env_tls(input: &EndpointInput, files: &dyn ConfigFiles) -> Option<Tls> {
    let set = |name: &str| input.env.get(name).is_some_and(|v| !v.is_empty());
    let verify = set("DOCKER_TLS_VERIFY");
    if !verify && !set("DOCKER_TLS") {
        return None;
    }
    let dir = input
        .env
        .get("DOCKER_CERT_PATH")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir(input));
    let origin = if verify {
        "DOCKER_TLS_VERIFY"
    } else {
        "DOCKER_TLS"
    };
    Some(tls_material(&dir, verify, origin.to_owned(), files))
}

/// Every context `docker context ls` lists: `default` first, then the stored contexts by name
/// (the `Name` in each `contexts/meta/*/meta.json`).
pub fn context_names(
    input: &EndpointInput,
    files: &dyn ConfigFiles,
) -> Result<Vec<String>, EndpointError> {
    #[derive(Deserialize)]
    struct Named {
        #[serde(rename = "Name", default)]
        name: String,
    }
    let store = config_dir(input).join("contexts/meta");
    let entries = match std::fs::read_dir(&store) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(vec![DEFAULT_CONTEXT.to_owned()]);
        }
        Err(source) => {
            return Err(EndpointError::Read {
                path: store,
                source,
            });
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| EndpointError::Read {
                path: store.clone(),
                source,
            })?
            .path()
            .join("meta.json");
        let Ok(text) = files.read(&path) else {
            continue; // not a context directory
        };
        let named: Named = serde_json::from_str(&text).map_err(|e| EndpointError::BadMeta {
            name: path.display().to_string(),
            path: path.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        if !named.name.is_empty() && named.name != DEFAULT_CONTEXT {
            names.push(named.name);
        }
    }
    names.sort();
    names.insert(0, DEFAULT_CONTEXT.to_owned());
    Ok(names)
}

/// The `meta.json` of a stored context.
pub fn meta_path(config_dir: &Path, name: &str) -> PathBuf {
    config_dir
        .join("contexts/meta")
        .join(context_dir_name(name))
        .join("meta.json")
}

/// The key in a context's `Metadata` that says whether its engine's host is another machine.
pub const REMOTE_MARK: &str = "tierctl.remote";

/// Resolve the endpoint the docker CLI would use.
pub fn resolve(input: &EndpointInput, files: &dyn ConfigFiles) -> Result<Endpoint, EndpointError> {
    let flag_context = input.context.as_deref().filter(|c| !c.is_empty());
    if flag_context.is_some() && !input.hosts.is_empty() {
        return Err(EndpointError::HostAndContext);
    }
    let dir = config_dir(input);
    let (name, source) = context_name(input, flag_context, &dir, files)?;
    if name == DEFAULT_CONTEXT {
        return default_endpoint(input, source, files);
    }
    stored_endpoint(&dir, &name, source, files)
}

/// The context name and where it came from (docker/cli `resolveContextName`).
fn context_name(
    input: &EndpointInput,
    flag_context: Option<&str>,
    dir: &Path,
    files: &dyn ConfigFiles,
) -> Result<(String, EndpointSource), EndpointError> {
    if let Some(name) = flag_context {
        return Ok((name.to_owned(), EndpointSource::ContextFlag));
    }
    if !input.hosts.is_empty() {
        return Ok((DEFAULT_CONTEXT.to_owned(), EndpointSource::HostFlag));
    }
    if input.env.get("DOCKER_HOST").is_some() {
        return Ok((DEFAULT_CONTEXT.to_owned(), EndpointSource::HostEnv));
    }
    if let Some(name) = input.env.get("DOCKER_CONTEXT") {
        return Ok((name.to_owned(), EndpointSource::ContextEnv));
    }
    if let Some(name) = current_context(&dir.join("config.json"), files)? {
        return Ok((name, EndpointSource::ConfigFile));
    }
    Ok((DEFAULT_CONTEXT.to_owned(), EndpointSource::Default))
}

/// `currentContext` from `config.json`; `None` when the file or the key is absent or empty.
fn current_context(path: &Path, files: &dyn ConfigFiles) -> Result<Option<String>, EndpointError> {
    #[derive(Deserialize)]
    struct ConfigFile {
        #[serde(rename = "currentContext", default)]
        current_context: Option<String>,
    }
    let text = match files.read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(EndpointError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let config: ConfigFile = serde_json::from_str(&text).map_err(|e| EndpointError::BadConfig {
        path: path.to_owned(),
        line: e.line(),
        message: e.to_string(),
    })?;
    Ok(config.current_context.filter(|c| !c.is_empty()))
}

/// The `default` context: `-H`, else `DOCKER_HOST`, else the default socket.
fn default_endpoint(
    input: &EndpointInput,
    name_source: EndpointSource,
    files: &dyn ConfigFiles,
) -> Result<Endpoint, EndpointError> {
    let (raw, source, origin) = match input.hosts.as_slice() {
        [] => match input.env.get("DOCKER_HOST") {
            Some(h) => (
                h.to_owned(),
                EndpointSource::HostEnv,
                "DOCKER_HOST".to_owned(),
            ),
            None => (String::new(), name_source, "the default context".to_owned()),
        },
        [one] => (
            one.clone(),
            EndpointSource::HostFlag,
            "-H/--host".to_owned(),
        ),
        many => {
            return Err(EndpointError::SeveralHosts {
                hosts: many.to_vec(),
            });
        }
    };
    let tls = env_tls(input, files);
    let host = parse_host(&raw, &origin, tls.is_some())?;
    let kind = classify(&host, &origin)?;
    let tls = tls.filter(|_| matches!(kind, EndpointKind::Tcp { .. }));
    Ok(Endpoint {
        host,
        context: DEFAULT_CONTEXT.to_owned(),
        source,
        kind,
        skip_tls_verify: tls.as_ref().is_some_and(|t| !t.verify),
        meta_file: None,
        tls,
        remote_mark: None,
    })
}

/// A stored context's docker endpoint.
fn stored_endpoint(
    dir: &Path,
    name: &str,
    source: EndpointSource,
    files: &dyn ConfigFiles,
) -> Result<Endpoint, EndpointError> {
    #[derive(Deserialize)]
    struct Meta {
        #[serde(rename = "Endpoints", default)]
        endpoints: Endpoints,
        #[serde(rename = "Metadata", default)]
        metadata: Option<serde_json::Map<String, serde_json::Value>>,
    }
    #[derive(Deserialize, Default)]
    struct Endpoints {
        docker: Option<DockerEndpoint>,
    }
    #[derive(Deserialize)]
    struct DockerEndpoint {
        #[serde(rename = "Host", default)]
        host: String,
        #[serde(rename = "SkipTLSVerify", default)]
        skip_tls_verify: bool,
    }
    let meta = meta_path(dir, name);
    let text = read_meta(&meta, name, source, files)?;
    let bad = |line: usize, message: String| EndpointError::BadMeta {
        name: name.to_owned(),
        path: meta.clone(),
        line,
        message,
    };
    let parsed: Meta = serde_json::from_str(&text).map_err(|e| bad(e.line(), e.to_string()))?;
    let docker = parsed
        .endpoints
        .docker
        .filter(|d| !d.host.is_empty())
        .ok_or_else(|| bad(0, "no docker endpoint (`Endpoints.docker.Host`)".to_owned()))?;
    let origin = format!("context `{name}`");
    let kind = classify(&docker.host, &origin)?;
    let remote_mark = remote_mark(parsed.metadata.as_ref()).map_err(|e| bad(0, e.to_string()))?;
    let tls = stored_tls(dir, name, &kind, !docker.skip_tls_verify, files);
    Ok(Endpoint {
        host: docker.host,
        context: name.to_owned(),
        source,
        kind,
        skip_tls_verify: docker.skip_tls_verify,
        meta_file: Some(meta),
        tls,
        remote_mark,
    })
}

/// The text of a stored context's `meta.json`; a missing file means no such context.
fn read_meta(
    meta: &Path,
    name: &str,
    source: EndpointSource,
    files: &dyn ConfigFiles,
) -> Result<String, EndpointError> {
    match files.read(meta) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(EndpointError::ContextNotFound {
            name: name.to_owned(),
            source_of_name: source,
            meta: meta.to_path_buf(),
        }),
        Err(source) => Err(EndpointError::Read {
            path: meta.to_path_buf(),
            source,
        }),
    }
}

/// A context's `Metadata.tierctl.remote` that is neither true nor false.
#[derive(Debug, Error)]
#[error("`Metadata.{REMOTE_MARK}` is `{value}`: it must be true or false")]
struct BadRemoteMark {
    /// The value written.
    value: serde_json::Value,
}

/// The context's word on whether its engine runs on another machine (`Metadata.tierctl.remote`):
/// true, false or absent; anything else makes a bad `meta.json`.
fn remote_mark(
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<bool>, BadRemoteMark> {
    match metadata.and_then(|m| m.get(REMOTE_MARK)) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
        Some(serde_json::Value::String(s)) if s == "true" || s == "false" => Ok(Some(s == "true")),
        Some(other) => Err(BadRemoteMark {
            value: other.clone(),
        }),
    }
}

/// The TLS a stored context's endpoint speaks: always for `https://`, for a plain tcp endpoint
/// only when the context stores TLS material.
fn stored_tls(
    dir: &Path,
    name: &str,
    kind: &EndpointKind,
    verify: bool,
    files: &dyn ConfigFiles,
) -> Option<Tls> {
    let material = tls_material(&context_tls_dir(dir, name), verify, String::new(), files);
    let has_material = material.ca.is_some() || material.cert.is_some() || material.key.is_some();
    match kind {
        EndpointKind::Tcp { https: true, .. } => Some(Tls {
            origin: "https://".to_owned(),
            ..material
        }),
        EndpointKind::Tcp { https: false, .. } if has_material => Some(Tls {
            origin: format!("the TLS material of context `{name}`"),
            ..material
        }),
        _ => None,
    }
}

/// docker/cli `opts.ParseHost`: empty means the default socket, no scheme means tcp, `tcp://`
/// gets the default host and port 2375 (2376 with TLS), `unix://` the default socket.
fn parse_host(raw: &str, origin: &str, tls: bool) -> Result<String, EndpointError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(format!("unix://{DEFAULT_UNIX_SOCKET}"));
    }
    let (scheme, rest) = raw.split_once("://").unwrap_or(("tcp", raw));
    match scheme.to_ascii_lowercase().as_str() {
        "tcp" => Ok(format!("tcp://{}", tcp_address(rest, tls))),
        "unix" if rest.is_empty() => Ok(format!("unix://{DEFAULT_UNIX_SOCKET}")),
        "unix" | "npipe" | "fd" | "ssh" => Ok(raw.to_owned()),
        _ => Err(EndpointError::UnknownScheme {
            host: raw.to_owned(),
            origin: origin.to_owned(),
        }),
    }
}

/// Fill in `localhost` and port 2375 (2376 with TLS) the way `opts.ParseTCPAddr` does.
fn tcp_address(rest: &str, tls: bool) -> String {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !authority.ends_with(']') => (h, p),
        _ => (authority, ""),
    };
    let host = if host.is_empty() { "localhost" } else { host };
    let port = match (port.is_empty(), tls) {
        (false, _) => port,
        (true, false) => "2375",
        (true, true) => "2376",
    };
    format!("{host}:{port}{path}")
}

/// The connection kind of a host URL.
fn classify(host: &str, origin: &str) -> Result<EndpointKind, EndpointError> {
    let unknown = || EndpointError::UnknownScheme {
        host: host.to_owned(),
        origin: origin.to_owned(),
    };
    let (scheme, rest) = host.split_once("://").ok_or_else(unknown)?;
    Ok(match scheme.to_ascii_lowercase().as_str() {
        "unix" => EndpointKind::Unix(PathBuf::from(rest)),
        "tcp" | "http" => EndpointKind::Tcp {
            address: rest.to_owned(),
            https: false,
        },
        "https" => EndpointKind::Tcp {
            address: rest.to_owned(),
            https: true,
        },
        "ssh" => EndpointKind::Ssh(rest.to_owned()),
        "npipe" => EndpointKind::Npipe(rest.to_owned()),
        "fd" => EndpointKind::Fd(rest.to_owned()),
        _ => return Err(unknown()),
    })
}

/// Where an `ssh://` endpoint logs in (docker/cli `connhelper/ssh.ParseURL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshDestination {
    /// The user, when the URL names one (else ssh's own choice: `~/.ssh/config`, `$USER`).
    pub user: Option<String>,
    /// The host (a name `~/.ssh/config` may resolve, or an address).
    pub host: String,
    /// The port, when the URL names one.
    pub port: Option<u16>,
}

/// Why an `ssh://` URL is not one the docker CLI accepts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SshUrlError {
    /// `user:password@host`.
    #[error("a password in an ssh URL is not supported")]
    Password,
    /// `@host`.
    #[error("empty user name")]
    EmptyUser,
    /// A path, query or fragment after the host.
    #[error("extra path, query or fragment after the host")]
    ExtraPath,
    /// `[::1` without its `]`.
    #[error("unclosed `[` in the host")]
    UnclosedBracket,
    /// No host at all.
    #[error("no host")]
    NoHost,
    /// A port that is not a number from 0 to 65535.
    #[error("bad port `{port}`")]
    BadPort {
        /// The port as written.
        port: String,
    },
}

impl SshDestination {
    /// Parse the part of `ssh://[user@]host[:port]` after the scheme, as the docker CLI does:
    /// no password, no path, no query.
    pub fn parse(rest: &str) -> Result<Self, SshUrlError> {
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => return Err(SshUrlError::Password),
            Some(("", _)) => return Err(SshUrlError::EmptyUser),
            Some((user, hostport)) => (Some(user.to_owned()), hostport),
            None => (None, rest),
        };
        if hostport.contains(['/', '?', '#']) {
            return Err(SshUrlError::ExtraPath);
        }
        let (host, port) = match hostport.strip_prefix('[') {
            Some(bracketed) => {
                let (host, after) = bracketed
                    .split_once(']')
                    .ok_or(SshUrlError::UnclosedBracket)?;
                (host, after.strip_prefix(':'))
            }
            None => match hostport.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (hostport, None),
            },
        };
        if host.is_empty() {
            return Err(SshUrlError::NoHost);
        }
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .map_err(|_| SshUrlError::BadPort { port: p.to_owned() })
            })
            .transpose()?;
        Ok(SshDestination {
            user,
            host: host.to_owned(),
            port,
        })
    }

    /// The destination as a user types it: `ssh [-p PORT] [USER@]HOST`.
    pub fn command_line(&self) -> String {
        let port = self.port.map(|p| format!("-p {p} ")).unwrap_or_default();
        let user = self
            .user
            .as_ref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        format!("ssh {port}{user}{}", self.host)
    }

    /// The `ssh` arguments before the remote command, as the docker CLI passes them
    /// (`-l USER -p PORT -- HOST`).
    pub fn ssh_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(user) = &self.user {
            args.extend(["-l".to_owned(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".to_owned(), port.to_string()]);
        }
        args.extend(["--".to_owned(), self.host.clone()]);
        args
    }
}

/// Guess the engine from the context name and socket path, for this host's OS.
pub fn identify(endpoint: &Endpoint) -> EngineGuess {
    identify_on(endpoint, std::env::consts::OS)
}

/// [`identify`] for a given OS (`"linux"`, `"macos"`, ...), so it is testable everywhere.
pub fn identify_on(endpoint: &Endpoint, os: &str) -> EngineGuess {
    if let Some(guess) = from_context_name(&endpoint.context) {
        return guess;
    }
    match &endpoint.kind {
        EndpointKind::Unix(path) => from_socket(path, os),
        EndpointKind::Tcp { .. } | EndpointKind::Ssh(_) => EngineGuess::Remote,
        EndpointKind::Npipe(_) | EndpointKind::Fd(_) => EngineGuess::Unknown,
    }
}

fn from_context_name(name: &str) -> Option<EngineGuess> {
    match name {
        "colima" => Some(EngineGuess::Colima {
            profile: "default".into(),
        }),
        "desktop-linux" => Some(EngineGuess::DockerDesktop),
        "orbstack" => Some(EngineGuess::OrbStack),
        "rancher-desktop" => Some(EngineGuess::RancherDesktop),
        _ => name
            .strip_prefix("colima-")
            .filter(|p| !p.is_empty())
            .map(|p| EngineGuess::Colima {
                profile: p.to_owned(),
            }),
    }
}

fn from_socket(path: &Path, os: &str) -> EngineGuess {
    let parts: Vec<&str> = path.iter().filter_map(|c| c.to_str()).collect();
    let n = parts.len();
    let at = |i: usize| if i < n { parts[i] } else { "" };
    let file = at(n.wrapping_sub(1));
    let parent = if n >= 2 { at(n - 2) } else { "" };
    let grand = if n >= 3 { at(n - 3) } else { "" };
    match (grand, parent, file) {
        (".colima", profile, "docker.sock") => EngineGuess::Colima {
            profile: profile.to_owned(),
        },
        (_, ".colima", "docker.sock") => EngineGuess::Colima {
            profile: "default".into(),
        },
        (".docker", "run", "docker.sock") => EngineGuess::DockerDesktop,
        (".orbstack", "run", "docker.sock") => EngineGuess::OrbStack,
        (_, ".rd", "docker.sock") => EngineGuess::RancherDesktop,
        (instance, "sock", "docker.sock") if n >= 4 && at(n - 4) == ".lima" => EngineGuess::Lima {
            instance: instance.to_owned(),
        },
        _ => from_podman_socket(&parts)
            .or_else(|| native_socket(path, os))
            .unwrap_or(EngineGuess::Unknown),
    }
}

/// Podman machine sockets: `.../podman/<machine>-api.sock` (macOS temp dir),
/// `.../containers/podman/machine/<machine>/podman.sock`, `.../podman/machine/podman.sock`,
/// and rootless `/run/user/<uid>/podman/podman.sock`.
fn from_podman_socket(parts: &[&str]) -> Option<EngineGuess> {
    let file = *parts.last()?;
    let has_podman = parts.contains(&"podman");
    if !has_podman {
        return None;
    }
    if let Some(machine) = file.strip_suffix("-api.sock") {
        return Some(EngineGuess::Podman {
            machine: Some(machine.to_owned()),
        });
    }
    if file == "podman.sock" {
        let n = parts.len();
        let machine = (n >= 3 && parts[n - 3] == "machine").then(|| parts[n - 2].to_owned());
        return Some(EngineGuess::Podman { machine });
    }
    None
}

fn native_socket(path: &Path, os: &str) -> Option<EngineGuess> {
    let standard =
        path == Path::new("/var/run/docker.sock") || path == Path::new("/run/docker.sock");
    (standard && os == "linux").then_some(EngineGuess::Native)
}

/// Refine a guess with `docker info`'s `OperatingSystem` and `Name` (the VM's hostname).
/// A specific product named by the engine itself wins; otherwise the guess stands.
pub fn refine(guess: EngineGuess, operating_system: &str, name: &str) -> EngineGuess {
    let os = operating_system.to_ascii_lowercase();
    if os.starts_with("docker desktop") {
        return EngineGuess::DockerDesktop;
    }
    if os.starts_with("orbstack") {
        return EngineGuess::OrbStack;
    }
    if os.starts_with("rancher desktop") || name == "lima-rancher-desktop" {
        return EngineGuess::RancherDesktop;
    }
    match guess {
        EngineGuess::Unknown | EngineGuess::Remote => {
            if name == "colima" {
                EngineGuess::Colima {
                    profile: "default".into(),
                }
            } else if let Some(p) = name.strip_prefix("colima-").filter(|p| !p.is_empty()) {
                EngineGuess::Colima {
                    profile: p.to_owned(),
                }
            } else if let Some(i) = name.strip_prefix("lima-").filter(|i| !i.is_empty()) {
                EngineGuess::Lima {
                    instance: i.to_owned(),
                }
            } else {
                guess
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
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
}
