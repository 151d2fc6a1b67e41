//! Pure: compose project + tiers + facts -> a [`Plan`]: the steps a careful human would take,
//! the text edits that make them, what is left alone and why, and what needs a manual edit.
//!
//! Rules: a symlinked bind mount binds its real path; a named local volume becomes a bind mount
//! of its tier directory (`<tier root>/<template>`); a source that is a whole variable set in an
//! env file is changed in that file; a value written once for several services (anchor, merge
//! key, `extends`) is edited only when every user gets the same new source.

mod scalar;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compose::env::VarSource;
use crate::compose::model::{ComposeProject, MountType, Service, Syntax, VolumeMount};
use crate::compose::origin::{Place, Position, Reach, Route, RouteKey};
use crate::facts::Facts;
use crate::tiers::{Subject, Tiers};

pub use scalar::{
    ScalarStyle, compose_literal, decode, encode, encode_env, env_value_span, replace_short_source,
    style_of,
};

/// What the plan is made from.
pub struct Input<'a> {
    /// The loaded project.
    pub project: &'a ComposeProject,
    /// The storage map.
    pub tiers: &'a Tiers,
    /// Facts about the project's host paths (`audit::host_paths`).
    pub facts: &'a Facts,
    /// The text of every compose file and env file of the project, by absolute path.
    pub texts: &'a BTreeMap<PathBuf, String>,
    /// Write long-syntax binds with `bind.create_host_path: false`.
    pub strict_binds: bool,
    /// Plan for `migrate`: a bind directory on the wrong tier or on none (reached through a
    /// symlink or not) moves to its placement path ([`Action::MoveBind`]) instead of being left
    /// alone; `migrate` copies its data first.
    pub move_binds: bool,
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
    /// entry goes).
    RemoveVolume {
        /// The key under `volumes:`.
        key: String,
        /// Remove the whole top-level `volumes:` key.
        whole_block: bool,
    },
}

/// How one changed mount must look after the rewrite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The service.
    pub service: String,
    /// Index of the mount in the service's mounts.
    pub index: usize,
    /// The new source, as compose sees it.
    pub source: String,
    /// The new mode options (short syntax).
    pub modes: Vec<String>,
    /// `bind.create_host_path` afterwards.
    pub create_host_path: bool,
}

/// Why a mount is left alone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Managed outside this project.
    External,
    /// A non-local volume driver stores the data.
    NonLocalDriver,
    /// The local driver mounts a filesystem (`nfs`, `cifs`, ...).
    MountedFilesystem,
    /// The volume is a bind in disguise (`driver_opts: {o: bind}`).
    BindInDisguise,
    /// The volume has a `name:` another project may mount.
    NamedElsewhere,
    /// An anonymous volume.
    Anonymous,
    /// tmpfs, npipe, image, cluster mounts.
    NotStorage,
    /// The volume is not declared under top-level `volumes:`.
    Undeclared,
    /// No placement rule matches.
    NoPlacement,
    /// Services sharing the volume would be placed in different directories.
    SplitByPlacement,
    /// The symlink could not be resolved (loop, permission).
    Unresolved,
    /// A bind directory on another tier than placement says: its data must move first
    /// (`tierctl migrate`), a rewrite alone would point the service at an empty directory.
    WrongTier,
    /// A bind directory on no tier: its data must move first, as for [`Reason::WrongTier`].
    OutsideTiers,
}

impl Reason {
    /// A stable name for output and summaries.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::External => "external",
            Reason::NonLocalDriver => "non-local-driver",
            Reason::MountedFilesystem => "mounted-filesystem",
            Reason::BindInDisguise => "bind-in-disguise",
            Reason::NamedElsewhere => "named-elsewhere",
            Reason::Anonymous => "anonymous",
            Reason::NotStorage => "not-storage",
            Reason::Undeclared => "undeclared",
            Reason::NoPlacement => "no-placement",
            Reason::SplitByPlacement => "split-by-placement",
            Reason::Unresolved => "unresolved-symlink",
            Reason::WrongTier => "wrong-tier-data-must-move",
            Reason::OutsideTiers => "outside-tiers-data-must-move",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mount the plan does not change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftAlone {
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

/// What one mount should become.
struct Want {
    action: Action,
    path: PathBuf,
    /// For a volume: the placement's directory before `subpath` is joined.
    base: PathBuf,
    tier: Option<String>,
    /// The real directory whose data moves ([`Action::MoveBind`]).
    from: Option<PathBuf>,
    notes: Vec<String>,
}

/// How a wanted change is written.
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
    index: usize,
    mount: &'a VolumeMount,
    want: Want,
    writing: Writing,
    change: Change,
}

type MountKey<'a> = (&'a str, usize);

