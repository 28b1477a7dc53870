//! Telling an outage from a bug: a database that is down, unreachable or shedding load is
//! answered `503 unavailable` with Retry-After (the request changed nothing, or a keyed
//! retry is safe); anything else it reports is a 500. Both APIs classify the same way.

/// Whether a database error passes by itself: a lost or refused connection, a pool with
/// no connection to give, a server shutting down or out of connections, a deadlock or a
/// lock wait timeout, a busy SQLite file.
pub fn is_transient_sqlx(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            // MySQL/MariaDB: too many connections (1040), shutting down (1053), lock wait
            // timeout (1205), deadlock (1213), read-only while failing over (1290, 1836),
            // connection killed (1927), client idle (4031).
            let mysql = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|mysql| mysql.number());
            // SQLite: busy (5), locked (6), I/O error (10), full (13); the code may be an
            // extended one, whose low byte is the primary code.
            let sqlite_busy = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && db
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13));
            matches!(
                mysql,
                Some(1040 | 1053 | 1205 | 1213 | 1290 | 1836 | 1927 | 4031)
            ) || sqlite_busy
                || db.code().is_some_and(|code| code.starts_with("08")) // connection exception
        }
        _ => false,
    }
}

/// The answer to a failed database call: 503 for an outage, a 500 otherwise.
pub fn database_problem(error: &sqlx::Error) -> crate::Problem {
    if is_transient_sqlx(error) {
        crate::Problem::unavailable(error, 1)
    } else {
        crate::Problem::internal(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_outages_and_bugs_are_not() {
        assert!(is_transient_sqlx(&sqlx::Error::PoolTimedOut));
        assert!(is_transient_sqlx(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset
        ))));
        assert!(!is_transient_sqlx(&sqlx::Error::RowNotFound));
        assert!(!is_transient_sqlx(&sqlx::Error::ColumnNotFound("x".into())));
    }
}
