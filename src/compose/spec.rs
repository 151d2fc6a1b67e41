//! Checks the merged model against the compose specification where tierctl depends on it:
//! the allowed keys (a typo such as `volume:` would silently hide mounts) and the shape of the
//! fields tierctl reads, through the typed model of `docker-compose-types`.

use serde_norway::{Mapping, Value};

use crate::compose::origin::{Route, RouteKey};

/// Top-level keys of the compose specification.
const TOP_KEYS: &[&str] = &[
    "configs", "include", "models", "name", "networks", "secrets", "services", "version", "volumes",
];

/// Service keys of the compose specification (schema `definitions.service.properties`).
const SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "pull_refresh_after",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// Keys of a top-level volume.
const VOLUME_KEYS: &[&str] = &["driver", "driver_opts", "external", "labels", "name"];

/// Service fields tierctl reads whose shape is checked with the typed model (`volumes` has its
/// own, stricter parser in `volume_syntax`).
const READ_SERVICE_KEYS: [&str; 4] = ["image", "volumes_from", "profiles", "container_name"];

/// A place in the merged model that breaks the specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where, as a route (located in the files by the caller).
    pub route: Route,
    /// What is wrong.
    pub message: String,
    /// Whether the route names a key that should not be there (so the key is the place).
    pub at_key: bool,
}

/// The first violation in `value` (the merged, interpolated model), if any.
pub fn check(value: &Value) -> Option<Violation> {
    let top = value.as_mapping()?;
    if let Some(v) = unknown_key(top, TOP_KEYS, &Route::default(), "at the top level") {
        return Some(v);
    }
    if let Some(Value::Mapping(services)) = top.get("services") {
        for (name, def) in services {
            let name = name.as_str().unwrap_or_default();
            let route = Route::new([RouteKey::from("services"), RouteKey::from(name)]);
            match def {
                Value::Mapping(def) => {
                    let what = format!("in service `{name}`");
                    if let Some(v) = unknown_key(def, SERVICE_KEYS, &route, &what) {
                        return Some(v);
                    }
                }
                Value::Null => {}
                _ => {
                    return Some(Violation {
                        route,
                        message: format!("service `{name}` must be a mapping"),
                        at_key: false,
                    });
                }
            }
        }
    }
    if let Some(Value::Mapping(volumes)) = top.get("volumes") {
        for (key, def) in volumes {
            let key = key.as_str().unwrap_or_default();
            if let Value::Mapping(def) = def {
                let route = Route::new([RouteKey::from("volumes"), RouteKey::from(key)]);
                let what = format!("in volume `{key}`");
                if let Some(v) = unknown_key(def, VOLUME_KEYS, &route, &what) {
                    return Some(v);
                }
            }
        }
    }
    typed(value)
}

fn unknown_key(map: &Mapping, allowed: &[&str], route: &Route, what: &str) -> Option<Violation> {
    map.keys().find_map(|k| {
        let key = k.as_str()?;
        if key.starts_with("x-") || allowed.contains(&key) {
            return None;
        }
        let suggestion = allowed
            .iter()
            .filter(|a| distance(a, key) <= 2)
            .min_by_key(|a| distance(a, key))
            .map(|a| format!(" (did you mean `{a}`?)"))
            .unwrap_or_default();
        Some(Violation {
            route: route.with(key),
            message: format!("unknown key `{key}` {what}{suggestion}"),
            at_key: true,
        })
    })
}

/// The fields tierctl reads, checked with `docker-compose-types`.
fn typed(value: &Value) -> Option<Violation> {
    let mut pruned = Mapping::new();
    for key in ["name", "volumes"] {
        if let Some(v) = value.get(key) {
            pruned.insert(Value::String(key.into()), v.clone());
        }
    }
    if let Some(Value::Mapping(services)) = value.get("services") {
        let mut out = Mapping::new();
        for (name, def) in services {
            let mut kept = Mapping::new();
            if let Value::Mapping(def) = def {
                for key in READ_SERVICE_KEYS {
                    if let Some(v) = def.get(key) {
                        kept.insert(Value::String(key.into()), v.clone());
                    }
                }
            }
            out.insert(name.clone(), Value::Mapping(kept));
        }
        pruned.insert(Value::String("services".into()), Value::Mapping(out));
    }
    let result: Result<docker_compose_types::Compose, _> =
        serde_path_to_error::deserialize(Value::Mapping(pruned));
    let err = result.err()?;
    let route = Route::new(err.path().iter().filter_map(|seg| {
        use serde_path_to_error::Segment;
        match seg {
            Segment::Seq { index } => Some(RouteKey::Index(*index)),
            Segment::Map { key } => Some(RouteKey::Key(key.clone())),
            Segment::Enum { .. } | Segment::Unknown => None,
        }
    }));
    Some(Violation {
        message: format!("`{route}`: {}", err.inner()),
        route,
        at_key: false,
    })
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(text: &str) -> Option<Violation> {
        check(&serde_norway::from_str(text).expect("yaml"))
    }

    #[test]
    fn a_typo_in_a_service_key_is_named_with_a_suggestion() {
        let v = violation("services:\n  web:\n    image: x\n    volume: ['/a:/a']\n")
            .expect("violation");
        assert_eq!(v.route.to_string(), "services.web.volume");
        assert_eq!(
            v.message,
            "unknown key `volume` in service `web` (did you mean `volumes`?)"
        );
    }

    #[test]
    fn extension_keys_are_allowed_everywhere() {
        assert_eq!(
            violation("x-a: 1\nservices:\n  web: {image: x, x-b: 2}\nvolumes:\n  v: {x-c: 3}\n"),
            None
        );
    }

    #[test]
    fn unknown_top_level_and_volume_keys() {
        assert!(
            violation("servces: {}\n")
                .expect("v")
                .message
                .contains("did you mean `services`")
        );
        let v = violation("volumes:\n  v: {drvier: local}\n").expect("v");
        assert_eq!(v.route.to_string(), "volumes.v.drvier");
    }

    #[test]
    fn the_shape_of_read_fields_is_checked() {
        let v = violation("services:\n  web:\n    image: [x]\n").expect("violation");
        assert_eq!(v.route.to_string(), "services.web.image");
    }

    #[test]
    fn fields_tierctl_does_not_read_are_not_typed() {
        assert_eq!(
            violation(
                "services:\n  web:\n    image: x\n    env_file: [{path: .env, required: false}]\n"
            ),
            None
        );
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("volumes", "volume"), 1);
        assert_eq!(distance("services", "servces"), 1);
        assert_eq!(distance("", "ab"), 2);
    }
}
