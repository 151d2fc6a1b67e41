//! Colima: which host paths a Colima profile's VM shares.
//!
//! Files, as colima (config/dirs.go, config/profile.go) lays them out:
//! * home: `$COLIMA_HOME` if that directory exists, else `~/.colima` if it exists, else
//!   `$XDG_CONFIG_HOME/colima` if the variable is set, else `~/.colima` on macOS and
//!   `~/.config/colima` elsewhere;
//! * `<home>/<profile>/colima.yaml`: the user's config (profile `default`, or the name without
//!   its `colima-` prefix);
//! * `<lima dir>/<instance>/lima.yaml`: what the VM was last started with, the truth when
//!   present (`<lima dir>` is `$LIMA_HOME`, else `<home>/_lima`; instance `colima` or
//!   `colima-<profile>`), merged with `<lima dir>/_config/{default,override}.yaml`.
//!
//! When `mounts` is empty colima shares its defaults: writable `$HOME` and `/tmp/<instance>`
//! up to the v0.8 template ("$HOME and /tmp/colima are mounted as writable"), writable `$HOME`
//! alone in newer ones. `mounts: null` (written by `colima start --mount none`, v0.10.0+) means
//! no shares in templates of the newer generation and the defaults in older ones. Only `:w` /
//! `writable: true` is writable.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::lima::{self, Layer, LimaYaml, clean, expand_location, read_layer};
use super::{ConfigFiles, EnvVars, HostConfig, Share, VmEngine, VmError, VmShares, read_optional};

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
}

/// A profile's names: its config dir and its Lima instance (`ProfileFromName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Directory under the colima home (`default`, `work`).
    pub short_name: String,
    /// Lima instance and docker context (`colima`, `colima-work`).
    pub id: String,
}

impl Profile {
    /// Colima's normalisation: `""`, `colima`, `default` are the default profile; a `colima-`
    /// prefix is dropped.
    pub fn from_name(name: Option<&str>) -> Self {
        match name.unwrap_or("") {
            "" | "colima" | "default" => Profile {
                short_name: "default".into(),
                id: "colima".into(),
            },
            other => {
                let short = other.strip_prefix("colima-").unwrap_or(other);
                Profile {
                    short_name: short.to_owned(),
                    id: format!("colima-{short}"),
                }
            }
        }
    }
}

