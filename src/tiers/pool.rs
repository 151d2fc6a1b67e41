//! Pools (`pools:` in tiers.yaml, issue 25 items 2 and 3): a mergerfs union of tier directories
//! that containers bind as one path, the policy mergerfs creates new files by, and the move rules
//! `tierctl tiers move` runs over its branches. Pure: values and their syntax, no filesystem.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::placement::Globs;

/// One pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    /// Its name (`media`).
    pub name: String,
    /// Where the union is mounted (`/mnt/pools/media`); containers bind this or below it.
    pub mount: PathBuf,
    /// The branches, hottest first (mergerfs searches them in this order).
    pub branches: Vec<Branch>,
    /// The policy mergerfs places new files by (`category.create`).
    pub create: CreatePolicy,
    /// Further mergerfs `-o` options, as written (`moveonenospc=true`).
    pub options: Vec<String>,
    /// The move rules, in file order.
    pub rules: Vec<MoveRule>,
}

/// A branch of a pool: a directory on a tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// The tier.
    pub tier: String,
    /// The directory below the tier root (empty: the root).
    pub sub: PathBuf,
    /// The absolute directory.
    pub path: PathBuf,
}

/// The options tierctl always mounts a pool with, before the file's own.
///
/// `cache.files=off`: mergerfs keeps each open file open on its branch (so a writer is seen
/// in `/proc/<mergerfs>/fd`) and reads through no cache of its own; `allow_other`: containers'
/// users reach it; `fsname`: the mount table names the pool.
pub const BASE_OPTIONS: [&str; 3] = ["cache.files=off", "allow_other", "dropcacheonclose=true"];

impl Pool {
    /// The branch on tier `tier`.
    pub fn branch(&self, tier: &str) -> Option<&Branch> {
        self.branches.iter().find(|b| b.tier == tier)
    }

    /// The `-o` value tierctl mounts the pool with.
    pub fn mount_options(&self) -> String {
        let mut options: Vec<String> = BASE_OPTIONS.iter().map(|o| o.to_string()).collect();
        options.push(format!("fsname={}", self.fsname()));
        options.push(format!("category.create={}", self.create));
        options.extend(self.options.iter().cloned());
        options.join(",")
    }

    /// The source mergerfs shows in the mount table (`tierctl-media`).
    pub fn fsname(&self) -> String {
        format!("tierctl-{}", self.name)
    }

    /// The branch list mergerfs takes (`/a:/b`).
    pub fn branch_list(&self) -> String {
        self.branches
            .iter()
            .map(|b| b.path.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// mergerfs' create policies (`category.create`), as its documentation lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatePolicy {
    /// Existing path, first found.
    Epff,
    /// Existing path, least free space.
    Eplfs,
    /// Existing path, least used space.
    Eplus,
    /// Existing path, most free space.
    Epmfs,
    /// Existing path, random.
    Eprand,
    /// Existing path, all.
    Epall,
    /// First found.
    Ff,
    /// Least free space.
    Lfs,
    /// Least used space.
    Lus,
    /// Most free space.
    Mfs,
    /// Most shared path, least free space.
    Msplfs,
    /// Most shared path, least used space.
    Msplus,
    /// Most shared path, most free space.
    Mspmfs,
    /// Most shared path, percentage free random distribution.
    Msppfrd,
    /// Newest mtime.
    Newest,
    /// Percentage free random distribution.
    Pfrd,
    /// Random.
    Rand,
    /// All.
    All,
}

impl CreatePolicy {
    /// Every policy, in documentation order.
    pub const ALL: [CreatePolicy; 18] = [
        CreatePolicy::Epff,
        CreatePolicy::Eplfs,
        CreatePolicy::Eplus,
        CreatePolicy::Epmfs,
        CreatePolicy::Eprand,
        CreatePolicy::Epall,
        CreatePolicy::Ff,
        CreatePolicy::Lfs,
        CreatePolicy::Lus,
        CreatePolicy::Mfs,
        CreatePolicy::Msplfs,
        CreatePolicy::Msplus,
        CreatePolicy::Mspmfs,
        CreatePolicy::Msppfrd,
        CreatePolicy::Newest,
        CreatePolicy::Pfrd,
        CreatePolicy::Rand,
        CreatePolicy::All,
    ];

    /// Its name as mergerfs spells it.
    pub const fn name(self) -> &'static str {
        match self {
            CreatePolicy::Epff => "epff",
            CreatePolicy::Eplfs => "eplfs",
            CreatePolicy::Eplus => "eplus",
            CreatePolicy::Epmfs => "epmfs",
            CreatePolicy::Eprand => "eprand",
            CreatePolicy::Epall => "epall",
            CreatePolicy::Ff => "ff",
            CreatePolicy::Lfs => "lfs",
            CreatePolicy::Lus => "lus",
            CreatePolicy::Mfs => "mfs",
            CreatePolicy::Msplfs => "msplfs",
            CreatePolicy::Msplus => "msplus",
            CreatePolicy::Mspmfs => "mspmfs",
            CreatePolicy::Msppfrd => "msppfrd",
            CreatePolicy::Newest => "newest",
            CreatePolicy::Pfrd => "pfrd",
            CreatePolicy::Rand => "rand",
            CreatePolicy::All => "all",
        }
    }
}

impl fmt::Display for CreatePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CreatePolicy {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        CreatePolicy::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or(())
    }
}

