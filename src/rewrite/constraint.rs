//! Swarm placement constraints written into a service's `deploy.placement.constraints`
//! (`rewrite --swarm` adds one; a move to another node replaces one): text inserted or one list
//! item rewritten, so comments, order and quoting elsewhere are kept.

use super::PatchProblem;
use crate::compose::origin::{Route, RouteKey};

/// `constraint` added to the service at `route`: appended to `deploy.placement.constraints`,
/// or the missing keys of that path written at the end of the deepest block mapping there is
/// (text inserted, so comments, order and quoting elsewhere are kept; yamlpatch's `Add` indents
/// a nested mapping wrongly).
pub(super) fn add(
    doc: &yamlpath::Document,
    route: &Route,
    constraint: &str,
) -> Result<yamlpath::Document, PatchProblem> {
    let item = crate::plan::encode(
        constraint,
        crate::plan::ScalarStyle::Plain,
        crate::plan::Nesting::Block,
    );
    let deploy = route.with("deploy");
    let placement = deploy.with("placement");
    let constraints = placement.with("constraints");
    let exists = |r: &Route| doc.query_exists(&r.to_yamlpath());
    let (at, lines) = if exists(&constraints) {
        let value = yaml_serde::Value::String(constraint.to_owned());
        let patch = yamlpatch::Patch {
            route: constraints.to_yamlpath(),
            operation: yamlpatch::Op::Append { value },
        };
        return Ok(yamlpatch::apply_yaml_patches(doc, &[patch])?);
    } else if exists(&placement) {
        (
            placement,
            vec!["constraints:".to_owned(), format!("  - {item}")],
        )
    } else if exists(&deploy) {
        let lines = ["placement:", "  constraints:"].map(str::to_owned);
        (
            deploy,
            [lines.to_vec(), vec![format!("    - {item}")]].concat(),
        )
    } else {
        let lines = ["deploy:", "  placement:", "    constraints:"].map(str::to_owned);
        (
            route.clone(),
            [lines.to_vec(), vec![format!("      - {item}")]].concat(),
        )
    };
    append_to_mapping(doc, &at, &lines)
}

