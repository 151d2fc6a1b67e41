//! Pure: `tierctl migrate --to-context B` as data. The local migration's plan (built with B's
//! tier map, so every copy's target is a path on B's host) becomes a plan whose copies cross
//! engines and whose only file change is a new compose file for B beside the original (which
//! stays untouched, for rollback); the helpers of both engines (transfer, tree manifests, root
//! attributes, B's tier roots) and the parsing of what they print.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{Capability, HelperSpec, MountSource, MountSpec};
use crate::migrate::plan::{FileChange, MigratePlan, MigrateStep};
use crate::migrate::tree::helper::{self, Depth, ListingError};
use crate::migrate::tree::manifest::{Entry, Manifest};
use crate::migrate::tree::stat::{self, Stat};

/// Where a cross-host migration goes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossHost {
    /// The docker context of engine B.
    pub context: String,
    /// The compose file written for B (beside the original); the first of `compose_files`.
    pub compose_file: PathBuf,
    /// Every compose file written for B, one beside each of the project's files, in their
    /// order (the `-f` list on B). Empty in journals written before several files moved: then
    /// `compose_file` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compose_files: Vec<PathBuf>,
    /// B's tier roots (from B's tier map): each target lies in one, and the helpers on B
    /// mount it to look at it and create the target.
    pub roots: Vec<PathBuf>,
    /// The services' images, which must be on B (no registry is assumed).
    #[serde(default)]
    pub images: Vec<String>,
    /// A Swarm service moved to another node (`migrate --to-node`): B is that node's engine,
    /// the stack file is rewritten in place (not copied for B), and the service is stopped and
    /// placed through the swarm's manager instead of compose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<crate::migrate::swarm_service::SwarmService>,
}

/// Where the source is mounted in the helpers on A.
pub const FROM: &str = "/from";
/// Where the target is mounted in the helpers on B.
pub const TO: &str = "/to";

/// `compose.yaml` -> `compose.B.yaml`; `docker-compose.yml` -> `docker-compose.B.yml`; a name
/// without an extension gets `.B.yaml` appended.
pub fn compose_file_for(original: &Path, context: &str) -> PathBuf {
    let name = original
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "compose.yaml".into());
    let renamed = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.{context}.{ext}"),
        _ => format!("{name}.{context}.yaml"),
    };
    original.with_file_name(renamed)
}

impl CrossHost {
    /// The compose files the project starts from on B, in order.
    pub fn files_for_b(&self) -> Vec<PathBuf> {
        if self.compose_files.is_empty() {
            vec![self.compose_file.clone()]
        } else {
            self.compose_files.clone()
        }
    }
}

/// Why a project cannot move to another engine (yet): the move would edit a file that is not
/// one of the compose files it was `given` (an env file, or a file they `include:` or
/// `extends: { file: }`): only the given files get a copy for B. A file they name that the
/// move leaves alone is fine: each copy for B lies beside its original, so it names the same
/// file, and that file needs nothing else on B.
pub fn unsupported(plan: &MigratePlan, given: &[PathBuf]) -> Option<String> {
    plan.files
        .iter()
        .find(|f| !given.contains(&f.path))
        .map(|f| {
            format!(
                "the move would edit `{}` as well, which is not one of the project's compose files (an env file, or a file they include or extend); `--to-context` writes copies only of the compose files for the other engine: move that mount into a compose file given with `-f`",
                f.path.display()
            )
        })
}

/// The cross-host plan from the local plan built with B's tier map: every service of the
/// project moves (`services`); each compose file of `originals` (path, text, in the project's
/// order) gets a new file for B beside it, `compose.<B>.yaml`, with the rewritten text (the
/// original text when nothing in it needs rewriting); the steps run the copies across engines
/// (pre-copy while A runs, unless `pre_copy` is off).
pub fn build(
    mut plan: MigratePlan,
    context: &str,
    roots: Vec<PathBuf>,
    services: Vec<(String, Option<String>)>,
    originals: &[(PathBuf, String)],
) -> MigratePlan {
    let mut images: Vec<String> = services.iter().filter_map(|(_, i)| i.clone()).collect();
    images.sort();
    images.dedup();
    let services = services.into_iter().map(|(s, _)| s).collect();
    let files: Vec<FileChange> = originals
        .iter()
        .map(|(path, original)| FileChange {
            path: compose_file_for(path, context),
            old: String::new(),
            new: plan
                .files
                .iter()
                .find(|f| &f.path == path)
                .map_or_else(|| original.clone(), |f| f.new.clone()),
        })
        .collect();
    let compose_files: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    plan.files = files;
    plan.services = services;
    plan.steps = steps(plan.copies.len(), plan.pre_copy);
    plan.to_context = Some(Box::new(CrossHost {
        context: context.to_owned(),
        compose_file: compose_files.first().cloned().unwrap_or_default(),
        compose_files,
        roots,
        images,
        swarm: None,
    }));
    plan
}

