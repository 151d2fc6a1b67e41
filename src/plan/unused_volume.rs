//! Top-level volume entries that no mount uses after the change, removed with their comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Action, Edit, EditKind, Input, Plan, Step, removal, remove_key};
use crate::compose::model::{LoadedFile, MountId, MountType};
use crate::compose::origin::{Place, Route, RouteKey};

/// Top-level volume entries that no mount of any service uses after the change: removed when
/// defined in exactly one file, in block style, without comment lines inside.
pub(super) fn remove_unused_volumes(
    input: &Input<'_>,
    changed: &BTreeSet<MountId>,
    out: &mut Plan,
) {
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
