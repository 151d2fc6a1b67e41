//! One function per migrate step. Each returns what the journal records ([`Detail`]) and a line
//! for the report, or why it failed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::MigrateContext;
use super::compose_cli;
use super::copy::{self, CopyJob, SourceSize};
use super::delta;
use super::host_apply;
use super::host_measure;
use super::journal::{self, Detail, JournalState};
use super::late_writes;
use super::mounts::mount_problems;
use super::plan::{ExpectedMount, MigratePlan, MigrateStep, Seed};
use super::progress::{self, ticking};
use super::stop_order;
use super::tier_dirs;
use super::tree;
use super::tree::helper;
use super::tree::listing;
use super::tree::manifest::{self, Rules};
use super::tree::reader::{HelperReader, HostReader, TreeReader};
use crate::engine::{
    ContainerState, Containers, Engine, EngineError, HelperSpec, MountSource, MountSpec, Selector,
};
use crate::write::{self, FileWrite};

/// What a step runs with.
pub struct StepInput<'a> {
    /// The context.
    pub ctx: &'a MigrateContext<'a>,
    /// The plan.
    pub plan: &'a MigratePlan,
    /// What the journal says is done.
    pub state: &'a JournalState,
    /// The journal id (labels helpers, names backups and seed volumes).
    pub journal: &'a str,
    /// The step's label for progress.
    pub label: &'a str,
}

/// What a step left for the journal and its line for the report; or why it failed.
pub type StepResult = Result<(Detail, String), String>;

fn engine_error(e: EngineError) -> String {
    e.to_string()
}

/// Run one step; `retried`: its start was journaled before (a resumed run).
pub fn execute(input: &StepInput<'_>, step: &MigrateStep, retried: bool) -> StepResult {
    match step {
        MigrateStep::Stop => {
            input.ctx.stopped_at.set(Some(Instant::now()));
            stop(input)
        }
        MigrateStep::PreVerify(n) => pre_verify(input, *n),
        MigrateStep::CreateDir(n) => create_dir(input, *n, retried),
        MigrateStep::Copy(n) => copy_data(input, *n, retried),
        MigrateStep::PreCopy(n) => pre_copy(input, *n, retried),
        MigrateStep::Delta(n) => delta_copy(input, *n),
        MigrateStep::Verify(n) => verify_copy(input, *n, retried),
        MigrateStep::Rewrite => rewrite(input),
        MigrateStep::Start => start(input),
        MigrateStep::VerifyMounts => verify_mounts(input),
        MigrateStep::RemoveSource(n) => remove_source(input, *n),
    }
}

/// The plan's services that run now (one name per service), as the stop step finds them; the
/// step loop journals them before the stop step stops anything.
pub fn running_services(
    ctx: &MigrateContext<'_>,
    plan: &MigratePlan,
) -> Result<Vec<String>, String> {
    let containers = ctx
        .engine
        .list(&Selector::Project(plan.project.clone()))
        .map_err(engine_error)?;
    let mut running = Vec::new();
    for c in containers.iter().filter(|c| c.running) {
        if let Some(service) = c.service.as_ref().filter(|s| plan.services.contains(s))
            && !running.contains(service)
        {
            running.push(service.clone());
        }
    }
    Ok(running)
}

/// Stop the plan's running services, each with its grace period ([`stop_containers`]). The
/// services to start again are those running now plus those journaled running before (a run
/// killed during the stop left some stopped already).
pub fn stop(input: &StepInput<'_>) -> StepResult {
    let (ctx, plan) = (input.ctx, input.plan);
    let at_ms = now_ms();
    let bar = progress::bar(input.label.to_owned());
    let stopped = stop_plan_services(ctx.engine, plan).map_err(engine_error)?;
    let mut running: Vec<String> = input.state.running_before.clone();
    for service in stopped {
        if !running.contains(&service) {
            running.push(service);
        }
    }
    bar.finish_and_clear();
    let result = format!("stopped: {}", list_or_none(&running));
    Ok((
        Detail::Stopped {
            running,
            at_ms: Some(at_ms),
        },
        result,
    ))
}

/// Stop the running containers of the plan's services ([`stop_containers`]); the services
/// stopped, in stop order.
pub fn stop_plan_services(
    engine: &dyn Engine,
    plan: &MigratePlan,
) -> Result<Vec<String>, EngineError> {
    let ours: Vec<ContainerState> = engine
        .list(&Selector::Project(plan.project.clone()))?
        .into_iter()
        .filter(|c| {
            c.running
                && c.service
                    .as_ref()
                    .is_some_and(|s| plan.services.contains(s))
        })
        .collect();
    stop_containers(engine, &ours, plan)
}

