//! tierctl: put Docker Compose data on the right storage tier.
//!
//! Modules in reading order; see docs/ARCHITECTURE.md for the codemap.

// pure core
pub mod audit;
pub mod compose;
pub mod copy;
pub mod facts;
pub mod layout;
pub mod manifest;
pub mod plan;
pub mod report;
pub mod template;
pub mod tiers;
pub mod usage;
pub mod verify;

// effects
pub mod apply;
pub mod engine;
pub mod fsx;
pub mod journal;
pub mod lock;
pub mod probe;
pub mod rewrite;
pub mod stranded;
pub mod tierfs;
pub mod tree;
pub mod vm;
pub mod write;

// the command line
pub mod app;
pub mod cli;
pub mod error;
pub mod settings;
