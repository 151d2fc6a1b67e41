//! Issue 21 item 6, the tier unmounted mid-move (real engine, a copy on the host). The tier is
//! a disk of its own (`mount: true`, its marker written by `tiers init`), here a bind mount of a
//! directory standing for the disk: unmounting it leaves its data on the "disk", as unplugging
//! a USB drive does, and mounting it again brings the data back. A tier that went away must
//! never receive a copy on the system disk below its mount point (a later mount would hide what
//! the services wrote there), and every byte is kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::compose_runner::Family;
use super::copy_engine::SEED;
use super::fake::stack::{Entry, snapshot};
use super::migrate_engine::{COMPOSE, stdout, unique};
use super::stack::Stack;

const TIERS: &str = r#"tiers:
  fast: { root: "{root}/fast", mount: true }
placement:
  - tier: fast
    path: "{project}/{volume}"
"#;

/// The tier's disk: `disk/` bind-mounted at `fast/`, unmounted (lazily) when dropped.
struct Disk {
    disk: PathBuf,
    at: PathBuf,
}

impl Disk {
    fn plug(p: &Stack) -> Option<Disk> {
        Disk::plug_from(p, p.ws.path("disk"))
    }

    /// The disk's directory at `disk` (another filesystem than the workspace's gives the tier
    /// another device number, as a real disk has).
    fn plug_from(p: &Stack, disk: PathBuf) -> Option<Disk> {
        let d = Disk {
            disk,
            at: p.ws.path("fast"),
        };
        std::fs::create_dir_all(&d.disk).expect("disk dir");
        if !d.mount() {
            skipped!("cannot bind-mount here (not root?): the tier unmount is untested");
            return None;
        }
        Some(d)
    }

    fn mount(&self) -> bool {
        Command::new("mount")
            .arg("--bind")
            .args([&self.disk, &self.at])
            .status()
            .is_ok_and(|s| s.success())
    }

    fn unplug(&self) {
        let ok = Command::new("umount")
            .arg("-l")
            .arg(&self.at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "umount {}", self.at.display());
    }

    fn mounted(&self) -> bool {
        Command::new("mountpoint")
            .arg("-q")
            .arg(&self.at)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        while self.mounted() {
            let _ = Command::new("umount").arg("-l").arg(&self.at).status();
        }
        if self.disk.starts_with("/dev/shm") {
            let _ = std::fs::remove_dir_all(&self.disk);
        }
    }
}

