//! Which files some process holds open for writing: every `/proc/<pid>/fd/<n>` whose file is
//! on a device of interest, with a write access mode in `/proc/<pid>/fdinfo/<n>` (`flags:`).
//! The file is matched by device and inode (the fd's path would be the container's or the
//! pool's), so a writer in a container (a host process on a native engine) and a writer through
//! the mergerfs pool (mergerfs holds the branch file open with the writer's mode:
//! `cache.files=off`) are both seen. A process tierctl may not read (another user's, without
//! root) is not seen: the mover runs as root.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The process that holds a file open for writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// Its pid.
    pub pid: u32,
    /// Its command name.
    pub command: String,
}

/// Files open for writing, by (device, inode).
pub type Writers = BTreeMap<(u64, u64), Writer>;

/// Every file on one of `devices` that a process holds open for writing, read from `proc`
/// (`/proc`). Processes and descriptors that vanish while read are passed over.
pub fn scan(proc: &Path, devices: &BTreeSet<u64>) -> Writers {
    let mut writers = Writers::new();
    let Ok(entries) = fs::read_dir(proc) else {
        return writers;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let Ok(fds) = fs::read_dir(dir.join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(meta) = fs::metadata(fd.path()) else {
                continue;
            };
            if !meta.is_file() || !devices.contains(&meta.dev()) {
                continue;
            }
            let info = dir.join("fdinfo").join(fd.file_name());
            if fs::read_to_string(info).is_ok_and(|text| writes(&text)) {
                let command = fs::read_to_string(dir.join("comm"))
                    .map(|c| c.trim().to_owned())
                    .unwrap_or_default();
                writers.insert((meta.dev(), meta.ino()), Writer { pid, command });
            }
        }
    }
    writers
}

/// Whether an fdinfo text's `flags:` (octal) has a write access mode (`O_WRONLY`, `O_RDWR`).
fn writes(fdinfo: &str) -> bool {
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
        .is_some_and(|flags| flags & 0o3 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    #[test]
    fn the_flags_line_says_whether_a_descriptor_writes() {
        assert!(!writes("pos:\t0\nflags:\t0100000\nmnt_id:\t29\n"));
        assert!(writes("pos:\t0\nflags:\t0100001\nmnt_id:\t29\n"));
        assert!(writes("pos:\t0\nflags:\t02100002\n"));
        assert!(!writes("pos:\t0\n"));
    }

    #[test]
    fn issue25_a_file_open_for_writing_in_this_process_is_seen_and_a_reader_is_not() {
        let dir = std::env::temp_dir().join(format!("tierctl-writers-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let written = dir.join("w");
        let read = dir.join("r");
        fs::write(&read, b"r").unwrap();
        let _w = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&written)
            .unwrap();
        let _r = fs::File::open(&read).unwrap();
        let meta_w = fs::metadata(&written).unwrap();
        let meta_r = fs::metadata(&read).unwrap();
        let found = scan(Path::new("/proc"), &BTreeSet::from([meta_w.dev()]));
        let me = found.get(&(meta_w.dev(), meta_w.ino())).expect("seen");
        assert_eq!(me.pid, std::process::id());
        assert!(!found.contains_key(&(meta_r.dev(), meta_r.ino())));
        fs::remove_dir_all(&dir).unwrap();
    }
}
