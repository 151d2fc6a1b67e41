//! Swarm through a manager's engine: its nodes (as [`crate::swarm::Node`]), their labels
//! written, a stack's tasks and where they run, and a service's placement read and changed
//! ([`SwarmServices`]: what a move to another node does through the manager).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bollard::errors::Error as BollardError;
use bollard::models::{NodeSpecAvailabilityEnum, TaskState};
use bollard::query_parameters::{
    InspectServiceOptions, ListTasksOptions, UpdateNodeOptions, UpdateServiceOptions,
};

use super::EngineError;
use super::docker::DockerEngine;
use crate::swarm::{Availability, Node};

/// One task of a stack: its service, the node it is on and its container there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// The task id.
    pub id: String,
    /// The Swarm service's id.
    pub service: String,
    /// The node the scheduler put it on.
    pub node: String,
    /// Its container on that node (none before it starts).
    pub container: Option<String>,
    /// Whether it is running.
    pub running: bool,
    /// Whether it has ended (complete, shutdown, failed, rejected, removed, orphaned): its
    /// container no longer runs.
    pub ended: bool,
    /// Why it failed or was rejected, as the swarm says (`invalid mount config ...`).
    pub error: Option<String>,
    /// Its container's exit code, once it exited.
    pub exit_code: Option<i64>,
    /// When its state last changed (RFC 3339, so later sorts after).
    pub updated_at: String,
}

/// What a move to another node changes of a Swarm service: how many tasks, where they may run,
/// and the host paths bound into them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServicePlacement {
    /// `replicas` (a replicated service).
    pub replicas: u64,
    /// Its placement constraints.
    pub constraints: Vec<String>,
    /// Its bind mounts: container path -> host path.
    pub binds: BTreeMap<String, PathBuf>,
}

/// A Swarm service's placement through the manager: read, changed, and its tasks.
pub trait SwarmServices: Sync {
    /// Service `name`'s placement now (`None`: the swarm has no such service).
    fn service_placement(&self, name: &str) -> Result<Option<ServicePlacement>, EngineError>;
    /// Sets service `name`'s replicas and constraints to `placement`'s, and the host path of
    /// each of its binds at a container path `placement` names (its other mounts kept). The
    /// swarm then stops or starts tasks to match.
    fn place_service(&self, name: &str, placement: &ServicePlacement) -> Result<(), EngineError>;
    /// Every task of service `name` the manager still lists, newest state first per slot.
    fn service_tasks(&self, name: &str) -> Result<Vec<Task>, EngineError>;
}

impl DockerEngine {
    /// The swarm's nodes, as the manager lists them (an engine that is no manager answers
    /// with an API error saying so).
    pub fn swarm_nodes(&self) -> Result<Vec<Node>, EngineError> {
        let listed = self
            .runtime()
            .block_on(self.docker().list_nodes(None))
            .map_err(|e| self.classify(&e, "list the swarm's nodes"))?;
        let mut nodes: Vec<Node> = listed
            .into_iter()
            .map(|n| {
                let spec = n.spec.unwrap_or_default();
                let description = n.description.unwrap_or_default();
                let platform = description.platform.unwrap_or_default();
                let engine_labels = description
                    .engine
                    .and_then(|e| e.labels)
                    .unwrap_or_default();
                Node {
                    id: n.id.unwrap_or_default(),
                    hostname: description.hostname.unwrap_or_default(),
                    role: spec
                        .role
                        .map(|r| r.to_string())
                        .unwrap_or_else(|| "worker".into()),
                    availability: match spec.availability {
                        Some(NodeSpecAvailabilityEnum::DRAIN) => Availability::Drain,
                        Some(NodeSpecAvailabilityEnum::PAUSE) => Availability::Pause,
                        _ => Availability::Active,
                    },
                    state: n
                        .status
                        .and_then(|s| s.state)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    labels: spec.labels.unwrap_or_default().into_iter().collect(),
                    engine_labels: engine_labels.into_iter().collect(),
                    platform: (
                        platform.os.unwrap_or_default(),
                        platform.architecture.unwrap_or_default(),
                    ),
                }
            })
            .collect();
        nodes.sort_by(|a, b| (&a.hostname, &a.id).cmp(&(&b.hostname, &b.id)));
        Ok(nodes)
    }

