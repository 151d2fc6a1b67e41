//! YAML scalars and lists as text.

use serde_norway::Value;

/// The text of a scalar (numbers and booleans as YAML writes them).
pub fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

pub(super) fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(scalar_text).collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

pub(super) fn split_list(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
