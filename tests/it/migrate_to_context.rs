//! `tierctl migrate --to-context B` between the two real engines of this machine (`.ci/docker`
//! and `.ci/hosts`): a Postgres-like tree (uid 999 files, a 0700 directory, a symlink, a
//! hardlink, a FIFO) moves from a running compose project on engine A into B's tier
//! directory; the project runs on B from `compose.B.yaml`; a kill -9 mid-transfer resumes;
//! rollback restarts on A with A's data intact; preflight refusals change nothing.
//!
//! Engine B runs on this machine, so its "remote" tier directory is also a local path the
//! tests can look at; tierctl itself only reaches it through B's helpers.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::compose_runner::Family;
use super::copy_engine::SEED;
use super::engine::{engine, helper_image};
use super::hosts::{DockerConfig, Engine2, engine2};
use super::migrate_engine::{COMPOSE, compose_output, run_compose, stdout, unique};
use super::workspace::Workspace;

/// B's tier map: a root that exists on B's host (`{root}/bfast`).
const TIERS_B: &str = r#"tiers:
  fast: { root: "{root}/bfast" }
placement:
  - tier: fast
    path: "{project}/{volume}"
"#;

/// A compose project running on engine A with its volume seeded, a docker config with a
/// context for engine B, and cleanup on both engines.
struct Moving {
    ws: Workspace,
    name: String,
    context: String,
    cli: Vec<String>,
    e2: Engine2,
    config: DockerConfig,
    /// `-f FILE` arguments of the project (empty: compose.yaml).
    files: Vec<String>,
}

impl Moving {
    fn up(test: &str, seed: &str) -> Option<Moving> {
        let compose = COMPOSE.replace("{image}", &helper_image());
        Moving::up_with(test, seed, &[("compose.yaml", &compose)], &[])
    }

    /// A project of the compose `texts` (name, text) in `app/`, started with `-f` each of
    /// `files` (none: compose's default files).
    fn up_with(test: &str, seed: &str, texts: &[(&str, &str)], files: &[&str]) -> Option<Moving> {
        engine()?;
        let e2 = engine2()?;
        let cli = Family::V2.require()?;
        let mut ws = Workspace::new()
            .file("app/tiers-b.yaml", TIERS_B)
            .dir("bfast");
        for (name, text) in texts {
            ws = ws.file(&format!("app/{name}"), text);
        }
        let files: Vec<String> = files
            .iter()
            .flat_map(|f| ["-f".to_owned(), (*f).to_owned()])
            .collect();
        let name = unique(test);
        let context = format!("{name}b");
        let config = DockerConfig::new().context(&context, &e2.unix_host());
        let m = Moving {
            ws,
            name,
            context,
            cli,
            e2,
            config,
            files,
        };
        m.cleanup();
        let up = m.compose_output_on_a(&["up", "-d"]);
        assert!(up.status.success(), "compose up: {}", stdout(&up));
        let status = Command::new("docker")
            .args(["run", "--rm", "-v"])
            .arg(format!("{}:/data", m.volume()))
            .args([&helper_image(), "sh", "-c", seed])
            .status()
            .expect("docker run");
        assert!(status.success(), "seed");
        Some(m)
    }

    /// The compose CLI on A with the project's files.
    fn compose_on_a(&self, args: &[&str]) -> bool {
        let mut all: Vec<&str> = self.files.iter().map(String::as_str).collect();
        all.extend(args);
        run_compose(&self.cli, &self.name, &self.ws, &all)
    }

    /// The compose CLI on A with the project's files, its output kept.
    fn compose_output_on_a(&self, args: &[&str]) -> std::process::Output {
        let mut all: Vec<&str> = self.files.iter().map(String::as_str).collect();
        all.extend(args);
        compose_output(&self.cli, &self.name, &self.ws, &all).expect("compose runs")
    }

    /// The service runs on B (seen through B's unix socket) on its tier directory, not on A.
    fn assert_runs_on_b_only(&self) {
        let on_b = self.running(Some(&self.e2.unix_host()));
        assert_eq!(on_b.len(), 1, "{on_b:?}");
        assert!(
            on_b[0].ends_with(&self.target().display().to_string()),
            "{on_b:?}"
        );
        assert!(self.running(None).is_empty());
    }

    fn volume(&self) -> String {
        format!("{}_dbdata", self.name)
    }

    /// The copy's directory on B's host.
    fn target(&self) -> PathBuf {
        self.ws.path(&format!("bfast/{}/dbdata", self.name))
    }

    fn compose_for_b(&self) -> PathBuf {
        self.ws.path(&format!("app/compose.{}.yaml", self.context))
    }

    fn tierctl(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = self.ws.tierctl("app");
        cmd.env("COMPOSE_PROJECT_NAME", &self.name)
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .env("DOCKER_CONFIG", self.config.path())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .args(args);
        cmd.output().expect("tierctl runs")
    }

