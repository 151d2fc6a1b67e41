//! Pure YAML value merging: `<<:` merge keys inside one file, and the compose specification's
//! override rules between files (`-f a.yml -f b.yml`) and for `extends`.

use serde_norway::value::{Tag, TaggedValue};
use serde_norway::{Mapping, Value};
use thiserror::Error;

/// A `<<` merge key whose value cannot be merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MergeKeyError {
    /// `<<: [*a, b]` with an item that is not a mapping.
    #[error("a `<<` merge list may only hold mappings")]
    ListItemNotMapping,
    /// `<<: value` with a value that is neither a mapping nor a list.
    #[error("a `<<` merge key needs a mapping or a list of mappings")]
    NotMapping,
}

/// Resolves `<<:` merge keys everywhere in `value`. Keys written in a mapping win over merged
/// ones; among several merge sources (`<<: [*a, *b]`) the first wins. Merge sources that have
/// merge keys of their own are resolved first.
pub fn resolve_merge_keys(value: &mut Value) -> Result<(), MergeKeyError> {
    match value {
        Value::Mapping(map) => {
            for (_, child) in map.iter_mut() {
                resolve_merge_keys(child)?;
            }
            if let Some(merge) = map.remove("<<") {
                let sources = match merge {
                    Value::Mapping(m) => vec![m],
                    Value::Sequence(items) => items
                        .into_iter()
                        .map(|item| match item {
                            Value::Mapping(m) => Ok(m),
                            _ => Err(MergeKeyError::ListItemNotMapping),
                        })
                        .collect::<Result<_, _>>()?,
                    Value::Null => Vec::new(),
                    _ => return Err(MergeKeyError::NotMapping),
                };
                for source in sources {
                    for (k, v) in source {
                        if !map.contains_key(&k) {
                            map.insert(k, v);
                        }
                    }
                }
            }
            Ok(())
        }
        Value::Sequence(items) => items.iter_mut().try_for_each(resolve_merge_keys),
        Value::Tagged(tagged) => resolve_merge_keys(&mut tagged.value),
        _ => Ok(()),
    }
}

/// A compose tag on a value (`!reset`, `!override`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComposeTag {
    /// `!reset`: drop the inherited value.
    Reset,
    /// `!override`: replace the inherited value without merging.
    Override,
}

/// The compose tag of a value, if it has one.
pub fn compose_tag(value: &Value) -> Option<ComposeTag> {
    match value {
        Value::Tagged(t) if t.tag == Tag::new("reset") => Some(ComposeTag::Reset),
        Value::Tagged(t) if t.tag == Tag::new("override") => Some(ComposeTag::Override),
        _ => None,
    }
}

/// Removes `!reset` / `!override` tags, as a base file (nothing to override) sees them:
/// `!reset` entries disappear from mappings, `!override` values stay untagged.
pub fn strip_tags(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            let reset: Vec<Value> = map
                .iter()
                .filter(|(_, v)| compose_tag(v) == Some(ComposeTag::Reset))
                .map(|(k, _)| k.clone())
                .collect();
            for key in reset {
                map.remove(&key);
            }
            map.iter_mut().for_each(|(_, v)| strip_tags(v));
        }
        Value::Sequence(items) => items.iter_mut().for_each(strip_tags),
        Value::Tagged(tagged) => {
            let mut inner = std::mem::replace(&mut tagged.value, Value::Null);
            strip_tags(&mut inner);
            if compose_tag(value).is_some() {
                *value = inner;
            } else if let Value::Tagged(tagged) = value {
                tagged.value = inner;
            }
        }
        _ => {}
    }
}

/// How two sequences under a key are merged.
fn sequence_rule(key: &str) -> SequenceRule {
    match key {
        "command" | "entrypoint" | "test" => SequenceRule::Replace,
        "volumes" => SequenceRule::ByKey(mount_target),
        "ports" | "expose" | "dns" | "dns_search" | "dns_opt" | "env_file" | "tmpfs"
        | "external_links" | "security_opt" | "cap_add" | "cap_drop" | "devices" | "secrets"
        | "configs" | "profiles" | "extra_hosts" | "links" | "group_add" | "volumes_from" => {
            SequenceRule::AppendUnique
        }
        _ => SequenceRule::AppendUnique,
    }
}

enum SequenceRule {
    Replace,
    AppendUnique,
    ByKey(fn(&Value) -> Option<String>),
}

/// The container path of a service volume entry, short or long syntax; entries are merged by it.
pub fn mount_target(entry: &Value) -> Option<String> {
    match entry {
        Value::String(spec) => crate::compose::volume_syntax::split_short_lenient(spec)
            .ok()
            .map(|v| crate::compose::target::clean(&v.target)),
        Value::Mapping(m) => m
            .get("target")
            .and_then(Value::as_str)
            .map(crate::compose::target::clean),
        _ => None,
    }
}

/// Keys whose value may be a list of `K=V` or a mapping, merged as a mapping.
fn is_dict_like(key: &str) -> bool {
    matches!(
        key,
        "environment"
            | "labels"
            | "annotations"
            | "args"
            | "sysctls"
            | "depends_on"
            | "networks"
            | "extra_hosts"
    )
}

