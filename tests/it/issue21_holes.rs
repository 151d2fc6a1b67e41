//! Issue 21 item 6 on the fake engine, where it models the fault honestly: the disk of a source
//! volume full during a rollback's copy back (a small tmpfs mounted at the volume's directory:
//! the copy-back helper's `cp` gets `ENOSPC`), then the same command again once there is room;
//! the engine gone (every call failing: `fake::outage`) while a pre-copy helper or a delta
//! helper runs, a `--resume` refused while it is gone, then back and `--resume` again.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::Arc;

use tierctl::engine::MountSource;
use tierctl::migrate::MigrateError;

use super::fake::FakeStack;
use super::fake::outage::Outage;
use super::fake::stack::Ended;
use super::fake::stack::{COMPOSE, snapshot};
use super::fake_migrate::{assert_moved, sources};

/// A tmpfs of `size` mounted over `dir` with `dir`'s content and attributes copied in;
/// unmounted (lazily) when dropped.
struct SmallDisk {
    dir: PathBuf,
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str, scratch: &Path) -> SmallDisk {
        let saved = scratch.join("saved");
        fs::create_dir_all(&saved).expect("mkdir");
        let (dir_s, saved_s) = (dir.to_str().expect("utf-8"), saved.to_str().expect("utf-8"));
        run("cp", &["-a", &format!("{dir_s}/."), saved_s]);
        // the root as it was: a tmpfs root is 1777 root:root otherwise
        let meta = fs::metadata(dir).expect("the volume's directory");
        let options = format!(
            "size={size},mode={:o},uid={},gid={}",
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid()
        );
        run(
            "mount",
            &["-t", "tmpfs", "-o", &options, "tierctl-enospc", dir_s],
        );
        let disk = SmallDisk {
            dir: dir.to_path_buf(),
        };
        run("cp", &["-a", &format!("{saved_s}/."), dir_s]);
        disk
    }

    /// Room made: the tmpfs grown to `size`.
    fn grow(&self, size: &str) {
        let dir = self.dir.to_str().expect("utf-8");
        run("mount", &["-o", &format!("remount,size={size}"), dir]);
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

#[test]
fn issue21_a_full_disk_during_a_rollbacks_copy_back_then_the_rollback_again_keeps_every_byte() {
    let Some(stack) = FakeStack::new("fakeenospc") else {
        return;
    };
    stack.migrate(&stack.plan(false, false), None).done();
    // the service wrote 3 MiB on its new home; its old volume's disk holds 1 MiB
    let tier = stack.tier_dir("dbdata");
    let blob: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    fs::write(tier.join("base/1/big-table"), &blob).expect("write");
    fs::write(tier.join("PG_VERSION"), "17\n").expect("write");
    let written = snapshot(&tier);
    let web = snapshot(&stack.volume("webdata"));
    let disk = SmallDisk::mount(&stack.volume("dbdata"), "1m", &stack.ws.path("scratch"));

    let error = stack
        .rollback(false)
        .expect_err("the copy back runs out of room");
    let text = error.to_string();
    assert!(text.contains("copy-back:0"), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    // nothing was lost: the services are down, the compose file still names the tier, whose
    // data is untouched; the hint says so
    assert!(
        error.hint().contains(&tier.display().to_string()),
        "{}",
        error.hint()
    );
    assert!(stack.compose_text().contains(&tier.display().to_string()));
    assert_eq!(snapshot(&tier), written, "the tier's data");
    assert!(stack.running("db").is_none() && stack.running("web").is_none());

    disk.grow("16m");
    stack.rollback(false).expect("the rollback again finishes");
    assert_eq!(
        snapshot(&stack.volume("dbdata")),
        written,
        "every byte back"
    );
    assert_eq!(snapshot(&stack.volume("webdata")), web);
    assert_eq!(snapshot(&tier), written, "the copy is kept");
    assert_eq!(stack.compose_text(), COMPOSE);
    assert_eq!(
        stack.running("db"),
        Some(vec![(
            MountSource::Volume(stack.volume_name("dbdata")),
            "/var/lib/postgresql/data".to_owned()
        )])
    );
    assert!(stack.state().rolled_back);
    drop(disk);
}

/// A stack on a VM-like fake (every tree copied and listed by helpers) behind an [`Outage`].
fn behind_an_outage(name: &str) -> Option<(FakeStack, Arc<Outage>)> {
    let mut stack = FakeStack::new(name)?;
    stack.engine.like_a_vm();
    let outage = Arc::new(Outage::new(stack.engine.clone()));
    stack.via = Some(outage.clone());
    Some((stack, outage))
}

/// The engine is gone after `step` failed: a `--resume` fails too and changes nothing; back,
/// `--resume` finishes the move with the data of the source at the stop.
fn resumed_once_back(stack: &FakeStack, outage: &Outage, error: MigrateError, step: &str) {
    assert!(
        matches!(&error, MigrateError::Step { step: s, .. } if s == step),
        "{error:?}"
    );
    assert!(error.to_string().contains("cannot connect"), "{error}");
    assert!(outage.is_gone());
    let text = stack.compose_text();
    match stack.resume(None) {
        Ended::Failed(e) => assert!(e.to_string().contains("cannot connect"), "{e}"),
        other => panic!("a resume while the engine is gone: {other:?}"),
    }
    assert_eq!(stack.compose_text(), text, "nothing changed");
    assert!(stack.state().is_open());
    outage.back();
    let at_the_stop = sources(stack);
    stack.resume(None).done();
    assert_moved(stack, &at_the_stop);
}

#[test]
fn issue21_the_engine_gone_mid_copy_then_back_then_resume_keeps_every_byte() {
    let Some((stack, outage)) = behind_an_outage("fakegonecopy") else {
        return;
    };
    let before = sources(&stack);
    outage.die_during("copy");
    let error = stack.migrate(&stack.plan(false, false), None).failed();
    assert!(stack.running("db").is_some(), "nothing stopped yet");
    resumed_once_back(&stack, &outage, error, "pre-copy:0");
    assert_eq!(sources(&stack), before, "no source byte changed");
}

#[test]
fn issue21_the_engine_gone_mid_delta_then_back_then_resume_keeps_every_byte() {
    let Some((stack, outage)) = behind_an_outage("fakegonedelta") else {
        return;
    };
    // the service writes while the pre-copy runs: the delta has work for its helper
    let volume = stack.volume("dbdata");
    // (the outage armed once stopped: the pre-copy's own catch-up passes use the delta helper)
    let arm = outage.clone();
    let write = move |id: &str, after: bool| {
        if id == "delta:0" && !after {
            arm.die_during("delta");
        }
        if id == "pre-copy:1" && !after {
            fs::write(volume.join("base/1/late"), "written during the pre-copy\n").expect("write");
            fs::write(volume.join("PG_VERSION"), "16.1\n").expect("write");
        }
    };
    let error = stack
        .migrate_hooked(&stack.plan(false, false), &write)
        .failed();
    assert!(stack.running("db").is_none(), "stopped for the delta");
    assert_eq!(stack.compose_text(), COMPOSE);
    resumed_once_back(&stack, &outage, error, "delta:0");
}
