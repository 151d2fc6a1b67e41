//! Pure: compose project + tiers + facts -> a [`Plan`]: the steps a careful human would take,
//! the text edits that make them, what is left alone and why, and what needs a manual edit.
//!
//! What happens to each mount is decided once, by the audit ([`audit::fixes`]); the plan
//! assembles those fixes: it writes them as text edits (a source that is a whole variable set in
//! an env file is changed in that file), edits a value written once for several services
//! (anchor, merge key, `extends`) only when every user gets the same new source, and removes
//! top-level volume entries no service uses any more.

mod env_edit;
mod nested;
mod node_move;
mod pin;
mod removal;
mod scalar;
mod shared;
mod unused_volume;
mod unwritable;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit::{self, Fix, Mode, Rebind, RebindAction, Via};
use crate::compose::model::{ComposeProject, MountId, MountType, Service, Syntax, VolumeMount};
use crate::compose::origin::{Place, Position, Reach, Route};
use crate::facts::Facts;
use crate::tiers::Tiers;

pub use crate::audit::Reason;

pub use crate::swarm::same_constraint;
pub use nested::AddedBind;
pub use node_move::{NodeMoveError, node_move};
pub use pin::pins;
pub use removal::{Removal, RemovalError, remove_key};
pub use scalar::{
    Nesting, ScalarStyle, compose_literal, decode, encode, encode_env, env_value_span,
    replace_short_source, style_of,
};
pub use unwritable::Unwritable;

use shared::accept_shared;
use unused_volume::remove_unused_volumes;

/// What the plan is made from.
pub struct Input<'a> {
    /// The loaded project.
    pub project: &'a ComposeProject,
    /// The storage map.
    pub tiers: &'a Tiers,
    /// Facts about the project's host paths (`audit::host_paths`).
    pub facts: &'a Facts,
    /// Write long-syntax binds with `bind.create_host_path: false`.
    pub strict_binds: bool,
    /// [`Mode::Migrate`] plans for `migrate`: a bind directory on the wrong tier or on none
    /// (reached through a symlink or not) moves to its placement path ([`Action::MoveBind`])
    /// instead of being left alone; `migrate` copies its data first.
    pub mode: Mode,
}

/// The plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// What happens, one step per mount (and per removed top-level volume).
    pub steps: Vec<Step>,
    /// The text edits, at most one per place in a file.
    pub edits: Vec<Edit>,
    /// Mounts the plan does not change, with the reason.
    pub left_alone: Vec<LeftAlone>,
    /// Changes the user must make by hand.
    pub manual: Vec<ManualEdit>,
    /// How the model must look after the edits: one entry per changed mount.
    pub changes: Vec<Change>,
    /// Top-level volume keys the edits remove.
    pub removed_volumes: Vec<String>,
    /// Nested bind mounts the edits add (subtree placement), each after its parent.
    pub added: Vec<AddedBind>,
}

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A symlinked bind source replaced by its real path.
    BindRealPath,
    /// A named volume replaced by a bind mount of its tier directory.
    VolumeToBind,
    /// A top-level volume entry no service uses any more, removed.
    RemoveVolumeEntry,
    /// A bind directory on the wrong tier (or none) replaced by its placement path; its data is
    /// copied there first (`migrate` only).
    MoveBind,
    /// A nested bind mount of a subtree placed on another tier, added with the directory its
    /// data is in now (`rewrite` only; `migrate` then moves it).
    AddNestedBind,
}

impl From<RebindAction> for Action {
    fn from(action: RebindAction) -> Action {
        match action {
            RebindAction::BindRealPath => Action::BindRealPath,
            RebindAction::VolumeToBind => Action::VolumeToBind,
            RebindAction::MoveBind => Action::MoveBind,
        }
    }
}

impl Action {
    /// A stable name for output.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::BindRealPath => "bind-real-path",
            Action::VolumeToBind => "volume-to-bind",
            Action::RemoveVolumeEntry => "remove-volume-entry",
            Action::MoveBind => "move-bind",
            Action::AddNestedBind => "add-nested-bind",
        }
    }
}

