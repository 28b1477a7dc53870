//! Command metadata from the request: the request id becomes the correlation id, so the
//! events of one request can be found from its logs, and the request's W3C trace context
//! (or a new trace) is kept, so every event it causes carries it to Kafka.

use axum::http::HeaderMap;
use events::names::header::TRACEPARENT;
use events::{Metadata, TraceContext};
use uuid::Uuid;

pub(super) fn from_request(headers: &HeaderMap) -> Metadata {
    let mut metadata = Metadata::for_new_command();
    if let Some(request_id) = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
    {
        metadata.correlation_id = request_id;
        metadata.causation_id = request_id;
    }
    metadata.trace = Some(trace(headers));
    metadata
}

/// The caller's trace context, or a new trace: a malformed `traceparent` is ignored, as
/// the spec asks, rather than refused. With OTLP on, the binary's HTTP layer has already
/// replaced the caller's header by the context of this request's own span.
fn trace(headers: &HeaderMap) -> TraceContext {
    let caller = headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| TraceContext::parse(v).ok());
    caller.unwrap_or_else(TraceContext::new_root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_callers_trace_is_kept_and_a_missing_or_bad_one_starts_a_new_trace() {
        let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static(caller));
        let trace = from_request(&headers).trace.unwrap();
        assert_eq!(trace.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");

        headers.insert(TRACEPARENT, HeaderValue::from_static("garbage"));
        let fresh = from_request(&headers).trace.unwrap();
        assert_ne!(fresh.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert!(from_request(&HeaderMap::new()).trace.is_some());
    }
}
