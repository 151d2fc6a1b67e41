//! The Swarm findings' constraints as edits: one [`EditKind::Constraint`] per service and
//! constraint, in the file that defines the service (`rewrite --swarm`).

use std::collections::BTreeMap;

use super::{Edit, EditKind};
use crate::audit::{Finding, Fix};
use crate::compose::model::{ComposeProject, MountId};
use crate::swarm::same_constraint;

/// The constraint edits the findings' [`Fix::Pin`]s ask for; a constraint the service already
/// has is not added again.
pub fn pins(project: &ComposeProject, findings: &[Finding]) -> Vec<Edit> {
    let mut wanted: BTreeMap<(&str, &str), Vec<MountId>> = BTreeMap::new();
    for finding in findings {
        if let Some(Fix::Pin { constraint }) = &finding.fix {
            let mounts = wanted
                .entry((finding.service.as_str(), constraint.as_str()))
                .or_default();
            if !mounts.contains(&finding.mount) {
                mounts.push(finding.mount);
            }
        }
    }
    wanted
        .into_iter()
        .filter_map(|((service, constraint), mounts)| {
            let def = project.services.get(service)?;
            if def
                .deploy
                .constraints
                .iter()
                .any(|c| same_constraint(c, constraint))
            {
                return None;
            }
            Some(Edit {
                file: def.origin.file.clone(),
                mounts,
                kind: EditKind::Constraint {
                    service: service.to_owned(),
                    route: def.origin.route.clone(),
                    constraint: constraint.to_owned(),
                    replaces: None,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Check, Severity};
    use crate::compose::load::one_file;
    use crate::compose::origin::Place;

    fn pin(service: &str, mount: MountId, constraint: &str) -> Finding {
        Finding {
            check: Check::SwarmUnpinned,
            severity: Severity::Error,
            service: service.into(),
            mount,
            fix: Some(Fix::Pin {
                constraint: constraint.into(),
            }),
            place: Place {
                file: "/p/compose.yaml".into(),
                position: None,
            },
            source: None,
            target: None,
            message: String::new(),
            hint: String::new(),
        }
    }

    #[test]
    fn issue24_one_constraint_edit_per_service_and_none_for_one_it_has() {
        let project = one_file::project(
            "services:\n  db:\n    image: postgres\n    volumes: [\"/a/x:/x\", \"/a/y:/y\"]\n  web:\n    image: nginx\n    volumes: [\"/a/z:/z\"]\n    deploy:\n      placement:\n        constraints: [\"node.labels.t == /a\"]\n",
        );
        let ids: Vec<MountId> = project.services["db"].mounts.iter().map(|m| m.id).collect();
        let web = project.services["web"].mounts[0].id;
        let findings = [
            pin("db", ids[0], "node.labels.t==/a"),
            pin("db", ids[1], "node.labels.t==/a"),
            pin("web", web, "node.labels.t==/a"),
        ];
        let edits = pins(&project, &findings);
        assert_eq!(edits.len(), 1, "{edits:#?}");
        assert_eq!(edits[0].mounts, ids);
        assert!(matches!(
            &edits[0].kind,
            EditKind::Constraint { service, .. } if service == "db"
        ));
    }
}
