use super::*;
use crate::facts::{FsIdentity, Hop, PathFacts, PathProblem};
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A temporary directory tree, addressed relative to its physical root.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().expect("a temporary directory can be made");
        let root = fs::canonicalize(dir.path()).expect("the temporary directory exists");
        Tree { _dir: dir, root }
    }

    fn at(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn dir(&self, relative: &str) -> PathBuf {
        let path = self.at(relative);
        fs::create_dir_all(&path).expect("directory can be made");
        path
    }

    fn file(&self, relative: &str) -> PathBuf {
        let path = self.at(relative);
        fs::write(&path, "data").expect("file can be written");
        path
    }

    fn link(&self, relative: &str, target: impl AsRef<Path>) -> PathBuf {
        let path = self.at(relative);
        symlink(target, &path).expect("symlink can be made");
        path
    }
}

fn hop(link: &Path, target: impl Into<PathBuf>, resolved: &Path) -> Hop {
    Hop {
        link: link.to_path_buf(),
        target: target.into(),
        resolved: resolved.to_path_buf(),
    }
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).expect("the path exists")
}

fn assert_found(facts: &PathFacts, is_dir: bool) {
    assert!(facts.exists, "{facts:?}");
    assert_eq!(facts.is_dir, is_dir, "{facts:?}");
    assert_eq!(facts.problem, None);
    assert_eq!(
        facts.real.as_deref(),
        Some(canonical(&facts.path).as_path())
    );
}

#[test]
fn plain_directory_resolves_to_itself() {
    let tree = Tree::new();
    let data = tree.dir("data");
    let facts = resolve(&data);
    assert_found(&facts, true);
    assert_eq!(facts.path, data);
    assert_eq!(facts.real, Some(data));
    assert!(facts.hops.is_empty());
}

#[test]
fn root_resolves_to_root() {
    let facts = resolve(Path::new("/"));
    assert_eq!(facts.real, Some(PathBuf::from("/")));
    assert!(facts.exists && facts.is_dir);
}

#[test]
fn absolute_symlinked_directory_is_one_hop() {
    let tree = Tree::new();
    let photos = tree.dir("faststore/photos");
    let link = tree.link("Photos", &photos);
    let facts = resolve(&link);
    assert_found(&facts, true);
    assert_eq!(facts.real, Some(photos.clone()));
    assert_eq!(facts.hops, vec![hop(&link, &photos, &photos)]);
}

#[test]
fn relative_symlinked_directory_keeps_the_target_as_written() {
    let tree = Tree::new();
    let photos = tree.dir("faststore/photos");
    let link = tree.link("Photos", "faststore/photos");
    let facts = resolve(&link);
    assert_found(&facts, true);
    assert_eq!(facts.real, Some(photos.clone()));
    assert_eq!(facts.hops, vec![hop(&link, "faststore/photos", &photos)]);
}

#[test]
fn chain_of_three_links_is_three_hops_in_order() {
    let tree = Tree::new();
    let data = tree.dir("data");
    let third = tree.link("third", "data");
    let second = tree.link("second", &third);
    let first = tree.link("first", "./second");
    let facts = resolve(&first);
    assert_found(&facts, true);
    assert_eq!(
        facts.hops,
        vec![
            hop(&first, "./second", &second),
            hop(&second, &third, &third),
            hop(&third, "data", &data),
        ]
    );
}

#[test]
fn link_in_a_middle_component_is_followed() {
    let tree = Tree::new();
    tree.dir("a");
    let real = tree.dir("real/b/c");
    let link = tree.link("a/link", "../real");
    let facts = resolve(&tree.at("a/link/b/c"));
    assert_found(&facts, true);
    assert_eq!(facts.real, Some(real));
    assert_eq!(facts.hops, vec![hop(&link, "../real", &tree.at("real"))]);
}

#[test]
fn dotdot_after_a_symlink_applies_to_the_resolved_directory() {
    let tree = Tree::new();
    tree.dir("deep/inner");
    let sibling = tree.dir("deep/sibling");
    tree.dir("sibling");
    tree.link("shortcut", "deep/inner");
    let facts = resolve(&tree.at("shortcut/../sibling"));
    assert_found(&facts, true);
    assert_eq!(facts.real, Some(sibling));
    assert_ne!(facts.real, Some(tree.at("sibling")));
}

#[test]
fn dot_and_dotdot_in_the_path_as_asked_are_resolved() {
    let tree = Tree::new();
    let photos = tree.dir("faststore/photos");
    let asked = tree.at("faststore/./photos/../photos/.");
    let facts = resolve(&asked);
    assert_eq!(facts.path, asked);
    assert_eq!(facts.real, Some(photos));
    assert!(facts.exists && facts.hops.is_empty());
}

#[test]
fn dangling_link_does_not_exist_but_shows_its_target() {
    let tree = Tree::new();
    let link = tree.link("gone", "nowhere/data");
    let facts = resolve(&link);
    assert!(!facts.exists && !facts.is_dir);
    assert_eq!(facts.problem, None);
    assert_eq!(facts.real, Some(tree.at("nowhere/data")));
    assert_eq!(facts.hops.len(), 1);
}