    fn move_args(&self) -> Vec<String> {
        vec![
            "migrate".into(),
            "--to-context".into(),
            self.context.clone(),
            "--to-tiers".into(),
            "tiers-b.yaml".into(),
            "--yes".into(),
        ]
    }

    /// Running containers of the project on engine `host` (`None`: A), each as
    /// `NAME MOUNT-SOURCE` (a volume's name, else the bound path).
    fn running(&self, host: Option<&str>) -> Vec<String> {
        running_on(host, &self.name)
    }

    /// The manifest of a volume on A as busybox prints it (to compare before and after).
    fn volume_listing(&self) -> String {
        listing(None, &self.volume())
    }

    /// The same listing of the copy on B, read by a container on B.
    fn target_listing(&self) -> String {
        listing(
            Some(&self.e2.unix_host()),
            &self.target().display().to_string(),
        )
    }

    /// tierctl with `args` in the background, with `env` set; its output goes to
    /// [`Moving::log`].
    fn spawn(&self, args: &[String], env: &[(&str, &str)]) -> std::process::Child {
        let log = std::fs::File::create(self.ws.path("tierctl.log")).expect("log");
        let err = log.try_clone().expect("log");
        Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
            .args(args)
            .current_dir(self.ws.path("app"))
            .env("COMPOSE_PROJECT_NAME", &self.name)
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .env("DOCKER_CONFIG", self.config.path())
            .env("HOME", self.ws.path("home"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .envs(env.iter().copied())
            .stdout(log)
            .stderr(err)
            .spawn()
            .expect("spawn")
    }

    /// What the last [`Moving::spawn`] printed.
    fn log(&self) -> String {
        std::fs::read_to_string(self.ws.path("tierctl.log")).unwrap_or_default()
    }

    /// The text of the project's (one) journal.
    fn journal_text(&self) -> String {
        let dir = self.ws.path("app/.tierctl");
        std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("journal-"))
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Run `script` in the project's running container on A (its volume is at /data).
    fn exec_on_a(&self, detached: bool, script: &str) {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let id = Command::new("docker")
            .args(["ps", "-q", "--filter", &filter])
            .output()
            .expect("docker ps");
        let id = String::from_utf8_lossy(&id.stdout).trim().to_owned();
        assert!(!id.is_empty(), "the project runs on A");
        let mut cmd = Command::new("docker");
        cmd.arg("exec");
        if detached {
            cmd.arg("-d");
        }
        let status = cmd
            .args([&id, "sh", "-c", script])
            .status()
            .expect("docker exec");
        assert!(status.success(), "docker exec {script}");
    }

    fn journals(&self) -> usize {
        std::fs::read_dir(self.ws.path("app/.tierctl"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("journal-"))
                    .count()
            })
            .unwrap_or(0)
    }

    fn cleanup(&self) {
        self.compose_on_a(&["down", "-v"]);
        crate::leftovers::remove_project(None, &self.name);
        crate::leftovers::remove_project(Some(&self.e2.unix_host()), &self.name);
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.volume()])
            .output();
        // on B: the project's containers and network (compose made them from compose.B.yaml)
        let _ = Command::new(&self.cli[0])
            .args(&self.cli[1..])
            .args(["-p", &self.name, "down"])
            .env("DOCKER_HOST", self.e2.unix_host())
            .current_dir(self.ws.path("bfast"))
            .output();
        let ids = Command::new("docker")
            .args(["-H", &self.e2.unix_host(), "ps", "-aq", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.name))
            .output()
            .expect("docker ps on B");
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = Command::new("docker")
                .args(["-H", &self.e2.unix_host(), "rm", "-f", id])
                .output();
        }
        let _ = Command::new("docker")
            .args(["-H", &self.e2.unix_host(), "network", "rm"])
            .arg(format!("{}_default", self.name))
            .output();
    }
}

