//! The projects the loader tests run over: the shared corpus (`TIERCTL_CORPUS`, default
//! `../shared/corpus`) rebuilt in its original layout, and the fixture projects of `fixtures/`,
//! each with the load options the corpus tests use (every profile, `HOME=/home/user`).

use std::path::{Path, PathBuf};

use tierctl::compose::load::LoadOptions;

/// The home directory every corpus load uses for `~`.
pub const HOME: &str = "/home/user";

pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("TIERCTL_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("compose").is_dir() {
        Some(dir.canonicalize().unwrap_or(dir))
    } else {
        skipped!(
            "compose corpus not found at {} (set TIERCTL_CORPUS)",
            dir.display()
        );
        None
    }
}

/// Rebuilds the corpus's directory layout under `into` from the `path in repo` column of
/// `compose/SOURCES.md` (the saved names are flattened, so `include:`, `extends: file:` and
/// `.env` only resolve in the original layout). Returns the compose files, in the rebuilt tree.
pub fn rebuild(corpus: &Path, into: &Path) -> Vec<PathBuf> {
    let sources = std::fs::read_to_string(corpus.join("compose/SOURCES.md")).expect("SOURCES.md");
    let mut out = Vec::new();
    for row in sources
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("` |"))
    {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (Some(saved), Some(path)) = (cells.get(2), cells.get(4)) else {
            continue;
        };
        let saved = saved.trim_matches('`');
        let Some(repo_dir) = saved.split('/').next() else {
            continue;
        };
        let from = corpus.join("compose").join(saved);
        if !from.is_file() {
            continue;
        }
        // snippets keep their saved name; whole files go back to their path in the repository
        let rel = if path.contains("(lines") {
            saved.to_owned()
        } else {
            format!("{repo_dir}/{}", path.trim_matches('`'))
        };
        let to = into.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&from, &to).expect("copy");
        let name = to.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.ends_with(".yml") || name.ends_with(".yaml") || name.ends_with(".yml.template") {
            out.push(to);
        }
    }
    out.sort();
    out
}

pub fn env_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "env"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The load options for one project file: the file alone, every `*.env` file beside it, every
/// profile, its directory as the working directory.
pub fn load_options(file: &Path) -> LoadOptions {
    let dir = file.parent().expect("a compose file has a parent");
    LoadOptions {
        files: vec![file.to_path_buf()],
        env_files: env_files(dir),
        working_dir: dir.to_path_buf(),
        home: PathBuf::from(HOME),
        profiles: vec!["*".into()],
        ..LoadOptions::default()
    }
}

/// The compose file of every fixture project under `fixtures/` (a directory holding a compose
/// file by one of the default names), copied under `into` so nothing is written in the repository.
pub fn fixture_projects(into: &Path) -> Vec<PathBuf> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&fixtures).expect("fixtures/").flatten() {
        let dir = entry.path();
        let Some(name) = tierctl::compose::load::DEFAULT_FILES
            .iter()
            .find(|n| dir.join(n).is_file())
        else {
            continue;
        };
        let to = into.join(entry.file_name());
        std::fs::create_dir_all(&to).expect("mkdir");
        for file in std::fs::read_dir(&dir).expect("fixture dir").flatten() {
            if file.path().is_file() {
                std::fs::copy(file.path(), to.join(file.file_name())).expect("copy fixture");
            }
        }
        out.push(to.join(name));
    }
    out.sort();
    out
}
