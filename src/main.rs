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
