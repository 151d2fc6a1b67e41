//! What compose itself refuses to load although the storage can be audited: a missing
//! `env_file`, a service with neither `image` nor `build`, a network no top-level `networks:`
//! defines, a `container_name` two services share. `docker compose config` (v2) exits 1 on each,
//! for the services the active profiles enable only; tierctl keeps auditing and says so, at the
//! place in the file (`project.refusals`).
//!
//! [`find`] is pure: the merged tree, which services are enabled and whether an env file is
//! there are its inputs.

use std::fmt;

use serde::Serialize;
use serde_norway::Value;

use crate::compose::origin::{Place, Route, RouteKey};

/// A reason compose will refuse the project, at its place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Where it is written (the last compose file that writes it).
    pub place: Place,
    /// What compose refuses.
    pub problem: Problem,
}

impl Refusal {
    /// `compose.yaml:4:5: compose will refuse this project: service `a` has neither ...`
    pub fn message(&self) -> String {
        format!(
            "{}: compose will refuse this project: {}",
            self.place, self.problem
        )
    }
}

/// What compose refuses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Problem {
    /// A required `env_file` that is not there.
    MissingEnvFile {
        /// The service.
        service: String,
        /// The path as written.
        path: String,
    },
    /// A service with neither `image` nor `build`.
    NoImageOrBuild {
        /// The service.
        service: String,
    },
    /// A network the top-level `networks:` does not define.
    UndefinedNetwork {
        /// The service.
        service: String,
        /// The network.
        network: String,
    },
    /// A `container_name` an earlier service already has.
    DuplicateContainerName {
        /// The later service.
        service: String,
        /// The name.
        name: String,
        /// The service that has it first.
        first: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingEnvFile { service, path } => write!(
                f,
                "env file `{path}` of service `{service}` is not there (create it, or mark it `required: false`)"
            ),
            Problem::NoImageOrBuild { service } => write!(
                f,
                "service `{service}` has neither `image` nor `build` (add one)"
            ),
            Problem::UndefinedNetwork { service, network } => write!(
                f,
                "service `{service}` uses network `{network}`, which the top-level `networks:` does not define (define it there)"
            ),
            Problem::DuplicateContainerName {
                service,
                name,
                first,
            } => write!(
                f,
                "service `{service}` has `container_name: {name}`, which service `{first}` already has (give each its own, or drop one)"
            ),
        }
    }
}

/// Where a problem is written: the route of the value, or of the key when `at_key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The route in the merged tree.
    pub route: Route,
    /// Whether the place is the key at the end of the route rather than its value.
    pub at_key: bool,
    /// What compose refuses.
    pub problem: Problem,
}

/// Pure: what compose refuses in the merged tree `value`, for the services `enabled` says the
/// active profiles enable, in service order. `env_file_exists(service, path)` says whether a
/// service's env file (as written) is there.
pub fn find(
    value: &Value,
    enabled: &dyn Fn(&str) -> bool,
    env_file_exists: &dyn Fn(&str, &str) -> bool,
) -> Vec<Found> {
    let Some(services) = value.get("services").and_then(Value::as_mapping) else {
        return Vec::new();
    };
    let networks: Vec<&str> = value
        .get("networks")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut found = Vec::new();
    let mut names: Vec<(&str, &str)> = Vec::new();
    for (key, def) in services {
        let Some(service) = key.as_str().filter(|s| enabled(s)) else {
            continue;
        };
        let route = Route::new([RouteKey::from("services"), RouteKey::from(service)]);
        found.extend(missing_env_files(service, def, &route, env_file_exists));
        if def.get("image").is_none() && def.get("build").is_none() {
            found.push(Found {
                route: route.clone(),
                at_key: true,
                problem: Problem::NoImageOrBuild {
                    service: service.to_owned(),
                },
            });
        }
        found.extend(undefined_networks(service, def, &route, &networks));
        if let Some(name) = def.get("container_name").and_then(Value::as_str) {
            match names.iter().find(|(n, _)| *n == name) {
                Some((_, first)) => found.push(Found {
                    route: route.with("container_name"),
                    at_key: false,
                    problem: Problem::DuplicateContainerName {
                        service: service.to_owned(),
                        name: name.to_owned(),
                        first: (*first).to_owned(),
                    },
                }),
                None => names.push((name, service)),
            }
        }
    }
    found
}

