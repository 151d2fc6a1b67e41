//! Issue 15 item 2: on a remote engine the host paths of a compose project are that machine's
//! paths. The second engine of `.ci/hosts` runs on this machine, so the test makes the two
//! views differ: tierctl runs in a mount namespace where a directory is covered by an empty
//! tmpfs (holding only `only-local`), while the engine, in the host's namespace, sees what is
//! really there (a symlink chain to a tier directory). A context marked `tierctl.remote: true`
//! makes tierctl read the engine's view; the same context unmarked is proven local by the
//! marker file, and then tierctl reads its own.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::engine::{can_unshare, helper_image};
use crate::hosts::{DockerConfig, Engine2, RemoteProject, engine2};

/// The two views: `base` holds, on the real filesystem, `photos -> alias -> remote-fast/photos`
/// (a file in it) and `remote-fast/`; in tierctl's namespace `base` is a tmpfs holding only
/// `only-local/`. The project directory (compose.yaml, tiers.yaml) is visible to both.
struct Views {
    base: tempfile::TempDir,
    project: tempfile::TempDir,
    config: DockerConfig,
    context: String,
}

impl Views {
    fn new(e2: &Engine2, remote_mark: Option<bool>) -> Views {
        let base = tempfile::tempdir().expect("temp dir");
        let b = base.path();
        std::fs::create_dir_all(b.join("remote-fast/photos")).expect("mkdir");
        std::fs::write(b.join("remote-fast/photos/one.jpg"), b"jpg").expect("write");
        std::os::unix::fs::symlink("remote-fast/photos", b.join("alias")).expect("symlink");
        std::os::unix::fs::symlink(b.join("alias"), b.join("photos")).expect("symlink");
        let project = tempfile::tempdir().expect("temp dir");
        let p = project.path();
        std::fs::create_dir_all(p.join("local-fast")).expect("mkdir");
        std::fs::write(
            p.join("compose.yaml"),
            format!(
                "services:\n  app:\n    image: busybox\n    volumes:\n      - {b}/photos:/photos\n      - {b}/only-local:/local\n",
                b = b.display()
            ),
        )
        .expect("write compose");
        let context = format!("e2-paths-{}", std::process::id());
        std::fs::write(
            p.join("tiers.yaml"),
            format!(
                "tiers:\n  fast: {{ root: {p}/local-fast }}\ncontexts:\n  {context}:\n    tiers:\n      fast: {{ root: {b}/remote-fast }}\n",
                p = p.display(),
                b = b.display()
            ),
        )
        .expect("write tiers");
        let mut config = DockerConfig::new().tls_context(&context, &e2.tls_host, &e2.tls_dir);
        if let Some(remote) = remote_mark {
            config = config.mark_remote(&context, remote);
        }
        Views {
            base,
            project,
            config,
            context,
        }
    }

    fn base(&self) -> &Path {
        self.base.path()
    }

    /// `tierctl --context CTX ARGS` in a mount namespace where `base` is the tmpfs.
    fn tierctl(&self, args: &str) -> (Option<i32>, String, String) {
        let then = format!("mkdir '{}/only-local'", self.base().display());
        let mut cmd = hiding(self.base(), &then, &self.context, args);
        cmd.current_dir(self.project.path())
            .env("DOCKER_CONFIG", self.config.path());
        outcome(&mut cmd)
    }

    fn audit_json(&self) -> Value {
        let (code, stdout, stderr) = self.tierctl("audit --format json");
        assert!(matches!(code, Some(0 | 1)), "{code:?} {stdout} {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"))
    }
}

