//! The Docker engine: endpoint resolution (more to come: connection, containers, helpers).

pub mod endpoint;
