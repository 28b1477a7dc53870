//! Command metadata from the request: the request id becomes the correlation id, so the
//! events of one request can be found from its logs.

use axum::http::HeaderMap;
use events::Metadata;
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
    metadata
}