/// Stop `containers` as compose would: dependents before what they need
/// ([`stop_order::layers`] of the plan's `needs`), the containers of one layer at once, each
/// with its service's grace period (a container of no service: the plan's default, first);
/// the services stopped, in stop order.
pub fn stop_containers(
    engine: &dyn Containers,
    containers: &[ContainerState],
    plan: &MigratePlan,
) -> Result<Vec<String>, EngineError> {
    let mut services: Vec<String> = Vec::new();
    for s in containers.iter().filter_map(|c| c.service.as_ref()) {
        if !services.contains(s) {
            services.push(s.clone());
        }
    }
    let unnamed: Vec<(&str, u32)> = containers
        .iter()
        .filter(|c| c.service.is_none())
        .map(|c| (c.id.as_str(), plan.grace_secs))
        .collect();
    if !unnamed.is_empty() {
        engine.stop(&unnamed)?;
    }
    let mut stopped = Vec::new();
    for layer in stop_order::layers(&services, &plan.needs) {
        let batch: Vec<(&str, u32)> = containers
            .iter()
            .filter(|c| c.service.as_ref().is_some_and(|s| layer.contains(s)))
            .map(|c| {
                (
                    c.id.as_str(),
                    plan.grace_of(c.service.as_deref().unwrap_or_default()),
                )
            })
            .collect();
        engine.stop(&batch)?;
        stopped.extend(layer);
    }
    Ok(stopped)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn create_dir(input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    let target = &input.plan.copies[n].job.target;
    tier_dirs::create(input.ctx, target, input.journal, retried)
}

fn run_helper(input: &StepInput<'_>, spec: &HelperSpec) -> Result<String, String> {
    input.ctx.engine.run_to_end(spec).map_err(engine_error)
}

/// The size of `job`'s source: on the host when tierctl may copy there and the host sees the
/// source as the engine does ([`host_measure::size`]), else by the measure helper.
fn measure(input: &StepInput<'_>, job: &CopyJob) -> Result<SourceSize, String> {
    if host_apply::may_apply()
        && let Some(source) = input
            .ctx
            .engine
            .host_path(&job.source)
            .map_err(engine_error)?
    {
        return host_measure::size(&source)
            .map_err(|e| format!("measuring `{}` on the host: {e}", source.display()));
    }
    let spec = copy::measure_spec(job, &input.ctx.image, input.journal);
    Ok(copy::parse_size(&run_helper(input, &spec)?).unwrap_or_default())
}

/// What a first copy made: the source it read (the seed volume when the volume was empty),
/// its size, the seed volume, the helper's clock when it began, and what was known of the
/// source (a copy while the services are stopped hashes the source on the host meanwhile).
struct Filled {
    job: CopyJob,
    size: SourceSize,
    seeded: Option<String>,
    began: i64,
    known: Option<tree::Known>,
    /// The target as the copy on the host read it right after copying, while it synced.
    copy_read: Option<manifest::Manifest>,
}

/// Copy volume `n` into its target (emptied first when the step is `retried`: a killed or
/// failed run may have left a partial copy); `running`: the services run, so entries may change
/// or vanish under the copy. A first run copies into what `create` passed empty, without
/// looking again (on another machine that look is a helper run); something written there
/// since is not wiped: the verify names it.
fn fill(input: &StepInput<'_>, n: usize, running: bool, retried: bool) -> Result<Filled, String> {
    let (ctx, journal) = (input.ctx, input.journal);
    let copy = &input.plan.copies[n];
    let mut job = copy.job.clone();
    let mut seeded = None;
    if retried {
        // not empty here means this journal's own partial copy: `create` passed it empty
        let facts = tier_dirs::facts_of(ctx, &job.target)?;
        if facts.exists && !facts.empty {
            tier_dirs::wipe(ctx, &job.target, journal)?;
        }
    }
    if !running && let Some(filled) = measured_copy(input, n, &job)? {
        return Ok(filled);
    }
    let mut size = measure(input, &job)?;
    // an empty volume gets what a fresh one would have: the image's content
    if let (Some(seed), true) = (&copy.seed, size.entries <= 1) {
        let volume = seed_volume(journal, n);
        ctx.engine
            .populate(&seed_spec(seed, &volume, journal))
            .map_err(engine_error)?;
        job.source = MountSource::Volume(volume.clone());
        size = measure(input, &job)?;
        seeded = Some(volume);
    }
    let (spec, after) = copy_helper(input, &job, running, size.devices)?;
    let (output, known, copy_read) = copy_with_progress(input, &job, &spec, size.bytes, running)?;
    let printed = match after {
        Some(roots) => keep_after_copy(input, n, &output, roots)?,
        None => output.as_str(),
    };
    let errors = copy::pre_copy_errors(printed);
    if running && !errors.is_empty() {
        return Err(format!("the pre-copy failed: {}", errors.join("; ")));
    }
    let began = copy::parse_clock(printed).unwrap_or(0);
    Ok(Filled {
        job,
        size,
        seeded,
        began,
        known,
        copy_read,
    })
}

/// What a copy printed (its clock first), what was known of the source, and the target as a
/// copy on the host read it back.
type Copied = (String, Option<tree::Known>, Option<manifest::Manifest>);

/// Run the copy of `job` (by the helper `spec`, or on the host when the services are stopped
/// and the host sees both trees: files in parallel) with a progress bar of `bytes`; while the
/// services are stopped, hash the source on the host meanwhile (one read of the source from
/// disk), so the verify reads only what changed since.
fn copy_with_progress(
    input: &StepInput<'_>,
    job: &CopyJob,
    spec: &HelperSpec,
    bytes: u64,
    running: bool,
) -> Result<Copied, String> {
    let bar = progress::bytes_bar(input.label.to_owned(), bytes);
    let here = input.ctx.elsewhere.is_none();
    let on_host = match running {
        true => None,
        false => host_copy_roots(input, job)?,
    };
    // the source as the copy on the host reads it, else as the engine names it
    let source = match (running, &on_host) {
        (true, _) => None,
        (false, Some((from, _))) => Some(from.clone()),
        (false, None) => input.ctx.engine.host_path(&job.source).ok().flatten(),
    };
    let (result, known) = std::thread::scope(|scope| {
        let hashing = source.as_ref().map(|path| {
            scope.spawn(move || {
                let none = tree::Known::default();
                tree::read_known(path, manifest::Digest::Blake3, &AtomicU64::new(0), &none)
            })
        });
        let result = ticking(
            Duration::from_millis(500),
            || bar.set_position(copied_bytes(here, &job.target)),
            || match &on_host {
                // the copy is hashed back while it syncs: the verify then reads only the source
                Some((from, to)) => host_apply::copy_all_reading(from, to, || {
                    tree::read(to, manifest::Digest::Blake3, &AtomicU64::new(0)).ok()
                })
                .map(|read| (format!("{}\n", now_ms() / 1000), read))
                .map_err(|e| format!("the copy on the host failed: {e}")),
                None => run_helper(input, spec).map(|out| (out, None)),
            },
        );
        let known = hashing
            .and_then(|h| h.join().ok())
            .and_then(Result::ok)
            .map(|(_, known)| known);
        (result, known)
    });
    bar.finish_and_clear();
    let (output, copy_read) = result?;
    Ok((output, known, copy_read))
}

/// Bytes in `target` so far, for a copy's progress bar; 0 unless `here`: a target on another
/// machine (the engine's host, [`MigrateContext::elsewhere`]) is never read here.
fn copied_bytes(here: bool, target: &Path) -> u64 {
    if here {
        progress::tree_bytes(target)
    } else {
        0
    }
}

/// On a VM (the host reads neither tree, see [`copy_helper`]) with the services stopped: one
/// helper container measures the source, copies it and reads both trees
/// ([`copy::measured_copy_spec`] in [`helper::after_copy`]); `None` when that does not
/// apply, or when the measure says the copy must wait (device files, or an empty volume the
/// image seeds): nothing was copied, the usual measure and copy follow.
fn measured_copy(input: &StepInput<'_>, n: usize, job: &CopyJob) -> Result<Option<Filled>, String> {
    let sides = [job.source.clone(), MountSource::Bind(job.target.clone())];
    let Some(roots) = tree::after_copy_roots(input.ctx.engine, &sides).map_err(engine_error)?
    else {
        return Ok(None);
    };
    let seed = input.plan.copies[n].seed.is_some();
    let copy = copy::measured_copy_spec(job, &input.ctx.image, input.journal, seed);
    let spec = helper::after_copy(&copy, &roots);
    let (label, target) = (input.label, &job.target);
    let here = input.ctx.elsewhere.is_none();
    let bar = progress::bar(label.to_owned());
    let output = ticking(
        Duration::from_millis(500),
        || bar.set_message(format!("{label} {} bytes", copied_bytes(here, target))),
        || run_helper(input, &spec),
    );
    bar.finish_and_clear();
    let output = output?;
    let (printed, _) = helper::split_after_copy(&output)
        .ok_or("the copy helper did not get to reading the trees after its copy")?;
    let (size, began) = copy::parse_measured(printed).ok_or_else(|| {
        format!(
            "cannot read the copy helper's measure: `{}`",
            printed.trim()
        )
    })?;
    let Some(began) = began else {
        return Ok(None);
    };
    keep_after_copy(input, n, &output, roots)?;
    Ok(Some(Filled {
        job: job.clone(),
        size,
        seeded: None,
        began,
        known: None,
        copy_read: None,
    }))
}

/// The helper that copies, and whether it also reads both trees right after its copy: when the
/// services are stopped and the host reads neither tree (a VM), it hashes both in the same
/// container, for the verify ([`tree::after_copy_roots`]).
fn copy_helper(
    input: &StepInput<'_>,
    job: &CopyJob,
    running: bool,
    devices: bool,
) -> Result<(HelperSpec, Option<tree::AfterCopyRoots>), String> {
    let (image, journal) = (&input.ctx.image, input.journal);
    if running {
        return Ok((copy::pre_copy_spec(job, image, journal, devices), None));
    }
    let spec = copy::copy_spec(job, image, journal, devices);
    let sides = [job.source.clone(), MountSource::Bind(job.target.clone())];
    match tree::after_copy_roots(input.ctx.engine, &sides).map_err(engine_error)? {
        Some(roots) => Ok((helper::after_copy(&spec, &roots), Some(roots))),
        None => Ok((spec, None)),
    }
}

/// Keep what a copy helper read of copy `n`'s trees after its copy for this run's verify; the
/// copy's own output.
fn keep_after_copy<'o>(
    input: &StepInput<'_>,
    n: usize,
    output: &'o str,
    roots: tree::AfterCopyRoots,
) -> Result<&'o str, String> {
    let (printed, listing) = helper::split_after_copy(output)
        .ok_or("the copy helper did not get to reading the trees after its copy")?;
    let trees = tree::after_copy_manifests(listing, &roots, &AtomicU64::new(0))
        .map_err(|e| e.to_string())?;
    let after = tree::AfterCopy { trees, roots };
    input.ctx.after_copy.borrow_mut().insert(n, after);
    Ok(printed)
}

