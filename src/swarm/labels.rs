//! Node labels against tiers.yaml: which tiers each node should hold (the tier map of the
//! context its `tierctl.context` label names, `contexts.<name>.tiers`, else the main one), what
//! its `tierctl.tier.<name>` labels say, and the labels `tiers nodes --write` sets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::node::{Node, TIER_LABEL_PREFIX, tier_label};
use crate::tiers::Tiers;

/// One tier on one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeTier {
    /// The tier name.
    pub tier: String,
    /// Its root by tiers.yaml for the node's context (none: tiers.yaml has no such tier).
    pub wanted: Option<PathBuf>,
    /// Its root by the node's label (none: not labelled).
    pub labelled: Option<PathBuf>,
}

impl NodeTier {
    /// Whether the label says what tiers.yaml says.
    pub fn agrees(&self) -> bool {
        self.wanted.is_some() && self.wanted == self.labelled
    }

    /// `ok`, `label-missing`, `label-differs`, `not-in-tiers-yaml`.
    pub fn verdict(&self) -> &'static str {
        match (&self.wanted, &self.labelled) {
            (Some(w), Some(l)) if w == l => "ok",
            (Some(_), Some(_)) => "label-differs",
            (Some(_), None) => "label-missing",
            (None, _) => "not-in-tiers-yaml",
        }
    }
}

/// What tierctl knows about one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// The node.
    pub node: Node,
    /// Its context label (`None`: no label; its tiers are then not compared).
    pub context: Option<String>,
    /// Each tier of the node's map and each tier label it has.
    pub tiers: Vec<NodeTier>,
}

impl NodeView {
    /// Whether every tier label agrees with tiers.yaml (and the node has a context).
    pub fn agrees(&self) -> bool {
        self.context.is_some() && self.tiers.iter().all(NodeTier::agrees)
    }
}

/// Each node's tiers: tiers.yaml's map for its context against its labels.
pub fn views(nodes: &[Node], tiers: &Tiers) -> Vec<NodeView> {
    nodes
        .iter()
        .map(|node| {
            let context = node.context().map(str::to_owned);
            let labelled = node.tiers();
            let mut rows: BTreeMap<String, NodeTier> = BTreeMap::new();
            if let Some(ctx) = &context {
                for tier in tiers.for_context(ctx).tiers.values() {
                    rows.insert(
                        tier.name.clone(),
                        NodeTier {
                            tier: tier.name.clone(),
                            wanted: Some(tier.root.clone()),
                            labelled: None,
                        },
                    );
                }
            }
            for (name, root) in labelled {
                rows.entry(name.to_owned())
                    .or_insert_with(|| NodeTier {
                        tier: name.to_owned(),
                        wanted: None,
                        labelled: None,
                    })
                    .labelled = Some(root.to_path_buf());
            }
            NodeView {
                node: node.clone(),
                context,
                tiers: rows.into_values().collect(),
            }
        })
        .collect()
}

/// The label changes that make a node's tier labels say what tiers.yaml says: each tier's root
/// set, a tier label tiers.yaml does not name removed (`None`). Empty when they agree or the
/// node has no context.
pub fn label_changes(view: &NodeView) -> BTreeMap<String, Option<String>> {
    if view.context.is_none() {
        return BTreeMap::new();
    }
    view.tiers
        .iter()
        .filter(|t| !t.agrees())
        .map(|t| {
            let value = t.wanted.as_ref().map(|w| w.display().to_string());
            (tier_label(&t.tier), value)
        })
        .filter(|(key, _)| key.starts_with(TIER_LABEL_PREFIX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::node::node;
    use std::path::Path;

    #[test]
    fn issue24_node_labels_are_compared_with_the_context_s_tier_map() {
        let tiers = crate::tiers::load(
            Path::new("/p/tiers.yaml"),
            "tiers:\n  fast: { root: /a/fast }\ncontexts:\n  two:\n    tiers:\n      fast: { root: /b/fast }\n",
        )
        .expect("tiers");
        let nodes = [
            node(
                "m",
                &[
                    ("tierctl.context", "default"),
                    ("tierctl.tier.fast", "/a/fast"),
                ],
            ),
            node(
                "w",
                &[
                    ("tierctl.context", "two"),
                    ("tierctl.tier.fast", "/a/fast"),
                    ("tierctl.tier.old", "/x"),
                ],
            ),
            node("x", &[]),
        ];
        let v = views(&nodes, &tiers);
        assert!(v[0].agrees());
        assert!(!v[1].agrees());
        let verdicts: Vec<_> = v[1]
            .tiers
            .iter()
            .map(|t| (t.tier.as_str(), t.verdict()))
            .collect();
        assert_eq!(
            verdicts,
            [("fast", "label-differs"), ("old", "not-in-tiers-yaml")]
        );
        let changes = label_changes(&v[1]);
        assert_eq!(changes["tierctl.tier.fast"], Some("/b/fast".to_owned()));
        assert_eq!(changes["tierctl.tier.old"], None);
        assert!(!v[2].agrees());
        assert!(label_changes(&v[2]).is_empty());
    }
}
