//! `tierctl verify` over several engines (`--context a --context b`, `--all-contexts`): the
//! per-engine reports grouped by host. The JSON is the single-engine contract with added fields
//! only (`host` on each container, a `hosts` list); Prometheus adds a `host` label and one
//! `tierctl_host_up` sample per host.

use std::fmt::Write as _;

use serde::Serialize;

use super::verify::{self, ContainerDto, VERSION, VerifyReport};
use crate::verify::EngineClass;

/// One engine of the fleet: its report, or why it could not be checked.
#[derive(Debug, Clone)]
pub struct HostReport {
    /// The context name (what `--context` names).
    pub host: String,
    /// The endpoint URL, when it resolved.
    pub endpoint: Option<String>,
    /// The checks, or the error that stopped them.
    pub outcome: Result<VerifyReport, HostError>,
}

/// Why one engine could not be checked.
#[derive(Debug, Clone)]
pub struct HostError {
    /// The error, naming the endpoint.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Every engine of the run, in the order asked for.
#[derive(Debug, Clone)]
pub struct FleetReport {
    /// The hosts.
    pub hosts: Vec<HostReport>,
}

impl FleetReport {
    /// Whether some engine could not be checked.
    pub fn any_unreachable(&self) -> bool {
        self.hosts.iter().any(|h| h.outcome.is_err())
    }

    /// Whether every engine was checked and every mount is `ok`.
    pub fn all_ok(&self) -> bool {
        self.hosts
            .iter()
            .all(|h| h.outcome.as_ref().is_ok_and(VerifyReport::all_ok))
    }
}

/// One block per host: a heading, then that engine's table (or its error), then a summary.
pub fn human(fleet: &FleetReport) -> String {
    let mut out = String::new();
    for (i, host) in fleet.hosts.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let at = host
            .endpoint
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        match &host.outcome {
            Ok(report) => {
                let state = if report.all_ok() { "ok" } else { "MISMATCH" };
                let _ = writeln!(out, "== host {}{at}: {state}", host.host);
                out.push_str(&verify::human(report));
            }
            Err(error) => {
                let _ = writeln!(out, "== host {}{at}: UNREACHABLE", host.host);
                let _ = writeln!(out, "error: {}", error.message);
                if let Some(hint) = &error.hint {
                    let _ = writeln!(out, "hint: {hint}");
                }
            }
        }
    }
    let count = |f: fn(&HostReport) -> bool| fleet.hosts.iter().filter(|h| f(h)).count();
    let _ = writeln!(
        out,
        "\n{} hosts: {} ok, {} with mismatches, {} unreachable",
        fleet.hosts.len(),
        count(|h| h.outcome.as_ref().is_ok_and(VerifyReport::all_ok)),
        count(|h| h.outcome.as_ref().is_ok_and(|r| !r.all_ok())),
        count(|h| h.outcome.is_err()),
    );
    out
}

/// One host in the JSON `hosts` list.
#[derive(Serialize)]
struct HostDto<'a> {
    host: &'a str,
    endpoint: Option<&'a str>,
    reachable: bool,
    engine: Option<EngineClass>,
    ok: bool,
    error: Option<&'a str>,
    hint: Option<&'a str>,
}

/// The single-engine contract plus `host` on each container and the `hosts` list.
#[derive(Serialize)]
struct FleetDto<'a> {
    version: u32,
    project: Option<&'a str>,
    engine: EngineClass,
    ok: bool,
    containers: Vec<ContainerDto<'a>>,
    notes: Vec<String>,
    hosts: Vec<HostDto<'a>>,
}