/// Builds the plan.
pub fn plan(input: &Input<'_>) -> Plan {
    let mut out = Plan::default();
    let acted: BTreeSet<PathBuf> = crate::audit::host_paths(input.project)
        .into_iter()
        .collect();
    let mut wants: Vec<(&Service, usize, &VolumeMount, Want)> = Vec::new();
    for service in input.project.enabled_services() {
        for (index, mount) in service.mounts.iter().enumerate() {
            match want(input, &acted, service, mount) {
                Ok(Some(w)) => wants.push((service, index, mount, w)),
                Ok(None) => {}
                Err(reason) => out.left_alone.push(left(service, mount, reason)),
            }
        }
    }
    split_volumes(&mut wants, &mut out);

    let mut candidates = Vec::new();
    for (service, index, mount, want) in wants {
        match writing(input, mount, &want) {
            Ok(writing) => {
                let change = change(input.strict_binds, service, index, mount, &want);
                candidates.push(Candidate {
                    service,
                    index,
                    mount,
                    want,
                    writing,
                    change,
                });
            }
            Err(reason) => out.manual.push(ManualEdit {
                service: service.name.clone(),
                target: mount.target.clone(),
                wanted: want.path.display().to_string(),
                places: vec![place_of(mount)],
                reason,
            }),
        }
    }
    let accepted = accept_shared(input, candidates, &mut out);
    let changed: BTreeSet<MountKey> = accepted
        .iter()
        .map(|c| (c.service.name.as_str(), c.index))
        .collect();
    for c in &accepted {
        out.steps.push(step(c));
        out.changes.push(c.change.clone());
    }
    remove_unused_volumes(input, &changed, &mut out);
    out
}

/// A bind directory (`real`, symlinks resolved) that is not where placement puts it: left alone
/// with the reason, since moving it is `migrate`'s job (the data has to be copied before the
/// source changes); with `move_binds` (planning for `migrate`), moved to its placement path.
fn data_must_move(
    input: &Input<'_>,
    service: &Service,
    mount: &VolumeMount,
    real: &Path,
) -> Result<Option<Want>, Reason> {
    let placement = input.tiers.place(&Subject {
        project: &input.project.name,
        service: &service.name,
        image: service.image.as_deref(),
        target: &mount.target,
        volume: None,
    });
    let reason = match (input.tiers.tier_of(real), &placement) {
        (None, _) => Reason::OutsideTiers,
        (Some(tier), Some(p)) if p.tier != tier.name => Reason::WrongTier,
        _ => return Ok(None),
    };
    match placement {
        Some(p) if input.move_binds => Ok(Some(Want {
            action: Action::MoveBind,
            path: p.path.clone(),
            base: p.path,
            tier: Some(p.tier),
            from: Some(real.to_path_buf()),
            notes: vec![format!(
                "data copied from `{}`, which is kept",
                real.display()
            )],
        })),
        _ => Err(reason),
    }
}

fn left(service: &Service, mount: &VolumeMount, reason: Reason) -> LeftAlone {
    LeftAlone {
        service: service.name.clone(),
        target: mount.target.clone(),
        source: mount.display_source(),
        reason,
    }
}

fn place_of(mount: &VolumeMount) -> Place {
    Place {
        file: mount.origin.file.clone(),
        position: mount.origin.position,
    }
}

