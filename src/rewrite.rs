//! Applies a plan's edits to file text, keeping everything else byte for byte, then proves the
//! result: the patched files reload to the same project except the intended sources (and the
//! removed top-level volume entries). Pure apart from the [`Files`] the reload reads through.
//!
//! Compose files are patched with `yamlpatch`: `RewriteFragment` for scalars (the new text is
//! quoted by the plan), `Remove` for keys, `Add` for `bind:`. Env files are edited line by line.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use serde_norway::Value;
use thiserror::Error;

use crate::compose::error::ComposeError;
use crate::compose::load::{Files, LoadOptions, load};
use crate::compose::model::{ComposeProject, LoadedFile, MountId, MountType, VolumeMount};
use crate::compose::origin::{Route, RouteKey};
use crate::plan::{EditKind, Plan};

mod constraint;

/// One file's text before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patched {
    /// The file.
    pub file: PathBuf,
    /// SHA-256 of the text as the loader read it: written only while the file still has it.
    pub read_hash: [u8; 32],
    /// The text as read.
    pub old: String,
    /// The text after the edits.
    pub new: String,
}

/// Why a rewrite could not be made.
#[derive(Debug, Error)]
pub enum RewriteError {
    /// A file the plan edits was not read.
    #[error("`{}` was not read before planning", file.display())]
    NotRead {
        /// The file.
        file: PathBuf,
    },
    /// An edit could not be applied to the file's text.
    #[error("cannot patch `{}` at `{route}`: {problem}", file.display())]
    Patch {
        /// The file.
        file: PathBuf,
        /// The route of the edit.
        route: String,
        /// What went wrong.
        problem: Box<PatchProblem>,
    },
    /// The env file line is not what the plan read.
    #[error("`{}` line {line} changed since it was read", file.display())]
    EnvLine {
        /// The env file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// The patched project does not load.
    #[error("the rewritten project does not load (a tierctl bug, nothing was written): {0}")]
    Reload(Box<ComposeError>),
    /// The patched text means something other than intended.
    #[error("the rewrite of `{}` changes more than the planned sources (a tierctl bug, nothing was written): {difference}", file.display())]
    Bug {
        /// The file (or the project directory).
        file: PathBuf,
        /// The first difference.
        difference: Difference,
    },
}

/// Why an edit could not be applied to a file's text.
#[derive(Debug, Error)]
pub enum PatchProblem {
    /// The file's text has no parsed YAML document.
    #[error("the file's YAML could not be parsed for patching")]
    Unparsed,
    /// A long entry to turn into a bind whose `type` is not `volume`.
    #[error("`type` is `{found}`, not `volume`")]
    NotVolumeType {
        /// The `type` as written.
        found: String,
    },
    /// yamlpatch refused the edit.
    #[error(transparent)]
    Refused(#[from] yamlpatch::Error),
    /// The patched text does not parse again.
    #[error(transparent)]
    Reparse(#[from] yamlpath::QueryError),
    /// The key could not be removed.
    #[error(transparent)]
    Removal(#[from] crate::plan::RemovalError),
    /// A constraint's keys can only be added to a block mapping.
    #[error("the service's `deploy` is not a block mapping; add the constraint by hand")]
    NotBlockMapping,
    /// The constraint a move replaces is not in the service's constraints (any more).
    #[error("the service's placement constraints have no `{constraint}` (edited since the plan?)")]
    NoConstraint {
        /// The constraint looked for.
        constraint: String,
    },
    /// Removing the key would take a comment line the plan did not show.
    #[error("the comment line `{line}` would go with it, which the plan did not say")]
    UnplannedComment {
        /// The comment line, trimmed.
        line: String,
    },
}

/// How the rewritten project differs from the planned one (a tierctl bug): the first difference
/// found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Difference {
    /// The project's name or its files.
    #[error("project name or files differ")]
    Project,
    /// The set of services.
    #[error("the services differ")]
    Services,
    /// A service beyond its mounts.
    #[error("service `{service}` changed beyond its mounts")]
    Service {
        /// The service.
        service: String,
    },
    /// A service's number of mounts.
    #[error("service `{service}` has a different number of mounts")]
    MountCount {
        /// The service.
        service: String,
    },
    /// One mount, in the loaded model.
    #[error("service `{service}` mount {target} is {found}, expected {expected}")]
    Mount {
        /// The service.
        service: String,
        /// The mount's target.
        target: String,
        /// What was loaded (its fields, as Rust shows them).
        found: String,
        /// What the plan wanted.
        expected: String,
    },
    /// The top-level volumes beyond the planned removals.
    #[error("the top-level volumes differ beyond the planned removals")]
    TopVolumes,
    /// One kept top-level volume.
    #[error("top-level volume `{key}` changed")]
    TopVolume {
        /// Its key.
        key: String,
    },
    /// The text as read does not parse (it did when loaded).
    #[error("{message}")]
    OldUnparsable {
        /// The parser's message.
        message: String,
    },
    /// The rewritten text does not parse.
    #[error("it does not parse: {message}")]
    NewUnparsable {
        /// The parser's message.
        message: String,
    },
    /// A value outside the volume entries and the removed top-level volumes.
    #[error("`{route}` changed")]
    Value {
        /// Its route.
        route: Route,
    },
}

/// Applies the plan's edits to the texts the loader kept ([`ComposeProject::texts`]); returns
/// only the files whose text changed.
pub fn patch(plan: &Plan, project: &ComposeProject) -> Result<Vec<Patched>, RewriteError> {
    let mut by_file: BTreeMap<&Path, Vec<&EditKind>> = BTreeMap::new();
    for edit in &plan.edits {
        by_file.entry(&edit.file).or_default().push(&edit.kind);
    }
    let mut out = Vec::new();
    for (file, kinds) in by_file {
        let loaded = project
            .texts
            .get(file)
            .ok_or_else(|| RewriteError::NotRead {
                file: file.to_path_buf(),
            })?;
        let old = &loaded.text;
        let new = if kinds.iter().all(|k| matches!(k, EditKind::EnvLine { .. })) {
            patch_env(file, old, &kinds)?
        } else {
            patch_yaml(file, loaded.doc(), &kinds)?
        };
        if new.as_str() != &**old {
            out.push(Patched {
                file: file.to_path_buf(),
                read_hash: loaded.hash,
                old: old.to_string(),
                new,
            });
        }
    }
    Ok(out)
}

fn patch_env(file: &Path, old: &str, kinds: &[&EditKind]) -> Result<String, RewriteError> {
    let mut lines: Vec<String> = old.split_inclusive('\n').map(str::to_owned).collect();
    for kind in kinds {
        let EditKind::EnvLine {
            line,
            old: before,
            new,
        } = kind
        else {
            continue;
        };
        let bad = || RewriteError::EnvLine {
            file: file.to_path_buf(),
            line: *line,
        };
        let slot = lines.get_mut(line.wrapping_sub(1)).ok_or_else(bad)?;
        let body_len = slot.trim_end_matches(['\n', '\r']).len();
        if slot[..body_len] != **before {
            return Err(bad());
        }
        slot.replace_range(..body_len, new);
    }
    Ok(lines.concat())
}

pub(crate) fn patch_yaml(
    file: &Path,
    doc: Option<&yamlpath::Document>,
    kinds: &[&EditKind],
) -> Result<String, RewriteError> {
    let mut doc = doc.cloned().ok_or_else(|| RewriteError::Patch {
        file: file.to_path_buf(),
        route: String::new(),
        problem: Box::new(PatchProblem::Unparsed),
    })?;
    // removals last, so the routes of the other edits stay as planned
    let mut ordered: Vec<&&EditKind> = kinds.iter().collect();
    ordered.sort_by_key(|k| matches!(k, EditKind::RemoveVolume { .. }));
    for kind in ordered {
        if let EditKind::RemoveVolume { .. } = kind {
            doc = remove_volume(file, &doc, kind)?;
            continue;
        }
        if let EditKind::Constraint {
            route,
            constraint,
            replaces,
            ..
        } = kind
        {
            let patched = match replaces {
                Some(old) => constraint::replace(&doc, route, old, constraint),
                None => constraint::add(&doc, route, constraint),
            };
            doc = patched.map_err(|problem| RewriteError::Patch {
                file: file.to_path_buf(),
                route: route.to_string(),
                problem: Box::new(problem),
            })?;
            continue;
        }
        for (route, op) in operations(&doc, kind) {
            let fail = |problem: PatchProblem| RewriteError::Patch {
                file: file.to_path_buf(),
                route: route.to_string(),
                problem: Box::new(problem),
            };
            let patch = yamlpatch::Patch {
                route: route.to_yamlpath(),
                operation: op.map_err(&fail)?,
            };
            let patched =
                yamlpatch::apply_yaml_patches(&doc, &[patch]).map_err(|e| fail(e.into()))?;
            doc = without_added_newline(&doc, patched).map_err(|e| fail(e.into()))?;
        }
    }
    Ok(doc.source().to_owned())
}

/// yamlpatch ends every text it patches with a newline: a file that had no final newline keeps
/// having none.
fn without_added_newline(
    before: &yamlpath::Document,
    after: yamlpath::Document,
) -> Result<yamlpath::Document, yamlpath::QueryError> {
    let text = after.source();
    if before.source().ends_with('\n') || before.source().is_empty() {
        return Ok(after);
    }
    match text.strip_suffix('\n') {
        Some(stripped) => yamlpath::Document::new(stripped.to_owned()),
        None => Ok(after),
    }
}

/// Removes a top-level volume entry (or block) with the comment lines the plan said go with it.
fn remove_volume(
    file: &Path,
    doc: &yamlpath::Document,
    kind: &EditKind,
) -> Result<yamlpath::Document, RewriteError> {
    let EditKind::RemoveVolume {
        key,
        whole_block,
        comments,
    } = kind
    else {
        return Ok(doc.clone());
    };
    let route = if *whole_block {
        Route::new([RouteKey::from("volumes")])
    } else {
        Route::new([RouteKey::from("volumes"), RouteKey::from(key.as_str())])
    };
    let fail = |problem: PatchProblem| RewriteError::Patch {
        file: file.to_path_buf(),
        route: route.to_string(),
        problem: Box::new(problem),
    };
    let removal = crate::plan::remove_key(doc, &route).map_err(|e| fail(e.into()))?;
    if let Some(line) = removal.comments.iter().find(|l| !comments.contains(l)) {
        return Err(fail(PatchProblem::UnplannedComment {
            line: line.trim().to_owned(),
        }));
    }
    Ok(removal.doc)
}

type Operation<'a> = (Route, Result<yamlpatch::Op<'a>, PatchProblem>);

/// The yamlpatch operations for one edit.
fn operations<'a>(doc: &yamlpath::Document, kind: &'a EditKind) -> Vec<Operation<'a>> {
    match kind {
        EditKind::Scalar { route, old, new } => vec![(
            route.clone(),
            Ok(yamlpatch::Op::RewriteFragment {
                from: subfeature::Subfeature::new(0, old.as_str()),
                to: new.as_str().into(),
            }),
        )],
        EditKind::LongToBind { entry } => {
            let type_route = entry.with("type");
            let type_text = doc
                .query_exact(&type_route.to_yamlpath())
                .ok()
                .flatten()
                .map(|f| doc.extract(&f).to_owned())
                .unwrap_or_default();
            let mut ops = vec![(
                type_route,
                if type_text.contains("volume") {
                    Ok(yamlpatch::Op::RewriteFragment {
                        from: subfeature::Subfeature::new(0, "volume"),
                        to: "bind".into(),
                    })
                } else {
                    Err(PatchProblem::NotVolumeType { found: type_text })
                },
            )];
            let volume_route = entry.with("volume");
            if doc.query_exists(&volume_route.to_yamlpath()) {
                ops.push((volume_route, Ok(yamlpatch::Op::Remove)));
            }
            ops
        }
        EditKind::StrictBind { entry } => {
            let mut bind = yaml_serde::Mapping::new();
            bind.insert("create_host_path".into(), false.into());
            vec![(
                entry.clone(),
                Ok(yamlpatch::Op::Add {
                    key: "bind".into(),
                    value: yaml_serde::Value::Mapping(bind),
                }),
            )]
        }
        EditKind::AppendEntry { sequence, entry } => vec![(
            sequence.clone(),
            Ok(yamlpatch::Op::Append {
                value: yaml_serde::Value::String(entry.clone()),
            }),
        )],
        EditKind::RemoveVolume { .. } | EditKind::EnvLine { .. } | EditKind::Constraint { .. } => {
            Vec::new()
        }
    }
}

