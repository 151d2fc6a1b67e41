//! Compose `.env` files and the variable environment they build, with the
//! origin of every value.
//!
//! The parser follows compose-go's `dotenv` package: blank lines and `#`
//! comment lines are skipped; `export ` may prefix a statement; `KEY=VALUE`
//! and the YAML-like `KEY: VALUE` both assign; a bare `KEY` line inherits the
//! value from the lookup (and is dropped when the lookup has none); unquoted
//! values end at the line end or at ` #`, and are trimmed; single-quoted values
//! are literal; double-quoted values may span lines and expand escapes
//! (`\n`, `\t`, `\"`, `\\`, `\$`, ...). Unquoted and double-quoted values are
//! interpolated, resolving a name first through the lookup and then through
//! the keys defined earlier in the same file, as compose-go does.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::interpolate::{Interpolated, InterpolationError, interpolate};

/// Where a variable's value came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum VarSource {
    /// A line of an env file (`.env` or `--env-file`).
    EnvFile {
        /// The env file, as the caller named it.
        path: PathBuf,
        /// 1-based line where the statement starts.
        line: usize,
    },
    /// The process environment.
    Environment,
}

/// A variable's value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The value, fully interpolated.
    pub value: String,
    /// Its origin.
    pub source: VarSource,
}

/// The variables compose interpolates with (env files under the process environment), in
/// first-definition order. Not to be confused with `settings::Environment`, the process
/// environment tierctl itself was started with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComposeEnv {
    vars: IndexMap<String, EnvVar>,
}

impl ComposeEnv {
    /// An environment with no variables.
    pub fn new() -> ComposeEnv {
        ComposeEnv::default()
    }

    /// The variable `name`, if set.
    pub fn get(&self, name: &str) -> Option<&EnvVar> {
        self.vars.get(name)
    }

    /// Sets `name`, replacing any earlier value.
    pub fn insert(&mut self, name: String, var: EnvVar) {
        self.vars.insert(name, var);
    }

    /// Interpolates `text` against these variables.
    pub fn interpolate(&self, text: &str) -> Result<Interpolated, InterpolationError> {
        interpolate(text, &|name| self.get(name).map(|var| var.value.clone()))
    }

    /// Every variable, in first-definition order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &EnvVar)> {
        self.vars.iter().map(|(name, var)| (name.as_str(), var))
    }

    /// Builds the environment from parsed env files with compose's precedence:
    /// later files override earlier ones, and the process environment overrides
    /// every file.
    pub fn layered(
        process: impl IntoIterator<Item = (String, String)>,
        files: &[EnvFile],
    ) -> ComposeEnv {
        let mut env = ComposeEnv::new();
        for file in files {
            for entry in &file.entries {
                env.insert(
                    entry.key.clone(),
                    EnvVar {
                        value: entry.value.clone(),
                        source: VarSource::EnvFile {
                            path: file.path.clone(),
                            line: entry.line,
                        },
                    },
                );
            }
        }
        for (name, value) in process {
            env.insert(
                name,
                EnvVar {
                    value,
                    source: VarSource::Environment,
                },
            );
        }
        env
    }

    /// Parses env files given as `(path, text)` in order and layers them as
    /// [`ComposeEnv::layered`] does. Each file is interpolated the way
    /// compose-go's `GetEnvFromFile` does it: a name resolves through the
    /// process environment, then the files before it, then the keys defined
    /// earlier in the same file.
    pub fn load(
        process: impl IntoIterator<Item = (String, String)>,
        files: &[(PathBuf, String)],
    ) -> Result<ComposeEnv, EnvFileError> {
        let process: IndexMap<String, String> = process.into_iter().collect();
        let mut earlier: IndexMap<String, String> = IndexMap::new();
        let mut parsed = Vec::with_capacity(files.len());
        for (path, text) in files {
            let lookup = |name: &str| process.get(name).or_else(|| earlier.get(name)).cloned();
            let file = parse_env_file(path, text, &lookup)?;
            for entry in &file.entries {
                earlier.insert(entry.key.clone(), entry.value.clone());
            }
            parsed.push(file);
        }
        Ok(ComposeEnv::layered(process, &parsed))
    }
}

