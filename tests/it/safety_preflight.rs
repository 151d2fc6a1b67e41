//! Issue 11 items 5 and 6 against a real engine and compose CLI: preflight refuses before
//! anything stops (rows D9, a read-only tier, a tier too small), the project lock refuses a
//! second run (D5, and from another directory), the running services are journaled before the
//! stop (D6), and an interrupt removes the helper, journals, names the next command and exits
//! 130 (D10). Every row checks that no byte of user data is lost (tree manifests before and
//! after, read by migrate's own host reader) and that the compose file is the old or the new
//! text exactly. Project names end with the pid: other sessions share the engine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use tierctl::migrate::tree;
use tierctl::migrate::tree::manifest::{self, Digest, Manifest, Rules};

use super::compose_runner::Family;
use super::engine::{helper_image, required};
use super::migrate_engine::{COMPOSE, stdout};
use super::stack::Stack;

const SEED: &str = "set -e; cd /data; mkdir -p pg/base; echo one > pg/base/1; \
ln pg/base/1 pg/base/1.link; ln -s base/1 pg/current; head -c 200000 /dev/urandom > blob; \
chown -R 999:999 pg; chmod 700 pg";

/// A project `tierctlpf<tag><pid>` running `db` on the volume seeded by `seed`.
fn stack(tag: &str, seed: &str) -> Option<Stack> {
    let name = format!("tierctlpf{tag}{}", std::process::id());
    Stack::up(Family::V2, name, COMPOSE, seed)
}

impl Stack {
    /// `tierctl ARGS` in the background, in the project's directory.
    fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
            .args(args)
            .current_dir(self.ws.path("app"))
            .env("COMPOSE_PROJECT_NAME", &self.name)
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tierctl")
    }

    /// The volume's tree as migrate's host reader sees it.
    fn volume_tree(&self) -> Manifest {
        host_tree(&self.volume_mountpoint())
    }

    fn db_running(&self) -> bool {
        let out = Command::new("docker")
            .args(["ps", "-q", "--filter"])
            .arg(format!("label=com.docker.compose.project={}", self.name))
            .output()
            .expect("docker ps");
        !out.stdout.is_empty()
    }

    fn journals(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.ws.path("app/.tierctl"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().contains("journal-"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Nothing changed: no journal, the service runs, no target directory, the compose file
    /// and the volume's tree as they were.
    fn assert_untouched(&self, compose: &str, tree: &Manifest) {
        assert!(self.journals().is_empty(), "{:?}", self.journals());
        assert!(self.db_running(), "the service was stopped");
        assert!(!self.ws.path(&format!("fast/{}", self.name)).exists());
        assert_eq!(self.compose_text(), compose);
        assert_same(tree, &self.volume_tree());
    }
}

fn host_tree(root: &Path) -> Manifest {
    tree::read(root, Digest::Blake3, &AtomicU64::new(0)).expect("host manifest")
}

fn assert_same(before: &Manifest, after: &Manifest) {
    let differences = manifest::compare(before, after, Rules::default());
    assert!(differences.is_empty(), "data changed: {differences:?}");
    assert!(!before.is_empty());
}

/// Wait until `done` holds (polling), at most a minute; false when the child ended first.
fn wait_for(child: &mut Child, done: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if done() {
            return true;
        }
        if child.try_wait().expect("try_wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn journal_id(stack: &Stack) -> Option<String> {
    let path = stack.journals().into_iter().next()?;
    let name = path.file_stem()?.to_str()?;
    name.strip_prefix("journal-").map(ToOwned::to_owned)
}

fn journal_text(stack: &Stack) -> String {
    stack
        .journals()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

#[test]
fn d9_a_missing_helper_image_is_refused_before_the_stop() {
    let Some(s) = stack("img", SEED) else {
        return;
    };
    let (compose, tree) = (s.compose_text(), s.volume_tree());
    let out = s
        .tierctl()
        .env("TIERCTL_HELPER_IMAGE", "tierctl-no-such-image:missing")
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("helper image `tierctl-no-such-image:missing` not found"),
        "{text}"
    );
    assert!(
        text.contains("docker pull tierctl-no-such-image:missing"),
        "{text}"
    );
    assert!(!text.contains("[1/"), "{text}");
    s.assert_untouched(&compose, &tree);
}

#[test]
fn d9_no_compose_cli_is_refused_before_the_stop() {
    let Some(s) = stack("cli", SEED) else {
        return;
    };
    let (compose, tree) = (s.compose_text(), s.volume_tree());
    let empty = tempfile::tempdir().expect("empty PATH dir");
    let out = s
        .tierctl()
        .env("PATH", empty.path())
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("preflight refused the migration before anything was stopped"),
        "{text}"
    );
    assert!(
        text.contains(
            "no compose CLI found (`docker compose` or `docker-compose`) to start db again"
        ),
        "{text}"
    );
    s.assert_untouched(&compose, &tree);
}

/// Whether this process may mount on the host (root in the engine's mount namespace: the
/// engine must see the mount too, for the bind probe of the tier root).
fn can_mount() -> bool {
    nix::unistd::geteuid().is_root()
}

fn umount(path: &Path) {
    let _ = Command::new("umount").arg(path).status();
}

#[test]
fn d9_a_tier_too_small_is_refused_before_the_stop() {
    if !can_mount() {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but not root: cannot mount a tmpfs"
        );
        skipped!("a tier too small needs root to mount a small tmpfs");
        return;
    }
    let seed = "set -e; cd /data; head -c 3000000 /dev/urandom > big; echo small > small";
    let Some(s) = stack("small", seed) else {
        return;
    };
    let fast = s.ws.path("fast");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tierctl-small"])
        .arg(&fast)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        assert!(!required(), "cannot mount a tmpfs");
        skipped!("cannot mount a tmpfs here");
        return;
    }
    let (compose, tree) = (s.compose_text(), s.volume_tree());
    let out = s
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    let left = std::fs::read_dir(&fast).expect("tier root").count();
    umount(&fast);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("bytes free, the copies need 3"), "{text}");
    assert!(text.contains("choose a bigger tier"), "{text}");
    assert!(!text.contains("[1/"), "{text}");
    assert_eq!(left, 0, "the tier root was written");
    s.assert_untouched(&compose, &tree);
}

