//! Which unique key of the event store a write broke, read from the database's error by the
//! key's name, so a store tells a lost race (another writer took the stream version, the
//! entry or the idempotency key first) from a real failure (an event id appended twice).
//! The names are the schema's (`migrations/`), written here once; a key missing from this
//! list is a failure, never a silent conflict.

/// A unique key whose violation the stores answer with something other than a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniqueKey {
    /// `events (stream_id, stream_version)`: another writer appended at this version first.
    StreamVersion,
    /// `events (event_id)`: the same event was appended twice.
    EventId,
    /// `stream_entries (stream_id, entry_key)`: another writer added this entry first.
    StreamEntry,
    /// `idempotency_keys (scope, idem_key)`: a request with this key was recorded first.
    IdempotencyKey,
}

impl UniqueKey {
    const ALL: [UniqueKey; 4] = [
        UniqueKey::StreamVersion,
        UniqueKey::EventId,
        UniqueKey::StreamEntry,
        UniqueKey::IdempotencyKey,
    ];

    fn table(self) -> &'static str {
        match self {
            UniqueKey::StreamVersion | UniqueKey::EventId => "events",
            UniqueKey::StreamEntry => "stream_entries",
            UniqueKey::IdempotencyKey => "idempotency_keys",
        }
    }

    /// The key's name in `migrations/mysql/` (a primary key is always `PRIMARY`).
    fn mysql_name(self) -> &'static str {
        match self {
            UniqueKey::StreamVersion => "events_stream_version",
            UniqueKey::EventId => "events_event_id",
            UniqueKey::StreamEntry | UniqueKey::IdempotencyKey => "PRIMARY",
        }
    }

    /// The key's columns as SQLite reports them (`table.column, table.column`).
    fn sqlite_columns(self) -> &'static str {
        match self {
            UniqueKey::StreamVersion => "events.stream_id, events.stream_version",
            UniqueKey::EventId => "events.event_id",
            UniqueKey::StreamEntry => "stream_entries.stream_id, stream_entries.entry_key",
            UniqueKey::IdempotencyKey => "idempotency_keys.scope, idempotency_keys.idem_key",
        }
    }

    /// The key an insert into `table` broke, from MySQL's or MariaDB's error. They name the
    /// key only in the text of `ER_DUP_ENTRY` (1062): `Duplicate entry '…' for key 'name'`,
    /// MySQL 8 as `'table.name'`; the table is the caller's, since every primary key is
    /// `PRIMARY`.
    fn of_mysql(error: &sqlx::Error, table: &str) -> Option<UniqueKey> {
        let sqlx::Error::Database(db) = error else {
            return None;
        };
        if !db.is_unique_violation() {
            return None;
        }
        Self::from_mysql_message(db.message(), table)
    }

    /// Whether `error` (MySQL) is a violation of this key.
    pub(crate) fn broken_in_mysql(self, error: &sqlx::Error) -> bool {
        Self::of_mysql(error, self.table()) == Some(self)
    }

    fn from_mysql_message(message: &str, table: &str) -> Option<UniqueKey> {
        let (_, quoted) = message.rsplit_once(" for key '")?;
        let name = quoted.strip_suffix('\'')?;
        let name = match name.split_once('.') {
            Some((in_table, name)) if in_table == table => name,
            Some(_) => return None,
            None => name,
        };
        Self::ALL
            .into_iter()
            .find(|key| key.table() == table && key.mysql_name() == name)
    }

    /// The key from SQLite's error: a UNIQUE or (for `WITHOUT ROWID` tables) PRIMARY KEY
    /// constraint, named by its columns: `UNIQUE constraint failed: events.event_id`.
    pub(crate) fn of_sqlite(error: &rusqlite::Error) -> Option<UniqueKey> {
        let rusqlite::Error::SqliteFailure(failure, Some(message)) = error else {
            return None;
        };
        let unique = matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        );
        if !unique {
            return None;
        }
        Self::from_sqlite_message(message)
    }

    fn from_sqlite_message(message: &str) -> Option<UniqueKey> {
        let (_, columns) = message.split_once("constraint failed: ")?;
        Self::ALL
            .into_iter()
            .find(|key| key.sqlite_columns() == columns)
    }
}

#[cfg(test)]
mod tests {
    use super::UniqueKey;

    #[test]
    fn mysql_keys_are_read_by_name_with_or_without_the_table() {
        let cases = [
            (
                "Duplicate entry 'wallet-1-3' for key 'events_stream_version'",
                "events",
                Some(UniqueKey::StreamVersion),
            ),
            (
                "Duplicate entry 'wallet-1-3' for key 'events.events_stream_version'",
                "events",
                Some(UniqueKey::StreamVersion),
            ),
            (
                "Duplicate entry '\\x01\\x02' for key 'events_event_id'",
                "events",
                Some(UniqueKey::EventId),
            ),
            (
                "Duplicate entry 'user:1-/v1/orders-k' for key 'PRIMARY'",
                "idempotency_keys",
                Some(UniqueKey::IdempotencyKey),
            ),
            (
                "Duplicate entry 'coupon-1-7' for key 'stream_entries.PRIMARY'",
                "stream_entries",
                Some(UniqueKey::StreamEntry),
            ),
            // The events table's primary key (the global position) is not a race: failure.
            ("Duplicate entry '12' for key 'PRIMARY'", "events", None),
            // A key of another table, or one this list does not know: failure.
            (
                "Duplicate entry 'x' for key 'snapshots.PRIMARY'",
                "events",
                None,
            ),
            ("Duplicate entry 'x' for key 'some_new_key'", "events", None),
            // A value that itself contains the phrase does not fool the parser.
            (
                "Duplicate entry ' for key 'events_event_id' for key 'events_stream_version'",
                "events",
                Some(UniqueKey::StreamVersion),
            ),
        ];
        for (message, table, expected) in cases {
            assert_eq!(
                UniqueKey::from_mysql_message(message, table),
                expected,
                "{message}"
            );
        }
    }

    #[test]
    fn sqlite_keys_are_read_by_their_columns() {
        let cases = [
            (
                "UNIQUE constraint failed: events.stream_id, events.stream_version",
                Some(UniqueKey::StreamVersion),
            ),
            (
                "UNIQUE constraint failed: events.event_id",
                Some(UniqueKey::EventId),
            ),
            (
                "UNIQUE constraint failed: stream_entries.stream_id, stream_entries.entry_key",
                Some(UniqueKey::StreamEntry),
            ),
            (
                "UNIQUE constraint failed: idempotency_keys.scope, idempotency_keys.idem_key",
                Some(UniqueKey::IdempotencyKey),
            ),
            ("UNIQUE constraint failed: snapshots.stream_id", None),
            ("NOT NULL constraint failed: events.payload", None),
        ];
        for (message, expected) in cases {
            assert_eq!(
                UniqueKey::from_sqlite_message(message),
                expected,
                "{message}"
            );
        }
    }
}
