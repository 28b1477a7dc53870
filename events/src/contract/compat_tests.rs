use super::*;
use serde_json::json;

fn order_cancelled() -> Value {
    json!({
        "type": "object",
        "required": ["orderId", "reason", "cancelledAt"],
        "properties": {
            "orderId": {"type": "integer", "format": "int64", "minimum": 1},
            "reason": {"type": "string", "enum": ["insufficient-stock", "not-found"]},
            "cancelledAt": {"type": "string", "format": "date-time"},
            "couponId": {"type": ["integer", "null"], "format": "int64", "minimum": 1},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["quantity"],
                    "properties": {"quantity": {"type": "integer", "format": "int64"}}
                }
            }
        }
    })
}

fn edit(f: impl FnOnce(&mut Value)) -> Value {
    let mut schema = order_cancelled();
    f(&mut schema);
    schema
}

#[test]
fn the_same_schema_is_compatible() {
    assert_eq!(breaking_changes(&order_cancelled(), &order_cancelled()), []);
}

#[test]
fn an_additive_optional_field_is_compatible() {
    let current = edit(|s| {
        s["properties"]["note"] = json!({"type": ["string", "null"]});
        s["properties"]["lines"]["items"]["properties"]["sku"] = json!({"type": "string"});
    });
    assert_eq!(breaking_changes(&order_cancelled(), &current), []);
}

#[test]
fn descriptions_and_narrower_types_are_compatible() {
    let current = edit(|s| {
        s["properties"]["orderId"]["description"] = json!("The order.");
        s["properties"]["couponId"]["type"] = json!("integer");
        s["properties"]["reason"]["enum"] =
            json!(["insufficient-stock", "not-found", "coupon-unavailable"]);
    });
    assert_eq!(breaking_changes(&order_cancelled(), &current), []);
}

#[test]
fn a_removed_field_is_named() {
    let current = edit(|s| {
        s["properties"]
            .as_object_mut()
            .unwrap()
            .remove("cancelledAt");
        s["required"] = json!(["orderId", "reason"]);
    });
    let breaks = breaking_changes(&order_cancelled(), &current);
    assert_eq!(
        breaks,
        [Break::FieldRemoved {
            path: "$.cancelledAt".to_owned()
        }]
    );
    assert_eq!(breaks[0].to_string(), "field $.cancelledAt removed");
}

#[test]
fn a_changed_type_is_named() {
    let current = edit(|s| {
        s["properties"]["lines"]["items"]["properties"]["quantity"] = json!({"type": "string"})
    });
    let breaks = breaking_changes(&order_cancelled(), &current);
    assert!(
        breaks.contains(&Break::TypeChanged {
            path: "$.lines[].quantity".to_owned(),
            released: vec!["integer".to_owned()],
            current: vec!["string".to_owned()],
        }),
        "{breaks:?}"
    );
}

#[test]
fn becoming_nullable_is_a_type_change() {
    let current = edit(|s| s["properties"]["orderId"]["type"] = json!(["integer", "null"]));
    assert!(matches!(
        breaking_changes(&order_cancelled(), &current).as_slice(),
        [Break::TypeChanged { path, .. }] if path == "$.orderId"
    ));
}

#[test]
fn a_new_required_field_breaks_old_messages() {
    let current = edit(|s| {
        s["properties"]["channel"] = json!({"type": "string"});
        s["required"] = json!(["orderId", "reason", "cancelledAt", "channel"]);
    });
    assert_eq!(
        breaking_changes(&order_cancelled(), &current),
        [Break::NewRequiredField {
            path: "$.channel".to_owned()
        }]
    );
}

#[test]
fn an_optional_field_that_was_required_is_a_break() {
    let current = edit(|s| s["required"] = json!(["orderId", "cancelledAt"]));
    assert_eq!(
        breaking_changes(&order_cancelled(), &current),
        [Break::NoLongerRequired {
            path: "$.reason".to_owned()
        }]
    );
}

#[test]
fn a_removed_enum_value_is_named() {
    let current = edit(|s| s["properties"]["reason"]["enum"] = json!(["insufficient-stock"]));
    let breaks = breaking_changes(&order_cancelled(), &current);
    assert_eq!(
        breaks,
        [Break::EnumValueRemoved {
            path: "$.reason".to_owned(),
            value: "\"not-found\"".to_owned()
        }]
    );
    assert_eq!(
        breaks[0].to_string(),
        "enum value \"not-found\" of $.reason removed"
    );
}

#[test]
fn a_changed_format_is_a_break() {
    let current = edit(|s| s["properties"]["cancelledAt"]["format"] = json!("date"));
    assert!(matches!(
        breaking_changes(&order_cancelled(), &current).as_slice(),
        [Break::ConstraintChanged { keyword: "format", path, .. }] if path == "$.cancelledAt"
    ));
}

#[test]
fn annotations_are_stripped_but_field_names_are_kept() {
    let schema = json!({
        "title": "T",
        "properties": {"title": {"type": "string", "description": "a field named title"}}
    });
    assert_eq!(
        without_annotations(&schema),
        json!({"properties": {"title": {"type": "string"}}})
    );
}