/// `tierctl --context CONTEXT ARGS` in a mount namespace of its own where `hidden` is an empty
/// tmpfs (after the shell command `then`, if any): whatever tierctl would look at there on this
/// machine is not there; the engine, in the host's namespace, still sees it.
pub fn hiding(hidden: &Path, then: &str, context: &str, args: &str) -> Command {
    let bin = assert_cmd::cargo::cargo_bin("tierctl");
    let then = if then.is_empty() {
        String::new()
    } else {
        format!("{then} && ")
    };
    let script = format!(
        "mount -t tmpfs -o size=1m tierctl-hidden '{h}' && {then}exec '{bin}' --context '{context}' {args}",
        h = hidden.display(),
        bin = bin.display(),
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("TIERCTL_HELPER_IMAGE", helper_image())
        .env_remove("COMPOSE_FILE")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT");
    cmd
}

/// Exit code, stdout and stderr of `cmd`.
pub fn outcome(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("unshare runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ready() -> Option<Engine2> {
    let e2 = engine2()?;
    can_unshare().then_some(e2)
}

/// `(check, source)` of every finding.
fn checks(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap_or_default().to_owned(),
                f["source"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn source(base: &Path, name: &str) -> String {
    base.join(name).display().to_string()
}

#[test]
fn issue15_audit_on_a_remote_engine_reports_the_facts_of_its_host_not_of_this_machine() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let report = views.audit_json();
    assert_eq!(report["host"]["context"], views.context.as_str());
    assert_eq!(report["host"]["remote"], true);
    assert_eq!(report["host"]["rule"], "context-mark");
    assert_eq!(report["host"]["endpoint"], e2.tls_host.as_str());
    let found = checks(&report);
    let photos = source(views.base(), "photos");
    let local = source(views.base(), "only-local");
    // the engine's host has the symlink chain (this machine's namespace has no `photos`)
    assert!(
        found.contains(&("symlinked-bind".into(), photos.clone())),
        "{found:?}"
    );
    assert!(
        !found
            .iter()
            .any(|(check, s)| check == "missing-bind-source" && *s == photos),
        "{found:?}"
    );
    // `only-local` exists here only: on the engine's host it is missing
    assert!(
        found.contains(&("missing-bind-source".into(), local)),
        "{found:?}"
    );
    // the per-context tier map: the real path lies on that host's `fast` tier
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == "symlinked-bind")
        .expect("symlinked-bind");
    assert!(
        finding["message"]
            .as_str()
            .is_some_and(|m| m.contains("remote-fast/photos")),
        "{finding}"
    );
    assert_eq!(finding["fix"]["tier"], "fast", "{finding}");
    assert_eq!(
        finding["fix"]["path"],
        source(views.base(), "remote-fast/photos").as_str(),
        "{finding}"
    );
}

#[test]
fn issue15_human_audit_names_the_host_it_describes() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let (code, stdout, stderr) = views.tierctl("audit");
    assert_eq!(code, Some(1), "{stdout} {stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("host: {} ({}", views.context, e2.tls_host)),
        "{stdout}"
    );
    assert!(
        first.contains("remote: paths are that machine's"),
        "{first}"
    );
}

#[test]
fn issue15_an_unmarked_network_endpoint_of_an_engine_on_this_machine_is_proven_local() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, None);
    let report = views.audit_json();
    assert_eq!(report["host"]["remote"], false, "{report}");
    assert_eq!(report["host"]["rule"], "marker-seen", "{report}");
    let found = checks(&report);
    // this machine's view (the namespace): no `photos`, `only-local` is there
    assert!(
        found.contains(&("missing-bind-source".into(), source(views.base(), "photos"))),
        "{found:?}"
    );
    assert!(
        !found.contains(&(
            "missing-bind-source".into(),
            source(views.base(), "only-local")
        )),
        "{found:?}"
    );
}

#[test]
fn issue15_a_remote_engine_that_cannot_be_asked_is_refused_not_read_locally() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let (code, stdout, stderr) = views.tierctl("audit --offline");
    assert_eq!(code, Some(2), "{stdout} {stderr}");
    assert!(
        stderr.contains("is on another machine and `--offline` makes no call to it"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn issue15_vm_on_a_remote_engine_resolves_bind_sources_on_its_host() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let (code, stdout, stderr) = views.tierctl("vm --format json");
    assert!(matches!(code, Some(0 | 1)), "{code:?} {stdout} {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["host"]["remote"], true, "{report}");
    let photos = report["binds"]
        .as_array()
        .expect("binds")
        .iter()
        .find(|b| b["source"] == source(views.base(), "photos").as_str())
        .expect("the photos bind");
    assert_eq!(
        photos["real"],
        source(views.base(), "remote-fast/photos").as_str(),
        "{photos}"
    );
}

#[test]
fn issue15_tiers_status_with_a_remote_context_measures_that_hosts_tier_roots() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let (code, stdout, stderr) = views.tierctl("tiers status --format json");
    assert!(matches!(code, Some(0..=2)), "{code:?} {stdout} {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["host"]["remote"], true, "{report}");
    let fast = &report["tiers"][0];
    // the context's tier map, measured on the engine's host: not this namespace's 1 MiB tmpfs
    assert_eq!(
        fast["root"],
        source(views.base(), "remote-fast").as_str(),
        "{fast}"
    );
    assert!(fast["error"].is_null(), "{fast}");
    assert!(
        fast["size_bytes"].as_u64().is_some_and(|s| s > 16 << 20),
        "{fast}"
    );
}

#[test]
fn issue15_verify_on_a_remote_engine_names_its_host() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let mut project = RemoteProject::new(e2.engine().expect("unix socket"), "paths");
    let dir = tempfile::tempdir().expect("temp dir");
    let container = project.service("app", dir.path(), "/data");
    let (code, stdout, stderr) = views.tierctl(&format!("verify {container} --format json"));
    assert!(matches!(code, Some(0 | 1)), "{code:?} {stdout} {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["host"]["remote"], true, "{report}");
    assert_eq!(
        report["host"]["context"],
        views.context.as_str(),
        "{report}"
    );
    let (_, human, _) = views.tierctl(&format!("verify {container}"));
    assert!(
        human.starts_with(&format!("host: {} (", views.context)),
        "{human}"
    );
}

#[test]
fn issue15_tiers_validate_reports_a_bad_context_tier_map_with_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("tiers.yaml"),
        "tiers:\n  fast: { root: /srv/fast }\n  warm: { root: /srv/warm }\ncontexts:\n  nas:\n    tiers:\n      fast: { root: /mnt/fast }\n",
    )
    .expect("write");
    let out = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
        .args(["tiers", "validate"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "tiers.yaml:6:5: the tiers of context `nas` differ from `tiers:`: missing `warm`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: give context `nas` a root for every tier"),
        "{stderr}"
    );
}

