//! `tierctl tiers status --swarm` / `tiers validate --swarm`: each node the manager lists, its
//! tiers by its `tierctl.tier.*` labels, looked at by a helper on that node's engine (the context
//! its `tierctl.context` label names). A node that is down, has no context, or whose engine does
//! not answer is reported, never skipped.

use std::io::Write;
use std::path::PathBuf;

use super::connect::helper_image;
use super::emit;
use super::swarm::{NodeAway, manager, node_engine};
use crate::cli::GlobalArgs;
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint;
use crate::engine::host_fs;
use crate::error::Error;
use crate::layout::{NodeDisks, Unreachable};
use crate::report::Report;
use crate::report::reports::NodeDisksReport;
use crate::settings::{Environment, Settings};
use crate::swarm::Node;
use crate::tiers::Tiers;
use crate::usage::Thresholds;

/// Which command asks.
pub(super) enum Asked {
    /// `tiers status --swarm`: fill alerts count in the exit status.
    Status,
    /// `tiers validate --swarm`; `quiet` prints nothing.
    Validate {
        /// Print nothing.
        quiet: bool,
    },
}

/// Runs the check on every node and prints it; the exit status.
pub(super) fn node_disks(
    settings: &Settings,
    (global, env): (&GlobalArgs, &Environment),
    asked: Asked,
    thresholds: Thresholds,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let tiers = tiers_as_written(settings)?;
    let (_, nodes) = manager(global, env)?;
    let image = helper_image(env);
    let checked: Vec<NodeDisks> = nodes
        .iter()
        .map(|node| one_node(node, tiers.as_ref(), &image, thresholds, (global, env)))
        .collect();
    let (command, quiet, alerts) = match asked {
        Asked::Status => ("tiers status", false, true),
        Asked::Validate { quiet } => ("tiers validate", quiet, false),
    };
    let code = crate::layout::disks_exit_code(&checked, alerts);
    if !quiet {
        let report = NodeDisksReport {
            command,
            thresholds,
            nodes: checked,
        };
        emit(settings, &Report::NodeDisks(&report), out)?;
    }
    Ok(code)
}

/// tiers.yaml with its roots as written (they are other hosts' paths), when there is one: it
/// only says which tiers must be mount points (`mount: true`) in each context's map.
fn tiers_as_written(settings: &Settings) -> Result<Option<Tiers>, Error> {
    let Some(path) = settings.tiers_path(|p| p.is_file()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Some(crate::tiers::load(path, &text)?))
}

/// One node's tiers, or why they could not be looked at.
fn one_node(
    node: &Node,
    tiers: Option<&Tiers>,
    image: &str,
    thresholds: Thresholds,
    (global, env): (&GlobalArgs, &Environment),
) -> NodeDisks {
    let (context, endpoint, engine) = node_engine(
        node,
        (global, env),
        "bring the node back (`docker node ls`)",
    );
    let unreachable = |message: String, hint: Option<String>| Unreachable { message, hint };
    let outcome = match engine {
        Err(NodeAway::Node { message, hint }) => Err(unreachable(message, Some(hint))),
        Err(NodeAway::Endpoint(e)) => Err(unreachable(e.to_string(), e.hint())),
        Ok(endpoint) => {
            let wants_mount = |tier: &str| {
                let map = match (tiers, node.context()) {
                    (Some(t), Some(ctx)) => t.for_context(ctx),
                    _ => return false,
                };
                map.tiers.get(tier).is_some_and(|t| t.mount)
            };
            look(node, &endpoint, image, thresholds, &wants_mount)
                .map_err(|e| unreachable(e.to_string(), e.hint()))
        }
    };
    NodeDisks {
        node: node.display(),
        id: node.id.clone(),
        context,
        endpoint,
        outcome,
    }
}

/// A helper on the node's engine looks at each labelled tier root.
fn look(
    node: &Node,
    endpoint: &endpoint::Endpoint,
    image: &str,
    thresholds: Thresholds,
    wants_mount: &dyn Fn(&str) -> bool,
) -> Result<Vec<crate::layout::NodeDisk>, Error> {
    let labelled: Vec<(String, PathBuf)> = node
        .tiers()
        .into_iter()
        .map(|(name, root)| (name.to_owned(), root.to_path_buf()))
        .collect();
    if labelled.is_empty() {
        return Ok(Vec::new());
    }
    let engine = DockerEngine::connect(endpoint)?;
    let mut seen = host_fs::tier_roots(&engine, image, &labelled)?;
    Ok(labelled
        .into_iter()
        .filter_map(|(tier, root)| {
            let host_fs::TierRootSeen { presence, fs } = seen.remove(&tier)?;
            let wants = wants_mount(&tier);
            Some(crate::layout::judge(
                (&tier, root),
                wants,
                presence,
                fs,
                thresholds,
            ))
        })
        .collect())
}
