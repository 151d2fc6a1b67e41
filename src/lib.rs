//! tierctl: put Docker Compose data on the right storage tier.
//!
//! Modules in reading order; see docs/ARCHITECTURE.md for the codemap.
pub mod tiers;
