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
use std::path::PathBuf;

use thiserror::Error;

pub use crate::endpoint::{Endpoint, EndpointKind, EndpointSource, EngineGuess, Tls};
use crate::tool_config::{ConfigFiles, EnvVars};

mod address;
mod context;
mod guess;
mod ssh;
mod tls;

use address::{classify, parse_host};
pub use context::{
    REMOTE_MARK, config_dir, context_dir_name, context_names, context_tls_dir, meta_path,
};
use context::{context_name, stored_endpoint};
pub use guess::{identify, identify_on, refine};
pub use ssh::{SshDestination, SshUrlError};
use tls::env_tls;

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

/// The endpoint of the context a Swarm node's `tierctl.context` label names (`input.context`;
/// `-H`, which names the manager, is not looked at): as [`resolve`], an unknown context named as
/// the label's ([`EndpointSource::NodeLabel`]), not `--context`'s.
pub fn resolve_node_context(
    input: &EndpointInput,
    files: &dyn ConfigFiles,
) -> Result<Endpoint, EndpointError> {
    let input = EndpointInput {
        hosts: Vec::new(),
        ..input.clone()
    };
    resolve(&input, files).map_err(|error| match error {
        EndpointError::ContextNotFound { name, meta, .. } => EndpointError::ContextNotFound {
            name,
            meta,
            source_of_name: EndpointSource::NodeLabel,
        },
        other => other,
    })
}

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

#[cfg(test)]
mod tests;
