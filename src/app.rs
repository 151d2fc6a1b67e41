//! One function per subcommand: the only orchestration.

use std::io::Write;

use clap::CommandFactory;

use crate::audit::{self, Severity};
use crate::cli::{Cli, Command, GlobalArgs, MigrateArgs, TiersCommand, VerifyArgs, VmArgs};
use crate::compose::load;
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint::{self, Endpoint, EndpointInput};
use crate::engine::probe as bind_probe;
use crate::engine::{Engine, EngineInfo};
use crate::error::{Error, exit};
use crate::facts::Facts;
use crate::probe::{self, DiskFiles};
use crate::report::reports::{
    AuditReport, BindRow, ContainerResult, InitReport, LinkReport, MountResult, NewProjectReport,
    PlanReport, ValidateReport, VerifyReport, VmReport,
};
use crate::report::{self, Format, Report};
use crate::settings::{Environment, Settings};
use crate::tiers::Tiers;
use crate::vm::view::{self, Coverage, VmView};
use crate::vm::{DiskConfig, EnvVars};
use crate::{layout, template, tierfs, usage};

/// Runs the command; returns the exit code.
pub fn run(cli: Cli, env: &Environment, out: &mut dyn Write) -> Result<u8, Error> {
    let settings = Settings::resolve(&cli.global, env);
    // Refused before the command does anything: `tiers init` would change the disk first.
    let command = command_name(&cli.command);
    if settings.format == Format::Prometheus && !report::prometheus::COMMANDS.contains(&command) {
        return Err(Error::FormatUnsupported { command });
    }
    match cli.command {
        Command::Plan { strict_binds } => {
            let mode = RewriteMode::dry(strict_binds);
            rewrite(&settings, &mode, &|| Err(String::new()), out)
        }
        Command::Rewrite {
            write,
            strict_binds,
            force,
            helper_image,
        } => {
            let mode = RewriteMode {
                write,
                strict_binds,
                force,
                helper_image,
            };
            let engine = || -> Result<DockerEngine, String> {
                if settings.offline {
                    return Err("`--offline` makes no call to the Docker engine".into());
                }
                let endpoint = resolve_endpoint(&cli.global, env).map_err(|e| e.to_string())?;
                DockerEngine::connect(&endpoint).map_err(|e| e.to_string())
            };
            rewrite(&settings, &mode, &engine, out)
        }
        Command::Audit => audit(&settings, &cli.global, env, out),
        Command::Mounts => mounts(&settings, out),
        Command::Tiers { command } => tiers(&settings, command, out),
        Command::New(args) => new_template(&settings, &args, out),
        Command::Vm(args) => vm(&settings, &cli.global, &args, env, out),
        Command::Migrate(args) => migrate(&settings, &cli.global, &args, env, out),
        Command::Verify(args) => verify(&settings, &cli.global, &args, env, out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "tierctl", out);
            Ok(exit::CLEAN)
        }
        Command::Man { dir: None } => {
            clap_mangen::Man::new(Cli::command())
                .render(out)
                .map_err(Error::Output)?;
            Ok(exit::CLEAN)
        }
        Command::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(Cli::command(), &dir))
                .map_err(|source| Error::Io { path: dir, source })?;
            Ok(exit::CLEAN)
        }
    }
}

/// `tierctl audit`.
fn audit(
    settings: &Settings,
    global: &GlobalArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let tiers = load_tiers(settings)?;
    let project = load::load(&settings.load, &DiskFiles)?;
    let mut facts = probe::paths(audit::host_paths(&project));
    facts.tiers = tierfs::presences(&tiers);
    // The VM checks need a reachable engine; without one (or with --offline) they are skipped,
    // and without one a note says so.
    let mut notes = Vec::new();
    let connected = if settings.offline {
        None
    } else {
        connect(global, env)
            .map_err(|e| {
                notes.push(format!(
                    "VM checks skipped: the engine does not answer ({e})"
                ))
            })
            .ok()
    };
    // `stranded-data` needs the project's volumes that still hold data
    if let Some(engine) = connected.as_ref().and_then(|c| c.engine.as_ref()) {
        let image = env
            .vars
            .iter()
            .find(|(k, v)| k == "TIERCTL_HELPER_IMAGE" && !v.is_empty())
            .map_or(bind_probe::DEFAULT_HELPER_IMAGE, |(_, v)| v.as_str());
        if let Err(e) = crate::stranded::observe(&project, &mut facts, engine, image) {
            notes.push(format!("stranded-data check skipped: {e}"));
        }
    }
    let mut findings = audit::audit(&audit::Context {
        project: &project,
        tiers: &tiers,
        facts: &facts,
    });
    if let Some(connected) = connected {
        findings.extend(audit::audit_vm(&project, &facts, &connected.view));
        findings.sort_by(|a, b| {
            (&a.place.file, a.place.position, a.check.id()).cmp(&(
                &b.place.file,
                b.place.position,
                b.check.id(),
            ))
        });
    }
    let serious = findings.iter().any(|f| f.severity >= Severity::Warning);
    let audited = AuditReport {
        project: project.name.clone(),
        findings,
        notes,
    };
    emit(settings, &Report::Audit(&audited), out)?;
    Ok(if serious { exit::FINDINGS } else { exit::CLEAN })
}

