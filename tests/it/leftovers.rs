//! The suite leaves nothing of its own on the engine (issue 26 row 15): a compose network left
//! behind per run exhausts Docker's address pools on a long-lived machine (about 30), and every
//! later `compose up` fails. Fixtures call [`remove_project`] after their `compose down` (which
//! leaves the network when it fails, for instance on a compose file a failed test left broken);
//! once an engine answered, [`check`] runs when the test binary exits and fails the run (exit
//! status 1) naming every container, network or volume of this run still there. A resource is
//! this run's when its compose project (the name up to the first `_` or `-`) starts with
//! `tierctl` and ends with this process's id, as every fixture's project name does.

use std::process::Command;

/// Removes the containers and networks compose made for `project` on the engine `host`
/// (`None`: the default one), found by compose's project label, and any container still using
/// one of its volumes (a helper of a `tierctl` a test killed), so that the fixture can remove
/// the volumes.
pub fn remove_project(host: Option<&str>, project: &str) {
    let docker = |args: &[&str]| {
        let mut cmd = Command::new("docker");
        if let Some(host) = host {
            cmd.args(["-H", host]);
        }
        cmd.args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let filter = format!("label=com.docker.compose.project={project}");
    for volume in docker(&["volume", "ls", "-q", "--filter", &filter]).split_whitespace() {
        let using = format!("volume={volume}");
        for id in docker(&["ps", "-aq", "--filter", &using]).split_whitespace() {
            docker(&["rm", "-f", id]);
        }
    }
    for id in docker(&["ps", "-aq", "--filter", &filter]).split_whitespace() {
        docker(&["rm", "-f", "-v", id]);
    }
    for id in docker(&["network", "ls", "-q", "--filter", &filter]).split_whitespace() {
        docker(&["network", "rm", id]);
    }
}

/// Whether `name` (a container, network or volume) belongs to the run with process id `pid`.
pub fn ours(name: &str, pid: &str) -> bool {
    let project = name
        .trim_start_matches('/')
        .split(['_', '-'])
        .next()
        .unwrap_or_default();
    project.starts_with("tierctl")
        && project
            .strip_suffix(pid)
            .is_some_and(|rest| !rest.ends_with(|c: char| c.is_ascii_digit()))
}

/// What of this run is still on the default engine, one `kind name` each.
pub fn of_this_run() -> Vec<String> {
    let pid = std::process::id().to_string();
    let listings: [(&str, &[&str]); 3] = [
        ("container", &["ps", "-a", "--format", "{{.Names}}"]),
        ("network", &["network", "ls", "--format", "{{.Name}}"]),
        ("volume", &["volume", "ls", "--format", "{{.Name}}"]),
    ];
    let mut found = Vec::new();
    for (kind, args) in listings {
        let Ok(out) = Command::new("docker").args(args).output() else {
            continue;
        };
        for name in String::from_utf8_lossy(&out.stdout).lines() {
            if ours(name, &pid) {
                found.push(format!("{kind} {name}"));
            }
        }
    }
    found
}

/// At exit: fail the run when anything of it is still on the engine.
pub fn check() {
    use std::io::Write;
    let left = of_this_run();
    if left.is_empty() {
        return;
    }
    let _ = writeln!(
        std::io::stderr(),
        "\nLEFTOVER: this test run left {} thing(s) of its own on the Docker engine (a fixture's teardown misses them):\n  {}",
        left.len(),
        left.join("\n  ")
    );
    // SAFETY: `_exit` ends the process at once with a failing status; nothing runs after it.
    unsafe { libc::_exit(1) };
}

#[test]
fn issue26_row15_a_run_knows_its_own_resources() {
    for (name, ours_) in [
        ("tierctlitdt1x4242_default", true),
        ("tierctlitxh5p4242-db-1", true),
        ("/tierctlitxh5p4242-db-1", true),
        ("tierctlitimm1p4242_pgdata", true),
        ("tierctlitdt1x14242_default", false),
        ("tierctlitdt1x4242a_default", false),
        ("app_default", false),
        ("tierctl-probe-4242-0", false),
    ] {
        assert_eq!(ours(name, "4242"), ours_, "{name}");
    }
}

/// Issue 26 row 15: a migrated project's teardown leaves no container, network or volume
/// (the network `…_default` was left when `compose down` did not remove it).
#[test]
fn issue26_row15_a_migrated_project_leaves_nothing_after_its_teardown() {
    use crate::compose_runner::Family;
    let name = crate::migrate_engine::unique("tierctlitleft");
    let Some(stack) = crate::stack::Stack::up(
        Family::V2,
        name.clone(),
        crate::migrate_engine::COMPOSE,
        "echo x > /data/f",
    ) else {
        return;
    };
    let out = stack
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(stack);
    let left: Vec<String> = of_this_run()
        .into_iter()
        .filter(|l| {
            l.split(' ')
                .nth(1)
                .is_some_and(|n| n.trim_start_matches('/').starts_with(&name))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
