//! Issue 20 item 6: the layers of `src/`, read from the code the way
//! `../shared/tools/structure.py` reads it.
//!
//! Every top-level module of the library sits in one layer: the pure core, the effects, or the
//! command line. The core references only core modules; an effect references no command-line
//! module; only `app` references `error`; and the graph of top-level modules has no circle. A
//! reference is any `crate::x` path (a `use crate::{a, b::{c, d}}` group, over as many lines as it
//! takes, names each of its members) or a `super::` path that climbs to the crate root, in
//! production code: items under `#[cfg(test)]` (and the files of `#[cfg(test)] mod x;`) are left
//! out, comments and doc links are not (a doc link to an effect is a dependency the core's own
//! crate could not keep).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The pure core: no filesystem, environment, clock, processes or engine (clippy.toml, denied in
/// src/lib.rs). Data in, data out.
const CORE: &[&str] = &[
    "compose",
    "database",
    "endpoint",
    "facts",
    "tiers",
    "share",
    "host",
    "swarm",
    "audit",
    "layout",
    "usage",
    "verify",
    "mounts",
    "plan",
    "rewrite",
    "template",
    "report",
    "move_plan",
];

/// The effects: the failpoints and journal file of every engine, the engine, the filesystem, the
/// VM readers, the probe, the lock, atomic writes, interrupts, the migrate run and the mover.
const EFFECTS: &[&str] = &[
    "durable",
    "tool_config",
    "fsx",
    "write",
    "interrupt",
    "tierfs",
    "probe",
    "engine",
    "vm",
    "lock",
    "leftovers",
    "stranded",
    "migrate",
    "mover",
];

/// The command line: arguments, settings, the error type with exit codes and hints, and one
/// orchestration file per command.
const TOP: &[&str] = &["cli", "settings", "error", "app"];

/// One reference from a file to a top-level module.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    /// The top-level module referred to.
    to: String,
    /// 1-based line of the reference.
    line: usize,
}

/// The referencing top-level module, the referenced one, and where (`file:line`).
type Edges = BTreeMap<String, BTreeMap<String, Vec<String>>>;

#[test]
fn issue20_item6_every_top_level_module_is_in_one_layer() {
    let src = src_dir();
    let mut unplaced = Vec::new();
    for module in top_level_modules(&src) {
        let layers = [CORE, EFFECTS, TOP]
            .iter()
            .filter(|layer| layer.contains(&module.as_str()))
            .count();
        if layers != 1 {
            unplaced.push(format!("`{module}` is in {layers} layers"));
        }
    }
    for listed in CORE.iter().chain(EFFECTS).chain(TOP) {
        if !top_level_modules(&src).contains(*listed) {
            unplaced.push(format!("`{listed}` is listed but not in src/"));
        }
    }
    assert!(
        unplaced.is_empty(),
        "place each top-level module in tests/it/layers.rs (and docs/ARCHITECTURE.md):\n{}",
        unplaced.join("\n")
    );
}

#[test]
fn issue20_item6_the_core_imports_no_effect_and_the_effects_no_command_line() {
    let violations = violations(&edges(&src_dir()));
    assert!(
        violations.is_empty(),
        "imports against the layers (move the type to the lowest layer that needs it):\n{}",
        violations.join("\n")
    );
}

#[test]
fn issue20_item6_no_circle_between_top_level_modules() {
    let edges = edges(&src_dir());
    let circle = circle(&edges);
    assert!(
        circle.is_none(),
        "the top-level modules import in a circle: {}",
        circle
            .map(|c| describe_circle(&c, &edges))
            .unwrap_or_default()
    );
}

#[test]
fn issue20_item6_lib_rs_denies_the_purity_lints_on_every_core_module() {
    let lib = std::fs::read_to_string(src_dir().join("lib.rs")).expect("src/lib.rs reads");
    let denied = denied_modules(&lib);
    let missing: Vec<&&str> = CORE.iter().filter(|m| !denied.contains(**m)).collect();
    assert!(
        missing.is_empty(),
        "src/lib.rs must put `#[deny(clippy::disallowed_methods, clippy::disallowed_types, \
         clippy::disallowed_macros)]` on core modules {missing:?}"
    );
}

