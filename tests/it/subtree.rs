//! Issue 25 item 1, against the real engine: subtree placement of an Immich-layout tree
//! (`UPLOAD_LOCATION` bound at `/data` with its sub-folders `library`, `upload`, `thumbs`,
//! `encoded-video`, `profile`, `backups`; busybox stands in for the server image). `rewrite`
//! adds the nested binds of `thumbs` and `encoded-video` where the data is, `migrate` moves them
//! to the fast tier with the pre-copy, the stop for the delta and the verify, `verify` checks
//! each nested bind from inside the container. And how the engine orders nested binds.

use std::process::Command;

use super::compose_runner::Family;
use super::engine::{engine, helper_image};
use super::migrate_engine::{project_tierctl, run_compose, stdout, unique};
use super::workspace::Workspace;

const COMPOSE: &str = r#"name: {name}
services:
  immich-server:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      # Do not edit the next line: UPLOAD_LOCATION in .env says where the media are
      - ${UPLOAD_LOCATION}:/data
    env_file:
      - .env
"#;

const TIERS: &str = r#"tiers:
  fast: { root: "{root}/fast" }
  warm: { root: "{root}/warm" }
placement:
  - match: { service: immich-server, target: /data }
    tier: warm
    path: photos/{project}
    subtrees:
      thumbs: fast
      encoded-video: fast
  - tier: warm
    path: "{project}/{volume}"
"#;

/// Immich's folders below `UPLOAD_LOCATION`, with a file or two each (user `admin`'s uuid).
const TREE: [(&str, &str); 8] = [
    ("library/admin/2024/IMG_0001.jpg", "original one"),
    ("library/admin/2024/IMG_0002.heic", "original two"),
    ("upload/u-1/partial.jpg", "upload in progress"),
    ("thumbs/u-1/ab/asset-1-thumbnail.webp", "small thumb"),
    ("thumbs/u-1/ab/asset-1-preview.jpeg", "large preview"),
    ("encoded-video/u-1/cd/asset-2.mp4", "transcoded video"),
    ("profile/u-1/face.jpg", "profile picture"),
    ("backups/immich-db-backup-1.sql.gz", "database dump"),
];

struct Split {
    ws: Workspace,
    name: String,
    cli: Vec<String>,
}

impl Drop for Split {
    /// The project's containers and network go also when an assertion failed.
    fn drop(&mut self) {
        self.compose(&["down"]);
        crate::leftovers::remove_project(None, &self.name);
    }
}

impl Split {
    fn up(name: &str) -> Option<Split> {
        engine()?;
        let cli = Family::V2.require()?;
        let name = unique(name);
        let upload = format!("warm/photos/{name}");
        let mut ws = Workspace::new()
            .file(
                "app/compose.yaml",
                &COMPOSE
                    .replace("{image}", &helper_image())
                    .replace("{name}", &name),
            )
            .file("app/tiers.yaml", TIERS)
            .file("app/.env", &format!("UPLOAD_LOCATION={{root}}/{upload}\n"))
            .dir("fast");
        for (path, text) in TREE {
            ws = ws.file(&format!("{upload}/{path}"), text);
        }
        let split = Split { ws, name, cli };
        assert!(split.compose(&["up", "-d"]), "compose up");
        Some(split)
    }

    fn compose(&self, args: &[&str]) -> bool {
        run_compose(&self.cli, &self.name, &self.ws, args)
    }

    fn tierctl(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = project_tierctl(&self.ws, &self.name)
            .args(args)
            .output()
            .expect("run tierctl");
        (out.status.code(), stdout(&out))
    }

