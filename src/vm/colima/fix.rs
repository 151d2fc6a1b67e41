//! The `colima start --mount` fix for host paths a profile's VM does not share, and the
//! equivalent `mounts:` block of colima.yaml.

use std::path::{Path, PathBuf};

use super::{Profile, profile_flag};
use crate::vm::Share;
use crate::vm::lima::clean;

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
    use crate::vm::testfiles::HOME;

    fn home() -> &'static Path {
        Path::new(HOME)
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
}
