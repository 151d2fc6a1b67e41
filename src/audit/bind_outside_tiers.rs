//! `bind-outside-tiers`: a bind directory that is on no tier (the system disk, the project
//! folder), however the source is written (`./postgres` is as much outside as
//! `/srv/app/postgres`). System paths (`/etc`, `/dev`, the docker socket, ...) and single files are left alone.

use super::{Check, Context, Finding, Severity, Subjects};

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    if s.is_non_directory() {
        return None;
    }
    let facts = s.path?;
    if facts.problem.is_some() || !facts.exists {
        return None;
    }
    let real = facts.real.as_deref()?;
    if ctx.tier_name(real).is_some() || super::bind_in_pool::pool_of(ctx, real).is_some() {
        return None;
    }
    let message = format!("{}: {} is on no tier", s.service.name, real.display());
    let hint = match ctx.placement(s) {
        Some(p) => format!(
            "placement puts {} on the {} tier at {}; move it there with `tierctl migrate`",
            s.mount.target,
            p.tier,
            p.path.display()
        ),
        None => "move it under a tier root, or add the disk to tiers.yaml".to_owned(),
    };
    Some(s.finding(Check::BindOutsideTiers, Severity::Warning, message, hint))
}
