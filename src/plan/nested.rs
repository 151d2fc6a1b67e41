//! The nested binds `rewrite` adds for subtree placement (issue 25 item 1): for each subtree
//! placement puts on another tier and no mount serves yet (`subtree-not-split`), a bind of the
//! directory the data is in now, `<parent's real path>/<sub>`, at `<parent target>/<sub>`,
//! appended to the parent's volume list (after the parent: the order the engine mounts them,
//! which also sorts by depth). The container sees the same files; `migrate` then moves each
//! nested bind to its tier as it moves any bind on the wrong tier.
//!
//! Only a bind written directly in its service's list gets them: a named volume moves to a bind
//! first (`migrate`), an entry reached through an anchor, merge key or `extends` is written by
//! hand (a manual edit).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Action, Edit, EditKind, Input, ManualEdit, Plan, Step, compose_literal, place_of};
use crate::audit::{self, Mode, nested_bind};
use crate::compose::model::{MountId, MountType, Service, Syntax, VolumeMount};
use crate::compose::origin::{Reach, Route};
use crate::tiers::SubtreePlacement;

/// A bind mount the plan adds (how it must look after the rewrite).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddedBind {
    /// The service.
    pub service: String,
    /// The mount it lies below.
    pub parent: MountId,
    /// Its source: the parent's real path joined with the subtree.
    pub source: PathBuf,
    /// Its target: the parent's target joined with the subtree.
    pub target: String,
    /// Read-only, as its parent.
    pub read_only: bool,
}

/// Adds the nested binds of every unsplit subtree to `out` ([`Mode::Rewrite`] only: `migrate`
/// moves the nested binds `rewrite` wrote).
pub(super) fn add_nested_binds(input: &Input<'_>, out: &mut Plan) {
    if input.mode != Mode::Rewrite {
        return;
    }
    let ctx = audit::Context {
        project: input.project,
        tiers: input.tiers,
        facts: input.facts,
    };
    for service in input.project.enabled_services() {
        for mount in &service.mounts {
            let parent = Parent {
                ctx: &ctx,
                service,
                mount,
            };
            let missing = nested_bind::unsplit(&ctx, &ctx.subject(service, mount));
            if missing.is_empty() {
                continue;
            }
            match parent.writable(&missing) {
                Ok(real) => {
                    for sub in missing {
                        parent.add(&real, sub, out);
                    }
                }
                Err(manual) => out.manual.push(*manual),
            }
        }
    }
}

/// A mount whose subtrees get nested binds.
struct Parent<'a> {
    ctx: &'a audit::Context<'a>,
    service: &'a Service,
    mount: &'a VolumeMount,
}

impl Parent<'_> {
    /// The parent's real directory, when the nested binds can be written after its entry; else
    /// the manual edit that says what to write.
    fn writable(&self, missing: &[SubtreePlacement]) -> Result<PathBuf, Box<ManualEdit>> {
        let subject = self.ctx.subject(self.service, self.mount);
        let Some(real) = subject
            .real()
            .filter(|_| self.mount.kind == MountType::Bind)
        else {
            let wanted = missing
                .iter()
                .map(|s| format!("{} ({})", s.target, s.placement.tier))
                .collect::<Vec<_>>()
                .join(", ");
            let parent = self.ctx.placement(&subject).map_or_else(
                || "a bind mount".to_owned(),
                |p| p.path.display().to_string(),
            );
            return Err(Box::new(self.manual(parent, format!(
                "its subtrees {wanted} get nested binds below a bind mount only: `tierctl migrate` moves it to a bind on its tier, then `tierctl rewrite` adds them"
            ))));
        };
        if self.mount.origin.reach != Reach::Direct {
            let entries = missing
                .iter()
                .map(|s| format!("{}:{}", real.join(&s.sub).display(), s.target))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Box::new(self.manual(self.mount.display_source(), format!(
                "the entry is written through an anchor, merge key or `extends`: add the nested binds {entries} to the service's own `volumes:` by hand"
            ))));
        }
        Ok(real.to_path_buf())
    }

    fn manual(&self, wanted: String, reason: String) -> ManualEdit {
        ManualEdit {
            mount: self.mount.id,
            service: self.service.name.clone(),
            target: self.mount.target.clone(),
            wanted,
            places: vec![place_of(self.mount)],
            reason,
        }
    }

    /// The edit, step and expected mount of one nested bind of `real/<sub>`.
    fn add(&self, real: &Path, sub: SubtreePlacement, out: &mut Plan) {
        let (service, mount) = (self.service, self.mount);
        let source = real.join(&sub.sub);
        let Some(text) = source.to_str() else {
            let reason = "the path is not UTF-8".to_owned();
            out.manual.push(self.manual(sub.target.clone(), reason));
            return;
        };
        let cut = match mount.syntax {
            Syntax::Short => 1,
            Syntax::Long => 2,
        };
        let route = &mount.origin.route.0;
        let read_only = if mount.read_only { ":ro" } else { "" };
        out.edits.push(Edit {
            file: mount.origin.file.clone(),
            mounts: vec![mount.id],
            kind: EditKind::AppendEntry {
                sequence: Route(route[..route.len().saturating_sub(cut)].to_vec()),
                entry: format!("{}:{}{read_only}", compose_literal(text), sub.target),
            },
        });
        out.steps.push(Step {
            action: Action::AddNestedBind,
            mount: Some(mount.id),
            service: Some(service.name.clone()),
            target: Some(sub.target.clone()),
            old: String::new(),
            new: source.display().to_string(),
            tier: self.ctx.tier_name(&source).map(str::to_owned),
            from: None,
            place: place_of(mount),
            notes: vec![format!(
                "the same files as before, now a bind of their own: `tierctl migrate` moves them to {} on the {} tier",
                sub.placement.path.display(),
                sub.placement.tier
            )],
        });
        out.added.push(AddedBind {
            service: service.name.clone(),
            parent: mount.id,
            source,
            target: sub.target,
            read_only: mount.read_only,
        });
    }
}
