//! Writing new values as text: YAML scalars in the style the user chose (quoted only when the
//! value needs it) and `.env` values with their quotes kept.

use crate::compose::mount::short_source_end;

/// How a YAML scalar is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarStyle {
    /// No quotes.
    Plain,
    /// `'...'`.
    Single,
    /// `"..."`.
    Double,
}

/// The style of a scalar as written (`text` is the scalar's text in the file).
pub fn style_of(text: &str) -> ScalarStyle {
    match text.chars().next() {
        Some('\'') => ScalarStyle::Single,
        Some('"') => ScalarStyle::Double,
        _ => ScalarStyle::Plain,
    }
}

/// The string a single-line scalar's text stands for; `None` for anything but a string (or a
/// scalar spread over several lines, which is left to the user).
pub fn decode(text: &str) -> Option<String> {
    if text.contains('\n') || text.starts_with(['|', '>', '&', '*', '!']) {
        return None;
    }
    match serde_norway::from_str::<serde_norway::Value>(text).ok()? {
        serde_norway::Value::String(s) => Some(s),
        _ => None,
    }
}

/// Where a scalar stands: in a block collection (`- x`, `key: x`) or inside a flow one
/// (`[x]`, `{key: x}`), where `,[]{}` end a plain scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// In a block sequence or mapping.
    Block,
    /// Inside `[...]` or `{...}`.
    Flow,
}

/// `value` as a YAML scalar that parses back to exactly `value` where it stands (`nesting`): in
/// `preferred` style when that is safe, else double-quoted. Plain style is kept whenever YAML
/// allows it: no whitespace, no leading indicator character, no `: ` or trailing `:`, no flow
/// indicator inside a flow collection, and the value reads back as that very string.
pub fn encode(value: &str, preferred: ScalarStyle, nesting: Nesting) -> String {
    match preferred {
        ScalarStyle::Plain if plain_safe(value, nesting) => value.to_owned(),
        ScalarStyle::Single if !value.contains(['\n', '\t']) => {
            format!("'{}'", value.replace('\'', "''"))
        }
        _ => double_quoted(value),
    }
}

fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn plain_safe(value: &str, nesting: Nesting) -> bool {
    let Some(first) = value.chars().next() else {
        return false;
    };
    let bad_first = "-?:,[]{}#&*!|>'\"%@`~".contains(first);
    let flow_indicator = |c: char| nesting == Nesting::Flow && ",[]{}".contains(c);
    let bad_any = value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || flow_indicator(c));
    if bad_first || bad_any || value.ends_with(':') {
        return false;
    }
    // read back where it stands: a value that YAML reads as something else (a number, `true`,
    // `null`) is no path
    let wrapped = match nesting {
        Nesting::Block => format!("- {value}\n"),
        Nesting::Flow => format!("[{value}]"),
    };
    matches!(
        serde_norway::from_str::<Vec<serde_norway::Value>>(&wrapped).as_deref(),
        Ok([serde_norway::Value::String(s)]) if s == value
    )
}

/// A host path written for compose: `$` doubled so interpolation leaves it alone.
pub fn compose_literal(path: &str) -> String {
    path.replace('$', "$$")
}

/// A short-syntax entry (`SOURCE:TARGET[:MODES]`, uninterpolated) with its source replaced by
/// `new_source` (already escaped for compose) and, when `drop_nocopy`, the `nocopy` mode
/// removed. `None` when the entry has no source.
pub fn replace_short_source(raw: &str, new_source: &str, drop_nocopy: bool) -> Option<String> {
    let end = short_source_end(raw);
    if end == 0 {
        return None;
    }
    let rest = &raw[end..];
    let rest = if drop_nocopy {
        drop_mode(rest, "nocopy")
    } else {
        rest.to_owned()
    };
    Some(format!("{new_source}{rest}"))
}

/// `:TARGET[:MODES]` without the mode `mode` (and without the `:` when no mode is left).
fn drop_mode(rest: &str, mode: &str) -> String {
    let Some(i) = rest.rfind(':').filter(|&i| i > 0) else {
        return rest.to_owned();
    };
    let modes: Vec<&str> = rest[i + 1..].split(',').filter(|m| *m != mode).collect();
    if modes.is_empty() {
        rest[..i].to_owned()
    } else {
        format!("{}:{}", &rest[..i], modes.join(","))
    }
}

/// The byte range of the value in one `.env` line (`[export ]KEY=VALUE` or `KEY: VALUE`,
/// quotes included) and its quote character; `None` when the line holds no single-line value.
pub fn env_value_span(line: &str) -> Option<(usize, usize, Option<char>)> {
    let eq = line.find(['=', ':'])?;
    let mut start = eq + 1;
    while line[start..].starts_with([' ', '\t']) {
        start += 1;
    }
    let value = &line[start..];
    match value.chars().next() {
        Some(q @ ('\'' | '"')) => {
            let mut escaped = false;
            for (i, c) in value.char_indices().skip(1) {
                match c {
                    '\\' if q == '"' && !escaped => escaped = true,
                    c if c == q && !escaped => return Some((start, start + i + 1, Some(q))),
                    _ => escaped = false,
                }
            }
            None
        }
        _ => {
            let end = value.find(" #").map_or(value.len(), |i| i);
            let trimmed = value[..end].trim_end();
            Some((start, start + trimmed.len(), None))
        }
    }
}