/// Which file time an age rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Last modification (`mtime`), the default.
    Mtime,
    /// Last access (`atime`; needs a mount without `noatime`).
    Atime,
}

impl Clock {
    /// `mtime` or `atime`.
    pub const fn name(self) -> &'static str {
        match self {
            Clock::Mtime => "mtime",
            Clock::Atime => "atime",
        }
    }
}

/// "Move the oldest first while the branch's filesystem is above `above` % used, until it is
/// at `until` %."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermark {
    /// Start when used space is above this percentage.
    pub above: u8,
    /// Stop when used space is at or below this percentage.
    pub until: u8,
}

/// One move rule: files on branch `from` that pass every condition given move to branch `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct MoveRule {
    /// Its name (reports say which rule moved a file); `rule-N` when not given.
    pub name: String,
    /// The tier whose branch files leave.
    pub from: String,
    /// The tier whose branch they go to.
    pub to: String,
    /// Path globs, relative to the pool (`library/**`); empty: every file.
    pub paths: Globs,
    /// Only files whose `clock` time is at least this many seconds old.
    pub older_than: Option<u64>,
    /// Which time `older_than` reads, and which time "oldest first" orders by.
    pub clock: Clock,
    /// Only files of at least this many bytes.
    pub larger_than: Option<u64>,
    /// Only files of fewer than this many bytes.
    pub smaller_than: Option<u64>,
    /// Only while the `from` branch's filesystem is above a used percentage.
    pub watermark: Option<Watermark>,
}

/// A value of a move rule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicySyntaxError {
    /// Not a duration.
    #[error("`{0}` is no duration (a number and one of s, m, h, d, w, y: `90d`)")]
    Duration(String),
    /// Not a size.
    #[error("`{0}` is no size (a number and optionally K, M, G, T, in powers of 1024: `512M`)")]
    Size(String),
    /// Not a percentage.
    #[error("`{0}` is no percentage (0 to 100, with or without `%`: `80%`)")]
    Percent(String),
}

/// `90d` -> seconds; units s, m, h, d, w, y (365 days).
pub fn parse_duration(text: &str) -> Result<u64, PolicySyntaxError> {
    let error = || PolicySyntaxError::Duration(text.to_owned());
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| error())?;
    let factor = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(error()),
    };
    number.checked_mul(factor).ok_or_else(error)
}

/// `512M` -> bytes; `K`, `M`, `G`, `T` (also `KiB`, `MB`, ...) are powers of 1024; no unit: bytes.
pub fn parse_size(text: &str) -> Result<u64, PolicySyntaxError> {
    let error = || PolicySyntaxError::Size(text.to_owned());
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| error())?;
    let unit = unit
        .trim_end_matches("iB")
        .trim_end_matches('B')
        .to_ascii_uppercase();
    let power = match unit.as_str() {
        "" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        _ => return Err(error()),
    };
    number.checked_mul(1024u64.pow(power)).ok_or_else(error)
}

/// `80%` or `80` -> 80.
pub fn parse_percent(text: &str) -> Result<u8, PolicySyntaxError> {
    let error = || PolicySyntaxError::Percent(text.to_owned());
    let number: u8 = text
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| error())?;
    if number > 100 {
        return Err(error());
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_sizes_and_percentages_parse_and_nonsense_is_named() {
        assert_eq!(parse_duration("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        assert_eq!(parse_duration("30s"), Ok(30));
        assert_eq!(
            parse_duration("90"),
            Err(PolicySyntaxError::Duration("90".into()))
        );
        assert!(parse_duration("d").is_err());
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("3 parsecs").is_err());
        assert_eq!(parse_percent("80%"), Ok(80));
        assert_eq!(parse_percent("70"), Ok(70));
        assert!(parse_percent("101%").is_err());
    }

    #[test]
    fn the_mount_options_put_the_base_first_then_the_policy_then_the_files() {
        let pool = Pool {
            name: "media".into(),
            mount: "/mnt/media".into(),
            branches: vec![
                Branch {
                    tier: "fast".into(),
                    sub: "media".into(),
                    path: "/f/media".into(),
                },
                Branch {
                    tier: "cold".into(),
                    sub: "media".into(),
                    path: "/c/media".into(),
                },
            ],
            create: CreatePolicy::Epff,
            options: vec!["moveonenospc=true".into()],
            rules: vec![],
        };
        assert_eq!(
            pool.mount_options(),
            "cache.files=off,allow_other,dropcacheonclose=true,fsname=tierctl-media,category.create=epff,moveonenospc=true"
        );
        assert_eq!(pool.branch_list(), "/f/media:/c/media");
        assert_eq!("mfs".parse::<CreatePolicy>(), Ok(CreatePolicy::Mfs));
        assert!("fastest".parse::<CreatePolicy>().is_err());
    }
}
