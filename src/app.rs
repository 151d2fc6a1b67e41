//! One function per subcommand: the only orchestration.

use std::io::Write;

use clap::CommandFactory;

use crate::audit::{self, Severity};
use crate::cli::{Cli, Command, TiersCommand};
use crate::compose::load;
use crate::error::{Error, exit};
use crate::probe::{self, DiskFiles};
use crate::report::{self, Format};
use crate::settings::{Environment, Settings};
use crate::tiers::Tiers;
use crate::{layout, template, tierfs, usage};

/// Runs the command; returns the exit code.
pub fn run(cli: Cli, env: &Environment, out: &mut dyn Write) -> Result<u8, Error> {
    let settings = Settings::resolve(&cli.global, env);
    match cli.command {
        Command::Audit => audit(&settings, out),
        Command::Tiers { command } => tiers(&settings, command, out),
        Command::New(args) => new_template(&settings, &args, out),
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
        Format::Prometheus => return Err(Error::FormatUnsupported { command: "audit" }),
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
    let verdicts = layout::validate(tiers, &observed);
    let text = match settings.format {
        _ if options.quiet => String::new(),
        Format::Human => report::human::tiers_validate(&verdicts, options.verbose),
        Format::Json => report::json::tiers_validate(&tiers.file, &verdicts),
        Format::Prometheus => {
            return Err(Error::FormatUnsupported {
                command: "tiers validate",
            });
        }
    };
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    Ok(layout::exit_code(&verdicts))
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
    if !dry_run {
        for action in &actions {
            tierfs::apply_dir(action)?;
        }
    }
    let text = match settings.format {
        Format::Human => report::human::tiers_init(&actions, dry_run),
        Format::Json => report::json::tiers_init(&actions, dry_run),
        Format::Prometheus => {
            return Err(Error::FormatUnsupported {
                command: "tiers init",
            });
        }
    };
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    let held_back = actions.iter().any(|a| {
        matches!(
            a,
            layout::DirAction::Leave { .. } | layout::DirAction::Blocked { .. }
        )
    });
    Ok(if held_back {
        exit::FINDINGS
    } else {
        exit::CLEAN
    })
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
    let progress = Progress::new(settings);
    let measures = tiers
        .tiers
        .values()
        .map(|tier| {
            let fs = tierfs::fs_numbers(&tier.root);
            let dirs = (!summary && fs.is_ok())
                .then(|| {
                    progress.tier(&tier.name);
                    tierfs::measure_dirs(&tier.root, &|n| progress.advance(n)).ok()
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
    progress.finish();
    let status = usage::assess(measures, thresholds);
    let text = match settings.format {
        Format::Human => report::human::tiers_status(&status),
        Format::Json => report::json::tiers_status(&status),
        Format::Prometheus => report::prometheus::tiers_status(&status),
    };
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    Ok(status.worst().exit_code())
}

/// Progress of the usage walk on stderr: only on a terminal.
struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    fn new(settings: &Settings) -> Progress {
        use std::io::IsTerminal;
        let show = std::io::stderr().is_terminal() && settings.format == Format::Human;
        Progress(show.then(|| {
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
    let actions = layout::link_plan(tiers, &tierfs::link_targets(tiers));
    if !dry_run {
        for action in &actions {
            tierfs::apply_link(action)?;
        }
    }
    let text = match settings.format {
        Format::Human => report::human::tiers_link(&actions, dry_run),
        Format::Json => report::json::tiers_link(&actions, dry_run),
        Format::Prometheus => {
            return Err(Error::FormatUnsupported {
                command: "tiers link",
            });
        }
    };
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    let refused = actions
        .iter()
        .any(|a| matches!(a, layout::LinkAction::Refuse { .. }));
    Ok(if refused { exit::FINDINGS } else { exit::CLEAN })
}

/// `tierctl new TEMPLATE -o DIR`.
fn new_template(
    settings: &Settings,
    args: &crate::cli::NewArgs,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    if args.list {
        let text = report::human::templates(&template::TEMPLATES);
        out.write_all(text.as_bytes()).map_err(Error::Output)?;
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
    let output = crate::compose::load::absolute(&settings.load.working_dir, output);
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
    let text = report::human::new_project(name, &output, &rendered, &actions, args.dry_run);
    out.write_all(text.as_bytes()).map_err(Error::Output)?;
    let blocked = actions
        .iter()
        .any(|a| matches!(a, layout::DirAction::Blocked { .. }));
    Ok(if blocked { exit::FINDINGS } else { exit::CLEAN })
}
