//! The layers every API route gets: request ids, tracing spans, a body limit, a timeout,
//! panic-to-500, and problem+json for unknown routes.

use crate::problem::{ErrorCode, Problem};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Request limits every route shares (`SHOP_MAX_BODY_BYTES`, `SHOP_REQUEST_TIMEOUT_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Larger bodies are refused with 413 `payload-too-large`.
    pub max_body_bytes: usize,
    /// A request still running after this is answered 503. `None` on the command API:
    /// cutting a command off mid-commit would answer "retry" for a command that may still
    /// commit, so the executor bounds the wait instead (a command not decided in time is
    /// answered 503 undecided; a decided one waits for its commit's real outcome).
    pub request_timeout: Option<Duration>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Some(Duration::from_secs(30)),
        }
    }
}

pub fn with_common_layers(router: Router, limits: HttpLimits) -> Router {
    // Routes first: the method-not-allowed fallback applies to the routes added before it.
    let router = router
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(axum::middleware::from_fn(crate::metrics::track_http))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "The server could not complete the request",
            )
            .into_response_boxed()
        }));
    let router = match limits.request_timeout {
        Some(limit) => router.layer(axum::middleware::from_fn_with_state(limit, time_limit)),
        None => router,
    };
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "http",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %request_id,
                )
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// A request still running after `limit` is dropped and answered 503 `overloaded` with
/// Retry-After, as problem+json like every other error.
async fn time_limit(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(Problem::overloaded(
            "the request took too long; retry shortly",
            1,
        )),
    }
}

/// A known route asked with a method it does not serve: 405 problem+json.
pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this route does not accept that method",
    )
}

impl Problem {
    fn into_response_boxed(self) -> axum::http::Response<axum::body::Body> {
        axum::response::IntoResponse::into_response(self)
    }
}