/// Merges `over` onto `base` under the compose override rules. `key` is the mapping key both
/// values sit under (decides how sequences merge).
pub fn merge_override(base: Value, over: Value, key: &str) -> Value {
    match compose_tag(&over) {
        Some(ComposeTag::Reset) => return Value::Null,
        Some(ComposeTag::Override) => {
            let mut over = over;
            strip_tags(&mut over);
            return over;
        }
        None => {}
    }
    match (base, over) {
        (Value::Mapping(mut base), Value::Mapping(over)) => {
            for (k, v) in over {
                let name = k.as_str().unwrap_or_default().to_owned();
                if compose_tag(&v) == Some(ComposeTag::Reset) {
                    base.remove(&k);
                    continue;
                }
                let merged = match base.remove(&k) {
                    Some(existing) => merge_override(existing, v, &name),
                    None => {
                        let mut v = v;
                        strip_tags(&mut v);
                        v
                    }
                };
                base.insert(k, merged);
            }
            Value::Mapping(base)
        }
        (Value::Sequence(base), Value::Sequence(over)) if is_dict_like(key) => {
            merge_override(list_to_mapping(base), list_to_mapping(over), key)
        }
        (Value::Sequence(base), Value::Mapping(over)) if is_dict_like(key) => {
            merge_override(list_to_mapping(base), Value::Mapping(over), key)
        }
        (Value::Mapping(base), Value::Sequence(over)) if is_dict_like(key) => {
            merge_override(Value::Mapping(base), list_to_mapping(over), key)
        }
        (Value::Sequence(base), Value::Sequence(over)) => {
            let mut over = Value::Sequence(over);
            strip_tags(&mut over);
            let Value::Sequence(over) = over else {
                unreachable!("strip_tags keeps a sequence a sequence")
            };
            Value::Sequence(merge_sequences(base, over, sequence_rule(key)))
        }
        (_, mut over) => {
            strip_tags(&mut over);
            over
        }
    }
}

fn merge_sequences(base: Vec<Value>, over: Vec<Value>, rule: SequenceRule) -> Vec<Value> {
    match rule {
        SequenceRule::Replace => over,
        SequenceRule::AppendUnique => {
            let mut out = base;
            for item in over {
                if !out.contains(&item) {
                    out.push(item);
                }
            }
            out
        }
        SequenceRule::ByKey(key_of) => {
            let mut out = base;
            for item in over {
                let key = key_of(&item);
                match out
                    .iter()
                    .position(|existing| key.is_some() && key_of(existing) == key)
                {
                    Some(i) => out[i] = item,
                    None => out.push(item),
                }
            }
            out
        }
    }
}

/// `["A=1", "B"]` -> `{A: "1", B: null}`; a list of plain names (depends_on, networks) gives
/// names mapped to null.
fn list_to_mapping(items: Vec<Value>) -> Value {
    let mut map = Mapping::new();
    for item in items {
        match item {
            Value::String(s) => match s.split_once('=') {
                Some((k, v)) => {
                    map.insert(Value::String(k.to_owned()), Value::String(v.to_owned()));
                }
                None => {
                    map.insert(Value::String(s), Value::Null);
                }
            },
            other => {
                map.insert(other, Value::Null);
            }
        }
    }
    Value::Mapping(map)
}

/// A tagged value with the given compose tag (for tests and callers building values).
pub fn tagged(tag: &str, value: Value) -> Value {
    Value::Tagged(Box::new(TaggedValue {
        tag: Tag::new(tag),
        value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).expect("test yaml parses")
    }

    fn merged(base: &str, over: &str) -> Value {
        merge_override(yaml(base), yaml(over), "")
    }

    #[test]
    fn merge_keys_keep_explicit_keys_and_first_source_wins() {
        let mut v = yaml("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  x: 0\n");
        resolve_merge_keys(&mut v).expect("merges");
        assert_eq!(v["c"], yaml("{x: 0, y: 1, z: 2}"));
    }

    #[test]
    fn nested_merge_keys_resolve() {
        let mut v = yaml("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b}\n");
        resolve_merge_keys(&mut v).expect("merges");
        assert_eq!(v["c"], yaml("{x: 1, y: 2}"));
    }

    #[test]
    fn scalar_merge_key_is_an_error() {
        let mut v = yaml("c: {<<: 3}\n");
        assert!(resolve_merge_keys(&mut v).is_err());
    }

    #[test]
    fn volumes_merge_by_target() {
        let got = merged(
            "services: {web: {image: a, volumes: ['./a:/data', 'logs:/logs']}}",
            "services: {web: {image: b, volumes: ['/srv/data:/data:ro', 'c:/cache']}}",
        );
        assert_eq!(
            got,
            yaml(
                "services: {web: {image: b, volumes: ['/srv/data:/data:ro', 'logs:/logs', 'c:/cache']}}"
            )
        );
    }

    #[test]
    fn long_and_short_volumes_merge_by_target() {
        let got = merged(
            "volumes: ['./a:/data']",
            "volumes: [{type: bind, source: /x, target: /data}]",
        );
        assert_eq!(
            got,
            yaml("volumes: [{type: bind, source: /x, target: /data}]")
        );
    }

    #[test]
    fn command_replaces_and_ports_append() {
        let got = merged(
            "{command: [a, b], ports: ['80:80']}",
            "{command: [c], ports: ['80:80', '443:443']}",
        );
        assert_eq!(got, yaml("{command: [c], ports: ['80:80', '443:443']}"));
    }

    #[test]
    fn environment_lists_and_mappings_merge_as_mappings() {
        let got = merged("environment: [A=1, B=2]", "environment: {B: 3}");
        assert_eq!(got, yaml("environment: {A: '1', B: 3}"));
    }

    #[test]
    fn reset_removes_and_override_replaces() {
        let over = "{volumes: !reset [], environment: !override {C: 1}}";
        let got = merged("{volumes: ['a:/a'], environment: {A: 1}, image: x}", over);
        assert_eq!(got, yaml("{environment: {C: 1}, image: x}"));
    }

    #[test]
    fn strip_tags_drops_reset_entries_in_a_base_file() {
        let mut v = yaml("{a: !reset null, b: !override [1], c: 2}");
        strip_tags(&mut v);
        assert_eq!(v, yaml("{b: [1], c: 2}"));
    }
}
