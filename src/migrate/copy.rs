//! Pure decisions about a copy: the helper containers that measure, copy, verify and wipe, the
//! capabilities a copy needs, and whether a target directory may receive a copy.
//!
//! The copy is busybox `cp -a /from/. /to/` in a helper container: the source read-only at
//! `/from`, the tier directory at `/to`, no network, no privileges, every capability dropped but
//! the ones a copy that keeps owners and modes needs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::engine::{Capability, HelperSpec, MountSource, MountSpec};
use crate::migrate::delta;

/// Where the source is mounted in a helper.
pub const FROM: &str = "/from";
/// Where the target is mounted in a helper.
pub const TO: &str = "/to";

/// What is copied where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyJob {
    /// The source: a named volume or a host directory.
    pub source: MountSource,
    /// The tier directory (absolute, on the host).
    pub target: PathBuf,
}

/// What a first look at the source found (the `measure` helper).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSize {
    /// Bytes the copy writes, in whole KiB: each inode once, a regular file's apparent size
    /// where it exceeds its allocated blocks (a sparse file: the copy writes it dense, holes
    /// included), the allocated blocks otherwise ([`WRITES`]).
    pub bytes: u64,
    /// Entries (`find | wc -l`, the root included).
    pub entries: u64,
    /// Whether it holds device files (the copy then needs `MKNOD`).
    pub devices: bool,
}

/// The KiB a copy of `/from` writes (busybox `find`/`stat`/`awk`): per inode (a hardlink group
/// once), a regular file's apparent size where it exceeds its allocated blocks, else the
/// blocks. `du -sk` counts only allocated blocks, so a sparse file (5 GiB with 12 KiB
/// allocated) would pass the room check and the dense copy fill the tier (issue 26 row 6).
macro_rules! writes {
    () => {
        "find /from -exec stat -c '%h %i %s %b %B %F' {} + | awk '{ if ($1 > 1 && $6 != \"directory\") { if (seen[$2]++) next } a = $4 * $5; if ($6 == \"regular\" && $3 > a) a = $3; t += a } END { print int((t + 1023) / 1024) }'"
    };
}

/// [`writes!`] as a constant, for the docs and the tests.
pub const WRITES: &str = writes!();

const MEASURE: &str = concat!(
    writes!(),
    "; find /from | wc -l; \
find /from \\( -type b -o -type c \\) | head -n 1 | wc -l"
);

/// The copy prints the helper's clock first: what changes after it is the delta's.
const COPY: &str = "date +%s && cp -a /from/. /to/ && sync";

/// What a measured copy prints instead of its clock when the measure says the copy must wait:
/// the source holds device files (the copy needs `MKNOD`, which this helper was not given) or
/// is empty while the image could seed it (`$1` = 1).
pub const MEASURE_FIRST: &str = "@measure-first";