/// `lines` (relative to the mapping's own indentation) added after the last line of the block
/// mapping at `route`.
fn append_to_mapping(
    doc: &yamlpath::Document,
    route: &Route,
    lines: &[String],
) -> Result<yamlpath::Document, PatchProblem> {
    let feature = doc
        .query_exact(&route.to_yamlpath())?
        .ok_or(PatchProblem::NotBlockMapping)?;
    let text = doc.source();
    let (start, end) = feature.location.byte_span;
    if text[start..end].trim_start().starts_with('{') {
        return Err(PatchProblem::NotBlockMapping);
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[line_start..start];
    if !indent.chars().all(|c| c == ' ') {
        return Err(PatchProblem::NotBlockMapping);
    }
    let insert_at = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let added: String = lines
        .iter()
        .map(|l| format!("{newline}{indent}{l}"))
        .collect();
    let mut new = text.to_owned();
    new.insert_str(insert_at.min(new.len()), &added);
    Ok(yamlpath::Document::new(new)?)
}

/// In the constraints of the service at `route`, the item that says `old` (spaces around the
/// operator aside) rewritten to say `new`, in the item's own quoting; the other items, their
/// comments and order kept. An item that is not there: [`PatchProblem::NoConstraint`].
pub(super) fn replace(
    doc: &yamlpath::Document,
    route: &Route,
    old: &str,
    new: &str,
) -> Result<yamlpath::Document, PatchProblem> {
    let list = route.with("deploy").with("placement").with("constraints");
    let missing = || PatchProblem::NoConstraint {
        constraint: old.to_owned(),
    };
    for index in 0.. {
        let item = list.with(RouteKey::Index(index));
        let Some(feature) = doc.query_exact(&item.to_yamlpath()).ok().flatten() else {
            break;
        };
        let written = doc.extract(&feature).to_owned();
        let Some(value) = crate::plan::decode(&written) else {
            continue;
        };
        if !crate::plan::same_constraint(&value, old) {
            continue;
        }
        let text = crate::plan::encode(
            new,
            crate::plan::style_of(&written),
            crate::plan::Nesting::Flow,
        );
        let patch = yamlpatch::Patch {
            route: item.to_yamlpath(),
            operation: yamlpatch::Op::RewriteFragment {
                from: subfeature::Subfeature::new(0, written.as_str()),
                to: text.into(),
            },
        };
        return Ok(yamlpatch::apply_yaml_patches(doc, &[patch])?);
    }
    Err(missing())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::compose::origin::RouteKey;
    use crate::plan::EditKind;
    use crate::rewrite::{RewriteError, patch_yaml};

    fn pinned(text: &str) -> String {
        let route = Route::new([RouteKey::from("services"), RouteKey::from("db")]);
        let kind = EditKind::Constraint {
            service: "db".into(),
            route,
            replaces: None,
            constraint: "node.labels.tierctl.tier.fast==/mnt/nvme".into(),
        };
        let kinds = [&kind];
        let doc = yamlpath::Document::new(text.to_owned()).expect("parsed");
        patch_yaml(Path::new("compose.yaml"), Some(&doc), &kinds).expect("patched")
    }

    #[test]
    fn issue24_a_constraint_is_added_where_the_keys_end_comments_kept() {
        let bare = "services:\n  db:\n    image: postgres # the db\n    volumes:\n      - /mnt/nvme/db:/data\n";
        let out = pinned(bare);
        assert!(out.contains("image: postgres # the db"), "{out}");
        let tree: serde_norway::Value = serde_norway::from_str(&out).expect("yaml");
        assert_eq!(
            tree["services"]["db"]["deploy"]["placement"]["constraints"][0].as_str(),
            Some("node.labels.tierctl.tier.fast==/mnt/nvme"),
            "{out}"
        );
        let listed = "services:\n  db:\n    image: postgres\n    deploy:\n      replicas: 1 # one\n      placement:\n        constraints:\n          - node.role==worker # keep\n";
        let out = pinned(listed);
        assert!(out.contains("replicas: 1 # one"), "{out}");
        assert!(out.contains("node.role==worker # keep"), "{out}");
        let tree: serde_norway::Value = serde_norway::from_str(&out).expect("yaml");
        let list = &tree["services"]["db"]["deploy"]["placement"]["constraints"];
        assert_eq!(
            list[1].as_str(),
            Some("node.labels.tierctl.tier.fast==/mnt/nvme"),
            "{out}"
        );
    }

    #[test]
    fn issue24_a_flow_deploy_is_refused_not_mangled() {
        let route = Route::new([RouteKey::from("services"), RouteKey::from("db")]);
        let kind = EditKind::Constraint {
            service: "db".into(),
            route,
            replaces: None,
            constraint: "node.id==x".into(),
        };
        let text = "services:\n  db:\n    image: postgres\n    deploy: {replicas: 1}\n";
        let doc = yamlpath::Document::new(text.to_owned()).expect("parsed");
        let err = patch_yaml(Path::new("compose.yaml"), Some(&doc), &[&kind]).expect_err("flow");
        assert!(
            matches!(&err, RewriteError::Patch { problem, .. } if matches!(**problem, PatchProblem::NotBlockMapping)),
            "{err:?}"
        );
    }

    #[test]
    fn issue24_a_constraint_is_replaced_in_place_in_its_own_quoting() {
        let route = Route::new([RouteKey::from("services"), RouteKey::from("db")]);
        let kind = EditKind::Constraint {
            service: "db".into(),
            route,
            replaces: Some("node.labels.tierctl.tier.fast == /a".into()),
            constraint: "node.labels.tierctl.tier.fast==/b".into(),
        };
        let text = "services:\n  db:\n    deploy:\n      placement:\n        constraints:\n          - node.role==worker # keep\n          - \"node.labels.tierctl.tier.fast==/a\" # the disk\n";
        let doc = yamlpath::Document::new(text.to_owned()).expect("parsed");
        let out = patch_yaml(Path::new("compose.yaml"), Some(&doc), &[&kind]).expect("patched");
        assert_eq!(
            out,
            text.replace("tier.fast==/a", "tier.fast==/b"),
            "quoting and comments kept"
        );
        let flow = "services:\n  db:\n    deploy:\n      placement:\n        constraints: [node.role==worker, 'node.labels.tierctl.tier.fast==/a']\n";
        let doc = yamlpath::Document::new(flow.to_owned()).expect("parsed");
        let out = patch_yaml(Path::new("compose.yaml"), Some(&doc), &[&kind]).expect("patched");
        assert_eq!(out, flow.replace("fast==/a", "fast==/b"));
        let none = "services:\n  db:\n    image: x\n";
        let doc = yamlpath::Document::new(none.to_owned()).expect("parsed");
        let err = patch_yaml(Path::new("compose.yaml"), Some(&doc), &[&kind]).expect_err("absent");
        assert!(err.to_string().contains("tier.fast == /a"), "{err}");
    }
}
