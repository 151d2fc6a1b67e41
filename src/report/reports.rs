//! The typed result of each command: plain data, rendered by `human/`, `json/` or
//! `prometheus.rs`. A command builds one of these; it never formats text itself.

use std::path::PathBuf;

use serde::Serialize;

use crate::audit::Finding;
use crate::compose::model::MountSource;
use crate::endpoint::EngineGuess;
pub use crate::endpoint::engine_label;
use crate::facts::{BindProbe, EngineInfo};
use crate::layout::{DirAction, LinkAction, Verdict};
use crate::plan::Plan;
use crate::rewrite::Patched;
use crate::share::{Coverage, VmShares};
use crate::template::Rendered;
use crate::verify::ReadVia;
use crate::verify::{EngineClass, MountCheck, MountObservation};

/// `tierctl audit`: the findings of one project.
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// The compose project's name.
    pub project: String,
    /// The findings, in file order.
    pub findings: Vec<Finding>,
    /// What the audit could not do (the VM checks without an engine), one line each.
    pub notes: Vec<String>,
    /// The machine whose paths were looked at (`None` without an engine: this machine).
    pub host: Option<crate::host::Host>,
}

/// `tierctl plan` and `tierctl rewrite [--write]`.
#[derive(Debug, Clone)]
pub struct PlanReport {
    /// The compose project's name.
    pub project: String,
    /// The machine whose paths were placed (`--context`/`-H`; `None`: this machine).
    pub host: Option<crate::host::Host>,
    /// The plan.
    pub plan: Plan,
    /// Each changed file's text before and after.
    pub patched: Vec<Patched>,
    /// `(file, backup)` of every file written (`rewrite --write`); empty otherwise.
    pub written: Vec<(PathBuf, PathBuf)>,
}

/// Everything `tierctl vm` found, as plain data.
#[derive(Debug, Clone)]
pub struct VmReport {
    /// The compose project's name.
    pub project: String,
    /// The docker context.
    pub context: String,
    /// The endpoint's host URL.
    pub host: String,
    /// Where the endpoint came from.
    pub endpoint_source: String,
    /// The engine, as identified.
    pub engine: EngineGuess,
    /// `docker info`, when the engine was asked.
    pub info: Option<EngineInfo>,
    /// The VM's shares, for VM engines.
    pub vm: Option<VmShares>,
    /// Each bind source and how the engine sees it.
    pub binds: Vec<BindRow>,
    /// `vm-share-missing`, `vm-share-readonly`, `db-on-vm-share`, `watched-library-on-vm-share`.
    pub findings: Vec<Finding>,
    /// The exact fix, when the VM must share more.
    pub fix: Option<String>,
    /// Probe results (`--probe`).
    pub probes: Option<Vec<BindProbe>>,
    /// What each VM share keeps (`--probe` on a VM engine whose shares are known).
    pub share_probes: Option<Vec<crate::facts::ShareProbe>>,
    /// Notes (offline, probe skipped).
    pub notes: Vec<String>,
    /// The machine the bind sources are on (`crate::host`; `host` above is the endpoint URL).
    pub machine: crate::host::Host,
}

/// One bind source of `tierctl vm`.
#[derive(Debug, Clone)]
pub struct BindRow {
    /// The source as compose passes it.
    pub source: PathBuf,
    /// After symlink resolution.
    pub real: Option<PathBuf>,
    /// How the engine sees it.
    pub coverage: Coverage,
}

/// `tierctl migrate` before it runs (and `--dry-run`): the migrate plan as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigratePlanReport {
    /// The compose project name.
    pub project: String,
    /// The services that are stopped and started again.
    pub services: Vec<String>,
    /// What is copied where.
    pub copies: Vec<PlannedCopy>,
    /// The compose and env files that change.
    pub files: Vec<PathBuf>,
    /// The steps, in order.
    pub steps: Vec<PlannedStep>,
    /// `--to-context`: the docker context the project moves to (`None`: a local migration).
    pub to_context: Option<String>,
}

impl MigratePlanReport {
    /// Nothing to copy and no file to change.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.copies.is_empty()
    }
}

/// One copy into a tier directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCopy {
    /// The volume's key under top-level `volumes:`.
    pub volume: String,
    /// The volume or host directory copied.
    pub source: MountSource,
    /// The tier directory.
    pub target: PathBuf,
    /// The tier.
    pub tier: Option<String>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    /// The step id (`create:0`, `stop`, ...).
    pub id: String,
    /// What it does, in words.
    pub description: String,
}

/// One step's result, for the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// The step id.
    pub step: String,
    /// What happened (`done`, `already done`, `skipped: ...`).
    pub result: String,
}