/// A Swarm service's move to the node whose engine is `context` (`migrate --to-node`): the
/// local plan that rewrites its stack file in place (its binds and constraints for the new
/// node: [`crate::plan::node_move`]) becomes a move to B whose only service is the Swarm
/// service's; its copies cross engines as `--to-context`'s do.
pub fn swarm_move(
    mut plan: MigratePlan,
    context: &str,
    roots: Vec<PathBuf>,
    images: Vec<String>,
    swarm: crate::migrate::swarm_service::SwarmService,
) -> MigratePlan {
    plan.services = vec![swarm.service.clone()];
    plan.needs.clear();
    plan.steps = steps(plan.copies.len(), plan.pre_copy);
    plan.to_context = Some(Box::new(CrossHost {
        context: context.to_owned(),
        compose_file: plan
            .files
            .first()
            .map(|f| f.path.clone())
            .unwrap_or_default(),
        compose_files: Vec::new(),
        roots,
        images,
        swarm: Some(swarm),
    }));
    plan
}

/// The steps: a migration's ([`crate::migrate::plan::steps_of`]) without the running verify,
/// which needs both trees in one helper: with a pre-copy, each copy is made while A runs and
/// its delta is copied while A is stopped; then the verify, the compose file for B, the start
/// on B and its mounts.
fn steps(copies: usize, pre_copy: bool) -> Vec<MigrateStep> {
    let options = crate::migrate::plan::Options {
        remove_source: false,
        pre_copy,
    };
    crate::migrate::plan::steps_of(copies, options)
        .into_iter()
        .filter(|step| !matches!(step, MigrateStep::PreVerify(_)))
        .collect()
}

/// A step's description where a cross-host migration differs from a local one (`None`: the
/// same words).
pub fn describe(
    cross: &CrossHost,
    step: &MigrateStep,
    source: &dyn Fn(&usize) -> String,
    target: &dyn Fn(&usize) -> String,
) -> Option<String> {
    let b = &cross.context;
    if let Some(swarm) = &cross.swarm {
        let short = |id: &str| id.chars().take(12).collect::<String>();
        match step {
            MigrateStep::Stop => {
                return Some(format!(
                    "scale swarm service `{}` to 0 on node {} and wait until its task ended",
                    swarm.name,
                    short(&swarm.from_node)
                ));
            }
            MigrateStep::Start => {
                return Some(format!(
                    "update `{}`: constraints {}, binds to node {}'s tier, {} replica(s); wait until its task runs there",
                    swarm.name,
                    swarm.after.constraints.join(", "),
                    short(&swarm.to_node),
                    swarm.after.replicas
                ));
            }
            MigrateStep::VerifyMounts => {
                return Some(format!("verify the task's mounts on `{b}`"));
            }
            _ => {}
        }
    }
    Some(match step {
        MigrateStep::CreateDir(n) => format!("create {} on `{b}`", target(n)),
        MigrateStep::PreCopy(n) => format!(
            "pre-copy {} -> `{b}`:{} while the services run",
            source(n),
            target(n)
        ),
        MigrateStep::Copy(n) => format!("copy {} -> `{b}`:{}", source(n), target(n)),
        MigrateStep::Delta(n) => format!(
            "copy what changed in {} -> `{b}` while stopped (A's stopped manifest against the pre-copy's)",
            source(n)
        ),
        MigrateStep::Verify(n) => format!(
            "verify the copy of {} (sha256 manifests computed on each engine)",
            source(n)
        ),
        MigrateStep::Start => format!("start the services on `{b}`"),
        MigrateStep::VerifyMounts => format!("verify mounts on `{b}`"),
        _ => return None,
    })
}

