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
        Command::Plan { strict_binds } => rewrite(&settings, false, strict_binds, out),
        Command::Rewrite {
            write,
            strict_binds,
        } => rewrite(&settings, write, strict_binds, out),
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

/// `tierctl plan` and `tierctl rewrite [--write]`.
fn rewrite(
    settings: &Settings,
    write: bool,
    strict_binds: bool,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let tiers = load_tiers(settings)?;
    let project = load::load(&settings.load, &DiskFiles)?;
    let texts = read_texts(&project)?;
    let facts = probe::paths(audit::host_paths(&project));
    let plan = crate::plan::plan(&crate::plan::Input {
        project: &project,
        tiers: &tiers,
        facts: &facts,
        texts: &texts,
        strict_binds,
    });
    let patched = crate::rewrite::patch(&plan, &texts)?;
    crate::rewrite::verify(&plan, &project, &settings.load, &DiskFiles, &patched)?;
    let mut written = Vec::new();
    if write && !patched.is_empty() {
        let files: Vec<crate::write::FileWrite> = patched
            .iter()
            .map(|p| crate::write::FileWrite {
                path: p.file.clone(),
                read_hash: crate::write::hash(&p.old),
                text: p.new.clone(),
            })
            .collect();
        let stamp = crate::write::timestamp(std::time::SystemTime::now());
        let backups = crate::write::write_all(&files, &stamp)?;
        written = patched
            .iter()
            .zip(backups)
            .map(|(p, b)| (settings.paths.show(&p.file), settings.paths.show(&b)))
            .collect();
    }
    let text = match settings.format {
        Format::Human => report::plan::human(
            &project.name,
            &plan,
            &patched,
            &written,
            &settings.paths,
            settings.color,
        ),
        Format::Json => report::json::plan(
            &project.name,
            &plan,
            &patched,
            !written.is_empty(),
            &settings.paths,
        ),
    };
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    Ok(exit::CLEAN)
}

/// The text of every compose file and env file of the project.
fn read_texts(
    project: &crate::compose::model::ComposeProject,
) -> Result<std::collections::BTreeMap<std::path::PathBuf, String>, Error> {
    let env_files = project
        .environment
        .iter()
        .filter_map(|(_, v)| match &v.source {
            crate::compose::env::VarSource::EnvFile { path, .. } => Some(path.clone()),
            crate::compose::env::VarSource::Environment => None,
        });
    let mut texts = std::collections::BTreeMap::new();
    for path in project.files.iter().cloned().chain(env_files) {
        if texts.contains_key(&path) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        texts.insert(path, text);
    }
    Ok(texts)
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
