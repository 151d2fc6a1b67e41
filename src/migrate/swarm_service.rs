//! A Swarm service moved to another node (`migrate --to-node`): the one migrate engine runs it
//! as a move to engine B ([`super::site::OtherEngine`], B the new node's engine, this engine the
//! old node's), and where a move to B stops, starts and checks a compose project, this stops,
//! places and checks the service through the swarm's manager ([`SwarmServices`]):
//!
//! * stop: its replicas set to 0 (its other settings kept), then wait until every task ended;
//! * start: its placement after the move set in one update (constraints, the binds' new host
//!   paths, the replicas it had), then wait until its task runs on the new node;
//! * rollback: the placement before the move set back the same way.
//!
//! Each update sets absolute values, so one repeated after a crash does the same again.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::MigrateContext;
use super::plan::MigratePlan;
use crate::engine::swarm::{ServicePlacement, SwarmServices, Task};
use crate::engine::{ContainerState, EngineError, Selector};

/// The service a Swarm move moves: journaled in the plan ([`super::cross_plan::CrossHost`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwarmService {
    /// The stack (`docker stack deploy -c FILE STACK`).
    pub stack: String,
    /// The service in the stack file.
    pub service: String,
    /// Its name in the swarm (`<stack>_<service>`).
    pub name: String,
    /// The node it ran on (the copies' source side, this engine).
    pub from_node: String,
    /// The context that reaches that node's engine.
    pub from_context: String,
    /// The node it moves to (its engine is B, `CrossHost::context`).
    pub to_node: String,
    /// Its placement before the move (a rollback sets it back).
    pub before: ServicePlacement,
    /// Its placement after the move.
    pub after: ServicePlacement,
}

/// A step of a Swarm move that did not end as it should.
#[derive(Debug, Error)]
pub enum SwarmStepError {
    /// The manager did not answer or refused.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The tasks did not stop in time.
    #[error(
        "swarm service `{service}` was scaled to 0 but {left} of its task(s) still run after {secs} s"
    )]
    NotStopped {
        /// The service.
        service: String,
        /// Tasks still running.
        left: usize,
        /// Seconds waited.
        secs: u64,
    },
    /// No task ran on the new node in time.
    #[error("swarm service `{service}` has no running task on node {node} after {secs} s{why}")]
    NotStarted {
        /// The service.
        service: String,
        /// The node.
        node: String,
        /// Seconds waited.
        secs: u64,
        /// The swarm's reason, when a task failed (`: invalid mount config ...`).
        why: String,
    },
    /// The swarm has no such service (removed since the plan).
    #[error("the swarm has no service `{service}` (removed since the move began?)")]
    Gone {
        /// The service.
        service: String,
    },
}

/// How long a started task may take to run (an image already on the node).
const START_WAIT: Duration = Duration::from_secs(120);
/// How long the tasks may take to end beyond the service's grace period.
const STOP_MARGIN: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

/// The Swarm part of a move: the manager and the service (`None`: not a Swarm move).
pub struct Swarm<'a> {
    /// The manager.
    pub manager: &'a dyn SwarmServices,
    /// The service.
    pub service: &'a SwarmService,
}

/// The Swarm part of `plan`'s move, when it is one and the context has the manager.
pub fn of<'a>(ctx: &MigrateContext<'a>, plan: &'a MigratePlan) -> Option<Swarm<'a>> {
    let service = plan.to_context.as_deref()?.swarm.as_ref()?;
    let manager = ctx.to.as_ref()?.swarm?;
    Some(Swarm { manager, service })
}

impl Swarm<'_> {
    /// `[service]` when one of its tasks runs (anywhere), else nothing.
    pub fn running(&self) -> Result<Vec<String>, EngineError> {
        let tasks = self.manager.service_tasks(&self.service.name)?;
        Ok(match tasks.iter().any(|t| t.running) {
            true => vec![self.service.service.clone()],
            false => Vec::new(),
        })
    }

    /// Scale it to 0 (everything else as it is now) and wait until its tasks ended; the
    /// services stopped (`[service]`, or nothing when none ran).
    pub fn stop(&self, grace_secs: u32) -> Result<Vec<String>, SwarmStepError> {
        let name = &self.service.name;
        let was = self.running()?;
        let mut now =
            self.manager
                .service_placement(name)?
                .ok_or_else(|| SwarmStepError::Gone {
                    service: name.clone(),
                })?;
        if now.replicas != 0 {
            now.replicas = 0;
            self.manager.place_service(name, &now)?;
        }
        let wait = Duration::from_secs(u64::from(grace_secs)) + STOP_MARGIN;
        let start = Instant::now();
        loop {
            let left = self
                .manager
                .service_tasks(name)?
                .iter()
                .filter(|t| !t.ended)
                .count();
            if left == 0 {
                return Ok(was);
            }
            if start.elapsed() > wait {
                return Err(SwarmStepError::NotStopped {
                    service: name.clone(),
                    left,
                    secs: wait.as_secs(),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Set `placement` and, when it has replicas, wait until a task runs on `node`.
    pub fn place(&self, placement: &ServicePlacement, node: &str) -> Result<(), SwarmStepError> {
        let name = &self.service.name;
        self.manager.place_service(name, placement)?;
        if placement.replicas == 0 {
            return Ok(());
        }
        let start = Instant::now();
        loop {
            let tasks = self.manager.service_tasks(name)?;
            if tasks.iter().any(|t| t.running && t.node == node) {
                return Ok(());
            }
            if start.elapsed() > START_WAIT {
                return Err(SwarmStepError::NotStarted {
                    service: name.clone(),
                    node: node.to_owned(),
                    secs: START_WAIT.as_secs(),
                    why: failure(&tasks),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// The last task that ended on the old node when it was killed instead of stopping (exit
    /// 137: its grace period ran out, or out of memory), as `task `ID` killed (...)`.
    pub fn killed(&self) -> Result<Vec<String>, EngineError> {
        let tasks = self.manager.service_tasks(&self.service.name)?;
        let last = tasks
            .iter()
            .filter(|t| t.ended && t.node == self.service.from_node)
            .max_by(|a, b| a.updated_at.cmp(&b.updated_at));
        Ok(last
            .filter(|t| t.exit_code == Some(137))
            .map(|t| {
                format!(
                    "task `{}` of `{}` killed (exit 137: it did not stop within its grace period)",
                    t.id, self.service.name
                )
            })
            .into_iter()
            .collect())
    }

    /// Its containers on the engine of a node, named by the service in the stack file (as a
    /// compose project's are), for the mount checks.
    pub fn containers(
        &self,
        engine: &dyn crate::engine::Engine,
    ) -> Result<Vec<ContainerState>, EngineError> {
        let mut found = engine.list(&Selector::SwarmService(self.service.name.clone()))?;
        for c in &mut found {
            c.service = Some(self.service.service.clone());
        }
        Ok(found)
    }
}

/// The swarm's reason a task failed, when one did (`: ...`), else nothing.
fn failure(tasks: &[Task]) -> String {
    tasks
        .iter()
        .find_map(|t| t.error.as_ref())
        .map(|e| format!(": {e}"))
        .unwrap_or_default()
}
