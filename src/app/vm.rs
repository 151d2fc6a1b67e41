//! `tierctl vm`.

use std::io::Write;

use super::connect::{connect, helper_image, home, identify_offline};
use super::emit;
use crate::audit::{self, Severity};
use crate::cli::{GlobalArgs, VmArgs};
use crate::engine::host_fs;
use crate::engine::probe as bind_probe;
use crate::engine::share_probe;
use crate::error::{Error, exit};
use crate::facts::Facts;
use crate::probe;
use crate::report::Report;
use crate::report::reports::{BindRow, VmReport};
use crate::settings::{Environment, Settings};
use crate::vm::view::{self, Coverage, VmView};

/// `tierctl vm`.
pub(super) fn vm(
    settings: &Settings,
    global: &GlobalArgs,
    args: &VmArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let project = super::load_project(settings)?;
    let sources = audit::host_paths(&project);
    let mut notes = Vec::new();
    let connected = if settings.offline {
        notes.push("--offline: the engine was identified from the endpoint alone".to_owned());
        identify_offline(global, env)?
    } else {
        connect(global, env)?
    };
    // a remote host's bind sources are read there (never here); offline, they cannot be read
    let mut facts = match (&connected.engine, connected.host.remote) {
        (Some(engine), true) => Facts {
            paths: host_fs::resolve_paths(engine, &helper_image(env), &sources)?,
            ..Facts::default()
        },
        (None, true) => {
            notes.push(
                "the engine is on another machine: its bind sources were not read (offline)"
                    .to_owned(),
            );
            Facts::default()
        }
        (_, false) => {
            let mut facts = probe::paths(sources.clone());
            // `db-on-vm-share` by content: what the bind sources a VM shares hold
            if connected.view.shares.is_some() {
                facts.databases = probe::databases(&sources);
            }
            facts
        }
    };
    notes.extend(connected.notes.iter().cloned());
    let binds = bind_rows(&sources, &facts, &connected.view);
    let unshared = unshared(&binds);
    let share_probes = share_probes(&connected, args)?;
    // the VM checks judge a share by what was measured on it, where it was
    facts.shares = share_probes.clone().unwrap_or_default();
    let findings = audit::audit_vm(&project, &facts, &connected.view);
    let fix = view::fix(&connected.view, &unshared, &home(env));
    let probes = probes(&connected, args, &sources, &mut notes)?;
    let mismatch = probes
        .as_ref()
        .is_some_and(|p| p.iter().any(|p| p.verdict.is_mismatch()));
    let serious = findings.iter().any(|f| f.severity >= Severity::Warning);
    let report = VmReport {
        project: project.name.clone(),
        context: connected.endpoint.context.clone(),
        host: connected.endpoint.host.clone(),
        endpoint_source: connected.endpoint.source.to_string(),
        engine: connected.view.engine.clone(),
        info: connected.info,
        vm: connected.view.shares.clone(),
        binds,
        findings,
        fix,
        probes,
        share_probes,
        notes,
        machine: connected.host,
    };
    emit(settings, &Report::Vm(&report), out)?;
    Ok(if serious || mismatch {
        exit::FINDINGS
    } else {
        exit::CLEAN
    })
}

/// With `--probe`, what the engine sees at each bind source through a helper container; skipped
/// (with a note) offline or for an engine on another machine.
fn probes(
    connected: &super::connect::Connected,
    args: &VmArgs,
    sources: &[std::path::PathBuf],
    notes: &mut Vec<String>,
) -> Result<Option<Vec<bind_probe::BindProbe>>, Error> {
    let probes = match (&connected.engine, args.probe) {
        (Some(_), true) if connected.host.remote => {
            notes.push("--probe compares the engine's view with this machine's: skipped for an engine on another machine".to_owned());
            None
        }
        (Some(engine), true) => {
            let image = helper_image_of(args);
            Some(bind_probe::probe_sources(engine, &image, sources)?)
        }
        (None, true) => {
            notes.push("--probe needs the engine: skipped with --offline".to_owned());
            None
        }
        (_, false) => None,
    };
    Ok(probes)
}

/// With `--probe` on a VM engine on this machine whose shares are known, what each share keeps
/// (`engine::share_probe`: one helper container per share).
fn share_probes(
    connected: &super::connect::Connected,
    args: &VmArgs,
) -> Result<Option<Vec<crate::facts::ShareProbe>>, Error> {
    match (&connected.engine, &connected.view.shares) {
        (Some(engine), Some(vm)) if args.probe && !connected.host.remote => {
            let image = helper_image_of(args);
            Ok(Some(share_probe::probe_shares(engine, &image, &vm.shares)?))
        }
        _ => Ok(None),
    }
}

/// The helper image `--helper-image` names, else the public busybox.
fn helper_image_of(args: &VmArgs) -> String {
    args.helper_image
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| bind_probe::DEFAULT_HELPER_IMAGE.to_owned())
}

/// Each bind source, its real path and how the engine sees it.
pub(super) fn bind_rows(
    sources: &[std::path::PathBuf],
    facts: &Facts,
    view: &VmView,
) -> Vec<BindRow> {
    sources
        .iter()
        .map(|source| {
            let real = facts.path(source).and_then(|f| f.real.clone());
            let coverage = view.coverage(real.as_deref().unwrap_or(source));
            BindRow {
                source: source.clone(),
                real,
                coverage,
            }
        })
        .collect()
}

/// The real paths the VM must share (more, or writable, or at the same path).
pub(super) fn unshared(binds: &[BindRow]) -> Vec<std::path::PathBuf> {
    binds
        .iter()
        .filter_map(|row| {
            let real = row.real.clone().unwrap_or_else(|| row.source.clone());
            let needs = match &row.coverage {
                Coverage::NotShared => true,
                Coverage::Shared { share, .. } => !share.writable || !row.coverage.same_path(&real),
                Coverage::Native | Coverage::Unknown => false,
            };
            needs.then_some(real)
        })
        .collect()
}
