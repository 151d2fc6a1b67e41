//! Pure: which data of a Swarm service moves when it moves from one node to another, and the
//! placement constraints that keep it on the new node. A bind on a tier of the old node (its
//! `tierctl.tier.<name>` labels) goes to the same path below that tier's root on the new node;
//! `node.labels.tierctl.tier.<name>==OLD_ROOT`, `node.id==OLD` and `node.hostname==OLD` are
//! rewritten to the new node; a moved tier without a constraint gets one (as `rewrite --swarm`
//! adds it); and when the constraints would still let another node run the service, a
//! `node.hostname` (or, when two nodes share the hostname, `node.id`) constraint pins it.

use std::path::PathBuf;

use thiserror::Error;

use super::constraint::same_constraint;
use super::constraint::{Constraint, ConstraintError, Operator, eligible};
use super::node::{Node, tier_label};
use crate::compose::model::MountId;
use crate::compose::model::{MountType, Service};

/// One bind mount of the service and where its data goes on the new node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedBind {
    /// The mount.
    pub mount: MountId,
    /// Its directory on the old node.
    pub from: PathBuf,
    /// Its directory on the new node.
    pub to: PathBuf,
    /// The tier both lie on.
    pub tier: String,
}

/// What moves and what the constraints become.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceMove {
    /// The binds whose data moves.
    pub binds: Vec<MovedBind>,
    /// Each constraint edit: `(replaces, constraint)` (`None`: added).
    pub edits: Vec<(Option<String>, String)>,
    /// The service's constraints afterwards.
    pub constraints: Vec<String>,
}

/// Why a service cannot move between these nodes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ServiceMoveError {
    /// It runs several tasks: each node would keep its own data.
    #[error(
        "service `{service}` runs {how}: each of its tasks writes its own node's copy, so there is no one copy to move"
    )]
    SeveralTasks {
        /// The service.
        service: String,
        /// `mode: global` or `3 replicas`.
        how: String,
    },
    /// Both are one node.
    #[error("service `{service}` already runs on swarm node {node}")]
    SameNode {
        /// The service.
        service: String,
        /// The node.
        node: String,
    },
    /// Nothing of it lies on a tier of the old node.
    #[error(
        "service `{service}` has no bind mount on a tier of swarm node {node} (its `tierctl.tier.*` labels): there is no data for tierctl to move"
    )]
    NoData {
        /// The service.
        service: String,
        /// The old node.
        node: String,
    },
    /// The new node has no root for a tier the data is on.
    #[error(
        "swarm node {node} has no tier `{tier}` (no `tierctl.tier.{tier}` label), which `{path}` of service `{service}` is on"
    )]
    TierMissing {
        /// The service.
        service: String,
        /// The new node.
        node: String,
        /// The tier.
        tier: String,
        /// The bind source.
        path: PathBuf,
    },
    /// A writable local mount that is not on a tier would be left behind.
    #[error(
        "service `{service}` mount `{target}` ({source_text}) is local data on no tier of swarm node {node}: tierctl moves only tier directories, and the task on the new node would not find it"
    )]
    LeftBehind {
        /// The service.
        service: String,
        /// The container path.
        target: String,
        /// The source as written.
        source_text: String,
        /// The old node.
        node: String,
    },
    /// A constraint that does not parse.
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
    /// No constraint tierctl can write keeps the service on the new node alone.
    #[error(
        "the constraints of service `{service}` would still let it run on {others} besides swarm node {node}"
    )]
    NotPinned {
        /// The service.
        service: String,
        /// The new node.
        node: String,
        /// The other nodes.
        others: String,
    },
}

impl ServiceMoveError {
    /// What to do.
    pub fn hint(&self) -> String {
        match self {
            ServiceMoveError::SeveralTasks { .. } => "scale it to one replica first (`deploy.replicas: 1`), or move each node's data by hand".into(),
            ServiceMoveError::SameNode { .. } => "nothing to do; `--to-node` names the node the service should run on".into(),
            ServiceMoveError::NoData { .. } => "put its data on a tier first (`tierctl migrate` where it runs), or label the node's tiers (`tierctl tiers nodes --write`)".into(),
            ServiceMoveError::TierMissing { node, tier, .. } => format!("label the node's root of tier `{tier}`: `docker node update --label-add tierctl.tier.{tier}=ROOT {node}` (or `tierctl tiers nodes --write`)"),
            ServiceMoveError::LeftBehind { .. } => "move that data onto a tier of the node first (`tierctl migrate` there), or mount it read-only if it is configuration present on every node".into(),
            ServiceMoveError::Constraint(_) => "fix the constraint in the stack file".into(),
            ServiceMoveError::NotPinned { .. } => "add a constraint that names the node (`node.hostname==...`) to the service by hand".into(),
        }
    }
}

