//! One function per subcommand: the only orchestration. Each command lives in its own file.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, Command, TiersCommand};
use crate::compose::load;
use crate::compose::model::ComposeProject;
use crate::engine::docker::DockerEngine;
use crate::error::{Error, exit};
use crate::probe::DiskFiles;
use crate::report::{self, Format, Report};
use crate::settings::{Environment, Settings};
use crate::stranded::NoEngine;
use crate::tiers::Tiers;

mod audit;
mod connect;
mod migrate;
mod new;
mod node_disks;
mod rewrite;
mod swarm;
mod swarm_move;
mod tiers;
mod tiers_move;
mod to_context;
mod verify;
mod vm;

use self::audit::{audit, mounts};
use self::connect::resolve_endpoint;
use self::migrate::migrate;
use self::new::new_template;
use self::rewrite::{RewriteMode, rewrite};
use self::tiers::tiers;
use self::verify::verify;
use self::vm::vm;

/// Runs the command; returns the exit code.
pub fn run(cli: Cli, env: &Environment, out: &mut dyn Write) -> Result<u8, Error> {
    let settings = Settings::resolve(&cli.global, env);
    // Refused before the command does anything: `tiers init` would change the disk first.
    let command = command_name(&cli.command);
    if settings.format == Format::Prometheus && !report::prometheus::COMMANDS.contains(&command) {
        return Err(report::FormatUnsupported { command }.into());
    }
    match cli.command {
        Command::Plan {
            strict_binds,
            swarm,
        } => {
            let mode = RewriteMode {
                swarm,
                ..RewriteMode::dry(strict_binds)
            };
            rewrite(
                &settings,
                &mode,
                (&cli.global, env),
                &|| Err(NoEngine::Offline),
                out,
            )
        }
        Command::Rewrite {
            write,
            strict_binds,
            force,
            helper_image,
            swarm,
        } => {
            let mode = RewriteMode {
                write,
                strict_binds,
                force,
                helper_image,
                swarm,
            };
            let engine = || -> Result<DockerEngine, NoEngine> {
                if settings.offline {
                    return Err(NoEngine::Offline);
                }
                let endpoint = resolve_endpoint(&cli.global, env)?;
                Ok(DockerEngine::connect(&endpoint)?)
            };
            rewrite(&settings, &mode, (&cli.global, env), &engine, out)
        }
        Command::Audit { swarm } => audit(&settings, (&cli.global, swarm), env, out),
        Command::Mounts => mounts(&settings, &cli.global, env, out),
        Command::Tiers { command } => tiers(&settings, command, (&cli.global, env), out),
        Command::New(args) => new_template(&settings, &args, out),
        Command::Vm(args) => vm(&settings, &cli.global, &args, env, out),
        Command::Migrate(args) => {
            if args.quiet {
                crate::migrate::progress::silence();
            }
            migrate(&settings, &cli.global, &args, env, out)
        }
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

/// Renders `report` in the chosen format and writes it to `out`.
fn emit(settings: &Settings, report: &Report, out: &mut dyn Write) -> Result<(), Error> {
    let text = render(settings, report)?;
    out.write_all(text.as_bytes()).map_err(Error::Output)
}

/// `report` in the chosen format.
fn render(settings: &Settings, report: &Report) -> Result<String, Error> {
    Ok(report::render(
        report,
        settings.format,
        &settings.paths,
        settings.color,
    )?)
}

/// Loads the compose project and says on stderr what compose warns about while loading it: each
/// variable interpolated as a blank string because it is not set, once, at its first use; and
/// each reason compose will refuse the project. (`audit` puts these in its report's notes
/// instead: [`audit::audit`].)
fn load_project(settings: &Settings) -> Result<ComposeProject, Error> {
    let project = load::load(&settings.load, &DiskFiles)?;
    for unset in &project.unset_variables {
        eprintln!("note: {}", unset.message());
    }
    for refusal in &project.refusals {
        eprintln!("warning: {}", refusal.message());
    }
    Ok(project)
}

fn load_tiers(settings: &Settings) -> Result<Tiers, Error> {
    load_tiers_on(settings, None)
}

/// tiers.yaml as it applies on `host`: that context's tier map when the file has one
/// (`Tiers::for_context`); the roots of a remote host are taken as written (never resolved on
/// this machine).
fn load_tiers_on(settings: &Settings, host: Option<&crate::host::Host>) -> Result<Tiers, Error> {
    let path = settings
        .tiers_path(|p| p.is_file())
        .ok_or_else(|| Error::TiersNotFound {
            searched: settings.tiers_candidates.clone(),
        })?;
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let remote = host.is_some_and(|h| h.remote);
    let real = |root: &std::path::Path| {
        if remote {
            return crate::tiers::RootOnDisk::as_written(root);
        }
        crate::fsx::root_on_disk(root)
    };
    let tiers = crate::tiers::load_resolved(path, &text, &real)?;
    Ok(match host {
        Some(host) => tiers.for_context(&host.context),
        None => tiers,
    })
}

/// The command's name, for messages.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Audit { .. } => "audit",
        Command::Mounts => "mounts",
        Command::Plan { .. } => "plan",
        Command::Rewrite { .. } => "rewrite",
        Command::Vm(_) => "vm",
        Command::Migrate(args) if args.check => "migrate --check",
        Command::Migrate(_) => "migrate",
        Command::Verify(_) => "verify",
        Command::Tiers { command } => match command {
            TiersCommand::Validate { .. } => "tiers validate",
            TiersCommand::Init { .. } => "tiers init",
            TiersCommand::Status { .. } => "tiers status",
            TiersCommand::Link { .. } => "tiers link",
            TiersCommand::Nodes { .. } => "tiers nodes",
            TiersCommand::Move { .. } => "tiers move",
            TiersCommand::Pool { .. } => "tiers pool",
        },
        Command::New(_) => "new",
        Command::Completions { .. } => "completions",
        Command::Man { .. } => "man",
    }
}
