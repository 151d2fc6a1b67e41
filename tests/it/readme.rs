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

/// The README's "Your own stack" section: its files (each ```yaml block that starts with
/// `# /srv/<path>`) and its commands (`$ ` lines, each with the output printed under it).
struct OwnStack {
    files: Vec<(String, String)>,
    commands: Vec<(String, String)>,
}

fn own_stack() -> OwnStack {
    let text = readme();
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "## Your own stack")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .collect();
    let (mut files, mut commands) = (Vec::new(), Vec::new());
    let mut lines = section.into_iter();
    while let Some(line) = lines.next() {
        if !line.starts_with("```") {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        if let Some(path) = block.first().and_then(|l| l.strip_prefix("# /srv/")) {
            files.push((path.to_owned(), block.join("\n") + "\n"));
            continue;
        }
        for line in block {
            match line.strip_prefix("$ ") {
                Some(command) => commands.push((command.to_owned(), String::new())),
                None => {
                    let (_, output) = commands.last_mut().expect("output under a command");
                    output.push_str(line);
                    output.push('\n');
                }
            }
        }
    }
    OwnStack { files, commands }
}

/// Removes the volume the test made, whatever happened.
struct VolumeGone(&'static str);

impl Drop for VolumeGone {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["volume", "rm", "-f", self.0])
            .output();
    }
}

/// Issue 26 row 20: every command of "Your own stack" works as printed, on its files under a
/// temporary `/srv`, and prints the output shown. `cargo install` is not run (a release build
/// of its own): the checkout it names is checked. `migrate` runs with `--yes` (no terminal to
/// answer) on a volume holding a file, and needs an engine (skipped loudly without one).
#[test]
fn issue26_row20_your_own_stack_commands_work_as_printed() {
    let stack = own_stack();
    assert_eq!(
        stack
            .files
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>(),
        ["tiers.yaml", "paperless/compose.yaml"]
    );
    let mut ws = crate::workspace::Workspace::new()
        .dir("tiers/fast")
        .dir("tiers/warm")
        .dir("home");
    let root = ws.root().display().to_string();
    for (path, text) in &stack.files {
        ws = ws.file(path, &text.replace("/srv", &root));
    }
    let engine = crate::engine::engine();
    let _gone = VolumeGone("paperless_pgdata");
    let mut cwd = ws.root();
    let mut seeded = false;
    for (command, shown) in &stack.commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["cargo", "install", "--locked", "--path", "."] => {
                let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
                let toml = std::fs::read_to_string(manifest.join("Cargo.toml")).expect("toml");
                assert!(toml.contains("name = \"tierctl\""), "{toml}");
                assert!(
                    manifest.join("Cargo.lock").is_file(),
                    "--locked needs Cargo.lock"
                );
            }
            ["cd", dir] => cwd = Path::new(&dir.replace("/srv", &root)).to_path_buf(),
            ["tierctl", args @ ..] => {
                let needs_engine = args.first() == Some(&"migrate");
                if needs_engine && engine.is_none() {
                    continue;
                }
                // the user's volume exists before the first migrate command (the dry run's
                // read-only preflight refuses a missing volume, as the real run does)
                if needs_engine && !seeded {
                    seed_pgdata();
                    seeded = true;
                }
                let mut run = Command::cargo_bin("tierctl").expect("binary");
                run.current_dir(&cwd)
                    .env("NO_COLOR", "1")
                    .env("HOME", ws.path("home"))
                    .env("TIERCTL_HELPER_IMAGE", crate::engine::helper_image())
                    .env_remove("COMPOSE_FILE")
                    .env_remove("TIERCTL_TIERS")
                    .args(args);
                if needs_engine && !args.contains(&"--dry-run") {
                    run.arg("--yes");
                }
                let out = run.output().expect("runs");
                let stdout = String::from_utf8_lossy(&out.stdout).replace(&root, "/srv");
                assert!(
                    out.status.code().is_some_and(|c| c < 2),
                    "`{command}`: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                if !shown.is_empty() {
                    assert_eq!(&stdout, shown, "`{command}`");
                }
            }
            other => panic!("a command the test does not know: {other:?}"),
        }
    }
    if engine.is_some() {
        // the data is on the tier, the compose file points there, the old volume is gone
        let moved = ws.path("tiers/fast/databases/paperless/db/PG_VERSION");
        assert_eq!(std::fs::read_to_string(moved).expect("moved"), "16\n");
        let compose = std::fs::read_to_string(ws.path("paperless/compose.yaml")).expect("read");
        assert!(compose.contains(&format!("- {root}/tiers/fast/databases/paperless/db:")));
        let listed = std::process::Command::new("docker")
            .args(["volume", "ls", "-q", "--filter", "name=paperless_pgdata"])
            .output()
            .expect("docker volume ls");
        assert!(String::from_utf8_lossy(&listed.stdout).trim().is_empty());
    }
}

/// The volume compose would have made for the README's stack, with a file in it.
fn seed_pgdata() {
    let ok = std::process::Command::new("docker")
        .args([
            "volume",
            "create",
            "--label",
            "com.docker.compose.project=paperless",
            "--label",
            "com.docker.compose.volume=pgdata",
            "paperless_pgdata",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
        && std::process::Command::new("docker")
            .args([
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                "paperless_pgdata:/d",
            ])
            .arg(crate::engine::helper_image())
            .args(["sh", "-c", "echo 16 > /d/PG_VERSION"])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(ok, "the volume `paperless_pgdata` with a file in it");
}