/// What `mount` should become: `Ok(None)` when nothing, `Err` when it is left alone.
fn want(
    input: &Input<'_>,
    acted: &BTreeSet<PathBuf>,
    service: &Service,
    mount: &VolumeMount,
) -> Result<Option<Want>, Reason> {
    match mount.kind {
        MountType::Bind => {
            let Some(host) = mount.host_path.as_deref().filter(|p| acted.contains(*p)) else {
                return Ok(None);
            };
            let Some(facts) = input.facts.path(host) else {
                return Ok(None);
            };
            if !facts.is_symlinked() {
                return match facts.real.as_deref() {
                    Some(real) if facts.exists && facts.is_dir => {
                        data_must_move(input, service, mount, real)
                    }
                    _ => Ok(None),
                };
            }
            let real = match (&facts.problem, &facts.real) {
                (None, Some(real)) => real.clone(),
                _ => return Err(Reason::Unresolved),
            };
            if input.move_binds
                && facts.exists
                && facts.is_dir
                && let Ok(Some(moved)) = data_must_move(input, service, mount, &real)
            {
                return Ok(Some(moved));
            }
            Ok(Some(Want {
                action: Action::BindRealPath,
                tier: input.tiers.tier_of(&real).map(|t| t.name.clone()),
                base: real.clone(),
                path: real,
                from: None,
                notes: Vec::new(),
            }))
        }
        MountType::Volume => {
            let Some(key) = mount.source.as_deref() else {
                return Err(Reason::Anonymous);
            };
            let volume = input.project.volume_for(mount).ok_or(Reason::Undeclared)?;
            if volume.external {
                return Err(Reason::External);
            }
            if !volume.is_local() {
                return Err(Reason::NonLocalDriver);
            }
            if volume.mounted_fs_type().is_some() {
                return Err(Reason::MountedFilesystem);
            }
            if volume.bind_device().is_some() || !volume.driver_opts.is_empty() {
                return Err(Reason::BindInDisguise);
            }
            if volume.name.is_some() {
                return Err(Reason::NamedElsewhere);
            }
            let placement = input
                .tiers
                .place(&Subject {
                    project: &input.project.name,
                    service: &service.name,
                    image: service.image.as_deref(),
                    target: &mount.target,
                    volume: Some(key),
                })
                .ok_or(Reason::NoPlacement)?;
            let mut notes = Vec::new();
            let base = placement.path;
            let mut path = base.clone();
            if mount.nocopy {
                notes.push("`nocopy` dropped: binds never copy image content".to_owned());
            }
            if let Some(sub) = mount.subpath.as_deref() {
                path = path.join(sub);
                notes.push(format!("`volume.subpath: {sub}` joined onto the path"));
            }
            Ok(Some(Want {
                action: Action::VolumeToBind,
                tier: Some(placement.tier),
                path,
                base,
                from: None,
                notes,
            }))
        }
        _ => match mount.source {
            None if mount.kind == MountType::Volume => Err(Reason::Anonymous),
            _ => Err(Reason::NotStorage),
        },
    }
}

/// Volumes whose users would land in different directories are left alone for all of them:
/// splitting them would split the data.
fn split_volumes(wants: &mut Vec<(&Service, usize, &VolumeMount, Want)>, out: &mut Plan) {
    let mut paths: BTreeMap<&str, BTreeSet<PathBuf>> = BTreeMap::new();
    for (_, _, mount, want) in wants.iter() {
        if let (Action::VolumeToBind, Some(key)) = (want.action, mount.source.as_deref()) {
            paths.entry(key).or_default().insert(want.base.clone());
        }
    }
    wants.retain(|(service, _, mount, want)| {
        let split = want.action == Action::VolumeToBind
            && mount
                .source
                .as_deref()
                .and_then(|k| paths.get(k))
                .is_some_and(|p| p.len() > 1);
        if split {
            out.left_alone
                .push(left(service, mount, Reason::SplitByPlacement));
        }
        !split
    });
}

