//! `tierctl verify`.

use std::io::Write;

use super::connect::{endpoint_input, resolve_endpoint};
use super::emit;
use crate::cli::{GlobalArgs, VerifyArgs};
use crate::engine::Engine;
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint::{self, Endpoint};
use crate::engine::host_fs;
use crate::engine::probe as bind_probe;
use crate::error::{Error, exit};
use crate::report::reports::{ContainerResult, MountResult, VerifyReport};
use crate::report::{Format, Report};
use crate::settings::{Environment, Settings};
use crate::vm::DiskConfig;

/// `tierctl verify`.
pub(super) fn verify(
    settings: &Settings,
    global: &GlobalArgs,
    args: &VerifyArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    use crate::engine::observe::{ObserveOptions, VerifyError};

    if settings.offline {
        return Err(VerifyError::Offline.into());
    }
    let fleet = args.all_contexts || global.contexts.len() > 1;
    // The compose project decides the containers by default; with --all, names or several
    // engines it is only used for the cross-check, when one loads.
    let explicit = args.all || !args.containers.is_empty() || fleet;
    let project = match super::load_project(settings) {
        Ok(project) => Some(project),
        Err(_) if explicit => None,
        Err(e) => return Err(e),
    };
    let selection = selection(args, global, fleet, project.as_ref());
    let options = ObserveOptions {
        helper_image: args
            .helper_image
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| bind_probe::DEFAULT_HELPER_IMAGE.to_owned()),
        pause: env
            .vars
            .iter()
            .find(|(k, _)| k == "TIERCTL_TEST_VERIFY_PAUSE_MS")
            .and_then(|(_, v)| v.parse().ok())
            .map(std::time::Duration::from_millis),
        remote_sources: None,
    };
    // With the stack down, node_exporter's textfile still gets metrics that say so.
    let down_is_a_report = settings.format == Format::Prometheus;
    let check = |endpoint: &Endpoint| {
        verify_engine(
            endpoint,
            project.as_ref(),
            (&selection, down_is_a_report),
            &options,
            settings,
        )
    };
    if args.swarm {
        let stack = global
            .project_name
            .clone()
            .or_else(|| project.as_ref().map(|p| p.name.clone()))
            .unwrap_or_default();
        let on_node = |endpoint: &Endpoint, containers: Vec<String>| {
            let names = crate::engine::observe::Selection::Names(containers);
            let options = &options;
            verify_engine(
                endpoint,
                project.as_ref(),
                (&names, false),
                options,
                settings,
            )
        };
        return super::swarm::verify_swarm(
            settings,
            (global, env),
            &stack,
            &on_node,
            args.quiet,
            out,
        );
    }
    if fleet {
        return verify_fleet(settings, global, args, env, &check, out);
    }
    let report = check(&resolve_endpoint(global, env)?)?;
    if !args.quiet {
        emit(settings, &Report::Verify(&report), out)?;
    }
    Ok(if report.all_ok() {
        exit::CLEAN
    } else {
        exit::FINDINGS
    })
}

/// `verify` on several engines: each context checked in turn; one that cannot be reached is
/// reported and the others are still checked. Exit 2 when some engine could not be checked,
/// else 1 when some mount is not ok.
pub(super) fn verify_fleet(
    settings: &Settings,
    global: &GlobalArgs,
    args: &VerifyArgs,
    env: &Environment,
    check: &dyn Fn(&Endpoint) -> Result<VerifyReport, Error>,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    use crate::report::reports::{FleetReport, HostError, HostReport};

    if args.all_contexts && !(global.contexts.is_empty() && global.hosts.is_empty()) {
        return Err(endpoint::EndpointError::AllAndNamedContexts.into());
    }
    if !global.hosts.is_empty() {
        return Err(endpoint::EndpointError::HostAndContext.into());
    }
    let names = if args.all_contexts {
        endpoint::context_names(&endpoint_input(global, env, None), &DiskConfig)?
    } else {
        global.contexts.clone()
    };
    let hosts = names
        .into_iter()
        .map(|name| {
            let input = endpoint_input(global, env, Some(name.clone()));
            let resolved = endpoint::resolve(&input, &DiskConfig).map_err(Error::from);
            let endpoint = resolved.as_ref().ok().map(|e| e.host.clone());
            let outcome = resolved.and_then(|e| check(&e)).map_err(|e| HostError {
                message: e.to_string(),
                hint: e.hint(),
            });
            HostReport {
                host: name,
                endpoint,
                node: None,
                outcome,
            }
        })
        .collect();
    let fleet = FleetReport { hosts };
    if !args.quiet {
        emit(settings, &Report::Fleet(&fleet), out)?;
    }
    Ok(if fleet.any_unreachable() {
        exit::ERROR
    } else if fleet.all_ok() {
        exit::CLEAN
    } else {
        exit::FINDINGS
    })
}

