//! Preflight of a move to engine B (`--to-context`), besides the checks of every migration:
//! the compose CLI that starts the project there, the project not running there yet, no file
//! for B with other text in the way, and the services' images there (no registry is assumed).
//! B's tier roots, room and targets are the site's checks ([`crate::migrate::tier_dirs`]).

use crate::engine::{EngineError, HelperSpec, Selector};
use crate::migrate::MigrateContext;
use crate::migrate::plan::MigratePlan;
use crate::migrate::site::OtherEngine;

/// What stands in the way of moving `plan` to B, one line each.
pub(super) fn problems(
    ctx: &MigrateContext<'_>,
    b: &OtherEngine<'_>,
    plan: &MigratePlan,
) -> Vec<String> {
    let mut problems = Vec::new();
    let engine_error = |e: EngineError| format!("{e}; hint: {}", e.hint());
    let swarm = plan.to_context.as_deref().and_then(|c| c.swarm.as_ref());
    if let Some(service) = swarm {
        // the swarm places the service: no compose CLI, no project on B, the stack file
        // rewritten in place (compare-and-swap at the rewrite)
        match b.swarm.map(|m| m.service_placement(&service.name)) {
            Some(Ok(Some(_))) => {}
            Some(Ok(None)) => problems.push(format!(
                "the swarm has no service `{}` (deploy the stack first: `docker stack deploy -c FILE {}`)",
                service.name, service.stack
            )),
            Some(Err(e)) => problems.push(engine_error(e)),
            None => problems.push("no swarm manager to place the service through".into()),
        }
    }
    if ctx.compose.is_none() && swarm.is_none() {
        problems.push("no compose CLI found (`docker compose`, `docker-compose-v2` or `docker-compose`) to start the project on the other engine".into());
    }
    match b.engine.list(&Selector::Project(plan.project.clone())) {
        _ if swarm.is_some() => {}
        Ok(found) if found.iter().any(|c| c.running) => problems.push(format!(
            "project `{}` already runs on context `{}`: stop it there first (`docker --context {} compose -p {} down`)",
            plan.project, b.context, b.context, plan.project
        )),
        Ok(_) => {}
        Err(e) => problems.push(engine_error(e)),
    }
    for change in plan.files.iter().filter(|_| swarm.is_none()) {
        if std::fs::read_to_string(&change.path).is_ok_and(|t| t != change.new) {
            problems.push(format!(
                "`{}` exists with other text: move it away first",
                change.path.display()
            ));
        }
    }
    let images = plan
        .to_context
        .as_deref()
        .map_or(&[][..], |c| &c.images[..]);
    for image in images {
        let probe = HelperSpec::new("image-check", image, vec!["true".into()]);
        match b.engine.populate(&probe) {
            Ok(()) => {}
            Err(EngineError::ImageMissing { .. }) => problems.push(format!(
                "image `{image}` of the project is not on context `{}` (no registry is assumed: copy it with `docker save {image} | docker --context {} load`)",
                b.context, b.context
            )),
            Err(e) => problems.push(engine_error(e)),
        }
    }
    problems
}
