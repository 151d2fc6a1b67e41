//! Which mount type colima really gives a VM, from colima.yaml's `vmType` and `mountType` and
//! the colima version that wrote it. What colima's own template says ("Default: virtiofs (for
//! vz), sshfs (for qemu)") was not what every release did:
//!
//! * `vz` without a mount type got **sshfs** on new instances until colima PR#1359 ("cli: set
//!   default mount type to virtiofs for vz", merged 2025-08-03); colima#1393 shows vz with sshfs
//!   on v0.8.4, colima#83 on v0.8.1. Colima's release after that PR is v0.9.0, so a colima.yaml
//!   from a v0.8.x template (its comment "$HOME and /tmp/colima are mounted as writable") is
//!   taken as before it, one whose `vmType` comment lists `krunkit` (added after it, compare
//!   the corpus templates v0.8.4 and HEAD) as after it. When the comments do not tell (a
//!   hand-written file) and the VM has not started, the installed colima's version decides
//!   (`colima version`, read by `colima::installed_version`).
//! * `qemu` with `virtiofs` asked gets **9p**: colima's Lima config maps virtiofs to 9p for any
//!   VM type but vz (colima#517, still open).
//! * `krunkit` (a VM type of newer colima): Lima's krunkit driver takes only virtiofs or
//!   reverse-sshfs, but colima writes 9p for it unless sshfs is asked, and the VM does not start
//!   (colima#1607; the fix is colima PR#1641, with PR#1609 rewriting `--mount-type 9p`).
//!
//! Mount type names are colima's: `sshfs` (Lima's reverse-sshfs), `9p`, `virtiofs`.

/// Which colima wrote a colima.yaml, as far as its template comments tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// A v0.8.x template or older: `vz` without a mount type meant sshfs.
    BeforeVirtiofsDefault,
    /// A template that lists the `krunkit` VM type: after PR#1359, `vz` means virtiofs.
    VirtiofsDefault,
    /// The comments do not tell (a hand-written file, or a template in between).
    Unknown,
}

impl Generation {
    /// The generation a colima.yaml's comments record.
    pub fn of_template(text: &str) -> Generation {
        if text.contains("$HOME and /tmp/colima are mounted as writable") {
            Generation::BeforeVirtiofsDefault
        } else if text.contains("Virtual Machine type (krunkit") {
            Generation::VirtiofsDefault
        } else {
            Generation::Unknown
        }
    }

    /// The generation of a colima version (`colima version` prints `colima version 0.8.4`).
    pub fn of_version(version: &str) -> Generation {
        let digits = version.trim().trim_start_matches('v');
        let mut parts = digits.split('.').map(|p| p.parse::<u32>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(0), Some(minor)) if minor < 9 => Generation::BeforeVirtiofsDefault,
            (Some(_), Some(_)) => Generation::VirtiofsDefault,
            _ => Generation::Unknown,
        }
    }
}

/// The version in `colima version`'s first line (`colima version 0.8.4`), when it is a release.
pub fn parse_version_output(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    let version = first.trim().strip_prefix("colima version ")?.trim();
    version
        .starts_with(|c: char| c.is_ascii_digit() || c == 'v')
        .then(|| version.to_owned())
}

/// The mount type a VM gets, with a note when it is not what the file says or is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The mount type (`None`: cannot be told from the file).
    pub mount_type: Option<String>,
    /// Why, when it is not simply what the file says.
    pub note: Option<String>,
}

impl Resolved {
    fn plain(mount_type: &str) -> Resolved {
        Resolved {
            mount_type: Some(mount_type.to_owned()),
            note: None,
        }
    }

    fn noted(mount_type: Option<&str>, note: &str) -> Resolved {
        Resolved {
            mount_type: mount_type.map(str::to_owned),
            note: Some(note.to_owned()),
        }
    }
}

/// colima's own names for a mount type asked for (`--mount-type`, `mountType`).
fn normalised(asked: &str) -> &str {
    match asked.to_ascii_lowercase().as_str() {
        "ssh" | "sshfs" | "reversessh" | "reverse-ssh" | "reversesshfs" | "reverse-sshfs" => {
            "sshfs"
        }
        "9p" | "9pfs" => "9p",
        "vz" | "virtiofs" | "viofs" => "virtiofs",
        _ => "other",
    }
}

