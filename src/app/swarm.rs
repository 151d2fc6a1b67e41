//! The swarm manager `--swarm` reaches (the `--context`/`-H` engine), its nodes, and
//! `tiers nodes`.

use std::collections::BTreeMap;
use std::io::Write;

use super::connect::resolve_endpoint;
use super::emit;
use crate::cli::GlobalArgs;
use crate::engine::docker::DockerEngine;
use crate::error::{Error, exit};
use crate::report::Report;
use crate::report::reports::NodesReport;
use crate::settings::{Environment, Settings};
use crate::swarm::{CONTEXT_LABEL, Node};
use crate::tiers::Tiers;

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

/// `tierctl tiers nodes [--assign NODE=CONTEXT]... [--write]`.
pub(super) fn tiers_nodes(
    settings: &Settings,
    tiers: &Tiers,
    (write, assign): (bool, &[String]),
    (global, env): (&GlobalArgs, &Environment),
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let assigned = assign
        .iter()
        .map(|text| match text.split_once('=') {
            Some((node, context)) if !node.is_empty() && !context.is_empty() => {
                Ok((node.to_owned(), context.to_owned()))
            }
            _ => Err(Error::SwarmAssign { text: text.clone() }),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (engine, mut nodes) = manager(global, env)?;
    if !assigned.is_empty() {
        for (node, context) in &assigned {
            let label = BTreeMap::from([(CONTEXT_LABEL.to_owned(), Some(context.clone()))]);
            engine.label_node(node, &label)?;
        }
        nodes = engine.swarm_nodes()?;
    }
    let mut views = crate::swarm::views(&nodes, tiers);
    let mut written = Vec::new();
    if write {
        for view in &views {
            let changes = crate::swarm::label_changes(view);
            if !changes.is_empty() {
                engine.label_node(&view.node.id, &changes)?;
                written.push((view.node.id.clone(), changes));
            }
        }
        if !written.is_empty() {
            views = crate::swarm::views(&engine.swarm_nodes()?, tiers);
        }
    }
    let agree = views.iter().all(crate::swarm::NodeView::agrees);
    let report = NodesReport {
        tiers_file: tiers.file.clone(),
        nodes: views,
        written,
    };
    emit(settings, &Report::TiersNodes(&report), out)?;
    Ok(if agree { exit::CLEAN } else { exit::FINDINGS })
}
