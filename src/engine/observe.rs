//! What `verify` observes: the containers to check, what each sees at its mount targets (read
//! with `docker exec` in the container, or from a helper container given the same mounts), the
//! host's view of each bind source, and the marker files that prove the container looks at the
//! host directory.
//!
//! Marker files are registered in a process-wide list while they exist, so a Ctrl-C (SIGINT),
//! SIGTERM or SIGHUP handler ([`install_interrupt_cleanup`]) removes them before exiting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use thiserror::Error;

use super::container::{ContainerInfo, MountType, labels};
use super::helper::{Capability, HelperSpec};
use super::probe::{MarkerFile, mountinfo_device, mountinfo_entry};
use super::{Containers, Engine, EngineError, HelperOutput};
pub use crate::verify::ReadVia;
use crate::verify::{FsView, HostSource, MarkerState, MountKind, MountObservation};

/// The bind sources of `containers`, as the engine was given them (what the host side of a
/// remote engine is asked about, `host_fs::bind_sources`).
pub fn bind_sources(containers: &[ContainerInfo]) -> Vec<PathBuf> {
    let mut sources: Vec<PathBuf> = containers
        .iter()
        .flat_map(|c| &c.mounts)
        .filter(|m| m.kind == MountType::Bind)
        .map(|m| PathBuf::from(&m.source))
        .collect();
    sources.sort();
    sources.dedup();
    sources
}

/// Which containers to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The running containers of a compose project (`docker compose run` containers excluded).
    Project(String),
    /// The running containers of every compose project, or of the one named
    /// (`docker compose run` containers excluded): what a fleet check looks at on each engine.
    Projects(Option<String>),
    /// Every running container.
    All,
    /// These containers, by name or id.
    Names(Vec<String>),
}

/// Why `verify` could not do its job.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// `--offline` was given.
    #[error("`verify` needs the Docker engine and `--offline` forbids engine calls")]
    Offline,
    /// A named container does not exist.
    #[error("no container `{name}` on the Docker engine")]
    NoSuchContainer {
        /// The name asked for.
        name: String,
    },
    /// A named container is not running.
    #[error("container `{name}` is not running")]
    NotRunning {
        /// The container.
        name: String,
    },
    /// The project has no running container.
    #[error("no running container of compose project `{project}`")]
    NoContainers {
        /// The project name.
        project: String,
    },
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl VerifyError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            VerifyError::Offline => "drop `--offline`".into(),
            VerifyError::NoSuchContainer { .. } => "`docker ps` lists the running containers".into(),
            VerifyError::NotRunning { name } => format!("start it: `docker start {name}`"),
            VerifyError::NoContainers { .. } => "start the project (`docker compose up -d`), pass `-p NAME` for another project, or use `--all`".into(),
            VerifyError::Engine(e) => e.hint(),
        }
    }
}

/// One container and what was observed at its mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    /// The container.
    pub info: ContainerInfo,
    /// How its view was read (`None` when it has no mount to check).
    pub via: Option<ReadVia>,
    /// Its bind and volume mounts, in inspect order.
    pub mounts: Vec<MountObservation>,
    /// What was skipped or could not be read.
    pub notes: Vec<String>,
}

/// The running containers the selection names, sorted by service, replica number and name.
/// Returns the containers and notes (one-off containers left out).
pub fn select(
    engine: &dyn Containers,
    selection: &Selection,
) -> Result<(Vec<ContainerInfo>, Vec<String>), VerifyError> {
    let mut notes = Vec::new();
    let mut found = Vec::new();
    match selection {
        Selection::Project(project) => {
            for id in engine.running_with_labels(&[(labels::PROJECT, project)])? {
                let Some(info) = engine.inspect(&id)? else {
                    continue; // removed since it was listed
                };
                if info.is_oneoff() {
                    notes.push(format!(
                        "{}: a `docker compose run` container, left out",
                        info.name
                    ));
                } else {
                    found.push(info);
                }
            }
            if found.is_empty() {
                return Err(VerifyError::NoContainers {
                    project: project.clone(),
                });
            }
        }
        Selection::Projects(only) => {
            let filter: Vec<(&str, &str)> = match only {
                Some(project) => vec![(labels::PROJECT, project.as_str())],
                None => Vec::new(),
            };
            for id in engine.running_with_labels(&filter)? {
                match engine.inspect(&id)? {
                    Some(info)
                        if info.labels.contains_key(labels::PROJECT) && !info.is_oneoff() =>
                    {
                        found.push(info);
                    }
                    _ => {}
                }
            }
        }
        Selection::All => {
            for id in engine.running_with_labels(&[])? {
                if let Some(info) = engine.inspect(&id)? {
                    found.push(info);
                }
            }
        }
        Selection::Names(names) => {
            for name in names {
                let info = engine
                    .inspect(name)?
                    .ok_or_else(|| VerifyError::NoSuchContainer { name: name.clone() })?;
                if !info.running {
                    return Err(VerifyError::NotRunning { name: name.clone() });
                }
                found.push(info);
            }
        }
    }
    found.sort_by_key(|c| {
        let number = c
            .labels
            .get(labels::NUMBER)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        (
            c.service().unwrap_or(&c.name).to_owned(),
            number,
            c.name.clone(),
        )
    });
    Ok((found, notes))
}