/// How `service` (its definition in the stack file) moves from node `from` to node `to`, among
/// the swarm's `nodes`.
pub fn plan(
    service: &Service,
    from: &Node,
    to: &Node,
    nodes: &[Node],
) -> Result<ServiceMove, ServiceMoveError> {
    let name = &service.name;
    if service.deploy.global {
        return Err(ServiceMoveError::SeveralTasks {
            service: name.clone(),
            how: "`mode: global`".into(),
        });
    }
    if let Some(n) = service.deploy.replicas.filter(|n| *n > 1) {
        return Err(ServiceMoveError::SeveralTasks {
            service: name.clone(),
            how: format!("{n} replicas"),
        });
    }
    if from.id == to.id {
        return Err(ServiceMoveError::SameNode {
            service: name.clone(),
            node: to.display(),
        });
    }
    let new_tiers = to.tiers();
    let mut binds = Vec::new();
    for mount in &service.mounts {
        let left_behind = || ServiceMoveError::LeftBehind {
            service: name.clone(),
            target: mount.target.clone(),
            source_text: mount.display_source(),
            node: from.display(),
        };
        let path = match (mount.kind, &mount.host_path) {
            (MountType::Bind, Some(path)) => path,
            (MountType::Volume, _) if !mount.read_only => return Err(left_behind()),
            _ => continue,
        };
        let Some((tier, root)) = from.tier_of(path) else {
            if mount.read_only {
                continue;
            }
            return Err(left_behind());
        };
        let Some(new_root) = new_tiers.get(tier) else {
            return Err(ServiceMoveError::TierMissing {
                service: name.clone(),
                node: to.display(),
                tier: tier.to_owned(),
                path: path.clone(),
            });
        };
        let below = path.strip_prefix(&root).unwrap_or(path.as_path());
        binds.push(MovedBind {
            mount: mount.id,
            from: path.clone(),
            to: new_root.join(below),
            tier: tier.to_owned(),
        });
    }
    if binds.is_empty() {
        return Err(ServiceMoveError::NoData {
            service: name.clone(),
            node: from.display(),
        });
    }
    let moved_tiers: Vec<&String> = {
        let mut t: Vec<&String> = binds.iter().map(|b| &b.tier).collect();
        t.sort();
        t.dedup();
        t
    };
    let mut edits = Vec::new();
    let mut constraints = Vec::new();
    for written in &service.deploy.constraints {
        let c = Constraint::parse(written)?;
        let renamed = (c.operator == Operator::Equal)
            .then(|| renamed(&c, from, to))
            .flatten();
        match renamed {
            Some(new) => {
                edits.push((Some(written.clone()), new.clone()));
                constraints.push(new);
            }
            None => constraints.push(written.clone()),
        }
    }
    for tier in moved_tiers {
        let root = new_tiers
            .get(tier.as_str())
            .map(|r| r.display().to_string());
        let wanted = format!(
            "node.labels.{}=={}",
            tier_label(tier),
            root.unwrap_or_default()
        );
        if !constraints.iter().any(|c| same_constraint(c, &wanted)) {
            edits.push((None, wanted.clone()));
            constraints.push(wanted);
        }
    }
    let others = |constraints: &[String]| -> Result<Vec<String>, ConstraintError> {
        Ok(eligible(nodes, constraints)?
            .into_iter()
            .filter(|n| n.id != to.id)
            .map(Node::display)
            .collect())
    };
    if !others(&constraints)?.is_empty() {
        let shared_hostname = nodes
            .iter()
            .any(|n| n.id != to.id && n.hostname.eq_ignore_ascii_case(&to.hostname));
        let pin = match shared_hostname {
            true => format!("node.id=={}", to.id),
            false => format!("node.hostname=={}", to.hostname),
        };
        edits.push((None, pin.clone()));
        constraints.push(pin);
        let left = others(&constraints)?;
        if !left.is_empty() {
            return Err(ServiceMoveError::NotPinned {
                service: name.clone(),
                node: to.display(),
                others: left.join(", "),
            });
        }
    }
    Ok(ServiceMove {
        binds,
        edits,
        constraints,
    })
}

