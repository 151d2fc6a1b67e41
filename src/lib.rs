//! tierctl: put Docker Compose data on the right storage tier.
//!
//! Modules in reading order; see docs/ARCHITECTURE.md for the codemap.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

// pure core: no filesystem, environment, clock, processes or engine; clippy.toml lists the
// calls and types that `deny` turns into build failures here
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod audit;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod compose;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod endpoint;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod facts;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod host;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod layout;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod mounts;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod plan;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod report;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod rewrite;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod share;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod template;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod tiers;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod usage;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod verify;

// effects
pub mod engine;
pub mod fsx;
pub mod interrupt;
pub mod lock;
pub mod migrate;
pub mod probe;
pub mod stranded;
pub mod tierfs;
pub mod tool_config;
pub mod vm;
pub mod write;

// the command line
pub mod app;
pub mod cli;
pub mod error;
pub mod settings;