#[test]
fn planted_core_module_without_the_deny_is_named() {
    let lib = "#[deny(\n    clippy::disallowed_methods,\n    clippy::disallowed_types,\n    \
               clippy::disallowed_macros\n)]\npub mod audit;\n\
               #[deny(clippy::disallowed_methods, clippy::disallowed_types)]\npub mod compose;\n\
               pub mod facts;\n";
    assert_eq!(denied_modules(lib), BTreeSet::from(["audit".to_owned()]));
}

#[test]
fn planted_core_to_effect_import_is_named() {
    let mut edges = Edges::new();
    add(
        &mut edges,
        "audit",
        "src/audit/finding.rs",
        "use crate::compose::model::MountId;\n",
    );
    add(
        &mut edges,
        "audit",
        "src/audit/planted.rs",
        "use crate::{\n    compose::origin::Place,\n    engine::{EngineInfo, Selector},\n};\n",
    );
    assert_eq!(
        violations(&edges),
        ["src/audit/planted.rs:3: `audit` (core) imports `engine` (effects)"]
    );
}

#[test]
fn planted_circle_is_found() {
    let mut edges = Edges::new();
    add(
        &mut edges,
        "lock",
        "src/lock.rs",
        "fn f(s: &crate::settings::Settings) {}\n",
    );
    add(
        &mut edges,
        "settings",
        "src/settings.rs",
        "use crate::lock;\n",
    );
    add(
        &mut edges,
        "host",
        "src/host.rs",
        "use crate::endpoint::Endpoint;\n",
    );
    let circle = circle(&edges).expect("lock -> settings -> lock");
    assert_eq!(circle, ["lock", "settings", "lock"]);
    assert_eq!(
        violations(&edges),
        ["src/lock.rs:1: `lock` (effects) imports `settings` (command line)"]
    );
}

#[test]
fn references_read_groups_super_paths_and_skip_test_code() {
    let text = r#"
use crate::{
    compose::{model::MountId, origin::Place},
    self as _,
    facts,
};
use super::super::engine::Helpers;
/// See [`crate::vm::view`].
fn f() -> crate::tiers::Tiers { let s = "crate::"; todo!() }
#[cfg(test)]
mod tests {
    use crate::write::timestamp;
    fn g() { let c = '}'; let t = "}"; }
}
#[cfg(test)]
fn only_in_tests() -> crate::lock::ProjectLock { todo!() }
fn after() { crate::interrupt::install(); }
"#;
    let module: Vec<String> = vec!["report".into(), "human".into()];
    let found: Vec<(String, usize)> = references(text, &module)
        .into_iter()
        .map(|r| (r.to, r.line))
        .collect();
    assert_eq!(
        found,
        [
            ("compose".to_owned(), 3),
            ("facts".to_owned(), 5),
            ("engine".to_owned(), 7),
            ("vm".to_owned(), 8),
            ("tiers".to_owned(), 9),
            ("interrupt".to_owned(), 17),
        ]
    );
    let test_modules = test_only_modules("#[cfg(test)]\nmod tests;\nmod real;\n");
    assert_eq!(test_modules, ["tests"]);
}

/// The `pub mod x;` of `lib` whose attributes deny all three purity lints.
fn denied_modules(lib: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut attributes = String::new();
    for line in lib.lines().map(str::trim) {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .and_then(|rest| rest.strip_suffix(';'))
        {
            let lints = [
                "clippy::disallowed_methods",
                "clippy::disallowed_types",
                "clippy::disallowed_macros",
            ];
            if attributes.contains("#[deny(") && lints.iter().all(|l| attributes.contains(l)) {
                out.insert(name.to_owned());
            }
            attributes.clear();
        } else if line.is_empty() || line.starts_with("//") {
            attributes.clear();
        } else {
            attributes.push_str(line);
        }
    }
    out
}

