//! `tierctl migrate --to-node NODE --service S` (and `--resume` / `--rollback` of such a move):
//! a Swarm service's data moves from the node it runs on to the same tier of NODE, and the
//! service follows it. The plan is made here (the service's binds and constraints for NODE:
//! [`crate::swarm::service_move`], the stack file's edits: [`crate::plan::node_move`]); it runs
//! through the one task runner as a move to engine B ([`super::migrate::run_task`]): this
//! engine is the old node's, B the new node's, each reached through its `tierctl.context`
//! label, and the manager (`--context`/`-H`) stops and places the service.

use std::io::Write;

use super::connect::endpoint_input;
use super::migrate::{MigrateTask, confirm, destructive, plan_report, shown_and_confirmed};
use super::render;
use super::to_context::{Run, ToB, journaled_context, run_to_b};
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint;
use crate::engine::swarm::{ServicePlacement, SwarmServices};
use crate::error::{Error, exit};
use crate::migrate::MigrateError;
use crate::migrate::cross_plan;
use crate::migrate::plan::MigratePlan;
use crate::migrate::swarm_service::SwarmService;
use crate::probe::DiskFiles;
use crate::report::Report;
use crate::swarm::{CONTEXT_LABEL, Node};
use crate::vm::DiskConfig;

/// Plan (or take from the journal) and run a Swarm service's move, its resume or rollback.
pub(super) fn migrate(
    run: &Run<'_>,
    task: Option<MigrateTask>,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let (settings, args) = (run.settings, run.args);
    let (manager, nodes) = super::swarm::manager(run.global, run.env)?;
    let task = match task {
        Some(task) => task,
        None => match planned(run, &manager, &nodes, out)? {
            Some(plan) => MigrateTask::Start(Box::new(plan)),
            None => return Ok(exit::CLEAN),
        },
    };
    let Some(cross) = journaled_context(&task) else {
        return Err(refused("the journal's plan names no other node"));
    };
    let Some(service) = cross.swarm.clone() else {
        return Err(refused("the journal's plan moves no Swarm service"));
    };
    if matches!(task, MigrateTask::Rollback(_)) && args.discard_copy {
        let what = format!(
            "roll back the move (`{}` placed back on its old node, the stack file restored) and delete the copies on `{}` that are still the verified ones",
            service.name, cross.context
        );
        confirm(&what, args)?;
    } else if let Some(what) = destructive(&task, args) {
        confirm(what, args)?;
    }
    let a_endpoint = context_endpoint(run, &service.from_context)?;
    let a_host = super::audit::host_at(settings, &a_endpoint, run.env)?;
    let mut connected = None;
    let engine = a_host.engine(&a_endpoint, &mut connected)?;
    // B's paths are its host's: never read here, only by helpers there
    let b_endpoint = context_endpoint(run, &cross.context)?;
    let other = (
        DockerEngine::connect(&b_endpoint)?.on_another_machine(true),
        b_endpoint,
    );
    let to_b = ToB {
        a: (engine, &a_endpoint),
        b: (&other.0, &other.1),
        cross: &cross,
        compose: None,
        swarm: Some(&manager),
    };
    run_to_b(run, task, to_b, &[], out)
}

fn refused(message: &str) -> Error {
    Error::Migrate(MigrateError::Refused(message.into()))
}

fn blocked(message: String, hint: String) -> Error {
    Error::Migrate(MigrateError::Blocked { message, hint })
}

/// The endpoint of a node's context (never `-H`: that names the manager).
fn context_endpoint(run: &Run<'_>, context: &str) -> Result<endpoint::Endpoint, Error> {
    let input = endpoint_input(run.global, run.env, Some(context.to_owned()));
    Ok(endpoint::resolve_node_context(&input, &DiskConfig)?)
}

/// The node `wanted` names: its id, a unique prefix of it, or its hostname (unique).
fn node_named<'n>(nodes: &'n [Node], wanted: &str) -> Result<&'n Node, Error> {
    if let Some(node) = nodes.iter().find(|n| n.id == wanted) {
        return Ok(node);
    }
    let matching: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.id.starts_with(wanted) || n.hostname.eq_ignore_ascii_case(wanted))
        .collect();
    let listed = || {
        nodes
            .iter()
            .map(Node::display)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matching.as_slice() {
        [node] => Ok(node),
        [] => Err(blocked(
            format!("the swarm has no node `{wanted}`"),
            format!("name one of its nodes by id or hostname: {}", listed()),
        )),
        _ => Err(blocked(
            format!("`{wanted}` names several swarm nodes"),
            format!("name it by its id (`docker node ls`): {}", listed()),
        )),
    }
}

/// The context a node's `tierctl.context` label names.
fn context_of(node: &Node) -> Result<String, Error> {
    node.context().map(str::to_owned).ok_or_else(|| {
        blocked(
            format!(
                "swarm node {} has no `{CONTEXT_LABEL}` label: tierctl cannot reach its engine",
                node.display()
            ),
            "name the docker context that reaches it: `tierctl tiers nodes --assign NODE=CONTEXT`"
                .into(),
        )
    })
}

