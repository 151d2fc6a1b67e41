//! `tierctl migrate` on an Immich-like project built by the test: a Postgres-like volume (uid
//! 999 files, 0700 directories, symlinks, a hardlink, a FIFO, old mtimes), a model-cache volume
//! and a photos bind reached through a symlink onto the wrong tier. End to end, then kill -9 at
//! the rewrite (before it, and after it wrote but before it was journaled) and `--resume`, and
//! a container outside the plan using a volume.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::compose_runner::Family;
use super::engine::{engine, helper_image};
use super::migrate_engine::{container_names, project_tierctl, run_compose, stdout, unique};
use super::workspace::Workspace;

const COMPOSE: &str = r#"services:
  server:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - {root}/Photos:/photos
  database:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    stop_grace_period: 5s
    volumes:
      - pgdata:/var/lib/postgresql/data   # the database
  ml:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - model-cache:/cache
volumes:
  pgdata:
  model-cache:
"#;

const TIERS: &str = r#"tiers:
  fast: { root: "{root}/fast" }
  warm: { root: "{root}/warm" }
placement:
  - match: { target: ["/var/lib/postgresql/data"] }
    tier: fast
    path: databases/{project}/{volume}
  - match: { volume: ["*model*cache*"] }
    tier: fast
    path: ml_models/{project}
  - match: { target: ["/photos"] }
    tier: fast
    path: photos/{project}
  - tier: warm
    path: "{project}/{volume}"
"#;

const PG_SEED: &str = "set -e; cd /data; mkdir -p base/1 global pg_wal; echo hello > base/1/1234; \
head -c 300000 /dev/urandom > base/1/5678; ln base/1/1234 base/1/1234.hl; ln -s base/1/5678 current; \
ln -s ../../global base/1/up; mkfifo pg_wal/fifo; echo conf > postgresql.conf; chown -R 999:999 /data; \
chmod 0700 base base/1 global pg_wal; chmod 0600 base/1/1234 postgresql.conf; \
touch -t 200001010000 base/1/1234 base/1/5678 postgresql.conf; touch -t 200102030405 base/1 global pg_wal base";

const CACHE_SEED: &str = "set -e; mkdir -p /data/models/clip; head -c 1000000 /dev/urandom > /data/models/clip/model.onnx; \
echo v1 > /data/models/version";

/// A listing of a tree as seen in a helper container: type, size, owner, mode, mtime, link
/// count, symlink target and content hash of every entry.
const LISTING: &str = r#"cd /d && find . | sort | while read -r f; do
if [ -L "$f" ]; then echo "$f link $(readlink "$f") $(stat -c '%u:%g' "$f")";
elif [ -f "$f" ]; then echo "$f file $(stat -c '%s %u:%g %a %Y %h' "$f") $(md5sum < "$f" | cut -c1-32)";
else echo "$f $(stat -c '%F %u:%g %a %Y' "$f")"; fi; done"#;

struct Immich {
    ws: Workspace,
    name: String,
    cli: Vec<String>,
}

impl Immich {
    /// The project `name`, started by Compose v2.
    fn up(name: &str) -> Option<Immich> {
        Immich::up_with(Family::V2, name)
    }

    /// The project `name`, started by the compose CLI of `family`, its volumes seeded.
    fn up_with(family: Family, name: &str) -> Option<Immich> {
        engine()?;
        let cli = family.require()?;
        let ws = Workspace::new()
            .file(
                "app/compose.yaml",
                &COMPOSE.replace("{image}", &helper_image()),
            )
            .file("app/tiers.yaml", TIERS)
            .dir("fast")
            .file("warm/photos/2020/IMG_0001.jpg", "jpeg one")
            .file("warm/photos/2020/IMG_0002.jpg", "jpeg two")
            .symlink("warm/photos/latest", "2020/IMG_0002.jpg")
            .symlink("Photos", "{root}/warm/photos");
        for f in ["2020/IMG_0001.jpg", "2020/IMG_0002.jpg", "2020", ""] {
            let path = ws.path(&format!("warm/photos/{f}"));
            std::os::unix::fs::lchown(&path, Some(1000), Some(1000)).expect("chown");
            let touched = Command::new("touch")
                .args(["-d", "2019-05-06 07:08:09"])
                .arg(&path)
                .status()
                .expect("touch");
            assert!(touched.success());
        }
        let p = Immich {
            ws,
            name: unique(name),
            cli,
        };
        p.compose(&["down", "-v"]);
        assert!(p.compose(&["up", "-d"]), "compose up");
        for (volume, seed) in [("pgdata", PG_SEED), ("model-cache", CACHE_SEED)] {
            let status = Command::new("docker")
                .args(["run", "--rm", "-v"])
                .arg(format!("{}:/data", p.volume(volume)))
                .args([&helper_image(), "sh", "-c", seed])
                .status()
                .expect("docker run");
            assert!(status.success(), "seed {volume}");
        }
        Some(p)
    }

