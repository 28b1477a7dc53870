//! W3C Trace Context (`traceparent`, version 00): which trace a command belongs to and the
//! span that caused it. Kept in every event's metadata, so the trace survives the store,
//! the relay's Kafka hop (`traceparent` header) and a saga finished later by the recovery
//! scan, which reuses the order's metadata.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a version-00 W3C traceparent")]
pub struct InvalidTraceparent;

/// A trace id, a parent span id and the trace flags; never all-zero ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

/// Flag bit 0: the caller sampled this trace.
const SAMPLED: u8 = 0x01;

impl TraceContext {
    /// Parses `00-{32 hex}-{16 hex}-{2 hex}` (lowercase, as the spec requires).
    pub fn parse(header: &str) -> Result<Self, InvalidTraceparent> {
        let mut parts = header.trim().split('-');
        let (Some("00"), Some(trace), Some(span), Some(flags), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(InvalidTraceparent);
        };
        let trace_id: [u8; 16] = hex(trace)?;
        let span_id: [u8; 8] = hex(span)?;
        let [flags] = hex::<1>(flags)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return Err(InvalidTraceparent);
        }
        Ok(Self {
            trace_id,
            span_id,
            flags,
        })
    }

    /// A new trace, sampled, for a request that came without one.
    pub fn new_root() -> Self {
        Self {
            trace_id: *Uuid::new_v4().as_bytes(),
            span_id: new_span_id(),
            flags: SAMPLED,
        }
    }

    /// The same trace with a new span id: the span this process opens for the work.
    pub fn child(self) -> Self {
        Self {
            span_id: new_span_id(),
            ..self
        }
    }

    /// A context from ids another tracer (OpenTelemetry) made.
    pub fn from_parts(trace_id: [u8; 16], span_id: [u8; 8], sampled: bool) -> Option<Self> {
        (trace_id != [0; 16] && span_id != [0; 8]).then_some(Self {
            trace_id,
            span_id,
            flags: if sampled { SAMPLED } else { 0 },
        })
    }

    pub fn trace_id(self) -> [u8; 16] {
        self.trace_id
    }

    pub fn span_id(self) -> [u8; 8] {
        self.span_id
    }

    pub fn sampled(self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The 32 lowercase hex digits of the trace id.
    pub fn trace_id_hex(self) -> String {
        to_hex(&self.trace_id)
    }
}

/// OpenTelemetry's view of the same context: a stored trace becomes the remote parent of
/// a span opened where the event is handled (a projector, the recovery scan), and an
/// exported span becomes the trace context events carry.
#[cfg(feature = "otel")]
impl TraceContext {
    pub fn to_otel(self) -> opentelemetry::Context {
        use opentelemetry::trace::{
            SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
        };
        let span = SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.span_id),
            TraceFlags::new(self.flags),
            true,
            TraceState::default(),
        );
        opentelemetry::Context::new().with_remote_span_context(span)
    }

    /// The active span of `context`, if it is a valid one.
    pub fn from_otel(context: &opentelemetry::Context) -> Option<Self> {
        use opentelemetry::trace::TraceContextExt;
        let span = context.span();
        let span = span.span_context();
        if !span.is_valid() {
            return None;
        }
        Self::from_parts(
            span.trace_id().to_bytes(),
            span.span_id().to_bytes(),
            span.is_sampled(),
        )
    }
}

fn new_span_id() -> [u8; 8] {
    let bytes = Uuid::new_v4().into_bytes();
    // The first 8 bytes of a v4 UUID are random (its version bits are further on).
    let mut span = [0; 8];
    span.copy_from_slice(&bytes[..8]);
    if span == [0; 8] {
        span[7] = 1;
    }
    span
}

fn hex<const N: usize>(text: &str) -> Result<[u8; N], InvalidTraceparent> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return Err(InvalidTraceparent);
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let nibble = |d: u8| match d {
            b'0'..=b'9' => Ok(d - b'0'),
            b'a'..=b'f' => Ok(d - b'a' + 10),
            _ => Err(InvalidTraceparent),
        };
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Ok(out)
}

fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    push_hex(&mut out, bytes);
    out
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

impl TraceContext {
    /// The `traceparent` text, written without a formatter: it is encoded into every
    /// event's metadata, so its cost is on every append.
    pub fn to_traceparent(self) -> String {
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        push_hex(&mut out, &self.trace_id);
        out.push('-');
        push_hex(&mut out, &self.span_id);
        out.push('-');
        push_hex(&mut out, &[self.flags]);
        out
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_traceparent())
    }
}

/// Stored (event metadata JSON) as the `traceparent` string itself.
impl Serialize for TraceContext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_traceparent())
    }
}

impl<'de> Deserialize<'de> for TraceContext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Borrowed when the JSON string has no escapes (a traceparent never has one).
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn the_spec_example_round_trips() {
        let context = TraceContext::parse(SPEC_EXAMPLE).unwrap();
        assert_eq!(context.to_string(), SPEC_EXAMPLE);
        assert_eq!(context.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert!(context.sampled());
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
            "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
        ] {
            assert_eq!(TraceContext::parse(bad), Err(InvalidTraceparent), "{bad:?}");
        }
    }

    #[test]
    fn a_child_keeps_the_trace_and_gets_a_new_span() {
        let parent = TraceContext::parse(SPEC_EXAMPLE).unwrap();
        let child = parent.child();
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.span_id(), parent.span_id());
        let root = TraceContext::new_root();
        assert_eq!(TraceContext::parse(&root.to_string()), Ok(root));
    }

    #[test]
    fn it_is_stored_as_its_header_string() {
        let context = TraceContext::parse(SPEC_EXAMPLE).unwrap();
        let json = serde_json::to_string(&context).unwrap();
        assert_eq!(json, format!("\"{SPEC_EXAMPLE}\""));
        assert_eq!(
            serde_json::from_str::<TraceContext>(&json).unwrap(),
            context
        );
    }
}