#[test]
fn missing_path_under_a_symlinked_parent_shows_where_it_would_be_created() {
    let tree = Tree::new();
    tree.dir("faststore/photos");
    tree.link("Photos", "faststore/photos");
    let facts = resolve(&tree.at("Photos/library/2024"));
    assert!(!facts.exists && !facts.is_dir);
    assert_eq!(facts.problem, None);
    assert_eq!(facts.real, Some(tree.at("faststore/photos/library/2024")));
    assert_eq!(facts.hops.len(), 1);
}

#[test]
fn two_link_loop_is_a_loop_found_quickly() {
    let tree = Tree::new();
    let a = tree.link("a", "b");
    tree.link("b", "a");
    let start = Instant::now();
    let facts = resolve(&tree.at("a/data"));
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(facts.problem, Some(PathProblem::Loop { at: a }));
    assert_eq!(facts.hops.len(), 2);
    assert!(!facts.exists && facts.real.is_none());
}

#[test]
fn self_loop_is_a_loop() {
    let tree = Tree::new();
    let me = tree.link("me", "me");
    let start = Instant::now();
    let facts = resolve(&me);
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(facts.problem, Some(PathProblem::Loop { at: me }));
    assert!(!facts.exists && facts.real.is_none());
}

#[test]
fn growing_loop_stops_at_the_kernel_limit() {
    let tree = Tree::new();
    let grow = tree.link("grow", "grow/x");
    let facts = resolve(&grow);
    assert_eq!(facts.problem, Some(PathProblem::TooManyLinks));
    assert_eq!(facts.hops.len(), MAX_HOPS);
    assert!(fs::canonicalize(&grow).is_err());
}

#[test]
fn forty_links_resolve_and_forty_one_do_not_like_the_kernel() {
    let tree = Tree::new();
    tree.dir("data");
    let mut previous = String::from("data");
    for index in 0..=MAX_HOPS {
        let name = format!("link{index}");
        tree.link(&name, &previous);
        previous = name;
    }
    let forty = resolve(&tree.at(&format!("link{}", MAX_HOPS - 1)));
    assert_eq!(forty.hops.len(), MAX_HOPS);
    assert_eq!(forty.real, Some(tree.at("data")));
    assert!(fs::canonicalize(&forty.path).is_ok());
    let forty_one = resolve(&tree.at(&format!("link{MAX_HOPS}")));
    assert_eq!(forty_one.problem, Some(PathProblem::TooManyLinks));
    assert!(fs::canonicalize(&forty_one.path).is_err());
}

#[test]
fn link_to_a_file_exists_and_is_not_a_directory() {
    let tree = Tree::new();
    let file = tree.file("notes.txt");
    let link = tree.link("notes", "notes.txt");
    let facts = resolve(&link);
    assert_found(&facts, false);
    assert_eq!(facts.real, Some(file));
}

#[test]
fn file_used_as_a_directory_is_not_a_directory() {
    let tree = Tree::new();
    let file = tree.file("notes.txt");
    tree.link("notes", "notes.txt");
    for asked in ["notes.txt/child", "notes/child", "notes.txt/.."] {
        let facts = resolve(&tree.at(asked));
        assert_eq!(
            facts.problem,
            Some(PathProblem::NotADirectory { at: file.clone() }),
            "{asked}"
        );
        assert!(!facts.exists && facts.real.is_none());
    }
}

#[test]
fn resolve_agrees_with_canonicalize_on_a_mixed_tree() {
    let tree = Tree::new();
    tree.dir("store/a/b");
    tree.dir("other");
    tree.file("store/a/file");
    tree.link("store/up", "..");
    tree.link("store/a/b/back", "../../up/other");
    tree.link("abs", tree.at("store/a"));
    tree.link("rel", "store/./a/");
    tree.link("dangling", "store/none");
    let asked = [
        "store/up/store/up/other",
        "store/a/b/back",
        "store/a/b/back/../store/a/b",
        "abs/b/back/..",
        "abs/../up",
        "rel/file",
        "rel/b/../../a/b",
        "dangling",
        "abs/../../other",
    ];
    for relative in asked {
        let facts = resolve(&tree.at(relative));
        let canonical = fs::canonicalize(&facts.path).ok();
        assert_eq!(facts.exists, canonical.is_some(), "{relative}");
        if canonical.is_some() {
            assert_eq!(facts.real, canonical, "{relative}");
        }
    }
}

/// Set to the tree root when the permission test runs again as `nobody`.
const UNPRIVILEGED_ROOT: &str = "TIERCTL_TEST_UNPRIVILEGED_ROOT";

/// The conventional uid and gid of `nobody`.
const NOBODY: u32 = 65534;

fn assert_locked_is_denied(root: &Path) {
    let facts = resolve(&root.join("locked/inner/data"));
    assert_eq!(
        facts.problem,
        Some(PathProblem::PermissionDenied {
            at: root.join("locked/inner")
        })
    );
    assert!(!facts.exists && facts.real.is_none());
}

