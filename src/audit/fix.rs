//! What `rewrite` and `migrate` do about one mount, decided once: audit findings carry it and
//! `plan` assembles it into steps and edits without deciding again.
//!
//! Rules: a symlinked bind mount binds its real path; a named local volume becomes a bind mount
//! of its tier directory (`<tier root>/<template>`); a bind directory on the wrong tier (or on
//! none) is left alone by `rewrite` (its data must move first) and moved by `migrate`; volumes
//! whose users would land in different directories are left alone; a source built from
//! variables is changed only when it is one variable set on an env file line.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use super::{Context, Subjects};
use crate::compose::env::VarSource;
use crate::compose::model::{MountId, MountType};

/// Which command the fixes are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `rewrite` (and `plan`, `audit`): only edits; data is never moved.
    Rewrite,
    /// `migrate`: a bind directory on the wrong tier (or none) moves to its placement path.
    Migrate,
}

/// What happens to one mount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fix {
    /// The source is replaced (see [`Rebind`]).
    Rebind(Rebind),
    /// The mount is not changed.
    LeftAlone {
        /// Why.
        reason: Reason,
    },
    /// The source should change, but only a human can write it.
    Manual {
        /// What the source should become.
        wanted: PathBuf,
        /// Why no automatic edit is made.
        reason: String,
    },
    /// The service gets a placement constraint (Swarm), the mount is not changed.
    Pin {
        /// The constraint `rewrite --swarm` adds to `deploy.placement.constraints`.
        constraint: String,
    },
}

/// A new source for a mount, and how it is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rebind {
    /// What kind of change.
    pub action: RebindAction,
    /// The new source.
    pub path: PathBuf,
    /// For a volume: the placement's directory before `subpath` is joined.
    #[serde(skip)]
    pub base: PathBuf,
    /// The tier the new source lies on.
    pub tier: Option<String>,
    /// For [`RebindAction::MoveBind`]: the real directory whose data moves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<PathBuf>,
    /// Anything dropped or worth knowing (`nocopy` dropped, `subpath` joined, ...).
    pub notes: Vec<String>,
    /// Where the new source is written.
    pub via: Via,
}

/// The kinds of [`Rebind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebindAction {
    /// A symlinked bind source replaced by its real path.
    BindRealPath,
    /// A named volume replaced by a bind mount of its tier directory (`migrate` copies the
    /// data first).
    VolumeToBind,
    /// A bind directory on the wrong tier (or none) replaced by its placement path; its data is
    /// copied there first (`migrate` only).
    MoveBind,
}

impl RebindAction {
    /// A stable name for output (the same as the plan step's action).
    pub fn as_str(self) -> &'static str {
        match self {
            RebindAction::BindRealPath => "bind-real-path",
            RebindAction::VolumeToBind => "volume-to-bind",
            RebindAction::MoveBind => "move-bind",
        }
    }
}

