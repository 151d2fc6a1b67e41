//! The one integration-test binary.

mod audit_cli;
mod bad_input;
mod corpus;
mod fuzz;
mod loader;
mod readme;
mod templates;
mod tiers_cli;
mod workspace;