/// `tierctl mounts`.
fn mounts(settings: &Settings, out: &mut dyn Write) -> Result<u8, Error> {
    let tiers = load_tiers(settings)?;
    let project = load::load(&settings.load, &DiskFiles)?;
    let facts = probe::paths(audit::host_paths(&project));
    let report = report::MountsReport {
        mounts: crate::mounts::views(&project, &tiers, &facts),
        project: project.name,
    };
    emit(settings, &Report::Mounts(&report), out)?;
    Ok(exit::CLEAN)
}

/// What `plan` / `rewrite` do.
struct RewriteMode {
    write: bool,
    strict_binds: bool,
    force: bool,
    helper_image: Option<String>,
}

impl RewriteMode {
    fn dry(strict_binds: bool) -> RewriteMode {
        RewriteMode {
            write: false,
            strict_binds,
            force: false,
            helper_image: None,
        }
    }
}

/// `tierctl plan` and `tierctl rewrite [--write]`.
fn rewrite(
    settings: &Settings,
    mode: &RewriteMode,
    engine: &dyn Fn() -> Result<DockerEngine, String>,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let (write, strict_binds) = (mode.write, mode.strict_binds);
    let tiers = load_tiers(settings)?;
    let project = load::load(&settings.load, &DiskFiles)?;
    let _lock = write.then(|| crate::lock::project(&project)).transpose()?;
    let facts = probe::paths(audit::host_paths(&project));
    let plan = crate::plan::plan(&crate::plan::Input {
        project: &project,
        tiers: &tiers,
        facts: &facts,
        strict_binds,
        mode: audit::Mode::Rewrite,
    });
    let patched = crate::rewrite::patch(&plan, &project)?;
    crate::rewrite::check_reload(&plan, &project, &settings.load, &DiskFiles, &patched)?;
    let mut written = Vec::new();
    if write && !patched.is_empty() {
        let image = mode.helper_image.as_deref().filter(|i| !i.is_empty());
        let image = image.unwrap_or(bind_probe::DEFAULT_HELPER_IMAGE);
        for note in crate::stranded::check(&project, &plan, engine, image, mode.force)? {
            eprintln!("note: {note}");
        }
        let files: Vec<crate::write::FileWrite> = patched
            .iter()
            .map(|p| crate::write::FileWrite {
                path: p.file.clone(),
                read_hash: p.read_hash,
                text: p.new.clone(),
            })
            .collect();
        let stamp = crate::write::timestamp(std::time::SystemTime::now());
        let backups = crate::write::write_all(&files, &stamp)?;
        written = patched
            .iter()
            .map(|p| p.file.clone())
            .zip(backups)
            .collect();
    }
    let planned = PlanReport {
        project: project.name.clone(),
        plan,
        patched,
        written,
    };
    emit(settings, &Report::Plan(&planned), out)?;
    Ok(exit::CLEAN)
}

