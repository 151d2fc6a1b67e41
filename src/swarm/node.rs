//! One Swarm node and the tierctl labels on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The node label that names the docker context tierctl reaches the node's engine through.
pub const CONTEXT_LABEL: &str = "tierctl.context";

/// The prefix of the node labels that say where a tier's root is on that node:
/// `tierctl.tier.fast=/mnt/nvme`.
pub const TIER_LABEL_PREFIX: &str = "tierctl.tier.";

/// The label key for tier `tier`.
pub fn tier_label(tier: &str) -> String {
    format!("{TIER_LABEL_PREFIX}{tier}")
}

/// Whether the scheduler gives a node new tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// New tasks go there.
    Active,
    /// Its tasks keep running; no new ones.
    Pause,
    /// Its tasks are moved away.
    Drain,
}

/// One node as the manager lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The node id.
    pub id: String,
    /// Its hostname (two nodes may share one).
    pub hostname: String,
    /// `manager` or `worker`.
    pub role: String,
    /// Whether it takes new tasks.
    pub availability: Availability,
    /// `ready`, `down`, `unknown`, `disconnected`.
    pub state: String,
    /// Its node labels (`docker node update --label-add`).
    pub labels: BTreeMap<String, String>,
    /// Its engine's labels (`node.platform` and `engine.labels.*` constraints).
    pub engine_labels: BTreeMap<String, String>,
    /// `node.platform.os` / `.arch`.
    pub platform: (String, String),
}

impl Node {
    /// The docker context tierctl reaches this node's engine through (its `tierctl.context`
    /// label), when it has one.
    pub fn context(&self) -> Option<&str> {
        self.labels.get(CONTEXT_LABEL).map(String::as_str)
    }

    /// The tiers this node holds, by its `tierctl.tier.<name>` labels: name -> root.
    pub fn tiers(&self) -> BTreeMap<&str, &Path> {
        self.labels
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(TIER_LABEL_PREFIX)?, Path::new(v.as_str()))))
            .filter(|(name, _)| !name.is_empty())
            .collect()
    }

    /// The tier (name, root) whose root holds `path` on this node: the deepest root.
    pub fn tier_of(&self, path: &Path) -> Option<(&str, PathBuf)> {
        self.tiers()
            .into_iter()
            .filter(|(_, root)| path.starts_with(root))
            .max_by_key(|(_, root)| root.components().count())
            .map(|(name, root)| (name, root.to_path_buf()))
    }

    /// A short name for messages: the hostname and the id's first 12 characters.
    pub fn display(&self) -> String {
        let short: String = self.id.chars().take(12).collect();
        format!("{} ({short})", self.hostname)
    }
}

#[cfg(test)]
pub(crate) fn node(id: &str, labels: &[(&str, &str)]) -> Node {
    Node {
        id: id.into(),
        hostname: format!("host-{id}"),
        role: "worker".into(),
        availability: Availability::Active,
        state: "ready".into(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        engine_labels: BTreeMap::new(),
        platform: ("linux".into(), "x86_64".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_s_tiers_and_context_come_from_its_labels() {
        let n = node(
            "a",
            &[
                ("tierctl.tier.fast", "/mnt/nvme"),
                ("tierctl.tier.warm", "/mnt/ssd"),
                ("tierctl.context", "engine2"),
                ("other", "x"),
            ],
        );
        assert_eq!(n.context(), Some("engine2"));
        assert_eq!(n.tiers().len(), 2);
        assert_eq!(
            n.tier_of(Path::new("/mnt/nvme/db")),
            Some(("fast", PathBuf::from("/mnt/nvme")))
        );
        assert_eq!(n.tier_of(Path::new("/srv/db")), None);
    }
}
