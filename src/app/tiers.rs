//! `tierctl tiers`.

use std::io::Write;

use super::connect::{connect, helper_image};
use super::{emit, load_tiers, load_tiers_on};
use crate::audit::{self};
use crate::cli::GlobalArgs;
use crate::cli::TiersCommand;
use crate::engine::host_fs;
use crate::error::{Error, exit};
use crate::report::reports::{InitReport, LinkReport, ValidateReport};
use crate::report::{Format, Report};
use crate::settings::Environment;
use crate::settings::Settings;
use crate::tiers::Tiers;
use crate::{layout, lock, tierfs, usage};

/// `tierctl tiers ...`.
pub(super) fn tiers(
    settings: &Settings,
    command: TiersCommand,
    (global, env): (&GlobalArgs, &Environment),
    out: &mut dyn Write,
) -> Result<u8, Error> {
    match command {
        TiersCommand::Status {
            warning,
            critical,
            swarm: true,
            ..
        } => {
            let thresholds = crate::usage::Thresholds::new(warning, critical)?;
            let asked = super::node_disks::Asked::Status;
            return super::node_disks::node_disks(settings, (global, env), asked, thresholds, out);
        }
        TiersCommand::Validate {
            quiet, swarm: true, ..
        } => {
            let thresholds = crate::usage::Thresholds::new(75, 85)?;
            let asked = super::node_disks::Asked::Validate { quiet };
            return super::node_disks::node_disks(settings, (global, env), asked, thresholds, out);
        }
        _ => {}
    }
    if let TiersCommand::Status {
        summary,
        warning,
        critical,
        ..
    } = command
        && (!global.contexts.is_empty() || !global.hosts.is_empty())
    {
        return tiers_status_on(settings, (global, env), (warning, critical), summary, out);
    }
    let tiers = load_tiers(settings)?;
    match command {
        TiersCommand::Validate {
            verbose,
            quiet,
            max_depth,
            max_entries,
            ..
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
            ..
        } => tiers_status(settings, &tiers, summary, (warning, critical), out),
        TiersCommand::Link { dry_run } => tiers_link(settings, &tiers, dry_run, out),
        TiersCommand::Nodes { write, assign } => {
            super::swarm::tiers_nodes(settings, &tiers, (write, &assign), (global, env), out)
        }
        TiersCommand::Move {
            pool,
            dry_run,
            rate,
            max_files,
            rules,
        } => super::tiers_move::tiers_move(
            settings,
            &tiers,
            super::tiers_move::MoveArgs {
                pool,
                dry_run,
                rate,
                max_files,
                rules,
            },
            out,
        ),
        TiersCommand::Pool { action } => {
            super::tiers_move::tiers_pool(settings, &tiers, action, out)
        }
    }
}

pub(super) struct ValidateOptions {
    pub(super) verbose: bool,
    pub(super) quiet: bool,
    pub(super) limits: tierfs::WalkLimits,
}