/// Marker file paths that exist right now, for the interrupt handler.
fn live_markers() -> &'static Mutex<Vec<PathBuf>> {
    static LIVE: OnceLock<Mutex<Vec<PathBuf>>> = OnceLock::new();
    LIVE.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remove every live marker file (the interrupt handler's job).
fn remove_live_markers() {
    let mut live = live_markers()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for path in live.drain(..) {
        let _ = crate::fsx::remove_marker(&path);
    }
}

/// Register (once per process) the removal of the live marker files with the one interrupt
/// handler ([`crate::interrupt`]: SIGINT/SIGTERM/SIGHUP, exit status 130). Returns `false` when
/// the handler could not be installed (the markers are then still removed on every normal
/// return and on error).
pub fn install_interrupt_cleanup() -> bool {
    static REGISTERED: OnceLock<()> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        // for the whole process: the guard is never dropped
        std::mem::forget(crate::interrupt::on_interrupt(remove_live_markers));
    });
    crate::interrupt::install()
}

/// The marker files of one run, one per host directory; removed when dropped.
pub struct Markers {
    files: BTreeMap<PathBuf, MarkerFile>,
}

impl Markers {
    fn new() -> Self {
        Markers {
            files: BTreeMap::new(),
        }
    }

    /// The marker name in `dir`, creating the file on first use; `None` when the directory
    /// cannot be written.
    fn name_in(&mut self, dir: &Path) -> Option<String> {
        if let Some(marker) = self.files.get(dir) {
            return Some(marker.name());
        }
        // Register before creating, so an interrupt between the two still removes it.
        let mut live = live_markers()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let marker = MarkerFile::create(dir)?;
        let name = marker.name();
        live.push(dir.join(&name));
        drop(live);
        self.files.insert(dir.to_owned(), marker);
        Some(name)
    }
}

impl Drop for Markers {
    fn drop(&mut self) {
        let mut live = live_markers()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (dir, marker) in std::mem::take(&mut self.files) {
            let path = dir.join(marker.name());
            drop(marker);
            live.retain(|p| *p != path);
        }
    }
}

/// The script run in the container (or helper): the mount table, then per `TARGET MARKER`
/// argument pair the filesystem numbers (`stat -f`, else `df -P`) and whether the marker is
/// there. Only shell builtins besides `stat`/`df`.
const SCRIPT: &str = r#"echo '#mountinfo'
while IFS= read -r line; do printf '%s\n' "$line"; done < /proc/self/mountinfo
while [ "$#" -ge 2 ]; do
  t=$1; m=$2; shift 2
  printf '#target %s\n' "$t"
  if s=$(stat -f -c '%b %f %a %S' "$t" 2>/dev/null); then printf 'statfs %s\n' "$s"
  elif d=$(df -P "$t" 2>/dev/null); then printf '%s\n' "$d" | { read -r _; read -r l; printf 'df %s\n' "$l"; }
  else echo nostat; fi
  if [ -z "$m" ]; then echo 'marker unwritten'; elif [ -e "$t/$m" ]; then echo 'marker present'; else echo 'marker absent'; fi
done
"#;

/// The command for `(target, marker)` pairs (`""` = no marker).
pub fn view_command(targets: &[(String, String)]) -> Vec<String> {
    let mut command = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        SCRIPT.to_owned(),
        "tierctl-verify".to_owned(),
    ];
    for (target, marker) in targets {
        command.push(target.clone());
        command.push(marker.clone());
    }
    command
}

/// What the script printed for one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetView {
    /// The filesystem as the container sees it.
    pub fs: FsView,
    /// The marker.
    pub marker: MarkerState,
}

