//! `tierctl audit`.

use std::io::Write;

use super::connect::{Connected, connect, helper_image, identify_offline};
use super::{emit, load_tiers_on};
use crate::audit::{self, Severity};
use crate::cli::GlobalArgs;
use crate::compose::load;
use crate::compose::model::ComposeProject;
use crate::engine::host_fs;
use crate::error::{Error, exit};
use crate::facts::Facts;
use crate::host::Host;
use crate::probe::{self, DiskFiles};
use crate::report::reports::AuditReport;
use crate::report::{self, Report};
use crate::settings::{Environment, Settings};
use crate::tierfs;
use crate::tiers::Tiers;

/// `tierctl audit`.
pub(super) fn audit(
    settings: &Settings,
    (global, swarm): (&GlobalArgs, bool),
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let mut notes = Vec::new();
    let connected = engine_of(settings, global, env, &mut notes)?;
    let host = connected.as_ref().map(|c| c.host.clone());
    // tiers.yaml first (its errors before the compose file's), as it applies on that host
    let tiers = load_tiers_on(settings, host.as_ref())?;
    let project = load::load(&settings.load, &DiskFiles)?;
    // compose's warnings about the file (unset variables) first, then what compose refuses
    let unset = project.unset_variables.iter().map(|u| u.message());
    let refused = project.refusals.iter().map(|r| r.message());
    notes.splice(0..0, unset.chain(refused));
    let image = helper_image(env);
    let facts = match connected.as_ref().filter(|c| c.host.remote) {
        Some(remote) => remote_facts(&project, &tiers, remote, &image, &mut notes)?,
        None => {
            let paths = audit::host_paths(&project);
            let mut facts = probe::paths(paths.clone());
            facts.tiers = tierfs::presences(&tiers);
            // `db-on-vm-share` by content: what the bind sources a VM shares hold
            if connected.as_ref().is_some_and(|c| c.view.shares.is_some()) {
                facts.databases = probe::databases(&paths);
            }
            // `data-under-nested-bind`: what the parents' directories hold below nested binds
            let points = audit::nested_bind::mount_points(&audit::Context {
                project: &project,
                tiers: &tiers,
                facts: &facts,
            });
            facts.under_nested = probe::holding(&points);
            // `stranded-data` needs the project's volumes that still hold data
            if let Some(engine) = connected.as_ref().and_then(|c| c.engine.as_ref())
                && let Err(e) = crate::stranded::observe(&project, &mut facts, engine, &image)
            {
                notes.push(format!("stranded-data check skipped: {e}"));
            }
            facts
        }
    };
    let mut findings = audit::audit(&audit::Context {
        project: &project,
        tiers: &tiers,
        facts: &facts,
    });
    if let Some(connected) = connected.as_ref().filter(|c| c.engine.is_some()) {
        findings.extend(audit::audit_vm(&project, &facts, &connected.view));
        // what `tierctl vm` notes about the shares (one that keeps owners and symlinks in xattrs)
        if let Some(shares) = &connected.view.shares {
            notes.extend(shares.notes.iter().cloned());
        }
        findings.sort_by(|a, b| {
            (&a.place.file, a.place.position, a.check.id()).cmp(&(
                &b.place.file,
                b.place.position,
                b.check.id(),
            ))
        });
    }
    if swarm {
        let (_, nodes) = super::swarm::manager(global, env)?;
        findings.extend(audit::audit_swarm(
            &audit::Context {
                project: &project,
                tiers: &tiers,
                facts: &facts,
            },
            &nodes,
        ));
        // a bind on another node's tier is placed by its constraint, not outside the tiers
        findings.retain(|f| {
            f.check != audit::Check::BindOutsideTiers
                || !f
                    .source
                    .as_deref()
                    .is_some_and(|s| audit::on_node_tier(&tiers, std::path::Path::new(s)))
        });
        findings.sort_by(|a, b| {
            (&a.place.file, a.place.position, a.check.id()).cmp(&(
                &b.place.file,
                b.place.position,
                b.check.id(),
            ))
        });
    }
    notes.extend(audit::unplaced_note(&findings));
    let serious = findings.iter().any(|f| f.severity >= Severity::Warning);
    let audited = AuditReport {
        project: project.name.clone(),
        findings,
        notes,
        host,
    };
    emit(settings, &Report::Audit(&audited), out)?;
    Ok(if serious { exit::FINDINGS } else { exit::CLEAN })
}

/// The engine and its host. The VM checks need a reachable engine; without one (or with
/// `--offline`) they are skipped, with a note when it does not answer. A remote host needs its
/// engine (its paths can only be read there): refused without it.
fn engine_of(
    settings: &Settings,
    global: &GlobalArgs,
    env: &Environment,
    notes: &mut Vec<String>,
) -> Result<Option<Connected>, Error> {
    let connected = if settings.offline {
        None
    } else {
        match connect(global, env) {
            Ok(connected) => Some(connected),
            Err(e) => {
                notes.push(format!(
                    "VM checks skipped: the engine does not answer ({e})"
                ));
                None
            }
        }
    };
    if connected.is_none() {
        // the endpoint alone: a remote one cannot be audited from this machine's paths
        if let Ok(offline) = identify_offline(global, env)
            && offline.host.remote
        {
            return Err(remote_needs_engine(&offline.host, settings.offline));
        }
    }
    Ok(connected)
}