/// What `migrate` (a run, `--resume`, `--rollback`, `--prune-source`) did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The journal.
    pub journal: PathBuf,
    /// Every step.
    pub steps: Vec<StepOutcome>,
    /// Source volumes left in place (removed later with `--prune-source`).
    pub kept: Vec<String>,
    /// How long the services were down (their stop to their start), ms; `None` when this run
    /// started none.
    pub downtime_ms: Option<u64>,
}

/// The closing line of a finished migration: which source volumes stay and how to remove them.
pub fn kept_line(kept: &[String]) -> String {
    match kept {
        [] => "done.".into(),
        [one] => format!(
            "done. Source volume {one} kept; remove it with `tierctl migrate --prune-source` after you are happy."
        ),
        many => format!(
            "done. Source volumes {} kept; remove them with `tierctl migrate --prune-source` after you are happy.",
            many.join(", ")
        ),
    }
}

/// One checked mount of `tierctl verify`.
#[derive(Debug, Clone)]
pub struct MountResult {
    /// The loaded project's mount it is (`None`: no project, another project's container, or
    /// a mount the compose files do not declare). Internal: the JSON output has no field for
    /// it.
    pub mount: Option<crate::compose::model::MountId>,
    /// What was observed.
    pub observed: MountObservation,
    /// The verdict.
    pub check: MountCheck,
}

/// One container's results.
#[derive(Debug, Clone)]
pub struct ContainerResult {
    /// The container name.
    pub name: String,
    /// The compose project label.
    pub project: Option<String>,
    /// The compose service label.
    pub service: Option<String>,
    /// The compose replica number label.
    pub number: Option<String>,
    /// How its view was read.
    pub via: Option<ReadVia>,
    /// Its mounts.
    pub mounts: Vec<MountResult>,
    /// Notes about the container (skipped mounts, compose cross-check).
    pub notes: Vec<String>,
}

/// Everything `tierctl verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The compose project (`None` with `--all` or names outside a project).
    pub project: Option<String>,
    /// The engine, as identified (`native`, `docker-desktop`, `vm`, `unknown`).
    pub engine: EngineClass,
    /// The containers, in order.
    pub containers: Vec<ContainerResult>,
    /// Notes about the run (one-off containers left out, services not running).
    pub notes: Vec<String>,
    /// Each enabled service of the loaded project (when the project's containers were
    /// selected) and whether a container of it runs.
    pub services: Vec<(String, bool)>,
    /// When the check ran, in seconds since the Unix epoch.
    pub checked_at: u64,
    /// The machine whose engine was checked (`crate::host`).
    pub host: Option<crate::host::Host>,
    /// The tiers the checked binds lie on and whether each one's disk is there
    /// (`tier-not-mounted`); empty without tiers.yaml or on another machine.
    pub tiers: Vec<crate::audit::TierCheck>,
}

impl VerifyReport {
    /// Whether every selected service runs, every mount is `ok` and every tier is there.
    pub fn all_ok(&self) -> bool {
        self.tiers.iter().all(|t| t.absent.is_none())
            && self.services.iter().all(|(_, running)| *running)
            && !crate::verify::any_mismatch(
                self.containers
                    .iter()
                    .flat_map(|c| c.mounts.iter().map(|m| &m.check)),
            )
    }
}

/// One engine of a fleet check (`verify --context a --context b`, `--all-contexts`): its
/// report, or why it could not be checked.
#[derive(Debug, Clone)]
pub struct HostReport {
    /// The context name (what `--context` names).
    pub host: String,
    /// The endpoint URL, when it resolved.
    pub endpoint: Option<String>,
    /// The swarm node this engine is (`verify --swarm`: `hostname (id)`); `None` otherwise.
    pub node: Option<String>,
    /// The checks, or the error that stopped them.
    pub outcome: Result<VerifyReport, HostError>,
}

/// Why one engine of a fleet check could not be checked.
#[derive(Debug, Clone)]
pub struct HostError {
    /// The error, naming the endpoint.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Every engine of a fleet check, in the order asked for.
#[derive(Debug, Clone)]
pub struct FleetReport {
    /// The hosts.
    pub hosts: Vec<HostReport>,
}

impl FleetReport {
    /// Whether some engine could not be checked.
    pub fn any_unreachable(&self) -> bool {
        self.hosts.iter().any(|h| h.outcome.is_err())
    }

