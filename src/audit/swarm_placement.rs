//! The Swarm checks, for a stack `docker stack deploy -c` runs: `swarm-unpinned` (a service
//! that may be scheduled on a node where its data is not: the bind's tier path is missing there
//! or is another tier, or a named volume would be created empty) and `swarm-shared-bind` (a
//! local path several tasks of one service write). Nodes are the manager's, as plain data.

use std::path::Path;

use super::{Check, Context, Finding, Fix, Severity, Subjects, host_path};
use crate::compose::model::{MountType, Service};
use crate::swarm::{self, Node};

/// Both Swarm checks on every mount of every enabled service.
pub fn audit_swarm(ctx: &Context<'_>, nodes: &[Node]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for service in ctx.project.enabled_services() {
        let eligible = match swarm::eligible(nodes, &service.deploy.constraints) {
            Ok(eligible) => eligible,
            Err(e) => {
                if let Some(mount) = service.mounts.first() {
                    let s = ctx.subject(service, mount);
                    let hint = "write it as `KEY==VALUE` or `KEY!=VALUE`".to_owned();
                    findings.push(s.finding(
                        Check::SwarmUnpinned,
                        Severity::Error,
                        format!("{}: {e}", service.name),
                        hint,
                    ));
                }
                continue;
            }
        };
        for mount in &service.mounts {
            let s = ctx.subject(service, mount);
            findings.extend(unpinned(ctx, &s, nodes, &eligible));
            findings.extend(shared(ctx, &s, service));
        }
    }
    super::sorted_by_place(findings)
}

/// A mount whose data is not on every node the service may run on.
fn unpinned(
    ctx: &Context<'_>,
    s: &Subjects<'_>,
    nodes: &[Node],
    eligible: &[&Node],
) -> Option<Finding> {
    match host_path(ctx.project, s.mount) {
        Some(path) => unpinned_path(ctx, s, nodes, eligible, &path),
        None if s.mount.kind == MountType::Volume && local_volume(ctx, s) => {
            unpinned_volume(s, eligible)
        }
        None => None,
    }
}

/// A bind (or a volume bound to a device) on a tier of tiers.yaml: every eligible node must
/// hold that tier at that root (its `tierctl.tier.<name>` label).
fn unpinned_path(
    ctx: &Context<'_>,
    s: &Subjects<'_>,
    nodes: &[Node],
    eligible: &[&Node],
    path: &Path,
) -> Option<Finding> {
    let tier = tier_anywhere(ctx.tiers, path)?;
    let wrong: Vec<String> = eligible
        .iter()
        .filter_map(|node| match node.tier_of(path) {
            Some((name, root)) if name == tier.name && root == tier.root => None,
            Some((name, root)) => Some(format!(
                "{} (tier {name} at {} there)",
                node.display(),
                root.display()
            )),
            None => Some(format!("{} (no tier there)", node.display())),
        })
        .collect();
    if wrong.is_empty() && !eligible.is_empty() {
        return None;
    }
    let label = swarm::tier_label(&tier.name);
    let root = tier.root.display().to_string();
    let holders = nodes
        .iter()
        .filter(|n| n.labels.get(&label) == Some(&root))
        .count();
    let message = if wrong.is_empty() {
        format!(
            "{}: no node its constraints allow holds tier {} at {root}",
            s.service.name, tier.name
        )
    } else {
        format!(
            "{}: {} is on tier {} at {root}, but the service may be scheduled on {}",
            s.service.name,
            path.display(),
            tier.name,
            wrong.join(", ")
        )
    };
    let constraint = format!("node.labels.{label}=={root}");
    let mut finding = if holders == 0 {
        let hint = format!(
            "label the node that holds it: `docker node update --label-add {label}={root} NODE` (or `tierctl tiers nodes --write`), then add the constraint `{constraint}`"
        );
        s.finding(Check::SwarmUnpinned, Severity::Error, message, hint)
    } else {
        let hint = format!(
            "add `{constraint}` to deploy.placement.constraints (`tierctl rewrite --swarm` does)"
        );
        let mut f = s.finding(Check::SwarmUnpinned, Severity::Error, message, hint);
        f.fix = Some(Fix::Pin { constraint });
        f
    };
    finding.source = Some(path.display().to_string());
    Some(finding)
}

