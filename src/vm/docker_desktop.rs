//! Docker Desktop for Mac: the file-sharing list in
//! `~/Library/Group Containers/group.com.docker/settings-store.json` (4.35+) or the legacy
//! `settings.json`, keys read case-insensitively (`FilesharingDirectories` /
//! `filesharingDirectories`). Shares appear in the VM at the same path and are writable.
//! Without the key Docker Desktop shares `/Users`, `/Volumes`, `/private`, `/tmp` and
//! `/var/folders`. Its synchronized file shares come from its API, not from these files
//! ([`synchronized`]).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{
    HostConfig, Share, VmEngine, VmError, VmShares, expand_tilde, read_optional, synchronized,
};

/// Docker Desktop's settings directory under the home directory.
pub const SETTINGS_DIR: &str = "Library/Group Containers/group.com.docker";

/// The shares Docker Desktop uses when the settings do not list any.
pub const DEFAULT_SHARES: [&str; 5] = ["/Users", "/Volumes", "/private", "/tmp", "/var/folders"];

/// Read Docker Desktop's file-sharing list (`instance` is ignored: there is one VM).
pub fn read(host: HostConfig<'_>, _instance: Option<&str>) -> Result<VmShares, VmError> {
    let HostConfig { files, home, .. } = host;
    let dir = home.join(SETTINGS_DIR);
    let hint = "fix the JSON, or quit Docker Desktop, move the file aside and let it write a fresh one (Settings > Resources > File sharing)";
    let mut notes = Vec::new();
    let mut source_files = Vec::new();
    let mut settings: Option<(PathBuf, Value)> = None;
    for name in ["settings-store.json", "settings.json"] {
        let path = dir.join(name);
        if let Some(text) = read_optional(files, &path, hint)? {
            let value: Value =
                serde_json::from_str(&text).map_err(|e| VmError::json(&path, &e, hint))?;
            source_files.push(path.clone());
            settings = Some((path, value));
            break;
        }
    }
    let (dirs, mount_type) = match &settings {
        Some((path, value)) => (sharing_dirs(path, value, hint)?, mount_type(value)),
        None => {
            notes.push(format!(
                "no settings in `{}`: Docker Desktop's default shares apply",
                dir.display()
            ));
            (None, None)
        }
    };
    let dirs = dirs.unwrap_or_else(|| {
        if settings.is_some() {
            notes.push("no `FilesharingDirectories`: Docker Desktop's default shares apply".into());
        }
        DEFAULT_SHARES.iter().map(|s| s.to_string()).collect()
    });
    notes.extend(implementation_note(mount_type.as_deref()));
    // synchronized file shares first: a bind of their directory uses them, not the virtual share
    let mut shares = synchronized_shares(files, home, &mut notes);
    shares.extend(
        dirs.iter()
            .map(|d| Share::same_path(expand_tilde(d, home), true, mount_type.as_deref())),
    );
    Ok(VmShares {
        engine: VmEngine::DockerDesktop,
        instance: None,
        shares,
        source_files,
        notes,
    })
}

/// The synchronized file shares Docker Desktop's API lists ([`synchronized`]), each with a
/// note on what it keeps. None when the API socket is not there (Docker Desktop does not run
/// on this machine); a note when it does not answer as it should.
fn synchronized_shares(
    files: &dyn super::ConfigFiles,
    home: &Path,
    notes: &mut Vec<String>,
) -> Vec<Share> {
    let socket = home.join(synchronized::API_SOCKET);
    let text = match files.local_api(&socket, synchronized::API_PATH) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            notes.push(format!(
                "synchronized file shares: not read (Docker Desktop's API on `{}`: {e})",
                socket.display()
            ));
            return Vec::new();
        }
    };
    match synchronized::parse(&text, &socket) {
        Ok(found) => found
            .into_iter()
            .map(|(share, status)| {
                notes.push(synchronized::note(&share, status.as_deref()));
                share
            })
            .collect(),
        Err(e) => {
            notes.push(format!("synchronized file shares: not read ({e})"));
            Vec::new()
        }
    }
}

/// What the file-sharing implementation means for the data on it.
///
/// Docker Desktop keeps the owner a container sets with `chown` in an extended attribute of the
/// host file (`com.docker.grpcfuse.ownership`, as orbstack#1587 found), not in the file's owner:
/// the container sees it, the host and a later copy do not.
fn implementation_note(mount_type: Option<&str>) -> Option<String> {
    let what = match mount_type {
        None => "file-sharing implementation not set: recent Docker Desktop uses VirtioFS",
        Some("virtiofs") | Some("grpcfuse") => {
            "Docker Desktop keeps a container's `chown` in an extended attribute (`com.docker.grpcfuse.ownership`): the host file keeps your user as owner"
        }
        Some(_) => {
            "file sharing is osxfs (Docker Desktop's legacy implementation, both VirtioFS and gRPC FUSE off): a container's `chown` does not reach the host file"
        }
    };
    Some(what.to_owned())
}