/// Files read from `patched` first, then from the texts the loader kept, then from `base`.
pub struct Overlay<'a> {
    /// The patched texts.
    pub patched: &'a [Patched],
    /// The texts the first load read.
    pub loaded: &'a BTreeMap<PathBuf, LoadedFile>,
    /// Everything else.
    pub base: &'a dyn Files,
}

impl Files for Overlay<'_> {
    fn read(&self, path: &Path) -> io::Result<String> {
        match self.patched.iter().find(|p| p.file == path) {
            Some(p) => Ok(p.new.clone()),
            None => match self.loaded.get(path) {
                Some(file) => Ok(file.text.to_string()),
                None => self.base.read(path),
            },
        }
    }

    fn is_file(&self, path: &Path) -> bool {
        self.patched.iter().any(|p| p.file == path)
            || self.loaded.contains_key(path)
            || self.base.is_file(path)
    }
}

/// Reloads the project through the patched texts and checks that it equals `old` except the
/// plan's changes: every changed mount has its new source (a bind mount), every other mount,
/// service and top-level volume is unchanged, and each file's YAML differs only inside volume
/// entries and removed top-level volumes.
pub fn check_reload(
    plan: &Plan,
    old: &ComposeProject,
    options: &LoadOptions,
    files: &dyn Files,
    patched: &[Patched],
) -> Result<(), RewriteError> {
    if patched.is_empty() {
        return Ok(());
    }
    let overlay = Overlay {
        patched,
        loaded: &old.texts,
        base: files,
    };
    let new = load(options, &overlay).map_err(|e| RewriteError::Reload(Box::new(e)))?;
    let bug = |difference: Difference| RewriteError::Bug {
        file: old.dir.clone(),
        difference,
    };
    compare_model(plan, old, &new).map_err(bug)?;
    for p in patched {
        if old.files.contains(&p.file) {
            compare_tree(plan, &p.old, &p.new).map_err(|difference| RewriteError::Bug {
                file: p.file.clone(),
                difference,
            })?;
        }
    }
    Ok(())
}