fn shell(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

fn spec(purpose: &str, image: &str, journal: &str, command: Vec<String>) -> HelperSpec {
    HelperSpec {
        journal: Some(journal.into()),
        ..HelperSpec::new(purpose, image, command)
    }
}

/// The helper on A (never started) whose archive stream of `FROM/.` is the copy's tar.
pub fn read_spec(source: &MountSource, image: &str, journal: &str) -> HelperSpec {
    HelperSpec {
        mounts: vec![MountSpec {
            source: source.clone(),
            target: FROM.into(),
            read_only: true,
        }],
        ..spec("transfer-read", image, journal, shell("true"))
    }
}

/// The helper on B (never started) the tar is extracted into, at `TO`.
pub fn write_spec(target: &Path, image: &str, journal: &str) -> HelperSpec {
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(target.to_path_buf()),
            target: TO.into(),
            read_only: false,
        }],
        ..spec("transfer-write", image, journal, shell("true"))
    }
}

/// The helper that prints the manifest of the tree `source` (read-only, at `at`) on its
/// engine: the one manifest helper ([`helper::spec`]); only its listing crosses, never the
/// data. Read by [`parse_manifest`].
pub fn manifest_spec(source: &MountSource, at: &str, image: &str, journal: &str) -> HelperSpec {
    let base = HelperSpec {
        mounts: vec![MountSpec {
            source: source.clone(),
            target: at.into(),
            read_only: true,
        }],
        ..spec("manifest", image, journal, shell("true"))
    };
    helper::spec(&base, &[(at, Depth::Hashed)])
}

/// The root directory's owner, mode and mtime on A: its `stat` line in the one format
/// ([`stat::FORMAT`]).
pub fn root_stat_spec(source: &MountSource, image: &str, journal: &str) -> HelperSpec {
    HelperSpec {
        mounts: vec![MountSpec {
            source: source.clone(),
            target: FROM.into(),
            read_only: true,
        }],
        capabilities: vec![Capability::DacReadSearch],
        ..spec(
            "root-stat",
            image,
            journal,
            shell(&format!("stat -c '{}' {FROM}", stat::FORMAT)),
        )
    }
}

/// The root directory's attributes (the engine's archive extraction leaves the existing target
/// directory's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootAttributes {
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Permission bits.
    pub mode: u32,
    /// Modification time, seconds.
    pub mtime: i64,
}

/// Read [`root_stat_spec`]'s output.
pub fn parse_root(text: &str) -> Option<RootAttributes> {
    let root = Stat::parse(text.trim())?;
    Some(RootAttributes {
        uid: root.uid,
        gid: root.gid,
        mode: root.permissions(),
        mtime: root.mtime,
    })
}

/// The root's attributes from a manifest's root entry.
pub fn root_attributes(root: &Entry) -> Option<RootAttributes> {
    Some(RootAttributes {
        uid: root.uid,
        gid: root.gid,
        mode: root.mode,
        mtime: i64::try_from(root.mtime?).ok()?,
    })
}

/// The helper on B that applies one run of a delta's removals and in-place fixes below the
/// copy ([`crate::migrate::stream::delta::APPLY`]).
pub fn apply_spec(target: &Path, args: Vec<String>, image: &str, journal: &str) -> HelperSpec {
    let mut command = shell(crate::migrate::stream::delta::APPLY);
    command.push("tierctl-delta".into());
    command.extend(args);
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(target.to_path_buf()),
            target: TO.into(),
            read_only: false,
        }],
        capabilities: vec![
            Capability::Chown,
            Capability::Fowner,
            Capability::Fsetid,
            Capability::DacOverride,
        ],
        ..spec("delta-apply", image, journal, command)
    }
}

/// The helper on B that gives the target's root A's owner, mode and mtime.
pub fn root_fix_spec(
    target: &Path,
    root: RootAttributes,
    image: &str,
    journal: &str,
) -> HelperSpec {
    let script = format!(
        "chown {}:{} /to && chmod {:o} /to && touch -d @{} /to",
        root.uid, root.gid, root.mode, root.mtime
    );
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(target.to_path_buf()),
            target: TO.into(),
            read_only: false,
        }],
        capabilities: vec![Capability::Chown, Capability::Fowner],
        ..spec("root-attributes", image, journal, shell(&script))
    }
}

