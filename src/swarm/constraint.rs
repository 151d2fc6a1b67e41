//! Swarm placement constraints (`node.labels.tierctl.tier.fast==/mnt/nvme`) matched against
//! nodes, as swarmkit's constraint filter does.

use thiserror::Error;

use super::node::Node;

/// `==` or `!=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Equal.
    Equal,
    /// Not equal.
    NotEqual,
}

/// One placement constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    /// The left side (`node.id`, `node.labels.x`, ...).
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The right side.
    pub value: String,
}

/// A constraint Swarm would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("placement constraint `{text}` {why}")]
pub struct ConstraintError {
    /// The constraint as written.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl Constraint {
    /// Parses `KEY==VALUE` / `KEY!=VALUE` (spaces around the operator allowed).
    pub fn parse(text: &str) -> Result<Constraint, ConstraintError> {
        let fail = |why| ConstraintError {
            text: text.to_owned(),
            why,
        };
        let (key, operator, value) = match (text.find("=="), text.find("!=")) {
            (Some(i), None) => (&text[..i], Operator::Equal, &text[i + 2..]),
            (None, Some(i)) => (&text[..i], Operator::NotEqual, &text[i + 2..]),
            _ => return Err(fail("needs exactly one `==` or `!=`")),
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(fail("has an empty side"));
        }
        Ok(Constraint {
            key: key.to_owned(),
            operator,
            value: value.to_owned(),
        })
    }

    /// Whether `node` satisfies it. A key tierctl does not know (or a label the node does not
    /// have) matches only `!=`, as in swarmkit.
    pub fn matches(&self, node: &Node) -> bool {
        let lower = self.key.to_ascii_lowercase();
        let found: Option<&str> = match lower.as_str() {
            "node.id" => Some(&node.id),
            "node.hostname" => Some(&node.hostname),
            "node.role" => Some(&node.role),
            "node.platform.os" => Some(&node.platform.0),
            "node.platform.arch" => Some(&node.platform.1),
            _ => match (
                self.key.strip_prefix("node.labels."),
                self.key.strip_prefix("engine.labels."),
            ) {
                (Some(label), _) => node.labels.get(label).map(String::as_str),
                (_, Some(label)) => node.engine_labels.get(label).map(String::as_str),
                _ => None,
            },
        };
        // swarmkit compares node.* built-ins case-insensitively, labels exactly
        let equal = found.is_some_and(|f| {
            if lower.starts_with("node.labels.") || lower.starts_with("engine.labels.") {
                f == self.value
            } else {
                f.eq_ignore_ascii_case(&self.value)
            }
        });
        match self.operator {
            Operator::Equal => equal,
            Operator::NotEqual => !equal,
        }
    }
}

/// Two constraints that say the same, spaces around the operator aside.
pub fn same_constraint(a: &str, b: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    squeeze(a) == squeeze(b)
}

/// The nodes a service with `constraints` may be scheduled on (drained nodes included: a
/// constraint, not an availability, is what keeps a task off a node for good).
pub fn eligible<'n>(
    nodes: &'n [Node],
    constraints: &[String],
) -> Result<Vec<&'n Node>, ConstraintError> {
    let parsed = constraints
        .iter()
        .map(|c| Constraint::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(nodes
        .iter()
        .filter(|n| parsed.iter().all(|c| c.matches(n)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::node::node;

    #[test]
    fn constraints_match_labels_ids_and_roles() {
        let nodes = [
            node("a", &[("tierctl.tier.fast", "/mnt/nvme")]),
            node("b", &[("tierctl.tier.fast", "/srv/fast")]),
        ];
        let pick = |c: &[&str]| {
            let c: Vec<String> = c.iter().map(|s| (*s).to_owned()).collect();
            eligible(&nodes, &c)
                .expect("valid")
                .iter()
                .map(|n| n.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(&[]), ["a", "b"]);
        assert_eq!(pick(&["node.labels.tierctl.tier.fast == /mnt/nvme"]), ["a"]);
        assert_eq!(pick(&["node.labels.missing!=x"]), ["a", "b"]);
        assert_eq!(pick(&["node.labels.missing==x"]), Vec::<String>::new());
        assert_eq!(pick(&["node.id!=a", "node.role==WORKER"]), ["b"]);
        assert!(Constraint::parse("node.id=a").is_err());
    }
}