/// One parsed env file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvFile {
    /// The file, as the caller named it.
    pub path: PathBuf,
    /// Its assignments in file order; a key may repeat (the last one wins).
    pub entries: Vec<EnvEntry>,
}

impl EnvFile {
    /// The entry that sets `key` last, if any.
    pub fn get(&self, key: &str) -> Option<&EnvEntry> {
        self.entries.iter().rev().find(|entry| entry.key == key)
    }
}

/// One assignment in an env file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvEntry {
    /// The variable name.
    pub key: String,
    /// The value after unquoting, escapes and interpolation.
    pub value: String,
    /// 1-based line where the statement starts.
    pub line: usize,
    /// The full source line(s) the statement occupies, without the final line
    /// break; several lines for a multi-line quoted value.
    pub raw_line: String,
}

/// Why an env file could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    /// A key holds a character outside `[A-Za-z0-9_.\-\[\]]` (letters and
    /// digits may be any Unicode ones), e.g. a line such as `lol$wut`.
    #[error("invalid env file `{path}` line {line}: unexpected character `{character}` in variable name `{text}`", path = .path.display())]
    InvalidKey {
        /// The env file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The offending character.
        character: char,
        /// The statement's text up to the end of its line.
        text: String,
    },
    /// A key with a space inside, e.g. `MY KEY=1`.
    #[error("invalid env file `{path}` line {line}: variable name `{key}` contains a space", path = .path.display())]
    KeyWithSpace {
        /// The env file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// A quoted value without its closing quote.
    #[error("invalid env file `{path}` line {line}: unterminated quoted value for `{key}`", path = .path.display())]
    UnterminatedQuote {
        /// The env file.
        path: PathBuf,
        /// 1-based line where the value starts.
        line: usize,
        /// The key being assigned.
        key: String,
    },
    /// A value whose interpolation failed.
    #[error("invalid env file `{path}` line {line}: value of `{key}`: {source}", path = .path.display())]
    Interpolation {
        /// The env file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key being assigned.
        key: String,
        /// The interpolation failure.
        source: InterpolationError,
    },
}

/// Parses the env file `path` whose contents are `text`. `lookup` resolves
/// variables that values refer to (normally the process environment) before
/// the keys defined earlier in the same file, and supplies the value of bare
/// `KEY` lines.
pub fn parse_env_file(
    path: &Path,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<EnvFile, EnvFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser {
        path,
        text,
        lookup,
        defined: IndexMap::new(),
        entries: Vec::new(),
    };
    let mut pos = 0;
    while let Some(start) = statement_start(text, pos) {
        pos = parser.statement(start)?;
    }
    Ok(EnvFile {
        path: path.to_path_buf(),
        entries: parser.entries,
    })
}

/// compose-go's `isSpace`: blanks that are not a line break.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{85}' | '\u{A0}'
    )
}

/// Whether `c` may appear in a key.
fn is_key_char(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '[' | ']') || c.is_alphanumeric()
}

/// Position of the next statement at or after `pos`, skipping blank space and
/// comment lines; `None` at the end of the text.
fn statement_start(text: &str, mut pos: usize) -> Option<usize> {
    loop {
        let offset = text[pos..].find(|c: char| !c.is_whitespace())?;
        pos += offset;
        if !text[pos..].starts_with('#') {
            return Some(pos);
        }
        pos += text[pos..].find('\n')?;
    }
}

/// compose-go strips `export` when followed by `\s` (ASCII blank or line break).
fn strip_export(rest: &str) -> &str {
    match rest.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t', '\n', '\u{0C}', '\r']) => {
            after.trim_start_matches(is_space)
        }
        _ => rest,
    }
}

/// How a key ends.
enum KeyEnd {
    /// `=` or `:` at this position.
    Assign(usize),
    /// A line break at this position, or the end of the text: inherited.
    Inherit(usize),
}

/// 1-based line number of byte `pos`.
fn line_of(text: &str, pos: usize) -> usize {
    text[..pos].bytes().filter(|&byte| byte == b'\n').count() + 1
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Keys defined so far in this file, for interpolation.
    defined: IndexMap<String, String>,
    entries: Vec<EnvEntry>,
}

