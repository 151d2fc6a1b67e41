//! Swarm through a manager's engine: its nodes (as [`crate::swarm::Node`]), their labels
//! written, a stack's tasks and where they run.

use std::collections::{BTreeMap, HashMap};

use bollard::errors::Error as BollardError;
use bollard::models::{NodeSpecAvailabilityEnum, TaskState};
use bollard::query_parameters::{ListTasksOptions, UpdateNodeOptions};

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
        let mut tasks: Vec<Task> = listed
            .into_iter()
            .map(|t| {
                let status = t.status.unwrap_or_default();
                Task {
                    id: t.id.unwrap_or_default(),
                    service: t.service_id.unwrap_or_default(),
                    node: t.node_id.unwrap_or_default(),
                    container: status
                        .container_status
                        .and_then(|c| c.container_id)
                        .filter(|c| !c.is_empty()),
                    running: status.state == Some(TaskState::RUNNING),
                }
            })
            .collect();
        tasks.sort_by(|a, b| (&a.service, &a.id).cmp(&(&b.service, &b.id)));
        Ok(tasks)
    }
}
