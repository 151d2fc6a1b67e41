//! One function per subcommand: the only orchestration.

use std::io::Write;

use clap::CommandFactory;

use crate::audit::{self, Severity};
use crate::cli::{Cli, Command};
use crate::compose::load;
use crate::error::{Error, exit};
use crate::probe::{self, DiskFiles};
use crate::report::{self, Format};
use crate::settings::{Environment, Settings};
use crate::tiers::Tiers;

/// Runs the command; returns the exit code.
pub fn run(cli: Cli, env: &Environment, out: &mut dyn Write) -> Result<u8, Error> {
    let settings = Settings::resolve(&cli.global, env);
    match cli.command {
        Command::Audit => audit(&settings, out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "tierctl", out);
            Ok(exit::CLEAN)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command())
                .render(out)
                .map_err(Error::Output)?;
            Ok(exit::CLEAN)
        }
    }
}

/// `tierctl audit`.
fn audit(settings: &Settings, out: &mut dyn Write) -> Result<u8, Error> {
    let tiers = load_tiers(settings)?;
    let project = load::load(&settings.load, &DiskFiles)?;
    let facts = probe::paths(audit::host_paths(&project));
    let findings = audit::audit(&audit::Context {
        project: &project,
        tiers: &tiers,
        facts: &facts,
    });
    let text = match settings.format {
        Format::Human => {
            report::human::audit(&project.name, &findings, &settings.paths, settings.color)
        }
        Format::Json => report::json::audit(&project.name, &findings, &settings.paths),
    };
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    let serious = findings.iter().any(|f| f.severity >= Severity::Warning);
    Ok(if serious { exit::FINDINGS } else { exit::CLEAN })
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
    Ok(crate::tiers::load(path, &text)?)
}
