//! Pure: compose project + tiers + facts -> a [`Plan`]: the steps a careful human would take,
//! the text edits that make them, what is left alone and why, and what needs a manual edit.
//!
//! What happens to each mount is decided once, by the audit ([`audit::fixes`]); the plan
//! assembles those fixes: it writes them as text edits (a source that is a whole variable set in
//! an env file is changed in that file), edits a value written once for several services
//! (anchor, merge key, `extends`) only when every user gets the same new source, and removes
//! top-level volume entries no service uses any more.

mod removal;
mod scalar;
mod unwritable;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit::{self, Fix, Mode, Rebind, RebindAction, Via};
use crate::compose::model::{
    ComposeProject, LoadedFile, MountId, MountType, Service, Syntax, VolumeMount,
};
use crate::compose::origin::{Place, Position, Reach, Route, RouteKey};
use crate::facts::Facts;
use crate::tiers::Tiers;

pub use crate::audit::Reason;

pub use removal::{Removal, RemovalError, remove_key};
pub use scalar::{
    Nesting, ScalarStyle, compose_literal, decode, encode, encode_env, env_value_span,
    replace_short_source, style_of,
};
pub use unwritable::Unwritable;

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
            Fix::LeftAlone { .. } => continue,
            Fix::Manual { wanted, reason } => {
                out.manual.push(manual_at(service, mount, &wanted, reason));
                continue;
            }
            Fix::Rebind(rebind) => {
                let written = writing(input, mount, &rebind);
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
fn writing(input: &Input<'_>, mount: &VolumeMount, rebind: &Rebind) -> Result<Writing, Unwritable> {
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
    let doc = input.project.texts.get(&origin.file).and_then(|f| f.doc());
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
            if input.strict_binds && mount.create_host_path {
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

/// A place in a file, for grouping users of one written value.
type Spot = (PathBuf, Position);

fn spot(mount: &VolumeMount) -> Option<Spot> {
    Some((mount.origin.file.clone(), mount.origin.position?))
}

/// For each candidate, why its edit cannot be made: another user of the same written value
/// (anchor, merge key, `extends`, variable) would not get the same new source.
fn shared_problems(input: &Input<'_>, candidates: &[Candidate<'_>]) -> Vec<Option<String>> {
    // every mount in the project, enabled or not, by the place its source is written
    let mut users: BTreeMap<Spot, Vec<MountId>> = BTreeMap::new();
    let mut var_users: BTreeMap<&str, Vec<MountId>> = BTreeMap::new();
    for (_, mount) in input.project.mounts() {
        if let Some(s) = spot(mount) {
            users.entry(s).or_default().push(mount.id);
        }
        for var in &mount.origin.variables {
            var_users
                .entry(var.name.as_str())
                .or_default()
                .push(mount.id);
        }
    }
    let by_id: BTreeMap<MountId, usize> = candidates
        .iter()
        .enumerate()
        .map(|(n, c)| (c.mount.id, n))
        .collect();

    let mut verdict: Vec<Option<String>> = vec![None; candidates.len()];
    for (n, c) in candidates.iter().enumerate() {
        let same = |other: &Candidate<'_>| match (&c.writing, &other.writing) {
            (Writing::Direct(a), Writing::Direct(b)) => signature(a) == signature(b),
            (Writing::Env { value: a, .. }, Writing::Env { value: b, .. }) => a == b,
            _ => false,
        };
        let sharers: Vec<MountId> = match &c.writing {
            Writing::Direct(_) => spot(c.mount)
                .and_then(|s| users.get(&s).cloned())
                .unwrap_or_default(),
            Writing::Env { var, .. } => var_users.get(var.as_str()).cloned().unwrap_or_default(),
        };
        let disagree: Vec<MountId> = sharers
            .iter()
            .copied()
            .filter(|id| by_id.get(id).is_none_or(|&m| !same(&candidates[m])))
            .collect();
        if !disagree.is_empty() {
            let names: Vec<String> = disagree
                .iter()
                .filter_map(|id| input.project.mount(*id))
                .map(|(svc, m)| format!("`{}` ({})", svc.name, m.target))
                .collect();
            let what = match (&c.writing, c.mount.origin.reach) {
                (Writing::Env { var, .. }, _) => format!("variable `{var}`"),
                (_, Reach::Anchor) => "the anchor".to_owned(),
                (_, Reach::MergeKey) => "the `<<` merge source".to_owned(),
                (_, Reach::Extends) => "the extended service".to_owned(),
                (_, Reach::Direct) => "the entry".to_owned(),
            };
            verdict[n] = Some(format!(
                "{what} is shared with {} which would not get the same new source",
                names.join(", ")
            ));
            continue;
        }
        if let Writing::Env { var, .. } = &c.writing {
            let spots: BTreeSet<Spot> = sharers
                .iter()
                .filter_map(|id| input.project.mount(*id))
                .filter_map(|(_, m)| spot(m))
                .collect();
            verdict[n] = env_usage_problem(input, var, spots.len());
        }
    }

    verdict
}

/// Keeps the candidates whose edit touches only mounts that want exactly that edit; the rest
/// become manual edits naming every place involved. Emits the accepted edits.
fn accept_shared<'a>(
    input: &Input<'a>,
    candidates: Vec<Candidate<'a>>,
    out: &mut Plan,
) -> Vec<Candidate<'a>> {
    let verdict = shared_problems(input, &candidates);
    let mut accepted = Vec::new();
    // one edit per place: a value shared by several mounts is edited once, for all of them
    let mut seen: BTreeMap<(PathBuf, String), usize> = BTreeMap::new();
    for (c, problem) in candidates.into_iter().zip(verdict) {
        let env_edit = match &c.writing {
            Writing::Env {
                file, line, value, ..
            } => match env_line_edit(input, file, *line, value) {
                Ok(kind) => Some(kind),
                Err(reason) => {
                    out.manual.push(manual(&c, reason.to_string()));
                    continue;
                }
            },
            Writing::Direct(_) => None,
        };
        if let Some(reason) = problem {
            out.manual.push(manual(&c, reason));
            continue;
        }
        let (file, kinds) = match (&c.writing, env_edit) {
            (Writing::Env { file, .. }, Some(kind)) => (file.clone(), vec![kind]),
            (Writing::Direct(kinds), _) => (c.mount.origin.file.clone(), kinds.clone()),
            (Writing::Env { .. }, None) => continue,
        };
        let at = spot(c.mount).map(|(_, p)| p);
        for kind in kinds {
            let id = (
                file.clone(),
                format!("{at:?} {:?}", signature(std::slice::from_ref(&kind))),
            );
            match seen.get(&id) {
                Some(&n) => out.edits[n].mounts.push(c.mount.id),
                None => {
                    seen.insert(id, out.edits.len());
                    out.edits.push(Edit {
                        file: file.clone(),
                        mounts: vec![c.mount.id],
                        kind,
                    });
                }
            }
        }
        accepted.push(c);
    }
    accepted
}

