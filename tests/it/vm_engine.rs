//! tierctl against a real VM engine: a QEMU VM whose dockerd sees five host directories at the
//! same path (three over virtio-9p, one over virtiofs, one over reverse sshfs) and nothing else
//! of the host, dressed up as Colima (a Colima home
//! listing the real shares, a docker context `colima` at a unix socket). `tests/vm/harness.sh up`
//! (CI: `.ci/vm up`) boots it and writes the env file these tests read; one boot serves them all.
//!
//! Skipped loudly without that env file; a failure under `TIERCTL_REQUIRE_VM=1` (`.ci/run` sets
//! it when the host can boot the VM). The VM is slow (TCG emulation: seconds per container), so
//! the tests run one at a time, with a few files and few containers each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::workspace::Workspace;

/// Where the harness writes the env file, unless `TIERCTL_VM_ENV` says otherwise.
const DEFAULT_ENV_FILE: &str = "/run/tierctl-vm/env";

/// One VM test at a time: the emulated VM has two slow CPUs.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The running VM, as the harness's env file describes it.
pub(crate) struct Vm {
    vars: BTreeMap<String, String>,
    _turn: MutexGuard<'static, ()>,
}

fn required() -> bool {
    std::env::var("TIERCTL_REQUIRE_VM").is_ok_and(|v| v == "1")
}

/// The VM, or `None` with a loud note when none is up (a failure under `TIERCTL_REQUIRE_VM=1`).
pub(crate) fn vm() -> Option<Vm> {
    let path = std::env::var("TIERCTL_VM_ENV").unwrap_or_else(|_| DEFAULT_ENV_FILE.into());
    let why = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let vars: BTreeMap<String, String> = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let pid = vars.get("TIERCTL_VM_PID").cloned().unwrap_or_default();
            if !pid.is_empty() && Path::new("/proc").join(&pid).exists() {
                let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
                return Some(Vm { vars, _turn: turn });
            }
            format!("`{path}` names QEMU pid `{pid}`, which is not running")
        }
        Err(e) => format!("no VM env file `{path}` ({e})"),
    };
    assert!(!required(), "TIERCTL_REQUIRE_VM=1 but {why}");
    skipped!("no VM engine: {why}; run `sudo bash tests/vm/harness.sh up` to get one");
    None
}