fn change(
    strict: bool,
    service: &Service,
    index: usize,
    mount: &VolumeMount,
    want: &Want,
) -> Change {
    Change {
        service: service.name.clone(),
        index,
        source: want.path.display().to_string(),
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

/// How the change to `mount` is written, or why it cannot be.
fn writing(input: &Input<'_>, mount: &VolumeMount, want: &Want) -> Result<Writing, String> {
    let origin = &mount.origin;
    let new_path = want.path.to_str().ok_or("the new path is not UTF-8")?;
    if origin.position.is_none() {
        return Err("the source could not be located in the file".into());
    }
    match origin.variables.as_slice() {
        [] => {}
        [var] if var.whole && !var.used_default => {
            let Some(VarSource::EnvFile { path, line }) = &var.set_by else {
                return Err(format!(
                    "the source is `${{{}}}`, set only in the environment: change it there",
                    var.name
                ));
            };
            let value = want.path.display().to_string();
            return Ok(Writing::Env {
                var: var.name.clone(),
                file: path.clone(),
                line: *line,
                value,
            });
        }
        [var] if var.whole => {
            return Err(format!(
                "the source is `${{{}}}` with its default in use: set it in .env",
                var.name
            ));
        }
        vars => {
            let names: Vec<String> = vars.iter().map(|v| format!("`{}`", v.name)).collect();
            return Err(format!(
                "the source is built from {}: change the value by hand",
                names.join(", ")
            ));
        }
    }
    let literal = compose_literal(new_path);
    match mount.syntax {
        Syntax::Short => {
            let raw = decode(&origin.text).ok_or("the entry is not a single-line string")?;
            let new_raw = replace_short_source(&raw, &literal, mount.nocopy)
                .ok_or("the entry has no source")?;
            let new = encode(&new_raw, style_of(&origin.text));
            Ok(Writing::Direct(vec![EditKind::Scalar {
                route: origin.route.clone(),
                old: origin.text.clone(),
                new,
            }]))
        }
        Syntax::Long => {
            decode(&origin.text).ok_or("the source is not a single-line string")?;
            let entry = Route(origin.route.0[..origin.route.0.len().saturating_sub(1)].to_vec());
            let mut edits = vec![EditKind::Scalar {
                route: origin.route.clone(),
                old: origin.text.clone(),
                new: encode(&literal, style_of(&origin.text)),
            }];
            let text = input.texts.get(&origin.file);
            let entry_text = text.and_then(|t| entry_text(t, &entry)).unwrap_or_default();
            let flow = entry_text.starts_with('{');
            if mount.kind == MountType::Volume {
                if flow && has_key(text, &entry, "volume") {
                    return Err("a flow-style long entry with a `volume:` block".into());
                }
                edits.push(EditKind::LongToBind {
                    entry: entry.clone(),
                });
            }
            if input.strict_binds && mount.create_host_path {
                if has_key(text, &entry, "bind") {
                    return Err("`--strict-binds` with an existing `bind:` block".into());
                }
                edits.push(EditKind::StrictBind { entry });
            }
            Ok(Writing::Direct(edits))
        }
    }
}

fn yroute(route: &Route) -> yamlpath::Route<'static> {
    route
        .0
        .iter()
        .map(|key| match key {
            RouteKey::Key(k) => yamlpath::Component::Key(k.clone().into()),
            RouteKey::Index(i) => yamlpath::Component::Index(*i),
        })
        .collect::<Vec<_>>()
        .into()
}

fn entry_text(text: &str, entry: &Route) -> Option<String> {
    let doc = yamlpath::Document::new(text).ok()?;
    let feature = doc.query_pretty(&yroute(entry)).ok()?;
    Some(doc.extract(&feature).to_owned())
}

fn has_key(text: Option<&String>, entry: &Route, key: &str) -> bool {
    let Some(text) = text else { return false };
    yamlpath::Document::new(text.as_str())
        .ok()
        .is_some_and(|doc| doc.query_exists(&yroute(&entry.with(key))))
}

/// A place in a file, for grouping users of one written value.
type Spot = (PathBuf, Position);

fn spot(mount: &VolumeMount) -> Option<Spot> {
    Some((mount.origin.file.clone(), mount.origin.position?))
}

/// Keeps the candidates whose edit touches only mounts that want exactly that edit; the rest
/// become manual edits naming every place involved. Emits the accepted edits.
fn accept_shared<'a>(
    input: &Input<'a>,
    candidates: Vec<Candidate<'a>>,
    out: &mut Plan,
) -> Vec<Candidate<'a>> {
    // every mount in the project, enabled or not, by the place its source is written
    let mut users: BTreeMap<Spot, Vec<MountKey>> = BTreeMap::new();
    let mut var_users: BTreeMap<&str, Vec<MountKey>> = BTreeMap::new();
    for service in input.project.services.values() {
        for (i, mount) in service.mounts.iter().enumerate() {
            if let Some(s) = spot(mount) {
                users.entry(s).or_default().push((service.name.as_str(), i));
            }
            for var in &mount.origin.variables {
                var_users
                    .entry(var.name.as_str())
                    .or_default()
                    .push((service.name.as_str(), i));
            }
        }
    }
    let by_key: BTreeMap<MountKey, usize> = candidates
        .iter()
        .enumerate()
        .map(|(n, c)| ((c.service.name.as_str(), c.index), n))
        .collect();

    let mut verdict: Vec<Option<String>> = vec![None; candidates.len()];
    for (n, c) in candidates.iter().enumerate() {
        let same = |other: &Candidate<'_>| match (&c.writing, &other.writing) {
            (Writing::Direct(a), Writing::Direct(b)) => signature(a) == signature(b),
            (Writing::Env { value: a, .. }, Writing::Env { value: b, .. }) => a == b,
            _ => false,
        };
        let sharers: Vec<MountKey> = match &c.writing {
            Writing::Direct(_) => spot(c.mount)
                .and_then(|s| users.get(&s).cloned())
                .unwrap_or_default(),
            Writing::Env { var, .. } => var_users.get(var.as_str()).cloned().unwrap_or_default(),
        };
        let disagree: Vec<&MountKey> = sharers
            .iter()
            .filter(|k| by_key.get(*k).is_none_or(|&m| !same(&candidates[m])))
            .collect();
        if !disagree.is_empty() {
            let names: Vec<String> = disagree
                .iter()
                .map(|(s, i)| {
                    let target = input
                        .project
                        .services
                        .get(*s)
                        .and_then(|svc| svc.mounts.get(*i))
                        .map_or("", |m| m.target.as_str());
                    format!("`{s}` ({target})")
                })
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
                .filter_map(|(s, i)| input.project.services.get(*s)?.mounts.get(*i))
                .filter_map(spot)
                .collect();
            verdict[n] = env_usage_problem(input, var, spots.len());
        }
    }

    let mut accepted = Vec::new();
    let mut seen: BTreeSet<(PathBuf, String)> = BTreeSet::new();
    for (c, problem) in candidates.into_iter().zip(verdict) {
        let env_edit = match &c.writing {
            Writing::Env {
                file, line, value, ..
            } => match env_line_edit(input, file, *line, value) {
                Ok(kind) => Some(kind),
                Err(reason) => {
                    out.manual.push(manual(&c, reason));
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
            if seen.insert(id) {
                out.edits.push(Edit {
                    file: file.clone(),
                    kind,
                });
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
        service: c.service.name.clone(),
        target: c.mount.target.clone(),
        wanted: c.want.path.display().to_string(),
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
        .filter_map(|f| input.texts.get(f))
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
) -> Result<EditKind, String> {
    let text = input
        .texts
        .get(file)
        .ok_or_else(|| format!("env file `{}` was not read", file.display()))?;
    let old = text
        .lines()
        .nth(line.saturating_sub(1))
        .ok_or_else(|| format!("`{}` has no line {line}", file.display()))?;
    let (start, end, quote) = env_value_span(old).ok_or_else(|| {
        format!(
            "`{}` line {line} holds no single-line value",
            file.display()
        )
    })?;
    let encoded = encode_env(value, quote).ok_or_else(|| {
        format!(
            "the new value cannot be written on `{}` line {line}",
            file.display()
        )
    })?;
    Ok(EditKind::EnvLine {
        line,
        old: old.to_owned(),
        new: format!("{}{encoded}{}", &old[..start], &old[end..]),
    })
}

fn step(c: &Candidate<'_>) -> Step {
    let mut notes = c.want.notes.clone();
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
        action: c.want.action,
        service: Some(c.service.name.clone()),
        target: Some(c.mount.target.clone()),
        old: c.mount.display_source(),
        new: c.want.path.display().to_string(),
        tier: c.want.tier.clone(),
        from: c.want.from.clone(),
        place,
        notes,
    }
}

/// Top-level volume entries that no mount of any service uses after the change: removed when
/// defined in exactly one file, in block style, without comment lines inside.
fn remove_unused_volumes(input: &Input<'_>, changed: &BTreeSet<MountKey>, out: &mut Plan) {
    let mut used_before: BTreeSet<&str> = BTreeSet::new();
    let mut used_after: BTreeSet<&str> = BTreeSet::new();
    for service in input.project.services.values() {
        for (i, mount) in service.mounts.iter().enumerate() {
            if let (MountType::Volume, Some(key)) = (mount.kind, mount.source.as_deref()) {
                used_before.insert(key);
                if !changed.contains(&(service.name.as_str(), i)) {
                    used_after.insert(key);
                }
            }
        }
    }
    let mut per_file: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (key, volume) in &input.project.volumes {
        if !used_before.contains(key.as_str()) || used_after.contains(key.as_str()) {
            continue;
        }
        let defining: Vec<&PathBuf> = input
            .project
            .files
            .iter()
            .filter(|f| {
                input
                    .texts
                    .get(*f)
                    .is_some_and(|t| block_entry_text(t, key).is_some())
            })
            .collect();
        let [file] = defining.as_slice() else {
            continue;
        };
        let text = input
            .texts
            .get(*file)
            .map(String::as_str)
            .unwrap_or_default();
        let Some(entry) = block_entry_text(text, key) else {
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
            service: None,
            target: None,
            old: key.clone(),
            new: String::new(),
            tier: None,
            from: None,
            place: Place {
                file: (*file).clone(),
                position: volume.origin.position,
            },
            notes: vec![
                "no service uses it any more; the volume's data stays in the engine".into(),
            ],
        });
        out.removed_volumes.push(key.clone());
    }
    for (file, keys) in per_file {
        let text = input
            .texts
            .get(&file)
            .map(String::as_str)
            .unwrap_or_default();
        let all = top_volume_keys(text);
        let whole = all.iter().all(|k| keys.contains(k));
        let routes: Vec<Route> = if whole {
            vec![Route::new([RouteKey::from("volumes")])]
        } else {
            keys.iter()
                .map(|k| Route::new([RouteKey::from("volumes"), RouteKey::from(k.as_str())]))
                .collect()
        };
        if !removal_keeps_comments(text, &routes) {
            out.steps.retain(|s| {
                !(s.action == Action::RemoveVolumeEntry
                    && keys.contains(&s.old)
                    && s.place.file == file)
            });
            out.removed_volumes.retain(|k| !keys.contains(k));
            continue;
        }
        if whole {
            out.edits.push(Edit {
                file,
                kind: EditKind::RemoveVolume {
                    key: String::new(),
                    whole_block: true,
                },
            });
        } else {
            for key in keys {
                out.edits.push(Edit {
                    file: file.clone(),
                    kind: EditKind::RemoveVolume {
                        key,
                        whole_block: false,
                    },
                });
            }
        }
    }
}

/// Whether removing `routes` from `text` keeps every comment line.
fn removal_keeps_comments(text: &str, routes: &[Route]) -> bool {
    let Ok(mut doc) = yamlpath::Document::new(text) else {
        return false;
    };
    for route in routes {
        let patch = yamlpatch::Patch {
            route: yroute(route),
            operation: yamlpatch::Op::Remove,
        };
        match yamlpatch::apply_yaml_patches(&doc, &[patch]) {
            Ok(next) => doc = next,
            Err(_) => return false,
        }
    }
    let comments = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    comments(text) == comments(doc.source())
}

/// The text of the top-level entry `volumes.<key>` when `volumes:` is a block mapping.
fn block_entry_text(text: &str, key: &str) -> Option<String> {
    let doc = yamlpath::Document::new(text).ok()?;
    let block = doc
        .query_pretty(&yroute(&Route::new([RouteKey::from("volumes")])))
        .ok()?;
    if doc.extract(&block).trim_start().starts_with('{') {
        return None;
    }
    let route = Route::new([RouteKey::from("volumes"), RouteKey::from(key)]);
    let feature = doc.query_pretty(&yroute(&route)).ok()?;
    Some(doc.extract_with_leading_whitespace(&feature).to_owned())
}

fn top_volume_keys(text: &str) -> Vec<String> {
    serde_norway::from_str::<serde_norway::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("volumes")?.as_mapping().map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
