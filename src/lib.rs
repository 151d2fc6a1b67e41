//! tierctl: put Docker Compose data on the right storage tier.
//!
//! Modules in reading order; see docs/ARCHITECTURE.md for the codemap.

// pure core
pub mod compose;
pub mod tiers;
pub mod facts;
pub mod audit;
pub mod report;

// effects
pub mod fsx;
pub mod probe;
pub mod engine;
pub mod vm;

// the command line
pub mod cli;
pub mod settings;
pub mod error;
pub mod app;