/// The model comparison: `Err` names the first difference.
pub fn compare_model(
    plan: &Plan,
    old: &ComposeProject,
    new: &ComposeProject,
) -> Result<(), Difference> {
    let changes: BTreeMap<MountId, &crate::plan::Change> =
        plan.changes.iter().map(|c| (c.mount, c)).collect();
    if old.name != new.name || old.files != new.files {
        return Err(Difference::Project);
    }
    let names = |p: &ComposeProject| p.services.keys().cloned().collect::<Vec<_>>();
    if names(old) != names(new) {
        return Err(Difference::Services);
    }
    for (name, before) in &old.services {
        let after = &new.services[name];
        if (
            &before.image,
            &before.profiles,
            before.enabled,
            &before.volumes_from,
        ) != (
            &after.image,
            &after.profiles,
            after.enabled,
            &after.volumes_from,
        ) {
            return Err(Difference::Service {
                service: name.clone(),
            });
        }
        let mut constraints = before.deploy.constraints.clone();
        for edit in &plan.edits {
            let EditKind::Constraint {
                service,
                constraint,
                replaces,
                ..
            } = &edit.kind
            else {
                continue;
            };
            if service != name {
                continue;
            }
            let replaced = replaces.as_ref().and_then(|old| {
                constraints
                    .iter()
                    .position(|c| crate::plan::same_constraint(c, old))
            });
            match replaced {
                Some(i) => constraints[i] = constraint.clone(),
                None => constraints.push(constraint.clone()),
            }
        }
        if (before.deploy.global, before.deploy.replicas, constraints)
            != (
                after.deploy.global,
                after.deploy.replicas,
                after.deploy.constraints.clone(),
            )
        {
            return Err(Difference::Service {
                service: name.clone(),
            });
        }
        let added: Vec<&crate::plan::AddedBind> =
            plan.added.iter().filter(|a| &a.service == name).collect();
        if before.mounts.len() + added.len() != after.mounts.len() {
            return Err(Difference::MountCount {
                service: name.clone(),
            });
        }
        compare_added(name, &added, &after.mounts[before.mounts.len()..])?;
        for (b, a) in before.mounts.iter().zip(&after.mounts) {
            let expected = match changes.get(&b.id) {
                Some(change) => expected_mount(b, change),
                None => b.clone(),
            };
            if semantic(&expected) != semantic(a) {
                return Err(Difference::Mount {
                    service: name.clone(),
                    target: b.target.clone(),
                    found: format!("{:?}", semantic(a)),
                    expected: format!("{:?}", semantic(&expected)),
                });
            }
        }
    }
    let removed: BTreeSet<&str> = plan.removed_volumes.iter().map(String::as_str).collect();
    let kept: Vec<&String> = old
        .volumes
        .keys()
        .filter(|k| !removed.contains(k.as_str()))
        .collect();
    if kept != new.volumes.keys().collect::<Vec<_>>() {
        return Err(Difference::TopVolumes);
    }
    for key in kept {
        let (b, a) = (&old.volumes[key], &new.volumes[key]);
        if (&b.name, b.external, &b.driver, &b.driver_opts)
            != (&a.name, a.external, &a.driver, &a.driver_opts)
        {
            return Err(Difference::TopVolume { key: key.clone() });
        }
    }
    Ok(())
}

