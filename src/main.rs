// The binary is the edge of the effects: clippy.toml's pure-core lints do not apply here.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use tierctl::app;
use tierctl::cli::Cli;
use tierctl::settings::Environment;

fn main() -> ExitCode {
    cap_malloc_arenas();
    let cli = Cli::parse();
    let env = Environment {
        cwd: std::env::current_dir().unwrap_or_else(|_| "/".into()),
        vars: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
        stdout_is_terminal: std::io::stdout().is_terminal(),
    };
    let mut stdout = std::io::stdout().lock();
    let result = app::run(cli, &env, &mut stdout);
    // an interrupt's cleanup may have made the run fail: its handler reports and exits 130
    tierctl::interrupt::wait_if_requested();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let _ = stdout.flush();
            eprintln!("error: {err}");
            if let Some(hint) = err.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// At most two glibc malloc arenas (issue 23 item 6). By default each thread that allocates
/// gets an arena of its own (up to eight per core), and an arena keeps what its thread freed:
/// a migrate reads both trees of a copy on threads of their own, each in a new arena, so the
/// peak RSS was the sum of every arena's peak, about twice the peak of the live heap (236 MB
/// against 112 MB at 50,000 entries). The threads that allocate much (the two tree readers)
/// still have one arena each; the hashing threads allocate a buffer per file.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn cap_malloc_arenas() {
    // SAFETY: mallopt only sets a tunable of glibc's allocator; called before any thread runs
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn cap_malloc_arenas() {}