/// Renders `report` in the chosen format and writes it to `out`.
fn emit(settings: &Settings, report: &Report, out: &mut dyn Write) -> Result<(), Error> {
    let text = render(settings, report)?;
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

/// `report` in the chosen format.
fn render(settings: &Settings, report: &Report) -> Result<String, Error> {
    report::render(report, settings.format, &settings.paths, settings.color)
}

fn load_tiers(settings: &Settings) -> Result<Tiers, Error> {
    let path = settings
        .tiers_path(|p| p.is_file())
        .ok_or_else(|| Error::TiersNotFound {
            searched: settings.tiers_candidates.clone(),
        })?;
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let real = |root: &std::path::Path| {
        crate::fsx::resolve(root)
            .real
            .unwrap_or_else(|| root.to_path_buf())
    };
    Ok(crate::tiers::load_resolved(path, &text, &real)?)
}

/// The engine behind the Docker endpoint and what its VM shares.
struct Connected {
    endpoint: Endpoint,
    engine: Option<DockerEngine>,
    info: Option<EngineInfo>,
    view: VmView,
    /// What the identification noticed (a name that did not hold).
    notes: Vec<String>,
}

fn env_vars(env: &Environment) -> EnvVars {
    env.vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn home(env: &Environment) -> std::path::PathBuf {
    env.vars
        .iter()
        .find(|(k, v)| k == "HOME" && !v.is_empty())
        .map(|(_, v)| v.into())
        .unwrap_or_else(|| "/".into())
}

fn resolve_endpoint(global: &GlobalArgs, env: &Environment) -> Result<Endpoint, Error> {
    if global.contexts.len() > 1 {
        return Err(endpoint::EndpointError::SeveralContexts {
            names: global.contexts.clone(),
        }
        .into());
    }
    let input = endpoint_input(global, env, global.contexts.first().cloned());
    Ok(endpoint::resolve(&input, &DiskConfig)?)
}

/// What the docker CLI would look at, with this `--context`.
fn endpoint_input(
    global: &GlobalArgs,
    env: &Environment,
    context: Option<String>,
) -> EndpointInput {
    EndpointInput {
        hosts: global.hosts.clone(),
        context,
        config_dir: None,
        env: env_vars(env),
        home: home(env),
    }
}

/// Resolve the endpoint, connect, ask `docker info`, and read the VM's shares.
fn connect(global: &GlobalArgs, env: &Environment) -> Result<Connected, Error> {
    let endpoint = resolve_endpoint(global, env)?;
    let engine = DockerEngine::connect(&endpoint)?;
    let info = engine.info()?;
    let identified = endpoint::identify(&endpoint);
    let guess = endpoint::refine(identified.clone(), &info.operating_system, &info.name);
    let (view, note) =
        view::read_view_confirmed(identified, guess, &DiskConfig, &env_vars(env), &home(env))?;
    Ok(Connected {
        endpoint,
        engine: Some(engine),
        info: Some(info),
        view,
        notes: note.into_iter().collect(),
    })
}

/// `tierctl vm`.
fn vm(
    settings: &Settings,
    global: &GlobalArgs,
    args: &VmArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let project = load::load(&settings.load, &DiskFiles)?;
    let sources = audit::host_paths(&project);
    let facts = probe::paths(sources.clone());
    let mut notes = Vec::new();
    let connected = if settings.offline {
        notes.push("--offline: the engine was identified from the endpoint alone".to_owned());
        identify_offline(global, env)?
    } else {
        connect(global, env)?
    };
    notes.extend(connected.notes.iter().cloned());
    let binds = bind_rows(&sources, &facts, &connected.view);
    let unshared = unshared(&binds);
    let findings = audit::audit_vm(&project, &facts, &connected.view);
    let fix = view::fix(&connected.view, &unshared, &home(env));
    let probes = match (&connected.engine, args.probe) {
        (Some(engine), true) => {
            let image = args
                .helper_image
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| bind_probe::DEFAULT_HELPER_IMAGE.to_owned());
            Some(bind_probe::probe_sources(
                engine as &dyn Engine,
                &image,
                &sources,
            )?)
        }
        (None, true) => {
            notes.push("--probe needs the engine: skipped with --offline".to_owned());
            None
        }
        (_, false) => None,
    };
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
        notes,
    };
    emit(settings, &Report::Vm(&report), out)?;
    Ok(if serious || mismatch {
        exit::FINDINGS
    } else {
        exit::CLEAN
    })
}

/// The endpoint and the VM's shares without asking the engine (`--offline`).
fn identify_offline(global: &GlobalArgs, env: &Environment) -> Result<Connected, Error> {
    let endpoint = resolve_endpoint(global, env)?;
    let guess = endpoint::identify(&endpoint);
    let view = view::read_view(guess, &DiskConfig, &env_vars(env), &home(env))?;
    Ok(Connected {
        endpoint,
        engine: None,
        info: None,
        view,
        notes: Vec::new(),
    })
}

