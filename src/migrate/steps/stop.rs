//! The stop: the plan's running services, stopped as compose would (dependents first, each
//! with its grace period); and the refusal to go on when one was killed instead of stopping.

use std::time::SystemTime;

use crate::engine::{ContainerState, Containers, Engine, EngineError, Selector};
use crate::migrate::journal::Detail;
use crate::migrate::plan::MigratePlan;
use crate::migrate::progress::{self};
use crate::migrate::stop_order;
use crate::migrate::swarm_service;

use super::*;

/// The plan's services that run now where the move takes them from: a Swarm service's
/// through the manager ([`swarm_service`]), else [`running_services`] on this engine.
pub fn running_now(
    ctx: &crate::migrate::MigrateContext<'_>,
    plan: &MigratePlan,
) -> Result<Vec<String>, EngineError> {
    match swarm_service::of(ctx, plan) {
        Some(swarm) => swarm.running(),
        None => running_services(ctx.engine, plan),
    }
}

/// The plan's services that run now (one name per service), as the stop step finds them; the
/// step loop journals them before the stop step stops anything.
pub fn running_services(
    engine: &dyn Engine,
    plan: &MigratePlan,
) -> Result<Vec<String>, EngineError> {
    let containers = engine.list(&Selector::Project(plan.project.clone()))?;
    let mut running = Vec::new();
    for c in containers.iter().filter(|c| c.running) {
        if let Some(service) = c.service.as_ref().filter(|s| plan.services.contains(s))
            && !running.contains(service)
        {
            running.push(service.clone());
        }
    }
    Ok(running)
}

/// Stop the plan's running services, each with its grace period ([`stop_containers`]). The
/// services to start again are those running now plus those journaled running before (a run
/// killed during the stop left some stopped already).
pub fn stop(input: &StepInput<'_>) -> StepResult {
    let (ctx, plan) = (input.ctx, input.plan);
    let at_ms = now_ms();
    let bar = progress::bar(input.label.to_owned());
    input.durable(Durable::ServiceStop)?;
    let stopped = match swarm_service::of(ctx, plan) {
        Some(swarm) => swarm.stop(plan.grace_of(&swarm.service.service))?,
        None => stop_plan_services(ctx.engine, plan)?,
    };
    let mut running: Vec<String> = input.state.running_before.clone();
    for service in stopped {
        if !running.contains(&service) {
            running.push(service);
        }
    }
    bar.finish_and_clear();
    let result = format!("stopped: {}", list_or_none(&running));
    Ok((
        Detail::Stopped {
            running,
            at_ms: Some(at_ms),
        },
        result,
    ))
}

/// Stop the running containers of the plan's services ([`stop_containers`]); the services
/// stopped, in stop order.
pub fn stop_plan_services(
    engine: &dyn Engine,
    plan: &MigratePlan,
) -> Result<Vec<String>, EngineError> {
    let ours: Vec<ContainerState> = engine
        .list(&Selector::Project(plan.project.clone()))?
        .into_iter()
        .filter(|c| {
            c.running
                && c.service
                    .as_ref()
                    .is_some_and(|s| plan.services.contains(s))
        })
        .collect();
    stop_containers(engine, &ours, plan)
}

/// Stop `containers` as compose would: dependents before what they need
/// ([`stop_order::layers`] of the plan's `needs`), the containers of one layer at once, each
/// with its service's grace period (a container of no service: the plan's default, first);
/// the services stopped, in stop order.
pub fn stop_containers(
    engine: &dyn Containers,
    containers: &[ContainerState],
    plan: &MigratePlan,
) -> Result<Vec<String>, EngineError> {
    let mut services: Vec<String> = Vec::new();
    for s in containers.iter().filter_map(|c| c.service.as_ref()) {
        if !services.contains(s) {
            services.push(s.clone());
        }
    }
    let unnamed: Vec<(&str, u32)> = containers
        .iter()
        .filter(|c| c.service.is_none())
        .map(|c| (c.id.as_str(), plan.grace_secs))
        .collect();
    if !unnamed.is_empty() {
        engine.stop(&unnamed)?;
    }
    let mut stopped = Vec::new();
    for layer in stop_order::layers(&services, &plan.needs) {
        let batch: Vec<(&str, u32)> = containers
            .iter()
            .filter(|c| c.service.as_ref().is_some_and(|s| layer.contains(s)))
            .map(|c| {
                (
                    c.id.as_str(),
                    plan.grace_of(c.service.as_deref().unwrap_or_default()),
                )
            })
            .collect();
        engine.stop(&batch)?;
        stopped.extend(layer);
    }
    Ok(stopped)
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Refuse to go on when a service this run stopped was killed instead (exit 137: the grace
/// period ran out, or out of memory), unless `--force`.
pub fn refuse_killed(input: &StepInput<'_>) -> Result<(), StepError> {
    let (ctx, plan) = (input.ctx, input.plan);
    let running = input.state.running_services();
    if ctx.force || running.is_empty() {
        return Ok(());
    }
    if let Some(swarm) = swarm_service::of(ctx, plan) {
        let killed = swarm.killed()?;
        return match killed.is_empty() {
            true => Ok(()),
            false => Err(StepError::NotStoppedCleanly { killed }),
        };
    }
    let containers = ctx.engine.list(&Selector::Project(plan.project.clone()))?;
    let mut killed = Vec::new();
    for c in containers
        .iter()
        .filter(|c| !c.running && c.service.as_ref().is_some_and(|s| running.contains(s)))
    {
        let Some(info) = ctx.engine.inspect(&c.id)? else {
            continue;
        };
        let why = match (info.oom_killed, info.exit_code) {
            (true, _) => "killed for memory",
            (false, Some(137)) => "killed (exit 137: it did not stop within its grace period)",
            _ => continue,
        };
        killed.push(format!("container `{}` {why}", info.name));
    }
    if killed.is_empty() {
        return Ok(());
    }
    Err(StepError::NotStoppedCleanly { killed })
}
