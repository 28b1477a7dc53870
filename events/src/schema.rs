//! Hand-written OpenAPI schemas for the newtypes whose JSON form is a bare integer.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

/// A 64-bit integer of at least `minimum`.
pub(crate) fn integer(minimum: i64, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(minimum))
        .description(Some(description))
        .into()
}
