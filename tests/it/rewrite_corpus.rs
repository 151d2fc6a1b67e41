//! Rewrite conformance over the shared corpus (skipped when absent): with tiers that send
//! everything to temp tiers, the rewritten text (1) parses, (2) still validates against the
//! compose spec schema, (3) keeps every comment line, (4) is idempotent, (5) differs only on
//! lines holding changed sources. Writes a summary to `rewrite-corpus-summary.txt`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tierctl::compose::load::{LoadOptions, load};
use tierctl::plan::{EditKind, Input, Plan, plan};
use tierctl::probe::{self, DiskFiles};
use tierctl::rewrite;

use crate::corpus_tree::{corpus_dir, rebuild};

fn options(file: &Path) -> LoadOptions {
    let dir = file.parent().expect("parent");
    LoadOptions {
        files: vec![file.to_path_buf()],
        working_dir: dir.to_path_buf(),
        home: PathBuf::from("/home/user"),
        profiles: vec!["*".into()],
        ..LoadOptions::default()
    }
}

struct Outcome {
    plan: Plan,
    patched: Vec<rewrite::Patched>,
    took: Duration,
}

fn run(file: &Path, tiers: &tierctl::tiers::Tiers) -> Option<Outcome> {
    let opts = options(file);
    let project = load(&opts, &DiskFiles).ok()?;
    let start = Instant::now();
    let facts = probe::paths(tierctl::audit::host_paths(&project));
    let plan = plan(&Input {
        project: &project,
        tiers,
        facts: &facts,
        strict_binds: false,
        mode: tierctl::audit::Mode::Rewrite,
    });
    let took = start.elapsed();
    let patched = rewrite::patch(&plan, &project)
        .unwrap_or_else(|e| panic!("{}: patch failed: {e}", file.display()));
    rewrite::check_reload(&plan, &project, &opts, &DiskFiles, &patched)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    Some(Outcome {
        plan,
        patched,
        took,
    })
}

fn comment_lines(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect();
    out.sort_unstable();
    out
}

fn to_json(text: &str) -> Option<serde_json::Value> {
    let yaml: serde_norway::Value = serde_norway::from_str(text).ok()?;
    serde_json::to_value(yaml).ok()
}

/// 1-based line range of the top-level `volumes:` block.
fn top_volumes_block(text: &str) -> Option<std::ops::Range<usize>> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("volumes:"))?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| !l.is_empty() && !l.starts_with([' ', '\t', '#']))
        .map_or(lines.len(), |i| start + 1 + i);
    Some(start + 1..end + 1)
}

#[test]
fn corpus_rewrites_conform() {
    let Some(corpus) = corpus_dir() else { return };
    let schema_text =
        std::fs::read_to_string(corpus.join("compose-spec.schema.json")).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&schema_text).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let tree = tempfile::tempdir().expect("temp dir");
    let root = tree.path().canonicalize().expect("canonical");
    let files = rebuild(&corpus, &root.join("tree"));
    let tiers_text = format!(
        "tiers:\n  fast: {{ root: {0}/fast }}\n  warm: {{ root: {0}/warm }}\n  cold: {{ root: {0}/cold }}\n",
        root.display()
    );
    let tiers = tierctl::tiers::load(Path::new("tiers.yaml"), &tiers_text).expect("tiers");
    let (mut rewritten, mut mounts, mut removed) = (0, 0, 0);
    let mut left: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut manual: BTreeMap<String, usize> = BTreeMap::new();
    let mut times = Vec::new();
    for file in &files {
        let Some(outcome) = run(file, &tiers) else {
            continue;
        };
        times.push(outcome.took);
        for l in &outcome.plan.left_alone {
            *left.entry(l.reason.as_str()).or_default() += 1;
        }
        for m in &outcome.plan.manual {
            let kind = m.reason.split(':').next().unwrap_or_default().to_owned();
            *manual.entry(kind).or_default() += 1;
        }
        if outcome.patched.is_empty() {
            continue;
        }
        rewritten += 1;
        mounts += outcome.plan.changes.len();
        removed += outcome.plan.removed_volumes.len();
        let olds: Vec<String> = outcome
            .plan
            .edits
            .iter()
            .filter_map(|e| match &e.kind {
                EditKind::Scalar { old, .. } => Some(old.clone()),
                EditKind::EnvLine { old, .. } => Some(old.clone()),
                _ => None,
            })
            .collect();
        for p in &outcome.patched {
            let name = p.file.display();
            let is_yaml = !p.file.to_string_lossy().ends_with(".env");
            if is_yaml {
                let new = to_json(&p.new)
                    .unwrap_or_else(|| panic!("{name}: rewritten text does not parse"));
                if to_json(&p.old).is_some_and(|old| validator.is_valid(&old)) {
                    assert!(
                        validator.is_valid(&new),
                        "{name}: rewritten text fails the schema"
                    );
                }
            }
            // every comment line stays but those directly above a removed top-level volume
            let mut kept = comment_lines(&p.old);
            for gone in outcome.plan.edits.iter().filter_map(|e| match &e.kind {
                EditKind::RemoveVolume { comments, .. } if e.file == p.file => Some(comments),
                _ => None,
            }) {
                for line in gone {
                    let at = kept.iter().position(|l| l == line);
                    kept.remove(at.unwrap_or_else(|| panic!("{name}: `{line}` is no comment")));
                }
            }
            assert_eq!(kept, comment_lines(&p.new), "{name}: comment lines");
            let block = top_volumes_block(&p.old);
            for (line, old, _) in tierctl::report::diff::line_patches(p) {
                for (k, l) in old.lines().enumerate() {
                    let t = l.trim().trim_start_matches("- ");
                    let in_removed = !outcome.plan.removed_volumes.is_empty()
                        && block.as_ref().is_some_and(|b| b.contains(&(line + k)));
                    let ok = olds.iter().any(|o| l.contains(o.as_str()))
                        || t.starts_with("type:")
                        || t.starts_with("volume:")
                        || t.starts_with("nocopy:")
                        || t.starts_with("subpath:")
                        || t.starts_with("volumes:")
                        || outcome
                            .plan
                            .removed_volumes
                            .iter()
                            .any(|k| t.starts_with(&format!("{k}:")))
                        || t.starts_with("driver:")
                        || t.starts_with("labels:")
                        || in_removed
                        || t.is_empty();
                    assert!(
                        ok,
                        "{name}:{line}: `{l}` changed but holds no changed source"
                    );
                }
            }
            std::fs::write(&p.file, &p.new).expect("write rewritten");
        }
        let again = run(file, &tiers).expect("rewritten project loads");
        assert!(
            again.patched.is_empty(),
            "{}: second rewrite changes {:?}",
            file.display(),
            again.patched.iter().map(|p| &p.file).collect::<Vec<_>>()
        );
    }
    times.sort();
    let median = times.get(times.len() / 2).copied().unwrap_or_default();
    let summary = format!(
        "rewrite corpus summary: {} files, {rewritten} rewritten, {mounts} mounts rewritten, {removed} top-level volumes removed, left alone {left:?}, manual {manual:?}, median plan {median:?}",
        files.len()
    );
    eprintln!("{summary}");
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("rewrite-corpus-summary.txt"),
        format!("{summary}\n"),
    );
    assert!(rewritten > 0, "the corpus has named volumes to rewrite");
}
