//! What the engine's VM shares, as the audit and `tierctl vm` need it: the engine, its shares,
//! and whether one host path is shared (writable, at the same path).

use std::path::{Path, PathBuf};

use super::{ConfigFiles, EnvVars, HostConfig, VmError};
use crate::endpoint::{EngineGuess, engine_label};
pub use crate::share::{Coverage, VmView, vm_engine_of};

/// Read the VM's shares for an identified engine.
pub fn read_view(
    guess: EngineGuess,
    files: &dyn ConfigFiles,
    env: &EnvVars,
    home: &Path,
) -> Result<VmView, VmError> {
    let shares = match vm_engine_of(&guess) {
        None => None,
        Some((engine, instance)) => Some(engine.read(HostConfig::new(files, env, home), instance)?),
    };
    Ok(VmView {
        engine: guess,
        shares,
    })
}

/// Read the VM's shares for the engine `refined` from what the engine says of itself (`docker
/// info`'s name and OS, see `engine::endpoint::refine`), where the endpoint alone
/// identified `identified`. A name is weak evidence (a VM called `colima-like` is not Colima
/// profile `like`): when the refined guess differs and its files do not exist, the endpoint's
/// own identification stands and the note says why.
pub fn read_view_confirmed(
    identified: EngineGuess,
    refined: EngineGuess,
    files: &dyn ConfigFiles,
    env: &EnvVars,
    home: &Path,
) -> Result<(VmView, Option<String>), VmError> {
    if refined == identified {
        return Ok((read_view(refined, files, env, home)?, None));
    }
    match read_view(refined.clone(), files, env, home) {
        Ok(view) => Ok((view, None)),
        Err(VmError::NotFound {
            engine, searched, ..
        }) => {
            let note = format!(
                "the engine's name suggests {} but no {engine} configuration was found (looked in {}): it is taken as {}; `tierctl vm --probe` shows what it sees",
                engine_label(&refined),
                super::list(&searched),
                engine_label(&identified),
            );
            Ok((read_view(identified, files, env, home)?, Some(note)))
        }
        Err(other) => Err(other),
    }
}

