//! Issue 26 rows 5 and 6 against a real engine and compose CLI: names that are not UTF-8 (and
//! names with a newline, and a 255-byte name) move in both modes, verified, and the service sees
//! them (row 5); a sparse file is counted by what the copy writes, so a tier too small for its
//! apparent size is refused before anything stops (row 6). Project names end with the pid:
//! other sessions share the engine.

use std::path::Path;
use std::process::Command;

use super::compose_runner::Family;
use super::engine::required;
use super::migrate_engine::{COMPOSE, stdout};
use super::stack::Stack;

fn stack(tag: &str, seed: &str) -> Option<Stack> {
    let name = format!("tierctli26{tag}{}", std::process::id());
    Stack::up(Family::V2, name, COMPOSE, seed)
}

fn running(s: &Stack) -> bool {
    let out = Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=com.docker.compose.project={}", s.name))
        .output()
        .expect("docker ps");
    !out.stdout.is_empty()
}

fn umount(path: &Path) {
    let _ = Command::new("umount").arg(path).status();
}

#[test]
fn i26_row6_a_sparse_file_larger_than_the_tier_is_refused_before_the_stop() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            !required(),
            "TIERCTL_REQUIRE_DOCKER=1 but not root: cannot mount a tmpfs"
        );
        skipped!("a small tier needs root to mount a tmpfs");
        return;
    }
    // 64 MiB apparent, nothing allocated; the copy writes it dense
    let seed = "set -e; cd /data; truncate -s 64M sparse; echo small > small";
    let Some(s) = stack("sparse", seed) else {
        return;
    };
    let fast = s.ws.path("fast");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tierctl-sparse"])
        .arg(&fast)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        assert!(!required(), "cannot mount a tmpfs");
        skipped!("cannot mount a tmpfs here");
        return;
    }
    let compose = s.compose_text();
    let out = s
        .tierctl()
        .args(["migrate", "--stop-first", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    let left = std::fs::read_dir(&fast).expect("tier root").count();
    umount(&fast);
    assert_eq!(out.status.code(), Some(2), "{text}");
    // 64 MiB and the small file's block: what the copy writes, not the 4 KiB allocated
    assert!(text.contains("bytes free, the copies need 671"), "{text}");
    assert!(text.contains("choose a bigger tier"), "{text}");
    assert!(!text.contains("[1/"), "{text}");
    assert_eq!(left, 0, "the tier root was written");
    assert!(running(&s), "the service was stopped");
    assert_eq!(s.compose_text(), compose);
}

/// Names that are not UTF-8 (Latin-1 `\xff\xfe`), with a newline, both together, a 255-byte
/// name, a directory so named holding a file, a hardlink and a symlink whose target is such a
/// name, and a file with a plain name beside them.
const ODD: &str = r#"set -e; cd /data
latin=$(printf '\377\376'); nl=$(printf 'a\nb'); both=$(printf '\377\n\376')
long=$(head -c 255 /dev/zero | tr '\0' x)
echo latin > "$latin"; echo newline > "$nl"; echo both > "$both"; echo long > "$long"
mkdir "d$latin"; echo inside > "d$latin/f$nl"
ln "$latin" "hard$latin"; ln -s "$both" "sym$latin"
echo plain > plain; chown -R 999:999 ."#;

/// What the mutation during the pause adds, changes and removes, all by such names.
const ODD_LATER: &str = r#"set -e; cd /data
latin=$(printf '\377\376'); nl=$(printf 'a\nb'); both=$(printf '\377\n\376')
echo changed-after-the-pre-copy >> "$latin"; rm "$nl"; echo new > "new$both"
mv "d$latin" "moved$(printf '\351')""#;

/// The service sees every odd name it should (run in its container).
const SEES: &str = r#"set -e; cd /data
latin=$(printf '\377\376'); both=$(printf '\377\n\376')
long=$(head -c 255 /dev/zero | tr '\0' x)
test -f "$latin"; test -f "$both"; test -f "$long"; test -L "sym$latin"
test "$(readlink "sym$latin")" = "$both""#;

impl Stack {
    fn exec_db(&self, script: &str) -> bool {
        Command::new("docker")
            .args(["exec", &self.db(), "sh", "-c", script])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The volume and its copy compare equal, every entry (names as bytes).
    fn assert_copy_equals_volume(&self) {
        let hashed = std::sync::atomic::AtomicU64::new(0);
        let read = |p: &Path| {
            tierctl::migrate::tree::read(
                p,
                tierctl::migrate::tree::manifest::Digest::Blake3,
                &hashed,
            )
            .expect("manifest")
        };
        let (a, b) = (read(&self.volume_mountpoint()), read(&self.target()));
        // a helper's pre-copy, where the host may not copy: no xattrs, no symlink times
        let rules = tierctl::migrate::tree::manifest::Rules::copy(
            tierctl::migrate::host_apply::may_apply(),
        );
        let differences = tierctl::migrate::tree::manifest::compare(&a, &b, rules);
        assert!(differences.is_empty(), "{differences:?}");
        assert!(a.len() >= 8, "{:?}", a.entries.keys());
    }
}

#[test]
fn i26_row5_names_that_are_not_utf8_or_hold_a_newline_move_with_stop_first() {
    let Some(s) = stack("names1", ODD) else {
        return;
    };
    let out = s
        .tierctl()
        .args(["migrate", "--stop-first", "--yes"])
        .output()
        .expect("run");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("--stop-first`"), "{text}");
    s.assert_copy_equals_volume();
    assert!(s.db_mount().ends_with("dbdata"), "{}", s.db_mount());
    assert!(s.exec_db(SEES), "the service does not see the names");
    // the service writes under such a name on the tier; the rollback compares the tier with
    // its journaled manifest (names as bytes) and copies it back into the volume
    assert!(s.exec_db(r#"echo late > "/data/late$(printf '\377\n')x""#));
    let back = s
        .tierctl()
        .args(["migrate", "--rollback", "--yes"])
        .output()
        .expect("run");
    assert_eq!(back.status.code(), Some(0), "{}", stdout(&back));
    assert_eq!(s.db_mount(), s.volume());
    assert!(s.exec_db(SEES), "the volume lost the names");
    assert!(
        s.exec_db(r#"test "$(cat "/data/late$(printf '\377\n')x")" = late"#),
        "the write on the tier was not copied back"
    );
}

#[test]
fn i26_row5_names_that_are_not_utf8_or_hold_a_newline_move_with_a_pre_copy_and_delta() {
    let Some(s) = stack("names2", ODD) else {
        return;
    };
    let log = s.ws.path("stderr.log");
    let child = Command::new(assert_cmd::cargo::cargo_bin("tierctl"))
        .args(["migrate", "--yes"])
        .current_dir(s.ws.path("app"))
        .env("COMPOSE_PROJECT_NAME", &s.name)
        .env("TIERCTL_HELPER_IMAGE", super::engine::helper_image())
        .env("TIERCTL_TEST_MIGRATE_PAUSE", "stop")
        .env("TIERCTL_TEST_MIGRATE_PAUSE_MS", "4000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn tierctl");
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("(test hook: paused") {
            break;
        }
        assert!(!text.contains("error:"), "{text}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "never paused: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // the delta after the stop has to copy, remove and rename such names
    s.on_volume(ODD_LATER);
    let out = child.wait_with_output().expect("run");
    let text = format!(
        "{}{}",
        stdout(&out),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("pre-copy"), "{text}");
    s.assert_copy_equals_volume();
    assert!(s.exec_db(SEES), "the service does not see the names");
    assert!(
        s.exec_db(
            r#"test -f "/data/new$(printf '\377\n\376')" && test ! -e "/data/$(printf 'a\nb')""#
        ),
        "the delta's names are not in the copy"
    );
}

/// The helper paths (a VM or another machine's engine, or tierctl not root): the list helper
/// lists such names as bytes, the delta helper copies them by their bytes, and the manifest
/// helper reads them as the host does.
#[test]
fn i26_row5_the_list_delta_and_manifest_helpers_take_names_as_bytes() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::atomic::AtomicU64;

    use tierctl::engine::{Helpers, MountSource};
    use tierctl::migrate::copy::{self, CopyJob};
    use tierctl::migrate::delta;
    use tierctl::migrate::tree::{self, helper::Depth, manifest};

    let Some(engine) = super::engine::engine() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (from, to) = (dir.path().join("from"), dir.path().join("to"));
    std::fs::create_dir_all(&to).expect("to");
    let at = |name: &[u8]| from.join(OsStr::from_bytes(name));
    std::fs::create_dir_all(at(b"d\xff")).expect("odd directory");
    let long = vec![b'x'; 255];
    for (name, text) in [
        (&b"\xff\xfe"[..], "latin"),
        (b"a\nb", "newline"),
        (b"\xff\n\xfe", "both"),
        (&long, "long"),
        (b"d\xff/f\nx", "inside"),
        (b"100% \\ plain", "printf's own characters"),
    ] {
        std::fs::write(at(name), text).expect("file");
    }
    std::fs::hard_link(at(b"\xff\xfe"), at(b"hard\xff")).expect("hardlink");
    std::os::unix::fs::symlink(OsStr::from_bytes(b"\xff\n\xfe"), at(b"sym\xfe")).expect("symlink");
    let job = CopyJob {
        source: MountSource::Bind(from.clone()),
        target: to.clone(),
    };
    let image = super::engine::helper_image();
    let out = engine
        .run_to_end(&tree::reader::list_spec(&copy::verify_spec(
            &job, &image, "i26",
        )))
        .expect("list helper");
    let listed = tree::listing::parse_listed(&out).expect("the listing reads");
    let host = tree::listing::list(&from).expect("host listing");
    assert_eq!(
        listed.source.keys().collect::<Vec<_>>(),
        host.keys().collect::<Vec<_>>()
    );
    let pass = delta::plan(&listed, 0);
    for args in delta::ops_args(&pass) {
        engine
            .run_to_end(&copy::delta_spec(&job, &image, "i26", &args, true, false))
            .expect("delta helper");
    }
    let hashed = AtomicU64::new(0);
    let read = |p: &Path| tree::read(p, manifest::Digest::Sha256, &hashed).expect("host read");
    // the delta helper's busybox `cp -a`: no xattrs, no symlink times (issue 21 item 7)
    let rules = manifest::Rules {
        root_attributes: false,
        ..manifest::Rules::copy(false)
    };
    let (source, copied) = (read(&from), read(&to));
    assert_eq!(manifest::compare(&source, &copied, rules), vec![]);
    assert!(
        source
            .entries
            .contains_key(&tree::name::encode(b"d\xff/f\nx"))
    );
    // the manifest helper reads both trees as the host does
    let verify = copy::verify_spec(&job, &image, "i26");
    let roots = [(copy::FROM, Depth::Hashed), (copy::TO, Depth::Hashed)];
    let helper = tree::helper_manifests(&engine, &verify, &roots, &hashed).expect("helper");
    assert_eq!(
        manifest::compare(&source, &helper[0], manifest::Rules::copy(false)),
        vec![]
    );
    assert_eq!(manifest::compare(&helper[0], &helper[1], rules), vec![]);
}
