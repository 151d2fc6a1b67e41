//! Pure checks: compose model + tiers + facts -> findings. One module per check id.

mod bind_in_pool;
mod bind_outside_tiers;
mod circular_symlink;
mod cross_tier_symlink;
mod db_on_vm_share;
mod finding;
mod fix;
mod missing_bind_source;
mod named_volume;
pub mod nested_bind;
mod relative_bind;
mod stranded_data;
mod swarm_placement;
mod symlinked_bind;
mod tier_not_mounted;
mod vm_share_missing;
mod vm_share_readonly;
mod watched_library;
mod wrong_tier;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use finding::{Check, Finding, Severity};
pub use fix::{Fix, Mode, Reason, Rebind, RebindAction, Via, fixes};
pub use swarm_placement::{audit_swarm, on_node_tier};
pub use tier_not_mounted::{
    Absence, TierCheck, absence, hint as absence_hint, initialised, tier_checks,
};

use crate::compose::model::{ComposeProject, MountId, MountType, Service, VolumeMount};
use crate::facts::{DatabaseSign, Facts, PathFacts, is_system_path};
use crate::share::VmView;
use crate::tiers::{Placement, Subject, Tiers};

/// Everything a check may look at.
pub struct Context<'a> {
    /// The compose project.
    pub project: &'a ComposeProject,
    /// The storage map.
    pub tiers: &'a Tiers,
    /// What was observed about the host paths.
    pub facts: &'a Facts,
}

/// One mount of one service, with what is known about its host path.
pub struct Subjects<'a> {
    /// The service.
    pub service: &'a Service,
    /// The mount.
    pub mount: &'a VolumeMount,
    /// The host directory the mount binds: the bind source, or the `device` of a named volume
    /// that is a bind in disguise.
    pub host_path: Option<PathBuf>,
    /// Facts about that path.
    pub path: Option<&'a PathFacts>,
    /// The database files that path holds (empty when none, or not read).
    pub databases: &'a [DatabaseSign],
    /// Everything observed (the VM checks read the measured shares).
    pub facts: &'a Facts,
}

type CheckFn = fn(&Context<'_>, &Subjects<'_>) -> Option<Finding>;

/// The checks in the order their findings are produced for one mount.
const CHECKS: [CheckFn; 14] = [
    circular_symlink::check,
    tier_not_mounted::check,
    missing_bind_source::check,
    symlinked_bind::check,
    cross_tier_symlink::check,
    wrong_tier::check,
    bind_outside_tiers::check,
    bind_in_pool::check,
    relative_bind::check,
    named_volume::check,
    stranded_data::check,
    nested_bind::check_unsplit,
    nested_bind::check_needless,
    nested_bind::check_hidden_data,
];

/// Runs every check on every mount of every enabled service; findings sorted by place. A
/// finding of a check about where data lives ([`Check::carries_fix`]) carries its mount's fix
/// as `rewrite` would make it ([`Mode::Rewrite`]).
pub fn audit(ctx: &Context<'_>) -> Vec<Finding> {
    let fixes: BTreeMap<MountId, Fix> = fixes(ctx, Mode::Rewrite).into_iter().collect();
    let mut findings: Vec<Finding> = Vec::new();
    for service in ctx.project.enabled_services() {
        for mount in &service.mounts {
            let subject = ctx.subject(service, mount);
            findings.extend(CHECKS.iter().filter_map(|check| check(ctx, &subject)).map(
                |mut finding| {
                    if finding.check.carries_fix() {
                        finding.fix = fixes.get(&mount.id).cloned();
                    }
                    finding
                },
            ));
        }
    }
    sorted_by_place(findings)
}

/// One note per file whose findings have no line: their position could not be found in the
/// YAML text (a position is never dropped silently).
pub fn unplaced_note(findings: &[Finding]) -> Vec<String> {
    let mut files: BTreeMap<&Path, usize> = BTreeMap::new();
    for finding in findings.iter().filter(|f| f.place.position.is_none()) {
        *files.entry(finding.place.file.as_path()).or_default() += 1;
    }
    files
        .into_iter()
        .map(|(file, count)| {
            format!(
                "{count} finding(s) in {} have no line: their place in the YAML text could not be found",
                file.display()
            )
        })
        .collect()
}

