//! Stored event names are part of every stored row and every Kafka header, so the set is
//! pinned to the table in docs/events.md: adding, renaming or re-versioning an event
//! means changing the documentation too.

use events::DomainEvent;
use std::collections::BTreeSet;

/// `(name, schema version)` of every row of the events table in docs/events.md.
fn documented() -> BTreeSet<(String, u16)> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.md")).unwrap();
    let table = doc
        .split("| event | schema | example value |")
        .nth(1)
        .expect("docs/events.md has the events table");
    table
        .lines()
        .skip(2) // the header's separator row, after the rest of the header line
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            let version = cells[2].parse().unwrap();
            (name, version)
        })
        .collect()
}

#[test]
fn stored_names_and_versions_are_exactly_the_documented_ones() {
    let code: BTreeSet<(String, u16)> = DomainEvent::schema_versions()
        .map(|(name, version)| (name.to_owned(), version))
        .collect();
    assert_eq!(
        code.len(),
        DomainEvent::schema_versions().count(),
        "a name is used twice"
    );
    assert_eq!(code, documented());
}