/// A tree's listing as busybox prints it, read by a container on engine `host` (`None`: A)
/// that mounts `mount` (a volume's name or a path) read-only.
/// Running containers of compose project `project` on engine `host` (`None`: the default
/// one), each as `NAME MOUNT-SOURCE` (a volume's name, else the bound path).
pub fn running_on(host: Option<&str>, project: &str) -> Vec<String> {
    let docker = |args: &[&str]| {
        let mut cmd = Command::new("docker");
        if let Some(host) = host {
            cmd.args(["-H", host]);
        }
        let out = cmd.args(args).output().expect("docker");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let filter = format!("label=com.docker.compose.project={project}");
    let ids = docker(&["ps", "-q", "--filter", &filter]);
    ids.split_whitespace()
        .map(|id| {
            docker(&[
                "inspect",
                "--format",
                "{{.Name}} {{range .Mounts}}{{if .Name}}{{.Name}}{{else}}{{.Source}}{{end}}{{end}}",
                id,
            ])
            .trim()
            .to_owned()
        })
        .collect()
}

pub fn listing(host: Option<&str>, mount: &str) -> String {
    let mut cmd = Command::new("docker");
    if let Some(host) = host {
        cmd.args(["-H", host]);
    }
    let out = cmd
        .args(["run", "--rm", "-v"])
        .arg(format!("{mount}:/d:ro"))
        .args([
            &helper_image(),
            "sh",
            "-c",
            "cd /d && find . -exec stat -c '%f %u %g %s %Y %h %n' {} + | sort && find . -type f -exec sha256sum {} + | sort",
        ])
        .output()
        .expect("docker run");
    assert!(out.status.success(), "listing");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for Moving {
    fn drop(&mut self) {
        self.cleanup();
    }
}

pub fn assert_postgres_like_tree(t: &Path) {
    let one = std::fs::metadata(t.join("pg/base/1")).expect("copied file");
    assert_eq!(
        (one.uid(), one.mode() & 0o7777, one.nlink()),
        (999, 0o600, 2)
    );
    assert_eq!(
        one.ino(),
        std::fs::metadata(t.join("pg/base/1.link"))
            .expect("hardlink")
            .ino()
    );
    let pg = std::fs::metadata(t.join("pg")).expect("dir");
    assert_eq!((pg.uid(), pg.mode() & 0o7777), (999, 0o700));
    assert_eq!(std::fs::metadata(t.join("sub/a")).expect("file").uid(), 70);
    assert_eq!(
        std::fs::read_link(t.join("pg/current")).expect("symlink"),
        Path::new("base/1")
    );
    assert!(
        std::fs::symlink_metadata(t.join("pg/fifo"))
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
    // mtimes kept (the seed sets 2019-05-01 on this file)
    assert_eq!(
        std::fs::metadata(t.join("sub/a")).expect("file").mtime(),
        std::fs::metadata(t.join("pg/base/1"))
            .expect("file")
            .mtime()
    );
}

#[test]
fn migrate_to_context_moves_the_data_starts_on_b_and_rollback_restarts_on_a() {
    let Some(m) = Moving::up("tierctlitxh1", SEED) else {
        return;
    };
    let original = std::fs::read_to_string(m.ws.path("app/compose.yaml")).expect("compose");
    let before = m.volume_listing();
    let args = m.move_args();
    let out = m.tierctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("only manifests crossed"), "{text}");
    assert!(
        text.contains(&format!("started on `{}`: db", m.context)),
        "{text}"
    );

    // the data on B's tier, the compose file for B, the original untouched
    assert_postgres_like_tree(&m.target());
    let for_b = std::fs::read_to_string(m.compose_for_b()).expect("compose for B");
    assert!(
        for_b.contains(&format!(
            "- {}:/data   # the database",
            m.target().display()
        )),
        "{for_b}"
    );
    assert_eq!(
        std::fs::read_to_string(m.ws.path("app/compose.yaml")).expect("compose"),
        original
    );
    m.assert_runs_on_b_only();

    // rollback: stopped on B, running on A on its volume, A's data as it was
    let back = m.tierctl(&["migrate", "--rollback", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", stdout(&back));
    assert!(m.running(Some(&m.e2.unix_host())).is_empty());
    let on_a = m.running(None);
    assert_eq!(on_a.len(), 1, "{on_a:?}");
    assert!(on_a[0].ends_with(&m.volume()), "{on_a:?}");
    assert_eq!(m.volume_listing(), before);
    assert!(!m.compose_for_b().exists());
    assert_eq!(
        std::fs::read_to_string(m.ws.path("app/compose.yaml")).expect("compose"),
        original
    );
}

/// B reached over TCP with TLS (a context with its certificates, as `docker context create
/// --docker host=tcp://...,ca=...,cert=...,key=...` stores them): the move, the start of the
/// services on B by the compose CLI (which needs the context's TLS material, not only
/// `DOCKER_HOST`), and the rollback that stops them there again.
#[test]
fn migrate_to_context_over_tls_starts_the_services_on_b_and_rolls_back() {
    let Some(mut m) = Moving::up("tierctlitxh9", SEED) else {
        return;
    };
    m.config = DockerConfig::new().tls_context(&m.context, &m.e2.tls_host, &m.e2.tls_dir);
    let before = m.volume_listing();
    let args = m.move_args();
    let out = m.tierctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("started on `{}`: db", m.context)),
        "{text}"
    );
    assert_postgres_like_tree(&m.target());
    // the same engine B, looked at through its unix socket
    m.assert_runs_on_b_only();

    let back = m.tierctl(&["migrate", "--rollback", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", stdout(&back));
    assert!(m.running(Some(&m.e2.unix_host())).is_empty());
    assert_eq!(m.running(None).len(), 1);
    assert_eq!(m.volume_listing(), before);
}

/// About 300 MB, so the transfer takes long enough to be killed in the middle.
const BIG_SEED: &str = "set -e; cd /data; for d in 1 2 3 4 5; do mkdir -p d$d; \
head -c 60000000 /dev/urandom > d$d/blob; for i in 1 2 3 4 5 6 7 8 9 10; do echo $d$i > d$d/f$i; done; done; \
mkdir -p pg/base; printf 'row\\n' > pg/base/1; ln pg/base/1 pg/base/1.link; mkfifo pg/fifo; \
chown -R 999:999 /data; chmod 0700 pg";

#[test]
fn migrate_to_context_killed_mid_transfer_resumes_to_a_verified_move() {
    let Some(m) = Moving::up("tierctlitxh2", BIG_SEED) else {
        return;
    };
    let before = m.volume_listing();
    let mut args = m.move_args();
    args.push("--stop-first".into());
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
        .args(&args)
        .current_dir(m.ws.path("app"))
        .env("COMPOSE_PROJECT_NAME", &m.name)
        .env("TIERCTL_HELPER_IMAGE", helper_image())
        .env("DOCKER_CONFIG", m.config.path())
        .env("HOME", m.ws.path("home"))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // kill -9 once the transfer has written part of the tree on B
    let deadline = Instant::now() + Duration::from_secs(120);
    let blob = m.target().join("d1/blob");
    while !blob.exists() && Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(blob.exists(), "the transfer never began");
    child.kill().expect("kill -9");
    let _ = child.wait();
    assert!(
        !m.target().join("pg/base/1").exists(),
        "killed too late: the transfer had finished"
    );

    let resumed = m.tierctl(&["migrate", "--resume", "--yes"]);
    let text = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(text.contains("already done"), "{text}");
    assert!(text.contains("only manifests crossed"), "{text}");
    assert_eq!(m.running(Some(&m.e2.unix_host())).len(), 1);
    let blob_meta = std::fs::metadata(&blob).expect("blob on B");
    assert_eq!((blob_meta.len(), blob_meta.uid()), (60_000_000, 999));
    assert!(
        std::fs::symlink_metadata(m.target().join("pg/fifo"))
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
    assert_eq!(m.volume_listing(), before, "A's data was only read");

    // --prune-source: refused while A's (stopped) container still uses the volume
    let refused = m.tierctl(&["migrate", "--prune-source", "--yes"]);
    let text = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("is in use by container"), "{text}");
    assert_eq!(m.volume_listing(), before);
    // after `compose down` on A (without -v) it removes the volume
    assert!(
        run_compose(&m.cli, &m.name, &m.ws, &["down"]),
        "compose down"
    );
    let pruned = m.tierctl(&["migrate", "--prune-source", "--yes"]);
    assert_eq!(pruned.status.code(), Some(0), "{}", stdout(&pruned));
    let gone = Command::new("docker")
        .args(["volume", "inspect", &m.volume()])
        .output()
        .expect("docker volume inspect");
    assert!(!gone.status.success(), "the volume is removed");
    // the project still runs on B, and rollback is refused now
    assert_eq!(m.running(Some(&m.e2.unix_host())).len(), 1);
    let back = m.tierctl(&["migrate", "--rollback", "--yes"]);
    assert_eq!(back.status.code(), Some(2), "{}", stdout(&back));
    assert!(
        stdout(&back).contains("--prune-source"),
        "{}",
        stdout(&back)
    );
}

#[test]
fn migrate_to_context_preflight_refusals_change_nothing() {
    let Some(m) = Moving::up("tierctlitxh3", SEED) else {
        return;
    };
    let original = std::fs::read_to_string(m.ws.path("app/compose.yaml")).expect("compose");
    let before = m.volume_listing();
    let unchanged = |m: &Moving| {
        assert_eq!(m.running(None).len(), 1, "still running on A");
        assert_eq!(
            std::fs::read_to_string(m.ws.path("app/compose.yaml")).expect("compose"),
            original
        );
        assert!(!m.compose_for_b().exists());
        assert_eq!(m.journals(), 0);
        assert!(!m.target().exists());
        assert_eq!(m.volume_listing(), before);
    };

    // B's tier root does not exist on B
    std::fs::remove_dir(m.ws.path("bfast")).expect("rmdir");
    let out = m.tierctl(&m.move_args().iter().map(String::as_str).collect::<Vec<_>>());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("does not exist on context `{}`", m.context)),
        "{text}"
    );
    unchanged(&m);
    std::fs::create_dir(m.ws.path("bfast")).expect("mkdir");

    // B unreachable: its context names a socket nothing listens on
    let dead = format!("{}dead", m.context);
    let config = DockerConfig::new().context(
        &dead,
        &format!("unix://{}", m.ws.path("dead.sock").display()),
    );
    let mut cmd = m.ws.tierctl("app");
    let out = cmd
        .env("COMPOSE_PROJECT_NAME", &m.name)
        .env("TIERCTL_HELPER_IMAGE", helper_image())
        .env("DOCKER_CONFIG", config.path())
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .args([
            "migrate",
            "--to-context",
            &dead,
            "--to-tiers",
            "tiers-b.yaml",
            "--yes",
        ])
        .output()
        .expect("tierctl runs");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(&dead), "{text}");
    unchanged(&m);
}

/// Without `--to-tiers`, B's tier map comes from tiers.yaml's `contexts:` entry for B; with
/// neither, the move is refused naming both ways.
#[test]
fn migrate_to_context_takes_b_tiers_from_the_contexts_map() {
    let Some(m) = Moving::up("tierctlitxh4", SEED) else {
        return;
    };
    let dry = |m: &Moving| m.tierctl(&["migrate", "--to-context", &m.context, "--dry-run"]);
    let out = dry(&m);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("no tier map for context"), "{text}");
    assert!(text.contains("contexts:"), "{text}");
    let tiers = format!(
        "tiers:\n  fast: {{ root: \"{a}\" }}\ncontexts:\n  {ctx}:\n    tiers:\n      fast: {{ root: \"{b}\" }}\nplacement:\n  - tier: fast\n    path: \"{{project}}/{{volume}}\"\n",
        a = m.ws.path("afast").display(),
        b = m.ws.path("bfast").display(),
        ctx = m.context,
    );
    std::fs::write(m.ws.path("app/tiers.yaml"), tiers).expect("tiers.yaml");
    let out = dry(&m);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&m.target().display().to_string()), "{text}");
    assert!(!m.compose_for_b().exists());
    assert_eq!(m.running(None).len(), 1, "still running on A");
}