/// Pretty JSON.
pub fn json(fleet: &FleetReport) -> String {
    let reports: Vec<(&str, &VerifyReport)> = fleet
        .hosts
        .iter()
        .filter_map(|h| h.outcome.as_ref().ok().map(|r| (h.host.as_str(), r)))
        .collect();
    let engines: Vec<EngineClass> = reports.iter().map(|(_, r)| r.engine).collect();
    let dto = FleetDto {
        version: VERSION,
        project: None,
        // one class for the run when every engine has it, else `unknown`
        engine: match engines.split_first() {
            Some((first, rest)) if rest.iter().all(|e| e == first) => *first,
            _ => EngineClass::Unknown,
        },
        ok: fleet.all_ok(),
        containers: reports
            .iter()
            .flat_map(|(host, r)| {
                verify::container_dtos(r).into_iter().map(|mut c| {
                    c.host = Some(host);
                    c
                })
            })
            .collect(),
        notes: reports
            .iter()
            .flat_map(|(host, r)| r.notes.iter().map(move |n| format!("{host}: {n}")))
            .collect(),
        hosts: fleet
            .hosts
            .iter()
            .map(|h| HostDto {
                host: &h.host,
                endpoint: h.endpoint.as_deref(),
                reachable: h.outcome.is_ok(),
                engine: h.outcome.as_ref().ok().map(|r| r.engine),
                ok: h.outcome.as_ref().is_ok_and(VerifyReport::all_ok),
                error: h.outcome.as_ref().err().map(|e| e.message.as_str()),
                hint: h.outcome.as_ref().err().and_then(|e| e.hint.as_deref()),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&dto).unwrap_or_else(|e| {
        format!("{{\"version\": {VERSION}, \"error\": \"cannot render the report: {e}\"}}")
    });
    text.push('\n');
    text
}

/// Prometheus textfile metrics: the single-engine metrics with a `host` label, and
/// `tierctl_host_up` per host.
pub fn prometheus(fleet: &FleetReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP tierctl_host_up 1 when the engine of this host (docker context) was checked, 0 when it could not be reached."
    );
    let _ = writeln!(out, "# TYPE tierctl_host_up gauge");
    for h in &fleet.hosts {
        let _ = writeln!(
            out,
            "tierctl_host_up{{host=\"{}\"}} {}",
            verify::escape(&h.host),
            u8::from(h.outcome.is_ok())
        );
    }
    let reports: Vec<(Option<&str>, &VerifyReport)> = fleet
        .hosts
        .iter()
        .filter_map(|h| h.outcome.as_ref().ok().map(|r| (Some(h.host.as_str()), r)))
        .collect();
    out.push_str(&verify::prometheus_hosts(&reports));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::verify::tests::report;

    fn fleet() -> FleetReport {
        FleetReport {
            hosts: vec![
                HostReport {
                    host: "default".into(),
                    endpoint: Some("unix:///var/run/docker.sock".into()),
                    outcome: Ok(report()),
                },
                HostReport {
                    host: "nas".into(),
                    endpoint: Some("tcp://127.0.0.1:1".into()),
                    outcome: Err(HostError {
                        message: "cannot connect to the Docker engine of context `nas` at `tcp://127.0.0.1:1`: connection refused".into(),
                        hint: Some("check that the engine runs".into()),
                    }),
                },
            ],
        }
    }

    #[test]
    fn human_groups_by_host_and_reports_the_unreachable_one() {
        let text = human(&fleet());
        assert!(
            text.starts_with("== host default (unix:///var/run/docker.sock): MISMATCH\n"),
            "{text}"
        );
        assert!(
            text.contains("== host nas (tcp://127.0.0.1:1): UNREACHABLE\nerror: cannot connect")
        );
        assert!(text.contains("hint: check that the engine runs"));
        assert!(
            text.ends_with("2 hosts: 0 ok, 1 with mismatches, 1 unreachable\n"),
            "{text}"
        );
    }

    #[test]
    fn json_adds_host_fields_only() {
        let fleet = fleet();
        let value: serde_json::Value = serde_json::from_str(&json(&fleet)).expect("JSON");
        let single: serde_json::Value =
            serde_json::from_str(&verify::json(&report())).expect("JSON");
        // every key of the single-engine contract is there, with the same container objects
        // plus `host`
        for key in single.as_object().expect("object").keys() {
            assert!(value.get(key).is_some(), "{key}");
        }
        let mut container = value["containers"][0].clone();
        assert_eq!(container["host"], "default");
        container.as_object_mut().expect("object").remove("host");
        assert_eq!(container, single["containers"][0]);
        assert_eq!(value["ok"], false);
        assert_eq!(value["hosts"][1]["host"], "nas");
        assert_eq!(value["hosts"][1]["reachable"], false);
        assert!(
            value["hosts"][1]["error"]
                .as_str()
                .expect("error")
                .contains("`nas`")
        );
        assert_eq!(value["hosts"][0]["reachable"], true);
        assert!(fleet.any_unreachable());
    }

    #[test]
    fn prometheus_labels_each_sample_with_its_host() {
        let text = prometheus(&fleet());
        assert!(
            text.contains("tierctl_host_up{host=\"default\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("tierctl_host_up{host=\"nas\"} 0\n"), "{text}");
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("tierctl_mount_ok{"))
            .collect();
        assert!(!samples.is_empty());
        assert!(
            samples
                .iter()
                .all(|l| l.starts_with("tierctl_mount_ok{host=\"default\","))
        );
    }
}
