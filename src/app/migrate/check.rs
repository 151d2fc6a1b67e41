//! `tierctl migrate --check`: the copies of the newest (finished) journal checked against the
//! manifests it kept, on the engine `--context`/`-H` names (or the default one).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::super::connect::resolve_endpoint;
use super::super::emit;
use super::to_context;
use crate::cli::{GlobalArgs, MigrateArgs};
use crate::error::{Error, exit};
use crate::migrate::check::{self, CheckInput, Subset};
use crate::migrate::journal;
use crate::report::Report;
use crate::settings::{Environment, Settings};

/// `tierctl migrate --check [--subset PCT]`: exit 0 clean, 1 a copy differs (or was not
/// checked), 2 the check could not be made.
pub(super) fn check(
    settings: &Settings,
    global: &GlobalArgs,
    args: &MigrateArgs,
    env: &Environment,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    let project = super::super::load_project(settings)?;
    let now = SystemTime::now();
    // another subset each day, unless a seed is given
    let seed = match &args.subset_seed {
        Some(seed) => seed.clone(),
        None => crate::write::timestamp(now)[..8].to_owned(),
    };
    let subset = args
        .subset
        .as_deref()
        .map(|text| Subset::parse(text, &seed))
        .transpose()?;
    let on = super::engine_host(settings, global, env)?;
    let endpoint = resolve_endpoint(global, env)?;
    let mut connected = None;
    let engine = on.engine(&endpoint, &mut connected)?;
    let image = to_context::helper_image(args);
    let report = check::check(&CheckInput {
        engine,
        image: &image,
        state_dir: &journal::dir(&project.dir),
        subset: subset.as_ref(),
        now: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    })?;
    emit(settings, &Report::Check(&report), out)?;
    Ok(if report.clean() {
        exit::CLEAN
    } else {
        exit::FINDINGS
    })
}