/// Parse the script's output: per target, its view; `None` for a target without numbers (no
/// `stat`/`df`) or missing from the output.
pub fn parse_view(text: &str, targets: &[String]) -> BTreeMap<String, TargetView> {
    let mut mountinfo = Vec::new();
    let mut numbers: BTreeMap<String, (Option<Sizes>, MarkerState)> = BTreeMap::new();
    let mut section: Option<String> = None;
    let mut in_mountinfo = false;
    for line in text.lines() {
        if line == "#mountinfo" {
            in_mountinfo = true;
            continue;
        }
        if let Some(target) = line.strip_prefix("#target ") {
            in_mountinfo = false;
            section = Some(target.to_owned());
            numbers.insert(target.to_owned(), (None, MarkerState::NotWritten));
            continue;
        }
        if in_mountinfo {
            mountinfo.push(line);
            continue;
        }
        let Some(entry) = section.as_ref().and_then(|t| numbers.get_mut(t)) else {
            continue;
        };
        if let Some(rest) = line.strip_prefix("statfs ") {
            entry.0 = parse_statfs(rest);
        } else if let Some(rest) = line.strip_prefix("df ") {
            entry.0 = parse_df(rest);
        } else if let Some(rest) = line.strip_prefix("marker ") {
            entry.1 = match rest.trim() {
                "present" => MarkerState::Seen,
                "absent" => MarkerState::Missing,
                _ => MarkerState::NotWritten,
            };
        }
    }
    let mut views = BTreeMap::new();
    for target in targets {
        let Some((Some((size, used, available)), marker)) = numbers.get(target) else {
            continue;
        };
        let (entry, covered_by) = seen_entry(&mountinfo, target);
        let (fs_type, mount_source, device) = match entry {
            Some(((fs_type, source), device)) => (Some(fs_type), Some(source), device),
            None => (None, None, None),
        };
        views.insert(
            target.clone(),
            TargetView {
                fs: FsView {
                    fs_type,
                    device,
                    mount_source,
                    size_bytes: Some(*size),
                    used_bytes: Some(*used),
                    available_bytes: Some(*available),
                    covered_by,
                },
                marker: *marker,
            },
        );
    }
    views
}

/// A mount table entry as the view needs it: (type, source) and the device.
type MountEntry = ((String, String), Option<String>);

/// What the container sees at `target` by its mount table: the entry (type and source, device)
/// of the mount on top there, and the mount point of a later mount above the target that covers
/// the target's own (then the entry is that mount's).
fn seen_entry(mountinfo: &[&str], target: &str) -> (Option<MountEntry>, Option<String>) {
    // The last entry for a mount point is the one on top; a later entry of a directory above it
    // covers it.
    let own = mountinfo
        .iter()
        .rposition(|l| mountinfo_entry(l, target).is_some());
    let covering = own.and_then(|at| covering(&mountinfo[at + 1..], target));
    let seen = match &covering {
        Some((line, point)) => Some((*line, point.as_str())),
        None => own.map(|at| (mountinfo[at], target)),
    };
    let entry = seen.and_then(|(line, point)| {
        Some((mountinfo_entry(line, point)?, mountinfo_device(line, point)))
    });
    (entry, covering.map(|(_, point)| point))
}

/// The last of `later` (mount table lines after the target's own) whose mount point is a
/// directory above `target`, with that mount point.
fn covering<'l>(later: &[&'l str], target: &str) -> Option<(&'l str, String)> {
    let above: Vec<String> = std::path::Path::new(target)
        .ancestors()
        .skip(1)
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    later.iter().rev().find_map(|line| {
        above
            .iter()
            .find(|point| mountinfo_entry(line, point).is_some())
            .map(|point| (*line, point.clone()))
    })
}

/// Size, used and available bytes.
type Sizes = (u64, u64, u64);

/// `blocks free available frsize` (`stat -f -c '%b %f %a %S'`) -> size, used, available bytes.
fn parse_statfs(text: &str) -> Option<Sizes> {
    let n: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let [blocks, free, available, frsize] = n[..] else {
        return None;
    };
    Some((
        blocks.checked_mul(frsize)?,
        blocks.saturating_sub(free).checked_mul(frsize)?,
        available.checked_mul(frsize)?,
    ))
}

/// One `df -P` data line (`fs 1024-blocks used available capacity mounted-on`) -> size, used,
/// available bytes. The `Mounted on` column is ignored: busybox can print the wrong one.
fn parse_df(text: &str) -> Option<Sizes> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let kib = |i: usize| fields.get(i)?.parse::<u64>().ok()?.checked_mul(1024);
    Some((kib(1)?, kib(2)?, kib(3)?))
}