fn remote_needs_engine(host: &Host, offline: bool) -> Error {
    let why = if offline {
        "`--offline` makes no call to it"
    } else {
        "it does not answer"
    };
    let context = &host.context;
    Error::RemoteHost {
        context: context.clone(),
        endpoint: host.endpoint.clone(),
        why: format!("{why}: its host paths cannot be read from here"),
        hint: format!(
            "run without `--offline` once the engine answers (`docker --context {context} info`), or, if that engine runs on this machine, write `\"tierctl.remote\": false` in the context's Metadata"
        ),
    }
}

/// Facts about the project's host paths and the tier roots, read on the remote engine's host by
/// helper containers; the project's left volumes for `stranded-data`.
fn remote_facts(
    project: &ComposeProject,
    tiers: &Tiers,
    connected: &Connected,
    image: &str,
    notes: &mut Vec<String>,
) -> Result<Facts, Error> {
    let engine = connected
        .engine
        .as_ref()
        .expect("a connected engine decided the host is remote");
    let paths = audit::host_paths(project);
    let roots: Vec<_> = tiers
        .tiers
        .values()
        .map(|t| (t.name.clone(), t.root.clone()))
        .collect();
    let mut facts = host_fs::facts(engine, image, &paths, &roots)?;
    match crate::stranded::left_volumes(project, engine, image) {
        Ok(left) => facts.left_volumes = left,
        Err(e) => notes.push(format!("stranded-data check skipped: {e}")),
    }
    Ok(facts)
}

/// `tierctl mounts`: on the machine `--context`/`-H` name, with that context's tier map.
pub(super) fn mounts(
    settings: &Settings,
    global: &GlobalArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let on = path_host(settings, global, env)?;
    let tiers = load_tiers_on(settings, on.as_ref().map(|p| &p.host))?;
    let project = super::load_project(settings)?;
    let facts = path_facts(&project, on.as_ref(), &helper_image(env))?;
    let report = report::MountsReport {
        mounts: crate::mounts::views(&project, &tiers, &facts),
        host: on.map(|p| p.host),
        project: project.name,
    };
    emit(settings, &Report::Mounts(&report), out)?;
    Ok(exit::CLEAN)
}

/// The machine whose paths `plan`, `rewrite`, `mounts` and `migrate` look at when `--context`
/// or `-H` names an engine: its host (`crate::host`), and the engine when that host is another
/// machine (its paths are read by helpers there, `engine::host_fs`). `None` without either
/// flag: this machine, tiers.yaml's own `tiers:`, as before.
pub(super) struct PathHost {
    pub(super) host: Host,
    /// Connected when `host.remote` (and marked so: `DockerEngine::on_another_machine`).
    pub(super) engine: Option<crate::engine::docker::DockerEngine>,
}

impl PathHost {
    /// The engine at `endpoint` (this host's): the connection that found it is another machine,
    /// else a new one, kept in `connected`.
    pub(super) fn engine<'a>(
        &'a self,
        endpoint: &crate::engine::endpoint::Endpoint,
        connected: &'a mut Option<crate::engine::docker::DockerEngine>,
    ) -> Result<&'a crate::engine::docker::DockerEngine, Error> {
        if let Some(engine) = &self.engine {
            return Ok(engine);
        }
        let engine = crate::engine::docker::DockerEngine::connect(endpoint)?;
        Ok(connected.insert(engine))
    }
}

/// [`PathHost`] of the engine `--context`/`-H` name; `None` without either flag.
pub(super) fn path_host(
    settings: &Settings,
    global: &GlobalArgs,
    env: &Environment,
) -> Result<Option<PathHost>, Error> {
    if global.contexts.is_empty() && global.hosts.is_empty() {
        return Ok(None);
    }
    let endpoint = super::connect::resolve_endpoint(global, env)?;
    host_at(settings, &endpoint, env).map(Some)
}

/// [`PathHost`] of `endpoint`. A local socket or the context's mark decides without asking
/// the engine; a remote host needs its engine (refused with `--offline`, an error when it does
/// not answer: never read locally instead).
pub(super) fn host_at(
    settings: &Settings,
    endpoint: &crate::engine::endpoint::Endpoint,
    env: &Environment,
) -> Result<PathHost, Error> {
    use crate::engine::Engine;
    use crate::engine::docker::DockerEngine;
    let decision = crate::host::decide(endpoint);
    if let crate::host::Decision::Decided { remote: false, .. } = decision {
        let host = crate::host::host(endpoint, None, None);
        return Ok(PathHost { host, engine: None });
    }
    if settings.offline {
        let host = crate::host::host(endpoint, None, None);
        return Err(remote_needs_engine(&host, true));
    }
    let engine = DockerEngine::connect(endpoint)?;
    let info = engine.info()?;
    let host = super::connect::host_of(endpoint, &engine, &info, &helper_image(env));
    let engine = host.remote.then(|| engine.on_another_machine(true));
    Ok(PathHost { host, engine })
}

/// Facts about the project's host paths on the machine they belong to: this one (`probe`),
/// or the remote engine's host through helpers (`engine::host_fs`).
pub(super) fn path_facts(
    project: &ComposeProject,
    on: Option<&PathHost>,
    image: &str,
) -> Result<Facts, Error> {
    let paths = audit::host_paths(project);
    match on.and_then(|p| p.engine.as_ref()) {
        Some(engine) => Ok(Facts {
            paths: host_fs::facts(engine, image, &paths, &[])?.paths,
            ..Facts::default()
        }),
        None => Ok(probe::paths(paths)),
    }
}
