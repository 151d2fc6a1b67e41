//! A colima.yaml: its `mounts:` (null, empty or a list), `mountType`, `vmType`, and the
//! template generation its comments record; the shares it asks for, defaults applied.

use std::path::Path;

use serde::Deserialize;

use super::Profile;
use super::mount_type::{self, Generation};
use crate::vm::lima::expand_location;
use crate::vm::{Share, VmError};

/// Which set of default mounts a colima.yaml gets when its `mounts` list is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaults {
    /// Templates up to v0.8.x: `$HOME` and `/tmp/<instance>`, writable; `null` = defaults.
    HomeAndTmp,
    /// Newer templates: `$HOME`, writable; `null` = no shares (v0.10.0+ `--mount none`).
    Home,
}

/// The `mounts:` value of a colima.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountsSetting {
    /// The key is absent.
    Missing,
    /// `mounts: null`.
    Null,
    /// `mounts: []`.
    Empty,
    /// An explicit list.
    List(Vec<ColimaMount>),
}

/// One entry of colima.yaml `mounts:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColimaMount {
    /// Host path, `~` allowed.
    pub location: String,
    /// Path in the VM; defaults to `location`.
    pub mount_point: Option<String>,
    /// Only `true` is writable.
    pub writable: bool,
}

/// A mount entry before the null check on `location`.
#[derive(Deserialize)]
struct RawMount {
    #[serde(default)]
    location: Option<String>,
    #[serde(rename = "mountPoint", default)]
    mount_point: Option<String>,
    #[serde(default)]
    writable: bool,
}

/// What a colima.yaml says about shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColimaConfig {
    /// The `mounts:` value.
    pub mounts: MountsSetting,
    /// `mountType`.
    pub mount_type: Option<String>,
    /// `vmType`.
    pub vm_type: Option<String>,
    /// The template generation, from the comment above `mounts:`.
    pub defaults: Defaults,
    /// Which colima wrote it, as far as the template's comments tell (the default mount type
    /// of `vz` depends on it).
    pub generation: Generation,
}

