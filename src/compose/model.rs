//! The loaded compose project: services, their mounts with origins, and top-level volumes.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

use crate::compose::env::Environment;
use crate::compose::origin::Origin;

pub use crate::compose::volume_syntax::{MountType, Propagation, SelinuxLabel};

/// Whether an entry was written in short (`a:b:ro`) or long (mapping) syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Syntax {
    /// `[SOURCE:]TARGET[:MODE]`.
    Short,
    /// A mapping with `type`, `source`, `target`, ...
    Long,
}

/// One entry of a service's `volumes:`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    /// Bind, volume, tmpfs, ...
    pub kind: MountType,
    /// Short or long syntax.
    pub syntax: Syntax,
    /// The source after interpolation, as compose sees it (a path or a volume key); `None` for
    /// anonymous volumes and tmpfs.
    pub source: Option<String>,
    /// For bind mounts: the absolute host path (relative paths and `~` resolved lexically).
    pub host_path: Option<PathBuf>,
    /// The path inside the container.
    pub target: String,
    /// Read-only mount.
    pub read_only: bool,
    /// Short-syntax mode options as written (`ro`, `z`, `cached`, ...).
    pub modes: Vec<String>,
    /// Long syntax `bind.create_host_path` (compose's default is `true`).
    pub create_host_path: bool,
    /// Long syntax `volume.nocopy` or short-syntax `nocopy`.
    pub nocopy: bool,
    /// Long syntax `volume.subpath`.
    pub subpath: Option<String>,
    /// Bind propagation: long syntax `bind.propagation`, or the short syntax's mode.
    pub propagation: Option<Propagation>,
    /// SELinux relabelling: long syntax `bind.selinux`, or the short syntax's `z`/`Z` mode.
    pub selinux: Option<SelinuxLabel>,
    /// Where the source is written (the whole entry for short syntax, `source` for long).
    pub origin: Origin,
}

impl VolumeMount {
    /// The source as the user wrote it, relative paths included, for messages.
    pub fn display_source(&self) -> String {
        self.source.clone().unwrap_or_else(|| "(anonymous)".into())
    }

    /// Whether the source was written as a relative path (`./x`, `../x`, `.`).
    pub fn is_relative(&self) -> bool {
        self.kind == MountType::Bind
            && self.source.as_deref().is_some_and(|s| {
                s == "." || s == ".." || s.starts_with("./") || s.starts_with("../")
            })
    }
}

/// A service of the project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Service name.
    pub name: String,
    /// Image, after interpolation.
    pub image: Option<String>,
    /// Profiles the service belongs to.
    pub profiles: Vec<String>,
    /// Whether the service is enabled by the active profiles.
    pub enabled: bool,
    /// Volume entries in final (merged) order.
    pub mounts: Vec<VolumeMount>,
    /// `volumes_from` entries as written.
    pub volumes_from: Vec<String>,
    /// `stop_grace_period` as written (a compose duration such as `1m30s`), after interpolation.
    pub stop_grace_period: Option<String>,
    /// Where the service is defined.
    pub origin: Origin,
}

/// A top-level `volumes:` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopVolume {
    /// The key under `volumes:`.
    pub key: String,
    /// `name:` (or legacy `external: {name}`), after interpolation.
    pub name: Option<String>,
    /// Managed outside this project.
    pub external: bool,
    /// Volume driver (`local` when absent).
    pub driver: Option<String>,
    /// Driver options.
    pub driver_opts: IndexMap<String, String>,
    /// Where the entry is defined.
    pub origin: Origin,
    /// The project directory, against which a relative `device` resolves.
    pub project_dir: PathBuf,
}

impl TopVolume {
    /// The engine's name of the volume: `name:`, the external key, or `<project>_<key>`.
    pub fn effective_name(&self, project: &str) -> String {
        match (&self.name, self.external) {
            (Some(name), _) => name.clone(),
            (None, true) => self.key.clone(),
            (None, false) => format!("{project}_{}", self.key),
        }
    }

    /// Whether the local driver stores the data (no driver, or `local`).
    pub fn is_local(&self) -> bool {
        self.driver.as_deref().is_none_or(|d| d == "local")
    }

    /// The filesystem type a local volume mounts instead of storing data itself
    /// (`driver_opts: {type: nfs, ...}`, `cifs`, `tmpfs`); `None` for a plain volume or a bind
    /// in disguise (`type: none`).
    pub fn mounted_fs_type(&self) -> Option<&str> {
        let typ = self.driver_opts.get("type").map(String::as_str)?;
        (self.is_local() && !typ.is_empty() && typ != "none").then_some(typ)
    }

    /// The host directory of a local volume that is a bind in disguise
    /// (`driver_opts: {type: none, o: bind, device: /path}`).
    pub fn bind_device(&self) -> Option<PathBuf> {
        let is_bind = self.driver_opts.get("o").is_some_and(|o| {
            o.split(',')
                .any(|opt| opt.trim() == "bind" || opt.trim() == "rbind")
        });
        let typ = self.driver_opts.get("type").map(String::as_str);
        if self.is_local() && is_bind && matches!(typ, None | Some("none")) {
            let device = self.driver_opts.get("device")?;
            Some(crate::compose::load::absolute(
                &self.project_dir,
                std::path::Path::new(device),
            ))
        } else {
            None
        }
    }
}

/// A loaded compose project.
#[derive(Debug)]
pub struct ComposeProject {
    /// Project name (normalised).
    pub name: String,
    /// Project directory: relative paths resolve against it.
    pub dir: PathBuf,
    /// The compose files in load order (includes and extended files after the file that uses them).
    pub files: Vec<PathBuf>,
    /// Services in file order (all of them; see [`Service::enabled`]).
    pub services: IndexMap<String, Service>,
    /// Top-level volumes.
    pub volumes: IndexMap<String, TopVolume>,
    /// The variables interpolation used.
    pub environment: Environment,
}

impl ComposeProject {
    /// Services enabled by the active profiles.
    pub fn enabled_services(&self) -> impl Iterator<Item = &Service> {
        self.services.values().filter(|s| s.enabled)
    }

    /// The top-level volume a named-volume mount refers to.
    pub fn volume_for(&self, mount: &VolumeMount) -> Option<&TopVolume> {
        match mount.kind {
            MountType::Volume => self.volumes.get(mount.source.as_deref()?),
            _ => None,
        }
    }
}