/// The Postgres-like tree, 20 MB that never changes, a 1 MB file the test rewrites with other
/// bytes of the same size and mtime, and files to delete, rename and chmod.
const DELTA_SEED: &str = "set -e; cd /data; mkdir -p pg/base sub keep gone; \
printf 'row one\\n' > pg/base/1; ln pg/base/1 pg/base/1.link; ln -s base/1 pg/current; mkfifo pg/fifo; \
chown -R 999:999 pg; chmod 0700 pg; printf 'alpine\\n' > sub/a; chown 70:70 sub sub/a; \
head -c 20000000 /dev/urandom > keep/base20; head -c 1000000 /dev/urandom > same-size; \
echo old > rename-me; echo x > chmod-me; echo bye > gone/file; touch -d '2019-05-01 10:00:00' sub/a same-size";

/// While the services run (after the pre-copy, before the stop): create, delete, rename,
/// chmod, hardlink, and rewrite `same-size` with other bytes of the same size and mtime.
const CHANGES: &str = "set -e; cd /data; mkdir -p new/deep; echo fresh > new/deep/file; \
echo top > created; rm -rf gone; mv rename-me renamed; chmod 0640 chmod-me; ln sub/a sub/a.link; \
head -c 1000000 /dev/urandom > /tmp/r; cat /tmp/r > same-size; touch -d '2019-05-01 10:00:00' same-size";

