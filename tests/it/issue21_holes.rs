//! Issue 21 item 6 on the fake engine, where it models the fault honestly: the disk of a source
//! volume full during a rollback's copy back (a small tmpfs mounted at the volume's directory:
//! the copy-back helper's `cp` gets `ENOSPC`), then the same command again once there is room.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tierctl::engine::MountSource;

use super::fake::FakeStack;
use super::fake::stack::{COMPOSE, snapshot};

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
