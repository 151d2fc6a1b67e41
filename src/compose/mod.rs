//! The compose project model and its loader.

pub mod duplicate;
pub mod env;
pub mod error;
pub mod interpolate;
pub mod load;
pub mod merge;
pub mod model;
pub mod mount;
pub mod origin;
pub mod path;
pub mod refusal;
pub mod route_index;
pub mod source;
pub mod spec;
pub mod target;
pub mod unset;
pub mod volume_syntax;
