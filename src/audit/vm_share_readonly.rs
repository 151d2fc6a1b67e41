//! `vm-share-readonly`: the VM shares the bind source read-only, but the mount is writable. The
//! service fails on its first write (Colima shares only `:w` mounts writable; `:rw` is not).

use super::{Check, Finding, Severity, Subjects};
use crate::share::{Coverage, VmView};

pub(super) fn check(view: &VmView, s: &Subjects<'_>) -> Option<Finding> {
    if s.mount.read_only {
        return None;
    }
    let real = s.real()?;
    let engine = view.vm_engine()?;
    let Coverage::Shared { share, .. } = view.coverage(real) else {
        return None;
    };
    if share.writable {
        return None;
    }
    Some(s.finding(
        Check::VmShareReadonly,
        Severity::Error,
        format!(
            "{}: the {engine} VM shares {} read-only (share `{}`); the service cannot write its data",
            s.service.name,
            real.display(),
            share.host.display()
        ),
        "make the share writable (colima: `--mount PATH:w`, only `:w` is writable), or mount it `:ro` if the service only reads; `tierctl vm` prints the exact command".into(),
    ))
}
