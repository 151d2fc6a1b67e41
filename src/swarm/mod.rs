//! Docker Swarm as data: the nodes a manager lists, the tiers each node holds (its
//! `tierctl.tier.<name>` labels) and the engine tierctl reaches it through (its `tierctl.context`
//! label), and a service's placement constraints matched against them. Pure: `engine::swarm`
//! fills [`Node`]s.

mod constraint;
mod labels;
mod node;
mod service_move;

pub use constraint::{Constraint, ConstraintError, Operator, eligible, same_constraint};
pub use labels::{NodeTier, NodeView, label_changes, views};
pub use node::{Availability, CONTEXT_LABEL, Node, TIER_LABEL_PREFIX, tier_label};
pub use service_move::{MovedBind, ServiceMove, ServiceMoveError, plan as service_move};
