//! `GET /v1/products/search?q=...&page=0&size=20`: products whose name matches, best
//! match first, from the search projection's gram index (`search_products`,
//! `search_grams`). A query's grams pick the candidates through the primary key; each
//! term must then be a substring of the compact name; the rank is computed in SQL so only
//! one page of rows leaves the database, with the total beside it (one window count).

use crate::QueryState;
use crate::consistency::{Consistent, SEARCH};
use crate::layered::read_cached;
use crate::products::{MAX_PAGE_SIZE, ProductPage, ProductView};
use crate::search_plan::SearchPlan;
use api_common::{ApiQuery, Problem};
use axum::Json;
use axum::extract::State;
use events::search_text::{MAX_QUERY_CHARS, SearchQuery};
use serde::Deserialize;
use sqlx::{Any, AnyPool, QueryBuilder};
use utoipa::IntoParams;

/// A cached search: the query's cache key, page and size.
pub(crate) type SearchKey = (String, i64, i64);

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// What to look for, 1 to 100 characters: Korean with or without spaces (`라떼`,
    /// `카페`), English words or their beginnings (`latt`), any case, mixed. Every word
    /// must occur in the name.
    #[param(min_length = 1, max_length = 100)]
    q: String,
    /// Zero-based page number (default 0).
    #[param(minimum = 0)]
    page: Option<i64>,
    /// Products per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    size: Option<i64>,
}

/// Products whose name matches `q`, best match first: the whole name, then its
/// beginning, then names where every word of `q` begins a word, then the rest; shorter
/// names first within each, ties by product id.
#[utoipa::path(
    get,
    path = "/v1/products/search",
    tag = "products",
    operation_id = "searchProducts",
    params(SearchParams),
    responses((status = 200, description = "One page of matching products, best match first, and how many match", body = ProductPage))
)]
#[tracing::instrument(skip_all, fields(layer = tracing::field::Empty))]
pub(crate) async fn search(
    State(state): State<QueryState>,
    ApiQuery(params): ApiQuery<SearchParams>,
    consistent: Consistent<SEARCH>,
) -> Result<Json<ProductPage>, Problem> {
    let page = params.page.unwrap_or(0);
    let size = params.size.unwrap_or(20);
    if page < 0 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(Problem::bad_request(format!(
            "page must be >= 0 and size between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let offset = page
        .checked_mul(size)
        .ok_or_else(|| Problem::bad_request("page is too large"))?;
    let query = SearchQuery::parse(&params.q).map_err(|e| {
        Problem::bad_request(format!("{e} (q takes 1 to {MAX_QUERY_CHARS} characters)"))
    })?;
    let Some(plan) = SearchPlan::new(&query) else {
        // Punctuation only: nothing to look for, so nothing matches. The token is still
        // checked, as on every route.
        consistent.caught_up(&state).await?;
        return Ok(Json(ProductPage::new(Vec::new(), page, size, 0)));
    };
    let key = (plan.cache_key(), page, size);
    let cache = &state.caches.searches;
    read_cached(&state, &consistent, cache, key, || {
        load(&state.pool, &plan, page, size, offset)
    })
    .await
    .map(Json)
}

#[derive(sqlx::FromRow)]
struct Hit {
    #[sqlx(flatten)]
    product: ProductView,
    total: i64,
}

async fn load(
    pool: &AnyPool,
    plan: &SearchPlan,
    page: i64,
    size: i64,
    offset: i64,
) -> Result<ProductPage, sqlx::Error> {
    let mut query = QueryBuilder::<Any>::new(
        "SELECT product_id, name, price, stock, COUNT(*) OVER () AS total FROM search_products",
    );
    push_filter(&mut query, plan);
    query
        .push(" ORDER BY CASE WHEN compact = ")
        .push_bind(plan.compact.clone())
        .push(" THEN 0 WHEN INSTR(compact, ")
        .push_bind(plan.compact.clone())
        .push(") = 1 THEN 1 WHEN ");
    let mut starts = query.separated(" AND ");
    for word_start in &plan.word_starts {
        starts
            .push("INSTR(spaced, ")
            .push_bind_unseparated(word_start.clone())
            .push_unseparated(") > 0");
    }
    query
        .push(" THEN 2 ELSE 3 END, chars, product_id LIMIT ")
        .push_bind(size)
        .push(" OFFSET ")
        .push_bind(offset);
    let hits: Vec<Hit> = query.build_query_as().fetch_all(pool).await?;
    let total = match hits.first() {
        Some(hit) => hit.total,
        // Past the last page the window count has no row to ride on.
        None if offset > 0 => count(pool, plan).await?,
        None => 0,
    };
    let items = hits.into_iter().map(|hit| hit.product).collect();
    Ok(ProductPage::new(items, page, size, total))
}

async fn count(pool: &AnyPool, plan: &SearchPlan) -> Result<i64, sqlx::Error> {
    let mut query = QueryBuilder::<Any>::new("SELECT COUNT(*) FROM search_products");
    push_filter(&mut query, plan);
    query.build_query_scalar().fetch_one(pool).await
}

/// ` WHERE` the product has every gram of the query and every term is in its name. The
/// lists are padded (`SearchPlan`) so a handful of statement texts serve every query.
fn push_filter(query: &mut QueryBuilder<Any>, plan: &SearchPlan) {
    query.push(" WHERE product_id IN (SELECT product_id FROM search_grams WHERE gram IN (");
    let mut grams = query.separated(", ");
    for gram in &plan.grams {
        grams.push_bind(gram.clone());
    }
    query
        .push(") GROUP BY product_id HAVING COUNT(*) = ")
        .push_bind(plan.distinct_grams)
        .push(")");
    for term in &plan.terms {
        query
            .push(" AND INSTR(compact, ")
            .push_bind(term.clone())
            .push(") > 0");
    }
}