/// The measure, then the copy, in one container (a container start less: seconds in a VM
/// under emulation): [`MEASURE`]'s three lines, then [`MEASURE_FIRST`] and nothing copied when
/// the copy must wait (see there), else [`COPY`]. `$1`: 1 when an empty source is seeded.
const MEASURED_COPY: &str = concat!(
    "m=$(",
    writes!(),
    "; find /from | wc -l; \
find /from \\( -type b -o -type c \\) | head -n 1 | wc -l) || exit 1
echo \"$m\"
set -- \"$1\" $m
if [ \"$4\" != 0 ] || { [ \"$1\" = 1 ] && [ \"$3\" -le 1 ]; }; then echo @measure-first; exit 0; fi
date +%s && cp -a /from/. /to/ && sync"
);

/// The helper that measures the source and copies it in one run (no device files: no `MKNOD`);
/// `seed`: an empty source is seeded from the image first, so it is not copied. Its output is
/// read by [`parse_measured`].
pub fn measured_copy_spec(job: &CopyJob, image: &str, journal: &str, seed: bool) -> HelperSpec {
    let mut command = shell(MEASURED_COPY);
    command.push("tierctl-copy".into());
    command.push(if seed { "1" } else { "0" }.into());
    HelperSpec {
        command,
        ..copy_spec(job, image, journal, false)
    }
}

/// A measured copy's output: the source's size, and the copy's clock when it copied (`None`:
/// [`MEASURE_FIRST`], nothing was copied).
pub fn parse_measured(text: &str) -> Option<(SourceSize, Option<i64>)> {
    let size = parse_size(text)?;
    let rest = text.lines().nth(3)?.trim();
    if rest == MEASURE_FIRST {
        return Some((size, None));
    }
    Some((size, Some(rest.parse().ok()?)))
}

/// The copy while the services run: an entry that vanishes under `cp` is no error (the delta
/// copies again what changed and the verify checks every entry); any other complaint of `cp`
/// goes to stdout after the clock ([`pre_copy_errors`] reads it).
const PRE_COPY: &str =
    "date +%s; cp -a /from/. /to/ 2>&1 | grep -v 'No such file or directory' | tail -n 5; sync";

/// What `cp` complained about in a pre-copy's output (besides entries that vanished).
pub fn pre_copy_errors(text: &str) -> Vec<&str> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

const WIPE: &str = "find /to -mindepth 1 -maxdepth 1 -exec rm -rf {} +";

fn mounts(job: &CopyJob, target_read_only: bool) -> Vec<MountSpec> {
    vec![
        MountSpec {
            source: job.source.clone(),
            target: FROM.into(),
            read_only: true,
        },
        MountSpec {
            source: MountSource::Bind(job.target.clone()),
            target: TO.into(),
            read_only: target_read_only,
        },
    ]
}

fn shell(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

/// The helper that measures the source (its output is read by [`parse_size`]).
pub fn measure_spec(job: &CopyJob, image: &str, journal: &str) -> HelperSpec {
    HelperSpec {
        image: image.into(),
        command: shell(MEASURE),
        mounts: vec![MountSpec {
            source: job.source.clone(),
            target: FROM.into(),
            read_only: true,
        }],
        capabilities: vec![Capability::DacReadSearch],
        shares: None,
        purpose: "measure".into(),
        journal: Some(journal.into()),
        pid_namespace_of: None,
    }
}

/// The capabilities `cp -a` needs: set owners (`CHOWN`), set modes and times on files it does
/// not own (`FOWNER`), read and write whatever the modes say (`DAC_OVERRIDE`), keep setuid and
/// setgid bits (`FSETID`), and `MKNOD` only for device files (a FIFO needs none).
pub fn copy_capabilities(devices: bool) -> Vec<Capability> {
    let mut caps = vec![
        Capability::Chown,
        Capability::DacOverride,
        Capability::Fowner,
        Capability::Fsetid,
    ];
    if devices {
        caps.push(Capability::Mknod);
    }
    caps
}

/// The helper that copies.
pub fn copy_spec(job: &CopyJob, image: &str, journal: &str, devices: bool) -> HelperSpec {
    HelperSpec {
        image: image.into(),
        command: shell(COPY),
        mounts: mounts(job, false),
        capabilities: copy_capabilities(devices),
        shares: None,
        purpose: "copy".into(),
        journal: Some(journal.into()),
        pid_namespace_of: None,
    }
}

/// The helper that copies while the services run (see [`PRE_COPY`]).
pub fn pre_copy_spec(job: &CopyJob, image: &str, journal: &str, devices: bool) -> HelperSpec {
    HelperSpec {
        command: shell(PRE_COPY),
        ..copy_spec(job, image, journal, devices)
    }
}

/// The helper that applies one run of a delta's ops ([`delta::ops_args`]); `strict`: stop at
/// the first error (the services are stopped, nothing may vanish).
pub fn delta_spec(
    job: &CopyJob,
    image: &str,
    journal: &str,
    args: &[String],
    strict: bool,
    devices: bool,
) -> HelperSpec {
    let mut command = shell(&format!("STRICT={}\n{}", u8::from(strict), delta::APPLY));
    command.push("tierctl-delta".into());
    command.extend(args.iter().cloned());
    HelperSpec {
        command,
        purpose: "delta".into(),
        ..copy_spec(job, image, journal, devices)
    }
}

/// The helper clock a copy's output starts with.
pub fn parse_clock(text: &str) -> Option<i64> {
    text.lines().next()?.trim().parse().ok()
}

/// The helper (never started) whose archive streams give both manifests; both mounts read-only.
pub fn verify_spec(job: &CopyJob, image: &str, journal: &str) -> HelperSpec {
    HelperSpec {
        image: image.into(),
        command: shell("true"),
        mounts: mounts(job, true),
        capabilities: Vec::new(),
        shares: None,
        purpose: "verify".into(),
        journal: Some(journal.into()),
        pid_namespace_of: None,
    }
}

/// The helper that empties the target (a partial copy of this journal, or a rollback); the
/// source is not mounted at all.
pub fn wipe_spec(target: &Path, image: &str, journal: &str) -> HelperSpec {
    HelperSpec {
        image: image.into(),
        command: shell(WIPE),
        mounts: vec![MountSpec {
            source: MountSource::Bind(target.to_path_buf()),
            target: TO.into(),
            read_only: false,
        }],
        capabilities: vec![Capability::DacOverride],
        shares: None,
        purpose: "wipe".into(),
        journal: Some(journal.into()),
        pid_namespace_of: None,
    }
}

/// Read the measure helper's output.
pub fn parse_size(text: &str) -> Option<SourceSize> {
    let mut lines = text.lines().map(str::trim);
    let kib: u64 = lines.next()?.parse().ok()?;
    let entries: u64 = lines.next()?.parse().ok()?;
    let devices: u64 = lines.next()?.parse().ok()?;
    Some(SourceSize {
        bytes: kib * 1024,
        entries,
        devices: devices > 0,
    })
}

/// What the host shows at a target path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetFacts {
    /// The path exists (without following a final symlink).
    pub exists: bool,
    /// It is a directory (not through a symlink).
    pub is_dir: bool,
    /// It has no entries.
    pub empty: bool,
    /// The path with every symlink resolved (for a missing path: its nearest existing ancestor
    /// resolved, the rest joined); `None` when that failed.
    pub real: Option<PathBuf>,
}

/// What a target holds, when it may receive the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetState {
    /// It does not exist: create it.
    Missing,
    /// An empty directory.
    Empty,
    /// A partial copy this journal made: wipe it and copy again.
    JournaledCopy,
}