    /// `cat` of `path` inside the running server.
    fn read(&self, path: &str) -> String {
        let out = Command::new("docker")
            .args(["exec", &self.container(), "cat", path])
            .output()
            .expect("docker exec");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn container(&self) -> String {
        let out = Command::new("docker")
            .args(["ps", "-q", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.name))
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `destination=source` of the server's mounts, sorted.
    fn mounts(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args([
                "inspect",
                "--format",
                "{{range .Mounts}}{{.Destination}}={{.Source}}\n{{end}}",
                &self.container(),
            ])
            .output()
            .expect("docker inspect");
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }
}

#[test]
fn issue25_an_immich_tree_is_split_by_rewrite_moved_by_migrate_and_verified() {
    let Some(p) = Split::up("tierctlitsub1") else {
        return;
    };
    let root = p.ws.root().display().to_string();
    let warm = format!("{root}/warm/photos/{}", p.name);
    let fast = format!("{root}/fast/photos/{}", p.name);
    let (code, text) = p.tierctl(&["audit"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("subtree-not-split"), "{text}");
    assert!(
        text.contains("/data/thumbs on the fast tier, /data/encoded-video on the fast tier"),
        "{text}"
    );
    // rewrite: the nested binds of the data where it is, after their parent, comments kept
    let (code, text) = p.tierctl(&["rewrite", "--write"]);
    assert_eq!(code, Some(0), "{text}");
    let compose = std::fs::read_to_string(p.ws.path("app/compose.yaml")).expect("compose");
    assert!(
        compose.contains(&format!(
            "      # Do not edit the next line: UPLOAD_LOCATION in .env says where the media are\n      - ${{UPLOAD_LOCATION}}:/data\n      - {warm}/thumbs:/data/thumbs\n      - {warm}/encoded-video:/data/encoded-video\n    env_file:"
        )),
        "{compose}"
    );
    assert!(p.compose(&["up", "-d"]), "compose up with the nested binds");
    assert_eq!(
        p.read("/data/thumbs/u-1/ab/asset-1-preview.jpeg"),
        "large preview"
    );
    // migrate: each nested bind moved to the fast tier by the one migrate engine
    let (code, text) = p.tierctl(&["migrate", "--yes"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("tierctl verify ok"), "{text}");
    let compose = std::fs::read_to_string(p.ws.path("app/compose.yaml")).expect("compose");
    assert!(
        compose.contains(&format!(
            "      - ${{UPLOAD_LOCATION}}:/data\n      - {fast}/thumbs:/data/thumbs\n      - {fast}/encoded-video:/data/encoded-video\n"
        )),
        "{compose}"
    );
    let mut expected = [
        format!("/data={warm}"),
        format!("/data/encoded-video={fast}/encoded-video"),
        format!("/data/thumbs={fast}/thumbs"),
    ];
    expected.sort();
    assert_eq!(p.mounts(), expected);
    for (path, content) in TREE {
        assert_eq!(p.read(&format!("/data/{path}")), content, "{path}");
        let tier = if path.starts_with("thumbs/") || path.starts_with("encoded-video/") {
            &fast
        } else {
            &warm
        };
        let on_disk = std::fs::read_to_string(format!("{tier}/{path}")).expect("on its tier");
        assert_eq!(on_disk, content, "{path} on {tier}");
    }
    // verify: each nested bind from inside the container
    let (code, text) = p.tierctl(&["verify"]);
    assert_eq!(code, Some(0), "{text}");
    for target in ["/data ", "/data/thumbs ", "/data/encoded-video "] {
        assert!(
            text.lines()
                .any(|l| l.contains(target) && l.contains(" ok")),
            "{target}: {text}"
        );
    }
    // the copies `migrate` kept below the nested binds' mount points are named (info)
    let (code, text) = p.tierctl(&["audit"]);
    assert_eq!(code, Some(0), "{text}");
    for sub in ["thumbs", "encoded-video"] {
        assert!(
            text.contains(&format!(
                "data-under-nested-bind  immich-server: {warm}/{sub} holds data the container does not see"
            )),
            "{text}"
        );
    }
}

/// dockerd mounts a container's binds sorted by the depth of their target, so a nested bind
/// written before its parent is not hidden by it (checked here, on the engine the tests use).
#[test]
fn issue25_the_engine_mounts_a_nested_bind_written_before_its_parent_over_it() {
    if engine().is_none() {
        return;
    }
    let ws = Workspace::new()
        .file("parent/thumbs/who", "parent")
        .file("child/who", "child");
    let out = Command::new("docker")
        .args(["run", "--rm", "-v"])
        .arg(format!("{}:/data/thumbs", ws.path("child").display()))
        .arg("-v")
        .arg(format!("{}:/data", ws.path("parent").display()))
        .args([&helper_image(), "cat", "/data/thumbs/who"])
        .output()
        .expect("docker run");
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "child");
}

/// Bind mounts made on the host for a test, unmounted newest first when dropped.
struct HostMounts(Vec<std::path::PathBuf>);

impl HostMounts {
    /// `mount ARGS... DIR`, remembered for the unmount; false when it failed.
    fn mount(&mut self, args: &[&str], dir: &std::path::Path) -> bool {
        let ok = Command::new("mount")
            .args(args)
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if ok && !args.contains(&"--make-shared") {
            self.0.push(dir.to_owned());
        }
        ok
    }
}

impl Drop for HostMounts {
    fn drop(&mut self) {
        for dir in self.0.iter().rev() {
            let _ = Command::new("umount").arg(dir).status();
        }
    }
}

/// A nested bind covered by a mount of its parent made after the container started (the
/// parent's bind receives host mounts: `propagation: rslave`) shows the parent's filesystem:
/// `tierctl verify` says `bind-hidden` for it.
#[test]
fn issue25_verify_names_a_nested_bind_covered_by_a_later_parent_mount() {
    let Some(cli) = engine().and_then(|_| Family::V2.require()) else {
        return;
    };
    let name = unique("tierctlitsub2");
    let ws = Workspace::new()
        .file(
            "app/compose.yaml",
            &format!(
                "name: {name}\nservices:\n  server:\n    image: {}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n    volumes:\n      - type: bind\n        source: {{root}}/warm/app\n        target: /data\n        bind: {{ propagation: rslave }}\n      - {{root}}/fast/app/thumbs:/data/thumbs\n",
                helper_image()
            ),
        )
        .file(
            "app/tiers.yaml",
            "tiers:\n  fast: { root: \"{root}/fast\" }\n  warm: { root: \"{root}/warm\" }\nplacement:\n  - match: { target: /data }\n    tier: warm\n    path: app\n    subtrees: { thumbs: fast }\n  - { tier: warm, path: \"{project}/{volume}\" }\n",
        )
        .file("warm/app/thumbs/old", "left behind")
        .file("fast/app/thumbs/t1.webp", "thumb")
        .file("cover/thumbs/other", "covering");
    let mut mounts = HostMounts(Vec::new());
    let parent = ws.path("warm/app");
    let shared = mounts.mount(&["--bind", &parent.display().to_string()], &parent)
        && mounts.mount(&["--make-shared"], &parent);
    if !shared {
        assert!(
            std::env::var("TIERCTL_REQUIRE_DOCKER").as_deref() != Ok("1"),
            "TIERCTL_REQUIRE_DOCKER=1 but a shared bind mount could not be made (root needed)"
        );
        skipped!("a shared bind mount on the host needs root");
        return;
    }
    let project = Project {
        cli,
        name: name.clone(),
        ws,
    };
    assert!(
        run_compose(&project.cli, &name, &project.ws, &["up", "-d"]),
        "compose up"
    );
    let verify = |project: &Project| {
        let out = project_tierctl(&project.ws, &project.name)
            .arg("verify")
            .output()
            .expect("run tierctl");
        (out.status.code(), stdout(&out))
    };
    let (code, text) = verify(&project);
    assert_eq!(code, Some(0), "{text}");
    // a mount over the parent's source after the start reaches the container at `/data`
    let cover = project.ws.path("cover");
    assert!(
        mounts.mount(&["--bind", &cover.display().to_string()], &parent),
        "bind the cover over the parent"
    );
    let (code, text) = verify(&project);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("a later mount of `/data` covers this bind"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("/data/thumbs") && l.contains("bind-hidden")),
        "{text}"
    );
    drop(project);
    drop(mounts);
}

/// A compose project taken down when dropped.
struct Project {
    cli: Vec<String>,
    name: String,
    ws: Workspace,
}

impl Drop for Project {
    fn drop(&mut self) {
        run_compose(&self.cli, &self.name, &self.ws, &["down"]);
        crate::leftovers::remove_project(None, &self.name);
    }
}
