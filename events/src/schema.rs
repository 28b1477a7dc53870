//! Hand-written schemas for the newtypes whose JSON form is a bare integer: OpenAPI
//! (utoipa) for the HTTP APIs, JSON Schema (schemars) for the Kafka contract. Both say the
//! same thing: a 64-bit integer of at least some minimum.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

/// OpenAPI: a 64-bit integer of at least `minimum`.
pub(crate) fn integer(minimum: i64, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(minimum))
        .description(Some(description))
        .into()
}

/// JSON Schema: a 64-bit integer of at least `minimum`.
pub(crate) fn json_integer(minimum: i64, description: &str) -> schemars::Schema {
    schemars::json_schema!({
        "type": "integer",
        "format": "int64",
        "minimum": minimum,
        "description": description,
    })
}

/// Implements `schemars::JsonSchema` for an integer newtype, always inlined: the payload
/// schemas stand alone, with no `$ref` a consumer would have to resolve.
macro_rules! integer_json_schema {
    ($name:ident, $minimum:expr, $description:expr) => {
        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                $crate::schema::json_integer($minimum, $description)
            }
        }
    };
}

pub(crate) use integer_json_schema;
