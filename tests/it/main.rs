//! The one integration-test binary.

mod audit_cli;
mod bad_input;
mod corpus;
mod engine;
mod fuzz;
mod loader;
mod readme;
mod vm_cli;
mod workspace;
