//! `tierctl verify` against the real engine: a project whose containers the test creates with
//! compose labels (and one started by each compose CLI, v2 and v1), a tmpfs
//! tier, a named volume, a bind through a symlink, the Colima failure in a mount namespace, an
//! image without a shell or `df` (helper fallback), and marker cleanup on success, failure and
//! SIGINT.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tierctl::engine::container::{ContainerSpec, labels};
use tierctl::engine::docker::DockerEngine;
use tierctl::engine::{Containers, Volumes};

use crate::compose_runner::Family;
use crate::engine::{TmpfsMount, can_unshare, engine, helper_image, required};
use crate::workspace::Workspace;

/// The image without shell, `stat` or `df`: only a static busybox at `/opt/busybox`.
const NO_DF_IMAGE: &str = "tierctl-test-nodf:1";

/// A unique compose project name for this test.
fn project_name(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "tierctl-verify-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Containers and volumes the test created; removed when dropped.
struct Project {
    engine: DockerEngine,
    name: String,
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl Project {
    fn new(engine: DockerEngine, name: String) -> Self {
        Project {
            engine,
            name,
            containers: Vec::new(),
            volumes: Vec::new(),
        }
    }

    /// Start a compose-labelled container of `service` running `sleep`.
    fn service(
        &mut self,
        service: &str,
        image: &str,
        binds: &[(&Path, &str)],
        volumes: &[(&str, &str)],
    ) -> String {
        let sleep: Vec<String> = if image == NO_DF_IMAGE {
            vec!["/opt/busybox".into(), "sleep".into(), "600".into()]
        } else {
            vec!["sleep".into(), "600".into()]
        };
        let name = format!("{}-{service}-1", self.name);
        let spec = ContainerSpec {
            name: name.clone(),
            image: image.into(),
            command: sleep,
            labels: BTreeMap::from([
                (labels::PROJECT.to_owned(), self.name.clone()),
                (labels::SERVICE.to_owned(), service.to_owned()),
                (labels::NUMBER.to_owned(), "1".to_owned()),
                (labels::ONEOFF.to_owned(), "False".to_owned()),
            ]),
            binds: binds
                .iter()
                .map(|(s, t)| (s.display().to_string(), (*t).to_owned()))
                .collect(),
            volumes: volumes
                .iter()
                .map(|(v, t)| ((*v).to_owned(), (*t).to_owned()))
                .collect(),
        };
        self.volumes
            .extend(volumes.iter().map(|(v, _)| (*v).to_owned()));
        let id = self.engine.create_running(&spec).expect("container starts");
        self.containers.push(id);
        name
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        for id in &self.containers {
            let _ = self.engine.remove(id);
        }
        for volume in &self.volumes {
            let _ = self.engine.remove_volume(volume);
        }
    }
}

/// Names of the marker files left in `dir`.
fn markers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tierctl-marker"))
        .collect()
}

/// The compose file of the test project (the loader finds the project name in it).
fn compose(name: &str) -> String {
    format!(
        "name: {name}\nservices:\n  app:\n    image: busybox\n    volumes:\n      - ./tier:/tier\n      - ./link:/linked\n      - db:/db\nvolumes:\n  db: {{}}\n"
    )
}

/// The workspace: a tmpfs tier dir, a plain dir reached through a symlink.
fn workspace(name: &str) -> Workspace {
    Workspace::new()
        .dir("tier")
        .dir("real")
        .dir("home")
        .symlink("link", "real")
        .file("compose.yaml", &compose(name))
}

fn mounts(json: &Value) -> BTreeMap<String, Value> {
    json["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .flat_map(|c| c["mounts"].as_array().expect("mounts").clone())
        .map(|m| (m["target"].as_str().expect("target").to_owned(), m))
        .collect()
}

fn json_of(stdout: &[u8]) -> Value {
    serde_json::from_slice(stdout).expect("verify --format json prints JSON")
}

/// The checks shared by the exec and the helper runs.
fn assert_project_verdicts(json: &Value, ws: &Workspace) {
    let by_target = mounts(json);
    let tier = &by_target["/tier"];
    assert_eq!(tier["verdict"], "ok", "{tier}");
    assert_eq!(tier["marker"], "seen");
    assert_eq!(tier["host"]["fs_type"], "tmpfs");
    assert_eq!(tier["container"]["fs_type"], "tmpfs");
    assert_eq!(tier["host"]["size_bytes"], 4 << 20);
    assert_eq!(tier["container"]["size_bytes"], 4 << 20);
    assert_eq!(tier["host"]["device"], tier["container"]["device"]);
    let db = &by_target["/db"];
    assert_eq!(db["verdict"], "named-volume", "{db}");
    assert!(db["volume"].as_str().expect("name").ends_with("_db"));
    let linked = &by_target["/linked"];
    assert_eq!(linked["verdict"], "symlinked-bind", "{linked}");
    assert_eq!(linked["source"], ws.path("link").display().to_string());
    assert_eq!(linked["real_source"], ws.path("real").display().to_string());
    assert_eq!(linked["marker"], "seen");
    assert_eq!(json["ok"], false);
}

/// Start the test project's `app` service from `image`.
fn start_app(project: &mut Project, ws: &Workspace, image: &str) -> String {
    let volume = format!("{}_db", project.name);
    project.service(
        "app",
        image,
        &[(&ws.path("tier"), "/tier"), (&ws.path("link"), "/linked")],
        &[(&volume, "/db")],
    )
}

#[test]
fn verify_project_tmpfs_tier_ok_named_volume_and_symlinked_bind() {
    let Some(engine) = engine() else { return };
    let name = project_name("labels");
    let ws = workspace(&name);
    let Some(_tmpfs) = TmpfsMount::new(&ws.path("tier")) else {
        return;
    };
    let mut project = Project::new(engine, name.clone());
    start_app(&mut project, &ws, &helper_image());

    let human = ws.tierctl("").arg("verify").output().expect("runs");
    let table = String::from_utf8_lossy(&human.stdout);
    eprintln!("{table}");
    assert_eq!(human.status.code(), Some(1), "{table}");
    // the first line names the host (issue 15), the table follows
    let mut lines = table.lines();
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("host: default (unix://")),
        "{table}"
    );
    let header = lines.next().expect("a header");
    for column in [
        "SERVICE",
        "TARGET",
        "HOST SOURCE",
        "HOST FS",
        "CONTAINER FS",
        "MARKER",
        "VERDICT",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains("tmpfs 4.0M"), "{table}");

    let out = ws
        .tierctl("")
        .args(["verify", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out.stdout);
    assert_eq!(json["project"], name.as_str());
    assert_eq!(json["engine"], "native");
    assert_eq!(json["containers"][0]["read_via"], "exec");
    assert_eq!(json["containers"][0]["notes"], Value::Array(vec![]));
    assert_project_verdicts(&json, &ws);
    assert!(markers(&ws.path("tier")).is_empty(), "marker removed");
    assert!(markers(&ws.path("real")).is_empty(), "marker removed");

    let prom = ws
        .tierctl("")
        .args(["verify", "--format", "prometheus"])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&prom.stdout);
    assert!(
        text.contains(&format!(
            "tierctl_mount_ok{{project=\"{name}\",service=\"app\",container=\"{name}-app-1\",target=\"/tier\"}} 1"
        )),
        "{text}"
    );
    assert!(text.contains("target=\"/db\"} 0"), "{text}");
    assert!(
        text.contains("tierctl_mount_container_size_bytes{"),
        "{text}"
    );
}

