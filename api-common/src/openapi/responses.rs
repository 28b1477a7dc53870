//! Problem answers: one response builder for handler annotations to share, and the
//! answers any `/v1` route can give whatever its handler (malformed input, limits,
//! overload, internal errors, auth), added to every operation that does not list them.

use super::security::{ADMIN, USER_JWT};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Response, ResponseBuilder};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem+json answer described by `description`.
pub fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn overloaded() -> Response {
    let mut response = problem(
        "`overloaded`: too many commands in flight, a command still queued after \
         SHOP_REQUEST_TIMEOUT_MS (not decided), a read model that did not catch up with a \
         Consistency-Token in time, or shutting down. `unavailable`: the database is down \
         or unreachable (nothing was changed, or a retry with the same Idempotency-Key is \
         safe). Retry after Retry-After seconds.",
    );
    let seconds = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .minimum(Some(0));
    let mut header = utoipa::openapi::header::Header::new(seconds);
    header.description = Some("Seconds to wait before retrying.".to_owned());
    response
        .headers
        .insert("Retry-After".to_owned(), RefOr::T(header));
    response
}

/// Adds the common problem answers to every `/v1` operation of `api`.
pub(super) fn add_common(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add_to(operation);
        }
    }
}

fn add_to(operation: &mut Operation) {
    let mut answers: Vec<(&str, Response)> = vec![(
        "400",
        problem("`validation-failed`: a malformed path, query parameter, header or JSON body."),
    )];
    if operation.request_body.is_some() {
        answers.push((
            "413",
            problem("`payload-too-large`: the body exceeds the size limit (1 MiB)."),
        ));
        answers.push((
            "422",
            problem("`validation-failed`: well-formed JSON that breaks a rule of the request."),
        ));
    }
    let schemes: Vec<String> = operation
        .security
        .iter()
        .flatten()
        .filter_map(|requirement| serde_json::to_value(requirement).ok())
        .filter_map(|value| value.as_object().cloned())
        .flat_map(|object| object.into_iter().map(|(name, _)| name))
        .collect();
    if schemes.iter().any(|name| name == ADMIN) {
        answers.push((
            "401",
            problem("`unauthorized`: no or a wrong admin bearer token."),
        ));
    }
    if schemes.iter().any(|name| name == USER_JWT) {
        answers.push((
            "401",
            problem(
                "`unauthorized`: SHOP_JWT_SECRET is set and the bearer JWT is missing or invalid.",
            ),
        ));
        answers.push((
            "403",
            problem("`forbidden`: the JWT's `sub` is another user."),
        ));
    }
    answers.push((
        "500",
        problem("`internal`: a fault that the answer does not describe."),
    ));
    answers.push(("503", overloaded()));
    for (status, response) in answers {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(RefOr::T(response));
    }
}
