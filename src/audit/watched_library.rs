//! `watched-library-on-vm-share`: a service that watches its library for changes (inotify)
//! with that library on a VM share that does not carry the host's file events into the VM.
//!
//! Which shares carry no host events: what `vm --probe` measured on the share (a file the
//! host writes raises no inotify event in a helper container) where it ran; otherwise, as each
//! engine documents or its users found:
//! * virtiofs: a change made on the host reaches the guest as no inotify event
//!   (crc-org/vfkit#126: Podman machine's applehv; lima#615: Lima and so Colima);
//! * sshfs / reverse-sshfs and 9p: the guest's kernel sees only its own writes; Lima's and
//!   Colima's `mountInotify` (`--mount-inotify`) forwards only attribute changes (colima#261);
//! * Docker Desktop and OrbStack forward host file events to containers themselves, so their
//!   shares are judged only by a measurement.

use super::{Check, Finding, Severity, Subjects};
use crate::database::image_path;
use crate::share::{Coverage, VmEngine, VmView};

/// One kind of service that watches its files.
struct Watcher {
    /// What it is called in messages.
    name: &'static str,
    /// Parts of the image name (last path part, no tag) that identify it.
    images: &'static [&'static str],
    /// Whether a mount target holds what it watches.
    watches: fn(&str) -> bool,
    /// What stops working.
    stops: &'static str,
    /// The workaround.
    workaround: &'static str,
}

/// Whether `target` is `dir` or under it (component-wise).
fn under(target: &str, dir: &str) -> bool {
    std::path::Path::new(target).starts_with(dir)
}

/// Everything but its own config and cache: the media libraries.
fn media_library(target: &str) -> bool {
    !["/config", "/cache", "/transcode"]
        .iter()
        .any(|d| under(target, d))
}

const WATCHERS: [Watcher; 7] = [
    Watcher {
        name: "Plex",
        images: &["plex", "pms-docker"],
        watches: media_library,
        stops: "Plex's \"Scan my library automatically\" gets no event for media added or changed on the host, so it does not appear",
        workaround: "turn on Settings > Library > \"Scan my library periodically\", or let Sonarr/Radarr notify Plex after each import (Settings > Connect)",
    },
    Watcher {
        name: "Jellyfin",
        images: &["jellyfin"],
        watches: media_library,
        stops: "the library's real-time monitoring gets no event for media added or changed on the host, so it does not appear",
        workaround: "give the \"Scan Media Library\" scheduled task an interval (Dashboard > Scheduled Tasks), or let Sonarr/Radarr notify Jellyfin after each import",
    },
    Watcher {
        name: "Emby",
        images: &["emby", "embyserver"],
        watches: media_library,
        stops: "the library's real-time monitoring gets no event for media added or changed on the host, so it does not appear",
        workaround: "give the \"Scan media library\" scheduled task an interval (Settings > Scheduled Tasks)",
    },
    Watcher {
        name: "Immich",
        images: &["immich-server"],
        watches: |t| !under(t, "/usr/src/app/upload") && !under(t, "/data"),
        stops: "with library watching on (an external library), photos added on the host are not imported",
        workaround: "let the periodic external library scan find them (Administration > Settings > External Library > scan schedule)",
    },
    Watcher {
        name: "Paperless",
        images: &["paperless-ngx", "paperless"],
        watches: |t| under(t, "/usr/src/paperless/consume"),
        stops: "the consumer waits for inotify events, so documents dropped into the consume folder on the host are never picked up",
        workaround: "set `PAPERLESS_CONSUMER_POLLING` to a number of seconds (10, say) on the service (nothing to do when it is set already)",
    },
    Watcher {
        name: "Syncthing",
        images: &["syncthing"],
        watches: |t| !under(t, "/var/syncthing/config") && !under(t, "/config"),
        stops: "the folder watcher gets no event for changes made on the host, so they sync only at the next full rescan (an hour by default)",
        workaround: "lower the folder's \"Full Rescan Interval\" (Edit Folder > Advanced)",
    },
    Watcher {
        name: "Nextcloud",
        images: &["nextcloud"],
        watches: |t| !under(t, "/var/www/html"),
        stops: "files changed on the host in this external storage reach Nextcloud only when it scans it (the files_inotify app gets no event)",
        workaround: "schedule `occ files:scan --all` (cron), or set the external storage's \"Check for changes\" to \"Once every direct access\"",
    },
];

/// The share mount types that carry no host file event into a Lima, Colima, Rancher Desktop
/// or Podman VM (see the module comment).
const NO_HOST_EVENTS: [&str; 4] = ["virtiofs", "sshfs", "reverse-sshfs", "9p"];

/// The engines whose shares are judged by their mount type (the others forward events).
fn judged(engine: VmEngine) -> bool {
    matches!(
        engine,
        VmEngine::Colima | VmEngine::Lima | VmEngine::RancherDesktop | VmEngine::Podman
    )
}

pub(super) fn check(view: &VmView, s: &Subjects<'_>) -> Option<Finding> {
    let image = image_path(s.service.image.as_deref()?);
    let watcher = WATCHERS
        .iter()
        .find(|w| w.images.iter().any(|i| image.contains(i)))?;
    if !(watcher.watches)(&s.mount.target) || s.is_non_directory() {
        return None;
    }
    let real = s.real()?;
    let engine = view.vm_engine()?;
    let Coverage::Shared { share, .. } = view.coverage(real) else {
        return None;
    };
    let kind = share
        .mount_type
        .as_deref()
        .map_or("a".to_owned(), |t| format!("the {t}"));
    // what `vm --probe` measured wins over what the engine documents
    let why = match s.facts.measured(&share.host).and_then(|k| k.host_inotify) {
        Some(true) => return None,
        Some(false) => format!(
            "{kind} share of the {engine} VM carries no file event from the host (measured by `vm --probe`)"
        ),
        None => {
            let mount_type = share.mount_type.as_deref()?;
            if !judged(engine) || !NO_HOST_EVENTS.contains(&mount_type) {
                return None;
            }
            format!("{kind} share of the {engine} VM carries no file event from the host")
        }
    };
    Some(s.finding(
        Check::WatchedLibraryOnVmShare,
        Severity::Warning,
        format!(
            "{}: {} watches {} for changes, but {why}: {}",
            s.service.name,
            watcher.name,
            real.display(),
            watcher.stops
        ),
        watcher.workaround.to_owned(),
    ))
}
