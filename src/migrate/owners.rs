//! Pure: whether a target's filesystem keeps the owners a copy must set (`db-on-vm-share`).
//! A database's files belong to its user (Debian's postgres is uid 999, Alpine's 70); a VM share
//! where `chown` fails or does not stick (9p `securityModel: none` when QEMU is not root, sshfs,
//! a FUSE layer that ignores owners) would hand the copy to another owner and the database would
//! not start. Preflight finds out before anything stops: the measure helper also lists the
//! source's owners other than root, chowns a probe file in the target's nearest existing
//! directory to each and reads the owner back ([`extend`], [`parse`]); [`problem`] words the
//! refusal.

use std::path::Path;

use crate::engine::{Capability, HelperSpec, MountSource, MountSpec};
use crate::migrate::copy;

/// Owners of a source checked at most (the helper's `head -n 8`).
pub const OWNERS_CHECKED: usize = 8;

/// The check appended to the measure helper's script: `$1` is the probe file's name. Prints
/// `@owners`, then one line per owner of the source other than `0:0` (at most 8):
/// `UID:GID SEEN` with the owner read back from the probe file, or `UID:GID refused`.
pub const CHECK: &str = "echo @owners
owners=$(find /from \\( ! -user 0 -o ! -group 0 \\) -exec stat -c '%u:%g' {} + | sort -u | head -n 8)
[ -n \"$owners\" ] || exit 0
p=\"/to/$1\"
rm -f \"$p\" && : > \"$p\" || exit 1
for o in $owners; do
  if chown \"$o\" \"$p\" 2>/dev/null; then echo \"$o $(stat -c %u:%g \"$p\")\"; else echo \"$o refused\"; fi
done
rm -f \"$p\"";

/// The measure helper `measure` (its script prints the size first) extended by [`CHECK`]: the
/// directory `dir` (the target's nearest existing one, on the target's filesystem) mounted
/// writable at [`copy::TO`], the probe file named `probe`, and the capabilities to create it,
/// chown it and remove it.
pub fn extend(measure: &HelperSpec, dir: &Path, probe: &str) -> HelperSpec {
    let script = measure.command.get(2).map_or("", String::as_str);
    let mut spec = measure.clone();
    spec.command = vec![
        "sh".into(),
        "-c".into(),
        format!("{script}\n{CHECK}"),
        "tierctl-owners".into(),
        probe.into(),
    ];
    spec.mounts.push(MountSpec {
        source: MountSource::Bind(dir.to_path_buf()),
        target: copy::TO.into(),
        read_only: false,
    });
    for cap in [Capability::Chown, Capability::DacOverride] {
        if !spec.capabilities.contains(&cap) {
            spec.capabilities.push(cap);
        }
    }
    spec
}

/// One owner of the source and what a chown to it did on the target's filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerCheck {
    /// `uid:gid` of entries of the source.
    pub owner: String,
    /// The owner the probe file showed after the chown; `None`: the chown was refused.
    pub seen: Option<String>,
}

/// The owner checks in the extended measure helper's output (none before `@owners`, or when
/// every entry of the source is root's).
pub fn parse(text: &str) -> Vec<OwnerCheck> {
    text.lines()
        .skip_while(|l| l.trim() != "@owners")
        .skip(1)
        .filter_map(|line| {
            let (owner, seen) = line.trim().split_once(' ')?;
            Some(OwnerCheck {
                owner: owner.to_owned(),
                seen: (seen != "refused").then(|| seen.to_owned()),
            })
        })
        .collect()
}