/// One step of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What it does.
    pub action: Action,
    /// The mount (none for a top-level volume entry).
    pub mount: Option<MountId>,
    /// The service (none for a top-level volume entry).
    pub service: Option<String>,
    /// The container path (none for a top-level volume entry).
    pub target: Option<String>,
    /// The source (or volume key) before.
    pub old: String,
    /// The source after (empty for a removal).
    pub new: String,
    /// The tier the new source lies on.
    pub tier: Option<String>,
    /// For [`Action::MoveBind`]: the real directory whose data moves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<PathBuf>,
    /// Where the change is written: the compose entry, or the env file line.
    pub place: Place,
    /// Anything dropped or worth knowing (`nocopy` dropped, env file edited, ...).
    pub notes: Vec<String>,
}

/// One text edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// The file (a compose file or an env file).
    pub file: PathBuf,
    /// The mounts whose fix it writes (several for a shared anchor or variable; none for a
    /// top-level volume removal).
    pub mounts: Vec<MountId>,
    /// What to change.
    pub kind: EditKind,
}

/// The kinds of text edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EditKind {
    /// Replace the scalar at `route` (written as `old`) by `new` (both as YAML text).
    Scalar {
        /// Route of the scalar.
        route: Route,
        /// The scalar's text as written.
        old: String,
        /// The new text.
        new: String,
    },
    /// In the long-syntax entry at `entry`: `type: volume` -> `type: bind`, `volume:` removed.
    LongToBind {
        /// Route of the entry.
        entry: Route,
    },
    /// Add `bind: {create_host_path: false}` to the long-syntax entry at `entry`.
    StrictBind {
        /// Route of the entry.
        entry: Route,
    },
    /// Replace line `line` (1-based) of an env file.
    EnvLine {
        /// 1-based line.
        line: usize,
        /// The line before.
        old: String,
        /// The line after.
        new: String,
    },
    /// Append the short-syntax entry `entry` to the volume list at `sequence` (a nested bind).
    AppendEntry {
        /// Route of the service's `volumes:` list.
        sequence: Route,
        /// The entry as written (`SOURCE:TARGET[:ro]`).
        entry: String,
    },
    /// Remove the top-level volume `key`; `whole_block` removes `volumes:` itself (the last
    /// entry goes). The comment lines directly above the removed key go with it
    /// ([`remove_key`]).
    RemoveVolume {
        /// The key under `volumes:`.
        key: String,
        /// Remove the whole top-level `volumes:` key.
        whole_block: bool,
        /// The comment lines removed with it, as written.
        comments: Vec<String>,
    },
    /// Add a Swarm placement constraint to service `service` (at `route`):
    /// `deploy.placement.constraints` gets `constraint`, the keys above it made when missing.
    Constraint {
        /// The service.
        service: String,
        /// Route of the service's definition.
        route: Route,
        /// The constraint (`node.labels.tierctl.tier.fast==/mnt/nvme`).
        constraint: String,
        /// The constraint it replaces in place (a move to another node); `None`: added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
    },
}

/// How one changed mount must look after the rewrite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The mount.
    pub mount: MountId,
    /// The new source, as compose sees it.
    pub source: String,
    /// The new mode options (short syntax).
    pub modes: Vec<String>,
    /// `bind.create_host_path` afterwards.
    pub create_host_path: bool,
}

/// A mount the plan does not change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftAlone {
    /// The mount.
    pub mount: MountId,
    /// The service.
    pub service: String,
    /// The container path.
    pub target: String,
    /// The source as written, or the volume key.
    pub source: String,
    /// Why.
    pub reason: Reason,
}

/// A change the user must make by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManualEdit {
    /// The mount.
    pub mount: MountId,
    /// The service.
    pub service: String,
    /// The container path.
    pub target: String,
    /// What the source should become.
    pub wanted: String,
    /// The places involved (the entry, the anchor, other users).
    pub places: Vec<Place>,
    /// Why no automatic edit is made.
    pub reason: String,
}

/// How a fix is written.
enum Writing {
    /// Edits at the mount's own place.
    Direct(Vec<EditKind>),
    /// A new value for a variable on an env file line.
    Env {
        var: String,
        file: PathBuf,
        line: usize,
        value: String,
    },
}