/// `c` said for node `to` what it says for node `from`: its tier label's root, its id or its
/// hostname; `None`: it does not name `from`.
fn renamed(c: &Constraint, from: &Node, to: &Node) -> Option<String> {
    let key = c.key.to_ascii_lowercase();
    let value = match key.as_str() {
        "node.id" if c.value.eq_ignore_ascii_case(&from.id) => to.id.clone(),
        "node.hostname" if c.value.eq_ignore_ascii_case(&from.hostname) => to.hostname.clone(),
        _ => {
            let tier = c
                .key
                .strip_prefix("node.labels.")?
                .strip_prefix(super::TIER_LABEL_PREFIX)?;
            let old = from.tiers().get(tier)?.display().to_string();
            if c.value != old {
                return None;
            }
            to.tiers().get(tier)?.display().to_string()
        }
    };
    Some(format!("{}=={value}", c.key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::one_file;
    use crate::swarm::node::node;

    fn nodes() -> Vec<Node> {
        let mut a = node("a", &[("tierctl.tier.fast", "/a/fast")]);
        let mut b = node("b", &[("tierctl.tier.fast", "/b/fast")]);
        a.hostname = "alpha".into();
        b.hostname = "beta".into();
        vec![a, b]
    }

    fn service(text: &str) -> Service {
        one_file::project(text).services["db"].clone()
    }

    #[test]
    fn issue24_a_pinned_service_moves_its_tier_data_and_its_constraint() {
        let nodes = nodes();
        let db = service(
            "services:\n  db:\n    image: pg\n    volumes: [\"/a/fast/db/x:/data\", \"/etc/tz:/etc/tz:ro\"]\n    deploy:\n      placement:\n        constraints: [\"node.labels.tierctl.tier.fast == /a/fast\", \"node.role==worker\"]\n",
        );
        let moved = plan(&db, &nodes[0], &nodes[1], &nodes).expect("moves");
        assert_eq!(moved.binds.len(), 1, "the read-only config stays");
        assert_eq!(moved.binds[0].from, PathBuf::from("/a/fast/db/x"));
        assert_eq!(moved.binds[0].to, PathBuf::from("/b/fast/db/x"));
        assert_eq!(
            moved.edits,
            [(
                Some("node.labels.tierctl.tier.fast == /a/fast".to_owned()),
                "node.labels.tierctl.tier.fast==/b/fast".to_owned()
            )]
        );
        assert_eq!(
            moved.constraints,
            [
                "node.labels.tierctl.tier.fast==/b/fast",
                "node.role==worker"
            ]
        );
    }

    #[test]
    fn issue24_one_tier_path_on_both_nodes_is_pinned_by_hostname_or_id() {
        let mut nodes = nodes();
        nodes[1]
            .labels
            .insert("tierctl.tier.fast".into(), "/a/fast".into());
        let db = service(
            "services:\n  db:\n    image: pg\n    volumes: [\"/a/fast/db:/data\"]\n    deploy:\n      placement:\n        constraints: [\"node.labels.tierctl.tier.fast==/a/fast\", \"node.hostname==alpha\"]\n",
        );
        let moved = plan(&db, &nodes[0], &nodes[1], &nodes).expect("moves");
        assert_eq!(moved.binds[0].to, PathBuf::from("/a/fast/db"));
        assert_eq!(
            moved.constraints,
            [
                "node.labels.tierctl.tier.fast==/a/fast",
                "node.hostname==beta"
            ]
        );
        // two nodes with one hostname (this machine's CI swarm): the id pins it
        nodes[1].hostname = "alpha".into();
        let unpinned =
            service("services:\n  db:\n    image: pg\n    volumes: [\"/a/fast/db:/data\"]\n");
        let moved = plan(&unpinned, &nodes[0], &nodes[1], &nodes).expect("moves");
        assert_eq!(
            moved.constraints,
            ["node.labels.tierctl.tier.fast==/a/fast", "node.id==b"]
        );
        assert!(moved.edits.iter().all(|(replaces, _)| replaces.is_none()));
    }

    #[test]
    fn issue24_what_cannot_move_is_refused_with_its_reason() {
        let nodes = nodes();
        let refuse =
            |text: &str| plan(&service(text), &nodes[0], &nodes[1], &nodes).expect_err("refused");
        let e = refuse(
            "services:\n  db:\n    image: pg\n    volumes: [\"/a/fast/db:/d\"]\n    deploy: {replicas: 2}\n",
        );
        assert!(matches!(e, ServiceMoveError::SeveralTasks { .. }), "{e}");
        let e = refuse("services:\n  db:\n    image: pg\n    volumes: [\"/srv/db:/d\"]\n");
        assert!(matches!(e, ServiceMoveError::LeftBehind { .. }), "{e}");
        assert!(e.to_string().contains("/srv/db"), "{e}");
        let e = refuse("services:\n  db:\n    image: pg\n    volumes: [\"/etc/tz:/tz:ro\"]\n");
        assert!(matches!(e, ServiceMoveError::NoData { .. }), "{e}");
        let e = refuse(
            "services:\n  db:\n    image: pg\n    volumes: [\"data:/d\"]\nvolumes:\n  data: {}\n",
        );
        assert!(matches!(e, ServiceMoveError::LeftBehind { .. }), "{e}");
        let mut bare = nodes.clone();
        bare[1].labels.clear();
        let e = plan(
            &service("services:\n  db:\n    image: pg\n    volumes: [\"/a/fast/db:/d\"]\n"),
            &bare[0],
            &bare[1],
            &bare,
        )
        .expect_err("no tier");
        assert!(matches!(e, ServiceMoveError::TierMissing { .. }), "{e}");
        assert!(e.hint().contains("tierctl.tier.fast="), "{}", e.hint());
    }
}