/// Whether `path` is on a tier of some node: of the main map or a context's. With `--swarm`, a
/// bind on another node's tier is not `bind-outside-tiers` (it is where `swarm-unpinned` says).
pub fn on_node_tier(tiers: &crate::tiers::Tiers, path: &Path) -> bool {
    tier_anywhere(tiers, path).is_some()
}

/// The tier holding `path` by tiers.yaml: the main map, else a context's map (a bind written
/// for the node that context reaches): the deepest root.
fn tier_anywhere<'t>(
    tiers: &'t crate::tiers::Tiers,
    path: &Path,
) -> Option<&'t crate::tiers::Tier> {
    tiers.tier_of(path).or_else(|| {
        tiers
            .contexts
            .values()
            .flat_map(|map| map.values())
            .filter(|t| path.starts_with(&t.root))
            .max_by_key(|t| t.root.components().count())
    })
}

/// A local named volume lives in each node's engine: a service that may run on more than one
/// node starts on an empty volume wherever it lands next. Which node holds the data is an
/// observation, so the constraint is the user's to write.
fn unpinned_volume(s: &Subjects<'_>, eligible: &[&Node]) -> Option<Finding> {
    if eligible.len() < 2 {
        return None;
    }
    let names: Vec<String> = eligible.iter().map(|n| n.display()).collect();
    let message = format!(
        "{}: named volume {} is local to each node, and the service may be scheduled on {}",
        s.service.name,
        s.mount.display_source(),
        names.join(", ")
    );
    let hint = "pin the service to the node that holds the volume (`node.id==ID` in deploy.placement.constraints), or move its data onto a tier (`tierctl migrate`)".to_owned();
    Some(s.finding(Check::SwarmUnpinned, Severity::Error, message, hint))
}

/// Whether the mount's named volume is one the local driver keeps inside an engine.
fn local_volume(ctx: &Context<'_>, s: &Subjects<'_>) -> bool {
    match ctx.project.volume_for(s.mount) {
        Some(volume) => volume.is_local() && volume.mounted_fs_type().is_none(),
        // an anonymous volume: created for each task and dropped with it
        None => false,
    }
}

