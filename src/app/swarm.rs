//! The swarm manager `--swarm` reaches (the `--context`/`-H` engine), its nodes, and
//! `tiers nodes`.

use std::collections::BTreeMap;
use std::io::Write;

use super::connect::{endpoint_input, resolve_endpoint};
use super::emit;
use crate::cli::GlobalArgs;
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint::{self, Endpoint};
use crate::error::{Error, exit};
use crate::report::Report;
use crate::report::reports::{FleetReport, HostError, HostReport, NodesReport, VerifyReport};
use crate::settings::{Environment, Settings};
use crate::swarm::{CONTEXT_LABEL, Node};
use crate::tiers::Tiers;
use crate::vm::DiskConfig;

/// The engine of `--context`/`-H` as a swarm manager, with its nodes.
pub(super) fn manager(
    global: &GlobalArgs,
    env: &Environment,
) -> Result<(DockerEngine, Vec<Node>), Error> {
    let endpoint = resolve_endpoint(global, env)?;
    let engine = DockerEngine::connect(&endpoint)?;
    let nodes = engine.swarm_nodes().map_err(|source| Error::SwarmManager {
        context: endpoint.context.clone(),
        source: Box::new(source),
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

/// `verify` of the named containers on the engine at an endpoint.
pub(super) type NodeCheck<'a> = dyn Fn(&Endpoint, Vec<String>) -> Result<VerifyReport, Error> + 'a;

/// `tierctl verify --swarm`: the stack's tasks as the manager lists them, grouped by node; each
/// node's containers checked through the engine its `tierctl.context` label names. A node
/// without that label, one the manager says is down, or whose engine does not answer is
/// reported (exit 2), and the other nodes are still checked.
pub(super) fn verify_swarm(
    settings: &Settings,
    (global, env): (&GlobalArgs, &Environment),
    stack: &str,
    check: &NodeCheck<'_>,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let (manager, nodes) = manager(global, env)?;
    let tasks = manager.stack_tasks(stack)?;
    if tasks.is_empty() {
        return Err(Error::SwarmNoTasks {
            stack: stack.to_owned(),
        });
    }
    let mut hosts: Vec<HostReport> = nodes
        .iter()
        .filter(|n| tasks.iter().any(|t| t.node == n.id) || n.state != "ready")
        .map(|node| {
            let containers: Vec<String> = tasks
                .iter()
                .filter(|t| t.node == node.id && t.running)
                .filter_map(|t| t.container.clone())
                .collect();
            node_report(node, containers, (global, env), check)
        })
        .collect();
    // a task no node takes (its constraints match none, or every such node is drained)
    let pending = tasks.iter().filter(|t| t.node.is_empty()).count();
    if pending > 0 {
        hosts.push(HostReport {
            host: "-".into(),
            endpoint: None,
            node: Some("(none)".into()),
            outcome: Err(HostError {
                message: format!("{pending} task(s) of stack `{stack}` are placed on no node"),
                hint: Some(
                    "`docker service ps` says why: no node matches its constraints, or each is drained"
                        .into(),
                ),
            }),
        });
    }
    let fleet = FleetReport { hosts };
    if !quiet {
        emit(settings, &Report::Fleet(&fleet), out)?;
    }
    Ok(if fleet.any_unreachable() {
        exit::ERROR
    } else if fleet.all_ok() {
        exit::CLEAN
    } else {
        exit::FINDINGS
    })
}

/// Why a swarm node's engine cannot be used.
pub(super) enum NodeAway {
    /// The manager says the node is not ready, or it names no context: what happened and what
    /// to do.
    Node {
        /// What happened, naming the node.
        message: String,
        /// What to do.
        hint: String,
    },
    /// Its context does not resolve to an engine.
    Endpoint(Error),
}

/// A node's context (its `tierctl.context` label), the host its context resolves to (for the
/// reports), and its engine's endpoint or why it cannot be used; `down_hint` says what to do
/// with a node that is not ready.
pub(super) fn node_engine(
    node: &Node,
    (global, env): (&GlobalArgs, &Environment),
    down_hint: &str,
) -> (Option<String>, Option<String>, Result<Endpoint, NodeAway>) {
    let context = node.context().map(str::to_owned);
    let resolved = context.as_ref().map(|ctx| {
        // `-H` named the manager, not this node: its context alone says where its engine is
        let input = endpoint_input(global, env, Some(ctx.clone()));
        endpoint::resolve_node_context(&input, &DiskConfig).map_err(Error::from)
    });
    let host = resolved
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .map(|e| e.host.clone());
    let engine = if node.state != "ready" {
        Err(NodeAway::Node {
            message: format!(
                "swarm node {} is {} (the manager says)",
                node.display(),
                node.state
            ),
            hint: down_hint.to_owned(),
        })
    } else {
        match resolved {
            None => Err(NodeAway::Node {
                message: format!(
                    "swarm node {} has no `{CONTEXT_LABEL}` label",
                    node.display()
                ),
                hint: "name the docker context that reaches it: `tierctl tiers nodes --assign NODE=CONTEXT`".into(),
            }),
            Some(Err(e)) => Err(NodeAway::Endpoint(e)),
            Some(Ok(endpoint)) => Ok(endpoint),
        }
    };
    (context, host, engine)
}

/// One node's check, or why it could not be made.
fn node_report(
    node: &Node,
    containers: Vec<String>,
    (global, env): (&GlobalArgs, &Environment),
    check: &NodeCheck<'_>,
) -> HostReport {
    let (context, endpoint, engine) = node_engine(
        node,
        (global, env),
        "bring the node back (`docker node ls`), or drain it so its tasks move",
    );
    let as_host_error = |e: Error| HostError {
        message: e.to_string(),
        hint: e.hint(),
    };
    let outcome = match engine {
        Err(NodeAway::Node { message, hint }) => Err(HostError {
            message,
            hint: Some(hint),
        }),
        Err(NodeAway::Endpoint(e)) => Err(as_host_error(e)),
        Ok(_) if containers.is_empty() => Err(HostError {
            message: format!(
                "no task of this stack runs on swarm node {} yet",
                node.display()
            ),
            hint: Some("`docker service ps` shows why the task is not running".into()),
        }),
        Ok(endpoint) => check(&endpoint, containers).map_err(as_host_error),
    };
    HostReport {
        host: context.unwrap_or_else(|| "-".into()),
        endpoint,
        node: Some(node.display()),
        outcome,
    }
}