/// `CARGO_MANIFEST_DIR/src`.
fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The library's top-level modules: `src/x.rs` and `src/x/`, without `lib` and `main`.
fn top_level_modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .expect("src/ lists")
        .map(|e| e.expect("src/ entry").path())
        .filter_map(|p| {
            if p.is_dir() {
                p.file_name().map(|n| n.to_string_lossy().into_owned())
            } else if p.extension().is_some_and(|e| e == "rs") {
                p.file_stem().map(|n| n.to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .filter(|m| m != "lib" && m != "main")
        .collect()
}

/// Every reference between top-level modules in the production code of `src`.
fn edges(src: &Path) -> Edges {
    let tops = top_level_modules(src);
    let mut edges = Edges::new();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut skipped = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("source reads");
        let dir = file.parent().expect("a file has a directory");
        for name in test_only_modules(&text) {
            let base = if is_mod_root(file) {
                dir.to_path_buf()
            } else {
                dir.join(file.file_stem().expect("a file name"))
            };
            skipped.insert(base.join(format!("{name}.rs")));
            skipped.insert(base.join(&name).join("mod.rs"));
        }
    }
    for file in files.iter().filter(|f| !skipped.contains(*f)) {
        let module = module_path(src, file);
        let Some(from) = module.first() else {
            continue;
        };
        if from == "lib" || from == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("source reads");
        let shown = file
            .strip_prefix(src.parent().expect("src has a parent"))
            .unwrap_or(file)
            .display()
            .to_string();
        for reference in references(&text, &module) {
            if reference.to != *from && tops.contains(&reference.to) {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(reference.to)
                    .or_default()
                    .push(format!("{shown}:{}", reference.line));
            }
        }
    }
    edges
}

/// Test helper: the references of `text` as edges of `from`.
fn add(edges: &mut Edges, from: &str, file: &str, text: &str) {
    for reference in references(text, &[from.to_owned()]) {
        if reference.to != from {
            edges
                .entry(from.to_owned())
                .or_default()
                .entry(reference.to)
                .or_default()
                .push(format!("{file}:{}", reference.line));
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("directory lists")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_mod_root(file: &Path) -> bool {
    file.file_name().is_some_and(|n| n == "mod.rs")
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop()
        && last != "mod.rs"
    {
        parts.push(last.trim_end_matches(".rs").to_owned());
    }
    parts
}

/// What the layers allow, as violations with their places.
fn violations(edges: &Edges) -> Vec<String> {
    let layer = |m: &str| {
        if CORE.contains(&m) {
            "core"
        } else if EFFECTS.contains(&m) {
            "effects"
        } else {
            "command line"
        }
    };
    let mut out = Vec::new();
    for (from, tos) in edges {
        for (to, places) in tos {
            let allowed = match layer(from) {
                "core" => CORE.contains(&to.as_str()),
                "effects" => !TOP.contains(&to.as_str()),
                _ => to != "error" || from == "app",
            };
            if !allowed {
                for place in places {
                    out.push(format!(
                        "{place}: `{from}` ({}) imports `{to}` ({})",
                        layer(from),
                        layer(to)
                    ));
                }
            }
        }
    }
    out
}

/// A circle of top-level modules (first module repeated at the end), if there is one.
fn circle(edges: &Edges) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &Edges,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut circle = path[start..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flat_map(|t| t.keys()) {
            if let Some(found) = visit(next, edges, done, path) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut done, &mut Vec::new()))
}

fn describe_circle(circle: &[String], edges: &Edges) -> String {
    circle
        .windows(2)
        .map(|pair| {
            let first = edges
                .get(&pair[0])
                .and_then(|t| t.get(&pair[1]))
                .and_then(|places| places.first())
                .cloned()
                .unwrap_or_default();
            format!("{} -> {} ({first})", pair[0], pair[1])
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The modules `text` declares under `#[cfg(test)]` as files (`#[cfg(test)] mod tests;`).
fn test_only_modules(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        rest = &rest[at + "#[cfg(test)]".len()..];
        let item = rest.trim_start();
        let item = item.strip_prefix("pub(crate) ").unwrap_or(item);
        let item = item.strip_prefix("pub ").unwrap_or(item);
        if let Some(decl) = item.strip_prefix("mod ")
            && let Some(end) = decl.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            && decl[end..].starts_with(';')
        {
            out.push(decl[..end].to_owned());
        }
    }
    out
}

/// The top-level modules `text` (a file of module `module`) refers to, in order.
fn references(text: &str, module: &[String]) -> Vec<Reference> {
    let code = without_test_items(text);
    let bytes = code.as_bytes();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let starts_word = at == 0 || !is_ident(bytes[at - 1]);
        if starts_word && bytes[at..].starts_with(b"crate::") {
            let path = at + "crate::".len();
            for (name, start) in tree_heads(&code, path) {
                out.push(Reference {
                    to: name,
                    line: line_of(start),
                });
            }
            at = path;
            continue;
        }
        if starts_word && bytes[at..].starts_with(b"super::") {
            let mut climb = 0;
            let mut after = at;
            while bytes[after..].starts_with(b"super::") {
                climb += 1;
                after += "super::".len();
            }
            // `super` from a file of module a::b names a; climbing to the root names a crate
            // module.
            if climb >= module.len() {
                for (name, start) in tree_heads(&code, after) {
                    out.push(Reference {
                        to: name,
                        line: line_of(start),
                    });
                }
            }
            at = after;
            continue;
        }
        at += 1;
    }
    out
}

/// The first segment of each path in the use tree at `at`: `a::b` gives `a`, `{a, b::{c}}` gives
/// `a` and `b` (`self` is skipped); with each one's offset.
fn tree_heads(code: &str, at: usize) -> Vec<(String, usize)> {
    let bytes = code.as_bytes();
    if bytes.get(at) != Some(&b'{') {
        let end = ident_end(bytes, at);
        return if end > at && &code[at..end] != "self" {
            vec![(code[at..end].to_owned(), at)]
        } else {
            Vec::new()
        };
    }
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    let mut i = at;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                depth += 1;
                expect_head = depth == 1;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => expect_head = true,
            b if depth == 1 && expect_head && is_ident(b) => {
                let end = ident_end(bytes, i);
                if &code[i..end] != "self" {
                    heads.push((code[i..end].to_owned(), i));
                }
                expect_head = false;
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    heads
}

fn ident_end(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && is_ident(bytes[at]) {
        at += 1;
    }
    at
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `text` with every item under `#[cfg(test)]` blanked (its lines kept, so line numbers hold).
fn without_test_items(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let end = at + item_end(&rest[at..]);
        out.extend(rest[at..end].chars().filter(|c| *c == '\n'));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The length of the attribute and the item it stands on: to the `;` or the brace that closes
/// the item's first brace, skipping strings, characters and comments.
fn item_end(item: &str) -> usize {
    let bytes = item.as_bytes();
    let mut depth = 0usize;
    let mut i = "#[cfg(test)]".len();
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && &bytes[i..i + 2] != b"*/" {
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'r' if (i == 0 || !is_ident(bytes[i - 1]))
                && matches!(bytes.get(i + 1), Some(b'"' | b'#')) =>
            {
                let hashes = item[i + 1..].bytes().take_while(|b| *b == b'#').count();
                let open = i + 1 + hashes;
                if bytes.get(open) == Some(&b'"') {
                    let close = format!("\"{}", "#".repeat(hashes));
                    i = item[open + 1..]
                        .find(&close)
                        .map_or(bytes.len(), |e| open + 1 + e + close.len());
                    continue;
                }
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' => {
                // a character literal ('x', '\n', '\u{7f}'), not a lifetime ('a)
                if bytes.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                } else if let Some(c) = item[i + 1..].chars().next()
                    && item[i + 1 + c.len_utf8()..].starts_with('\'')
                {
                    i += 1 + c.len_utf8();
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            b';' if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}