/// Connect to one engine, select and observe its containers, and check every mount.
pub(super) fn verify_engine(
    endpoint: &Endpoint,
    project: Option<&crate::compose::model::ComposeProject>,
    (selection, down_is_a_report): (&crate::engine::observe::Selection, bool),
    options: &crate::engine::observe::ObserveOptions,
    settings: &Settings,
) -> Result<VerifyReport, Error> {
    use crate::engine::observe::{self, Selection, VerifyError};

    let engine = DockerEngine::connect(endpoint)?;
    let info = engine.info()?;
    let guess = endpoint::refine(
        endpoint::identify(endpoint),
        &info.operating_system,
        &info.name,
    );
    let (containers, mut notes) = match observe::select(&engine, selection) {
        Err(VerifyError::NoContainers { .. }) if down_is_a_report => (Vec::new(), Vec::new()),
        selected => selected?,
    };
    let host = super::connect::host_of(endpoint, &engine, &info, &options.helper_image);
    let class = match engine_class(&guess) {
        // a native engine on that machine: its host side is read there, compared as native
        crate::verify::EngineClass::Unknown if host.remote => crate::verify::EngineClass::Native,
        class => class,
    };
    let mut options = options.clone();
    if host.remote {
        let sources = observe::bind_sources(&containers);
        let seen = host_fs::bind_sources(&engine, &options.helper_image, &sources)?;
        options.remote_sources = Some(seen);
        notes.push(format!(
            "the engine's host `{}` is another machine: the host side (bind sources, their filesystem, tier roots) was read there by a helper container; no marker file is written there, the filesystem type, device and size decide",
            host.name.as_deref().unwrap_or(&endpoint.host)
        ));
    }
    if !observe::install_interrupt_cleanup() {
        notes.push("no Ctrl-C handler could be installed".into());
    }
    let observed = observe::observe(&engine, containers, &options)?;
    let results: Vec<ContainerResult> = observed
        .into_iter()
        .map(|c| container_result(c, project, class))
        .collect();
    let services = match (project, selection) {
        (Some(p), Selection::Project(_)) => service_states(p, &results),
        _ => Vec::new(),
    };
    notes.extend(
        services
            .iter()
            .filter(|(_, running)| !running)
            .map(|(service, _)| format!("service `{service}` has no running container")),
    );
    let on = (&host, &engine, options.helper_image.as_str());
    let tiers = tier_checks(settings, on, &results, &mut notes)?;
    Ok(VerifyReport {
        tiers,
        host: Some(host),
        project: project.map(|p| p.name.clone()),
        engine: class,
        containers: results,
        notes,
        services,
        checked_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    })
}

/// `tier-not-mounted` for verify: each tier (of tiers.yaml, as it applies on this host) that a
/// checked bind lies on, and whether its disk is there (on another machine, its tier roots are
/// read there by a helper container). Nothing without tiers.yaml.
fn tier_checks(
    settings: &Settings,
    (host, engine, image): (&crate::host::Host, &DockerEngine, &str),
    results: &[ContainerResult],
    notes: &mut Vec<String>,
) -> Result<Vec<crate::audit::TierCheck>, Error> {
    let tiers = match super::load_tiers_on(settings, Some(host)) {
        Ok(tiers) => tiers,
        Err(Error::TiersNotFound { .. }) => return Ok(Vec::new()),
        Err(e) => {
            notes.push(format!("tier-not-mounted not checked: {e}"));
            return Ok(Vec::new());
        }
    };
    let sources: Vec<&std::path::Path> = results
        .iter()
        .flat_map(|c| &c.mounts)
        .filter_map(|m| m.observed.host.as_ref())
        .flat_map(|h| [Some(h.source.as_path()), h.real.as_deref()])
        .flatten()
        .collect();
    let seen = if host.remote {
        let roots: Vec<_> = tiers
            .tiers
            .values()
            .map(|t| (t.name.clone(), t.root.clone()))
            .collect();
        host_fs::facts(engine, image, &[], &roots)?.tiers
    } else {
        crate::tierfs::presences(&tiers)
    };
    Ok(crate::audit::tier_checks(&tiers, &seen, |tier| {
        sources.iter().any(|s| s.starts_with(&tier.root))
    }))
}

