//! A file's content digest as a manifest and a [`Known`](super::Known) keep it: the 32 bytes
//! of BLAKE3 or SHA-256 (both are 32 bytes long) in place, not as 64 characters of hex on the
//! heap (issue 23 item 6: a hex `String` took 88 bytes of every file's entry, twice per file
//! where a read also hands its hashes on). Shown, compared as text and journaled as the
//! lowercase hex every manifest and side file has always held, so the on-disk formats do not
//! change.
//!
//! A text that is not 64 lowercase hex digits (never written by tierctl, but a journal is read
//! as it is, and tests use short stand-ins) is kept as that text: two hashes are equal exactly
//! when their texts are.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A content digest: bytes where its text is lowercase hex of 32 bytes, else the text itself.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum ContentHash {
    /// 32 bytes, shown as 64 lowercase hex digits.
    Bytes([u8; 32]),
    /// Any other text, kept as it is.
    Text(Box<str>),
}

impl ContentHash {
    /// The hash of `text` as written ([`ContentHash::Bytes`] exactly when it is 64 lowercase
    /// hex digits, so the text comes back unchanged from [`fmt::Display`]).
    pub fn from_text(text: &str) -> ContentHash {
        match bytes_of(text) {
            Some(bytes) => ContentHash::Bytes(bytes),
            None => ContentHash::Text(text.into()),
        }
    }
}

/// The 32 bytes 64 lowercase hex digits stand for.
fn bytes_of(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

impl From<[u8; 32]> for ContentHash {
    fn from(bytes: [u8; 32]) -> ContentHash {
        ContentHash::Bytes(bytes)
    }
}

impl From<&str> for ContentHash {
    fn from(text: &str) -> ContentHash {
        ContentHash::from_text(text)
    }
}

impl From<String> for ContentHash {
    fn from(text: String) -> ContentHash {
        ContentHash::from_text(&text)
    }
}

impl PartialEq<str> for ContentHash {
    fn eq(&self, other: &str) -> bool {
        match self {
            ContentHash::Bytes(bytes) => bytes_of(other).is_some_and(|o| &o == bytes),
            ContentHash::Text(text) => &**text == other,
        }
    }
}

impl PartialEq<&str> for ContentHash {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentHash::Bytes(bytes) => bytes.iter().try_for_each(|b| write!(f, "{b:02x}")),
            ContentHash::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ContentHash, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ContentHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a content digest in hex")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ContentHash, E> {
                Ok(ContentHash::from_text(text))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn issue23_item6_hex_is_kept_as_bytes_and_comes_back_unchanged() {
        let hash = ContentHash::from_text(HEX);
        assert!(matches!(hash, ContentHash::Bytes(_)));
        assert_eq!(hash.to_string(), HEX);
        assert_eq!(hash, *HEX);
        assert_eq!(
            serde_json::to_string(&hash).expect("json"),
            format!("\"{HEX}\"")
        );
        let back: ContentHash = serde_json::from_str(&format!("\"{HEX}\"")).expect("read");
        assert_eq!(back, hash);
        assert!(std::mem::size_of::<Option<ContentHash>>() <= 40);
    }

    #[test]
    fn issue23_item6_equal_exactly_when_the_texts_are() {
        let upper = HEX.to_uppercase();
        let texts = [HEX, &upper, &HEX[..63], "h", "", "hash-known-for-kept"];
        for a in texts {
            for b in texts {
                let (x, y) = (ContentHash::from_text(a), ContentHash::from_text(b));
                assert_eq!(x == y, a == b, "{a:?} {b:?}");
                assert_eq!(x == *b, a == b, "{a:?} {b:?}");
            }
            assert_eq!(ContentHash::from_text(a).to_string(), a);
        }
        // not hex: kept as text
        assert!(matches!(
            ContentHash::from_text(&upper),
            ContentHash::Text(_)
        ));
    }
}
