//! Lima: `$LIMA_HOME/<instance>/lima.yaml` (default `~/.lima`), merged with
//! `$LIMA_HOME/_config/default.yaml` and `_config/override.yaml` as Lima does.
//!
//! The merge is shared with Colima and Rancher Desktop, which both run Lima underneath.
//! Lima combines the mounts of default.yaml, the instance and override.yaml in that order,
//! keyed by the cleaned `location`; a later entry overrides the fields it sets. `mountPoint`
//! defaults to `location`, `writable` to false. Scalars (`mountType`) come from override.yaml,
//! else the instance, else default.yaml.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::{
    ConfigFiles, EnvVars, HostConfig, Share, VmEngine, VmError, VmShares, expand_tilde,
    read_optional,
};

/// Lima's default instance name.
pub const DEFAULT_INSTANCE: &str = "default";

/// The parts of a lima.yaml the share readers need.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LimaYaml {
    #[serde(default)]
    pub mounts: Option<Vec<LimaMount>>,
    #[serde(rename = "mountType", default)]
    pub mount_type: Option<String>,
    #[serde(rename = "vmType", default)]
    pub vm_type: Option<String>,
    #[serde(default)]
    pub base: Option<serde_norway::Value>,
}

/// One `mounts:` entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LimaMount {
    pub location: String,
    #[serde(rename = "mountPoint", default)]
    pub mount_point: Option<String>,
    #[serde(default)]
    pub writable: Option<bool>,
    /// `9p:` options (`securityModel`), used when the mount type is 9p.
    #[serde(rename = "9p", default)]
    pub nine_p: Option<NinePOptions>,
}

/// The `9p:` block of a mount.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct NinePOptions {
    #[serde(rename = "securityModel", default)]
    pub security_model: Option<String>,
}

/// A parsed layer and the file it came from.
pub(crate) struct Layer {
    pub path: PathBuf,
    pub yaml: LimaYaml,
}

/// Parse a lima.yaml-shaped file; the hint says what to do when it is corrupt.
pub(crate) fn parse(path: &Path, text: &str, hint: &str) -> Result<LimaYaml, VmError> {
    if text.trim().is_empty() {
        return Ok(LimaYaml::default());
    }
    serde_norway::from_str(text).map_err(|e| VmError::yaml(path, &e, hint))
}

/// Read and parse an optional layer.
pub(crate) fn read_layer(
    files: &dyn ConfigFiles,
    path: PathBuf,
    hint: &str,
) -> Result<Option<Layer>, VmError> {
    match read_optional(files, &path, hint)? {
        Some(text) => {
            let yaml = parse(&path, &text, hint)?;
            Ok(Some(Layer { path, yaml }))
        }
        None => Ok(None),
    }
}

/// A path with `.`/`..`/trailing slashes removed, lexically, as Go's `filepath.Clean`.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Expand `~`, `{{.Home}}` and `{{.GlobalTempDir}}` in a location and clean it.
pub(crate) fn expand_location(location: &str, home: &Path) -> PathBuf {
    let home_s = home.to_string_lossy();
    let text = location
        .replace("{{.Home}}", &home_s)
        .replace("{{.GlobalTempDir}}", "/tmp");
    clean(&expand_tilde(&text, home))
}

/// Merge the mounts of the layers (lowest priority first) into shares.
pub(crate) fn merge_mounts(
    layers: &[&LimaYaml],
    home: &Path,
    mount_type: Option<&str>,
) -> Vec<Share> {
    let mut merged: Vec<(PathBuf, Option<String>, Option<bool>)> = Vec::new();
    for mount in layers.iter().filter_map(|l| l.mounts.as_ref()).flatten() {
        let location = expand_location(&mount.location, home);
        match merged.iter_mut().find(|(loc, _, _)| *loc == location) {
            Some(entry) => {
                if mount.mount_point.is_some() {
                    entry.1.clone_from(&mount.mount_point);
                }
                if mount.writable.is_some() {
                    entry.2 = mount.writable;
                }
            }
            None => merged.push((location, mount.mount_point.clone(), mount.writable)),
        }
    }
    merged
        .into_iter()
        .map(|(host, mount_point, writable)| Share {
            vm: mount_point
                .map(|m| expand_location(&m, home))
                .unwrap_or_else(|| host.clone()),
            host,
            writable: writable.unwrap_or(false),
            mount_type: mount_type.map(str::to_owned),
        })
        .collect()
}

