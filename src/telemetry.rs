//! Logging (`SHOP_LOG` filters, `SHOP_LOG_FORMAT=json` gives structured lines) and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported over OTLP (`crate::otlp`).

use crate::settings::{LogFormat, Settings};
use events::names::TRACE_TARGET;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes exported spans on shutdown; hold it until the process ends.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still batched (a SIGKILLed process loses them).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "flushing spans to the OTLP collector");
        }
    }
}

pub fn init(settings: &Settings) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_new(&settings.log)
        .map_err(|e| anyhow::anyhow!("SHOP_LOG={:?} is not a valid filter: {e}", settings.log))?;
    // stderr: stdout stays for what a command answers (`shop rebuild` prints its figures).
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match settings.log_format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).with_filter(filter).boxed(),
    };
    let provider = match &settings.otlp_endpoint {
        Some(endpoint) => Some(crate::otlp::provider(
            endpoint,
            &settings.otel_service_name,
        )?),
        None => None,
    };
    // The trace spans only, whatever SHOP_LOG says: they are what crosses the hop.
    let otel = provider.as_ref().map(|provider| {
        crate::otlp::layer(provider)
            .with_filter(Targets::new().with_target(TRACE_TARGET, tracing::Level::TRACE))
    });
    tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))?;
    Ok(Telemetry { provider })
}
