//! OpenAPI pieces both APIs share: the problem+json schema and its codes, the bearer
//! security schemes, the common problem answers, the Consistency-Token header, the
//! operations routes, and the routes serving the document and Swagger UI. Each API
//! derives its own document from its handlers' annotations and passes it to [`finish`].

pub mod consistency;
mod docs;
mod ops_paths;
pub mod problem_schema;
pub mod responses;
pub mod security;

pub use docs::{DOCS_PATH, SPEC_PATH, docs_router};
pub use problem_schema::ProblemSchema;

use utoipa::openapi::OpenApi;
use utoipa::{PartialSchema, ToSchema};

/// Adds the shared pieces to an API's derived document.
pub fn finish(mut api: OpenApi) -> OpenApi {
    let components = api.components.get_or_insert_with(Default::default);
    let mut schemas = vec![(ProblemSchema::name().into_owned(), ProblemSchema::schema())];
    ProblemSchema::schemas(&mut schemas);
    components.schemas.extend(schemas);
    security::add_schemes(&mut api);
    responses::add_common(&mut api);
    ops_paths::add(&mut api);
    api
}
