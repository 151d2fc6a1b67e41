//! The env file syntax, as compose-go's `dotenv` parser reads it.

use std::path::Path;

use indexmap::IndexMap;

use super::{EnvEntry, EnvFile, EnvFileError};
use crate::compose::interpolate::interpolate;

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