/// The colima home directory, as colima chooses it.
pub fn colima_home(files: &dyn ConfigFiles, env: &EnvVars, home: &Path, macos: bool) -> PathBuf {
    if let Some(dir) = env.get("COLIMA_HOME").map(PathBuf::from)
        && files.dir_exists(&dir)
    {
        return dir;
    }
    let dot = home.join(".colima");
    if files.dir_exists(&dot) {
        return dot;
    }
    if let Some(xdg) = env.get("XDG_CONFIG_HOME") {
        return Path::new(xdg).join("colima");
    }
    if macos {
        dot
    } else {
        home.join(".config/colima")
    }
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
    let mount_type = config_mount_type(config);
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

fn config_mount_type(config: &ColimaConfig) -> Option<String> {
    config
        .mount_type
        .clone()
        .or_else(|| match config.vm_type.as_deref() {
            Some("vz") => Some("virtiofs".into()),
            Some("qemu") => Some("sshfs".into()),
            _ => None,
        })
}

/// Whether the user's colima.yaml asks for other shares than the VM started with
/// ("config changed but VM not restarted"). Mount types are not compared.
pub fn config_drift(colima_yaml_mounts: &[Share], lima_yaml_mounts: &[Share]) -> bool {
    let key = |s: &Share| (clean(&s.host), clean(&s.vm), s.writable);
    let mut a: Vec<_> = colima_yaml_mounts.iter().map(key).collect();
    let mut b: Vec<_> = lima_yaml_mounts.iter().map(key).collect();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a != b
}

/// Read the shares of a colima profile (`None` = `$COLIMA_PROFILE`, else `default`).
pub fn read(host: HostConfig<'_>, instance: Option<&str>) -> Result<VmShares, VmError> {
    read_on(host, instance, cfg!(target_os = "macos"))
}

/// [`read`] with the host OS given (colima's home rule differs on macOS).
pub fn read_on(
    host: HostConfig<'_>,
    instance: Option<&str>,
    macos: bool,
) -> Result<VmShares, VmError> {
    let profile = Profile::from_name(instance.or_else(|| host.env.get("COLIMA_PROFILE")));
    let mut notes = Vec::new();
    let (base, lima_dir) = dirs(host, macos, &mut notes);
    let config_path = base.join(&profile.short_name).join("colima.yaml");
    let config = match read_optional(host.files, &config_path, "check the file's permissions")? {
        Some(text) => Some(parse_config(&config_path, &text)?),
        None => None,
    };
    let lima_path = lima_dir.join(&profile.id).join("lima.yaml");
    let lima_hint = format!(
        "colima rewrites this file on start: run `colima stop{p} && colima start{p}`",
        p = profile_flag(&profile)
    );
    let vm_layer: Option<Layer> = read_layer(host.files, lima_path.clone(), &lima_hint)?;
    let mut source_files = Vec::new();
    let shares = match (vm_layer, &config) {
        (Some(layer), config) => {
            let layered = lima::read_with_config_layers(host.files, &lima_dir, layer, host.home)?;
            source_files.extend(layered.source_files);
            notes.extend(layered.notes);
            if let Some(config) = config {
                source_files.insert(0, config_path.clone());
                notes.extend(drift_note(
                    host,
                    &profile,
                    config,
                    &config_path,
                    &lima_path,
                )?);
            }
            layered.shares
        }
        (None, Some(config)) => {
            source_files.push(config_path.clone());
            notes.push(format!(
                "no `{}`: the VM has not started with this config; shares are what colima will use",
                lima_path.display()
            ));
            configured_shares(config, &profile, host.home, &mut notes)
        }
        (None, None) => return Err(not_found(&profile, config_path, lima_path)),
    };
    Ok(VmShares {
        engine: VmEngine::Colima,
        instance: Some(profile.short_name),
        shares,
        source_files,
        notes,
    })
}

/// The colima home and the Lima directory its VMs live in, with a note for each variable that
/// moved them.
fn dirs(host: HostConfig<'_>, macos: bool, notes: &mut Vec<String>) -> (PathBuf, PathBuf) {
    let base = colima_home(host.files, host.env, host.home, macos);
    if let Some(dir) = host.env.get("COLIMA_HOME")
        && Path::new(dir) != base
    {
        notes.push(format!(
            "COLIMA_HOME `{dir}` does not exist; colima falls back to `{}`",
            base.display()
        ));
    }
    let lima_dir = match host.env.get("LIMA_HOME") {
        Some(dir) => {
            notes.push(format!("LIMA_HOME is set: colima keeps its VMs in `{dir}`"));
            PathBuf::from(dir)
        }
        None => base.join("_lima"),
    };
    (base, lima_dir)
}

/// The note when colima.yaml asks for other shares than the started VM has.
fn drift_note(
    host: HostConfig<'_>,
    profile: &Profile,
    config: &ColimaConfig,
    config_path: &Path,
    lima_path: &Path,
) -> Result<Option<String>, VmError> {
    let mut ignored = Vec::new();
    let wanted = configured_shares(config, profile, host.home, &mut ignored);
    let started = vm_mounts_only(host.files, lima_path, host.home)?;
    Ok(config_drift(&wanted, &started).then(|| {
        let mut note = format!(
            "`{}` asks for other shares than the VM started with: run `colima stop{p} && colima start{p}` to apply it",
            config_path.display(),
            p = profile_flag(profile)
        );
        note.push_str(&dropped_shares(&wanted, &started));
        note
    }))
}

/// What a restart with colima.yaml's `mounts:` (`wanted`) stops sharing of what the VM shares
/// now (`started`; `$HOME` among them when the VM started with none listed): a plain restart
/// drops them without a word.
fn dropped_shares(wanted: &[Share], started: &[Share]) -> String {
    let dropped: Vec<String> = started
        .iter()
        .filter(|s| !wanted.iter().any(|w| clean(&w.host) == clean(&s.host)))
        .map(|s| format!("`{}`", s.host.display()))
        .collect();
    if dropped.is_empty() {
        return String::new();
    }
    format!(
        "; that stops sharing {} (shared now): list each under `mounts:` first to keep it",
        dropped.join(", ")
    )
}

/// Neither colima.yaml nor the VM's lima.yaml exists.
fn not_found(profile: &Profile, config_path: PathBuf, lima_path: PathBuf) -> VmError {
    VmError::NotFound {
        engine: VmEngine::Colima,
        searched: vec![config_path, lima_path],
        hint: format!(
            "start the profile once with `colima start{}`, or set COLIMA_HOME to where colima keeps its files",
            profile_flag(profile)
        ),
    }
}

/// The instance lima.yaml's own mounts (no `_config` layers), for the drift check.
fn vm_mounts_only(
    files: &dyn ConfigFiles,
    path: &Path,
    home: &Path,
) -> Result<Vec<Share>, VmError> {
    let Some(text) = read_optional(files, path, "check the file's permissions")? else {
        return Ok(Vec::new());
    };
    let yaml: LimaYaml = lima::parse(path, &text, "")?;
    Ok(lima::merge_mounts(&[&yaml], home, None))
}

fn profile_flag(profile: &Profile) -> String {
    if profile.short_name == "default" {
        String::new()
    } else {
        format!(" --profile {}", profile.short_name)
    }
}

/// The fix for host paths the default profile's VM does not share: the command and the
/// equivalent `mounts:` block for colima.yaml. Any mount list replaces the current shares, so
/// they are kept (`$HOME`, colima's default, when none are known); a missing path under a kept
/// share makes that share writable; paths under `/Volumes` are shared as `/Volumes`; colima
/// rejects paths with spaces, so such a path is shared through its nearest parent without one,
/// and a comment says so.
pub fn fix_command(missing: &[PathBuf], home: &Path) -> (String, String) {
    fix_command_for_profile(missing, &[], home, &Profile::from_name(None))
}

/// [`fix_command`] for any profile, keeping the VM's `existing` shares.
pub fn fix_command_for_profile(
    missing: &[PathBuf],
    existing: &[Share],
    home: &Path,
    profile: &Profile,
) -> (String, String) {
    let mut kept: Vec<Share> = if existing.is_empty() {
        vec![Share::same_path(home, true, None)]
    } else {
        existing.to_vec()
    };
    let (roots, comments) = new_roots(missing, &mut kept);
    kept.retain(|k| k.host != k.vm || !roots.iter().any(|r| k.host.starts_with(r)));
    let flag = profile_flag(profile);
    let mut command = format!("colima stop{flag} && colima start{flag}");
    let mut block = String::from("mounts:\n");
    let added = roots.iter().map(|r| Share::same_path(r, true, None));
    for share in kept.iter().cloned().chain(added) {
        command.push_str(&format!(" --mount {}", mount_flag(&share, home)));
        block.push_str(&format!("  - location: {}\n", yaml_scalar(&share.host)));
        if share.vm != share.host {
            block.push_str(&format!("    mountPoint: {}\n", yaml_scalar(&share.vm)));
        }
        block.push_str(&format!("    writable: {}\n", share.writable));
    }
    for comment in &comments {
        command.push('\n');
        command.push_str(comment);
        block.push_str(comment);
        block.push('\n');
    }
    (command, block)
}

/// The directories to add for `missing`, and comments; a path under a `kept` share makes that
/// share writable instead.
fn new_roots(missing: &[PathBuf], kept: &mut [Share]) -> (Vec<PathBuf>, Vec<String>) {
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    for path in missing.iter().map(|p| clean(p)) {
        if let Some(share) = kept
            .iter_mut()
            .filter(|k| k.host == k.vm && path.starts_with(&k.host))
            .max_by_key(|k| k.host.components().count())
        {
            share.writable = true;
            continue;
        }
        let wanted = if path.starts_with("/Volumes") && path.components().count() > 2 {
            PathBuf::from("/Volumes")
        } else {
            path.clone()
        };
        let Some(root) = wanted
            .ancestors()
            .find(|a| !has_space(a) && a.parent().is_some())
        else {
            comments.push(format!(
                "# colima rejects paths with spaces: `{}` cannot be shared; rename it or move it under a shared directory",
                path.display()
            ));
            continue;
        };
        if root != wanted {
            comments.push(format!(
                "# colima rejects paths with spaces: `{}` is shared through `{}`",
                wanted.display(),
                root.display()
            ));
        }
        if roots.iter().any(|r| root.starts_with(r)) {
            continue;
        }
        roots.retain(|r| !r.starts_with(root));
        roots.push(root.to_owned());
    }
    (roots, comments)
}

/// One `--mount` value, `host[:vm][:w]`, shell-quoted, with `$HOME` by name.
fn mount_flag(share: &Share, home: &Path) -> String {
    let mut flag = if share.host == home {
        String::from("$HOME")
    } else {
        shell_word(&share.host)
    };
    if share.vm != share.host {
        flag.push(':');
        flag.push_str(&shell_word(&share.vm));
    }
    if share.writable {
        flag.push_str(":w");
    }
    if share.host == home {
        format!("\"{flag}\"")
    } else {
        flag
    }
}

fn has_space(path: &Path) -> bool {
    path.to_string_lossy().chars().any(char::is_whitespace)
}

fn plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@%".contains(c))
}