/// Notes for 9p shares whose `securityModel` makes owners, modes or symlinks look other than
/// the VM made them: `mapped-xattr` and `mapped-file` keep them in metadata the host does not
/// interpret; `none` (Lima's default since v0.13, also when the share sets no model) ignores a
/// chown that fails, so the owner does not stick. The last layer that sets a location's model
/// wins, as for the other fields.
pub(crate) fn metadata_notes(layers: &[&LimaYaml], home: &Path) -> Vec<String> {
    let mut models: Vec<(PathBuf, Option<String>)> = Vec::new();
    for mount in layers.iter().filter_map(|l| l.mounts.as_ref()).flatten() {
        let location = expand_location(&mount.location, home);
        let model = mount.nine_p.as_ref().and_then(|n| n.security_model.clone());
        match models.iter_mut().find(|(loc, _)| *loc == location) {
            Some(entry) => {
                if model.is_some() {
                    entry.1 = model;
                }
            }
            None => models.push((location, model)),
        }
    }
    models
        .into_iter()
        .filter_map(|(location, model)| share_note(&location, model.as_deref()))
        .collect()
}

/// The note for one 9p share with security model `model` (`None`: not set, Lima's `none`).
fn share_note(location: &Path, model: Option<&str>) -> Option<String> {
    let shown = location.display();
    let kept_in = match model.unwrap_or("none") {
        "mapped-xattr" | "mapped" => "xattrs",
        "mapped-file" => "`.virtfs_metadata` files",
        "none" => {
            let unset = if model.is_none() {
                " (not set: Lima's default)"
            } else {
                ""
            };
            return Some(format!(
                "share `{shown}` is 9p with securityModel none{unset}: owners do not stick: a chown in the VM reports success and changes nothing (QEMU, running as your user, cannot chown on the host), so files keep the owner QEMU gives them; a database whose files must belong to its user (Postgres: uid 999) cannot live there: keep it in a named volume on the VM's own disk (no VM share suits a database; for other data whose owners matter, give the share securityModel mapped-xattr, recreating the VM)"
            ));
        }
        _ => return None,
    };
    Some(format!(
        "share `{shown}` is 9p with securityModel {}: owners, modes and symlinks made in the VM are kept in {kept_in}; the host sees files owned by the user QEMU runs as and symlinks as regular files",
        model.unwrap_or_default()
    ))
}

/// The name of the file in an instance directory that records the Lima version that created
/// it (`limactl list --json` shows it as `limaVersion`).
pub const VERSION_FILE: &str = "lima-version";

/// Whether a Lima version (`2.2.0`, `v0.23.2`) is 1.0 or later; `None` when it does not parse.
fn since_v1(version: &str) -> Option<bool> {
    let major = version.trim().trim_start_matches('v').split('.').next()?;
    major.parse::<u32>().ok().map(|m| m >= 1)
}

/// The effective mount type: the highest layer that sets it, else what Lima picks for the VM
/// type in the version that created the instance (`version`, from [`VERSION_FILE`]). Lima's
/// templates/default.yaml: "default" resolves "to be 9p for QEMU since Lima v1.0 on
/// non-Windows, virtiofs for vz" (reverse-sshfs for QEMU before v1.0); virtiofs is vz's default
/// since lima PR#1613.
pub(crate) fn mount_type(
    layers: &[&LimaYaml],
    version: Option<&str>,
    notes: &mut Vec<String>,
) -> Option<String> {
    let set = layers
        .iter()
        .rev()
        .find_map(|l| l.mount_type.clone())
        .filter(|t| t != "default");
    if set.is_some() {
        return set;
    }
    let vm_type = layers.iter().rev().find_map(|l| l.vm_type.as_deref());
    match (vm_type, version.and_then(since_v1)) {
        (Some("vz"), _) => Some("virtiofs".to_owned()),
        (Some("qemu"), Some(true)) => Some("9p".to_owned()),
        (_, Some(false)) => Some("reverse-sshfs".to_owned()),
        (None, Some(true)) => {
            notes.push(
                "mount type and VM type not set: Lima v1.0+ picks vz (virtiofs) or QEMU (9p) by host"
                    .into(),
            );
            None
        }
        _ => {
            notes.push(
                "mount type not set: Lima uses 9p for QEMU since v1.0 (reverse-sshfs before)"
                    .into(),
            );
            None
        }
    }
}