/// The nested binds `rewrite` appended to service `name`'s mounts (`after`, past the mounts it
/// had): each the bind the plan added, in order.
fn compare_added(
    name: &str,
    added: &[&crate::plan::AddedBind],
    after: &[VolumeMount],
) -> Result<(), Difference> {
    for (want, a) in added.iter().zip(after) {
        let found = (a.kind, a.host_path.as_deref(), a.read_only);
        if found != (MountType::Bind, Some(want.source.as_path()), want.read_only)
            || !crate::compose::target::same(&a.target, &want.target)
        {
            return Err(Difference::Mount {
                service: name.to_owned(),
                target: want.target.clone(),
                found: format!("{:?}", semantic(a)),
                expected: format!(
                    "a bind of {} at {}{}",
                    want.source.display(),
                    want.target,
                    if want.read_only { " (read-only)" } else { "" }
                ),
            });
        }
    }
    Ok(())
}

fn expected_mount(before: &VolumeMount, change: &crate::plan::Change) -> VolumeMount {
    VolumeMount {
        kind: MountType::Bind,
        source: Some(change.source.clone()),
        host_path: Some(PathBuf::from(&change.source)),
        modes: change.modes.clone(),
        nocopy: false,
        subpath: None,
        create_host_path: change.create_host_path,
        ..before.clone()
    }
}

