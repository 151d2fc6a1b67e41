use super::*;

struct Item<'a> {
    path: &'a str,
    kind: tar::EntryType,
    uid: u64,
    mode: u32,
    mtime: u64,
    data: &'a [u8],
    link: Option<&'a str>,
}

fn item(path: &str, kind: tar::EntryType) -> Item<'_> {
    Item {
        path,
        kind,
        uid: 0,
        mode: 0o644,
        mtime: 1_600_000_000,
        data: b"",
        link: None,
    }
}

fn archive(items: &[Item<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for it in items {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(it.kind);
        header.set_uid(it.uid);
        header.set_gid(it.uid);
        header.set_mode(it.mode);
        header.set_mtime(it.mtime);
        header.set_size(it.data.len() as u64);
        if let Some(link) = it.link {
            header.set_link_name(link).expect("short link name");
        }
        header.set_path(it.path).expect("short path");
        header.set_cksum();
        builder.append(&header, it.data).expect("in-memory tar");
    }
    builder.into_inner().expect("in-memory tar")
}

fn tree() -> Vec<Item<'static>> {
    vec![
        Item {
            mode: 0o755,
            ..item("from/", tar::EntryType::Directory)
        },
        Item {
            uid: 999,
            mode: 0o600,
            data: b"hello",
            ..item("from/a", tar::EntryType::Regular)
        },
        Item {
            uid: 999,
            mode: 0o600,
            link: Some("from/a"),
            ..item("from/b", tar::EntryType::Link)
        },
        Item {
            link: Some("a"),
            ..item("from/c", tar::EntryType::Symlink)
        },
        item("from/f", tar::EntryType::Fifo),
        Item {
            uid: 70,
            mode: 0o700,
            ..item("from/sub/", tar::EntryType::Directory)
        },
    ]
}

fn read(bytes: &[u8]) -> Manifest {
    from_tar(bytes, Digest::Blake3, &AtomicU64::new(0)).expect("valid tar")
}

#[test]
fn reads_types_owners_modes_links_and_hardlink_groups() {
    let hashed = AtomicU64::new(0);
    let m = from_tar(archive(&tree()).as_slice(), Digest::Blake3, &hashed).expect("valid tar");
    assert_eq!(
        m.entries.keys().collect::<Vec<_>>(),
        [".", "a", "b", "c", "f", "sub"]
    );
    assert_eq!(hashed.load(Ordering::Relaxed), 5);
    let a = &m.entries["a"];
    assert_eq!((a.kind, a.uid, a.mode, a.size), (Kind::File, 999, 0o600, 5));
    assert_eq!(
        a.hash.as_ref().map(ToString::to_string).as_deref(),
        Some(blake3::hash(b"hello").to_hex().as_str())
    );
    assert_eq!(a.hardlink_group.as_deref(), Some("a"));
    assert_eq!(m.entries["b"].hardlink_group.as_deref(), Some("a"));
    assert_eq!(m.entries["b"].hash, a.hash);
    assert_eq!(m.entries["c"].link.as_deref(), Some("a"));
    assert_eq!(m.entries["c"].mtime, Some(1_600_000_000));
    assert_eq!(m.entries["f"].kind, Kind::Fifo);
    assert_eq!(m.entries["sub"].uid, 70);
    assert_eq!(m.bytes(), 5);
}

#[test]
fn the_same_tree_under_another_name_compares_equal() {
    let source = read(&archive(&tree()));
    let renamed: Vec<Item<'_>> = tree()
        .into_iter()
        .map(|mut it| {
            it.path = Box::leak(it.path.replacen("from", "to", 1).into_boxed_str());
            if it.kind == tar::EntryType::Link {
                it.link = Some("to/a");
            }
            it
        })
        .collect();
    let copy = read(&archive(&renamed));
    assert_eq!(compare(&source, &copy, Rules::default()), vec![]);
}

#[test]
fn reports_every_difference_exactly() {
    let source = read(&archive(&tree()));
    let mut items = tree();
    items[1].data = b"hellp";
    items[5].uid = 0;
    items.remove(4);
    items.push(item("from/extra", tar::EntryType::Regular));
    let copy = read(&archive(&items));
    let diffs: Vec<String> = compare(&source, &copy, Rules::default())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        diffs,
        [
            format!(
                "`a` content: source {}, copy {}",
                blake3::hash(b"hello").to_hex(),
                blake3::hash(b"hellp").to_hex()
            ),
            format!(
                "`b` content: source {}, copy {}",
                blake3::hash(b"hello").to_hex(),
                blake3::hash(b"hellp").to_hex()
            ),
            "`f` missing in the copy".to_owned(),
            "`sub` uid: source 70, copy 0".to_owned(),
            "`sub` gid: source 70, copy 0".to_owned(),
            "`extra` only in the copy".to_owned(),
        ]
    );
}

#[test]
fn a_broken_hardlink_group_is_a_difference() {
    let source = read(&archive(&tree()));
    let mut items = tree();
    items[2] = Item {
        uid: 999,
        mode: 0o600,
        data: b"hello",
        ..item("from/b", tar::EntryType::Regular)
    };
    let copy = read(&archive(&items));
    let diffs = compare(&source, &copy, Rules::default());
    assert_eq!(
        diffs,
        vec![
            Difference::Changed {
                path: "a".into(),
                field: "hardlinks",
                source: "a".into(),
                copy: "-".into()
            },
            Difference::Changed {
                path: "b".into(),
                field: "hardlinks",
                source: "a".into(),
                copy: "-".into()
            },
        ]
    );
}

