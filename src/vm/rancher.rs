//! Rancher Desktop on macOS: a Lima VM, instance `0`, under
//! `~/Library/Application Support/rancher-desktop/lima` (its `LIMA_HOME`), with Lima's
//! `_config/override.yaml` applied. When the VM has never started, the mounts Rancher Desktop
//! writes (lima.ts `getMounts`) are assumed: `~`, `/tmp/rancher-desktop`, `/Volumes`,
//! `/var/folders`, `/private/tmp`, `/private/var/folders`, all writable.

use super::lima::{self, read_layer};
use super::{HostConfig, Share, VmEngine, VmError, VmShares, expand_tilde};

/// Rancher Desktop's Lima home under the home directory.
pub const LIMA_DIR: &str = "Library/Application Support/rancher-desktop/lima";
/// Rancher Desktop's Lima instance.
pub const INSTANCE: &str = "0";
/// The mounts Rancher Desktop writes on macOS.
pub const DEFAULT_MOUNTS: [&str; 6] = [
    "~",
    "/tmp/rancher-desktop",
    "/Volumes",
    "/var/folders",
    "/private/tmp",
    "/private/var/folders",
];

/// Read Rancher Desktop's shares (`instance` is ignored: the instance is always `0`).
pub fn read(host: HostConfig<'_>, _instance: Option<&str>) -> Result<VmShares, VmError> {
    let HostConfig { files, home, .. } = host;
    let lima_dir = home.join(LIMA_DIR);
    let path = lima_dir.join(INSTANCE).join("lima.yaml");
    let hint = "Rancher Desktop rewrites this file on start: quit and restart Rancher Desktop";
    let Some(layer) = read_layer(files, path.clone(), hint)? else {
        return Ok(VmShares {
            engine: VmEngine::RancherDesktop,
            instance: Some(INSTANCE.to_owned()),
            shares: DEFAULT_MOUNTS
                .iter()
                .map(|m| Share::same_path(expand_tilde(m, home), true, None))
                .collect(),
            source_files: Vec::new(),
            notes: vec![format!(
                "no `{}`: assuming the mounts Rancher Desktop writes",
                path.display()
            )],
        });
    };
    let layered = lima::read_with_config_layers(files, &lima_dir, layer, home)?;
    Ok(layered.into_shares(VmEngine::RancherDesktop, INSTANCE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::EnvVars;
    use crate::vm::testfiles::{HOME, MemFiles, corpus_engines, fixture, text};
    use std::path::Path;

    fn at_instance(yaml: &str) -> MemFiles {
        MemFiles::new().file(Path::new(HOME).join(LIMA_DIR).join("0/lima.yaml"), yaml)
    }

    #[test]
    fn fixture_lima_yaml() {
        let files = at_instance(&text(&fixture("rancher-desktop/lima.yaml")));
        let got = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect("reads");
        assert_eq!(
            got.shares,
            vec![
                Share::same_path(HOME, true, Some("reverse-sshfs")),
                Share::same_path("/Volumes", true, Some("reverse-sshfs")),
            ]
        );
    }

    #[test]
    fn defaults_when_never_started() {
        let got = read(
            HostConfig::new(&MemFiles::new(), &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect("reads");
        assert_eq!(got.shares.len(), 6);
        assert_eq!(got.shares[0].host, Path::new(HOME));
        assert!(got.shares.iter().all(|s| s.writable));
    }

    #[test]
    fn corrupt_names_the_file() {
        let err = read(
            HostConfig::new(
                &at_instance("mounts: [\n"),
                &EnvVars::new(),
                Path::new(HOME),
            ),
            None,
        )
        .expect_err("corrupt");
        assert!(
            err.to_string().contains("rancher-desktop/lima/0/lima.yaml"),
            "{err}"
        );
        assert!(err.hint().contains("restart Rancher Desktop"));
    }

    #[test]
    fn corpus_lima_yaml() {
        let Some(engines) = corpus_engines() else {
            return;
        };
        let files = at_instance(&text(
            &engines.join("rancher-desktop/derived/lima.yaml.mounts-darwin.yaml"),
        ));
        let got = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect("reads");
        let want: Vec<Share> = DEFAULT_MOUNTS
            .iter()
            .map(|m| Share::same_path(expand_tilde(m, Path::new(HOME)), true, Some("virtiofs")))
            .collect();
        assert_eq!(got.shares, want);
    }
}
