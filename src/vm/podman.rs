//! Podman machine: `$XDG_CONFIG_HOME/containers/podman/machine/<provider>/<name>.json`
//! (default `~/.config`), `Mounts[]` with `Source`, `Target`, `ReadOnly`, `Type`. Shares are
//! fixed when the machine is created (`podman machine init -v`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{EnvVars, HostConfig, Share, VmEngine, VmError, VmShares, read_optional};

/// Podman's default machine name.
pub const DEFAULT_MACHINE: &str = "podman-machine-default";
/// Providers, in the order they are looked for (macOS first).
pub const PROVIDERS: [&str; 5] = ["applehv", "libkrun", "qemu", "hyperv", "wsl"];

#[derive(Debug, Deserialize)]
struct MachineConfig {
    #[serde(rename = "Mounts", default)]
    mounts: Option<Vec<Mount>>,
}

#[derive(Debug, Deserialize)]
struct Mount {
    #[serde(rename = "Source")]
    source: String,
    #[serde(rename = "Target")]
    target: String,
    #[serde(rename = "ReadOnly", default)]
    read_only: bool,
    #[serde(rename = "Type", default)]
    mount_type: Option<String>,
}

/// The machine config dir: `$XDG_CONFIG_HOME/containers/podman/machine`, default `~/.config`.
pub fn machine_dir(env: &EnvVars, home: &Path) -> PathBuf {
    env.get("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"))
        .join("containers/podman/machine")
}

/// Read a Podman machine's shares (`instance` = machine name, default `podman-machine-default`).
pub fn read(host: HostConfig<'_>, instance: Option<&str>) -> Result<VmShares, VmError> {
    let HostConfig { files, env, home } = host;
    let name = instance.unwrap_or(DEFAULT_MACHINE);
    let dir = machine_dir(env, home);
    let hint = format!(
        "shares are fixed at `podman machine init -v`; recreate the machine (`podman machine rm {name}` then `podman machine init -v ...`)"
    );
    let candidates: Vec<PathBuf> = PROVIDERS
        .iter()
        .map(|p| dir.join(p).join(format!("{name}.json")))
        .collect();
    let mut found = Vec::new();
    for path in &candidates {
        if let Some(text) = read_optional(files, path, &hint)? {
            found.push((path.clone(), text));
        }
    }
    let Some((path, text)) = found.first() else {
        return Err(VmError::NotFound {
            engine: VmEngine::Podman,
            searched: candidates,
            hint: format!("check the machine name with `podman machine list` (machine `{name}`)"),
        });
    };
    let mut notes =
        vec!["shares are fixed when the machine is created (`podman machine init -v`)".to_owned()];
    if found.len() > 1 {
        notes.push(format!(
            "machine `{name}` exists for several providers; read `{}`",
            path.display()
        ));
    }
    let config: MachineConfig =
        serde_json::from_str(text).map_err(|e| VmError::json(path, &e, hint))?;
    let shares = config
        .mounts
        .unwrap_or_default()
        .into_iter()
        .map(|m| Share {
            host: PathBuf::from(m.source),
            vm: PathBuf::from(m.target),
            writable: !m.read_only,
            mount_type: m.mount_type.filter(|t| !t.is_empty()),
        })
        .collect();
    Ok(VmShares {
        engine: VmEngine::Podman,
        instance: Some(name.to_owned()),
        shares,
        source_files: vec![path.clone()],
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::testfiles::{HOME, MemFiles, corpus_engines, fixture, text};

    #[test]
    fn fixture_machine_under_xdg() {
        let files = MemFiles::new().file(
            "/xdg/containers/podman/machine/libkrun/dev.json",
            &text(&fixture("podman/dev.json")),
        );
        let env = EnvVars::new().with("XDG_CONFIG_HOME", "/xdg");
        let got = read(HostConfig::new(&files, &env, Path::new(HOME)), Some("dev")).expect("reads");
        assert_eq!(
            got.shares,
            vec![
                Share::same_path("/Users", true, Some("virtiofs")),
                Share {
                    host: "/Volumes/cold".into(),
                    vm: "/mnt/cold".into(),
                    writable: false,
                    mount_type: Some("virtiofs".into())
                },
            ]
        );
        assert_eq!(
            got.source_files,
            vec![PathBuf::from(
                "/xdg/containers/podman/machine/libkrun/dev.json"
            )]
        );
    }

    #[test]
    fn missing_machine_lists_the_places() {
        let err = read(
            HostConfig::new(&MemFiles::new(), &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect_err("missing");
        let msg = err.to_string();
        assert!(
            msg.contains(
                "/Users/alice/.config/containers/podman/machine/applehv/podman-machine-default.json"
            ),
            "{msg}"
        );
        assert!(err.hint().contains("podman machine list"));
    }

    #[test]
    fn bad_json_says_shares_are_fixed_at_init() {
        let files = MemFiles::new().file(
            "/Users/alice/.config/containers/podman/machine/applehv/podman-machine-default.json",
            "{\"Mounts\": [}",
        );
        let err = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect_err("bad");
        assert!(matches!(err, VmError::Parse { line: Some(1), .. }), "{err}");
        assert!(err.hint().contains("podman machine init -v"));
    }

    #[test]
    fn corpus_machine() {
        let Some(engines) = corpus_engines() else {
            return;
        };
        let json = text(&engines.join("podman/derived/podman-machine-default.applehv.json"));
        let files = MemFiles::new().file(
            "/Users/alice/.config/containers/podman/machine/applehv/podman-machine-default.json",
            &json,
        );
        let got = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect("reads");
        let hosts: Vec<_> = got
            .shares
            .iter()
            .map(|s| s.host.to_string_lossy().into_owned())
            .collect();
        assert_eq!(hosts, ["/Users", "/private", "/var/folders"]);
        assert!(
            got.shares.iter().all(|s| s.writable
                && s.host == s.vm
                && s.mount_type.as_deref() == Some("virtiofs"))
        );
    }
}