/// The mount type colima gives a VM of `vm_type` when colima.yaml asks for `asked`.
pub fn resolve(vm_type: Option<&str>, asked: Option<&str>, generation: Generation) -> Resolved {
    let asked = asked.filter(|a| !a.is_empty());
    match (vm_type, asked.map(normalised)) {
        (_, Some("other")) => Resolved {
            mount_type: asked.map(str::to_owned),
            note: None,
        },
        (Some("qemu"), Some("virtiofs")) => Resolved::noted(
            Some("9p"),
            "`mountType: virtiofs` with `vmType: qemu`: colima mounts 9p instead (colima#517)",
        ),
        (Some("krunkit"), Some("sshfs")) => Resolved::plain("sshfs"),
        (Some("krunkit"), _) => Resolved::noted(
            Some("virtiofs"),
            "`vmType: krunkit`: Lima's krunkit driver mounts virtiofs, but colima releases without PR#1641 write 9p for it and the VM does not start (colima#1607); `--mount-type sshfs` works on every release",
        ),
        (_, Some(asked)) => Resolved::plain(asked),
        (Some("vz"), None) => match generation {
            Generation::BeforeVirtiofsDefault => Resolved::noted(
                Some("sshfs"),
                "`vmType: vz` without `mountType`: colima up to v0.8.x mounts sshfs (virtiofs only since colima PR#1359; colima#1393)",
            ),
            Generation::VirtiofsDefault => Resolved::plain("virtiofs"),
            Generation::Unknown => Resolved::noted(
                None,
                "`vmType: vz` without `mountType`: colima up to v0.8.x mounts sshfs, newer ones virtiofs (colima PR#1359); `colima status` shows which",
            ),
        },
        (Some("qemu"), None) => Resolved::plain("sshfs"),
        (_, None) => Resolved {
            mount_type: None,
            note: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::testfiles::{corpus_engines, fixture, text};

    fn of_fixture(name: &str) -> Resolved {
        let path = fixture(&format!("colima/mount-types/{name}"));
        let config = super::super::parse_config(&path, &text(&path)).expect("parses");
        resolve(
            config.vm_type.as_deref(),
            config.mount_type.as_deref(),
            config.generation,
        )
    }

    /// colima#1393: a v0.8.4 profile saved with vz and sshfs is sshfs, not virtiofs.
    #[test]
    fn vz_sshfs_as_v0_8_4_saved_it() {
        assert_eq!(of_fixture("vz-sshfs.v0.8.4.yaml"), Resolved::plain("sshfs"));
    }

    /// PR#1359: vz without a mount type is sshfs in a v0.8 template, virtiofs in a newer one.
    #[test]
    fn vz_without_mount_type_depends_on_the_generation() {
        let old = of_fixture("vz-unset.v0.8-template.yaml");
        assert_eq!(old.mount_type.as_deref(), Some("sshfs"));
        assert!(old.note.expect("a note").contains("PR#1359"));
        assert_eq!(
            of_fixture("vz-unset.krunkit-template.yaml"),
            Resolved::plain("virtiofs")
        );
        let unknown = of_fixture("vz-unset.hand-written.yaml");
        assert_eq!(unknown.mount_type, None);
        assert!(unknown.note.expect("a note").contains("colima status"));
        assert_eq!(of_fixture("vz-virtiofs.yaml"), Resolved::plain("virtiofs"));
    }

    /// colima#517: qemu with virtiofs asked is 9p.
    #[test]
    fn qemu_virtiofs_is_9p() {
        let got = of_fixture("qemu-virtiofs.yaml");
        assert_eq!(got.mount_type.as_deref(), Some("9p"));
        assert!(got.note.expect("a note").contains("colima#517"));
    }

    /// PR#1641 / colima#1607: krunkit is virtiofs, or sshfs when asked.
    #[test]
    fn krunkit_is_virtiofs_or_sshfs() {
        let got = of_fixture("krunkit.yaml");
        assert_eq!(got.mount_type.as_deref(), Some("virtiofs"));
        assert!(got.note.expect("a note").contains("colima#1607"));
        assert_eq!(
            resolve(Some("krunkit"), Some("sshfs"), Generation::Unknown),
            Resolved::plain("sshfs")
        );
    }

    #[test]
    fn versions_and_version_output() {
        assert_eq!(
            Generation::of_version("0.8.4"),
            Generation::BeforeVirtiofsDefault
        );
        assert_eq!(
            Generation::of_version("v0.9.0"),
            Generation::VirtiofsDefault
        );
        assert_eq!(
            Generation::of_version("0.10.3"),
            Generation::VirtiofsDefault
        );
        assert_eq!(Generation::of_version("HEAD-490420d"), Generation::Unknown);
        assert_eq!(
            parse_version_output("colima version 0.8.4\ngit commit: e2ddc15\n").as_deref(),
            Some("0.8.4")
        );
        assert_eq!(
            parse_version_output("colima version HEAD-490420d\ngit commit: 490420d\n"),
            None
        );
    }

    #[test]
    fn corpus_templates_record_their_generation() {
        let Some(engines) = corpus_engines() else {
            return;
        };
        for (rel, generation) in [
            (
                "colima/colima.default-template.v0.6.0.yaml",
                Generation::BeforeVirtiofsDefault,
            ),
            (
                "colima/colima.default-template.v0.8.4.yaml",
                Generation::BeforeVirtiofsDefault,
            ),
            (
                "colima/colima.default-template.HEAD.yaml",
                Generation::VirtiofsDefault,
            ),
        ] {
            let text = text(&engines.join(rel));
            assert_eq!(Generation::of_template(&text), generation, "{rel}");
        }
    }
}