fn copied_line(filled: &Filled) -> String {
    let from_image = if filled.seeded.is_some() {
        " (the volume was empty: seeded from the image)"
    } else {
        ""
    };
    // the measure's size is what the copy takes on disk (`SourceSize::bytes`: blocks, a sparse
    // file written dense), not the files' lengths the bar counts
    format!(
        "{} bytes on disk, {} entries{from_image}",
        filled.size.bytes, filled.size.entries
    )
}

fn copy_data(input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    refuse_killed(input)?;
    let mut filled = fill(input, n, false, retried)?;
    if let Some(read) = filled.copy_read.take() {
        input.ctx.copy_read.borrow_mut().insert(n, read);
    }
    let known = match filled.known.take() {
        Some(k) => {
            let kept = journal::keep_known(
                &journal::dir(&input.plan.project_dir),
                input.journal,
                &format!("copy-source-{n}"),
                &k,
            )
            .map_err(|e| e.to_string())?;
            input
                .ctx
                .known
                .borrow_mut()
                .insert(n, [k, tree::Known::default()]);
            Some(kept)
        }
        None => None,
    };
    let detail = Detail::Copied {
        seeded: filled.seeded.clone(),
        known,
    };
    Ok((detail, copied_line(&filled)))
}

/// The pre-copy while the services run: a first copy, then catch-up passes while what changed
/// meanwhile is more than [`delta::REPEAT_PER_MILLE`] of the data, so the stop stays short.
fn pre_copy(input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    let filled = fill(input, n, true, retried)?;
    let mut since = filled.began;
    let mut passes = 1;
    let mut caught_up = 0;
    while passes <= delta::MAX_PASSES {
        let listed = list(input, &filled.job)?;
        let pass = delta::plan(&listed, since);
        if !delta::worth_another_pass(&pass, filled.size.bytes) {
            break;
        }
        apply(input, &filled.job, &pass, &listed, false)?;
        caught_up += pass.copied;
        since = listed.began;
        passes += 1;
    }
    let line = match passes {
        1 => copied_line(&filled),
        _ => format!(
            "{}; {} pass(es) more caught up {caught_up} changed entries",
            copied_line(&filled),
            passes - 1
        ),
    };
    let detail = Detail::PreCopied {
        since,
        passes,
        seeded: filled.seeded,
    };
    Ok((detail, line))
}