/// A top-level key, case-insensitively.
fn key<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn sharing_dirs(path: &Path, value: &Value, hint: &str) -> Result<Option<Vec<String>>, VmError> {
    let Some(list) = key(value, "filesharingDirectories") else {
        return Ok(None);
    };
    let invalid = || VmError::Invalid {
        path: path.to_owned(),
        message: "`FilesharingDirectories` is not a list of paths".into(),
        hint: hint.to_owned(),
    };
    list.as_array()
        .ok_or_else(invalid)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(invalid))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `virtiofs` or `grpcfuse` from `UseVirtualizationFrameworkVirtioFS` / `UseGrpcfuse`.
fn mount_type(value: &Value) -> Option<String> {
    let flag = |name: &str| key(value, name).and_then(Value::as_bool);
    match (
        flag("UseVirtualizationFrameworkVirtioFS"),
        flag("UseGrpcfuse"),
    ) {
        (Some(true), _) => Some("virtiofs".into()),
        (_, Some(true)) | (Some(false), None) => Some("grpcfuse".into()),
        (_, Some(false)) => Some("osxfs".into()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::EnvVars;
    use crate::vm::testfiles::{HOME, MemFiles, corpus_engines, fixture, text};

    fn store(name: &str, json: &str) -> MemFiles {
        MemFiles::new().file(Path::new(HOME).join(SETTINGS_DIR).join(name), json)
    }

    fn read_it(files: &MemFiles) -> Result<VmShares, VmError> {
        read(
            HostConfig::new(files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
    }

    #[test]
    fn settings_store_with_virtiofs() {
        let files = store(
            "settings-store.json",
            r#"{"FilesharingDirectories":["/Users","/Volumes/fast"],"UseVirtualizationFrameworkVirtioFS":true}"#,
        );
        let got = read_it(&files).expect("reads");
        assert_eq!(
            got.shares,
            vec![
                Share::same_path("/Users", true, Some("virtiofs")),
                Share::same_path("/Volumes/fast", true, Some("virtiofs"))
            ]
        );
        assert_eq!(got.notes.len(), 1, "{:?}", got.notes);
        assert!(got.notes[0].contains("com.docker.grpcfuse.ownership"));
    }

    #[test]
    fn legacy_camel_case_and_grpcfuse() {
        let files = store(
            "settings.json",
            r#"{"filesharingDirectories":["/Users"],"useVirtualizationFrameworkVirtioFS":false}"#,
        );
        let got = read_it(&files).expect("reads");
        assert_eq!(
            got.shares,
            vec![Share::same_path("/Users", true, Some("grpcfuse"))]
        );
    }

    #[test]
    fn store_wins_over_legacy() {
        let files = store(
            "settings-store.json",
            r#"{"FilesharingDirectories":["/a"]}"#,
        )
        .file(
            Path::new(HOME).join(SETTINGS_DIR).join("settings.json"),
            r#"{"filesharingDirectories":["/b"]}"#,
        );
        assert_eq!(
            read_it(&files).expect("reads").shares[0].host,
            PathBuf::from("/a")
        );
    }

    #[test]
    fn defaults_when_absent() {
        let got = read_it(&MemFiles::new()).expect("reads");
        let hosts: Vec<_> = got.shares.iter().map(|s| s.host.clone()).collect();
        assert_eq!(
            hosts,
            DEFAULT_SHARES.iter().map(PathBuf::from).collect::<Vec<_>>()
        );
        let got = read_it(&store("settings-store.json", r#"{"AutoStart":true}"#)).expect("reads");
        assert_eq!(got.shares.len(), 5);
    }

    #[test]
    fn bad_json_names_file_and_line() {
        let err = read_it(&store(
            "settings-store.json",
            "{\n\"FilesharingDirectories\": [\"/Users\",]\n}",
        ))
        .expect_err("bad");
        assert!(
            matches!(&err, VmError::Parse { line: Some(2), .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("settings-store.json` line 2"),
            "{err}"
        );
        let err = read_it(&store(
            "settings-store.json",
            r#"{"FilesharingDirectories":"/Users"}"#,
        ))
        .expect_err("shape");
        assert!(matches!(err, VmError::Invalid { .. }));
    }

    #[test]
    fn fixture_settings() {
        let files = store(
            "settings-store.json",
            &text(&fixture("docker-desktop/settings-store.json")),
        );
        let got = read_it(&files).expect("reads");
        assert_eq!(got.shares.len(), 3);
        assert_eq!(
            got.shares[2],
            Share::same_path("/Volumes/faststore", true, Some("virtiofs"))
        );
    }

    /// Issue 22 item 4: the synchronized file shares Docker Desktop's API lists come first (a
    /// bind of their directory uses them), eventually consistent, with what they keep noted; a
    /// database on one is `db-on-vm-share` and `migrate` refuses to move one there.
    #[test]
    fn issue22_synchronized_file_shares_before_the_virtual_ones() {
        let socket = Path::new(HOME).join(synchronized::API_SOCKET);
        let files = store(
            "settings-store.json",
            &text(&fixture("docker-desktop/settings-store.json")),
        )
        .answer(
            &socket,
            synchronized::API_PATH,
            &text(&fixture("docker-desktop/mutagen-file-shares.json")),
        );
        let got = read_it(&files).expect("reads");
        assert_eq!(got.shares.len(), 5, "{:?}", got.shares);
        assert_eq!(
            got.shares[1],
            Share::same_path("/Users/alice/media/db", true, Some("synchronized"))
        );
        let db = Path::new("/Users/alice/media/db/pg");
        assert_eq!(
            crate::share::share_for(&got.shares, db).and_then(|s| s.mount_type.as_deref()),
            Some("synchronized")
        );
        assert_eq!(
            crate::share::share_for(&got.shares, Path::new("/Users/alice/other"))
                .and_then(|s| s.mount_type.as_deref()),
            Some("virtiofs")
        );
        assert!(
            got.notes.iter().any(|n| n.starts_with(
                "synchronized file share `/Users/alice/media/db` (staging-beta): a copy inside the VM"
            )),
            "{:?}",
            got.notes
        );
        // migrate: a database volume onto the synchronized share is refused unless --force
        let project = crate::compose::load::one_file::project(
            "services:\n  db:\n    image: postgres:16\n    volumes: [pg:/var/lib/postgresql/data]\nvolumes:\n  pg: {}\n",
        );
        let view = crate::share::VmView {
            engine: crate::endpoint::EngineGuess::DockerDesktop,
            shares: Some(got.clone()),
        };
        let refused = crate::database::migrate_verdict(&project, [("pg", db)], &view, false)
            .expect_err("refused");
        assert!(
            refused.problems[0].contains("synchronized VM share"),
            "{}",
            refused.problems[0]
        );
        assert!(crate::database::migrate_verdict(&project, [("pg", db)], &view, true).is_ok());
        // no API socket (Docker Desktop not running here): no note; a broken answer: a note
        let quiet = read_it(&store("settings-store.json", "{}")).expect("reads");
        assert!(!quiet.notes.iter().any(|n| n.contains("synchronized")));
        let broken = read_it(&store("settings-store.json", "{}").answer(
            &socket,
            synchronized::API_PATH,
            "{}",
        ))
        .expect("reads");
        assert!(
            broken
                .notes
                .iter()
                .any(|n| n.starts_with("synchronized file shares: not read")),
            "{:?}",
            broken.notes
        );
    }

    /// Issue 22 item 4: the file-sharing implementation (VirtioFS, gRPC FUSE, osxfs) from the
    /// settings file.
    #[test]
    fn issue22_each_file_sharing_implementation_from_its_settings() {
        for (file, mount_type, note) in [
            ("settings-store.json", "virtiofs", "grpcfuse.ownership"),
            (
                "filesharing-grpcfuse.json",
                "grpcfuse",
                "grpcfuse.ownership",
            ),
            ("filesharing-osxfs.json", "osxfs", "osxfs"),
        ] {
            let files = store(
                "settings-store.json",
                &text(&fixture(&format!("docker-desktop/{file}"))),
            );
            let got = read_it(&files).expect("reads");
            assert!(
                got.shares
                    .iter()
                    .all(|s| s.mount_type.as_deref() == Some(mount_type)),
                "{file}: {:?}",
                got.shares
            );
            assert!(
                got.notes.iter().any(|n| n.contains(note)),
                "{file}: {:?}",
                got.notes
            );
        }
    }

    #[test]
    fn corpus_settings() {
        let Some(engines) = corpus_engines() else {
            return;
        };
        for (file, name) in [
            (
                "docker-desktop/derived/settings-store.json",
                "settings-store.json",
            ),
            (
                "docker-desktop/derived/settings.legacy-4.34-and-earlier.json",
                "settings.json",
            ),
        ] {
            let got = read_it(&store(name, &text(&engines.join(file)))).expect("reads");
            let hosts: Vec<_> = got.shares.iter().map(|s| s.host.clone()).collect();
            assert_eq!(
                hosts,
                DEFAULT_SHARES.iter().map(PathBuf::from).collect::<Vec<_>>(),
                "{file}"
            );
            assert!(got.shares.iter().all(|s| s.writable && s.host == s.vm));
        }
        // the admin allow-list is not a share list: no FilesharingDirectories key in it
        let admin = text(&engines.join("docker-desktop/admin-settings.filesharing-excerpt.json"));
        let got = read_it(&store("settings-store.json", &admin)).expect("reads");
        assert!(
            got.notes
                .iter()
                .any(|n| n.contains("no `FilesharingDirectories`"))
        );
    }
}
