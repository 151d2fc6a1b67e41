//! A value written once for several mounts (anchor, merge key, `extends`, an env file line): its edit is made only when every user wants exactly that edit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::env_edit::{env_line_edit, env_usage_problem};
use super::{Candidate, Edit, EditKind, Input, ManualEdit, Plan, Writing, place_of};
use crate::compose::model::{MountId, VolumeMount};
use crate::compose::origin::{Place, Position, Reach};

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
pub(super) fn accept_shared<'a>(
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