struct Candidate<'a> {
    service: &'a Service,
    mount: &'a VolumeMount,
    rebind: Rebind,
    writing: Writing,
    change: Change,
}

/// Builds the plan: assembles the audit's fixes ([`audit::fixes`]) into steps and edits.
pub fn plan(input: &Input<'_>) -> Plan {
    let mut out = Plan::default();
    let ctx = audit::Context {
        project: input.project,
        tiers: input.tiers,
        facts: input.facts,
    };
    let fixes = audit::fixes(&ctx, input.mode);
    // mounts whose volume is split by placement are reported after the others
    let (split, alone): (Vec<_>, Vec<_>) = fixes
        .iter()
        .filter_map(|(id, fix)| match fix {
            Fix::LeftAlone { reason } => Some((*id, reason.clone())),
            _ => None,
        })
        .partition(|(_, reason)| *reason == Reason::SplitByPlacement);
    for (id, reason) in alone.into_iter().chain(split) {
        if let Some((service, mount)) = input.project.mount(id) {
            out.left_alone.push(left(service, mount, reason));
        }
    }
    let mut candidates = Vec::new();
    for (id, fix) in fixes {
        let Some((service, mount)) = input.project.mount(id) else {
            continue;
        };
        let (rebind, written) = match fix {
            // a constraint is the service's edit, not the mount's (`rewrite --swarm`)
            Fix::LeftAlone { .. } | Fix::Pin { .. } => continue,
            Fix::Manual { wanted, reason } => {
                out.manual.push(manual_at(service, mount, &wanted, reason));
                continue;
            }
            Fix::Rebind(rebind) => {
                let written = writing(input.project, input.strict_binds, mount, &rebind);
                (rebind, written)
            }
        };
        match written {
            Ok(writing) => candidates.push(Candidate {
                service,
                mount,
                change: change(input.strict_binds, mount, &rebind),
                rebind,
                writing,
            }),
            Err(reason) => {
                out.manual
                    .push(manual_at(service, mount, &rebind.path, reason.to_string()))
            }
        }
    }
    let accepted = accept_shared(input, candidates, &mut out);
    let changed: BTreeSet<MountId> = accepted.iter().map(|c| c.mount.id).collect();
    for c in &accepted {
        out.steps.push(step(c));
        out.changes.push(c.change.clone());
    }
    remove_unused_volumes(input, &changed, &mut out);
    nested::add_nested_binds(input, &mut out);
    out
}

fn left(service: &Service, mount: &VolumeMount, reason: Reason) -> LeftAlone {
    LeftAlone {
        mount: mount.id,
        service: service.name.clone(),
        target: mount.target.clone(),
        source: mount.display_source(),
        reason,
    }
}

fn manual_at(service: &Service, mount: &VolumeMount, wanted: &Path, reason: String) -> ManualEdit {
    ManualEdit {
        mount: mount.id,
        service: service.name.clone(),
        target: mount.target.clone(),
        wanted: wanted.display().to_string(),
        places: vec![place_of(mount)],
        reason,
    }
}

fn place_of(mount: &VolumeMount) -> Place {
    Place {
        file: mount.origin.file.clone(),
        position: mount.origin.position,
    }
}

fn change(strict: bool, mount: &VolumeMount, rebind: &Rebind) -> Change {
    Change {
        mount: mount.id,
        source: rebind.path.display().to_string(),
        modes: mount
            .modes
            .iter()
            .filter(|m| *m != "nocopy")
            .cloned()
            .collect(),
        create_host_path: if strict && mount.syntax == Syntax::Long {
            false
        } else {
            mount.create_host_path
        },
    }
}