/// Which containers `verify` looks at: all, the named ones, every project's on each engine of a
/// fleet check (or the one `-p` names), or the project's.
pub(super) fn selection(
    args: &VerifyArgs,
    global: &GlobalArgs,
    fleet: bool,
    project: Option<&crate::compose::model::ComposeProject>,
) -> crate::engine::observe::Selection {
    use crate::engine::observe::Selection;
    if args.all {
        Selection::All
    } else if !args.containers.is_empty() {
        Selection::Names(args.containers.clone())
    } else if fleet {
        Selection::Projects(global.project_name.clone())
    } else {
        Selection::Project(project.map(|p| p.name.clone()).unwrap_or_default())
    }
}

/// Each enabled service of the project and whether a container of it runs.
pub(super) fn service_states(
    project: &crate::compose::model::ComposeProject,
    results: &[ContainerResult],
) -> Vec<(String, bool)> {
    project
        .enabled_services()
        .map(|service| {
            let running = results
                .iter()
                .any(|r| r.service.as_deref() == Some(&service.name));
            (service.name.clone(), running)
        })
        .collect()
}

/// One observed container checked mount by mount, with the compose cross-check as notes when
/// it belongs to the loaded project; each row names the project's mount it checks
/// ([`crate::verify::identify_running`]: inspect's results come back here).
pub(super) fn container_result(
    c: crate::engine::observe::ObservedContainer,
    project: Option<&crate::compose::model::ComposeProject>,
    class: crate::verify::EngineClass,
) -> ContainerResult {
    let mut container_notes = c.notes;
    let mut ids = Vec::new();
    let (project_label, service_label) = swarm_names(&c.info);
    let same_project = project.filter(|p| project_label.as_deref() == Some(p.name.as_str()));
    if let (Some(p), Some(service)) = (same_project, service_label.as_deref()) {
        let running: Vec<crate::verify::RunningMount> = c
            .mounts
            .iter()
            .zip(c.info.mounts.iter().filter(|m| {
                matches!(
                    m.kind,
                    crate::engine::container::MountType::Bind
                        | crate::engine::container::MountType::Volume
                )
            }))
            .map(|(o, m)| crate::verify::RunningMount {
                kind: o.kind.clone(),
                source: match &o.kind {
                    crate::verify::MountKind::Volume { name } => name.clone(),
                    crate::verify::MountKind::Bind => m.source.clone(),
                },
                target: o.target.clone(),
            })
            .collect();
        ids = crate::verify::identify_running(p, service, &running);
        container_notes.extend(crate::verify::cross_check(p, service, &running));
    }
    ContainerResult {
        project: project_label,
        service: service_label,
        number: c
            .info
            .labels
            .get(crate::engine::container::labels::NUMBER)
            .cloned(),
        name: c.info.name,
        via: c.via,
        mounts: c
            .mounts
            .into_iter()
            .enumerate()
            .map(|(n, o)| MountResult {
                mount: ids.get(n).copied().flatten(),
                check: crate::verify::check(&o, class),
                observed: o,
            })
            .collect(),
        notes: container_notes,
    }
}

