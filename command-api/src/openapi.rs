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
    add_idempotency_key(&mut api);
    api
}

const KEY_DESCRIPTION: &str = "Makes the command safe to retry (the IETF httpapi \
    Idempotency-Key header): 1 to 200 visible ASCII characters, scoped to the caller and \
    this route. The first accepted outcome is recorded with the events it caused, in the \
    same transaction, and kept at least 24 h (SHOP_IDEMPOTENCY_RETENTION_HOURS); a repeat \
    with the same request answers that outcome again without deciding anew (an order \
    first answered 202 is answered as it stands now). A refused command (409, 404) is not \
    recorded: it changed nothing, and its repeat is decided again. The same key with \
    another request: 422 `idempotency-key-reused`. A repeat while the first is still \
    running: 409 `idempotency-key-in-flight`, retry after Retry-After. A malformed key: 400.";

/// Every command takes an Idempotency-Key, and can answer the two problems it adds.
fn add_idempotency_key(api: &mut utoipa::openapi::OpenApi) {
    use api_common::openapi::responses::problem;
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::{RefOr, Required};
    for (path, item) in api.paths.paths.iter_mut() {
        let Some(operation) = item.post.as_mut().filter(|_| path.starts_with("/v1/")) else {
            continue;
        };
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        parameters.retain(|p| !matches!(p, RefOr::T(p) if p.name == "Idempotency-Key"));
        parameters.push(RefOr::T(
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .max_length(Some(write_side::idempotency::MAX_KEY_LEN))
                        .pattern(Some("^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$")),
                ))
                .description(Some(KEY_DESCRIPTION))
                .build(),
        ));
        let responses = &mut operation.responses.responses;
        for (status, text) in [
            (
                "409",
                "`idempotency-key-in-flight`: a request with this Idempotency-Key is still running; retry after Retry-After seconds.",
            ),
            (
                "422",
                "`idempotency-key-reused`: this Idempotency-Key was used for another request.",
            ),
        ] {
            match responses.get_mut(status) {
                Some(RefOr::T(response)) => {
                    response.description = format!("{} {text}", response.description);
                }
                _ => {
                    responses.insert(status.to_owned(), RefOr::T(problem(text)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn property(spec: &Value, schema: &str, field: &str) -> Value {
        spec["components"]["schemas"][schema]["properties"][field].clone()
    }

    /// The document's limits are the domain's, so a client (or a fuzzer) that follows the
    /// document is not refused for input it was told is fine.
    #[test]
    fn request_limits_are_the_domains() {
        let spec = serde_json::to_value(super::spec()).expect("the document serializes");
        for schema in ["RegisterProductRequest", "RegisterCouponRequest"] {
            let name = property(&spec, schema, "name");
            assert_eq!(name["minLength"], 1, "{schema}");
            assert_eq!(name["pattern"], r"\S", "{schema}");
        }
        let product = property(&spec, "RegisterProductRequest", "name");
        assert_eq!(product["maxLength"], domain::product::MAX_NAME_CHARS);
        let coupon = property(&spec, "RegisterCouponRequest", "name");
        assert_eq!(coupon["maxLength"], domain::coupon::MAX_NAME_CHARS);

        let limits = [
            (
                "RegisterProductRequest",
                "price",
                1,
                domain::product::MAX_PRICE,
            ),
            (
                "RegisterProductRequest",
                "stock",
                0,
                domain::product::MAX_STOCK,
            ),
            (
                "RestockRequest",
                "quantity",
                1,
                domain::product::MAX_RESTOCK,
            ),
            (
                "RegisterCouponRequest",
                "totalQuantity",
                1,
                domain::coupon::MAX_TOTAL_QUANTITY,
            ),
            ("Discount", "value", 1, domain::coupon::MAX_FIXED_DISCOUNT),
            (
                "ChargeRequest",
                "amount",
                domain::wallet::MIN_CHARGE,
                domain::wallet::MAX_CHARGE,
            ),
            ("ItemRequest", "quantity", 1, domain::order::MAX_QUANTITY),
        ];
        for (schema, field, minimum, maximum) in limits {
            let value = property(&spec, schema, field);
            assert_eq!(
                value["minimum"].as_f64(),
                Some(minimum as f64),
                "{schema}.{field}"
            );
            assert_eq!(
                value["maximum"].as_f64(),
                Some(maximum as f64),
                "{schema}.{field}"
            );
        }
        let items = property(&spec, "PlaceRequest", "items");
        assert_eq!(items["maxItems"], domain::order::MAX_LINES);
    }
}
