//! Issue 15 item 2: `tierctl migrate` on an engine whose host is another machine moves a
//! volume into that machine's tier directory, driven from here. The second engine of
//! `.ci/hosts` runs on this machine, so the test makes the two views differ as in
//! `remote_paths`: tierctl runs in a mount namespace where the directory holding the tier root
//! is an empty tmpfs, while the engine, in the host's namespace, sees the real tier root. Every
//! fact about the tier directory, its creation, the copy, the verify, the rollback's copy back
//! and the discard of the copy can only have happened through helper containers on that
//! engine: a look at this machine's path would find nothing there.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compose_runner::Family;
use crate::copy_engine::SEED;
use crate::engine::{can_unshare, helper_image};
use crate::hosts::{DockerConfig, Engine2, engine2};
use crate::migrate_engine::{COMPOSE, unique};
use crate::migrate_to_context::{assert_postgres_like_tree, listing, running_on};

/// A compose project running on the second engine with its volume seeded; its tier root is
/// `base/fast` on the engine's host, hidden from tierctl.
struct OnOtherMachine {
    e2: Engine2,
    cli: Vec<String>,
    name: String,
    context: String,
    config: DockerConfig,
    base: tempfile::TempDir,
    project: tempfile::TempDir,
}

impl OnOtherMachine {
    /// The other machine's engine reached over TCP with TLS.
    fn up(test: &str) -> Option<OnOtherMachine> {
        Self::up_over(test, false)
    }

    /// The other machine's engine reached over TCP with TLS, or over ssh (`ssh`: the sshd of
    /// `.ci/hosts`, whose user's `docker` reaches that engine).
    fn up_over(test: &str, ssh: bool) -> Option<OnOtherMachine> {
        crate::engine::engine()?;
        let e2 = engine2()?;
        if !can_unshare() {
            return None;
        }
        let cli = Family::V2.require()?;
        let base = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(base.path().join("fast")).expect("tier root");
        // the tier root of this machine's engine as a move's target, hidden from tierctl too
        std::fs::create_dir(base.path().join("bfast")).expect("tier root");
        let project = tempfile::tempdir().expect("temp dir");
        let name = unique(test);
        let context = format!("{name}nas");
        let p = project.path();
        std::fs::write(
            p.join("compose.yaml"),
            COMPOSE.replace("{image}", &helper_image()),
        )
        .expect("write compose");
        // this machine's own tier map would place the copy elsewhere: the context's applies
        std::fs::write(
            p.join("tiers.yaml"),
            format!(
                "tiers:\n  fast: {{ root: \"{p}/local-fast\" }}\nplacement:\n  - tier: fast\n    path: \"{{project}}/{{volume}}\"\ncontexts:\n  {context}:\n    tiers:\n      fast: {{ root: \"{b}/fast\" }}\n  {context}here:\n    tiers:\n      fast: {{ root: \"{b}/bfast\" }}\n",
                p = p.display(),
                b = base.path().display()
            ),
        )
        .expect("write tiers");
        let config = match ssh {
            true => DockerConfig::new().context(&context, &e2.ssh_host),
            false => DockerConfig::new().tls_context(&context, &e2.tls_host, &e2.tls_dir),
        };
        let config = config
            .mark_remote(&context, true)
            .context(&format!("{context}here"), "unix:///var/run/docker.sock");
        let m = OnOtherMachine {
            e2,
            cli,
            name,
            context,
            config,
            base,
            project,
        };
        assert!(m.compose(&["up", "-d"]), "compose up on the second engine");
        let status = Command::new("docker")
            .args(["-H", &m.e2.unix_host(), "run", "--rm", "-v"])
            .arg(format!("{}:/data", m.volume()))
            .args([&helper_image(), "sh", "-c", SEED])
            .status()
            .expect("docker run");
        assert!(status.success(), "seed");
        Some(m)
    }

