//! OpenTelemetry: spans exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//! (off by default), and the HTTP layer that makes each command request a span of the
//! caller's W3C trace. Only spans of target `events::names::TRACE_TARGET` are exported:
//! the request, each projected event, each saga the recovery scan drives. Their trace
//! context is what events carry in their metadata and the relay sends as `traceparent`.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use events::TraceContext;
use events::names::TRACE_TARGET;
use events::names::header::TRACEPARENT;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("cannot build the OTLP exporter for {endpoint}: {source}")]
    Exporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// `{endpoint}/v1/traces`: the standard variable names the collector's base URL for
/// every signal, and each signal has its own path under it.
pub fn traces_url(endpoint: &url::Url) -> String {
    format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'))
}

/// A tracer provider that batches spans to the collector at `endpoint`. The batch
/// processor runs on its own thread, hence the blocking HTTP client.
pub fn provider(endpoint: &url::Url, service: &str) -> Result<SdkTracerProvider, OtlpError> {
    let url = traces_url(endpoint);
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(url.clone())
        .build()
        .map_err(|source| OtlpError::Exporter {
            endpoint: url,
            source,
        })?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("shop"))
}

/// Middleware of the command API: the request runs in a server span whose parent is the
/// caller's `traceparent` (if valid), and the header the handlers see is rewritten to that
/// span's own context, so the events the request causes name it as their parent. Without
/// an OpenTelemetry layer the span has no context and the header is left as it came.
pub async fn continue_trace(mut request: Request, next: Next) -> Response {
    let span = tracing::trace_span!(
        target: TRACE_TARGET,
        "command request",
        otel.kind = "server",
        http.request.method = %request.method(),
        url.path = request.uri().path(),
    );
    let caller = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| TraceContext::parse(v).ok());
    if let Some(caller) = caller {
        // Only fails when no OpenTelemetry layer is installed.
        span.set_parent(caller.to_otel()).ok();
    }
    if let Some(own) = TraceContext::from_otel(&span.context())
        && let Ok(value) = HeaderValue::from_str(&own.to_string())
    {
        request.headers_mut().insert(TRACEPARENT, value);
    }
    next.run(request).instrument(span).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_goes_under_the_base_url() {
        let base = url::Url::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(traces_url(&base), "http://127.0.0.1:4318/v1/traces");
        let with_path = url::Url::parse("http://collector:4318/otlp/").unwrap();
        assert_eq!(
            traces_url(&with_path),
            "http://collector:4318/otlp/v1/traces"
        );
    }
}