/// The helper on B that looks at a tier root (mounted at `/t`): free bytes, and for each
/// relative target path whether it is missing, empty or holds entries; a read-write mount so
/// a root the engine cannot write is refused here. Read by [`parse_room`].
pub fn room_spec(root: &Path, relative: &[String], image: &str, journal: &str) -> HelperSpec {
    let mut command = shell(
        "stat -f -c '%a %S' /t || exit 1
shift
for rel do
  if [ ! -e \"/t/$rel\" ]; then echo missing
  elif [ -n \"$(ls -A \"/t/$rel\" 2>/dev/null | head -n 1)\" ]; then echo full
  else echo empty; fi
done",
    );
    command.push("tierctl-room".into());
    command.push("-".into());
    command.extend(relative.iter().cloned());
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(root.to_path_buf()),
            target: "/t".into(),
            read_only: false,
        }],
        capabilities: vec![Capability::DacReadSearch],
        ..spec("room", image, journal, command)
    }
}

/// What the room helper found at one tier root of B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// Bytes available to an unprivileged writer.
    pub available: u64,
    /// Per target: `missing`, `empty` or `full`.
    pub targets: Vec<String>,
}

/// Read [`room_spec`]'s output.
pub fn parse_room(text: &str) -> Option<Room> {
    let mut lines = text.lines();
    let mut first = lines.next()?.split_whitespace();
    let blocks: u64 = first.next()?.parse().ok()?;
    let size: u64 = first.next()?.parse().ok()?;
    Some(Room {
        available: blocks.saturating_mul(size),
        targets: lines.map(|l| l.trim().to_owned()).collect(),
    })
}