/// The host's view of a bind source.
pub fn host_source(source: &Path) -> HostSource {
    let facts = crate::fsx::resolve(source);
    let real = facts.is_symlinked().then(|| facts.real.clone()).flatten();
    let fs = facts.exists.then(|| host_fs(source)).flatten();
    HostSource {
        source: source.to_owned(),
        real,
        exists: facts.exists,
        fs,
    }
}

fn host_fs(path: &Path) -> Option<FsView> {
    let identity = crate::fsx::fs_identity(path).ok()?;
    let numbers = crate::tierfs::fs_numbers(path).ok();
    Some(FsView {
        fs_type: Some(identity.fs_type),
        device: Some(device_text(identity.device)),
        mount_source: None,
        size_bytes: Some(identity.size_bytes),
        used_bytes: numbers.as_ref().map(|n| n.used_bytes),
        available_bytes: Some(identity.available_bytes),
        covered_by: None,
    })
}

/// `st_dev` as `major:minor`, as mountinfo writes it.
#[cfg(target_os = "linux")]
fn device_text(dev: u64) -> String {
    format!(
        "{}:{}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev)
    )
}

/// `st_dev` as a number where the encoding is not known.
#[cfg(not(target_os = "linux"))]
fn device_text(dev: u64) -> String {
    dev.to_string()
}

/// Options of one observation run.
#[derive(Debug, Clone, Default)]
pub struct ObserveOptions {
    /// Image for helper containers (when a container has no shell, `stat` or `df`).
    pub helper_image: String,
    /// Test hook: sleep this long once the markers exist (to interrupt a run).
    pub pause: Option<Duration>,
    /// The host side of each bind source when the engine's host is another machine, read
    /// there by `host_fs::bind_sources` (keyed by the source as the engine was given it); no
    /// marker file is written then. `None`: read on this machine, markers written.
    pub remote_sources: Option<BTreeMap<PathBuf, HostSource>>,
}

/// One mount to read in the container: kind, host view, target, read-only, marker name.
type PlannedMount = (MountKind, Option<HostSource>, String, bool, Option<String>);

/// A container's mounts seen from the host, with a marker in each host directory; notes for the
/// mounts not checked (tmpfs and others).
fn host_side(
    info: &ContainerInfo,
    markers: &mut Markers,
    remote: Option<&BTreeMap<PathBuf, HostSource>>,
) -> (Vec<PlannedMount>, Vec<String>) {
    let mut notes = Vec::new();
    let mut mounts = Vec::new();
    for mount in &info.mounts {
        let source = Path::new(&mount.source);
        let (kind, host) = match &mount.kind {
            MountType::Bind => match remote {
                Some(seen) => (MountKind::Bind, seen.get(source).cloned()),
                None => (MountKind::Bind, Some(host_source(source))),
            },
            MountType::Volume => (
                MountKind::Volume {
                    name: mount.name.clone().unwrap_or_else(|| mount.source.clone()),
                },
                None,
            ),
            MountType::Tmpfs => {
                notes.push(format!("{}: a tmpfs mount, not checked", mount.target));
                continue;
            }
            MountType::Other(kind) => {
                notes.push(format!("{}: a `{kind}` mount, not checked", mount.target));
                continue;
            }
        };
        let marker = match &host {
            Some(h) if remote.is_none() && h.exists && source.is_dir() => {
                markers.name_in(Path::new(&mount.source))
            }
            _ => None,
        };
        mounts.push((kind, host, mount.target.clone(), !mount.read_write, marker));
    }
    (mounts, notes)
}