#[test]
fn issue15_migrate_dry_run_on_a_remote_engine_plans_on_the_paths_of_its_host() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let planned = |views: &Views| {
        let (code, stdout, stderr) = views.tierctl("migrate --dry-run --format json");
        assert_eq!(code, Some(0), "{stdout} {stderr}");
        let plan: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        (plan, stderr)
    };
    // on the engine's host the symlink chain is rebound to its real path (a compose rewrite)
    // and `only-local` does not exist (nothing to copy); this machine's view has `only-local`
    // (outside the tiers: copied) and no `photos`
    let (plan, stderr) = planned(&views);
    assert_eq!(plan["files"][0], "compose.yaml", "{plan}");
    assert_eq!(plan["copies"].as_array().map(Vec::len), Some(0), "{plan}");
    assert!(
        plan["steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s == "rewrite")),
        "{plan}"
    );
    assert!(
        stderr.contains(&format!(
            "note: the engine's host (context `{}`) is another machine: the plan is made on its paths, which only helper containers there read and write",
            views.context
        )),
        "{stderr}"
    );
    // this machine's view: the plan is shown, then the dry run's read-only preflight (issue 26
    // row 11) refuses what the real run would: the engine there cannot mount `only-local`
    let local = Views::new(&e2, None);
    let (code, stdout, stderr) = local.tierctl("migrate --dry-run --format json");
    assert_eq!(code, Some(2), "{stdout} {stderr}");
    assert!(stderr.contains("only-local"), "{stderr}");
    let here: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        here["copies"][0]["source"],
        source(local.base(), "only-local").as_str(),
        "{here}"
    );
}

/// A project with a named volume and a tiers.yaml whose context `nas` has its own tier map;
/// `nas` is a unix socket that does not exist (a local engine: decided without asking it).
fn context_map_project() -> (tempfile::TempDir, DockerConfig) {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(
        d.join("compose.yaml"),
        "services:\n  db:\n    image: postgres:16\n    volumes:\n      - pgdata:/var/lib/postgresql/data\nvolumes:\n  pgdata:\n",
    )
    .expect("write compose");
    std::fs::write(
        d.join("tiers.yaml"),
        format!(
            "tiers:\n  fast: {{ root: {d}/here-fast }}\ncontexts:\n  nas:\n    tiers:\n      fast: {{ root: {d}/nas-fast }}\n",
            d = d.display()
        ),
    )
    .expect("write tiers");
    let config = DockerConfig::new().context("nas", "unix:///nonexistent/tierctl-nas.sock");
    (dir, config)
}

