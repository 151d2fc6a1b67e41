//! The Swarm findings' constraints as edits: one [`EditKind::Constraint`] per service and
//! constraint, in the file that defines the service (`rewrite --swarm`).

use std::collections::BTreeMap;

use super::{Edit, EditKind};
use crate::audit::{Finding, Fix};
use crate::compose::model::{ComposeProject, MountId};

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
            if def.deploy.constraints.iter().any(|c| same(c, constraint)) {
                return None;
            }
            Some(Edit {
                file: def.origin.file.clone(),
                mounts,
                kind: EditKind::Constraint {
                    service: service.to_owned(),
                    route: def.origin.route.clone(),
                    constraint: constraint.to_owned(),
                },
            })
        })
        .collect()
}

/// Two constraints that say the same, spaces around the operator aside.
fn same(a: &str, b: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    squeeze(a) == squeeze(b)
}
