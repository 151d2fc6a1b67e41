//! The swarm manager `--swarm` reaches (the `--context`/`-H` engine), and its nodes.

use super::connect::resolve_endpoint;
use crate::cli::GlobalArgs;
use crate::engine::docker::DockerEngine;
use crate::error::Error;
use crate::settings::Environment;
use crate::swarm::Node;

/// The engine of `--context`/`-H` as a swarm manager, with its nodes.
pub(super) fn manager(
    global: &GlobalArgs,
    env: &Environment,
) -> Result<(DockerEngine, Vec<Node>), Error> {
    let endpoint = resolve_endpoint(global, env)?;
    let engine = DockerEngine::connect(&endpoint)?;
    let nodes = engine.swarm_nodes().map_err(|source| Error::SwarmManager {
        context: endpoint.context.clone(),
        source,
    })?;
    Ok((engine, nodes))
}
