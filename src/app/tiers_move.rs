//! `tierctl tiers move` and `tierctl tiers pool` (issue 25).

use std::io::Write;
use std::path::PathBuf;

use super::emit;
use crate::cli::PoolAction;
use crate::error::Error;
use crate::lock;
use crate::move_plan::{PoolReport, PoolRow, PoolState};
use crate::mover::pool_mount;
use crate::mover::{MoveOptions, PoolChoice};
use crate::report::Report;
use crate::settings::Settings;
use crate::tiers::Tiers;
use crate::tiers::pool::Pool;

/// `tiers move`'s arguments.
pub(super) struct MoveArgs {
    pub(super) pool: Option<String>,
    pub(super) dry_run: bool,
    pub(super) rate: Option<u64>,
    pub(super) max_files: Option<usize>,
    pub(super) rules: Vec<String>,
}

/// `tierctl tiers move`.
pub(super) fn tiers_move(
    settings: &Settings,
    tiers: &Tiers,
    args: MoveArgs,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let pool = one_pool(tiers, args.pool.as_deref())?;
    let state_dir = state_dir(settings, &pool.name);
    let _lock = (!args.dry_run)
        .then(|| lock::acquire(&format!("pool-{}", pool.name), &state_dir))
        .transpose()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let options = MoveOptions {
        state_dir,
        dry_run: args.dry_run,
        rate: args.rate,
        max_files: args.max_files,
        rules: args.rules,
        proc: PathBuf::from("/proc"),
        now,
        failpoints: settings.failpoints(),
    };
    let report = crate::mover::run(pool, &options)?;
    emit(settings, &Report::TiersMove(&report), out)?;
    Ok(report.exit_code())
}

/// Where a pool's lock and journal live: beside the tiers.yaml in use, `.tierctl/pools/NAME`.
fn state_dir(settings: &Settings, pool: &str) -> PathBuf {
    let dir = settings
        .tiers_path(|p| p.is_file())
        .and_then(std::path::Path::parent)
        .map_or_else(
            || settings.load.working_dir.clone(),
            std::path::Path::to_path_buf,
        );
    lock::state_dir(&dir).join("pools").join(pool)
}

/// The pool named, or the only one.
fn one_pool<'a>(tiers: &'a Tiers, name: Option<&str>) -> Result<&'a Pool, PoolChoice> {
    let known = || tiers.pools.iter().map(|p| p.name.clone()).collect();
    match name {
        Some(name) => tiers.pool(name).ok_or_else(|| PoolChoice::Unknown {
            name: name.to_owned(),
            known: known(),
        }),
        None => match tiers.pools.as_slice() {
            [] => Err(PoolChoice::None),
            [one] => Ok(one),
            _ => Err(PoolChoice::Ambiguous { known: known() }),
        },
    }
}

/// `tierctl tiers pool mount|unmount|status`.
pub(super) fn tiers_pool(
    settings: &Settings,
    tiers: &Tiers,
    action: PoolAction,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let (name, verb) = match &action {
        PoolAction::Mount { pool } => (pool, "mount"),
        PoolAction::Unmount { pool } => (pool, "unmount"),
        PoolAction::Status { pool } => (pool, "status"),
    };
    let pools: Vec<&Pool> = match name {
        Some(name) => vec![one_pool(tiers, Some(name))?],
        None if tiers.pools.is_empty() => return Err(PoolChoice::None.into()),
        None => tiers.pools.iter().collect(),
    };
    let rows = pools
        .into_iter()
        .map(|pool| {
            let state = match verb {
                "mount" => pool_mount::mount(pool).unwrap_or_else(|e| failed(&e)),
                "unmount" => pool_mount::unmount(pool).unwrap_or_else(|e| failed(&e)),
                _ => pool_mount::status(pool).unwrap_or_else(|e| PoolState::Failed {
                    error: e.to_string(),
                    hint: "run as root on the Linux host".into(),
                }),
            };
            PoolRow {
                pool: pool.name.clone(),
                mount: pool.mount.clone(),
                branches: pool
                    .branches
                    .iter()
                    .map(|b| (b.tier.clone(), b.path.clone()))
                    .collect(),
                create: pool.create.name().to_owned(),
                state,
            }
        })
        .collect();
    let report = PoolReport { action: verb, rows };
    emit(settings, &Report::TiersPool(&report), out)?;
    Ok(report.exit_code())
}

fn failed(error: &pool_mount::PoolMountError) -> PoolState {
    PoolState::Failed {
        error: error.to_string(),
        hint: error.hint(),
    }
}
