//! The selection: rules over candidates, oldest first, with the watermark and the room on the
//! colder branch accounted for.

use std::collections::{BTreeMap, BTreeSet};

use crate::tiers::pool::{Clock, MoveRule, Pool};

/// A regular file on a branch, as the scan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its path relative to the branch (and so to the pool's mount), `/`-separated.
    pub rel: String,
    /// The tier of the branch it is on.
    pub tier: String,
    /// Its size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Access time, seconds since the epoch.
    pub atime: i64,
}

impl Candidate {
    fn time(&self, clock: Clock) -> i64 {
        match clock {
            Clock::Mtime => self.mtime,
            Clock::Atime => self.atime,
        }
    }
}

/// A branch filesystem's numbers (`f_blocks * f_frsize`, `f_bavail * f_frsize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchSpace {
    /// Size in bytes.
    pub total: u64,
    /// Used bytes (`total - f_bfree * f_frsize`).
    pub used: u64,
    /// Bytes an unprivileged writer may still use.
    pub available: u64,
}

impl BranchSpace {
    /// Used percentage, one decimal in tenths (`805` = 80.5 %).
    pub fn used_permille(&self) -> u64 {
        self.used
            .saturating_mul(1000)
            .checked_div(self.total)
            .unwrap_or(0)
    }
}

/// Why a file moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Its time is older than the rule's limit.
    Age {
        /// Which time.
        clock: Clock,
        /// Its age in seconds.
        age: u64,
        /// The rule's limit in seconds.
        limit: u64,
    },
    /// The branch it is on is above the rule's watermark; the oldest go first.
    Watermark {
        /// Used, in tenths of a percent, before this file moved (counting the files before).
        used_permille: u64,
        /// The rule's `above`.
        above: u8,
        /// The rule's `until`.
        until: u8,
    },
    /// It matches the rule's path and size conditions (no age or watermark given).
    Matched,
}

/// One file to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The file.
    pub file: Candidate,
    /// The tier it goes to.
    pub to: String,
    /// The rule's name.
    pub rule: String,
    /// Why.
    pub reason: Reason,
}

/// A file a rule wanted to move but that stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The file.
    pub rel: String,
    /// The rule's name.
    pub rule: String,
    /// The colder branch has not this much room left (bytes).
    pub needs: u64,
}

/// The selection of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The files that move, in the order they move (rule by rule, oldest first).
    pub moves: Vec<Selected>,
    /// The files held back for want of room.
    pub held: Vec<Held>,
}

/// The files `pool`'s rules move, given the branches' files and space, at time `now`
/// (seconds). `only` limits the rules by name (empty: all).
pub fn select(
    pool: &Pool,
    candidates: &[Candidate],
    space: &BTreeMap<String, BranchSpace>,
    now: i64,
    only: &[String],
) -> Selection {
    let mut space = space.clone();
    let mut taken: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut selection = Selection::default();
    for rule in pool
        .rules
        .iter()
        .filter(|r| only.is_empty() || only.contains(&r.name))
    {
        let mut matching: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| c.tier == rule.from && !taken.contains(&(c.tier.as_str(), c.rel.as_str())))
            .filter(|c| matches(rule, c, now))
            .collect();
        matching.sort_by(|a, b| (a.time(rule.clock), &a.rel).cmp(&(b.time(rule.clock), &b.rel)));
        for file in matching {
            let reason = match (rule.watermark, rule.older_than) {
                (Some(mark), _) => {
                    let from = space.get(&rule.from).copied();
                    let Some(from) = from else { break };
                    let used = from.used_permille();
                    let limit = if selection.moves.iter().any(|s| s.rule == rule.name) {
                        u64::from(mark.until) * 10
                    } else {
                        u64::from(mark.above) * 10
                    };
                    if used <= limit {
                        break;
                    }
                    Reason::Watermark {
                        used_permille: used,
                        above: mark.above,
                        until: mark.until,
                    }
                }
                (None, Some(limit)) => Reason::Age {
                    clock: rule.clock,
                    age: age(file.time(rule.clock), now),
                    limit,
                },
                (None, None) => Reason::Matched,
            };
            let room = space.get(&rule.to).map_or(u64::MAX, |s| s.available);
            if room < file.size {
                selection.held.push(Held {
                    rel: file.rel.clone(),
                    rule: rule.name.clone(),
                    needs: file.size,
                });
                continue;
            }
            if let Some(to) = space.get_mut(&rule.to) {
                to.available -= file.size;
                to.used = to.used.saturating_add(file.size);
            }
            if let Some(from) = space.get_mut(&rule.from) {
                from.used = from.used.saturating_sub(file.size);
                from.available = from.available.saturating_add(file.size);
            }
            taken.insert((file.tier.as_str(), file.rel.as_str()));
            selection.moves.push(Selected {
                file: file.clone(),
                to: rule.to.clone(),
                rule: rule.name.clone(),
                reason,
            });
        }
    }
    selection
}

fn age(time: i64, now: i64) -> u64 {
    u64::try_from(now.saturating_sub(time)).unwrap_or(0)
}