    /// Whether every engine was checked and every mount is `ok`.
    pub fn all_ok(&self) -> bool {
        self.hosts
            .iter()
            .all(|h| h.outcome.as_ref().is_ok_and(VerifyReport::all_ok))
    }
}

/// `tierctl tiers nodes`: each swarm node's tier labels against tiers.yaml.
#[derive(Debug, Clone)]
pub struct NodesReport {
    /// The tiers.yaml compared with.
    pub tiers_file: PathBuf,
    /// Each node (after `--write`: as it is now).
    pub nodes: Vec<crate::swarm::NodeView>,
    /// The labels `--write` set (`None`: removed), by node id.
    pub written: Vec<(String, std::collections::BTreeMap<String, Option<String>>)>,
}

/// `tierctl tiers validate`.
#[derive(Debug, Clone)]
pub struct ValidateReport {
    /// The tiers.yaml checked.
    pub tiers_file: PathBuf,
    /// Every check, passed ones included.
    pub verdicts: Vec<Verdict>,
    /// Show passed checks too (human output).
    pub verbose: bool,
}

/// `tierctl tiers init`.
#[derive(Debug, Clone)]
pub struct InitReport {
    /// What was done (or would be) to each directory.
    pub actions: Vec<DirAction>,
    /// What was done (or would be) about each tier root's identity marker.
    pub markers: Vec<crate::layout::MarkerAction>,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

/// `tierctl tiers link`.
#[derive(Debug, Clone)]
pub struct LinkReport {
    /// What was done (or would be) to each access point.
    pub actions: Vec<LinkAction>,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

/// `tierctl new TEMPLATE -o DIR`.
#[derive(Debug, Clone)]
pub struct NewProjectReport {
    /// The template's name.
    pub template: String,
    /// The project directory.
    pub output: PathBuf,
    /// The files' text and the directories they bind.
    pub rendered: Rendered,
    /// What was done (or would be) to each directory.
    pub actions: Vec<DirAction>,
    /// What was done (or would be) to each project file (`compose.yaml`, `.env`).
    pub files: Vec<NewFile>,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// One file of a `tierctl new` project and what was done to it.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// The file.
    pub path: PathBuf,
    /// Created, kept (identical) or replaced (`--force`).
    pub action: crate::template::FileAction,
    /// The backup of a replaced file.
    pub backup: Option<PathBuf>,
}

/// `tierctl mounts`: the storage view of one project.
#[derive(Debug, Clone)]
pub struct MountsReport {
    /// The compose project's name.
    pub project: String,
    /// The machine whose paths are shown (`--context`/`-H`; `None`: this machine).
    pub host: Option<crate::host::Host>,
    /// Every mount of the enabled services, in service and entry order.
    pub mounts: Vec<crate::mounts::MountView>,
}

#[cfg(test)]
pub(crate) mod samples {
    //! Reports built from plain data, shared by the renderers' tests.

    use super::*;
    use crate::verify::{FsView, HostSource, MarkerState, MountKind, check};

    fn fs(fs_type: &str, size: u64) -> FsView {
        FsView {
            fs_type: Some(fs_type.into()),
            device: Some("0:55".into()),
            mount_source: Some("tierctl-test".into()),
            size_bytes: Some(size),
            used_bytes: Some(0),
            available_bytes: Some(size),
            covered_by: None,
        }
    }

    fn bind(source: &str, real: Option<&str>, target: &str) -> MountObservation {
        MountObservation {
            kind: MountKind::Bind,
            target: target.into(),
            read_only: false,
            host: Some(HostSource {
                source: source.into(),
                real: real.map(Into::into),
                exists: true,
                fs: Some(fs("apfs", 1900 << 30)),
            }),
            container: Some(fs("virtiofs", 1900 << 30)),
            marker: MarkerState::Seen,
        }
    }

    /// An Immich server on a VM engine: a plain bind, a symlinked bind and a named volume.
    pub(crate) fn verify() -> VerifyReport {
        let volume = MountObservation {
            kind: MountKind::Volume {
                name: "immich_db".into(),
            },
            target: "/var/lib/postgresql/data".into(),
            read_only: false,
            host: None,
            container: Some(fs("ext4", 58 << 30)),
            marker: MarkerState::NotWritten,
        };
        let result = |o: MountObservation| MountResult {
            mount: None,
            check: check(&o, EngineClass::Vm),
            observed: o,
        };
        VerifyReport {
            tiers: Vec::new(),
            host: None,
            project: Some("immich".into()),
            engine: EngineClass::Vm,
            containers: vec![ContainerResult {
                name: "immich-server-1".into(),
                project: Some("immich".into()),
                service: Some("immich-server".into()),
                number: Some("1".into()),
                via: Some(ReadVia::Exec),
                mounts: vec![
                    result(bind("/Volumes/faststore/photos", None, "/photos")),
                    result(bind(
                        "/Volumes/Photos",
                        Some("/Volumes/faststore/photos"),
                        "/library",
                    )),
                    result(volume),
                ],
                notes: vec![],
            }],
            notes: vec![],
            services: vec![("immich-server".into(), true)],
            checked_at: 1_790_000_000,
        }
    }

