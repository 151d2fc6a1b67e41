//! `named-volume`: data in an engine-managed named volume lives inside the engine's storage
//! (on macOS: the VM's disk), on no tier. External volumes, non-local drivers and anonymous
//! volumes are reported as info and left alone.

use super::{Check, Context, Finding, Severity, Subjects};
use crate::compose::model::MountType;

pub(super) fn check(ctx: &Context<'_>, s: &Subjects<'_>) -> Option<Finding> {
    if s.mount.kind != MountType::Volume {
        return None;
    }
    let service = &s.service.name;
    let Some(key) = s.mount.source.as_deref() else {
        let message = format!(
            "{service}: anonymous volume at {} is recreated with the container; left alone",
            s.mount.target
        );
        let hint = "name the volume or bind a tier directory if its data must survive".to_owned();
        return Some(s.finding(Check::NamedVolume, Severity::Info, message, hint));
    };
    let project = &ctx.project.name;
    let Some(volume) = ctx.project.volume_for(s.mount) else {
        let message =
            format!("{service}: volume `{key}` is not declared under top-level `volumes:`");
        let hint = format!("add `{key}:` under the top-level `volumes:` key");
        return Some(s.finding(Check::NamedVolume, Severity::Error, message, hint));
    };
    if volume.bind_device().is_some() {
        return None;
    }
    let name = volume.effective_name(project);
    if volume.external {
        let message = format!(
            "{service}: external volume `{name}` is managed outside this project; left alone"
        );
        let hint = "migrate it from the project that owns it".to_owned();
        return Some(s.finding(Check::NamedVolume, Severity::Info, message, hint));
    }
    if !volume.is_local() {
        let driver = volume.driver.as_deref().unwrap_or("local");
        let message = format!(
            "{service}: volume `{name}` uses the `{driver}` driver, stored elsewhere; left alone"
        );
        let hint = "its storage is managed by the driver, not by a tier".to_owned();
        return Some(s.finding(Check::NamedVolume, Severity::Info, message, hint));
    }
    if let Some(fs_type) = volume.mounted_fs_type() {
        let message = format!(
            "{service}: volume `{name}` mounts a `{fs_type}` filesystem through the local driver; left alone"
        );
        let hint =
            "its data lives where that filesystem lives, not in the engine's storage".to_owned();
        return Some(s.finding(Check::NamedVolume, Severity::Info, message, hint));
    }
    let message =
        format!("{service}: {key} (volume `{name}`) lives in the engine's storage, not on a tier");
    let hint = match ctx.placement(s) {
        Some(p) => format!(
            "move it to {} ({} tier) with `tierctl migrate`",
            p.path.display(),
            p.tier
        ),
        None => "bind a tier directory instead".to_owned(),
    };
    Some(s.finding(Check::NamedVolume, Severity::Warning, message, hint))
}
