//! The loaded compose project: services, their mounts with origins, and top-level volumes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compose::env::ComposeEnv;
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

/// The identity of one mount for the life of a run: the loader numbers the mounts of all
/// services (enabled or not) in (service, mount) load order. Findings, fixes, plan steps and
/// edits name a mount by it; nothing re-joins mounts on (service, target) or (file, route).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct MountId(pub u32);

impl fmt::Display for MountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mount#{}", self.0)
    }
}

/// One entry of a service's `volumes:`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeMount {
    /// Its identity, assigned once the project is merged (see [`MountId`]).
    pub id: MountId,
    /// Bind, volume, tmpfs, ...
    pub kind: MountType,
    /// Short or long syntax.
    pub syntax: Syntax,
    /// The source after interpolation, as compose sees it (a path or a volume key); `None` for
    /// anonymous volumes and tmpfs.
    pub source: Option<String>,
    /// For bind mounts: the absolute host path (relative paths and `~` resolved lexically).
    pub host_path: Option<PathBuf>,
    /// The path inside the container, cleaned as compose prints it (`/app/data/` is `/app/data`).
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
    /// The services this one needs running first, as compose orders its start and stop:
    /// `depends_on` (list or map), `links` and `volumes_from` naming a service.
    pub needs: Vec<String>,
    /// `deploy:` as `docker stack deploy` reads it (placement, mode, replicas).
    pub deploy: Deploy,
    /// Where the service is defined.
    pub origin: Origin,
}

/// The part of a service's `deploy:` that decides where Swarm runs its tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Deploy {
    /// `deploy.mode`: `global` runs one task on every eligible node.
    pub global: bool,
    /// `deploy.replicas` (1 when absent, as Swarm does).
    pub replicas: Option<u64>,
    /// `deploy.placement.constraints`, as written (after interpolation).
    pub constraints: Vec<String>,
}

impl Deploy {
    /// Whether more than one task may run at once (`mode: global`, or `replicas > 1`).
    pub fn several_tasks(&self) -> bool {
        self.global || self.replicas.unwrap_or(1) > 1
    }
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
            Some(crate::compose::path::absolute(
                &self.project_dir,
                std::path::Path::new(device),
            ))
        } else {
            None
        }
    }
}

/// A file the loader read (a compose file or an env file), kept with the project so nothing
/// reads or parses it a second time.
#[derive(Clone)]
pub struct LoadedFile {
    /// The text as read (shared with the loader's parse of it: a big file is held once).
    pub text: std::sync::Arc<str>,
    /// SHA-256 of the text: `rewrite` writes only when the file on disk still has it.
    pub hash: [u8; 32],
    /// For a compose file: the YAML tree as parsed (anchors resolved, merge keys and tags as
    /// written); `None` for an env file.
    pub tree: Option<serde_norway::Value>,
    /// For a compose file: the queryable document (yamlpath), parsed on first use (see
    /// [`LoadedFile::doc`]).
    pub doc: OnceLock<Option<yamlpath::Document>>,
}

impl LoadedFile {
    /// An env file (no YAML tree).
    pub fn env(text: std::sync::Arc<str>) -> LoadedFile {
        LoadedFile {
            hash: Sha256::digest(text.as_bytes()).into(),
            text,
            tree: None,
            doc: OnceLock::new(),
        }
    }

    /// A compose file whose text parsed to `tree`; `doc` when the loader parsed it already.
    pub fn compose(
        text: std::sync::Arc<str>,
        tree: serde_norway::Value,
        doc: Option<yamlpath::Document>,
    ) -> Self {
        let parsed = OnceLock::new();
        if let Some(doc) = doc {
            let _ = parsed.set(Some(doc));
        }
        LoadedFile {
            tree: Some(tree),
            doc: parsed,
            ..LoadedFile::env(text)
        }
    }

    /// For a compose file: the queryable document (yamlpath), when tree-sitter accepts the
    /// text; parsed on first use (an audit whose routes the loader's index answers never
    /// needs it). `None` for an env file.
    pub fn doc(&self) -> Option<&yamlpath::Document> {
        self.tree.as_ref()?;
        self.doc
            .get_or_init(|| yamlpath::Document::new(self.text.to_string()).ok())
            .as_ref()
    }
}

