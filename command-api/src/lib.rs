//! The command HTTP API (a crate of its own over `write-side`, which knows nothing of HTTP):
//! one handler file per resource, one error type with every status chosen in exhaustive
//! matches (`error.rs`), Idempotency-Key headers, the OpenAPI document. Admin routes behind the bearer token; user routes open, or behind
//! a JWT naming the user when `SHOP_JWT_SECRET` is set.
//! Every success carries a `Consistency-Token` header naming the write (see
//! `events::ConsistencyToken`), which the query API can wait for to read it back.

mod coupons;
mod error;
mod idempotency;
mod metadata;
mod openapi;
mod orders;
mod points;
mod products;

pub use error::ApiError;
pub use openapi::spec;

use api_common::auth::require_admin;
use api_common::in_flight::{InFlightLimit, limit_in_flight};
use api_common::layers::HttpLimits;
use api_common::{AdminToken, UserGuard};
use axum::Router;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use events::ConsistencyToken;
use std::sync::Arc;
use write_side::commands::CommandServices;
use write_side::saga::OrderSaga;

pub const CONSISTENCY_TOKEN: HeaderName = HeaderName::from_static("consistency-token");

#[derive(Clone)]
pub struct CommandState {
    pub services: Arc<CommandServices>,
    pub saga: OrderSaga,
    /// JWT subject checks and per-user rate limits on user routes.
    pub users: UserGuard,
    /// Idempotency keys whose first request is running here.
    pub keys_in_flight: write_side::idempotency::KeysInFlight,
}

/// Who may call what: the admin token, the user guard, and the cap on commands in flight.
pub struct Access {
    pub admin_token: AdminToken,
    pub users: UserGuard,
    pub in_flight: InFlightLimit,
    pub http: HttpLimits,
}

pub fn router(saga: OrderSaga, access: Access) -> Router {
    let Access {
        admin_token,
        users,
        in_flight,
        http,
    } = access;
    let state = CommandState {
        services: saga.services().clone(),
        saga,
        users,
        keys_in_flight: write_side::idempotency::KeysInFlight::default(),
    };
    let admin = Router::new()
        .route("/v1/products", post(products::register))
        .route("/v1/products/{product_id}/restock", post(products::restock))
        .route("/v1/coupons", post(coupons::register))
        .route_layer(from_fn_with_state(admin_token, require_admin));
    let user = Router::new()
        .route("/v1/coupons/{coupon_id}/issue", post(coupons::issue))
        .route("/v1/users/{user_id}/points/charge", post(points::charge))
        .route("/v1/orders", post(orders::place));
    let docs = api_common::openapi::docs_router(openapi::spec());
    let commands = admin
        .merge(user)
        .with_state(state)
        .route_layer(from_fn_with_state(in_flight, limit_in_flight));
    api_common::layers::with_common_layers(commands.merge(docs), http)
}

fn consistency_header(token: &ConsistencyToken) -> [(HeaderName, HeaderValue); 1] {
    // A token is digits, ASCII letters, `-` and `:`, always a valid header value.
    let value = HeaderValue::from_str(&token.to_string())
        .unwrap_or_else(|_| HeaderValue::from(token.position));
    [(CONSISTENCY_TOKEN, value)]
}
