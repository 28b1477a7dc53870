//! A state type's layout fingerprint: the first 8 bytes of the SHA-256 of its serde
//! format as `serde-reflection` traces it (every container it reaches, with field names
//! and types in order, enum variants in order; `#[serde(skip)]` fields are not in it).
//!
//! It changes with anything that changes the postcard bytes, and also with some things
//! that do not (a renamed field or type, or a `serde-reflection` release that renders
//! formats differently): those cost one replay per stream, never a misread.

use serde::de::DeserializeOwned;
use serde_reflection::{Samples, Tracer, TracerConfig};
use sha2::{Digest, Sha256};
use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use super::SnapshotError;
use crate::Aggregate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; Fingerprint::LEN]);

impl Fingerprint {
    pub const LEN: usize = 8;
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// How a type's enums are traced before the type itself (`Aggregate::trace_enums`).
pub(super) type TraceEnums = fn(&mut Tracer) -> serde_reflection::Result<()>;

/// Tracing a type takes far longer than a snapshot's other work, and a layout cannot
/// change while the process runs, so each type is traced once.
static KNOWN: LazyLock<Mutex<HashMap<TypeId, Fingerprint>>> = LazyLock::new(Default::default);

/// The fingerprint of `A`'s snapshot state.
pub fn fingerprint<A: Aggregate>() -> Result<Fingerprint, SnapshotError> {
    fingerprint_with::<A>(A::trace_enums)
}

pub(super) fn fingerprint_with<T: DeserializeOwned + 'static>(
    trace_enums: TraceEnums,
) -> Result<Fingerprint, SnapshotError> {
    // A poisoned map still holds only whole entries: nothing panics while inserting.
    let cached = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&TypeId::of::<T>())
        .copied();
    if let Some(fingerprint) = cached {
        return Ok(fingerprint);
    }
    let layout = trace::<T>(trace_enums)?;
    let digest = Sha256::digest(layout.as_bytes());
    let mut bytes = [0; Fingerprint::LEN];
    bytes.copy_from_slice(&digest[..Fingerprint::LEN]);
    let fingerprint = Fingerprint(bytes);
    KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(TypeId::of::<T>(), fingerprint);
    Ok(fingerprint)
}

/// The layout of `T` as JSON: its root format and every named container it reaches.
/// The registry refuses a layout with parts the trace never reached (an enum that
/// `trace_enums` left out), so a forgotten enum is an error, never a weaker fingerprint.
pub(super) fn trace<T: DeserializeOwned>(trace_enums: TraceEnums) -> Result<String, SnapshotError> {
    let mut tracer = Tracer::new(config());
    trace_enums(&mut tracer).map_err(layout)?;
    let (root, _) = tracer.trace_type::<T>(&Samples::new()).map_err(layout)?;
    let registry = tracer.registry().map_err(layout)?;
    serde_json::to_string(&(root, registry)).map_err(layout)
}

/// The made-up values the tracer decodes: ids, amounts and times check what they read and
/// refuse the tracer's own defaults (`0`, `""`), so it is given values they accept.
fn config() -> TracerConfig {
    const TIME: &str = "2026-01-01T00:00:00Z";
    TracerConfig::default()
        .default_i64_value(1)
        .default_u64_value(1)
        .default_borrowed_str_value(TIME)
        .default_string_value(TIME.to_owned())
}

fn layout(error: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Layout(error.to_string())
}
