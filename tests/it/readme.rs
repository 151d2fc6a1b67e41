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
    // the README writes the checkout's absolute path as `$PWD`
    let stdout = String::from_utf8_lossy(&out.stdout).replace(env!("CARGO_MANIFEST_DIR"), "$PWD");
    assert_eq!(stdout, sample_output());
    // The seed's story, on any machine: the access point and the named volume.
    assert!(stdout.contains("symlinked-bind"), "{stdout}");
    assert!(stdout.contains("named-volume"), "{stdout}");
    assert!(!stdout.contains("missing-bind-source"), "{stdout}");
}

/// Issue 26 row 17: the README's `cargo test` passes on a machine without Docker, and a passing
/// run shows what it skipped. This test binary runs again with no engine reachable: the two
/// rewrite tests that needed one pass, and an engine test's skip is listed after the run.
#[test]
fn issue26_row17_without_docker_tests_pass_and_the_skips_are_listed() {
    let tests = [
        "rewrite::rewrite_write_twice_changes_nothing_the_second_time",
        "rewrite::read_only_compose_file_is_refused_and_left_intact",
        "engine::info_names_the_engine_and_a_negotiated_api_version",
    ];
    let out = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args(tests)
        .args(["--exact", "--test-threads", "2"])
        .env("DOCKER_HOST", "unix:///nonexistent")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("TIERCTL_REQUIRE_DOCKER")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("3 passed"), "{stdout}");
    let summary = stderr
        .split_once("SKIPPED in 2 tests (what each could not run here):")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("a skip summary on stderr: {stderr}"));
    assert!(summary.contains("no Docker engine ("), "{summary}");
    assert!(summary.contains(tests[0]), "{summary}");
    assert!(summary.contains(tests[2]), "{summary}");
    assert!(!summary.contains(tests[1]), "{summary}");
}

/// Issue 26 row 18: the demo's `relative-bind` hint said "write an absolute path" and showed a
/// relative one; `migrate --help` lacked `--prune-source`, which every hint names; `--tiers`
/// help did not say that the parent directories are searched.
#[test]
fn issue26_row18_hints_and_help_work_as_printed() {
    let out = Command::cargo_bin("tierctl")
        .expect("binary")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .env_remove("COMPOSE_FILE")
        .args(demo_args())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let example = stdout
        .split_once("hint: write an absolute path on its tier, e.g. ")
        .map(|(_, rest)| rest)
        .expect("the relative-bind hint");
    assert!(example.starts_with('/'), "{stdout}");
    let help = |args: &[&str]| {
        let out = Command::cargo_bin("tierctl")
            .expect("binary")
            .args(args)
            .output()
            .expect("runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let migrate = help(&["migrate", "--help"]);
    assert!(migrate.contains("--prune-source"), "{migrate}");
    let audit = help(&["audit", "--help"]);
    assert!(
        audit.contains("the first tiers.yaml in the working directory or one of its")
            && audit.contains("parents"),
        "{audit}"
    );
}