/// A container's project and service: compose's labels, else a Swarm task's
/// (`com.docker.stack.namespace`, and `com.docker.swarm.service.name` without the `<stack>_`).
fn swarm_names(info: &crate::engine::ContainerInfo) -> (Option<String>, Option<String>) {
    use crate::engine::container::labels;
    if let Some(project) = info.labels.get(labels::PROJECT) {
        return (Some(project.clone()), info.service().map(str::to_owned));
    }
    let stack = info.labels.get("com.docker.stack.namespace");
    let service = info.labels.get("com.docker.swarm.service.name");
    let service = match (stack, service) {
        (Some(stack), Some(service)) => Some(
            service
                .strip_prefix(&format!("{stack}_"))
                .unwrap_or(service)
                .to_owned(),
        ),
        (_, service) => service.cloned(),
    };
    (stack.cloned(), service)
}

/// How `verify` compares filesystems on this engine.
pub(super) fn engine_class(guess: &endpoint::EngineGuess) -> crate::verify::EngineClass {
    use crate::engine::endpoint::EngineGuess;
    use crate::verify::EngineClass;
    match guess {
        EngineGuess::Native => EngineClass::Native,
        EngineGuess::DockerDesktop => EngineClass::DockerDesktop,
        EngineGuess::Colima { .. }
        | EngineGuess::OrbStack
        | EngineGuess::RancherDesktop
        | EngineGuess::Lima { .. }
        | EngineGuess::Podman { .. } => EngineClass::Vm,
        EngineGuess::Remote | EngineGuess::Unknown => EngineClass::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::container::{ContainerInfo, ContainerMount, MountType, labels};
    use crate::engine::observe::ObservedContainer;
    use crate::verify::{MarkerState, MountKind, MountObservation};

    struct Text(&'static str);

    impl crate::compose::load::Files for Text {
        fn read(&self, _: &std::path::Path) -> std::io::Result<String> {
            Ok(self.0.to_owned())
        }
        fn is_file(&self, path: &std::path::Path) -> bool {
            path.ends_with("compose.yaml")
        }
    }

    fn mount(kind: MountType, name: Option<&str>, source: &str, target: &str) -> ContainerMount {
        ContainerMount {
            kind,
            name: name.map(str::to_owned),
            source: source.into(),
            target: target.into(),
            read_write: true,
        }
    }

    fn observed(kind: MountKind, target: &str) -> MountObservation {
        MountObservation {
            kind,
            target: target.into(),
            read_only: false,
            host: None,
            container: None,
            marker: MarkerState::NotWritten,
        }
    }

    #[test]
    fn issue20_item5_each_verify_row_names_the_compose_mount_it_checks() {
        let options = crate::compose::load::LoadOptions {
            files: vec!["/p/compose.yaml".into()],
            working_dir: "/p".into(),
            ..Default::default()
        };
        let text = "services:\n  db:\n    image: postgres\n    volumes:\n      - /srv/db:/data/\n";
        let project = crate::compose::load::load(&options, &Text(text)).expect("compose loads");
        let volume = || MountKind::Volume {
            name: "abc123".into(),
        };
        let container = ObservedContainer {
            info: ContainerInfo {
                id: "1".into(),
                name: "p-db-1".into(),
                image: "postgres".into(),
                running: true,
                labels: [(labels::PROJECT, "p"), (labels::SERVICE, "db")]
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .into(),
                mounts: vec![
                    mount(MountType::Bind, None, "/srv/db", "/data"),
                    mount(MountType::Volume, Some("abc123"), "/var/lib/x", "/anon"),
                ],
                exit_code: None,
                oom_killed: false,
                pid: None,
                stop_signal: None,
                init: false,
            },
            via: None,
            mounts: vec![
                observed(MountKind::Bind, "/data"),
                observed(volume(), "/anon"),
            ],
            notes: Vec::new(),
        };
        let id = project.services["db"].mounts[0].id;
        let result = container_result(
            container.clone(),
            Some(&project),
            crate::verify::EngineClass::Native,
        );
        let ids: Vec<_> = result.mounts.iter().map(|m| m.mount).collect();
        assert_eq!(ids, [Some(id), None]);
        assert!(result.notes[0].contains("`/anon`"), "{:?}", result.notes);
        // another project's container names no mount of this one
        let mut other = container;
        other
            .info
            .labels
            .insert(labels::PROJECT.to_owned(), "q".to_owned());
        let result = container_result(other, Some(&project), crate::verify::EngineClass::Native);
        assert!(result.mounts.iter().all(|m| m.mount.is_none()));
    }
}