/// The refusal for copying `source` to `target` when a chown of its owners fails or does not
/// stick on the target's filesystem; `share`: the VM share holding the target, if known.
pub fn problem(
    target: &Path,
    source: &str,
    checks: &[OwnerCheck],
    share: Option<&Path>,
) -> Option<String> {
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.seen.as_deref() != Some(c.owner.as_str()))
        .map(|c| match &c.seen {
            None => format!("a chown to {} is refused", c.owner),
            Some(seen) => format!("a file chowned to {} shows {seen}", c.owner),
        })
        .collect();
    if failed.is_empty() {
        return None;
    }
    let owners: Vec<&str> = checks.iter().map(|c| c.owner.as_str()).collect();
    let place = match share {
        Some(share) => format!("the VM share `{}`", share.display()),
        None => "its filesystem".to_owned(),
    };
    Some(format!(
        "db-on-vm-share: `{}`: {place} does not keep owners ({}), and {source} holds files owned by {} (a database's, say): the copy would belong to another user and the service could not use it; choose a tier on a disk or share that keeps owners (9p `passthrough` or `mapped-xattr`) for data that is not a database's, or leave this data in its volume (a database stays on the VM's own disk: no VM share suits it)",
        target.display(),
        failed.join(", "),
        owners.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_owner_lines_after_the_size() {
        let text = "120\n7\n0\n@owners\n999:999 999:999\n70:70 0:0\n1000:1000 refused\n";
        assert_eq!(
            parse(text),
            [
                OwnerCheck {
                    owner: "999:999".into(),
                    seen: Some("999:999".into())
                },
                OwnerCheck {
                    owner: "70:70".into(),
                    seen: Some("0:0".into())
                },
                OwnerCheck {
                    owner: "1000:1000".into(),
                    seen: None
                },
            ]
        );
        // a root-owned source: nothing to check
        assert_eq!(parse("120\n7\n0\n@owners\n"), []);
        assert_eq!(parse("120\n7\n0\n"), []);
        // the size is still read first
        assert_eq!(copy::parse_size(text).map(|s| s.entries), Some(7));
    }

    #[test]
    fn a_chown_that_does_not_stick_or_is_refused_is_a_problem_naming_the_share() {
        let checks = parse("1\n1\n0\n@owners\n999:999 0:0\n70:70 70:70\n");
        assert_eq!(
            problem(
                Path::new("/tiers/fast/app/db"),
                "volume `app_db`",
                &checks,
                Some(Path::new("/tiers"))
            )
            .as_deref(),
            Some(
                "db-on-vm-share: `/tiers/fast/app/db`: the VM share `/tiers` does not keep owners (a file chowned to 999:999 shows 0:0), and volume `app_db` holds files owned by 999:999, 70:70 (a database's, say): the copy would belong to another user and the service could not use it; choose a tier on a disk or share that keeps owners (9p `passthrough` or `mapped-xattr`) for data that is not a database's, or leave this data in its volume (a database stays on the VM's own disk: no VM share suits it)"
            )
        );
        let refused = parse("1\n1\n0\n@owners\n999:999 refused\n");
        let text = problem(Path::new("/t/db"), "`/srv/db`", &refused, None).expect("a problem");
        assert!(
            text.starts_with(
                "db-on-vm-share: `/t/db`: its filesystem does not keep owners (a chown to 999:999 is refused)"
            ),
            "{text}"
        );
        let kept = parse("1\n1\n0\n@owners\n999:999 999:999\n");
        assert_eq!(problem(Path::new("/t/db"), "x", &kept, None), None);
        assert_eq!(problem(Path::new("/t/db"), "x", &[], None), None);
    }

    #[test]
    fn the_extended_helper_mounts_the_target_directory_writable_and_keeps_the_source_read_only() {
        let job = copy::CopyJob {
            source: MountSource::Volume("app_db".into()),
            target: "/tiers/fast/app/db".into(),
        };
        let measure = copy::measure_spec(&job, "img", "j");
        let spec = extend(&measure, Path::new("/tiers/fast"), ".tierctl-owners-1");
        assert_eq!(spec.purpose, "measure");
        assert_eq!(
            spec.mounts,
            [
                MountSpec {
                    source: MountSource::Volume("app_db".into()),
                    target: copy::FROM.into(),
                    read_only: true
                },
                MountSpec {
                    source: MountSource::Bind("/tiers/fast".into()),
                    target: copy::TO.into(),
                    read_only: false
                },
            ]
        );
        assert_eq!(
            spec.capabilities,
            [
                Capability::DacReadSearch,
                Capability::Chown,
                Capability::DacOverride
            ]
        );
        assert_eq!(spec.command[2], format!("{}\n{CHECK}", measure.command[2]));
        assert_eq!(spec.command[3..], ["tierctl-owners", ".tierctl-owners-1"]);
    }
}
