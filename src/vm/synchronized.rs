//! Docker Desktop's **synchronized file shares** (4.27+, Pro/Team/Business): a host directory
//! copied into an ext4 cache inside the VM and kept in sync both ways by Mutagen. A bind mount
//! of that directory or below it uses the copy instead of the virtual file share (VirtioFS, gRPC
//! FUSE); Docker Desktop's docs: "Synchronized file shares"
//! (docs.docker.com/desktop/features/synchronized-file-sharing/).
//!
//! They are not in `settings-store.json` (its documented keys are the virtual shares'
//! `FilesharingDirectories`); Docker Desktop keeps them itself and lists them on its backend API,
//! `GET /mutagen/file-shares` on the socket its engine names in `docker info`
//! (`com.docker.desktop.address=unix:///Users/<me>/Library/Containers/com.docker.docker/Data/docker-cli.sock`),
//! which is what Compose reads to manage them. The list's keys are Compose's
//! (`internal/desktop/client.go` of docker/compose, `FileShareSession`): `identifier`, `alpha`
//! (`path`: the host directory), `beta` (`path`: the copy in the VM), `labels`, `status`.
//! Sample: `fixtures/engines/docker-desktop/mutagen-file-shares.json`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Share, VmError};

/// The API socket under the home directory (the `com.docker.desktop.address` of `docker info`).
pub const API_SOCKET: &str = "Library/Containers/com.docker.docker/Data/docker-cli.sock";

/// The API path that lists the synchronized file shares.
pub const API_PATH: &str = "/mutagen/file-shares";

/// The mount type tierctl gives a synchronized file share.
pub const MOUNT_TYPE: &str = "synchronized";

/// What a synchronized file share keeps, for the `vm` view's notes.
pub const KEEPS: &str = "a copy inside the VM (ext4) that Mutagen syncs both ways, eventually: a change reaches the other side after a delay, and changes on both sides at once conflict; a container's chown stays in the VM's copy and does not reach the host file; inotify in containers works on the copy (host changes raise events once synced in)";

/// One session of the API's list; only what tierctl uses.
#[derive(Debug, Deserialize)]
struct Session {
    alpha: Endpoint,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    path: PathBuf,
}

/// The synchronized file shares in the API's answer (`source` names where it came from in
/// errors), each with its status when the API gives one.
pub fn parse(text: &str, source: &Path) -> Result<Vec<(Share, Option<String>)>, VmError> {
    let hint = "Docker Desktop answered its file-shares API with something else than a list of sessions: update tierctl, or report it";
    let sessions: Vec<Session> =
        serde_json::from_str(text).map_err(|e| VmError::json(source, &e, hint))?;
    Ok(sessions
        .into_iter()
        .map(|s| {
            (
                Share::same_path(s.alpha.path, true, Some(MOUNT_TYPE)),
                s.status,
            )
        })
        .collect())
}

/// The note for one synchronized share.
pub fn note(share: &Share, status: Option<&str>) -> String {
    let status = status.map(|s| format!(" ({s})")).unwrap_or_default();
    format!(
        "synchronized file share `{}`{status}: {KEEPS}",
        share.host.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::testfiles::{fixture, text};

    #[test]
    fn issue22_synchronized_file_shares_from_docker_desktops_list() {
        let got = parse(
            &text(&fixture("docker-desktop/mutagen-file-shares.json")),
            Path::new("api"),
        )
        .expect("parses");
        assert_eq!(
            got,
            vec![
                (
                    Share::same_path("/Users/alice/src/monorepo", true, Some("synchronized")),
                    Some("watching".into())
                ),
                (
                    Share::same_path("/Users/alice/media/db", true, Some("synchronized")),
                    Some("staging-beta".into())
                ),
            ]
        );
        let note = note(&got[0].0, got[0].1.as_deref());
        assert!(note.starts_with("synchronized file share `/Users/alice/src/monorepo` (watching): a copy inside the VM"), "{note}");
        assert!(note.contains("does not reach the host"), "{note}");
        assert!(note.contains("eventually"), "{note}");
        assert!(parse("[]", Path::new("api")).expect("empty").is_empty());
        assert!(matches!(
            parse(r#"{"message":"not found"}"#, Path::new("api")),
            Err(VmError::Parse { .. })
        ));
    }
}