/// A writer that rewrites 50 small files over and over while the services run.
const CHURN: &str =
    "i=0; mkdir -p /data/churn; while :; do i=$((i+1)); echo $i > /data/churn/f$((i % 50)); done";

/// Wait until the journal holds `needle` (or `child` ended, or two minutes passed).
fn wait_for_journal(m: &Moving, child: &mut std::process::Child, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if m.journal_text().contains(needle) {
            return true;
        }
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The bytes of tar the delta step says it sent.
fn delta_bytes(text: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.contains("delta (services stopped)"))
        .unwrap_or_else(|| panic!("no delta line in {text}"));
    let (before, _) = line.split_once(" bytes of tar").expect("bytes of tar");
    before
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

#[test]
fn migrate_to_context_delta_sends_only_what_changed_while_the_services_ran() {
    let Some(m) = Moving::up("tierctlitxh5", DELTA_SEED) else {
        return;
    };
    m.exec_on_a(true, CHURN);
    let args = m.move_args();
    let mut child = m.spawn(
        &args,
        &[
            ("TIERCTL_TEST_MIGRATE_PAUSE", "stop"),
            ("TIERCTL_TEST_MIGRATE_PAUSE_MS", "8000"),
        ],
    );
    assert!(
        wait_for_journal(&m, &mut child, "\"step\":\"pre-copy:0\",\"detail\""),
        "the pre-copy never finished: {}",
        m.journal_text()
    );
    m.exec_on_a(false, CHANGES);
    let status = child.wait().expect("wait");
    let log = m.log();
    assert!(status.success(), "{log}");

    // B holds exactly A's stopped tree (the churn included)
    let a = m.volume_listing();
    assert!(
        a.contains("./churn/f1") && a.contains("./new/deep/file"),
        "{a}"
    );
    assert!(!a.contains("./gone") && !a.contains("./rename-me"), "{a}");
    assert_eq!(m.target_listing(), a);
    // only the delta crossed while the services were stopped: the rewritten 1 MB file and the
    // small ones, never the 20 MB that did not change
    let sent = delta_bytes(&log);
    assert!(
        (1_000_000..3_000_000).contains(&sent),
        "{sent} bytes: {log}"
    );
    let journal = m.journal_text();
    let line = journal
        .lines()
        .find(|l| l.contains("\"step\":\"delta:0\",\"detail\""))
        .expect("delta done");
    assert!(line.contains("\"removed\":2"), "{line}");
    // the verify re-read the copy on B and took the source's manifest from the delta, which
    // read it after the stop (the source is not hashed twice while the services are down)
    assert!(
        log.contains("the source's manifest from the delta (taken after the stop)"),
        "{log}"
    );
}

/// A 150 MB file the test rewrites after the pre-copy, so the delta takes long enough to be
/// killed in the middle.
const BIG_DELTA_SEED: &str = "set -e; cd /data; mkdir -p pg/base; head -c 150000000 /dev/urandom > big; \
printf 'row\\n' > pg/base/1; ln pg/base/1 pg/base/1.link; mkfifo pg/fifo; echo bye > gone; \
chown -R 999:999 /data; chmod 0700 pg";

#[test]
fn migrate_to_context_killed_mid_delta_resumes_to_a_verified_move() {
    let Some(m) = Moving::up("tierctlitxh6", BIG_DELTA_SEED) else {
        return;
    };
    let mut child = m.spawn(
        &m.move_args(),
        &[
            ("TIERCTL_TEST_MIGRATE_PAUSE", "stop"),
            ("TIERCTL_TEST_MIGRATE_PAUSE_MS", "8000"),
        ],
    );
    assert!(
        wait_for_journal(&m, &mut child, "\"step\":\"pre-copy:0\",\"detail\""),
        "the pre-copy never finished: {}",
        m.log()
    );
    m.exec_on_a(
        false,
        "cd /data && head -c 150000000 /dev/urandom > big && rm gone && echo new > created",
    );
    // kill -9 once the delta's extraction on B is writing the new `big`
    let big = m.target().join("big");
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut writing = false;
    while Instant::now() < deadline && child.try_wait().expect("wait").is_none() {
        let size = std::fs::metadata(&big).map(|md| md.len()).unwrap_or(0);
        if size < 150_000_000 && m.journal_text().contains("\"step\":\"delta:0\"}") {
            writing = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(writing, "the delta never began: {}", m.log());
    child.kill().expect("kill -9");
    let _ = child.wait();
    assert!(
        !m.journal_text().contains("\"step\":\"delta:0\",\"detail\""),
        "killed too late: the delta had finished"
    );

    let resumed = m.tierctl(&["migrate", "--resume", "--yes"]);
    let text = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(text.contains("delta (services stopped)"), "{text}");
    assert!(text.contains("only manifests crossed"), "{text}");
    let a = m.volume_listing();
    assert!(a.contains("./created") && !a.contains("./gone"), "{a}");
    assert_eq!(m.target_listing(), a);
    assert_eq!(m.running(Some(&m.e2.unix_host())).len(), 1);
}

#[test]
fn migrate_to_context_rollback_discard_copy_asks_then_removes_the_verified_copy_on_b() {
    let Some(m) = Moving::up("tierctlitxh7", SEED) else {
        return;
    };
    let before = m.volume_listing();
    let mut args = m.move_args();
    args.push("--stop-first".into());
    let out = m.tierctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(m.target().join("pg/base/1").exists());

    // without --yes and no terminal: refused, nothing changed
    let asked = m.tierctl(&["migrate", "--rollback", "--discard-copy"]);
    let text = stdout(&asked);
    assert_eq!(asked.status.code(), Some(2), "{text}");
    assert!(text.contains("delete the copies on"), "{text}");
    assert_eq!(m.running(Some(&m.e2.unix_host())).len(), 1, "{text}");
    assert!(m.target().join("pg/base/1").exists());

    let back = m.tierctl(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    let text = stdout(&back);
    assert_eq!(back.status.code(), Some(0), "{text}");
    assert!(text.contains("still the verified copy"), "{text}");
    assert!(!m.target().exists(), "the copy on B is removed");
    assert!(m.ws.path("bfast").is_dir(), "B's tier root stays");
    assert!(m.running(Some(&m.e2.unix_host())).is_empty());
    assert_eq!(m.running(None).len(), 1);
    assert_eq!(m.volume_listing(), before, "A's data is untouched");
    // a second discard has nothing left to do
    let again = m.tierctl(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[test]
fn migrate_to_context_rollback_discard_copy_never_drops_newer_data_on_b() {
    let Some(m) = Moving::up("tierctlitxh8", SEED) else {
        return;
    };
    let mut args = m.move_args();
    args.push("--stop-first".into());
    let out = m.tierctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // the service on B writes after the move
    std::fs::write(m.target().join("written-on-b"), "newer\n").expect("write on B");

    // without --force: the whole rollback is refused, the project keeps running on B
    let refused = m.tierctl(&["migrate", "--rollback", "--discard-copy", "--yes"]);
    let text = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert_eq!(m.running(Some(&m.e2.unix_host())).len(), 1, "{text}");
    assert!(m.target().join("written-on-b").exists());

    // with --force the project goes back to A, but the copy with newer data stays on B
    let forced = m.tierctl(&[
        "migrate",
        "--rollback",
        "--discard-copy",
        "--force",
        "--yes",
    ]);
    let text = stdout(&forced);
    assert_eq!(forced.status.code(), Some(2), "{text}");
    assert!(text.contains("stays") && text.contains("newer"), "{text}");
    // issue 26 row 18: nothing to fix, so no "fix the cause"
    assert!(!text.contains("fix the cause"), "{text}");
    assert!(text.contains("tierctl never removes this copy"), "{text}");
    assert_eq!(m.running(None).len(), 1, "{text}");
    assert!(m.running(Some(&m.e2.unix_host())).is_empty());
    assert_eq!(
        std::fs::read_to_string(m.target().join("written-on-b")).expect("kept"),
        "newer\n"
    );
    assert!(m.target().join("pg/base/1").exists());
}

/// The service without its data (`base.yaml`) and the file that gives it its volume
/// (`data.yaml`), merged by `-f base.yaml -f data.yaml`.
const BASE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 1m30s
"#;
const DATA: &str = r#"services:
  db:
    volumes:
      - dbdata:/data   # the database
volumes:
  dbdata:
"#;

#[test]
fn migrate_to_context_moves_a_project_of_several_compose_files() {
    let base = BASE.replace("{image}", &helper_image());
    let Some(m) = Moving::up_with(
        "tierctlitxh10",
        SEED,
        &[("base.yaml", &base), ("data.yaml", DATA)],
        &["base.yaml", "data.yaml"],
    ) else {
        return;
    };
    let before = m.volume_listing();
    let mut args = vec!["-f", "base.yaml", "-f", "data.yaml"];
    let moving = m.move_args();
    args.extend(moving.iter().map(String::as_str));
    let out = m.tierctl(&args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");

    // one file for B beside each original, in order; only the one with the mount differs
    let base_b = m.ws.path(&format!("app/base.{}.yaml", m.context));
    let data_b = m.ws.path(&format!("app/data.{}.yaml", m.context));
    assert_eq!(std::fs::read_to_string(&base_b).expect("base for B"), base);
    let data_for_b = std::fs::read_to_string(&data_b).expect("data for B");
    assert!(
        data_for_b.contains(&format!(
            "- {}:/data   # the database",
            m.target().display()
        )),
        "{data_for_b}"
    );
    assert_eq!(
        std::fs::read_to_string(m.ws.path("app/data.yaml")).expect("original"),
        DATA
    );
    // the merged project runs on B on its tier directory
    let on_b = m.running(Some(&m.e2.unix_host()));
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert!(
        on_b[0].ends_with(&m.target().display().to_string()),
        "{on_b:?}"
    );
    assert_eq!(m.target_listing(), before);

    // rollback removes both files for B and restarts on A
    let back = m.tierctl(&[
        "-f",
        "base.yaml",
        "-f",
        "data.yaml",
        "migrate",
        "--rollback",
        "--yes",
    ]);
    assert_eq!(back.status.code(), Some(0), "{}", stdout(&back));
    assert!(!base_b.exists() && !data_b.exists());
    assert_eq!(m.running(None).len(), 1);
    assert_eq!(m.volume_listing(), before);
}

/// The service's image and command come from `common.yaml` (`extends: { file: }`), its volume
/// from compose.yaml: the copy for B names `common.yaml` beside it as the original does.
const EXTENDING: &str = r#"services:
  db:
    extends:
      file: common.yaml
      service: base
    volumes:
      - dbdata:/data   # the database
volumes:
  dbdata:
"#;

const COMMON: &str = r#"services:
  base:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
"#;

#[test]
fn migrate_to_context_of_a_project_extending_a_file_it_leaves_alone_names_that_file_on_b() {
    let common = COMMON.replace("{image}", &helper_image());
    let Some(m) = Moving::up_with(
        "tierctlitxh11",
        SEED,
        &[("compose.yaml", EXTENDING), ("common.yaml", &common)],
        &[],
    ) else {
        return;
    };
    let before = m.volume_listing();
    let args = m.move_args();
    let out = m.tierctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let for_b = std::fs::read_to_string(m.compose_for_b()).expect("compose file for B");
    assert!(for_b.contains("file: common.yaml"), "{for_b}");
    assert!(
        for_b.contains(&format!("{}:/data", m.target().display())),
        "{for_b}"
    );
    assert_eq!(
        std::fs::read_to_string(m.ws.path("app/common.yaml")).expect("untouched"),
        common
    );
    m.assert_runs_on_b_only();
    assert_eq!(m.target_listing(), before);
    let back = m.tierctl(&["migrate", "--rollback", "--yes"]);
    assert_eq!(back.status.code(), Some(0), "{}", stdout(&back));
    assert_eq!(m.running(None).len(), 1);
    assert_eq!(m.volume_listing(), before);
}

#[test]
fn migrate_to_context_refuses_a_mount_in_a_file_the_project_extends() {
    // the volume is in common.yaml: its edit would land there, not in a compose file for B
    let common = format!(
        "{}    volumes:\n      - dbdata:/data\n",
        COMMON.replace("{image}", &helper_image())
    );
    let extending = "services:\n  db:\n    extends:\n      file: common.yaml\n      service: base\nvolumes:\n  dbdata:\n";
    let Some(m) = Moving::up_with(
        "tierctlitxh12",
        SEED,
        &[("compose.yaml", extending), ("common.yaml", &common)],
        &[],
    ) else {
        return;
    };
    let args = m.move_args();
    let out = m.tierctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("common.yaml` as well"), "{err}");
    assert!(!m.compose_for_b().exists());
    assert_eq!(m.running(None).len(), 1, "nothing stopped");
}

/// A killed move to B left helper containers on both engines: the next move that takes over
/// its lock removes them on A and on B, and leaves a live process's alone (issue 26 row 15).
#[test]
fn issue26_row15_a_dead_moves_helpers_on_both_engines_are_swept_when_its_lock_is_taken_over() {
    let Some(m) = Moving::up("tierctlitxr15", SEED) else {
        return;
    };
    // a pid that surely ran and is gone: a child that has exited and been reaped
    let mut child = Command::new("true").spawn().expect("spawn true");
    let dead = child.id();
    child.wait().expect("wait");
    let lock = m.ws.path("app/.tierctl/lock");
    std::fs::create_dir_all(lock.parent().expect("state dir")).expect("mkdir");
    let holder = format!(r#"{{"pid":{dead},"command":"tierctl migrate --to-context","since":0}}"#);
    std::fs::write(&lock, holder).expect("lock file");
    let b = m.e2.unix_host();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let theirs_a = format!("tierctl-copy-{dead}-{nanos}1");
    let theirs_b = format!("tierctl-copy-{dead}-{nanos}2");
    let live_b = format!("tierctl-copy-{}-{nanos}3", std::process::id());
    let create = |host: Option<&str>, name: &str| {
        let mut cmd = Command::new("docker");
        if let Some(host) = host {
            cmd.args(["-H", host]);
        }
        let out = cmd
            .args([
                "create",
                "--name",
                name,
                "--label",
                "io.tierctl.helper=copy",
            ])
            .args([&helper_image(), "true"])
            .output()
            .expect("docker create");
        assert!(out.status.success(), "{}", stdout(&out));
    };
    let exists = |host: Option<&str>, name: &str| {
        let mut cmd = Command::new("docker");
        if let Some(host) = host {
            cmd.args(["-H", host]);
        }
        cmd.args(["inspect", "--type", "container", name])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    create(None, &theirs_a);
    create(Some(&b), &theirs_b);
    create(Some(&b), &live_b);

    let out = m.tierctl(&m.move_args().iter().map(String::as_str).collect::<Vec<_>>());
    let text = stdout(&out);
    let left_live = exists(Some(&b), &live_b);
    let _ = Command::new("docker")
        .args(["-H", &b, "rm", "-f", &live_b])
        .output();
    assert_eq!(out.status.code(), Some(0), "{text}");
    for name in [&theirs_a, &theirs_b] {
        assert!(
            text.contains(&format!(
                "removed helper container `{name}` left by pid {dead}"
            )),
            "{text}"
        );
    }
    assert!(
        !exists(None, &theirs_a),
        "the dead run's helper on A is still there"
    );
    assert!(
        !exists(Some(&b), &theirs_b),
        "the dead run's helper on B is still there"
    );
    assert!(
        left_live,
        "a live process's helper on B was removed: {text}"
    );
    m.assert_runs_on_b_only();
}
