//! Names as bytes: a path of a tree is the bytes the filesystem holds, which need not be UTF-8
//! (Latin-1 names of old photo and Samba libraries). Manifests, listings, deltas and the journal
//! keep a path as a `String` that encodes those bytes without loss: UTF-8 runs as they are, and
//! each byte that is not part of one as a NUL followed by two lowercase hex digits. A name never
//! holds NUL, so the encoding is unambiguous, a UTF-8 name is its own encoding (journals written
//! before this read the same), `/` separates components in both forms, and two readers of one
//! tree (the host, a helper, an archive stream) give equal keys. [`encode`] and [`decode`] are
//! the one pair every reader and writer uses; [`shown`] is for messages (`\xff`).

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// What marks an encoded byte.
const MARK: char = '\0';

/// The name `bytes` as a lossless string.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            out.push(MARK);
            out.push_str(&format!("{byte:02x}"));
        }
    }
    out
}

/// An `OsStr` (a host name or path) as a lossless string.
pub fn encode_os(name: &OsStr) -> String {
    encode(name.as_bytes())
}

/// The bytes an [`encode`]d string stands for.
pub fn decode(text: &str) -> Vec<u8> {
    if !text.contains(MARK) {
        return text.as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        let hex = rest.get(at + 1..at + 3);
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) => {
                out.push(byte);
                rest = &rest[at + 3..];
            }
            // not written by `encode`: kept as it is
            None => {
                out.push(0);
                rest = &rest[at + 1..];
            }
        }
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// An [`encode`]d relative path as a host path.
pub fn path(text: &str) -> PathBuf {
    PathBuf::from(OsString::from_vec(decode(text)))
}

/// An [`encode`]d name for messages: each encoded byte as `\xHH`, a newline as `\n`.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.contains([MARK, '\n']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            MARK => {
                out.push_str("\\x");
                out.extend(chars.by_ref().take(2));
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `text` holds an encoded byte (a name that is not UTF-8).
pub fn has_encoded(text: &str) -> bool {
    text.contains(MARK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_its_own_encoding_and_other_bytes_round_trip() {
        for bytes in [
            &b"plain/name.txt"[..],
            b"caf\xc3\xa9",
            b"\xff\xfe",
            b"a\nb",
            b"\xff\n\xfe",
            b"n\xffm/\xe9t\xe9",
            b"",
        ] {
            let text = encode(bytes);
            assert_eq!(decode(&text), bytes, "{text:?}");
        }
        assert_eq!(encode("café".as_bytes()), "café");
        assert_eq!(encode(b"n\xffm"), "n\0ffm");
        // a truncated UTF-8 sequence is encoded byte by byte
        assert_eq!(encode(b"\xc3"), "\0c3");
        assert_eq!(decode("\0c3\0a9"), "é".as_bytes());
        let long = vec![b'\xe9'; 255];
        assert_eq!(decode(&encode(&long)), long);
    }

    #[test]
    fn components_stay_apart_and_messages_show_the_bytes() {
        let text = encode(b"d\xff/f\xfe");
        assert_eq!(text.split('/').count(), 2);
        assert_eq!(shown(&text), "d\\xff/f\\xfe");
        assert_eq!(shown("a\nb"), "a\\nb");
        assert_eq!(shown("plain"), "plain");
        assert_eq!(
            path(&text),
            PathBuf::from(OsStr::from_bytes(b"d\xff/f\xfe"))
        );
        assert!(has_encoded(&text) && !has_encoded("a\nb"));
    }
}
