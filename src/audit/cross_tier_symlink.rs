//! `cross-tier-symlink`: a symlink that lies on one tier and points into another (or an access
//! point that leads somewhere else than the tier it stands for). The data is not where the
//! path says it is.

use super::{Check, Context, Finding, Severity, Subjects};

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    let facts = s.path?;
    if facts.problem.is_some() || !facts.exists {
        return None;
    }
    for hop in &facts.hops {
        let from = ctx.tier_name(&hop.link);
        let to = ctx.tier_name(&hop.resolved);
        if let (Some(from), Some(to)) = (from, to)
            && from != to
        {
            let message = format!(
                "{}: link {} on the {from} tier points into the {to} tier ({})",
                s.service.name,
                hop.link.display(),
                hop.resolved.display()
            );
            let hint = format!(
                "decide which tier the data belongs on, move it there and bind that path; the link hides that it lives on {to}"
            );
            return Some(s.finding(Check::CrossTierSymlink, Severity::Warning, message, hint));
        }
    }
    let access = ctx.tiers.access_point_for(&facts.path)?;
    let expected = ctx.tiers.tier_path(&access.tier, &access.sub)?;
    let real = facts.real.as_deref()?;
    let real_tier = ctx.tier_name(real);
    if real_tier != Some(access.tier.as_str()) {
        let message = format!(
            "{}: access point {} stands for {} but leads to {} ({})",
            s.service.name,
            access.path.display(),
            expected.display(),
            real.display(),
            real_tier.map_or_else(|| "on no tier".to_owned(), |t| format!("{t} tier"))
        );
        let hint = format!(
            "point {} at {} or fix `access_points` in tiers.yaml",
            access.path.display(),
            expected.display()
        );
        return Some(s.finding(Check::CrossTierSymlink, Severity::Warning, message, hint));
    }
    None
}
