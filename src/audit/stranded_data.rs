//! `stranded-data`: a bind directory on a tier is empty (or missing) while the project's named
//! volume that placement puts at that directory still holds the data. This is what a
//! `rewrite --write --force` (or a hand edit) without `migrate` leaves: the service starts on an
//! empty directory, `verify` is happy, and the data sits in the old volume.

use super::{Check, Context, Finding, Severity, Subjects};
use crate::compose::model::MountType;
use crate::tiers::Subject;

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    if s.mount.kind != MountType::Bind || ctx.facts.left_volumes.is_empty() {
        return None;
    }
    let facts = s.path?;
    let real = facts.real.as_deref()?;
    ctx.tiers.tier_of(real)?;
    let empty = !facts.exists || (facts.is_dir && ctx.facts.empty_dirs.contains(real));
    if !empty {
        return None;
    }
    let left = ctx.facts.left_volumes.iter().find(|v| {
        ctx.tiers
            .place(&Subject {
                project: &ctx.project.name,
                service: &s.service.name,
                image: s.service.image.as_deref(),
                target: &s.mount.target,
                volume: Some(&v.key),
            })
            .is_some_and(|p| p.path == real)
    })?;
    let message = format!(
        "{}: {} is {} but volume `{}` (`{}`), whose placement it is, still holds the data: the data was never moved",
        s.service.name,
        real.display(),
        if facts.exists { "empty" } else { "missing" },
        left.name,
        left.key,
    );
    let hint = format!(
        "stop the service, copy the data from volume `{}` into {} (or restore the compose file's `.tierctl-*.bak` backup and run `tierctl migrate`, which copies and verifies)",
        left.name,
        real.display()
    );
    Some(s.finding(Check::StrandedData, Severity::Error, message, hint))
}