type Semantic<'a> = (
    MountType,
    Option<&'a str>,
    Option<&'a Path>,
    &'a str,
    bool,
    &'a [String],
    bool,
    bool,
    Option<&'a str>,
);

fn semantic(m: &VolumeMount) -> Semantic<'_> {
    (
        m.kind,
        m.source.as_deref(),
        m.host_path.as_deref(),
        &m.target,
        m.read_only,
        &m.modes,
        m.create_host_path,
        m.nocopy,
        m.subpath.as_deref(),
    )
}

/// The YAML trees of one file before and after differ only inside volume entries
/// (`...volumes[i]`) and removed top-level volumes.
pub fn compare_tree(plan: &Plan, old: &str, new: &str) -> Result<(), Difference> {
    let parse = |t: &str| serde_norway::from_str::<Value>(t).map_err(|e| e.to_string());
    let (a, b) = (
        parse(old).map_err(|message| Difference::OldUnparsable { message })?,
        parse(new).map_err(|message| Difference::NewUnparsable { message })?,
    );
    let mut diffs = Vec::new();
    diff(&a, &b, &mut Vec::new(), &mut diffs);
    let removed: BTreeSet<&str> = plan.removed_volumes.iter().map(String::as_str).collect();
    // the `deploy:` of a service a constraint is added to (`rewrite --swarm`)
    let pinned: BTreeSet<&str> = plan
        .edits
        .iter()
        .filter_map(|e| match &e.kind {
            EditKind::Constraint { service, .. } => Some(service.as_str()),
            _ => None,
        })
        .collect();
    // a scalar edited where it is written (an anchor outside any `volumes:`)
    let scalar_pairs: BTreeSet<(String, String)> = plan
        .edits
        .iter()
        .filter_map(|e| match &e.kind {
            EditKind::Scalar { old, new, .. } => {
                Some((crate::plan::decode(old)?, crate::plan::decode(new)?))
            }
            _ => None,
        })
        .collect();
    for (route, before, after) in diffs {
        let pair = match (&before, &after) {
            (Some(Value::String(b)), Some(Value::String(a))) => Some((b.clone(), a.clone())),
            _ => None,
        };
        if pair.is_some_and(|p| scalar_pairs.contains(&p)) {
            continue;
        }
        let in_entry = route.windows(2).any(
            |w| matches!((&w[0], &w[1]), (RouteKey::Key(k), RouteKey::Index(_)) if k == "volumes"),
        );
        let top = match route.as_slice() {
            [RouteKey::Key(v)] => v == "volumes" && !removed.is_empty(),
            [RouteKey::Key(v), RouteKey::Key(k), ..] => {
                v == "volumes" && removed.contains(k.as_str())
            }
            _ => false,
        };
        let deploy = match route.as_slice() {
            [RouteKey::Key(s), RouteKey::Key(name), RouteKey::Key(d), ..] => {
                s == "services" && d == "deploy" && pinned.contains(name.as_str())
            }
            _ => false,
        };
        if !in_entry && !top && !deploy {
            return Err(Difference::Value {
                route: Route(route),
            });
        }
    }
    Ok(())
}