/// Why a target may not receive a copy.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TargetError {
    /// Not under any tier root.
    #[error("target `{}` is not inside a tier root", target.display())]
    OutsideTiers {
        /// The target.
        target: PathBuf,
    },
    /// A symlink lies on the way.
    #[error("target `{}` is reached through a symlink (it is really `{}`)", target.display(), real.display())]
    Symlinked {
        /// The target.
        target: PathBuf,
        /// Where it really is.
        real: PathBuf,
    },
    /// The path could not be resolved.
    #[error("target `{}` cannot be resolved", target.display())]
    Unresolved {
        /// The target.
        target: PathBuf,
    },
    /// It exists and is not a directory.
    #[error("target `{}` exists and is not a directory", target.display())]
    NotADirectory {
        /// The target.
        target: PathBuf,
    },
    /// It holds data tierctl did not put there.
    #[error("target `{}` is not empty", target.display())]
    NotEmpty {
        /// The target.
        target: PathBuf,
    },
}

/// Whether `target` may receive a copy: inside one of `roots`, reached without symlinks, and
/// missing, empty, or holding this journal's partial copy (`journaled`).
pub fn check_target(
    target: &Path,
    roots: &[PathBuf],
    facts: &TargetFacts,
    journaled: bool,
) -> Result<TargetState, TargetError> {
    let owned = || target.to_path_buf();
    if !roots
        .iter()
        .any(|root| target.starts_with(root) && target != root)
    {
        return Err(TargetError::OutsideTiers { target: owned() });
    }
    match &facts.real {
        None => return Err(TargetError::Unresolved { target: owned() }),
        Some(real) if real != target => {
            return Err(TargetError::Symlinked {
                target: owned(),
                real: real.clone(),
            });
        }
        Some(_) => {}
    }
    if !facts.exists {
        return Ok(TargetState::Missing);
    }
    if !facts.is_dir {
        return Err(TargetError::NotADirectory { target: owned() });
    }
    match (facts.empty, journaled) {
        (true, _) => Ok(TargetState::Empty),
        (false, true) => Ok(TargetState::JournaledCopy),
        (false, false) => Err(TargetError::NotEmpty { target: owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measured_copy_copies_only_what_needs_no_measure_first() {
        let job = CopyJob {
            source: MountSource::Volume("v".into()),
            target: "/t/db".into(),
        };
        let spec = measured_copy_spec(&job, "img", "j", true);
        assert_eq!(spec.purpose, "copy");
        assert_eq!(spec.capabilities, copy_capabilities(false));
        assert_eq!(spec.command[3..], ["tierctl-copy", "1"]);
        assert_eq!(measured_copy_spec(&job, "img", "j", false).command[4], "0");
        let size = SourceSize {
            bytes: 8 * 1024,
            entries: 12,
            devices: false,
        };
        assert_eq!(
            parse_measured("8\n12\n0\n1700000000\n"),
            Some((size, Some(1_700_000_000)))
        );
        let devices = SourceSize {
            devices: true,
            ..size
        };
        assert_eq!(
            parse_measured("8\n12\n1\n@measure-first\n"),
            Some((devices, None))
        );
        assert_eq!(parse_measured("8\n12\n0\n"), None);
    }

    fn facts(exists: bool, empty: bool, real: &str) -> TargetFacts {
        TargetFacts {
            exists,
            is_dir: exists,
            empty,
            real: Some(real.into()),
        }
    }

    fn roots() -> Vec<PathBuf> {
        vec!["/tiers/fast".into(), "/tiers/warm".into()]
    }

    #[test]
    fn a_missing_or_empty_target_inside_a_tier_is_accepted() {
        let t = Path::new("/tiers/fast/db/app");
        assert_eq!(
            check_target(
                t,
                &roots(),
                &facts(false, true, "/tiers/fast/db/app"),
                false
            ),
            Ok(TargetState::Missing)
        );
        assert_eq!(
            check_target(t, &roots(), &facts(true, true, "/tiers/fast/db/app"), false),
            Ok(TargetState::Empty)
        );
    }

    #[test]
    fn a_target_with_data_is_refused_unless_this_journal_put_it_there() {
        let t = Path::new("/tiers/fast/db/app");
        let f = facts(true, false, "/tiers/fast/db/app");
        assert_eq!(
            check_target(t, &roots(), &f, false),
            Err(TargetError::NotEmpty { target: t.into() })
        );
        assert_eq!(
            check_target(t, &roots(), &f, true),
            Ok(TargetState::JournaledCopy)
        );
    }

    #[test]
    fn outside_the_tiers_the_root_itself_and_symlinks_are_refused() {
        let outside = Path::new("/srv/app");
        assert!(matches!(
            check_target(outside, &roots(), &facts(false, true, "/srv/app"), false),
            Err(TargetError::OutsideTiers { .. })
        ));
        let root = Path::new("/tiers/fast");
        assert!(matches!(
            check_target(root, &roots(), &facts(true, true, "/tiers/fast"), false),
            Err(TargetError::OutsideTiers { .. })
        ));
        let linked = Path::new("/tiers/fast/db");
        assert_eq!(
            check_target(linked, &roots(), &facts(true, true, "/mnt/x/db"), false),
            Err(TargetError::Symlinked {
                target: linked.into(),
                real: "/mnt/x/db".into()
            })
        );
    }

    #[test]
    fn the_copy_helper_mounts_the_source_read_only_and_adds_mknod_only_for_devices() {
        let job = CopyJob {
            source: MountSource::Volume("app_db".into()),
            target: "/tiers/fast/db".into(),
        };
        let spec = copy_spec(&job, "busybox", "j", false);
        assert!(spec.mounts[0].read_only);
        assert!(!spec.mounts[1].read_only);
        let names: Vec<&str> = spec.capabilities.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID"]);
        assert!(
            copy_spec(&job, "busybox", "j", true)
                .capabilities
                .contains(&Capability::Mknod)
        );
        let verify = verify_spec(&job, "busybox", "j");
        assert!(verify.mounts.iter().all(|m| m.read_only));
        assert!(verify.capabilities.is_empty());
    }

    #[test]
    fn parses_the_measure_output() {
        assert_eq!(
            parse_size("2048\n17\n0\n"),
            Some(SourceSize {
                bytes: 2 * 1024 * 1024,
                entries: 17,
                devices: false
            })
        );
        assert_eq!(parse_size("du: cannot\n"), None);
    }
}
