//! The leader lock on MySQL/MariaDB: a named `GET_LOCK` held by one dedicated connection.
//! The server releases it when that connection ends, so a crashed or partitioned leader
//! gives way without anyone cleaning up. The connection is opened outside the pool: a
//! pooled connection could go back to the pool still holding the lock.

use super::{LeaderLock, LockError};
use async_trait::async_trait;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Connection, MySqlConnection, MySqlPool};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// MySQL rejects lock names longer than this.
const MAX_LOCK_NAME: usize = 64;
/// A half-open TCP connection would otherwise hang a query forever; past this the
/// connection is presumed dead and leadership with it.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct MySqlLeaderLock {
    options: Arc<MySqlConnectOptions>,
    name: String,
    /// The connection that asks for (and, when `held`, holds) the lock. Kept between
    /// attempts so a standby relay does not reconnect every second.
    conn: Option<MySqlConnection>,
    held: bool,
}

impl MySqlLeaderLock {
    /// A lock for the relays named `reader` on the database `pool` connects to. Lock names
    /// are server-wide, so the database is part of the name.
    pub fn new(pool: MySqlPool, reader: &str) -> Self {
        let options = pool.connect_options();
        let name = lock_name(options.get_database().unwrap_or(""), reader);
        Self {
            options,
            name,
            conn: None,
            held: false,
        }
    }

    /// The lock's name on the server (`SELECT IS_USED_LOCK(name)` shows its holder).
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn connection(&mut self) -> Result<&mut MySqlConnection, LockError> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => timed("connect", self.options.connect())
                .await?
                .map_err(db("connect"))?,
        };
        Ok(self.conn.insert(conn))
    }

    /// Forgets the connection: closing it (or its having broken) releases the lock.
    fn drop_connection(&mut self) {
        self.conn = None;
        self.held = false;
    }
}

#[async_trait]
impl LeaderLock for MySqlLeaderLock {
    async fn try_acquire(&mut self) -> Result<bool, LockError> {
        if self.held {
            // GET_LOCK nests on MariaDB: asking again would need two releases.
            return self.confirm().await.map(|()| true);
        }
        let name = self.name.clone();
        let conn = self.connection().await?;
        let acquired = timed(
            "acquire",
            sqlx::query_scalar::<_, Option<i64>>("SELECT GET_LOCK(?, 0)")
                .bind(name)
                .fetch_one(conn),
        )
        .await
        .and_then(|result| result.map_err(db("acquire")));
        match acquired {
            Ok(Some(1)) => {
                self.held = true;
                Ok(true)
            }
            Ok(_) => Ok(false),
            Err(error) => {
                self.drop_connection();
                Err(error)
            }
        }
    }

    async fn confirm(&mut self) -> Result<(), LockError> {
        let Some(conn) = self.conn.as_mut().filter(|_| self.held) else {
            return Err(LockError::Lost {
                name: self.name.clone(),
            });
        };
        // Asks the server who holds the lock rather than only pinging: a broken or killed
        // connection fails here, and the answer stays right however the lock was lost.
        let mine = timed(
            "confirm",
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT COALESCE(IS_USED_LOCK(?) = CONNECTION_ID(), 0)",
            )
            .bind(self.name.as_str())
            .fetch_one(conn),
        )
        .await
        .and_then(|result| result.map_err(db("confirm")));
        match mine {
            Ok(Some(1)) => Ok(()),
            Ok(_) => {
                self.drop_connection();
                Err(LockError::Lost {
                    name: self.name.clone(),
                })
            }
            Err(error) => {
                self.drop_connection();
                Err(error)
            }
        }
    }

    async fn release(&mut self) {
        if !self.held {
            return;
        }
        self.held = false;
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let released = timed(
            "release",
            sqlx::query("DO RELEASE_LOCK(?)")
                .bind(self.name.as_str())
                .execute(&mut conn),
        )
        .await;
        match released {
            Ok(Ok(_)) => self.conn = Some(conn),
            // Closing the connection releases the lock just as well.
            _ => {
                if let Err(error) = timed("close", conn.close()).await {
                    tracing::debug!(%error, "closing the leader lock connection");
                }
            }
        }
    }
}

/// `shop-{kind}:{database}:{name}`, readable when it fits MySQL's 64 characters, else
/// hashed with a fixed function so every process (and every build) derives the same name.
/// Lock names are server-wide, so the database is part of the name.
pub(crate) fn named_lock(kind: &str, database: &str, name: &str) -> String {
    let readable = format!("shop-{kind}:{database}:{name}");
    if readable.len() <= MAX_LOCK_NAME {
        return readable;
    }
    format!("shop-{kind}:{:016x}", fnv1a64(readable.as_bytes()))
}

fn lock_name(database: &str, reader: &str) -> String {
    named_lock("relay", database, reader)
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

async fn timed<T>(
    operation: &'static str,
    future: impl Future<Output = T>,
) -> Result<T, LockError> {
    tokio::time::timeout(QUERY_TIMEOUT, future)
        .await
        .map_err(|_| LockError::Timeout { operation })
}

fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> LockError {
    move |source| LockError::Database { operation, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_stay_readable() {
        assert_eq!(lock_name("shop", "relay"), "shop-relay:shop:relay");
    }

    #[test]
    fn long_names_are_hashed_stably_within_the_limit() {
        let long = "x".repeat(100);
        let name = lock_name(&long, "relay");
        assert!(name.len() <= MAX_LOCK_NAME);
        assert_eq!(name, lock_name(&long, "relay"));
        assert_ne!(name, lock_name(&long, "other"));
        // FNV-1a's published test vector: the hash must never change between builds.
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