    /// Sets node labels on `node` (others kept), `None` removes one.
    pub fn label_node(
        &self,
        node: &str,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<(), EngineError> {
        // another client's update of the node in between: read its new version, try again
        let mut tries = 0;
        loop {
            match self.label_node_once(node, labels) {
                Err(BollardError::DockerResponseServerError { message, .. })
                    if message.contains("out of sequence") && tries < 10 =>
                {
                    tries += 1;
                }
                done => {
                    return done.map_err(|e| self.classify(&e, &format!("label node `{node}`")));
                }
            }
        }
    }

    fn label_node_once(
        &self,
        node: &str,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<(), BollardError> {
        let current = self.runtime().block_on(self.docker().inspect_node(node))?;
        let version = current.version.and_then(|v| v.index).unwrap_or_default();
        let mut spec = current.spec.unwrap_or_default();
        let mut all: HashMap<String, String> = spec.labels.take().unwrap_or_default();
        for (key, value) in labels {
            match value {
                Some(v) => all.insert(key.clone(), v.clone()),
                None => all.remove(key),
            };
        }
        spec.labels = Some(all);
        let options = UpdateNodeOptions {
            version: i64::try_from(version).unwrap_or(i64::MAX),
        };
        self.runtime()
            .block_on(self.docker().update_node(node, spec, options))
    }

    /// The tasks of stack `stack` (`com.docker.stack.namespace`) the swarm wants running.
    pub fn stack_tasks(&self, stack: &str) -> Result<Vec<Task>, EngineError> {
        let filters = HashMap::from([
            (
                "label".to_owned(),
                vec![format!("com.docker.stack.namespace={stack}")],
            ),
            ("desired-state".to_owned(), vec!["running".to_owned()]),
        ]);
        let options = ListTasksOptions {
            filters: Some(filters),
        };
        let listed = self
            .runtime()
            .block_on(self.docker().list_tasks(Some(options)))
            .map_err(|e| self.classify(&e, &format!("list the tasks of stack `{stack}`")))?;
        let mut tasks: Vec<Task> = listed.into_iter().map(task).collect();
        tasks.sort_by(|a, b| (&a.service, &a.id).cmp(&(&b.service, &b.id)));
        Ok(tasks)
    }

    fn place_service_once(
        &self,
        name: &str,
        placement: &ServicePlacement,
    ) -> Result<(), BollardError> {
        let current = self.runtime().block_on(
            self.docker()
                .inspect_service(name, None::<InspectServiceOptions>),
        )?;
        let version = current.version.and_then(|v| v.index).unwrap_or_default();
        let mut spec = current.spec.unwrap_or_default();
        let mode = spec.mode.get_or_insert_with(Default::default);
        mode.replicated
            .get_or_insert_with(Default::default)
            .replicas = Some(i64::try_from(placement.replicas).unwrap_or(i64::MAX));
        let task = spec.task_template.get_or_insert_with(Default::default);
        task.placement
            .get_or_insert_with(Default::default)
            .constraints = Some(placement.constraints.clone());
        if let Some(container) = task.container_spec.as_mut() {
            for mount in container.mounts.iter_mut().flatten() {
                let at = mount.target.as_deref().unwrap_or_default();
                if let Some(source) = placement.binds.get(at) {
                    mount.source = Some(source.display().to_string());
                }
            }
        }
        let options = UpdateServiceOptions {
            version: i32::try_from(version).unwrap_or(i32::MAX),
            ..Default::default()
        };
        self.runtime()
            .block_on(self.docker().update_service(name, spec, options, None))
            .map(|_| ())
    }
}

/// One task as the manager lists it.
fn task(t: bollard::models::Task) -> Task {
    let status = t.status.unwrap_or_default();
    let container = status.container_status.unwrap_or_default();
    Task {
        id: t.id.unwrap_or_default(),
        service: t.service_id.unwrap_or_default(),
        node: t.node_id.unwrap_or_default(),
        container: container.container_id.filter(|c| !c.is_empty()),
        running: status.state == Some(TaskState::RUNNING),
        ended: status.state.is_some_and(ended),
        error: status.err.filter(|e| !e.is_empty()),
        exit_code: container.exit_code,
        updated_at: t.updated_at.unwrap_or_default(),
    }
}

/// A task state after which its container no longer runs.
fn ended(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::COMPLETE
            | TaskState::SHUTDOWN
            | TaskState::FAILED
            | TaskState::REJECTED
            | TaskState::REMOVE
            | TaskState::ORPHANED
    )
}

impl SwarmServices for DockerEngine {
    fn service_placement(&self, name: &str) -> Result<Option<ServicePlacement>, EngineError> {
        let found = self.runtime().block_on(
            self.docker()
                .inspect_service(name, None::<InspectServiceOptions>),
        );
        let service = match found {
            Ok(service) => service,
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(self.classify(&e, &format!("inspect swarm service `{name}`"))),
        };
        let spec = service.spec.unwrap_or_default();
        let replicas = spec
            .mode
            .and_then(|m| m.replicated)
            .and_then(|r| r.replicas)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(1);
        let task = spec.task_template.unwrap_or_default();
        let constraints = task
            .placement
            .and_then(|p| p.constraints)
            .unwrap_or_default();
        let binds = task
            .container_spec
            .and_then(|c| c.mounts)
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.typ == Some(bollard::models::MountType::BIND))
            .filter_map(|m| Some((m.target?, PathBuf::from(m.source?))))
            .collect();
        Ok(Some(ServicePlacement {
            replicas,
            constraints,
            binds,
        }))
    }

    fn place_service(&self, name: &str, placement: &ServicePlacement) -> Result<(), EngineError> {
        // another client's update of the service in between: read its new version, try again
        let mut tries = 0;
        loop {
            match self.place_service_once(name, placement) {
                Err(BollardError::DockerResponseServerError { message, .. })
                    if message.contains("out of sequence") && tries < 10 =>
                {
                    tries += 1;
                }
                done => {
                    return done
                        .map_err(|e| self.classify(&e, &format!("update swarm service `{name}`")));
                }
            }
        }
    }

    fn service_tasks(&self, name: &str) -> Result<Vec<Task>, EngineError> {
        let filters = HashMap::from([("service".to_owned(), vec![name.to_owned()])]);
        let options = ListTasksOptions {
            filters: Some(filters),
        };
        let listed = self
            .runtime()
            .block_on(self.docker().list_tasks(Some(options)))
            .map_err(|e| self.classify(&e, &format!("list the tasks of swarm service `{name}`")))?;
        // the filter also takes an id prefix: keep the tasks of the service of that name only
        let id = self
            .runtime()
            .block_on(
                self.docker()
                    .inspect_service(name, None::<InspectServiceOptions>),
            )
            .map_err(|e| self.classify(&e, &format!("inspect swarm service `{name}`")))?
            .id
            .unwrap_or_default();
        Ok(listed
            .into_iter()
            .map(task)
            .filter(|t| t.service == id)
            .collect())
    }
}