    /// The compose CLI against the second engine's unix socket.
    fn compose(&self, args: &[&str]) -> bool {
        Command::new(&self.cli[0])
            .args(&self.cli[1..])
            .args(["-p", &self.name])
            .args(args)
            .current_dir(self.project.path())
            .env("DOCKER_HOST", self.e2.unix_host())
            .env_remove("DOCKER_CONTEXT")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn volume(&self) -> String {
        format!("{}_dbdata", self.name)
    }

    /// The docker context of this machine's engine.
    fn here(&self) -> String {
        format!("{}here", self.context)
    }

    /// `NAME SOURCE` of the project's running containers on this machine's engine.
    fn running_here(&self) -> Vec<String> {
        self.running_on(None)
    }

    /// The copy's directory on the engine's host.
    fn target(&self) -> PathBuf {
        self.base.path().join(format!("fast/{}/dbdata", self.name))
    }

    /// `tierctl --context CTX ARGS` in a mount namespace where `base` is an empty tmpfs.
    fn tierctl(&self, args: &str) -> (Option<i32>, String, String) {
        let mut cmd = crate::remote_paths::hiding(self.base.path(), "", &self.context, args);
        cmd.current_dir(self.project.path())
            .env("DOCKER_CONFIG", self.config.path())
            .env("COMPOSE_PROJECT_NAME", &self.name);
        crate::remote_paths::outcome(&mut cmd)
    }

    /// `NAME SOURCE` of the project's running containers on the second engine.
    fn running(&self) -> Vec<String> {
        self.running_on(Some(&self.e2.unix_host()))
    }

    /// `NAME SOURCE` of the project's running containers on the engine at `host` (`None`:
    /// this machine's).
    fn running_on(&self, host: Option<&str>) -> Vec<String> {
        running_on(host, &self.name)
    }

    /// The copy's listing as the engine sees it, symlink mtimes left out.
    fn copy_listing(&self) -> String {
        let target = self.target().display().to_string();
        without_link_times(&listing(Some(&self.e2.unix_host()), &target))
    }

    /// The copy on the engine's host is the Postgres-like tree, equal to the volume's listing
    /// `before`, and the service runs on it.
    fn assert_moved(&self, before: &str) {
        let target = self.target();
        assert_postgres_like_tree(&target);
        assert_eq!(
            self.copy_listing(),
            without_link_times(before),
            "the copy equals the volume"
        );
        let running = self.running();
        assert_eq!(running.len(), 1, "{running:?}");
        assert!(
            running[0].ends_with(&target.display().to_string()),
            "{running:?}"
        );
    }

    fn exec(&self, script: &str) {
        let container = format!("{}-db-1", self.name);
        let status = Command::new("docker")
            .args([
                "-H",
                &self.e2.unix_host(),
                "exec",
                &container,
                "sh",
                "-c",
                script,
            ])
            .status()
            .expect("docker exec");
        assert!(status.success(), "docker exec {script}");
    }
}

impl Drop for OnOtherMachine {
    fn drop(&mut self) {
        self.compose(&["down", "-v", "--timeout", "1"]);
        crate::leftovers::remove_project(None, &self.name);
        crate::leftovers::remove_project(Some(&self.e2.unix_host()), &self.name);
        let filter = format!("label=com.docker.compose.project={}", self.name);
        if let Ok(out) = Command::new("docker")
            .args(["ps", "-aq", "--filter", &filter])
            .output()
        {
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("docker").args(["rm", "-f", id]).output();
            }
        }
        // the copies belong to root (the helpers wrote them)
        let _ = std::fs::remove_dir_all(self.base.path().join("fast"));
        let _ = std::fs::remove_dir_all(self.base.path().join("bfast"));
    }
}