/// The Lima home: `$LIMA_HOME`, else `~/.lima`.
pub fn lima_home(env: &EnvVars, home: &Path) -> PathBuf {
    env.get("LIMA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".lima"))
}

/// Read the shares of a Lima instance (`instance` default: `$LIMA_INSTANCE`, else `default`).
pub fn read(host: HostConfig<'_>, instance: Option<&str>) -> Result<VmShares, VmError> {
    let HostConfig { files, env, home } = host;
    let name = instance
        .or_else(|| env.get("LIMA_INSTANCE"))
        .unwrap_or(DEFAULT_INSTANCE);
    let lima_dir = lima_home(env, home);
    let hint_instance = format!(
        "fix the YAML (compare with `limactl list --json {name}`), or recreate the instance with `limactl delete {name}` and `limactl create`"
    );
    let instance_path = lima_dir.join(name).join("lima.yaml");
    let Some(instance_layer) = read_layer(files, instance_path.clone(), &hint_instance)? else {
        return Err(VmError::NotFound {
            engine: VmEngine::Lima,
            searched: vec![instance_path],
            hint: format!(
                "check the instance name with `limactl list`; set LIMA_HOME if it lives elsewhere (instance `{name}`)"
            ),
        });
    };
    let layered = read_with_config_layers(files, &lima_dir, instance_layer, home)?;
    Ok(layered.into_shares(VmEngine::Lima, name))
}

/// Shares merged from Lima's layers, the files read, and notes.
pub(crate) struct Layered {
    pub shares: Vec<Share>,
    pub source_files: Vec<PathBuf>,
    pub notes: Vec<String>,
}

impl Layered {
    /// What `engine`'s `instance` shares, read from these layers.
    pub(crate) fn into_shares(self, engine: VmEngine, instance: &str) -> VmShares {
        VmShares {
            engine,
            instance: Some(instance.to_owned()),
            shares: self.shares,
            source_files: self.source_files,
            notes: self.notes,
        }
    }
}

/// Merge `_config/default.yaml`, the instance and `_config/override.yaml` under `lima_dir`.
pub(crate) fn read_with_config_layers(
    files: &dyn ConfigFiles,
    lima_dir: &Path,
    instance: Layer,
    home: &Path,
) -> Result<Layered, VmError> {
    let config_hint = "fix the YAML or move the file aside; Lima applies it to every instance";
    let default = read_layer(files, lima_dir.join("_config/default.yaml"), config_hint)?;
    let over = read_layer(files, lima_dir.join("_config/override.yaml"), config_hint)?;
    let mut notes = Vec::new();
    if instance.yaml.base.is_some() {
        notes.push(format!(
            "`{}` has a `base:` key; mounts inherited from base templates are not read",
            instance.path.display()
        ));
    }
    let mut source_files = Vec::new();
    let mut layers: Vec<&LimaYaml> = Vec::new();
    for layer in [default.as_ref(), Some(&instance), over.as_ref()]
        .into_iter()
        .flatten()
    {
        source_files.push(layer.path.clone());
        layers.push(&layer.yaml);
    }
    if let Some(o) = &over
        && o.yaml.mounts.as_ref().is_some_and(|m| !m.is_empty())
    {
        notes.push(format!(
            "mounts from `{}` apply on top of the instance's",
            o.path.display()
        ));
    }
    let version_path = instance.path.with_file_name(VERSION_FILE);
    let version = read_optional(files, &version_path, "check the file's permissions")?;
    let mount_type = mount_type(&layers, version.as_deref(), &mut notes);
    if mount_type.as_deref() == Some("9p") {
        notes.extend(metadata_notes(&layers, home));
    }
    let shares = merge_mounts(&layers, home, mount_type.as_deref());
    Ok(Layered {
        shares,
        source_files,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::testfiles::{HOME, MemFiles, corpus_engines, fixture, text};

    #[test]
    fn defaults_mount_point_and_read_only() {
        let files = MemFiles::new().file(
            "/Users/alice/.lima/default/lima.yaml",
            r#"
vmType: vz
mounts:
- location: "~"
- location: /Volumes/fast
  mountPoint: /data
  writable: true
"#,
        );
        let got = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect("reads");
        assert_eq!(got.instance.as_deref(), Some("default"));
        assert_eq!(
            got.shares,
            vec![
                Share::same_path("/Users/alice", false, Some("virtiofs")),
                Share {
                    host: "/Volumes/fast".into(),
                    vm: "/data".into(),
                    writable: true,
                    mount_type: Some("virtiofs".into())
                },
            ]
        );
    }

    #[test]
    fn nine_p_shares_that_keep_metadata_in_xattrs_or_files_get_a_note() {
        let text = "mounts:\n- location: /srv/a\n  writable: true\n  9p:\n    securityModel: mapped-xattr\n- location: /srv/b\n  9p:\n    securityModel: passthrough\n- location: /srv/c\n  9p:\n    securityModel: mapped-file\n- location: /srv/d\n";
        let files = MemFiles::new()
            .file(
                "/Users/alice/.lima/default/lima.yaml",
                &format!("mountType: 9p\n{text}"),
            )
            .file(
                "/Users/alice/.lima/other/lima.yaml",
                &format!("mountType: virtiofs\n{text}"),
            );
        let got = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect("reads");
        let note = |p: &str, m: &str, kept: &str| {
            format!(
                "share `{p}` is 9p with securityModel {m}: owners, modes and symlinks made in the VM are kept in {kept}; the host sees files owned by the user QEMU runs as and symlinks as regular files"
            )
        };
        assert_eq!(got.notes.len(), 3, "{:?}", got.notes);
        assert_eq!(
            got.notes[..2],
            [
                note("/srv/a", "mapped-xattr", "xattrs"),
                note("/srv/c", "mapped-file", "`.virtfs_metadata` files")
            ]
        );
        // /srv/d sets no model: Lima's default, `none` (its note: the test below)
        assert!(
            got.notes[2].starts_with("share `/srv/d` is 9p with securityModel none (not set: Lima's default): owners do not stick"),
            "{:?}",
            got.notes
        );
        let other = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            Some("other"),
        )
        .expect("reads");
        assert!(other.notes.is_empty(), "{:?}", other.notes);
    }

    /// The harness VM's lima.yaml (tests/vm/harness.sh writes this file): three 9p shares, one
    /// per security model; Lima's template says `none` is the default when a share sets none.
    #[test]
    fn a_nine_p_share_with_security_model_none_or_none_set_notes_that_owners_do_not_stick() {
        let yaml = "vmType: qemu\nmountType: 9p\nmounts:\n  - location: /var/tmp/tierctl-vm/tiers\n    mountPoint: /var/tmp/tierctl-vm/tiers\n    writable: true\n    9p:\n      securityModel: mapped-xattr\n  - location: /var/tmp/tierctl-vm/passthrough\n    mountPoint: /var/tmp/tierctl-vm/passthrough\n    writable: true\n    9p:\n      securityModel: passthrough\n  - location: /var/tmp/tierctl-vm/nochown\n    mountPoint: /var/tmp/tierctl-vm/nochown\n    writable: true\n    9p:\n      securityModel: none\n";
        let files = MemFiles::new()
            .file("/Users/alice/.lima/default/lima.yaml", yaml)
            // the model set in a lower layer holds when a higher one sets none
            .file(
                "/Users/alice/.lima/_config/override.yaml",
                "mounts:\n  - location: /var/tmp/tierctl-vm/nochown\n    writable: true\n  - location: /srv/unset\n",
            );
        let got = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect("reads");
        let none = |path: &str, unset: &str| {
            format!(
                "share `{path}` is 9p with securityModel none{unset}: owners do not stick: a chown in the VM reports success and changes nothing (QEMU, running as your user, cannot chown on the host), so files keep the owner QEMU gives them; a database whose files must belong to its user (Postgres: uid 999) cannot live there: keep it in a named volume on the VM's own disk (no VM share suits a database; for other data whose owners matter, give the share securityModel mapped-xattr, recreating the VM)"
            )
        };
        assert_eq!(
            got.notes,
            [
                "mounts from `/Users/alice/.lima/_config/override.yaml` apply on top of the instance's".to_owned(),
                "share `/var/tmp/tierctl-vm/tiers` is 9p with securityModel mapped-xattr: owners, modes and symlinks made in the VM are kept in xattrs; the host sees files owned by the user QEMU runs as and symlinks as regular files".to_owned(),
                none("/var/tmp/tierctl-vm/nochown", ""),
                none("/srv/unset", " (not set: Lima's default)"),
            ]
        );
    }

    #[test]
    fn override_yaml_overrides_by_location() {
        let files = MemFiles::new()
            .file(
                "/lh/dev/lima.yaml",
                "mountType: 9p\nmounts:\n- location: /Volumes/fast/\n  writable: false\n",
            )
            .file(
                "/lh/_config/override.yaml",
                "mounts:\n- location: /Volumes/fast\n  writable: true\n- location: /opt\n",
            );
        let env = EnvVars::new().with("LIMA_HOME", "/lh");
        let got = read(HostConfig::new(&files, &env, Path::new(HOME)), Some("dev")).expect("reads");
        assert_eq!(got.shares.len(), 2);
        assert!(
            got.shares[0].writable,
            "override made /Volumes/fast writable"
        );
        assert_eq!(got.shares[0].host, PathBuf::from("/Volumes/fast"));
        assert_eq!(got.shares[1].mount_type.as_deref(), Some("9p"));
        assert_eq!(got.source_files.len(), 2);
    }

    #[test]
    fn missing_instance_is_not_found() {
        let err = read(
            HostConfig::new(&MemFiles::new(), &EnvVars::new(), Path::new(HOME)),
            Some("x"),
        )
        .expect_err("missing");
        assert!(
            err.to_string().contains("/Users/alice/.lima/x/lima.yaml"),
            "{err}"
        );
    }

    #[test]
    fn corrupt_yaml_names_file_and_line() {
        let files = MemFiles::new().file(
            "/Users/alice/.lima/default/lima.yaml",
            "mounts:\n- location: ~\n  writable: [\n",
        );
        let err = read(
            HostConfig::new(&files, &EnvVars::new(), Path::new(HOME)),
            None,
        )
        .expect_err("corrupt");
        assert!(matches!(err, VmError::Parse { line: Some(_), .. }), "{err}");
        assert!(err.hint().contains("limactl"));
    }

    #[test]
    fn fixture_instance() {
        let path = fixture("lima/docker/lima.yaml");
        let yaml = parse(&path, &text(&path), "").expect("fixture parses");
        let mut notes = Vec::new();
        let mt = mount_type(&[&yaml], None, &mut notes);
        let shares = merge_mounts(&[&yaml], Path::new(HOME), mt.as_deref());
        assert_eq!(
            shares[0],
            Share::same_path("/Users/alice", false, Some("reverse-sshfs"))
        );
        assert_eq!(shares[1].vm, PathBuf::from("/tmp/lima"));
        assert!(shares[1].writable);
    }

    /// Issue 22 item 4: Lima's default mount type by the version that created the instance.
    #[test]
    fn issue22_default_mount_type_by_lima_version() {
        let read_instance = |name: &str| {
            let base = fixture("lima/versions");
            let env = EnvVars::new().with("LIMA_HOME", &base.to_string_lossy());
            read(
                HostConfig::new(&crate::vm::DiskConfig, &env, Path::new(HOME)),
                Some(name),
            )
            .expect("reads")
        };
        let old = read_instance("qemu-0.23");
        assert_eq!(old.shares[0].mount_type.as_deref(), Some("reverse-sshfs"));
        let new = read_instance("qemu-2.0");
        assert_eq!(new.shares[0].mount_type.as_deref(), Some("9p"));
        let vz = read_instance("vz-1.0");
        assert_eq!(vz.shares[0].mount_type.as_deref(), Some("virtiofs"));
        let unknown = read_instance("qemu-unknown");
        assert_eq!(unknown.shares[0].mount_type, None);
        assert!(
            unknown.notes.iter().any(|n| n.contains("since v1.0")),
            "{:?}",
            unknown.notes
        );
    }

    #[test]
    fn corpus_templates() {
        let Some(engines) = corpus_engines() else {
            return;
        };
        let path = engines.join("lima/templates__default__mounts.yaml");
        let yaml = parse(&path, &text(&path), "").expect("parses");
        let shares = merge_mounts(&[&yaml], Path::new(HOME), None);
        assert_eq!(shares, vec![Share::same_path("/Users/alice", false, None)]);
        let path = engines.join("lima/templates__default.yaml.mounts-section.yaml");
        let yaml = parse(&path, &text(&path), "").expect("parses");
        assert!(merge_mounts(&[&yaml], Path::new(HOME), None).is_empty());
        let mut notes = Vec::new();
        assert_eq!(mount_type(&[&yaml], None, &mut notes), None);
        assert_eq!(notes.len(), 1);
    }
}
