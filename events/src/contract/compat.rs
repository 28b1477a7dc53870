//! Whether a new schema of an event's value stays readable both ways: by consumers written
//! against the released schema (they get the new messages) and by consumers of the new one
//! reading the topic from the beginning (they get the old messages). Only additions of
//! optional fields keep both; everything else a consumer could trip on is a break.
//!
//! Pure: two JSON Schemas in, the list of breaks out. It understands the shapes
//! `super::payload_schema` generates (objects, arrays, scalar types, enums, formats); any
//! other keyword that differs is reported as a change, never silently accepted.

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// One way the current schema breaks readers of the released one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// A field of the released schema is gone.
    FieldRemoved { path: String },
    /// The current schema allows types the released one did not (e.g. became nullable,
    /// or a string where an integer was).
    TypeChanged {
        path: String,
        released: Vec<String>,
        current: Vec<String>,
    },
    /// A field is required now that was not (old messages lack it), including a new
    /// field added as required.
    NewRequiredField { path: String },
    /// A field that was always present may now be missing.
    NoLongerRequired { path: String },
    /// A value the released enum allowed is not allowed any more.
    EnumValueRemoved { path: String, value: String },
    /// A keyword that restricts values (format, pattern, bounds, const, ...) changed.
    ConstraintChanged {
        path: String,
        keyword: &'static str,
        released: String,
        current: String,
    },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::FieldRemoved { path } => write!(f, "field {path} removed"),
            Break::TypeChanged {
                path,
                released,
                current,
            } => write!(
                f,
                "type of {path} changed from {} to {}",
                released.join("|"),
                current.join("|")
            ),
            Break::NewRequiredField { path } => write!(f, "field {path} is newly required"),
            Break::NoLongerRequired { path } => write!(f, "field {path} is no longer required"),
            Break::EnumValueRemoved { path, value } => {
                write!(f, "enum value {value} of {path} removed")
            }
            Break::ConstraintChanged {
                path,
                keyword,
                released,
                current,
            } => write!(
                f,
                "{keyword} of {path} changed from {released} to {current}"
            ),
        }
    }
}

/// Keywords that restrict which values are valid, compared for equality: either
/// direction of change rejects somebody's messages.
const RESTRICTING: &[&str] = &[
    "const",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "additionalProperties",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "$ref",
];

/// Every break from `released` to `current`, in schema order; empty when compatible.
pub fn breaking_changes(released: &Value, current: &Value) -> Vec<Break> {
    let mut breaks = Vec::new();
    walk("$", released, current, &mut breaks);
    breaks
}

fn walk(path: &str, released: &Value, current: &Value, breaks: &mut Vec<Break>) {
    let empty = Map::new();
    let released = released.as_object().unwrap_or(&empty);
    let current = current.as_object().unwrap_or(&empty);

    if let Some(released_types) = types(released) {
        let current_types = types(current).unwrap_or_default();
        // An integer where a number was allowed is still a number.
        let allowed = |t: &String| {
            released_types.contains(t) || (t == "integer" && released_types.contains("number"))
        };
        let widened = current_types.is_empty() || !current_types.iter().all(allowed);
        if widened {
            breaks.push(Break::TypeChanged {
                path: path.to_owned(),
                released: released_types.into_iter().collect(),
                current: current_types.into_iter().collect(),
            });
        }
    }

    if let Some(Value::Array(released_values)) = released.get("enum") {
        let current_values = match current.get("enum") {
            Some(Value::Array(values)) => values.as_slice(),
            // No enum any more: every value is allowed, none removed.
            _ => released_values.as_slice(),
        };
        for value in released_values {
            if !current_values.contains(value) {
                breaks.push(Break::EnumValueRemoved {
                    path: path.to_owned(),
                    value: value.to_string(),
                });
            }
        }
    }

    for keyword in RESTRICTING {
        let (before, after) = (released.get(*keyword), current.get(*keyword));
        if before != after {
            let show = |v: Option<&Value>| v.map_or_else(|| "none".to_owned(), Value::to_string);
            breaks.push(Break::ConstraintChanged {
                path: path.to_owned(),
                keyword,
                released: show(before),
                current: show(after),
            });
        }
    }

    let released_props = properties(released);
    let current_props = properties(current);
    let released_required = required(released);
    let current_required = required(current);
    for (name, before) in &released_props {
        let field = format!("{path}.{name}");
        match current_props.get(name) {
            None => breaks.push(Break::FieldRemoved { path: field }),
            Some(after) => {
                if released_required.contains(name.as_str())
                    && !current_required.contains(name.as_str())
                {
                    breaks.push(Break::NoLongerRequired {
                        path: field.clone(),
                    });
                }
                walk(&field, before, after, breaks);
            }
        }
    }
    for name in current_props.keys() {
        if current_required.contains(name.as_str()) && !released_required.contains(name.as_str()) {
            breaks.push(Break::NewRequiredField {
                path: format!("{path}.{name}"),
            });
        }
    }

    if let (Some(before), Some(after)) = (released.get("items"), current.get("items")) {
        walk(&format!("{path}[]"), before, after, breaks);
    } else if released.contains_key("items") != current.contains_key("items") {
        breaks.push(Break::ConstraintChanged {
            path: path.to_owned(),
            keyword: "items",
            released: released
                .get("items")
                .map_or("none".to_owned(), Value::to_string),
            current: current
                .get("items")
                .map_or("none".to_owned(), Value::to_string),
        });
    }
}

/// The `type` keyword as a set; `None` when the schema does not restrict the type.
fn types(schema: &Map<String, Value>) -> Option<BTreeSet<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

fn properties(schema: &Map<String, Value>) -> Map<String, Value> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn required(schema: &Map<String, Value>) -> BTreeSet<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `schema` without the keywords that only annotate (titles, descriptions, examples): two
/// schemas equal after this accept exactly the same values.
pub fn without_annotations(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| !matches!(key.as_str(), "title" | "description" | "examples"))
                .map(|(key, value)| {
                    let value = match (key.as_str(), value) {
                        // Field names, not keywords: keep every one, strip inside them.
                        ("properties", Value::Object(fields)) => Value::Object(
                            fields
                                .iter()
                                .map(|(name, field)| (name.clone(), without_annotations(field)))
                                .collect(),
                        ),
                        _ => without_annotations(value),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_annotations).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
#[path = "compat_tests.rs"]
mod tests;
