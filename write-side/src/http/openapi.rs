//! The command API's OpenAPI document, derived from the handlers' annotations.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "shop command API",
        description = "Commands of the shop backend: admin catalog and coupon registration, \
                       coupon issue, point charges and orders. Every success carries a \
                       Consistency-Token to read the write back from the query API. Errors \
                       are RFC 9457 application/problem+json with a stable `code`."
    ),
    paths(
        super::products::register,
        super::products::restock,
        super::coupons::register,
        super::coupons::issue,
        super::points::charge,
        super::orders::place,
    ),
    tags(
        (name = "products", description = "Catalog (admin)"),
        (name = "coupons", description = "First-come-first-served coupons"),
        (name = "points", description = "Point wallets"),
        (name = "orders", description = "Orders, run as a saga"),
        (name = "operations", description = "Health, metrics and these docs"),
    )
)]
struct CommandApiDoc;

/// The whole document, as `GET /openapi.json` serves it.
pub fn spec() -> utoipa::openapi::OpenApi {
    let mut api = api_common::openapi::finish(CommandApiDoc::openapi());
    api_common::openapi::consistency::add_response_header(&mut api);
    api
}
