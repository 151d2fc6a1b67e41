//! Pure: a Swarm service moved to another node as a rewrite [`Plan`]: each of its bind mounts on
//! a tier of the old node gets the same path below that tier's root on the new node (a
//! [`Action::MoveBind`] whose data `migrate` copies first), and its placement constraints are
//! replaced or added so it runs on the new node only ([`EditKind::Constraint`]). Which binds and
//! which constraints is [`crate::swarm::service_move`]'s decision; this writes it as text edits,
//! where the mount is written in the service itself (an anchor, merge key or `extends` shared
//! with other services, or a whole variable set in an env file, is refused: the other users
//! would move too).

use thiserror::Error;

use super::{Candidate, Change, Edit, EditKind, Plan, Writing, change, step, writing};
use crate::audit::{Rebind, RebindAction, Via};
use crate::compose::model::{ComposeProject, MountId};
use crate::compose::origin::Reach;
use crate::swarm::MovedBind;

/// Why the move cannot be written as edits.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NodeMoveError {
    /// The project has no such service or mount.
    #[error("service `{service}` has no mount {mount:?} in the loaded project")]
    NoMount {
        /// The service.
        service: String,
        /// The mount.
        mount: MountId,
    },
    /// The mount's source is written where other services read it too.
    #[error(
        "service `{service}` mount `{target}`: its source is written in an anchor, merge key or extended service that other services may share; write it in the service itself, then move it"
    )]
    Shared {
        /// The service.
        service: String,
        /// The container path.
        target: String,
    },
    /// The mount's source cannot be rewritten as text.
    #[error("service `{service}` mount `{target}`: {why}")]
    Unwritable {
        /// The service.
        service: String,
        /// The container path.
        target: String,
        /// Why.
        why: String,
    },
}

/// The plan that moves `service`'s binds as `moved` says and writes `constraints` (each
/// `(replaces, constraint)`: a constraint replaced in place, or added when `replaces` is
/// `None`).
pub fn node_move(
    project: &ComposeProject,
    service: &str,
    moved: &[MovedBind],
    constraints: &[(Option<String>, String)],
) -> Result<Plan, NodeMoveError> {
    let mut out = Plan::default();
    for m in moved {
        let Some((def, mount)) = project.mount(m.mount).filter(|(s, _)| s.name == service) else {
            return Err(NodeMoveError::NoMount {
                service: service.to_owned(),
                mount: m.mount,
            });
        };
        if mount.origin.reach != Reach::Direct {
            return Err(NodeMoveError::Shared {
                service: service.to_owned(),
                target: mount.target.clone(),
            });
        }
        let rebind = Rebind {
            action: RebindAction::MoveBind,
            path: m.to.clone(),
            base: m.to.clone(),
            tier: Some(m.tier.clone()),
            from: Some(m.from.clone()),
            notes: Vec::new(),
            via: Via::Entry,
        };
        let unwritable = |why: String| NodeMoveError::Unwritable {
            service: service.to_owned(),
            target: mount.target.clone(),
            why,
        };
        let writing =
            writing(project, false, mount, &rebind).map_err(|e| unwritable(e.to_string()))?;
        let Writing::Direct(kinds) = &writing else {
            return Err(unwritable(
                "its source is a variable set in an env file".into(),
            ));
        };
        out.edits.extend(kinds.iter().map(|kind| Edit {
            file: mount.origin.file.clone(),
            mounts: vec![mount.id],
            kind: kind.clone(),
        }));
        let candidate = Candidate {
            service: def,
            mount,
            change: change(false, mount, &rebind),
            rebind,
            writing,
        };
        out.steps.push(step(&candidate));
        out.changes.push(Change { ..candidate.change });
    }
    let def = project.services.get(service);
    for (replaces, constraint) in constraints {
        let Some(def) = def else { break };
        out.edits.push(Edit {
            file: def.origin.file.clone(),
            mounts: moved.iter().map(|m| m.mount).collect(),
            kind: EditKind::Constraint {
                service: service.to_owned(),
                route: def.origin.route.clone(),
                constraint: constraint.clone(),
                replaces: replaces.clone(),
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::one_file;

    #[test]
    fn issue24_a_moved_bind_and_its_constraint_become_edits_of_the_service() {
        let text = "services:\n  db:\n    image: postgres # the db\n    volumes:\n      - /a/fast/db:/var/lib/postgresql/data\n      - /etc/tz:/etc/tz:ro\n    deploy:\n      placement:\n        constraints: [\"node.labels.tierctl.tier.fast==/a/fast\"]\n";
        let project = one_file::project(text);
        let id = project.services["db"].mounts[0].id;
        let moved = [MovedBind {
            mount: id,
            from: "/a/fast/db".into(),
            to: "/b/fast/db".into(),
            tier: "fast".into(),
        }];
        let constraints = [(
            Some("node.labels.tierctl.tier.fast==/a/fast".to_owned()),
            "node.labels.tierctl.tier.fast==/b/fast".to_owned(),
        )];
        let plan = node_move(&project, "db", &moved, &constraints).expect("a plan");
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].from.as_deref(), Some("/a/fast/db".as_ref()));
        assert_eq!(plan.steps[0].new, "/b/fast/db");
        let patched = crate::rewrite::patch(&plan, &project).expect("patched");
        assert_eq!(
            patched[0].new,
            text.replace("/a/fast/db:", "/b/fast/db:")
                .replace("fast==/a/fast", "fast==/b/fast")
        );
        let missing = node_move(&project, "web", &moved, &[]).expect_err("no such service");
        assert!(
            matches!(missing, NodeMoveError::NoMount { .. }),
            "{missing}"
        );
    }
}
