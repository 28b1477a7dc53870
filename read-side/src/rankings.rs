//! `GET /v1/rankings/top-products?days=3&limit=5`: best sellers over the last `days`
//! calendar days in `SHOP_TIMEZONE`, today included. Redis (the per-day sorted sets, top
//! products summed over the window by a threshold algorithm) when its day keys are complete, SQL (`daily_sales`) otherwise or when
//! Redis is down; either way the result is cached in-process for about a second per
//! window, and both give the same answer.

use crate::QueryState;
use crate::consistency::{Consistent, SALES};
use crate::ranking_window::{MAX_LIMIT, RankingParams, Window, day_key, rank};
use crate::redis_reader::RankingLookup;
use api_common::{ApiQuery, Problem};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use sqlx::{Any, AnyPool, QueryBuilder};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RankingQuery {
    /// Calendar days in SHOP_TIMEZONE, today included: 1 to 30 (default 3).
    #[param(minimum = 1, maximum = 30)]
    days: Option<i64>,
    /// Products to return: 1 to 100 (default 5).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

#[derive(Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RankedProduct {
    /// 1 for the best seller; ties go to the lower product id.
    #[schema(minimum = 1)]
    rank: usize,
    #[schema(value_type = events::ProductId)]
    product_id: i64,
    /// From the catalog read model; null only if the catalog has not caught up with it.
    name: Option<String>,
    sold_quantity: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Ranking {
    /// First day of the window, `YYYY-MM-DD` in SHOP_TIMEZONE.
    #[schema(format = Date)]
    from: String,
    /// Last day of the window (today), `YYYY-MM-DD` in SHOP_TIMEZONE.
    #[schema(format = Date)]
    to: String,
    items: Vec<RankedProduct>,
}

/// The top `MAX_LIMIT` of a window, ranked and named: what the cache holds.
pub(crate) type RankedWindow = Arc<Vec<RankedProduct>>;

/// Best sellers over the last `days` calendar days (completed orders).
#[utoipa::path(
    get,
    path = "/v1/rankings/top-products",
    tag = "rankings",
    operation_id = "topProducts",
    params(RankingQuery),
    responses((status = 200, description = "The ranking", body = Ranking))
)]
#[tracing::instrument(skip_all, fields(layer = tracing::field::Empty))]
pub(crate) async fn top_products(
    State(state): State<QueryState>,
    ApiQuery(query): ApiQuery<RankingQuery>,
    consistent: Consistent<SALES>,
) -> Result<Json<Ranking>, Problem> {
    let params = RankingParams::new(query.days, query.limit).map_err(Problem::bad_request)?;
    let window = Window::ending_today((state.clock)(), state.timezone, params.days);
    let ranked = ranked_window(&state, &consistent, window).await?;
    Ok(Json(Ranking {
        from: day_key(window.from),
        to: day_key(window.to),
        items: ranked.iter().take(params.limit).cloned().collect(),
    }))
}

/// A request with a consistency token waits for the `sales` projection and reads SQL (a
/// cached or Redis ranking may predate its write); others share the cached window.
async fn ranked_window(
    state: &QueryState,
    consistent: &Consistent<SALES>,
    window: Window,
) -> Result<RankedWindow, Problem> {
    let span = tracing::Span::current();
    if consistent.has_token() {
        consistent.caught_up(state).await?;
        state.stats.sql_reads.inc();
        span.record("layer", "sql");
        let sold = from_sql(&state.pool, window)
            .await
            .map_err(|e| crate::db_problem(&e))?;
        return named(&state.pool, sold)
            .await
            .map_err(|e| crate::db_problem(&e));
    }
    state.stats.moka_lookups.inc();
    let layer = std::sync::Mutex::new("moka");
    let loaded = AtomicBool::new(false);
    let ranked = state
        .caches
        .rankings
        .try_get_with(window, async {
            loaded.store(true, Ordering::Relaxed);
            state.stats.moka_loads.inc();
            let (sold, from) = load(state, window).await?;
            if let Ok(mut layer) = layer.lock() {
                *layer = from;
            }
            named(&state.pool, sold).await
        })
        .await
        .map_err(|e| crate::db_problem(&e))?;
    if loaded.load(Ordering::Relaxed) {
        span.record("layer", layer.lock().map_or("sql", |layer| *layer));
    } else {
        span.record("layer", "moka");
    }
    Ok(ranked)
}

/// Redis when it can answer, else SQL; returns the layer that did.
async fn load(
    state: &QueryState,
    window: Window,
) -> Result<(Vec<(i64, i64)>, &'static str), sqlx::Error> {
    if let Some(redis) = &state.redis {
        let days: Vec<String> = window.days().map(day_key).collect();
        match redis.top_sales(&days, MAX_LIMIT as usize).await {
            RankingLookup::Found(sold) => {
                state.stats.redis_hits.inc();
                return Ok((rank(sold), "redis"));
            }
            RankingLookup::NotReady => state.stats.redis_misses.inc(),
            RankingLookup::Skipped => state.stats.redis_skipped.inc(),
            RankingLookup::Failed => state.stats.redis_errors.inc(),
        }
    }
    state.stats.sql_reads.inc();
    Ok((from_sql(&state.pool, window).await?, "sql"))
}

/// SUM is DECIMAL on MySQL, which the Any driver cannot read as an integer; the CAST makes
/// it BIGINT there and is a no-op on SQLite (NUMERIC affinity keeps integers integers).
async fn from_sql(pool: &AnyPool, window: Window) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    sqlx::query_as::<_, (i64, i64)>(
        "SELECT product_id, CAST(SUM(sold_quantity) AS SIGNED) AS sold FROM daily_sales \
         WHERE sold_date BETWEEN ? AND ? GROUP BY product_id \
         ORDER BY sold DESC, product_id ASC LIMIT ?",
    )
    .bind(day_key(window.from))
    .bind(day_key(window.to))
    .bind(MAX_LIMIT)
    .fetch_all(pool)
    .await
}

/// Ranks `sold` (already in ranking order) and adds names from the catalog read model.
async fn named(pool: &AnyPool, sold: Vec<(i64, i64)>) -> Result<RankedWindow, sqlx::Error> {
    let mut names = HashMap::new();
    if !sold.is_empty() {
        let mut query =
            QueryBuilder::<Any>::new("SELECT product_id, name FROM products WHERE product_id IN (");
        let mut list = query.separated(", ");
        // Always MAX_LIMIT ids (the last repeated), so the statement has one shape and
        // stays prepared.
        let ids = sold.iter().map(|(product_id, _)| *product_id);
        let last = sold.last().map_or(0, |(product_id, _)| *product_id);
        for product_id in ids.chain(std::iter::repeat(last)).take(MAX_LIMIT as usize) {
            list.push_bind(product_id);
        }
        query.push(")");
        let rows: Vec<(i64, String)> = query.build_query_as().fetch_all(pool).await?;
        names.extend(rows);
    }
    Ok(Arc::new(
        sold.into_iter()
            .enumerate()
            .map(|(index, (product_id, sold_quantity))| RankedProduct {
                rank: index + 1,
                product_id,
                name: names.remove(&product_id),
                sold_quantity,
            })
            .collect(),
    ))
}
