//! The shape of `tiers.yaml` as serde_norway reads it, before validation: syntax and shape
//! errors come with the parser's own location.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The keys allowed at the top of `tiers.yaml`.
pub(super) const TOP_LEVEL_KEYS: [&str; 6] = [
    "tiers",
    "placement",
    "access_points",
    "layout",
    "contexts",
    "pools",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) tiers: Option<UniqueMap<RawTier>>,
    #[serde(default)]
    pub(super) placement: Option<Vec<RawRule>>,
    #[serde(default)]
    pub(super) access_points: Option<UniqueMap<String>>,
    #[serde(default)]
    pub(super) layout: Option<Vec<RawLayout>>,
    #[serde(default)]
    pub(super) contexts: Option<UniqueMap<RawContext>>,
    #[serde(default)]
    pub(super) pools: Option<UniqueMap<super::pools::RawPool>>,
}

/// `contexts: { nas: { tiers: { fast: { root: ... } } } }`: the tier map on another host.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContext {
    #[serde(default)]
    pub(super) tiers: Option<UniqueMap<RawTier>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTier {
    pub(super) root: String,
    #[serde(default)]
    pub(super) kind: Option<String>,
    #[serde(default)]
    pub(super) mount: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    #[serde(default, rename = "match")]
    pub(super) matcher: Option<RawMatch>,
    pub(super) tier: String,
    pub(super) path: String,
    #[serde(default)]
    pub(super) subtrees: Option<UniqueMap<super::subtree::RawSubtree>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatch {
    #[serde(default)]
    pub(super) image: OneOrMany,
    #[serde(default)]
    pub(super) service: OneOrMany,
    #[serde(default)]
    pub(super) target: OneOrMany,
    #[serde(default)]
    pub(super) volume: OneOrMany,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayout {
    pub(super) path: String,
    #[serde(default)]
    pub(super) owner: Option<String>,
    #[serde(default)]
    pub(super) mode: Option<String>,
}

/// A match field: one glob (`image: "postgres*"`) or a list of globs.
#[derive(Debug, Default)]
pub(super) struct OneOrMany {
    pub(super) globs: Vec<String>,
    /// Written as a single string, not a list (changes the node's route).
    pub(super) single: bool,
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;

        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a glob or a list of globs")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany {
                    globs: vec![value.to_string()],
                    single: true,
                })
            }

            fn visit_unit<E: de::Error>(self) -> Result<OneOrMany, E> {
                Ok(OneOrMany::default())
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut globs = Vec::new();
                while let Some(glob) = seq.next_element::<String>()? {
                    globs.push(glob);
                }
                Ok(OneOrMany {
                    globs,
                    single: false,
                })
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

/// A mapping that rejects a repeated key (serde would keep the last silently).
#[derive(Debug)]
pub(super) struct UniqueMap<V>(pub(super) IndexMap<String, V>);

impl<V> Default for UniqueMap<V> {
    fn default() -> Self {
        Self(IndexMap::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueMapVisitor<V>(std::marker::PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueMapVisitor<V> {
            type Value = UniqueMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }

            fn visit_unit<E: de::Error>(self) -> Result<UniqueMap<V>, E> {
                Ok(UniqueMap::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueMap<V>, A::Error> {
                let mut entries = IndexMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.contains_key(&key) {
                        return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
                    }
                    let value = map.next_value()?;
                    entries.insert(key, value);
                }
                Ok(UniqueMap(entries))
            }
        }

        deserializer.deserialize_map(UniqueMapVisitor(std::marker::PhantomData))
    }
}
