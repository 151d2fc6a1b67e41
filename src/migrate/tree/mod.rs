//! Trees: one entry type ([`manifest::Entry`]), one manifest of a tree ([`manifest::Manifest`])
//! and its comparison, read wherever the tree lives: on the host ([`host`]), by the one manifest
//! helper container ([`helper`]), from the engine's archive stream ([`manifest::from_tar`]); which of them reads
//! each side of a copy is decided once ([`sides`]), through one reader trait with a host and a
//! helper implementation ([`reader`]). [`known`] is what one read hands to the next; [`listing`]
//! is the delta's listing; [`stat`] the one record of a path and its decoder; [`name`] names as
//! bytes; [`xattrs`] the extended attributes (and POSIX ACLs) of a host path.

/// The one busybox `stat -c` format ([`stat::FORMAT`]) as a literal, for the helper scripts'
/// `concat!`.
macro_rules! stat_format {
    () => {
        "%f %s %u %g %Y %Z %d %i %h %t %T"
    };
}

#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod content_hash;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod helper;
pub mod host;
pub mod known;
pub mod listing;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod manifest;
#[deny(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]
pub mod name;
pub mod reach;
pub mod reader;
pub mod sides;
pub mod stat;
pub mod xattrs;

pub use host::{
    HashedBack, ReadFrom, hash_back, listing as host_listing, read, read_from_medium, read_known,
    read_known_from, readers,
};
pub use known::{HandOn, Known, KnownFile, RACY_MARGIN_NS, Stamp};
pub use sides::{
    AfterCopy, AfterCopyRoots, KnownTrees, ReadTrees, TreeError, Way, after_copy_manifests,
    after_copy_roots, archive_manifests, copy_manifests, copy_manifests_known, helper_manifests,
    host_hashed, pair_manifests, verify_after_copy,
};
pub use stat::{Found, entry, group};