type ValueChange = (Vec<RouteKey>, Option<Value>, Option<Value>);

fn diff(a: &Value, b: &Value, at: &mut Vec<RouteKey>, out: &mut Vec<ValueChange>) {
    match (a, b) {
        (Value::Mapping(x), Value::Mapping(y)) => {
            let keys: BTreeSet<String> = x
                .keys()
                .chain(y.keys())
                .map(crate::compose::load::scalar_text)
                .collect();
            for key in keys {
                at.push(RouteKey::Key(key.clone()));
                let find = |m: &serde_norway::Mapping| {
                    m.iter()
                        .find(|(k, _)| crate::compose::load::scalar_text(k) == key)
                        .map(|(_, v)| v.clone())
                };
                match (find(x), find(y)) {
                    (Some(p), Some(q)) => diff(&p, &q, at, out),
                    (p, q) => out.push((at.clone(), p, q)),
                }
                at.pop();
            }
        }
        // a list that kept its items and grew (a nested bind appended): each new item is a
        // change at its own index
        (Value::Sequence(x), Value::Sequence(y)) if x.len() <= y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                at.push(RouteKey::Index(i));
                diff(p, q, at, out);
                at.pop();
            }
            for (i, q) in y.iter().enumerate().skip(x.len()) {
                at.push(RouteKey::Index(i));
                out.push((at.clone(), None, Some(q.clone())));
                at.pop();
            }
        }
        (Value::Tagged(x), Value::Tagged(y)) if x.tag == y.tag => diff(&x.value, &y.value, at, out),
        (p, q) if p == q => {}
        (p, q) => out.push((at.clone(), Some(p.clone()), Some(q.clone()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_differences_outside_volume_entries_are_bugs() {
        let plan = Plan::default();
        let old = "services:\n  a:\n    image: x\n    volumes: [\"v:/d\"]\n";
        let ok = "services:\n  a:\n    image: x\n    volumes: [\"/t:/d\"]\n";
        let bad = "services:\n  a:\n    image: y\n    volumes: [\"/t:/d\"]\n";
        assert_eq!(compare_tree(&plan, old, ok), Ok(()));
        let err = compare_tree(&plan, old, bad).expect_err("image changed");
        assert!(err.to_string().contains("services.a.image"), "{err}");
    }

    #[test]
    fn env_lines_are_replaced_in_place() {
        let kinds = [EditKind::EnvLine {
            line: 2,
            old: "A=./x # keep".into(),
            new: "A=/t/x # keep".into(),
        }];
        let refs: Vec<&EditKind> = kinds.iter().collect();
        let out =
            patch_env(Path::new(".env"), "# c\r\nA=./x # keep\r\nB=1\n", &refs).expect("patched");
        assert_eq!(out, "# c\r\nA=/t/x # keep\r\nB=1\n");
        let err = patch_env(Path::new(".env"), "# c\nA=./y\n", &refs).expect_err("changed");
        assert!(matches!(err, RewriteError::EnvLine { line: 2, .. }));
    }
}
