//! Every compose file of the shared corpus (`TIERCTL_CORPUS`, default `../shared/corpus`):
//! each loads or fails with a clear error, every volume entry is found at the right line,
//! nothing panics. Prints a one-line summary.

use std::collections::BTreeMap;
use std::path::Path;

use serde_norway::Value;
use tierctl::audit::{self, Context};
use tierctl::compose::error::ComposeError;
use tierctl::compose::load::load;
use tierctl::probe::{self, DiskFiles};

use crate::corpus_tree::{corpus_dir, load_options, rebuild};

/// Number of entries of `services.<name>.volumes` as written (no merge keys, no extends).
fn written_volume_counts(text: &str) -> Option<BTreeMap<String, usize>> {
    let v: Value = serde_norway::from_str(text).ok()?;
    let services = v.get("services")?.as_mapping()?;
    let mut out = BTreeMap::new();
    for (name, def) in services {
        let count = def
            .get("volumes")
            .and_then(Value::as_sequence)
            .map_or(0, Vec::len);
        out.insert(name.as_str()?.to_owned(), count);
    }
    Some(out)
}

#[test]
fn corpus_loads_and_locates_every_volume() {
    let Some(corpus) = corpus_dir() else { return };
    let tree = tempfile::tempdir().expect("temp dir");
    let root = tree.path().canonicalize().expect("canonical");
    let files = rebuild(&corpus, &root);
    assert!(!files.is_empty(), "corpus has compose files");
    let tiers_text = "tiers:\n  fast: { root: /tmp/tierctl-corpus/fast }\n  warm: { root: /tmp/tierctl-corpus/warm }\n  cold: { root: /tmp/tierctl-corpus/cold }\n";
    let tiers = tierctl::tiers::load(Path::new("tiers.yaml"), tiers_text).expect("tiers parse");
    let (mut loaded, mut mounts) = (0, 0);
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_check: BTreeMap<&'static str, usize> = BTreeMap::new();
    for file in &files {
        let dir = file.parent().expect("parent");
        let opts = load_options(file);
        let result = std::panic::catch_unwind(|| load(&opts, &DiskFiles));
        let project = match result {
            Err(_) => panic!("loader panicked on {}", file.display()),
            Ok(Err(err)) => {
                let kind = match &err {
                    ComposeError::IncludeMissing { .. } => "include-or-extends-file-missing",
                    ComposeError::Read { .. } => "unreadable",
                    ComposeError::Interpolation { .. } => "interpolation",
                    ComposeError::Spec { .. } => "spec",
                    ComposeError::Yaml { .. } => "yaml",
                    ComposeError::Volume { .. } => "volume-syntax",
                    ComposeError::UnsetSourceVariable { .. } => "unset-source-variable",
                    _ => "other",
                };
                let text = err.to_string();
                assert!(
                    text.contains(&file.display().to_string())
                        || text.contains(&dir.display().to_string()),
                    "error for {} names no file: {text}",
                    file.display()
                );
                eprintln!("corpus: {text}");
                *failures.entry(kind.to_owned()).or_default() += 1;
                continue;
            }
            Ok(Ok(p)) => p,
        };
        loaded += 1;
        let text = std::fs::read_to_string(file).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        let single_file =
            project.files.len() == 1 && !text.contains("<<") && !text.contains("extends");
        let written = written_volume_counts(&text).unwrap_or_default();
        for service in project.services.values() {
            if single_file {
                assert_eq!(
                    service.mounts.len(),
                    written.get(&service.name).copied().unwrap_or(0),
                    "{}: service {} mount count",
                    file.display(),
                    service.name
                );
            }
            for m in &service.mounts {
                mounts += 1;
                let pos = m.origin.position.unwrap_or_else(|| {
                    panic!(
                        "{}: {} {} has no position",
                        file.display(),
                        service.name,
                        m.target
                    )
                });
                let origin_text = std::fs::read_to_string(&m.origin.file).expect("read origin");
                let line = origin_text.lines().nth(pos.line - 1).expect("line exists");
                let at: String = line.chars().skip(pos.column - 1).collect();
                let first = m.origin.text.lines().next().unwrap_or_default();
                assert!(
                    at.starts_with(first),
                    "{}:{}:{}: expected `{first}` at the origin, found `{at}`",
                    m.origin.file.display(),
                    pos.line,
                    pos.column
                );
                if m.origin.file == *file {
                    assert!(pos.line <= lines.len());
                }
            }
        }
        let facts = probe::paths(audit::host_paths(&project));
        for f in audit::audit(&Context {
            project: &project,
            tiers: &tiers,
            facts: &facts,
        }) {
            *by_check.entry(f.check.id()).or_default() += 1;
        }
    }
    let failed: usize = failures.values().sum();
    let summary = format!(
        "corpus summary: {} files, {loaded} loaded, {failed} failed {:?}, {mounts} mounts, findings {:?}",
        files.len(),
        failures,
        by_check
    );
    eprintln!("{summary}");
    // cargo test hides the output of passing tests: CI prints this file
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-summary.txt"),
        format!("{summary}\n"),
    );
    assert!(
        loaded * 10 >= files.len() * 8,
        "at least 80% of the corpus loads"
    );
    assert!(
        failures.keys().all(|k| k != "other" && k != "yaml"),
        "only expected failure kinds: {failures:?}"
    );
}