impl fmt::Debug for LoadedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedFile")
            .field("bytes", &self.text.len())
            .field("yaml", &self.tree.is_some())
            .finish_non_exhaustive()
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
    /// The compose files the project was given (`-f`, `COMPOSE_FILE`, or the default file and
    /// its override), in order: `files` without the files they include or extend.
    pub given: Vec<PathBuf>,
    /// Services in file order (all of them; see [`Service::enabled`]).
    pub services: IndexMap<String, Service>,
    /// Top-level volumes.
    pub volumes: IndexMap<String, TopVolume>,
    /// The variables interpolation used.
    pub environment: ComposeEnv,
    /// Every file the loader read (compose files, env files), by absolute path.
    pub texts: BTreeMap<PathBuf, LoadedFile>,
    /// Variables interpolated as a blank string because they are not set, in the order first
    /// used (compose warns about each).
    pub unset_variables: Vec<crate::compose::unset::UnsetVariable>,
    /// Why compose itself will refuse the project (a missing `env_file`, no `image` nor
    /// `build`, an undefined network, a duplicate `container_name`), each at its place.
    pub refusals: Vec<crate::compose::refusal::Refusal>,
}

impl ComposeProject {
    /// Services enabled by the active profiles.
    pub fn enabled_services(&self) -> impl Iterator<Item = &Service> {
        self.services.values().filter(|s| s.enabled)
    }

    /// Every mount of every service (enabled or not), in [`MountId`] order.
    pub fn mounts(&self) -> impl Iterator<Item = (&Service, &VolumeMount)> {
        self.services
            .values()
            .flat_map(|s| s.mounts.iter().map(move |m| (s, m)))
    }

    /// The mount with identity `id` and its service.
    ///
    /// The loader numbers mounts in (service, mount) order, so a binary search over the
    /// services' first ids finds it in O(log services); a project whose ids were set by hand
    /// out of that order is searched linearly.
    pub fn mount(&self, id: MountId) -> Option<(&Service, &VolumeMount)> {
        self.mount_by_order(id)
            .or_else(|| self.mounts().find(|(_, m)| m.id == id))
    }

    fn mount_by_order(&self, id: MountId) -> Option<(&Service, &VolumeMount)> {
        // The first id of service `i` or of the next service that has a mount.
        let first_id = |i: usize| {
            (i..self.services.len())
                .find_map(|j| self.services.get_index(j)?.1.mounts.first())
                .map(|m| m.id)
        };
        // The number of services whose first id is at most `id` (a binary search).
        let (mut low, mut high) = (0, self.services.len());
        while low < high {
            let mid = low + (high - low) / 2;
            if first_id(mid).is_some_and(|first| first <= id) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let after = low;
        let (_, service) = self.services.get_index(after.checked_sub(1)?)?;
        let first = service.mounts.first()?.id;
        let mount = service
            .mounts
            .get(usize::try_from(id.0.checked_sub(first.0)?).ok()?)?;
        (mount.id == id).then_some((service, mount))
    }

    /// Numbers every mount in (service, mount) order: the loader calls it once the project is
    /// merged.
    pub fn assign_mount_ids(&mut self) {
        let mut next = 0u32;
        for service in self.services.values_mut() {
            for mount in &mut service.mounts {
                mount.id = MountId(next);
                next += 1;
            }
        }
    }

    /// The text of a file the loader read.
    pub fn text(&self, path: &std::path::Path) -> Option<&str> {
        self.texts.get(path).map(|f| &*f.text)
    }

    /// The top-level volume a named-volume mount refers to.
    pub fn volume_for(&self, mount: &VolumeMount) -> Option<&TopVolume> {
        match mount.kind {
            MountType::Volume => self.volumes.get(mount.source.as_deref()?),
            _ => None,
        }
    }
}

/// Where a mount's data is, as a helper container mounts it: a named volume or a host
/// directory (the engine's `HelperSpec` mounts it; the migrate plan and journal name it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "kebab-case")]
pub enum MountSource {
    /// A named volume (it must exist: mounting a missing name would create it).
    Volume(String),
    /// A host directory (the engine refuses a missing one; it is never created).
    Bind(PathBuf),
}
