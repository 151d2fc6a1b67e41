//! `bind-in-pool` (issue 25 item 3): a bind source inside a mergerfs pool of tiers.yaml
//! (`pools:`) is on several tiers at once: mergerfs places new files by the pool's create
//! policy and `tierctl tiers move` moves files between its branches. Worth knowing (info) for
//! a library; an error for a database, whose files would be spread over tiers, moved under it,
//! and reached through FUSE.

use std::path::Path;

use super::{Check, Context, Finding, Severity, Subjects};
use crate::database::Evidence;
use crate::tiers::pool::Pool;

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    let path = s.real().or(s.host_path.as_deref())?;
    let pool = pool_of(ctx, path)?;
    let tiers: Vec<&str> = pool.branches.iter().map(|b| b.tier.as_str()).collect();
    let spread = format!(
        "{}: {} is in pool `{}`, on tiers {} (mergerfs creates new files by `{}`; `tierctl tiers move` moves files between them)",
        s.service.name,
        path.display(),
        pool.name,
        tiers.join(", "),
        pool.create
    );
    match Evidence::of(s.service.image.as_deref(), &s.mount.target, s.databases) {
        Some(evidence) => Some(s.finding(
            Check::BindInPool,
            Severity::Error,
            format!(
                "{spread}; it holds database data ({}): its files would be spread over tiers, moved while it runs, and locked and mapped through FUSE",
                evidence.describe()
            ),
            "bind the database to a directory on one tier (the fast tier), outside every pool; `tierctl plan` shows where placement puts it".to_owned(),
        )),
        None => Some(s.finding(
            Check::BindInPool,
            Severity::Info,
            spread,
            "nothing to do; `tierctl tiers move --dry-run` shows what the pool's rules would move".to_owned(),
        )),
    }
}

/// The pool whose mount holds `path` (component-wise).
pub(super) fn pool_of<'a>(ctx: &'a Context<'_>, path: &Path) -> Option<&'a Pool> {
    ctx.tiers
        .pools
        .iter()
        .find(|pool| path.starts_with(&pool.mount))
}
