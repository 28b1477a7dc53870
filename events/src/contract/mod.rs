//! The event stream as a published contract for consumers outside shop: a JSON Schema of
//! every event's Kafka value, derived from the payload types themselves (so the schema
//! cannot drift from the bytes the relay sends), the CloudEvents attributes each message
//! carries, the AsyncAPI document that ties them to topics and headers, and the rules a
//! new schema version must keep to stay readable by consumers of the old one.

pub mod asyncapi;
pub mod cloudevents;
pub mod compat;

use crate::coupon::CouponEvent;
use crate::names::Category;
use crate::order::OrderEvent;
use crate::product::ProductEvent;
use crate::wallet::WalletEvent;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// One event type as consumers see it on Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct EventContract {
    pub category: Category,
    /// The stored and published name (`event-type` header), e.g. `CouponIssued`.
    pub event_type: &'static str,
    /// The schema version of the value as sent (`schema-version` header).
    pub schema_version: u16,
    /// JSON Schema (draft-07, AsyncAPI's schema dialect) of the value as sent.
    pub payload: Value,
}

/// Every event type, grouped by category in `Category::ALL`'s order.
pub fn events() -> Vec<EventContract> {
    Category::ALL
        .into_iter()
        .flat_map(|category| {
            let schemas = match category {
                Category::Wallet => WalletEvent::payload_schemas(),
                Category::Product => ProductEvent::payload_schemas(),
                Category::Coupon => CouponEvent::payload_schemas(),
                Category::Order => OrderEvent::payload_schemas(),
            };
            schemas
                .into_iter()
                .map(move |(event_type, schema_version, payload)| EventContract {
                    category,
                    event_type,
                    schema_version,
                    payload,
                })
        })
        .collect()
}

/// The JSON Schema of `T`'s serde JSON form, every subschema inlined so that one payload
/// schema stands alone (no `$ref` into a document a consumer may not have), without the
/// `$schema` keyword (the AsyncAPI document names the dialect once for all of them).
pub fn payload_schema<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::draft07().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let mut schema = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    flatten_string_enums(&mut schema);
    schema
}

/// schemars renders a string enum whose variants have doc comments as a `oneOf` of one
/// `const` (or `enum`) per group of variants. Consumers and registries expect the plain
/// `{"type": "string", "enum": [...]}` of a closed set of values, and the compatibility
/// check compares enum values, so every such `oneOf` becomes one `enum` here, the
/// variants' descriptions folded into the schema's.
pub fn flatten_string_enums(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(branches)) = map.get("oneOf")
                && let Some((values, notes)) = string_choices(branches)
            {
                map.remove("oneOf");
                map.insert("type".to_owned(), Value::String("string".to_owned()));
                map.insert("enum".to_owned(), Value::Array(values));
                if !notes.is_empty() {
                    let intro = map
                        .get("description")
                        .and_then(Value::as_str)
                        .map(|d| format!("{d}\n"))
                        .unwrap_or_default();
                    map.insert(
                        "description".to_owned(),
                        Value::String(format!("{intro}{}", notes.join("\n"))),
                    );
                }
            }
            map.values_mut().for_each(flatten_string_enums);
        }
        Value::Array(items) => items.iter_mut().for_each(flatten_string_enums),
        _ => {}
    }
}

/// The values of a `oneOf` made only of string `const`/`enum` branches, with a note per
/// described branch; `None` if any branch is something else.
fn string_choices(branches: &[Value]) -> Option<(Vec<Value>, Vec<String>)> {
    let mut values = Vec::new();
    let mut notes = Vec::new();
    for branch in branches {
        let branch = branch.as_object()?;
        if branch.get("type").and_then(Value::as_str) != Some("string")
            || branch
                .keys()
                .any(|k| !matches!(k.as_str(), "type" | "const" | "enum" | "description"))
        {
            return None;
        }
        let of_branch: Vec<Value> = match (branch.get("const"), branch.get("enum")) {
            (Some(one @ Value::String(_)), None) => vec![one.clone()],
            (None, Some(Value::Array(many))) if many.iter().all(Value::is_string) => many.clone(),
            _ => return None,
        };
        if let Some(description) = branch.get("description").and_then(Value::as_str) {
            let names: Vec<&str> = of_branch.iter().filter_map(Value::as_str).collect();
            notes.push(format!("`{}`: {description}", names.join("`, `")));
        }
        values.extend(of_branch);
    }
    Some((values, notes))
}

#[cfg(test)]
mod tests;