/// The delta while the services are stopped: everything that may differ from the copy is
/// copied again, what was removed is removed.
fn delta_copy(input: &StepInput<'_>, n: usize) -> StepResult {
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
fn last_pass(state: &JournalState, n: usize) -> i64 {
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
fn source_job(input: &StepInput<'_>, n: usize) -> CopyJob {
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
fn list(input: &StepInput<'_>, job: &CopyJob) -> Result<delta::Listed, String> {
    let engine = input.ctx.engine;
    if let Some(host) = HostReader::for_copy(engine, job).map_err(engine_error)?
        && let Ok(listed) = host.listed()
    {
        return Ok(listed);
    }
    let verify = copy::verify_spec(job, &input.ctx.image, input.journal);
    let helper = HelperReader {
        engine,
        spec: &verify,
    };
    helper.listed().map_err(|e| match e {
        tree::TreeError::Engine(e) => engine_error(e),
        other => other.to_string(),
    })
}

/// Apply a delta: on the host when the services are stopped (`strict`), the host sees both
/// trees as the engine does and tierctl is root ([`host_apply`]); else with helpers (as many
/// runs as its argument lists need). A pass while the services run keeps the helper, which
/// sees only the two trees.
fn apply(
    input: &StepInput<'_>,
    job: &CopyJob,
    pass: &delta::Delta,
    listed: &delta::Listed,
    strict: bool,
) -> Result<&'static str, String> {
    if pass.is_empty() {
        return Ok("nothing to apply");
    }
    if let (true, Some((source, target))) = (strict, host_copy_roots(input, job)?) {
        host_apply::apply(&source, &target, pass)
            .map_err(|e| format!("the delta on the host failed: {e}"))?;
        return Ok("applied on the host");
    }
    let devices = delta::has_devices(&listed.source);
    for args in delta::ops_args(pass) {
        let spec = copy::delta_spec(job, &input.ctx.image, input.journal, &args, strict, devices);
        run_helper(input, &spec)?;
    }
    Ok("applied by a helper")
}

/// Both trees of `job` as host paths when the host may copy between them itself (see
/// [`host_apply`]).
fn host_copy_roots(
    input: &StepInput<'_>,
    job: &CopyJob,
) -> Result<Option<(PathBuf, PathBuf)>, String> {
    if !host_apply::may_apply() {
        return Ok(None);
    }
    listing::host_roots(input.ctx.engine, job).map_err(engine_error)
}

/// Who may be writing the source while it is copied: the running containers that mount it
/// (a resume copies again what changed, but not while one of them keeps writing).
fn writers(input: &StepInput<'_>, source: &MountSource) -> String {
    let MountSource::Volume(name) = source else {
        return "; a process on the host may be writing the source directory".into();
    };
    let running: Vec<String> = input
        .ctx
        .engine
        .list(&Selector::Volume(name.clone()))
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.running)
        .map(|c| format!("`{}`", c.name))
        .collect();
    if running.is_empty() {
        "; the source changed under the copy: a resume copies again what changed".into()
    } else {
        format!(
            "; the source changed under the copy: running container(s) {} mount volume `{name}` and may write it: stop them, then resume (it copies again what changed)",
            running.join(", ")
        )
    }
}

/// Refuse to go on when a service this run stopped was killed instead (exit 137: the grace
/// period ran out, or out of memory), unless `--force`.
pub fn refuse_killed(input: &StepInput<'_>) -> Result<(), String> {
    let (ctx, plan) = (input.ctx, input.plan);
    let running = input.state.running_services();
    if ctx.force || running.is_empty() {
        return Ok(());
    }
    let containers = ctx
        .engine
        .list(&Selector::Project(plan.project.clone()))
        .map_err(engine_error)?;
    let mut killed = Vec::new();
    for c in containers
        .iter()
        .filter(|c| !c.running && c.service.as_ref().is_some_and(|s| running.contains(s)))
    {
        let Some(info) = ctx.engine.inspect(&c.id).map_err(engine_error)? else {
            continue;
        };
        let why = match (info.oom_killed, info.exit_code) {
            (true, _) => "killed for memory",
            (false, Some(137)) => "killed (exit 137: it did not stop within its grace period)",
            _ => continue,
        };
        killed.push(format!("container `{}` {why}", info.name));
    }
    if killed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "not stopped cleanly: {}; a database killed mid-write is not a consistent source",
        killed.join(", ")
    ))
}

