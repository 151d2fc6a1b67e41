//! The merged project's services and top-level volumes, each at its origin.

use std::path::Path;

use indexmap::IndexMap;
use serde_norway::Value;

use crate::compose::model::{Deploy, Service, TopVolume, VolumeMount};
use crate::compose::origin::{Origin, Reach, Route};

use super::scalar::{scalar_text, string_list};

/// The merged project's services with their mounts, each at its origin (the first compose
/// file when none is known).
pub(super) fn services(
    mounts: IndexMap<String, Vec<VolumeMount>>,
    origins: &IndexMap<String, Origin>,
    value: &Value,
    profiles: &[String],
    first_file: &Path,
) -> IndexMap<String, Service> {
    let mut services = IndexMap::new();
    for (svc_name, mounts) in mounts {
        let origin = origins
            .get(&svc_name)
            .cloned()
            .unwrap_or_else(|| bare_origin(first_file));
        let def = &value["services"][svc_name.as_str()];
        let service = service_of(svc_name.clone(), def, mounts, profiles, origin);
        services.insert(svc_name, service);
    }
    services
}

/// The merged project's top-level volumes, each at its origin (the first compose file when
/// none is known).
pub(super) fn volumes(
    value: &Value,
    origins: &IndexMap<String, Origin>,
    first_file: &Path,
    project_dir: &Path,
) -> IndexMap<String, TopVolume> {
    let mut volumes = IndexMap::new();
    if let Value::Mapping(map) = &value["volumes"] {
        for (key, def) in map {
            let Some(key) = key.as_str() else { continue };
            let origin = origins
                .get(key)
                .cloned()
                .unwrap_or_else(|| bare_origin(first_file));
            volumes.insert(key.to_owned(), top_volume(key, def, origin, project_dir));
        }
    }
    volumes
}

/// The service `name` of the merged definition `def`, enabled when one of the active
/// `profiles` names it (or it has none).
pub(super) fn service_of(
    name: String,
    def: &Value,
    mounts: Vec<VolumeMount>,
    profiles: &[String],
    origin: Origin,
) -> Service {
    let svc_profiles = string_list(&def["profiles"]);
    let enabled = svc_profiles.is_empty()
        || profiles
            .iter()
            .any(|p| p == "*" || svc_profiles.contains(p));
    Service {
        name,
        image: def["image"].as_str().map(str::to_owned),
        profiles: svc_profiles,
        enabled,
        mounts,
        volumes_from: string_list(&def["volumes_from"]),
        stop_grace_period: match &def["stop_grace_period"] {
            Value::String(text) => Some(text.clone()),
            Value::Number(n) => Some(format!("{n}s")),
            _ => None,
        },
        needs: needs(def),
        deploy: deploy(&def["deploy"]),
        origin,
    }
}

/// `deploy:` as `docker stack deploy` reads it: `mode` (`global` or replicated), `replicas`,
/// `placement.constraints`.
pub(super) fn deploy(def: &Value) -> Deploy {
    Deploy {
        global: def["mode"].as_str() == Some("global"),
        replicas: match &def["replicas"] {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        },
        constraints: string_list(&def["placement"]["constraints"]),
    }
}

/// The services `def` needs running first: `depends_on` (a list, or a map by service),
/// `links` (`service[:alias]`) and `volumes_from` (`service[:ro|rw]`, not `container:…`).
pub(super) fn needs(def: &Value) -> Vec<String> {
    let mut out: Vec<String> = match &def["depends_on"] {
        Value::Mapping(map) => map
            .keys()
            .filter_map(|k| k.as_str())
            .map(str::to_owned)
            .collect(),
        other => string_list(other),
    };
    let named = |entry: &String| entry.split(':').next().unwrap_or_default().to_owned();
    out.extend(string_list(&def["links"]).iter().map(named));
    out.extend(
        string_list(&def["volumes_from"])
            .iter()
            .filter(|e| !e.starts_with("container:"))
            .map(named),
    );
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

pub(super) fn top_volume(key: &str, def: &Value, origin: Origin, project_dir: &Path) -> TopVolume {
    let external = match &def["external"] {
        Value::Bool(b) => *b,
        Value::String(s) => s == "true",
        Value::Mapping(_) => true,
        _ => false,
    };
    let name = def["name"]
        .as_str()
        .or_else(|| def["external"]["name"].as_str())
        .map(str::to_owned);
    let driver_opts = match &def["driver_opts"] {
        Value::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), scalar_text(v))))
            .collect(),
        _ => IndexMap::new(),
    };
    TopVolume {
        key: key.to_owned(),
        name,
        external,
        driver: def["driver"].as_str().map(str::to_owned),
        driver_opts,
        origin,
        project_dir: project_dir.to_path_buf(),
    }
}

pub(super) fn bare_origin(file: &Path) -> Origin {
    Origin {
        file: file.to_path_buf(),
        route: Route::default(),
        position: None,
        text: String::new(),
        reach: Reach::Direct,
        variables: Vec::new(),
    }
}