/// Observe every bind and volume mount of every container. Marker files exist only during
/// this call (and never outlive an interrupt once [`install_interrupt_cleanup`] ran).
pub fn observe(
    engine: &dyn Engine,
    containers: Vec<ContainerInfo>,
    options: &ObserveOptions,
) -> Result<Vec<ObservedContainer>, VerifyError> {
    let mut markers = Markers::new();
    // Host side and markers first, for every container: one marker per host directory.
    let mut planned = Vec::new();
    for info in containers {
        let (mounts, notes) = host_side(&info, &mut markers, options.remote_sources.as_ref());
        planned.push((info, mounts, notes));
    }
    if let Some(pause) = options.pause {
        std::thread::sleep(pause);
    }
    let mut observed = Vec::new();
    for (info, mounts, mut notes) in planned {
        let pairs: Vec<(String, String)> = mounts
            .iter()
            .map(|(_, _, target, _, marker)| (target.clone(), marker.clone().unwrap_or_default()))
            .collect();
        let targets: Vec<String> = pairs.iter().map(|(t, _)| t.clone()).collect();
        let (views, via) = if pairs.is_empty() {
            (BTreeMap::new(), None)
        } else {
            match read_views(engine, &info, &pairs, &targets, options) {
                Ok(read) => {
                    notes.extend(read.note);
                    (read.views, Some(read.via))
                }
                // on a busy engine a container may stop between the listing and the look
                Err(_) if gone(engine, &info.id) => {
                    notes.push("stopped or removed during the check; not checked".into());
                    observed.push(ObservedContainer {
                        info,
                        via: None,
                        mounts: Vec::new(),
                        notes,
                    });
                    continue;
                }
                Err(e) => return Err(e),
            }
        };
        let mounts = mounts
            .into_iter()
            .map(|(kind, host, target, read_only, marker_name)| {
                let view = views.get(&target);
                let marker = match (marker_name, view) {
                    (Some(_), Some(v)) => v.marker,
                    _ if options.remote_sources.is_some() => MarkerState::OtherHost,
                    _ => MarkerState::NotWritten,
                };
                MountObservation {
                    kind,
                    target,
                    read_only,
                    host,
                    container: view.map(|v| v.fs.clone()),
                    marker,
                }
            })
            .collect();
        observed.push(ObservedContainer {
            info,
            via,
            mounts,
            notes,
        });
    }
    drop(markers);
    Ok(observed)
}

/// Whether the container no longer runs (or no longer exists).
fn gone(engine: &dyn Containers, id: &str) -> bool {
    matches!(
        engine.inspect(id),
        Ok(None) | Ok(Some(ContainerInfo { running: false, .. }))
    )
}

/// One container's views and how they were read.
struct Read {
    views: BTreeMap<String, TargetView>,
    via: ReadVia,
    note: Option<String>,
}