/// The helper that creates `relative` under a tier root (mounted at `/t`), one component at a
/// time, and prints `made REL` for the topmost directory it made (nothing when all existed):
/// [`parse_made`].
pub fn mkdir_spec(root: &Path, relative: &str, image: &str, journal: &str) -> HelperSpec {
    let mut command = shell(
        "set -f; IFS=/; r=; top=
for c in $1; do
  [ -n \"$c\" ] || continue
  r=\"$r/$c\"
  if [ ! -e \"/t$r\" ] && [ ! -L \"/t$r\" ]; then
    mkdir \"/t$r\" || exit 1
    [ -n \"$top\" ] || top=$r
  fi
done
[ -z \"$top\" ] || printf 'made %s\\n' \"${top#/}\"",
    );
    command.extend(["tierctl-mkdir".into(), relative.into()]);
    tier_root_spec(root, "mkdir", image, journal, command)
}

/// The topmost directory [`mkdir_spec`] made, relative to its tier root.
pub fn parse_made(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("made "))
        .map(|rel| rel.trim_end().to_owned())
        .filter(|rel| !rel.is_empty())
}

/// The helper that removes the empty directories from `relative` up to `top` (both below a
/// tier root mounted at `/t`, `top` at or above `relative`), each only while empty: what
/// [`mkdir_spec`] made for a copy that is gone. `None` when a path climbs out of the root or
/// `top` is not above `relative`.
pub fn rmdir_spec(
    root: &Path,
    relative: &str,
    top: &str,
    image: &str,
    journal: &str,
) -> Option<HelperSpec> {
    let inside = |rel: &str| {
        !rel.is_empty()
            && Path::new(rel)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    if !inside(relative) || !inside(top) || !Path::new(relative).starts_with(top) {
        return None;
    }
    let mut command = shell(
        "r=$1
while rmdir \"/t/$r\" 2>/dev/null && [ \"$r\" != \"$2\" ]; do
  r=${r%/*}
done
exit 0",
    );
    command.extend(["tierctl-rmdir".into(), relative.into(), top.into()]);
    Some(tier_root_spec(root, "rmdir", image, journal, command))
}

/// The helper on B that removes `relative` (a copy) below a tier root (mounted at `/t`);
/// `None` when `relative` is empty or climbs out of the root.
pub fn remove_spec(root: &Path, relative: &str, image: &str, journal: &str) -> Option<HelperSpec> {
    let inside = Path::new(relative)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if relative.is_empty() || !inside {
        return None;
    }
    let mut command = shell("rm -rf -- \"/t/$1\"");
    command.extend(["tierctl-remove-copy".into(), relative.into()]);
    Some(tier_root_spec(root, "remove-copy", image, journal, command))
}

/// A helper that changes what lies below a tier root: `root` mounted writable at `/t`,
/// `DAC_OVERRIDE` to write whatever the modes say.
fn tier_root_spec(
    root: &Path,
    purpose: &str,
    image: &str,
    journal: &str,
    command: Vec<String>,
) -> HelperSpec {
    HelperSpec {
        mounts: vec![MountSpec {
            source: MountSource::Bind(root.to_path_buf()),
            target: "/t".into(),
            read_only: false,
        }],
        capabilities: vec![Capability::DacOverride],
        ..spec(purpose, image, journal, command)
    }
}

/// The root of `roots` that `target` lies in (component-wise) and the target's path below it.
pub fn root_of<'r>(roots: &'r [PathBuf], target: &Path) -> Option<(&'r Path, String)> {
    roots
        .iter()
        .filter_map(|root| {
            let rel = target.strip_prefix(root).ok()?;
            Some((root.as_path(), rel.to_string_lossy().into_owned()))
        })
        .max_by_key(|(root, _)| root.components().count())
}

/// Read [`manifest_spec`]'s output (the tree at `at`) into the same [`Manifest`] the local
/// verify compares ([`crate::migrate::tree::manifest::compare`]); content hashes are SHA-256 on
/// both sides.
pub fn parse_manifest(text: &str, at: &str) -> Result<Manifest, ListingError> {
    helper::parse(text, &[(at, Depth::Hashed)])?
        .pop()
        .ok_or(ListingError::FewerTrees)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compose_file_for_b_sits_beside_the_original() {
        assert_eq!(
            compose_file_for(Path::new("/srv/app/compose.yaml"), "nas"),
            PathBuf::from("/srv/app/compose.nas.yaml")
        );
        assert_eq!(
            compose_file_for(Path::new("/srv/app/docker-compose.yml"), "b"),
            PathBuf::from("/srv/app/docker-compose.b.yml")
        );
        assert_eq!(
            compose_file_for(Path::new("/srv/app/stack"), "b"),
            PathBuf::from("/srv/app/stack.b.yaml")
        );
    }

    #[test]
    fn the_manifest_helper_is_the_one_helper_reading_the_tree_at_its_mount() {
        let source = MountSource::Volume("v".into());
        let helper = manifest_spec(&source, TO, "img", "j");
        assert_eq!(helper.purpose, "manifest");
        assert_eq!(helper.capabilities, [Capability::DacReadSearch]);
        assert!(helper.mounts.iter().all(|m| m.read_only && m.target == TO));
        assert_eq!(helper.command[5..], [TO, "hash"]);
        let cut = format!("@root hash {TO}\n");
        assert!(parse_manifest(&cut, TO).is_err());
    }

    #[test]
    fn the_topmost_directory_made_is_read_and_only_what_was_made_is_removed() {
        assert_eq!(parse_made("made app/db\n").as_deref(), Some("app/db"));
        assert_eq!(parse_made(""), None);
        assert_eq!(parse_made("made \n"), None);
        let root = Path::new("/tiers/fast");
        let spec = rmdir_spec(root, "app/db", "app", "img", "j").expect("inside the root");
        assert_eq!(spec.command[4..], ["app/db".to_owned(), "app".to_owned()]);
        assert_eq!(spec.mounts[0].source, MountSource::Bind(root.to_path_buf()));
        // nothing out of the root, and `top` must lie above the copy
        assert!(rmdir_spec(root, "../x", "..", "img", "j").is_none());
        assert!(rmdir_spec(root, "app/db", "other", "img", "j").is_none());
        assert!(rmdir_spec(root, "app/db", "", "img", "j").is_none());
        assert!(rmdir_spec(root, "/abs", "/abs", "img", "j").is_none());
    }

    #[test]
    fn room_and_root_outputs_are_read() {
        assert_eq!(
            parse_room("100 4096\nmissing\nempty\nfull\n"),
            Some(Room {
                available: 409_600,
                targets: vec!["missing".into(), "empty".into(), "full".into()],
            })
        );
        assert_eq!(
            parse_root("41c0 4096 999 998 1700000000 1700000001 48 2 3 0 0\n"),
            Some(RootAttributes {
                uid: 999,
                gid: 998,
                mode: 0o700,
                mtime: 1_700_000_000
            })
        );
    }

    #[test]
    fn the_cross_host_plan_writes_one_new_file_and_moves_every_service() {
        let local = MigratePlan {
            project: "app".into(),
            compose_files: vec!["/srv/app/compose.yaml".into()],
            files: vec![FileChange {
                path: "/srv/app/compose.yaml".into(),
                old: "old".into(),
                new: "new".into(),
            }],
            pre_copy: true,
            ..MigratePlan::default()
        };
        let originals = [("/srv/app/compose.yaml".into(), "old".to_owned())];
        assert_eq!(unsupported(&local, &local.compose_files), None);
        let services = vec![
            ("db".into(), Some("postgres:16".into())),
            ("web".into(), None),
        ];
        let plan = build(local, "b", vec!["/b".into()], services, &originals);
        assert_eq!(plan.services, ["db", "web"]);
        assert_eq!(plan.files.len(), 1);
        assert_eq!(plan.files[0].path, PathBuf::from("/srv/app/compose.b.yaml"));
        assert_eq!(
            (plan.files[0].old.as_str(), plan.files[0].new.as_str()),
            ("", "new")
        );
        assert_eq!(
            plan.steps.iter().map(MigrateStep::id).collect::<Vec<_>>(),
            ["stop", "rewrite", "start", "verify-mounts"]
        );
        let cross = plan.to_context.expect("cross");
        assert_eq!(
            (cross.context.as_str(), cross.images.as_slice()),
            ("b", ["postgres:16".to_owned()].as_slice())
        );
    }

    #[test]
    fn every_compose_file_gets_a_file_for_b_in_order() {
        let local = MigratePlan {
            compose_files: vec!["/srv/a.yaml".into(), "/srv/b.yaml".into()],
            files: vec![FileChange {
                path: "/srv/b.yaml".into(),
                old: "b old".into(),
                new: "b new".into(),
            }],
            ..MigratePlan::default()
        };
        let originals = [
            ("/srv/a.yaml".into(), "a".to_owned()),
            ("/srv/b.yaml".into(), "b old".to_owned()),
        ];
        assert_eq!(unsupported(&local, &local.compose_files), None);
        let plan = build(local, "nas", vec!["/b".into()], Vec::new(), &originals);
        let written: Vec<(&Path, &str)> = plan
            .files
            .iter()
            .map(|f| (f.path.as_path(), f.new.as_str()))
            .collect();
        assert_eq!(
            written,
            [
                (Path::new("/srv/a.nas.yaml"), "a"),
                (Path::new("/srv/b.nas.yaml"), "b new")
            ]
        );
        let cross = plan.to_context.expect("cross");
        assert_eq!(
            cross.files_for_b(),
            [PathBuf::from("/srv/a.nas.yaml"), "/srv/b.nas.yaml".into()]
        );
    }

    #[test]
    fn a_file_the_move_leaves_alone_may_be_named_but_an_edit_outside_the_compose_files_is_refused()
    {
        let local = MigratePlan {
            compose_files: vec!["/srv/a.yaml".into()],
            ..MigratePlan::default()
        };
        // the copy for B names the same files beside it (an include, an extended file):
        // nothing in them changes
        assert_eq!(unsupported(&local, &local.compose_files), None);
        let edit = |path: &str| MigratePlan {
            files: vec![FileChange {
                path: path.into(),
                old: String::new(),
                new: String::new(),
            }],
            ..local.clone()
        };
        assert!(
            unsupported(&edit("/srv/.env"), &local.compose_files)
                .is_some_and(|m| m.contains("`/srv/.env`"))
        );
        assert!(
            unsupported(&edit("/srv/common.yaml"), &local.compose_files)
                .is_some_and(|m| m.contains("`/srv/common.yaml` as well"))
        );
        assert_eq!(
            unsupported(&edit("/srv/a.yaml"), &local.compose_files),
            None
        );
    }
}
