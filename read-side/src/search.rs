//! `GET /v1/products/search?q=...&page=0&size=20`: products whose name matches, best
//! match first. The whole answer, ranking and the page's name, price and stock, comes from
//! this process's in-memory index (`search_index`, followed from the search projection's
//! table by `search_follow`): no statement per search.

use crate::QueryState;
use crate::consistency::{Consistent, SEARCH};
use crate::layered::read_cached;
use crate::products::{ProductPage, page_window};
use api_common::{ApiQuery, Problem};
use axum::Json;
use axum::extract::State;
use events::search_text::{MAX_QUERY_CHARS, SearchQuery};
use serde::Deserialize;
use utoipa::IntoParams;

/// A cached search: the query's terms and compact form, page and size.
pub(crate) type SearchKey = (Vec<String>, String, i64, i64);

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
    let (page, size, offset) = page_window(params.page, params.size)?;
    let query = SearchQuery::parse(&params.q).map_err(|e| {
        Problem::bad_request(format!("{e} (q takes 1 to {MAX_QUERY_CHARS} characters)"))
    })?;
    let fresh = consistent.has_token();
    let key = (query.terms.clone(), query.compact.clone(), page, size);
    let cache = &state.caches.searches;
    read_cached(&state, &consistent, cache, key, || async {
        state.search.follow(&state.pool, fresh).await?;
        let (Ok(from), Ok(count)) = (usize::try_from(offset), usize::try_from(size)) else {
            return Ok(ProductPage::new(Vec::new(), page, size, 0));
        };
        let hits = state.search.search(&query, from, count);
        let total = i64::try_from(hits.total).unwrap_or(i64::MAX);
        Ok(ProductPage::new(hits.items, page, size, total))
    })
    .await
    .map(Json)
}