/// The temporary volume the engine fills from the image for copy `n`.
fn seed_volume(journal: &str, n: usize) -> String {
    format!("tierctl-seed-{journal}-{n}")
}

/// A container of the service's image (never started) with the temporary volume at the mount
/// path: creating it fills the volume.
fn seed_spec(seed: &Seed, volume: &str, journal: &str) -> HelperSpec {
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Volume(volume.to_owned()),
            target: seed.path.clone(),
            read_only: false,
        }],
        journal: Some(journal.to_owned()),
        ..HelperSpec::new("seed", &seed.image, vec!["true".into()])
    }
}

/// Both manifests of copy `n`'s job, reusing what `known` holds of each side (see
/// [`tree::read_known`]), with a progress bar; also what each side knows now and the content
/// bytes read.
fn manifests(
    input: &StepInput<'_>,
    job: &CopyJob,
    known: &[tree::Known; 2],
) -> Result<(Vec<manifest::Manifest>, String, [tree::Known; 2], u64), String> {
    let hashed = AtomicU64::new(0);
    let label = input.label;
    let bar = progress::bar(label.to_owned());
    let spec = copy::verify_spec(job, &input.ctx.image, input.journal);
    let trees = ticking(
        Duration::from_millis(300),
        || {
            let mib = hashed.load(Ordering::Relaxed) >> 20;
            bar.set_message(format!("{label} {mib} MiB hashed"));
        },
        || tree::copy_manifests_known(input.ctx.engine, job, &spec, &hashed, known),
    );
    bar.finish_and_clear();
    let (trees, ways, knows) = trees.map_err(|e| e.to_string())?;
    let read = format!("source read {}, copy read {}", ways[0], ways[1]);
    Ok((trees, read, knows, hashed.load(Ordering::Relaxed)))
}