/// `migrate ARGS` paused at `step` (`TIERCTL_TEST_MIGRATE_PAUSE`): the tier unplugged there,
/// then the run goes on; its exit code and output.
fn unplugged_at(p: &Stack, disk: &Disk, args: &[&str], step: &str) -> (Option<i32>, String) {
    let log = p.ws.path("migrate.log");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
        .arg("migrate")
        .args(args)
        .current_dir(p.ws.path("app"))
        .env("COMPOSE_PROJECT_NAME", &p.name)
        .env("TIERCTL_HELPER_IMAGE", super::engine::helper_image())
        .env("TIERCTL_TEST_MIGRATE_PAUSE", step)
        .env("TIERCTL_TEST_MIGRATE_PAUSE_MS", "3000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn tierctl");
    let began = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("(test hook: paused") {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(120) && !text.contains("error:"),
            "tierctl never paused at `{step}`: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    disk.unplug();
    let status = child.wait().expect("tierctl ends");
    (
        status.code(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

fn data(p: &Stack) -> BTreeMap<String, Entry> {
    snapshot(&p.volume_mountpoint())
}

/// Nothing of the project below the bare mount point (on the system disk).
fn assert_nothing_below(disk: &Disk, p: &Stack) {
    assert!(!disk.mounted());
    let below = disk.at.join(&p.name);
    let stray: Vec<_> = walk(&below);
    assert!(
        stray.is_empty(),
        "written below the unplugged tier: {stray:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            let mut below = walk(&path);
            below.push(path);
            below
        })
        .collect()
}

fn tierctl_ok(p: &Stack, args: &[&str]) -> String {
    let out = p.tierctl().args(args).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stdout(&out));
    stdout(&out)
}

/// Plugged in, `tiers init` writes the marker on the disk; the move's project up and seeded.
fn setup(prefix: &str) -> Option<(Stack, Disk, BTreeMap<String, Entry>)> {
    let p = Stack::up(Family::V2, unique(prefix), COMPOSE, SEED)?;
    std::fs::write(
        p.ws.path("app/tiers.yaml"),
        TIERS.replace("{root}", &p.ws.root().display().to_string()),
    )
    .expect("tiers.yaml");
    let disk = Disk::plug(&p)?;
    tierctl_ok(&p, &["tiers", "init"]);
    let source = data(&p);
    Some((p, disk, source))
}

#[test]
fn issue21_the_tier_unplugged_before_the_copy_gets_nothing_on_the_system_disk_and_resume_finishes_once_it_is_back()
 {
    let Some((p, disk, source)) = setup("tierctlit21u1") else {
        return;
    };
    let (code, log) = unplugged_at(&p, &disk, &["--yes", "--stop-first"], "copy:0");
    assert_eq!(code, Some(2), "{log}");
    assert!(log.contains("tier-not-mounted"), "{log}");
    assert_nothing_below(&disk, &p);
    assert_eq!(p.compose_text(), p.old, "{log}");
    assert_eq!(data(&p), source, "the source volume");
    // still unplugged: --resume refuses too, and writes nothing below the mount point
    let refused = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert_nothing_below(&disk, &p);
    // plugged in again: --resume finishes the move onto the disk
    assert!(disk.mount());
    tierctl_ok(&p, &["migrate", "--resume"]);
    assert_eq!(p.db_mount(), p.target().display().to_string());
    assert_eq!(snapshot(&disk.disk.join(&p.name).join("dbdata")), source);
    assert_eq!(data(&p), source, "the source volume");
    p.down();
}

#[test]
fn issue21_the_tier_unplugged_after_the_copy_fails_the_verify_and_rollback_restores_every_byte() {
    let Some((p, disk, source)) = setup("tierctlit21u2") else {
        return;
    };
    let (code, log) = unplugged_at(&p, &disk, &["--yes", "--stop-first"], "verify:0");
    assert_eq!(code, Some(2), "{log}");
    assert_nothing_below(&disk, &p);
    assert_eq!(p.compose_text(), p.old, "{log}");
    // still unplugged: --resume refuses and copies nothing onto the system disk
    let refused = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert_nothing_below(&disk, &p);
    // the rollback needs no tier: the services back on their volume, every byte there
    tierctl_ok(&p, &["migrate", "--rollback", "--yes"]);
    assert_eq!(p.compose_text(), p.old);
    assert_eq!(p.db_mount(), p.volume());
    assert_eq!(data(&p), source, "the source volume");
    p.down();
}

#[test]
fn issue21_a_rollback_with_the_tier_unplugged_is_refused_before_anything_stops_and_works_once_it_is_back()
 {
    let Some((p, disk, source)) = setup("tierctlit21u3") else {
        return;
    };
    tierctl_ok(&p, &["migrate", "--yes", "--stop-first"]);
    // the services wrote on the tier since
    let on_tier = disk.disk.join(&p.name).join("dbdata");
    std::fs::write(on_tier.join("newer.txt"), "written on the tier").expect("write");
    disk.unplug();
    let refused = p
        .tierctl()
        .args(["migrate", "--rollback", "--yes"])
        .output()
        .expect("run");
    let said = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(said.contains("tier-not-mounted"), "{said}");
    assert_nothing_below(&disk, &p);
    assert_eq!(data(&p), source, "the source volume");
    // nor is the source removed while its copy cannot be seen
    let pruned = p
        .tierctl()
        .args(["migrate", "--prune-source", "--yes"])
        .output()
        .expect("run");
    assert_eq!(pruned.status.code(), Some(2), "{}", stdout(&pruned));
    assert_eq!(data(&p), source, "the source volume");
    assert!(p.compose_text().contains(&p.target().display().to_string()));
    // back: the rollback copies what the services wrote there into the volume
    assert!(disk.mount());
    tierctl_ok(&p, &["migrate", "--rollback", "--yes"]);
    assert_eq!(p.compose_text(), p.old);
    let back = p.volume_mountpoint().join("newer.txt");
    assert_eq!(
        std::fs::read_to_string(back).expect("copied back"),
        "written on the tier"
    );
    p.down();
}

/// The power-cut soak's finding: the machine lost power after the move started its services on
/// the tier, and at boot dockerd restarted them (`restart:` policy) before the tier's disk was
/// mounted, so they bound the empty directory below the mount point. `--resume` must not pass
/// that off as done: it refuses at verify mounts naming the cause and the fix (`stale-bind`,
/// recreate the services once the disk is there), and after the fix it finishes with every byte
/// on the disk.
#[test]
fn issue21_a_service_restarted_at_boot_before_its_disk_is_named_and_resume_finishes_after_a_recreate()
 {
    let Some(p) = Stack::up(Family::V2, unique("tierctlit21u4"), COMPOSE, SEED) else {
        return;
    };
    std::fs::write(
        p.ws.path("app/tiers.yaml"),
        TIERS.replace("{root}", &p.ws.root().display().to_string()),
    )
    .expect("tiers.yaml");
    // the "disk" on /dev/shm: another device than the workspace's, as a real disk has
    let Some(disk) = Disk::plug_from(&p, PathBuf::from(format!("/dev/shm/{}", p.name))) else {
        return;
    };
    tierctl_ok(&p, &["tiers", "init"]);
    let source = data(&p);
    // the move started the services on the tier; the power went before verify mounts
    let log = p.ws.path("migrate.log");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
        .args(["migrate", "--yes", "--stop-first"])
        .current_dir(p.ws.path("app"))
        .env("COMPOSE_PROJECT_NAME", &p.name)
        .env("TIERCTL_HELPER_IMAGE", super::engine::helper_image())
        .env("TIERCTL_TEST_MIGRATE_PAUSE", "verify-mounts")
        .env("TIERCTL_TEST_MIGRATE_PAUSE_MS", "120000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn tierctl");
    let began = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("(test hook: paused")
    {
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "never paused at verify-mounts: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    // the boot: the disk not mounted yet, dockerd restarts the service (making its missing
    // bind source, as it does for a short-syntax bind), then the disk mounts
    disk.unplug();
    std::fs::create_dir_all(p.target()).expect("dockerd makes the missing source");
    let restarted = Command::new("docker")
        .args(["restart", "-t", "2", &p.db()])
        .output()
        .expect("docker restart");
    assert!(
        restarted.status.success(),
        "{}",
        String::from_utf8_lossy(&restarted.stderr)
    );
    assert!(disk.mount());
    // verify names it
    let verify = p
        .tierctl()
        .args(["verify", "--format", "json"])
        .output()
        .expect("verify");
    assert_eq!(verify.status.code(), Some(1), "{}", stdout(&verify));
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("\"stale-bind\""),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    // --resume refuses, naming the cause and the fix
    let refused = p
        .tierctl()
        .args(["migrate", "--resume"])
        .output()
        .expect("run");
    let said = stdout(&refused);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains("started before its tier's disk was mounted"),
        "{said}"
    );
    assert!(said.contains("--force-recreate"), "{said}");
    assert!(said.contains("RequiresMountsFor="), "{said}");
    // the fix it names, then --resume finishes on the disk
    assert!(p.compose(&["up", "-d", "--force-recreate"]));
    tierctl_ok(&p, &["migrate", "--resume"]);
    assert_eq!(p.db_mount(), p.target().display().to_string());
    assert_eq!(snapshot(&disk.disk.join(&p.name).join("dbdata")), source);
    assert_eq!(data(&p), source, "the source volume");
    p.down();
}
