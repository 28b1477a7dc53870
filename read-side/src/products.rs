use crate::QueryState;
use crate::consistency::{CATALOG, Consistent};
use crate::hot_view::{Fields, MalformedView};
use crate::layered::{Entity, read_cached, read_entity};
use api_common::openapi::ProblemSchema;
use api_common::{ApiPath, ApiQuery, Problem};
use axum::Json;
use axum::extract::State;
use events::names::hot_view::{View, field};
use events::{ProductId, StreamId};
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use utoipa::{IntoParams, ToSchema};

pub(crate) const MAX_PAGE_SIZE: i64 = 100;

#[derive(Clone, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Product)]
pub(crate) struct ProductView {
    #[schema(value_type = events::ProductId)]
    product_id: i64,
    name: String,
    #[schema(value_type = events::Krw)]
    price: i64,
    #[schema(minimum = 0)]
    stock: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Zero-based page number (default 0).
    #[param(minimum = 0)]
    page: Option<i64>,
    /// Products per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    size: Option<i64>,
}

#[derive(Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProductPage {
    items: Vec<ProductView>,
    page: i64,
    size: i64,
    total: i64,
}

impl ProductView {
    pub(crate) fn new(product_id: i64, name: String, price: i64, stock: i64) -> Self {
        Self {
            product_id,
            name,
            price,
            stock,
        }
    }

    #[cfg(test)]
    pub(crate) fn product_id(&self) -> i64 {
        self.product_id
    }

    #[cfg(test)]
    pub(crate) fn stock(&self) -> i64 {
        self.stock
    }
}

impl ProductPage {
    pub(crate) fn new(items: Vec<ProductView>, page: i64, size: i64, total: i64) -> Self {
        Self {
            items,
            page,
            size,
            total,
        }
    }
}

/// `page` and `size` (defaults 0 and 20) checked, with the offset of the page's first row.
pub(crate) fn page_window(
    page: Option<i64>,
    size: Option<i64>,
) -> Result<(i64, i64, i64), Problem> {
    let page = page.unwrap_or(0);
    let size = size.unwrap_or(20);
    if page < 0 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(Problem::bad_request(format!(
            "page must be >= 0 and size between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let offset = page
        .checked_mul(size)
        .ok_or_else(|| Problem::bad_request("page is too large"))?;
    Ok((page, size, offset))
}

/// The catalog, a page at a time, by product id.
#[utoipa::path(
    get,
    path = "/v1/products",
    tag = "products",
    operation_id = "listProducts",
    params(PageQuery),
    responses((status = 200, description = "One page of products and the total count", body = ProductPage))
)]
#[tracing::instrument(skip_all, fields(layer = tracing::field::Empty))]
pub(crate) async fn list(
    State(state): State<QueryState>,
    ApiQuery(query): ApiQuery<PageQuery>,
    consistent: Consistent<CATALOG>,
) -> Result<Json<ProductPage>, Problem> {
    let (page, size, offset) = page_window(query.page, query.size)?;
    let cache = &state.caches.product_pages;
    read_cached(&state, &consistent, cache, (page, size), || {
        load_page(&state.pool, page, size, offset)
    })
    .await
    .map(Json)
}

async fn load_page(
    pool: &AnyPool,
    page: i64,
    size: i64,
    offset: i64,
) -> Result<ProductPage, sqlx::Error> {
    let items = sqlx::query_as::<_, ProductView>(
        "SELECT product_id, name, price, stock FROM products ORDER BY product_id LIMIT ? OFFSET ?",
    )
    .bind(size)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    // COUNT is BIGINT on MySQL and INTEGER on SQLite: both decode as i64, no CAST needed.
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
        .fetch_one(pool)
        .await?;
    Ok(ProductPage {
        items,
        page,
        size,
        total,
    })
}

/// One product with its current stock.
#[utoipa::path(
    get,
    path = "/v1/products/{productId}",
    tag = "products",
    operation_id = "getProduct",
    params(("productId" = ProductId, Path, description = "The product")),
    responses(
        (status = 200, description = "The product", body = ProductView),
        (status = 404, description = "`not-found`: no such product", body = ProblemSchema, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all, fields(product_id = %product_id, layer = tracing::field::Empty))]
pub(crate) async fn one(
    State(state): State<QueryState>,
    ApiPath(product_id): ApiPath<ProductId>,
    consistent: Consistent<CATALOG>,
) -> Result<Json<ProductView>, Problem> {
    let id = product_id.get();
    let entity = Entity {
        view: View::Product,
        id,
        stream: StreamId::product(product_id),
    };
    read_entity(
        &state,
        &consistent,
        entity,
        from_hash,
        &state.caches.products,
        || load(&state.pool, id),
    )
    .await?
    .map(Json)
    .ok_or_else(|| Problem::not_found(format!("product {product_id} does not exist")))
}

fn from_hash(fields: &Fields<'_>) -> Result<Option<ProductView>, MalformedView> {
    Ok(Some(ProductView {
        product_id: fields.int(field::PRODUCT_ID)?,
        name: fields.text(field::NAME)?,
        price: fields.int(field::PRICE)?,
        stock: fields.int(field::STOCK)?,
    }))
}

async fn load(pool: &AnyPool, product_id: i64) -> Result<Option<ProductView>, sqlx::Error> {
    sqlx::query_as::<_, ProductView>(
        "SELECT product_id, name, price, stock FROM products WHERE product_id = ?",
    )
    .bind(product_id)
    .fetch_optional(pool)
    .await
}