/// Both manifests of a copy as its copy helper read them right after the copy, a VM share's
/// content hashed on the host ([`tree::verify_after_copy`]), how each side was read, and the
/// content bytes read now; `None` when the host could not complete a side (read them again).
fn after_copy_read(
    after: tree::AfterCopy,
    job: &CopyJob,
) -> Result<Option<(Vec<manifest::Manifest>, String, u64)>, String> {
    let sides = [job.source.clone(), MountSource::Bind(job.target.clone())];
    let hashed = AtomicU64::new(0);
    let read = tree::verify_after_copy(after.trees, &after.roots, &sides, &hashed)
        .map_err(|e| e.to_string())?;
    Ok(read.map(|(trees, ways)| {
        let read = format!("source read {}, copy read {}", ways[0], ways[1]);
        (trees, read, hashed.load(Ordering::Relaxed))
    }))
}

/// Verify pre-copy `n` while the services run: hash both trees, count what differs (the source
/// is live: the delta copies it again), and keep what each side knows (files settled before the
/// read, with their stamps) for the verify while the services are stopped.
fn pre_verify(input: &StepInput<'_>, n: usize) -> StepResult {
    let job = source_job(input, n);
    // the copy's last files were written just now: once their ctimes are older than the margin
    // the read knows them, and the verify while stopped need not read them again
    let margin = u64::try_from(tree::RACY_MARGIN_NS).unwrap_or(0);
    std::thread::sleep(Duration::from_nanos(margin) + Duration::from_millis(100));
    let none = [tree::Known::default(), tree::Known::default()];
    let (trees, read, knows, bytes) = manifests(input, &job, &none)?;
    let differed = manifest::compare(&trees[0], &trees[1], Rules::default()).len();
    let dir = journal::dir(&input.plan.project_dir);
    let mut known = Vec::new();
    for (side, k) in ["source", "copy"].iter().zip(&knows) {
        let name = format!("{side}-{n}");
        known.push(journal::keep_known(&dir, input.journal, &name, k).map_err(|e| e.to_string())?);
    }
    let entries = trees[0].len();
    let settled = [knows[0].files.len(), knows[1].files.len()];
    input.ctx.known.borrow_mut().insert(n, knows);
    Ok((
        Detail::PreVerified {
            known,
            entries,
            differed,
        },
        format!(
            "{entries} entries, {bytes} bytes hashed; {differed} difference(s) for the delta; files settled: {} of the source, {} of the copy; {read}",
            settled[0], settled[1]
        ),
    ))
}

/// What the running verify of copy `n` knew of each tree (or, with `--stop-first`, what the
/// copy knew of the source); nothing (hash all) when there was none or its side files are not
/// the journaled ones.
fn known_of(input: &StepInput<'_>, n: usize) -> [tree::Known; 2] {
    // this run's own: the same as its side files, without reading them back
    if let Some(known) = input.ctx.known.borrow_mut().remove(&n) {
        return known;
    }
    let done = &input.state.done;
    let known = match (
        done.get(&MigrateStep::PreVerify(n).id()),
        done.get(&MigrateStep::Copy(n).id()),
    ) {
        (Some(Detail::PreVerified { known, .. }), _) => known.clone(),
        (
            _,
            Some(Detail::Copied {
                known: Some(source),
                ..
            }),
        ) => vec![source.clone()],
        _ => return Default::default(),
    };
    let dir = journal::dir(&input.plan.project_dir);
    let load = |i: usize| {
        known
            .get(i)
            .and_then(|r| journal::load_known(&dir, r).ok())
            .unwrap_or_default()
    };
    [load(0), load(1)]
}

