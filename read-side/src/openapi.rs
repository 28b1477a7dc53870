//! The query API's OpenAPI document, derived from the handlers' annotations.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "shop query API",
        description = "Reads of the shop backend, from Redis hot views, an in-process cache \
                       and SQL read models. Send a command's Consistency-Token to read your \
                       own write. Errors are RFC 9457 application/problem+json with a stable \
                       `code`."
    ),
    paths(
        crate::points::balance,
        crate::products::list,
        crate::products::one,
        crate::search::search,
        crate::coupons::one,
        crate::user_coupons::of_user,
        crate::orders::one,
        crate::rankings::top_products,
    ),
    tags(
        (name = "points", description = "Point balances"),
        (name = "products", description = "The catalog"),
        (name = "coupons", description = "Coupons and the coupons a user holds"),
        (name = "orders", description = "Orders"),
        (name = "rankings", description = "Best sellers"),
        (name = "operations", description = "Health, metrics and these docs"),
    )
)]
struct QueryApiDoc;

/// The whole document, as `GET /openapi.json` serves it.
pub fn spec() -> utoipa::openapi::OpenApi {
    let mut api = api_common::openapi::finish(QueryApiDoc::openapi());
    api_common::openapi::consistency::add_request_parameters(&mut api);
    api
}