impl Parser<'_> {
    /// Parses the statement at `start`; returns where parsing resumes.
    fn statement(&mut self, start: usize) -> Result<usize, EnvFileError> {
        let text = self.text;
        let line = line_of(text, start);
        let key_start = text.len() - strip_export(&text[start..]).len();
        let (raw_key, key_end) = self.scan_key(key_start, line)?;
        let key = raw_key.trim_end().to_owned();
        if key.contains(' ') {
            return Err(EnvFileError::KeyWithSpace {
                path: self.path.to_path_buf(),
                line,
                key,
            });
        }
        match key_end {
            KeyEnd::Inherit(at) => {
                if let Some(value) = (self.lookup)(&key) {
                    self.push(key, value, start, at);
                }
                Ok((at + 1).min(text.len()))
            }
            KeyEnd::Assign(at) => {
                let value_start = text.len() - text[at + 1..].trim_start_matches(is_space).len();
                let (value, value_end, resume) = self.value(&key, value_start, line)?;
                self.push(key, value, start, value_end);
                Ok(resume)
            }
        }
    }

    /// Reads the key starting at `pos`: its raw text and how it ends.
    fn scan_key(&self, pos: usize, line: usize) -> Result<(&str, KeyEnd), EnvFileError> {
        let text = self.text;
        for (offset, c) in text[pos..].char_indices() {
            let at = pos + offset;
            match c {
                '=' | ':' => return Ok((&text[pos..at], KeyEnd::Assign(at))),
                '\n' => return Ok((&text[pos..at], KeyEnd::Inherit(at))),
                c if is_space(c) || is_key_char(c) => {}
                c => {
                    let line_text = text[pos..].lines().next().unwrap_or_default();
                    return Err(EnvFileError::InvalidKey {
                        path: self.path.to_path_buf(),
                        line,
                        character: c,
                        text: line_text.to_owned(),
                    });
                }
            }
        }
        Ok((&text[pos..], KeyEnd::Inherit(text.len())))
    }

    /// Reads the value of `key` at `pos`: the value, the end of its source
    /// text, and where parsing resumes.
    fn value(
        &self,
        key: &str,
        pos: usize,
        line: usize,
    ) -> Result<(String, usize, usize), EnvFileError> {
        let text = self.text;
        let rest = &text[pos..];
        let quote = match rest.as_bytes().first() {
            Some(&quote @ (b'"' | b'\'')) => quote,
            _ => {
                let (raw, resume) = match rest.find('\n') {
                    Some(newline) => (&rest[..newline], pos + newline + 1),
                    None => (rest, text.len()),
                };
                let value = raw.split(" #").next().unwrap_or_default().trim_end();
                let value = self.interpolate(key, value, line)?;
                return Ok((value, pos + raw.len(), resume));
            }
        };
        let Some((body, close)) = quoted_body(rest, quote) else {
            return Err(EnvFileError::UnterminatedQuote {
                path: self.path.to_path_buf(),
                line,
                key: key.to_owned(),
            });
        };
        let value = if quote == b'"' {
            self.interpolate(key, &expand_escapes(&body), line)?
        } else {
            body
        };
        Ok((value, pos + close + 1, pos + close + 1))
    }

    fn interpolate(&self, key: &str, value: &str, line: usize) -> Result<String, EnvFileError> {
        let lookup = |name: &str| (self.lookup)(name).or_else(|| self.defined.get(name).cloned());
        interpolate(value, &lookup)
            .map(|result| result.value)
            .map_err(|source| EnvFileError::Interpolation {
                path: self.path.to_path_buf(),
                line,
                key: key.to_owned(),
                source,
            })
    }

    /// Records `key = value` for the statement spanning `start..end`.
    fn push(&mut self, key: String, value: String, start: usize, end: usize) {
        let text = self.text;
        let line_start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
        let line_end = text[end..]
            .find('\n')
            .map_or(text.len(), |offset| end + offset);
        let raw_line = text[line_start..line_end].trim_end_matches('\r').to_owned();
        self.defined.insert(key.clone(), value.clone());
        self.entries.push(EnvEntry {
            key,
            value,
            line: line_of(text, start),
            raw_line,
        });
    }
}

