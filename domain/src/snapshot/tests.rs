use super::fingerprint::{fingerprint_with, trace};
use super::*;
use crate::coupon::Coupon;
use crate::order::Order;
use crate::product::Product;
use crate::wallet::{Wallet, WalletCommand};
use events::{Krw, UserId};
use serde::{Deserialize, Serialize};

fn no_enums(_: &mut serde_reflection::Tracer) -> serde_reflection::Result<()> {
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct Shape {
    id: UserId,
    name: String,
}
#[derive(Serialize, Deserialize)]
#[serde(rename = "Shape")]
struct FieldAdded {
    id: UserId,
    name: String,
    extra: Option<Krw>,
}
#[derive(Serialize, Deserialize)]
#[serde(rename = "Shape")]
struct FieldsSwapped {
    name: String,
    id: UserId,
}

#[derive(Serialize, Deserialize)]
enum Kind {
    A,
    B(i64),
}
#[derive(Serialize, Deserialize)]
struct WithEnum {
    kind: Option<Kind>,
}

#[test]
fn every_aggregate_state_has_a_fingerprint() {
    fingerprint::<Wallet>().unwrap();
    fingerprint::<Product>().unwrap();
    fingerprint::<Coupon>().unwrap();
    fingerprint::<Order>().unwrap();
}

#[test]
fn a_changed_layout_changes_the_fingerprint() {
    let shape = fingerprint_with::<Shape>(no_enums).unwrap();
    assert_eq!(fingerprint_with::<Shape>(no_enums).unwrap(), shape);
    assert_ne!(fingerprint_with::<FieldAdded>(no_enums).unwrap(), shape);
    assert_ne!(fingerprint_with::<FieldsSwapped>(no_enums).unwrap(), shape);
}

#[test]
fn an_enum_left_out_of_trace_enums_is_an_error() {
    assert!(matches!(
        trace::<WithEnum>(no_enums),
        Err(SnapshotError::Layout(_))
    ));
    let layout = trace::<WithEnum>(|tracer| tracer.trace_simple_type::<Kind>().map(drop)).unwrap();
    assert!(
        layout.contains("\"A\"") && layout.contains("\"B\""),
        "{layout}"
    );
}

fn charged(won: i64) -> Wallet {
    let command = WalletCommand::Charge {
        user_id: UserId::new(1).unwrap(),
        amount: Krw::new(won).unwrap(),
        idempotency_key: Some("k".to_owned()),
    };
    let events = Wallet::default().decide(&command).unwrap();
    crate::replay(Wallet::default(), &events)
}

#[test]
fn a_snapshot_reads_back_as_its_state() {
    let state = charged(500);
    let payload = encode(&state).unwrap();
    assert_eq!(
        payload[..Fingerprint::LEN],
        fingerprint::<Wallet>().unwrap().0
    );
    assert_eq!(
        decode::<Wallet>(Wallet::SNAPSHOT_VERSION, &payload).unwrap(),
        state
    );
}

#[test]
fn a_snapshot_this_code_did_not_write_is_refused() {
    let payload = encode(&charged(500)).unwrap();
    let current = Wallet::SNAPSHOT_VERSION;
    assert!(matches!(
        decode::<Wallet>(current - 1, &payload),
        Err(SnapshotError::Version { .. })
    ));
    let mut other_layout = payload.clone();
    other_layout[0] ^= 1;
    assert!(matches!(
        decode::<Wallet>(current, &other_layout),
        Err(SnapshotError::Fingerprint { .. })
    ));
    assert!(matches!(
        decode::<Wallet>(current, &payload[..3]),
        Err(SnapshotError::Truncated(3))
    ));
    assert!(matches!(
        decode::<Wallet>(current, &payload[..payload.len() - 1]),
        Err(SnapshotError::Decode(_))
    ));
    let mut longer = payload.clone();
    longer.push(0);
    assert!(matches!(
        decode::<Wallet>(current, &longer),
        Err(SnapshotError::TrailingBytes(1))
    ));
    // The bytes before the fingerprint existed: a plain postcard state.
    let unprefixed = postcard::to_stdvec(&charged(500)).unwrap();
    assert!(decode::<Wallet>(current, &unprefixed).is_err());
}