/// Plan the move and show it; `None`: a dry run, or (error) not confirmed.
fn planned(
    run: &Run<'_>,
    manager: &DockerEngine,
    nodes: &[Node],
    out: &mut dyn Write,
) -> Result<Option<MigratePlan>, Error> {
    let (settings, args, project) = (run.settings, run.args, run.project);
    let service = args.service.as_deref().unwrap_or_default();
    let def = project.services.get(service).ok_or_else(|| {
        blocked(
            format!("the stack file has no service `{service}`"),
            format!(
                "name one of {}",
                project
                    .services
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let stack = &project.name;
    let name = format!("{stack}_{service}");
    let before = manager.service_placement(&name)?.ok_or_else(|| {
        blocked(
            format!("the swarm has no service `{name}`"),
            format!(
                "tierctl moves a deployed stack's service: `docker stack deploy -c FILE {stack}` (the stack is `-p`, else the project's name)"
            ),
        )
    })?;
    let from = from_node(manager, nodes, &name, &before)?;
    let to = node_named(nodes, args.to_node.as_deref().unwrap_or_default())?;
    let moved = crate::swarm::service_move(def, from, to, nodes)
        .map_err(|e| blocked(e.to_string(), e.hint()))?;
    let edits = crate::plan::node_move(project, service, &moved.binds, &moved.edits)
        .map_err(|e| refused(&e.to_string()))?;
    let patched = crate::rewrite::patch(&edits, project)?;
    crate::rewrite::check_reload(&edits, project, &settings.load, &DiskFiles, &patched)?;
    let options = crate::migrate::plan::Options {
        remove_source: false,
        pre_copy: !args.stop_first,
    };
    let local = crate::migrate::plan::build(project, &edits, &patched, options).map_err(|u| {
        refused(&format!(
            "service `{}` mount `{}`: {}",
            u.service, u.target, u.reason
        ))
    })?;
    let after = after(&before, def, &moved);
    let swarm = SwarmService {
        stack: stack.clone(),
        service: service.to_owned(),
        name,
        from_node: from.id.clone(),
        from_context: context_of(from)?,
        to_node: to.id.clone(),
        before,
        after,
    };
    let roots = to.tiers().values().map(|r| r.to_path_buf()).collect();
    let images = def.image.iter().cloned().collect();
    let migration = cross_plan::swarm_move(local, &context_of(to)?, roots, images, swarm);
    let preview = render(settings, &Report::MigratePlan(&plan_report(&migration)))?;
    let go = shown_and_confirmed(&preview, args.dry_run, args, out)?;
    Ok(go.then_some(migration))
}

/// The node the service's data is on: where its task runs, else the one node its constraints
/// allow.
fn from_node<'n>(
    manager: &DockerEngine,
    nodes: &'n [Node],
    name: &str,
    placement: &ServicePlacement,
) -> Result<&'n Node, Error> {
    let tasks = manager.service_tasks(name)?;
    if let Some(task) = tasks.iter().find(|t| t.running) {
        return nodes
            .iter()
            .find(|n| n.id == task.node)
            .ok_or_else(|| refused(&format!("the manager lists no node `{}`", task.node)));
    }
    let eligible = crate::swarm::eligible(nodes, &placement.constraints)
        .map_err(|e| refused(&e.to_string()))?;
    match eligible.as_slice() {
        [node] => Ok(node),
        _ => Err(blocked(
            format!(
                "swarm service `{name}` runs no task, and its constraints allow {} node(s): tierctl cannot tell which node holds its data",
                eligible.len()
            ),
            "scale it up where its data is (`docker service scale NAME=1`), or pin it to that node first (`tierctl rewrite --swarm`)".into(),
        )),
    }
}

/// The service's placement after the move: its constraints with the move's edits, its moved
/// binds' new host paths, the replicas it had.
fn after(
    before: &ServicePlacement,
    def: &crate::compose::model::Service,
    moved: &crate::swarm::ServiceMove,
) -> ServicePlacement {
    let mut constraints = before.constraints.clone();
    for (replaces, constraint) in &moved.edits {
        let at = replaces.as_ref().and_then(|old| {
            constraints
                .iter()
                .position(|c| crate::plan::same_constraint(c, old))
        });
        match at {
            Some(i) => constraints[i] = constraint.clone(),
            None => constraints.push(constraint.clone()),
        }
    }
    let mut binds = before.binds.clone();
    for bind in &moved.binds {
        if let Some(mount) = def.mounts.iter().find(|m| m.id == bind.mount) {
            binds.insert(mount.target.clone(), bind.to.clone());
        }
    }
    ServicePlacement {
        replicas: before.replicas,
        constraints,
        binds,
    }
}