/// The trees verify step `n` compares, how they were read and the content bytes read now, with
/// what was known of them: what this run's copy read right after copying (by its helper on a
/// VM, on the host while the target synced) when the run was not resumed, else both trees read
/// now ([`manifests`]), a file known unchanged not read again.
type Verified = ([tree::Known; 2], (Vec<manifest::Manifest>, String, u64));

fn verified_trees(
    input: &StepInput<'_>,
    n: usize,
    job: &CopyJob,
    retried: bool,
) -> Result<Verified, String> {
    let after = match retried {
        true => None,
        false => input.ctx.after_copy.borrow_mut().remove(&n),
    };
    // read in the copy helper right after the copy, in this run, the services stopped
    if let Some(after) = after
        && let Some(read) = after_copy_read(after, job)?
    {
        return Ok((Default::default(), read));
    }
    let known = known_of(input, n);
    let copy_read = match retried {
        true => None,
        false => input.ctx.copy_read.borrow_mut().remove(&n),
    };
    if let Some(target) = copy_read {
        let hashed = AtomicU64::new(0);
        let read = tree::with_copy_read(input.ctx.engine, job, target, &known[0], &hashed)
            .map_err(|e| e.to_string())?;
        if let Some((trees, ways)) = read {
            let read = format!("source read {}, copy read {}", ways[0], ways[1]);
            return Ok((known, (trees, read, hashed.load(Ordering::Relaxed))));
        }
    }
    let (trees, read, _, hashed) = manifests(input, job, &known)?;
    Ok((known, (trees, read, hashed)))
}

/// Verify copy `n`: every entry of both trees (type, owner, mode, mtime, link, hardlink group,
/// content); a file whose stamp is unchanged since the running verify knew it is not read again
/// ([`tree::read_known`]). `retried` (a resumed run: the source may have changed under the
/// copy): copy again what changed since the last pass first.
fn verify_copy(input: &StepInput<'_>, n: usize, retried: bool) -> StepResult {
    let job = source_job(input, n);
    let again = if retried {
        let listed = list(input, &job)?;
        let pass = delta::plan(&listed, last_pass(input.state, n));
        apply(input, &job, &pass, &listed, true)?;
        format!(
            "; first copied again what changed: {} entries, {} removed",
            pass.copied, pass.removed
        )
    } else {
        String::new()
    };
    let (known, (trees, read, hashed)) = verified_trees(input, n, &job, retried)?;
    let differences = manifest::compare(&trees[0], &trees[1], Rules::default());
    if !differences.is_empty() {
        let shown: Vec<String> = differences.iter().take(20).map(|d| d.to_string()).collect();
        return Err(format!(
            "the copy differs from the source in {} place(s) ({read}): {}{}",
            differences.len(),
            shown.join("; "),
            writers(input, &job.source)
        ));
    }
    let (entries, bytes) = (trees[0].len(), trees[0].bytes());
    // what the copy held when verified: a rollback and `--discard-copy` compare the tier with it
    let manifest = journal::keep_manifest(
        &journal::dir(&input.plan.project_dir),
        input.journal,
        &format!("verify-{n}"),
        &trees[1],
    )
    .map_err(|e| e.to_string())?;
    let since = match input.plan.pre_copy {
        true => "the running verify",
        false => "the copy read it",
    };
    let reused = if known.iter().any(|k| !k.files.is_empty()) {
        format!("; {hashed} bytes read now, the rest unchanged since {since}")
    } else {
        String::new()
    };
    Ok((
        Detail::Verified {
            entries,
            bytes,
            manifest: Some(manifest),
        },
        format!(
            "ok: {entries} entries, {bytes} bytes, {}{reused}; {read}{again}",
            trees[0].digest
        ),
    ))
}

fn rewrite(input: &StepInput<'_>) -> StepResult {
    let mut files = Vec::new();
    for change in &input.plan.files {
        let current = std::fs::read_to_string(&change.path)
            .map_err(|err| format!("cannot read `{}`: {err}", change.path.display()))?;
        if current == change.new {
            continue;
        }
        if current != change.old {
            return Err(format!(
                "`{}` changed since the migration was planned",
                change.path.display()
            ));
        }
        files.push(FileWrite {
            path: change.path.clone(),
            read_hash: write::hash(&change.old),
            text: change.new.clone(),
        });
    }
    let backups = write::write_all(&files, input.journal).map_err(|e| e.to_string())?;
    let pairs: Vec<(PathBuf, PathBuf)> =
        files.iter().map(|f| f.path.clone()).zip(backups).collect();
    let result = format!("{} file(s) written", pairs.len());
    Ok((Detail::Rewritten { backups: pairs }, result))
}