/// The edits without their routes: two users of one anchor reach it by different routes.
fn signature(kinds: &[EditKind]) -> Vec<String> {
    kinds
        .iter()
        .map(|k| match k {
            EditKind::Scalar { old, new, .. } => format!("scalar {old} -> {new}"),
            EditKind::LongToBind { .. } => "long-to-bind".into(),
            EditKind::StrictBind { .. } => "strict-bind".into(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn manual(c: &Candidate<'_>, reason: String) -> ManualEdit {
    let mut places = vec![place_of(c.mount)];
    if let Writing::Env { file, line, .. } = &c.writing {
        places.push(Place::at(
            file.clone(),
            Position {
                line: *line,
                column: 1,
            },
        ));
    }
    ManualEdit {
        mount: c.mount.id,
        service: c.service.name.clone(),
        target: c.mount.target.clone(),
        wanted: c.rebind.path.display().to_string(),
        places,
        reason,
    }
}

/// Why the variable cannot be edited: it is used in the compose files more often than by the
/// mounts that want the new value.
fn env_usage_problem(input: &Input<'_>, var: &str, spots: usize) -> Option<String> {
    let uses: usize = input
        .project
        .files
        .iter()
        .filter_map(|f| input.project.text(f))
        .map(|text| count_uses(text, var))
        .sum();
    (uses > spots).then(|| {
        format!(
            "variable `{var}` is used elsewhere in the compose files: change the source by hand"
        )
    })
}

/// How often `${var...}` or `$var` occurs in `text` (`$$` escapes skipped).
fn count_uses(text: &str, var: &str) -> usize {
    let bytes = text.as_bytes();
    let mut count = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'$') {
            i += 2;
            continue;
        }
        let rest = &text[i + 1..];
        let name = rest.strip_prefix('{').unwrap_or(rest);
        if let Some(after) = name.strip_prefix(var) {
            let ends = after
                .chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            if ends {
                count += 1;
            }
        }
        i += 1;
    }
    count
}

fn env_line_edit(
    input: &Input<'_>,
    file: &Path,
    line: usize,
    value: &str,
) -> Result<EditKind, Unwritable> {
    let file_line = || (file.to_path_buf(), line);
    let text = input
        .project
        .text(file)
        .ok_or_else(|| Unwritable::EnvFileNotRead {
            file: file.to_path_buf(),
        })?;
    let old = text.lines().nth(line.saturating_sub(1)).ok_or_else(|| {
        let (file, line) = file_line();
        Unwritable::NoEnvLine { file, line }
    })?;
    let (start, end, quote) = env_value_span(old).ok_or_else(|| {
        let (file, line) = file_line();
        Unwritable::EnvValueNotOneLine { file, line }
    })?;
    let encoded = encode_env(value, quote).ok_or_else(|| {
        let (file, line) = file_line();
        Unwritable::EnvValueUnwritable { file, line }
    })?;
    Ok(EditKind::EnvLine {
        line,
        old: old.to_owned(),
        new: format!("{}{encoded}{}", &old[..start], &old[end..]),
    })
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

/// Top-level volume entries that no mount of any service uses after the change: removed when
/// defined in exactly one file, in block style, without comment lines inside.
fn remove_unused_volumes(input: &Input<'_>, changed: &BTreeSet<MountId>, out: &mut Plan) {
    let mut used_before: BTreeSet<&str> = BTreeSet::new();
    let mut used_after: BTreeSet<&str> = BTreeSet::new();
    for (_, mount) in input.project.mounts() {
        if let (MountType::Volume, Some(key)) = (mount.kind, mount.source.as_deref()) {
            used_before.insert(key);
            if !changed.contains(&mount.id) {
                used_after.insert(key);
            }
        }
    }
    let mut per_file: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (key, volume) in &input.project.volumes {
        if !used_before.contains(key.as_str()) || used_after.contains(key.as_str()) {
            continue;
        }
        let defining: Vec<(&PathBuf, String)> = input
            .project
            .files
            .iter()
            .filter_map(|f| Some((f, block_entry_text(doc_of(input, f)?, key)?)))
            .collect();
        let [(file, entry)] = defining.as_slice() else {
            continue;
        };
        if entry.lines().any(|l| l.trim_start().starts_with('#')) {
            continue;
        }
        per_file
            .entry((*file).clone())
            .or_default()
            .push(key.clone());
        out.steps.push(Step {
            action: Action::RemoveVolumeEntry,
            mount: None,
            service: None,
            target: None,
            old: key.clone(),
            new: String::new(),
            tier: None,
            from: None,
            place: Place {
                file: (*file).clone(),
                position: doc_of(input, file)
                    .and_then(|doc| removal::key_position(doc, &volume_route(key)))
                    .or(volume.origin.position),
            },
            notes: vec![
                "no service uses it any more; the volume's data stays in the engine".into(),
            ],
        });
        out.removed_volumes.push(key.clone());
    }
    for (file, keys) in per_file {
        volume_removal_edits(input, file, &keys, out);
    }
}

fn doc_of<'a>(input: &Input<'a>, file: &Path) -> Option<&'a yamlpath::Document> {
    input.project.texts.get(file)?.doc()
}

/// The edits that remove `keys` from `file`'s top-level `volumes:` (the whole block when they
/// are all of it), with the comment lines that belong to them; when that would lose any other
/// comment, the removal steps are taken back.
fn volume_removal_edits(input: &Input<'_>, file: PathBuf, keys: &[String], out: &mut Plan) {
    let loaded = input.project.texts.get(&file);
    let all = loaded
        .and_then(|f| f.tree.as_ref())
        .map(top_volume_keys)
        .unwrap_or_default();
    let whole = all.iter().all(|k| keys.contains(k));
    let removals: Vec<(String, Route)> = if whole {
        vec![(String::new(), volume_route(""))]
    } else {
        keys.iter().map(|k| (k.clone(), volume_route(k))).collect()
    };
    let planned = loaded.and_then(|f| removal_comments(f, &removals, &all));
    let Some(comments) = planned else {
        out.steps.retain(|s| {
            !(s.action == Action::RemoveVolumeEntry
                && keys.contains(&s.old)
                && s.place.file == file)
        });
        out.removed_volumes.retain(|k| !keys.contains(k));
        return;
    };
    note_removed_comments(&file, &comments, out);
    for (key, _) in removals {
        let lines = comments
            .iter()
            .filter(|(k, _)| whole || *k == key)
            .flat_map(|(_, lines)| lines.iter().cloned())
            .collect();
        out.edits.push(Edit {
            file: file.clone(),
            mounts: Vec::new(),
            kind: EditKind::RemoveVolume {
                key,
                whole_block: whole,
                comments: lines,
            },
        });
    }
}

/// Says on each removal step which comment lines go with its entry; the comment above a whole
/// `volumes:` block is said on the first.
fn note_removed_comments(file: &Path, comments: &[(String, Vec<String>)], out: &mut Plan) {
    let mut block = comments
        .iter()
        .find(|(k, _)| k.is_empty())
        .map(|(_, lines)| lines.clone())
        .unwrap_or_default();
    for step in out
        .steps
        .iter_mut()
        .filter(|s| s.action == Action::RemoveVolumeEntry && s.place.file == file)
    {
        let mut lines: Vec<String> = std::mem::take(&mut block);
        lines.extend(
            comments
                .iter()
                .filter(|(k, _)| *k == step.old)
                .flat_map(|(_, l)| l.iter().cloned()),
        );
        if !lines.is_empty() {
            let quoted: Vec<String> = lines.iter().map(|l| format!("`{}`", l.trim())).collect();
            step.notes.push(format!(
                "the comment above it goes with it: {}",
                quoted.join(", ")
            ));
        }
    }
}

/// The route of the top-level volume `key` (`volumes` itself for an empty key).
fn volume_route(key: &str) -> Route {
    let mut keys = vec![RouteKey::from("volumes")];
    if !key.is_empty() {
        keys.push(RouteKey::from(key));
    }
    Route::new(keys)
}

/// The comment lines each key takes with it (an empty key: the `volumes:` block), or `None`
/// when removing `removals` (in order) would lose any other comment line. A whole-block removal
/// also takes the comments above each of its entries (`entries`).
fn removal_comments(
    file: &LoadedFile,
    removals: &[(String, Route)],
    entries: &[String],
) -> Option<Vec<(String, Vec<String>)>> {
    let mut doc = file.doc().cloned()?;
    let mut planned = Vec::new();
    for (key, route) in removals {
        if key.is_empty() {
            for entry in entries {
                let lines = removal::attached_comments(&doc, &volume_route(entry)).ok()?;
                planned.push((entry.clone(), lines));
            }
        }
        let removed = remove_key(&doc, route).ok()?;
        planned.push((key.clone(), removed.comments));
        doc = removed.doc;
    }
    let comments = |t: &str| -> Vec<String> {
        let mut lines: Vec<String> = t
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    let mut expected = comments(&file.text);
    for line in planned.iter().flat_map(|(_, lines)| lines) {
        let at = expected.iter().position(|l| l == line)?;
        expected.remove(at);
    }
    (expected == comments(doc.source())).then_some(planned)
}

/// The text of the top-level entry `volumes.<key>` when `volumes:` is a block mapping.
fn block_entry_text(doc: &yamlpath::Document, key: &str) -> Option<String> {
    let block = doc
        .query_pretty(&Route::new([RouteKey::from("volumes")]).to_yamlpath())
        .ok()?;
    if doc.extract(&block).trim_start().starts_with('{') {
        return None;
    }
    let route = Route::new([RouteKey::from("volumes"), RouteKey::from(key)]);
    let feature = doc.query_pretty(&route.to_yamlpath()).ok()?;
    Some(doc.extract_with_leading_whitespace(&feature).to_owned())
}

fn top_volume_keys(tree: &serde_norway::Value) -> Vec<String> {
    tree.get("volumes")
        .and_then(|v| v.as_mapping())
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