/// Parse a colima.yaml.
pub fn parse_config(path: &Path, text: &str) -> Result<ColimaConfig, VmError> {
    let hint = "fix the YAML with `colima start --edit`, or move the file aside and run `colima start` to write a fresh one";
    let value: serde_norway::Value = if text.trim().is_empty() {
        serde_norway::Value::Null
    } else {
        serde_norway::from_str(text).map_err(|e| VmError::yaml(path, &e, hint))?
    };
    let invalid = |message: String| VmError::Invalid {
        path: path.to_owned(),
        message,
        hint: hint.to_owned(),
    };
    let map = match value {
        serde_norway::Value::Mapping(m) => m,
        serde_norway::Value::Null => serde_norway::Mapping::new(),
        _ => return Err(invalid("the top level is not a mapping".into())),
    };
    let mounts = match map.get("mounts") {
        None => MountsSetting::Missing,
        Some(serde_norway::Value::Null) => MountsSetting::Null,
        Some(v) => {
            let raw: Vec<RawMount> = serde_norway::from_value(v.clone())
                .map_err(|e| invalid(format!("`mounts`: {e}")))?;
            let list = raw
                .into_iter()
                .enumerate()
                .map(|(i, m)| match m.location {
                    Some(location) => {
                        Ok(ColimaMount { location, mount_point: m.mount_point, writable: m.writable })
                    }
                    None => Err(invalid(format!(
                        "mount {}: `location` is null (a bare `~` is YAML null); write `location: \"~\"`",
                        i + 1
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if list.is_empty() {
                MountsSetting::Empty
            } else {
                MountsSetting::List(list)
            }
        }
    };
    let string = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(ColimaConfig {
        mounts,
        mount_type: string("mountType"),
        vm_type: string("vmType"),
        defaults: detect_defaults(text),
        generation: Generation::of_template(text),
    })
}

/// The template generation, from the comment colima keeps above `mounts:`.
pub fn detect_defaults(text: &str) -> Defaults {
    if text.contains("$HOME and /tmp/colima are mounted as writable") {
        Defaults::HomeAndTmp
    } else {
        Defaults::Home
    }
}

/// The shares a colima.yaml asks for, defaults applied; notes say which defaults.
pub fn configured_shares(
    config: &ColimaConfig,
    profile: &Profile,
    home: &Path,
    notes: &mut Vec<String>,
) -> Vec<Share> {
    let resolved = mount_type::resolve(
        config.vm_type.as_deref(),
        config.mount_type.as_deref(),
        config.generation,
    );
    notes.extend(resolved.note);
    let mount_type = resolved.mount_type;
    let mt = mount_type.as_deref();
    let defaults = || match config.defaults {
        Defaults::HomeAndTmp => vec![
            Share::same_path(home, true, mt),
            Share::same_path(Path::new("/tmp").join(&profile.id), true, mt),
        ],
        Defaults::Home => vec![Share::same_path(home, true, mt)],
    };
    match (&config.mounts, config.defaults) {
        (MountsSetting::List(list), _) => list
            .iter()
            .map(|m| {
                let host = expand_location(&m.location, home);
                let vm = m.mount_point.as_deref().map(|p| expand_location(p, home));
                Share {
                    vm: vm.unwrap_or_else(|| host.clone()),
                    host,
                    writable: m.writable,
                    mount_type: mount_type.clone(),
                }
            })
            .collect(),
        (MountsSetting::Empty, _) => {
            notes.push("`mounts` is empty: colima shares its defaults".into());
            defaults()
        }
        (MountsSetting::Null | MountsSetting::Missing, Defaults::HomeAndTmp) => {
            notes.push("`mounts` is not set: colima up to v0.9 shares its defaults".into());
            defaults()
        }
        (MountsSetting::Null | MountsSetting::Missing, Defaults::Home) => {
            notes.push(
                "`mounts` is null (`--mount none`): colima v0.10.0+ shares nothing (older versions share `$HOME`)"
                    .into(),
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::testfiles::{HOME, corpus_engines, text};

    fn home() -> &'static Path {
        Path::new(HOME)
    }

    fn shares_of(config_text: &str) -> (Vec<Share>, Vec<String>) {
        let config = parse_config(Path::new("/c/colima.yaml"), config_text).expect("parses");
        let mut notes = Vec::new();
        let shares = configured_shares(&config, &Profile::from_name(None), home(), &mut notes);
        (shares, notes)
    }

    #[test]
    fn mounts_variants_in_a_new_template() {
        let (s, _) =
            shares_of("# Colima default behaviour: $HOME is mounted as writable.\nmounts: []\n");
        assert_eq!(s, vec![Share::same_path(HOME, true, None)]);
        let (s, notes) =
            shares_of("# Colima default behaviour: $HOME is mounted as writable.\nmounts: null\n");
        assert!(s.is_empty());
        assert!(notes[0].contains("--mount none"), "{notes:?}");
        let (s, _) = shares_of(
            "vmType: vz\nmountType: virtiofs\nmounts:\n  - location: ~/code\n    writable: true\n  - location: /Volumes/x\n    mountPoint: /x\n",
        );
        assert_eq!(
            s,
            vec![
                Share::same_path("/Users/alice/code", true, Some("virtiofs")),
                Share {
                    host: "/Volumes/x".into(),
                    vm: "/x".into(),
                    writable: false,
                    mount_type: Some("virtiofs".into())
                },
            ]
        );
    }

    #[test]
    fn old_template_defaults_include_tmp_colima() {
        let old = "# Colima default behaviour: $HOME and /tmp/colima are mounted as writable.\nmounts: []\n";
        let (s, _) = shares_of(old);
        assert_eq!(
            s,
            vec![
                Share::same_path(HOME, true, None),
                Share::same_path("/tmp/colima", true, None)
            ]
        );
        let (s, _) = shares_of(&old.replace("[]", "null"));
        assert_eq!(s.len(), 2, "before v0.10 null behaved like []");
    }

    #[test]
    fn writable_needs_true() {
        let (s, _) =
            shares_of("mounts:\n  - location: /a\n  - location: /b\n    writable: false\n");
        assert!(s.iter().all(|s| !s.writable));
    }

    #[test]
    fn bare_tilde_location_is_null_and_explained() {
        let err =
            parse_config(Path::new("/c.yaml"), "mounts:\n  - location: ~\n").expect_err("null");
        assert!(
            err.to_string().contains("mount 1: `location` is null"),
            "{err}"
        );
    }

    #[test]
    fn wrong_shape_is_invalid() {
        let err = parse_config(Path::new("/c.yaml"), "mounts: /Volumes\n").expect_err("not a list");
        assert!(matches!(err, VmError::Invalid { .. }), "{err}");
    }

    #[test]
    fn corpus_templates_all_generations() {
        let Some(engines) = corpus_engines() else {
            return;
        };
        let cases = [
            (
                "colima/colima.default-template.v0.6.0.yaml",
                Defaults::HomeAndTmp,
                2,
            ),
            (
                "colima/colima.default-template.v0.8.4.yaml",
                Defaults::HomeAndTmp,
                2,
            ),
            (
                "colima/colima.default-template.HEAD.yaml",
                Defaults::Home,
                1,
            ),
        ];
        for (rel, defaults, count) in cases {
            let path = engines.join(rel);
            let config = parse_config(&path, &text(&path)).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(config.defaults, defaults, "{rel}");
            assert_eq!(config.mounts, MountsSetting::Empty, "{rel}");
            let mut notes = Vec::new();
            let shares = configured_shares(&config, &Profile::from_name(None), home(), &mut notes);
            assert_eq!(shares.len(), count, "{rel}");
            assert_eq!(
                shares[0],
                Share::same_path(HOME, true, Some("sshfs")),
                "{rel}"
            );
        }
    }

    #[test]
    fn corpus_mounts_variants() {
        let Some(engines) = corpus_engines() else {
            return;
        };
        let all = text(&engines.join("colima/derived/colima.yaml.mounts-variants.yaml"));
        let docs: Vec<&str> = all.split("\n---\n").skip(1).collect();
        assert_eq!(docs.len(), 4);
        let got: Vec<Vec<Share>> = docs.iter().map(|d| shares_of(d).0).collect();
        assert_eq!(got[0], vec![Share::same_path(HOME, true, None)]);
        assert!(got[1].is_empty());
        assert_eq!(got[2], vec![Share::same_path("/Volumes", true, None)]);
        assert_eq!(
            got[3],
            vec![
                Share::same_path(HOME, true, None),
                Share {
                    host: "/Volumes/faststore".into(),
                    vm: "/data".into(),
                    writable: true,
                    mount_type: None
                },
            ]
        );
        let hit =
            crate::vm::share_for(&got[3], Path::new("/Volumes/faststore/photos")).expect("covered");
        assert_eq!(
            hit.vm_path(Path::new("/Volumes/faststore/photos")),
            Some("/data/photos".into())
        );
    }
}
