//! The `Consistency-Token` header: commands answer it, queries may send it back.

use super::responses::problem;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, RefOr, Required, Schema};

pub const HEADER: &str = "Consistency-Token";

fn token_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9]+(:[a-z]+-[0-9]+:[0-9]+)?$"))
        .examples(["12:wallet-42:1"])
        .into()
}

fn v1_operations(api: &mut OpenApi) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    api.paths
        .paths
        .iter_mut()
        .filter(|(path, _)| path.starts_with("/v1/"))
        .flat_map(|(_, item)| [&mut item.get, &mut item.post].into_iter().flatten())
}

/// Command API: every success (and a cancelled order's 409) names its write.
pub fn add_response_header(api: &mut OpenApi) {
    for operation in v1_operations(api) {
        for (status, response) in operation.responses.responses.iter_mut() {
            let RefOr::T(response) = response else {
                continue;
            };
            if status.starts_with('2') || status == "409" {
                let header = HeaderBuilder::new()
                    .schema(Some(token_schema()))
                    .description(Some(
                        "Names the write this answer reflects (`position[:stream:version]`). \
                         Send it to the query API as the Consistency-Token header to read \
                         your own write. On a 409 only a cancelled order carries one.",
                    ))
                    .build();
                response.headers.insert(HEADER.to_owned(), RefOr::T(header));
            }
        }
    }
}

/// Query API: every read accepts a token (header, or `consistencyToken` in the query), and
/// its 400 answer says which codes a token can be refused with.
pub fn add_request_parameters(api: &mut OpenApi) {
    for operation in v1_operations(api) {
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        parameters.push(RefOr::T(
            ParameterBuilder::new()
                .name(HEADER)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .schema(Some(token_schema()))
                .description(Some(
                    "A command's Consistency-Token: the answer waits (up to 2 s) until this \
                     read model reflects that write; 503 `overloaded` if it does not in time. \
                     Refused at once, never waited on: a malformed token (400 \
                     `validation-failed`) and one naming a write the event store has not made, \
                     a position beyond its head or a stream version the stream has not reached \
                     (400 `consistency-token-unknown`).",
                ))
                .build(),
        ));
        parameters.push(RefOr::T(
            ParameterBuilder::new()
                .name("consistencyToken")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(token_schema()))
                .description(Some(
                    "The same as the Consistency-Token header (which wins if both are sent).",
                ))
                .build(),
        ));
        operation.responses.responses.insert(
            "400".to_owned(),
            RefOr::T(problem(
                "`validation-failed`: a malformed path, query parameter or Consistency-Token. \
                 `consistency-token-unknown`: a well-formed Consistency-Token naming a write \
                 the event store has not made (forged, from another store, or altered); \
                 answered at once, and retrying it cannot succeed.",
            )),
        );
    }
}
