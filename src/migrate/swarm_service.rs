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
    /// How long a placed task may take to run ([`START_WAIT`]).
    pub start_wait: Duration,
}

/// The Swarm part of `plan`'s move, when it is one and the context has the manager.
pub fn of<'a>(ctx: &MigrateContext<'a>, plan: &'a MigratePlan) -> Option<Swarm<'a>> {
    let service = plan.to_context.as_deref()?.swarm.as_ref()?;
    let manager = ctx.to.as_ref()?.swarm?;
    Some(Swarm {
        manager,
        service,
        start_wait: START_WAIT,
    })
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
            if start.elapsed() > self.start_wait {
                return Err(SwarmStepError::NotStarted {
                    service: name.clone(),
                    node: node.to_owned(),
                    secs: self.start_wait.as_secs(),
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A manager whose one service runs its tasks as `place_service` says, each update making
    /// the tasks of the step before end (`killed`: with exit 137) and `replicas` new ones run
    /// on `node` (none when `rejected` names why the swarm refused them).
    struct Manager {
        placement: Mutex<ServicePlacement>,
        tasks: Mutex<Vec<Task>>,
        node: String,
        killed: bool,
        rejected: Option<String>,
    }

    fn task(n: usize, node: &str, running: bool) -> Task {
        Task {
            id: format!("t{n}"),
            service: "svc".into(),
            node: node.into(),
            container: None,
            running,
            ended: !running,
            error: None,
            exit_code: None,
            updated_at: format!("2026-12-08T00:00:{n:02}Z"),
        }
    }

    impl SwarmServices for Manager {
        fn service_placement(&self, _: &str) -> Result<Option<ServicePlacement>, EngineError> {
            Ok(Some(self.placement.lock().expect("lock").clone()))
        }

        fn place_service(&self, _: &str, placement: &ServicePlacement) -> Result<(), EngineError> {
            *self.placement.lock().expect("lock") = placement.clone();
            let mut tasks = self.tasks.lock().expect("lock");
            for t in tasks.iter_mut().filter(|t| t.running) {
                t.running = false;
                t.ended = true;
                t.exit_code = Some(if self.killed { 137 } else { 0 });
            }
            for _ in 0..placement.replicas {
                let mut new = task(tasks.len(), &self.node, self.rejected.is_none());
                if let Some(why) = &self.rejected {
                    new.error = Some(why.clone());
                }
                tasks.push(new);
            }
            Ok(())
        }

        fn service_tasks(&self, _: &str) -> Result<Vec<Task>, EngineError> {
            Ok(self.tasks.lock().expect("lock").clone())
        }
    }

    fn service() -> SwarmService {
        SwarmService {
            stack: "shop".into(),
            service: "db".into(),
            name: "shop_db".into(),
            from_node: "a".into(),
            from_context: "first".into(),
            to_node: "b".into(),
            before: ServicePlacement {
                replicas: 1,
                constraints: vec!["node.id==a".into()],
                binds: [("/data".to_owned(), "/a/db".into())].into(),
            },
            after: ServicePlacement {
                replicas: 1,
                constraints: vec!["node.id==b".into()],
                binds: [("/data".to_owned(), "/b/db".into())].into(),
            },
        }
    }

    fn manager(killed: bool, rejected: Option<&str>) -> Manager {
        Manager {
            placement: Mutex::new(service().before),
            tasks: Mutex::new(vec![task(0, "a", true)]),
            node: "b".into(),
            killed,
            rejected: rejected.map(str::to_owned),
        }
    }

    #[test]
    fn issue24_stopped_at_zero_replicas_and_placed_running_on_the_new_node() {
        let manager = manager(false, None);
        let service = service();
        let swarm = Swarm {
            manager: &manager,
            service: &service,
            start_wait: Duration::from_secs(1),
        };
        assert_eq!(swarm.running().expect("listed"), ["db"]);
        assert_eq!(swarm.stop(10).expect("stopped"), ["db"]);
        let now = manager.placement.lock().expect("lock").clone();
        assert_eq!(now.replicas, 0);
        assert_eq!(
            now.constraints, service.before.constraints,
            "only the replicas change"
        );
        assert!(swarm.running().expect("listed").is_empty());
        assert!(
            swarm.killed().expect("listed").is_empty(),
            "it stopped cleanly"
        );
        // a stop repeated after a crash finds it stopped and changes nothing
        assert!(swarm.stop(10).expect("stopped again").is_empty());
        swarm.place(&service.after, "b").expect("placed");
        assert_eq!(*manager.placement.lock().expect("lock"), service.after);
        assert_eq!(swarm.running().expect("listed"), ["db"]);
    }

    #[test]
    fn issue24_a_task_killed_at_its_stop_is_named() {
        let manager = manager(true, None);
        let service = service();
        let swarm = Swarm {
            manager: &manager,
            service: &service,
            start_wait: Duration::from_secs(1),
        };
        swarm.stop(10).expect("stopped");
        let killed = swarm.killed().expect("listed");
        assert_eq!(killed.len(), 1, "{killed:?}");
        assert!(killed[0].contains("exit 137"), "{killed:?}");
    }

    #[test]
    fn issue24_a_placement_the_swarm_rejects_fails_with_its_reason() {
        let manager = manager(
            false,
            Some("invalid mount config: bind source path does not exist"),
        );
        let service = service();
        let swarm = Swarm {
            manager: &manager,
            service: &service,
            start_wait: Duration::from_secs(1),
        };
        swarm.stop(10).expect("stopped");
        // a placement with no replicas needs no task
        let idle = ServicePlacement {
            replicas: 0,
            ..service.after.clone()
        };
        swarm
            .place(&idle, "b")
            .expect("placed, nothing to wait for");
        let started = std::time::Instant::now();
        let error = swarm.place(&service.after, "b").expect_err("rejected");
        assert!(
            error
                .to_string()
                .contains("bind source path does not exist"),
            "{error}"
        );
        assert!(
            started.elapsed() >= swarm.start_wait,
            "it waited for a task to run"
        );
    }
}