#[test]
fn root_attributes_can_be_left_out() {
    let source = read(&archive(&tree()));
    let mut items = tree();
    items[0].mode = 0o700;
    let copy = read(&archive(&items));
    assert_eq!(compare(&source, &copy, Rules::default()).len(), 1);
    let rules = Rules {
        root_attributes: false,
        ..Rules::default()
    };
    assert_eq!(compare(&source, &copy, rules), vec![]);
}

#[test]
fn the_digest_is_chosen_and_recorded() {
    let m = from_tar(
        archive(&tree()).as_slice(),
        Digest::Sha256,
        &AtomicU64::new(0),
    )
    .expect("valid tar");
    assert_eq!(m.digest, Digest::Sha256);
    assert_eq!(
        m.entries["a"]
            .hash
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
    assert_eq!(read(&archive(&tree())).digest, Digest::Blake3);
    // a manifest journaled before the field existed is BLAKE3
    let old: Manifest = serde_json::from_str(r#"{"entries":{}}"#).expect("json");
    assert_eq!(old.digest, Digest::Blake3);
    assert_eq!(
        (Digest::Blake3.to_string(), Digest::Sha256.to_string()),
        ("blake3".to_owned(), "sha256".to_owned())
    );
}

/// Issue 21 item 7: a manifest journaled before extended attributes and symlink times were
/// recorded compares with one read now: what it lacks is not compared; what both have is,
/// by name.
#[test]
fn issue21_a_manifest_without_xattrs_or_symlink_times_compares_and_both_name_a_difference() {
    let old: Manifest = serde_json::from_str(
        r#"{"entries":{"l":{"kind":"symlink","size":0,"uid":0,"gid":0,"mode":511,"mtime":null,"link":"a","device":null,"hardlink_group":null,"hash":null}}}"#,
    )
    .expect("a manifest journaled before");
    let mut now = old.clone();
    let entry = now.entries.get_mut("l").expect("l");
    entry.mtime = Some(1_700_000_000);
    entry.xattrs = Some(Box::new(BTreeMap::from([(
        "trusted.x".to_owned(),
        xattr_digest(b"1"),
    )])));
    assert_eq!(compare(&old, &now, Rules::default()), vec![]);
    assert_eq!(compare(&now, &old, Rules::default()), vec![]);
    let mut copy = now.clone();
    let entry = copy.entries.get_mut("l").expect("l");
    entry.mtime = Some(1_700_000_001);
    entry.xattrs = Some(Box::default());
    let shown: Vec<String> = compare(&now, &copy, Rules::default())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        shown,
        [
            "`l` mtime: source 1700000000, copy 1700000001".to_owned(),
            format!(
                "`l` xattr: source trusted.x {}, copy trusted.x -",
                xattr_digest(b"1")
            ),
        ]
    );
    assert_eq!(compare(&now, &copy, Rules::copy(false)), vec![]);
    // a helper's manifest serialises as before: no `xattrs` field
    let text = serde_json::to_string(&old).expect("json");
    assert!(!text.contains("xattrs"), "{text}");
}

#[test]
fn relative_strips_the_archived_directory() {
    assert_eq!(relative("from/"), ".");
    assert_eq!(relative("from"), ".");
    assert_eq!(relative("from/a/b"), "a/b");
    assert_eq!(relative("to/.hidden/"), ".hidden");
}

/// Issue 23 item 6: hashes are kept as bytes now; a manifest and a `Known` as the last release
/// journaled them (`fixtures/side-files`, compact JSON as `side_file` writes it) read back with
/// the same hashes and write back byte for byte, so a resume across the upgrade compares them
/// as before.
#[test]
fn issue23_item6_side_files_of_the_last_release_read_and_write_back_unchanged() {
    let text = include_str!("../../../../fixtures/side-files/manifest.json");
    let m: Manifest = serde_json::from_str(text).expect("a manifest of the last release");
    let a = &m.entries["a"];
    assert!(matches!(a.hash, Some(ContentHash::Bytes(_))));
    assert_eq!(
        a.hash.as_ref().map(ToString::to_string).as_deref(),
        Some("87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7")
    );
    assert_eq!(a.hardlink_group.as_deref(), Some("a"));
    assert_eq!(m.entries["l"].link.as_deref(), Some("c"));
    assert_eq!(a.xattrs.as_ref().map(|x| x.len()), Some(1));
    assert_eq!(m.digest, Digest::Sha256);
    assert_eq!(serde_json::to_string(&m).expect("json"), text);
    assert_eq!(m.bytes(), 5);

    let text = include_str!("../../../../fixtures/side-files/known.json");
    let k: crate::migrate::tree::Known = serde_json::from_str(text).expect("a Known");
    let stamp = k.files["c"].stamp;
    assert_eq!(
        k.hash_of("c", Some(&stamp))
            .map(ToString::to_string)
            .as_deref(),
        Some("a81c31ac62620b9215a14ff00544cb07a55b765594f3ab3be77e70923ae27cf1")
    );
    assert_eq!(
        k.files["c"].hash,
        *m.entries["c"].hash.as_ref().expect("c's hash")
    );
    assert_eq!(serde_json::to_string(&k).expect("json"), text);
}
