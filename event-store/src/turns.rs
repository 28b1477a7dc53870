//! Turns on a hot stream across processes. Two command nodes that both take commands for
//! one stream (a coupon everybody rushes) would otherwise decide batches against the same
//! version and trade conflicts: one append wins, the other re-reads, backs off and decides
//! again, and a node can starve. Once a stream has seen a conflict, each node's mailbox
//! takes a turn before deciding a batch and gives it back after the append, so the nodes
//! alternate whole batches and the version check only catches the hand-over.
//!
//! On MySQL a turn is a named lock (`GET_LOCK`) held by one connection; the server
//! releases it when that connection ends, so a node killed in its turn hands the stream
//! over as soon as its connection drops.

use super::StoreError;
use async_trait::async_trait;
use events::StreamId;
use sqlx::{MySql, MySqlPool, pool::PoolConnection};
use std::time::Duration;

#[async_trait]
pub trait StreamTurns: Send + Sync + 'static {
    /// Waits up to `wait` for this process's turn on `stream`. `Ok(None)`: the wait ran
    /// out (the caller decides without a turn; the version check keeps it exact).
    async fn take(
        &self,
        stream: &StreamId,
        wait: Duration,
    ) -> Result<Option<Box<dyn Turn>>, StoreError>;
}

#[async_trait]
pub trait Turn: Send {
    /// Gives the turn back.
    async fn release(self: Box<Self>);
}

pub struct MySqlStreamTurns {
    pool: MySqlPool,
    database: String,
}

impl MySqlStreamTurns {
    /// Turns are taken on connections of their own pool (a lock is held by the
    /// connection that took it, for the whole turn).
    pub fn new(pool: MySqlPool) -> Self {
        let database = pool
            .connect_options()
            .get_database()
            .unwrap_or("")
            .to_owned();
        Self { pool, database }
    }
}

struct MySqlTurn {
    conn: PoolConnection<MySql>,
    name: String,
}

#[async_trait]
impl StreamTurns for MySqlStreamTurns {
    async fn take(
        &self,
        stream: &StreamId,
        wait: Duration,
    ) -> Result<Option<Box<dyn Turn>>, StoreError> {
        let name = lock_name(&self.database, stream.as_str());
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(StoreError::db("connect for a stream turn"))?;
        // GET_LOCK takes whole seconds on MariaDB 10.11 (fractions on MySQL 8); round up.
        let seconds = wait.as_secs_f64().ceil().max(1.0);
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
            .bind(&name)
            .bind(seconds)
            .fetch_one(&mut *conn)
            .await
            .map_err(StoreError::db("take a stream turn"))?;
        Ok((got == Some(1)).then(|| Box::new(MySqlTurn { conn, name }) as Box<dyn Turn>))
    }
}

#[async_trait]
impl Turn for MySqlTurn {
    async fn release(self: Box<Self>) {
        let MySqlTurn { mut conn, name } = *self;
        let released = sqlx::query("DO RELEASE_LOCK(?)")
            .bind(&name)
            .execute(&mut *conn)
            .await;
        if let Err(error) = released {
            // A connection that may still hold the lock must not go back to the pool:
            // closing it releases the lock.
            tracing::debug!(%error, "releasing a stream turn; closing its connection");
            drop(conn.detach());
        }
    }
}

fn lock_name(database: &str, stream: &str) -> String {
    crate::leader::named_lock("turn", database, stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_mysql_and_are_stable() {
        assert_eq!(lock_name("shop", "coupon-1"), "shop-turn:shop:coupon-1");
        let long = "x".repeat(100);
        let name = lock_name(&long, "coupon-1");
        assert!(name.len() <= 64);
        assert_eq!(name, lock_name(&long, "coupon-1"));
        assert_ne!(name, lock_name(&long, "coupon-2"));
    }
}
