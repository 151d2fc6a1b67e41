//! The bind probe: proof from the engine itself that it sees a host directory.
//!
//! For each bind source a helper container binds the source read-only at [`TARGET`] and prints
//! the mount table, `stat -f` of the target (sizes as `f_blocks * f_frsize`) and whether a marker
//! file tierctl wrote in the host directory is visible. The marker is the proof; filesystem type
//! and size are compared too (a VM share legitimately reports another type, and Docker Desktop
//! the root volume's size, so those alone are only evidence).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::helper::{Capability, HelperSpec, MountSource, MountSpec};
use super::{EngineError, HelperOutput, Helpers};
use crate::facts::FsIdentity;
pub use crate::facts::{BindProbe, BindVerdict as Verdict, ContainerView, ProbeMarker as Marker};

/// Where the helper container sees the bind source.
pub const TARGET: &str = "/tierctl-probe";

/// The image used when none is named: a public busybox (pull it once).
pub const DEFAULT_HELPER_IMAGE: &str = "busybox:1.36";

/// The helper's shell script; `$1` is the marker file name (empty when none was written).
const SCRIPT: &str = r#"echo '#mountinfo'
cat /proc/self/mountinfo
echo '#statfs'
stat -f -c '%b %S' /tierctl-probe
echo '#marker'
if [ -z "$1" ]; then echo unwritten; elif [ -e "/tierctl-probe/$1" ]; then echo present; else echo absent; fi
"#;

/// The helper command for a marker name (`""` = no marker).
pub fn helper_command(marker: &str) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        SCRIPT.into(),
        "tierctl-probe".into(),
        marker.into(),
    ]
}

/// The probe helper for `source`: the source read-only at [`TARGET`], and the one capability a
/// read-only look needs, `DAC_READ_SEARCH` (to search and read directories of other owners: a
/// Postgres data dir is 0700 uid 999).
pub fn helper_spec(image: &str, source: &Path, marker: &str) -> HelperSpec {
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(source.to_owned()),
            target: TARGET.into(),
            read_only: true,
        }],
        capabilities: vec![Capability::DacReadSearch],
        ..HelperSpec::new("probe", image, helper_command(marker))
    }
}

/// Parse the helper's output.
pub fn parse_output(text: &str) -> ContainerView {
    let mut section = "";
    let mut view = ContainerView {
        fs_type: None,
        mount_source: None,
        size_bytes: None,
        marker: Marker::NotWritten,
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix('#') {
            section = name;
            continue;
        }
        match section {
            "mountinfo" => {
                if let Some((fs_type, source)) = mountinfo_entry(line, TARGET) {
                    view.fs_type = Some(fs_type);
                    view.mount_source = Some(source);
                }
            }
            "statfs" => {
                let mut fields = line.split_whitespace().map(str::parse::<u64>);
                if let (Some(Ok(blocks)), Some(Ok(frsize))) = (fields.next(), fields.next()) {
                    view.size_bytes = blocks.checked_mul(frsize);
                }
            }
            "marker" => {
                view.marker = match line.trim() {
                    "present" => Marker::Seen,
                    "absent" => Marker::Missing,
                    _ => Marker::NotWritten,
                }
            }
            _ => {}
        }
    }
    view
}

/// The filesystem type and source of the mount at `mount_point` in one `/proc/self/mountinfo`
/// line (`id parent major:minor root mount-point options [optional...] - type source super`).
pub fn mountinfo_entry(line: &str, mount_point: &str) -> Option<(String, String)> {
    let (left, right) = line.split_once(" - ")?;
    let point = left.split_whitespace().nth(4)?;
    if unescape(point) != mount_point {
        return None;
    }
    let mut fields = right.split_whitespace();
    let fs_type = fields.next()?.to_owned();
    let source = fields.next().map(unescape).unwrap_or_default();
    Some((fs_type, source))
}

