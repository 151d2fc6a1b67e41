//! The delta while the services are stopped: both trees listed (on the host or by a helper),
//! what may differ copied again, what was removed removed.

use std::path::PathBuf;

use crate::engine::MountSource;
use crate::migrate::copy::{self, CopyJob};
use crate::migrate::delta;
use crate::migrate::host_apply;
use crate::migrate::journal::{Detail, JournalState};
use crate::migrate::plan::MigrateStep;
use crate::migrate::tree::reach;
use crate::migrate::tree::reader::{HelperReader, HostReader, TreeReader};

use super::*;

/// The delta while the services are stopped: everything that may differ from the copy is
/// copied again, what was removed is removed.
pub(super) fn delta_copy(input: &StepInput<'_>, n: usize) -> StepResult {
    refuse_killed(input)?;
    let job = source_job(input, n);
    let since = last_pass(input.state, n);
    let listed = list(input, &job)?;
    let pass = delta::plan(&listed, since);
    let way = apply(input, &job, &pass, &listed, true)?;
    Ok((
        Detail::Delta {
            since: listed.began,
            copied: pass.copied,
            removed: pass.removed,
        },
        format!(
            "{} entries copied again ({} bytes), {} removed; {way}",
            pass.copied, pass.bytes, pass.removed
        ),
    ))
}

/// When the last applied pass of copy `n` began (0: no pass is journaled, copy all again).
pub(super) fn last_pass(state: &JournalState, n: usize) -> i64 {
    match (
        state.done.get(&MigrateStep::Delta(n).id()),
        state.done.get(&MigrateStep::PreCopy(n).id()),
    ) {
        (Some(Detail::Delta { since, .. }), _) | (_, Some(Detail::PreCopied { since, .. })) => {
            *since
        }
        _ => 0,
    }
}

/// Copy `n`'s job as the copy read it: from the seed volume when the volume was empty.
pub(super) fn source_job(input: &StepInput<'_>, n: usize) -> CopyJob {
    let mut job = input.plan.copies[n].job.clone();
    match input.state.done.get(&MigrateStep::Copy(n).id()) {
        Some(
            Detail::Seeded { volume }
            | Detail::Copied {
                seeded: Some(volume),
                ..
            },
        ) => job.source = MountSource::Volume(volume.clone()),
        _ => {
            if let Some(Detail::PreCopied {
                seeded: Some(volume),
                ..
            }) = input.state.done.get(&MigrateStep::PreCopy(n).id())
            {
                job.source = MountSource::Volume(volume.clone());
            }
        }
    }
    job
}

/// Both trees of a copy, listed on the host when it sees both as the engine does (and may
/// read them), else by the list helper ([`tree::reader`]).
pub(super) fn list(input: &StepInput<'_>, job: &CopyJob) -> Result<delta::Listed, StepError> {
    let engine = input.ctx.engine;
    if let Some(host) = HostReader::for_copy(engine, job)?
        && let Ok(listed) = host.listed()
    {
        return Ok(listed);
    }
    let verify = copy::verify_spec(job, &input.ctx.image, input.journal);
    let helper = HelperReader {
        engine,
        spec: &verify,
    };
    Ok(helper.listed()?)
}

/// Apply a delta: on the host when the services are stopped (`strict`), the host sees both
/// trees as the engine does and tierctl is root ([`host_apply`]); else with helpers (as many
/// runs as its argument lists need). A pass while the services run keeps the helper, which
/// sees only the two trees.
pub(super) fn apply(
    input: &StepInput<'_>,
    job: &CopyJob,
    pass: &delta::Delta,
    listed: &delta::Listed,
    strict: bool,
) -> Result<&'static str, StepError> {
    if pass.is_empty() {
        return Ok("nothing to apply");
    }
    if let (true, Some((source, target))) = (strict, host_copy_roots(input, job)?) {
        input.durable(Durable::HostCopy)?;
        host_apply::apply(&source, &target, pass).map_err(StepError::HostDelta)?;
        return Ok("applied on the host");
    }
    let devices = delta::has_devices(&listed.source);
    for args in delta::ops_args(pass) {
        let spec = copy::delta_spec(job, &input.ctx.image, input.journal, &args, strict, devices);
        run_helper(input, &spec)?;
    }
    Ok("applied by a helper")
}

/// Both trees of `job` as host paths when the host may copy between them itself
/// ([`reach::host_copies`]).
pub(super) fn host_copy_roots(
    input: &StepInput<'_>,
    job: &CopyJob,
) -> Result<Option<(PathBuf, PathBuf)>, StepError> {
    Ok(reach::host_copies(input.ctx.engine, job)?)
}