/// `tierctl tiers validate`.
pub(super) fn tiers_validate(
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
pub(super) fn tiers_init(
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
    let markers = marker_actions(tiers, &actions, dry_run)?;
    let held_back = markers.iter().any(layout::MarkerAction::held_back)
        || actions.iter().any(|a| {
            matches!(
                a,
                layout::DirAction::Leave { .. } | layout::DirAction::Blocked { .. }
            )
        });
    emit(
        settings,
        &Report::TiersInit(&InitReport {
            actions,
            markers,
            dry_run,
        }),
        out,
    )?;
    Ok(if held_back {
        exit::FINDINGS
    } else {
        exit::CLEAN
    })
}

/// Decides the identity marker of every tier root and, unless `dry_run`, writes the ones due.
/// A `mount: true` tier whose root is not a mount point gets none (it would mark the system
/// disk); nor does a root that is not there.
pub(super) fn marker_actions(
    tiers: &Tiers,
    dirs: &[layout::DirAction],
    dry_run: bool,
) -> Result<Vec<layout::MarkerAction>, Error> {
    let mut markers = Vec::new();
    for tier in tiers.tiers.values() {
        let seen = tierfs::presence(&tier.root);
        let will_exist = dirs.iter().any(
            |a| matches!(a, layout::DirAction::Create { path, .. } if path.starts_with(&tier.root)),
        );
        let mut marker = layout::marker_plan(tier, &seen, dry_run && will_exist);
        if !dry_run && marker.kind == layout::MarkerKind::Write && !tierfs::write_marker(tier)? {
            // written by someone else since it was looked at
            marker.kind = layout::MarkerKind::Keep;
        }
        markers.push(marker);
    }
    Ok(markers)
}

/// One error and hint on stderr per tier whose disk is not there.
fn say_absent_tiers(absent: &[audit::TierCheck]) {
    for tier in absent {
        if let Some((absence, hint)) = &tier.absent {
            eprintln!(
                "error: tier-not-mounted: the disk of tier `{}` is not there: {}\nhint: {hint}",
                tier.tier, absence.why
            );
        }
    }
}

/// `tierctl tiers status --context NAME` (or `-H`): the tiers on that engine's host, with that
/// context's tier map. On another machine the filesystem numbers come from a helper container
/// there and the directory walk is left out (as `--summary`).
fn tiers_status_on(
    settings: &Settings,
    (global, env): (&GlobalArgs, &Environment),
    (warning, critical): (u8, u8),
    summary: bool,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let connected = connect(global, env)?;
    let tiers = load_tiers_on(settings, Some(&connected.host))?;
    if !connected.host.remote {
        let mut status = measure_here(settings, &tiers, summary, (warning, critical))?;
        status.host = Some(connected.host);
        return finish_status(settings, &tiers, status, out);
    }
    let engine = connected.engine.as_ref().expect("connect asks the engine");
    let roots: Vec<std::path::PathBuf> = tiers.tiers.values().map(|t| t.root.clone()).collect();
    let numbers = host_fs::fs_numbers(engine, &helper_image(env), &roots)?;
    let measures = tiers
        .tiers
        .values()
        .zip(numbers)
        .map(|(tier, fs)| usage::TierMeasure {
            tier: tier.name.clone(),
            root: tier.root.clone(),
            kind: tier.kind.clone(),
            fs,
            dirs: None,
        })
        .collect();
    let mut status = usage::assess(measures, usage::Thresholds::new(warning, critical)?);
    status.host = Some(connected.host);
    emit(settings, &Report::TiersStatus(&status), out)?;
    Ok(status.worst().exit_code())
}

/// `tierctl tiers status`.
pub(super) fn tiers_status(
    settings: &Settings,
    tiers: &Tiers,
    summary: bool,
    (warning, critical): (u8, u8),
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let status = measure_here(settings, tiers, summary, (warning, critical))?;
    finish_status(settings, tiers, status, out)
}

/// Each tier measured on this machine.
fn measure_here(
    settings: &Settings,
    tiers: &Tiers,
    summary: bool,
    (warning, critical): (u8, u8),
) -> Result<usage::StatusReport, Error> {
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
    Ok(usage::assess(measures, thresholds))
}

/// Render the status; tiers whose disk is not there (on this machine) raise the exit code.
fn finish_status(
    settings: &Settings,
    tiers: &Tiers,
    mut status: usage::StatusReport,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let seen = tierfs::presences(tiers);
    status.not_mounted = audit::tier_checks(tiers, &seen, |_| true)
        .into_iter()
        .filter(|t| t.absent.is_some())
        .collect();
    emit(settings, &Report::TiersStatus(&status), out)?;
    say_absent_tiers(&status.not_mounted);
    Ok(if status.not_mounted.is_empty() {
        status.worst().exit_code()
    } else {
        status.worst().exit_code().max(exit::FINDINGS)
    })
}

/// A spinner on stderr while `tiers status` walks the tiers: only on a terminal, only with
/// human output.
pub(super) struct WalkSpinner(Option<indicatif::ProgressBar>);

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

/// The lock `tiers link` takes: the compose project's of this directory when one loads, else
/// one beside the tiers.yaml in use (two `tiers link` runs on one storage map contend).
fn link_lock(settings: &Settings) -> Result<lock::ProjectLock, lock::LockError> {
    if let Ok(loaded) = crate::compose::load::load(&settings.load, &crate::probe::DiskFiles) {
        return lock::project(&loaded);
    }
    let dir = settings
        .tiers_path(|p| p.is_file())
        .and_then(std::path::Path::parent)
        .map_or_else(
            || settings.load.working_dir.clone(),
            std::path::Path::to_path_buf,
        );
    let name = dir
        .file_name()
        .map_or_else(|| "tiers".to_owned(), |n| n.to_string_lossy().into_owned());
    lock::acquire(&name, &lock::state_dir(&dir))
}

/// `tierctl tiers link`.
pub(super) fn tiers_link(
    settings: &Settings,
    tiers: &Tiers,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let _lock = (!dry_run).then(|| link_lock(settings)).transpose()?;
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