impl Vm {
    pub(crate) fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("the VM env file has no {key}"))
    }

    /// The mapped-xattr share (the "tiers").
    fn share(&self) -> PathBuf {
        PathBuf::from(self.var("TIERCTL_VM_SHARE"))
    }

    /// The passthrough share.
    fn passthrough(&self) -> PathBuf {
        PathBuf::from(self.var("TIERCTL_VM_SHARE_PASSTHROUGH"))
    }

    /// The share where a chown succeeds and the owner stays what it was (9p `none` over a bindfs
    /// layer that ignores chown).
    fn nochown(&self) -> PathBuf {
        PathBuf::from(self.var("TIERCTL_VM_SHARE_NOCHOWN"))
    }

    /// The virtiofs share (a root virtiofsd on the host).
    fn virtiofs(&self) -> PathBuf {
        PathBuf::from(self.var("TIERCTL_VM_SHARE_VIRTIOFS"))
    }

    /// The reverse-sshfs share (the guest's `sshfs -o slave`, the host's root `sftp-server`).
    fn sshfs(&self) -> PathBuf {
        PathBuf::from(self.var("TIERCTL_VM_SHARE_SSHFS"))
    }

    /// A host directory the VM does not share.
    fn unshared(&self) -> PathBuf {
        PathBuf::from(self.var("TIERCTL_VM_UNSHARED"))
    }

    fn helper_image(&self) -> String {
        self.var("TIERCTL_VM_HELPER_IMAGE").to_owned()
    }

    /// A fresh directory under `root`, removed at the end of the test.
    fn dir_in(&self, root: &Path) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("vmtest-")
            .tempdir_in(root)
            .expect("temp dir under a VM test root")
    }

    fn with_context<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("DOCKER_CONFIG", self.var("TIERCTL_VM_DOCKER_CONFIG"))
            .env("COLIMA_HOME", self.var("TIERCTL_VM_COLIMA_HOME"))
            .env("TIERCTL_HELPER_IMAGE", self.helper_image())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("COLIMA_PROFILE")
    }

    /// tierctl in `ws/rel` talking to the VM through the `colima` context.
    fn tierctl(&self, ws: &Workspace, rel: &str) -> assert_cmd::Command {
        let mut cmd = ws.tierctl(rel);
        cmd.env("DOCKER_CONFIG", self.var("TIERCTL_VM_DOCKER_CONFIG"))
            .env("COLIMA_HOME", self.var("TIERCTL_VM_COLIMA_HOME"))
            .env("TIERCTL_HELPER_IMAGE", self.helper_image())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("COLIMA_PROFILE");
        cmd
    }

    /// The docker CLI talking to the VM.
    fn docker(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("docker");
        self.with_context(&mut cmd)
            .args(args)
            .output()
            .expect("docker CLI runs")
    }

    /// `docker compose -p NAME ARGS` in `dir`; panics with its output when it fails.
    fn compose(&self, dir: &Path, name: &str, args: &[&str]) {
        let mut cmd = Command::new("docker");
        let out = self
            .with_context(&mut cmd)
            .args(["compose", "-p", name])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("docker compose runs");
        assert!(out.status.success(), "compose {args:?}: {}", text(&out));
    }

    /// A shell script with arguments `$1`... in the helper image inside the VM, with `mounts`
    /// (`-v` values); its stdout.
    fn sh(&self, mounts: &[String], script: &str, script_args: &[&str]) -> String {
        let mut args = vec!["run".to_owned(), "--rm".to_owned()];
        for m in mounts {
            args.extend(["-v".to_owned(), m.clone()]);
        }
        args.extend([
            self.helper_image(),
            "sh".into(),
            "-c".into(),
            script.into(),
            "sh".into(),
        ]);
        args.extend(script_args.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.docker(&args);
        assert!(out.status.success(), "docker run {script}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Removes a compose project and its named volumes from the VM when the test ends.
struct ComposeProject<'a> {
    vm: &'a Vm,
    dir: PathBuf,
    name: String,
    volumes: Vec<String>,
}

impl Drop for ComposeProject<'_> {
    fn drop(&mut self) {
        let mut cmd = Command::new("docker");
        let _ = self
            .vm
            .with_context(&mut cmd)
            .args(["compose", "-p", &self.name, "down", "-v", "-t", "1"])
            .current_dir(&self.dir)
            .output();
        for volume in &self.volumes {
            let _ = self.vm.docker(&["volume", "rm", "-f", volume]);
        }
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

/// `tierctl vm`'s note about a 9p share with securityModel mapped-xattr.
fn xattr_note(share: &Path) -> String {
    format!(
        "share `{}` is 9p with securityModel mapped-xattr: owners, modes and symlinks made in the VM are kept in xattrs; the host sees files owned by the user QEMU runs as and symlinks as regular files",
        share.display()
    )
}

/// `tierctl vm`'s note about a 9p share with securityModel none, where a chown does not stick.
fn owners_do_not_stick_note(share: &Path) -> String {
    format!(
        "share `{}` is 9p with securityModel none: owners do not stick: a chown in the VM reports success and changes nothing (QEMU, running as your user, cannot chown on the host), so files keep the owner QEMU gives them; a database whose files must belong to its user (Postgres: uid 999) cannot live there: keep it in a named volume on the VM's own disk (no VM share suits a database; for other data whose owners matter, give the share securityModel mapped-xattr, recreating the VM)",
        share.display()
    )
}

/// `tierctl vm`'s note about a share the Colima files list without a 9p security model: the
/// virtiofs and sshfs shares, which the files cannot type (Lima's mountType is one per VM).
fn lima_default_note(share: &Path) -> String {
    owners_do_not_stick_note(share).replace(
        "securityModel none:",
        "securityModel none (not set: Lima's default):",
    )
}

/// A service on the helper image that keeps running, with `binds` (`source:target`).
fn compose_with_binds(image: &str, binds: &[String]) -> String {
    let mut text = format!(
        "services:\n  app:\n    image: {image}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n    volumes:\n"
    );
    for bind in binds {
        text.push_str(&format!("      - {bind}\n"));
    }
    text
}

/// The host's size of the filesystem holding `path`: `f_blocks * f_frsize`, from `stat -f`.
fn host_fs_size(path: &Path) -> u64 {
    let out = Command::new("stat")
        .args(["-f", "-c", "%b %S"])
        .arg(path)
        .output()
        .expect("stat -f");
    let words: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|w| w.parse().expect("a number"))
        .collect();
    words[0] * words[1]
}

#[test]
fn vm_names_colima_its_shares_the_unshared_bind_and_the_fix_keeping_the_shares() {
    let Some(vm) = vm() else {
        return;
    };
    let shared = vm.dir_in(&vm.share());
    let unshared = vm.dir_in(&vm.unshared());
    let (s, u) = (shared.path(), unshared.path());
    let ws = Workspace::new().file(
        "app/compose.yaml",
        &compose_with_binds(
            &vm.helper_image(),
            &[
                format!("{}:/shared", s.display()),
                format!("{}:/unshared", u.display()),
            ],
        ),
    );
    let out = vm
        .tierctl(&ws, "app")
        .args(["vm", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_of(&out);
    let socket = vm.var("TIERCTL_VM_SOCKET");
    assert_eq!(
        report["endpoint"],
        json!({"context": "colima", "host": format!("unix://{socket}"), "source": "currentContext in config.json"})
    );
    assert_eq!(report["engine"]["name"], "Colima (profile `default`)");
    assert_eq!(report["engine"]["hostname"], vm.var("TIERCTL_VM_HOSTNAME"));
    let home = vm.var("TIERCTL_VM_COLIMA_HOME");
    let (tiers, pass, nochown) = (vm.share(), vm.passthrough(), vm.nochown());
    let (vfs, sshfs) = (vm.virtiofs(), vm.sshfs());
    let share = |p: &Path| json!({"host": p, "vm": p, "writable": true, "mount_type": "9p"});
    assert_eq!(report["vm"]["engine"], "Colima");
    assert_eq!(report["vm"]["instance"], "default");
    assert_eq!(
        report["vm"]["source_files"],
        json!([
            format!("{home}/default/colima.yaml"),
            format!("{home}/_lima/colima/lima.yaml")
        ])
    );
    assert_eq!(
        report["vm"]["shares"],
        json!([
            share(&tiers),
            share(&pass),
            share(&nochown),
            share(&vfs),
            share(&sshfs)
        ])
    );
    // Lima's mountType is one per VM, so the Colima files cannot say that the last two are
    // virtiofs and sshfs: read as 9p with Lima's default security model (`vm --probe` measures
    // the real type, see vm_probe_measures_what_each_share_keeps)
    assert_eq!(
        report["vm"]["notes"],
        json!([
            xattr_note(&tiers),
            owners_do_not_stick_note(&nochown),
            lima_default_note(&vfs),
            lima_default_note(&sshfs)
        ])
    );
    assert_eq!(
        report["binds"],
        json!([
            {"source": s, "real": s, "coverage": "shared", "writable": true, "same_path": true, "mount_type": "9p"},
            {"source": u, "real": u, "coverage": "not-shared", "writable": null, "same_path": false, "mount_type": null},
        ])
    );
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["check"], "vm-share-missing");
    assert_eq!(findings[0]["source"], json!(u));
    assert_eq!(findings[0]["line"], 7);
    let (t, p, n, v, f, u) = (
        tiers.display(),
        pass.display(),
        nochown.display(),
        vfs.display(),
        sshfs.display(),
        u.display(),
    );
    assert_eq!(
        report["fix"],
        format!(
            "colima stop && colima start --mount {t}:w --mount {p}:w --mount {n}:w --mount {v}:w --mount {f}:w --mount {u}:w\n\n\
             or in colima.yaml (then `colima stop && colima start`):\n\
             mounts:\n  - location: {t}\n    writable: true\n  - location: {p}\n    writable: true\n  - location: {n}\n    writable: true\n  - location: {v}\n    writable: true\n  - location: {f}\n    writable: true\n  - location: {u}\n    writable: true\n"
        )
    );
    assert_eq!(report["probes"], Value::Null);
    assert_eq!(report["share_probes"], Value::Null);
}

#[test]
fn audit_with_the_vm_reachable_reports_the_unshared_bind() {
    let Some(vm) = vm() else {
        return;
    };
    let shared = vm.dir_in(&vm.share());
    let unshared = vm.dir_in(&vm.unshared());
    std::fs::create_dir(shared.path().join("app")).expect("mkdir");
    let tiers = format!(
        "tiers:\n  fast: {{ root: \"{}\" }}\nplacement:\n  - tier: fast\n    path: \"{{project}}/{{service}}\"\n",
        shared.path().display()
    );
    let ws = Workspace::new()
        .file(
            "app/compose.yaml",
            &compose_with_binds(
                &vm.helper_image(),
                &[
                    format!("{}/app:/shared", shared.path().display()),
                    format!("{}:/unshared", unshared.path().display()),
                ],
            ),
        )
        .file("app/tiers.yaml", &tiers);
    let out = vm
        .tierctl(&ws, "app")
        .args(["audit", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_of(&out);
    let found: Vec<(String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap_or("").to_owned(),
                f["source"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let u = unshared.path().display().to_string();
    assert_eq!(
        found,
        vec![
            ("bind-outside-tiers".to_owned(), u.clone()),
            ("vm-share-missing".to_owned(), u.clone())
        ]
    );
    // the notes `tierctl vm` makes about the mapped-xattr share and the shares with
    // securityModel none
    assert_eq!(
        report["notes"],
        json!([
            xattr_note(&vm.share()),
            owners_do_not_stick_note(&vm.nochown()),
            lima_default_note(&vm.virtiofs()),
            lima_default_note(&vm.sshfs())
        ])
    );
    let vm_finding = &report["findings"][1];
    assert_eq!(
        vm_finding["message"],
        format!(
            "app: {u} is not shared with the Colima VM; the container will see an empty directory on the VM's disk"
        )
    );
    // --offline reads no engine: the VM finding needs it
    let offline = vm
        .tierctl(&ws, "app")
        .args(["--offline", "audit", "--format", "json"])
        .output()
        .expect("runs");
    let checks: Vec<Value> = json_of(&offline)["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["check"].clone())
        .collect();
    assert_eq!(
        checks,
        vec![json!("bind-outside-tiers")],
        "{}",
        text(&offline)
    );
}

#[test]
fn vm_probe_sees_the_share_the_vm_disk_stand_in_and_reports_missing_paths() {
    let Some(vm) = vm() else {
        return;
    };
    let shared = vm.dir_in(&vm.share());
    let unshared = vm.dir_in(&vm.unshared());
    let (s, u) = (shared.path().join("data"), unshared.path().join("data"));
    let fresh = unshared.path().join("never-bound");
    let missing = shared.path().join("missing");
    for dir in [&s, &u, &fresh] {
        std::fs::create_dir_all(dir).expect("mkdir");
        std::fs::write(dir.join("file"), "host data\n").expect("write");
    }
    // a container bound `u` once: Docker made an empty stand-in for it on the VM's disk
    vm.sh(&[format!("{}:/x", u.display())], "true", &[]);
    let ws = Workspace::new().file(
        "app/compose.yaml",
        &compose_with_binds(
            &vm.helper_image(),
            &[
                format!("{}:/s", s.display()),
                format!("{}:/u", u.display()),
                format!("{}:/f", fresh.display()),
                format!("{}:/m", missing.display()),
            ],
        ),
    );
    let out = vm
        .tierctl(&ws, "app")
        .args(["vm", "--probe", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_of(&out);
    let probes: BTreeMap<String, Value> = report["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .map(|p| (p["source"].as_str().expect("source").to_owned(), p.clone()))
        .collect();
    let host_size = host_fs_size(&s);
    let key = |p: &Path| p.display().to_string();

    // the share: 9p, the host filesystem's size, the marker seen
    let ok = &probes[&key(&s)];
    assert_eq!(ok["verdict"], "same", "{ok}");
    assert_eq!(ok["container"]["fs_type"], "9p");
    assert_eq!(ok["container"]["mount_source"], "tiers");
    assert_eq!(ok["container"]["marker"], "seen");
    assert_eq!(ok["host"]["size_bytes"], host_size);
    let seen = ok["container"]["size_bytes"].as_u64().expect("size");
    assert!(
        host_size.abs_diff(seen) < host_size / 1000,
        "9p size {seen} vs host {host_size}"
    );

    // the stand-in: the VM's own ext4 disk, far smaller, the marker missing
    let diff = &probes[&key(&u)];
    assert_eq!(diff["verdict"], "different", "{diff}");
    assert_eq!(diff["container"]["fs_type"], "ext4");
    assert_eq!(diff["container"]["mount_source"], "/dev/vda");
    assert_eq!(diff["container"]["marker"], "missing");
    let disk = diff["container"]["size_bytes"].as_u64().expect("size");
    assert!(
        (7 << 30..8 << 30).contains(&disk),
        "the VM disk is 8G: {disk}"
    );
    assert_eq!(
        diff["reasons"],
        json!([
            "marker file written on the host is not visible",
            format!("size: host {host_size} bytes, container {disk} bytes"),
        ])
    );
    // never bound: the VM has no such path and the probe creates none
    let fresh_probe = &probes[&key(&fresh)];
    assert_eq!(fresh_probe["verdict"], "missing-in-engine", "{fresh_probe}");
    let message = fresh_probe["message"].as_str().expect("message");
    assert!(
        message.contains("bind source path does not exist"),
        "{message}"
    );
    // missing on the host: reported, no helper run, nothing created (here or, through the share,
    // in the VM)
    assert_eq!(probes[&key(&missing)]["verdict"], "missing-on-host");
    assert!(!missing.exists(), "the probe created {}", missing.display());
    let listing = vm.sh(
        &[format!("{}:/x", unshared.path().display())],
        "ls -A /x",
        &[],
    );
    assert_eq!(listing, "data\n", "the probe created nothing in the VM");
}

#[test]
fn verify_in_the_vm_shared_bind_ok_unshared_bind_marker_missing_with_both_sizes() {
    let Some(vm) = vm() else {
        return;
    };
    let shared = vm.dir_in(&vm.share());
    let unshared = vm.dir_in(&vm.unshared());
    let (s, u) = (shared.path(), unshared.path());
    std::fs::write(u.join("photos.db"), "the host's data\n").expect("write");
    let ws = Workspace::new().file(
        "app/compose.yaml",
        &compose_with_binds(
            &vm.helper_image(),
            &[
                format!("{}:/shared", s.display()),
                format!("{}:/unshared", u.display()),
            ],
        ),
    );
    let name = format!("tierctlvmverify{}", std::process::id());
    let project = ComposeProject {
        vm: &vm,
        dir: ws.path("app"),
        name: name.clone(),
        volumes: Vec::new(),
    };
    vm.compose(&project.dir, &name, &["up", "-d"]);
    let out = vm
        .tierctl(&ws, "app")
        .env("COMPOSE_PROJECT_NAME", &name)
        .args(["verify", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_of(&out);
    assert_eq!(report["engine"], "vm");
    assert_eq!(report["ok"], false);
    let mounts = report["containers"][0]["mounts"]
        .as_array()
        .expect("mounts");
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    let host_size = host_fs_size(s);
    // the engine lists mounts in no fixed order
    let by_target = |t: &str| {
        mounts
            .iter()
            .find(|m| m["target"] == t)
            .unwrap_or_else(|| panic!("no mount at {t}: {mounts:?}"))
    };
    let (ok, bad) = (by_target("/shared"), by_target("/unshared"));
    assert_eq!(
        (
            &ok["target"],
            &ok["verdict"],
            &ok["marker"],
            &ok["container"]["fs_type"]
        ),
        (
            &json!("/shared"),
            &json!("ok"),
            &json!("seen"),
            &json!("9p")
        )
    );
    assert_eq!(ok["host"]["size_bytes"], host_size);
    assert_eq!(
        (
            &bad["target"],
            &bad["verdict"],
            &bad["marker"],
            &bad["container"]["fs_type"]
        ),
        (
            &json!("/unshared"),
            &json!("marker-missing"),
            &json!("missing"),
            &json!("ext4")
        )
    );
    let disk = bad["container"]["size_bytes"].as_u64().expect("size");
    assert!(
        (7 << 30..8 << 30).contains(&disk),
        "the VM disk is 8G: {disk}"
    );
    assert_eq!(bad["host"]["size_bytes"], host_size);
    assert_eq!(
        bad["reasons"],
        json!([
            "marker file written on the host is not visible in the container",
            "the container sees `ext4` where a VM share type is expected",
            format!(
                "size: host {} ({host_size} bytes), container {} ({disk} bytes)",
                tierctl::usage::human_bytes(host_size),
                tierctl::usage::human_bytes(disk)
            ),
        ])
    );
    // the host's data was never seen by the container, and is untouched
    assert_eq!(
        std::fs::read_to_string(u.join("photos.db")).expect("read"),
        "the host's data\n"
    );
}

const MIGRATE_COMPOSE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - dbdata:/data   # the database
      - walarchive:/pt
volumes:
  dbdata:
  walarchive:
"#;

/// A Postgres-like tree in each of `dirs`: uid 999, 0700 directories, a symlink, a hardlink.
const PG_SEED: &str = "set -e; for d in \"$@\"; do cd $d; mkdir -p pg/base; \
printf 'row one\\n' > pg/base/1; head -c 100000 /dev/urandom > pg/base/big; \
ln pg/base/1 pg/base/1.link; ln -s base/1 pg/current; chown -R 999:999 pg; \
chmod 0700 pg pg/base; chmod 0600 pg/base/1; done";

/// `stat` of the seeded tree as the VM sees it, one line per entry.
const PG_STAT: &str = "cd $1 && stat -c '%n %u %a %F' pg pg/base pg/base/1 pg/current \
&& stat -c '%h' pg/base/1 && readlink pg/current";

const PG_STAT_EXPECTED: &str = "pg 999 700 directory\npg/base 999 700 directory\n\
pg/base/1 999 600 regular file\npg/current 999 777 symbolic link\n2\nbase/1\n";

impl Vm {
    /// The host paths or volume names mounted by the running service of project `name`, sorted
    /// (`docker inspect` lists mounts in no fixed order).
    fn mounts_of(&self, name: &str) -> Vec<String> {
        let filter = format!("label=com.docker.compose.project={name}");
        let ps = self.docker(&["ps", "-q", "--filter", &filter]);
        let id = String::from_utf8_lossy(&ps.stdout).trim().to_owned();
        assert!(!id.is_empty(), "no running container of {name}");
        let format = "{{range .Mounts}}{{if .Name}}{{.Name}}{{else}}{{.Source}}{{end}} {{end}}";
        let out = self.docker(&["inspect", "--format", format, &id]);
        let mut mounts: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        mounts.sort();
        mounts
    }
}

#[test]
fn migrate_in_the_vm_moves_a_postgres_like_volume_to_tiers_on_the_shares_and_rolls_back() {
    let Some(vm) = vm() else {
        return;
    };
    let xattr_root = vm.dir_in(&vm.share());
    let pt_root = vm.dir_in(&vm.passthrough());
    let tiers = format!(
        "tiers:\n  xattr: {{ root: \"{}\" }}\n  pt: {{ root: \"{}\" }}\nplacement:\n  - match: {{ target: [\"/pt\"] }}\n    tier: pt\n    path: \"{{project}}/{{volume}}\"\n  - tier: xattr\n    path: \"{{project}}/{{volume}}\"\n",
        xattr_root.path().display(),
        pt_root.path().display()
    );
    let ws = Workspace::new()
        .file(
            "app/compose.yaml",
            &MIGRATE_COMPOSE.replace("{image}", &vm.helper_image()),
        )
        .file("app/tiers.yaml", &tiers);
    let name = format!("tierctlvmmig{}", std::process::id());
    let (db, wal) = (format!("{name}_dbdata"), format!("{name}_walarchive"));
    let project = ComposeProject {
        vm: &vm,
        dir: ws.path("app"),
        name: name.clone(),
        volumes: vec![db.clone(), wal.clone()],
    };
    vm.compose(&project.dir, &name, &["up", "-d"]);
    vm.sh(
        &[format!("{db}:/a"), format!("{wal}:/b")],
        PG_SEED,
        &["/a", "/b"],
    );
    let before = std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose");
    assert_eq!(vm.mounts_of(&name), [db.clone(), wal.clone()]);

    let out = vm
        .tierctl(&ws, "app")
        .env("COMPOSE_PROJECT_NAME", &name)
        .args(["migrate", "--yes"])
        .output()
        .expect("runs");
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    for line in [
        "stopped: db",
        "started: db",
        "verify-mounts    ok: 2 mount(s), tierctl verify ok",
    ] {
        assert!(log.contains(line), "`{line}` in {log}");
    }
    let xattr_copy = xattr_root.path().join(format!("{name}/dbdata"));
    let pt_copy = pt_root.path().join(format!("{name}/walarchive"));
    assert_verify_reads(&log, &xattr_copy, &pt_copy);
    assert_eq!(
        vm.mounts_of(&name),
        [
            pt_copy.display().to_string(),
            xattr_copy.display().to_string()
        ]
    );
    // as the VM (and so the database) sees both copies: owners, modes, symlink, hardlink
    for copy in [&xattr_copy, &pt_copy] {
        let seen = vm.sh(&[format!("{}:/c", copy.display())], PG_STAT, &["/c"]);
        assert_eq!(seen, PG_STAT_EXPECTED, "{}", copy.display());
    }
    assert_host_views(&xattr_copy, &pt_copy);

    let verify = vm
        .tierctl(&ws, "app")
        .env("COMPOSE_PROJECT_NAME", &name)
        .args(["verify"])
        .output()
        .expect("runs");
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));

    let back = vm
        .tierctl(&ws, "app")
        .env("COMPOSE_PROJECT_NAME", &name)
        .args(["migrate", "--rollback", "--yes"])
        .output()
        .expect("runs");
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose"),
        before
    );
    assert_eq!(vm.mounts_of(&name), [db.clone(), wal.clone()]);
    assert!(
        xattr_copy.join("pg/base/1").exists(),
        "rollback keeps the copy"
    );
}

const STOP_FIRST_COMPOSE: &str = r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes:
      - dbdata:/data
volumes:
  dbdata:
"#;

/// Every entry of each tree `$1`, `$2`, ... as the VM sees it: owner, mode, type and link
/// target, then each file's size and link count (a directory's depend on the filesystem), then
/// every file's SHA-256.
const TREE_LIST: &str = "set -e; for d in \"$@\"; do echo \"== tree\"; cd $d; \
find . | sort | while read -r f; do stat -c '%n %u %g %a %F' \"$f\"; \
if [ -h \"$f\" ]; then readlink \"$f\"; fi; done; \
find . -type f | sort | xargs stat -c '%n %s %h'; find . -type f | sort | xargs sha256sum; done";

/// `migrate --stop-first` on the VM: the copy helper hashes both trees right after its copy (one
/// container, no second helper run), the verify says so and what the host sees differently; then
/// the service writes on the tier (an append, a new file, a removal) and `--rollback` copies the
/// tier back into the volume by the same copy helper, verified by both manifests: the volume holds
/// every byte and attribute the service wrote.
#[test]
fn migrate_stop_first_in_the_vm_verifies_by_the_copy_helper_and_rollback_keeps_what_the_service_wrote()
 {
    let Some(vm) = vm() else {
        return;
    };
    let xattr_root = vm.dir_in(&vm.share());
    let tiers = format!(
        "tiers:\n  xattr: {{ root: \"{}\" }}\nplacement:\n  - tier: xattr\n    path: \"{{project}}/{{volume}}\"\n",
        xattr_root.path().display()
    );
    let ws = Workspace::new()
        .file(
            "app/compose.yaml",
            &STOP_FIRST_COMPOSE.replace("{image}", &vm.helper_image()),
        )
        .file("app/tiers.yaml", &tiers);
    let name = format!("tierctlvmsf{}", std::process::id());
    let db = format!("{name}_dbdata");
    let project = ComposeProject {
        vm: &vm,
        dir: ws.path("app"),
        name: name.clone(),
        volumes: vec![db.clone()],
    };
    vm.compose(&project.dir, &name, &["up", "-d"]);
    vm.sh(&[format!("{db}:/a")], PG_SEED, &["/a"]);
    let tierctl = |args: &[&str]| {
        let out = vm
            .tierctl(&ws, "app")
            .env("COMPOSE_PROJECT_NAME", &name)
            .args(args)
            .output()
            .expect("runs");
        let log = text(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {log}");
        log
    };

    let log = tierctl(&["migrate", "--yes", "--stop-first"]);
    let copy = xattr_root.path().join(format!("{name}/dbdata"));
    const COPY_HELPER: &str =
        "in the engine by the copy helper right after its copy (only its manifest crossed)";
    // the copy (on the mapped-xattr share) listed in the VM, its content hashed on the host
    let read = format!(
        "sha256; source read {COPY_HELPER}, copy read listed in the engine by the copy helper right after its copy, content hashed on the host at `{}`: the host sees it differently (",
        copy.display()
    );
    let verified = log
        .lines()
        .find(|l| l.contains("ok: ") && l.contains(&read))
        .unwrap_or_else(|| panic!("`{read}` in {log}"));
    assert!(
        verified.contains("`pg/base` uid: engine 999, host 0"),
        "{verified}"
    );
    assert_eq!(vm.mounts_of(&name), [copy.display().to_string()]);

    // the service writes on the tier: an append, a new file of its user, a removal
    let filter = format!("label=com.docker.compose.project={name}");
    let ps = vm.docker(&["ps", "-q", "--filter", &filter]);
    let id = String::from_utf8_lossy(&ps.stdout).trim().to_owned();
    let write = "set -e; cd /data; printf 'row two\\n' >> pg/base/1; \
head -c 50000 /dev/urandom > pg/base/2; chown 999:999 pg/base/2; chmod 0600 pg/base/2; \
rm pg/base/big";
    let wrote = vm.docker(&["exec", &id, "sh", "-c", write]);
    assert!(wrote.status.success(), "{}", text(&wrote));

    let back = tierctl(&["migrate", "--rollback", "--yes"]);
    let line = format!(
        "copied `{}` back into volume `{db}`: verified, 7 entries, 50016 bytes; tier directory read listed in the engine by the copy helper right after its copy, content hashed on the host at `{}`: the host sees it differently (",
        copy.display(),
        copy.display()
    );
    let copied_back = back
        .lines()
        .find(|l| l.contains(&line))
        .unwrap_or_else(|| panic!("`{line}` in {back}"));
    assert!(
        copied_back.ends_with(&format!(", source read {COPY_HELPER}")),
        "{copied_back}"
    );
    assert_eq!(vm.mounts_of(&name), std::slice::from_ref(&db));
    // the volume as the service sees it now is the tier as it left it, every byte
    let seen = vm.sh(
        &[format!("{db}:/a"), format!("{}:/b", copy.display())],
        TREE_LIST,
        &["/a", "/b"],
    );
    let (volume, tier) = seen
        .trim_start_matches("== tree\n")
        .split_once("== tree\n")
        .expect("two trees");
    assert_eq!(volume, tier);
    for part in [
        "./pg/base/1 999 999 600 regular file\n",
        "./pg/base/2 999 999 600 regular file\n",
        "./pg/base/1 16 2\n./pg/base/1.link 16 2\n./pg/base/2 50000 1\n",
    ] {
        assert!(volume.contains(part), "`{part}` in {volume}");
    }
    assert!(!volume.contains("pg/base/big"), "{volume}");
    let row = vm.sh(&[format!("{db}:/a")], "cat /a/pg/base/1", &[]);
    assert_eq!(row, "row one\nrow two\n");
}

/// Where the verify step read each tree: both sources (named volumes on the VM's disk) where
/// they live, by the manifest helper; the passthrough copy on the host, whose view the helper's
/// listing confirmed; the mapped-xattr copy by the helper too, with what the host sees
/// differently and why.
fn assert_verify_reads(log: &str, xattr_copy: &Path, pt_copy: &Path) {
    const HELPER: &str = "in the engine by a helper container (only its manifest crossed)";
    // the progress line and the step's result say it once each
    // a pre-copy verify may say how much it read again while stopped; left out here
    const REREAD: &str = " bytes read now, the rest unchanged since the running verify; ";
    let mut verified: Vec<String> = log
        .lines()
        .filter_map(|l| l.find("ok: ").map(|at| &l[at..]))
        .map(|l| match (l.find("sha256; "), l.find(REREAD)) {
            (Some(at), Some(end)) if at < end => {
                format!(
                    "{}{}",
                    &l[..at + "sha256; ".len()],
                    &l[end + REREAD.len()..]
                )
            }
            _ => l.to_owned(),
        })
        .filter(|l| l.contains("sha256; source read"))
        .collect();
    verified.sort_unstable();
    verified.dedup();
    assert_eq!(verified.len(), 2, "{log}");
    let (xattr, pt) = if verified[0].contains(&pt_copy.display().to_string()) {
        (&verified[1], &verified[0])
    } else {
        (&verified[0], &verified[1])
    };
    assert!(
        pt.ends_with(&format!(
            "sha256; source read {HELPER}, copy read on the host at `{}` (the engine's listing of it matches the host's)",
            pt_copy.display()
        )),
        "{pt}"
    );
    let xattr_read = format!(
        "sha256; source read {HELPER}, copy read {HELPER}: the host sees `{}` differently (",
        xattr_copy.display()
    );
    assert!(xattr.contains(&xattr_read), "{xattr}");
    for part in [
        "`pg/base` uid: engine 999, host 0",
        "the VM share keeps owners, modes or symlinks where the host does not see them (9p `mapped-xattr` keeps them in `user.virtfs.*` xattrs and the host sees symlinks as regular files); use this tier through the engine (containers), not from the host",
    ] {
        assert!(xattr.contains(part), "`{part}` in {xattr}");
    }
}

/// The copies as the host sees them. The passthrough share stores what the VM made (QEMU runs
/// as root): owner 999, 0700, the symlink, the hardlink. The mapped-xattr share keeps owners,
/// modes and symlinks in xattrs: the host sees root-owned files and the symlink as a regular
/// file holding its target (what `tierctl vm` notes about such a share).
fn assert_host_views(xattr_copy: &Path, pt_copy: &Path) {
    use std::os::unix::fs::MetadataExt;
    let meta = |p: PathBuf| {
        std::fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let pg = meta(pt_copy.join("pg"));
    assert_eq!((pg.uid(), pg.mode() & 0o7777), (999, 0o700));
    let one = meta(pt_copy.join("pg/base/1"));
    assert_eq!(
        (one.uid(), one.mode() & 0o7777, one.nlink()),
        (999, 0o600, 2)
    );
    assert_eq!(one.ino(), meta(pt_copy.join("pg/base/1.link")).ino());
    assert_eq!(
        std::fs::read_link(pt_copy.join("pg/current")).expect("a symlink on the host"),
        Path::new("base/1")
    );

    let link = meta(xattr_copy.join("pg/current"));
    assert!(
        link.file_type().is_file(),
        "mapped-xattr: the host sees a regular file"
    );
    assert_eq!(
        std::fs::read_to_string(xattr_copy.join("pg/current")).expect("read"),
        "base/1"
    );
    assert_eq!(meta(xattr_copy.join("pg/base/1")).uid(), 0);
    let one = meta(xattr_copy.join("pg/base/1"));
    assert_eq!(one.ino(), meta(xattr_copy.join("pg/base/1.link")).ino());
}

#[test]
fn vm_probe_over_tcp_without_colima_files_probes_and_takes_no_hostname_for_a_profile() {
    let Some(vm) = vm() else {
        return;
    };
    let shared = vm.dir_in(&vm.share());
    let unshared = vm.dir_in(&vm.unshared());
    let (s, u) = (shared.path(), unshared.path());
    std::fs::write(s.join("file"), "host data\n").expect("write");
    let ws = Workspace::new().dir("docker").file(
        "app/compose.yaml",
        &compose_with_binds(
            &vm.helper_image(),
            &[format!("{}:/s", s.display()), format!("{}:/u", u.display())],
        ),
    );
    // the engine's API straight over tcp, no Colima files anywhere: only its hostname
    // (`colima-like`) looks like Colima
    let out = ws
        .tierctl("app")
        .env("DOCKER_HOST", vm.var("TIERCTL_VM_HOST"))
        .env("DOCKER_CONFIG", ws.path("docker"))
        .env("TIERCTL_HELPER_IMAGE", vm.helper_image())
        .env_remove("DOCKER_CONTEXT")
        .env_remove("COLIMA_HOME")
        .env_remove("COLIMA_PROFILE")
        .args(["vm", "--probe", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json_of(&out);
    assert_eq!(report["engine"]["name"], "remote engine (shares unknown)");
    assert_eq!(report["engine"]["hostname"], "colima-like");
    assert_eq!(report["vm"], Value::Null);
    let home = ws.path("home");
    assert_eq!(
        report["notes"],
        json!([format!(
            "the engine's name suggests Colima (profile `like`) but no Colima configuration was found (looked in `{h}/.config/colima/like/colima.yaml`, `{h}/.config/colima/_lima/colima-like/lima.yaml`): it is taken as remote engine (shares unknown); `tierctl vm --probe` shows what it sees",
            h = home.display()
        )])
    );
    let verdicts: Vec<(Value, Value)> = report["probes"]
        .as_array()
        .expect("probes")
        .iter()
        .map(|p| (p["source"].clone(), p["verdict"].clone()))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (json!(s), json!("same")),
            (json!(u), json!("missing-in-engine"))
        ]
    );
}

/// KNOWN FAILURE until migrate's preflight probes its sources (issue 13; the fix belongs in
/// `src/apply.rs`): today migrate stops the service, copies the VM's EMPTY stand-in of the
/// unshared bind to the tier, rewrites compose and reports success, while the host directory
/// with the data is never looked at.
#[test]
fn migrate_refuses_an_unshared_bind_before_stopping_anything() {
    let Some(vm) = vm() else {
        return;
    };
    let tier_root = vm.dir_in(&vm.share());
    let unshared = vm.dir_in(&vm.unshared());
    let photos = unshared.path().join("photos");
    std::fs::create_dir(&photos).expect("mkdir");
    std::fs::write(photos.join("a.jpg"), "the host's photo\n").expect("write");
    let tiers = format!(
        "tiers:\n  fast: {{ root: \"{}\" }}\nplacement:\n  - tier: fast\n    path: \"{{project}}/{{service}}\"\n",
        tier_root.path().display()
    );
    let ws = Workspace::new()
        .file(
            "app/compose.yaml",
            &compose_with_binds(
                &vm.helper_image(),
                &[format!("{}:/photos", photos.display())],
            ),
        )
        .file("app/tiers.yaml", &tiers);
    let name = format!("tierctlvmpre{}", std::process::id());
    let project = ComposeProject {
        vm: &vm,
        dir: ws.path("app"),
        name: name.clone(),
        volumes: Vec::new(),
    };
    // `up` makes Docker create an empty stand-in for the unshared path inside the VM
    vm.compose(&project.dir, &name, &["up", "-d"]);
    let before = std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose");
    let started = |vm: &Vm| {
        let filter = format!("label=com.docker.compose.project={name}");
        let out = vm.docker(&["ps", "-q", "--filter", &filter]);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let out = vm.docker(&["inspect", "--format", "{{.State.StartedAt}}", &id]);
        format!("{id} {}", String::from_utf8_lossy(&out.stdout).trim())
    };
    let running = started(&vm);

    let out = vm
        .tierctl(&ws, "app")
        .env("COMPOSE_PROJECT_NAME", &name)
        .args(["migrate", "--yes"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr.contains(&photos.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("preflight refused the migration before anything was stopped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the engine sees another directory there")
            && stderr.contains("the VM does not share it"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "share the missing directories with the VM: colima stop && colima start --mount"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("hint: nothing was changed"), "{stderr}");
    // nothing stopped, nothing copied, compose untouched
    assert_eq!(started(&vm), running, "the service was restarted");
    assert!(!tier_root.path().join(&name).exists(), "a copy was made");
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose"),
        before
    );
}

/// A database's volume (uid 999 files) bound for a tier on a VM share where chown does not stick
/// is refused by preflight before anything stops (`db-on-vm-share`), naming the share and what
/// to do; the probe file that found it out is gone.
#[test]
fn migrate_refuses_a_database_volume_on_a_share_where_chown_does_not_stick() {
    let Some(vm) = vm() else {
        return;
    };
    let tier_root = vm.dir_in(&vm.nochown());
    // the share's behaviour, as the VM sees it: the chown succeeds, the owner stays root's
    let seen = vm.sh(
        &[format!("{}:/n", tier_root.path().display())],
        "touch /n/f && chown 999:999 /n/f && stat -c %u:%g /n/f && rm /n/f",
        &[],
    );
    assert_eq!(seen, "0:0\n");
    let tiers = format!(
        "tiers:\n  fast: {{ root: \"{}\" }}\nplacement:\n  - tier: fast\n    path: \"{{project}}/{{volume}}\"\n",
        tier_root.path().display()
    );
    let compose = format!(
        "services:\n  db:\n    image: {}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n    volumes:\n      - dbdata:/data\nvolumes:\n  dbdata:\n",
        vm.helper_image()
    );
    let ws = Workspace::new()
        .file("app/compose.yaml", &compose)
        .file("app/tiers.yaml", &tiers);
    let name = format!("tierctlvmchown{}", std::process::id());
    let db = format!("{name}_dbdata");
    let project = ComposeProject {
        vm: &vm,
        dir: ws.path("app"),
        name: name.clone(),
        volumes: vec![db.clone()],
    };
    vm.compose(&project.dir, &name, &["up", "-d"]);
    vm.sh(&[format!("{db}:/a")], PG_SEED, &["/a"]);
    let before = std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose");
    let started = |vm: &Vm| {
        let filter = format!("label=com.docker.compose.project={name}");
        let out = vm.docker(&["ps", "-q", "--filter", &filter]);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let out = vm.docker(&["inspect", "--format", "{{.State.StartedAt}}", &id]);
        format!("{id} {}", String::from_utf8_lossy(&out.stdout).trim())
    };
    let running = started(&vm);

    let out = vm
        .tierctl(&ws, "app")
        .env("COMPOSE_PROJECT_NAME", &name)
        .args(["migrate", "--yes"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let target = tier_root.path().join(format!("{name}/dbdata"));
    for part in [
        "preflight refused the migration before anything was stopped".to_owned(),
        format!(
            "db-on-vm-share: `{}`: the VM share `{}` does not keep owners (a file chowned to 999:999 shows 0:0), and volume `{db}` holds files owned by 999:999 (a database's, say): the copy would belong to another user and the service could not use it; choose a tier on a disk or share that keeps owners (9p `passthrough` or `mapped-xattr`) for data that is not a database's, or leave this data in its volume (a database stays on the VM's own disk: no VM share suits it)",
            target.display(),
            vm.nochown().display()
        ),
        "hint: nothing was changed".to_owned(),
    ] {
        assert!(stderr.contains(&part), "`{part}` in {stderr}");
    }
    // nothing stopped, nothing copied, compose untouched, no probe file left
    assert_eq!(started(&vm), running, "the service was restarted");
    let left: Vec<_> = std::fs::read_dir(tier_root.path())
        .expect("tier root")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose"),
        before
    );
}

/// `vm --probe` on every share type of the VM: what a helper container measures on each (issue
/// 22). The host side runs as root here, as QEMU, virtiofsd and sftp-server do, so a chown
/// sticks wherever the server may chown on the host; on a Mac they run as the user.
#[test]
fn vm_probe_measures_what_each_share_keeps() {
    let Some(vm) = vm() else {
        return;
    };
    let shared = vm.dir_in(&vm.share());
    let ws = Workspace::new().file(
        "app/compose.yaml",
        &compose_with_binds(
            &vm.helper_image(),
            &[format!("{}:/s", shared.path().display())],
        ),
    );
    let out = vm
        .tierctl(&ws, "app")
        .args(["vm", "--probe", "--format", "json"])
        .output()
        .expect("runs");
    let report = json_of(&out);
    let rows: BTreeMap<String, Value> = report["share_probes"]
        .as_array()
        .unwrap_or_else(|| panic!("share_probes: {}", text(&out)))
        .iter()
        .map(|p| (p["host"].as_str().expect("host").to_owned(), p.clone()))
        .collect();
    let row = |share: PathBuf| rows[&share.display().to_string()].clone();
    // what docs/vm-shares.md's table is written from (`--nocapture`)
    eprintln!("share_probes: {}", report["share_probes"]);
    // mmap: [mmap_coherence, mmap_coherence_with_host], measured with the harness image's
    // tierctl-mmap. 9p (no cache option: cache=none) refuses a shared writable mapping
    // (EINVAL); virtiofs and sshfs map coherently between two containers (one guest page
    // cache) but not with the host (each side its own copy of the page)
    let expect = |share: PathBuf, fs_type: &str, chown: bool, hardlinks: bool, mmap: [bool; 2]| {
        let got = row(share.clone());
        assert_eq!(got["outcome"], "measured", "{got}");
        assert_eq!(got["vm"], json!(share), "{got}");
        let measured = json!({
            "fs_type": fs_type,
            "chown": chown,
            "mode": true,
            "symlinks": true,
            "hardlinks": hardlinks,
            "fsync": true,
            // no share carries the host's fcntl lock into the VM: QEMU's 9p server answers a
            // lock request without taking one, virtiofsd 1.14 does not implement POSIX locks
            // (the guest falls back to local ones), and sftp has no locks
            "posix_locks_with_host": false,
            // a file the host writes raises no inotify event in the VM on any share (the
            // harness's helper image has inotifywait; `false`, not `null`, means the watch saw
            // the container's own write: the control)
            "host_inotify": false,
            "case_sensitive": true,
        });
        for (key, want) in measured.as_object().expect("object") {
            assert_eq!(&got[key], want, "{key} of {}: {got}", share.display());
        }
        let [containers, with_host] = mmap;
        assert_eq!(
            got["mmap_coherence"],
            containers,
            "mmap_coherence of {}: {got}",
            share.display()
        );
        assert_eq!(
            got["mmap_coherence_with_host"],
            with_host,
            "mmap_coherence_with_host of {}: {got}",
            share.display()
        );
        let left: Vec<String> = std::fs::read_dir(&share)
            .expect("list the share")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tierctl-share-probe-"))
            .collect();
        assert!(
            left.is_empty(),
            "scratch left in {}: {left:?}",
            share.display()
        );
        got
    };
    // 9p mapped-xattr: owners, modes and symlinks live in xattrs; everything reads back
    expect(vm.share(), "9p", true, true, [false, false]);
    // 9p passthrough with QEMU as root: the real chown on the host
    expect(vm.passthrough(), "9p", true, true, [false, false]);
    // 9p none over bindfs that ignores chown: the chown reports success and changes nothing;
    // the first name of a hardlink still shows one link (the layer's stale attributes)
    let nochown = expect(vm.nochown(), "9p", false, false, [false, false]);
    let notes = nochown["notes"].to_string();
    assert!(
        notes.contains("chown to 1234:1234 reads back as 0:0"),
        "{notes}"
    );
    // virtiofs with virtiofsd as root: owners kept
    expect(vm.virtiofs(), "virtiofs", true, true, [true, false]);
    // reverse sshfs: sftp-server as root chowns; sftp carries no link count nor inode, so a
    // hardlink shows as two files with one link each
    let sshfs = expect(vm.sshfs(), "fuse.sshfs", true, false, [true, false]);
    let notes = sshfs["notes"].to_string();
    assert!(
        notes.contains("a hardlink made in the container: 1 "),
        "{notes}"
    );
}

/// Issue 26 row 10 on a VM engine, where tierctl does not see the engine's processes: the
/// PID-1 `sleep` that the stop would kill is named by a helper in its pid namespace, before
/// anything stops; the shell that traps SIGTERM is not named.
#[test]
fn issue26_row10_in_the_vm_a_service_its_stop_would_kill_is_refused_before_anything_stops() {
    let Some(vm) = vm() else {
        return;
    };
    let tier_root = vm.dir_in(&vm.share());
    let tiers = format!(
        "tiers:\n  fast: {{ root: \"{}\" }}\nplacement:\n  - tier: fast\n    path: \"{{project}}/{{service}}\"\n",
        tier_root.path().display()
    );
    let compose = format!(
        "services:\n  db:\n    image: {image}\n    command: [\"sleep\", \"1000\"]\n    stop_grace_period: 1s\n    volumes:\n      - dbdata:/data\n  web:\n    image: {image}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]\n    volumes:\n      - webdata:/data\nvolumes:\n  dbdata:\n  webdata:\n",
        image = vm.helper_image()
    );
    let ws = Workspace::new()
        .file("app/compose.yaml", &compose)
        .file("app/tiers.yaml", &tiers);
    let name = format!("tierctlvmr10{}", std::process::id());
    let project = ComposeProject {
        vm: &vm,
        dir: ws.path("app"),
        name: name.clone(),
        volumes: vec![format!("{name}_dbdata"), format!("{name}_webdata")],
    };
    vm.compose(&project.dir, &name, &["up", "-d"]);
    let started = |vm: &Vm| {
        let filter = format!("label=com.docker.compose.project={name}");
        let out = vm.docker(&["ps", "-q", "--filter", &filter]);
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|id| {
                let out = vm.docker(&["inspect", "--format", "{{.State.StartedAt}}", id]);
                format!("{id} {}", String::from_utf8_lossy(&out.stdout).trim())
            })
            .collect();
        ids.sort();
        ids
    };
    let running = started(&vm);
    assert_eq!(running.len(), 2, "{running:?}");

    let out = vm
        .tierctl(&ws, "app")
        .env("COMPOSE_PROJECT_NAME", &name)
        .args(["migrate", "--yes"])
        .output()
        .expect("runs");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("preflight refused the migration before anything was stopped"),
        "{all}"
    );
    assert!(
        all.contains(&format!(
            "service `db` (container `{name}-db-1`) would be killed, not stopped: its main process (PID 1) does not handle SIGTERM"
        )),
        "{all}"
    );
    assert!(!all.contains("service `web`"), "{all}");
    assert_eq!(started(&vm), running, "a service was restarted");
    assert_eq!(
        std::fs::read_to_string(ws.path("app/compose.yaml")).expect("compose"),
        compose
    );
    assert!(!tier_root.path().join(&name).exists(), "a copy was made");
}

/// Issue 22 items 3 and 5 on every share type of the VM (9p mapped-xattr, passthrough and
/// none, virtiofs, reverse sshfs): `vm --probe` names a database's data by its image (Jellyfin's
/// `/config`) and by its content (a SQLite file in a plain service's bind), and a watched library
/// (Jellyfin's media) on each share where the probe measured no host inotify event, saying the
/// verdict was measured.
#[test]
fn issue22_vm_probe_names_databases_and_watched_libraries_on_every_share_type() {
    let Some(vm) = vm() else {
        return;
    };
    let jellyfin = "tierctl-test/jellyfin:vm";
    let tagged = vm.docker(&["tag", &vm.helper_image(), jellyfin]);
    assert!(tagged.status.success(), "{}", text(&tagged));
    let shares = [
        vm.share(),
        vm.passthrough(),
        vm.nochown(),
        vm.virtiofs(),
        vm.sshfs(),
    ];
    let dirs: Vec<tempfile::TempDir> = shares.iter().map(|s| vm.dir_in(s)).collect();
    let keep = "[\"sh\", \"-c\", \"trap 'exit 0' TERM; while true; do sleep 1; done\"]";
    let mut compose = String::from("services:\n");
    let mut app = format!(
        "  app:\n    image: {}\n    command: {keep}\n    volumes:\n",
        vm.helper_image()
    );
    for (i, dir) in dirs.iter().enumerate() {
        let d = dir.path();
        for sub in ["config", "movies", "state"] {
            std::fs::create_dir(d.join(sub)).expect("mkdir");
        }
        let mut db = b"SQLite format 3\0".to_vec();
        db.resize(4096, 0);
        std::fs::write(d.join("state/app.db"), db).expect("a SQLite file");
        compose.push_str(&format!(
            "  jf{i}:\n    image: {jellyfin}\n    command: {keep}\n    volumes:\n      - {c}:/config\n      - {m}:/data/movies\n",
            c = d.join("config").display(),
            m = d.join("movies").display()
        ));
        app.push_str(&format!(
            "      - {}:/state{i}\n",
            d.join("state").display()
        ));
    }
    compose.push_str(&app);
    let ws = Workspace::new().file("app/compose.yaml", &compose);
    let out = vm
        .tierctl(&ws, "app")
        .args(["vm", "--probe", "--format", "json"])
        .output()
        .expect("runs");
    let report = json_of(&out);
    let findings = report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("findings: {}", text(&out)))
        .clone();
    let found = |check: &str, service: &str, target: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["check"] == check && f["service"] == service && f["target"] == target)
            .map(|f| f["message"].as_str().expect("message").to_owned())
            .collect()
    };
    for (i, share) in shares.iter().enumerate() {
        let what = format!("share {} ({i})", share.display());
        // by image: Jellyfin keeps SQLite under /config
        let by_image = found("db-on-vm-share", &format!("jf{i}"), "/config");
        assert_eq!(by_image.len(), 1, "{what}: {findings:#?}");
        // by content: the plain service's bind holds a SQLite file
        let by_content = found("db-on-vm-share", "app", &format!("/state{i}"));
        assert_eq!(by_content.len(), 1, "{what}: {findings:#?}");
        assert!(
            by_content[0].contains("SQLite files (app.db)"),
            "{what}: {}",
            by_content[0]
        );
        // every share measured no host inotify event: the media library's finding says so
        let watched = found(
            "watched-library-on-vm-share",
            &format!("jf{i}"),
            "/data/movies",
        );
        assert_eq!(watched.len(), 1, "{what}: {findings:#?}");
        assert!(
            watched[0].contains("(measured by `vm --probe`)"),
            "{what}: {}",
            watched[0]
        );
        // its own /config is not a library
        assert!(found("watched-library-on-vm-share", &format!("jf{i}"), "/config").is_empty());
    }
    // the nochown share was measured to lose a chown: its database findings say so
    let nochown = &found("db-on-vm-share", "jf2", "/config")[0];
    assert!(nochown.contains("a chown does not stick"), "{nochown}");
    // issue 22 item 2: 9p refuses a shared writable mapping; virtiofs' is not coherent with the
    // host's: the measured losses say so
    let on_9p = &found("db-on-vm-share", "jf0", "/config")[0];
    assert!(
        on_9p.contains(
            "shared mappings (SQLite's -shm) are refused or not coherent between containers"
        ),
        "{on_9p}"
    );
    let on_virtiofs = &found("db-on-vm-share", "jf3", "/config")[0];
    assert!(
        on_virtiofs.contains("a shared mapping is not coherent between the host and the VM"),
        "{on_virtiofs}"
    );
    assert!(!on_virtiofs.contains("between containers"), "{on_virtiofs}");
    let _ = vm.docker(&["rmi", jellyfin]);
}