/// Whether `file` passes the rule's path, size and age conditions.
fn matches(rule: &MoveRule, file: &Candidate, now: i64) -> bool {
    (rule.paths.is_empty() || rule.paths.is_match(&file.rel))
        && rule.larger_than.is_none_or(|min| file.size >= min)
        && rule.smaller_than.is_none_or(|max| file.size < max)
        && rule
            .older_than
            .is_none_or(|limit| age(file.time(rule.clock), now) >= limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiers::Globs;
    use crate::tiers::pool::{Branch, CreatePolicy, Watermark};

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_000 * DAY;

    fn pool(rules: Vec<MoveRule>) -> Pool {
        let branch = |tier: &str| Branch {
            tier: tier.into(),
            sub: "m".into(),
            path: format!("/{tier}/m").into(),
        };
        Pool {
            name: "media".into(),
            mount: "/mnt/media".into(),
            branches: vec![branch("fast"), branch("cold")],
            create: CreatePolicy::Epff,
            options: vec![],
            rules,
        }
    }

    fn rule(name: &str) -> MoveRule {
        MoveRule {
            name: name.into(),
            from: "fast".into(),
            to: "cold".into(),
            paths: Globs::new::<&str>(&[]).unwrap(),
            older_than: None,
            clock: Clock::Mtime,
            larger_than: None,
            smaller_than: None,
            watermark: None,
        }
    }

    fn file(rel: &str, size: u64, days_old: i64) -> Candidate {
        Candidate {
            rel: rel.into(),
            tier: "fast".into(),
            size,
            mtime: NOW - days_old * DAY,
            atime: NOW - DAY,
        }
    }

    fn space(fast_used: u64, cold_free: u64) -> BTreeMap<String, BranchSpace> {
        BTreeMap::from([
            (
                "fast".to_string(),
                BranchSpace {
                    total: 1000,
                    used: fast_used,
                    available: 1000 - fast_used,
                },
            ),
            (
                "cold".to_string(),
                BranchSpace {
                    total: 10_000,
                    used: 10_000 - cold_free,
                    available: cold_free,
                },
            ),
        ])
    }

    fn moved(selection: &Selection) -> Vec<&str> {
        selection
            .moves
            .iter()
            .map(|s| s.file.rel.as_str())
            .collect()
    }

    #[test]
    fn originals_older_than_90_days_go_cold_and_the_thumbnails_stay() {
        let mut old = rule("old-originals");
        old.older_than = Some(90 * 86_400);
        old.paths = Globs::new(&["library/*"]).unwrap();
        let files = [
            file("library/a.jpg", 10, 100),
            file("library/b.jpg", 10, 30),
            file("thumbs/a.webp", 1, 365),
            file("library/c.jpg", 10, 91),
        ];
        let selection = select(&pool(vec![old]), &files, &space(100, 5000), NOW, &[]);
        assert_eq!(moved(&selection), ["library/a.jpg", "library/c.jpg"]);
        assert_eq!(
            selection.moves[0].reason,
            Reason::Age {
                clock: Clock::Mtime,
                age: 100 * 86_400,
                limit: 90 * 86_400
            }
        );
    }

    #[test]
    fn above_80_percent_the_oldest_go_first_until_70() {
        let mut full = rule("fast-full");
        full.watermark = Some(Watermark {
            above: 80,
            until: 70,
        });
        let files = [
            file("new", 50, 1),
            file("oldest", 50, 300),
            file("old", 50, 200),
            file("middle", 50, 100),
        ];
        // 850 of 1000 used: 850 -> 800 -> 750 -> 700, then stop
        let selection = select(
            &pool(vec![full.clone()]),
            &files,
            &space(850, 5000),
            NOW,
            &[],
        );
        assert_eq!(moved(&selection), ["oldest", "old", "middle"]);
        // at 800 (not above 80 %) nothing moves
        let selection = select(&pool(vec![full]), &files, &space(800, 5000), NOW, &[]);
        assert!(selection.moves.is_empty());
    }

    #[test]
    fn a_file_that_does_not_fit_on_the_colder_branch_is_held_and_the_next_goes() {
        let mut all = rule("all");
        all.larger_than = Some(5);
        let files = [
            file("big", 300, 10),
            file("small", 100, 20),
            file("tiny", 1, 30),
        ];
        let selection = select(&pool(vec![all]), &files, &space(100, 200), NOW, &[]);
        assert_eq!(moved(&selection), ["small"]);
        assert_eq!(selection.held.len(), 1);
        assert_eq!(selection.held[0].rel, "big");
    }

    #[test]
    fn the_first_rule_that_takes_a_file_wins_and_only_limits_the_rules() {
        let mut first = rule("first");
        first.older_than = Some(10 * 86_400);
        let second = rule("second");
        let files = [file("a", 1, 20), file("b", 1, 1)];
        let selection = select(
            &pool(vec![first, second]),
            &files,
            &space(0, 5000),
            NOW,
            &[],
        );
        let rules: Vec<_> = selection.moves.iter().map(|s| s.rule.as_str()).collect();
        assert_eq!(rules, ["first", "second"]);
        let only = select(
            &pool(vec![rule("x"), rule("y")]),
            &files,
            &space(0, 5000),
            NOW,
            &["y".to_string()],
        );
        assert!(only.moves.iter().all(|s| s.rule == "y"));
    }
}
