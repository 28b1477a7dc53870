//! The routes every process serves beside its API, which no handler annotation describes.

use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, ResponseBuilder};

fn text(description: &str, content_type: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            content_type,
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )
        .build()
}

fn json(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                .build(),
        )
        .build()
}

fn get(
    api: &mut OpenApi,
    path: &str,
    id: &str,
    summary: &str,
    answers: Vec<(&str, utoipa::openapi::Response)>,
) {
    let mut operation = OperationBuilder::new()
        .tag("operations")
        .operation_id(Some(id))
        .summary(Some(summary));
    for (status, response) in answers {
        operation = operation.response(status, response);
    }
    api.paths
        .add_path_operation(path, vec![HttpMethod::Get], operation.build());
}

pub(super) fn add(api: &mut OpenApi) {
    get(
        api,
        "/healthz",
        "healthz",
        "Liveness: the process answers",
        vec![("200", text("`ok`", "text/plain"))],
    );
    get(
        api,
        "/readyz",
        "readyz",
        "Readiness: the database, Redis and Kafka this process uses are reachable",
        vec![
            (
                "200",
                json("`{\"status\":\"ready\",\"checks\":{name: \"ok\"}}`"),
            ),
            (
                "503",
                json("`{\"status\":\"degraded\",\"checks\":{name: \"down: reason\"}}`"),
            ),
        ],
    );
    get(
        api,
        "/metrics",
        "metrics",
        "Prometheus metrics (text exposition format)",
        vec![("200", text("Prometheus text format 0.0.4", "text/plain"))],
    );
    get(
        api,
        "/openapi.json",
        "openapi",
        "This OpenAPI document",
        vec![("200", json("The OpenAPI 3.1 document of this API"))],
    );
    get(
        api,
        "/docs",
        "docs",
        "Swagger UI for this document, served from the binary (works offline)",
        vec![
            ("200", text("The Swagger UI page", "text/html")),
            (
                "303",
                ResponseBuilder::new()
                    .description("Redirect to /docs/")
                    .build(),
            ),
        ],
    );
}