/// A local path several tasks write: replicas on other nodes each get their own copy, and
/// replicas on one node write the same files at once.
fn shared(ctx: &Context<'_>, s: &Subjects<'_>, service: &Service) -> Option<Finding> {
    if !service.deploy.several_tasks() || s.mount.read_only {
        return None;
    }
    let local = match s.mount.kind {
        MountType::Bind => true,
        MountType::Volume => host_path(ctx.project, s.mount).is_some() || local_volume(ctx, s),
        _ => false,
    };
    if !local {
        return None;
    }
    let how = if service.deploy.global {
        "mode: global".to_owned()
    } else {
        format!("replicas: {}", service.deploy.replicas.unwrap_or(1))
    };
    let message = format!(
        "{}: {} is a local path written by every task ({how}): each node keeps its own copy and tasks on one node write the same files",
        s.service.name,
        s.mount.display_source()
    );
    let hint = "run one replica (`replicas: 1`) pinned to the node with the data, or mount it read-only (`:ro`)".to_owned();
    Some(s.finding(Check::SwarmSharedBind, Severity::Warning, message, hint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::one_file;
    use crate::facts::Facts;
    use crate::swarm::{Availability, Node};

    fn node(id: &str, fast: Option<&str>) -> Node {
        Node {
            id: id.into(),
            hostname: id.into(),
            role: "worker".into(),
            availability: Availability::Active,
            state: "ready".into(),
            labels: fast
                .map(|root| ("tierctl.tier.fast".to_owned(), root.to_owned()))
                .into_iter()
                .collect(),
            engine_labels: Default::default(),
            platform: ("linux".into(), "x86_64".into()),
        }
    }

    fn findings(compose: &str, nodes: &[Node]) -> Vec<Finding> {
        let project = one_file::project(compose);
        let tiers = crate::tiers::load(
            Path::new("/p/tiers.yaml"),
            "tiers:\n  fast: { root: /mnt/nvme }\n  warm: { root: /mnt/ssd }\n",
        )
        .expect("tiers");
        let facts = Facts::default();
        audit_swarm(
            &Context {
                project: &project,
                tiers: &tiers,
                facts: &facts,
            },
            nodes,
        )
    }

    const DB: &str = "services:\n  db:\n    image: postgres\n    volumes:\n      - /mnt/nvme/db:/var/lib/postgresql/data\n";

    #[test]
    fn issue24_an_unpinned_bind_is_an_error_whose_fix_is_the_constraint() {
        let nodes = [
            node("a", Some("/mnt/nvme")),
            node("b", None),
            node("c", Some("/srv/nvme")),
        ];
        let f = findings(DB, &nodes);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            (f[0].check, f[0].severity),
            (Check::SwarmUnpinned, Severity::Error)
        );
        assert!(
            f[0].message.contains("b (b) (no tier there)"),
            "{}",
            f[0].message
        );
        assert!(!f[0].message.contains("a (a)"), "{}", f[0].message);
        assert_eq!(
            f[0].fix,
            Some(Fix::Pin {
                constraint: "node.labels.tierctl.tier.fast==/mnt/nvme".into()
            })
        );
    }

    #[test]
    fn issue24_a_pinned_bind_is_clean_and_another_tier_there_is_named() {
        let pinned = DB.replace(
            "    volumes:",
            "    deploy:\n      placement:\n        constraints: [node.labels.tierctl.tier.fast==/mnt/nvme]\n    volumes:",
        );
        let nodes = [node("a", Some("/mnt/nvme")), node("b", None)];
        assert_eq!(findings(&pinned, &nodes), []);
        // on node b the path is on tier warm (labelled so): another tier there
        let mut b = node("b", None);
        b.labels
            .insert("tierctl.tier.warm".into(), "/mnt/nvme".into());
        let f = findings(DB, &[node("a", Some("/mnt/nvme")), b]);
        assert!(
            f[0].message.contains("tier warm at /mnt/nvme there"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn issue24_no_node_holding_the_tier_has_no_automatic_fix() {
        let f = findings(DB, &[node("a", None), node("b", Some("/srv"))]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].fix, None);
        assert!(
            f[0].hint
                .contains("--label-add tierctl.tier.fast=/mnt/nvme"),
            "{}",
            f[0].hint
        );
    }

    #[test]
    fn issue24_a_written_local_bind_under_replicas_or_global_is_a_finding() {
        let nodes = [node("a", Some("/mnt/nvme"))];
        let replicated = DB.replace("    volumes:", "    deploy: { replicas: 2 }\n    volumes:");
        let f = findings(&replicated, &nodes);
        assert_eq!(
            f.iter().map(|f| f.check).collect::<Vec<_>>(),
            [Check::SwarmSharedBind]
        );
        let global = DB.replace("    volumes:", "    deploy: { mode: global }\n    volumes:");
        assert_eq!(findings(&global, &nodes).len(), 1);
        let read_only = replicated.replace("/data\n", "/data:ro\n");
        assert_eq!(findings(&read_only, &nodes), []);
    }

    #[test]
    fn issue24_a_local_named_volume_on_several_nodes_is_unpinned() {
        let compose = "services:\n  db:\n    image: postgres\n    volumes:\n      - data:/var/lib/postgresql/data\nvolumes:\n  data: {}\n";
        let both = [node("a", None), node("b", None)];
        let f = findings(compose, &both);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, Check::SwarmUnpinned);
        let one = compose.replace("    volumes:\n      - data", "    deploy:\n      placement:\n        constraints: [node.id==a]\n    volumes:\n      - data");
        assert_eq!(findings(&one, &both), []);
    }
}
