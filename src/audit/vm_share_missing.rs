//! `vm-share-missing`: the engine runs in a VM that does not share the bind source (after
//! symlink resolution) at the same path. The container starts without an error and sees an
//! empty directory on the VM's own disk.

use super::{Check, Finding, Severity, Subjects};
use crate::share::{Coverage, VmView};

pub(super) fn check(view: &VmView, s: &Subjects<'_>) -> Option<Finding> {
    let real = s.real()?;
    let engine = view.vm_engine()?;
    let message = match view.coverage(real) {
        Coverage::NotShared => format!(
            "{}: {} is not shared with the {engine} VM; the container will see an empty directory on the VM's disk",
            s.service.name,
            real.display()
        ),
        Coverage::Shared { vm_path, .. } if vm_path != real => format!(
            "{}: the {engine} VM shares {} at {}, not at the same path; the bind will not find it",
            s.service.name,
            real.display(),
            vm_path.display()
        ),
        _ => return None,
    };
    Some(s.finding(
        Check::VmShareMissing,
        Severity::Error,
        message,
        "share the directory with the VM at the same path; `tierctl vm` prints the exact command"
            .into(),
    ))
}