    fn volume(&self, key: &str) -> String {
        format!("{}_{key}", self.name)
    }

    fn compose(&self, args: &[&str]) -> bool {
        run_compose(&self.cli, &self.name, &self.ws, args)
    }

    fn tierctl(&self) -> assert_cmd::Command {
        project_tierctl(&self.ws, &self.name)
    }

    fn compose_text(&self) -> String {
        std::fs::read_to_string(self.ws.path("app/compose.yaml")).expect("compose file")
    }

    fn targets(&self) -> [(String, PathBuf); 3] {
        [
            (
                self.volume("pgdata"),
                self.ws
                    .path(&format!("fast/databases/{}/pgdata", self.name)),
            ),
            (
                self.volume("model-cache"),
                self.ws.path(&format!("fast/ml_models/{}", self.name)),
            ),
            (
                self.ws.path("warm/photos").display().to_string(),
                self.ws.path(&format!("fast/photos/{}", self.name)),
            ),
        ]
    }

    /// The compose file an uninterrupted migration writes.
    fn expected_compose(&self) -> String {
        let [(_, db), (_, cache), (_, photos)] = self.targets();
        let root = self.ws.root().display().to_string();
        let before = COMPOSE
            .replace("{image}", &helper_image())
            .replace("{root}", &root);
        let after = before
            .replace(
                &format!("- {root}/Photos:/photos"),
                &format!("- {}:/photos", photos.display()),
            )
            .replace(
                "- pgdata:/var/lib/postgresql/data",
                &format!("- {}:/var/lib/postgresql/data", db.display()),
            )
            .replace(
                "- model-cache:/cache",
                &format!("- {}:/cache", cache.display()),
            );
        after.replace("volumes:\n  pgdata:\n  model-cache:\n", "")
    }

