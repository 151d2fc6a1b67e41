//! `--subset PCT`: which files of a copy a nightly check reads (pure). Each file is chosen by
//! a hash of the seed and its path, so one seed always chooses the same files and another seed
//! (by default the day's date) other ones: over many nights every file is read, as restic's
//! `check --read-data-subset` reads another part of a repository each time.

use thiserror::Error;

/// Parts of ten thousand: the resolution of a percentage (0.01 %).
const WHOLE: u64 = 10_000;

/// The files a check reads the content of: `percent` of them, chosen by `seed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subset {
    /// Parts of ten thousand (1..=10 000).
    parts: u64,
    /// What chooses the files.
    pub seed: String,
}

/// A `--subset` that is no percentage in (0, 100].
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("`--subset {text}` is not a percentage above 0 and at most 100 (e.g. `5` or `0.5%`)")]
pub struct SubsetError {
    /// What was given.
    pub text: String,
}

impl Subset {
    /// `text` (`5`, `5%`, `0.25%`) with `seed`.
    pub fn parse(text: &str, seed: &str) -> Result<Subset, SubsetError> {
        let error = || SubsetError {
            text: text.to_owned(),
        };
        let number = text.trim().trim_end_matches('%').trim();
        let percent: f64 = number.parse().map_err(|_| error())?;
        if !percent.is_finite() || percent <= 0.0 || percent > 100.0 {
            return Err(error());
        }
        // at least one part: a tiny percentage still reads something
        let parts = ((percent * 100.0).round() as u64).clamp(1, WHOLE);
        Ok(Subset {
            parts,
            seed: seed.to_owned(),
        })
    }

    /// The percentage, as chosen (to 0.01 %).
    pub fn percent(&self) -> f64 {
        self.parts as f64 / 100.0
    }

    /// Whether the file at `path` (a manifest key) is read.
    pub fn chooses(&self, path: &str) -> bool {
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.seed.as_bytes());
        hasher.update(&[0]);
        hasher.update(path.as_bytes());
        let hash = hasher.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        u64::from_le_bytes(first) % WHOLE < self.parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentage_is_read_with_or_without_its_sign_and_anything_else_is_refused() {
        assert_eq!(Subset::parse("5", "s").expect("5").percent(), 5.0);
        assert_eq!(Subset::parse("5%", "s").expect("5%").percent(), 5.0);
        assert_eq!(
            Subset::parse(" 0.25 % ", "s").expect("0.25").percent(),
            0.25
        );
        assert_eq!(Subset::parse("100", "s").expect("100").percent(), 100.0);
        assert_eq!(Subset::parse("0.001", "s").expect("tiny").percent(), 0.01);
        for bad in ["0", "-1", "101", "five", "", "NaN", "inf"] {
            let err = Subset::parse(bad, "s").expect_err(bad);
            assert!(
                err.to_string().contains(&format!("`--subset {bad}`")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_seed_chooses_the_same_files_another_seed_others_and_about_the_share_asked() {
        let paths: Vec<String> = (0..20_000).map(|i| format!("dir{}/f{i}", i % 7)).collect();
        let chosen = |seed: &str| -> Vec<&String> {
            let subset = Subset::parse("5", seed).expect("subset");
            paths.iter().filter(|p| subset.chooses(p)).collect()
        };
        let monday = chosen("2026-12-07");
        assert_eq!(monday, chosen("2026-12-07"));
        let tuesday = chosen("2026-12-08");
        assert_ne!(monday, tuesday);
        // 5 % of 20 000 is 1 000; a fair hash stays well within 20 % of it
        for n in [monday.len(), tuesday.len()] {
            assert!((800..1200).contains(&n), "{n}");
        }
        let all = Subset::parse("100", "x").expect("all");
        assert!(paths.iter().all(|p| all.chooses(p)));
    }
}
