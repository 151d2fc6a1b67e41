//! `tierctl-mmap FILE SIDE`: one party of the mmap coherence measure (see the library), built
//! static and put in the helper image so that `tierctl vm --probe` can measure from inside a
//! container. Prints its [`Outcome`](tierctl_mmap::Outcome) as one line; exits 0 whatever it
//! measured, 2 on a usage error.

// An effect from end to end (files, mappings, threads, the clock): the workspace's clippy.toml
// bans those calls for tierctl's pure core, not here.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

use std::process::ExitCode;

use tierctl_mmap::{Party, Side};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, side] = args.as_slice() else {
        eprintln!(
            "usage: tierctl-mmap FILE 0|1  (FILE: {} bytes, made by the host)",
            tierctl_mmap::LEN
        );
        return ExitCode::from(2);
    };
    let side: Side = match side.parse() {
        Ok(side) => side,
        Err(e) => {
            eprintln!("tierctl-mmap: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", Party::new(file, side).run(&|| false));
    ExitCode::SUCCESS
}
