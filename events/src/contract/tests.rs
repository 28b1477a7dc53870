use super::*;
use serde_json::json;

fn contract(event_type: &str) -> EventContract {
    events()
        .into_iter()
        .find(|e| e.event_type == event_type)
        .unwrap()
}

#[test]
fn every_event_type_has_a_contract_with_its_current_version() {
    let listed: Vec<(&str, u16)> = events()
        .iter()
        .map(|e| (e.event_type, e.schema_version))
        .collect();
    let current: Vec<(&str, u16)> = crate::DomainEvent::schema_versions().collect();
    assert_eq!(listed, current);
}

#[test]
fn ids_and_money_are_int64_with_their_minimum_and_times_are_rfc3339() {
    let issued = contract("CouponIssued").payload;
    assert_eq!(
        issued["properties"]["userId"],
        json!({"type": "integer", "format": "int64", "minimum": 1, "description": "A positive id (UserId)."})
    );
    assert_eq!(issued["properties"]["issuedAt"]["format"], "date-time");
    assert_eq!(issued["properties"]["sequence"]["format"], "int64");
    let paid = contract("OrderPaid").payload;
    assert_eq!(paid["properties"]["paidAmount"]["minimum"], 0);
    assert!(issued.get("$schema").is_none());
}

#[test]
fn fields_always_present_are_required_and_options_are_nullable() {
    let charged = contract("PointsCharged").payload;
    assert_eq!(charged["required"], json!(["userId", "amount"]));
    assert_eq!(
        charged["properties"]["idempotencyKey"]["type"],
        json!(["string", "null"])
    );
    let registered = contract("CouponRegistered").payload;
    assert_eq!(
        registered["properties"]["validUntil"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(
        registered["properties"]["discount"]["properties"]["kind"]["enum"],
        json!(["fixed", "percent"])
    );
}

#[test]
fn cancel_reasons_are_an_enum_of_their_problem_codes() {
    let cancelled = contract("OrderCancelled").payload;
    assert_eq!(
        cancelled["properties"]["reason"]["enum"],
        json!([
            "insufficient-stock",
            "insufficient-balance",
            "coupon-unavailable",
            "not-found"
        ])
    );
}

#[test]
fn lines_are_inlined_arrays_of_objects() {
    let completed = contract("OrderCompleted").payload;
    let line = &completed["properties"]["lines"]["items"];
    assert_eq!(line["type"], "object");
    assert_eq!(
        line["required"],
        json!(["productId", "quantity", "unitPrice"])
    );
    assert!(!completed.to_string().contains("$ref"));
}

#[test]
fn a_one_of_of_string_constants_becomes_one_enum() {
    let mut schema = json!({"description": "Why.", "oneOf": [
        {"type": "string", "enum": ["a", "b"]},
        {"type": "string", "const": "c", "description": "See c."}
    ]});
    flatten_string_enums(&mut schema);
    assert_eq!(
        schema,
        json!({"type": "string", "enum": ["a", "b", "c"], "description": "Why.\n`c`: See c."})
    );
    let mut mixed = json!({"oneOf": [{"type": "string", "const": "a"}, {"type": "integer"}]});
    let before = mixed.clone();
    flatten_string_enums(&mut mixed);
    assert_eq!(mixed, before);
}