#[test]
fn verify_a_clean_project_exits_0_and_quiet_prints_nothing() {
    let Some(engine) = engine() else { return };
    let name = project_name("clean");
    let ws = Workspace::new()
        .dir("tier")
        .dir("home")
        .file(
            "compose.yaml",
            &format!("name: {name}\nservices:\n  app:\n    image: busybox\n    volumes:\n      - ./tier:/tier\n"),
        );
    let Some(_tmpfs) = TmpfsMount::new(&ws.path("tier")) else {
        return;
    };
    let mut project = Project::new(engine, name.clone());
    let container = project.service("app", &helper_image(), &[(&ws.path("tier"), "/tier")], &[]);
    let out = ws
        .tierctl("")
        .args(["verify", "--quiet"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    // By name, from anywhere: the same container, the same verdict.
    let out = ws
        .tierctl("home")
        .args(["verify", &container])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(" ok"), "{stdout}");
    assert!(markers(&ws.path("tier")).is_empty());
}

#[test]
fn issue12_verify_prometheus_with_the_stack_down_says_not_running() {
    if engine().is_none() {
        return;
    }
    let ws = workspace(&project_name("down"));
    let out = ws
        .tierctl("")
        .args(["verify", "--format", "prometheus"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("tierctl_verify_success{project=\"tierctl-verify-down-"),
        "{stdout}"
    );
    let value = |metric: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(metric))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(
        value("tierctl_verify_success{").as_deref(),
        Some("0"),
        "{stdout}"
    );
    assert_eq!(
        value("tierctl_container_running{").as_deref(),
        Some("0"),
        "{stdout}"
    );
    assert!(stdout.contains(",service=\"app\"} 0\n"), "{stdout}");
    let stamp: u64 = value("tierctl_verify_timestamp_seconds{")
        .and_then(|v| v.parse().ok())
        .expect("a timestamp");
    assert!(stamp > 1_700_000_000, "{stdout}");
}

#[test]
fn verify_with_no_running_container_or_an_unknown_name_exits_2() {
    if engine().is_none() {
        return;
    }
    let ws = workspace(&project_name("empty"));
    let out = ws.tierctl("").arg("verify").output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no running container of compose project"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    let out = ws
        .tierctl("")
        .args(["verify", "tierctl-no-such-container"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`tierctl-no-such-container`"), "{stderr}");
}

/// Build the image without shell, `stat` or `df` (a static busybox under another path).
fn no_df_image() -> bool {
    let present = Process::new("docker")
        .args(["image", "inspect", NO_DF_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return true;
    }
    let script = format!(
        "set -e; root=$(mktemp -d); mkdir -p \"$root/opt\" \"$root/proc\" \"$root/dev\" \"$root/sys\"; cp /bin/busybox \"$root/opt/busybox\"; tar -C \"$root\" -c . | docker import - {NO_DF_IMAGE} >/dev/null; rm -rf \"$root\""
    );
    let ok = Path::new("/bin/busybox").is_file()
        && Process::new("sh")
            .args(["-c", &script])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but the image without df could not be built (needs /bin/busybox and the docker CLI)"
        );
        skipped!("building {NO_DF_IMAGE} needs /bin/busybox and the docker CLI");
    }
    ok
}

#[test]
fn verify_an_image_without_shell_or_df_falls_back_to_a_helper_with_the_same_verdicts() {
    let Some(engine) = engine() else { return };
    if !no_df_image() {
        return;
    }
    let name = project_name("nodf");
    let ws = workspace(&name);
    let Some(_tmpfs) = TmpfsMount::new(&ws.path("tier")) else {
        return;
    };
    let mut project = Project::new(engine, name.clone());
    start_app(&mut project, &ws, NO_DF_IMAGE);
    let out = ws
        .tierctl("")
        .env("TIERCTL_HELPER_IMAGE", helper_image())
        .args(["verify", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = json_of(&out.stdout);
    assert_eq!(json["containers"][0]["read_via"], "helper", "{json}");
    assert!(
        json["containers"][0]["notes"][0]
            .as_str()
            .is_some_and(|n| n.contains("helper container")),
        "{json}"
    );
    assert_project_verdicts(&json, &ws);
    assert!(markers(&ws.path("tier")).is_empty(), "marker removed");

    // A failure (the helper image is missing): exit 2, and still no marker left behind.
    let out = ws
        .tierctl("")
        .env("TIERCTL_HELPER_IMAGE", "tierctl-no-such-image:0")
        .args(["verify"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`tierctl-no-such-image:0`"), "{stderr}");
    assert!(
        markers(&ws.path("tier")).is_empty(),
        "marker removed on error"
    );
    assert!(
        markers(&ws.path("real")).is_empty(),
        "marker removed on error"
    );
}

/// The Colima failure: tierctl sees a tmpfs at the tier path (its own mount namespace), the
/// engine binds the directory underneath (on a Mac: a path the VM does not share). On a native
/// engine the other device says how: `stale-bind` (issue 21's power-cut soak: a disk mounted
/// over the source after the container started), with every difference as a reason.
#[test]
fn regression_colima_unshared_tier_verify_reports_stale_bind_and_exits_1() {
    let Some(engine) = engine() else { return };
    if !can_unshare() {
        return;
    }
    let name = project_name("colima");
    let ws = Workspace::new().dir("tier").dir("home").file(
        "compose.yaml",
        &format!("name: {name}\nservices:\n  app:\n    image: busybox\n    volumes:\n      - ./tier:/tier\n"),
    );
    let tier = ws.path("tier");
    let mut project = Project::new(engine, name.clone());
    project.service("app", &helper_image(), &[(&tier, "/tier")], &[]);
    let bin = assert_cmd::cargo::cargo_bin("tierctl");
    let script = format!(
        "mount -t tmpfs -o size=8m tierctl-test '{tier}' && exec '{bin}' verify --format json",
        tier = tier.display(),
        bin = bin.display()
    );
    let out = Process::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .current_dir(ws.root())
        .env("HOME", ws.path("home"))
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .output()
        .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let json = json_of(&out.stdout);
    let mount = &mounts(&json)["/tier"];
    assert_eq!(mount["verdict"], "stale-bind", "{mount}");
    assert_eq!(mount["marker"], "missing");
    assert_eq!(mount["host"]["fs_type"], "tmpfs");
    assert_eq!(mount["host"]["size_bytes"], 8 << 20);
    assert_ne!(mount["container"]["fs_type"], "tmpfs");
    let reasons = mount["reasons"].to_string();
    assert!(reasons.contains("marker file"), "{reasons}");
    assert!(reasons.contains("size"), "{reasons}");
    assert!(reasons.contains("device"), "{reasons}");
    assert!(
        markers(&tier).is_empty(),
        "nothing written under the engine's view"
    );
}

#[test]
fn verify_interrupted_by_sigint_removes_its_marker() {
    let Some(engine) = engine() else { return };
    let name = project_name("sigint");
    let ws = Workspace::new().dir("tier").dir("home").file(
        "compose.yaml",
        &format!("name: {name}\nservices:\n  app:\n    image: busybox\n    volumes:\n      - ./tier:/tier\n"),
    );
    let tier = ws.path("tier");
    let mut project = Project::new(engine, name.clone());
    project.service("app", &helper_image(), &[(&tier, "/tier")], &[]);
    let bin = assert_cmd::cargo::cargo_bin("tierctl");
    let mut child = Process::new(bin)
        .current_dir(ws.root())
        .env("HOME", ws.path("home"))
        .env("NO_COLOR", "1")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env("TIERCTL_TEST_VERIFY_PAUSE_MS", "60000")
        .arg("verify")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tierctl starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while markers(&tier).is_empty() {
        assert!(Instant::now() < deadline, "no marker appeared within 30 s");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "tierctl ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Process::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = child.wait().expect("tierctl ends");
    assert_eq!(status.code(), Some(130));
    assert!(
        markers(&tier).is_empty(),
        "marker removed on SIGINT: {:?}",
        markers(&tier)
    );
}

/// `verify` on a project started by Compose v2 (the `docker compose` plugin or
/// `docker-compose-v2`): container names `project-app-1`.
#[test]
fn verify_a_project_started_by_compose_v2() {
    verify_a_project_started_by(Family::V2);
}

/// `verify` on a project started by Compose v1 (`docker-compose` 1.29): container names
/// `project_app_1`.
#[test]
fn verify_a_project_started_by_compose_v1() {
    verify_a_project_started_by(Family::V1);
}

/// One end-to-end run with a real compose CLI of `family`.
fn verify_a_project_started_by(family: Family) {
    if engine().is_none() {
        return;
    }
    let Some(cli) = family.require() else {
        return;
    };
    let name = project_name(&format!("compose-{family:?}").to_lowercase());
    let ws = Workspace::new().dir("tier").dir("home").file(
        "compose.yaml",
        &format!(
            "services:\n  app:\n    image: {}\n    command: [sleep, \"600\"]\n    network_mode: none\n    volumes:\n      - ./tier:/tier\n",
            helper_image()
        ),
    );
    let Some(_tmpfs) = TmpfsMount::new(&ws.path("tier")) else {
        return;
    };
    let compose = |args: &[&str]| {
        Process::new(&cli[0])
            .args(&cli[1..])
            .args(["-p", &name, "-f"])
            .arg(ws.path("compose.yaml"))
            .args(args)
            .output()
            .expect("compose runs")
    };
    struct Down<F: Fn()>(F);
    impl<F: Fn()> Drop for Down<F> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    let up = compose(&["up", "-d"]);
    let _down = Down(|| {
        let _ = compose(&["down", "-v", "--timeout", "1"]);
    });
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let out = ws
        .tierctl("")
        .args(["-p", &name, "verify"])
        .output()
        .expect("runs");
    let table = String::from_utf8_lossy(&out.stdout);
    eprintln!("{table}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.contains("tmpfs 4.0M"), "{table}");
    assert!(
        !table.contains("note:"),
        "the compose cross-check agrees: {table}"
    );
    let names = Process::new("docker")
        .args(["ps", "--format", "{{.Names}}", "--filter"])
        .arg(format!("label=com.docker.compose.project={name}"))
        .output()
        .expect("docker ps");
    let sep = family.separator();
    assert_eq!(
        String::from_utf8_lossy(&names.stdout).trim(),
        format!("{name}{sep}app{sep}1"),
        "the container is named by {family:?}'s rule"
    );
    assert!(markers(&ws.path("tier")).is_empty());
}

#[test]
fn issue12_verify_reports_a_tier_whose_disk_is_not_there() {
    let Some(engine) = engine() else { return };
    let name = project_name("tiernm");
    let ws = Workspace::new()
        .dir("tier")
        .file("tiers.yaml", "tiers:\n  fast: { root: '{root}/tier', mount: true }\n")
        .file(
            "compose.yaml",
            &format!("name: {name}\nservices:\n  app:\n    image: busybox\n    volumes:\n      - ./tier:/tier\n"),
        );
    let mut project = Project::new(engine, name.clone());
    project.service("app", &helper_image(), &[(&ws.path("tier"), "/tier")], &[]);
    // the tier's root is a plain directory on the system disk: its disk is not mounted
    let out = ws
        .tierctl("")
        .args(["verify", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = json_of(&out.stdout);
    assert_eq!(json["ok"], false);
    assert_eq!(json["tiers"][0]["tier"], "fast", "{json}");
    assert_eq!(json["tiers"][0]["mounted"], false);
    let why = json["tiers"][0]["why"].as_str().expect("why");
    assert!(why.contains("is not a mount point"), "{why}");
    let human = ws.tierctl("").arg("verify").output().expect("runs");
    let text = String::from_utf8_lossy(&human.stdout);
    assert_eq!(human.status.code(), Some(1), "{text}");
    assert!(
        text.contains("tier-not-mounted: the disk of tier `fast` is not there"),
        "{text}"
    );
    let prom = ws
        .tierctl("")
        .args(["verify", "--format", "prometheus"])
        .output()
        .expect("runs");
    let metrics = String::from_utf8_lossy(&prom.stdout);
    assert!(
        metrics.contains(&format!(
            "tierctl_verify_tier_mounted{{project=\"{name}\",tier=\"fast\"}} 0"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("tierctl_verify_success{{project=\"{name}\"}} 0")),
        "{metrics}"
    );
    // the disk mounted and marked: the same verify passes
    let Some(_tmpfs) = TmpfsMount::new(&ws.path("tier")) else {
        return;
    };
    let init = ws
        .tierctl("")
        .args(["tiers", "init"])
        .output()
        .expect("runs");
    assert_eq!(
        init.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // the service restarted on the mounted disk (a container started before the mount keeps
    // seeing the directory underneath)
    if let Some(id) = project.containers.pop() {
        project.engine.remove(&id).expect("container removed");
    }
    project.service("app", &helper_image(), &[(&ws.path("tier"), "/tier")], &[]);
    let out = ws
        .tierctl("")
        .args(["verify", "--format", "json"])
        .output()
        .expect("runs");
    let json = json_of(&out.stdout);
    assert_eq!(json["tiers"][0]["mounted"], true, "{json}");
    assert_eq!(out.status.code(), Some(0), "{json}");
}