/// The text between the opening `quote` at `src[0]` and its closing quote,
/// with escaped quotes unescaped and every other backslash kept, and the index
/// of the closing quote; `None` if the quote never closes.
fn quoted_body(src: &str, quote: u8) -> Option<(String, usize)> {
    let mut body: Vec<u8> = Vec::new();
    let mut escaped = false;
    for (index, &byte) in src.as_bytes().iter().enumerate().skip(1) {
        if escaped {
            escaped = false;
            if byte != quote {
                body.push(b'\\');
            }
            body.push(byte);
            continue;
        }
        match byte {
            b'\\' => escaped = true,
            byte if byte == quote => {
                // Only ASCII bytes were removed, so the body stays valid UTF-8.
                return Some((String::from_utf8_lossy(&body).into_owned(), index));
            }
            byte => body.push(byte),
        }
    }
    None
}

/// compose-go's `expandEscapes` for double-quoted values: `\a \b \f \n \r \t
/// \v \" \\`, octal `\0NNN`, and `\$` kept as `$$` so that interpolation turns
/// it into a literal `$`. Any other backslash stays as written.
fn expand_escapes(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(backslash) = rest.find('\\') {
        out.push_str(&rest[..backslash]);
        let after = &rest[backslash + 1..];
        let (replacement, consumed) = match after.as_bytes().first() {
            Some(b'a') => (Some("\u{07}".to_owned()), 1),
            Some(b'b') => (Some("\u{08}".to_owned()), 1),
            Some(b'f') => (Some("\u{0C}".to_owned()), 1),
            Some(b'n') => (Some("\n".to_owned()), 1),
            Some(b'r') => (Some("\r".to_owned()), 1),
            Some(b't') => (Some("\t".to_owned()), 1),
            Some(b'v') => (Some("\u{0B}".to_owned()), 1),
            Some(b'"') => (Some("\"".to_owned()), 1),
            Some(b'\\') => (Some("\\".to_owned()), 1),
            Some(b'$') => (Some("$$".to_owned()), 1),
            Some(b'0') => octal_escape(&after[1..]),
            _ => (None, 0),
        };
        match replacement {
            Some(replacement) => out.push_str(&replacement),
            None => out.push_str(&rest[backslash..backslash + 1 + consumed]),
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// After `\0`: up to three digits; exactly three octal digits worth at most
/// 255 give that character, anything else stays as written. Returns the
/// replacement and how many bytes after the backslash were consumed.
fn octal_escape(digits: &str) -> (Option<String>, usize) {
    let count = digits
        .bytes()
        .take(3)
        .take_while(u8::is_ascii_digit)
        .count();
    let value = (count == 3)
        .then(|| u32::from_str_radix(&digits[..3], 8).ok())
        .flatten()
        .filter(|&value| value <= 255)
        .and_then(char::from_u32);
    (value.map(String::from), 1 + count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<EnvFile, EnvFileError> {
        parse_env_file(Path::new(".env"), text, &no_env)
    }

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .entries
            .into_iter()
            .map(|entry| (entry.key, entry.value))
            .collect()
    }

    fn one(text: &str) -> (String, String) {
        let mut found = pairs(text);
        assert_eq!(
            found.len(),
            1,
            "one entry expected from {text:?}: {found:?}"
        );
        found.remove(0)
    }

    #[test]
    fn interpolate_uses_the_variables() {
        let env = ComposeEnv::layered([("DIR".to_owned(), "/mnt/fast".to_owned())], &[]);
        let result = env.interpolate(r"${DIR}/db:/var/lib/db").unwrap();
        assert_eq!(result.value, "/mnt/fast/db:/var/lib/db");
        assert!(result.variables[0].set);
    }

    #[test]
    fn single_statements_parse_like_compose() {
        let cases: &[(&str, &str, &str)] = &[
            (r"FOO=bar", "FOO", "bar"),
            (r"FOO =bar", "FOO", "bar"),
            (r"FOO= bar", "FOO", "bar"),
            ("FOO=bar \t", "FOO", "bar"),
            (r"FOO=", "FOO", ""),
            ("FOO=\n", "FOO", ""),
            (r"FOO=foobar=", "FOO", "foobar="),
            (r"OPTION_A=1:B", "OPTION_A", "1:B"),
            (r"OPTION_A: 1", "OPTION_A", "1"),
            (r"OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
            (r"FOO.BAR=foobar", "FOO.BAR", "foobar"),
            (r"my-key[0]=x", "my-key[0]", "x"),
            (r"ÉTÉ=chaud", "ÉTÉ", "chaud"),
            // export
            (r"export OPTION_A=2", "OPTION_A", "2"),
            ("export\tOPTION_A=2", "OPTION_A", "2"),
            ("  export OPTION_A=2", "OPTION_A", "2"),
            (r"export exportFoo=2", "exportFoo", "2"),
            (r"exportFOO=2", "exportFOO", "2"),
            (r"export_FOO =2", "export_FOO", "2"),
            (r"export.FOO= 2", "export.FOO", "2"),
            // leading whitespace
            (" KEY =value", "KEY", "value"),
            ("\tKEY=value", "KEY", "value"),
            // inline comments on unquoted values need a space before `#`
            (r"FOO=bar # this is foo", "FOO", "bar"),
            (r"FOO=bar#baz", "FOO", "bar#baz"),
            (r"FOO=a # b # c", "FOO", "a"),
            (
                r"FOO= # not a comment: leading blanks go first",
                "FOO",
                "# not a comment: leading blanks go first",
            ),
            // quotes
            (r#"FOO="bar""#, "FOO", "bar"),
            (r"FOO='bar'", "FOO", "bar"),
            (r#"FOO="""#, "FOO", ""),
            (r#"FOO="bar#baz" # comment"#, "FOO", "bar#baz"),
            (r"FOO='bar#baz' # comment", "FOO", "bar#baz"),
            (r#"FOO="'d'""#, "FOO", "'d'"),
            (r#"FOO='"d"'"#, "FOO", "\"d\""),
            (r#"FOO="escaped\"bar""#, "FOO", "escaped\"bar"),
            (r"FOO='it\'s'", "FOO", "it's"),
            (r#"FOO="  padded  ""#, "FOO", "  padded  "),
            (r#"FOO=bar"quoted"#, "FOO", "bar\"quoted"),
            // escapes: double quotes only
            (r#"FOO="bar\nbaz""#, "FOO", "bar\nbaz"),
            (r#"FOO="a\tb\\c""#, "FOO", "a\tb\\c"),
            (r#"FOO="bar\\\"baz""#, "FOO", "bar\\\"baz"),
            (r#"FOO="\x\q""#, "FOO", r"\x\q"),
            (r#"FOO="\0101\01""#, "FOO", r"A\01"),
            (r"FOO='bar\nbaz'", "FOO", r"bar\nbaz"),
            (r"FOO=bar\nbaz", "FOO", r"bar\nbaz"),
            // `\$` and `$$` are literal dollars
            (r#"FOO="foo\$BAR""#, "FOO", "foo$BAR"),
            (r#"FOO="foo\${BAR}""#, "FOO", "foo${BAR}"),
            (r"FOO=foo$$BAR", "FOO", "foo$BAR"),
            (r"FOO='$BAR ${BAR}'", "FOO", "$BAR ${BAR}"),
            // unset variables interpolate to nothing
            (r"BAR=$FOO", "BAR", ""),
            (r"BAR=${FOO:-fallback}", "BAR", "fallback"),
        ];
        for (text, key, value) in cases {
            assert_eq!(
                one(text),
                ((*key).to_owned(), (*value).to_owned()),
                "parsing {text:?}"
            );
        }
    }

    #[test]
    fn a_whole_file_with_comments_blank_lines_and_multiline_values() {
        let text = "\u{feff}# Immich settings\r\n\
                    \r\n\
                    UPLOAD_LOCATION=/mnt/fast/photos   # where photos go\r\n\
                    \t# indented comment\n\
                    export DB_DATA_LOCATION='/mnt/fast/db'\n\
                    CERT=\"-----BEGIN-----\n\
                    abc\n\
                    -----END-----\"\n\
                    \n\
                    TZ=Europe/Paris\n";
        let file = parse(text).unwrap();
        let found: Vec<(&str, &str, usize, &str)> = file
            .entries
            .iter()
            .map(|e| {
                (
                    e.key.as_str(),
                    e.value.as_str(),
                    e.line,
                    e.raw_line.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    "UPLOAD_LOCATION",
                    "/mnt/fast/photos",
                    3,
                    "UPLOAD_LOCATION=/mnt/fast/photos   # where photos go"
                ),
                (
                    "DB_DATA_LOCATION",
                    "/mnt/fast/db",
                    5,
                    "export DB_DATA_LOCATION='/mnt/fast/db'"
                ),
                (
                    "CERT",
                    "-----BEGIN-----\nabc\n-----END-----",
                    6,
                    "CERT=\"-----BEGIN-----\nabc\n-----END-----\""
                ),
                ("TZ", "Europe/Paris", 10, "TZ=Europe/Paris"),
            ]
        );
    }

    #[test]
    fn values_interpolate_earlier_keys_and_the_lookup() {
        let text = r#"
ROOT=/mnt/fast
PHOTOS=${ROOT}/photos
QUOTED="$ROOT/db"
LITERAL='${ROOT}/raw'
HOMEDIR=${HOME:-/root}/x
NESTED=${MISSING:-${ROOT}}
"#;
        let lookup = |name: &str| (name == "HOME").then(|| "/home/me".to_owned());
        let file = parse_env_file(Path::new(".env"), text, &lookup).unwrap();
        let value = |key: &str| file.get(key).map(|e| e.value.as_str());
        assert_eq!(value("PHOTOS"), Some("/mnt/fast/photos"));
        assert_eq!(value("QUOTED"), Some("/mnt/fast/db"));
        assert_eq!(value("LITERAL"), Some("${ROOT}/raw"));
        assert_eq!(value("HOMEDIR"), Some("/home/me/x"));
        assert_eq!(value("NESTED"), Some("/mnt/fast"));
    }

    #[test]
    fn lookup_wins_over_earlier_keys_of_the_same_file() {
        let lookup = |name: &str| (name == "ROOT").then(|| "/from/process".to_owned());
        let file = parse_env_file(Path::new(".env"), "ROOT=/file\nDIR=$ROOT/x\n", &lookup).unwrap();
        assert_eq!(
            file.get("DIR").map(|e| e.value.as_str()),
            Some("/from/process/x")
        );
        // the file still records its own value for ROOT
        assert_eq!(file.get("ROOT").map(|e| e.value.as_str()), Some("/file"));
    }

    #[test]
    fn a_later_assignment_of_a_key_overrides_for_later_lines() {
        let found = pairs("A=1\nB=$A\nA=2\nC=$A\n");
        let c = found
            .iter()
            .rfind(|(key, _)| key == "C")
            .map(|(_, v)| v.as_str());
        let b = found
            .iter()
            .find(|(key, _)| key == "B")
            .map(|(_, v)| v.as_str());
        assert_eq!((b, c), (Some("1"), Some("2")));
    }

    #[test]
    fn bare_keys_inherit_from_the_lookup() {
        let lookup = |name: &str| (name == "HOME").then(|| "/home/me".to_owned());
        let file =
            parse_env_file(Path::new(".env"), "HOME\nNOT_SET\nexport LAST", &lookup).unwrap();
        assert_eq!(file.entries.len(), 1);
        assert_eq!(file.entries[0].key, "HOME");
        assert_eq!(file.entries[0].value, "/home/me");
        assert_eq!(file.entries[0].line, 1);
    }

    #[test]
    fn blank_and_comment_only_files_are_empty() {
        for text in [
            "",
            "\n\n",
            "\r\n",
            "\t\t ",
            "# comment",
            "\t # comment\n# two\n",
        ] {
            assert!(parse(text).unwrap().entries.is_empty(), "parsing {text:?}");
        }
    }

    #[test]
    fn bad_keys_are_errors_naming_path_and_line() {
        let err = parse("OK=1\n\nlol$wut\n").unwrap_err();
        assert_eq!(
            err,
            EnvFileError::InvalidKey {
                path: PathBuf::from(".env"),
                line: 3,
                character: '$',
                text: "lol$wut".to_owned(),
            }
        );
        assert_eq!(
            err.to_string(),
            "invalid env file `.env` line 3: unexpected character `$` in variable name `lol$wut`"
        );
        assert!(matches!(
            parse("FOO/BAR=1"),
            Err(EnvFileError::InvalidKey {
                line: 1,
                character: '/',
                ..
            })
        ));
        assert!(matches!(
            parse(r#"FOO="a" "b""#),
            Err(EnvFileError::InvalidKey { character: '"', .. })
        ));
    }

    #[test]
    fn keys_with_spaces_are_errors() {
        let err = parse("A=1\nMY KEY=1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid env file `.env` line 2: variable name `MY KEY` contains a space"
        );
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        for (text, line) in [
            ("A=1\nFOO=\"bar\n", 2),
            ("FOO='bar", 1),
            (r#"FOO="bar\""#, 1),
        ] {
            match parse(text) {
                Err(EnvFileError::UnterminatedQuote {
                    line: found, key, ..
                }) => {
                    assert_eq!((found, key.as_str()), (line, "FOO"), "parsing {text:?}");
                }
                other => panic!("expected an unterminated quote for {text:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn interpolation_errors_name_path_line_and_key() {
        let err = parse_env_file(
            Path::new("conf/prod.env"),
            "A=1\nDB=${DB_PASSWORD:?set it}\n",
            &no_env,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid env file `conf/prod.env` line 2: value of `DB`: \
             required variable `DB_PASSWORD` is missing a value: set it"
        );
        assert!(matches!(
            parse("X=\"${}\""),
            Err(EnvFileError::Interpolation {
                source: InterpolationError::Syntax { .. },
                ..
            })
        ));
    }

    #[test]
    fn layered_lets_process_env_win_and_later_files_override() {
        let first =
            parse_env_file(Path::new(".env"), "A=file1\nB=file1\nC=file1\n", &no_env).unwrap();
        let second = parse_env_file(Path::new("override.env"), "\nB=file2\n", &no_env).unwrap();
        let env = ComposeEnv::layered([("C".to_owned(), "process".to_owned())], &[first, second]);
        let source = |name: &str| {
            env.get(name)
                .map(|var| (var.value.as_str(), var.source.clone()))
        };
        assert_eq!(
            source("A"),
            Some((
                "file1",
                VarSource::EnvFile {
                    path: PathBuf::from(".env"),
                    line: 1
                }
            ))
        );
        assert_eq!(
            source("B"),
            Some((
                "file2",
                VarSource::EnvFile {
                    path: PathBuf::from("override.env"),
                    line: 2
                }
            ))
        );
        assert_eq!(source("C"), Some(("process", VarSource::Environment)));
        assert_eq!(source("D"), None);
        let names: Vec<&str> = env.iter().map(|(name, _)| name).collect();
        assert_eq!(names, vec!["A", "B", "C"]);
    }

    #[test]
    fn load_chains_files_like_compose() {
        let files = vec![
            (PathBuf::from(".env"), "ROOT=/mnt/a\nTIER=fast\n".to_owned()),
            (
                PathBuf::from("second.env"),
                "ROOT=/mnt/b\nPHOTOS=$ROOT/photos\nUSER_DIR=$HOME/x\n".to_owned(),
            ),
        ];
        let env = ComposeEnv::load([("HOME".to_owned(), "/home/me".to_owned())], &files).unwrap();
        let value = |name: &str| env.get(name).map(|var| var.value.as_str());
        // an earlier file is looked up before the same file's keys, as in compose-go
        assert_eq!(value("PHOTOS"), Some("/mnt/a/photos"));
        assert_eq!(value("ROOT"), Some("/mnt/b"));
        assert_eq!(value("USER_DIR"), Some("/home/me/x"));
        assert_eq!(value("TIER"), Some("fast"));
        assert_eq!(
            env.get("PHOTOS").map(|var| var.source.clone()),
            Some(VarSource::EnvFile {
                path: PathBuf::from("second.env"),
                line: 2
            })
        );
    }

    #[test]
    fn load_reports_the_failing_file() {
        let files = vec![
            (PathBuf::from(".env"), "A=1\n".to_owned()),
            (PathBuf::from("bad.env"), "A=1\nB C=2\n".to_owned()),
        ];
        let err = ComposeEnv::load(Vec::new(), &files).unwrap_err();
        assert!(matches!(
            err,
            EnvFileError::KeyWithSpace { ref path, line: 2, .. } if path == Path::new("bad.env")
        ));
    }

    #[test]
    fn var_source_serializes() {
        let json = serde_json::to_string(&VarSource::EnvFile {
            path: PathBuf::from(".env"),
            line: 4,
        })
        .unwrap();
        assert_eq!(json, r#"{"EnvFile":{"path":".env","line":4}}"#);
        let json = serde_json::to_string(&VarSource::Environment).unwrap();
        assert_eq!(json, r#""Environment""#);
    }
}
