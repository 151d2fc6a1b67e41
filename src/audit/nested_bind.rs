//! Nested bind mounts (issue 25 item 1): a bind whose target lies below another mount of the
//! same service (`/data/thumbs` below `/data`).
//!
//! * `subtree-not-split`: placement puts a subtree of this mount on another tier
//!   (`subtrees:` in tiers.yaml), and no mount of the service binds it yet;
//! * `nested-bind`: a nested bind on the same tier as its parent: it needs no bind of its own.
//!
//! A nested bind written before its parent is not hidden: the engine mounts by the depth of the
//! target (dockerd sorts a container's mounts by the number of `/` in the cleaned destination;
//! checked against the real engine in `tests/it/subtree.rs`), so the written order is not a
//! finding. A nested bind that is hidden for real (a filesystem mounted over its parent after
//! the container started) is seen by `tierctl verify` from inside the container
//! (`bind-hidden`). A nested bind on no tier is `bind-outside-tiers`, on another tier than its
//! subtree's placement `wrong-tier`, as for any bind.

use std::path::{Path, PathBuf};

use super::{Check, Context, Finding, Severity, Subjects};
use crate::compose::model::{MountType, VolumeMount};
use crate::compose::target;
use crate::tiers::{Subject, SubtreePlacement};

/// The mount of the same service whose target is the nearest proper ancestor of `mount`'s.
pub fn parent_of<'a>(mounts: &'a [VolumeMount], mount: &VolumeMount) -> Option<&'a VolumeMount> {
    let child = target::clean(&mount.target);
    mounts
        .iter()
        .filter(|m| m.id != mount.id)
        .filter(|m| below(&child, &target::clean(&m.target)).is_some())
        .max_by_key(|m| target::clean(&m.target).len())
}

/// `child` relative to `parent` when it lies strictly below it (`/data/thumbs`, `/data` ->
/// `thumbs`).
pub fn below(child: &str, parent: &str) -> Option<PathBuf> {
    let rest = Path::new(child).strip_prefix(parent).ok()?;
    (!rest.as_os_str().is_empty()).then(|| rest.to_path_buf())
}

/// The subtrees placement puts below this mount that no mount of its service binds.
pub fn unsplit(ctx: &Context<'_>, s: &Subjects<'_>) -> Vec<SubtreePlacement> {
    let volume = match s.mount.kind {
        MountType::Volume => s.mount.source.as_deref(),
        _ => None,
    };
    let subject = Subject {
        project: &ctx.project.name,
        service: &s.service.name,
        image: s.service.image.as_deref(),
        target: &s.mount.target,
        volume,
    };
    ctx.tiers
        .subtrees_of(&subject)
        .into_iter()
        .filter(|sub| {
            !s.service
                .mounts
                .iter()
                .any(|m| target::same(&m.target, &sub.target))
        })
        .collect()
}

pub(super) fn check_unsplit(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    if s.is_non_directory() {
        return None;
    }
    let missing = unsplit(ctx, s);
    if missing.is_empty() {
        return None;
    }
    let listed = missing
        .iter()
        .map(|sub| format!("{} on the {} tier", sub.target, sub.placement.tier))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "{}: placement puts parts of {} on other tiers ({listed}), and no bind mount serves them",
        s.service.name, s.mount.target
    );
    let hint = match (s.mount.kind, s.real()) {
        (MountType::Bind, Some(real)) => {
            let moves = missing
                .iter()
                .map(|sub| {
                    format!(
                        "{} to {}",
                        real.join(&sub.sub).display(),
                        sub.placement.path.display()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "`tierctl rewrite` adds each nested bind of the directory the data is in now (the container sees the same files), then `tierctl migrate` moves {moves}"
            )
        }
        _ => format!(
            "move {} to a bind mount on its tier first (`tierctl migrate`), then `tierctl rewrite` adds the nested binds",
            s.mount.target
        ),
    };
    Some(s.finding(Check::SubtreeNotSplit, Severity::Warning, message, hint))
}

/// The directories below a parent bind's source where a nested bind of the same service is
/// mounted (`<parent real path>/thumbs`) and whose source is another directory: what the
/// probe looks into for [`Facts::under_nested`](crate::facts::Facts::under_nested).
pub fn mount_points(ctx: &Context<'_>) -> Vec<PathBuf> {
    let mut points = Vec::new();
    for service in ctx.project.enabled_services() {
        for mount in &service.mounts {
            let s = ctx.subject(service, mount);
            if let Some((inside, real)) = covered_place(ctx, &s)
                && inside != real
            {
                points.push(inside);
            }
        }
    }
    points.sort();
    points.dedup();
    points
}

/// For a nested bind: where its target lies in its parent bind's real directory, and its own
/// real path.
fn covered_place(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<(PathBuf, PathBuf)> {
    if s.mount.kind != MountType::Bind || s.is_non_directory() {
        return None;
    }
    let parent = parent_of(&s.service.mounts, s.mount)?;
    if parent.kind != MountType::Bind {
        return None;
    }
    let sub = below(
        &target::clean(&s.mount.target),
        &target::clean(&parent.target),
    )?;
    let parent_subject = ctx.subject(s.service, parent);
    let inside = parent_subject.real()?.join(sub);
    Some((inside, s.real()?.to_path_buf()))
}

pub(super) fn check_hidden_data(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    let (inside, real) = covered_place(ctx, s)?;
    if inside == real || !ctx.facts.under_nested.contains(&inside) {
        return None;
    }
    let message = format!(
        "{}: {} holds data the container does not see: the nested bind {} of {} is mounted over it",
        s.service.name,
        inside.display(),
        s.mount.target,
        real.display()
    );
    let hint = format!(
        "when it is the copy `tierctl migrate` kept of {} (it moved to {}), delete its contents once you are satisfied, keeping the empty directory (the mount point); else move what it holds into {}",
        s.mount.target,
        real.display(),
        real.display()
    );
    Some(s.finding(Check::DataUnderNestedBind, Severity::Info, message, hint))
}

pub(super) fn check_needless(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    if s.mount.kind != MountType::Bind || s.is_non_directory() {
        return None;
    }
    let parent = parent_of(&s.service.mounts, s.mount)?;
    let sub = below(
        &target::clean(&s.mount.target),
        &target::clean(&parent.target),
    )?;
    let real = s.real()?;
    let tier = ctx.tier_name(real)?;
    let parent_subject = ctx.subject(s.service, parent);
    let parent_real = parent_subject.real()?;
    if ctx.tier_name(parent_real) != Some(tier) {
        return None;
    }
    if ctx.placement(s).is_some_and(|p| p.subtree.is_some()) {
        // placed on another tier by a `subtrees:` entry: `wrong-tier` says where
        return None;
    }
    let inside = parent_real.join(&sub);
    let message = format!(
        "{}: the nested bind {} is on the {tier} tier, like its parent {}: it needs no bind mount of its own",
        s.service.name, s.mount.target, parent.target
    );
    let hint = if real == inside {
        format!(
            "remove this entry: the bind of {} already shows {} at {}",
            parent.target,
            inside.display(),
            s.mount.target
        )
    } else {
        format!(
            "move the data of {} into {} and remove this entry, or put it on another tier with a `subtrees:` entry of its placement rule",
            real.display(),
            inside.display()
        )
    };
    Some(s.finding(Check::NestedBind, Severity::Info, message, hint))
}