fn tierctl_in(dir: &Path, config: &DockerConfig, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
        .args(args)
        .current_dir(dir)
        .env("DOCKER_CONFIG", config.path())
        .env_remove("COMPOSE_FILE")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .output()
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn issue15_plan_and_mounts_place_by_the_tier_map_of_the_context_given() {
    let (dir, config) = context_map_project();
    let d = dir.path();
    let placed = |args: &[&str]| {
        let (code, stdout, stderr) = tierctl_in(d, &config, args);
        assert_eq!(code, Some(0), "{stdout} {stderr}");
        serde_json::from_str::<Value>(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    };
    let nas = d.join("nas-fast/databases").display().to_string();
    let here = d.join("here-fast/databases").display().to_string();
    let plan = placed(&["--context", "nas", "plan", "--format", "json"]);
    let new = plan["steps"][0]["new"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(new.starts_with(&nas), "{plan}");
    let plan = placed(&["plan", "--format", "json"]);
    let new = plan["steps"][0]["new"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(new.starts_with(&here), "{plan}");
    let mounts = placed(&["--context", "nas", "mounts", "--format", "json"]);
    let path = mounts["mounts"][0]["placement"]["path"]
        .as_str()
        .unwrap_or_default();
    assert!(path.starts_with(&nas), "{mounts}");
    // rewrite writes the same placement
    let (code, stdout, stderr) = tierctl_in(d, &config, &["--context", "nas", "rewrite"]);
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(stdout.contains(&nas), "{stdout}");
}

#[test]
fn issue15_plan_on_a_remote_context_offline_is_refused_not_read_locally() {
    let (dir, config) = context_map_project();
    let config = config.mark_remote("nas", true);
    let (code, stdout, stderr) = tierctl_in(
        dir.path(),
        &config,
        &["--context", "nas", "--offline", "plan"],
    );
    assert_eq!(code, Some(2), "{stdout} {stderr}");
    assert!(
        stderr.contains("is on another machine and `--offline` makes no call to it"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn issue15_plan_and_mounts_on_a_remote_engine_read_the_paths_of_its_host() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let (code, stdout, stderr) = views.tierctl("plan --format json");
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    let plan: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    // the symlink chain exists only on the engine's host: rebound to its real path there
    let photos = source(views.base(), "photos");
    let step = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["old"] == photos.as_str())
        .unwrap_or_else(|| panic!("a step for the photos bind: {plan}"));
    assert_eq!(step["action"], "bind-real-path", "{step}");
    assert_eq!(
        step["new"],
        source(views.base(), "remote-fast/photos").as_str(),
        "{step}"
    );
    assert_eq!(step["tier"], "fast", "{step}");
    // the report says whose paths these are
    assert_eq!(plan["host"]["remote"], true, "{plan}");
    let (code, human, stderr) = views.tierctl("plan");
    assert_eq!(code, Some(0), "{human} {stderr}");
    let first = human.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("host: ") && first.contains("remote: paths are that machine's"),
        "{human}"
    );
    let (code, stdout, stderr) = views.tierctl("mounts --format json");
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    let mounts: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let seen = mounts["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["host_path"] == photos.as_str())
        .unwrap_or_else(|| panic!("the photos mount: {mounts}"));
    assert_eq!(
        seen["real_path"],
        source(views.base(), "remote-fast/photos").as_str(),
        "{seen}"
    );
    assert_eq!(seen["tier"], "fast", "{seen}");
    assert_eq!(mounts["host"]["remote"], true, "{mounts}");
    let (code, human, stderr) = views.tierctl("mounts");
    assert_eq!(code, Some(0), "{human} {stderr}");
    assert!(human.starts_with("host: "), "{human}");
}

#[test]
fn issue15_verify_on_a_remote_engine_reads_the_host_side_on_that_host() {
    let Some(e2) = ready() else { return };
    let views = Views::new(&e2, Some(true));
    let mut project = RemoteProject::new(e2.engine().expect("unix socket"), "verify-host");
    let real = views.base().join("remote-fast/photos");
    let linked = views.base().join("photos");
    let direct = project.service("direct", &real, "/photos");
    let through = project.service("linked", &linked, "/photos");
    let (code, stdout, stderr) = views.tierctl(&format!("verify {direct} {through} --format json"));
    assert_eq!(code, Some(1), "{stdout} {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let mount = |name: &str| {
        report["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {report}"))["mounts"][0]
            .clone()
    };
    // this machine's view has neither path (a tmpfs covers `base`): both were read there
    assert_eq!(report["engine"], "native", "{report}");
    let seen = mount(&direct);
    assert_eq!(seen["verdict"], "ok", "{seen}");
    assert_eq!(
        seen["host"]["device"], seen["container"]["device"],
        "{seen}"
    );
    assert_eq!(
        seen["host"]["fs_type"], seen["container"]["fs_type"],
        "{seen}"
    );
    // no marker is written on the other machine, and the note says why
    assert_eq!(seen["marker"], "other-host", "{seen}");
    assert!(
        seen["notes"].as_array().is_some_and(|n| n.iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.contains("on the engine's host, where tierctl writes nothing")))),
        "{seen}"
    );
    // the context's tier root, looked at on that host
    assert_eq!(report["tiers"][0]["tier"], "fast", "{report}");
    assert_eq!(report["tiers"][0]["mounted"], true, "{report}");
    let through = mount(&through);
    assert_eq!(through["verdict"], "symlinked-bind", "{through}");
    assert!(
        through["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains(&real.display().to_string())),
        "{through}"
    );
    let (_, human, _) = views.tierctl(&format!("verify {direct}"));
    assert!(
        human.starts_with(&format!("host: {} (", views.context)),
        "{human}"
    );
    assert!(
        human.contains("is another machine: the host side"),
        "{human}"
    );
}
