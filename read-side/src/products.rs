use crate::consistency::{CATALOG, Consistent};
use crate::{QueryState, db_problem};
use api_common::{ApiPath, ApiQuery, Problem};
use axum::Json;
use axum::extract::State;
use events::ProductId;
use serde::{Deserialize, Serialize};

const MAX_PAGE_SIZE: i64 = 100;

#[derive(Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductView {
    product_id: i64,
    name: String,
    price: i64,
    stock: i64,
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    page: Option<i64>,
    size: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductPage {
    items: Vec<ProductView>,
    page: i64,
    size: i64,
    total: i64,
}

#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    State(state): State<QueryState>,
    ApiQuery(query): ApiQuery<PageQuery>,
    _caught_up: Consistent<CATALOG>,
) -> Result<Json<ProductPage>, Problem> {
    let page = query.page.unwrap_or(0);
    let size = query.size.unwrap_or(20);
    if page < 0 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(Problem::bad_request(format!(
            "page must be >= 0 and size between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let offset = page
        .checked_mul(size)
        .ok_or_else(|| Problem::bad_request("page is too large"))?;
    let items = sqlx::query_as::<_, ProductView>(
        "SELECT product_id, name, price, stock FROM products ORDER BY product_id LIMIT ? OFFSET ?",
    )
    .bind(size)
    .bind(offset)
    .fetch_all(&state.pool)
    .await
    .map_err(db_problem)?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
        .fetch_one(&state.pool)
        .await
        .map_err(db_problem)?;
    Ok(Json(ProductPage {
        items,
        page,
        size,
        total,
    }))
}

#[tracing::instrument(skip_all, fields(product_id = %product_id))]
pub(crate) async fn one(
    State(state): State<QueryState>,
    ApiPath(product_id): ApiPath<ProductId>,
    _caught_up: Consistent<CATALOG>,
) -> Result<Json<ProductView>, Problem> {
    sqlx::query_as::<_, ProductView>(
        "SELECT product_id, name, price, stock FROM products WHERE product_id = ?",
    )
    .bind(product_id.get())
    .fetch_optional(&state.pool)
    .await
    .map_err(db_problem)?
    .map(Json)
    .ok_or_else(|| Problem::not_found(format!("product {product_id} does not exist")))
}