/// The required env files of `def` that are not there: `env_file` as a string, a list of
/// strings, or a list of `{path, required}` mappings (`required` defaults to true).
fn missing_env_files(
    service: &str,
    def: &Value,
    route: &Route,
    exists: &dyn Fn(&str, &str) -> bool,
) -> Vec<Found> {
    let route = route.with("env_file");
    let entries: Vec<(Route, &str)> = match def.get("env_file") {
        Some(Value::String(path)) => vec![(route, path.as_str())],
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Value::String(path) => Some((route.with(i), path.as_str())),
                Value::Mapping(_) => {
                    let required = !matches!(item.get("required"), Some(Value::Bool(false)))
                        && item.get("required").and_then(Value::as_str) != Some("false");
                    let path = item.get("path").and_then(Value::as_str)?;
                    required.then(|| (route.with(i).with("path"), path))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    entries
        .into_iter()
        .filter(|(_, path)| !exists(service, path))
        .map(|(route, path)| Found {
            route,
            at_key: false,
            problem: Problem::MissingEnvFile {
                service: service.to_owned(),
                path: path.to_owned(),
            },
        })
        .collect()
}

/// The networks `def` uses (`networks:` as a list or a mapping) that `defined` lacks;
/// `default` is always defined.
fn undefined_networks(service: &str, def: &Value, route: &Route, defined: &[&str]) -> Vec<Found> {
    let route = route.with("networks");
    let used: Vec<(Route, bool, &str)> = match def.get("networks") {
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((route.with(i), false, v.as_str()?)))
            .collect(),
        Some(Value::Mapping(map)) => map
            .keys()
            .filter_map(Value::as_str)
            .map(|k| (route.with(k), true, k))
            .collect(),
        _ => Vec::new(),
    };
    used.into_iter()
        .filter(|(_, _, name)| *name != "default" && !defined.contains(name))
        .map(|(route, at_key, name)| Found {
            route,
            at_key,
            problem: Problem::UndefinedNetwork {
                service: service.to_owned(),
                network: name.to_owned(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str, present: &[&str]) -> Vec<(String, Problem)> {
        let value: Value = serde_norway::from_str(yaml).expect("yaml");
        let enabled = |s: &str| s != "off";
        let exists = |_: &str, p: &str| present.contains(&p);
        find(&value, &enabled, &exists)
            .into_iter()
            .map(|f| (f.route.to_string(), f.problem))
            .collect()
    }

    #[test]
    fn issue26_row13_each_refusal_is_found_at_its_route() {
        let yaml = "services:\n  a:\n    image: x\n    env_file: [there.env, gone.env, {path: opt.env, required: false}, {path: req.env}]\n    networks: [default, front, back]\n    container_name: same\n  b:\n    command: x\n    networks: { front: {}, side: {} }\n    container_name: same\n  off:\n    env_file: gone.env\n    networks: [nowhere]\nnetworks:\n  front:\n";
        let got = problems(yaml, &["there.env"]);
        let service = |s: &str| s.to_owned();
        assert_eq!(
            got,
            [
                (
                    "services.a.env_file[1]".to_owned(),
                    Problem::MissingEnvFile {
                        service: service("a"),
                        path: "gone.env".into()
                    }
                ),
                (
                    "services.a.env_file[3].path".to_owned(),
                    Problem::MissingEnvFile {
                        service: service("a"),
                        path: "req.env".into()
                    }
                ),
                (
                    "services.a.networks[2]".to_owned(),
                    Problem::UndefinedNetwork {
                        service: service("a"),
                        network: "back".into()
                    }
                ),
                (
                    "services.b".to_owned(),
                    Problem::NoImageOrBuild {
                        service: service("b")
                    }
                ),
                (
                    "services.b.networks.side".to_owned(),
                    Problem::UndefinedNetwork {
                        service: service("b"),
                        network: "side".into()
                    }
                ),
                (
                    "services.b.container_name".to_owned(),
                    Problem::DuplicateContainerName {
                        service: service("b"),
                        name: "same".into(),
                        first: service("a")
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_project_compose_loads_has_no_refusal() {
        let yaml = "services:\n  a:\n    build: .\n    env_file: there.env\n    networks: [front]\n  b:\n    image: x\nnetworks:\n  front:\n";
        assert!(problems(yaml, &["there.env"]).is_empty());
    }
}
