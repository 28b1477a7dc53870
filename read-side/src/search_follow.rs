//! Keeps this process's in-memory search index (`search_index`) in step with the search
//! projection's table: new rows are read by `seq` (numbered in commit order, so nothing
//! is skipped; a row whose stock moved is numbered anew, so its new stock is read too), and a new `search_head.generation` (a rebuild swapped a fresh copy in)
//! makes it load the whole table again, beside the old index, which answers meanwhile.
//! There is no background task: requests bring it up to date, at most every
//! `FOLLOW_EVERY` without a Consistency-Token and always after a token's wait.

use crate::search_index::{Hits, Index, Row};
use events::search_text::{FoldedName, SearchQuery};
use sqlx::AnyPool;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How stale the index may be for a search without a token (a registration shows within
/// this, plus the projection's own lag).
const FOLLOW_EVERY: Duration = Duration::from_millis(100);

/// Rows per read while following: bounds one statement's result, one fixed SQL text.
const CHUNK: i64 = 10_000;

#[derive(Default)]
pub(crate) struct SearchIndex {
    index: RwLock<Index>,
    /// One follower at a time; holds when the last catch-up started.
    follower: Mutex<Option<Instant>>,
}

impl SearchIndex {
    /// Searches the index as it is now.
    pub(crate) fn search(&self, query: &SearchQuery, offset: usize, size: usize) -> Hits {
        self.read().search(query, offset, size)
    }

    /// Brings the index up to date. `fresh`: it must show everything committed before
    /// this call (a token's write); otherwise an index followed within `FOLLOW_EVERY`, or
    /// being followed right now by another request, is good enough.
    pub(crate) async fn follow(&self, pool: &AnyPool, fresh: bool) -> Result<(), sqlx::Error> {
        let asked = Instant::now();
        let mut last = if fresh {
            self.follower.lock().await
        } else {
            match self.follower.try_lock() {
                Ok(last) => last,
                // Someone is following; answer from what is there, unless nothing is.
                Err(_) if self.read().generation.is_some() => return Ok(()),
                Err(_) => self.follower.lock().await,
            }
        };
        let recent = if fresh {
            // A catch-up that started after this request's write was visible covers it.
            last.is_some_and(|started| started >= asked)
        } else {
            last.is_some_and(|started| started.elapsed() < FOLLOW_EVERY)
        };
        if recent {
            return Ok(());
        }
        let started = Instant::now();
        self.catch_up(pool).await?;
        *last = Some(started);
        Ok(())
    }

    async fn catch_up(&self, pool: &AnyPool) -> Result<(), sqlx::Error> {
        // One snapshot for the head and the rows (SQLite WAL, InnoDB consistent read), so
        // rows of a copy swapped in meanwhile are not taken for the old copy's.
        let mut tx = pool.begin().await?;
        let head: Option<(String, i64)> =
            sqlx::query_as("SELECT generation, seq FROM search_head WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?;
        let Some((generation, head_seq)) = head else {
            // Nothing was ever registered.
            return tx.commit().await;
        };
        let (followed, seq) = {
            let index = self.read();
            (index.generation.clone(), index.seq)
        };
        if followed.as_deref() != Some(generation.as_str()) {
            let mut fresh = Index::new(generation);
            let mut after = 0;
            loop {
                let rows = rows_after(&mut tx, after).await?;
                let last = rows.last().map(|row| row.7);
                let full = rows.len() == usize::try_from(CHUNK).unwrap_or(usize::MAX);
                add(&mut fresh, rows);
                match last {
                    Some(last) if full => after = last,
                    _ => break,
                }
            }
            tracing::info!(products = fresh.len(), "search index loaded");
            *self.write() = fresh;
        } else if head_seq > seq {
            let mut after = seq;
            while after < head_seq {
                let rows = rows_after(&mut tx, after).await?;
                let Some(last) = rows.last().map(|row| row.7) else {
                    break;
                };
                add(&mut self.write(), rows);
                after = last;
            }
        }
        tx.commit().await
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        // A panic while holding the lock leaves an index that is merely behind: go on.
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A row as read: product id, name, compact, spaced, chars, price, stock, seq.
type TableRow = (i64, String, String, String, i64, i64, i64, i64);

async fn rows_after(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    after: i64,
) -> Result<Vec<TableRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT product_id, name, compact, spaced, chars, price, stock, seq \
         FROM search_products WHERE seq > ? ORDER BY seq LIMIT ?",
    )
    .bind(after)
    .bind(CHUNK)
    .fetch_all(&mut **tx)
    .await
}

fn add(index: &mut Index, rows: Vec<TableRow>) {
    index.add(rows.into_iter().map(
        |(product_id, name, compact, spaced, chars, price, stock, seq)| Row {
            product_id,
            name,
            folded: FoldedName {
                compact,
                spaced,
                chars,
            },
            price,
            stock,
            seq,
        },
    ));
}