#[test]
fn a_read_only_tier_is_refused_before_the_stop() {
    if !can_mount() {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but not root: cannot bind-mount"
        );
        skipped!("a read-only tier root needs root to bind-mount");
        return;
    }
    let Some(s) = stack("ro", SEED) else {
        return;
    };
    let fast = s.ws.path("fast");
    let ro = Command::new("mount")
        .args(["--bind", "-o", "ro"])
        .arg(&fast)
        .arg(&fast)
        .status()
        .is_ok_and(|st| st.success())
        && Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&fast)
            .status()
            .is_ok_and(|st| st.success());
    if !ro {
        assert!(!required(), "cannot bind-mount read-only");
        skipped!("cannot bind-mount read-only here");
        return;
    }
    let (compose, tree) = (s.compose_text(), s.volume_tree());
    let out = s
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    umount(&fast);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("`{}` is not writable", fast.display())),
        "{text}"
    );
    assert!(text.contains("Read-only file system"), "{text}");
    s.assert_untouched(&compose, &tree);
}

#[test]
fn d5_a_second_migrate_here_or_from_another_directory_is_refused_naming_the_holder() {
    let Some(s) = stack("lock", SEED) else {
        return;
    };
    let (compose, tree) = (s.compose_text(), s.volume_tree());
    let mut first = s.spawn(
        &["migrate", "--yes"],
        &[
            ("TIERCTL_TEST_MIGRATE_PAUSE", "stop"),
            ("TIERCTL_TEST_MIGRATE_PAUSE_MS", "6000"),
        ],
    );
    assert!(
        wait_for(&mut first, || !s.journals().is_empty()),
        "the first run never journaled"
    );
    let pid = format!("locked by pid {}", first.id());
    let second = s
        .tierctl()
        .args(["migrate", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&second);
    assert_eq!(second.status.code(), Some(2), "{text}");
    assert!(text.contains(&pid), "{text}");
    // the same project from another directory, through `-f`
    let elsewhere =
        s.ws.tierctl("")
            .env("COMPOSE_PROJECT_NAME", &s.name)
            .env("TIERCTL_HELPER_IMAGE", helper_image())
            .args(["-f", "app/compose.yaml", "--tiers", "app/tiers.yaml"])
            .args(["migrate", "--yes"])
            .output()
            .expect("run");
    let text = stdout(&elsewhere);
    assert_eq!(elsewhere.status.code(), Some(2), "{text}");
    assert!(text.contains(&pid), "{text}");
    let out = first.wait_with_output().expect("first run");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(s.journals().len(), 1, "one journal");
    assert_ne!(s.compose_text(), compose);
    assert!(s.compose_text().contains(&s.target().display().to_string()));
    assert_same(&tree, &host_tree(&s.target()));
    assert_same(&tree, &s.volume_tree());
}

#[test]
fn d6_killed_during_the_stop_step_resume_restarts_the_service_that_was_running() {
    let Some(s) = stack("stop", SEED) else {
        return;
    };
    let (compose, tree) = (s.compose_text(), s.volume_tree());
    // the stop ran (the service is down) but its end is not journaled: then kill -9
    let mut child = s.spawn(
        &["migrate", "--yes"],
        &[
            ("TIERCTL_TEST_MIGRATE_PAUSE", "stop:after"),
            ("TIERCTL_TEST_MIGRATE_PAUSE_MS", "60000"),
        ],
    );
    let stopped = wait_for(&mut child, || {
        !s.db_running() && journal_text(&s).contains(r#""event":"running""#)
    });
    child.kill().expect("kill -9 tierctl");
    child.wait().expect("reaped");
    assert!(stopped, "the stop step never ran");
    let journal = journal_text(&s);
    assert!(
        journal.contains(r#"{"event":"running","services":["db"]}"#),
        "{journal}"
    );
    assert!(!journal.contains(r#""step":"stop","detail""#), "{journal}");
    assert_eq!(s.compose_text(), compose);
    let resumed = s
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let text = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(text.contains("stopped: db"), "{text}");
    assert!(text.contains("started: db"), "{text}");
    assert!(s.db_running(), "the service stayed down");
    assert!(s.compose_text().contains(&s.target().display().to_string()));
    assert_same(&tree, &host_tree(&s.target()));
    assert_same(&tree, &s.volume_tree());
}

/// A seed big enough that the copy helper runs for a moment.
const BIG_SEED: &str = "set -e; cd /data; for d in 1 2 3 4 5 6; do mkdir -p d$d; \
head -c 60000000 /dev/zero > d$d/blob; echo $d > d$d/f; done; chown -R 999:999 /data";

#[test]
fn d10_sigint_during_the_copy_removes_the_helper_journals_and_names_the_next_command() {
    let Some(s) = stack("int", BIG_SEED) else {
        return;
    };
    let (compose, tree) = (s.compose_text(), s.volume_tree());
    // --stop-first: the copy runs while the services are down, the case D10 is about
    let mut child = s.spawn(&["-p", &s.name, "migrate", "--yes", "--stop-first"], &[]);
    // the copy step under way (on the host when it sees both trees, else in this run's copy
    // helper; other sessions' helpers share the engine)
    let copying = wait_for(&mut child, || {
        let journal = journal_text(&s);
        journal.contains(r#"{"event":"start","step":"copy:0"}"#)
            && !journal.contains(r#"{"event":"done","step":"copy:0""#)
            && std::fs::read_dir(s.target()).is_ok_and(|mut e| e.next().is_some())
    });
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success(), "SIGINT not sent");
    let out = child.wait_with_output().expect("interrupted run");
    assert!(copying, "tierctl was not caught during the copy");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(130), "{text}");
    assert!(
        text.contains("interrupted during step `copy:0`: any helper container it ran was removed"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "next: `tierctl -p {0} migrate --resume` to finish, or `tierctl -p {0} migrate --rollback` to undo",
            s.name
        )),
        "{text}"
    );
    assert!(
        text.contains("(started again by the next command): db"),
        "{text}"
    );
    let journal = journal_text(&s);
    assert!(
        journal.contains(r#"{"event":"interrupted","step":"copy:0"}"#),
        "{journal}"
    );
    assert!(
        journal.contains(r#"{"event":"running","services":["db"]}"#),
        "{journal}"
    );
    let id = journal_id(&s).expect("journal id");
    let helpers = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=io.tierctl.journal={id}"))
        .output()
        .expect("docker ps");
    assert!(helpers.stdout.is_empty(), "a helper container was left");
    assert_eq!(s.compose_text(), compose);
    assert_same(&tree, &s.volume_tree());
    let resumed = s
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let text = stdout(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(text.contains("verify:0         ok: 19 entries"), "{text}");
    assert!(s.db_running());
    assert_same(&tree, &host_tree(&s.target()));
}