fn shell_word(path: &Path) -> String {
    let s = path.to_string_lossy();
    if plain(&s) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn yaml_scalar(path: &Path) -> String {
    let s = path.to_string_lossy();
    if plain(&s) && !s.starts_with('@') && !s.starts_with('%') {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::testfiles::{HOME, MemFiles, corpus_engines, fixture, text};

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
    fn profile_names() {
        assert_eq!(Profile::from_name(None).id, "colima");
        assert_eq!(Profile::from_name(Some("default")).short_name, "default");
        let work = Profile::from_name(Some("colima-work"));
        assert_eq!(
            (work.short_name.as_str(), work.id.as_str()),
            ("work", "colima-work")
        );
        assert_eq!(Profile::from_name(Some("work")), work);
    }

    #[test]
    fn home_precedence() {
        let env = EnvVars::new()
            .with("COLIMA_HOME", "/ch")
            .with("XDG_CONFIG_HOME", "/xdg");
        let all = MemFiles::new().dir("/ch").dir("/Users/alice/.colima");
        assert_eq!(colima_home(&all, &env, home(), false), PathBuf::from("/ch"));
        // COLIMA_HOME that does not exist is ignored, as colima does
        let dot = MemFiles::new().dir("/Users/alice/.colima");
        assert_eq!(
            colima_home(&dot, &env, home(), false),
            PathBuf::from("/Users/alice/.colima")
        );
        let none = MemFiles::new();
        assert_eq!(
            colima_home(&none, &env, home(), true),
            PathBuf::from("/xdg/colima")
        );
        assert_eq!(
            colima_home(&none, &EnvVars::new(), home(), true),
            PathBuf::from("/Users/alice/.colima")
        );
        assert_eq!(
            colima_home(&none, &EnvVars::new(), home(), false),
            PathBuf::from("/Users/alice/.config/colima")
        );
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
            "vmType: vz\nmounts:\n  - location: ~/code\n    writable: true\n  - location: /Volumes/x\n    mountPoint: /x\n",
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
    fn corrupt_colima_yaml_names_file_and_line() {
        let files = MemFiles::new().file(
            "/Users/alice/.colima/default/colima.yaml",
            "cpu: 2\nmounts:\n  - location: /a\n   writable: true\n",
        );
        let err = read_on(HostConfig::new(&files, &EnvVars::new(), home()), None, true)
            .expect_err("corrupt");
        match &err {
            VmError::Parse { path, line, .. } => {
                assert_eq!(path, Path::new("/Users/alice/.colima/default/colima.yaml"));
                assert_eq!(*line, Some(4));
            }
            other => panic!("wrong error: {other}"),
        }
        assert!(err.hint().contains("colima start --edit"));
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
    fn lima_yaml_is_the_truth_and_drift_is_noticed() {
        let files = MemFiles::new()
            .file(
                "/Users/alice/.colima/work/colima.yaml",
                "vmType: vz\nmounts:\n  - location: \"~\"\n    writable: true\n  - location: /Volumes\n    writable: true\n",
            )
            .file(
                "/Users/alice/.colima/_lima/colima-work/lima.yaml",
                "vmType: vz\nmountType: virtiofs\nmounts:\n  - location: /Users/alice/\n    writable: true\n",
            );
        let got = read_on(
            HostConfig::new(&files, &EnvVars::new(), home()),
            Some("work"),
            true,
        )
        .expect("reads");
        assert_eq!(got.instance.as_deref(), Some("work"));
        assert_eq!(
            got.shares,
            vec![Share::same_path(HOME, true, Some("virtiofs"))]
        );
        assert!(
            got.notes
                .iter()
                .any(|n| n.contains("colima stop --profile work && colima start --profile work")),
            "{:?}",
            got.notes
        );
        assert_eq!(got.source_files.len(), 2);
        assert!(
            got.notes.iter().all(|n| !n.contains("stops sharing")),
            "`~` stays listed: {:?}",
            got.notes
        );
    }

    /// Issue 26 row 18: colima.yaml lists only `/Volumes` while the VM shares the home
    /// directory (started with none listed): "run `colima stop && colima start`" would drop the
    /// home directory without a word; the note says so.
    #[test]
    fn issue26_row18_the_drift_note_names_the_shares_a_restart_drops() {
        let files = MemFiles::new()
            .file(
                "/Users/alice/.colima/default/colima.yaml",
                "mounts:\n  - location: /Volumes\n    writable: true\n",
            )
            .file(
                "/Users/alice/.colima/_lima/colima/lima.yaml",
                "mountType: virtiofs\nmounts:\n  - location: /Users/alice\n    writable: true\n",
            );
        let got =
            read_on(HostConfig::new(&files, &EnvVars::new(), home()), None, true).expect("reads");
        let note = got
            .notes
            .iter()
            .find(|n| n.contains("asks for other shares"))
            .expect("a drift note");
        assert!(
            note.ends_with(
                "that stops sharing `/Users/alice` (shared now): list each under `mounts:` first to keep it"
            ),
            "{note}"
        );
    }

    #[test]
    fn override_yaml_adds_shares() {
        let files = MemFiles::new()
            .file(
                "/Users/alice/.colima/_lima/colima/lima.yaml",
                "mountType: sshfs\nmounts:\n  - location: /Users/alice/\n    writable: true\n",
            )
            .file(
                "/Users/alice/.colima/_lima/_config/override.yaml",
                "mounts:\n  - location: /Volumes/fast\n    writable: true\n",
            );
        let got =
            read_on(HostConfig::new(&files, &EnvVars::new(), home()), None, true).expect("reads");
        assert_eq!(got.shares.len(), 2);
        assert_eq!(
            got.shares[1],
            Share::same_path("/Volumes/fast", true, Some("sshfs"))
        );
    }

    #[test]
    fn not_started_uses_colima_yaml_with_a_note() {
        let files = MemFiles::new()
            .file("/ch/default/colima.yaml", "# Colima default behaviour: $HOME is mounted as writable.\nmountType: 9p\nmounts: []\n");
        let env = EnvVars::new().with("COLIMA_HOME", "/ch");
        let got = read_on(HostConfig::new(&files, &env, home()), None, true).expect("reads");
        assert_eq!(got.shares, vec![Share::same_path(HOME, true, Some("9p"))]);
        assert!(
            got.notes.iter().any(|n| n.contains("has not started")),
            "{:?}",
            got.notes
        );
    }

    #[test]
    fn nothing_found_says_what_to_do() {
        let err = read_on(
            HostConfig::new(&MemFiles::new(), &EnvVars::new(), home()),
            Some("work"),
            true,
        )
        .expect_err("none");
        assert!(
            err.to_string()
                .contains("/Users/alice/.colima/work/colima.yaml"),
            "{err}"
        );
        assert!(err.hint().contains("colima start --profile work"));
    }

    #[test]
    fn drift() {
        let a = [Share::same_path("/Users/alice", true, None)];
        let b = [Share::same_path("/Users/alice/", true, Some("virtiofs"))];
        assert!(!config_drift(&a, &b));
        let c = [Share::same_path("/Users/alice", false, None)];
        assert!(config_drift(&a, &c));
        assert!(config_drift(&a, &[]));
    }

    #[test]
    fn fix_command_exact() {
        let (cmd, block) = fix_command(
            &[
                "/Volumes/faststore/photos".into(),
                "/Users/alice/x".into(),
                "/Volumes/warm".into(),
            ],
            home(),
        );
        assert_eq!(
            cmd,
            r#"colima stop && colima start --mount "$HOME:w" --mount /Volumes:w"#
        );
        assert_eq!(
            block,
            "mounts:\n  - location: /Users/alice\n    writable: true\n  - location: /Volumes\n    writable: true\n"
        );
    }

    #[test]
    fn fix_command_with_spaces_and_profile() {
        let profile = Profile::from_name(Some("work"));
        let (cmd, block) = fix_command_for_profile(
            &[
                "/opt/my data/db".into(),
                "/opt/other".into(),
                "/with space".into(),
            ],
            &[],
            home(),
            &profile,
        );
        assert_eq!(
            cmd,
            "colima stop --profile work && colima start --profile work --mount \"$HOME:w\" --mount /opt:w\n\
             # colima rejects paths with spaces: `/opt/my data/db` is shared through `/opt`\n\
             # colima rejects paths with spaces: `/with space` cannot be shared; rename it or move it under a shared directory"
        );
        assert!(block.starts_with("mounts:\n  - location: /Users/alice\n    writable: true\n  - location: /opt\n    writable: true\n# colima"));
    }

    #[test]
    fn fix_keeps_the_existing_shares_and_makes_a_read_only_one_writable() {
        let existing = [
            Share::same_path("/srv/tiers", true, Some("9p")),
            Share::same_path("/srv/ro", false, Some("9p")),
            Share {
                host: "/Volumes/x".into(),
                vm: "/x".into(),
                writable: false,
                mount_type: None,
            },
        ];
        let (cmd, block) = fix_command_for_profile(
            &["/srv/ro/db".into(), "/opt/new".into()],
            &existing,
            home(),
            &Profile::from_name(None),
        );
        assert_eq!(
            cmd,
            "colima stop && colima start --mount /srv/tiers:w --mount /srv/ro:w --mount /Volumes/x:/x --mount /opt/new:w"
        );
        assert_eq!(
            block,
            "mounts:\n  - location: /srv/tiers\n    writable: true\n  - location: /srv/ro\n    writable: true\n  - location: /Volumes/x\n    mountPoint: /x\n    writable: false\n  - location: /opt/new\n    writable: true\n"
        );
        // $HOME among the shares keeps its name; a new parent replaces the shares under it
        let (cmd, _) = fix_command_for_profile(
            &["/srv".into()],
            &[
                Share::same_path(HOME, true, None),
                Share::same_path("/srv/tiers", true, None),
            ],
            home(),
            &Profile::from_name(None),
        );
        assert_eq!(
            cmd,
            "colima stop && colima start --mount \"$HOME:w\" --mount /srv:w"
        );
    }

    #[test]
    fn fixture_profiles() {
        let base = fixture("colima/home");
        let env = EnvVars::new().with("COLIMA_HOME", &base.to_string_lossy());
        let got = read_on(
            HostConfig::new(&crate::vm::DiskConfig, &env, home()),
            None,
            true,
        )
        .expect("default profile");
        assert_eq!(
            got.shares,
            vec![
                Share::same_path(HOME, true, Some("virtiofs")),
                Share::same_path("/Volumes", true, Some("virtiofs")),
            ]
        );
        assert!(
            got.notes
                .iter()
                .all(|n| !n.contains("asks for other shares")),
            "{:?}",
            got.notes
        );
        let old = read_on(
            HostConfig::new(&crate::vm::DiskConfig, &env, home()),
            Some("old"),
            true,
        )
        .expect("old profile");
        assert_eq!(
            old.shares,
            vec![
                Share::same_path(HOME, true, Some("sshfs")),
                Share::same_path("/tmp/colima-old", true, Some("sshfs"))
            ]
        );
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

    #[test]
    fn corpus_lima_yaml() {
        let Some(engines) = corpus_engines() else {
            return;
        };
        let path = engines.join("colima/derived/lima.yaml.vz-virtiofs-with-Volumes.yaml");
        let files =
            MemFiles::new().file("/Users/alice/.colima/_lima/colima/lima.yaml", &text(&path));
        let got =
            read_on(HostConfig::new(&files, &EnvVars::new(), home()), None, true).expect("reads");
        assert_eq!(
            got.shares,
            vec![
                Share::same_path(HOME, true, Some("virtiofs")),
                Share::same_path("/Volumes", true, Some("virtiofs")),
            ]
        );
    }
}