/// Read the container's view with `docker exec`; fall back to a helper container sharing its
/// mounts when the image cannot run the script (no shell, no `stat`/`df`).
fn read_views(
    engine: &dyn Engine,
    info: &ContainerInfo,
    pairs: &[(String, String)],
    targets: &[String],
    options: &ObserveOptions,
) -> Result<Read, VerifyError> {
    let command = view_command(pairs);
    let why_not = match engine.exec(&info.id, &command) {
        Ok(out) => {
            let views = parse_view(&out.stdout, targets);
            if views.len() == targets.len() {
                return Ok(Read {
                    views,
                    via: ReadVia::Exec,
                    note: None,
                });
            }
            let stderr = out.stderr.trim();
            if stderr.is_empty() {
                "the image has no `stat -f` or `df`".to_owned()
            } else {
                stderr.lines().next().unwrap_or_default().to_owned()
            }
        }
        Err(EngineError::Api { message, .. }) => message,
        Err(e) => return Err(e.into()),
    };
    // every mount of the container, read-only, and the one capability a read-only look needs
    let spec = HelperSpec {
        shares: Some(info.id.clone()),
        capabilities: vec![Capability::DacReadSearch],
        ..HelperSpec::new("verify", &options.helper_image, command)
    };
    let output = engine.run_helper(&spec)?;
    let text = match output {
        HelperOutput::Ran(text) => text,
        HelperOutput::SourceMissing { message } => {
            return Ok(Read {
                views: BTreeMap::new(),
                via: ReadVia::Helper,
                note: Some(format!("the helper container could not start: {message}")),
            });
        }
    };
    let views = parse_view(&text, targets);
    let note = format!(
        "read with a helper container sharing its mounts (`docker exec` could not: {why_not})"
    );
    Ok(Read {
        views,
        via: ReadVia::Helper,
        note: Some(note),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = r#"#mountinfo
1100 1000 0:120 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x
89 72 0:55 / /photos rw,relatime - tmpfs tierctl-test rw,size=4096k
90 72 254:1 /var/lib/docker/volumes/db/_data /db rw,relatime - ext4 /dev/vda1 rw
91 72 254:1 /x /plain rw,relatime - ext4 /dev/vda1 rw
#target /photos
statfs 1024 1000 1000 4096
marker present
#target /db
df /dev/vda1 60796000 1200000 56480000 3% /etc/resolv.conf
marker unwritten
#target /plain
nostat
marker absent
"#;

    fn targets() -> Vec<String> {
        vec!["/photos".into(), "/db".into(), "/plain".into()]
    }

    #[test]
    fn parses_stat_and_df_and_the_mount_table() {
        let views = parse_view(OUTPUT, &targets());
        let photos = &views["/photos"];
        assert_eq!(photos.fs.fs_type.as_deref(), Some("tmpfs"));
        assert_eq!(photos.fs.device.as_deref(), Some("0:55"));
        assert_eq!(photos.fs.size_bytes, Some(4 << 20));
        assert_eq!(photos.fs.used_bytes, Some(24 * 4096));
        assert_eq!(photos.marker, MarkerState::Seen);
        let db = &views["/db"];
        assert_eq!(db.fs.fs_type.as_deref(), Some("ext4"), "mountinfo, not df");
        assert_eq!(db.fs.mount_source.as_deref(), Some("/dev/vda1"));
        assert_eq!(db.fs.size_bytes, Some(60796000 * 1024));
        assert_eq!(db.fs.available_bytes, Some(56480000 * 1024));
        assert_eq!(db.marker, MarkerState::NotWritten);
        assert!(
            !views.contains_key("/plain"),
            "no numbers: needs the helper"
        );
    }

    #[test]
    fn issue25_a_nested_bind_covered_by_a_later_parent_mount_shows_the_parent() {
        // `/data/thumbs` (tmpfs) mounted first, then `/data` (ext4) over it
        let output = "#mountinfo
1100 1000 0:120 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x
89 1100 0:55 / /data/thumbs rw,relatime - tmpfs fast rw
90 1100 254:1 /warm/immich /data rw,relatime - ext4 /dev/vda1 rw
91 1100 0:56 / /data/encoded-video rw,relatime - tmpfs fast rw
#target /data/thumbs
statfs 1024 1000 1000 4096
marker absent
#target /data/encoded-video
statfs 1024 1000 1000 4096
marker present
";
        let targets = vec!["/data/thumbs".to_owned(), "/data/encoded-video".to_owned()];
        let views = parse_view(output, &targets);
        let thumbs = &views["/data/thumbs"].fs;
        assert_eq!(thumbs.covered_by.as_deref(), Some("/data"));
        assert_eq!(
            (thumbs.fs_type.as_deref(), thumbs.device.as_deref()),
            (Some("ext4"), Some("254:1")),
            "what the container sees there: the parent's filesystem"
        );
        let video = &views["/data/encoded-video"].fs;
        assert_eq!(video.covered_by, None, "mounted after its parent");
        assert_eq!(video.fs_type.as_deref(), Some("tmpfs"));
    }

    #[test]
    fn a_failed_exec_output_gives_no_view() {
        let views = parse_view(
            "OCI runtime exec failed: exec: \"sh\": executable file not found",
            &targets(),
        );
        assert!(views.is_empty());
    }

    #[test]
    fn bad_numbers_are_not_a_view() {
        assert_eq!(parse_statfs("1 2 3"), None);
        assert_eq!(parse_statfs("a b c d"), None);
        assert_eq!(parse_df("fs x 1 2 3% /"), None);
        assert_eq!(parse_df("fs 1 2 3 3% /"), Some((1024, 2048, 3072)));
    }

    #[test]
    fn the_command_passes_targets_and_markers_as_arguments() {
        let command = view_command(&[("/a b".into(), "m".into()), ("/c".into(), String::new())]);
        assert_eq!(command[..2], ["sh", "-c"]);
        assert_eq!(command[4..], ["/a b", "m", "/c", ""]);
    }

    /// One test: the interrupt cleanup removes every live marker, so a parallel test would race.
    #[test]
    fn markers_are_registered_while_alive_and_removed_on_drop_or_interrupt() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut markers = Markers::new();
        let name = markers.name_in(dir.path()).expect("writable");
        assert_eq!(
            markers.name_in(dir.path()),
            Some(name.clone()),
            "one per dir"
        );
        let path = dir.path().join(&name);
        assert!(path.is_file());
        assert!(live_markers().lock().expect("lock").contains(&path));
        drop(markers);
        assert!(!path.exists());
        assert!(!live_markers().lock().expect("lock").contains(&path));

        let mut markers = Markers::new();
        let name = markers.name_in(dir.path()).expect("writable");
        remove_live_markers();
        assert!(!dir.path().join(name).exists());
        drop(markers);
    }
}