fn start(input: &StepInput<'_>) -> StepResult {
    let running = input.state.running_services();
    if running.is_empty() {
        return Ok((Detail::None, "skipped: no service was running".into()));
    }
    compose_cli::start(
        input.ctx.compose.as_ref(),
        input.ctx.engine,
        input.plan,
        &running,
    )?;
    let down = match downtime_ms(input) {
        Some(ms) => {
            input.ctx.downtime_ms.set(Some(ms));
            let line = format!("services were down {:.1} s", ms as f64 / 1000.0);
            input.ctx.say(&line);
            format!("; {line}")
        }
        None => String::new(),
    };
    Ok((
        Detail::None,
        format!("started: {}{down}", running.join(", ")),
    ))
}

/// Milliseconds from the stop to now: by this run's clock when it stopped the services, else by
/// the stop's journaled wall-clock time (a resumed run).
pub fn downtime_ms(input: &StepInput<'_>) -> Option<u64> {
    if let Some(at) = input.ctx.stopped_at.get() {
        return Some(u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX));
    }
    match input.state.done.get(&MigrateStep::Stop.id()) {
        Some(Detail::Stopped {
            at_ms: Some(at), ..
        }) => Some(now_ms().saturating_sub(*at)),
        _ => None,
    }
}

fn verify_mounts(input: &StepInput<'_>) -> StepResult {
    let (ctx, plan) = (input.ctx, input.plan);
    let running = input.state.running_services();
    if running.is_empty() {
        // nothing was started, so no container shows its mounts; `tierctl verify` checks them
        // once the services run
        return Ok((
            Detail::None,
            "skipped: no service was running (run `tierctl verify` after starting them)".into(),
        ));
    }
    let containers = ctx
        .engine
        .list(&Selector::Project(plan.project.clone()))
        .map_err(engine_error)?;
    let mut checked = 0;
    for expected in plan.mounts.iter().filter(|m| running.contains(&m.service)) {
        checked += inspected_binds(&containers, expected)?;
    }
    let Some(views) = ctx.views else {
        return Ok((Detail::None, format!("ok: {checked} mount(s)")));
    };
    let seen = views.view(&plan.project).map_err(|e| e.to_string())?;
    let problems = mount_problems(plan, &running, &seen);
    if !problems.is_empty() {
        return Err(format!(
            "the services do not see their tier directories: {}",
            problems.join("; ")
        ));
    }
    Ok((
        Detail::None,
        format!("ok: {checked} mount(s), tierctl verify ok"),
    ))
}

/// How many running containers of the expected mount's service bind its source at its target
/// (as inspect says); an error for one that does not, or when none runs.
pub fn inspected_binds(
    containers: &[ContainerState],
    expected: &ExpectedMount,
) -> Result<usize, String> {
    super::mounts::inspected_binds(containers, expected).map_err(|e| e.to_string())
}

fn remove_source(input: &StepInput<'_>, n: usize) -> StepResult {
    if !matches!(
        input.state.done.get(&MigrateStep::Verify(n).id()),
        Some(Detail::Verified { .. })
    ) {
        return Err("the copy was not verified: the source stays".into());
    }
    match &input.plan.copies[n].job.source {
        // a run killed after the removal, before its end was journaled, removed it already
        MountSource::Volume(name)
            if !input.ctx.engine.volume_exists(name).map_err(engine_error)? =>
        {
            Ok((Detail::None, format!("volume `{name}` was already removed")))
        }
        MountSource::Volume(name) => {
            if !input.state.finished {
                // `--remove-source` in the run (a prune, on a finished journal, checked first)
                refuse_late_writes(input, n, name)?;
            }
            input.ctx.engine.remove_volume(name).map_err(engine_error)?;
            Ok((Detail::None, format!("volume `{name}` removed")))
        }
        MountSource::Bind(path) => Ok((
            Detail::None,
            format!(
                "kept `{}`: tierctl never removes a host directory",
                path.display()
            ),
        )),
    }
}

/// Refused when volume `name` of copy `n` changed since its copy verified: those writes are
/// not in the tier directory (issue 26 row 1).
fn refuse_late_writes(input: &StepInput<'_>, n: usize, name: &str) -> Result<(), String> {
    let writes = late_writes::since_verify(input.ctx, input.journal, input.state, n)
        .map_err(|e| format!("volume `{name}` stays: {e}"))?;
    if writes.is_empty() {
        return Ok(());
    }
    Err(format!(
        "volume `{name}` stays: it changed since its copy verified, in {} path(s): {}; those writes are not in the tier directory `{}`: copy what you need into it, then remove the volume by hand (`docker volume rm {name}`)",
        writes.len(),
        late_writes::shown(&writes),
        input.plan.copies[n].job.target.display()
    ))
}

/// The services, or that none was running.
pub fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none was running".into()
    } else {
        items.join(", ")
    }
}
