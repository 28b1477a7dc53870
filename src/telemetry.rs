//! Logging: `SHOP_LOG` filters, `SHOP_LOG_FORMAT=json` gives structured lines.

use crate::settings::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

pub fn init(settings: &Settings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&settings.log)
        .map_err(|e| anyhow::anyhow!("SHOP_LOG={:?} is not a valid filter: {e}", settings.log))?;
    // stderr: stdout stays for what a command answers (`shop rebuild` prints its figures).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match settings.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
