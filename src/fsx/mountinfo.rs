//! The Linux mount table, `/proc/self/mountinfo` (see proc_pid_mountinfo(5)).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The mount table of this process's mount namespace.
pub(super) const MOUNTINFO: &str = "/proc/self/mountinfo";

/// One line of the mount table: where, and which filesystem type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mount {
    pub(super) mount_point: PathBuf,
    pub(super) fs_type: String,
}

/// Parses the mount table; lines not of its form are skipped.
pub(super) fn parse(text: &[u8]) -> Vec<Mount> {
    text.split(|&byte| byte == b'\n')
        .filter_map(parse_line)
        .collect()
}

/// `36 35 98:0 /root /mount/point rw,noatime master:1 - ext3 /dev/root rw`
fn parse_line(line: &[u8]) -> Option<Mount> {
    let fields: Vec<&[u8]> = line.split(|&byte| byte == b' ').collect();
    let separator = fields.iter().skip(6).position(|field| *field == b"-")? + 6;
    let mount_point = fields.get(4)?;
    let fs_type = fields.get(separator + 1)?;
    if !mount_point.starts_with(b"/") || fs_type.is_empty() {
        return None;
    }
    Some(Mount {
        mount_point: PathBuf::from(OsString::from_vec(unescape(mount_point))),
        fs_type: String::from_utf8_lossy(&unescape(fs_type)).into_owned(),
    })
}

/// Undoes the kernel's octal escapes (`\040` space, `\011` tab,
/// `\012` newline, `\134` backslash); anything else is kept as is.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut rest = field;
    while let Some((&byte, tail)) = rest.split_first() {
        let octal = tail
            .get(..3)
            .filter(|digits| digits.iter().all(|digit| (b'0'..=b'7').contains(digit)))
            .map(|digits| {
                digits
                    .iter()
                    .fold(0u16, |value, digit| value * 8 + u16::from(digit - b'0'))
            })
            .and_then(|value| u8::try_from(value).ok());
        match (byte, octal) {
            (b'\\', Some(value)) => {
                out.push(value);
                rest = &tail[3..];
            }
            _ => {
                out.push(byte);
                rest = tail;
            }
        }
    }
    out
}

/// The mount holding `real`: the longest mount point that is a
/// component-wise prefix; among equal ones the last (it is on top).
pub(super) fn mount_for<'a>(mounts: &'a [Mount], real: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|mount| real.starts_with(&mount.mount_point))
        .max_by_key(|mount| mount.mount_point.components().count())
}

/// The mount holding `real` (as [`mount_for`]) with its per-mount options (field 6).
pub(super) fn with_options(text: &[u8], real: &Path) -> Option<crate::layout::MountFacts> {
    let mounts = parse(text);
    let mount = mount_for(&mounts, real)?;
    // `parse` keeps every well-formed line in order: find the same line again, last first.
    let line = text
        .split(|&byte| byte == b'\n')
        .rfind(|line| parse_line(line).as_ref() == Some(mount))?;
    let options = line.split(|&byte| byte == b' ').nth(5).unwrap_or_default();
    Some(crate::layout::MountFacts {
        mount_point: mount.mount_point.clone(),
        fs_type: mount.fs_type.clone(),
        options: String::from_utf8_lossy(options)
            .split(',')
            .map(str::to_string)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r"22 27 0:21 / /proc rw,relatime - proc proc rw
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684092k
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
30 25 0:27 / /dev/shm rw,relatime shared:7 master:1 - tmpfs shm rw
40 27 0:40 / /mnt/data rw,relatime shared:9 - xfs /dev/sdb1 rw
41 27 0:41 /photos /Volumes/fast\040store rw - virtiofs mount0 rw
42 27 0:42 / /mnt/back\134slash rw - fuse.sshfs host:/x rw
this line is not a mount
43 27 0:43 / /mnt/nofstype rw -
";

    fn fs_type_of(path: &str) -> Option<String> {
        let mounts = parse(TABLE.as_bytes());
        mount_for(&mounts, Path::new(path)).map(|mount| mount.fs_type.clone())
    }

    #[test]
    fn parses_well_formed_lines_and_skips_the_rest() {
        let mounts = parse(TABLE.as_bytes());
        assert_eq!(mounts.len(), 7);
        assert_eq!(
            mounts[4],
            Mount {
                mount_point: PathBuf::from("/mnt/data"),
                fs_type: "xfs".to_owned(),
            }
        );
    }

    #[test]
    fn unescapes_octal_escapes_in_mount_points() {
        assert_eq!(
            fs_type_of("/Volumes/fast store/x").as_deref(),
            Some("virtiofs")
        );
        assert_eq!(
            fs_type_of("/mnt/back\\slash").as_deref(),
            Some("fuse.sshfs")
        );
        assert_eq!(unescape(br"a\040b\011c\012d\134e"), b"a b\tc\nd\\e");
        assert_eq!(unescape(br"keep\9xx\04"), br"keep\9xx\04");
    }

    #[test]
    fn options_of_the_mount_holding_a_path() {
        let data = with_options(TABLE.as_bytes(), Path::new("/mnt/data/db")).unwrap();
        assert_eq!(data.mount_point, PathBuf::from("/mnt/data"));
        assert_eq!(data.options, vec!["rw", "relatime"]);
        let shm = with_options(TABLE.as_bytes(), Path::new("/dev/shm")).unwrap();
        assert_eq!(shm.fs_type, "tmpfs");
    }

    #[test]
    fn longest_prefix_is_component_wise() {
        assert_eq!(fs_type_of("/mnt/data/db").as_deref(), Some("xfs"));
        assert_eq!(fs_type_of("/mnt/data").as_deref(), Some("xfs"));
        assert_eq!(fs_type_of("/mnt/database").as_deref(), Some("ext4"));
        assert_eq!(fs_type_of("/").as_deref(), Some("ext4"));
    }

    #[test]
    fn last_of_stacked_mounts_wins() {
        let mounts = parse(TABLE.as_bytes());
        let mount = mount_for(&mounts, Path::new("/dev/shm/x"));
        assert_eq!(mount, Some(&mounts[3]));
    }

    #[test]
    fn empty_table_holds_nothing() {
        assert_eq!(mount_for(&parse(b""), Path::new("/")), None);
    }
}