/// Each bind source, its real path and how the engine sees it.
fn bind_rows(sources: &[std::path::PathBuf], facts: &Facts, view: &VmView) -> Vec<BindRow> {
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
fn unshared(binds: &[BindRow]) -> Vec<std::path::PathBuf> {
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

/// `tierctl verify`.
fn verify(
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
    let project = match load::load(&settings.load, &DiskFiles) {
        Ok(project) => Some(project),
        Err(_) if explicit => None,
        Err(e) => return Err(e.into()),
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
    };
    // With the stack down, node_exporter's textfile still gets metrics that say so.
    let down_is_a_report = settings.format == Format::Prometheus;
    let check = |endpoint: &Endpoint| {
        verify_engine(
            endpoint,
            project.as_ref(),
            (&selection, down_is_a_report),
            &options,
        )
    };
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
fn verify_fleet(
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
fn verify_engine(
    endpoint: &Endpoint,
    project: Option<&crate::compose::model::ComposeProject>,
    (selection, down_is_a_report): (&crate::engine::observe::Selection, bool),
    options: &crate::engine::observe::ObserveOptions,
) -> Result<VerifyReport, Error> {
    use crate::engine::observe::{self, Selection, VerifyError};

    let engine = DockerEngine::connect(endpoint)?;
    let info = engine.info()?;
    let guess = endpoint::refine(
        endpoint::identify(endpoint),
        &info.operating_system,
        &info.name,
    );
    let class = engine_class(&guess);
    let (containers, mut notes) = match observe::select(&engine, selection) {
        Err(VerifyError::NoContainers { .. }) if down_is_a_report => (Vec::new(), Vec::new()),
        selected => selected?,
    };
    if guess == endpoint::EngineGuess::Remote {
        notes.push(format!(
            "the engine at `{}` is remote: the host side (source paths, filesystem, marker file) was read on this machine, which is right only when the engine runs here",
            endpoint.host
        ));
    }
    if !observe::install_interrupt_cleanup() {
        notes.push("no Ctrl-C handler could be installed".into());
    }
    let observed = observe::observe(&engine, containers, options)?;
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
    Ok(VerifyReport {
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

/// Which containers `verify` looks at: all, the named ones, every project's on each engine of a
/// fleet check (or the one `-p` names), or the project's.
fn selection(
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
fn service_states(
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
/// it belongs to the loaded project.
fn container_result(
    c: crate::engine::observe::ObservedContainer,
    project: Option<&crate::compose::model::ComposeProject>,
    class: crate::verify::EngineClass,
) -> ContainerResult {
    let mut container_notes = c.notes;
    let same_project = project
        .filter(|p| c.info.labels.get(crate::engine::container::labels::PROJECT) == Some(&p.name));
    if let (Some(p), Some(service)) = (same_project, c.info.service()) {
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
        container_notes.extend(crate::verify::cross_check(p, service, &running));
    }
    ContainerResult {
        project: c
            .info
            .labels
            .get(crate::engine::container::labels::PROJECT)
            .cloned(),
        service: c.info.service().map(str::to_owned),
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
            .map(|o| MountResult {
                check: crate::verify::check(&o, class),
                observed: o,
            })
            .collect(),
        notes: container_notes,
    }
}

/// How `verify` compares filesystems on this engine.
fn engine_class(guess: &endpoint::EngineGuess) -> crate::verify::EngineClass {
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

/// `tierctl tiers ...`.
fn tiers(settings: &Settings, command: TiersCommand, out: &mut dyn Write) -> Result<u8, Error> {
    let tiers = load_tiers(settings)?;
    match command {
        TiersCommand::Validate {
            verbose,
            quiet,
            max_depth,
            max_entries,
        } => tiers_validate(
            settings,
            &tiers,
            ValidateOptions {
                verbose,
                quiet,
                limits: tierfs::WalkLimits {
                    max_depth,
                    max_entries,
                },
            },
            out,
        ),
        TiersCommand::Init {
            dry_run,
            fix_permissions,
        } => tiers_init(settings, &tiers, dry_run, fix_permissions, out),
        TiersCommand::Status {
            summary,
            warning,
            critical,
        } => tiers_status(settings, &tiers, summary, (warning, critical), out),
        TiersCommand::Link { dry_run } => tiers_link(settings, &tiers, dry_run, out),
    }
}

struct ValidateOptions {
    verbose: bool,
    quiet: bool,
    limits: tierfs::WalkLimits,
}

/// `tierctl tiers validate`.
fn tiers_validate(
    settings: &Settings,
    tiers: &Tiers,
    options: ValidateOptions,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let wanted = tierfs::resolve_owners(layout::wanted_dirs(tiers))?;
    let observed = tierfs::observe(tiers, wanted, options.limits);
    let validated = ValidateReport {
        tiers_file: tiers.file.clone(),
        verdicts: layout::validate(tiers, &observed),
        verbose: options.verbose,
    };
    if !options.quiet {
        emit(settings, &Report::TiersValidate(&validated), out)?;
    }
    Ok(layout::exit_code(&validated.verdicts))
}

/// `tierctl tiers init`.
fn tiers_init(
    settings: &Settings,
    tiers: &Tiers,
    dry_run: bool,
    fix_permissions: bool,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let wanted = tierfs::resolve_owners(layout::wanted_dirs(tiers))?;
    let roots = tierfs::roots(tiers);
    let actions = layout::init_plan(&tierfs::dirs(wanted), &roots, fix_permissions);
    let mut markers_held_back = false;
    if !dry_run {
        for action in &actions {
            tierfs::apply_dir(action)?;
        }
        markers_held_back = write_markers(tiers)?;
    }
    let held_back = markers_held_back
        || actions.iter().any(|a| {
            matches!(
                a,
                layout::DirAction::Leave { .. } | layout::DirAction::Blocked { .. }
            )
        });
    emit(
        settings,
        &Report::TiersInit(&InitReport { actions, dry_run }),
        out,
    )?;
    Ok(if held_back {
        exit::FINDINGS
    } else {
        exit::CLEAN
    })
}

/// Writes the identity marker at every tier root that has none; a `mount: true` tier whose root
/// is not a mount point gets none (it would mark the system disk): says so on stderr and
/// returns true.
fn write_markers(tiers: &Tiers) -> Result<bool, Error> {
    let mut held_back = false;
    for tier in tiers.tiers.values() {
        let seen = tierfs::presence(&tier.root);
        if !seen.root_is_dir {
            continue;
        }
        if tier.mount && seen.mount_point != Some(true) {
            eprintln!(
                "warning: no marker written for tier `{}`: its root {} is not a mount point\nhint: {}",
                tier.name,
                tier.root.display(),
                audit::absence_hint(tier)
            );
            held_back = true;
            continue;
        }
        tierfs::write_marker(tier)?;
    }
    Ok(held_back)
}

/// Says on stderr which tiers are not there (`tier-not-mounted`); true when one is.
fn report_absent_tiers(tiers: &Tiers) -> bool {
    let seen = tierfs::presences(tiers);
    let initialised = audit::initialised(seen.values());
    let mut any = false;
    for tier in tiers.tiers.values() {
        let Some(presence) = seen.get(&tier.name) else {
            continue;
        };
        if let Some(absent) = audit::absence(tier, presence, initialised) {
            eprintln!(
                "error: tier-not-mounted: the disk of tier `{}` is not there: {}\nhint: {}",
                tier.name,
                absent.why,
                audit::absence_hint(tier)
            );
            any = true;
        }
    }
    any
}

/// `tierctl tiers status`.
fn tiers_status(
    settings: &Settings,
    tiers: &Tiers,
    summary: bool,
    (warning, critical): (u8, u8),
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let thresholds = usage::Thresholds::new(warning, critical)?;
    let spinner = WalkSpinner::new(settings);
    let measures = tiers
        .tiers
        .values()
        .map(|tier| {
            let fs = tierfs::fs_numbers(&tier.root);
            let dirs = (!summary && fs.is_ok())
                .then(|| {
                    spinner.tier(&tier.name);
                    tierfs::measure_dirs(&tier.root, &|n| spinner.advance(n)).ok()
                })
                .flatten();
            usage::TierMeasure {
                tier: tier.name.clone(),
                root: tier.root.clone(),
                kind: tier.kind.clone(),
                fs,
                dirs,
            }
        })
        .collect();
    spinner.finish();
    let status = usage::assess(measures, thresholds);
    emit(settings, &Report::TiersStatus(&status), out)?;
    let absent = report_absent_tiers(tiers);
    Ok(if absent {
        status.worst().exit_code().max(exit::FINDINGS)
    } else {
        status.worst().exit_code()
    })
}

/// A spinner on stderr while `tiers status` walks the tiers: only on a terminal, only with
/// human output.
struct WalkSpinner(Option<indicatif::ProgressBar>);

impl WalkSpinner {
    fn new(settings: &Settings) -> WalkSpinner {
        use std::io::IsTerminal;
        let show = std::io::stderr().is_terminal() && settings.format == Format::Human;
        WalkSpinner(show.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {msg}: {pos} entries ({per_sec})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        }))
    }

    fn tier(&self, name: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!("walking tier {name}"));
        }
    }

    fn advance(&self, entries: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(entries);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// `tierctl tiers link`.
fn tiers_link(
    settings: &Settings,
    tiers: &Tiers,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let _lock = (!dry_run)
        .then(|| crate::lock::for_tiers(settings))
        .transpose()?;
    let actions = layout::link_plan(tiers, &tierfs::link_targets(tiers));
    if !dry_run {
        for action in &actions {
            tierfs::apply_link(action)?;
        }
    }
    let refused = actions
        .iter()
        .any(|a| matches!(a, layout::LinkAction::Refuse { .. }));
    emit(
        settings,
        &Report::TiersLink(&LinkReport { actions, dry_run }),
        out,
    )?;
    Ok(if refused { exit::FINDINGS } else { exit::CLEAN })
}

/// `tierctl new TEMPLATE -o DIR`.
fn new_template(
    settings: &Settings,
    args: &crate::cli::NewArgs,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    if args.list {
        emit(settings, &Report::Templates(&template::TEMPLATES), out)?;
        return Ok(exit::CLEAN);
    }
    let (Some(name), Some(output)) = (&args.template, &args.output) else {
        return Err(Error::Template(template::TemplateError::Unknown {
            name: String::new(),
        }));
    };
    let tiers = load_tiers(settings)?;
    let chosen = template::find(name)?;
    let rendered = template::render(chosen, &tiers)?;
    let output = crate::compose::path::absolute(&settings.load.working_dir, output);
    let actions = layout::init_plan(
        &tierfs::dirs(
            rendered
                .dirs
                .iter()
                .map(|d| layout::WantedDir {
                    tier: d.tier.clone(),
                    path: d.path.clone(),
                    owner: d.owner,
                    owner_name: None,
                    mode: d.mode,
                    declared: true,
                })
                .collect(),
        ),
        &tierfs::roots(&tiers),
        false,
    );
    if !args.dry_run {
        tierfs::write_project(&output, &rendered.compose, &rendered.env)?;
        for action in &actions {
            tierfs::apply_dir(action)?;
        }
    }
    let blocked = actions
        .iter()
        .any(|a| matches!(a, layout::DirAction::Blocked { .. }));
    let created = NewProjectReport {
        template: name.clone(),
        output,
        rendered,
        actions,
        dry_run: args.dry_run,
    };
    emit(settings, &Report::NewProject(&created), out)?;
    Ok(if blocked { exit::FINDINGS } else { exit::CLEAN })
}

/// The command's name, for messages.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Audit => "audit",
        Command::Mounts => "mounts",
        Command::Plan { .. } => "plan",
        Command::Rewrite { .. } => "rewrite",
        Command::Vm(_) => "vm",
        Command::Migrate(_) => "migrate",
        Command::Verify(_) => "verify",
        Command::Tiers { command } => match command {
            TiersCommand::Validate { .. } => "tiers validate",
            TiersCommand::Init { .. } => "tiers init",
            TiersCommand::Status { .. } => "tiers status",
            TiersCommand::Link { .. } => "tiers link",
        },
        Command::New(_) => "new",
        Command::Completions { .. } => "completions",
        Command::Man { .. } => "man",
    }
}

/// What `tierctl migrate` was asked to do, once the journals were looked at.
enum MigrateTask {
    /// Continue the unfinished journal.
    Resume(std::path::PathBuf),
    /// Undo the latest journal.
    Rollback(std::path::PathBuf),
    /// Remove the source volumes a finished journal kept.
    Prune(std::path::PathBuf),
    /// Start a new migration of this plan.
    Start(crate::migrate::plan::MigratePlan),
}

/// `tierctl migrate`.
fn migrate(
    settings: &Settings,
    global: &GlobalArgs,
    args: &MigrateArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    use crate::migrate::journal::{self, Journal};
    use crate::migrate::run::Next;
    use crate::migrate::{self as run, ComposeCli, MigrateContext};

    let tiers = load_tiers(settings)?;
    let project = load::load(&settings.load, &DiskFiles)?;
    let lock = (!args.dry_run)
        .then(|| crate::lock::project(&project))
        .transpose()?;
    let state_dir = journal::dir(&project.dir);
    let task = match journaled_task(args, &state_dir)? {
        Some(task) => task,
        None => match planned_migration(settings, args, &project, &tiers, out)? {
            Some(plan) => MigrateTask::Start(plan),
            None => return Ok(exit::CLEAN),
        },
    };
    if let Some(what) = destructive(&task, args) {
        confirm(what, args)?;
    }
    // the compose project as it is on disk when a prune or discard checks who uses a volume
    let reload = || load::load(&settings.load, &DiskFiles).map_err(|e| e.to_string());
    let endpoint = resolve_endpoint(global, env)?;
    let engine = DockerEngine::connect(&endpoint)?;
    let image = args
        .helper_image
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| bind_probe::DEFAULT_HELPER_IMAGE.to_owned());
    let views = VerifyViews::new(&engine, &endpoint, &image)?;
    let ctx = MigrateContext {
        engine: &engine,
        image,
        compose: ComposeCli::find(Some(endpoint.host.clone())),
        roots: tiers.tiers.values().map(|t| t.root.clone()).collect(),
        quiet: args.quiet,
        views: Some(&views),
        pause: settings.migrate_pause.clone(),
        invocation: invocation(global),
        helper_cleanup: Some(helper_cleanup(&endpoint)),
        vm: vm_fix(&engine, &endpoint, env),
        force: args.force,
        stopped_at: Default::default(),
    };
    let outcome = match task {
        MigrateTask::Resume(path) => {
            let (mut journal, records) = Journal::open(&path)?;
            run::run(&ctx, &mut journal, &records)?
        }
        MigrateTask::Rollback(path) => {
            let (mut journal, records) = Journal::open(&path)?;
            let _watch = run::run::watch(&ctx, &path, &journal.id, Next::Rollback);
            run::rollback(&ctx, &mut journal, &records, args.discard_copy, &reload)?
        }
        MigrateTask::Prune(path) => {
            let (mut journal, records) = Journal::open(&path)?;
            let _watch = run::run::watch(&ctx, &path, &journal.id, Next::Prune);
            run::prune_sources(&ctx, &mut journal, &records, &reload)?
        }
        MigrateTask::Start(plan) => {
            let Some(lock) = lock.as_ref() else {
                return Err(Error::Migrate(run::MigrateError::Refused(
                    "a migration runs only under the project lock (not with --dry-run)".into(),
                )));
            };
            let targets: Vec<&std::path::Path> =
                plan.copies.iter().map(|c| c.job.target.as_path()).collect();
            tierfs::refuse_absent_tiers(&tiers, &targets)
                .map_err(crate::migrate::MigrateError::Refused)?;
            run::preflight(&ctx, &plan, lock)?;
            let id = format!(
                "{}-{}",
                crate::write::timestamp(std::time::SystemTime::now()),
                std::process::id()
            );
            let mut journal = Journal::create(&state_dir, &id, &plan)?;
            let records = journal::read(&journal.path)?;
            run::run(&ctx, &mut journal, &records)?
        }
    };
    emit(settings, &Report::migrated(&outcome, args.rollback), out)?;
    Ok(exit::CLEAN)
}

/// The global arguments that pick the project and the engine, as the user gave them (repeated
/// in the next command printed after an interrupt).
fn invocation(global: &GlobalArgs) -> Vec<String> {
    let mut words = Vec::new();
    let mut push = |flag: &str, value: String| words.extend([flag.to_owned(), value]);
    for file in &global.files {
        push("-f", file.display().to_string());
    }
    if let Some(name) = &global.project_name {
        push("-p", name.clone());
    }
    if let Some(dir) = &global.project_directory {
        push("--project-directory", dir.display().to_string());
    }
    for file in &global.env_files {
        push("--env-file", file.display().to_string());
    }
    for profile in &global.profiles {
        push("--profile", profile.clone());
    }
    for context in &global.contexts {
        push("--context", context.clone());
    }
    for host in &global.hosts {
        push("-H", host.clone());
    }
    words
}

/// Removes a journal's helper containers through a connection of its own (the interrupt
/// handler runs on another thread).
fn helper_cleanup(endpoint: &Endpoint) -> crate::migrate::HelperCleanup {
    let endpoint = endpoint.clone();
    std::sync::Arc::new(move |journal: &str| {
        use crate::engine::Containers;
        // bounded: an interrupted user waits for this
        let limit = std::time::Duration::from_secs(10);
        let Ok(engine) = DockerEngine::connect_within(&endpoint, limit) else {
            return;
        };
        let selector = crate::engine::Selector::Journal(journal.to_owned());
        for c in engine.list(&selector).unwrap_or_default() {
            let _ = engine.remove(&c.id);
        }
    })
}

/// The engine's VM and its shares, when it runs in one whose configuration can be read.
fn vm_fix(
    engine: &DockerEngine,
    endpoint: &Endpoint,
    env: &Environment,
) -> Option<crate::migrate::VmFix> {
    let info = engine.info().ok()?;
    let guess = endpoint::refine(
        endpoint::identify(endpoint),
        &info.operating_system,
        &info.name,
    );
    let view = view::read_view(guess, &DiskConfig, &env_vars(env), &home(env)).ok()?;
    view.shares.is_some().then(|| crate::migrate::VmFix {
        view,
        home: home(env),
    })
}

/// What the journals in `state_dir` ask for: `--rollback`, `--resume`, a pending
/// `--prune-source`; `None`: a new migration (refused while one is unfinished). Every refusal's
/// hint is `journal::next_commands` of the newest journal's phase.
fn journaled_task(
    args: &MigrateArgs,
    state_dir: &std::path::Path,
) -> Result<Option<MigrateTask>, Error> {
    use crate::migrate::MigrateError;
    use crate::migrate::journal::{self, JournalState, Phase};

    let last = journal::latest(state_dir);
    let last_state = match &last {
        Some(path) => JournalState::of(&journal::read(path)?),
        None => None,
    };
    let phase = journal::phase_of(last_state.as_ref());
    let refused = |message: String| {
        Error::Migrate(MigrateError::Blocked {
            message,
            hint: journal::next_commands(phase),
        })
    };
    let dir = state_dir.display();
    match (last, phase) {
        (None, _) if args.rollback || args.resume => {
            Err(refused(format!("no migration journal in `{dir}`")))
        }
        (Some(path), _) if args.rollback => Ok(Some(MigrateTask::Rollback(path))),
        (Some(path), Phase::Open) if args.resume => Ok(Some(MigrateTask::Resume(path))),
        (Some(path), Phase::RollingBack) if args.resume => Err(refused(format!(
            "a rollback of the migration journaled in `{}` began: it is finished, never resumed",
            path.display()
        ))),
        (Some(path), _) if args.resume => Err(refused(format!(
            "no unfinished migration journal in `{dir}` (the newest, `{}`, is not one to resume)",
            path.display()
        ))),
        (
            Some(path),
            Phase::Finished {
                sources_kept: true, ..
            },
        ) if args.remove_source => Ok(Some(MigrateTask::Prune(path))),
        (Some(path), Phase::Open | Phase::RollingBack) => Err(refused(format!(
            "an unfinished migration is journaled in `{}`",
            path.display()
        ))),
        _ => Ok(None),
    }
}

/// What a destructive task is about to do, for the confirmation; `None`: not destructive here
/// (a new migration asks after showing its plan).
fn destructive(task: &MigrateTask, args: &MigrateArgs) -> Option<&'static str> {
    match task {
        MigrateTask::Rollback(_) if args.discard_copy => Some(
            "roll back the migration (services stopped, data the services wrote on the tier copied back into the source, compose files restored, services started) and delete the copies it made",
        ),
        MigrateTask::Rollback(_) => Some(
            "roll back the migration: services stopped, data the services wrote on the tier copied back into the source, compose files restored, services started",
        ),
        MigrateTask::Prune(_) => Some("remove the source volumes the finished migration kept"),
        MigrateTask::Resume(_) | MigrateTask::Start(_) => None,
    }
}

/// `--yes`, or `Proceed? [y/N]` answered yes on a terminal; else refused, naming the exact
/// command with `--yes`.
fn confirm(what: &str, args: &MigrateArgs) -> Result<(), Error> {
    use crate::migrate::MigrateError;
    if args.yes {
        return Ok(());
    }
    eprintln!("tierctl migrate will {what}.");
    let with_yes = format!("{} --yes", crate::lock::command_line_of_this_process());
    match confirm_on_terminal() {
        Some(true) => Ok(()),
        Some(false) => Err(Error::Migrate(MigrateError::Blocked {
            message: "not confirmed: nothing was changed".into(),
            hint: format!("run `{with_yes}` to do it without asking"),
        })),
        None => Err(Error::Migrate(MigrateError::Blocked {
            message: format!("this would {what}, and stdin is not a terminal to confirm it"),
            hint: format!("nothing was changed; run `{with_yes}` to do it"),
        })),
    }
}

/// Plan a new migration and show it; `None` when there is nothing to do, it was only a dry
/// run, or (error) the user did not confirm.
fn planned_migration(
    settings: &Settings,
    args: &MigrateArgs,
    project: &crate::compose::model::ComposeProject,
    tiers: &crate::tiers::Tiers,
    out: &mut dyn Write,
) -> Result<Option<crate::migrate::plan::MigratePlan>, Error> {
    use crate::migrate::MigrateError;

    let facts = probe::paths(audit::host_paths(project));
    let plan = crate::plan::plan(&crate::plan::Input {
        project,
        tiers,
        facts: &facts,
        strict_binds: false,
        mode: audit::Mode::Migrate,
    });
    let patched = crate::rewrite::patch(&plan, project)?;
    crate::rewrite::check_reload(&plan, project, &settings.load, &DiskFiles, &patched)?;
    let migration = crate::migrate::plan::build(
        project,
        &plan,
        &patched,
        crate::migrate::plan::Options {
            remove_source: args.remove_source,
            pre_copy: !args.stop_first,
        },
    )
    .map_err(|u| {
        Error::Migrate(MigrateError::Refused(format!(
            "service `{}` mount `{}`: {}",
            u.service, u.target, u.reason
        )))
    })?;
    let preview = render(settings, &Report::MigratePlan(&migration))?;
    if migration.is_empty() || args.dry_run {
        out.write_all(preview.as_bytes()).map_err(Error::Output)?;
        return Ok(None);
    }
    if !args.yes {
        out.write_all(preview.as_bytes()).map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
        let refused = match confirm_on_terminal() {
            Some(true) => None,
            Some(false) => Some("not confirmed: nothing was changed"),
            None => Some(
                "migrate changes the disk: pass `--yes` to do it (or `--dry-run` to only look)",
            ),
        };
        if let Some(why) = refused {
            return Err(Error::Migrate(MigrateError::Refused(why.into())));
        }
    }
    Ok(Some(migration))
}

/// "verify mounts" of `migrate` through `tierctl verify`'s observation and checks.
struct VerifyViews<'a> {
    engine: &'a DockerEngine,
    class: crate::verify::EngineClass,
    helper_image: String,
}

impl<'a> VerifyViews<'a> {
    fn new(
        engine: &'a DockerEngine,
        endpoint: &Endpoint,
        helper_image: &str,
    ) -> Result<VerifyViews<'a>, Error> {
        let info = engine.info()?;
        let guess = endpoint::refine(
            endpoint::identify(endpoint),
            &info.operating_system,
            &info.name,
        );
        Ok(VerifyViews {
            engine,
            class: engine_class(&guess),
            helper_image: helper_image.to_owned(),
        })
    }
}

impl crate::migrate::MountViews for VerifyViews<'_> {
    fn view(&self, project: &str) -> Result<Vec<crate::migrate::ViewedMount>, String> {
        use crate::engine::observe::{self, ObserveOptions, Selection};
        let (containers, _) = observe::select(self.engine, &Selection::Project(project.into()))
            .map_err(|e| e.to_string())?;
        let options = ObserveOptions {
            helper_image: self.helper_image.clone(),
            pause: None,
        };
        let observed =
            observe::observe(self.engine, containers, &options).map_err(|e| e.to_string())?;
        Ok(observed
            .into_iter()
            .flat_map(|c| {
                let service = c.info.service().unwrap_or_default().to_owned();
                let container = c.info.name.clone();
                c.mounts.into_iter().map(move |o| {
                    let check = crate::verify::check(&o, self.class);
                    crate::migrate::ViewedMount {
                        container: container.clone(),
                        service: service.clone(),
                        target: o.target,
                        verdict: check.verdict.id().to_owned(),
                        reasons: check.reasons,
                    }
                })
            })
            .collect())
    }
}

/// Ask `Proceed? [y/N]` on stderr and read the answer from stdin; `None` when stdin is not a
/// terminal (a script must pass `--yes`).
fn confirm_on_terminal() -> Option<bool> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return None;
    }
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "Proceed? [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    if stdin.lock().read_line(&mut answer).is_err() {
        return Some(false);
    }
    Some(is_yes(&answer))
}

/// Whether a confirmation answer says yes (`y` or `yes`, any case).
fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_confirms() {
        for yes in ["y\n", "Y\n", "yes\n", " YES \r\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["\n", "n\n", "no\n", "yep\n", ""] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
