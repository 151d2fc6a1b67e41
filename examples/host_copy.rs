//! The copy on the host as `migrate --stop-first` runs it, timed, for the benchmarks
//! (`bench/reflink.sh`, `tools/perf_guard.sh`): `host_copy SOURCE TARGET` copies the tree
//! `SOURCE` into the empty directory `TARGET` (as root: owners are kept) and syncs it
//! (`copy_s`), then reads the copy back from the disk and the source, and compares them
//! (`verify_s`): the stop-first copy step's work, in two timed phases (the step itself overlaps
//! the read-back with the sync). It prints one line:
//! `copy_s=… verify_s=… shared_files=… shared_bytes=… entries=…`. Exit 1 on a difference.
//! `host_copy --copy-only SOURCE TARGET`: the copy and its sync only (`verify_s=0`).

// a benchmark driver, an effect: the pure-core lints of clippy.toml do not apply
#![allow(clippy::disallowed_methods, clippy::disallowed_macros)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use tierctl::migrate::host_apply;
use tierctl::migrate::tree::{self, manifest};

fn main() -> ExitCode {
    let mut args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let copy_only = args.first().is_some_and(|a| a.as_os_str() == "--copy-only");
    if copy_only {
        args.remove(0);
    }
    let [source, target] = args.as_slice() else {
        eprintln!("usage: host_copy [--copy-only] SOURCE TARGET");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    let shared = match host_apply::copy_all(source, target) {
        Ok(shared) => shared,
        Err(e) => {
            eprintln!("host_copy: {e}");
            return ExitCode::from(2);
        }
    };
    let copy_s = started.elapsed().as_secs_f64();
    if copy_only {
        println!(
            "copy_s={copy_s:.3} verify_s=0 shared_files={} shared_bytes={}",
            shared.files, shared.bytes
        );
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let copy = match tree::read_from_medium(target, manifest::Digest::Blake3, &AtomicU64::new(0)) {
        Ok(copy) => copy,
        Err(e) => {
            eprintln!("host_copy: reading the copy back: {e}");
            return ExitCode::from(2);
        }
    };
    let source_read = match tree::read(source, manifest::Digest::Blake3, &AtomicU64::new(0)) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("host_copy: reading the source: {e}");
            return ExitCode::from(2);
        }
    };
    let differences = manifest::compare(&source_read, &copy, manifest::Rules::default());
    let verify_s = started.elapsed().as_secs_f64();
    println!(
        "copy_s={copy_s:.3} verify_s={verify_s:.3} shared_files={} shared_bytes={} entries={}",
        shared.files,
        shared.bytes,
        copy.entries.len()
    );
    if differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("host_copy: the copy differs: {differences:?}");
        ExitCode::from(1)
    }
}
