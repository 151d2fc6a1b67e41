//! Container paths (mount targets) compare as paths: `/vol/`, `/vol`, `//vol` and `/vol/.` are
//! one target, as compose (Go's `path.Clean`) and the Docker engine clean them.

/// `target` cleaned lexically like Go's `path.Clean`: repeated slashes become one, `.` elements
/// go, `..` removes the element before it (never above `/`), no trailing slash.
pub fn clean(target: &str) -> String {
    let rooted = target.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Whether two mount targets name the same container path.
pub fn same(a: &str, b: &str) -> bool {
    a == b || clean(a) == clean(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_go_path_clean() {
        for (raw, want) in [
            ("/vol/", "/vol"),
            ("/vol", "/vol"),
            ("//vol//data/", "/vol/data"),
            ("/vol/./data/.", "/vol/data"),
            ("/vol/../data", "/data"),
            ("/..", "/"),
            ("/", "/"),
            ("", "."),
            ("a/../..", ".."),
            ("C:\\data", "C:\\data"),
        ] {
            assert_eq!(clean(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn targets_written_differently_are_the_same() {
        assert!(same("/vol/", "/vol"));
        assert!(same("/var/lib//mysql", "/var/lib/mysql/"));
        assert!(!same("/vol", "/vol2"));
    }
}