/// `value` written for a `.env` file in the quote style `quote`, so that compose reads it back
/// unchanged; `None` when that is not possible in a single line.
pub fn encode_env(value: &str, quote: Option<char>) -> Option<String> {
    if value.contains(['\n', '\r']) {
        return None;
    }
    let plain_ok =
        !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || "#'\"$\\`".contains(c));
    match quote {
        None if plain_ok => Some(value.to_owned()),
        Some('"') if !value.contains(['"', '\\', '$']) => Some(format!("\"{value}\"")),
        _ if !value.contains('\'') => Some(format!("'{value}'")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_keeps_plain_when_safe_and_quotes_otherwise() {
        let plain = |v: &str| encode(v, ScalarStyle::Plain, Nesting::Block);
        assert_eq!(plain("/a/b:/c"), "/a/b:/c");
        assert_eq!(plain("/a b:/c"), "\"/a b:/c\"");
        assert_eq!(plain("/a #b:/c"), "\"/a #b:/c\"");
        assert_eq!(
            encode("/a'b:/c", ScalarStyle::Single, Nesting::Block),
            "'/a''b:/c'"
        );
        assert_eq!(
            encode("/a\"b", ScalarStyle::Double, Nesting::Block),
            "\"/a\\\"b\""
        );
        assert_eq!(plain("true"), "\"true\"");
        assert_eq!(plain("-x"), "\"-x\"");
        assert_eq!(plain("/a: b"), "\"/a: b\"");
        assert_eq!(plain("/a:"), "\"/a:\"");
    }

    /// Issue 12: `data:/d:z,ro` rewritten in a block sequence gained quotes YAML does not need.
    #[test]
    fn issue_12_mode_lists_stay_plain_in_block_and_are_quoted_in_flow() {
        let plain_in = |nesting, v: &str| encode(v, ScalarStyle::Plain, nesting);
        for value in ["/t/a:/d:z,ro", "/t/a:/d:ro,z", "/t/a[1]:/d", "/t/a#b:/d"] {
            assert_eq!(plain_in(Nesting::Block, value), value);
        }
        assert_eq!(plain_in(Nesting::Flow, "/t/a:/d:z,ro"), "\"/t/a:/d:z,ro\"");
        assert_eq!(plain_in(Nesting::Flow, "/t/a#b:/d"), "/t/a#b:/d");
    }

    #[test]
    fn every_encoding_decodes_to_the_value() {
        for value in [
            "/a b/c:/x",
            "/a'b\"c\\d:/y",
            "/p #q",
            "/tab\there",
            "/x:/y:ro",
            "/x:/y:z,ro",
            "/a[b]{c}:/d",
        ] {
            for style in [ScalarStyle::Plain, ScalarStyle::Single, ScalarStyle::Double] {
                let text = encode(value, style, Nesting::Block);
                assert_eq!(decode(&text).as_deref(), Some(value), "{text}");
                let flow = encode(value, style, Nesting::Flow);
                let back: Vec<String> =
                    serde_norway::from_str(&format!("[{flow}]")).expect("flow parses");
                assert_eq!(back, vec![value.to_owned()], "{flow}");
            }
        }
    }

    #[test]
    fn decode_refuses_non_strings_and_multi_line() {
        assert_eq!(decode("\"a:/b\""), Some("a:/b".into()));
        assert_eq!(decode("12"), None);
        assert_eq!(decode("|\n  a"), None);
    }

    #[test]
    fn short_source_replaced_and_nocopy_dropped() {
        assert_eq!(
            replace_short_source("cache:/c:ro,nocopy", "/t/c", true).as_deref(),
            Some("/t/c:/c:ro")
        );
        assert_eq!(
            replace_short_source("cache:/c:nocopy", "/t/c", true).as_deref(),
            Some("/t/c:/c")
        );
        assert_eq!(
            replace_short_source("cache:/c:z", "/t/c", false).as_deref(),
            Some("/t/c:/c:z")
        );
        assert_eq!(replace_short_source("/c", "/t", false), None);
        assert_eq!(
            replace_short_source("${A:-/x:y}:/c", "/t", false).as_deref(),
            Some("/t:/c")
        );
    }

    #[test]
    fn env_value_span_finds_quoted_and_plain_values() {
        let line = "UPLOAD_LOCATION=./library # where photos go";
        let (s, e, q) = env_value_span(line).expect("value");
        assert_eq!((&line[s..e], q), ("./library", None));
        let line = "export A = \"x \\\" y\" # c";
        let (s, e, q) = env_value_span(line).expect("value");
        assert_eq!((&line[s..e], q), ("\"x \\\" y\"", Some('"')));
        let line = "B: 'v'";
        let (s, e, _) = env_value_span(line).expect("value");
        assert_eq!(&line[s..e], "'v'");
        assert_eq!(env_value_span("C=\"open"), None);
    }

    #[test]
    fn env_values_keep_their_quotes() {
        assert_eq!(encode_env("/t/a", None).as_deref(), Some("/t/a"));
        assert_eq!(encode_env("/t/a b", None).as_deref(), Some("'/t/a b'"));
        assert_eq!(encode_env("/t/a", Some('"')).as_deref(), Some("\"/t/a\""));
        assert_eq!(encode_env("/t/$a", Some('"')).as_deref(), Some("'/t/$a'"));
        assert_eq!(encode_env("/t/'a b", None), None);
    }
}
