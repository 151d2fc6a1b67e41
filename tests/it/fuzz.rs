//! Property tests of the loader on arbitrary input: it returns a project or an error that
//! names the file, and never panics. Any crash found becomes a regression test below.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tierctl::compose::load::{Files, LoadOptions, load};

/// Files held in memory.
struct MemFiles(BTreeMap<PathBuf, String>);

impl Files for MemFiles {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }
}

fn load_text(compose: &str, env: &str) -> Result<(), String> {
    let files = MemFiles(
        [
            (PathBuf::from("/p/compose.yaml"), compose.to_owned()),
            (PathBuf::from("/p/.env"), env.to_owned()),
            (
                PathBuf::from("/p/other.yaml"),
                "services:\n  base:\n    image: b\n    volumes: ['./b:/b']\n".to_owned(),
            ),
        ]
        .into_iter()
        .collect(),
    );
    let opts = LoadOptions {
        working_dir: PathBuf::from("/p"),
        home: PathBuf::from("/home/u"),
        ..LoadOptions::default()
    };
    match load(&opts, &files) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty());
            assert!(
                text.contains("/p/")
                    || text.contains("loop")
                    || text.contains("cycle")
                    || text.contains("project name"),
                "error names no file: {text}"
            );
            Err(text)
        }
    }
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z./~${}:_ -]{0,24}",
        Just("${A:-/x:y}:/d:ro,z".to_owned()),
        Just("C:\\data:/data".to_owned()),
        Just("*anchor".to_owned()),
        Just("!reset []".to_owned()),
        Just("{type: bind, source: ./s, target: /t}".to_owned()),
        Just("[a, b]".to_owned()),
        Just("${REQ:?needed}".to_owned()),
        Just("$$HOME".to_owned()),
    ]
}

fn compose_doc() -> impl Strategy<Value = String> {
    let service = (
        "[a-z]{1,6}",
        prop::collection::vec(scalar(), 0..4),
        prop::option::of(prop_oneof![
            Just("base".to_owned()),
            Just("{service: base, file: other.yaml}".to_owned()),
            "[a-z]{1,6}",
        ]),
        prop::bool::ANY,
    );
    (
        prop::collection::vec(service, 0..4),
        prop::collection::vec(("[a-z]{1,6}", scalar()), 0..3),
        prop::bool::ANY,
    )
        .prop_map(|(services, volumes, anchor)| {
            let mut out = String::new();
            if anchor {
                out.push_str("x-common: &anchor\n  - ./common:/common\n");
            }
            out.push_str("services:\n");
            for (name, mounts, extends, merge) in services {
                out.push_str(&format!("  {name}:\n    image: img\n"));
                if merge {
                    out.push_str("    <<: {restart: always}\n");
                }
                if let Some(base) = extends {
                    out.push_str(&format!("    extends: {base}\n"));
                }
                if !mounts.is_empty() {
                    out.push_str("    volumes:\n");
                    for m in mounts {
                        out.push_str(&format!("      - {m}\n"));
                    }
                }
            }
            if !volumes.is_empty() {
                out.push_str("volumes:\n");
                for (k, v) in volumes {
                    out.push_str(&format!("  {k}: {v}\n"));
                }
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn loader_never_panics_on_compose_like_documents(doc in compose_doc(), env in "[A-Z]{1,3}=[a-z/:$]{0,8}") {
        let _ = load_text(&doc, &env);
    }

    #[test]
    fn loader_never_panics_on_arbitrary_text(doc in "\\PC{0,200}", env in "\\PC{0,40}") {
        let _ = load_text(&doc, &env);
    }
}

#[test]
fn self_extending_service_is_a_loop_error() {
    let err = load_text("services:\n  a:\n    image: x\n    extends: a\n", "").expect_err("loop");
    assert!(err.contains("`extends` loop"), "{err}");
}

#[test]
fn alias_to_a_missing_anchor_is_a_yaml_error() {
    let err = load_text("services:\n  a: *nope\n", "").expect_err("bad alias");
    assert!(err.contains("compose.yaml"), "{err}");
}
