//! Resolving the endpoint and connecting to the engine, shared by the engine commands.

use crate::cli::GlobalArgs;
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint::{self, Endpoint, EndpointInput};
use crate::engine::host_fs;
use crate::engine::probe::DEFAULT_HELPER_IMAGE;
use crate::engine::{Engine, EngineInfo};
use crate::error::Error;
use crate::host::{self, Host};
use crate::settings::Environment;
use crate::vm::view::{self, VmView};
use crate::vm::{DiskConfig, EnvVars};

/// The engine behind the Docker endpoint and what its VM shares.
pub(super) struct Connected {
    pub(super) endpoint: Endpoint,
    pub(super) engine: Option<DockerEngine>,
    pub(super) info: Option<EngineInfo>,
    pub(super) view: VmView,
    /// What the identification noticed (a name that did not hold).
    pub(super) notes: Vec<String>,
    /// The machine whose paths the engine's binds name (`crate::host`).
    pub(super) host: Host,
}

/// The helper image: `TIERCTL_HELPER_IMAGE`, else the default.
pub(super) fn helper_image(env: &Environment) -> String {
    env.vars
        .iter()
        .find(|(k, v)| k == "TIERCTL_HELPER_IMAGE" && !v.is_empty())
        .map_or(DEFAULT_HELPER_IMAGE, |(_, v)| v.as_str())
        .to_owned()
}

/// Which machine the engine's host is (`crate::host`'s rule; the marker file only for a
/// network endpoint without the context's word).
pub(super) fn host_of(
    endpoint: &Endpoint,
    engine: &DockerEngine,
    info: &EngineInfo,
    image: &str,
) -> Host {
    use crate::engine::endpoint::EngineGuess;
    let guess = endpoint::refine(
        endpoint::identify(endpoint),
        &info.operating_system,
        &info.name,
    );
    let vm_engine = !matches!(
        guess,
        EngineGuess::Native | EngineGuess::Remote | EngineGuess::Unknown
    );
    let decision = host::decide_with_engine(endpoint, vm_engine);
    let seen = match decision {
        host::Decision::Probe => Some(host_fs::sees_marker(engine, image)),
        host::Decision::Decided { .. } => None,
    };
    host::decided(endpoint, decision, seen, Some(info.name.clone()))
}

pub(super) fn env_vars(env: &Environment) -> EnvVars {
    env.vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

pub(super) fn home(env: &Environment) -> std::path::PathBuf {
    env.vars
        .iter()
        .find(|(k, v)| k == "HOME" && !v.is_empty())
        .map(|(_, v)| v.into())
        .unwrap_or_else(|| "/".into())
}

pub(super) fn resolve_endpoint(
    global: &GlobalArgs,
    env: &Environment,
) -> Result<Endpoint, endpoint::EndpointError> {
    if global.contexts.len() > 1 {
        return Err(endpoint::EndpointError::SeveralContexts {
            names: global.contexts.clone(),
        });
    }
    let input = endpoint_input(global, env, global.contexts.first().cloned());
    endpoint::resolve(&input, &DiskConfig)
}

/// What the docker CLI would look at, with this `--context`.
pub(super) fn endpoint_input(
    global: &GlobalArgs,
    env: &Environment,
    context: Option<String>,
) -> EndpointInput {
    EndpointInput {
        hosts: global.hosts.clone(),
        context,
        config_dir: None,
        env: env_vars(env),
        home: home(env),
    }
}

/// Resolve the endpoint, connect, ask `docker info`, and read the VM's shares.
pub(super) fn connect(global: &GlobalArgs, env: &Environment) -> Result<Connected, Error> {
    let endpoint = resolve_endpoint(global, env)?;
    let engine = DockerEngine::connect(&endpoint)?;
    let info = engine.info()?;
    let identified = endpoint::identify(&endpoint);
    let guess = endpoint::refine(identified.clone(), &info.operating_system, &info.name);
    let (view, note) =
        view::read_view_confirmed(identified, guess, &DiskConfig, &env_vars(env), &home(env))?;
    let host = host_of(&endpoint, &engine, &info, &helper_image(env));
    Ok(Connected {
        endpoint,
        engine: Some(engine),
        info: Some(info),
        view,
        notes: note.into_iter().collect(),
        host,
    })
}

/// The endpoint and the VM's shares without asking the engine (`--offline`).
pub(super) fn identify_offline(global: &GlobalArgs, env: &Environment) -> Result<Connected, Error> {
    let endpoint = resolve_endpoint(global, env)?;
    let guess = endpoint::identify(&endpoint);
    let view = view::read_view(guess, &DiskConfig, &env_vars(env), &home(env))?;
    let host = host::host(&endpoint, None, None);
    Ok(Connected {
        endpoint,
        engine: None,
        info: None,
        view,
        notes: Vec::new(),
        host,
    })
}