/// The edits that write `rebind` where the fix says ([`Via`]), or why the text cannot take them.
fn writing(
    project: &ComposeProject,
    strict_binds: bool,
    mount: &VolumeMount,
    rebind: &Rebind,
) -> Result<Writing, Unwritable> {
    let origin = &mount.origin;
    let route = || origin.route.clone();
    let new_path = rebind.path.to_str().ok_or_else(|| Unwritable::NotUtf8 {
        path: rebind.path.clone(),
    })?;
    if let Via::EnvLine { var, file, line } = &rebind.via {
        return Ok(Writing::Env {
            var: var.clone(),
            file: file.clone(),
            line: *line,
            value: rebind.path.display().to_string(),
        });
    }
    let literal = compose_literal(new_path);
    let doc = project.texts.get(&origin.file).and_then(|f| f.doc());
    // the scalar's parent collection: the volume list (short) or the entry (long)
    let parent = Route(origin.route.0[..origin.route.0.len().saturating_sub(1)].to_vec());
    let parent_text = doc.and_then(|d| entry_text(d, &parent));
    let nesting = match parent_text.as_deref().map(str::trim_start) {
        Some(t) if !t.starts_with(['[', '{']) => Nesting::Block,
        // unknown: quote as if in a flow collection, which is safe in both
        _ => Nesting::Flow,
    };
    match mount.syntax {
        Syntax::Short => {
            let raw = decode(&origin.text)
                .ok_or_else(|| Unwritable::EntryNotOneLine { route: route() })?;
            let new_raw = replace_short_source(&raw, &literal, mount.nocopy)
                .ok_or_else(|| Unwritable::NoSource { route: route() })?;
            let new = encode(&new_raw, style_of(&origin.text), nesting);
            Ok(Writing::Direct(vec![EditKind::Scalar {
                route: origin.route.clone(),
                old: origin.text.clone(),
                new,
            }]))
        }
        Syntax::Long => {
            decode(&origin.text).ok_or_else(|| Unwritable::SourceNotOneLine { route: route() })?;
            let entry = parent;
            let mut edits = vec![EditKind::Scalar {
                route: origin.route.clone(),
                old: origin.text.clone(),
                new: encode(&literal, style_of(&origin.text), nesting),
            }];
            let flow = nesting == Nesting::Flow;
            if mount.kind == MountType::Volume {
                if flow && has_key(doc, &entry, "volume") {
                    return Err(Unwritable::FlowVolumeBlock { route: entry });
                }
                edits.push(EditKind::LongToBind {
                    entry: entry.clone(),
                });
            }
            if strict_binds && mount.create_host_path {
                if has_key(doc, &entry, "bind") {
                    return Err(Unwritable::BindBlock { route: entry });
                }
                edits.push(EditKind::StrictBind { entry });
            }
            Ok(Writing::Direct(edits))
        }
    }
}

fn entry_text(doc: &yamlpath::Document, entry: &Route) -> Option<String> {
    let feature = doc.query_pretty(&entry.to_yamlpath()).ok()?;
    Some(doc.extract(&feature).to_owned())
}

fn has_key(doc: Option<&yamlpath::Document>, entry: &Route, key: &str) -> bool {
    doc.is_some_and(|doc| doc.query_exists(&entry.with(key).to_yamlpath()))
}

fn step(c: &Candidate<'_>) -> Step {
    let mut notes = c.rebind.notes.clone();
    let place = match &c.writing {
        Writing::Env {
            var, file, line, ..
        } => {
            notes.push(format!("`{var}` changed in {}", file.display()));
            Place::at(
                file.clone(),
                Position {
                    line: *line,
                    column: 1,
                },
            )
        }
        Writing::Direct(_) => place_of(c.mount),
    };
    match c.mount.origin.reach {
        Reach::Anchor => notes.push("edited in the anchor, shared by its users".into()),
        Reach::MergeKey => notes.push("edited in the `<<` merge source".into()),
        Reach::Extends => notes.push("edited in the extended service".into()),
        Reach::Direct => {}
    }
    Step {
        action: c.rebind.action.into(),
        mount: Some(c.mount.id),
        service: Some(c.service.name.clone()),
        target: Some(c.mount.target.clone()),
        old: c.mount.display_source(),
        new: c.rebind.path.display().to_string(),
        tier: c.rebind.tier.clone(),
        from: c.rebind.from.clone(),
        place,
        notes,
    }
}

#[cfg(test)]
mod tests;
