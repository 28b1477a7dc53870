//! Postcard is not self-describing, so every stored payload sits beside its event type
//! and the schema version it was written with. Decoding an older version goes through an
//! upcast written next to the event (see `wallet.rs` for `PointsCharged` v1 -> v2).

use serde::{Serialize, de::DeserializeOwned};

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("event type {event_type} has no schema version {version}")]
    UnknownVersion { event_type: String, version: u16 },
    #[error("cannot decode {event_type} v{version}: {source}")]
    Decode {
        event_type: String,
        version: u16,
        source: postcard::Error,
    },
    #[error("cannot encode {event_type}: {source}")]
    Encode {
        event_type: &'static str,
        source: postcard::Error,
    },
    #[error("cannot render {event_type} as JSON: {source}")]
    Json {
        event_type: &'static str,
        source: serde_json::Error,
    },
    #[error("cannot parse {event_type} from JSON: {source}")]
    FromJson {
        event_type: String,
        source: serde_json::Error,
    },
}

/// An event as bytes, ready for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub event_type: &'static str,
    pub schema_version: u16,
    pub payload: Vec<u8>,
}

pub(crate) fn encode<T: Serialize>(
    event_type: &'static str,
    schema_version: u16,
    payload: &T,
) -> Result<EncodedEvent, CodecError> {
    let payload =
        postcard::to_stdvec(payload).map_err(|source| CodecError::Encode { event_type, source })?;
    Ok(EncodedEvent {
        event_type,
        schema_version,
        payload,
    })
}

pub(crate) fn decode<T: DeserializeOwned>(
    event_type: &str,
    version: u16,
    bytes: &[u8],
) -> Result<T, CodecError> {
    postcard::from_bytes(bytes).map_err(|source| CodecError::Decode {
        event_type: event_type.to_owned(),
        version,
        source,
    })
}

/// Declares an aggregate's event enum: one variant per event type, each with the payload
/// struct, the name it is stored and published under, and the schema version written
/// today. Older versions are handled by the `upcast` function given to the macro, which
/// is tried before the current decoder.
///
/// The stored name is a literal, not the variant's identifier: it is in every stored row
/// and Kafka header, so renaming a Rust variant must not rename the events already
/// written (`events/tests/it/stored_bytes/names.rs` pins the list to docs/events.md).
macro_rules! event_enum {
    (
        $(#[$meta:meta])*
        pub enum $enum:ident upcast $upcast:path {
            $($variant:ident($payload:ty) as $name:literal = $version:literal),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $enum {
            $($variant($payload)),*
        }

        impl $enum {
            pub const EVENT_TYPES: &'static [&'static str] = &[$($name),*];

            /// Each stored name with the schema version written today.
            pub const SCHEMA_VERSIONS: &'static [(&'static str, u16)] = &[$(($name, $version)),*];

            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name),*
                }
            }

            pub fn schema_version(&self) -> u16 {
                match self {
                    $(Self::$variant(_) => $version),*
                }
            }

            pub fn encode(&self) -> Result<$crate::codec::EncodedEvent, $crate::codec::CodecError> {
                match self {
                    $(Self::$variant(payload) => $crate::codec::encode($name, $version, payload)),*
                }
            }

            pub fn decode(event_type: &str, version: u16, bytes: &[u8]) -> Result<Self, $crate::codec::CodecError> {
                if let Some(upcast) = $upcast(event_type, version, bytes) {
                    return upcast;
                }
                match (event_type, version) {
                    $(($name, $version) => $crate::codec::decode(event_type, version, bytes).map(Self::$variant),)*
                    $(($name, _) => Err($crate::codec::CodecError::UnknownVersion {
                        event_type: event_type.to_owned(),
                        version,
                    }),)*
                    _ => Err($crate::codec::CodecError::UnknownType(event_type.to_owned())),
                }
            }

            /// Each event type's payload JSON Schema as Kafka carries it, with its stored
            /// name and current schema version (`crate::contract` builds the contract).
            pub fn payload_schemas() -> Vec<(&'static str, u16, serde_json::Value)> {
                vec![$(($name, $version, $crate::contract::payload_schema::<$payload>())),*]
            }

            /// The camelCase JSON value Kafka carries for this event.
            pub fn to_json(&self) -> Result<serde_json::Value, $crate::codec::CodecError> {
                let event_type = self.event_type();
                match self {
                    $(Self::$variant(payload) => serde_json::to_value(payload)),*
                }
                .map_err(|source| $crate::codec::CodecError::Json { event_type, source })
            }

            /// The same JSON as `to_json`, written straight to bytes (no `Value` tree in
            /// between; keys in declaration order): what the relay sends.
            pub fn to_json_vec(&self) -> Result<Vec<u8>, $crate::codec::CodecError> {
                let event_type = self.event_type();
                match self {
                    $(Self::$variant(payload) => serde_json::to_vec(payload)),*
                }
                .map_err(|source| $crate::codec::CodecError::Json { event_type, source })
            }

            /// Parses the camelCase JSON value Kafka carries. Kafka always carries the
            /// current schema (the relay upcasts before rendering), so there is no version.
            pub fn from_json(event_type: &str, bytes: &[u8]) -> Result<Self, $crate::codec::CodecError> {
                let parsed = match event_type {
                    $($name => serde_json::from_slice::<$payload>(bytes).map(Self::$variant),)*
                    _ => return Err($crate::codec::CodecError::UnknownType(event_type.to_owned())),
                };
                parsed.map_err(|source| $crate::codec::CodecError::FromJson {
                    event_type: event_type.to_owned(),
                    source,
                })
            }
        }

        $(
            impl From<$payload> for $enum {
                fn from(payload: $payload) -> Self {
                    Self::$variant(payload)
                }
            }
        )*
    };
}

pub(crate) use event_enum;

/// For enums whose every version is current.
pub(crate) fn no_upcasts<T>(
    _event_type: &str,
    _version: u16,
    _bytes: &[u8],
) -> Option<Result<T, CodecError>> {
    None
}