/// Where a new source is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "in", rename_all = "kebab-case")]
pub enum Via {
    /// In the compose entry itself (or the anchor / extended service it reaches).
    Entry,
    /// As the value of the variable `var` on line `line` of the env file `file`.
    EnvLine {
        /// The variable.
        var: String,
        /// The env file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },
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
    /// A bind directory in a mergerfs pool (`pools:`): on several tiers, its files placed by
    /// mergerfs and `tierctl tiers move`.
    InPool,
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
            Reason::InPool => "in-pool",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one mount should become, before it is known how the change is written.
struct Want {
    action: RebindAction,
    path: PathBuf,
    base: PathBuf,
    tier: Option<String>,
    from: Option<PathBuf>,
    notes: Vec<String>,
}

/// The fix of every enabled mount that has one, in [`MountId`] order.
pub fn fixes(ctx: &Context<'_>, mode: Mode) -> Vec<(MountId, Fix)> {
    let mut decided: Vec<(MountId, Result<Want, Reason>)> = Vec::new();
    for service in ctx.project.enabled_services() {
        for mount in &service.mounts {
            let subject = ctx.subject(service, mount);
            if let Some(verdict) = want(ctx, &subject, mode).transpose() {
                decided.push((mount.id, verdict));
            }
        }
    }
    split_volumes(ctx, &mut decided);
    decided
        .into_iter()
        .map(|(id, verdict)| {
            let fix = match verdict {
                Err(reason) => Fix::LeftAlone { reason },
                Ok(want) => written(ctx, id, want),
            };
            (id, fix)
        })
        .collect()
}

/// A bind directory (`real`, symlinks resolved) that is not where placement puts it: left alone
/// with the reason, since moving it is `migrate`'s job (the data has to be copied before the
/// source changes); in [`Mode::Migrate`], moved to its placement path.
fn data_must_move(
    ctx: &Context<'_>,
    s: &Subjects<'_>,
    mode: Mode,
    real: &Path,
) -> Result<Option<Want>, Reason> {
    if ctx
        .tiers
        .pools
        .iter()
        .any(|pool| real.starts_with(&pool.mount))
    {
        return Err(Reason::InPool);
    }
    let placement = ctx.placement(s);
    let reason = match (ctx.tiers.tier_of(real), &placement) {
        (None, _) => Reason::OutsideTiers,
        (Some(tier), Some(p)) if p.tier != tier.name => Reason::WrongTier,
        _ => return Ok(None),
    };
    match placement {
        Some(p) if mode == Mode::Migrate => Ok(Some(Want {
            action: RebindAction::MoveBind,
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

/// What the mount should become: `Ok(None)` when nothing, `Err` when it is left alone.
fn want(ctx: &Context<'_>, s: &Subjects<'_>, mode: Mode) -> Result<Option<Want>, Reason> {
    match s.mount.kind {
        MountType::Bind => bind_want(ctx, s, mode),
        MountType::Volume => volume_want(ctx, s),
        _ => match s.mount.source {
            None if s.mount.kind == MountType::Volume => Err(Reason::Anonymous),
            _ => Err(Reason::NotStorage),
        },
    }
}

fn bind_want(ctx: &Context<'_>, s: &Subjects<'_>, mode: Mode) -> Result<Option<Want>, Reason> {
    if s.host_path.is_none() {
        return Ok(None);
    }
    let Some(facts) = s.path else {
        return Ok(None);
    };
    if !facts.is_symlinked() {
        return match facts.real.as_deref() {
            Some(real) if facts.exists && facts.is_dir => data_must_move(ctx, s, mode, real),
            _ => Ok(None),
        };
    }
    let real = match (&facts.problem, &facts.real) {
        (None, Some(real)) => real.clone(),
        _ => return Err(Reason::Unresolved),
    };
    if mode == Mode::Migrate
        && facts.exists
        && facts.is_dir
        && let Ok(Some(moved)) = data_must_move(ctx, s, mode, &real)
    {
        return Ok(Some(moved));
    }
    let tier = ctx.tier_name(&real).map(str::to_owned);
    Ok(Some(Want {
        action: RebindAction::BindRealPath,
        path: real.clone(),
        base: real,
        tier,
        from: None,
        notes: Vec::new(),
    }))
}

fn volume_want(ctx: &Context<'_>, s: &Subjects<'_>) -> Result<Option<Want>, Reason> {
    let mount = s.mount;
    if mount.source.is_none() {
        return Err(Reason::Anonymous);
    }
    let volume = ctx.project.volume_for(mount).ok_or(Reason::Undeclared)?;
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
    let placement = ctx.placement(s).ok_or(Reason::NoPlacement)?;
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
        action: RebindAction::VolumeToBind,
        path,
        base,
        tier: Some(placement.tier),
        from: None,
        notes,
    }))
}

/// Volumes whose users would land in different directories are left alone for all of them:
/// splitting them would split the data.
fn split_volumes(ctx: &Context<'_>, decided: &mut [(MountId, Result<Want, Reason>)]) {
    let key_of = |id: MountId| ctx.project.mount(id).and_then(|(_, m)| m.source.as_deref());
    let mut paths: BTreeMap<&str, BTreeSet<PathBuf>> = BTreeMap::new();
    for (id, verdict) in decided.iter() {
        if let (Ok(want), Some(key)) = (verdict, key_of(*id))
            && want.action == RebindAction::VolumeToBind
        {
            paths.entry(key).or_default().insert(want.base.clone());
        }
    }
    for (id, verdict) in decided.iter_mut() {
        let split = matches!(verdict, Ok(w) if w.action == RebindAction::VolumeToBind)
            && key_of(*id)
                .and_then(|k| paths.get(k))
                .is_some_and(|p| p.len() > 1);
        if split {
            *verdict = Err(Reason::SplitByPlacement);
        }
    }
}

/// The wanted change with where it is written, or a manual edit when the source is not
/// something tierctl can change (built from variables, not located, not UTF-8).
fn written(ctx: &Context<'_>, id: MountId, want: Want) -> Fix {
    let via = match ctx.project.mount(id) {
        Some((_, mount)) => via(mount, &want.path),
        None => Err(SourceNotWritable::NotInProject { mount: id }),
    };
    match via {
        Ok(via) => Fix::Rebind(Rebind {
            action: want.action,
            path: want.path,
            base: want.base,
            tier: want.tier,
            from: want.from,
            notes: want.notes,
            via,
        }),
        Err(reason) => Fix::Manual {
            wanted: want.path,
            reason: reason.to_string(),
        },
    }
}

/// Why tierctl cannot write a mount's new source itself: its fix is a manual edit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SourceNotWritable {
    /// The mount is not in the project.
    #[error("{mount} is not in the project")]
    NotInProject {
        /// The mount.
        mount: MountId,
    },
    /// The new path is not UTF-8, so no compose text can hold it.
    #[error("the new path is not UTF-8")]
    NotUtf8 {
        /// The new path.
        path: PathBuf,
    },
    /// The source's place in its file is not known.
    #[error("the source could not be located in the file")]
    NotLocated {
        /// The mount.
        mount: MountId,
    },
    /// The source is one variable, set only in the process environment.
    #[error("the source is `${{{var}}}`, set only in the environment: change it there")]
    SetInEnvironment {
        /// The variable.
        var: String,
    },
    /// The source is one variable whose default is in use.
    #[error("the source is `${{{var}}}` with its default in use: set it in .env")]
    DefaultInUse {
        /// The variable.
        var: String,
    },
    /// The source is built from several variables (or text around one).
    #[error(
        "the source is built from {}: change the value by hand",
        vars.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
    )]
    BuiltFromVariables {
        /// The variables, in order.
        vars: Vec<String>,
    },
}

fn via(
    mount: &crate::compose::model::VolumeMount,
    new_path: &Path,
) -> Result<Via, SourceNotWritable> {
    let origin = &mount.origin;
    new_path
        .to_str()
        .ok_or_else(|| SourceNotWritable::NotUtf8 {
            path: new_path.to_path_buf(),
        })?;
    if origin.position.is_none() {
        return Err(SourceNotWritable::NotLocated { mount: mount.id });
    }
    match origin.variables.as_slice() {
        [] => Ok(Via::Entry),
        [var] if var.whole && !var.used_default => match &var.set_by {
            Some(VarSource::EnvFile { path, line }) => Ok(Via::EnvLine {
                var: var.name.clone(),
                file: path.clone(),
                line: *line,
            }),
            _ => Err(SourceNotWritable::SetInEnvironment {
                var: var.name.clone(),
            }),
        },
        [var] if var.whole => Err(SourceNotWritable::DefaultInUse {
            var: var.name.clone(),
        }),
        vars => Err(SourceNotWritable::BuiltFromVariables {
            vars: vars.iter().map(|v| v.name.clone()).collect(),
        }),
    }
}