/// A [`listing`] with the mtimes of symlinks left out: the copy helper's busybox `cp -a` does
/// not set them (nor does the verify compare them).
fn without_link_times(listing: &str) -> String {
    listing
        .lines()
        .map(|line| match line.strip_prefix("a1ff ") {
            Some(rest) => {
                let fields: Vec<&str> = rest.split(' ').collect();
                let mut kept = fields.clone();
                if kept.len() > 3 {
                    kept.remove(3);
                }
                format!("a1ff {}", kept.join(" "))
            }
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn compose_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("compose.yaml")).expect("compose.yaml")
}

#[test]
fn issue15_migrate_on_a_remote_engine_moves_the_volume_into_its_hosts_tier_and_rolls_back() {
    let Some(m) = OnOtherMachine::up("tierctlitrm1") else {
        return;
    };
    let before = listing(Some(&m.e2.unix_host()), &m.volume());
    let original = compose_text(m.project.path());

    let (code, stdout, stderr) = m.tierctl("migrate --yes");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "created on the engine's host (context `{}`)",
            m.context
        )),
        "{stderr}"
    );
    assert!(stdout.contains("services were down"), "{stdout}");
    // the copy is on the engine's host, complete, in the context's tier
    let target = m.target();
    m.assert_moved(&before);
    let rewritten = compose_text(m.project.path());
    assert!(
        rewritten.contains(&format!("{}:/data", target.display())),
        "{rewritten}"
    );
    assert!(
        rewritten.contains("# the database"),
        "comments kept: {rewritten}"
    );
    assert!(
        !m.project.path().join("local-fast").exists(),
        "this machine's tier map was not used"
    );

    // the service writes on the tier; the rollback brings that back into the volume
    m.exec("echo newer > /data/after && rm /data/sub/a");
    let (code, stdout, stderr) = m.tierctl("migrate --rollback --yes");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("copied `"), "{stdout}");
    assert_eq!(compose_text(m.project.path()), original);
    let running = m.running();
    assert_eq!(running, vec![format!("/{}-db-1 {}", m.name, m.volume())]);
    let back = listing(Some(&m.e2.unix_host()), &m.volume());
    assert!(back.contains("./after"), "{back}");
    assert!(!back.contains("./sub/a"), "{back}");
    assert_eq!(
        m.copy_listing(),
        without_link_times(&back),
        "the volume holds what the service wrote on the tier"
    );

    // the copy is still the verified copy of what came back: it goes, with the directory
    // the create step made above it
    let (code, stdout, stderr) = m.tierctl("migrate --rollback --discard-copy --yes");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(!target.exists(), "{stdout}\n{stderr}");
    assert!(
        !m.base.path().join(format!("fast/{}", m.name)).exists(),
        "{stdout}\n{stderr}"
    );
    assert!(m.base.path().join("fast").is_dir(), "the tier root stays");
    assert_eq!(
        std::fs::metadata(m.base.path().join("fast"))
            .expect("root")
            .uid(),
        0
    );
}

#[test]
fn issue15_migrate_on_a_remote_engine_refuses_a_full_target_before_stopping() {
    let Some(m) = OnOtherMachine::up("tierctlitrm2") else {
        return;
    };
    let target = m.target();
    std::fs::create_dir_all(&target).expect("target");
    std::fs::write(target.join("someone-elses"), b"data").expect("file");
    let (code, stdout, stderr) = m.tierctl("migrate --yes");
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("target `{}` is not empty", target.display())),
        "{stderr}"
    );
    // nothing stopped, nothing journaled
    assert_eq!(m.running().len(), 1);
    let journals = std::fs::read_dir(m.project.path().join(".tierctl"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("journal-"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(journals, 0);
    assert_eq!(
        std::fs::read(target.join("someone-elses")).expect("kept"),
        b"data"
    );
}

#[test]
fn issue15_migrate_to_context_from_a_remote_engine_moves_the_project_to_this_machines_engine() {
    let Some(m) = OnOtherMachine::up("tierctlitrm3") else {
        return;
    };
    let before = listing(Some(&m.e2.unix_host()), &m.volume());
    let here = m.here();
    let (code, stdout, stderr) = m.tierctl(&format!("migrate --to-context {here} --yes"));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("started on `{here}`: db")),
        "{stdout}"
    );
    // the tree arrived in the tier of this machine's engine; the project runs there only
    let target = m.base.path().join(format!("bfast/{}/dbdata", m.name));
    assert_postgres_like_tree(&target);
    let running = m.running_here();
    assert_eq!(running.len(), 1, "{running:?}");
    assert!(
        running[0].contains(&target.display().to_string()),
        "{running:?}"
    );
    assert!(m.running().is_empty(), "stopped on the other machine");
    let for_b = m.project.path().join(format!("compose.{here}.yaml"));
    assert!(
        std::fs::read_to_string(&for_b)
            .expect("compose file for this engine")
            .contains(&format!("{}:/data", target.display()))
    );

    // back on the other machine, with its volume as it was (its data was only read)
    let (code, stdout, stderr) = m.tierctl("migrate --rollback --yes");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(m.running_here().is_empty(), "{stdout}");
    assert_eq!(m.running().len(), 1, "{stdout}");
    assert_eq!(listing(Some(&m.e2.unix_host()), &m.volume()), before);
}

#[test]
fn issue15_migrate_on_a_remote_engine_over_ssh_moves_the_volume_into_its_hosts_tier() {
    let Some(m) = OnOtherMachine::up_over("tierctlitrm4", true) else {
        return;
    };
    let before = listing(Some(&m.e2.unix_host()), &m.volume());
    let (code, stdout, stderr) = m.tierctl("migrate --yes");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    m.assert_moved(&before);
}