type VmCheckFn = fn(&VmView, &Subjects<'_>) -> Option<Finding>;

/// The VM checks, in the order their findings are produced for one mount.
const VM_CHECKS: [VmCheckFn; 4] = [
    vm_share_missing::check,
    vm_share_readonly::check,
    db_on_vm_share::check,
    watched_library::check,
];

/// Runs the VM checks (does the engine's VM share each bind source?) on every mount of every
/// enabled service; findings sorted by place. Only for a reachable engine's [`VmView`].
pub fn audit_vm(project: &ComposeProject, facts: &Facts, view: &VmView) -> Vec<Finding> {
    let mut findings: Vec<Finding> = Vec::new();
    for service in project.enabled_services() {
        for mount in &service.mounts {
            let host_path = host_path(project, mount).filter(|p| !is_system_path(p));
            let path = host_path.as_deref().and_then(|p| facts.path(p));
            let databases = databases(facts, host_path.as_deref());
            let subject = Subjects {
                service,
                mount,
                host_path,
                path,
                databases,
                facts,
            };
            findings.extend(VM_CHECKS.iter().filter_map(|check| check(view, &subject)));
        }
    }
    sorted_by_place(findings)
}

/// The database files `facts` found at a host path.
fn databases<'a>(facts: &'a Facts, host_path: Option<&Path>) -> &'a [DatabaseSign] {
    host_path
        .and_then(|p| facts.databases.get(p))
        .map_or(&[], Vec::as_slice)
}

/// `findings` in report order: by file, position, then check id.
fn sorted_by_place(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        (&a.place.file, a.place.position, a.check.id()).cmp(&(
            &b.place.file,
            b.place.position,
            b.check.id(),
        ))
    });
    findings
}

/// The host directories whose facts the audit needs.
pub fn host_paths(project: &ComposeProject) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = project
        .enabled_services()
        .flat_map(|s| s.mounts.iter())
        .filter_map(|m| host_path(project, m))
        .filter(|p| !is_system_path(p))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The host directory that holds a mount's data: a bind's host path, or the device of a local
/// volume that is a bind in disguise.
pub fn host_path(project: &ComposeProject, mount: &VolumeMount) -> Option<PathBuf> {
    match mount.kind {
        MountType::Bind => mount.host_path.clone(),
        MountType::Volume => project.volume_for(mount)?.bind_device(),
        _ => None,
    }
}

impl<'a> Context<'a> {
    /// One mount with the host directory it binds (system paths excluded) and its facts.
    pub fn subject(&self, service: &'a Service, mount: &'a VolumeMount) -> Subjects<'a> {
        let host_path = host_path(self.project, mount).filter(|p| !is_system_path(p));
        let path = host_path.as_deref().and_then(|p| self.facts.path(p));
        let databases = databases(self.facts, host_path.as_deref());
        Subjects {
            service,
            mount,
            host_path,
            path,
            databases,
            facts: self.facts,
        }
    }

    /// Where placement says this mount's data belongs.
    pub fn placement(&self, s: &Subjects<'_>) -> Option<Placement> {
        let volume = match s.mount.kind {
            MountType::Volume => s.mount.source.as_deref(),
            _ => None,
        };
        self.tiers.place(&Subject {
            project: &self.project.name,
            service: &s.service.name,
            image: s.service.image.as_deref(),
            target: &s.mount.target,
            volume,
        })
    }

    /// The tier name a path lies in, by its real path.
    pub fn tier_name(&self, path: &Path) -> Option<&str> {
        self.tiers.tier_of(path).map(|t| t.name.as_str())
    }
}

impl Subjects<'_> {
    /// Whether the host path is known to be something other than a directory (a config
    /// file, a socket): such binds are left to the user.
    pub fn is_non_directory(&self) -> bool {
        self.path.is_some_and(|p| p.exists && !p.is_dir)
    }

    /// The real path, when the facts resolved one without a loop.
    pub fn real(&self) -> Option<&Path> {
        let facts = self.path?;
        if facts.problem.is_some() && !facts.exists {
            return None;
        }
        facts.real.as_deref()
    }

    /// A finding about this mount, placed at its origin.
    pub fn finding(
        &self,
        check: Check,
        severity: Severity,
        message: String,
        hint: String,
    ) -> Finding {
        Finding {
            check,
            severity,
            service: self.service.name.clone(),
            mount: self.mount.id,
            fix: None,
            place: crate::compose::origin::Place {
                file: self.mount.origin.file.clone(),
                position: self.mount.origin.position,
            },
            source: self.mount.source.clone(),
            target: Some(self.mount.target.clone()),
            message,
            hint,
        }
    }
}