#[test]
fn unsearchable_directory_is_permission_denied() {
    if let Some(root) = std::env::var_os(UNPRIVILEGED_ROOT) {
        assert_locked_is_denied(Path::new(&root));
        return;
    }
    let tree = Tree::new();
    let locked = tree.dir("locked/inner");
    let locked = locked.parent().expect("inner has a parent");
    fs::set_permissions(locked, fs::Permissions::from_mode(0o000)).expect("permissions can be set");
    if fs::read_dir(locked).is_err() {
        assert_locked_is_denied(&tree.root);
        return;
    }
    // Privileged (root here) bypasses permission checks: run this test
    // again as `nobody` in a child process.
    fs::set_permissions(&tree.root, fs::Permissions::from_mode(0o755))
        .expect("permissions can be set");
    let exe = std::env::current_exe().expect("the test binary has a path");
    let spawned = Command::new(exe)
        .args([
            "--exact",
            "fsx::tests::unsearchable_directory_is_permission_denied",
        ])
        .env(UNPRIVILEGED_ROOT, &tree.root)
        .uid(NOBODY)
        .gid(NOBODY)
        .output();
    let output = match spawned {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
            eprintln!("skipped: privileged, and `nobody` cannot run the test binary: {error}");
            return;
        }
        Err(error) => panic!("cannot run the test binary as `nobody`: {error}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn probe_paths_keys_facts_by_the_path_as_asked() {
    let tree = Tree::new();
    tree.dir("faststore/photos");
    let link = tree.link("Photos", "faststore/photos");
    let missing = tree.at("missing");
    let facts = probe_paths([link.clone(), missing.clone()]);
    assert_eq!(facts.paths.len(), 2);
    assert_eq!(
        facts.path(&link).and_then(|f| f.real.clone()),
        Some(tree.at("faststore/photos"))
    );
    assert_eq!(facts.path(&missing).map(|f| f.exists), Some(false));
}

/// `df -P -B1 PATH`: (size, available) in bytes, computed by coreutils.
fn df(path: &str) -> (u64, u64) {
    let output = Command::new("df")
        .args(["-P", "-B1", path])
        .output()
        .expect("df runs");
    let text = String::from_utf8(output.stdout).expect("df prints text");
    let line = text.lines().nth(1).expect("df prints one filesystem line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    let number = |index: usize| fields[index].parse::<u64>().expect("df prints numbers");
    (number(1), number(3))
}

fn command_output(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program} runs: {error}"));
    String::from_utf8(output.stdout)
        .expect("prints text")
        .trim()
        .to_owned()
}

fn assert_identity_matches_the_tools(path: &str) -> FsIdentity {
    let identity = fs_identity(Path::new(path)).expect("the filesystem can be identified");
    let (size, available) = df(path);
    assert_eq!(identity.size_bytes, size, "{path}");
    assert!(identity.available_bytes <= identity.size_bytes);
    assert!(
        identity.available_bytes.abs_diff(available) < 1 << 30,
        "{path}"
    );
    let device = command_output("stat", &["-c", "%d", path]);
    assert_eq!(identity.device.to_string(), device, "{path}");
    // findmnt lists stacked mounts bottom first: the last one is on top.
    let fs_types = command_output("findmnt", &["-n", "-o", "FSTYPE", "-T", path]);
    assert_eq!(
        Some(identity.fs_type.as_str()),
        fs_types.lines().last(),
        "{path}"
    );
    identity
}

#[test]
fn fs_identity_of_root_matches_df_stat_and_findmnt() {
    let identity = assert_identity_matches_the_tools("/");
    assert!(identity.size_bytes > 0);
}

#[test]
fn fs_identity_of_dev_shm_is_tmpfs_on_its_own_device() {
    let shm = assert_identity_matches_the_tools("/dev/shm");
    assert_eq!(shm.fs_type, "tmpfs");
    let root = fs_identity(Path::new("/")).expect("the root filesystem can be identified");
    assert_ne!(shm.device, root.device);
}

#[test]
fn fs_identity_follows_symlinks_to_the_real_filesystem() {
    let tree = Tree::new();
    let link = tree.link("shm", "/dev/shm");
    let through_link = fs_identity(&link).expect("the filesystem can be identified");
    let direct = fs_identity(Path::new("/dev/shm")).expect("the filesystem can be identified");
    assert_eq!(through_link.fs_type, "tmpfs");
    assert_eq!(through_link.device, direct.device);
    assert_eq!(through_link.size_bytes, direct.size_bytes);
}

#[test]
fn fs_identity_of_a_missing_path_is_a_resolve_error() {
    let tree = Tree::new();
    let missing = tree.at("missing");
    let error = fs_identity(&missing).expect_err("a missing path has no filesystem");
    assert!(matches!(&error, FsxError::Resolve { path, .. } if *path == missing));
    assert_eq!(
        error.to_string(),
        format!("cannot resolve `{}`", missing.display())
    );
}
