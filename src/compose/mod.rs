//! The compose project model.

pub mod env;
pub mod interpolate;