/// The exact fix for host directories the VM does not share, or shares read-only.
pub fn fix(view: &VmView, unshared: &[PathBuf], home: &Path) -> Option<String> {
    if unshared.is_empty() {
        return None;
    }
    let list = unshared
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ");
    Some(match &view.engine {
        EngineGuess::Colima { profile } => {
            let profile = super::colima::Profile::from_name(Some(profile));
            let existing = view
                .shares
                .as_ref()
                .map_or(&[][..], |s| s.shares.as_slice());
            let (command, block) =
                super::colima::fix_command_for_profile(unshared, existing, home, &profile);
            format!("{command}\n\nor in colima.yaml (then `colima stop && colima start`):\n{block}")
        }
        EngineGuess::DockerDesktop => format!(
            "Docker Desktop: Settings > Resources > File sharing: add {list}, then Apply & restart"
        ),
        EngineGuess::RancherDesktop => format!(
            "Rancher Desktop: add {list} as writable mounts in `~/Library/Application Support/rancher-desktop/lima/_config/override.yaml` (`mounts:`), then restart Rancher Desktop"
        ),
        EngineGuess::Lima { instance } => format!(
            "add {list} under `mounts:` with `writable: true` (`limactl edit {instance}`), then `limactl stop {instance} && limactl start {instance}`"
        ),
        EngineGuess::Podman { machine } => {
            let name = machine.as_deref().unwrap_or("podman-machine-default");
            let volumes = unshared
                .iter()
                .map(|p| format!(" -v {0}:{0}", p.display()))
                .collect::<String>();
            format!(
                "Podman machine shares are fixed at `podman machine init -v`: `podman machine rm {name} && podman machine init{volumes} {name}` (this recreates the VM)"
            )
        }
        EngineGuess::OrbStack
        | EngineGuess::Native
        | EngineGuess::Remote
        | EngineGuess::Unknown => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::{Share, colima};

    #[test]
    fn native_sees_everything_and_remote_is_unknown() {
        let native = VmView {
            engine: EngineGuess::Native,
            shares: None,
        };
        assert_eq!(native.coverage(Path::new("/srv/x")), Coverage::Native);
        assert!(Coverage::Native.same_path(Path::new("/srv/x")));
        let remote = VmView {
            engine: EngineGuess::Remote,
            shares: None,
        };
        assert_eq!(remote.coverage(Path::new("/srv/x")), Coverage::Unknown);
    }

    #[test]
    fn colima_default_home_share_misses_volumes() {
        let view = colima(vec![Share::same_path("/Users/alice", true, Some("sshfs"))]);
        assert_eq!(
            view.coverage(Path::new("/Volumes/faststore/photos")),
            Coverage::NotShared
        );
        let covered = view.coverage(Path::new("/Users/alice/immich"));
        assert!(
            covered.same_path(Path::new("/Users/alice/immich")),
            "{covered:?}"
        );
    }

    #[test]
    fn a_share_at_another_path_is_not_the_same_path() {
        let view = colima(vec![Share {
            host: "/Volumes/fast".into(),
            vm: "/mnt/fast".into(),
            writable: true,
            mount_type: None,
        }]);
        let covered = view.coverage(Path::new("/Volumes/fast/db"));
        assert!(!covered.same_path(Path::new("/Volumes/fast/db")));
        assert!(
            matches!(covered, Coverage::Shared { vm_path, .. } if vm_path == Path::new("/mnt/fast/db"))
        );
    }

    #[test]
    fn colima_fix_keeps_home_and_shares_volumes_writable() {
        let view = colima(Vec::new());
        let fix = fix(
            &view,
            &[PathBuf::from("/Volumes/faststore/photos")],
            Path::new("/Users/alice"),
        )
        .expect("a fix");
        assert!(
            fix.starts_with("colima stop && colima start --mount \"$HOME:w\" --mount /Volumes:w"),
            "{fix}"
        );
        assert!(
            fix.contains("mounts:\n  - location: /Users/alice\n    writable: true"),
            "{fix}"
        );
    }

    #[test]
    fn no_fix_without_unshared_paths_or_for_native() {
        let native = VmView {
            engine: EngineGuess::Native,
            shares: None,
        };
        assert_eq!(fix(&native, &[PathBuf::from("/x")], Path::new("/h")), None);
        assert_eq!(fix(&colima(Vec::new()), &[], Path::new("/h")), None);
    }

    #[test]
    fn a_name_alone_without_its_files_does_not_make_colima() {
        use crate::vm::testfiles::MemFiles;
        let like = EngineGuess::Colima {
            profile: "like".into(),
        };
        let env = EnvVars::new().with("COLIMA_HOME", "/ch");
        let none = MemFiles::new();
        let (view, note) = read_view_confirmed(
            EngineGuess::Remote,
            like.clone(),
            &none,
            &env,
            Path::new("/h"),
        )
        .expect("no error");
        assert_eq!(view.engine, EngineGuess::Remote);
        assert!(view.shares.is_none());
        let note = note.expect("a note");
        assert!(
            note.starts_with("the engine's name suggests Colima (profile `like`) but no Colima configuration was found (looked in `/h/.config/colima/like/colima.yaml`"),
            "{note}"
        );
        let files = MemFiles::new().file("/ch/like/colima.yaml", "mountType: 9p\nmounts: []\n");
        let (view, note) = read_view_confirmed(
            EngineGuess::Remote,
            like.clone(),
            &files,
            &env,
            Path::new("/h"),
        )
        .expect("reads");
        assert_eq!((view.engine, note), (like, None));
    }

    #[test]
    fn podman_fix_recreates_the_machine() {
        let view = VmView {
            engine: EngineGuess::Podman { machine: None },
            shares: None,
        };
        let fix = fix(&view, &[PathBuf::from("/Volumes/x")], Path::new("/h")).expect("a fix");
        assert!(
            fix.contains("podman machine init -v /Volumes/x:/Volumes/x podman-machine-default"),
            "{fix}"
        );
    }
}
