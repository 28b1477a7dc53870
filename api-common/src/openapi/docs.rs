//! `GET /openapi.json` and Swagger UI at `GET /docs`, both from the binary itself (the
//! UI's files are compiled in: no CDN, works offline).

use axum::Router;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub const SPEC_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";

/// Routes serving `spec` at [`SPEC_PATH`] and the UI pointing at it under [`DOCS_PATH`].
pub fn docs_router<S>(spec: OpenApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    SwaggerUi::new(DOCS_PATH).url(SPEC_PATH, spec).into()
}