    /// The listing of a volume or host directory.
    fn listing(source: &str) -> String {
        let out = Command::new("docker")
            .args(["run", "--rm", "-v"])
            .arg(format!("{source}:/d:ro"))
            .args([&helper_image(), "sh", "-c", LISTING])
            .output()
            .expect("docker run");
        assert!(out.status.success(), "{}", stdout(&out));
        // the root directory's mtime is left out: "verify mounts" writes and removes its marker
        // file there (as `tierctl verify` does), which touches it after the verified copy
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|line| match line.strip_prefix(". directory ") {
                Some(rest) => format!(
                    ". directory {}",
                    rest.rsplit_once(' ').map_or(rest, |(head, _)| head)
                ),
                None => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `destination=source` of each running service's mounts.
    fn mounts(&self, service: &str) -> String {
        let id = Command::new("docker")
            .args(["ps", "-q", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.name))
            .args(["--filter"])
            .arg(format!("label=com.docker.compose.service={service}"))
            .output()
            .expect("docker ps");
        let id = String::from_utf8_lossy(&id.stdout).trim().to_owned();
        assert!(!id.is_empty(), "service `{service}` is not running");
        let out = Command::new("docker")
            .args([
                "inspect",
                "--format",
                "{{range .Mounts}}{{.Destination}}={{if .Name}}{{.Name}}{{else}}{{.Source}}{{end}}{{end}}",
                &id,
            ])
            .output()
            .expect("docker inspect");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Everything an uninterrupted migration leaves: compose, copies equal to their sources
    /// (which are intact), services on the tier paths, `tierctl verify` ok.
    fn assert_migrated(&self, sources_before: &[String]) {
        assert_eq!(self.compose_text(), self.expected_compose());
        for ((source, target), before) in self.targets().iter().zip(sources_before) {
            let now = Self::listing(source);
            assert_eq!(&now, before, "source `{source}` changed");
            assert_eq!(
                Self::listing(&target.display().to_string()),
                now,
                "copy of `{source}`"
            );
        }
        let [(_, db), (_, cache), (_, photos)] = self.targets();
        assert_eq!(
            self.mounts("database"),
            format!("/var/lib/postgresql/data={}", db.display())
        );
        assert_eq!(self.mounts("ml"), format!("/cache={}", cache.display()));
        assert_eq!(
            self.mounts("server"),
            format!("/photos={}", photos.display())
        );
        let verify = self.tierctl().arg("verify").output().expect("run");
        assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    }

    fn sources(&self) -> Vec<String> {
        self.targets()
            .iter()
            .map(|(s, _)| Self::listing(s))
            .collect()
    }

    fn down(&self) {
        self.compose(&["down", "-v"]);
        crate::leftovers::remove_project(None, &self.name);
        for key in ["pgdata", "model-cache"] {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", &self.volume(key)])
                .output();
        }
    }

    /// Start `migrate --yes` paused at `at`, wait until `reached` says it got there, kill -9.
    fn kill_at(&self, at: &str, reached: impl Fn(&Immich) -> bool) {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
            .args(["migrate", "--yes"])
            .current_dir(self.ws.path("app"))
            .env("COMPOSE_PROJECT_NAME", &self.name)
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .env("TIERCTL_TEST_MIGRATE_PAUSE", at)
            .env("TIERCTL_TEST_MIGRATE_PAUSE_MS", "120000")
            .env("HOME", self.ws.path("home"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tierctl");
        let started = Instant::now();
        let mut seen = false;
        while started.elapsed() < Duration::from_secs(120) {
            if reached(self) {
                seen = true;
                break;
            }
            assert!(
                child.try_wait().expect("wait").is_none(),
                "tierctl ended before `{at}`"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // let the hook's pause begin
        std::thread::sleep(Duration::from_millis(300));
        child.kill().expect("kill -9 tierctl");
        child.wait().expect("reaped");
        assert!(seen, "tierctl never reached `{at}`");
    }

    fn journal_text(&self) -> String {
        let dir = self.ws.path("app/.tierctl");
        std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[test]
fn an_immich_like_project_migrates_with_identical_trees_services_on_the_tiers_and_verify_ok() {
    immich_end_to_end(Family::V2, "tierctlitimm1");
}

/// The same project created by Compose v1: started again by v1, its containers keep their names.
#[test]
fn an_immich_like_project_created_by_compose_v1_migrates_and_keeps_its_container_names() {
    immich_end_to_end(Family::V1, "tierctlitimm1v");
}

fn immich_end_to_end(family: Family, name: &str) {
    let Some(p) = Immich::up_with(family, name) else {
        return;
    };
    let names = container_names(&p.name);
    let sep = family.separator();
    assert!(
        names.contains(&format!("{}{sep}database{sep}1", p.name)),
        "{names:?}"
    );
    let sources = p.sources();
    assert!(
        sources[0].contains("./pg_wal/fifo fifo 999:999"),
        "{}",
        sources[0]
    );
    assert!(
        sources[0].contains("./base/1/1234 file 6 999:999 600 946684800 2"),
        "{}",
        sources[0]
    );
    assert!(
        sources[0].contains("./current link base/1/5678"),
        "{}",
        sources[0]
    );
    let out = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("verify:2         ok:"), "{text}");
    assert!(text.contains("tierctl verify ok"), "{text}");
    p.assert_migrated(&sources);
    // the old photos directory is kept, the symlink too
    assert!(p.ws.path("warm/photos/2020/IMG_0001.jpg").is_file());
    assert!(p.ws.path("Photos").is_symlink());
    assert_eq!(container_names(&p.name), names, "restarted by {family:?}");
    p.down();
}

#[test]
fn killed_after_the_copies_before_the_rewrite_then_resumed_equals_an_uninterrupted_run() {
    let Some(p) = Immich::up("tierctlitimm2") else {
        return;
    };
    let sources = p.sources();
    let before = p.compose_text();
    p.kill_at("rewrite", |p| {
        p.journal_text()
            .contains(r#"{"event":"start","step":"rewrite"}"#)
    });
    assert_eq!(p.compose_text(), before, "nothing rewritten yet");
    let resumed = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let text = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(text.contains("verify:2         already done"), "{text}");
    p.assert_migrated(&sources);
    p.down();
}

#[test]
fn killed_during_the_rewrite_after_the_files_were_written_then_resumed_equals_an_uninterrupted_run()
{
    let Some(p) = Immich::up("tierctlitimm3") else {
        return;
    };
    let sources = p.sources();
    let before = p.compose_text();
    p.kill_at("rewrite:after", |p| p.compose_text() != before);
    assert!(
        !p.journal_text()
            .contains(r#""event":"done","step":"rewrite""#),
        "the rewrite must not be journaled as done"
    );
    let resumed = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let text = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    p.assert_migrated(&sources);
    p.down();
}

#[test]
fn a_container_outside_the_plan_using_a_volume_is_refused_before_anything_changes() {
    let Some(p) = Immich::up("tierctlitimm4") else {
        return;
    };
    let other = format!("{}-outsider", p.name);
    let started = Command::new("docker")
        .args(["run", "-d", "--name", &other, "-v"])
        .arg(format!("{}:/x", p.volume("model-cache")))
        .args([&helper_image(), "sleep", "600"])
        .stdout(Stdio::null())
        .status()
        .expect("docker run");
    assert!(started.success());
    let before = p.compose_text();
    let out = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    let _ = Command::new("docker").args(["rm", "-f", &other]).output();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("outside the plan"), "{text}");
    assert!(text.contains(&other), "{text}");
    assert_eq!(p.compose_text(), before);
    assert!(
        tierctl::migrate::journal::latest(&p.ws.path("app/.tierctl")).is_none(),
        "no journal was started"
    );
    assert!(!p.ws.path(&format!("fast/databases/{}", p.name)).exists());
    p.down();
}

#[test]
fn an_empty_volume_is_seeded_from_the_image_content_a_fresh_volume_would_get() {
    if engine().is_none() {
        return;
    }
    let Some(cli) = Family::V2.require() else {
        return;
    };
    // an image with content at the mount path
    let image = "tierctl-it-seed:1";
    let mut build = Command::new("docker")
        .args(["build", "-q", "-t", image, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker build");
    {
        use std::io::Write;
        let dockerfile = format!(
            "FROM {}\nRUN mkdir -p /srv/conf/sub && echo hello > /srv/conf/greeting && echo x > /srv/conf/sub/x && chown -R 33:33 /srv/conf && chmod 0750 /srv/conf/sub\n",
            helper_image()
        );
        build
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(dockerfile.as_bytes())
            .expect("write Dockerfile");
    }
    assert!(
        build.wait().expect("docker build").success(),
        "docker build"
    );
    let name = &unique("tierctlitseed");
    let compose = "services:\n  web:\n    image: {image}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n    volumes:\n      - conf:/srv/conf\nvolumes:\n  conf:\n";
    let ws = Workspace::new()
        .file("app/compose.yaml", &compose.replace("{image}", image))
        .file(
            "app/tiers.yaml",
            "tiers:\n  fast: { root: \"{root}/fast\" }\nplacement:\n  - tier: fast\n    path: \"{project}/{volume}\"\n",
        )
        .dir("fast");
    let p = Immich {
        ws,
        name: name.clone(),
        cli,
    };
    p.compose(&["down", "-v"]);
    assert!(p.compose(&["up", "-d"]), "compose up");
    // compose filled the new volume from the image: empty it again
    let emptied = Command::new("docker")
        .args(["run", "--rm", "-v"])
        .arg(format!("{}:/d", p.volume("conf")))
        .args([
            &helper_image(),
            "sh",
            "-c",
            "find /d -mindepth 1 -maxdepth 1 -exec rm -rf {} +",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("docker run");
    assert!(emptied.success());
    let out = p
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("seeded from the image"), "{text}");
    assert!(text.contains("verify:0         ok:"), "{text}");
    let target = p.ws.path(&format!("fast/{name}/conf"));
    assert_eq!(
        std::fs::read_to_string(target.join("greeting")).expect("seeded file"),
        "hello\n"
    );
    use std::os::unix::fs::MetadataExt;
    let sub = std::fs::metadata(target.join("sub")).expect("seeded dir");
    assert_eq!((sub.uid(), sub.mode() & 0o7777), (33, 0o750));
    // the source stays empty, the temporary volume is gone
    assert_eq!(
        Immich::listing(&p.volume("conf")).lines().count(),
        1,
        "the source was written"
    );
    let seeds = Command::new("docker")
        .args(["volume", "ls", "-q", "--filter", "name=tierctl-seed-"])
        .output()
        .expect("docker volume ls");
    assert!(
        !String::from_utf8_lossy(&seeds.stdout).contains("tierctl-seed-"),
        "{}",
        String::from_utf8_lossy(&seeds.stdout)
    );
    p.compose(&["down"]);
    let _ = Command::new("docker")
        .args(["volume", "rm", "-f", &p.volume("conf")])
        .output();
}