    /// Two hosts: the Immich report on `default`, and `nas` refusing the connection.
    pub(crate) fn fleet() -> FleetReport {
        FleetReport {
            hosts: vec![
                HostReport {
                    host: "default".into(),
                    endpoint: Some("unix:///var/run/docker.sock".into()),
                    node: None,
                    outcome: Ok(verify()),
                },
                HostReport {
                    host: "nas".into(),
                    endpoint: Some("tcp://127.0.0.1:1".into()),
                    node: None,
                    outcome: Err(HostError {
                        message: "cannot connect to the Docker engine of context `nas` at `tcp://127.0.0.1:1`: connection refused".into(),
                        hint: Some("check that the engine runs".into()),
                    }),
                },
            ],
        }
    }
}

/// What `migrate --check` found: each copy of a finished migration re-read where it lives and
/// compared with the manifest its journal kept when the copy verified.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    /// The journal whose copies were checked.
    pub journal: PathBuf,
    /// The files whose content was read, when not all (`--subset`).
    pub subset: Option<CheckSubset>,
    /// When the check ran, seconds since the Unix epoch.
    pub checked_at: u64,
    /// Every copy of the journal's plan, in plan order.
    pub copies: Vec<CopyCheck>,
}

impl CheckReport {
    /// Every difference of every copy.
    pub fn differences(&self) -> usize {
        self.copies.iter().map(|c| c.differences.len()).sum()
    }

    /// No copy differs from its manifest and every copy was checked.
    pub fn clean(&self) -> bool {
        self.copies
            .iter()
            .all(|c| c.differences.is_empty() && c.unchecked.is_none())
    }
}

/// The part of a copy's files whose content a `--subset` check reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckSubset {
    /// Per cent of the files (0 < percent <= 100).
    pub percent: f64,
    /// The seed that chose them (by default the day's date: another subset each day).
    pub seed: String,
}

/// One copy checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopyCheck {
    /// The copy's index in the plan.
    pub copy: usize,
    /// Where the data came from (`volume NAME`, `bind PATH`).
    pub source: String,
    /// The tier directory (on the engine's host).
    pub target: PathBuf,
    /// How it was read now (`on the host at ..., from the disk`, `in the engine by a helper
    /// container, from the disk`).
    pub read: String,
    /// Entries in the kept manifest.
    pub entries: usize,
    /// Regular files in the kept manifest.
    pub files: usize,
    /// Files whose content was read and compared.
    pub files_hashed: usize,
    /// Content bytes read.
    pub bytes_hashed: u64,
    /// Why this copy was not checked (its manifest was not kept); `None`: checked.
    pub unchecked: Option<String>,
    /// Every path that differs, in path order.
    pub differences: Vec<PathDifference>,
}

/// One path of a copy that is not what its kept manifest says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathDifference {
    /// The path relative to the tier directory (`migrate::tree::name`'s encoding: a byte that
    /// is not UTF-8 as NUL and two hex digits); `.` is the directory itself.
    pub path: String,
    /// Missing, extra, or changed.
    pub kind: DifferenceKind,
    /// What changed (for [`DifferenceKind::Changed`]).
    pub fields: Vec<FieldChange>,
    /// The content changed while its size and mtime are as kept: nothing wrote it through the
    /// filesystem (a write sets the mtime): the medium or something below the filesystem
    /// changed it.
    pub silent: bool,
}

/// What kind of difference a path has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DifferenceKind {
    /// In the kept manifest, not in the copy now.
    Missing,
    /// In the copy now, not in the kept manifest.
    Extra,
    /// In both, with fields that differ.
    Changed,
}

/// One field of a path that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// `type`, `size`, `uid`, `gid`, `mode`, `mtime`, `symlink`, `device`, `hardlinks`,
    /// `content`.
    pub field: String,
    /// As the manifest kept it.
    pub kept: String,
    /// As it is now.
    pub now: String,
}

/// `tierctl tiers status --swarm` / `tiers validate --swarm`: each node's tiers (its
/// `tierctl.tier.*` labels) checked through that node's context.
#[derive(Debug, Clone)]
pub struct NodeDisksReport {
    /// `tiers status` or `tiers validate`.
    pub command: &'static str,
    /// The fill thresholds.
    pub thresholds: crate::usage::Thresholds,
    /// Each node the manager lists.
    pub nodes: Vec<crate::layout::NodeDisks>,
}