/// The `major:minor` device field of one `/proc/self/mountinfo` line, when its mount point is
/// `mount_point`.
pub fn mountinfo_device(line: &str, mount_point: &str) -> Option<String> {
    let (left, _) = line.split_once(" - ")?;
    let mut fields = left.split_whitespace();
    let device = fields.nth(2)?;
    let point = fields.nth(1)?;
    (unescape(point) == mount_point).then(|| device.to_owned())
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decide what the engine sees, from the host's and the container's view. The marker decides
/// when it was written; otherwise type and size must both match.
pub fn compare(host: &FsIdentity, container: &ContainerView) -> (Verdict, Vec<String>) {
    let mut differences = Vec::new();
    if let Some(fs_type) = &container.fs_type
        && *fs_type != host.fs_type
    {
        differences.push(format!(
            "filesystem type: host `{}`, container `{fs_type}`",
            host.fs_type
        ));
    }
    if let Some(size) = container.size_bytes
        && size != host.size_bytes
    {
        differences.push(format!(
            "size: host {} bytes, container {size} bytes",
            host.size_bytes
        ));
    }
    match container.marker {
        Marker::Seen => (Verdict::Same, differences),
        Marker::Missing => {
            let mut reasons = vec!["marker file written on the host is not visible".to_owned()];
            reasons.extend(differences);
            (Verdict::Different { reasons }, Vec::new())
        }
        Marker::NotWritten if differences.is_empty() => (
            Verdict::Same,
            vec!["no marker file (directory not writable): type and size match".into()],
        ),
        Marker::NotWritten => (
            Verdict::Different {
                reasons: differences,
            },
            vec!["no marker file (directory not writable)".into()],
        ),
    }
}

/// The start of every marker file's name: `.tierctl-marker-<pid>-<nanos>`.
pub const MARKER_PREFIX: &str = ".tierctl-marker-";

/// Whether a file `name` is a marker file (as [`MarkerFile::create`] names it) of the process
/// `pid`.
pub fn marker_of(name: &str, pid: u32) -> bool {
    name.strip_prefix(MARKER_PREFIX)
        .and_then(|rest| rest.split_once('-'))
        .is_some_and(|(of, nanos)| {
            of == pid.to_string() && !nanos.is_empty() && nanos.bytes().all(|b| b.is_ascii_digit())
        })
}

/// A marker file in a host directory; removed when dropped, also on error and unwinding.
pub struct MarkerFile {
    path: PathBuf,
}

impl MarkerFile {
    /// Create a fresh marker file (random name, never an existing file) in `dir`; `None` when
    /// the directory is not writable.
    pub fn create(dir: &Path) -> Option<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("{MARKER_PREFIX}{}-{nanos}", std::process::id());
        let path = dir.join(name);
        crate::fsx::create_marker(&path).ok()?;
        Some(MarkerFile { path })
    }

    /// The file name (what the helper looks for).
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Drop for MarkerFile {
    fn drop(&mut self) {
        let _ = crate::fsx::remove_marker(&self.path);
    }
}

/// Probe one bind source. Engine errors that concern only this source become a
/// [`Verdict::Failed`]; a missing helper image or a dead engine stop the probe with `Err`.
pub fn probe_source(
    engine: &dyn Helpers,
    image: &str,
    source: &Path,
) -> Result<BindProbe, EngineError> {
    let mut probe = BindProbe {
        source: source.to_owned(),
        host: None,
        container: None,
        verdict: Verdict::MissingOnHost,
        notes: Vec::new(),
    };
    if !source.is_dir() {
        if source.exists() {
            probe.verdict = Verdict::Failed {
                message: "not a directory: only directory binds are probed".into(),
            };
        }
        return Ok(probe);
    }
    let host = match crate::fsx::fs_identity(source) {
        Ok(host) => host,
        Err(e) => {
            probe.verdict = Verdict::Failed {
                message: e.to_string(),
            };
            return Ok(probe);
        }
    };
    let marker = MarkerFile::create(source);
    let name = marker.as_ref().map(MarkerFile::name).unwrap_or_default();
    let output = engine.run_helper(&helper_spec(image, source, &name));
    drop(marker);
    match output {
        Ok(HelperOutput::Ran(text)) => {
            let view = parse_output(&text);
            let (verdict, notes) = compare(&host, &view);
            probe.verdict = verdict;
            probe.notes = notes;
            probe.container = Some(view);
        }
        Ok(HelperOutput::SourceMissing { message }) => {
            probe.verdict = Verdict::MissingInEngine { message };
        }
        Err(e @ EngineError::Api { .. }) => {
            probe.verdict = Verdict::Failed {
                message: e.to_string(),
            };
        }
        Err(e) => return Err(e),
    }
    probe.host = Some(host);
    Ok(probe)
}

/// Bind probes run at once: each is a helper container run, mostly spent waiting on the engine.
const PROBES_AT_ONCE: usize = 4;

/// Probe every bind source ([`probe_source`]), [`PROBES_AT_ONCE`] at a time; the probes in the
/// order of `sources`.
pub fn probe_sources(
    engine: &(dyn Helpers + Sync),
    image: &str,
    sources: &[PathBuf],
) -> Result<Vec<BindProbe>, EngineError> {
    let mut out = Vec::with_capacity(sources.len());
    for batch in sources.chunks(PROBES_AT_ONCE) {
        let probed: Vec<Result<BindProbe, EngineError>> = std::thread::scope(|scope| {
            let running: Vec<_> = batch
                .iter()
                .map(|s| scope.spawn(move || probe_source(engine, image, s)))
                .collect();
            running
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(EngineError::Api {
                            context: String::new(),
                            action: "probe a bind source".into(),
                            message: "the probe thread panicked".into(),
                        })
                    })
                })
                .collect()
        });
        for probe in probed {
            out.push(probe?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = r#"#mountinfo
1100 1000 0:120 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x
89 72 254:0 /tmp/tier /tierctl-probe ro,relatime - ext4 /dev/vda rw,discard
#statfs
66053021 4096
#marker
present
"#;

    fn host(fs_type: &str, size: u64) -> FsIdentity {
        FsIdentity {
            fs_type: fs_type.into(),
            device: 1,
            size_bytes: size,
            available_bytes: 0,
        }
    }

    #[test]
    fn parses_the_helper_output() {
        let view = parse_output(OUTPUT);
        assert_eq!(view.fs_type.as_deref(), Some("ext4"));
        assert_eq!(view.mount_source.as_deref(), Some("/dev/vda"));
        assert_eq!(view.size_bytes, Some(66053021 * 4096));
        assert_eq!(view.marker, Marker::Seen);
    }

    #[test]
    fn mountinfo_entry_skips_optional_fields_and_other_mounts() {
        let line =
            "36 35 98:0 /mnt1 /tierctl-probe rw,noatime master:1 shared:7 - virtiofs mount0 rw";
        assert_eq!(
            mountinfo_entry(line, TARGET),
            Some(("virtiofs".into(), "mount0".into()))
        );
        assert_eq!(mountinfo_entry(line, "/other"), None);
        assert_eq!(mountinfo_device(line, TARGET).as_deref(), Some("98:0"));
        assert_eq!(mountinfo_device(line, "/other"), None);
        assert_eq!(mountinfo_entry("garbage", TARGET), None);
        let escaped = r"1 2 0:1 / /a\040b rw - tmpfs tmp\040fs rw";
        assert_eq!(
            mountinfo_entry(escaped, "/a b"),
            Some(("tmpfs".into(), "tmp fs".into()))
        );
    }

    #[test]
    fn marker_seen_means_same_even_when_a_vm_share_reports_another_type() {
        let view = parse_output(OUTPUT);
        let (verdict, notes) = compare(&host("apfs", 1), &view);
        assert_eq!(verdict, Verdict::Same);
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn marker_missing_is_a_mismatch_with_the_differences_as_reasons() {
        let view = parse_output(&OUTPUT.replace("present", "absent"));
        let (verdict, _) = compare(&host("tmpfs", 10 << 20), &view);
        let Verdict::Different { reasons } = verdict else {
            panic!("expected a mismatch, got {verdict:?}");
        };
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("marker"));
        assert!(reasons[1].contains("`tmpfs`"));
    }

    #[test]
    fn without_a_marker_type_and_size_decide() {
        let view = parse_output(&OUTPUT.replace("present", "unwritten"));
        assert_eq!(view.marker, Marker::NotWritten);
        let (verdict, _) = compare(&host("ext4", 66053021 * 4096), &view);
        assert_eq!(verdict, Verdict::Same);
        let (verdict, _) = compare(&host("ext4", 1), &view);
        assert!(verdict.is_mismatch());
    }

    #[test]
    fn marker_file_is_removed_when_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = MarkerFile::create(dir.path()).expect("writable temp dir");
        let path = dir.path().join(marker.name());
        assert!(path.is_file());
        drop(marker);
        assert!(!path.exists());
    }

    #[test]
    fn issue26_row15_a_marker_name_tells_the_pid_that_made_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let marker = MarkerFile::create(dir.path()).expect("writable temp dir");
        assert!(marker_of(&marker.name(), std::process::id()));
        assert!(marker_of(".tierctl-marker-41-1733", 41));
        assert!(!marker_of(".tierctl-marker-41-1733", 4));
        assert!(!marker_of(".tierctl-marker-141-1733", 41));
        assert!(!marker_of(".tierctl-marker-41-", 41));
        assert!(!marker_of(".tierctl-marker-41-17x", 41));
        assert!(!marker_of("tierctl-marker-41-1733", 41));
    }

    #[test]
    fn a_source_missing_on_the_host_runs_no_helper_and_is_not_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope");
        let probe = probe_source(&crate::engine::no_helpers::NoHelpers, "img", &missing)
            .expect("no engine error");
        assert_eq!(probe.verdict, Verdict::MissingOnHost);
        assert!(!missing.exists());
    }
}
