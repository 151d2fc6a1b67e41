//! The README's two commands stay true: the demo runs the bundled example and the test command
//! is the one CI runs.

use std::path::Path;

use assert_cmd::Command;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The arguments after `cargo run -q --` of the README's first command.
fn demo_args() -> Vec<String> {
    let text = readme();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("$ cargo run -q -- "))
        .expect("README has a `$ cargo run -q -- ...` demo command");
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn readme_starts_with_the_demo_and_test_commands() {
    let text = readme();
    let commands: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("$ "))
        .take(2)
        .collect();
    assert!(
        commands[0].starts_with("$ cargo run -q -- audit "),
        "{commands:?}"
    );
    assert_eq!(commands[1], "$ cargo test");
}

#[test]
fn readme_demo_audits_the_bundled_example() {
    let out = Command::cargo_bin("tierctl")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("COMPOSE_FILE")
        .args(demo_args())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "findings exit 1: {stdout}");
    assert!(stdout.contains("named-volume"), "{stdout}");
    assert!(
        stdout.contains("model-cache (volume `immich_model-cache`)"),
        "{stdout}"
    );
    assert!(stdout.contains("project immich:"), "{stdout}");
}

/// The README's sample output: the lines after the second `$ cargo run -q -- audit` line, up to
/// the end of its code block.
fn sample_output() -> String {
    let text = readme();
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("## Why"))
        .skip_while(|l| !l.starts_with("$ cargo run -q -- audit "));
    lines.next().expect("the sample's command line");
    lines
        .take_while(|l| *l != "```")
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn issue12_readme_sample_is_what_the_demo_prints() {
    let out = Command::cargo_bin("tierctl")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("COMPOSE_FILE")
        .args(demo_args())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, sample_output());
    // The seed's story, on any machine: the access point and the named volume.
    assert!(stdout.contains("symlinked-bind"), "{stdout}");
    assert!(stdout.contains("named-volume"), "{stdout}");
    assert!(!stdout.contains("missing-bind-source"), "{stdout}");
}
