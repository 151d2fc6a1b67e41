//! Colima: which host paths a Colima profile's VM shares, and over which mount type.
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

//!
//! One file per concern: [`config`] reads a colima.yaml, [`mount_type`] says which mount type
//! colima really gives a VM, [`fix`] writes the `colima start --mount` fix; this file finds the
//! files and reads a profile's shares.

mod config;
mod fix;
pub mod mount_type;

use std::path::{Path, PathBuf};

use super::lima::{self, Layer, LimaYaml, clean, read_layer};
use super::{ConfigFiles, EnvVars, HostConfig, Share, VmEngine, VmError, VmShares, read_optional};

pub use config::{
    ColimaConfig, ColimaMount, Defaults, MountsSetting, configured_shares, detect_defaults,
    parse_config,
};
pub use fix::{fix_command, fix_command_for_profile};

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
    read_with_version(
        host,
        instance,
        cfg!(target_os = "macos"),
        &installed_version,
    )
}

/// [`read`] with the host OS given (colima's home rule differs on macOS), the installed
/// colima's version unknown.
pub fn read_on(
    host: HostConfig<'_>,
    instance: Option<&str>,
    macos: bool,
) -> Result<VmShares, VmError> {
    read_with_version(host, instance, macos, &|| None)
}

/// The installed colima's version (`colima version`), `None` when colima does not run or is
/// not a release.
pub fn installed_version() -> Option<String> {
    let output = std::process::Command::new("colima")
        .arg("version")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| mount_type::parse_version_output(&String::from_utf8_lossy(&output.stdout)))
        .flatten()
}

/// [`read_on`], asking `version` for the installed colima's version when colima.yaml's
/// template does not tell which colima wrote it and the VM has not started (its lima.yaml
/// names the mount type then).
pub fn read_with_version(
    host: HostConfig<'_>,
    instance: Option<&str>,
    macos: bool,
    version: &dyn Fn() -> Option<String>,
) -> Result<VmShares, VmError> {
    let profile = Profile::from_name(instance.or_else(|| host.env.get("COLIMA_PROFILE")));
    let mut notes = Vec::new();
    let (base, lima_dir) = dirs(host, macos, &mut notes);
    let config_path = base.join(&profile.short_name).join("colima.yaml");
    let mut config = match read_optional(host.files, &config_path, "check the file's permissions")?
    {
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
    let shares = match (vm_layer, &mut config) {
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
            if config.generation == mount_type::Generation::Unknown
                && config.vm_type.as_deref() == Some("vz")
                && config.mount_type.is_none()
                && let Some(v) = version()
            {
                config.generation = mount_type::Generation::of_version(&v);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::testfiles::{HOME, MemFiles, corpus_engines, fixture, text};

    fn home() -> &'static Path {
        Path::new(HOME)
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

    /// Issue 22 item 4: a hand-written colima.yaml (`vmType: vz`, no `mountType`, no template
    /// comments) of a VM not started yet: the installed colima's version decides (sshfs up to
    /// v0.8.x, colima#1393; virtiofs after PR#1359).
    #[test]
    fn issue22_the_installed_version_decides_vz_without_mount_type() {
        let path = fixture("colima/mount-types/vz-unset.hand-written.yaml");
        let files = MemFiles::new().file("/ch/default/colima.yaml", &text(&path));
        let env = EnvVars::new().with("COLIMA_HOME", "/ch");
        let read = |version: Option<&str>| {
            let version = version.map(str::to_owned);
            read_with_version(
                HostConfig::new(&files, &env, home()),
                None,
                true,
                &move || version.clone(),
            )
            .expect("reads")
        };
        let old = read(Some("0.8.4"));
        assert_eq!(old.shares[0].mount_type.as_deref(), Some("sshfs"));
        assert!(
            old.notes.iter().any(|n| n.contains("PR#1359")),
            "{:?}",
            old.notes
        );
        let new = read(Some("0.9.1"));
        assert_eq!(new.shares[0].mount_type.as_deref(), Some("virtiofs"));
        let unknown = read(None);
        assert_eq!(unknown.shares[0].mount_type, None);
        assert!(
            unknown.notes.iter().any(|n| n.contains("colima status")),
            "{:?}",
            unknown.notes
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
